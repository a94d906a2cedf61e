"""The dock with an analyst's mistakes: each is refused up front with what to fix, and nothing of theirs changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qgis.core import QgsRasterLayer

from hypersynth.core.scene import ClassInfo
from hypersynth.ui.main_dock import HyperSynthDock
from hypersynth.ui.run_dialog import RunDialog

from ..plugin.conftest import wait_until
from .conftest import COLS, ROWS, map_box, write_byte_raster


def _labelled_dock(keep, qgis_iface, scene_layer, label_layer, classes) -> HyperSynthDock:
    """A dock ready to run: two classes labelled, the third deleted."""
    dock = keep(HyperSynthDock(qgis_iface), 480, 620)
    dock.set_scene_layer(scene_layer)
    dock.set_classes(classes)
    dock.set_label_layer(label_layer)
    for class_id, (col, row) in [(1, (1, 1)), (2, (10, 10))]:
        dock.classes_panel.select_class(class_id)
        dock.classes_panel.polygon.add_polygon(map_box(col, row, 3))
    dock.classes_panel.delete_class(3)
    assert dock.run_problems() == []
    return dock


def _rgb(path: Path, bands: int) -> Path:
    return write_byte_raster(path, [np.full((ROWS, COLS), 60 * b, np.uint8) for b in range(bands)])


def _features(layer) -> list[tuple[int, str]]:
    return sorted((f["class_id"], f.geometry().asWkt(1)) for f in layer.getFeatures())


@pytest.mark.parametrize("kind", ["xyz", "rgb1", "rgb3"])
def test_a_scene_that_is_not_a_hyperspectral_file_is_refused_before_the_dialog(
        kind, keep, qgis_iface, canvas, scene_layer, label_layer, classes, qgis_new_project, tmp_path, monkeypatch):
    dock = _labelled_dock(keep, qgis_iface, scene_layer, label_layer, classes)
    labels_before = _features(label_layer)
    if kind == "xyz":
        layer = QgsRasterLayer("type=xyz&url=http://localhost:1/{z}/{x}/{y}.png&zmax=19&zmin=0", "tiles", "wms")
        expected = "'tiles' is a web map (WMS/WMTS/XYZ) layer, not a raster file"
    else:
        bands = int(kind[-1])
        layer = QgsRasterLayer(str(_rgb(tmp_path / f"{kind}.tif", bands)), kind)
        expected = f"'{kind}' has {bands} band{'s' if bands > 1 else ''}; HyperSynth needs a hyperspectral scene of " \
                   "at least 10 bands"
    qgis_new_project.addMapLayer(layer)
    dock.set_scene_layer(layer)
    assert expected in dock.scene_panel.note.text()
    problems = dock.run_problems()
    assert len(problems) == 1 and expected in problems[0] and problems[0].endswith("(tab 1)")
    assert "GDAL" not in dock.status.text()  # a web layer's URL is not handed to GDAL to count labels
    opened = []
    monkeypatch.setattr(RunDialog, "exec_", lambda self: opened.append(self) or RunDialog.Rejected)
    dock.open_run_dialog()
    assert opened == [] and expected in dock.status.text()
    assert _features(label_layer) == labels_before
    dock.cleanup()


def test_labels_outside_the_scene_are_named_as_such(keep, qgis_iface, canvas, scene_layer, label_layer, classes):
    dock = keep(HyperSynthDock(qgis_iface), 480, 620)
    dock.set_scene_layer(scene_layer)
    dock.set_classes(classes[:2])
    dock.set_label_layer(label_layer)
    for class_id, (col, row) in [(1, (100, 100)), (2, (-50, 10))]:  # far off the 24 × 20 px scene
        dock.classes_panel.select_class(class_id)
        dock.classes_panel.polygon.add_polygon(map_box(col, row, 3))
    labels_before = _features(label_layer)
    # labels of two classes: the run's refusal says what is wrong with them, not a disabled button's "draw labels
    # with the Brush or Polygon tool"
    assert wait_until(dock.run_button.isEnabled, 5), dock.run_button.toolTip()
    problems = dock.run_problems()
    assert problems == [f"the labels of '{label_layer.name()}' cover no pixel of the scene: they lie outside it "
                        "(draw them on the scene, or check the label layer's CRS) (tab 2)"]
    assert _features(label_layer) == labels_before
    dock.cleanup()


def test_two_classes_of_one_name_are_refused_as_the_engine_would(keep, qgis_iface, canvas, scene_layer, label_layer,
                                                                  classes, tmp_path):
    from hypersynth.plugin.label_layer import add_label_polygon
    from qgis.core import QgsGeometry

    dock = keep(HyperSynthDock(qgis_iface), 480, 620)
    dock.set_scene_layer(scene_layer)
    dock.set_classes(classes)
    with pytest.raises(ValueError, match="a class named 'Corn' already exists"):
        dock.classes_panel.add_class("Corn")  # the engine ignores case: 'Corn' is 'corn'
    with pytest.raises(ValueError, match="classes 1 and 2 are both named 'water'"):
        dock.set_classes([ClassInfo(1, "water"), ClassInfo(2, "Water ")])
    assert [c.name for c in dock.current_classes()] == ["corn", "water", "bare_soil"]
    # A label layer whose labels name a class the table has under another id: both stay, told apart by id.
    add_label_polygon(label_layer, QgsGeometry.fromPolygonXY([map_box(1, 1, 3) + [map_box(1, 1, 3)[0]]]), 7, "water")
    labels_before = _features(label_layer)
    dock.set_label_layer(label_layer)
    assert [(c.id, c.name) for c in dock.current_classes()] == [(1, "corn"), (2, "water"), (3, "bare_soil"),
                                                                (7, "water (7)")]
    assert _features(label_layer) == labels_before
    dock.cleanup()


def test_a_class_in_another_class_colour_is_pointed_out(keep, qgis_iface, canvas, scene_layer, classes):
    dock = keep(HyperSynthDock(qgis_iface), 480, 620)
    dock.set_classes(classes)
    dock.classes_panel.add_class("maize", classes[0].color)
    assert dock.status.text().startswith("'maize' has the same colour as 'corn'")
    dock.classes_panel.delete_class(2)  # a freed palette slot: a new class still gets a colour of its own
    added = dock.classes_panel.add_class("gravel")
    assert len({c.color for c in dock.current_classes()}) == len(dock.current_classes()) - 1  # only maize/corn
    assert "gravel" not in dock.status.text()
    dock.classes_panel.set_class_color(added.id, classes[2].color)
    assert dock.status.text().startswith("'gravel' has the same colour as 'bare_soil'")
    dock.cleanup()


def test_an_output_folder_where_an_output_would_replace_the_scene_is_refused(scene_path, qtbot, monkeypatch):
    """The scene saved as classification.tif in the output folder: the dialog says so instead of asking to replace."""
    folder = scene_path.parent
    mine = folder / "classification.tif"
    scene_path.rename(mine)
    before = mine.read_bytes()
    dialog = RunDialog(None, {"output_folder": str(folder)}, inputs=[str(mine)])
    qtbot.addWidget(dialog)
    asked = []
    monkeypatch.setattr(dialog, "confirm_overwrite", lambda names: asked.append(names) or True)
    dialog.accept()
    assert dialog.result() != RunDialog.Accepted and asked == []
    assert dialog.problem.text() == (f"Your input {mine} is where the run writes its classification.tif: choose "
                                     "another output folder, or move the input out of it.")
    assert mine.read_bytes() == before


def test_the_dialog_is_told_the_runs_inputs(keep, qgis_iface, canvas, scene_layer, label_layer, classes, monkeypatch):
    dock = _labelled_dock(keep, qgis_iface, scene_layer, label_layer, classes)
    seen = []
    monkeypatch.setattr(RunDialog, "exec_", lambda self: seen.append(self._inputs) or RunDialog.Rejected)
    dock.open_run_dialog()
    assert seen == [[scene_layer.source(), label_layer.source().split("|")[0]]]
    dock.cleanup()


def test_a_second_run_is_refused_while_one_is_followed(keep, qgis_iface, canvas, scene_layer, label_layer, classes,
                                                       tmp_path):
    from hypersynth.plugin.tasks import EngineTask

    dock = _labelled_dock(keep, qgis_iface, scene_layer, label_layer, classes)
    task = EngineTask("Augment & Classify scene", lambda reporter: None)  # followed, never started
    dock.follow_run(task)
    emitted = []
    dock.runRequested.connect(emitted.append)
    assert dock.request_run({"preset": "tiny", "output_folder": str(tmp_path)}) is None
    assert emitted == []
    assert "Augment & Classify scene is still running; wait for it or cancel it" in dock.status.text()
    dock.cleanup()
