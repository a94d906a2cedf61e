"""The main dock: panels wired together, label tools on the canvas, run request with everything the plugin needs."""

from __future__ import annotations

import numpy as np
import pytest

from hypersynth.ui.main_dock import HyperSynthDock

from ..plugin.conftest import wait_until
from .conftest import BANDS, WAVELENGTHS, map_box


def _dock(keep, qgis_iface, scene_layer, label_layer, classes) -> HyperSynthDock:
    dock = keep(HyperSynthDock(qgis_iface), 480, 620)
    dock.set_scene_layer(scene_layer)
    dock.set_classes(classes)
    dock.set_label_layer(label_layer)
    return dock


def test_dock_assembles_the_panels(keep, qgis_iface, canvas, scene_layer, label_layer, classes, screenshot):
    dock = _dock(keep, qgis_iface, scene_layer, label_layer, classes)
    assert dock.scene_layer().id() == scene_layer.id() and dock.label_layer() is label_layer
    assert [c.name for c in dock.current_classes()] == ["corn", "water", "bare_soil"]
    assert dock.prompts_panel.prompt_for(1) == "corn field"  # classes flow into the prompts tab
    dock.classes_panel.brush_button.setChecked(True)
    assert canvas.mapTool() is dock.classes_panel.brush
    dock.classes_panel.polygon_button.setChecked(True)
    assert canvas.mapTool() is dock.classes_panel.polygon and not dock.classes_panel.brush_button.isChecked()
    dock.classes_panel.polygon_button.setChecked(False)
    for class_id, (col, row, size) in [(1, (1, 1, 4)), (2, (12, 3, 5)), (3, (4, 12, 3))]:
        dock.classes_panel.select_class(class_id)
        dock.classes_panel.polygon.add_polygon(map_box(col, row, size))
    assert dock.classes_panel.refresh_counts() == {1: 16, 2: 25, 3: 9}
    for index, name in enumerate(["main_dock_scene", "main_dock_classes", "main_dock_prompts"]):
        dock.tabs.setCurrentIndex(index)
        pixels = screenshot(dock, name)
        assert pixels.std() > 0
    dock.cleanup()


def test_run_is_refused_until_two_classes_are_labelled(keep, qgis_iface, canvas, scene_layer, label_layer, classes,
                                                      tmp_path):
    dock = _dock(keep, qgis_iface, scene_layer, label_layer, classes)
    emitted = []
    dock.runRequested.connect(emitted.append)
    assert dock.request_run({"preset": "tiny", "output_folder": str(tmp_path)}) is None
    assert "label pixels of at least two classes" in dock.status.text() and emitted == []
    tools = dock.classes_panel
    tools.select_class(1)
    tools.polygon.add_polygon(map_box(0, 0, 2))
    tools.select_class(2)
    tools.polygon.add_polygon(map_box(4, 4, 2))
    assert "bare_soil" in "; ".join(dock.run_problems())
    dock.classes_panel.delete_class(3)
    values = dock.request_run({"preset": "tiny", "output_folder": str(tmp_path), "seed": 3})
    assert emitted == [values]
    assert values["scene_layer_id"] == scene_layer.id() and values["label_layer_id"] == label_layer.id()
    assert values["preset"] == "tiny" and values["seed"] == 3 and values["class_field"] == "class_id"
    assert [c.id for c in values["classes"]] == [1, 2]
    assert dock.last_run_settings == {"preset": "tiny", "output_folder": str(tmp_path), "seed": 3}
    dock.request_run({"preset": "tiny", "output_folder": str(tmp_path), "seed": 4, "balance_rate": 0.2,
                      "overwrite": True, "approved_outputs": ["classification.tif"]})
    defaults = dock.run_defaults()  # the next dialog starts from the last run's settings
    assert defaults["seed"] == 4 and defaults["balance_rate"] == 0.2 and defaults["output_folder"] == str(tmp_path)
    assert "overwrite" not in defaults and "approved_outputs" not in defaults  # an answer for one run only


def test_class_spectra_and_preview_reach_their_docks(keep, qgis_iface, canvas, scene_layer, label_layer, classes,
                                                     screenshot):
    dock = _dock(keep, qgis_iface, scene_layer, label_layer, classes)
    dock.classes_panel.select_class(1)
    dock.classes_panel.polygon.add_polygon(map_box(0, 0, 3))
    task = dock.show_labelled_class_spectra()  # read in a task: the dock shows them when it ends
    assert wait_until(lambda: not dock.spectra_tasks.running)
    assert list(task.result) == [1]
    spectral = dock.spectral_dock()
    assert [b.name for b in spectral.class_bands()] == ["corn (labelled)"]
    rng = np.random.default_rng(0)
    patches = rng.random((3, BANDS, 8, 8)).astype(np.float32)
    attention = {"attention": rng.random((2, 4, 16)), "tokens": ["<start>", "corn</w>", "field</w>",
                                                                 "<end>"], "latent_hw": (4, 4)}
    dock.show_preview(patches, WAVELENGTHS, "corn field", attention=attention)
    assert dock.tabs.currentWidget() is dock.prompts_panel
    from hypersynth.plugin.rendering import read_pixel_values

    axis = dock.prompts_panel.spectra.getAxis("left").labelText  # the scene's values: named as the profile dock names
    assert axis == read_pixel_values(scene_layer.source()).axis_title() == spectral.plot.getAxis("left").labelText
    attention_dock = dock.attention_dock()
    assert len(attention_dock.images) == 2 and not attention_dock.class_box.isVisibleTo(attention_dock)
    assert attention_dock.overlay_box.isEnabled()  # the first preview patch is drawn under its maps
    assert "preview of “corn field”" in attention_dock.status.text()
    keep(spectral)
    keep(dock.attention_dock())
    dock.cleanup()
    assert dock._spectral is None


def test_class_spectra_are_read_off_the_main_thread(keep, qgis_iface, canvas, scene_layer, label_layer, classes,
                                                    gdal_reads):
    """The Class spectra button reads the labelled pixels' spectra in a task: on a full-size scene that reads every
    band's blocks under the labels (seconds), which on the main thread would freeze QGIS."""
    import threading

    dock = _dock(keep, qgis_iface, scene_layer, label_layer, classes)
    dock.classes_panel.select_class(2)
    dock.classes_panel.polygon.add_polygon(map_box(4, 4, 2))
    task = dock.show_labelled_class_spectra()
    spectral = dock.spectral_dock()
    assert not spectral.isHidden() and "Reading the spectra of 4 labelled pixels" in spectral.status.text()
    assert wait_until(lambda: not dock.spectra_tasks.running)
    assert task.error is None and list(task.result) == [2]
    threads = {thread for _, thread in gdal_reads}
    assert threads and threading.main_thread() not in threads  # every pixel read in the task's thread
    assert [b.name for b in spectral.class_bands("labels")] == ["water (labelled)"]
    assert spectral.status.text() == "Labelled class spectra: 1 class, 4 labelled pixels."
    keep(spectral)
    dock.cleanup()


def test_a_stage_said_before_the_dock_follows_the_run_still_shows(keep, qgis_iface, scene_layer, label_layer, classes):
    """The worker said its stage (queued to the main thread) before the dock connected: the queued signal reached the
    task alone, and the dock showed the title until the next progress (review, and two failures on a loaded VM)."""
    import threading

    from hypersynth.plugin.tasks import EngineTask

    dock = _dock(keep, qgis_iface, scene_layer, label_layer, classes)
    task = EngineTask("Augment & Classify scene", lambda reporter: None)
    worker = threading.Thread(target=lambda: task.stage_said.emit("Augment & Classify scene: classifier"))
    worker.start()
    worker.join()  # said and queued before the dock follows
    dock.follow_run(task)
    assert wait_until(lambda: dock.status.text() == "Augment & Classify scene: classifier", 5), dock.status.text()
    dock._run_ended()
    dock.cleanup()


def test_the_dock_follows_its_run_and_its_button_cancels_it(keep, qgis_iface, scene_layer, label_layer, classes,
                                                            tmp_path):
    """A real task in QGIS's task manager: its stage and progress show under the button, which cancels it;
    the end (finished with the report's link, or cancelled) replaces them."""
    import threading
    from types import SimpleNamespace

    from hypersynth.plugin.tasks import EngineTask, TaskRunner

    dock = _dock(keep, qgis_iface, scene_layer, label_layer, classes)
    runner, release = TaskRunner(), threading.Event()

    def job(reporter):
        reporter.progress(0.4, "classifier")
        while not release.wait(0.02):  # runs until the test lets it finish, or the button cancels it
            reporter.check()
        return SimpleNamespace(report=str(tmp_path / "report.md"))

    try:
        task = runner.submit(EngineTask("Augment & Classify scene", job))
        dock.follow_run(task)
        assert dock.running() and dock.run_button.text() == "Cancel Augment && Classify"
        assert wait_until(lambda: "classifier" in dock.status.text()), dock.status.text()
        assert dock.status.text() == "Augment & Classify scene: classifier"  # the stage; the bar has the fraction
        assert not dock.progress.isHidden() and dock.progress.value() == 40 and not dock.run_note.isHidden()
        release.set()
        assert wait_until(lambda: not runner.running and not dock.running()), dock.status.text()
        assert "finished" in dock.status.text() and (tmp_path / "report.html").as_uri() in dock.status.text()
        assert dock.run_button.text() == "Augment && Classify…"
        assert dock.progress.isHidden() and dock.run_note.isHidden()  # hidden when idle

        release.clear()
        task = runner.submit(EngineTask("Augment & Classify scene", job))
        dock.follow_run(task)
        assert wait_until(lambda: "classifier" in dock.status.text()), dock.status.text()
        dock.run_button.click()  # while a run goes, the button is its Cancel, not a second run
        assert wait_until(lambda: not runner.running and not dock.running()), dock.status.text()
        assert task.error == "cancelled by the user"
        assert dock.status.text() == "Augment & Classify scene: cancelled; nothing was written."
        dock.cleanup()
    finally:  # a failed assertion must not leave a worker thread looping
        release.set()
        runner.cancel_all()


def test_a_runs_class_attention_fills_the_dock_by_class(keep, qgis_iface, scene_layer, label_layer, classes,
                                                         screenshot):
    from hypersynth.core.attention import ClassAttention
    from hypersynth.ui.attention_dock import ANCHORED_NOTE, PATCH_NOTE

    dock = _dock(keep, qgis_iface, scene_layer, label_layer, classes)
    rng = np.random.default_rng(1)
    tokens = [["<start>", "corn</w>", "field</w>", "<end>"],
              ["<start>", "bare</w>", "dry</w>", "soil</w>", "<end>"]]
    weights = [rng.random((2, 16, len(t))).astype(np.float32) for t in tokens]  # (layers, positions, tokens)
    rows = [ClassAttention(i + 1, name, w / w.sum(axis=-1, keepdims=True), t, (4, 4),  # a softmax over the tokens
                           rng.random((BANDS, 8, 8)).astype(np.float32) * (i + 1), anchored=i == 1)
            for i, (name, t, w) in enumerate(zip(["corn", "bare soil"], tokens, weights))]
    dock.show_run_attention(rows, WAVELENGTHS, "Augment & Classify scene")
    attention = keep(dock.attention_dock(), 760, 300)
    assert attention.class_box.isVisibleTo(attention)
    assert [attention.class_box.itemText(i) for i in range(attention.class_box.count())] == ["corn", "bare soil"]
    assert [word for word, _ in attention.word_maps()] == ["corn", "field"]
    assert attention.overlay_box.isEnabled() and "Augment & Classify scene" in attention.status.text()
    assert PATCH_NOTE in attention.status.text()  # corn's patch came from noise, bare soil's from a labelled one
    assert attention.timestep_label.text() == "mean of all steps" and attention.timestep_slider.isHidden()
    attention.set_layer(1)
    attention.set_class("bare soil")
    assert [word for word, _ in attention.word_maps()] == ["bare", "dry", "soil"]
    assert ANCHORED_NOTE in attention.status.text() and PATCH_NOTE not in attention.status.text()
    assert attention.layer_box.currentData() == 1  # the layer the user chose stays
    np.testing.assert_allclose(dict(attention.word_maps())["soil"], rows[1].attention[1, :, 3].reshape(4, 4))
    with pytest.raises(ValueError, match="corn, bare soil"):
        attention.set_class("water")
    assert screenshot(attention, "attention_dock_run").std() > 0
    dock.show_preview(rows[0].patch[None], WAVELENGTHS, "corn field",
                      attention={"attention": rows[0].attention, "tokens": tokens[0], "latent_hw": (4, 4)})
    assert not attention.class_box.isVisibleTo(attention)  # a preview is one patch: no class to pick
    assert not attention.isHidden()
    attention.close()  # the analyst closes it with its X: the next run fills it without opening it again
    dock.show_run_attention(rows, WAVELENGTHS, "Augment & Classify scene again")
    assert attention.isHidden() and "scene again" in attention.status.text()
    attention.show()  # opened again from View ▸ Panels: the next run shows it
    assert not attention.closed_by_analyst
    attention.close()
    dock.show_preview(rows[0].patch[None], WAVELENGTHS, "corn field",  # asked for: shown, and after runs again
                      attention={"attention": rows[0].attention, "tokens": tokens[0], "latent_hw": (4, 4)})
    assert not attention.isHidden() and not attention.closed_by_analyst


def test_the_docks_messages_replace_each_other_in_the_message_bar(keep, qgis_iface, monkeypatch):
    """QGIS stacks message-bar messages: the dock's "Drawing … (progress and Cancel in QGIS's task manager)" came
    back when the next one expired, after the draw had ended. Here QGIS's own bar, not the test one that records."""
    from qgis.core import Qgis
    from qgis.gui import QgsMessageBar

    bar = keep(QgsMessageBar())
    monkeypatch.setattr(qgis_iface, "messageBar", lambda: bar)
    dock = keep(HyperSynthDock(qgis_iface))
    dock.show_message("Drawing 5 labels per class … (progress and Cancel in QGIS's task manager)")
    dock.show_message("30 training labels drawn")
    assert [item.text() for item in bar.items()] == ["30 training labels drawn"]
    bar.pushMessage("QGIS", "a task ended", Qgis.Info, 0)  # another's message over the dock's: left as it is
    dock.show_message("the label layer is 'labels' now")
    assert [item.text() for item in bar.items()] == ["the label layer is 'labels' now", "a task ended"]  # newest first
    dock.show_message("The class spectra could not be read", Qgis.Warning)
    dock.show_message("the label layer is 'points' now")  # a note does not take an unread warning away
    assert [item.text() for item in bar.items()][:2] == ["the label layer is 'points' now",
                                                        "The class spectra could not be read"]
