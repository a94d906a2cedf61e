"""A run's maps written tile by tile: the same files as whole maps, the counts and scored classes kept, none left
by a cancelled or failed run."""

import numpy as np
import pytest
import rasterio
from osgeo import gdal

from hypersynth.core.classify.predict import predict_scene
from hypersynth.core.evaluation.assess import validation_pixels
from hypersynth.core.evaluation.metrics import pixel_counts
from hypersynth.core.io.write import write_class_map, write_confidence
from hypersynth.core.progress import CancelAfter, Cancelled
from hypersynth.core.scene import ClassInfo, Scene
from hypersynth.core.scene_maps import predict_and_write_maps
from tests.core.test_predict import H, W, ToyPatchClassifier, scene

UTM = (360000.0, 30.0, 0.0, 5800000.0, 0.0, -30.0)
CLASS_IDS = np.array([9, 3, 7])  # the classifier's columns, not in id order
CLASSES = [ClassInfo(3, "road", (120, 120, 120)), ClassInfo(7, "crop", (80, 200, 60)),
           ClassInfo(9, "water", (30, 110, 180)), ClassInfo(12, "never learnt")]


def grid_scene(valid: np.ndarray) -> Scene:
    crs = rasterio.crs.CRS.from_epsg(32633).to_wkt()
    return Scene(cube=np.zeros((1, *valid.shape), np.float32), valid=valid, transform=UTM, crs_wkt=crs, name="toy")


def write(tmp_path, clf, cube, valid, **kwargs):
    return predict_and_write_maps(clf, CLASS_IDS, CLASSES, CLASSES[:3], grid_scene(valid), cube,
                                  class_map=tmp_path / "classification.tif", confidence=tmp_path / "confidence.tif",
                                  **kwargs)


def test_maps_written_tile_by_tile_are_the_whole_maps_and_the_run_keeps_counts_and_scored_classes(tmp_path):
    cube, valid = scene(2)
    clf = ToyPatchClassifier(5)
    scored = np.random.default_rng(0).random((H, W)) < 0.2  # e.g. validation pixels, some of them invalid
    maps = write(tmp_path, clf, cube, valid, probabilities=tmp_path / "probabilities.tif",
                 scored=np.flatnonzero(scored), tile_size=16, batch_size=37)  # 3 × 4 tiles, the last cut short

    whole = predict_scene(clf, cube, valid, tile_size=64)
    class_map = whole.label_map(CLASS_IDS)  # (H, W) ids, 0 where invalid
    reference = tmp_path / "whole"
    reference.mkdir()
    write_class_map(reference / "classification.tif", class_map, CLASSES[:3], transform=UTM, crs_wkt=None)
    write_confidence(reference / "confidence.tif", whole.confidence, transform=UTM, crs_wkt=None,
                     uncertainty=whole.entropy)
    for name in ("classification.tif", "confidence.tif"):
        tiled, one = gdal.Open(str(tmp_path / name)), gdal.Open(str(reference / name))
        assert tiled.RasterCount == one.RasterCount
        for b in range(1, one.RasterCount + 1):
            t, o = tiled.GetRasterBand(b), one.GetRasterBand(b)
            np.testing.assert_allclose(t.ReadAsArray(), o.ReadAsArray(), rtol=1e-6)
            assert (t.DataType, t.GetNoDataValue(), t.GetDescription()) == (o.DataType, o.GetNoDataValue(),
                                                                         o.GetDescription())
        tiled = one = None
    ds = gdal.Open(str(tmp_path / "classification.tif"))  # kept referenced while its band is used
    ds.GetGeoTransform()  # GDAL 3.6 loads the .aux.xml (category names) lazily, on georeference access
    band = ds.GetRasterBand(1)
    assert band.GetCategoryNames()[:10] == ["unclassified", "", "", "road", "", "", "", "crop", "", "water"]
    assert band.GetRasterColorTable().GetColorEntry(7) == (80, 200, 60, 255)
    assert (tmp_path / "classification.qml").read_text() == (reference / "classification.qml").read_text()

    assert maps.pixels == pixel_counts(class_map)  # 0: the invalid pixels
    assert maps.mapped(12) == 0 and maps.mapped(3) == int((class_map == 3).sum())
    assert np.array_equal(maps.scored, class_map[scored])  # row by row, as validation[scored] is
    with rasterio.open(tmp_path / "probabilities.tif") as ds:
        proba = ds.read()  # (K, H, W) in the classifier's column order
        assert [d.split(" (")[0] for d in ds.descriptions] == ["probability of water", "probability of road",
                                                                "probability of crop"]
    assert np.array_equal(CLASS_IDS[proba[:, valid].argmax(axis=0)], class_map[valid])
    assert (proba[:, ~valid] == -1).all()


def test_without_scored_pixels_or_probabilities_only_the_two_maps_are_written(tmp_path):
    cube, valid = scene(3)
    maps = write(tmp_path, ToyPatchClassifier(3), cube, valid)
    assert maps.scored is None and sum(maps.pixels.values()) == H * W
    assert sorted(p.name for p in tmp_path.glob("*.tif")) == ["classification.tif", "confidence.tif"]


def test_a_cancelled_or_failed_prediction_leaves_no_map(tmp_path):
    cube, valid = scene(4)
    with pytest.raises(Cancelled):
        write(tmp_path, ToyPatchClassifier(3), cube, valid, probabilities=tmp_path / "probabilities.tif",
              tile_size=8, reporter=CancelAfter(5))  # a few tiles are already in the files

    class FailsLater(ToyPatchClassifier):
        def predict_proba(self, samples: np.ndarray) -> np.ndarray:
            if len(self.calls) == 4:
                raise RuntimeError("the classifier broke")
            return super().predict_proba(samples)

    with pytest.raises(RuntimeError, match="broke"):
        write(tmp_path, FailsLater(3), cube, valid, tile_size=8)
    assert list(tmp_path.iterdir()) == []


def test_scored_pixels_are_ascending_flat_indices(tmp_path):
    cube, valid = scene(5)
    with pytest.raises(ValueError, match="ascending flat indices"):
        write(tmp_path, ToyPatchClassifier(3), cube, valid, scored=np.array([40, 12]))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("strip_pixels", [1 << 20, 3 * W])  # one strip; strips of 3 rows
def test_the_validation_pixels_a_run_scores(monkeypatch, strip_pixels):
    """Labelled, valid and not a training label; their classes row by row, as ``validation[scored]``, found a strip
    of rows at a time."""
    import hypersynth.core.io.labels as labels_module

    monkeypatch.setattr(labels_module, "LABEL_CHUNK_PIXELS", strip_pixels)
    rng = np.random.default_rng(1)
    validation = rng.choice([0, 0, 2, 5], size=(H, W)).astype(np.int32)
    valid, labels = rng.random((H, W)) < 0.9, np.where(rng.random((H, W)) < 0.1, 2, 0)
    scored = (validation > 0) & valid & (labels == 0)
    pixels = validation_pixels(validation, valid, labels)
    assert np.array_equal(pixels.flat, np.flatnonzero(scored)) and np.array_equal(pixels.truth, validation[scored])
    without = validation_pixels(validation, valid)
    assert np.array_equal(without.truth, validation[(validation > 0) & valid])
