"""Patch cutting: every patch is the reflect-padded cube's window centred on its pixel, whatever p and wherever."""

import numpy as np
import pytest

from hypersynth.core.patches import extract_patches, iter_patch_batches, pad_cube


@pytest.mark.parametrize("p", [1, 2, 3, 5])
def test_patches_are_the_padded_windows_centred_on_each_pixel(p):
    rng = np.random.default_rng(p)
    cube = rng.normal(size=(4, 7, 6)).astype(np.float32)
    rows, cols = np.meshgrid(np.arange(7), np.arange(6), indexing="ij")  # every pixel, the borders too
    rows, cols = rows.ravel(), cols.ravel()
    patches = extract_patches(cube, rows, cols, p)
    assert patches.shape == (len(rows), 4, p, p) and patches.dtype == np.float32 and patches.flags.c_contiguous
    padded = np.pad(cube, ((0, 0), (p // 2, p // 2), (p // 2, p // 2)), mode="reflect")
    for i, (r, c) in enumerate(zip(rows, cols)):  # the window of padded rows r..r+p-1: centre at p // 2
        np.testing.assert_array_equal(patches[i], padded[:, r:r + p, c:c + p])
        np.testing.assert_array_equal(patches[i][:, p // 2, p // 2], cube[:, r, c])
    np.testing.assert_array_equal(extract_patches(cube, rows, cols, p, padded=pad_cube(cube, p)), patches)
    assert extract_patches(cube, rows[:0], cols[:0], p).shape == (0, 4, p, p)
    batches = list(iter_patch_batches(cube, rows, cols, p, batch_size=5))
    np.testing.assert_array_equal(np.concatenate([b for _, b in batches]), patches)
    assert [sl.start for sl, _ in batches] == list(range(0, len(rows), 5))


@pytest.mark.parametrize("shape,p", [((1, 1), 3), ((2, 3), 5), ((3, 2), 7), ((4, 9), 4)])
def test_patches_of_grids_smaller_than_a_patch_and_of_masks_are_what_the_padded_cube_gives(shape, p):
    rng = np.random.default_rng(sum(shape) + p)
    cube = rng.normal(size=(3, *shape)).astype(np.float32)
    mask = rng.random(shape) > 0.5  # a bool grid, as prediction reads the valid mask's patches
    rows, cols = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    rows, cols = rows.ravel(), cols.ravel()
    for grid in (cube, mask[None]):  # pad_cube's edge mode where the grid is too small to reflect
        np.testing.assert_array_equal(extract_patches(grid, rows, cols, p),
                                      extract_patches(grid, rows, cols, p, padded=pad_cube(grid, p)))
