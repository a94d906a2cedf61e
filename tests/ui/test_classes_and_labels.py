"""The class table and the label layer stay in step: deleted, merged and undone classes, one read of the layer per
change, class ids the engine takes, refused layers, odd ids, scenes without georeference, renames that fail, and the
brush radius in the canvas's units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtWidgets import QMessageBox

from hypersynth.plugin.label_layer import CLASS_ID_FIELD, LabelLayerError, class_ids_in_layer
from hypersynth.plugin.runs import has_unsaved_edits, label_file_for
from hypersynth.ui import classes_panel as classes_panel_module
from hypersynth.ui.classes_panel import ClassesPanel
from hypersynth.ui.main_dock import HyperSynthDock

from ..plugin.conftest import wait_until
from .conftest import BANDS, COLS, ROWS, map_box, pixel_centre

LABELS = [(1, (1, 1, 3)), (2, (10, 3, 3)), (3, (4, 12, 3))]  # class id, (col, row, size): 9 pixels each


def _labelled_dock(keep, iface, scene_layer, label_layer, classes) -> HyperSynthDock:
    dock = keep(HyperSynthDock(iface), 480, 620)
    dock.set_scene_layer(scene_layer)
    dock.set_classes(classes)
    dock.set_label_layer(label_layer)
    panel = dock.classes_panel
    for class_id, (col, row, size) in LABELS:
        panel.select_class(class_id)
        panel.polygon.add_polygon(map_box(col, row, size))
    assert panel.refresh_counts() == {1: 9, 2: 9, 3: 9} and dock.run_problems() == []
    return dock


def _table(panel: ClassesPanel) -> list[tuple[int, str]]:
    return [(c.id, c.name) for c in panel.classes()]


# --- labels of a class the table lacks -----------------------------------------------------------------------------
def test_labels_kept_after_a_delete_stop_the_run_and_no_new_class_inherits_them(
        keep, qgis_iface, canvas, scene_layer, label_layer, classes):
    dock = _labelled_dock(keep, qgis_iface, scene_layer, label_layer, classes)
    panel = dock.classes_panel
    panel.delete_class(3, delete_labels=False)  # the dialog's "No": the labels stay
    problems = dock.run_problems()
    assert len(problems) == 1
    assert "class id 3 ('bare_soil')" in problems[0] and "class table lacks" in problems[0]
    assert "Add" in problems[0] and "delete those labels" in problems[0]
    assert panel.label_note.isVisibleTo(panel) and "class id 3" in panel.label_note.text()

    forest = panel.add_class("forest")
    assert forest.id == 4  # not 3: the labels of bare_soil are still in the layer
    assert panel.refresh_counts().get(4, 0) == 0

    added = panel.add_missing_classes()  # Add ▸ Yes: the deleted class comes back as it was
    assert [(c.id, c.name, tuple(c.color)) for c in added] == [(3, "bare_soil", (150, 95, 50))]
    assert panel.current_class().id == 3 and panel.label_note.isHidden()
    assert dock.run_problems() == ["label some pixels of forest, or delete that class (tab 2)"]


def test_the_add_button_offers_to_bring_the_class_of_orphaned_labels_back(
        keep, qgis_iface, canvas, scene_layer, label_layer, classes, monkeypatch):
    dock = _labelled_dock(keep, qgis_iface, scene_layer, label_layer, classes)
    panel = dock.classes_panel
    panel.delete_class(2, delete_labels=False)
    asked = []
    answer = QMessageBox.No

    def question(parent, title, text, *args):
        asked.append(text)
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    panel.add_button.click()  # No: a new class without labels, on an id nothing uses
    assert "“water” (id 2)" in asked[-1]
    assert _table(panel) == [(1, "corn"), (3, "bare_soil"), (4, "class 4")]
    answer = QMessageBox.Yes
    panel.add_button.click()
    assert _table(panel) == [(1, "corn"), (2, "water"), (3, "bare_soil"), (4, "class 4")]
    panel.add_button.click()  # nothing orphaned any more: no question, a new class
    assert len(asked) == 2 and _table(panel)[-1] == (5, "class 5")


def test_undo_of_a_merge_or_a_delete_brings_the_class_back_with_its_labels(
        keep, qgis_iface, canvas, scene_layer, label_layer, classes):
    dock = _labelled_dock(keep, qgis_iface, scene_layer, label_layer, classes)
    panel = dock.classes_panel
    bare_soil = panel.class_by_id(3)
    panel.set_prompt(3, "dry bare soil")
    assert panel.merge_classes(3, 1) == 1
    assert _table(panel) == [(1, "corn"), (2, "water")]
    assert panel.undo()
    assert [(c.id, c.name, tuple(c.color), c.prompt) for c in panel.classes()][2] == \
        (3, "bare_soil", tuple(bare_soil.color), "dry bare soil")
    assert set(class_ids_in_layer(label_layer)) == {1, 2, 3} and dock.run_problems() == []
    label_layer.undoStack().redo()  # QGIS's own Redo: merged again, class and labels together
    assert _table(panel) == [(1, "corn"), (2, "water")] and set(class_ids_in_layer(label_layer)) == {1, 2}
    label_layer.undoStack().undo()
    assert dock.run_problems() == []

    assert panel.delete_class(2, delete_labels=True) == 1
    assert _table(panel) == [(1, "corn"), (3, "bare_soil")]
    assert panel.add_class("forest").id == 4  # Undo could bring back the labels of 2: not reused
    panel.delete_class(4)
    label_layer.undoStack().undo()  # QGIS's Undo, not the panel's
    assert _table(panel) == [(1, "corn"), (2, "water"), (3, "bare_soil")]
    assert dock.run_problems() == []

    panel.save_labels()
    panel.delete_class(1, delete_labels=True)
    label_layer.rollBack()  # discarding the edits brings the labels back: and their class
    assert 1 in {c.id for c in panel.classes()} and dock.run_problems() == []


# --- one read of the label layer per change ----------------------------------------------------------------------
@pytest.fixture
def label_reads(monkeypatch):
    """Every read of a vector layer's features from Python, as the layers read: ``reads[layer id]``."""
    reads: dict[str, int] = {}
    original = QgsVectorLayer.getFeatures

    def counted(layer, *args):
        reads[layer.id()] = reads.get(layer.id(), 0) + 1
        return original(layer, *args)

    monkeypatch.setattr(QgsVectorLayer, "getFeatures", counted)
    return reads


def test_an_edit_reads_the_label_layer_once_and_the_run_check_reuses_that_read(
        keep, qgis_iface, canvas, scene_layer, label_layer, classes, label_reads):
    dock = _labelled_dock(keep, qgis_iface, scene_layer, label_layer, classes)
    panel = dock.classes_panel
    label_reads.clear()
    panel.select_class(2)
    panel.polygon.add_polygon(map_box(15, 15, 2))  # one edit: 4 more pixels of water
    panel._count_timer.timeout.emit()  # the count after the edit
    assert panel.pixel_counts() == {1: 9, 2: 13, 3: 9} and panel.label_note.isHidden()
    assert dock.run_problems() == []
    assert label_reads == {label_layer.id(): 1}  # the counts, the label problems and the run check: one read

    panel.polygon.add_polygon(map_box(18, 8, 2), class_id=7)  # labels of a class the table lacks
    problems = dock.run_problems()  # before the count after the edit: the check reads the new labels
    assert len(problems) == 1 and "class id 7" in problems[0] and "class table lacks" in problems[0]
    assert panel.pixel_counts() == {1: 9, 2: 13, 3: 9, 7: 4} and "class id 7" in panel.label_note.text()
    panel._count_timer.timeout.emit()  # the delayed count finds nothing new to read
    assert dock.run_problems() == problems and label_reads == {label_layer.id(): 2}

    assert panel.undo()  # undone: the problem goes with the labels
    assert dock.run_problems() == [] and panel.pixel_counts() == {1: 9, 2: 13, 3: 9}
    assert panel.label_note.isHidden() and label_reads == {label_layer.id(): 3}
    panel.save_labels()  # saved: read again once (the features have their ids in the file now)
    assert dock.run_problems() == [] and panel.refresh_counts() == {1: 9, 2: 13, 3: 9}
    assert label_reads == {label_layer.id(): 4}
    dock.cleanup()


def test_labels_edited_outside_the_dock_are_read_again(keep, qgis_iface, canvas, scene_layer, label_layer, classes,
                                                       label_reads):
    """QGIS's own tools edit the label layer too: the read follows every kind of change, not only the dock's."""
    dock = _labelled_dock(keep, qgis_iface, scene_layer, label_layer, classes)
    panel = dock.classes_panel
    panel.save_labels()
    corn = next(f for f in label_layer.getFeatures() if f[CLASS_ID_FIELD] == 1)
    label_layer.changeAttributeValue(corn.id(), label_layer.fields().indexOf(CLASS_ID_FIELD), 0)  # attribute table
    assert panel.refresh_counts() == {2: 9, 3: 9}
    assert any("class_id 0, which is no class" in p for p in dock.run_problems())
    label_layer.rollBack()
    assert panel.refresh_counts() == {1: 9, 2: 9, 3: 9} and dock.run_problems() == []
    label_layer.setSubsetString(f'"{CLASS_ID_FIELD}" <> 2')  # a filter hides the water labels from the run too
    assert panel.refresh_counts() == {1: 9, 3: 9}
    assert dock.run_problems() == ["label some pixels of water, or delete that class (tab 2)"]
    label_layer.setSubsetString("")
    assert panel.refresh_counts() == {1: 9, 2: 9, 3: 9}
    dock.cleanup()


# --- class ids the engine takes ----------------------------------------------------------------------------------
def test_class_ids_past_the_engines_range_are_refused_when_added_and_ids_above_255_work(
        keep, qgis_iface, canvas, scene_layer, label_layer, classes, tmp_path):
    from qgis.core import QgsFieldConstraints, QgsVectorLayerUtils

    from hypersynth.core.io.classes import write_classes
    from hypersynth.core.scene import ClassInfo

    dock = keep(HyperSynthDock(qgis_iface), 480, 620)
    dock.set_scene_layer(scene_layer)
    dock.set_classes(classes)
    dock.set_label_layer(label_layer)
    panel = dock.classes_panel
    for wrong in (0, 65536, -3):
        with pytest.raises(ValueError, match="class ids run from 1 to 65535"):
            panel.add_class(f"class {wrong}", class_id=wrong)
    with pytest.raises(ValueError, match=r"from 1 to 65535 \(0 means unlabelled\); 70000 is out of range"):
        dock.set_classes([*classes, ClassInfo(70000, "too far")])
    write_classes(tmp_path / "far.json", [ClassInfo(1, "corn"), ClassInfo(2, "water")])
    (tmp_path / "far.json").write_text((tmp_path / "far.json").read_text().replace('"id": 2', '"id": 70000'))
    with pytest.raises(ValueError, match="70000 is not allowed"):
        panel.load_classes(str(tmp_path / "far.json"))  # the engine's own check of a class file
    assert _table(panel) == [(1, "corn"), (2, "water"), (3, "bare_soil")]

    # typed in QGIS's attribute form: the label layer's class_id refuses what the engine refuses, with the range
    feature = QgsFeature(label_layer.fields())
    index = label_layer.fields().indexOf(CLASS_ID_FIELD)
    for value, valid in ((70000, False), (0, False), (-1, False), (300, True), (65535, True), (None, True)):
        feature.setAttribute(index, value)
        ok, errors = QgsVectorLayerUtils.validateAttribute(label_layer, feature, index,
                                                           QgsFieldConstraints.ConstraintStrengthHard)
        assert ok == valid, (value, errors)
        assert valid or any("class ids run from 1 to 65535" in e for e in errors)

    # the label tools draw no label of such an id; one typed in the attribute table is no class: not adopted, refused
    with pytest.raises(LabelLayerError, match="no label drawn: class ids run from 1 to 65535"):
        panel.polygon.add_polygon(map_box(18, 8, 2), class_id=70000)
    assert not label_layer.isModified()
    far = QgsFeature(label_layer.fields())
    far.setAttribute(index, 70000)
    far.setGeometry(QgsGeometry.fromPolygonXY([map_box(18, 8, 2)]))
    assert label_layer.startEditing() and label_layer.addFeature(far)
    assert _table(panel) == [(1, "corn"), (2, "water"), (3, "bare_soil")] and panel.unknown_label_classes() == {}
    problems = dock.run_problems()
    assert any("class_id 70000, which is no class" in p and "class ids run from 1 to 65535" in p for p in problems)
    label_layer.deleteFeature(far.id())

    # ids above 255 are the engine's too (uint16 maps): labels of 300 bring class 300 back, counted and run-ready
    panel.delete_class(3, delete_labels=False)
    panel.polygon.add_polygon(map_box(1, 1, 3), class_id=300, class_name="bare_soil")
    panel.polygon.add_polygon(map_box(10, 3, 3), class_id=65535, class_name="forest")
    assert panel.add_missing_classes() and _table(panel) == [(1, "corn"), (2, "water"), (300, "bare_soil"),
                                                             (65535, "forest")]
    assert panel.refresh_counts() == {300: 9, 65535: 9} and panel.add_class("new").id == 3  # past 65535: lowest free
    panel.delete_class(3)
    assert dock.run_problems() == ["label some pixels of corn, water, or delete those classes (tab 2)"]
    dock.cleanup()


# --- a layer that cannot hold labels ------------------------------------------------------------------------------
def test_a_layer_without_class_id_is_refused_and_the_label_layer_stays(
        keep, canvas, scene_layer, label_layer, classes, qgis_new_project):
    panel = keep(ClassesPanel(canvas))
    panel.set_classes(classes)
    panel.set_scene_layer(scene_layer)
    panel.set_label_layer(label_layer)
    panel.select_class(1)
    panel.polygon.add_polygon(map_box(1, 1, 3))
    assert panel.refresh_counts() == {1: 9}
    plain = QgsVectorLayer("Polygon?crs=EPSG:32633&field=name:string", "fields", "memory")
    qgis_new_project.addMapLayer(plain)
    messages, changes = [], []
    panel.message.connect(messages.append)
    panel.labelLayerChanged.connect(changes.append)

    panel.layer_box.setLayer(plain)  # the analyst picks the wrong layer in the combo
    assert len(messages) == 1 and "no 'class_id' field" in messages[0]
    assert "the label layer stays 'labels'" in messages[0]
    assert panel.label_layer() is label_layer and panel.layer_box.currentLayer().id() == label_layer.id()
    assert panel.brush.label_layer() is label_layer and panel.polygon.label_layer() is label_layer
    assert changes == [] and panel.pixel_counts() == {1: 9}
    panel.brush.add_stroke([QgsPointXY(*pixel_centre(10, 10))])
    assert label_layer.featureCount() == 2  # still the layer the combo shows

    panel.set_label_layer(plain)  # as the project or the plugin would: the same refusal, said once
    assert len(messages) == 2 and panel.label_layer() is label_layer and changes == []
    assert panel.layer_box.currentLayer().id() == label_layer.id()

    panel.set_label_layer(None)  # letting go is still possible: everything lets go together
    assert panel.label_layer() is None and panel.brush.label_layer() is None and changes == [None]
    assert panel.pixel_counts() == {}


# --- class ids of 0 or below --------------------------------------------------------------------------------------
def _odd_layer(ids_and_boxes) -> QgsVectorLayer:
    layer = QgsVectorLayer("Polygon?crs=EPSG:32633&field=class_id:integer&field=class:string", "odd", "memory")
    features = []
    for class_id, (col, row) in ids_and_boxes:
        feature = QgsFeature(layer.fields())
        feature.setAttributes([class_id, f"n{class_id}"])
        feature.setGeometry(QgsGeometry.fromPolygonXY([map_box(col, row, 3)]))
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    return layer


def test_class_ids_of_zero_or_below_are_reported_and_never_crash(
        keep, qgis_iface, canvas, scene_layer, classes, qgis_new_project):
    layer = _odd_layer([(0, (1, 1)), (-1, (10, 3)), (-1, (15, 15)), (2, (4, 12)), (1, (18, 1))])
    qgis_new_project.addMapLayer(layer)
    dock = keep(HyperSynthDock(qgis_iface), 480, 620)
    dock.set_scene_layer(scene_layer)
    dock.set_classes(classes[:2])
    dock.set_label_layer(layer)  # counted on the way in: no ValueError from a negative id
    panel = dock.classes_panel
    assert [c.id for c in panel.classes()] == [1, 2]  # 0 is not adopted as a class "n0"
    assert panel.refresh_counts() == {1: 9, 2: 9}
    problems = dock.run_problems()
    assert len(problems) == 1
    assert problems[0].startswith("3 label polygons of 'odd' have class_id -1, 0, which is no class")
    assert "0 means unlabelled" in problems[0] and "delete them" in problems[0]
    assert "3 label polygons" in panel.label_note.text()
    spectra = dock.show_labelled_class_spectra()
    assert wait_until(lambda: not dock.spectra_tasks.running) and spectra.result.keys() == {1, 2}

    layer.startEditing()
    for feature in layer.getFeatures():
        if feature[CLASS_ID_FIELD] <= 0:
            layer.changeAttributeValue(feature.id(), layer.fields().indexOf(CLASS_ID_FIELD), 2)
    panel._count_timer.timeout.emit()  # the count after an edit
    assert panel.pixel_counts() == {1: 9, 2: 36} and dock.run_problems() == []
    assert panel.label_note.isHidden()


# --- a scene without georeference ---------------------------------------------------------------------------------
def _pixel_grid_scene(path: Path, project) -> QgsRasterLayer:
    """The test scene's size and bands, without geotransform or CRS: QGIS shows it with x = column, y = -row."""
    ds = gdal.GetDriverByName("GTiff").Create(str(path), COLS, ROWS, BANDS, gdal.GDT_Int16)
    for b in range(BANDS):
        values = 1000 + 10 * b + np.arange(ROWS * COLS).reshape(ROWS, COLS)  # (H, W)
        ds.GetRasterBand(b + 1).WriteArray(values.astype(np.int16))
    ds = None
    layer = QgsRasterLayer(str(path), "pixels")
    assert layer.isValid() and not layer.crs().isValid()
    project.addMapLayer(layer)
    return layer


def _pixel_box(col: int, row: int, size: int) -> list:
    return [QgsPointXY(col, -row), QgsPointXY(col + size, -row), QgsPointXY(col + size, -row - size),
            QgsPointXY(col, -row - size)]


def test_a_scene_without_georeference_gets_a_label_layer_without_crs_and_counts(
        keep, qgis_iface, qgis_canvas, tmp_path, classes, qgis_new_project):
    scene = _pixel_grid_scene(tmp_path / "pixels.tif", qgis_new_project)
    qgis_canvas.setDestinationCrs(QgsCoordinateReferenceSystem())
    dock = keep(HyperSynthDock(qgis_iface), 480, 620)
    dock.set_scene_layer(scene)
    dock.set_classes(classes)
    panel = dock.classes_panel
    messages = []
    panel.message.connect(messages.append)
    layer = panel.create_label_layer(str(tmp_path / "labels.gpkg"))  # "New…" no longer asks for a scene
    assert panel.label_layer() is layer and not layer.crs().isValid()
    assert layer.source() == str(tmp_path / "labels.shp") and not (tmp_path / "labels.prj").exists()
    assert "no georeference" in messages[-1] and "Shapefile without CRS" in messages[-1]
    for class_id, (col, row, size) in LABELS:
        panel.select_class(class_id)
        panel.polygon.add_polygon(_pixel_box(col, row, size))
    assert panel.refresh_counts() == {1: 9, 2: 9, 3: 9}  # on QGIS's pixel grid, as the engine burns them
    assert has_unsaved_edits(layer) and dock.run_problems() == []  # the run reads a copy with the edits, without CRS
    copy, temporary = label_file_for(layer, str(tmp_path / "run"))
    assert temporary == copy and _file_crs(copy) is None and _file_ids(copy) == [1, 2, 3]
    panel.save_labels()
    assert dock.run_problems() == []

    memory = QgsVectorLayer("Polygon?field=class_id:integer&field=class:string", "scratch", "memory")
    qgis_new_project.addMapLayer(memory)
    memory.setCrs(QgsCoordinateReferenceSystem())
    dock.set_label_layer(memory)  # no file of its own: the run reads a copy of it, without CRS as well
    for class_id, (col, row, size) in LABELS:
        panel.select_class(class_id)
        panel.polygon.add_polygon(_pixel_box(col, row, size))
    assert panel.refresh_counts() == {1: 9, 2: 9, 3: 9} and dock.run_problems() == []
    copy, _ = label_file_for(memory, str(tmp_path / "run"))
    assert _file_crs(copy) is None and _file_ids(copy) == [1, 2, 3]
    memory.rollBack()
    dock.cleanup()


def _file_crs(path: str):
    """The CRS GDAL (and so the engine) reads in a one-layer vector file; None: none."""
    ds = ogr.Open(path)
    srs = ds.GetLayer(0).GetSpatialRef()
    return srs.ExportToWkt() if srs is not None else None


def _file_ids(path: str) -> list[int]:
    ds = ogr.Open(path)
    return [feature.GetField(CLASS_ID_FIELD) for feature in ds.GetLayer(0)]


def test_a_label_layer_with_a_crs_over_a_scene_without_one_is_refused(
        keep, qgis_iface, tmp_path, scene_layer, label_layer, classes, qgis_new_project):
    scene = _pixel_grid_scene(tmp_path / "pixels.tif", qgis_new_project)
    dock = keep(HyperSynthDock(qgis_iface), 480, 620)
    dock.set_scene_layer(scene)
    dock.set_classes(classes)
    dock.set_label_layer(label_layer)  # EPSG:32633: the engine refuses it for a pixel grid
    problems = dock.run_problems()
    assert len(problems) == 1 and "has a CRS (EPSG:32633)" in problems[0] and "no georeference" in problems[0]


# --- a rename that cannot reach the labels ------------------------------------------------------------------------
def test_a_failed_rename_leaves_the_table_as_it_was_and_says_why(
        keep, canvas, scene_layer, label_layer, classes, monkeypatch):
    panel = keep(ClassesPanel(canvas))
    panel.set_classes(classes)
    panel.set_label_layer(label_layer)
    panel.select_class(1)
    panel.polygon.add_polygon(map_box(1, 1, 3))

    def read_only(layer, *args, **kwargs):
        raise LabelLayerError(f"the label layer {layer.name()!r} cannot be edited (read-only file?)")

    monkeypatch.setattr(classes_panel_module, "relabel_features", read_only)
    messages, emitted = [], []
    panel.message.connect(messages.append)
    panel.classesChanged.connect(emitted.append)
    with pytest.raises(LabelLayerError, match="'corn' was not renamed"):
        panel.rename_class(1, "maize")
    panel.table.item(0, 1).setText("maize")  # as typed in the table
    assert messages and "'corn' was not renamed" in messages[-1] and "read-only" in messages[-1]
    assert panel.class_by_id(1).name == "corn" and panel.table.item(0, 1).text() == "corn"
    assert emitted == [] and class_ids_in_layer(label_layer) == {1: "corn"}


# --- the brush radius ---------------------------------------------------------------------------------------------
def test_the_brush_radius_follows_the_canvas_units(keep, canvas, scene_layer, label_layer, classes):
    panel = keep(ClassesPanel(canvas))
    panel.set_classes(classes)
    panel.set_label_layer(label_layer)
    messages = []
    panel.message.connect(messages.append)
    panel.radius.setValue(12.5)
    assert panel.brush.radius() == 12.5 and panel.radius.suffix() == " m"
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:4326"))
    assert panel.radius.value() == 0 and "back to auto" in messages[-1]  # 12.5 degrees would paint a country
    panel.radius.setValue(0.0002)  # about 20 m
    assert panel.radius.value() == pytest.approx(0.0002) and panel.brush.radius() == pytest.approx(0.0002)
    canvas.setDestinationCrs(scene_layer.crs())
