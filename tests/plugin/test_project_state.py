"""The dock's work survives saving the QGIS project and opening it again."""

from __future__ import annotations

import pytest
from qgis.core import QgsProject, QgsRasterLayer

from hypersynth.core.scene import ClassInfo

CLASSES = [ClassInfo(1, "water", (31, 119, 180), "calm open water of a lake"),
           ClassInfo(2, "asphalt road", (90, 90, 90), "dark asphalt road"),
           ClassInfo(3, "dry grass", (220, 200, 110), "")]


@pytest.fixture
def plugin(qgis_iface, qgis_processing, qgis_new_project):
    from hypersynth import classFactory

    plugin = classFactory(qgis_iface)
    plugin.initGui()
    yield plugin
    plugin.unload()


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
