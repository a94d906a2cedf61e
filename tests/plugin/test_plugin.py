"""The plugin loads like QGIS loads it: provider registered, action + menu + toolbar added, all removed on unload."""

from __future__ import annotations

import numpy as np
import pytest
from qgis.core import QgsApplication, QgsProcessingException

ALGORITHM_IDS = {"hypersynth:classifybaseline", "hypersynth:augmentandclassify", "hypersynth:classifywithbundle",
                 "hypersynth:synthesize", "hypersynth:benchmark", "hypersynth:importscene", "hypersynth:drawlabels",
                 "hypersynth:importlabels", "hypersynth:samplevalidation"}


def test_provider_registered_with_its_algorithms(hypersynth_plugin):
    provider = QgsApplication.processingRegistry().providerById("hypersynth")
    assert provider is not None and provider is hypersynth_plugin.provider
    assert provider.name() == "HyperSynth" and not provider.icon().isNull()
    ids = {alg.id() for alg in provider.algorithms()}
    assert ALGORITHM_IDS <= ids
    for alg_id in ids:
        alg = QgsApplication.processingRegistry().algorithmById(alg_id)
        assert alg.name() == alg.name().lower() and alg.displayName() and alg.shortHelpString()
        expected = ("synthesis" if alg_id in ("hypersynth:synthesize", "hypersynth:trainbundle") else
                    "scenes" if alg_id in ("hypersynth:importscene", "hypersynth:importlabels") else "classification")
        assert (alg.groupId(), alg.group()) == (expected, expected.capitalize())  # the toolbox folder
    assert provider.supportedOutputRasterLayerExtensions() == ["tif"]


def test_init_gui_adds_action_menu_toolbar_and_unload_removes_them(qgis_iface, qgis_processing):
    from hypersynth import classFactory

    qgis_iface.addPluginToRasterMenu.reset_mock()
    qgis_iface.removePluginRasterMenu.reset_mock()
    assert QgsApplication.processingRegistry().providerById("hypersynth") is None
    plugin = classFactory(qgis_iface)
    plugin.initGui()
    try:
        assert len(plugin.actions) == 1
        action = plugin.actions[0]
        assert action.text().replace("&&", "&") == "Augment & Classify"
        assert not action.icon().isNull()
        qgis_iface.addPluginToRasterMenu.assert_any_call("&HyperSynth", action)
        assert action in plugin.toolbar.actions()
        assert QgsApplication.processingRegistry().providerById("hypersynth") is not None
        dock = plugin.dock
        assert dock is not None and dock.isHidden()
        action.trigger()  # checked: the dock opens
        assert action.isChecked() and not dock.isHidden()
        action.trigger()  # unchecked: it closes
        assert dock.isHidden()
    finally:
        toolbar = plugin.toolbar
        plugin.unload()
    qgis_iface.removePluginRasterMenu.assert_any_call("&HyperSynth", action)
    assert action not in toolbar.actions()
    assert plugin.actions == [] and plugin.toolbar is None and plugin.dock is None
    assert QgsApplication.processingRegistry().providerById("hypersynth") is None


def test_a_dock_that_cannot_load_leaves_the_plugin_working(qgis_iface, qgis_processing, monkeypatch):
    """initGui went on to use the dock it had just failed to make, so a broken dock broke the plugin (review)."""
    import sys

    from hypersynth import classFactory

    monkeypatch.setitem(sys.modules, "hypersynth.ui.main_dock", None)  # its import now fails
    plugin = classFactory(qgis_iface)
    plugin.initGui()
    try:
        assert plugin.dock is None and len(plugin.actions) == 1
        assert QgsApplication.processingRegistry().providerById("hypersynth") is not None
    finally:
        plugin.unload()


def test_the_menu_opens_classify_with_a_saved_classifier_on_the_docks_scene_and_last_classifier(
        qgis_iface, qgis_processing, qgis_new_project, tmp_path, monkeypatch):
    """Applying a saved classifier had no way in from the dock's side (a desktop review): the menu opens Processing's
    dialog with the dock's scene and the classifier the last run saved."""
    import processing
    from qgis.core import QgsRasterLayer

    from hypersynth import classFactory
    from hypersynth.core.demo import write_demo

    opened = []
    monkeypatch.setattr(processing, "execAlgorithmDialog", lambda alg, values: opened.append((alg, values)) or {})
    demo = write_demo(tmp_path / "demo")
    plugin = classFactory(qgis_iface)
    plugin.initGui()
    try:
        action = plugin.classify_action
        assert action.text() == "Classify with a Saved Classifier…" and action not in plugin.toolbar.actions()
        qgis_iface.addPluginToRasterMenu.assert_any_call("&HyperSynth", action)
        action.trigger()  # nothing to fill in yet
        assert opened[-1] == ("hypersynth:classifywithbundle", {})
        scene = QgsRasterLayer(str(demo.scene), "scene")
        qgis_new_project.addMapLayer(scene)
        plugin.dock.set_scene_layer(scene)
        (tmp_path / "run" / "classifier_bundle").mkdir(parents=True)
        plugin.last_run = (str(tmp_path / "run"), "Augment & Classify scene")
        action.trigger()
        alg, values = opened[-1]
        assert values["SCENE"] is scene and values["MODEL"] == str(tmp_path / "run" / "classifier_bundle")
    finally:
        plugin.unload()
    qgis_iface.removePluginRasterMenu.assert_any_call("&HyperSynth", action)
    assert plugin.classify_action is None


def test_the_menu_draws_a_validation_sample_of_the_last_runs_map(qgis_iface, qgis_processing, qgis_new_project,
                                                                  tmp_path, monkeypatch):
    """Raster ▸ HyperSynth ▸ Draw a Validation Sample… opens Processing's dialog on the last run's class map: the
    layer the project shows of it."""
    import processing
    from qgis.core import QgsRasterLayer

    from hypersynth import classFactory
    from hypersynth.core.io.write import write_class_map
    from hypersynth.core.scene import ClassInfo

    opened = []
    monkeypatch.setattr(processing, "execAlgorithmDialog", lambda alg, values: opened.append((alg, values)) or {})
    plugin = classFactory(qgis_iface)
    plugin.initGui()
    try:
        action = plugin.sample_action
        assert action.text() == "Draw a Validation Sample…"
        qgis_iface.addPluginToRasterMenu.assert_any_call("&HyperSynth", action)
        action.trigger()  # no run yet: nothing filled in
        assert opened[-1] == ("hypersynth:samplevalidation", {})
        (tmp_path / "run").mkdir()
        path = write_class_map(tmp_path / "run" / "classification.tif", np.ones((4, 4), np.int32),
                               [ClassInfo(1, "water")], transform=(0.0, 1.0, 0.0, 0.0, 0.0, -1.0), crs_wkt=None)
        plugin.last_run = (str(tmp_path / "run"), "Augment & Classify scene")
        action.trigger()
        assert opened[-1][1] == {"CLASS_MAP": str(path)}  # not in the project: its file
        shown = QgsRasterLayer(str(path), "classes")
        qgis_new_project.addMapLayer(shown)
        action.trigger()
        assert opened[-1][1]["CLASS_MAP"] is shown
        plugin.dock.sampleRequested.emit()  # the dock's link after a run asks the same
        assert len(opened) == 4 and opened[-1][1]["CLASS_MAP"] is shown
    finally:
        plugin.unload()
    qgis_iface.removePluginRasterMenu.assert_any_call("&HyperSynth", action)
    assert plugin.sample_action is None


def test_unload_after_processing_only_leaves_nothing_registered(qgis_iface, qgis_processing):
    """qgis_process calls initProcessing() without initGui(); unload must cope."""
    from hypersynth import classFactory

    plugin = classFactory(qgis_iface)
    plugin.initProcessing()
    plugin.initProcessing()  # idempotent: one provider
    assert len([p for p in QgsApplication.processingRegistry().providers() if p.id() == "hypersynth"]) == 1
    plugin.unload()
    assert QgsApplication.processingRegistry().providerById("hypersynth") is None


def test_every_seed_takes_what_the_command_line_takes(hypersynth_plugin):
    """QGIS 3.22's parameterAsInt gives 0 for a seed above 2**31 - 1 without a word: every algorithm's seed reaches
    the command line's SEED_MAX and is read whole."""
    from qgis.core import QgsProcessingContext

    from hypersynth.core.bench_inputs import SEED_MAX
    from hypersynth.plugin.algorithms.inputs import seed_value

    provider = QgsApplication.processingRegistry().providerById("hypersynth")
    seeded = [alg for alg in provider.algorithms() if alg.parameterDefinition("SEED") is not None]
    assert {alg.name() for alg in seeded} >= {"augmentandclassify", "classifybaseline", "drawlabels", "synthesize",
                                              "trainbundle"}
    for alg in seeded:
        assert alg.parameterDefinition("SEED").maximum() == SEED_MAX, alg.name()
        assert seed_value(alg, {"SEED": SEED_MAX}, QgsProcessingContext()) == SEED_MAX, alg.name()
        assert seed_value(alg, {"SEED": 3_000_000_000}, QgsProcessingContext()) == 3_000_000_000, alg.name()
        with pytest.raises(QgsProcessingException, match=r"^Random seed \(SEED\) must be a whole number; got 3.5$"):
            seed_value(alg, {"SEED": 3.5}, QgsProcessingContext())
        for wrong in (SEED_MAX + 1, -1, "abc", float("nan")):  # QGIS's own check says "Incorrect parameter value for SEED"
            ok, message = alg.checkParameterValues({"SEED": wrong}, QgsProcessingContext())
            assert not ok and message == f"Random seed (SEED) takes whole numbers 0 to {SEED_MAX}; got {wrong!r}"


def test_a_long_option_is_never_shortened_into_another_in_the_script_notes(hypersynth_plugin):
    """Augment & Classify's default TRAINING_AREA, "The whole scene, or the area around the labels when …", was
    noted as "The whole scene", which is option 1."""
    alg = QgsApplication.processingRegistry().algorithmById("hypersynth:augmentandclassify")
    notes = alg.shortHelpString()
    assert "TRAINING_AREA=0 (The whole scene, or the area around the labels when it would take over half of the memory " \
           "available)" in notes


def test_a_parameter_the_algorithm_has_not_is_refused_naming_the_likeliest_meant(hypersynth_plugin, tmp_path):
    """QGIS passes an unknown key on without a word: SEEDS=7 to the draw drew with seed 0."""
    import processing

    with pytest.raises(QgsProcessingException, match=r"hypersynth:drawlabels has no parameter SEEDS \(did you mean "
                                                     r"SEED\?\), random_seed; its parameters are SCENE, REFERENCE"):
        processing.run("hypersynth:drawlabels", {"SCENE": "scene.tif", "REFERENCE": "truth.tif", "SEEDS": 7,
                                                 "random_seed": 7, "OUTPUT": str(tmp_path / "train.gpkg")})
    assert not any(tmp_path.iterdir())
