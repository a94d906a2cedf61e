"""Settings for one Augment & Classify run: preset, device, synthesis knobs, output folder, reused bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

from qgis.gui import QgsFileWidget
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QMessageBox,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.methods import MethodSettings
from ..core.outputs import claim_holder, earlier_outputs, write_problem
from ..core.outputs import inputs_in_the_way as find_inputs_in_the_way
from ..core.pipeline import ALL_OUTPUTS
from ..plugin.settings import DEVICES, PRESETS

PRESET_HELP = {
    "tiny": "Under a minute on a small scene; for trying the workflow (a poor map).",
    "fast": "Minutes on a CPU; small models.",
    "full": "The paper-sized models; needs a GPU.",
}
BUNDLE_MANIFEST = "manifest.json"  # core/ldm/bundle.py's MANIFEST; not imported, that module loads torch
DEFAULT_SPECIAL = "preset default"  # what a spin box shows when it leaves the value to the preset
AUTO_PATCH_SPECIAL = "from the scene"  # the patch size spin box's "chosen from the scene" value
AUTO_SMOOTHING_SPECIAL = "chosen from your labels"  # the smoothing box's "cross-validated" value
# One line under each synthesis knob whose name alone says little (the tooltips say more).
KNOB_HELP = {
    "guidance": "Higher: closer to the prompt, less variety.",
    "balance": "0: equal synthetic samples per class; 1: more for rare classes.",
    "anchor": "Low: close to your labelled patches; 1: ignores them (most variety).",
}
HELP_STYLE = "color: #6b6b6b; font-style: italic;"  # a knob's one-line help, under it
PATH_STYLE = "color: #6b6b6b;"  # the output folder in full, under its field
DIALOG_WIDTH = 600  # room for the knobs' one-line help and a longer output folder path


def _number_box(box: Any, low: float, high: float, step: float, value: float, tooltip: str, *,
                decimals: Optional[int] = None, special: Optional[str] = None, suffix: str = "") -> Any:
    """``box`` (a QSpinBox or QDoubleSpinBox) set up in one call; ``special`` is the text shown at the minimum."""
    if suffix:
        box.setSuffix(suffix)
    if decimals is not None:
        box.setDecimals(decimals)
    box.setRange(low, high)
    box.setSingleStep(step)
    if special:
        box.setSpecialValueText(special)
    box.setValue(value)
    box.setToolTip(tooltip)
    return box


def folder_problem(folder: str, *, clause: bool = False) -> Optional[str]:
    """Why ``folder`` cannot take the outputs (None when it can): it must be, or be creatable as, a writable folder.

    A sentence for under the dialog's field; ``clause``: a clause that also says what to do, for a refused request
    ("Augment & Classify did not start: …"). Both are put together from the engine's own clauses
    (``write_problem``, ``claim_holder``) as they are, never by rewording one into the other.
    """
    if not folder.strip():
        return "choose an output folder" if clause else "Choose an output folder."
    path = Path(folder).expanduser()
    if path.exists() and not path.is_dir():
        said = f"{path} is a file, not a folder"
    else:
        problem = write_problem(path)  # a probe file: the only reliable test (ACLs, read-only mounts, root)
        if problem:
            said = f"{path} cannot take the outputs: {problem}"
        else:  # another run writes there now (the engine refuses it too; this says so up front)
            busy = claim_holder(path)  # names that run and says what to do
            if busy is None:
                return None
            return busy if clause else busy + "."
    return f"{said}; choose another output folder" if clause else said + "."


def existing_outputs(folder: str) -> list[str]:
    """An earlier run's outputs in ``folder`` (the engine's names: a new run there replaces them all)."""
    return earlier_outputs(Path(folder).expanduser(), ALL_OUTPUTS)


def inputs_in_the_way(folder: str, inputs: Sequence[str], *, clause: bool = False) -> list[str]:
    """Problems for each input file that sits where a run into ``folder`` writes an output (the engine refuses it:
    the output would replace the analyst's file); sentences, or clauses as :func:`folder_problem` says them."""
    if not folder.strip():
        return []
    your, end = ("your", "") if clause else ("Your", ".")
    return [f"{your} input {given} is where the run writes its {name}: choose another output folder, or move the "
            f"input out of it{end}" for given, name in find_inputs_in_the_way(Path(folder), ALL_OUTPUTS, inputs)]


class RunDialog(QDialog):
    """Asks for the Augment & Classify settings; :meth:`values` returns them once accepted.

    Args:
        defaults: initial values (keys as in :meth:`values`, e.g. from the plugin settings).
        inputs: the files the run reads (scene, labels): an output folder where an output would replace one is
            refused.
    """

    def __init__(self, parent: Optional[QWidget] = None, defaults: Optional[dict[str, Any]] = None,
                 inputs: Sequence[str] = ()) -> None:
        super().__init__(parent)
        self._inputs = list(inputs)
        self.setWindowTitle("Augment & Classify")
        self.setMinimumWidth(DIALOG_WIDTH)
        defaults = defaults or {}
        self._overwrite = False
        self._approved: list[str] = []  # the earlier outputs the analyst agreed to replace, and only those
        form = QFormLayout()

        self.preset = QComboBox()
        for name in PRESETS:
            self.preset.addItem(name, name)
        self.preset_help = QLabel()
        self.preset_help.setStyleSheet(HELP_STYLE)
        self.preset.currentIndexChanged.connect(
            lambda: self.preset_help.setText(PRESET_HELP.get(self.preset.currentData(), "")))
        self.preset.setCurrentIndex(max(0, self.preset.findData(defaults.get("preset", MethodSettings.preset))))
        self.preset_help.setText(PRESET_HELP.get(self.preset.currentData(), ""))
        form.addRow("Preset", self.preset)
        form.addRow(self.preset_help)  # spans both columns: room for the whole sentence
        self.device = QComboBox()
        for name in DEVICES:
            self.device.addItem(name, name)
        self.device.setCurrentIndex(max(0, self.device.findData(defaults.get("device", MethodSettings.device))))
        self.device.setToolTip("auto uses the GPU (CUDA) when one is available")
        form.addRow("Device", self.device)

        self.patch_size = _number_box(
            QSpinBox(), 0, 64, 1, int(defaults.get("patch_size") or 0),
            "Side of the square patches the VAE and the classifier see. By default it is chosen from how uniform "
            "the scene's neighbourhoods are (large for big uniform fields, small for mixed scenes), at most the "
            "preset's size", special=AUTO_PATCH_SPECIAL, suffix=" px")
        form.addRow("Patch size", self.patch_size)
        self.synthetic = _number_box(
            QSpinBox(), 0, 100000, 50, int(defaults.get("synthetic_per_class") or 0),
            "Synthetic patches for an average class; rare classes get more (see λ)", special=DEFAULT_SPECIAL)
        form.addRow("Synthetic samples per class", self.synthetic)
        self.guidance = _number_box(
            QDoubleSpinBox(), 0.0, 20.0, 0.5, float(defaults.get("guidance") or 0.0),
            "Classifier-free guidance ω: higher follows the prompt more closely, with less variety",
            decimals=1, special=DEFAULT_SPECIAL)
        form.addRow("Guidance ω", self.guidance)
        self.guidance_help = _help_row(form, KNOB_HELP["guidance"])  # under each knob whose name says little
        self.balance = _number_box(
            QDoubleSpinBox(), 0.0, 1.0, 0.1, float(defaults.get("balance_rate", MethodSettings.balance_rate)),
            "Balance rate λ: 0 gives every class the same number of synthetic samples, "
            "1 gives rare classes proportionally more", decimals=2)
        form.addRow("Balance rate λ", self.balance)
        self.balance_help = _help_row(form, KNOB_HELP["balance"])
        self.synthetic_weight = _number_box(
            QDoubleSpinBox(), 0.05, 10.0, 0.05, float(defaults.get("synthetic_weight", MethodSettings.synthetic_weight)),
            "How much all synthetic patches together count in the classifier's training, relative to your labels "
            "(1: as much as your labels). In the benchmarks they helped most with 2 labels per class on a hard "
            "scene and cost a little where your labels alone already classify well", decimals=2)
        form.addRow("Synthetic weight", self.synthetic_weight)
        self.anchor_strength = _number_box(
            QDoubleSpinBox(), 0.05, 1.0, 0.05, float(defaults.get("anchor_strength", MethodSettings.anchor_strength)),
            "How far synthesis departs from your labelled patches: each synthetic patch starts from a real one "
            "with this much noise added. 0.3–0.6 gives realistic variations of your samples; 1 ignores them and "
            "starts from pure noise (most variety, least faithful)", decimals=2)
        form.addRow("Anchor strength", self.anchor_strength)
        self.anchor_help = _help_row(form, KNOB_HELP["anchor"])
        pseudo = defaults.get("pseudo_labels")
        self.pseudo_labels = _number_box(  # -1: the default (none since session 13); 0 says none explicitly
            QSpinBox(), -1, 100000, 10, -1 if pseudo is None else int(pseudo),
            "Unlabelled pixels added per class as extra training labels, drawn from the more confident half "
            "of each class as a first classifier sees it. None by default: picked from a few labels per class "
            "they cost accuracy in the benchmarks (40 was the fast preset's until session 13)",
            special="none (default)")
        form.addRow("Pseudo-labels per class", self.pseudo_labels)
        smoothing = defaults.get("spatial_smoothing")
        self.spatial_smoothing = _number_box(  # -0.5: cross-validated; 0 is a real choice (off)
            QDoubleSpinBox(), -0.5, 10.0, 0.5, -0.5 if smoothing is None else float(smoothing),
            "Width (pixels) of the Gaussian smoothing of the class probabilities before each pixel gets its class: "
            "removes isolated misclassified pixels inside fields. By default cross-validation on your labels picks "
            "it (0, 0.5, 1, 2 or 3); 0 switches it off", decimals=1, special=AUTO_SMOOTHING_SPECIAL, suffix=" px")
        form.addRow("Spatial smoothing σ", self.spatial_smoothing)
        self.diffusion_features = QCheckBox("in the blend (share from CV)")
        self.diffusion_features.setChecked(bool(defaults.get("diffusion_features", MethodSettings.diffusion_features)))
        self.diffusion_features.setToolTip(
            "An SVM on the diffusion model's own features of each patch joins the CNN and the spectral forest; "
            "cross-validation on your labels gives it its share (possibly none). Off by default: that "
            "cross-validation overrates it (the model learnt your labels with their prompts), and its features cost "
            "about as much per pixel as the CNN")
        form.addRow("Diffusion-feature SVM", self.diffusion_features)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(int(defaults.get("seed", 0)))
        form.addRow("Seed", self.seed)

        self.output_folder = QgsFileWidget()
        self.output_folder.setStorageMode(QgsFileWidget.GetDirectory)
        self.output_folder.setDialogTitle("Output folder")
        self.output_folder.lineEdit().setPlaceholderText("The folder for the class map, confidence and report")
        self.output_folder.setFilePath(str(defaults.get("output_folder", "")))
        form.addRow("Output folder", self.output_folder)
        self.output_path = QLabel("")  # the path in one line across the dialog, elided in the middle, when the field
        self.output_path.setStyleSheet(PATH_STYLE)  # cuts it off
        self.output_path.setVisible(False)
        form.addRow(self.output_path)
        self.output_folder.fileChanged.connect(self._show_output_path)
        self._show_output_path()
        self.probabilities = QCheckBox("write probabilities.tif")
        self.probabilities.setChecked(bool(defaults.get("probabilities", False)))
        self.probabilities.setToolTip(
            "Each class's probability as a float32 band named by the class (-1 where unclassified): for your own "
            "thresholds, masks of doubtful pixels or fusion with other data. Takes K × 4 bytes per pixel on disk")
        form.addRow("Class probabilities", self.probabilities)
        self.synthetic_patches = QCheckBox("write synthetic_patches.tif")
        self.synthetic_patches.setChecked(bool(defaults.get("synthetic_patches", False)))
        self.synthetic_patches.setToolTip(
            "The synthetic patches the classifier learnt from, side by side as a GeoTIFF with wavelengths (open it "
            "in QGIS and look at their spectra with the spectral profile), and synthetic_patches_classes.tif "
            "beside it with each pixel's class (training data for another classifier)")
        form.addRow("Synthetic patches", self.synthetic_patches)
        self.bundle = QgsFileWidget()
        self.bundle.setStorageMode(QgsFileWidget.GetDirectory)
        self.bundle.setDialogTitle("Trained model bundle (model_bundle folder of an earlier run)")
        self.bundle.setFilePath(str(defaults.get("bundle") or ""))
        self.bundle.setToolTip("Optional: reuse the synthesis model of an earlier run instead of training one")
        form.addRow("Reuse model bundle", self.bundle)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        self.problem = QLabel("")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b00020;")
        layout.addWidget(self.problem)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Run")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _show_output_path(self, *_args: object) -> None:
        """The output folder in full in the field's tooltip; while the field cuts it off, also under it across the
        dialog, its start and its end (the run's own folder) kept and the middle elided if it must be."""
        path = self.output_folder.filePath().strip()
        field = self.output_folder.lineEdit()
        tip = path or "Where the run writes its outputs"
        self.output_folder.setToolTip(tip)
        field.setToolTip(tip)
        self.output_path.setToolTip(path)
        room = field.width() - 2 * field.fontMetrics().averageCharWidth() - 24  # frame, margins, clear button
        cut = bool(path) and field.fontMetrics().horizontalAdvance(path) > room
        across = max(self.width() - 24, 100)  # the dialog's margins
        self.output_path.setText(self.output_path.fontMetrics().elidedText(path, Qt.ElideMiddle, across) if cut else "")
        self.output_path.setVisible(cut)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._show_output_path()

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self._show_output_path()

    def values(self) -> dict[str, Any]:
        """The chosen settings; None means "the preset's default" (the patch size: chosen from the scene).

        Keys match core MethodSettings where they are method settings.
        """
        bundle = self.bundle.filePath().strip()
        pseudo = self.pseudo_labels.value()
        smoothing = float(self.spatial_smoothing.value())
        return {
            "preset": self.preset.currentData(),
            "device": self.device.currentData(),
            "patch_size": self.patch_size.value() or None,
            "synthetic_per_class": self.synthetic.value() or None,
            "guidance": self.guidance.value() or None,
            "balance_rate": float(self.balance.value()),
            "synthetic_weight": float(self.synthetic_weight.value()),
            "anchor_strength": float(self.anchor_strength.value()),
            "pseudo_labels": None if pseudo < 0 else int(pseudo),
            "spatial_smoothing": None if smoothing < 0 else smoothing,
            "diffusion_features": self.diffusion_features.isChecked(),
            "seed": int(self.seed.value()),
            "output_folder": self.output_folder.filePath().strip(),
            "probabilities": self.probabilities.isChecked(),
            "synthetic_patches": self.synthetic_patches.isChecked(),
            "bundle": bundle or None,
            "overwrite": self._overwrite,
            "approved_outputs": list(self._approved),  # the run refuses to replace any other (written meanwhile)
        }

    def problems(self) -> list[str]:
        """What stops the run (empty when the settings can run)."""
        found = []
        folder = folder_problem(self.output_folder.filePath())
        if folder:
            found.append(folder)
        else:
            found.extend(inputs_in_the_way(self.output_folder.filePath(), self._inputs))
        size = self.patch_size.value()
        if size and size < 3:
            found.append(f"A patch size of {size} px is too small; use 3 px or more (or leave it to the scene).")
        bundle = self.bundle.filePath().strip()
        if bundle and not Path(bundle).is_dir():
            found.append(f"The model bundle {bundle} does not exist (choose the model_bundle folder of a run).")
        elif bundle and not (Path(bundle) / BUNDLE_MANIFEST).is_file():
            found.append(f"{bundle} is not a HyperSynth model bundle: it has no {BUNDLE_MANIFEST}.")
        return found

    def confirm_overwrite(self, names: list[str]) -> bool:
        """Ask before replacing earlier outputs (a method so tests can answer it)."""
        answer = QMessageBox.question(
            self, "Overwrite results?",
            f"The output folder already holds {', '.join(names)}.\nReplace them with the new run's results?",
            QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        return answer == QMessageBox.Yes

    def accept(self) -> None:
        """Close only when the settings can run (and the analyst agreed to overwrite earlier outputs)."""
        found = self.problems()
        self.problem.setText("\n".join(found))
        if found:
            return
        clash = existing_outputs(self.output_folder.filePath())
        if clash and not self.confirm_overwrite(clash):
            return
        self._overwrite = bool(clash)
        self._approved = list(clash)
        super().accept()


def _help_row(form: QFormLayout, text: str) -> QLabel:
    """A one-line help under the form's last row, across both columns (one line: a wrapped label in a form is cut
    off, the form does not give it the height of its lines)."""
    label = QLabel(text)
    label.setStyleSheet(HELP_STYLE)
    form.addRow(label)
    return label
