"""The QGIS plugin object: Processing provider, the "Augment & Classify" action and dock, background runs."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any, Optional

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsMessageLog,
    QgsProject,
    QgsRasterLayer,
)
from qgis.PyQt.QtCore import QCoreApplication, Qt
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

from ..core.outputs import missing_folders, remove_if_empty
from ..core.scene import ClassInfo
from .algorithms.base import ICON
from .dependencies import MENU, report_missing_dependencies
from .layers import gdal_name, layer_file
from .provider import HyperSynthProvider
from .settings import HyperSynthSettings
from .runs import (RunRequest, accuracy_line, check_output_folder, classify_job, copied_layer_name, has_unsaved_edits,
                   label_file_for, preview_job, problem_text, remove_scratch, scene_in_project, validation_field_for,
                   validation_problem)
from .tasks import CANCELLED_MESSAGE, LOG_TAG, EngineTask, TaskRunner

RUN_TITLES = {"augment": "Augment & Classify", "cnn": "CNN", "cnn-pseudo": "CNN + forest blend, no synthesis",
              "rf": "Random forest", "svm": "SVM"}
REQUIRED = {"scene_layer_id": "scene layer", "label_layer_id": "label layer", "classes": "classes"}
FALLBACK_ALGORITHM = "hypersynth:classifybaseline"  # opened by the action when the dock cannot load


class HyperSynthPlugin:
    """What QGIS loads: ``initProcessing`` registers the provider, ``initGui`` adds the action and dock."""

    def __init__(self, iface: Any) -> None:
        from .dependencies import keep_triton_out

        keep_triton_out()  # before any job imports torch: triton's LLVM crashes beside QGIS's Mesa
        self.iface = iface
        self.provider: Optional[HyperSynthProvider] = None
        self.actions: list[QAction] = []
        self.settings_action: Optional[QAction] = None  # "Settings…" in the menu (not on the toolbar)
        self.classify_action: Optional[QAction] = None  # "Classify with a Saved Classifier…" in the menu
        self.sample_action: Optional[QAction] = None  # "Draw a Validation Sample…" in the menu
        self.toolbar = None
        self.dock = None
        self.tasks = TaskRunner()
        self._last_bundle: Optional[str] = None  # the synthesis model of the last run, used for prompt previews
        self.last_run: Optional[tuple[str, str]] = None  # (output folder, title) of the run the docks show
        self._restoring = False  # the dock is being filled from the project, or emptied with it: nothing to write
        self._project_generation = 0  # counts the projects cleared: a run's model stays with the one it ran in

    @property
    def last_bundle(self) -> Optional[str]:
        """The synthesis model of the last run, used for prompt previews (the dock's Preview needs one)."""
        return self._last_bundle

    @last_bundle.setter
    def last_bundle(self, path: Optional[str]) -> None:
        self._last_bundle = path
        if self.dock is not None:
            self.dock.set_preview_model(path)

    @staticmethod
    def tr(text: str) -> str:
        return QCoreApplication.translate("HyperSynth", text)

    # --- QGIS entry points ------------------------------------------------------------------------
    def initProcessing(self) -> None:  # noqa: N802 (QGIS API)
        """Register the Processing provider (also called by qgis_process, without a GUI)."""
        if self.provider is not None:
            return
        provider = HyperSynthProvider()
        if QgsApplication.processingRegistry().addProvider(provider):
            self.provider = provider
        else:
            QgsMessageLog.logMessage("a HyperSynth Processing provider is already registered", LOG_TAG, Qgis.Warning)

    def initGui(self) -> None:  # noqa: N802 (QGIS API)
        self.initProcessing()
        report_missing_dependencies(self.iface)
        action = QAction(QIcon(str(ICON)), self.tr("Augment && Classify"), self.iface.mainWindow())
        action.setObjectName("hypersynthAugmentClassify")
        action.setToolTip(self.tr("Classify a hyperspectral scene from a few labels, with synthetic samples"))
        action.setCheckable(True)
        action.triggered.connect(self.show_main)
        self.iface.addPluginToRasterMenu(MENU, action)
        self.toolbar = self.iface.addToolBar(self.tr("HyperSynth"))
        self.toolbar.setObjectName("HyperSynthToolbar")
        self.toolbar.addAction(action)
        self.actions.append(action)
        self.settings_action = QAction(self.tr("Settings…"), self.iface.mainWindow())
        self.settings_action.setObjectName("hypersynthSettings")
        self.settings_action.setToolTip(self.tr("Device, CLIP weights file, default preset and output folder"))
        self.settings_action.triggered.connect(self.open_settings)
        self.iface.addPluginToRasterMenu(MENU, self.settings_action)
        self.classify_action = QAction(self.tr("Classify with a Saved Classifier…"), self.iface.mainWindow())
        self.classify_action.setObjectName("hypersynthClassifyWithSaved")
        self.classify_action.setToolTip(self.tr("Apply the classifier an earlier run saved (its classifier_bundle "
                                                "folder) to a scene of the same sensor"))
        self.classify_action.triggered.connect(self.classify_with_saved)
        self.iface.addPluginToRasterMenu(MENU, self.classify_action)
        self.sample_action = QAction(self.tr("Draw a Validation Sample…"), self.iface.mainWindow())
        self.sample_action.setObjectName("hypersynthDrawValidationSample")
        self.sample_action.setToolTip(self.tr("Points drawn at random from a class map, stratified by its classes, "
                                              "for you to label: the sample its accuracy and areas hold for"))
        self.sample_action.triggered.connect(self.draw_validation_sample)
        self.iface.addPluginToRasterMenu(MENU, self.sample_action)
        self.dock = self._create_dock()
        if self.dock is not None:  # None: the dock could not load, and the action opens Processing instead
            self.dock.set_preview_model(self.last_bundle)
            self.restore_dock_state()  # the plugin enabled with a project open

    def unload(self) -> None:
        """Remove everything initGui/initProcessing added, and stop running tasks."""
        self.tasks.cancel_all(detach=True)
        for action in self.actions:
            self.iface.removePluginRasterMenu(MENU, action)
            if self.toolbar is not None:
                self.toolbar.removeAction(action)
            action.deleteLater()
        self.actions.clear()
        for menu_action in (self.settings_action, self.classify_action, self.sample_action):
            if menu_action is not None:
                self.iface.removePluginRasterMenu(MENU, menu_action)
                menu_action.deleteLater()
        self.settings_action = self.classify_action = self.sample_action = None
        if self.toolbar is not None:
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.dock is not None:
            project = QgsProject.instance()
            for signal, slot in ((project.readProject, self.restore_dock_state),
                                 (project.cleared, self.reset_dock_state)):
                try:
                    signal.disconnect(slot)
                except TypeError:  # not connected
                    pass
            self.dock.cleanup()
            self.iface.removeDockWidget(self.dock)
            self.dock.deleteLater()
            self.dock = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None

    # --- the action and the dock ------------------------------------------------------------------
    def _create_dock(self) -> Any:
        try:
            from ..ui.main_dock import HyperSynthDock
        except Exception:  # noqa: BLE001 (a broken or missing dock must not break the plugin)
            QgsMessageLog.logMessage("the HyperSynth dock could not be loaded; the action opens the Processing "
                                     f"dialog instead:\n{traceback.format_exc()}", LOG_TAG, Qgis.Warning)
            return None
        dock = HyperSynthDock(self.iface, parent=self.iface.mainWindow())
        dock.setObjectName("HyperSynthDock")
        self.iface.addDockWidget(Qt.RightDockWidgetArea, dock)
        dock.hide()
        dock.visibilityChanged.connect(lambda visible: self.actions and self.actions[0].setChecked(visible))
        dock.runRequested.connect(self._run_requested_by_dock)
        dock.previewRequested.connect(self.preview_prompt)
        dock.sampleRequested.connect(self.draw_validation_sample)
        for changed in (dock.scene_panel.sceneChanged, dock.classes_panel.classesChanged,
                        dock.classes_panel.labelLayerChanged):
            changed.connect(self.keep_dock_state)
        QgsProject.instance().readProject.connect(self.restore_dock_state)
        QgsProject.instance().cleared.connect(self.reset_dock_state)
        return dock

    def keep_dock_state(self, *_args: Any) -> None:
        """Write the dock's scene, label layer, classes and prompts into the project, so saving it keeps them."""
        from .project_state import save_dock_state

        if self.dock is not None and not self._restoring:
            save_dock_state(QgsProject.instance(), self.dock, self.last_bundle, self.last_run)

    def restore_dock_state(self, *_args: Any) -> None:
        """Fill the dock from the project just opened (QgsProject.readProject, after its layers are loaded)."""
        from ..core.attention import ATTENTION_ARRAYS
        from ..core.pipeline import CLASS_MAP, REPORT_HTML, SYNTHETIC
        from ..ui.main_dock import SAMPLE_ASK  # the dock is there, so its module loads
        from .project_state import last_run_in, restore_dock_state

        if self.dock is None:
            return
        self._restoring = True  # what the dock signals while it is filled is the project's own state
        try:
            model = restore_dock_state(QgsProject.instance(), self.dock)
        finally:
            self._restoring = False
        if model is not None:
            self.last_bundle = model
        run = last_run_in(QgsProject.instance())
        if run is not None:  # the docks show the last run's synthetic spectra and attention again, as after it
            folder, title = run
            self.last_run = (str(folder), title)
            if (folder / SYNTHETIC).is_file():
                self._show_synthetic_spectra(folder / SYNTHETIC, self.dock.current_classes())
            if (folder / ATTENTION_ARRAYS).is_file():
                self._show_run_attention(folder / ATTENTION_ARRAYS, title)
            report = folder / REPORT_HTML
            if report.is_file():  # the links the run's end gave, back with the project
                sample = f"; {SAMPLE_ASK}" if (folder / CLASS_MAP).is_file() else ""  # a map to draw from
                self.dock.status.setText(f'Last run: {title} in {folder}; <a href="{report.as_uri()}">open its '
                                         f'report</a>{sample}')

    def reset_dock_state(self, *_args: Any) -> None:
        """Empty the dock when the project is cleared (QgsProject.cleared: Project ▸ New, closing it, and just before
        another is read), so the next project does not inherit this one's classes, prompts, model and run settings.

        It runs after QGIS asked whether to save the project and its layers' edits (a New the analyst cancels clears
        nothing), and never saves or rolls back a layer itself. The plugin settings stay.
        """
        from .project_state import forget_dock_state

        self.last_bundle = None
        self.last_run = None
        self._project_generation += 1
        if self.dock is None:
            return
        self._restoring = True  # the new project starts without HyperSynth state: nothing to write into it
        try:
            self.dock.reset_project_state()
        finally:
            self._restoring = False
        forget_dock_state(QgsProject.instance())  # what the dock wrote while the old project's layers left

    def show_main(self, checked: bool = True) -> None:
        """Show or hide the dock; without a dock, open the baseline algorithm's Processing dialog."""
        if self.dock is not None:
            self.dock.setVisible(bool(checked))
            if checked:
                self.dock.raise_()
            return
        if self.actions:
            self.actions[0].setChecked(False)
        import processing

        processing.execAlgorithmDialog(FALLBACK_ALGORITHM, {})

    def classify_with_saved(self, *_args: Any) -> dict:
        """Open Processing's *Classify with a trained classifier* on the dock's scene and the classifier the last
        run saved, when there are (the dock trains; applying a saved classifier is Processing's, in the same
        dialog a model or the toolbox opens). Returns the dialog's results (empty when closed without a run)."""
        import processing

        from ..core.model_folders import CLASSIFIER_FOLDER

        values: dict[str, Any] = {}
        scene = self.dock.scene_layer() if self.dock is not None else None
        if scene is not None:
            values["SCENE"] = scene
        if self.last_run is not None and (Path(self.last_run[0]) / CLASSIFIER_FOLDER).is_dir():
            values["MODEL"] = str(Path(self.last_run[0]) / CLASSIFIER_FOLDER)
        return processing.execAlgorithmDialog("hypersynth:classifywithbundle", values) or {}

    def draw_validation_sample(self, *_args: Any) -> dict:
        """Open Processing's *Draw validation sample* on the last run's class map, when there is one (the layer the
        project shows of it, else its file). Returns the dialog's results (empty when closed without a run)."""
        import processing

        from ..core.pipeline import CLASS_MAP
        from .layers import layer_file, same_file

        values: dict[str, Any] = {}
        if self.last_run is not None and (Path(self.last_run[0]) / CLASS_MAP).is_file():
            path = str(Path(self.last_run[0]) / CLASS_MAP)
            shown = [layer for layer in QgsProject.instance().mapLayers().values()
                     if same_file(layer_file(layer), path)]
            values["CLASS_MAP"] = shown[0] if shown else path
        return processing.execAlgorithmDialog("hypersynth:samplevalidation", values) or {}

    def open_settings(self) -> bool:
        """Open the settings dialog (modal); True when the analyst saved new settings."""
        from .settings_dialog import HyperSynthSettingsDialog

        dialog = HyperSynthSettingsDialog(self.iface.mainWindow())
        return bool(dialog.exec_())

    # --- background runs --------------------------------------------------------------------------
    def run_from_dock(self, values: dict) -> Optional[EngineTask]:
        """Start a run from the dock's ``runRequested`` values; a bad request becomes a message."""
        try:
            request = self.request_from_values(values)
        except (KeyError, ValueError, OSError) as exc:  # nothing may escape to QGIS as a traceback
            message = problem_text(exc)
            self.iface.messageBar().pushMessage("HyperSynth", message, Qgis.Warning, 10)
            if self.dock is not None:
                self.dock.run_refused(message)
            return None
        from ..core.outputs import runs_in_progress

        others = runs_in_progress()
        if others:  # a Processing run, say: both go on, but each several times slower
            self.iface.messageBar().pushMessage(
                "HyperSynth", f"{request.title} shares the CPU with {'; '.join(others)}, which is still going: both "
                "run several times slower until one ends (cancel one to speed up the other).", Qgis.Warning, 10)
        return self.start_run(request)

    def _run_requested_by_dock(self, values: dict) -> None:
        if self.dock is not None and self.dock.running():  # the dock runs one at a time: its button is Cancel
            self.dock.run_refused("a run of the dock is still going; wait for it or cancel it")
            return
        task = self.run_from_dock(values)
        self.keep_dock_state()  # the dialog's settings: the next run, and the reopened project, start from them
        if task is not None and self.dock is not None:
            self.dock.follow_run(task)

    def request_from_values(self, values: dict) -> RunRequest:
        """Resolve layer ids to files and fill defaults from the settings (main thread).

        ``values`` keys: ``scene_layer_id``, ``label_layer_id``, ``classes``, ``output_folder`` (required);
        ``preset``, ``device``, ``seed``, ``patch_size``, ``synthetic_per_class``, ``guidance``,
        ``balance_rate``, ``synthetic_weight``, ``anchor_strength``, ``pseudo_labels``, ``spatial_smoothing``,
        ``diffusion_features``, ``bundle``, ``class_field``, ``method``, ``overwrite``, ``validation_layer_id`` and
        ``validation_field`` (validation labels for the report's accuracy; the field typed, empty: guessed)
        (optional).
        """
        settings = HyperSynthSettings.load()
        project = QgsProject.instance()
        missing = [what for key, what in REQUIRED.items() if not values.get(key)]
        if missing:
            raise ValueError(f"cannot run: choose the {' and the '.join(missing)} first")
        method = values.get("method") or "augment"
        if method not in RUN_TITLES:
            raise ValueError(f"unknown method {method!r}; choose one of {', '.join(RUN_TITLES)}")
        scene = project.mapLayer(values["scene_layer_id"])
        if not isinstance(scene, QgsRasterLayer) or scene.providerType() != "gdal":
            raise ValueError("the scene must be a raster layer read from a file; choose one in the Scene panel")
        from ..ui.scene_panel import scene_problem

        wrong = scene_problem(scene)
        if wrong:
            raise ValueError(wrong)
        out_dir = values.get("output_folder") or settings.output_dir
        if not out_dir:
            raise ValueError("choose an output folder (in the run dialog or the HyperSynth settings)")
        label_layer = project.mapLayer(values["label_layer_id"])
        if label_layer is None:
            raise ValueError("the label layer is no longer in the project; choose or create one in the dock (tab 2)")
        validation_layer = None
        if values.get("validation_layer_id"):
            validation_layer = project.mapLayer(values["validation_layer_id"])
            if validation_layer is None:
                raise ValueError("the validation labels are no longer in the project; choose them again in the run "
                                 "dialog (or none)")
        wrong = validation_problem(validation_layer, label_layer, scene, values.get("validation_field"))
        if wrong:
            raise ValueError(wrong)
        approved = values.get("approved_outputs")
        check_output_folder(str(out_dir), [layer_file(scene), layer_file(label_layer), layer_file(validation_layer)],
                            overwrite=bool(values.get("overwrite", False)), reused=values.get("bundle") or None,
                            approved=approved)
        made = missing_folders(Path(out_dir))  # what the run makes on its way: removed again if it fails
        temporary: Optional[str] = None
        validation: Optional[tuple[str, Optional[str]]] = None
        try:
            labels, temporary = label_file_for(label_layer, out_dir)
            if validation_layer is not None:  # a file for the worker, copied as the labels are when it must be
                validation = label_file_for(validation_layer, out_dir, "validation layer")
            for what, layer in (("label layer", label_layer), ("validation layer", validation_layer)):
                if has_unsaved_edits(layer):
                    self.iface.messageBar().pushMessage(
                        "HyperSynth", f"The run uses the unsaved edits of the {what} '{layer.name()}'; they are not "
                        "saved to its file (save the layer to keep them).", Qgis.Info, 8)
            request = self._request(values, settings, method, scene, str(out_dir), labels, temporary)
            request.made_folders = [str(folder) for folder in made]
        except BaseException:
            remove_scratch(temporary)
            remove_scratch(validation[1] if validation else None)
            remove_if_empty(made)
            raise
        if temporary is not None:  # a copy: its messages name the layer, not the scratch file
            request.labels_name = copied_layer_name(label_layer)
        if validation is not None:
            request.validation_path, request.temporary_validation = validation
            request.validation_field = validation_field_for(validation_layer, values.get("validation_field"))
            if validation[1] is not None:
                request.validation_name = copied_layer_name(validation_layer)
        return request

    @staticmethod
    def _request(values: dict, settings: HyperSynthSettings, method: str, scene: QgsRasterLayer, out_dir: str,
                 labels: str, temporary: Optional[str]) -> RunRequest:

        def optional(key: str, kind: type, unset: tuple = (None, "", 0)) -> Any:
            value = values.get(key)  # spin boxes use 0 for "the preset's value" (patch size: the scene's)
            return None if value in unset else kind(value)

        return RunRequest(
            scene_path=gdal_name(scene.source()), labels_path=labels, out_dir=out_dir,
            classes=list(values["classes"]), method=method,
            preset=values.get("preset") or settings.preset, device=values.get("device") or settings.device,
            seed=int(values.get("seed") or 0), patch_size=optional("patch_size", int),
            synthetic_per_class=optional("synthetic_per_class", int),
            guidance=optional("guidance", float, (None, "")),
            balance_rate=float(values.get("balance_rate", RunRequest.balance_rate)),
            synthetic_weight=float(values.get("synthetic_weight", RunRequest.synthetic_weight)),
            anchor_strength=float(values.get("anchor_strength", RunRequest.anchor_strength)),
            pseudo_labels=optional("pseudo_labels", int, (None, "")),  # 0 is a choice: no pseudo-labels
            spatial_smoothing=optional("spatial_smoothing", float, (None, "")),  # 0 is a choice: off
            diffusion_features=bool(values.get("diffusion_features", RunRequest.diffusion_features)),
            bundle_path=values.get("bundle") or None,
            class_field=values.get("class_field") or None, overwrite=bool(values.get("overwrite", False)),
            approved_outputs=None if values.get("approved_outputs") is None else tuple(values["approved_outputs"]),
            probabilities=bool(values.get("probabilities", False)),
            synthetic_patches=bool(values.get("synthetic_patches", False)) and method == "augment",  # it synthesises
            clip_weights=settings.clip_weights or None,
            title=f"{RUN_TITLES[method]} {scene.name()}", temporary_labels=temporary)

    def start_run(self, request: RunRequest) -> EngineTask:
        """Run ``request`` in the task manager; the result layers are added when it ends.

        A run into a folder an earlier run wrote (overwrite allowed) replaced that run's files: the layers reading
        them leave the project with their group, and the new group takes its place (``add_result_layers``), so
        the project never shows two groups for one folder's files.
        """
        generation = self._project_generation

        def on_success(outputs: Any) -> None:
            from ..core.pipeline import ALL_OUTPUTS
            from .layers import add_result_layers

            if self._project_generation == generation:  # a model of a project closed since is not this one's
                if outputs.bundle is not None:
                    self.last_bundle = str(outputs.bundle)
                elif request.bundle_path:
                    self.last_bundle = request.bundle_path
            report = Path(outputs.report).with_suffix(".html")
            if not scene_in_project(request.scene_path):  # the project was closed or changed during the run
                task.layers_added = False  # the dock's status line says so
                say(f'{request.title} finished after its scene left the project, so nothing was added: the map '
                    f'is {outputs.class_map}; <a href="{report.as_uri()}">open the report</a>', Qgis.Warning)
                return
            self.last_run = (str(request.out_dir), request.title)
            self.keep_dock_state()  # the project remembers the run's model for prompt previews, and its outputs
            add_result_layers(outputs.class_map, outputs.confidence, outputs.classes, title=request.title,
                              probabilities=outputs.probabilities,  # an earlier run's layers there go
                              replaced=[Path(request.out_dir) / name for name in ALL_OUTPUTS])
            self._show_synthetic_spectra(outputs.synthetic_summary, outputs.classes, task)
            self._show_run_attention(outputs.attention, request.title, task)
            accuracy = accuracy_line(outputs.metrics, short=True,  # one line: the dock's status has the rest
                                     labels_cv=outputs.labels_cv_accuracy)
            say(f'{request.title} finished: {accuracy + "; " if accuracy else ""}'
                f'<a href="{report.as_uri()}">open the report</a>', Qgis.Success)
            for message in task.warnings:  # what the engine warned of: over the success, so it is read
                say(f"{request.title}: {message}", Qgis.Warning)

        def on_failure(message: str) -> None:
            say(f"{request.title}: {message}", Qgis.Info if message == CANCELLED_MESSAGE else Qgis.Critical)

        def cleanup() -> None:  # whatever became of the run, even after unload: the job removes them too, unless it
            for scratch in request.scratch_files:  # was cancelled before starting
                remove_scratch(scratch)
            if task.error is not None:  # failed or cancelled: after the worker ended, no empty folder it made
                remove_if_empty(Path(folder) for folder in request.made_folders)

        def say(text: str, level: Qgis.MessageLevel) -> None:  # over QGIS's own "Task complete" notice, kept
            self._say_after(task, text, level, seconds=0)

        task = EngineTask(request.title, classify_job(request), on_success=on_success, on_failure=on_failure)
        task.cleanup = cleanup
        return self.tasks.submit(task)

    def _show_synthetic_spectra(self, summary: Optional[Path], classes: list[ClassInfo],
                                task: Optional[EngineTask] = None) -> None:
        """Overlay the run's synthetic class spectra on the labelled ones in the spectral dock (a problem is said
        with ``task``'s messages, after QGIS's own notice of its end; at once for a project's last run)."""
        from ..core.report import read_synthetic_spectra

        if summary is None or self.dock is None:
            return
        try:
            stats, wavelengths = read_synthetic_spectra(summary)
            if stats:
                self.dock.show_synthetic_class_spectra(stats, wavelengths, classes)
        except (OSError, ValueError) as exc:  # the map is in; a summary it cannot draw is only a warning
            self._say_after(task, f"the synthetic spectra of {summary} could not be shown: {exc}")

    def _show_run_attention(self, path: Optional[Path], title: str, task: Optional[EngineTask] = None) -> None:
        """Fill the attention dock with the run's one synthetic patch per class and its prompt words' maps (a
        problem is said with ``task``'s messages, after QGIS's own notice of its end; at once for a project's last
        run)."""
        from ..core.attention import read_class_attention

        if path is None or self.dock is None:
            return
        try:
            rows, wavelengths = read_class_attention(path)
            self.dock.show_run_attention(rows, wavelengths, title)
        except (OSError, ValueError) as exc:  # the map is in; attention it cannot draw is only a warning
            self._say_after(task, f"the cross-attention in {path} could not be shown: {exc}")

    def _say_after(self, task: Optional[EngineTask], text: str, level: Qgis.MessageLevel = Qgis.Warning,
                   seconds: int = 10) -> None:
        """A message-bar message (``seconds``: 0 keeps it): after ``task``'s end and QGIS's notice of it, or at
        once without a task."""
        def push() -> None:
            self.iface.messageBar().pushMessage("HyperSynth", text, level, seconds)

        if task is None:
            push()
        else:
            task.after_qgis_notice(push)

    def preview_prompt(self, class_id: int, prompt: str) -> Optional[EngineTask]:
        """Synthesise a few patches for ``prompt`` with the last run's model and show them in the dock; they start
        from the class's labelled patches kept with the model, with the run dialog's anchor strength and guidance."""
        missing = None
        if not self.last_bundle:
            missing = ("a prompt preview needs a trained synthesis model: run Augment & Classify once, "
                       "its model is then reused for previews")
        elif not Path(self.last_bundle).is_dir():
            missing = (f"the synthesis model of the last run ({self.last_bundle}) is gone; run Augment & Classify "
                       "again to preview prompts")
        if missing:
            self.iface.messageBar().pushMessage("HyperSynth", missing, Qgis.Warning, 10)
            if self.dock is not None:
                self.dock.preview_unavailable(missing)
            return None

        def on_success(preview: dict) -> None:
            if self.dock is not None:
                self.dock.show_preview(**preview)

        def on_failure(message: str) -> None:
            level = Qgis.Info if message == CANCELLED_MESSAGE else Qgis.Critical
            self._say_after(task, f"prompt preview: {message}", level)  # over QGIS's own "Task failed" notice
            if self.dock is not None:
                self.dock.preview_unavailable(message)

        chosen = self.dock.last_run_settings if self.dock is not None else {}  # the run dialog's, as a run uses them
        job = preview_job(self.last_bundle, class_id, prompt, device=HyperSynthSettings.load().device,
                          anchor_strength=float(chosen.get("anchor_strength", RunRequest.anchor_strength)),
                          guidance=float(chosen["guidance"]) if chosen.get("guidance") else None)  # 0: the model's
        task = EngineTask(f"Preview '{prompt}'", job, on_success=on_success, on_failure=on_failure)
        return self.tasks.submit(task)
