"""Tests for the window reader that streams a scene from its file (core/io/windows.py)."""

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from hypersynth.core.io.read import read_scene
from hypersynth.core.io.windows import raster_window_reader


def _tiled(path, raw, *, block=16, nodata=-1):
    """A DEFLATE-compressed GeoTIFF tiled in ``block``-pixel blocks, one band after another, scaled to reflectance."""
    bands, rows, cols = raw.shape
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=bands, dtype=raw.dtype,
                       nodata=nodata, tiled=True, blockxsize=block, blockysize=block, compress="deflate",
                       interleave="band", transform=from_origin(0, 0, 30, 30), crs="EPSG:32633") as dst:
        dst.write(raw)
        dst.scales = [1e-4] * bands
    return path


@pytest.fixture()
def scene_file(tmp_path):
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 10_000, size=(11, 45, 58)).astype(np.int16)  # blocks of 16: 3 × 4, cut at the far edges
    raw[:, 20:23, 30:35] = -1  # no data
    raw[3, 40, 2] = -1  # no data in one band only
    return _tiled(tmp_path / "scene.tif", raw)


def test_windows_read_by_blocks_with_kept_edges_are_the_scene_as_read_whole(scene_file):
    whole = read_scene(scene_file)
    plain, blocks = raster_window_reader(scene_file), raster_window_reader(scene_file)
    blocks.expect_margin(3)
    height, width = whole.shape
    tile, halo = 16, 3
    for r0 in range(0, height, tile):  # as predict_scene reads them: row by row of tiles, each with its halo
        for c0 in range(0, width, tile):
            window = (max(r0 - halo, 0), min(r0 + tile + halo, height), max(c0 - halo, 0), min(c0 + tile + halo, width))
            got = blocks(*window)
            assert np.array_equal(got, plain(*window), equal_nan=True)
            ok = np.isfinite(got).all(axis=0)
            expected = whole.cube[:, window[0]:window[1], window[2]:window[3]]
            assert np.array_equal(ok, whole.valid[window[0]:window[1], window[2]:window[3]])
            assert np.array_equal(got[:, ok], expected[:, ok])  # the same float32 values as read whole
    assert blocks.decoded <= 2 * 3 * 4  # each block about twice (as its own tile, and for the halo of the row above)
    for window in ((0, 45, 0, 58), (7, 9, 50, 58), (30, 45, 0, 3), (2, 40, 14, 19)):  # any window, in any order
        assert np.array_equal(blocks(*window), plain(*window), equal_nan=True)


def test_a_file_of_scene_wide_strips_is_read_window_by_window(tmp_path, monkeypatch):
    """An ENVI file's blocks are single rows a scene wide: kept as edges, each tile row's window held two copies of
    rows of the whole scene's width (a reviewer measured 22 MiB of a 24 MiB scene): such files are read window by
    window instead, memory bounded by the window."""
    from hypersynth.core.io import windows

    monkeypatch.setattr(windows, "MAX_CACHED_BLOCK_WIDTH", 32)  # this scene's 58-pixel rows stand for wide strips
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 10_000, size=(5, 40, 58)).astype(np.int16)
    path = tmp_path / "strips.tif"
    with rasterio.open(path, "w", driver="GTiff", width=58, height=40, count=5, dtype=raw.dtype, nodata=-1,
                       tiled=False, blockysize=1, transform=from_origin(0, 0, 30, 30), crs="EPSG:32633") as dst:
        dst.write(raw)
    reader, plain = raster_window_reader(path), raster_window_reader(path)
    assert reader._block == (1, 58)
    reader.expect_margin(4)
    for window in ((0, 20, 0, 24), (12, 36, 20, 48), (32, 40, 40, 58)):
        assert np.array_equal(reader(*window), plain(*window), equal_nan=True)
    assert reader.decoded == 0 and not reader._edges  # nothing kept between windows
    tiled = raster_window_reader(_tiled(tmp_path / "tiled.tif", raw))
    tiled.expect_margin(4)
    tiled(0, 20, 0, 24)
    assert tiled.decoded > 0  # blocks narrower than the limit are still read by their blocks
    monkeypatch.setattr(windows, "MAX_CACHED_BLOCK_PIXELS", 40 * 20)  # strips of many rows stand for a whole file
    single = tmp_path / "one_strip.tif"
    with rasterio.open(single, "w", driver="GTiff", width=58, height=40, count=5, dtype=raw.dtype, nodata=-1,
                       tiled=False, blockysize=40, transform=from_origin(0, 0, 30, 30), crs="EPSG:32633") as dst:
        dst.write(raw)
    monkeypatch.setattr(windows, "MAX_CACHED_BLOCK_WIDTH", 1024)  # narrow enough, but its one block is the scene
    whole = raster_window_reader(single)
    assert whole._block[1] == 58 and whole._block[0] * 58 > 40 * 20  # GDAL's strips: 14 rows of 58 here
    whole.expect_margin(4)
    assert np.array_equal(whole(12, 36, 20, 48), plain(12, 36, 20, 48), equal_nan=True)
    assert whole.decoded == 0 and not whole._whole  # never kept whole


def test_a_window_reader_reads_only_the_bands_asked_for(scene_file):
    reader = raster_window_reader(scene_file, [2, 5])
    assert reader.shape == (2, 45, 58)
    np.testing.assert_allclose(reader(0, 4, 0, 4), raster_window_reader(scene_file)(0, 4, 0, 4)[[1, 4]])
    with pytest.raises(ValueError, match=r"band indexes \[12\] are not bands of"):
        raster_window_reader(scene_file, [1, 12])


def test_pixel_spectra_are_the_scene_at_those_pixels_read_square_by_square(scene_file, monkeypatch):
    from hypersynth.core.io import windows
    from hypersynth.core.progress import CancelAfter, Cancelled

    monkeypatch.setattr(windows, "PIXEL_TILE", 16)  # squares of 16 px: 3 × 4 over this 45 × 58 scene
    whole = read_scene(scene_file)
    picked = np.zeros(whole.shape, bool)
    picked[[1, 2, 2, 30, 44, 44], [0, 5, 57, 17, 16, 57]] = True  # scattered over five squares
    picked[5:9, 40:43] = True  # a brushed patch, in one square
    picked &= whole.valid
    reader = raster_window_reader(scene_file)
    windows_read = []

    def read(r0, r1, c0, c1):
        windows_read.append((r1 - r0) * (c1 - c0))
        return reader(r0, r1, c0, c1)

    read.shape = reader.shape
    held = windows.read_pixel_spectra(read, picked)
    assert len(windows_read) == 6 and max(windows_read) <= 16 * 16  # one window per square holding some, never more
    rows, cols = np.nonzero(picked)
    assert held.shape == whole.cube.shape and np.array_equal(held[:, rows, cols], whole.cube[:, rows, cols])
    assert np.array_equal(held[:, rows[::-1], cols[::-1]], whole.cube[:, rows[::-1], cols[::-1]])  # any order
    some = np.zeros_like(picked)
    some[5:7, 40:43] = True
    assert np.array_equal(held[:, some], whole.cube[:, some])  # a mask of held pixels, as cube[:, mask]
    with pytest.raises(KeyError, match="only the labelled pixels' spectra are held"):
        held[:, np.array([10]), np.array([10])]  # never read: refused, not made up
    with pytest.raises(Cancelled):
        windows.read_pixel_spectra(read, picked, CancelAfter(2))
