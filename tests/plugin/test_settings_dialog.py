"""The settings dialog saves valid settings and refuses bad ones; the menu opens it; runs get the CLIP file."""

from __future__ import annotations

import pytest
from qgis.core import QgsProject, QgsRasterLayer, QgsSettings
from qgis.PyQt.QtCore import QSettings
from qgis.PyQt.QtWidgets import QDialog

from hypersynth.plugin.settings import HyperSynthSettings
from hypersynth.plugin.settings_dialog import HyperSynthSettingsDialog


@pytest.fixture
def store(tmp_path):
    """A settings file of the test's own (the QGIS profile is shared with other test runs)."""
    settings = QgsSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    yield settings
    settings.clear()


@pytest.fixture
def clip_file(tmp_path):
    path = tmp_path / "open_clip_vit_b_32.safetensors"
    path.write_bytes(b"weights")
    return path


def test_values_saved_by_one_dialog_are_loaded_by_the_next(qgis_app, store, clip_file, tmp_path):
    dialog = HyperSynthSettingsDialog(store=store)
    assert dialog.settings() == HyperSynthSettings()  # nothing stored yet: the defaults
    dialog.device.setCurrentText("cuda")
    dialog.clip_weights.setFilePath(str(clip_file))
    dialog.preset.setCurrentText("full")
    dialog.output_dir.setFilePath(str(tmp_path))
    dialog.accept()
    assert dialog.result() == QDialog.Accepted

    expected = HyperSynthSettings(device="cuda", clip_weights=str(clip_file), preset="full", output_dir=str(tmp_path))
    assert HyperSynthSettings.load(store) == expected
    again = HyperSynthSettingsDialog(store=store)
    assert again.settings() == expected
    assert again.device.currentText() == "cuda" and again.clip_weights.filePath() == str(clip_file)


def test_a_missing_clip_file_is_refused_and_nothing_is_saved(qgis_app, store, tmp_path):
    HyperSynthSettings(preset="tiny").save(store)
    dialog = HyperSynthSettingsDialog(store=store)
    dialog.show()
    dialog.preset.setCurrentText("full")
    dialog.clip_weights.setFilePath(str(tmp_path / "missing.safetensors"))
    dialog.accept()
    assert dialog.isVisible() and dialog.result() != QDialog.Accepted  # stays open to be fixed
    assert dialog.problems.isVisible() and "missing.safetensors does not exist" in dialog.problems.text()
    assert HyperSynthSettings.load(store) == HyperSynthSettings(preset="tiny")  # unchanged

    dialog.clip_weights.setFilePath("")  # an empty field is fine: look in the caches
    dialog.accept()
    assert dialog.result() == QDialog.Accepted and HyperSynthSettings.load(store).preset == "full"


def test_a_file_as_output_folder_is_refused(qgis_app, store, clip_file):
    dialog = HyperSynthSettingsDialog(store=store)
    dialog.output_dir.setFilePath(str(clip_file))
    dialog.accept()
    assert dialog.result() != QDialog.Accepted
    assert "is a file; choose a folder" in dialog.problems.text()


def test_the_menu_has_a_settings_action_that_opens_the_dialog(qgis_iface, qgis_processing, monkeypatch):
    from hypersynth import classFactory

    opened = []
    monkeypatch.setattr(HyperSynthSettingsDialog, "exec_", lambda dialog: opened.append(dialog) or QDialog.Rejected)
    qgis_iface.addPluginToRasterMenu.reset_mock()
    qgis_iface.removePluginRasterMenu.reset_mock()
    plugin = classFactory(qgis_iface)
    plugin.initGui()
    try:
        action = plugin.settings_action
        assert action is not None and action.text() == "Settings…"
        qgis_iface.addPluginToRasterMenu.assert_any_call("&HyperSynth", action)
        assert action not in plugin.toolbar.actions()
        action.trigger()
        assert len(opened) == 1 and isinstance(opened[0], HyperSynthSettingsDialog)
    finally:
        plugin.unload()
    qgis_iface.removePluginRasterMenu.assert_any_call("&HyperSynth", action)
    assert plugin.settings_action is None


def test_dock_runs_get_the_settings_clip_file_unless_the_preset_is_tiny(qgis_iface, qgis_new_project, clip_file,
                                                                     tmp_path, monkeypatch):
    import hypersynth.core.pipeline as pipeline
    from hypersynth import classFactory
    from hypersynth.core.demo import make_demo_scene, sparse_labels
    from hypersynth.core.io.write import write_label_raster, write_scene
    from hypersynth.plugin.runs import classify_job

    data = make_demo_scene(size=32, bands=30, n_classes=3, seed=0)
    scene = QgsRasterLayer(str(write_scene(data.scene, tmp_path / "scene.tif")), "scene")
    labels = QgsRasterLayer(str(write_label_raster(
        tmp_path / "labels.tif", sparse_labels(data.labels, n_per_class=3, seed=0), data.classes,
        transform=data.scene.transform, crs_wkt=data.scene.crs_wkt)), "labels")
    QgsProject.instance().addMapLayers([scene, labels])
    chosen = HyperSynthSettings(clip_weights=str(clip_file), output_dir=str(tmp_path / "out"))
    monkeypatch.setattr(HyperSynthSettings, "load", classmethod(lambda cls, settings=None: chosen))
    seen = []
    monkeypatch.setattr(pipeline, "classify_scene", lambda *args, settings=None, **kwargs: seen.append(settings))

    plugin = classFactory(qgis_iface)
    for preset in ("fast", "tiny"):
        request = plugin.request_from_values({"scene_layer_id": scene.id(), "label_layer_id": labels.id(),
                                              "classes": data.classes, "preset": preset})
        assert request.clip_weights == str(clip_file)
        classify_job(request)(None)
    assert [(s.preset, s.clip_weights) for s in seen] == [("fast", str(clip_file)), ("tiny", None)]
