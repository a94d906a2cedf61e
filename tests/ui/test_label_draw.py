"""Draw from reference…: the dialog's choices and refusals, the draw as a task, and what the dock shows after it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsCoordinateReferenceSystem, QgsRasterLayer, QgsVectorLayer
from qgis.PyQt.QtWidgets import QDialog, QMessageBox

from hypersynth.core import label_draw
from hypersynth.core.io.classes import write_classes
from hypersynth.core.io.write import write_label_raster
from hypersynth.core.progress import Cancelled
from hypersynth.core.scene import ClassInfo
from hypersynth.plugin.label_layer import CLASS_ID_FIELD
from hypersynth.ui import label_draw_dialog
from hypersynth.ui.label_draw_dialog import LabelDrawDialog, start_label_draw
from hypersynth.ui.main_dock import HyperSynthDock

from ..plugin.conftest import wait_until
from .conftest import BANDS, COLS, ORIGIN, PIXEL, ROWS

REFERENCE = [ClassInfo(1, "maize", (240, 200, 30), "a maize field"), ClassInfo(2, "lake", (20, 60, 220), "a lake"),
             ClassInfo(4, "meadow", (60, 170, 60), "a meadow in summer")]


def reference_map() -> np.ndarray:
    """``(ROWS, COLS)``: three blocks of 40 pixels or more, classes 1, 2 and 4; the rest unlabelled."""
    labels = np.zeros((ROWS, COLS), np.uint8)
    labels[0:6, 8:16] = 1
    labels[8:14, 0:8] = 2
    labels[12:20, 14:22] = 4
    return labels


def write_reference(path: Path, georeferenced: bool = True) -> Path:
    transform = (ORIGIN[0], PIXEL, 0.0, ORIGIN[1], 0.0, -PIXEL) if georeferenced else (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    crs = None
    if georeferenced:
        from osgeo import osr

        srs = osr.SpatialReference()
        srs.ImportFromEPSG(32633)
        crs = srs.ExportToWkt()
    written = write_label_raster(path, reference_map(), REFERENCE, transform=transform, crs_wkt=crs)
    write_classes(path.with_name(path.stem + "_classes.json"), REFERENCE)  # as an imported ground truth has
    return written


@pytest.fixture
def reference_layer(tmp_path, scene_layer, qgis_new_project):
    layer = QgsRasterLayer(str(write_reference(tmp_path / "Indian_gt.tif")), "Indian_gt", "gdal")
    assert layer.isValid()
    qgis_new_project.addMapLayer(layer)
    return layer


def _dock(keep, iface, scene, classes, labels=None) -> HyperSynthDock:
    dock = keep(HyperSynthDock(iface), 480, 620)
    dock.set_scene_layer(scene)
    dock.set_classes(classes)
    if labels is not None:
        dock.set_label_layer(labels)
    return dock


def _draw(panel, dialog: LabelDrawDialog, project) -> None:
    """OK on the dialog, then the draw, run to its end."""
    dialog.accept()
    assert dialog.result() == QDialog.Accepted, dialog.note.text()
    assert start_label_draw(panel, dialog.request(), project) is not None
    assert wait_until(lambda: not panel.label_draws.running, timeout=60.0)


def test_drawn_points_become_the_label_layer_with_the_classes_merged_and_validation_set(
        keep, qgis_iface, tmp_path, scene_layer, label_layer, reference_layer, classes, qgis_new_project):
    dock = _dock(keep, qgis_iface, scene_layer, classes, label_layer)
    panel = dock.classes_panel
    messages: list[str] = []
    panel.message.connect(messages.append)
    assert panel.draw_button.isEnabled() and "benchmark" in panel.draw_button.toolTip()

    dialog = keep(LabelDrawDialog(scene_layer, label_layer, panel))
    assert dialog.reference.currentLayer() is reference_layer  # the one-band integer raster on the scene's grid
    assert not dialog.class_field.isEnabled()  # a label raster holds class ids itself
    assert dialog.labels_per_class.value() == 5 and dialog.seed.value() == 0 and dialog.write_validation.isChecked()
    points = tmp_path / "Indian_gt_5_per_class_seed0.gpkg"  # beside the scene, named after the draw
    assert Path(dialog.points.filePath()) == points
    dialog.seed.setValue(3)  # the default name follows until the analyst edits it
    assert Path(dialog.points.filePath()).name == "Indian_gt_5_per_class_seed3.gpkg"
    dialog.seed.setValue(0)
    _draw(panel, dialog, qgis_new_project)

    drawn = panel.label_layer()
    assert isinstance(drawn, QgsVectorLayer) and drawn.source() == f"{points}|layername=labels"
    assert dock.label_layer() is drawn and drawn.featureCount() == 15
    ids = sorted(f[CLASS_ID_FIELD] for f in drawn.getFeatures())
    assert ids == [1] * 5 + [2] * 5 + [4] * 5
    assert panel.refresh_counts() == {1: 5, 2: 5, 4: 5}
    by_id = {c.id: c for c in panel.classes()}
    assert (by_id[1].name, by_id[1].prompt) == ("corn", "corn field")  # the analyst's class stays
    assert (by_id[4].name, by_id[4].prompt, tuple(by_id[4].color)) == ("meadow", "a meadow in summer", (60, 170, 60))
    assert sorted(by_id) == [1, 2, 3, 4]
    assert drawn.renderer().type() == "categorizedSymbol"

    validation = [layer for layer in qgis_new_project.mapLayers().values()
                  if layer.source() == str(tmp_path / "Indian_gt_5_per_class_seed0_validation.tif")]
    assert len(validation) == 1 and validation[0].renderer().type() == "paletted"
    assert dock.last_run_settings["validation_layer_id"] == validation[0].id()
    assert dock.run_defaults()["validation_layer_id"] == validation[0].id()  # the run dialog starts there
    ds = gdal.Open(validation[0].source())
    left = ds.GetRasterBand(1).ReadAsArray()
    ds = None
    assert int((left > 0).sum()) == int((reference_map() > 0).sum()) - 15  # the reference less the training pixels
    assert (tmp_path / "Indian_gt_5_per_class_seed0_classes.json").exists()
    assert "15 training labels" in messages[-1] and "next run's Validation labels" in messages[-1]
    assert "meadow" in messages[-1]


def test_an_existing_points_file_is_replaced_only_when_the_analyst_agrees(
        keep, qgis_iface, tmp_path, scene_layer, reference_layer, classes, qgis_new_project, monkeypatch):
    dock = _dock(keep, qgis_iface, scene_layer, classes)
    panel = dock.classes_panel
    points = tmp_path / "mine.gpkg"
    points.write_text("the analyst's file")
    answers = [QMessageBox.No]
    asked: list[str] = []

    def question(parent, title, text, *args):
        asked.append(text)
        return answers[-1]

    monkeypatch.setattr(QMessageBox, "question", question)
    dialog = keep(LabelDrawDialog(scene_layer, None, panel))
    dialog.points.setFilePath(str(points))
    dialog.accept()
    assert dialog.result() != QDialog.Accepted and not dialog.overwrite
    assert "mine.gpkg" in asked[-1] and "Nothing is replaced" in dialog.note.text()
    assert points.read_text() == "the analyst's file"

    answers.append(QMessageBox.Yes)
    _draw(panel, dialog, qgis_new_project)
    assert dialog.request().overwrite
    assert panel.label_layer() is not None and panel.label_layer().featureCount() == 15


@pytest.mark.parametrize("when", ["while drawing", "after writing"])
def test_a_cancelled_draw_leaves_no_file(keep, qgis_iface, tmp_path, scene_layer, reference_layer, classes,
                                         qgis_new_project, monkeypatch, when):
    dock = _dock(keep, qgis_iface, scene_layer, classes)
    panel = dock.classes_panel
    messages: list[str] = []
    panel.message.connect(messages.append)
    name = "draw_labels" if when == "while drawing" else "write_draw"
    original = getattr(label_draw, name)

    def cancelled(*args, **kwargs):  # the analyst presses Cancel in the task manager
        result = original(*args, **kwargs) if when == "after writing" else None
        panel.label_draws.running[0].cancel()
        if result is None:
            raise Cancelled("cancelled by the user")
        return result

    monkeypatch.setattr(label_draw, name, cancelled)
    before = sorted(p.name for p in tmp_path.iterdir())
    dialog = keep(LabelDrawDialog(scene_layer, None, panel))
    _draw(panel, dialog, qgis_new_project)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert panel.label_layer() is None and panel.classes() == classes
    assert messages[-1] == "Draw from reference cancelled; nothing was written."


def test_a_scene_without_georeference_gets_shapefile_points_without_crs(
        keep, qgis_iface, qgis_canvas, tmp_path, classes, qgis_new_project):
    path = tmp_path / "pixels.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(path), COLS, ROWS, BANDS, gdal.GDT_Int16)
    for b in range(BANDS):
        ds.GetRasterBand(b + 1).WriteArray((1000 + 10 * b + np.arange(ROWS * COLS).reshape(ROWS, COLS))
                                           .astype(np.int16))
    ds = None
    scene = QgsRasterLayer(str(path), "pixels")
    qgis_new_project.addMapLayer(scene)
    reference = QgsRasterLayer(str(write_reference(tmp_path / "gt.tif", georeferenced=False)), "gt", "gdal")
    qgis_new_project.addMapLayer(reference)
    qgis_canvas.setDestinationCrs(QgsCoordinateReferenceSystem())
    dock = _dock(keep, qgis_iface, scene, classes)
    panel = dock.classes_panel

    dialog = keep(LabelDrawDialog(scene, None, panel))
    assert Path(dialog.points.filePath()) == tmp_path / "gt_5_per_class_seed0.shp"
    dialog.points.setFilePath(str(tmp_path / "gt.gpkg"))
    dialog.accept()  # a GeoPackage records a CRS, which a pixel grid has not
    assert dialog.result() != QDialog.Accepted and "no georeference" in dialog.note.text()
    dialog.points.setFilePath(str(tmp_path / "gt_5_per_class_seed0.shp"))
    dialog.split.setCurrentText("disjoint")
    _draw(panel, dialog, qgis_new_project)
    drawn = panel.label_layer()
    assert drawn is not None and drawn.source() == str(tmp_path / "gt_5_per_class_seed0.shp")
    assert not drawn.crs().isValid() and not (tmp_path / "gt_5_per_class_seed0.prj").exists()
    assert panel.refresh_counts() == {1: 5, 2: 5, 4: 5}  # on the scene's pixel grid, where they were drawn


def test_a_vector_reference_with_unsaved_edits_is_refused_and_the_button_needs_a_scene(
        keep, qgis_iface, tmp_path, scene_layer, label_layer, classes, qgis_new_project, monkeypatch):
    dock = keep(HyperSynthDock(qgis_iface), 480, 620)
    panel = dock.classes_panel
    dock.set_scene_layer(None)  # the dock takes the project's raster as scene: none chosen
    assert not panel.draw_button.isEnabled() and "Needs a scene" in panel.draw_button.toolTip()
    dock.set_scene_layer(scene_layer)
    assert panel.draw_button.isEnabled()

    from hypersynth.plugin.label_layer import create_label_layer

    field = create_label_layer(str(tmp_path / "field.gpkg"), scene_layer.crs(), classes, project=qgis_new_project)
    field.startEditing()
    shown: list[LabelDrawDialog] = []

    def exec_(dialog):
        shown.append(dialog)
        dialog.reference.setLayer(field)
        dialog.accept()
        return dialog.result()

    monkeypatch.setattr(LabelDrawDialog, "exec_", exec_)
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY

    feature = QgsFeature(field.fields())
    feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(ORIGIN[0] + 15, ORIGIN[1] - 15)))
    feature.setAttribute(CLASS_ID_FIELD, 1)
    field.addFeature(feature)
    panel.draw_button.click()
    assert shown and shown[0].result() != QDialog.Accepted
    assert "unsaved edits" in shown[0].note.text() and not panel.label_draws.running
    assert shown[0].class_field.isEnabled() and "class_id" in [shown[0].class_field.itemText(i)
                                                                for i in range(shown[0].class_field.count())]
    field.rollBack()
    keep(shown[0])
    assert label_draw_dialog.reference_rank(field, scene_layer) == 1
