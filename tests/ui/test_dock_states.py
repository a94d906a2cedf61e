"""What the dock enables and says as its inputs arrive: hints while empty, buttons that need something, the brush's
class, the run's progress bar; the run dialog's output path and knob help; the settings dialog's placeholders."""

from __future__ import annotations

import threading

import pytest
from qgis.core import QgsSettings
from qgis.gui import QgsMapToolPan
from qgis.PyQt.QtCore import QSettings

from hypersynth.plugin.settings_dialog import HyperSynthSettingsDialog
from hypersynth.plugin.tasks import EngineTask, TaskRunner
from hypersynth.ui.classes_panel import AUTO_RADIUS, EMPTY_TABLE_HINT, NO_LABEL_LAYER_TEXT
from hypersynth.ui.main_dock import NO_PROMPTS_HINT, RUN_NOTE, HyperSynthDock
from hypersynth.ui.run_dialog import KNOB_HELP, RunDialog
from hypersynth.ui.scene_panel import NO_SCENE_HINT, NO_SCENE_TEXT

from ..plugin.conftest import wait_until
from .conftest import map_box


def _shown_dock(keep, qgis_iface) -> HyperSynthDock:
    dock = keep(HyperSynthDock(qgis_iface), 540, 1000)
    dock.show()
    return dock


def _disabled_for(button, needs: str) -> bool:
    return not button.isEnabled() and needs in button.toolTip()


def test_the_empty_dock_says_what_to_do_and_disables_what_cannot_act(keep, qgis_iface, qgis_new_project, canvas):
    dock = _shown_dock(keep, qgis_iface)
    dock.set_scene_layer(None)
    scene, classes, prompts = dock.scene_panel, dock.classes_panel, dock.prompts_panel
    assert scene.layer_box.currentText() == NO_SCENE_TEXT and scene.note.text() == NO_SCENE_HINT
    assert classes.layer_box.currentText() == NO_LABEL_LAYER_TEXT
    dock.tabs.setCurrentWidget(classes)
    assert classes.empty_hint.isVisible() and classes.empty_hint.text() == EMPTY_TABLE_HINT
    dock.tabs.setCurrentWidget(prompts)
    assert dock.prompts_hint.isVisible() and dock.prompts_hint.text() == NO_PROMPTS_HINT
    for button in (classes.brush_button, classes.polygon_button, classes.undo_button, classes.save_labels_button):
        assert _disabled_for(button, "Needs a label layer"), button.text()
    assert _disabled_for(classes.delete_button, "Needs a class") and _disabled_for(classes.merge_button, "two classes")
    assert not classes.save_button.isEnabled() and classes.load_button.isEnabled() and classes.add_button.isEnabled()
    assert (classes.load_button.text(), classes.save_button.text()) == ("Load classes…", "Save classes…")
    for button in (prompts.apply_button, prompts.apply_all_button, prompts.preview_button):
        assert _disabled_for(button, "add one in tab 2") or _disabled_for(button, "add them in tab 2"), button.text()
    assert _disabled_for(dock.class_spectra_button, "Needs a scene (tab 1)")
    assert _disabled_for(dock.run_button, "a scene (tab 1); a label layer (tab 2); at least two classes (tab 2)")
    assert dock.progress.isHidden() and dock.run_note.isHidden()  # no run: no bar
    assert classes.radius.text() == AUTO_RADIUS == "auto: 8 screen px"  # auto, with its unit
    dock.cleanup()


def test_buttons_enable_as_their_inputs_arrive(keep, qgis_iface, canvas, scene_layer, label_layer, classes, tmp_path):
    dock = _shown_dock(keep, qgis_iface)
    panel, prompts = dock.classes_panel, dock.prompts_panel
    dock.set_scene_layer(scene_layer)
    assert dock.scene_panel.fact_labels["bands"].text() == "16 (15 usable; 1 flagged bad in the metadata)"
    assert _disabled_for(dock.run_button, "Needs a label layer (tab 2); at least two classes (tab 2)")
    assert _disabled_for(dock.class_spectra_button, "Needs a label layer")

    dock.tabs.setCurrentWidget(panel)
    assert panel.empty_hint.isVisible()
    dock.set_classes(classes)  # classes: the prompt buttons act, the hints go
    assert panel.empty_hint.isHidden() and dock.prompts_hint.isHidden()
    assert prompts.apply_button.isEnabled() and prompts.apply_all_button.isEnabled()
    assert _disabled_for(prompts.preview_button, "Needs a trained synthesis model: run Augment & Classify once")
    dock.set_preview_model(str(tmp_path / "run" / "model_bundle"))  # the plugin tells it of the last run's model
    assert prompts.preview_button.isEnabled() and "run it once first" in prompts.preview_button.toolTip()
    assert panel.delete_button.isEnabled() and panel.merge_button.isEnabled() and panel.save_button.isEnabled()
    assert _disabled_for(panel.brush_button, "Needs a label layer")

    dock.set_label_layer(label_layer)  # a label layer: the tools draw; a run waits for labels of two classes
    assert panel.brush_button.isEnabled() and panel.polygon_button.isEnabled()
    two_classes = "Needs labelled pixels of at least two classes: draw labels with the Brush or Polygon tool (tab 2)"
    assert _disabled_for(dock.run_button, two_classes)
    assert _disabled_for(panel.undo_button, "No label edit to undo")
    assert _disabled_for(panel.save_labels_button, "No unsaved label edits")
    assert _disabled_for(dock.class_spectra_button, "Needs labelled pixels")

    panel.select_class(1)
    panel.polygon.add_polygon(map_box(1, 1, 3))  # an edit: Undo and Save act; counted, the class spectra too
    assert panel.undo_button.isEnabled() and panel.save_labels_button.isEnabled()
    assert wait_until(dock.class_spectra_button.isEnabled, 5), dock.class_spectra_button.toolTip()
    assert _disabled_for(dock.run_button, two_classes)  # one class labelled
    panel.select_class(2)
    panel.polygon.add_polygon(map_box(5, 5, 2))
    assert wait_until(dock.run_button.isEnabled, 5), dock.run_button.toolTip()
    assert dock.run_button.toolTip().startswith("Synthesise")
    panel.save_labels_button.click()
    assert _disabled_for(panel.save_labels_button, "No unsaved label edits")

    panel.delete_class(3)
    panel.delete_class(2)  # one class left: no run, no merge
    assert _disabled_for(dock.run_button, "at least two classes") and not panel.merge_button.isEnabled()

    panel.brush_button.setChecked(True)
    dock.set_label_layer(None)  # nothing to draw into: the brush lets go of the canvas
    assert not panel.brush_button.isChecked() and canvas.mapTool() is not panel.brush
    assert panel.layer_box.currentText() == NO_LABEL_LAYER_TEXT  # not a blank box
    dock.set_scene_layer(None)
    assert dock.scene_panel.layer_box.currentText() == NO_SCENE_TEXT
    assert _disabled_for(panel.brush_button, "Needs a label layer") and panel.tool_hint.isHidden()
    dock.cleanup()


def test_the_brush_says_which_class_it_paints_and_how_to_stop(keep, qgis_iface, canvas, scene_layer, label_layer,
                                                              classes):
    dock = _shown_dock(keep, qgis_iface)
    dock.set_scene_layer(scene_layer)
    dock.set_classes(classes)
    dock.set_label_layer(label_layer)
    panel = dock.classes_panel
    dock.tabs.setCurrentWidget(panel)
    panel.select_class(2)
    assert panel.tool_hint.isHidden()
    panel.brush_button.setChecked(True)
    assert canvas.mapTool() is panel.brush and panel.tool_hint.isVisible()
    hint = panel.tool_hint.text()
    assert "Painting:" in hint and "<b>water</b>" in hint and "rgb(30, 90, 200)" in hint
    assert "click Brush again" in hint and "stops the tool" in hint
    panel.select_class(3)  # another class: the line follows
    assert "<b>bare_soil</b>" in panel.tool_hint.text()
    pan = QgsMapToolPan(canvas)
    canvas.setMapTool(pan)  # another map tool stops the brush: its button and line follow
    assert not panel.brush_button.isChecked() and panel.tool_hint.isHidden()
    panel.polygon_button.setChecked(True)
    assert "Drawing polygons of:" in panel.tool_hint.text() and "click Polygon again" in panel.tool_hint.text()
    panel.polygon_button.setChecked(False)
    assert panel.tool_hint.isHidden() and canvas.mapTool() is not panel.polygon
    canvas.unsetMapTool(pan)
    dock.cleanup()


def test_the_run_shows_a_progress_bar_with_elapsed_time(keep, qgis_iface, canvas, scene_layer, label_layer, classes):
    dock = _shown_dock(keep, qgis_iface)
    dock.set_scene_layer(scene_layer)
    dock.set_classes(classes)
    dock.set_label_layer(label_layer)
    runner = TaskRunner()
    steps = [threading.Event() for _ in range(3)]

    def job(reporter):
        reporter.progress(0.25, "training patches")
        steps[0].wait(20)
        reporter.progress(0.6, "cross-validation 4/6: classifier 4/8")
        steps[1].wait(20)
        reporter.check()
        return None

    try:
        task = runner.submit(EngineTask("Augment & Classify scene", job))
        dock.follow_run(task)
        assert dock.progress.isVisible() and dock.run_note.isVisible() and dock.run_note.text() == RUN_NOTE
        assert dock.run_button.isEnabled() and dock.run_button.text() == "Cancel Augment && Classify"
        assert wait_until(lambda: dock.progress.value() == 25, 10), dock.progress.value()
        assert dock.status.text() == "Augment & Classify scene: training patches"
        assert dock.progress.text() == "25 % · 0:00 elapsed"
        assert wait_until(lambda: "0:01 elapsed" in dock.progress.text(), 5), dock.progress.text()  # ticks on
        steps[0].set()
        assert wait_until(lambda: dock.progress.value() == 60, 10), dock.progress.value()
        assert dock.status.text() == "Augment & Classify scene: cross-validation 4/6: classifier 4/8"
        assert dock.run_elapsed() >= 1.0
        dock.run_button.click()  # Cancel
        steps[1].set()
        assert wait_until(lambda: not dock.running(), 10)
        assert dock.progress.isHidden() and dock.run_note.isHidden()
        assert dock.status.text() == "Augment & Classify scene: cancelled; nothing was written."
        assert dock.run_button.text() == "Augment && Classify…"  # back to what it needs: the layer has no labels
        assert _disabled_for(dock.run_button, "Needs labelled pixels of at least two classes")
    finally:
        for step in steps:
            step.set()
        runner.cancel_all()
        assert wait_until(lambda: not runner.running, 10)
        dock.cleanup()


def test_a_finished_run_offers_its_report_and_a_validation_sample_of_its_map(keep, qgis_iface, tmp_path,
                                                                              monkeypatch):
    """The status line's links: the report opens in the browser; "draw a validation sample" asks the plugin (which
    opens Processing's Draw validation sample on the run's map). A run whose layers stayed out offers no sample."""
    from types import SimpleNamespace

    from hypersynth.ui import main_dock

    dock = _shown_dock(keep, qgis_iface)
    runner = TaskRunner()
    report = tmp_path / "report.md"
    asked, opened = [], []
    dock.sampleRequested.connect(lambda: asked.append(True))
    monkeypatch.setattr(main_dock.QDesktopServices, "openUrl", lambda url: opened.append(url.toString()) or True)
    try:
        for layers_added in (True, False):
            task = runner.submit(EngineTask("Augment & Classify scene", lambda reporter: SimpleNamespace(
                report=str(report), metrics=None)))
            task.layers_added = layers_added
            dock.follow_run(task)
            assert wait_until(lambda: not dock.running(), 10)
            text = dock.status.text()
            assert text.startswith("Augment &amp; Classify scene: finished, ")
            assert (main_dock.SAMPLE_ASK in text) is layers_added, text
        dock.status.linkActivated.emit(main_dock.SAMPLE_LINK)
        dock.status.linkActivated.emit((tmp_path / "report.html").as_uri())
        assert asked == [True] and opened == [(tmp_path / "report.html").as_uri()]
    finally:
        runner.cancel_all()
        dock.cleanup()


def test_the_run_dialog_shows_a_long_output_path_whole_and_explains_its_knobs(keep, tmp_path):
    deep = tmp_path / "projects" / "potsdam_2024_campaign" / "enmap_tile_03" / "hypersynth" / "run_seed_7"
    dialog = keep(RunDialog(defaults={"output_folder": str(deep)}))
    dialog.show()
    wait_until(lambda: False, 0.1)  # laid out
    assert dialog.output_path.isVisible()  # the field cuts it off: under it across the dialog, elided in the middle
    shown = dialog.output_path.text()
    assert shown == str(deep) or (shown.endswith("run_seed_7") and "…" in shown), shown
    assert dialog.output_path.toolTip() == dialog.output_folder.lineEdit().toolTip() == str(deep)
    dialog.output_folder.setFilePath(str(tmp_path))
    if dialog.output_folder.lineEdit().fontMetrics().horizontalAdvance(str(tmp_path)) < 300:
        assert dialog.output_path.isHidden()  # it fits: said once
    assert dialog.output_folder.lineEdit().toolTip() == str(tmp_path)
    assert dialog.advanced.isCollapsed() and not dialog.guidance.isVisible()  # the knobs folded, at their defaults
    dialog.advanced.setCollapsed(False)
    wait_until(lambda: False, 0.1)
    for label, key in ((dialog.guidance_help, "guidance"), (dialog.balance_help, "balance"),
                       (dialog.anchor_help, "anchor"), (dialog.synthetic_weight_help, "synthetic_weight")):
        assert label.isVisible() and label.text() == KNOB_HELP[key]
    assert dialog.width() >= 600
    # the boxes left to the preset say what it gives, and follow the preset chosen
    assert (dialog.synthetic.text(), dialog.guidance.text()) == ("preset default (60)", "preset default (ω = 3)")
    dialog.preset.setCurrentIndex(dialog.preset.findData("tiny"))
    assert (dialog.synthetic.text(), dialog.guidance.text()) == ("preset default (8)", "preset default (ω = 2)")
    assert "session" not in dialog.pseudo_labels.toolTip()  # the analyst's words, not the project's history


def test_the_advanced_knobs_are_folded_unless_one_is_changed(keep):
    """Guidance ω, balance rate λ, anchor strength… all at once said little to a newcomer: they are folded under
    Advanced, which opens by itself, naming them, when the last run's settings changed one."""
    plain = keep(RunDialog(defaults={}))
    assert plain.advanced.isCollapsed() and plain.changed_knobs() == []
    tuned = keep(RunDialog(defaults={"guidance": 3.5, "seed": 7}))
    assert not tuned.advanced.isCollapsed() and tuned.changed_knobs() == ["Guidance ω", "Seed"]
    assert tuned.advanced.title().endswith("(2 changed: Guidance ω, Seed)")


@pytest.fixture
def store(tmp_path):
    """A settings file of the test's own (the QGIS profile is shared with other test runs)."""
    settings = QgsSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    yield settings
    settings.clear()


def test_the_settings_dialog_says_what_an_empty_field_means(keep, store):
    dialog = keep(HyperSynthSettingsDialog(store=store))
    placeholders = {name: getattr(dialog, name).lineEdit().placeholderText()
                    for name in ("clip_weights", "output_dir")}
    assert placeholders["clip_weights"] == "Empty: Hugging Face cache, else learnt from scratch"
    assert placeholders["output_dir"] == "Empty: chosen in the run dialog"
    assert all(getattr(dialog, name).filePath() == "" for name in placeholders)  # shown: the fields are empty
