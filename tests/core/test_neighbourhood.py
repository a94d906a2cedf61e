"""The label-free patch-size choice from the scene's spatial homogeneity."""

import numpy as np
import pytest

from hypersynth.core.neighbourhood import choose_patch_size, spatial_homogeneity


def _scene(block: int, bands: int = 20, size: int = 48, seed: int = 0):
    """Square fields of ``block`` pixels, each with its own random spectrum, plus a little noise."""
    rng = np.random.default_rng(seed)
    n = size // block
    library = rng.uniform(0.1, 1.0, (n * n, bands))
    field = np.arange(n * n).reshape(n, n).repeat(block, 0).repeat(block, 1)  # (size, size)
    cube = library[field].transpose(2, 0, 1) + rng.normal(0, 0.005, (bands, size, size))
    return cube.astype(np.float32), np.ones((size, size), bool)


def test_large_fields_get_large_patches_and_speckle_gets_small_ones():
    fields, valid = _scene(block=16)
    speckle, _ = _scene(block=1)
    assert choose_patch_size(fields, valid) == 9
    assert choose_patch_size(speckle, valid) == 3
    h = spatial_homogeneity(fields, valid)
    assert len(h.ratios) == 4 and h.ratios[0] < h.ratios[-1] < 0.35 and h.random_angle > 5
    assert spatial_homogeneity(speckle, valid).ratios[0] > 0.8  # neighbours as different as random pixels


def test_invalid_pixels_are_ignored():
    cube, valid = _scene(block=16)
    cube[:, :, :10] = 0.0  # a no-data stripe of zeros would look like an edge if it counted
    valid[:, :10] = False
    assert choose_patch_size(cube, valid, largest=7) == 7
    with pytest.raises(ValueError, match="two valid pixels"):
        spatial_homogeneity(cube, np.zeros_like(valid))


def test_measured_a_block_of_rows_at_a_time_the_same_as_at_once(monkeypatch):
    """Unit spectra are made for a block of rows at a time: the result is the same to the bit whatever the block, and
    the memory follows the block, not the scene (on a full-size scene the unit cube and its products were two more
    copies of it)."""
    import tracemalloc

    from hypersynth.core import neighbourhood

    cube, valid = _scene(block=8, bands=30, size=256)  # 7.5 MiB
    valid[40:44, 10:30] = False
    whole = spatial_homogeneity(cube, valid)
    monkeypatch.setattr(neighbourhood, "BLOCK_VALUES", cube[:, :5].size)  # blocks of 5 rows: edges inside them
    tracemalloc.start()
    try:
        blocked = spatial_homogeneity(cube, valid)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert blocked == whole
    assert peak < cube.nbytes  # the 4000 random pairs, the cosines and a block; once two copies of the cube
