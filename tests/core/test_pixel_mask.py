"""The bit-packed pixel mask reads and writes windows as a bool array does."""

import numpy as np
import pytest

from hypersynth.core.pixel_mask import PixelMask, count_per_row
from hypersynth.core.scale_check import typical_pixels


@pytest.mark.parametrize("shape", [(5, 13), (7, 16), (3, 1), (0, 5), (4, 0), (33, 77)])
def test_windows_read_and_written_as_a_bool_array(shape):
    rng = np.random.default_rng(sum(shape))
    plain = rng.random(shape) > 0.5
    mask = PixelMask.from_array(plain)
    assert np.array_equal(np.asarray(mask), plain) and mask.shape == shape
    for _ in range(300):  # windows at every bit offset, whole bytes and not, empty ones too
        r0, r1 = sorted(rng.integers(0, shape[0] + 1, 2))
        c0, c1 = sorted(rng.integers(0, shape[1] + 1, 2))
        assert np.array_equal(mask[r0:r1, c0:c1], plain[r0:r1, c0:c1])
        values = rng.random((r1 - r0, c1 - c0)) > 0.5
        mask[r0:r1, c0:c1] = values
        plain[r0:r1, c0:c1] = values
        if rng.random() < 0.3:
            mask[r0:r1, c0:c1] = False
            plain[r0:r1, c0:c1] = False
        assert np.array_equal(np.asarray(mask), plain)
    # the bits past the last column stay 0: the counts are the pixels'
    assert np.array_equal(mask.count_per_row(), plain.sum(axis=1)) and mask.sum() == plain.sum()
    assert np.array_equal(count_per_row(plain), count_per_row(mask))
    assert mask.nbytes == shape[0] * ((shape[1] + 7) // 8)


def test_ints_pick_rows_columns_and_pixels_as_numpy_does():
    plain = np.random.default_rng(1).random((9, 21)) > 0.5
    mask = PixelMask.from_array(plain)
    assert all(mask[i, j] == plain[i, j] and isinstance(mask[i, j], np.bool_) for i in range(9) for j in range(21))
    assert np.array_equal(mask[3], plain[3]) and np.array_equal(mask[-1], plain[-1])
    assert np.array_equal(mask[:, 4], plain[:, 4]) and np.array_equal(mask[2:5], plain[2:5])
    assert np.array_equal(mask[-3:, -10:], plain[-3:, -10:]) and mask[:, 30:].shape == (9, 0)
    mask[2, 5] = plain[2, 5] = not plain[2, 5]
    mask[4, 2:9] = plain[4, 2:9] = ~plain[4, 2:9]
    mask[6:8, 7] = plain[6:8, 7] = True
    assert np.array_equal(np.asarray(mask), plain)


def test_other_keys_are_refused():
    mask = PixelMask((4, 10))
    with pytest.raises(IndexError, match="outside a mask of 4"):
        mask[4]
    with pytest.raises(TypeError, match="step 1"):
        mask[::2]
    with pytest.raises(TypeError, match="ints and slices"):
        mask[np.array([0, 1])]
    with pytest.raises(TypeError, match="two axes"):
        mask[0, 0, 0]
    with pytest.raises(ValueError, match="do not hold a 4 × 10 mask"):
        PixelMask((4, 10), np.zeros((4, 1), dtype=np.uint8))


def test_the_scale_checks_pixels_are_the_same_from_either_mask():
    plain = np.random.default_rng(2).random((300, 500)) > 0.3
    for n in (1_000, 200_000):  # a draw of n, and every valid pixel
        expected = typical_pixels(plain, n)
        found = typical_pixels(PixelMask.from_array(plain), n)
        assert all(np.array_equal(a, b) for a, b in zip(expected, found))
    every = typical_pixels(plain, 200_000)
    assert all(np.array_equal(a, b) for a, b in zip(every, np.nonzero(plain)))  # np.nonzero's pixels, in its order
    assert [len(a) for a in typical_pixels(PixelMask((30, 40)))] == [0, 0]  # no valid pixel
