"""Tiled full-scene prediction: tile-size independence, borders, nodata, cancel, streaming from a GeoTIFF."""

import numpy as np
import pytest

from hypersynth.core.classify.predict import (
    ScenePrediction, predict_pixels, predict_scene, raster_window_reader,
)
from hypersynth.core.pixel_mask import PixelMask
from hypersynth.core.progress import CallbackReporter, CancelAfter, Cancelled

BANDS, H, W = 4, 40, 50


class ToyPatchClassifier:
    """Deterministic 3-class patch classifier that depends on every neighbour and on its position.

    A position-weighted mean of band 0 over the patch picks the nearest of three centres; a shifted or wrongly padded
    patch gives a different mean, so any halo or border mistake changes the output.
    """

    n_classes = 3

    def __init__(self, patch_size: int = 5) -> None:
        self.patch_size = patch_size
        p = patch_size
        weights = np.arange(p * p, dtype=np.float32).reshape(p, p) + 1.0  # (p, p), no two alike
        self.weights = weights / weights.sum()
        self.calls: list[int] = []

    def predict_proba(self, samples: np.ndarray) -> np.ndarray:
        assert samples.shape[1:] == (BANDS, self.patch_size, self.patch_size)
        self.calls.append(len(samples))
        m = (samples[:, 0] * self.weights).sum(axis=(1, 2))  # (n,) about 0.5 ± 0.05
        scores = -300.0 * (m[:, None] - np.array([0.45, 0.5, 0.55])) ** 2  # (n, 3): nearest centre wins
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random (B, H, W) cube with a nodata block and a nodata corner; invalid pixels hold 0."""
    rng = np.random.default_rng(seed)
    cube = rng.random((BANDS, H, W)).astype(np.float32)
    cube = (cube + np.roll(cube, 1, axis=1) + np.roll(cube, 1, axis=2)) / 3
    valid = np.ones((H, W), dtype=bool)
    valid[10:14, 20:26] = False
    valid[:2, :3] = False
    cube[:, ~valid] = 0.0
    return cube, valid


def test_result_does_not_depend_on_tile_size_and_matches_pixel_prediction():
    cube, valid = scene()
    clf = ToyPatchClassifier(5)
    small = predict_scene(clf, cube, valid, tile_size=7, batch_size=11)
    assert max(clf.calls) <= 11  # batches never exceed batch_size
    large = predict_scene(clf, cube, valid, tile_size=64)
    assert isinstance(small, ScenePrediction) and small.n_classes == 3
    assert small.class_index.dtype == np.int16 and small.class_index.shape == (H, W)
    assert small.confidence.dtype == np.float32 and small.entropy.dtype == np.float32
    assert np.array_equal(small.class_index, large.class_index)
    np.testing.assert_allclose(small.confidence, large.confidence, rtol=1e-6)
    np.testing.assert_allclose(small.entropy, large.entropy, rtol=1e-6)
    assert len(np.unique(small.class_index[valid])) == 3  # the toy problem uses every class
    packed = predict_scene(clf, cube, PixelMask.from_array(valid), tile_size=7, batch_size=11)  # 1 bit a pixel
    assert np.array_equal(packed.class_index, small.class_index)
    np.testing.assert_array_equal(packed.confidence, small.confidence)
    rows, cols = np.nonzero(valid)
    clf.calls.clear()
    proba = predict_pixels(clf, cube, rows, cols, batch_size=100, valid=valid)
    assert np.array_equal(proba.argmax(axis=1), small.class_index[valid])
    np.testing.assert_allclose(proba.max(axis=1), small.confidence[valid], rtol=1e-6)
    assert max(clf.calls) <= 100


def test_border_pixels_are_classified_and_invalid_pixels_are_marked():
    cube, valid = scene(1)
    pred = predict_scene(ToyPatchClassifier(5), cube, valid, tile_size=16)
    border = np.zeros((H, W), dtype=bool)
    border[[0, -1], :], border[:, [0, -1]] = True, True
    assert (pred.class_index[border & valid] >= 0).all()
    assert (pred.class_index[~valid] == -1).all()
    assert np.isnan(pred.confidence[~valid]).all() and np.isnan(pred.entropy[~valid]).all()
    c, e = pred.confidence[valid], pred.entropy[valid]
    assert (c >= 1 / 3 - 1e-6).all() and (c <= 1).all() and (e >= 0).all() and (e <= 1 + 1e-6).all()
    labels = pred.label_map([10, 20, 30])
    assert set(np.unique(labels[valid])) <= {10, 20, 30} and (labels[~valid] == 0).all()


class OverflowingClassifier(ToyPatchClassifier):
    """The toy classifier whose probabilities turn NaN where the patch's centre holds an extreme value (a classifier
    standardising an undeclared float fill of -3.4e38 overflows so)."""

    def predict_proba(self, samples: np.ndarray) -> np.ndarray:
        proba = super().predict_proba(np.clip(samples, 0, 1))
        centre = self.patch_size // 2
        proba[np.abs(samples[:, 0, centre, centre]) > 1e30] = np.nan
        return proba


@pytest.mark.parametrize("smoothing", [0.0, 1.0])
def test_pixels_without_finite_probabilities_are_left_unclassified_and_said(caplog, smoothing):
    """A NaN probability was argmax's class with no confidence, and the smoothing spread it over its neighbours."""
    cube, valid = scene(2)
    cube[:, 20, 30] = -3.4e38  # an undeclared fill value in one pixel
    with caplog.at_level("WARNING", logger="hypersynth"):
        pred = predict_scene(OverflowingClassifier(5), cube, valid, tile_size=16, smoothing=smoothing)
    assert pred.class_index[20, 30] == -1 and np.isnan(pred.confidence[20, 30])
    others = valid.copy()
    others[20, 30] = False
    assert (pred.class_index[others] >= 0).all() and np.isfinite(pred.confidence[others]).all()  # none spread
    assert "1 pixel was left unclassified: the classifier gave it no finite class probabilities" in caplog.text


def test_nodata_neighbours_are_filled_with_the_patch_mean():
    """Whatever value a nodata pixel holds (0, NaN, garbage), the prediction is the same."""
    cube, valid = scene(2)
    clf = ToyPatchClassifier(5)
    reference = predict_scene(clf, cube, valid, tile_size=13)
    garbage = cube.copy()
    garbage[:, ~valid] = 1e6
    assert np.array_equal(predict_scene(clf, garbage, valid, tile_size=13).class_index, reference.class_index)
    nan_cube = cube.copy()
    nan_cube[:, ~valid] = np.nan
    from_nan = predict_scene(clf, nan_cube, None, tile_size=13)  # validity read from the data itself
    assert np.array_equal(from_nan.class_index, reference.class_index)
    np.testing.assert_allclose(from_nan.confidence, reference.confidence, rtol=1e-6)


@pytest.mark.parametrize("patch_size", [1, 4])
def test_other_patch_sizes_and_a_memmap_cube(tmp_path, patch_size):
    cube, valid = scene(3)
    stored = np.lib.format.open_memmap(str(tmp_path / "cube.npy"), mode="w+", dtype=np.float32, shape=cube.shape)
    stored[:] = cube
    stored.flush()
    clf = ToyPatchClassifier(patch_size)
    tiled = predict_scene(clf, np.load(tmp_path / "cube.npy", mmap_mode="r"), valid, tile_size=6)
    whole = predict_scene(clf, cube, valid, tile_size=100)
    assert np.array_equal(tiled.class_index, whole.class_index)
    np.testing.assert_allclose(tiled.confidence, whole.confidence, rtol=1e-6)


def test_progress_is_reported_and_cancel_stops():
    cube, valid = scene(4)
    seen: list[tuple[float, str]] = []
    predict_scene(ToyPatchClassifier(3), cube, valid, tile_size=20,
                  reporter=CallbackReporter(lambda f, s: seen.append((f, s))), stage="map")
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert {s for _, s in seen} == {"map"}
    with pytest.raises(Cancelled):
        predict_scene(ToyPatchClassifier(3), cube, valid, tile_size=8, reporter=CancelAfter(3))
    with pytest.raises(Cancelled):
        predict_pixels(ToyPatchClassifier(3), cube, *np.nonzero(valid), batch_size=50, reporter=CancelAfter(2))


def test_window_reader_streams_a_geotiff_and_matches_the_in_memory_result(tmp_path):
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    cube, valid = scene(5)
    # Stored as scaled integers with a nodata value, as EnMAP L2A products are.
    stored = np.where(valid, np.round(cube * 10000), -32768).astype(np.int16)
    path = tmp_path / "scene.tif"
    with rasterio.open(path, "w", driver="GTiff", width=W, height=H, count=BANDS, dtype="int16", nodata=-32768,
                       crs="EPSG:32633", transform=from_origin(360000, 5800000, 30, 30)) as ds:
        ds.write(stored)
        ds.scales = [1e-4] * BANDS
        ds.offsets = [0.0] * BANDS
    physical = np.where(valid, stored.astype(np.float32) * np.float32(1e-4), 0).astype(np.float32)
    reader = raster_window_reader(path)
    assert reader.shape == (BANDS, H, W)
    np.testing.assert_allclose(reader(0, H, 0, W)[:, valid], physical[:, valid], rtol=1e-6)

    windows: list[tuple[int, int]] = []

    def recording_reader(row0: int, row1: int, col0: int, col1: int) -> np.ndarray:
        windows.append((row1 - row0, col1 - col0))
        return reader(row0, row1, col0, col1)

    clf = ToyPatchClassifier(5)
    streamed = predict_scene(clf, recording_reader, valid, tile_size=12)
    in_memory = predict_scene(clf, physical, valid, tile_size=64)
    assert np.array_equal(streamed.class_index, in_memory.class_index)
    np.testing.assert_allclose(streamed.confidence, in_memory.confidence, rtol=1e-5)
    assert max(h * w for h, w in windows) <= (12 + 4) ** 2  # memory bound: tile plus halo
    # With no mask given, the reader's nodata (NaN) marks the invalid pixels.
    self_masked = predict_scene(clf, reader, None, tile_size=12)
    assert np.array_equal(self_masked.class_index, in_memory.class_index)
    only_two = raster_window_reader(path, band_indexes=[1, 3])
    assert only_two(0, 5, 0, 7).shape == (2, 5, 7)
    with pytest.raises(ValueError, match="band indexes"):
        raster_window_reader(path, band_indexes=[0, 9])


def test_bad_input_gives_clear_errors():
    cube, valid = scene(6)
    clf = ToyPatchClassifier(3)
    with pytest.raises(ValueError, match="does not match"):
        predict_scene(clf, cube, valid[:, :10])
    with pytest.raises(ValueError, match="tile_size"):
        predict_scene(clf, cube, valid, tile_size=0)
    with pytest.raises(ValueError, match="valid mask"):
        predict_scene(clf, lambda r0, r1, c0, c1: cube[:, r0:r1, c0:c1], None)

    class WrongColumns(ToyPatchClassifier):
        n_classes = 4

    with pytest.raises(ValueError, match="expected"):
        predict_scene(WrongColumns(3), cube, valid)
    with pytest.raises(ValueError, match="outside"):
        predict_pixels(clf, cube, np.array([H]), np.array([0]))


def test_training_patches_fill_nodata_as_prediction_sees_them():
    from hypersynth.core.classify.predict import pixel_patches

    rng = np.random.default_rng(0)
    cube = rng.uniform(0.1, 1.0, (4, 10, 10)).astype(np.float32)
    valid = np.ones((10, 10), bool)
    valid[:, :3] = False
    cube[:, :, :3] = 0.0  # a no-data stripe
    patch = pixel_patches(cube, valid, np.array([5]), np.array([3]), 3)[0]  # (4, 3, 3), left column is no-data
    mean = patch[:, :, 1:].mean(axis=(1, 2))  # (4,) the patch's valid mean
    np.testing.assert_allclose(patch[:, :, 0], np.repeat(mean[:, None], 3, axis=1), rtol=1e-6)
    np.testing.assert_array_equal(patch[:, :, 1:], cube[:, 4:7, 3:5])
    plain = pixel_patches(cube, None, np.array([5]), np.array([3]), 3)[0]
    assert (plain[:, :, 0] == 0).all()  # without a validity mask nothing is filled
    assert pixel_patches(cube, valid, np.array([5]), np.array([3]), 1).shape == (1, 4, 1, 1)


def test_training_patches_are_gathered_without_a_padded_copy_of_the_scene():
    """A few patches cost memory for those patches, not for the scene: pixel_patches once padded the whole cube and
    zeroed its no-data in another copy (two copies of a full-size scene for a few hundred training patches). The
    patches are those of the padded scene, at the border too."""
    import tracemalloc

    from hypersynth.core.classify.predict import pixel_patches
    from hypersynth.core.patches import extract_patches, pad_cube

    rng = np.random.default_rng(1)
    cube = rng.random((16, 256, 256)).astype(np.float32)  # 4 MiB
    valid = np.ones((256, 256), bool)
    rows, cols = np.array([0, 1, 128, 255, 200]), np.array([0, 254, 128, 255, 3])
    expected = extract_patches(cube, rows, cols, 9, padded=pad_cube(cube, 9))  # every valid: nothing filled
    tracemalloc.start()
    try:
        patches = pixel_patches(cube, valid, rows, cols, 9)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(patches, expected)
    assert peak < cube.nbytes / 4


def test_each_tiles_probabilities_reach_on_tile_and_cover_the_scene_once():
    cube, valid = scene()
    clf = ToyPatchClassifier(5)
    seen = np.zeros((H, W), dtype=int)
    stacked = np.full((3, H, W), -5.0, dtype=np.float32)

    def on_tile(row0: int, col0: int, proba: np.ndarray) -> None:
        k, h, w = proba.shape
        seen[row0:row0 + h, col0:col0 + w] += 1
        stacked[:, row0:row0 + h, col0:col0 + w] = proba

    pred = predict_scene(clf, cube, valid, tile_size=16, on_tile=on_tile)
    assert (seen == 1).all()  # every pixel in exactly one tile
    assert np.isnan(stacked[:, ~valid]).all()  # unclassified: NaN in every band
    rows, cols = np.nonzero(valid)
    assert np.array_equal(stacked[:, rows, cols].argmax(axis=0), pred.class_index[valid])
    np.testing.assert_allclose(stacked[:, rows, cols].max(axis=0), pred.confidence[valid], rtol=1e-6)
    np.testing.assert_allclose(stacked[:, rows, cols].sum(axis=0), 1.0, rtol=1e-5)
    np.testing.assert_allclose(stacked[:, rows, cols].T, predict_pixels(clf, cube, rows, cols, valid=valid),
                               rtol=1e-5)
