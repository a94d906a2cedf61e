"""The HyperSynth dock: scene, classes and labels, prompts, and the Augment & Classify button."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
from qgis.core import Qgis, QgsRasterLayer, QgsTask, QgsVectorLayer
from qgis.gui import QgsDockWidget
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QElapsedTimer, Qt, QTimer, QUrl, pyqtSignal
from qgis.PyQt.QtGui import QDesktopServices
from qgis.PyQt.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QTabWidget, QVBoxLayout, QWidget

from ..core.ldm.bundle import read_bundle_meta
from ..core.scene import ClassInfo
from ..plugin.label_layer import LabelLayerError, label_raster, labelled_spectra_statistics
from ..plugin.layers import LayerLoadError, add_patch_mosaic, gdal_name, layer_file
from ..plugin.rendering import composite_rgb, read_pixel_values
from ..plugin.runs import accuracy_line
from ..plugin.tasks import CANCELLED_MESSAGE, EngineTask, TaskRunner
from .attention_dock import ANCHORED_CAPTION, PATCH_CAPTION, AttentionDock
from .classes_panel import HINT_STYLE, ClassesPanel, EmptyHint, duplicate_names, enable_unless
from .prompts_panel import PromptsPanel
from .run_dialog import RunDialog
from .scene_panel import ScenePanel, scene_problem
from .spectral_dock import SpectralProfileDock

MESSAGE_SECONDS = 6  # how long dock messages stay in QGIS's message bar
_SEVERITY = {Qgis.Info: 0, Qgis.Success: 0, Qgis.Warning: 1, Qgis.Critical: 2}  # which dock message may replace which
LABEL_CLASS_FIELD = "class_id"  # the label layer's class field, passed to the engine
RUN_TEXT = "Augment && Classify…"  # the run button when no run of the dock's is going
RUN_TIP = "Synthesise extra labelled patches from the prompts, train, classify the scene"
CLASS_SPECTRA_TIP = "Mean ± std spectrum of each class's labelled pixels"
APPLY_TIP = "Write the selected class's prompt from the template"
APPLY_ALL_TIP = "Set every class's prompt to its name (asks before replacing prompts you wrote)"
PREVIEW_TIP = ("Synthesise a few patches from the selected class's prompt (with the synthesis model of the last "
               "Augment & Classify run: run it once first)")
NO_PROMPTS_HINT = "No classes yet: add them in tab 2 (Classes & labels), then write each class's prompt here."
RUN_NOTE = ("This run took the classes, prompts and labels as they were when it started: edits made now "
            "apply to the next run.")
TICK_MS = 1000  # how often the elapsed time of a run is updated
SAMPLE_LINK = "hypersynth:validation-sample"  # the status line's link that asks for a validation sample of the map
SAMPLE_ASK = (f'for an unbiased estimate of the accuracy and class areas, <a href="{SAMPLE_LINK}">draw a validation '
              'sample</a>')  # after a run


ONE_RUN_ONLY = ("overwrite", "approved_outputs")  # the dialog's answers for one run, never carried to the next


# the preview's spectra besides its patches, converted from the engine's units as the patches are
SPECTRA_SHOWN = ("labelled_mean", "prompt_alone_mean", "without_prompt_mean")


class HyperSynthDock(QgsDockWidget):
    """The analyst's workflow in one dock: Scene → Classes & labels → Prompts → Augment & Classify.

    Args:
        iface: the QGIS interface (map canvas, message bar, dock areas).
    """

    runRequested = pyqtSignal(dict)  # the run dialog's values + scene/label layer ids + classes
    previewRequested = pyqtSignal(int, str)  # class id, prompt: synthesise a few patches to look at
    sampleRequested = pyqtSignal()  # the status line's link: draw a validation sample of the last run's map

    def __init__(self, iface, parent: Optional[QWidget] = None) -> None:
        super().__init__("HyperSynth", parent)
        self.setObjectName("HyperSynthDock")
        self.iface = iface
        self._spectral: Optional[SpectralProfileDock] = None
        self._attention: Optional[AttentionDock] = None
        self._text_source = ""  # the last run's model's text encoder (its bundle's text_source): shown docks say it
        self._message_item: tuple[Any, Any] = (None, None)  # the message bar's item of the dock's last message, level
        self.preview_model: Optional[str] = None  # the synthesis model a prompt preview samples from (the plugin's)
        self._run_task: Any = None  # the EngineTask this dock started and follows, while it runs
        self.spectra_tasks = TaskRunner()  # the labelled class spectra being read from the scene file
        self.last_run_settings: dict[str, Any] = {}  # the last run dialog's values: the next dialog starts there

        body = QWidget()
        layout = QVBoxLayout(body)
        self.tabs = QTabWidget()
        self.scene_panel = ScenePanel()
        self.classes_panel = ClassesPanel(iface.mapCanvas() if iface is not None else None)
        self.prompts_panel = PromptsPanel()
        self.tabs.addTab(self.scene_panel, "1 Scene")
        self.tabs.addTab(self.classes_panel, "2 Classes && labels")
        self.tabs.addTab(self.prompts_panel, "3 Prompts")
        layout.addWidget(self.tabs, 1)

        views = QHBoxLayout()
        self.spectra_button = QPushButton("Spectral profile")
        self.spectra_button.setToolTip("Open the spectral profile dock: click pixels, compare with class spectra")
        self.spectra_button.clicked.connect(lambda: self.spectral_dock().show())
        self.class_spectra_button = QPushButton("Class spectra")
        self.class_spectra_button.setToolTip(CLASS_SPECTRA_TIP)
        self.class_spectra_button.clicked.connect(self.show_labelled_class_spectra)
        views.addWidget(self.spectra_button)
        views.addWidget(self.class_spectra_button)
        layout.addLayout(views)
        self.run_button = QPushButton(RUN_TEXT)
        self.run_button.setToolTip(RUN_TIP)
        self.run_button.setMinimumHeight(32)
        self.run_button.clicked.connect(self._run_button_clicked)
        layout.addWidget(self.run_button)
        self.progress = QProgressBar()  # the followed run's fraction and elapsed time; hidden when none runs
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
        self.run_note = QLabel(RUN_NOTE)  # while a run goes: what the analyst edits now does not reach it
        self.run_note.setWordWrap(True)
        self.run_note.setStyleSheet(HINT_STYLE)
        self.run_note.setVisible(False)
        layout.addWidget(self.run_note)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.linkActivated.connect(self._status_link)  # the finished run's report, and its sample
        layout.addWidget(self.status)
        self.setWidget(body)
        self._run_clock = QElapsedTimer()
        self._run_ticker = QTimer(self, interval=TICK_MS)
        self._run_ticker.timeout.connect(self._show_run_progress)
        self.prompts_hint = EmptyHint(self.prompts_panel.table, NO_PROMPTS_HINT,
                                      lambda: self.prompts_panel.table.rowCount() == 0)

        self.scene_panel.sceneChanged.connect(self._scene_changed)
        self.classes_panel.classesChanged.connect(self.prompts_panel.set_classes)
        self.classes_panel.message.connect(self.show_message)
        self.prompts_panel.promptChanged.connect(self.classes_panel.set_prompt)
        self.prompts_panel.previewRequested.connect(self.previewRequested)
        self.prompts_panel.previewSaved.connect(self._show_saved_patches)
        for signal in (self.classes_panel.classesChanged, self.classes_panel.labelLayerChanged,
                       self.classes_panel.countsChanged, self.prompts_panel.table.itemSelectionChanged):
            signal.connect(self._update_actions)  # after the panels' own slots: they are up to date
        self._scene_changed(self.scene_panel.scene_layer())

    # --- what the plugin asks -------------------------------------------------------------------------
    def set_scene_layer(self, layer: Optional[QgsRasterLayer]) -> None:
        self.scene_panel.set_scene_layer(layer)

    def scene_layer(self) -> Optional[QgsRasterLayer]:
        return self.scene_panel.scene_layer()

    def current_classes(self) -> list[ClassInfo]:
        return self.classes_panel.classes()

    def set_classes(self, classes: list[ClassInfo]) -> None:
        self.classes_panel.set_classes(classes)

    def label_layer(self) -> Optional[QgsVectorLayer]:
        return self.classes_panel.label_layer()

    def set_label_layer(self, layer: Optional[QgsVectorLayer]) -> None:
        self.classes_panel.set_label_layer(layer)

    def reset_project_state(self) -> None:
        """Forget what belonged to the project that was closed: scene, label layer, classes with their prompts, the
        brush radius (in its map units), the last run's settings, the prompt preview, and what the spectral and
        attention docks show. The label layer itself is left as it is (nothing is saved or rolled back here); a run
        still going is still followed, and its end says that its scene left the project."""
        self.set_scene_layer(None)
        self.set_label_layer(None)
        self.set_classes([])
        self.classes_panel.radius.setValue(0.0)  # auto: a radius was in the closed project's map units
        self.last_run_settings = {}
        self.spectra_tasks.cancel_all(detach=True)  # the closed project's labels: nothing to show of them
        self.prompts_panel.clear_preview()
        if self._spectral is not None:
            self._spectral.forget_project()
        if self._attention is not None:
            self._attention.clear()
        if not self.running():
            self.status.setText("")

    def show_message(self, text: str, level: Qgis.MessageLevel = Qgis.Info) -> None:
        """Tell the analyst something, in the dock and in QGIS's message bar. The dock's messages replace each other
        there as in its status line: stacked, an earlier one ("Drawing … (progress and Cancel in QGIS's task
        manager)") came back when a later one expired, after the work it announced was done."""
        self.status.setText(text)
        if self.iface is None:
            return
        bar = self.iface.messageBar()
        previous, said = self._message_item
        if (previous is not None and not sip.isdeleted(previous) and previous in bar.items()
                and _SEVERITY.get(said, 0) <= _SEVERITY.get(level, 0)):  # a warning stays until read, under a note
            bar.popWidget(previous)
        bar.pushMessage("HyperSynth", text, level, MESSAGE_SECONDS)
        self._message_item = (bar.currentItem(), level)  # None where a test's message bar records messages only

    def _scene_changed(self, layer: Optional[QgsRasterLayer]) -> None:
        readable = layer is not None and layer.isValid() and layer.providerType() == "gdal"
        self.classes_panel.set_scene_layer(layer if readable else None)  # labels are counted on a file's pixels
        if self._spectral is not None:
            self._spectral.set_scene_layer(layer)
        self._update_actions()

    def _update_actions(self, *_args: object) -> None:
        """Enable the dock's buttons that can act now; a disabled one's tooltip says what it needs."""
        scene, labels, classes = self.scene_layer(), self.label_layer(), self.current_classes()
        scene_wrong = scene_problem(scene)
        labelled = sum(self.classes_panel.pixel_counts().values())
        spectra_needs = ("Needs a scene (tab 1)" if scene is None else
                         f"Needs a scene it can read: {scene_wrong}" if scene_wrong else
                         "Needs a label layer (tab 2)" if labels is None else
                         "Needs labelled pixels: draw labels with the Brush or Polygon tool (tab 2)" if not labelled
                         else "")
        enable_unless(self.class_spectra_button, CLASS_SPECTRA_TIP, spectra_needs)
        if not self.running():  # while a run goes the button is its Cancel
            needs = [what for what, missing in (
                ("a scene (tab 1)", scene is None), (f"a scene it can read: {scene_wrong} (tab 1)", bool(scene_wrong)),
                ("a label layer (tab 2)", labels is None), ("at least two classes (tab 2)", len(classes) < 2),
                # the layer's own labels, not the pixel counts: labels off the scene or in another CRS are the
                # run's refusal to explain (run_problems), not a reason to draw more
                ("labelled pixels of at least two classes: draw labels with the Brush or Polygon tool (tab 2)",
                 labels is not None and len(classes) >= 2 and len(self.classes_panel.label_class_ids()) < 2))
                if missing]
            enable_unless(self.run_button, RUN_TIP, "Needs " + "; ".join(needs) if needs else "")
        prompts = self.prompts_panel
        selected = "" if prompts.current_class_id() is not None else (
            "Needs a class: select it in the table" if classes else "Needs a class: add one in tab 2")
        enable_unless(prompts.apply_button, APPLY_TIP, selected)
        enable_unless(prompts.apply_all_button, APPLY_ALL_TIP, "" if classes else "Needs classes: add them in tab 2")
        enable_unless(prompts.preview_button, PREVIEW_TIP, selected or (
            "" if self.preview_model else "Needs a trained synthesis model: run Augment & Classify once, its model "
            "is then reused for previews"))
        self.prompts_hint.update_shown()

    # --- the other docks ------------------------------------------------------------------------------
    def spectral_dock(self) -> SpectralProfileDock:
        """The spectral profile dock (created and added to QGIS on first use)."""
        if self._spectral is None:
            self._spectral = SpectralProfileDock(self.iface, self.iface.mainWindow() if self.iface else None)
            self._spectral.set_scene_layer(self.scene_layer())
            if self.iface is not None:
                self.iface.addDockWidget(Qt.RightDockWidgetArea, self._spectral)
        return self._spectral

    def attention_dock(self) -> AttentionDock:
        """The cross-attention dock (created and added to QGIS on first use)."""
        if self._attention is None:
            self._attention = AttentionDock(self.iface.mainWindow() if self.iface else None)
            self._attention.set_text_source(self._text_source)
            if self.iface is not None:
                self.iface.addDockWidget(Qt.BottomDockWidgetArea, self._attention)
        return self._attention

    def show_labelled_class_spectra(self) -> Optional[EngineTask]:
        """Compute each class's mean ± std spectrum from its labels and overlay it in the spectral dock.

        The labels are burnt onto the scene grid here (their shapes are QGIS objects, and it is quick); the labelled
        pixels' spectra are read from the scene file in a task (on a full-size scene that reads every block of every
        band under the labels: seconds, which on the main thread would freeze QGIS), and the spectral dock shows them
        when it ends. A click while they are read starts over with the labels as they are then.

        Returns:
            The task reading the spectra (its ``result``: class id -> ``(mean (B,), std (B,))``); None when there is
            nothing to read (the message says why).
        """
        scene, labels = self.scene_layer(), self.label_layer()
        if scene is None or labels is None:
            self.show_message("Choose a scene and a label layer first.", Qgis.Warning)
            return None
        try:
            window, origin = label_raster(labels, scene, features=self.classes_panel.label_features())
        except LabelLayerError as error:
            self.show_message(str(error), Qgis.Warning)
            return None
        dock = self.spectral_dock()
        dock.show()
        labelled = int((window > 0).sum())
        if not labelled:
            self.show_message("No labelled pixels yet: draw labels with the Brush or Polygon tool.", Qgis.Warning)
            dock.set_class_statistics({}, self.current_classes(), source="labels")
            return None
        self.spectra_tasks.cancel_all(detach=True)  # an earlier click's labels may have changed since
        path = gdal_name(scene.source())

        def shown(stats: dict[int, tuple[np.ndarray, np.ndarray]]) -> None:  # main thread
            spectral = self.spectral_dock()
            spectral.set_class_statistics(stats, self.current_classes(), source="labels")
            spectral.status.setText(f"Labelled class spectra: {len(stats)} class{'es' if len(stats) != 1 else ''}, "
                                    f"{labelled} labelled pixel{'s' if labelled != 1 else ''}.")

        def failed(message: str) -> None:  # main thread
            if message != CANCELLED_MESSAGE:
                self.show_message(f"The class spectra could not be read: {message}", Qgis.Warning)

        task = EngineTask(f"Class spectra of {labels.name()}",
                          lambda reporter: labelled_spectra_statistics(path, window, origin, reporter=reporter),
                          on_success=shown, on_failure=failed)
        dock.status.setText(f"Reading the spectra of {labelled} labelled pixel{'s' if labelled != 1 else ''}…")
        return self.spectra_tasks.submit(task)

    def show_synthetic_class_spectra(self, stats: dict[int, tuple[np.ndarray, np.ndarray]],
                                     wavelengths: Optional[Sequence[float]] = None,
                                     classes: Optional[Sequence[ClassInfo]] = None) -> None:
        """Overlay per-class mean ± std of synthetic samples (from a run) in the spectral dock, named and coloured
        as ``classes`` (the run's; default the dock's)."""
        dock = self.spectral_dock()
        dock.set_class_statistics(stats, list(classes) if classes is not None else self.current_classes(),
                                  source="synthetic", wavelengths=wavelengths)
        dock.show()

    def show_preview(self, patches: np.ndarray, wavelengths: Optional[Sequence[float]] = None,
                     title: str = "", attention: Optional[dict[str, Any]] = None, anchored: bool = False,
                     class_name: str = "", **facts: Any) -> None:
        """Show preview patches in the Prompts tab; ``attention`` (AttentionDock.set_attention keywords)
        also fills the attention dock, its patch said to start from a labelled one where ``anchored``; ``facts``
        are ``PromptsPanel.show_preview``'s other keywords (``patch_file``, ``labelled_mean``, ``start``, what the
        prompt does, …), its spectra in the engine's units."""
        scene = self.scene_layer()  # the preview's values are the scene's as the engine reads them: said so
        values = read_pixel_values(scene.source()) if scene is not None else None
        if values is not None:  # in the units the profile dock and QGIS show the scene in
            patches = values.from_engine(patches)
            for key in SPECTRA_SHOWN:
                if facts.get(key) is not None:
                    facts[key] = values.from_engine(facts[key])
            facts["value_title"] = values.axis_title()
        self.prompts_panel.show_preview(patches, wavelengths, title, anchored=anchored, class_name=class_name,
                                        **facts)
        self.tabs.setCurrentWidget(self.prompts_panel)
        if attention is not None:
            keywords = dict(attention)
            if keywords.get("patch_rgb") is None and len(patches):  # the maps are of the first patch: draw it under
                keywords["patch_rgb"] = composite_rgb(np.asarray(patches), wavelengths, "false colour")[0]
            dock = self.attention_dock()
            if anchored:
                keywords.setdefault("patch_caption", ANCHORED_CAPTION)
            named = f"{class_name.replace('_', ' ')}: " if class_name else ""  # the class it started from
            dock.set_attention(**keywords, source=f"preview of {named}“{title}”" if title else "preview")
            dock.closed_by_analyst = False  # asked for: shown, and after the next run too
            dock.show()

    def _show_saved_patches(self, written: list[str]) -> None:
        """A saved preview's mosaic goes on the map as Processing's Synthesise puts one there (false colour, its
        classes hidden above it): a spectral library or an archive has nothing to show."""
        if not written or Path(written[0]).suffix.lower() != ".tif":
            return
        try:
            mosaic = add_patch_mosaic(written[0])[0]
        except LayerLoadError as error:
            self.show_message(str(error), Qgis.Warning)
            return
        # The mosaic lies on a pixel grid of its own, with no place on Earth: added alone it sat far off the scene and
        # the map did not change, as if Save had added nothing. The map goes to it, and the dock says how to go back.
        if self.iface is not None:
            canvas = self.iface.mapCanvas()
            canvas.setExtent(mosaic.extent())
            canvas.refresh()
        self.show_message(f"The saved patches are on the map ({mosaic.name()}), on a pixel grid of their own, away "
                          "from the scene: Zoom to Layer on the scene brings it back.")

    def show_run_attention(self, rows: Sequence[Any], wavelengths: Optional[Sequence[float]] = None,
                           source: str = "") -> None:
        """Fill the attention dock with a run's one synthetic patch per class (``core.attention.ClassAttention``
        rows), picked by class; the patches' false colours are stretched together so they compare."""
        if not rows:
            return
        pictures = composite_rgb(np.stack([r.patch for r in rows]), wavelengths, "false colour")  # (N, p, p, 3)
        choices = [(r.name, {"attention": r.attention, "tokens": r.tokens, "latent_hw": r.latent_hw,
                             "patch_rgb": picture,
                             "patch_caption": ANCHORED_CAPTION if r.anchored else PATCH_CAPTION})
                   for r, picture in zip(rows, pictures)]
        dock = self.attention_dock()
        dock.set_class_choices(choices, source)
        if not dock.closed_by_analyst:  # an analyst who closed it finds it filled in View ▸ Panels
            dock.show()

    # --- running ----------------------------------------------------------------------------------------
    def run_problems(self) -> list[str]:
        """What must be fixed before a run (empty when it can start)."""
        problems = []
        if self.running():
            problems.append(f"{self._run_task.title} is still running; wait for it or cancel it")
        scene = self.scene_layer()
        scene_wrong = scene_problem(scene)
        if scene is None:
            problems.append("choose a scene (tab 1)")
        elif scene_wrong:
            problems.append(f"{scene_wrong} (tab 1)")
        labels = self.label_layer()
        if labels is None:
            problems.append("choose or create a label layer (tab 2)")
        counts = None
        if labels is not None and scene is not None and not scene_wrong:
            counts = self.classes_panel.refresh_counts()  # the last edit's count, unless the labels changed since
        label_trouble = self.classes_panel.label_problems()  # labels of no class, ids out of range, off the scene
        problems.extend(f"{p} (tab 2)" for p in label_trouble)
        classes = self.current_classes()
        clash = duplicate_names(classes)
        if clash:
            problems.append(f"{clash} (tab 2)")
        if len(classes) < 2:
            problems.append("define at least two classes (tab 2)")
        elif labels is not None and counts is not None and not label_trouble:
            unlabelled = [c.name for c in classes if counts.get(c.id, 0) == 0]
            if not counts and self.classes_panel.label_class_ids():
                problems.append(f"the labels of '{labels.name()}' cover no pixel of the scene: they lie outside it "
                                "(draw them on the scene, or check the label layer's CRS) (tab 2)")
            elif len([c for c in classes if counts.get(c.id, 0) > 0]) < 2:  # and name all that have none at once
                problems.append(f"label pixels of at least two classes ({', '.join(unlabelled)} "
                                f"{'has' if len(unlabelled) == 1 else 'have'} none) (tab 2)")
            elif unlabelled:
                problems.append(f"label some pixels of {', '.join(unlabelled)}, or delete "
                                f"{'that class' if len(unlabelled) == 1 else 'those classes'} (tab 2)")
        return problems

    def run_values(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The run request: the dialog's settings plus the scene, label layer and classes."""
        scene, labels = self.scene_layer(), self.label_layer()
        values = dict(settings)
        values.update({
            "method": "augment",
            "scene_layer_id": scene.id() if scene is not None else "",
            "label_layer_id": labels.id() if labels is not None else "",
            "class_field": LABEL_CLASS_FIELD,
            "classes": self.current_classes(),
        })
        return values

    def request_run(self, settings: dict[str, Any]) -> Optional[dict[str, Any]]:
        """Emit ``runRequested`` with :meth:`run_values`, unless something must be fixed first."""
        problems = self.run_problems()
        if problems:
            self.show_message("Before Augment & Classify: " + "; ".join(problems) + ".", Qgis.Warning)
            return None
        values = self.run_values(settings)
        self.last_run_settings = {k: v for k, v in settings.items() if k not in ONE_RUN_ONLY}
        self.status.setText("Augment & Classify requested…")  # follow_run or run_refused says what became of it
        self.runRequested.emit(values)  # the plugin starts the task and calls follow_run with it
        return values

    def follow_run(self, task: Any) -> None:
        """Show ``task``'s stage and progress under the button, which cancels it until it ends.

        ``task`` is the plugin's EngineTask (a QgsTask whose description carries the stage). A heavy run
        uses every CPU core, so the dock runs one at a time: the button is its Cancel while it runs.
        """
        self._run_task = task
        task.progressChanged.connect(self._run_progressed)
        task.taskCompleted.connect(self._run_ended)
        task.taskTerminated.connect(self._run_ended)
        # the plugin's EngineTask: its stage once set on this thread (a stage said before this connected reaches the
        # task's description after the progress read below: the queued signal's receivers were fixed when it left)
        shown = getattr(task, "stage_shown", None)
        if shown is not None:
            shown.connect(self._run_stage_said)
        self.run_button.setText("Cancel Augment && Classify")
        self.run_button.setEnabled(True)
        self.run_button.setToolTip(f"Stop {task.title}; nothing it would write is kept (a Cancel once its files are "
                                   "in place lets it finish)")
        self.status.setText(f"{task.title}: waiting for the task manager to start it…")
        self._run_clock.start()
        self._run_ticker.start()
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.run_note.setVisible(True)
        self._show_run_progress()
        # The task may have moved on before the signals were connected: show where it is now.
        if task.status() in (QgsTask.Complete, QgsTask.Terminated):
            self._run_ended()
        elif task.progress() > 0:
            self._run_progressed(task.progress())

    def run_refused(self, message: str) -> None:
        """The plugin did not start the requested run: say why under the button (the message bar has it too)."""
        self.status.setText(f"Augment & Classify did not start: {message}")

    def set_preview_model(self, path: Optional[str]) -> None:
        """The synthesis model prompt previews sample from (the last run's), or None: Preview waits for one."""
        self.preview_model = path
        self.prompts_panel.set_model_ready(path is not None)
        self.prompts_panel.save_folder = str(Path(path).parent) if path else ""  # the run's output folder
        meta = read_bundle_meta(path) if path is not None else {}  # a JSON read: no weights
        self._text_source = str(meta.get("text_source", ""))  # the attention dock says when it is no CLIP
        self.prompts_panel.set_text_source(self._text_source)
        if self._attention is not None:
            self._attention.set_text_source(self._text_source)
        self._update_actions()

    def preview_unavailable(self, message: str) -> None:
        """A prompt preview could not be made: say why where the preview would have been."""
        self.prompts_panel.preview_title.setText(f"No preview: {message}")

    def running(self) -> bool:
        """Whether a run this dock started is still going."""
        return self._run_task is not None

    def _run_progressed(self, percent: float) -> None:
        task = self._run_task
        if task is not None:
            self.progress.setValue(int(round(percent)))
            self.status.setText(task.description())  # the title and the stage; the bar has the fraction
            self._show_run_progress()

    def _run_stage_said(self, description: str) -> None:
        """The followed run's new stage ("Augment & Classify scene: classifier"), as the task's description gets it: a
        run that said its stage before the dock followed it showed its title alone until its next progress."""
        if self._run_task is not None and self._run_task.status() not in (QgsTask.Complete, QgsTask.Terminated):
            self.status.setText(description)

    def _show_run_progress(self) -> None:
        """The bar's text: the fraction done and the time since the run was asked for (ticks while a stage is long)."""
        if self._run_task is None:
            return
        elapsed = _clock(self._run_clock.elapsed() / 1000.0)
        self.progress.setFormat(f"%p % · {elapsed} elapsed")

    def run_elapsed(self) -> float:
        """Seconds since the followed run was asked for; 0 when none is followed."""
        return self._run_clock.elapsed() / 1000.0 if self._run_task is not None else 0.0

    def _run_ended(self) -> None:
        task, self._run_task = self._run_task, None
        self._run_ticker.stop()
        self.progress.setVisible(False)
        self.run_note.setVisible(False)
        self.run_button.setText(RUN_TEXT)
        self.run_button.setToolTip(RUN_TIP)
        self._update_actions()
        if task is None:
            return
        report = getattr(task.result, "report", None)
        if task.error is None and task.result is not None:
            link = f'; <a href="{Path(report).with_suffix(".html").as_uri()}">open the report</a>' if report else ""
            where = ("its layers are in the project" if getattr(task, "layers_added", True) else
                     f"its scene left the project, so nothing was added (the map is in "
                     f"{html.escape(str(Path(report).parent)) if report else 'its output folder'})")
            accuracy = accuracy_line(getattr(task.result, "metrics", None),  # validation's, else the labels' CV's
                                     labels_cv=getattr(task.result, "labels_cv_accuracy", None))
            where += f"; {accuracy}" if accuracy else ""
            sample = f"; {SAMPLE_ASK}" if getattr(task, "layers_added", True) else ""  # its map is in the project
            self.status.setText(f"{html.escape(task.title)}: finished, {where}{link}{sample}.")
        elif task.error in (None, CANCELLED_MESSAGE):
            self.status.setText(f"{task.title}: cancelled; nothing was written.")
        else:
            self.status.setText(f"{task.title} failed: {task.error} (details in the HyperSynth log).")

    def _status_link(self, href: str) -> None:
        """A link of the status line: the validation sample asked of the plugin, a report opened in the browser."""
        if href == SAMPLE_LINK:
            self.sampleRequested.emit()
        else:
            QDesktopServices.openUrl(QUrl(href))

    def _run_button_clicked(self) -> None:
        if self._run_task is not None:
            self.status.setText(f"{self._run_task.title}: cancelling at the next checkpoint…")
            self._run_task.cancel()
            return
        self.open_run_dialog()

    def run_defaults(self) -> dict[str, Any]:
        """The run dialog's starting values: the last run's (kept in the project too), else the plugin settings."""
        from ..plugin.settings import HyperSynthSettings

        stored = HyperSynthSettings.load()
        return {"preset": stored.preset, "device": stored.device, "output_folder": stored.output_dir,
                **self.last_run_settings}

    def open_run_dialog(self) -> None:
        problems = self.run_problems()
        if problems:
            self.show_message("Before Augment & Classify: " + "; ".join(problems) + ".", Qgis.Warning)
            return
        dialog = RunDialog(self, self.run_defaults(), inputs=self.run_inputs(), scene=self.scene_layer(),
                           labels=self.label_layer())
        if dialog.exec_() == RunDialog.Accepted:
            self.request_run(dialog.values())

    def run_inputs(self) -> list[str]:
        """The files the run reads (the scene's and the label layer's): no output may replace them."""
        return [path for path in map(layer_file, (self.scene_layer(), self.label_layer())) if path is not None]

    def cleanup(self) -> None:
        """Remove the docks this dock added, stop the scene imports, the label draws and the class spectra being read,
        and release the canvas tools (call from the plugin's unload)."""
        self.scene_panel.cleanup()
        self.classes_panel.label_draws.cancel_all(detach=True)
        self.spectra_tasks.cancel_all(detach=True)
        self._run_ticker.stop()
        canvas = self.iface.mapCanvas() if self.iface is not None else None
        for tool in (self.classes_panel.brush, self.classes_panel.polygon,
                     self._spectral.identify_tool() if self._spectral is not None else None):
            if tool is not None and canvas is not None and canvas.mapTool() is tool:
                canvas.unsetMapTool(tool)
        for dock in (self._spectral, self._attention):
            if dock is not None:
                if self.iface is not None:
                    self.iface.removeDockWidget(dock)
                dock.deleteLater()
        self._spectral = self._attention = None


def _clock(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour on) of a duration."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
