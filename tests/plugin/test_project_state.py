"""The dock's work survives saving the QGIS project and opening it again."""

from __future__ import annotations

import pytest
from qgis.core import QgsProject, QgsRasterLayer

from hypersynth.core.scene import ClassInfo

CLASSES = [ClassInfo(1, "water", (31, 119, 180), "calm open water of a lake"),
           ClassInfo(2, "asphalt road", (90, 90, 90), "dark asphalt road"),
           ClassInfo(3, "dry grass", (220, 200, 110), "")]


@pytest.fixture
def scene_file(tmp_path):
    from hypersynth.core.demo import make_demo_scene
    from hypersynth.core.io.write import write_scene

    return str(write_scene(make_demo_scene(size=32, bands=20, n_classes=3, seed=1).scene, tmp_path / "scene.tif"))


def _worked_on(plugin, scene_file: str, folder) -> tuple[QgsRasterLayer, object]:
    """A scene, a label layer and three classes with prompts in the dock, as an analyst leaves them."""
    from hypersynth.plugin.label_layer import create_label_layer

    project = QgsProject.instance()
    scene = QgsRasterLayer(scene_file, "scene")
    project.addMapLayer(scene)
    labels = create_label_layer(str(folder / "labels.gpkg"), scene.crs(), CLASSES, project=project)
    plugin.dock.set_scene_layer(scene)
    plugin.dock.set_classes(CLASSES)
    plugin.dock.set_label_layer(labels)
    return scene, labels


def test_prompts_layers_and_model_come_back_with_the_project(plugin, scene_file, tmp_path):
    model = tmp_path / "run" / "model_bundle"
    model.mkdir(parents=True)
    scene, labels = _worked_on(plugin, scene_file, tmp_path)
    scene_id, labels_id = scene.id(), labels.id()  # the layers themselves go with the project
    plugin.dock.classes_panel.set_prompt(3, "dry senescent grassland")  # typed in the Prompts tab
    plugin.last_bundle = str(model)
    plugin.dock.last_run_settings = {"preset": "fast", "balance_rate": 0.3, "output_folder": str(tmp_path / "run"),
                                     "pseudo_labels": None}
    plugin.keep_dock_state()
    project_file = tmp_path / "work.qgz"
    assert QgsProject.instance().write(str(project_file))

    QgsProject.instance().clear()  # another project, or QGIS closed and opened again
    plugin.dock.set_classes([ClassInfo(9, "something else")])
    plugin.last_bundle = None
    plugin.dock.last_run_settings = {}
    assert QgsProject.instance().read(str(project_file))

    assert plugin.dock.scene_layer().id() == scene_id
    assert plugin.dock.label_layer().id() == labels_id
    expected = CLASSES[:2] + [ClassInfo(3, "dry grass", (220, 200, 110), "dry senescent grassland")]
    assert plugin.dock.current_classes() == expected
    assert [plugin.dock.prompts_panel.prompt_for(c.id) for c in expected] == [c.prompt for c in expected]
    assert plugin.last_bundle == str(model)  # prompt previews work again without a new run
    assert plugin.dock.preview_model == str(model) and plugin.dock.prompts_panel.preview_button.isEnabled()
    assert plugin.dock.last_run_settings == {"preset": "fast", "balance_rate": 0.3,
                                             "output_folder": str(tmp_path / "run"), "pseudo_labels": None}
    assert plugin.dock.run_defaults()["balance_rate"] == 0.3  # the run dialog starts where the analyst left it
    assert not QgsProject.instance().isDirty()  # opened and untouched: closing asks nothing


def test_a_model_folder_deleted_since_is_not_offered_for_previews(plugin, scene_file, tmp_path):
    _worked_on(plugin, scene_file, tmp_path)
    plugin.last_bundle = str(tmp_path / "gone" / "model_bundle")
    plugin.keep_dock_state()
    project_file = tmp_path / "work.qgz"
    assert QgsProject.instance().write(str(project_file))
    QgsProject.instance().clear()
    plugin.last_bundle = None
    assert QgsProject.instance().read(str(project_file))
    assert plugin.last_bundle is None and [c.name for c in plugin.dock.current_classes()] == [
        "water", "asphalt road", "dry grass"]


def test_changing_a_prompt_marks_the_project_modified(plugin, scene_file, tmp_path):
    _worked_on(plugin, scene_file, tmp_path)
    project_file = tmp_path / "work.qgz"
    assert QgsProject.instance().write(str(project_file)) and not QgsProject.instance().isDirty()
    plugin.dock.classes_panel.set_prompt(1, "turbid river water")
    assert QgsProject.instance().isDirty()  # so QGIS asks to save before the prompt is lost


def test_a_state_this_version_cannot_read_leaves_the_dock_as_it_was(plugin, scene_file, tmp_path):
    from hypersynth.plugin.project_state import KEY, SCOPE

    _worked_on(plugin, scene_file, tmp_path)
    project = QgsProject.instance()
    for broken in ('{"format": 99}', "not json", '{"format": 1, "classes": [{"id": 0, "name": "x"}]}'):
        project.writeEntry(SCOPE, KEY, broken)
        plugin.restore_dock_state()
        assert plugin.dock.current_classes() == CLASSES


def test_a_new_project_is_not_marked_modified_by_the_dock(plugin, scene_file, tmp_path):
    _worked_on(plugin, scene_file, tmp_path)
    QgsProject.instance().clear()  # Project ▸ New: the layers leave the dock
    assert not QgsProject.instance().isDirty()  # closing an empty project asks nothing


def test_a_new_project_empties_the_dock_after_qgis_asked_about_the_labels(plugin, scene_file, tmp_path):
    """Project ▸ New (or closing the project): the next project starts without this one's classes, prompts, layers,
    model, run settings or preview. The dock lets go only once the project is cleared, after QGIS has asked about
    saving the project and the label layer's edits, and it saves or rolls back nothing itself. The plugin settings
    stay."""
    import numpy as np
    from qgis.core import QgsGeometry, QgsRectangle

    from hypersynth.plugin.label_layer import add_label_polygon
    from hypersynth.plugin.settings import HyperSynthSettings
    from hypersynth.ui.prompts_panel import PREVIEW_HINT

    model = tmp_path / "run" / "model_bundle"
    model.mkdir(parents=True)
    scene, labels = _worked_on(plugin, scene_file, tmp_path)
    centre = scene.extent().center()
    add_label_polygon(labels, QgsGeometry.fromRect(QgsRectangle(centre.x(), centre.y(), centre.x() + 2,
                                                                centre.y() + 2)), 1, "water")  # not saved
    plugin.last_bundle = str(model)
    plugin.dock.last_run_settings = {"preset": "fast", "balance_rate": 0.3}
    plugin.dock.classes_panel.radius.setValue(12.5)  # in this project's map units
    plugin.dock.prompts_panel.show_preview(np.ones((2, 20, 5, 5), dtype=np.float32), None, "calm water")
    spectral, attention = plugin.dock.spectral_dock(), plugin.dock.attention_dock()
    spectral.set_class_statistics({1: (np.ones(20), np.zeros(20))}, CLASSES, source="synthetic")
    attention.set_class_choices([("water", {"attention": np.full((1, 2, 4), 0.5), "tokens": ["calm", "water"],
                                            "latent_hw": (2, 2)})], source="the last run")
    plugin.keep_dock_state()
    stored = HyperSynthSettings.load()
    project = QgsProject.instance()
    at_close = {}

    def closing(_ids: list) -> None:  # what the dock and the label layer hold as QGIS removes the layers
        at_close.update(classes=plugin.dock.current_classes(), edits=labels.isEditable() and labels.isModified())

    project.layersWillBeRemoved.connect(closing)
    try:
        project.clear()
    finally:
        project.layersWillBeRemoved.disconnect(closing)

    assert at_close == {"classes": CLASSES, "edits": True}  # the labels' unsaved edits reached QGIS untouched
    dock = plugin.dock
    assert dock.scene_layer() is None and dock.label_layer() is None
    assert dock.current_classes() == [] and dock.prompts_panel.table.rowCount() == 0
    assert plugin.last_bundle is None and dock.last_run_settings == {}
    assert dock.classes_panel.radius.value() == 0.0  # auto in the next project, whatever its units
    assert dock.prompts_panel.preview_title.text() == PREVIEW_HINT
    assert all(label.isHidden() for label in dock.prompts_panel.thumbnails)
    assert spectral.class_bands() == [] and not spectral.show_source["synthetic"].isEnabled()
    assert attention.word_maps() == [] and attention.images == [] and attention.class_box.count() == 0
    assert dock.run_defaults() == {"preset": stored.preset, "device": stored.device,
                                   "output_folder": stored.output_dir}  # the plugin settings, as before any run
    assert not project.isDirty()  # the emptied dock writes nothing into the new project
    assert project.readEntry("HyperSynth", "dock", "") == ("", False)  # saving it keeps none of the old project


def test_after_unload_clearing_the_project_no_longer_reaches_the_plugin(qgis_iface, qgis_processing,
                                                                        qgis_new_project):
    """unload() disconnects QgsProject.cleared as it does readProject: nothing calls into an unloaded plugin."""
    from hypersynth import classFactory

    plugin = classFactory(qgis_iface)
    plugin.initGui()
    plugin.unload()
    plugin.last_bundle = "kept"
    QgsProject.instance().clear()
    assert plugin.last_bundle == "kept"


def test_the_last_runs_synthetic_spectra_and_attention_come_back_with_the_project(plugin, scene_file, tmp_path):
    """Reopened the next day, the docks show the last run's synthetic spectra and cross-attention again, read from
    its output folder (they were empty although attention.npz was there)."""
    import json

    import numpy as np

    from hypersynth.core.attention import ATTENTION_ARRAYS, ClassAttention, write_class_attention
    from hypersynth.core.pipeline import SYNTHETIC

    run = tmp_path / "run"
    run.mkdir()
    bands = 20
    rng = np.random.default_rng(0)
    tokens = ["<start>", "calm</w>", "water</w>", "<end>"]
    write_class_attention(run, [ClassAttention(1, "water", rng.random((2, 16, 4)).astype(np.float32), tokens, (4, 4),
                                               rng.random((bands, 8, 8)).astype(np.float32))], None)
    (run / SYNTHETIC).write_text(json.dumps({"classes": [{"id": 1, "synthetic_mean": [0.2] * bands,
                                                          "synthetic_std": [0.01] * bands}], "total": 4}))
    (run / "report.html").write_text("<html></html>")
    _worked_on(plugin, scene_file, tmp_path)
    plugin.last_run = (str(run), "Augment & Classify scene")
    plugin.keep_dock_state()
    project_file = tmp_path / "work.qgz"
    assert QgsProject.instance().write(str(project_file))
    QgsProject.instance().clear()
    assert plugin.last_run is None
    assert QgsProject.instance().read(str(project_file))

    assert plugin.last_run == (str(run), "Augment & Classify scene")
    synthetic = plugin.dock.spectral_dock().class_bands("synthetic")
    shown = synthetic[0].mean[np.isfinite(synthetic[0].mean)]  # gaps at the scene's bad bands
    assert [b.class_id for b in synthetic] == [1] and len(shown) > bands // 2 and np.allclose(shown, 0.2)
    attention = plugin.dock.attention_dock()
    assert attention.images and "Augment & Classify scene" in attention.status.text()
    assert (run / ATTENTION_ARRAYS).is_file() and not QgsProject.instance().isDirty()
    report = (run / "report.html").as_uri()
    link = f'Last run: Augment & Classify scene in {run}; <a href="{report}">open its report</a>'
    assert plugin.dock.status.text() == link  # its class map gone: no sample to offer
    (run / "classification.tif").write_bytes(b"")  # the map there: drawing a sample of it is offered again
    assert QgsProject.instance().read(str(project_file))
    assert plugin.dock.status.text() == (f'{link}; for an unbiased estimate of the accuracy and class areas, '
                                         '<a href="hypersynth:validation-sample">draw a validation sample</a>')
