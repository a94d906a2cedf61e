"""A dock run with validation labels: chosen in the run dialog, copied when edited, scored in the report, remembered."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from qgis.core import Qgis, QgsFeature, QgsGeometry, QgsPointXY, QgsProject, QgsRasterLayer, QgsVectorLayer

from .conftest import wait_until, write_label_points, write_small_scene


@pytest.fixture(scope="module")
def small_scene(tmp_path_factory):
    return write_small_scene(tmp_path_factory.mktemp("scene"), seed=5, n_per_class=4)


def _truth_pixels(data, training: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Ground truth apart from the training labels: every third such pixel as a saved point, and three others kept
    back for unsaved edits, as ``(label map of the saved points, [(row, col)] of the others)``."""
    rows, cols = np.nonzero((data.labels > 0) & (training == 0))
    saved = np.zeros_like(data.labels)
    saved[rows[::3], cols[::3]] = data.labels[rows[::3], cols[::3]]
    return saved, list(zip(rows[1::3][:3].tolist(), cols[1::3][:3].tolist()))


def _add_point(layer: QgsVectorLayer, data, row: int, col: int) -> None:
    """A point at a pixel's centre with its true class, by name and id, into the layer's edit buffer."""
    x0, dx, _, y0, _, dy = data.scene.transform
    class_id = int(data.labels[row, col])
    feature = QgsFeature(layer.fields())
    feature.setAttribute("class", next(c.name for c in data.classes if c.id == class_id))
    feature.setAttribute("class_id", class_id)
    feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x0 + (col + 0.5) * dx, y0 + (row + 0.5) * dy)))
    assert layer.addFeature(feature)


def test_a_dock_run_with_validation_labels_reports_the_accuracy(plugin, qgis_iface, qgis_new_project, small_scene,
                                                                tmp_path, monkeypatch):
    """The whole path: the run dialog as the dock opens it, the validation layer and its typed class field chosen
    there, a tiny Augment & Classify in a task, the accuracy in report.md, metrics.json, the dock and the message bar,
    and the choice kept in the project for the next dialog."""
    import torch

    from hypersynth.ui import main_dock

    torch.set_num_threads(1)
    data, sparse, scene_path, _ = small_scene
    names = {c.id: c.name for c in data.classes}
    scene = QgsRasterLayer(scene_path, "scene")
    labels = QgsVectorLayer(write_label_points(tmp_path / "labels.gpkg", sparse, names, data.scene.transform,
                                               data.scene.crs_wkt) + "|layername=labels", "labels", "ogr")
    saved, unsaved = _truth_pixels(data, sparse)
    truth = QgsVectorLayer(write_label_points(tmp_path / "truth.gpkg", saved, names, data.scene.transform,
                                              data.scene.crs_wkt) + "|layername=labels", "ground truth", "ogr")
    assert scene.isValid() and labels.isValid() and truth.isValid()
    qgis_new_project.addMapLayers([scene, labels, truth])
    truth.startEditing()  # three more points, not saved: the run reads them from a copy
    for row, col in unsaved:
        _add_point(truth, data, row, col)
    dock = plugin.dock
    dock.set_scene_layer(scene)
    dock.set_classes(list(data.classes))
    dock.set_label_layer(labels)
    out = tmp_path / "run"
    opened = []

    def analyst(dialog: main_dock.RunDialog) -> int:  # what the analyst does in the dialog the dock opens
        opened.append(dialog)
        dialog.preset.setCurrentIndex(dialog.preset.findData("tiny"))
        dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
        dialog.output_folder.setFilePath(str(out))
        dialog.validation.setLayer(labels)  # the training labels are not offered
        assert dialog.validation.currentLayer() is None
        dialog.validation.setLayer(truth)
        dialog.validation_field.setText("class")  # class names, matched to the dock's classes
        dialog.accept()
        return dialog.result()

    monkeypatch.setattr(main_dock.RunDialog, "exec_", analyst)
    dock.open_run_dialog()
    assert opened and dock.running(), dock.status.text()
    assert wait_until(lambda: not plugin.tasks.running and not dock.running(), timeout=600), dock.status.text()

    metrics = json.loads((out / "metrics.json").read_text())
    pixels = int(np.count_nonzero(saved)) + len(unsaved)  # the unsaved points too: the layer as it stands
    assert metrics["n_test"] == pixels and 0.0 <= metrics["oa"] <= 1.0
    assert [c["id"] for c in metrics["classes"]] == sorted(names) and "area_adjusted" in metrics
    report = (out / "report.md").read_text()
    assert "## Accuracy against the validation labels" in report and "Area-adjusted OA" in report
    said = f"OA {100 * metrics['oa']:.1f} %"
    assert f"{said}, AA {100 * metrics['aa']:.1f} %" in dock.status.text()
    assert f"on {pixels} validation pixels" in dock.status.text()
    assert wait_until(lambda: any(said in m for m in qgis_iface.messageBar().get_messages(Qgis.Success)))
    assert not [p.name for p in out.iterdir() if p.name.startswith(".hypersynth")]  # the copy is gone
    assert truth.isEditable() and truth.isModified()  # its edits still the analyst's to save or drop

    state = json.loads(QgsProject.instance().readEntry("HyperSynth", "dock", "")[0])  # saved with the project
    assert (state["run_settings"]["validation_layer_id"], state["run_settings"]["validation_field"]) == (
        truth.id(), "class")
    again = main_dock.RunDialog(None, dock.run_defaults(), scene=scene, labels=labels)  # the next run starts there
    try:
        assert again.validation.currentLayer() is truth and again.validation_field.text() == "class"
    finally:
        again.deleteLater()


def test_a_request_with_the_training_labels_as_validation_is_refused_before_anything_is_written(
        plugin, qgis_iface, qgis_new_project, small_scene, tmp_path):
    """A request not made through the dialog (a script's, an older project's settings) is refused up front too."""
    data, sparse, scene_path, label_raster = small_scene
    scene = QgsRasterLayer(scene_path, "scene")
    labels = QgsRasterLayer(label_raster, "label raster")
    qgis_new_project.addMapLayers([scene, labels])
    out = tmp_path / "run"
    request = {"scene_layer_id": scene.id(), "label_layer_id": labels.id(), "classes": data.classes,
               "output_folder": str(out), "method": "rf"}
    assert plugin.run_from_dock({**request, "validation_layer_id": labels.id()}) is None
    warnings = qgis_iface.messageBar().get_messages(Qgis.Warning)
    assert any("the validation labels 'label raster' are the training label layer" in m for m in warnings)
    assert "did not start" in plugin.dock.status.text() and not out.exists()
    gone = QgsRasterLayer(label_raster, "gone")
    qgis_new_project.addMapLayer(gone)
    gone_id = gone.id()
    qgis_new_project.removeMapLayer(gone_id)
    assert plugin.run_from_dock({**request, "validation_layer_id": gone_id}) is None
    assert "the validation labels are no longer in the project" in plugin.dock.status.text()


def test_a_label_raster_validates_a_quick_run_requested_from_the_dock(plugin, qgis_new_project, small_scene,
                                                                     tmp_path):
    """A random forest run (seconds) validated by a label raster: the engine gets its file, no class field."""
    from hypersynth.core.io.write import write_label_raster

    data, sparse, scene_path, label_raster = small_scene
    truth = data.labels.copy()
    truth[sparse > 0] = 0  # apart from training
    truth_path = write_label_raster(tmp_path / "truth.tif", truth, data.classes, transform=data.scene.transform,
                                    crs_wkt=data.scene.crs_wkt)
    scene, labels = QgsRasterLayer(scene_path, "scene"), QgsRasterLayer(label_raster, "label raster")
    validation = QgsRasterLayer(str(truth_path), "truth")
    qgis_new_project.addMapLayers([scene, labels, validation])
    out = tmp_path / "run"
    task = plugin.run_from_dock({"scene_layer_id": scene.id(), "label_layer_id": labels.id(),
                                 "classes": data.classes, "output_folder": str(out), "method": "rf",
                                 "validation_layer_id": validation.id(), "validation_field": "ignored"})
    assert task is not None and wait_until(lambda: not plugin.tasks.running, timeout=120)
    assert task.error is None, task.error_details
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_test"] == int(np.count_nonzero(truth))
    assert task.result.metrics["oa"] == metrics["oa"]
    assert "## Accuracy against the validation labels" in Path(out / "report.md").read_text()
