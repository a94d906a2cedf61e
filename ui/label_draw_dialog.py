"""Draw from reference…: N training labels per class (or a share of each class) drawn from reference labels, as the
benchmark draws them."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from osgeo import gdal, ogr
from qgis.core import QgsMapLayerProxyModel, QgsProject, QgsRasterLayer, QgsVectorLayer
from qgis.gui import QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt import sip
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QSpinBox,
    QWidget,
)

from ..core.evaluation.protocol import SPLIT_KINDS
from ..core.io.classes import ClassFileError, class_file_beside
from ..core.label_draw import (
    DEFAULT_PATCH_SIDE,
    LabelDraw,
    LabelDrawError,
    check_draw_outputs,
    draw_labels_from_files,
    is_validation_of_a_draw,
    share_percent,
    written_files,
)
from ..plugin.layers import gdal_name, layer_file, remove_layers_reading, same_file, scene_georeferenced
from ..plugin.runs import has_unsaved_edits
from ..plugin.tasks import CANCELLED_MESSAGE, EngineTask
from .label_draw_results import reference_classes, sentence, sentences, use_drawn_labels
from .reference_layers import over_the_scene, reference_rank
from .seed_box import SeedBox
from .widget_helpers import HINT_STYLE

if TYPE_CHECKING:
    from .classes_panel import ClassesPanel

DRAW_TIP = ("Draw N training labels per class, or a share of each class, from reference labels (a label raster such as "
            "an imported ground truth, or reference polygons), as the benchmark draws them for a seed; the rest can "
            "validate the run")
GUESSED_FIELD = "guessed: class_id, class, label, …"  # the class field's placeholder, as in the run dialog
DISJOINT_HINT = (f"disjoint: validation pixels never lie inside a training pixel's {DEFAULT_PATCH_SIDE}×"
                 f"{DEFAULT_PATCH_SIDE} patch, as the benchmark's disjoint split")
NO_OVERLAP_HINT = (f"no-overlap: no validation pixel's {DEFAULT_PATCH_SIDE}×{DEFAULT_PATCH_SIDE} patch shares a pixel "
                   "with a training pixel's, as the benchmark's no-overlap split")
SPLIT_HINTS = {"disjoint": DISJOINT_HINT, "no-overlap": NO_OVERLAP_HINT}  # shown under the split chosen
VALIDATION_END = "_validation.tif"  # the validation raster beside the points: ``<points stem>_validation.tif``
PER_CLASS, SHARE = "N per class", "a share of each class (%)"  # how much of each class is drawn
SHARE_TIP = ("As papers that train on 10 % of Indian Pines or 5 % of Pavia University: compare with their figures on "
             "their protocol (choose the disjoint split to keep the neighbours their random split leaks apart)")


@dataclass
class DrawRequest:
    """What the analyst asked the draw for: the engine's inputs, as paths."""

    reference: str  # what GDAL opens: a label raster, a vector file or a MATLAB ground truth
    reference_name: str  # what messages call it
    class_field: Optional[str]  # for vectors; None: guessed as the engine does
    classes_path: Optional[Path]  # the class file beside the reference: names and prompts of classes the dock lacks
    labels_per_class: int
    seed: int
    split: str  # "random" or "disjoint"
    points: Path
    validation: Optional[Path]
    overwrite: bool  # the analyst agreed to replace existing files
    share: Optional[float] = None  # that share of each class's reference pixels (0.1: 10 %) instead of N, if so

    def amount(self) -> str:
        """How much of each class is drawn, for messages: "5 labels per class" or "10 % of each class"."""
        if self.share is None:
            return f"{self.labels_per_class} label{'s' if self.labels_per_class != 1 else ''} per class"
        return f"{share_percent(self.share)} % of each class"


def safe_stem(name: str) -> str:
    """A layer or file name as part of a file name."""
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "reference"


def class_file_of(reference: Optional[str]) -> Optional[Path]:
    """The class file beside the reference ``<stem>_classes.json`` (an imported ground truth has one, with the
    benchmark's names and prompts), or None."""
    if not reference or reference.startswith("/vsi") or ":" in Path(reference).name:
        return None
    found = class_file_beside(reference)
    return found if found.is_file() else None


def validation_beside(points: Path) -> Path:
    """The validation raster the draw writes beside ``points``: ``<points stem>_validation.tif``."""
    return points.with_name(points.stem + VALIDATION_END)


class LabelDrawDialog(QDialog):
    """Asks where the reference labels are, how many labels per class (or what share of each class) to draw, and
    where the points go.

    Args:
        scene: the dock's scene (the draw is on its grid; its folder gets the points by default).
        label_layer: the dock's label layer (not offered as reference: drawing from one's own labels says nothing).
    """

    def __init__(self, scene: QgsRasterLayer, label_layer: Optional[QgsVectorLayer] = None,
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Draw training labels from reference")
        self._scene = scene
        # from the file, as the engine reads it: QGIS may give a raster without CRS the project's (a user setting)
        self._georeferenced = scene_georeferenced(gdal_name(scene.source()))
        self._auto_points = ""  # the default file name last filled in: replaced as the choices change, unless edited
        self.overwrite = False
        form = QFormLayout(self)
        self.reference = QgsMapLayerComboBox()
        self.reference.setFilters(QgsMapLayerProxyModel.RasterLayer | QgsMapLayerProxyModel.PolygonLayer
                                  | QgsMapLayerProxyModel.PointLayer)
        self.reference.setExceptedLayerList([layer for layer in (scene, label_layer) if layer is not None])
        self.reference.setAllowEmptyLayer(True, "choose the reference labels…")
        self.reference.setToolTip("A label raster on the scene's grid (an imported ground truth: Open in tab 1), or "
                                  "polygons or points with a class field. A vector layer is read as saved in its file")
        ranked = [(reference_rank(layer, scene), -i, layer) for i, layer in
                  enumerate(QgsProject.instance().mapLayers().values()) if layer not in (scene, label_layer)]
        best = max(ranked, key=lambda r: r[:2], default=None)
        self.reference.setLayer(best[2] if best is not None and best[0] > 0 else None)
        form.addRow("Reference labels", self.reference)
        self.reference_file = QgsFileWidget()
        self.reference_file.setFilter("Label files (*.tif *.tiff *.gpkg *.shp *.geojson *.mat);;All files (*)")
        self.reference_file.setToolTip("Or a file (a MATLAB ground truth .mat of the scene's size, a label raster, "
                                       "a vector file): used instead of the layer above when given")
        form.addRow("or a file", self.reference_file)
        self.classes_note = QLabel("")  # where the classes' names and prompts come from
        self.classes_note.setStyleSheet(HINT_STYLE)
        form.addRow(self.classes_note)
        self.class_field = QComboBox()
        self.class_field.setEditable(True)
        self.class_field.lineEdit().setPlaceholderText(GUESSED_FIELD)
        self.class_field.setToolTip("The vector layer's field holding the class (ids, or names); empty: guessed")
        form.addRow("Class field", self.class_field)
        self.amount = QComboBox()  # N per class, or a share of each class: only the chosen one's box is enabled
        self.amount.addItems([PER_CLASS, SHARE])
        self.amount.setToolTip("N training labels per class (the benchmark's few-label draw), or a share of each "
                               "class's reference pixels (rounded, at least one), as papers train on 10 % of a scene")
        self.labels_per_class = QSpinBox()
        self.labels_per_class.setRange(1, 1000)
        self.labels_per_class.setValue(5)
        self.labels_per_class.setToolTip("Training pixels drawn per class (a class with fewer gets all it has)")
        self.share = QDoubleSpinBox()
        self.share.setRange(0.1, 99.9)
        self.share.setDecimals(1)
        self.share.setSingleStep(1.0)
        self.share.setValue(10.0)
        self.share.setSuffix(" %")
        self.share.setToolTip(SHARE_TIP)
        self.share.setEnabled(False)
        amount_row = QWidget()
        row = QHBoxLayout(amount_row)
        row.setContentsMargins(0, 0, 0, 0)
        for box in (self.amount, self.labels_per_class, self.share):
            row.addWidget(box)
        self.amount.currentTextChanged.connect(self._amount_changed)
        form.addRow("Labels per class", amount_row)
        self.seed = SeedBox("The same seed draws the same pixels, as the benchmark does for that seed")
        form.addRow("Seed", self.seed)
        self.split = QComboBox()
        self.split.addItems(list(SPLIT_KINDS))
        self.split.setToolTip("random: validation is every reference pixel not drawn; "
                              + "; ".join(SPLIT_HINTS.values()))
        form.addRow("Split", self.split)
        self.split_hint = QLabel(DISJOINT_HINT)  # shown for the disjoint splits only
        self.split_hint.setStyleSheet(HINT_STYLE)
        self.split_hint.setHidden(True)
        self.split.currentTextChanged.connect(self._split_changed)
        form.addRow(self.split_hint)
        self.write_validation = QCheckBox("Also write validation labels (the reference pixels left over)")
        self.write_validation.setChecked(True)
        form.addRow(self.write_validation)
        self.points = QgsFileWidget()
        self.points.setStorageMode(QgsFileWidget.SaveFile)
        self.points.setConfirmOverwrite(False)  # asked once, on OK, for every file the draw would replace
        self.points.setFilter("GeoPackage (*.gpkg)" if self._georeferenced else "Shapefile without CRS (*.shp)")
        self.points.setToolTip("The training points; their classes go beside them (<name>_classes.json) and the "
                               "validation labels too (<name>_validation.tif)")
        form.addRow("Save the points as", self.points)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #b03a2e")
        form.addRow(self.note)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.reference.layerChanged.connect(self._reference_changed)
        self.reference_file.fileChanged.connect(self._reference_changed)
        for changed in (self.labels_per_class.valueChanged, self.share.valueChanged, self.amount.currentTextChanged,
                        self.seed.valueChanged, self.split.currentTextChanged):
            changed.connect(self._fill_points)
        self._reference_changed()

    # --- the choices -----------------------------------------------------------------------------------
    def reference_source(self) -> tuple[Optional[str], str]:
        """``(path GDAL reads, name)`` of the reference chosen (the file, else the layer); path None: none."""
        typed = self.reference_file.filePath().strip()
        if typed:
            return typed, Path(typed).stem
        layer = self.reference.currentLayer()
        if layer is None:
            return None, ""
        path = gdal_name(layer.source()) if isinstance(layer, QgsRasterLayer) else layer_file(layer)
        return path, layer.name()

    def chosen_share(self) -> Optional[float]:
        """The share of each class chosen (0.1 for 10 %), or None: N per class."""
        return round(self.share.value() / 100.0, 4) if self.amount.currentText() == SHARE else None

    def _split_changed(self, kind: str) -> None:
        """Say under the split what a disjoint one keeps apart (nothing to say for random)."""
        self.split_hint.setText(SPLIT_HINTS.get(kind, ""))
        self.split_hint.setHidden(kind not in SPLIT_HINTS)

    def _amount_changed(self, kind: str) -> None:
        self.labels_per_class.setEnabled(kind != SHARE)
        self.share.setEnabled(kind == SHARE)

    def points_path(self) -> Optional[Path]:
        text = self.points.filePath().strip()
        if not text:
            return None
        path = Path(text)
        return path if path.suffix else path.with_name(path.name + (".gpkg" if self._georeferenced else ".shp"))

    def _reference_changed(self, *_args: object) -> None:
        layer = self.reference.currentLayer()
        vector = isinstance(layer, QgsVectorLayer) and not self.reference_file.filePath().strip()
        typed = self.class_field.currentText()
        self.class_field.clear()
        self.class_field.addItems([""] + (layer.fields().names() if vector else []))
        self.class_field.setEditText(typed if vector else "")
        class_file = class_file_of(self.reference_source()[0])
        self.classes_note.setText(
            "Your classes keep their ids and names; " + (
                f"names and prompts of classes you do not have yet from {class_file.name}" if class_file is not None
                else "classes you do not have yet are named by the reference itself (no class file beside it)"))
        self.class_field.setEnabled(vector or Path(self.reference_file.filePath()).suffix.lower() not in (
            ".tif", ".tiff", ".mat", ""))
        self._fill_points()

    def _fill_points(self, *_args: object) -> None:
        """The default file: ``<reference>_<N>_per_class_seed<seed>`` (``<reference>_<P>pct_seed<seed>`` for a share
        of P %), then ``_disjoint`` for the disjoint split (a disjoint draw after a random one is another file), beside
        the scene (kept once edited)."""
        current = self.points.filePath().strip()
        if current and current != self._auto_points:
            return
        _, name = self.reference_source()
        scene_file = layer_file(self._scene)
        folder = Path(scene_file).parent if scene_file else Path.home()
        if not os.access(folder, os.W_OK):
            folder = Path.home()
        ext = ".gpkg" if self._georeferenced else ".shp"
        split = "" if self.split.currentText() == "random" else f"_{self.split.currentText()}"
        share = self.chosen_share()
        amount = f"{self.labels_per_class.value()}_per_class" if share is None else f"{share_percent(share)}pct"
        self._auto_points = str(folder / (f"{safe_stem(name or 'reference')}_{amount}_seed{self.seed.value()}"
                                          f"{split}{ext}"))
        self.points.setFilePath(self._auto_points)

    def outputs(self) -> list[Path]:
        """The files the draw would write: the points, their class file and the validation raster."""
        points = self.points_path()
        if points is None:
            return []
        validation = [validation_beside(points)] if self.write_validation.isChecked() else []
        return [points, class_file_beside(points), *validation]

    def written(self) -> list[Path]:
        """Every file the draw would write or replace (:func:`~..core.label_draw.written_files`): the outputs, a
        Shapefile's parts, the validation raster's style and GDAL sidecar."""
        points = self.points_path()
        if points is None:
            return []
        return written_files(points, validation_beside(points) if self.write_validation.isChecked() else None)

    def problems(self) -> list[str]:
        """What stops the draw (empty when it can start), each with what to do."""
        path, name = self.reference_source()
        layer = None if self.reference_file.filePath().strip() else self.reference.currentLayer()
        if path is None:
            return ["choose the reference labels: a layer, or a file" if layer is None else
                    f"'{name}' has no file the draw can read: save it to a file first (Export ▸ Save Features As…)"]
        problems = []
        if layer is not None and not over_the_scene(layer, self._scene):
            problems.append(f"'{name}' does not lie over the scene (another scene's labels, or another place): "
                            "choose reference labels of this scene")
        if not isinstance(layer, QgsVectorLayer) and is_validation_of_a_draw(path):
            problems.append(f"'{name}' holds the pixels an earlier draw left to validate on, not reference labels: "
                            "choose the ground truth or reference polygons")
        if has_unsaved_edits(layer):
            problems.append(f"'{name}' has unsaved edits, and the draw reads its file as saved: save or roll back "
                            "its edits first")
        if isinstance(layer, QgsVectorLayer) and layer.subsetString():
            problems.append(f"'{name}' is filtered, and the draw reads its whole file: export the features you "
                            "want to their own file")
        elif isinstance(layer, QgsVectorLayer) and _layers_with_features(path) > 1:
            problems.append(f"{Path(path).name} holds several layers: export '{name}' to its own file")
        points = self.points_path()
        if points is None:
            return problems + ["choose where to save the training points"]
        validation = validation_beside(points) if self.write_validation.isChecked() else None
        try:  # existing files are asked about on OK; the class file beside the reference is read, so an input too
            check_draw_outputs(points, validation, georeferenced=self._georeferenced,
                               inputs=(layer_file(self._scene), path, class_file_of(path)), overwrite=True)
        except LabelDrawError as error:
            problems.append(str(error))
        for output in self.written():
            for other in QgsProject.instance().mapLayers().values():
                if has_unsaved_edits(other) and same_file(layer_file(other), str(output)):
                    problems.append(f"{output.name} is the file of '{other.name()}', which has unsaved edits: "
                                    "choose another name, or save or roll back its edits")
        return problems

    def accept(self) -> None:
        """Close only when the draw can start, and the analyst agreed to replace the files it would replace."""
        problems = self.problems()  # before any question: a file that cannot be replaced is no question
        if problems:  # file and layer names keep their case: no problem's first letter is changed
            self.note.setText(sentence("The draw cannot start: " + "; ".join(problems)))
            self.adjustSize()  # the note may take more lines than the dialog had room for
            return
        found = [p for p in self.written() if p.exists()]  # a Shapefile's stray .prj too: the engine replaces it
        existing = [p for p in self.outputs() if p in found] or found
        self.overwrite = False
        if existing:
            one = len(existing) == 1
            answer = QMessageBox.question(
                self, "Replace files?", f"{', '.join(p.name for p in existing)} already {'exists' if one else 'exist'}"
                f" in {existing[0].parent}. Replace {'it' if one else 'them'}? (Layers showing "
                f"{'it' if one else 'them'} leave the project.)", QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
            if answer != QMessageBox.Yes:
                self.note.setText("Nothing is replaced: choose another file name.")
                return
            self.overwrite = True
        super().accept()

    def request(self) -> DrawRequest:
        """The draw asked for (once accepted)."""
        path, name = self.reference_source()
        points = self.points_path()
        assert path is not None and points is not None, "request() before the dialog was accepted"
        field = self.class_field.currentText().strip() if self.class_field.isEnabled() else ""
        return DrawRequest(path, name, field or None, class_file_of(path), self.labels_per_class.value(),
                           self.seed.value(), self.split.currentText(), points,
                           validation_beside(points) if self.write_validation.isChecked() else None, self.overwrite,
                           self.chosen_share())


def _layers_with_features(path: str) -> int:
    """How many layers of the vector file ``path`` hold features (the engine reads a file with one)."""
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        ds = ogr.Open(path)
        return 0 if ds is None else sum(1 for i in range(ds.GetLayerCount())
                                        if ds.GetLayerByIndex(i).GetFeatureCount() != 0)
    finally:
        gdal.PopErrorHandler()


# --- the draw, as a task -------------------------------------------------------------------------------
def ask_draw_from_reference(panel: ClassesPanel) -> None:
    """Draw from reference…: the dialog, then the draw as a task."""
    scene = panel.scene_layer()
    if scene is None:
        panel.message.emit("Choose a scene read from a raster file first (tab 1): the labels are drawn on its grid.")
        return
    if panel.label_draws.running:
        panel.message.emit("A draw from reference is running already; wait for it or cancel it in the task manager.")
        return
    dialog = LabelDrawDialog(scene, panel.label_layer(), panel)
    if dialog.exec_() == QDialog.Accepted:
        start_label_draw(panel, dialog.request())


def start_label_draw(panel: ClassesPanel, request: DrawRequest,
                     project: Optional[QgsProject] = None) -> Optional[EngineTask]:
    """Draw ``request`` as a task in QGIS's task manager (progress, Cancel), the reference numbered by the dock's
    classes (:func:`~.label_draw_results.reference_classes`); when it ends the points become the label layer
    (:func:`~.label_draw_results.use_drawn_labels`), or the panel's message says why not. Returns the task, None
    without a scene or when the class file beside the reference cannot be read (the message says so)."""
    scene = panel.scene_layer()
    if scene is None:
        panel.message.emit("Choose a scene read from a raster file first (tab 1).")
        return None
    try:
        classes = reference_classes(panel.classes(), request.classes_path)
    except ClassFileError as error:
        panel.message.emit(sentence(f"No labels were drawn from {request.reference_name}: {error}"))
        return None
    scene_path, scene_id = gdal_name(scene.source()), scene.id()
    def drawn(draw: LabelDraw) -> None:  # main thread; also where a Cancel came once the files were written: a job
        if not sip.isdeleted(panel):  # that returned succeeded (EngineTask.run), its files replaced any earlier draw's
            use_drawn_labels(panel, draw, request, scene_id, classes, project)

    def failed(message: str) -> None:  # main thread
        if sip.isdeleted(panel):
            return
        if message == CANCELLED_MESSAGE:
            panel.message.emit("Draw from reference cancelled; nothing was written.")
        else:  # the engine's refusals (a GeoPackage with other layers, an image band of 1000 ids, …) say what to do
            panel.message.emit(sentence(f"No labels were drawn from {request.reference_name}: {message}"))

    task = EngineTask(f"Draw {request.amount()} from {request.reference_name}",
                      lambda reporter: draw_labels_from_files(  # its last stage is "done": QGIS's notice ends so
                          scene_path, request.reference, request.points, labels_per_class=request.labels_per_class,
                          seed=request.seed, split=request.split, validation=request.validation,
                          classes_path=None, known_classes=classes.known, class_field=request.class_field,
                          share=request.share, overwrite=request.overwrite, reporter=reporter),
                      on_success=drawn, on_failure=failed)
    left = leave_before_replacing(request, project or QgsProject.instance()) if request.overwrite else []
    panel.label_draws.submit(task)
    named = ", ".join(f"'{name}'" for name in left)
    panel.message.emit(sentences([
        f"Drawing {request.amount()} from {request.reference_name} into "
        f"{request.points.name} … (progress and Cancel in QGIS's task manager)",
        f"Layers reading the files it replaces left the project: {named}" if left else ""]))
    return task


def leave_before_replacing(request: DrawRequest, project: QgsProject) -> list[str]:
    """Remove from ``project`` every layer reading a file the draw will write
    (:func:`~..core.label_draw.written_files`), before it replaces them: a file QGIS holds open cannot be replaced
    on Windows, and a GeoPackage it holds keeps its -wal and -shm beside the new file. Main thread. Returns the names
    of the layers removed."""
    files = written_files(request.points, request.validation)
    names = [layer.name() for layer in project.mapLayers().values()
             if any(same_file(layer_file(layer), str(path)) for path in files)]
    if names:
        remove_layers_reading(files, project)
    return names

