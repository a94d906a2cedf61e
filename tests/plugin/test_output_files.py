"""What Processing leaves at a destination: no stale GDAL sidecars of a replaced raster, no GeoTIFF under another
format's name; and which labels it reads: a layer's unsaved edits, said in the log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr
from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsProcessingException, QgsVectorLayer

import processing

from .conftest import RecordingFeedback, write_label_points, write_small_scene

STALE_STATISTICS = ("<PAMDataset><PAMRasterBand band='1'><Metadata><MDI key='STATISTICS_MAXIMUM'>99</MDI>"
                    "</Metadata></PAMRasterBand></PAMDataset>")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return write_small_scene(tmp_path_factory.mktemp("demo"), seed=4, n_per_class=5)


def _baseline(scene: str, labels, folder: Path, **over) -> dict:
    return {"SCENE": scene, "LABELS": labels, "METHOD": 0, "OUTPUT": str(folder / "map.tif"),
            "CONFIDENCE": str(folder / "conf.tif"), **over}


# --- the replaced raster's GDAL sidecars go with it --------------------------------------------------------------
def test_outputs_over_existing_rasters_leave_no_stale_statistics(hypersynth_plugin, demo, tmp_path):
    _, _, scene, labels = demo
    for name in ("map.tif", "conf.tif"):
        (tmp_path / name).write_bytes(b"an earlier raster")
    (tmp_path / "conf.tif.aux.xml").write_text(STALE_STATISTICS)
    (tmp_path / "conf.tif.ovr").write_bytes(b"old overviews")
    (tmp_path / "conf.tif.msk").write_bytes(b"old mask")
    (tmp_path / "conf.tif.bak").write_bytes(b"the analyst's copy")  # not GDAL's: left alone
    result = processing.run("hypersynth:classifybaseline", _baseline(scene, labels, tmp_path))
    assert result["CONFIDENCE"] == str(tmp_path / "conf.tif")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert not {"conf.tif.aux.xml", "conf.tif.ovr", "conf.tif.msk"} & set(names), names
    assert "conf.tif.bak" in names and not [n for n in names if n.startswith(".")]  # nothing set aside is left
    confidence = gdal.Open(result["CONFIDENCE"])
    assert confidence.GetRasterBand(1).GetMetadataItem("STATISTICS_MAXIMUM") is None
    assert confidence.GetRasterBand(1).GetOverviewCount() == 0 and confidence.ReadAsArray().max() <= 1.0


def test_a_failed_move_puts_the_replaced_rasters_sidecars_back(tmp_path):
    from hypersynth.plugin.algorithms.destinations import OutputMoves

    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "run.tif").write_bytes(b"new raster")
    (tmp_path / "map.tif").write_bytes(b"old raster")
    (tmp_path / "map.tif.aux.xml").write_text(STALE_STATISTICS)
    with pytest.raises(OSError):
        with OutputMoves() as moves:
            moves.put_raster(staged / "run.tif", str(tmp_path / "map.tif"))
            assert not (tmp_path / "map.tif.aux.xml").exists()
            moves.put(staged / "missing", str(tmp_path / "other.tif"))  # fails: every move is undone
    assert (tmp_path / "map.tif").read_bytes() == b"old raster"
    assert (tmp_path / "map.tif.aux.xml").read_text() == STALE_STATISTICS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.tif", "map.tif.aux.xml", "staged"]


# --- a raster destination is a GeoTIFF's name -------------------------------------------------------------------
@pytest.mark.parametrize("name, match", [
    ("map.img", r"the Classified map destination .*map.img is named as a .img file, but HyperSynth writes GeoTIFF: "
                r"name it map.tif \(and convert it afterwards"),
    ("map.vrt", r"the Classified map destination .*map.vrt is named as a .vrt file"),
    ("map", r"the Classified map destination .*map has no extension: HyperSynth writes GeoTIFF; name it map.tif"),
])
def test_a_raster_destination_not_named_tif_is_refused_before_the_run(hypersynth_plugin, demo, tmp_path,
                                                                      monkeypatch, name, match):
    import hypersynth.core.pipeline as pipeline

    monkeypatch.setattr(pipeline, "classify_scene", lambda *a, **k: pytest.fail("the engine ran"))
    _, _, scene, labels = demo
    with pytest.raises(QgsProcessingException, match=match):
        processing.run("hypersynth:classifybaseline", _baseline(scene, labels, tmp_path, OUTPUT=str(tmp_path / name)))
    with pytest.raises(QgsProcessingException, match=r"the Confidence destination .*conf.img is named as a .img"):
        processing.run("hypersynth:classifybaseline", _baseline(scene, labels, tmp_path,
                                                                CONFIDENCE=str(tmp_path / "conf.img")))
    assert list(tmp_path.iterdir()) == []


# --- a label layer's unsaved edits ---------------------------------------------------------------------------------
def _points_without_class(data, sparse: np.ndarray, left_out: int, path: Path) -> str:
    """The sparse labels as points in a GeoPackage, all but class ``left_out`` (the analyst has not saved it yet)."""
    return write_label_points(path, np.where(sparse != left_out, sparse, 0), {c.id: c.name for c in data.classes},
                              data.scene.transform, data.scene.crs_wkt)


def _saved_count(path: str) -> int:
    ds = ogr.Open(path)  # held while its layer is read
    return ds.GetLayer(0).GetFeatureCount()


def test_unsaved_label_edits_are_used_and_the_log_says_they_are_unsaved(hypersynth_plugin, demo, tmp_path):
    data, sparse, scene, _ = demo
    saved = _points_without_class(data, sparse, 3, tmp_path / "labels.gpkg")
    count = _saved_count(saved)
    layer = QgsVectorLayer(f"{saved}|layername=labels", "my labels", "ogr")
    assert layer.isValid() and layer.startEditing()
    x0, dx, _, y0, _, dy = data.scene.transform
    for r, c in zip(*np.nonzero(sparse == 3)):  # class 3 labelled in the session, not saved
        feature = QgsFeature(layer.fields())
        feature.setAttribute("class_id", 3)
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x0 + (c + 0.5) * dx, y0 + (r + 0.5) * dy)))
        assert layer.addFeature(feature)
    feedback = RecordingFeedback()
    out = tmp_path / "out"
    result = processing.run("hypersynth:classifybaseline", _baseline(scene, layer, out, CLASS_FIELD="class_id"),
                            feedback=feedback)
    assert 3 in np.unique(gdal.Open(result["OUTPUT"]).ReadAsArray())  # the unsaved class was learnt
    assert any("the labels layer 'my labels' has unsaved edits: this run uses them as they stand, but they are not "
               "saved to its file (save the layer to keep them)" in w for w in feedback.warnings), feedback.warnings
    assert layer.isModified()  # still the analyst's to save or not
    assert _saved_count(saved) == count
    layer.rollBack()
    feedback = RecordingFeedback()
    result = processing.run("hypersynth:classifybaseline", _baseline(scene, layer, out, CLASS_FIELD="class_id"),
                            feedback=feedback)  # saved labels only: nothing to warn of
    assert 3 not in np.unique(gdal.Open(result["OUTPUT"]).ReadAsArray())
    assert not any("unsaved" in w for w in feedback.warnings)


def test_a_memory_label_layer_without_crs_labels_a_scene_without_georeference(hypersynth_plugin, demo, tmp_path):
    """Processing copies a label layer without CRS as the dock does, without CRS (a GeoPackage copy would record
    one, which the engine refuses for a pixel grid), and its long field names whole."""
    import dataclasses

    from qgis.core import QgsCoordinateReferenceSystem

    from hypersynth.core.io.write import write_scene
    from hypersynth.core.scene import PIXEL_GRID

    data, sparse, _, _ = demo
    scene = write_scene(dataclasses.replace(data.scene, transform=PIXEL_GRID, crs_wkt=None), tmp_path / "pixels.tif")
    layer = QgsVectorLayer("Point?field=land_cover_class:integer", "scratch", "memory")
    layer.setCrs(QgsCoordinateReferenceSystem())
    features = []
    for r, c in zip(*np.nonzero(sparse)):  # drawn over the scene in QGIS's pixel coordinates: x = column, y = -row
        feature = QgsFeature(layer.fields())
        feature.setAttribute("land_cover_class", int(sparse[r, c]))
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(c + 0.5, -(r + 0.5))))
        features.append(feature)
    assert layer.dataProvider().addFeatures(features) and not layer.crs().isValid()
    result = processing.run("hypersynth:classifybaseline",
                            _baseline(str(scene), layer, tmp_path / "out", CLASS_FIELD="land_cover_class"))
    assert set(np.unique(gdal.Open(result["OUTPUT"]).ReadAsArray())) >= {1, 2, 3}
