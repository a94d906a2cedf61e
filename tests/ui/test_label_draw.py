"""Draw from reference…: the dialog's choices and refusals, the draw as a task, and what the dock shows after it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pytest
from osgeo import gdal, ogr, osr
from qgis.core import QgsCoordinateReferenceSystem, QgsRasterLayer, QgsVectorLayer
from qgis.PyQt.QtWidgets import QDialog, QMessageBox

from hypersynth.core import label_draw
from hypersynth.core.io.classes import write_classes
from hypersynth.core.io.write import write_label_raster
from hypersynth.core.progress import Cancelled
from hypersynth.core.scene import ClassInfo
from hypersynth.plugin.label_layer import CLASS_ID_FIELD
from hypersynth.ui import label_draw_dialog, reference_layers
from hypersynth.ui.label_draw_dialog import LabelDrawDialog, start_label_draw
from hypersynth.plugin.tasks import EngineTask
from hypersynth.ui.main_dock import HyperSynthDock

from ..plugin.conftest import wait_until
from .conftest import BANDS, COLS, ORIGIN, PIXEL, ROWS, type_over

REFERENCE = [ClassInfo(1, "maize", (240, 200, 30), "a maize field"), ClassInfo(2, "lake", (20, 60, 220), "a lake"),
             ClassInfo(4, "meadow", (60, 170, 60), "a meadow in summer")]


def reference_map() -> np.ndarray:
    """``(ROWS, COLS)``: three blocks of 40 pixels or more, classes 1, 2 and 4; the rest unlabelled."""
    labels = np.zeros((ROWS, COLS), np.uint8)
    labels[0:6, 8:16] = 1
    labels[8:14, 0:8] = 2
    labels[12:20, 14:22] = 4
    return labels


def utm_33n() -> str:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    return srs.ExportToWkt()


def write_reference(path: Path, georeferenced: bool = True, labels: Optional[np.ndarray] = None,
                    classes: Optional[list[ClassInfo]] = None) -> Path:
    """A label raster of ``labels`` (default :func:`reference_map`) and its class file beside it, as an imported
    ground truth has."""
    transform = (ORIGIN[0], PIXEL, 0.0, ORIGIN[1], 0.0, -PIXEL) if georeferenced else (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    classes = classes or REFERENCE
    written = write_label_raster(path, reference_map() if labels is None else labels, classes, transform=transform,
                                 crs_wkt=utm_33n() if georeferenced else None)
    write_classes(path.with_name(path.stem + "_classes.json"), classes)
    return written


def write_float_raster(path: Path, labels: np.ndarray) -> Path:
    """A one-band float32 raster of whole class ids on the scene's lattice, as the EnMAP label rasters are."""
    ds = gdal.GetDriverByName("GTiff").Create(str(path), labels.shape[1], labels.shape[0], 1, gdal.GDT_Float32)
    ds.SetGeoTransform((ORIGIN[0], PIXEL, 0.0, ORIGIN[1], 0.0, -PIXEL))
    ds.SetProjection(utm_33n())
    ds.GetRasterBand(1).WriteArray(labels.astype(np.float32))
    ds = None
    return path


def blocks(*ids: int) -> np.ndarray:
    """:func:`reference_map` with its three blocks (classes 1, 2, 4 there) holding ``ids`` instead."""
    labels = reference_map()
    out = np.zeros_like(labels)
    for old, new in zip((1, 2, 4), ids):
        out[labels == old] = new
    return out


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


def _draw(panel, dialog: LabelDrawDialog, project) -> EngineTask:
    """OK on the dialog, then the draw, run to its end."""
    dialog.accept()
    assert dialog.result() == QDialog.Accepted, dialog.note.text()
    task = start_label_draw(panel, dialog.request(), project)
    assert task is not None
    assert wait_until(lambda: not panel.label_draws.running, timeout=60.0)
    return task


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
    assert dialog.split_hint.isHidden()  # the disjoint split's explanation, for the disjoint split only
    dialog.split.setCurrentText("disjoint")
    assert not dialog.split_hint.isHidden()
    assert Path(dialog.points.filePath()).name == "Indian_gt_5_per_class_seed0_disjoint.gpkg"  # not the random's
    dialog.split.setCurrentText("random")
    assert dialog.split_hint.isHidden() and Path(dialog.points.filePath()) == points
    assert "classes you do not have yet from Indian_gt_classes.json" in dialog.classes_note.text()
    task = _draw(panel, dialog, qgis_new_project)
    assert task.reporter.stage == "done"  # QGIS's "Task complete" notice ends with the description: "…: done"
    assert task.title == "Draw 5 labels per class from Indian_gt"

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
    root = qgis_new_project.layerTreeRoot()
    points_node, validation_node = root.findLayer(drawn.id()), root.findLayer(validation[0].id())
    assert validation_node.parent() is points_node.parent()  # just below the points, hidden: it would hide them
    siblings = points_node.parent().children()
    assert siblings.index(validation_node) == siblings.index(points_node) + 1
    assert not validation_node.itemVisibilityChecked() and points_node.itemVisibilityChecked()
    assert dock.last_run_settings["validation_layer_id"] == validation[0].id()
    assert dock.run_defaults()["validation_layer_id"] == validation[0].id()  # the run dialog starts there
    ds = gdal.Open(validation[0].source())
    left = ds.GetRasterBand(1).ReadAsArray()
    ds = None
    assert int((left > 0).sum()) == int((reference_map() > 0).sum()) - 15  # the reference less the training pixels
    assert (tmp_path / "Indian_gt_5_per_class_seed0_classes.json").exists()
    assert "15 training labels" in messages[-1] and "next run's Validation labels" in messages[-1]
    assert "below the points and hidden (tick it to see it)" in messages[-1]
    assert "meadow" in messages[-1]
    assert ("Class 1 keeps your name 'corn' (the reference's class file calls it 'maize')" in messages[-1])
    assert "took your classes' ids" not in messages[-1]  # a reference of ids: its ids are the classes'
    assert ".." not in messages[-1] and messages[-1].endswith(".")
    assert reference_layers.reference_rank(validation[0], scene_layer) == 0  # no reference for the next draw


def test_a_share_of_each_class_draws_that_share_and_names_the_file_after_it(
        keep, qgis_iface, tmp_path, scene_layer, reference_layer, classes, qgis_new_project):
    """The protocol of papers that train on 10 % of Indian Pines or 5 % of Pavia University: that share of each
    class's reference pixels (rounded, at least one) instead of N per class."""
    dock = _dock(keep, qgis_iface, scene_layer, classes)
    panel = dock.classes_panel
    messages = _messages(panel)
    dialog = keep(LabelDrawDialog(scene_layer, None, panel))
    assert dialog.amount.currentText() == label_draw_dialog.PER_CLASS  # N per class by default, as before
    assert dialog.labels_per_class.isEnabled() and not dialog.share.isEnabled()
    assert dialog.chosen_share() is None
    dialog.amount.setCurrentText(label_draw_dialog.SHARE)
    assert dialog.share.isEnabled() and not dialog.labels_per_class.isEnabled()  # only the chosen one
    assert dialog.share.value() == 10.0 and dialog.share.decimals() == 1
    assert (dialog.share.minimum(), dialog.share.maximum()) == (0.1, 99.9)
    assert "10 % of Indian Pines or 5 % of Pavia University" in dialog.share.toolTip()
    assert "disjoint split" in dialog.share.toolTip()
    assert Path(dialog.points.filePath()) == tmp_path / "Indian_gt_10pct_seed0.gpkg"  # the name follows the share
    dialog.share.setValue(5.0)
    assert Path(dialog.points.filePath()).name == "Indian_gt_5pct_seed0.gpkg"
    dialog.share.setValue(2.5)
    assert Path(dialog.points.filePath()).name == "Indian_gt_2.5pct_seed0.gpkg"
    dialog.split.setCurrentText("disjoint")
    assert Path(dialog.points.filePath()).name == "Indian_gt_2.5pct_seed0_disjoint.gpkg"
    dialog.split.setCurrentText("random")
    dialog.share.setValue(10.0)
    points = tmp_path / "Indian_gt_10pct_seed0.gpkg"
    assert Path(dialog.points.filePath()) == points
    task = _draw(panel, dialog, qgis_new_project)
    assert dialog.request().share == pytest.approx(0.1)
    assert task.title == "Draw 10 % of each class from Indian_gt"
    assert any(m.startswith("Drawing 10 % of each class from Indian_gt into Indian_gt_10pct_seed0.gpkg")
               for m in messages), messages

    reference = reference_map()
    expected = {c: max(1, int(round(0.1 * int((reference == c).sum())))) for c in (1, 2, 4)}
    assert expected == {1: 5, 2: 5, 4: 6}  # 48, 48 and 64 reference pixels
    drawn = panel.label_layer()
    assert drawn is not None and drawn.source() == f"{points}|layername=labels"
    assert panel.refresh_counts() == expected
    total = sum(expected.values())
    assert f"{total} training labels (10 % of each class, seed 0) drawn from" in messages[-1], messages[-1]
    validation = tmp_path / "Indian_gt_10pct_seed0_validation.tif"
    ds = gdal.Open(str(validation))
    left = ds.GetRasterBand(1).ReadAsArray()
    ds = None
    assert int((left > 0).sum()) == int((reference > 0).sum()) - total

    dialog = keep(LabelDrawDialog(scene_layer, panel.label_layer(), panel))  # back to N per class
    dialog.reference.setLayer(reference_layer)
    dialog.amount.setCurrentText(label_draw_dialog.SHARE)
    assert Path(dialog.points.filePath()).name == "Indian_gt_10pct_seed0.gpkg"
    dialog.amount.setCurrentText(label_draw_dialog.PER_CLASS)
    assert dialog.labels_per_class.isEnabled() and not dialog.share.isEnabled()
    dialog.labels_per_class.setValue(3)
    assert Path(dialog.points.filePath()).name == "Indian_gt_3_per_class_seed0.gpkg"
    assert dialog.chosen_share() is None
    task = _draw(panel, dialog, qgis_new_project)
    assert dialog.request().share is None and task.title == "Draw 3 labels per class from Indian_gt"
    assert panel.refresh_counts() == {1: 3, 2: 3, 4: 3}
    assert "9 training labels (3 per class, seed 0)" in messages[-1], messages[-1]

    dialog = keep(LabelDrawDialog(scene_layer, panel.label_layer(), panel))  # a name the analyst edited stays
    mine = str(tmp_path / "my_draw.gpkg")
    dialog.points.setFilePath(mine)
    dialog.amount.setCurrentText(label_draw_dialog.SHARE)
    dialog.share.setValue(5.0)
    assert dialog.points.filePath() == mine


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
    assert "Replace it? (Layers showing it leave the project.)" in asked[-1]  # one file: "it", not "them"
    assert points.read_text() == "the analyst's file"

    answers.append(QMessageBox.Yes)
    _draw(panel, dialog, qgis_new_project)
    assert dialog.request().overwrite
    assert panel.label_layer() is not None and panel.label_layer().featureCount() == 15


def test_a_cancelled_draw_leaves_no_file(keep, qgis_iface, tmp_path, scene_layer, reference_layer, classes,
                                         qgis_new_project, monkeypatch):
    dock = _dock(keep, qgis_iface, scene_layer, classes)
    panel = dock.classes_panel
    messages = _messages(panel)

    def cancelled(*args, **kwargs):  # the analyst presses Cancel in the task manager while the draw is drawn
        panel.label_draws.running[0].cancel()
        raise Cancelled("cancelled by the user")

    monkeypatch.setattr(label_draw, "draw_labels", cancelled)
    before = sorted(p.name for p in tmp_path.iterdir())
    dialog = keep(LabelDrawDialog(scene_layer, None, panel))
    _draw(panel, dialog, qgis_new_project)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert panel.label_layer() is None and panel.classes() == classes
    assert messages[-1] == "Draw from reference cancelled; nothing was written."


def test_a_cancel_after_the_files_were_written_keeps_the_draw(
        keep, qgis_iface, tmp_path, scene_layer, reference_layer, classes, qgis_new_project, monkeypatch):
    """Deleting what was written would also lose the earlier draw the analyst agreed to replace."""
    dock = _dock(keep, qgis_iface, scene_layer, classes)
    panel = dock.classes_panel
    messages = _messages(panel)
    _draw(panel, keep(LabelDrawDialog(scene_layer, None, panel)), qgis_new_project)  # the earlier draw
    points = tmp_path / "Indian_gt_5_per_class_seed0.gpkg"
    earlier = sorted(f[CLASS_ID_FIELD] for f in panel.label_layer().getFeatures())
    original = label_draw.write_draw

    def written_then_cancelled(*args, **kwargs):  # Cancel pressed just as the files were moved into place
        result = original(*args, **kwargs)
        panel.label_draws.running[0].cancel()
        return result

    monkeypatch.setattr(label_draw, "write_draw", written_then_cancelled)
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.Yes)
    dialog = keep(LabelDrawDialog(scene_layer, None, panel))
    dialog.labels_per_class.setValue(3)
    dialog.points.setFilePath(str(points))  # over the earlier draw, agreed
    task = _draw(panel, dialog, qgis_new_project)
    assert task.error is None  # a job that returned succeeded, whatever Cancel came after its last check
    assert points.exists() and (tmp_path / "Indian_gt_5_per_class_seed0_classes.json").exists()
    assert (tmp_path / "Indian_gt_5_per_class_seed0_validation.tif").exists()
    drawn = panel.label_layer()
    assert drawn is not None and drawn.source() == f"{points}|layername=labels"
    assert sorted(f[CLASS_ID_FIELD] for f in drawn.getFeatures()) == [1] * 3 + [2] * 3 + [4] * 3 != earlier
    assert messages[-1].startswith("9 training labels"), messages[-1]  # said as any finished draw
    assert "nothing was written" not in messages[-1]


def test_layers_reading_the_files_replaced_leave_before_the_draw_starts(
        keep, qgis_iface, tmp_path, scene_layer, reference_layer, classes, qgis_new_project, monkeypatch):
    """A file QGIS holds open cannot be replaced on Windows, and a GeoPackage it holds keeps its -wal and -shm
    beside the new file: its layers leave before the task replaces it, not after."""
    dock = _dock(keep, qgis_iface, scene_layer, classes)
    panel = dock.classes_panel
    messages = _messages(panel)
    _draw(panel, keep(LabelDrawDialog(scene_layer, None, panel)), qgis_new_project)
    files = label_draw.written_files(tmp_path / "Indian_gt_5_per_class_seed0.gpkg",
                                     tmp_path / "Indian_gt_5_per_class_seed0_validation.tif")

    def reading() -> list[str]:
        return sorted(layer.name() for layer in qgis_new_project.mapLayers().values()
                      if any(str(f) in layer.source() for f in files))

    assert reading() == ["Indian_gt_5_per_class_seed0", "Indian_gt_5_per_class_seed0_validation"]
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.Yes)
    dialog = keep(LabelDrawDialog(scene_layer, None, panel))
    dialog.accept()
    assert dialog.result() == QDialog.Accepted and dialog.overwrite
    task = start_label_draw(panel, dialog.request(), qgis_new_project)
    assert task is not None and reading() == []  # gone before the task could replace a file (its end is queued)
    assert messages[-1].endswith("(progress and Cancel in QGIS's task manager). Layers reading the files it "
                                 "replaces left the project: 'Indian_gt_5_per_class_seed0', "
                                 "'Indian_gt_5_per_class_seed0_validation'.")
    assert wait_until(lambda: not panel.label_draws.running, timeout=60.0)
    assert reading() == ["Indian_gt_5_per_class_seed0", "Indian_gt_5_per_class_seed0_validation"]  # the new ones
    assert panel.label_layer().featureCount() == 15 and "15 training labels" in messages[-1]


def write_pixel_scene(path: Path) -> Path:
    """A scene of the test's size without georeference (a pixel grid)."""
    ds = gdal.GetDriverByName("GTiff").Create(str(path), COLS, ROWS, BANDS, gdal.GDT_Int16)
    for b in range(BANDS):
        ds.GetRasterBand(b + 1).WriteArray((1000 + 10 * b + np.arange(ROWS * COLS).reshape(ROWS, COLS))
                                           .astype(np.int16))
    ds = None
    return path


def test_a_scene_without_georeference_is_told_from_its_file_not_the_crs_qgis_gave_its_layer(
        keep, qgis_iface, tmp_path, classes, qgis_new_project):
    """QGIS may give a raster without CRS the project's (a user setting): the dialog then proposed a GeoPackage,
    which the draw refused for a scene without georeference."""
    scene = QgsRasterLayer(str(write_pixel_scene(tmp_path / "pixels.tif")), "pixels")
    scene.setCrs(QgsCoordinateReferenceSystem("EPSG:32633"))
    assert scene.crs().isValid()
    qgis_new_project.addMapLayer(scene)
    qgis_new_project.addMapLayer(QgsRasterLayer(str(write_reference(tmp_path / "gt.tif", georeferenced=False)),
                                                "gt", "gdal"))
    dock = _dock(keep, qgis_iface, scene, classes)
    dialog = keep(LabelDrawDialog(scene, None, dock.classes_panel))
    assert Path(dialog.points.filePath()) == tmp_path / "gt_5_per_class_seed0.shp"
    assert dialog.problems() == []
    dialog.points.setFilePath(str(tmp_path / "gt"))
    assert dialog.points_path() == tmp_path / "gt.shp"


def test_a_scene_without_georeference_gets_shapefile_points_without_crs(
        keep, qgis_iface, qgis_canvas, tmp_path, classes, qgis_new_project):
    path = write_pixel_scene(tmp_path / "pixels.tif")
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
    dialog.points.setFilePath("")  # the default again
    dialog.split.setCurrentText("disjoint")
    _draw(panel, dialog, qgis_new_project)
    drawn = panel.label_layer()
    assert drawn is not None and drawn.source() == str(tmp_path / "gt_5_per_class_seed0_disjoint.shp")
    assert not drawn.crs().isValid() and not (tmp_path / "gt_5_per_class_seed0_disjoint.prj").exists()
    assert panel.refresh_counts() == {1: 5, 2: 5, 4: 5}  # on the scene's pixel grid, where they were drawn


def test_the_class_file_beside_the_reference_is_an_input_the_draw_never_writes_over(
        keep, qgis_iface, tmp_path, scene_layer, reference_layer, classes, qgis_new_project, monkeypatch):
    dock = _dock(keep, qgis_iface, scene_layer, classes)
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a: asked.append(text) or QMessageBox.Yes)
    dialog = keep(LabelDrawDialog(scene_layer, None, dock.classes_panel))
    assert dialog.reference.currentLayer() is reference_layer
    dialog.points.setFilePath(str(tmp_path / "Indian_gt.gpkg"))  # its class file: Indian_gt_classes.json
    refusal = (f"{tmp_path / 'Indian_gt_classes.json'} is one of the inputs; write the drawn labels to another "
               "file")
    assert refusal in dialog.problems()
    dialog.accept()
    assert dialog.result() != QDialog.Accepted and not asked and refusal in dialog.note.text()
    assert (tmp_path / "Indian_gt_classes.json").read_text() != "" and not (tmp_path / "Indian_gt.gpkg").exists()
    dialog.reference.setLayer(None)  # a file typed instead of the layer: its class file too
    dialog.reference_file.setFilePath(str(tmp_path / "Indian_gt.tif"))
    dialog.points.setFilePath(str(tmp_path / "Indian_gt.gpkg"))
    assert refusal in dialog.problems()


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
    assert reference_layers.reference_rank(field, scene_layer) == 1


def _messages(panel) -> list[str]:
    messages: list[str] = []
    panel.message.connect(messages.append)
    return messages


def test_an_earlier_draws_validation_raster_is_never_the_default_and_is_refused_as_reference(
        keep, qgis_iface, tmp_path, scene_layer, reference_layer, classes, qgis_new_project):
    dock = _dock(keep, qgis_iface, scene_layer, classes)
    panel = dock.classes_panel
    _draw(panel, keep(LabelDrawDialog(scene_layer, None, panel)), qgis_new_project)
    validation_path = tmp_path / "Indian_gt_5_per_class_seed0_validation.tif"
    assert label_draw.is_validation_of_a_draw(validation_path)
    left = next(layer for layer in qgis_new_project.mapLayers().values() if layer.source() == str(validation_path))

    qgis_new_project.removeMapLayer(reference_layer.id())  # the one-band integer raster of the scene's size left
    qgis_new_project.removeMapLayer(panel.label_layer().id())
    dialog = keep(LabelDrawDialog(scene_layer, None, panel))
    assert dialog.reference.currentLayer() is None  # not the pixels left to validate on
    dialog.reference.setLayer(left)  # the analyst picks it anyway
    refusal = (f"'{left.name()}' holds the pixels an earlier draw left to validate on, not reference labels: choose "
               "the ground truth or reference polygons")
    assert refusal in dialog.problems()
    dialog.accept()
    assert dialog.result() != QDialog.Accepted and refusal in dialog.note.text()
    dialog.reference_file.setFilePath(str(validation_path))  # as a file too
    assert any("an earlier draw left to validate on" in p for p in dialog.problems())


def _write_polygons(path: Path, field: str, features: list[tuple[str, tuple[int, int, int, int]]]) -> Path:
    """A GeoPackage of rectangles (rows r0:r1, cols c0:c1 of the scene) with a text field ``field``."""
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    layer = ds.CreateLayer("landcover", srs, ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn(field, ogr.OFTString))
    for value, (r0, r1, c0, c1) in features:
        x0, x1 = ORIGIN[0] + c0 * PIXEL, ORIGIN[0] + c1 * PIXEL
        y0, y1 = ORIGIN[1] - r0 * PIXEL, ORIGIN[1] - r1 * PIXEL
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField(field, value)
        feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))"))
        layer.CreateFeature(feature)
    ds = None
    return path


def test_a_reference_of_class_names_is_numbered_by_the_docks_classes(
        keep, qgis_iface, tmp_path, scene_layer, qgis_new_project):
    mine = [ClassInfo(1, "roof", (200, 40, 40)), ClassInfo(2, "pavement", (120, 120, 120)),
            ClassInfo(3, "low vegetation", (80, 180, 60))]  # alphabetically: low vegetation, pavement, roof
    dock = _dock(keep, qgis_iface, scene_layer, mine)
    panel = dock.classes_panel
    messages = _messages(panel)
    boxes = {"roof": (0, 6, 8, 16), "Pavement": (8, 14, 0, 8), "low vegetation": (12, 20, 14, 22)}
    polygons = QgsVectorLayer(str(_write_polygons(tmp_path / "survey.gpkg", "landcover", list(boxes.items()))),
                              "survey", "ogr")
    qgis_new_project.addMapLayer(polygons)
    dialog = keep(LabelDrawDialog(scene_layer, None, panel))
    dialog.reference.setLayer(polygons)
    dialog.class_field.setEditText("landcover")
    assert "named by the reference itself" in dialog.classes_note.text()
    _draw(panel, dialog, qgis_new_project)

    drawn = panel.label_layer()
    assert drawn is not None and drawn.featureCount() == 15
    expected = {"roof": 1, "Pavement": 2, "low vegetation": 3}  # the dock's ids, a name's case aside
    for feature in drawn.getFeatures():
        point = feature.geometry().asPoint()
        row, col = int((ORIGIN[1] - point.y()) // PIXEL), int((point.x() - ORIGIN[0]) // PIXEL)
        inside = next(name for name, (r0, r1, c0, c1) in boxes.items() if r0 <= row < r1 and c0 <= col < c1)
        assert feature[CLASS_ID_FIELD] == expected[inside]
        assert feature["class"] == mine[expected[inside] - 1].name  # what the points say is what the dock says
    assert panel.classes() == mine  # nothing added, nothing renamed
    said = messages[-1]
    assert "The reference's class names took your classes' ids: roof 3 → 1, " in said, said
    assert "the pixels are those the benchmark draws." in said and "keeps your name" not in said


def test_reference_ids_the_dock_names_otherwise_keep_the_docks_names_and_the_message_says_so(
        keep, qgis_iface, tmp_path, scene_layer, qgis_new_project):
    mine = [ClassInfo(1, "broccoli (mine)", (40, 160, 40)), ClassInfo(2, "Lettuce_romaine_4wk", (150, 200, 90))]
    theirs = [ClassInfo(1, "Brocoli_green_weeds_1", (10, 10, 200), "broccoli with weeds"),
              ClassInfo(4, "Corn_senesced", (220, 180, 20), "senesced corn"),
              ClassInfo(11, "Lettuce_romaine_4wk", (90, 30, 160), "romaine lettuce, 4 weeks")]
    dock = _dock(keep, qgis_iface, scene_layer, mine)
    panel = dock.classes_panel
    messages = _messages(panel)
    gt = QgsRasterLayer(str(write_reference(tmp_path / "SalinasA_gt.tif", labels=blocks(1, 4, 11), classes=theirs)),
                        "SalinasA_gt", "gdal")
    qgis_new_project.addMapLayer(gt)
    dialog = keep(LabelDrawDialog(scene_layer, None, panel))
    assert dialog.reference.currentLayer() is gt
    _draw(panel, dialog, qgis_new_project)

    names = {f[CLASS_ID_FIELD]: f["class"] for f in panel.label_layer().getFeatures()}
    assert names == {1: "broccoli (mine)", 4: "Corn_senesced", 11: "Lettuce_romaine_4wk (11)"}
    by_id = {c.id: c for c in panel.classes()}
    assert by_id[1] == mine[0] and by_id[2] == mine[1]
    assert (by_id[11].name, by_id[11].prompt) == ("Lettuce_romaine_4wk (11)", "romaine lettuce, 4 weeks")
    assert (by_id[4].name, tuple(by_id[4].color)) == ("Corn_senesced", (220, 180, 20))
    said = messages[-1]
    assert ("Class 1 keeps your name 'broccoli (mine)' (the reference's class file calls it "
            "'Brocoli_green_weeds_1').") in said
    assert ("The reference's class 11 'Lettuce_romaine_4wk' came in as 'Lettuce_romaine_4wk (11)': your class 2 "
            "has that name.") in said
    assert "Class 4 keeps" not in said


def test_a_draw_without_validation_forgets_an_earlier_draws_validation_raster_but_not_the_analysts_own(
        keep, qgis_iface, tmp_path, scene_layer, reference_layer, classes, qgis_new_project):
    dock = _dock(keep, qgis_iface, scene_layer, classes)
    panel = dock.classes_panel
    messages = _messages(panel)
    _draw(panel, keep(LabelDrawDialog(scene_layer, None, panel)), qgis_new_project)
    earlier = qgis_new_project.mapLayer(dock.last_run_settings["validation_layer_id"])
    assert earlier is not None and earlier.name() == "Indian_gt_5_per_class_seed0_validation"

    dialog = keep(LabelDrawDialog(scene_layer, panel.label_layer(), panel))
    assert dialog.reference.currentLayer() is reference_layer
    dialog.seed.setValue(1)
    dialog.write_validation.setChecked(False)
    _draw(panel, dialog, qgis_new_project)
    assert dock.last_run_settings["validation_layer_id"] == ""  # its pixels hold this draw's training labels
    assert ("The next run has no validation labels: 'Indian_gt_5_per_class_seed0_validation' was left by an "
            "earlier draw.") in messages[-1]
    assert not (tmp_path / "Indian_gt_5_per_class_seed1_validation.tif").exists()

    own = QgsRasterLayer(str(write_reference(tmp_path / "checked.tif")), "checked", "gdal")  # not a draw's
    qgis_new_project.addMapLayer(own)
    dock.last_run_settings.update(validation_layer_id=own.id(), validation_field="")
    dialog = keep(LabelDrawDialog(scene_layer, panel.label_layer(), panel))
    dialog.reference.setLayer(reference_layer)
    dialog.seed.setValue(2)
    dialog.write_validation.setChecked(False)
    _draw(panel, dialog, qgis_new_project)
    assert dock.last_run_settings["validation_layer_id"] == own.id()
    assert "no validation labels" not in messages[-1]


def test_a_seed_above_a_cpp_int_typed_is_the_seed_drawn_with(keep, qgis_iface, tmp_path, scene_layer, scene_path,
                                                              reference_layer, classes, qgis_new_project):
    """hypersynth draw-labels and Processing take seeds 0 to SEED_MAX (2**32 - 1); the dialog's QSpinBox stopped at
    2**31 - 1, so a benchmark row's draw with a larger seed could not be made again from the dock."""
    from hypersynth.core.bench_inputs import SEED_MAX
    from hypersynth.core.io.labels import read_labels
    from hypersynth.core.io.read import read_scene

    dock = _dock(keep, qgis_iface, scene_layer, classes)
    panel = dock.classes_panel
    dialog = keep(LabelDrawDialog(scene_layer, None, panel))
    assert f"0 to {SEED_MAX}" in dialog.seed.toolTip() and str(2**31 - 1) not in dialog.seed.toolTip()
    assert type_over(dialog.seed, "3x.-") == "3"  # digits only
    assert type_over(dialog.seed, "4000000000") == "4000000000"
    assert Path(dialog.points.filePath()).name == "Indian_gt_5_per_class_seed4000000000.gpkg"
    task = _draw(panel, dialog, qgis_new_project)
    assert dialog.request().seed == 4000000000 and task.result.split.seed == 4000000000

    grid = read_scene(scene_path)  # the engine's own draw for that seed, and for the seed the old box stopped at
    split = label_draw.draw_labels(reference_map(), grid.valid, REFERENCE, seed=4000000000).split
    clamped = label_draw.draw_labels(reference_map(), grid.valid, REFERENCE, seed=2**31 - 1).split
    assert not np.array_equal(split.train_mask, clamped.train_mask)
    drawn, _ = read_labels(str(tmp_path / "Indian_gt_5_per_class_seed4000000000.gpkg"), grid)
    np.testing.assert_array_equal(drawn, np.where(split.train_mask, split.labels, 0))


def test_float_label_rasters_rank_below_integer_ones_and_a_float_one_on_the_grid_is_drawn_from(
        keep, qgis_iface, tmp_path, scene_layer, classes, qgis_new_project):
    dock = _dock(keep, qgis_iface, scene_layer, classes)
    panel = dock.classes_panel
    smaller = QgsRasterLayer(str(write_float_raster(tmp_path / "tile_part.tif", reference_map()[:10, :12])),
                             "tile_part", "gdal")
    on_grid = QgsRasterLayer(str(write_float_raster(tmp_path / "enmap_labels.tif", reference_map())),
                             "enmap_labels", "gdal")
    for layer in (smaller, on_grid):
        assert layer.isValid()
        qgis_new_project.addMapLayer(layer)
    rank = reference_layers.reference_rank
    assert (rank(on_grid, scene_layer), rank(smaller, scene_layer)) == (2, 1)
    assert rank(scene_layer, scene_layer) == 0 and rank(on_grid, on_grid) == 0  # never the scene itself
    dialog = keep(LabelDrawDialog(scene_layer, None, panel))
    assert dialog.reference.currentLayer() is on_grid
    _draw(panel, dialog, qgis_new_project)
    assert panel.refresh_counts() == {1: 5, 2: 5, 4: 5}

    integer = QgsRasterLayer(str(write_reference(tmp_path / "gt.tif")), "gt", "gdal")
    qgis_new_project.addMapLayer(integer)  # added last, it still comes first
    assert rank(integer, scene_layer) == 3
    assert keep(LabelDrawDialog(scene_layer, None, panel)).reference.currentLayer() is integer


def test_warnings_are_sentences_and_names_keep_their_case(
        keep, qgis_iface, tmp_path, scene_layer, classes, qgis_new_project, monkeypatch):
    dock = _dock(keep, qgis_iface, scene_layer, classes)
    panel = dock.classes_panel
    messages = _messages(panel)
    labels = reference_map()
    labels[labels == 2] = 0
    labels[8, 0:3] = 2  # 3 pixels: fewer than 5
    labels[labels == 4] = 0
    labels[12, 14:19] = 4  # 5 pixels: the draw keeps one to validate on
    gt = QgsRasterLayer(str(write_reference(tmp_path / "few.tif", labels=labels)), "few", "gdal")
    qgis_new_project.addMapLayer(gt)

    survey = tmp_path / "survey_points.gpkg"  # a GeoPackage holding another layer: never replaced
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(survey))
    ds.CreateLayer("roads", None, ogr.wkbLineString)
    ds = None
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a: asked.append(text) or QMessageBox.Yes)
    dialog = keep(LabelDrawDialog(scene_layer, None, panel))
    dialog.points.setFilePath(str(survey))
    dialog.accept()
    assert dialog.result() != QDialog.Accepted and not asked  # refused before any "Replace?"
    assert "survey_points.gpkg holds other layers (roads)" in dialog.note.text()
    assert "Survey_points" not in dialog.note.text() and dialog.note.text().startswith("The draw cannot start: ")

    dialog.points.setFilePath(str(tmp_path / "few_5_per_class_seed0.gpkg"))
    _draw(panel, dialog, qgis_new_project)
    said = messages[-1]
    assert ("Note that 'water' (id 2) has only 3 reference pixels: 2 drawn for training, 1 left to validate on; "
            "'meadow' (id 4) has only 5 reference pixels: 4 drawn for training, 1 left to validate on.") in said, said
    assert said.endswith("left to validate on.") and ".." not in said


def test_a_reference_of_too_many_class_ids_is_refused_in_words(
        keep, qgis_iface, tmp_path, scene_layer, classes, qgis_new_project):
    dock = _dock(keep, qgis_iface, scene_layer, classes)
    panel = dock.classes_panel
    messages = _messages(panel)
    band = (np.arange(ROWS * COLS).reshape(ROWS, COLS) % 300 + 1).astype(np.uint16)  # 300 ids: an image band
    path = tmp_path / "band.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(path), COLS, ROWS, 1, gdal.GDT_UInt16)
    ds.SetGeoTransform((ORIGIN[0], PIXEL, 0.0, ORIGIN[1], 0.0, -PIXEL))
    ds.SetProjection(utm_33n())
    ds.GetRasterBand(1).WriteArray(band)
    ds = None
    layer = QgsRasterLayer(str(path), "band", "gdal")
    qgis_new_project.addMapLayer(layer)
    dialog = keep(LabelDrawDialog(scene_layer, None, panel))
    dialog.reference.setLayer(layer)
    _draw(panel, dialog, qgis_new_project)
    assert messages[-1].startswith("No labels were drawn from band: the reference holds 300 different class ids")
    assert messages[-1].endswith("(at most 255 classes).")
    assert panel.label_layer() is None and not (tmp_path / "band_5_per_class_seed0.gpkg").exists()


def test_a_runs_class_map_is_never_the_default_reference(tmp_path, qgis_new_project):
    """A desktop walkthrough: after a run, the dialog offered the run's class map (a one-band integer raster of the
    scene's size) over the ground truth."""
    from hypersynth.core.io.write import write_class_map, write_label_raster
    from hypersynth.ui.reference_layers import reference_rank

    classes = [ClassInfo(1, "a"), ClassInfo(2, "b")]
    values = np.ones((6, 7), np.uint8)
    values[3:] = 2
    grid = dict(transform=(366000.0, 10.0, 0.0, 5810000.0, 0.0, -10.0), crs_wkt=None)
    truth = QgsRasterLayer(str(write_label_raster(tmp_path / "truth.tif", values, classes, **grid)), "truth")
    mapped = QgsRasterLayer(str(write_class_map(tmp_path / "classification.tif", values, classes, **grid)), "classes")
    from hypersynth.core.io.write import write_confidence

    confidence = QgsRasterLayer(str(write_confidence(tmp_path / "confidence.tif", np.full((6, 7), 0.8, np.float32),
                                                     **grid)), "confidence")
    qgis_new_project.addMapLayers([truth, mapped, confidence])
    assert reference_rank(truth, None) == 2
    assert reference_rank(mapped, None) == 0 and reference_rank(confidence, None) == 0


def test_the_drawn_points_go_above_the_reference(tmp_path, qgis_new_project):
    """QGIS puts a new layer at the Layers panel's selection, which may be below the reference raster the points were
    drawn from: in the same colours it hid them (the desktop walkthrough)."""
    from hypersynth.ui.label_draw_results import to_the_top

    root = qgis_new_project.layerTreeRoot()
    group = root.addGroup("mine")
    points = QgsVectorLayer("Point?crs=EPSG:32633", "points", "memory")
    reference = QgsVectorLayer("Polygon?crs=EPSG:32633", "reference", "memory")
    qgis_new_project.addMapLayers([reference, points], False)
    root.insertLayer(0, reference)
    group.addLayer(points)
    to_the_top(points, qgis_new_project)
    assert [node.name() for node in root.children()] == ["points", "reference", "mine"] and not group.children()
    to_the_top(points, qgis_new_project)  # at the top already: stays
    assert [node.name() for node in root.children()] == ["points", "reference", "mine"]


def test_another_scenes_ground_truth_is_never_the_default_and_is_refused(tmp_path, scene_layer, reference_layer,
                                                                         qgis_new_project):
    """A desktop review: after a draw on SalinasA, opening an EnMAP tile offered SalinasA's ground truth (a raster of
    another scene, on a pixel grid) over the tile's polygons, and it failed only after a Replace? question."""
    from hypersynth.ui.reference_layers import over_the_scene, reference_rank

    other = QgsRasterLayer(str(write_reference(tmp_path / "SalinasA_gt.tif", georeferenced=False)), "SalinasA_gt",
                           "gdal")
    qgis_new_project.addMapLayer(other)
    assert not over_the_scene(other, scene_layer) and reference_rank(other, scene_layer) == 0
    assert over_the_scene(reference_layer, scene_layer) and reference_rank(reference_layer, scene_layer) == 3
    dialog = LabelDrawDialog(scene_layer)
    assert dialog.reference.currentLayer() is reference_layer
    dialog.reference.setLayer(other)
    dialog.points.setFilePath(str(tmp_path / "drawn.gpkg"))
    assert any("'SalinasA_gt' does not lie over the scene" in p for p in dialog.problems())
