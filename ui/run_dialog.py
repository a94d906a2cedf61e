"""Settings for one Augment & Classify run: preset, device, knobs, output folder, reused bundle, validation labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple, Optional, Sequence

import numpy as np
from qgis.core import QgsMapLayer, QgsMapLayerProxyModel, QgsProject, QgsRasterLayer, QgsVectorLayer
from qgis.gui import QgsCollapsibleGroupBox, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.ldm.bundle import MANIFEST as BUNDLE_MANIFEST  # the module imports torch only for tensors: not here
from ..core.ldm.bundle import read_bundle_meta, read_bundle_part
from ..core.ldm.config import preset
from ..core.methods import MethodSettings, default_synthetic_per_class
from ..core.model_folders import check_model_folder
from ..core.outputs import claim_holder, earlier_outputs, write_problem
from ..core.outputs import inputs_in_the_way as find_inputs_in_the_way
from ..core.pipeline import ALL_OUTPUTS
from ..core.run_checks import wavelength_mismatch
from ..plugin.layers import gdal_name, layer_file
from ..plugin.runs import validation_problem
from ..plugin.settings import DEVICES, PRESETS
from .seed_box import SeedBox

PRESET_HELP = {
    "tiny": "Under a minute on a small scene; for trying the workflow (a poor map).",
    "fast": "Minutes on a CPU; small models.",
    "full": "The paper-sized models; needs a GPU.",
}
NO_VALIDATION = "none (no accuracy section)"  # the validation combo's empty choice
GUESSED_FIELD = "guessed: class_id, class, label, …"  # the validation class field's placeholder
SAMPLE_SIDE = 16  # side (pixels) of each small window read to see which bands hold data (usable_bands)
DEFAULT_SPECIAL = "preset default"  # what a spin box shows when it leaves the value to the preset
AUTO_PATCH_SPECIAL = "from the scene"  # the patch size spin box's "chosen from the scene" value
AUTO_SMOOTHING_SPECIAL = "chosen from your labels"  # the smoothing box's "cross-validated" value
# One line under each synthesis knob whose name alone says little (the tooltips say more).
KNOB_HELP = {
    "guidance": "Higher: closer to the prompt, less variety.",
    "balance": "0: equal synthetic samples per class; 1: more for rare classes.",
    "anchor": "Low: close to your labelled patches; 1: ignores them (most variety).",
    "synthetic_weight": "All synthetic patches together against your labels; 1: they count as much.",
}
HELP_STYLE = "color: #6b6b6b; font-style: italic;"  # a knob's one-line help, under it
PATH_STYLE = "color: #6b6b6b;"  # the output folder in full, under its field
DIALOG_WIDTH = 600  # room for the knobs' one-line help and a longer output folder path
ADVANCED_TITLE = "Advanced"  # the synthesis and classifier knobs: their defaults are what the benchmarks chose


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


class UsableBands(NamedTuple):
    """How many of a scene's bands a run uses, as far as the dialog can tell without reading every pixel."""

    fewest: int  # bands not flagged bad seen holding data in a few small windows: the run uses at least these
    most: int  # bands not flagged bad: the run uses at most these (fewer when a band holds no data anywhere)
    bands: int  # all the bands of the file
    flagged_bad: int  # bands the file's metadata flags bad (ENVI/EnMAP bbl = 0)
    wavelengths: Optional[tuple[float, ...]] = None  # nm of the bands the run uses, where the dialog can tell them
    # (the file has wavelengths and the usable bands are known exactly); else None


def usable_bands(source: str) -> Optional[UsableBands]:
    """The range of usable bands a run finds in the scene ``source`` (a QGIS raster source), or None where the file
    cannot be read: the engine's count (``core.io.read.good_bands``: bands with data somewhere, not flagged bad) from
    the metadata and :data:`SAMPLE_SIDE`-pixel windows at the centre and the quarter points.

    The engine finds the bands holding data by reading every pixel; a dialog cannot take that long on a large scene.
    A band seen with data in a window certainly has some and the flags bound the rest, so the range is exact on a
    scene whose bands all hold data where it is sampled (the usual case) or that the windows cover whole, and the
    dialog never refuses what the engine accepts.
    """
    from rasterio.errors import RasterioError
    from rasterio.windows import Window

    from ..core.io.band_metadata import band_facts
    from ..core.io.read import (gdal_subdataset_file, good_bands, invalid_values, opened_quietly, uses_a_mask_band,
                                validity_masks)

    name = gdal_name(source)
    try:
        with opened_quietly(name) as ds:
            bands, rows, cols = ds.count, ds.height, ds.width
            facts = band_facts(ds, gdal_subdataset_file(name) or Path(name))
            flagged = facts.flagged_good  # (B,) bool
            nodata = [ds.nodatavals[b] for b in range(bands)]
            masked = uses_a_mask_band(ds)
            seen = np.zeros(bands, dtype=bool)  # (B,) holds data in some sampled pixel
            h, w = min(SAMPLE_SIDE, rows), min(SAMPLE_SIDE, cols)
            corners = {(max(0, min(rows - h, int(rows * fy) - h // 2)), max(0, min(cols - w, int(cols * fx) - w // 2)))
                       for fy, fx in ((0.5, 0.5), (0.25, 0.25), (0.25, 0.75), (0.75, 0.25), (0.75, 0.75))}
            # a small scene the windows cover whole is read whole: its count is then the engine's
            covered = np.zeros((rows, cols), dtype=bool) if rows * cols <= len(corners) * h * w else None
            for top, left in sorted(corners):
                window = Window(left, top, w, h)
                raw = ds.read(window=window)  # (B, h, w)
                invalid = invalid_values(raw, nodata, validity_masks(ds, window) if masked else None)
                seen |= ~invalid.reshape(bands, -1).all(axis=1)
                if covered is not None:
                    covered[top:top + h, left:left + w] = True
    except (RasterioError, OSError):
        return None
    used = None  # (B,) bool: the bands the run uses, where known exactly
    if covered is not None and covered.all():  # every pixel seen: the engine's own rule gives its count
        used = good_bands(Path(name), seen, flagged) if seen.any() else np.zeros(bands, dtype=bool)  # none: no data
        fewest = most = int(used.sum())
    elif (seen & flagged).any():
        fewest, most = int((seen & flagged).sum()), int(flagged.sum())
        used = flagged if fewest == most else None
    else:  # no good band seen holding data: flagged-good bands may hold data elsewhere (then 1 of them or more), or
        fewest, most = (1 if flagged.any() else int(seen.sum())), bands  # the engine takes every band with data
    wavelengths = (tuple(float(w) for w in facts.wavelengths[used])
                   if used is not None and facts.wavelengths is not None else None)
    return UsableBands(fewest, most, bands, int((~flagged).sum()), wavelengths)


def bundle_wavelengths(bundle: str) -> Optional[np.ndarray]:
    """The wavelengths (nm) a synthesis model bundle was trained at, from its reference tensors (read without their
    checksum, which the run checks), or None where it has none or cannot be read."""
    return read_bundle_part(bundle, "reference").get("wavelengths")


def bundle_bands(bundle: str) -> Optional[int]:
    """The band count a synthesis model bundle was trained on, from its ``meta.json`` (no weight is read), or None
    where the folder does not say (the engine's loader then says what is wrong with it)."""
    try:
        return int(read_bundle_meta(bundle)["bands"])
    except (KeyError, TypeError, ValueError):
        return None


def bundle_problem(bundle: str, scene: Optional[QgsRasterLayer], usable: Optional[UsableBands] = None
                   ) -> Optional[str]:
    """Why the model bundle folder ``bundle`` cannot serve a run on ``scene`` (None when it can, as far as its files
    tell): missing, no bundle, a classifier or a run's folder, or trained on another band count than the scene's
    usable bands (``usable``: :func:`usable_bands` of the scene, when already known). A sentence that says what to do.

    The engine refuses all of these too, but only once the run has started and read the scene.
    """
    folder = Path(bundle)
    if not folder.is_dir():
        return f"The model bundle {bundle} does not exist (choose the model_bundle folder of a run)."
    try:
        check_model_folder(folder, "synthesis")  # a classifier bundle, or a run's folder instead of its bundle
    except ValueError as exc:
        return f"{exc}."
    if not (folder / BUNDLE_MANIFEST).is_file():
        return f"{bundle} is not a HyperSynth model bundle: it has no {BUNDLE_MANIFEST}."
    trained = bundle_bands(bundle)
    if trained is None or scene is None:
        return None
    usable = usable or usable_bands(scene.source())
    if usable is None:
        return None
    if usable.fewest <= trained <= usable.most:
        return wavelength_problem(bundle, usable)
    if usable.fewest == usable.most:
        count = f"{usable.most}"
    else:  # some band may hold no data anywhere: the dialog's sample cannot tell, the bound it passed is certain
        count = f"at most {usable.most}" if trained > usable.most else f"at least {usable.fewest}"
    flags = f" (of its {usable.bands}, {usable.flagged_bad} flagged bad)" if usable.flagged_bad else ""
    return (f"The model bundle was trained on {trained} bands but this scene has {count} usable bands{flags}: "
            "reuse a bundle trained on a scene of the same sensor (same band set), or clear 'Reuse model bundle' to "
            "train a new model on this scene.")


def wavelength_problem(bundle: str, usable: UsableBands) -> Optional[str]:
    """Why a bundle trained on as many bands as the scene uses still cannot serve it: its bands lie at other
    wavelengths (another sensor, another subset), by the engine's rule; None where they agree or cannot be compared."""
    trained = bundle_wavelengths(bundle)
    if trained is None or usable.wavelengths is None or len(trained) != len(usable.wavelengths):
        return None
    said = wavelength_mismatch(trained, usable.wavelengths, "the model bundle")
    if said is None:
        return None
    return (f"The model bundle was trained on bands at other wavelengths than this scene's ({said}): reuse a bundle "
            "trained on a scene of the same sensor (same band set), or clear 'Reuse model bundle' to train a new "
            "model on this scene.")


class RunDialog(QDialog):
    """Asks for the Augment & Classify settings; :meth:`values` returns them once accepted.

    Args:
        defaults: initial values (keys as in :meth:`values`, e.g. from the plugin settings).
        inputs: the files the run reads (scene, labels): an output folder where an output would replace one is
            refused.
        scene: the scene layer the run classifies: a reused model bundle must have been trained on its band count,
            and it is no validation layer.
        labels: the training label layer: validation labels must be others.
    """

    def __init__(self, parent: Optional[QWidget] = None, defaults: Optional[dict[str, Any]] = None,
                 inputs: Sequence[str] = (), scene: Optional[QgsRasterLayer] = None,
                 labels: Optional[QgsMapLayer] = None) -> None:
        super().__init__(parent)
        self._inputs = list(inputs)
        self._scene, self._labels = scene, labels
        self._usable: Optional[UsableBands] = None  # the scene's usable bands, read once when a bundle is checked
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
        self.preset.currentIndexChanged.connect(self._preset_changed)
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

        # The knobs the benchmarks chose defaults for, folded away: the run needs none of them, and their names
        # (guidance ω, balance rate λ…) say little until read about; opened when one is not at its default.
        advanced = QFormLayout()
        self.patch_size = _number_box(
            QSpinBox(), 0, 64, 1, int(defaults.get("patch_size") or 0),
            "Side of the square patches the VAE and the classifier see. By default it is chosen from how uniform "
            "the scene's neighbourhoods are (large for big uniform fields, small for mixed scenes), at most the "
            "preset's size", special=AUTO_PATCH_SPECIAL, suffix=" px")
        advanced.addRow("Patch size", self.patch_size)
        self.synthetic = _number_box(
            QSpinBox(), 0, 100000, 50, int(defaults.get("synthetic_per_class") or 0),
            "Synthetic patches for an average class; rare classes get more (see λ)", special=DEFAULT_SPECIAL)
        advanced.addRow("Synthetic samples per class", self.synthetic)
        self.guidance = _number_box(
            QDoubleSpinBox(), 0.0, 20.0, 0.5, float(defaults.get("guidance") or 0.0),
            "Classifier-free guidance ω: higher follows the prompt more closely, with less variety",
            decimals=1, special=DEFAULT_SPECIAL)
        advanced.addRow("Guidance ω", self.guidance)
        self.guidance_help = _help_row(advanced, KNOB_HELP["guidance"])  # under each knob whose name says little
        self.balance = _number_box(
            QDoubleSpinBox(), 0.0, 1.0, 0.1, float(defaults.get("balance_rate", MethodSettings.balance_rate)),
            "Balance rate λ: 0 gives every class the same number of synthetic samples, "
            "1 gives rare classes proportionally more", decimals=2)
        advanced.addRow("Balance rate λ", self.balance)
        self.balance_help = _help_row(advanced, KNOB_HELP["balance"])
        self.synthetic_weight = _number_box(
            QDoubleSpinBox(), 0.05, 10.0, 0.05, float(defaults.get("synthetic_weight", MethodSettings.synthetic_weight)),
            "How much all synthetic patches together count in the classifier's training, relative to your labels "
            "(1: as much as your labels). In the benchmarks they helped most with 2 labels per class on a hard "
            "scene and cost a little where your labels alone already classify well", decimals=2)
        advanced.addRow("Synthetic weight", self.synthetic_weight)
        self.synthetic_weight_help = _help_row(advanced, KNOB_HELP["synthetic_weight"])
        self.anchor_strength = _number_box(
            QDoubleSpinBox(), 0.05, 1.0, 0.05, float(defaults.get("anchor_strength", MethodSettings.anchor_strength)),
            "How far synthesis departs from your labelled patches: each synthetic patch starts from a real one "
            "with this much noise added. 0.3–0.6 gives realistic variations of your samples; 1 ignores them and "
            "starts from pure noise (most variety, least faithful)", decimals=2)
        advanced.addRow("Anchor strength", self.anchor_strength)
        self.anchor_help = _help_row(advanced, KNOB_HELP["anchor"])
        pseudo = defaults.get("pseudo_labels")
        self.pseudo_labels = _number_box(  # -1: the default (none since session 13); 0 says none explicitly
            QSpinBox(), -1, 100000, 10, -1 if pseudo is None else int(pseudo),
            "Unlabelled pixels added per class as extra training labels, drawn from the more confident half "
            "of each class as a first classifier sees it. None by default: picked from a few labels per class "
            "they cost accuracy in the benchmarks (BENCHMARKS.md)",
            special="none (default)")
        advanced.addRow("Pseudo-labels per class", self.pseudo_labels)
        smoothing = defaults.get("spatial_smoothing")
        self.spatial_smoothing = _number_box(  # -0.5: cross-validated; 0 is a real choice (off)
            QDoubleSpinBox(), -0.5, 10.0, 0.5, -0.5 if smoothing is None else float(smoothing),
            "Width (pixels) of the Gaussian smoothing of the class probabilities before each pixel gets its class: "
            "removes isolated misclassified pixels inside fields. By default cross-validation on your labels picks "
            "it (0, 0.5, 1, 2 or 3); 0 switches it off", decimals=1, special=AUTO_SMOOTHING_SPECIAL, suffix=" px")
        advanced.addRow("Spatial smoothing σ", self.spatial_smoothing)
        self.diffusion_features = QCheckBox("in the blend (share from CV)")
        self.diffusion_features.setChecked(bool(defaults.get("diffusion_features", MethodSettings.diffusion_features)))
        self.diffusion_features.setToolTip(
            "An SVM on the diffusion model's own features of each patch joins the CNN and the spectral forest; "
            "cross-validation on your labels gives it its share (possibly none). Off by default: that "
            "cross-validation overrates it (the model learnt your labels with their prompts), and its features cost "
            "about as much per pixel as the CNN")
        advanced.addRow("Diffusion-feature SVM", self.diffusion_features)
        self.seed = SeedBox("Seeds every random choice of the run", int(defaults.get("seed", 0)))
        advanced.addRow("Seed", self.seed)
        self._preset_changed()  # the boxes left to the preset show its values

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
        # A layer combo and a typed field, as Processing's VALIDATION and CLASS_FIELD: a field combo tied to the
        # layer would crash QGIS when the layer is a raster (its field widget takes a vector parent only).
        self.validation = QgsMapLayerComboBox()
        self.validation.setFilters(QgsMapLayerProxyModel.PointLayer | QgsMapLayerProxyModel.PolygonLayer
                                   | QgsMapLayerProxyModel.RasterLayer)
        self.validation.setAllowEmptyLayer(True, NO_VALIDATION)
        # a scene is no label raster, and the training labels are no validation (problems() says so of a copy)
        self.validation.setExceptedLayerList([layer for layer in (scene, labels) if layer is not None])
        self.validation.setLayer(QgsProject.instance().mapLayer(str(defaults.get("validation_layer_id") or "")))
        if self.validation.currentLayer() is None:  # none remembered, or one not offered now (the training labels):
            self.validation.setCurrentIndex(0)  # the empty choice, said (the combo was left blank)
        self.validation.setToolTip(
            "Optional: labels kept apart from training (points, polygons or a label raster on the scene's grid). The "
            "report then gives the map's overall, average and per-class accuracy, κ, the confusion matrix and the "
            "area-adjusted accuracy; training pixels among them are not scored")
        form.addRow("Validation labels", self.validation)
        self.validation_field = QLineEdit(str(defaults.get("validation_field") or ""))
        self.validation_field.setPlaceholderText(GUESSED_FIELD)
        self.validation_field.setToolTip(
            "The validation layer's field holding the class (ids, or names as in the class table); empty: the first "
            "of class_id, class, label, … it has. A label raster holds class ids itself")
        form.addRow("Validation class field", self.validation_field)
        self.validation.layerChanged.connect(self._show_validation_field)
        self._show_validation_field()

        self.advanced = QgsCollapsibleGroupBox(ADVANCED_TITLE)
        self.advanced.setObjectName("hypersynthRunAdvanced")
        self.advanced.setSaveCollapsedState(False)  # folded or open by this run's settings, not by the last dialog
        self.advanced.setLayout(advanced)
        changed = self.changed_knobs()
        self.advanced.setTitle(f"{ADVANCED_TITLE} ({len(changed)} changed: {', '.join(changed)})" if changed else
                               f"{ADVANCED_TITLE} (the defaults: what the benchmarks chose)")
        self.advanced.setCollapsed(not changed)
        self.advanced.collapsedStateChanged.connect(lambda _collapsed: self.adjustSize())  # no room left empty

        for edited in (self.output_folder.fileChanged, self.bundle.fileChanged, self.validation.layerChanged,
                       self.validation_field.textChanged, self.patch_size.valueChanged):
            edited.connect(self._recheck)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.advanced)
        self.problem = QLabel("")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b00020;")
        layout.addWidget(self.problem)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Run")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def changed_knobs(self) -> list[str]:
        """The advanced knobs not at their defaults (their row names), so a folded Advanced box never hides them."""
        defaults = MethodSettings()
        at_default = {
            "Patch size": self.patch_size.value() == 0, "Synthetic samples per class": self.synthetic.value() == 0,
            "Guidance ω": self.guidance.value() == 0.0,
            "Balance rate λ": abs(self.balance.value() - defaults.balance_rate) < 1e-9,
            "Synthetic weight": abs(self.synthetic_weight.value() - defaults.synthetic_weight) < 1e-9,
            "Anchor strength": abs(self.anchor_strength.value() - defaults.anchor_strength) < 1e-9,
            "Pseudo-labels per class": self.pseudo_labels.value() == -1,
            "Spatial smoothing σ": self.spatial_smoothing.value() == -0.5,
            "Diffusion-feature SVM": self.diffusion_features.isChecked() == bool(defaults.diffusion_features),
            "Seed": self.seed.value() == 0,
        }
        return [name for name, default in at_default.items() if not default]

    def _preset_changed(self, *_args: object) -> None:
        """The preset's help line, and the values the boxes left to it take, in their "preset default" text."""
        name = self.preset.currentData()
        self.preset_help.setText(PRESET_HELP.get(name, ""))
        if not hasattr(self, "guidance"):  # the preset is chosen before the folded boxes are made
            return
        self.synthetic.setSpecialValueText(f"{DEFAULT_SPECIAL} ({default_synthetic_per_class(name)})")
        self.guidance.setSpecialValueText(f"{DEFAULT_SPECIAL} (ω = {preset(name).diffusion.guidance:g})")

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

    def _show_validation_field(self, *_args: object) -> None:
        """The class field applies to vector validation labels only (a label raster holds class ids itself)."""
        self.validation_field.setEnabled(isinstance(self.validation.currentLayer(), QgsVectorLayer))

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._show_output_path()

    def values(self) -> dict[str, Any]:
        """The chosen settings; None means "the preset's default" (the patch size: chosen from the scene).

        Keys match core MethodSettings where they are method settings.
        """
        bundle = self.bundle.filePath().strip()
        validation = self.validation.currentLayer()
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
            "validation_layer_id": validation.id() if validation is not None else "",  # the project keeps layer ids
            "validation_field": self.validation_field.text().strip(),
            "overwrite": self._overwrite,
            "approved_outputs": list(self._approved),  # the run refuses to replace any other (written meanwhile)
        }

    def problems(self) -> list[str]:
        """What stops the run (empty when the settings can run)."""
        found = []
        validation = self.validation.currentLayer()
        folder = folder_problem(self.output_folder.filePath())
        if folder:
            found.append(folder)
        else:
            read = self._inputs + [path for path in (layer_file(validation),) if path]
            found.extend(inputs_in_the_way(self.output_folder.filePath(), read))
        size = self.patch_size.value()
        if size and size < 3:
            found.append(f"A patch size of {size} px is too small; use 3 px or more (or leave it to the scene).")
        bundle = self.bundle.filePath().strip()
        if bundle:
            if self._usable is None and self._scene is not None and bundle_bands(bundle) is not None:
                self._usable = usable_bands(self._scene.source())  # a few small reads, once per dialog
            wrong = bundle_problem(bundle, self._scene, self._usable)
            if wrong:
                found.append(wrong)
        wrong = validation_problem(validation, self._labels, self._scene, self.validation_field.text())
        if wrong:
            found.append(wrong[0].upper() + wrong[1:] + ".")
        return found

    def confirm_overwrite(self, names: list[str]) -> bool:
        """Ask before replacing earlier outputs (a method so tests can answer it)."""
        answer = QMessageBox.question(
            self, "Overwrite results?",
            f"The output folder already holds {', '.join(names)}.\nReplace them with the new run's results?",
            QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        return answer == QMessageBox.Yes

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        """Once shown, the height its rows need: the dialog opened as tall as with Advanced open, its rows spread
        over the room (a folded box's height is known only once it is laid out); the output path elided to its
        width."""
        super().showEvent(event)
        self._show_output_path()
        QTimer.singleShot(0, self.adjustSize)

    def _recheck(self, *_args: object) -> None:
        """Once Run has listed what blocks it, an edit checks again: a fixed problem leaves the list (it stayed, red,
        until Run was pressed again), one still there stays. Nothing is said before the first Run."""
        if self.problem.text():
            self.problem.setText("\n".join(self.problems()))

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
