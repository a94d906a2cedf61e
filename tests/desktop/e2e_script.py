"""The analyst's workflow in the real QGIS desktop, run by ``qgis.bin --code`` (see test_desktop_e2e.py).

QGIS executes this file in its own Python once the application is up. It drives the HyperSynth dock the
way an analyst does: open the demo scene, show it in true colour, create a label layer, load the classes
with their prompts, brush labels (through the brush tool and through mouse events on the map canvas),
edit a prompt, run Augment & Classify with the tiny preset through the run dialog's values and the
dock's request, wait for the QgsTask, then check the result layers and their legend and show a pixel
spectrum. Screenshots of the window are saved at each stage, and every check lands in a JSON file.

Environment:
    HYPERSYNTH_E2E_OUT: folder for ``result.json``, the screenshots and the run's files (required).
    HYPERSYNTH_E2E_TIMEOUT: seconds before the watchdog gives up and quits QGIS (default 600).
    HYPERSYNTH_E2E_RUN_TIMEOUT: seconds to wait for the Augment & Classify task (default 480).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np
from osgeo import gdal
from qgis.core import (
    QgsApplication,
    QgsCoordinateTransform,
    QgsMultiBandColorRenderer,
    QgsPalettedRasterRenderer,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
    QgsRasterSymbolLegendNode,
)
from qgis.PyQt.QtCore import QEvent, QPoint, QPointF, Qt, QTimer
from qgis.PyQt.QtGui import QGuiApplication, QMouseEvent
from qgis.PyQt.QtTest import QTest
from qgis.PyQt.QtWidgets import QApplication, QDockWidget, QInputDialog
from qgis.utils import iface, plugins
from scipy import ndimage

RIGHT_DOCK_WIDTH = 520  # the HyperSynth and spectral profile docks, in screen pixels
RESULT_DOCK_HEIGHTS = (470, 400)  # HyperSynth dock above the spectral profile dock, in the last screenshot
LAYERS_PANEL_WIDTH = 340  # room for the result layers' names and their legend
WIDE_BRUSH_M = 12.0  # brush radius over a pure interior: strokes three pixels (10 m) wide
NARROW_BRUSH_M = 6.0  # on a thin class: only the pixels the stroke passes through
STROKES_PER_CLASS = 2  # brush strokes per class, in different places of it
MIN_STROKE_GAP = 6  # pixels between the strokes of one class, so they sample different places
POLL_MS = 200  # how often a wait looks again
SETTLE_MS = 600  # time for QGIS to repaint after a change, before a screenshot
PRESET = "tiny"  # the run's preset: the smallest models, the workflow rather than the map's quality
QUIT_GRACE_MS = 15000  # File ▸ Exit gets this long before the event loops are ended by force
EDITED_PROMPT = "calm open water of a lake, dark in the near infrared"


class CheckFailed(AssertionError):
    """A check that later steps depend on failed: stop the walkthrough."""


class Walkthrough:
    """Runs the workflow as a generator of waits (milliseconds) driven by Qt timers, so QGIS keeps
    painting and the task manager keeps running between steps."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.work = out / "work"
        self.checks: list[dict[str, Any]] = []
        self.info: dict[str, Any] = {}
        self.screenshots: list[str] = []
        self.timings: dict[str, float] = {}
        self.error: Optional[str] = None
        self.stage = "starting"  # where the walkthrough is, for result.json
        self.finished = False
        self.started = time.monotonic()
        self._steps = self.steps()

    # --- bookkeeping ------------------------------------------------------------------------------
    def check(self, name: str, passed: bool, detail: str = "") -> bool:
        self.checks.append({"name": name, "passed": bool(passed), "detail": detail})
        return bool(passed)

    def require(self, name: str, passed: bool, detail: str = "") -> None:
        if not self.check(name, passed, detail):
            raise CheckFailed(f"{name}: {detail}")

    def screenshot(self, name: str, whole_screen: bool = False) -> None:
        """Save the main window (or the whole screen, to include dialogs) as ``<name>.png``."""
        QApplication.processEvents()
        if whole_screen:
            image = QGuiApplication.primaryScreen().grabWindow(0)
        else:
            image = iface.mainWindow().grab()
        path = self.out / f"{name}.png"
        if image.save(str(path)):
            self.screenshots.append(path.name)

    def until(self, condition: Callable[[], bool], timeout: float, what: str) -> Iterator[int]:
        """Yield waits until ``condition()`` holds; TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:.0f} s for {what}")
            yield POLL_MS

    def settle(self) -> Iterator[int]:
        """Let the canvas finish rendering, then give Qt a moment to paint."""
        canvas = iface.mapCanvas()
        canvas.refresh()
        yield SETTLE_MS
        yield from self.until(lambda: not canvas.isDrawing(), 60, "the map canvas to render")
        yield SETTLE_MS

    # --- the driver -------------------------------------------------------------------------------
    def start(self, watchdog_s: float) -> None:
        QTimer.singleShot(int(watchdog_s * 1000), self.watchdog)
        QTimer.singleShot(0, self.advance)

    def advance(self) -> None:
        if self._steps is None:  # the watchdog ended the walkthrough
            return
        try:
            wait = next(self._steps)
        except StopIteration:
            self.finished = True
            self.finish()
            return
        except Exception:  # noqa: BLE001 (every failure must reach result.json and QGIS must exit)
            self.error = traceback.format_exc()
            self.finish()
            return
        QTimer.singleShot(int(wait), self.advance)

    def watchdog(self) -> None:
        if self._steps is not None:
            self.error = f"watchdog: the walkthrough did not end within {time.monotonic() - self.started:.0f} s"
            self.finish()

    def enter(self, stage: str) -> None:
        """Note the stage reached in result.json, so a QGIS crash still tells where it happened."""
        self.stage = stage
        self.write_result()

    def write_result(self) -> None:
        result = {"finished": self.finished, "error": self.error, "stage": self.stage, "checks": self.checks,
                  "info": self.info, "screenshots": self.screenshots, "timings": self.timings}
        tmp = self.out / ".result.json.tmp"
        tmp.write_text(json.dumps(result, indent=2, default=str))
        os.replace(tmp, self.out / "result.json")

    def finish(self) -> None:
        """Write result.json, cancel running tasks and quit QGIS (once)."""
        if self._steps is None:
            return
        self._steps = None
        self.timings["total_s"] = round(time.monotonic() - self.started, 1)
        self.write_result()
        QgsApplication.taskManager().cancelAll()
        QTimer.singleShot(100, quit_qgis)

    # --- the workflow -----------------------------------------------------------------------------
    def steps(self) -> Iterator[int]:
        window = iface.mainWindow()
        yield from self.until(lambda: window.isVisible() and "hypersynth" in plugins, 120,
                              "the main window and the HyperSynth plugin")
        self.timings["qgis_ready_s"] = round(time.monotonic() - self.started, 1)
        self.enter("showing the dock")
        plugin = plugins["hypersynth"]
        self.require("plugin dock created", plugin.dock is not None, "HyperSynthPlugin.dock is None")
        self.arrange_window()
        plugin.actions[0].trigger()  # the toolbar button shows the dock
        yield from self.until(lambda: plugin.dock.isVisible(), 10, "the HyperSynth dock to show")
        dock = plugin.dock
        self.check("toolbar action shows the dock", dock.isVisible())
        window.resizeDocks([dock], [RIGHT_DOCK_WIDTH], Qt.Horizontal)

        from hypersynth.core.demo import write_demo

        shutil.rmtree(self.work, ignore_errors=True)  # a fresh label file and output folder every time
        files = write_demo(self.work / "demo", overwrite=True)
        scene = yield from self.open_scene(dock, files.scene)
        yield from self.make_labels(dock, scene, files)
        yield from self.set_prompts(dock)
        task = yield from self.run(plugin, dock)
        yield from self.inspect_results(dock, scene, task, files)
        yield from self.reopen_project(plugin, dock)
        yield from self.draw_from_reference(dock, files)
        yield from self.import_product(dock)
        yield from self.validation_sample(Path(task.result.class_map), files)

    def arrange_window(self) -> None:
        """The window fills the screen (no window manager maximises it under Xvfb); the Browser panel makes
        way for the Layers panel."""
        window = iface.mainWindow()
        window.setGeometry(QGuiApplication.primaryScreen().geometry())
        for dock in window.findChildren(QDockWidget):
            if dock.objectName() in ("Browser", "Browser2") and dock.isVisible():
                dock.hide()
            elif dock.objectName() == "Layers":
                window.resizeDocks([dock], [LAYERS_PANEL_WIDTH], Qt.Horizontal)

    def open_scene(self, dock: Any, path: Path) -> Iterator[int]:
        """Tab 1: open the scene raster as the analyst's Open… does, then the True colour button."""
        self.enter("opening the scene")
        dock.tabs.setCurrentWidget(dock.scene_panel)
        scene = dock.scene_panel.open_file(str(path))
        self.require("scene layer opened", scene.isValid() and dock.scene_layer() is scene,
                     f"{path} valid={scene.isValid()}; dock scene={dock.scene_layer()}")
        dock.scene_panel.composite_buttons["true colour"].click()
        renderer = scene.renderer()
        self.check("true-colour composite applied", isinstance(renderer, QgsMultiBandColorRenderer),
                   f"renderer {type(renderer).__name__}; note: {dock.scene_panel.note.text()}")
        yield from self.settle()  # QGIS zooms to the first layer by itself; then fit it to the canvas as sized now
        self.zoom_to(scene)
        yield from self.settle()
        self.screenshot("desktop_1_scene")
        return scene

    def make_labels(self, dock: Any, scene: QgsRasterLayer, files: Any) -> Iterator[int]:
        """Tab 2: a new label GeoPackage, the demo classes, then brush strokes over each class's pixels."""
        self.enter("labelling")
        panel = dock.classes_panel
        dock.tabs.setCurrentWidget(panel)
        labels = panel.create_label_layer(str(self.work / "labels.gpkg"))
        self.require("label GeoPackage created", dock.label_layer() is labels and labels.isValid(),
                     f"dock label layer {dock.label_layer()}")
        classes = panel.load_classes(str(files.classes_json))
        self.require("classes loaded with prompts",
                     panel.table.rowCount() == len(classes) >= 2 and all(c.prompt for c in classes),
                     f"{panel.table.rowCount()} rows; prompts {[c.prompt for c in classes]}")
        self.info["classes"] = [c.name for c in classes]
        yield from self.settle()
        view = iface.layerTreeView()
        node = QgsProject.instance().layerTreeRoot().findLayer(labels.id())
        self.check("the label layer's legend is open in the Layers panel, one entry a class",
                   node is not None and view.isExpanded(view.node2index(node)), f"node {node}")

        panel.brush_button.setChecked(True)  # the Brush button makes the brush the canvas's map tool
        brush = panel.brush
        self.check("brush is the map tool", iface.mapCanvas().mapTool() is brush)
        truth, transform = read_label_grid(files.ground_truth)
        to_canvas = self.to_canvas(scene)

        def on_canvas(stroke: list[tuple[int, int]]) -> list[QgsPointXY]:
            return [to_canvas.transform(pixel_centre(transform, r, col)) for r, col in stroke]

        first = classes[0]
        plans = {c.id: plan_strokes(truth, c.id, STROKES_PER_CLASS, seed=c.id) for c in classes}
        for c in classes:
            strokes, radius = plans[c.id]
            panel.select_class(c.id)  # the analyst picks the class in the table, sets the radius, paints
            panel.radius.setValue(radius)
            for stroke in strokes[:-1] if c.id == first.id else strokes:  # the first class's last: by mouse
                brush.add_stroke(on_canvas(stroke), c.id)
            yield 50
        strokes, radius = plans[first.id]
        panel.select_class(first.id)
        panel.radius.setValue(radius)
        before = set(labels.allFeatureIds())
        self.zoom_to(scene)
        yield from self.settle()
        drag_on_canvas(on_canvas(strokes[-1]))
        yield 100
        added = [labels.getFeature(fid) for fid in set(labels.allFeatureIds()) - before]
        self.check("mouse stroke on the canvas adds a label of the selected class",
                   len(added) == 1 and added[0]["class_id"] == first.id,
                   f"{len(added)} new label polygons, class ids {[f['class_id'] for f in added]}")
        panel.save_labels_button.click()
        self.check("labels saved", not labels.isModified(), f"modified={labels.isModified()}")

        counts = panel.refresh_counts()
        self.info["labelled_pixels"] = counts
        self.require("every class has labelled pixels", all(counts.get(c.id, 0) > 0 for c in classes),
                     f"labelled pixels per class id: {counts}")
        from hypersynth.plugin.label_layer import label_raster

        burnt, (r0, c0) = label_raster(labels, scene)
        rows, cols = np.nonzero(burnt)
        wrong = int((truth[rows + r0, cols + c0] != burnt[rows, cols]).sum())
        self.check("brushed pixels lie on their class in the ground truth", rows.size > 0 and wrong == 0,
                   f"{wrong} of {rows.size} labelled pixels differ from the ground truth")
        panel.brush_button.setChecked(False)
        show_legend(labels)  # the label layer's legend: the classes in their colours
        self.zoom_to(scene)
        yield from self.settle()
        self.screenshot("desktop_2_labels")

    def set_prompts(self, dock: Any) -> Iterator[int]:
        """Tab 3: edit a prompt; the class table follows."""
        self.enter("editing a prompt")
        dock.tabs.setCurrentWidget(dock.prompts_panel)
        first = dock.current_classes()[0]
        dock.prompts_panel.select_class(first.id)
        dock.prompts_panel.set_prompt(first.id, EDITED_PROMPT)
        yield 100
        self.check("prompt edited in the Prompts tab reaches the classes",
                   dock.classes_panel.class_by_id(first.id).prompt == EDITED_PROMPT,
                   f"class prompt {dock.classes_panel.class_by_id(first.id).prompt!r}")

    def run(self, plugin: Any, dock: Any) -> Iterator[int]:
        """The run dialog's values (tiny preset, our output folder), the dock's request, the QgsTask."""
        self.enter("starting Augment & Classify")
        from hypersynth.ui.run_dialog import RunDialog

        self.check("nothing blocks a run", dock.run_problems() == [], "; ".join(dock.run_problems()))
        dialog = RunDialog(dock, dock.run_defaults())
        dialog.preset.setCurrentIndex(dialog.preset.findData(PRESET))
        dialog.output_folder.setFilePath(str(self.work / "run"))
        dialog.show()
        yield from self.until(lambda: dialog.isVisible(), 10, "the run dialog")
        yield SETTLE_MS
        self.screenshot("desktop_3_run_dialog", whole_screen=True)
        self.check("run dialog accepts the settings", dialog.problems() == [], "; ".join(dialog.problems()))
        values = dialog.values()
        dialog.close()
        ended: list[Any] = []
        plugin.tasks.taskEnded.connect(ended.append)
        started = time.monotonic()
        request = dock.request_run(values)  # what the dialog's OK does: runRequested -> plugin.run_from_dock
        self.require("run requested", request is not None and request["preset"] == PRESET,
                     f"request {request}; dock status: {dock.status.text()}")
        self.require("a QgsTask runs", len(plugin.tasks.running) == 1, f"running tasks {plugin.tasks.running}")
        task = plugin.tasks.running[0]  # the task manager deletes the C++ task when it ends: read Python fields only
        self.check("the dock follows the run; its button cancels it",
                   dock.running() and dock.run_button.text() == "Cancel Augment && Classify",
                   f"running {dock.running()}; button {dock.run_button.text()!r}")
        timeout = float(os.environ.get("HYPERSYNTH_E2E_RUN_TIMEOUT", "480"))

        def done() -> bool:  # finished() has run on the main thread: the result layers are in, or it failed
            failed = task.error is not None or task.callback_error is not None
            return bool(ended) and (failed or bool(result_layers("classes")))

        self.enter("waiting for the Augment & Classify task")
        yield from self.until(done, timeout, f"the Augment & Classify task ({PRESET} preset)")
        self.timings["augment_classify_s"] = round(time.monotonic() - started, 1)
        self.require("Augment & Classify task succeeded", task.error is None and task.callback_error is None,
                     f"error {task.error!r}\n{task.error_details or ''}{task.callback_error or ''}")
        yield from self.until(lambda: not dock.running(), 10, "the dock to see the run's end")
        self.check("the dock says the run finished, with the report's link and one to draw a validation sample",
                   "finished" in dock.status.text() and "report.html" in dock.status.text()
                   and "draw a validation sample</a>" in dock.status.text(), dock.status.text())
        shown = iface.messageBar().currentItem()  # ours, not QGIS's "Task complete" notice pushed on statusChanged
        self.check("the message bar shows the run's end over QGIS's task notice",
                   shown is not None and "finished" in shown.text() and "report.html" in shown.text(),
                   "" if shown is None else f"{shown.title()}: {shown.text()}")
        return task

    def inspect_results(self, dock: Any, scene: QgsRasterLayer, task: Any, files: Any) -> Iterator[int]:
        """The classified and confidence layers with their legend; a pixel spectrum in the profile dock."""
        self.enter("inspecting the results")
        project = QgsProject.instance()
        classified, confidence = result_layers("classes"), result_layers("confidence")
        self.require("classified layer added", len(classified) == 1 and classified[0].isValid(),
                     f"layers {[layer.name() for layer in project.mapLayers().values()]}")
        class_map = classified[0]
        names = [c.name for c in dock.current_classes()]
        renderer = class_map.renderer()
        self.check("classified layer has a paletted renderer named by class",
                   isinstance(renderer, QgsPalettedRasterRenderer)
                   and [c.label for c in renderer.classes()] == names,
                   f"renderer {type(renderer).__name__}; labels "
                   f"{[c.label for c in renderer.classes()] if hasattr(renderer, 'classes') else None}")
        node = project.layerTreeRoot().findLayer(class_map.id())
        legend = iface.layerTreeView().layerTreeModel().layerLegendNodes(node) if node is not None else []
        legend_names = [n.data(Qt.DisplayRole) for n in legend if isinstance(n, QgsRasterSymbolLegendNode)]
        self.check("layer panel legend lists the class names", legend_names == names,
                   f"legend entries {[n.data(Qt.DisplayRole) for n in legend]}")
        self.check("confidence layer added", len(confidence) == 1 and confidence[0].isValid(),
                   f"{[layer.name() for layer in confidence]}")

        predicted = gdal.Open(class_map.source()).ReadAsArray()
        truth, transform = read_label_grid(files.ground_truth)
        ids = {c.id for c in dock.current_classes()}
        found = set(np.unique(predicted).tolist()) - {0}
        self.check("class map holds known classes only", found <= ids and len(found) >= 2,
                   f"values {sorted(found)}; classes {sorted(ids)}")
        self.info["overall_accuracy_vs_ground_truth"] = round(float((predicted == truth).mean()), 3)
        self.info["outputs"] = sorted(p.name for p in Path(task.result.class_map).parent.iterdir())

        view = iface.layerTreeView()
        group = node.parent() if node is not None else None
        self.check("the run's group is open in the Layers panel, with the class legend",
                   group is not None and view.isExpanded(view.node2index(group))
                   and view.isExpanded(view.node2index(node)), f"group {group.name() if group else None}")
        iface.setActiveLayer(class_map)
        show_legend(class_map)  # one coloured entry per class
        dock.tabs.setCurrentWidget(dock.classes_panel)
        dock.class_spectra_button.click()  # the labelled classes' mean ± std in the spectral dock
        spectral = dock.spectral_dock()
        yield from self.until(lambda: not dock.spectra_tasks.running, 60, "the class spectra task")
        yield SETTLE_MS  # the new dock takes its place first
        window = iface.mainWindow()
        window.resizeDocks([dock, spectral], [RIGHT_DOCK_WIDTH, RIGHT_DOCK_WIDTH], Qt.Horizontal)
        window.resizeDocks([dock, spectral], list(RESULT_DOCK_HEIGHTS), Qt.Vertical)
        self.check("class spectra shown", len(spectral.class_bands("labels")) == len(names),
                   f"{len(spectral.class_bands('labels'))} class bands for {len(names)} classes")
        synthetic = spectral.class_bands("synthetic")  # the run put its synthetic patches' spectra beside them
        self.check("the run's synthetic class spectra shown beside the labelled ones",
                   len(synthetic) == len(names) and spectral.show_source["synthetic"].isChecked()
                   and all(np.isfinite(b.mean).sum() > scene.bandCount() // 2 for b in synthetic),
                   f"{len(synthetic)} synthetic class bands for {len(names)} classes")
        attention = dock.attention_dock()  # and one synthetic patch per class with its prompt words' attention
        choices = [attention.class_box.itemText(i) for i in range(attention.class_box.count())]
        self.check("the run's cross-attention in its dock, picked by class",
                   attention.isVisible() and sorted(choices) == sorted(names) and len(attention.images) > 0,
                   f"classes {choices}; {len(attention.images)} word maps; visible {attention.isVisible()}")
        spectral.identify_button.setChecked(True)  # then a click on the map shows that pixel's spectrum
        self.check("identify tool is the map tool", iface.mapCanvas().mapTool() is spectral.identify_tool())
        self.zoom_to(class_map)
        yield from self.settle()
        crop = next((c.id for c in dock.current_classes() if c.name == "green crop"), dock.current_classes()[0].id)
        row, col = plan_strokes(truth, crop, 1, seed=0)[0][0][0]
        click_on_canvas(self.to_canvas(scene).transform(pixel_centre(transform, row, col)))
        yield 200
        curve = spectral.current_curve()
        self.check("pixel spectrum shown after a click on the map",
                   curve is not None and curve.name.endswith(f"column {col}, row {row}")
                   and int(np.isfinite(curve.y).sum()) > scene.bandCount() // 2,
                   f"clicked column {col}, row {row}; curve {curve.name if curve else None}; "
                   f"status {spectral.status.text()}")
        yield from self.settle()
        self.screenshot("desktop_4_result")

    def reopen_project(self, plugin: Any, dock: Any) -> Iterator[int]:
        """Save the project, start a new one (the dock empties itself), open the saved one: the dock's classes,
        prompts and layers return."""
        self.enter("saving and opening the project again")
        path = self.work / "walkthrough.qgz"
        before = [(c.id, c.name, c.prompt) for c in dock.current_classes()]
        scene_id, labels_id, model = dock.scene_layer().id(), dock.label_layer().id(), plugin.last_bundle
        self.require("project saved", QgsProject.instance().write(str(path)), QgsProject.instance().error())
        iface.newProject(False)
        yield from self.settle()
        self.check("a new project empties the dock: no layers, classes, prompts, model or run settings",
                   dock.scene_layer() is None and dock.label_layer() is None and dock.current_classes() == []
                   and dock.prompts_panel.table.rowCount() == 0 and plugin.last_bundle is None
                   and dock.last_run_settings == {},
                   f"scene {dock.scene_layer()}; labels {dock.label_layer()}; classes {dock.current_classes()}; "
                   f"model {plugin.last_bundle}; run settings {dock.last_run_settings}")
        self.require("project opened again", iface.addProject(str(path)), str(path))
        yield from self.settle()
        after = [(c.id, c.name, c.prompt) for c in dock.current_classes()]
        self.check("the reopened project brings back the classes, prompts, layers and model",
                   after == before and EDITED_PROMPT in [c[2] for c in after]
                   and dock.scene_layer() is not None and dock.scene_layer().id() == scene_id
                   and dock.label_layer() is not None and dock.label_layer().id() == labels_id
                   and plugin.last_bundle == model,
                   f"classes {after} (saved {before}); scene {dock.scene_layer()}; labels {dock.label_layer()}; "
                   f"model {plugin.last_bundle} (saved {model})")

    def draw_from_reference(self, dock: Any, files: Any) -> Iterator[int]:
        """Tab 2, Draw from reference… with the demo's ground truth in the project: the dialog offers it, draws 5
        labels per class with seed 0 in a task; the points become the label layer, on the pixels the benchmark draws
        for that seed, and the pixels left over become the next run's validation labels."""
        from hypersynth.core.evaluation.protocol import few_label_split
        from hypersynth.core.io.labels import read_labels
        from hypersynth.core.io.read import read_scene_layout
        from hypersynth.ui.label_draw_dialog import LabelDrawDialog

        self.enter("drawing training labels from the ground truth")
        truth_layer = QgsRasterLayer(str(files.ground_truth), files.ground_truth.stem)
        QgsProject.instance().addMapLayer(truth_layer, False)  # at the top, not into the run's group (a rerun's)
        QgsProject.instance().layerTreeRoot().insertLayer(0, truth_layer)
        dock.tabs.setCurrentWidget(dock.classes_panel)
        points = self.work / "drawn" / "demo_5_per_class_seed0.gpkg"
        points.parent.mkdir(parents=True, exist_ok=True)
        asked: dict[str, Any] = {}

        def fill(tries: int = 50) -> None:
            """Answer the dialog as an analyst would: the reference it offers, 5 per class, seed 0, a file name."""
            dialog = QApplication.activeModalWidget()
            if not isinstance(dialog, LabelDrawDialog):
                if tries:
                    QTimer.singleShot(POLL_MS, lambda: fill(tries - 1))
                return
            offered = dialog.reference.currentLayer()
            asked.update(reference=offered.name() if offered is not None else None)
            dialog.labels_per_class.setValue(5)
            dialog.seed.setValue(0)
            dialog.points.setFilePath(str(points))
            self.screenshot("desktop_6_draw_dialog", whole_screen=True)
            dialog.accept()
            if dialog.isVisible():  # refused: say why, and close it so the walkthrough goes on to report
                asked["refused"] = dialog.note.text()
                dialog.reject()

        QTimer.singleShot(POLL_MS, fill)
        dock.classes_panel.draw_button.click()  # the dialog's own event loop runs fill
        self.require("the draw's dialog offers the ground truth as the reference",
                     asked.get("reference") == files.ground_truth.stem and "refused" not in asked,
                     f"offered {asked.get('reference')}; {asked.get('refused', 'accepted')}")
        yield from self.until(lambda: dock.label_layer() is not None and dock.label_layer().name() == points.stem,
                              120, "the drawn points to become the label layer")
        layout = read_scene_layout(files.scene)
        truth, _ = read_labels(files.ground_truth, layout)
        bench = few_label_split(np.where(layout.valid, truth, 0), 5, 0, kind="random", patch_size=9,
                                valid=np.asarray(layout.valid))
        drawn, _ = read_labels(points, layout)
        self.check("the drawn points are the label layer, on the pixels the benchmark draws for the seed",
                   np.array_equal(drawn, bench.train_labels()),
                   f"{int((drawn > 0).sum())} drawn pixels, {int(bench.train_mask.sum())} the benchmark's, "
                   f"{int(((drawn > 0) & ~bench.train_mask).sum())} of them elsewhere")
        validation = QgsProject.instance().mapLayer(str(dock.last_run_settings.get("validation_layer_id") or ""))
        order = [layer.name() for layer in iface.mapCanvas().layers()]  # drawn top first
        self.check("the drawn points are drawn above the reference they came from",
                   points.stem in order and files.ground_truth.stem in order
                   and order.index(points.stem) < order.index(files.ground_truth.stem), f"map layers: {order}")
        self.check("the pixels left over are the next run's validation labels",
                   validation is not None and Path(validation.source()) == points.with_name(
                       f"{points.stem}_validation.tif"), f"validation layer: {validation and validation.source()}")
        yield from self.settle()
        self.screenshot("desktop_6_draw")

    def import_product(self, dock: Any) -> Iterator[int]:
        """Tab 1, Open file… on an order of two PRISMA L2D products (the demo scene written in ASI's layout, each in
        its ZIP, in one .tar.gz): QGIS's own modal dialog asks which, the second is chosen, and it is imported in a
        task as a GeoTIFF beside the order, which becomes the scene, with its wavelengths and a true-colour
        composite."""
        from hypersynth.core.demo import make_demo_scene
        from hypersynth.tests.sensor_products import PRISMA_NAME, tar_files, write_prisma_of, zip_files

        self.enter("importing a PRISMA product from an order of two")
        dock.tabs.setCurrentWidget(dock.scene_panel)
        demo = make_demo_scene()
        folder = self.work / "prisma"
        folder.mkdir(parents=True, exist_ok=True)
        chosen = "PRS_L2D_STD_20200525103704_20200525103708_0001"  # the next day's acquisition
        zips = [zip_files(folder / f"{name}.zip", [write_prisma_of(demo.scene, folder / f"{name}.he5")])
                for name in (PRISMA_NAME, chosen)]
        order = tar_files(folder / "prisma_order.tar.gz", zips)
        from hypersynth.plugin.layers import is_result_group, outermost_result_group

        root = QgsProject.instance().layerTreeRoot()
        results = [g for g in root.findGroups(True) if is_result_group(g)]
        if results and results[0].findLayers():  # the run's class map selected: where QGIS would put a new layer
            iface.layerTreeView().setCurrentLayer(results[0].findLayers()[0].layer())
        asked: dict[str, Any] = {}

        def choose(tries: int = 50) -> None:
            """Answer the product question as an analyst would: a screenshot of it, the second product, OK."""
            dialog = QApplication.activeModalWidget()
            if not isinstance(dialog, QInputDialog):
                if tries:
                    QTimer.singleShot(POLL_MS, lambda: choose(tries - 1))
                return
            asked.update(title=dialog.windowTitle(), label=dialog.labelText(), items=dialog.comboBoxItems())
            dialog.setTextValue(chosen)
            self.screenshot("desktop_5_choose_product", whole_screen=True)
            dialog.accept()

        opened = dock.scene_panel.open_file(str(order))  # the order is listed in a task; then the question
        listing = dock.scene_panel.note.text()
        QTimer.singleShot(POLL_MS, choose)  # the question waits in the dialog's own event loop
        target = folder / f"{chosen}.tif"
        yield from self.until(lambda: dock.scene_layer() is not None and Path(dock.scene_layer().source()) == target,
                              120, "the imported PRISMA GeoTIFF to become the scene")
        self.check("an order of several products asks which to open, in QGIS's dialog",
                   opened is None and listing.startswith(f"Reading {order.name} to list its products")
                   and asked.get("title") == "Open a product of the order"
                   and asked.get("items") == [PRISMA_NAME, chosen], f"open_file gave {opened}, then {listing!r}; "
                   f"asked {asked}")
        self.check("a PRISMA product is imported in a task, not opened as GDAL shows it",
                   dock.scene_panel.note.text().startswith(f"Imported the PRISMA L2D product {chosen} as {target}"),
                   f"note: {dock.scene_panel.note.text()}")
        layer = dock.scene_layer()
        node = root.findLayer(layer.id())
        self.check("the imported scene goes beside the run's result group, not into it (the result selected)",
                   bool(results) and node is not None and outermost_result_group(node) is None,
                   f"{len(results)} result groups; the scene's parent: "
                   f"{None if node is None else node.parent().name() or 'the root'}")
        wavelengths = dock.scene_panel.wavelengths()
        self.check("the imported product is the scene, with its wavelengths",
                   layer.bandCount() == demo.scene.bands and wavelengths is not None
                   and np.allclose(wavelengths, demo.scene.wavelengths, atol=1e-3),
                   f"{layer.bandCount()} bands; wavelengths {None if wavelengths is None else wavelengths[:3]}…; "
                   f"note: {dock.scene_panel.note.text()}")
        dock.scene_panel.composite_buttons["true colour"].click()
        self.check("true-colour composite of the imported product",
                   isinstance(layer.renderer(), QgsMultiBandColorRenderer), type(layer.renderer()).__name__)
        for other in QgsProject.instance().mapLayers().values():  # the product alone on the map
            node = QgsProject.instance().layerTreeRoot().findLayer(other.id())
            if node is not None and other.id() != layer.id():
                node.setItemVisibilityChecked(False)
        yield from self.settle()
        self.zoom_to(layer)
        yield from self.settle()
        self.screenshot("desktop_5_import")

    def validation_sample(self, class_map: Path, files: Any) -> Iterator[int]:
        """Draw validation sample on the run's map (Processing, loaded): points ready to label by class name, hollow
        until labelled; two in three labelled from the ground truth in the layer, not saved; the Accuracy
        assessment of the edited layer knows them as the sample and says its area figures hold."""
        import processing

        self.enter("drawing, labelling and assessing a validation sample")
        points = self.work / "validation" / "check.gpkg"
        processing.runAndLoadResults("hypersynth:samplevalidation", {
            "CLASS_MAP": str(class_map), "PER_CLASS": 6, "SEED": 0, "OUTPUT": str(points)})
        yield from self.settle()
        layer = next((layer for layer in QgsProject.instance().mapLayers().values()
                      if layer.name().startswith("validation points to label")), None)
        setup = layer.editorWidgetSetup(layer.fields().indexOf("class_id")) if layer is not None else None
        self.require("the validation sample loads ready to label: class names to pick, 6 points a class",
                     setup is not None and setup.type() == "ValueMap" and layer.featureCount() == 36,
                     f"layer {layer}; widget {setup.type() if setup else None}")
        truth = gdal.Open(str(files.ground_truth))
        x0, dx, _, y0, _, dy = truth.GetGeoTransform()
        values = truth.ReadAsArray()
        layer.startEditing()
        field = layer.fields().indexOf("class_id")
        for k, feature in enumerate(layer.getFeatures()):
            if k % 3:  # two in three labelled, as an analyst part-way through
                point = feature.geometry().asPoint()
                layer.changeAttributeValue(feature.id(), field,
                                           int(values[int((point.y() - y0) // dy), int((point.x() - x0) // dx)]))
        iface.setActiveLayer(layer)
        for node in QgsProject.instance().layerTreeRoot().findLayers():  # the points over the map they sample
            shown = node.layer() is layer or Path(node.layer().source()) == class_map
            node.setItemVisibilityChecked(shown)
            if shown:
                node.setItemVisibilityCheckedParentRecursive(True)
        self.zoom_to(QgsRasterLayer(str(class_map), "map"))
        yield from self.settle()
        self.screenshot("desktop_7_validation_sample")
        result = processing.run("hypersynth:accuracyassessment", {
            "CLASS_MAP": str(class_map), "VALIDATION": layer, "OUTPUT": str(points.parent / "metrics.json")})
        area = json.loads(Path(result["OUTPUT"]).read_text()).get("area_adjusted", {})
        self.check("the edited, unsaved sample is assessed as the stratified random sample it is",
                   str(area.get("validation_sample", "")).startswith("a stratified random sample of "
                                                                      f"{class_map.name}: 36 points")
                   and area.get("validation_sample_problem") is None and layer.isModified(),
                   f"{area.get('validation_sample')}; problem {area.get('validation_sample_problem')}")
        layer.rollBack()  # nothing saved, and QGIS closes without asking

    def zoom_to(self, layer: QgsRasterLayer) -> None:
        """Fit the layer in the map canvas as it is sized now (docks change its size)."""
        canvas = iface.mapCanvas()
        canvas.setExtent(self.to_canvas(layer).transformBoundingBox(layer.extent()))
        canvas.refresh()

    @staticmethod
    def to_canvas(layer: QgsRasterLayer) -> QgsCoordinateTransform:
        return QgsCoordinateTransform(layer.crs(), iface.mapCanvas().mapSettings().destinationCrs(),
                                      QgsProject.instance())


# --- layers, pixels, strokes and mouse events -------------------------------------------------------

def result_layers(name: str) -> list[Any]:
    """The project's layers named ``name`` inside a run's result group (the plugin names them "classes",
    "confidence", ... in a group named after the run)."""
    root = QgsProject.instance().layerTreeRoot()
    return [layer for layer in QgsProject.instance().mapLayers().values() if layer.name() == name
            and (node := root.findLayer(layer.id())) is not None and node.parent() is not root]


def show_legend(layer: Any) -> None:
    """Expand the layer's legend in the Layers panel (collapsed and expanded again: a layer added with an
    empty legend stays folded in the view even when its node says it is expanded)."""
    node = QgsProject.instance().layerTreeRoot().findLayer(layer.id())
    if node is not None:
        node.setExpanded(False)
        node.setExpanded(True)


def read_label_grid(path: Path) -> tuple[np.ndarray, tuple[float, ...]]:
    """A label raster ``(H, W)`` and its GDAL geotransform."""
    ds = gdal.Open(str(path))
    return ds.ReadAsArray(), ds.GetGeoTransform()


def pixel_centre(transform: tuple[float, ...], row: int, col: int) -> QgsPointXY:
    """The map coordinates (raster CRS) of a pixel's centre."""
    x0, dx, rx, y0, ry, dy = transform
    return QgsPointXY(x0 + (col + 0.5) * dx + (row + 0.5) * rx, y0 + (col + 0.5) * ry + (row + 0.5) * dy)


def plan_strokes(truth: np.ndarray, class_id: int, n: int, seed: int) -> tuple[list[list[tuple[int, int]]], float]:
    """``n`` short strokes (lists of pixel (row, col)) over one class and the brush radius to draw them with.

    In a pure interior (every pixel within 2 of the stroke is of the class) strokes are five pixels long
    with a wide brush; a thin class (the road) gets short strokes with a narrow brush, as an analyst
    would do. Strokes lie at least ``MIN_STROKE_GAP`` pixels apart, alternately horizontal and vertical.
    """
    mask = truth == class_id
    for erosion, radius, offsets in ((5, WIDE_BRUSH_M, (-2, -1, 0, 1, 2)), (3, NARROW_BRUSH_M, (-1, 0, 1)),
                                     (1, NARROW_BRUSH_M, (0, 1))):
        inner = ndimage.binary_erosion(mask, np.ones((erosion, erosion), bool)) if erosion > 1 else mask
        strokes: list[list[tuple[int, int]]] = []
        for r, c in np.random.default_rng(seed).permutation(np.argwhere(inner)):
            if any(max(abs(r - s[0][0]), abs(c - s[0][1])) < MIN_STROKE_GAP for s in strokes):
                continue
            stroke = stroke_through(inner, int(r), int(c), offsets, horizontal=len(strokes) % 2 == 0)
            if stroke is not None:
                strokes.append(stroke)
            if len(strokes) == n:
                return strokes, radius
    raise ValueError(f"class {class_id} has too few pixels for {n} strokes")


def stroke_through(inner: np.ndarray, r: int, c: int, offsets: tuple[int, ...], horizontal: bool
                   ) -> Optional[list[tuple[int, int]]]:
    """Pixels at ``offsets`` along a line through ``(r, c)``, all inside ``inner``; None when no direction fits."""
    directions = [(0, 1), (1, 0), (1, 1), (1, -1)]
    if not horizontal:
        directions[:2] = directions[1::-1]
    height, width = inner.shape
    for dr, dc in directions:
        cells = [(r + k * dr, c + k * dc) for k in offsets]
        if all(0 <= rr < height and 0 <= cc < width and inner[rr, cc] for rr, cc in cells):
            return cells
    return None


def canvas_pixel(point: QgsPointXY) -> QPoint:
    """Where a map point (canvas CRS) lies on the canvas viewport, in widget pixels."""
    device = iface.mapCanvas().getCoordinateTransform().transform(point)
    return QPoint(round(device.x()), round(device.y()))


def drag_on_canvas(points: list[QgsPointXY]) -> None:
    """Press, move through ``points`` and release the left button on the map canvas, as a hand would."""
    viewport = iface.mapCanvas().viewport()
    pixels = [canvas_pixel(p) for p in points]
    QTest.mousePress(viewport, Qt.LeftButton, Qt.NoModifier, pixels[0])
    for pixel in pixels[1:]:
        # QTest.mouseMove only warps the X cursor (asynchronous); a move event with the button held is exact.
        move = QMouseEvent(QEvent.MouseMove, QPointF(pixel), Qt.NoButton, Qt.LeftButton, Qt.NoModifier)
        QApplication.sendEvent(viewport, move)
    QTest.mouseRelease(viewport, Qt.LeftButton, Qt.NoModifier, pixels[-1])


def click_on_canvas(point: QgsPointXY) -> None:
    QTest.mouseClick(iface.mapCanvas().viewport(), Qt.LeftButton, Qt.NoModifier, canvas_pixel(point))


def quit_qgis() -> None:
    """Close the project, then quit as File ▸ Exit does (plugins unloaded); if a question blocks that,
    end the event loops anyway a little later."""
    QTimer.singleShot(QUIT_GRACE_MS, lambda: QgsApplication.exit(1))
    # Closed while the window is alive: QGIS 3.22 crashes when a project with layers is destroyed after it.
    QgsProject.instance().clear()
    active = QgsApplication.taskManager().countActiveTasks()
    print(f"HyperSynth walkthrough: quitting ({active} active tasks)", flush=True)
    if active == 0:
        iface.actionExit().trigger()
    else:
        QgsApplication.exit(0)


def main() -> None:
    out = Path(os.environ["HYPERSYNTH_E2E_OUT"])
    out.mkdir(parents=True, exist_ok=True)
    walkthrough = Walkthrough(out)
    globals()["_hypersynth_e2e"] = walkthrough  # QGIS runs this file in __main__: keep the object alive
    walkthrough.start(float(os.environ.get("HYPERSYNTH_E2E_TIMEOUT", "600")))


main()
