"""Prompts panel: the text each class is synthesised from, templates to write it, a preview of samples."""

from __future__ import annotations

import html
import warnings
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import pyqtgraph as pg
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QCoreApplication, QEvent, QSize, Qt, QTimer, pyqtSignal
from qgis.PyQt.QtGui import QColor, QImage, QPalette, QPixmap
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.io.patch_files import PATCH_FORMATS, companion_files, write_patches
from ..core.report import spectral_angle_deg
from ..core.scene import ClassInfo
from ..plugin.layers import files_the_project_needs
from ..plugin.rendering import composite_rgb
from .spectral_dock import fit_value_title, patch_pyqtgraph_for_qgis, plot_spectrum

patch_pyqtgraph_for_qgis()

# Prompt templates: coarse names the class, fine adds what it looks like (the paper's two granularities).
PLACEHOLDER_ROLE = Qt.UserRole + 1  # a prompt cell's text for when it is empty: what the run will use


class PlaceholderDelegate(QStyledItemDelegate):
    """Shows an empty prompt cell's placeholder (greyed, in brackets): the class name the run uses instead."""

    def initStyleOption(self, option: Any, index: Any) -> None:  # noqa: N802 (Qt's name)
        super().initStyleOption(option, index)
        placeholder = index.data(PLACEHOLDER_ROLE)
        if not option.text and placeholder:
            option.text = f"({placeholder})"
            option.palette.setColor(QPalette.Text, option.palette.color(QPalette.Disabled, QPalette.Text))
            option.font.setItalic(True)


TEMPLATES = {"coarse": "{name}", "fine": "{name}, {detail}"}
TEMPLATE_TITLES = {"coarse": "Coarse: {name}", "fine": "Fine: {name}, {detail}"}
# Example details for fine prompts, by kind of land cover.
FINE_DETAILS: dict[str, list[str]] = {
    "vegetation": ["dense green canopy, summer", "early growth, bare soil between rows", "minimum tillage",
                   "senescent, dry leaves", "mowed grass"],
    "urban": ["red tiled roofs", "asphalt road", "concrete pavement", "metal sheet roofs", "gravel parking lot"],
    "water": ["clear deep water", "turbid shallow water", "water with algae bloom", "river with sediment"],
    "soil": ["bare dry soil", "wet dark soil", "freshly ploughed field", "bright sand"],
}
THUMBNAIL_PX = 64  # side of a preview thumbnail on screen
MAX_THUMBNAILS = 8  # preview patches shown at most
# A prompt that turns patches started from labelled ones by less than this (degrees, against no prompt) is said to
# barely change them: the demo's fast model turns its classes' own prompts 0.1-2.5° at anchor strength 0.5
PROMPT_BARELY_DEG = 1.0
PLOT_TITLE_CHARS = 56  # the plot's one-line title at most (its prompt elided): a longer one widened the plot
THUMBNAIL_CAPTION = "false colour: R = NIR, G = red, B = green, stretched over these patches"
NAME, PROMPT = range(2)  # table columns
# The preview's place before any preview: without a synthesis model yet, and with the last run's
PREVIEW_HINT = "Preview synthesises patches of a class's prompt once a run has trained a synthesis model."
PREVIEW_READY_HINT = "Select a class and press Preview: 4 patches of its prompt from the last run's synthesis model."
# The preview plot's least height: its axes and their titles take about 60 px, the curves get the rest. Where the dock
# is shorter (the spectral and attention docks open beside it) the tab scrolls rather than squeeze the plot.
PREVIEW_PLOT_MIN_HEIGHT = 220
PREVIEW_VALUE_TITLE = "Pixel value"  # the value axis: synthetic patches are in the scene's units
# Said above the prompts when the last run's model had no CLIP weights: what a prompt then means, and the remedy
NO_CLIP_NOTE = ("No CLIP weights in the last run's model: its prompts mean only what it learnt from your labels "
                "(Raster ▸ HyperSynth ▸ Settings… sets the weights).")  # two lines: the prompts table keeps its room
NO_CLIP_DETAIL = ("Without CLIP weights the text encoder is learnt from your prompts and labels alone: a prompt means "
                  "what the model saw beside its class's labels, and wording it never saw carries little. Set a CLIP "
                  "ViT-B-32 weights file in Raster ▸ HyperSynth ▸ Settings… and run again for prompts that mean what "
                  "they say.")
SAVE_TIP = "Save the previewed patches as a GeoTIFF mosaic (added to the map), a spectral library (.csv) or a .npz"
# the save dialog's file types, the mosaic first (QGIS shows it); their endings are write_patches's
SAVE_FILTERS = {".tif": "GeoTIFF mosaic (*.tif)", ".csv": "Spectral library (*.csv)", ".npz": "NumPy archive (*.npz)"}
assert set(SAVE_FILTERS) == set(PATCH_FORMATS)


class VerticalScrollArea(QScrollArea):
    """Scrolls its content up and down only: as wide as the content needs (as the panel was without it), as short as
    the dock makes it."""

    def __init__(self, content: QWidget) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setWidget(content)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        content = self.widget().minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
        return QSize(content, super().minimumSizeHint().height())


class PreviewPlot(pg.PlotWidget):
    """The preview's spectra plot: it asks for its least height only, so a short dock gives the rest to the table
    and a tall one stretches it (a scroll area's content takes its preferred height, pyqtgraph's is 480 px)."""

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(super().sizeHint().width(), self.minimumHeight())


def fill_template(template: str, name: str, detail: str = "") -> str:
    """A prompt from a template: ``{name}`` becomes the readable class name, ``{detail}`` the detail."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}; choose one of {', '.join(TEMPLATES)}")
    if template == "fine" and not detail.strip():
        raise ValueError("a fine prompt needs a detail, e.g. 'early growth, bare soil between rows'")
    return TEMPLATES[template].format(name=name.replace("_", " ").strip(), detail=detail.strip())


class PromptsPanel(QWidget):
    """Per-class prompts with templates, and a preview of synthetic patches for one prompt."""

    promptChanged = pyqtSignal(int, str)  # class id, new prompt
    previewRequested = pyqtSignal(int, str)  # class id, the prompt text to synthesise from
    previewSaved = pyqtSignal(list)  # the files a Save of the preview wrote (str paths), the main one first

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._classes: list[ClassInfo] = []
        self._patch_file: Optional[dict[str, Any]] = None  # the shown preview as write_patches takes it; None: none
        self._model_ready = False  # a synthesis model to preview from is there (set_model_ready)
        self.save_folder = ""  # where Save… starts: the last run's output folder ("" QGIS's own choice)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        content = QWidget()
        self.scroll = VerticalScrollArea(content)  # a short dock scrolls the tab instead of squeezing the preview
        outer.addWidget(self.scroll)
        layout = QVBoxLayout(content)

        self.text_note = QLabel(NO_CLIP_NOTE)
        self.text_note.setWordWrap(True)
        self.text_note.setStyleSheet("color: rgb(176, 96, 0);")  # a caution, as the class table's few-labels counts
        self.text_note.setVisible(False)
        layout.addWidget(self.text_note)

        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Class", "Prompt"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(NAME, QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(PROMPT, QHeaderView.Stretch)
        self.table.itemChanged.connect(self._item_edited)
        self.table.setItemDelegateForColumn(PROMPT, PlaceholderDelegate(self.table))
        self.table.setMinimumHeight(120)
        layout.addWidget(self.table, 1)

        template_box = QGroupBox("Template")
        rows = QVBoxLayout(template_box)
        first = QHBoxLayout()
        self.template = QComboBox()
        for key, title in TEMPLATE_TITLES.items():
            self.template.addItem(title, key)
        self.template.currentIndexChanged.connect(self._template_changed)
        first.addWidget(self.template)
        self.kind = QComboBox()
        for kind in FINE_DETAILS:
            self.kind.addItem(kind, kind)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        first.addWidget(self.kind)
        rows.addLayout(first)
        second = QHBoxLayout()
        self.detail = QComboBox()
        self.detail.setEditable(True)
        self.detail.setToolTip("What the class looks like; pick an example or write your own")
        second.addWidget(self.detail, 1)
        self.apply_button = QPushButton("Apply to class")
        self.apply_button.clicked.connect(self._apply_to_current)
        second.addWidget(self.apply_button)
        self.apply_all_button = QPushButton("Coarse for all")
        self.apply_all_button.setToolTip("Set every class's prompt to its name (asks before replacing prompts you "
                                         "wrote)")
        self.apply_all_button.clicked.connect(self.apply_coarse_to_all)
        second.addWidget(self.apply_all_button)
        rows.addLayout(second)
        layout.addWidget(template_box)

        preview_box = QGroupBox("Preview")
        preview = QVBoxLayout(preview_box)
        top = QHBoxLayout()
        self.preview_button = QPushButton("Preview")
        self.preview_button.setToolTip("Synthesise a few patches from the selected class's prompt")
        self.preview_button.clicked.connect(self.request_preview)
        top.addWidget(self.preview_button)
        self.save_button = QPushButton("Save…")
        self.save_button.setToolTip("Preview a prompt first; its patches can then be saved")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self._ask_save)
        top.addWidget(self.save_button)
        top.addStretch(1)
        preview.addLayout(top)
        self.preview_title = QLabel(PREVIEW_HINT)  # the whole width: a narrow column beside the buttons ran long
        self.preview_title.setWordWrap(True)
        preview.addWidget(self.preview_title)
        self.thumbnail_row = QHBoxLayout()
        self.thumbnails: list[QLabel] = []
        for _ in range(MAX_THUMBNAILS):
            label = QLabel()
            label.setFixedSize(THUMBNAIL_PX, THUMBNAIL_PX)
            label.setVisible(False)
            self.thumbnails.append(label)
            self.thumbnail_row.addWidget(label)
        self.thumbnail_caption = QLabel(THUMBNAIL_CAPTION)
        self.thumbnail_caption.setWordWrap(True)
        self.thumbnail_caption.setStyleSheet("color: gray")
        self.thumbnail_caption.setVisible(False)
        self.thumbnail_row.addWidget(self.thumbnail_caption, 1)
        preview.addLayout(self.thumbnail_row)
        self.spectra = PreviewPlot(background="w")
        self.spectra.setMinimumHeight(PREVIEW_PLOT_MIN_HEIGHT)
        self.spectra.setLabel("left", PREVIEW_VALUE_TITLE)
        self._value_title = PREVIEW_VALUE_TITLE
        self.spectra.getPlotItem().vb.sigResized.connect(self._fit_value_title)
        self.spectra.setLabel("bottom", "Wavelength (nm)")
        self.spectra.showGrid(x=True, y=True, alpha=0.25)
        self.placeholder = pg.TextItem("The preview's spectra appear here", color=(120, 120, 120), anchor=(0.5, 0.5))
        self.placeholder.setPos(0.5, 0.5)  # the centre of an empty plot's default 0..1 range
        self.spectra.addItem(self.placeholder)  # an empty plot with bare axes looked broken
        preview.addWidget(self.spectra, 1)
        layout.addWidget(preview_box, 2)  # the plot gets more of a tall dock than the table
        self._template_changed()
        self._kind_changed()

    # --- classes and prompts ----------------------------------------------------------------------
    def set_classes(self, classes: Sequence[ClassInfo]) -> None:
        """Show these classes (their prompts included); keeps the selected class when it is still there."""
        selected = self.current_class_id()
        self._classes = sorted(classes, key=lambda c: c.id)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self._classes))
        for row, c in enumerate(self._classes):
            name = QTableWidgetItem(c.name)
            name.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
            name.setData(Qt.DecorationRole, QColor(*c.color))
            self.table.setItem(row, NAME, name)
            prompt = QTableWidgetItem(c.prompt)
            prompt.setToolTip(f"Empty means the class name: “{c.text}”")
            prompt.setData(PLACEHOLDER_ROLE, f"empty: the class name, “{c.name.replace('_', ' ')}”, is used")
            self.table.setItem(row, PROMPT, prompt)
        self.table.blockSignals(False)
        ids = [c.id for c in self._classes]
        if selected in ids:
            self.table.selectRow(ids.index(selected))
        elif ids:
            self.table.selectRow(0)

    def current_class_id(self) -> Optional[int]:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self._classes):
            return None
        return self._classes[rows[0].row()].id

    def select_class(self, class_id: int) -> None:
        ids = [c.id for c in self._classes]
        self.table.selectRow(ids.index(class_id))

    def prompt_for(self, class_id: int) -> str:
        """The text synthesis uses for a class: its prompt, or its name when the prompt is empty."""
        for c in self._classes:
            if c.id == class_id:
                return c.text
        raise KeyError(f"no class with id {class_id}")

    def set_prompt(self, class_id: int, prompt: str) -> None:
        """Change a class's prompt (and tell the classes panel through ``promptChanged``)."""
        for row, c in enumerate(self._classes):
            if c.id == class_id:
                c.prompt = prompt
                self.table.blockSignals(True)
                self.table.item(row, PROMPT).setText(prompt)
                self.table.blockSignals(False)
                self.promptChanged.emit(class_id, prompt)
                return
        raise KeyError(f"no class with id {class_id}")

    def apply_template(self, class_id: int, template: str, detail: str = "") -> str:
        """Write a class's prompt from a template; returns the prompt."""
        name = next((c.name for c in self._classes if c.id == class_id), None)
        if name is None:
            raise KeyError(f"no class with id {class_id}")
        prompt = fill_template(template, name, detail)
        self.set_prompt(class_id, prompt)
        return prompt

    def apply_coarse_to_all(self) -> bool:
        """Set every class's prompt to the coarse template (its name); prompts written otherwise are replaced only
        once the analyst agreed, shown which (a written prompt took thought, and nothing undoes this). Returns
        whether the prompts were set."""
        written = [(c.name, c.text) for c in self._classes  # c.text: the prompt, or the name where it is empty
                   if c.text.strip() and c.text != fill_template("coarse", c.name, "")]
        if written:
            listed = "\n".join(f"• {name}: “{prompt}”" for name, prompt in written[:10])
            more = f"\n… and {len(written) - 10} more" if len(written) > 10 else ""
            answer = QMessageBox.question(
                self, "Coarse prompts for all classes",
                f"Replace {'this prompt' if len(written) == 1 else f'these {len(written)} prompts'} with the class "
                f"name{'' if len(written) == 1 else 's'}?\n\n{listed}{more}",
                QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
            if answer != QMessageBox.Yes:
                return False
        for c in list(self._classes):
            self.apply_template(c.id, "coarse")
        return True

    def _item_edited(self, item: QTableWidgetItem) -> None:
        if item.column() == PROMPT and item.row() < len(self._classes):
            c = self._classes[item.row()]
            c.prompt = item.text()
            self.promptChanged.emit(c.id, c.prompt)

    def _template_changed(self) -> None:
        fine = self.template.currentData() == "fine"
        self.kind.setEnabled(fine)
        self.detail.setEnabled(fine)

    def _kind_changed(self) -> None:
        self.detail.clear()
        self.detail.addItems(FINE_DETAILS.get(self.kind.currentData(), []))

    def _apply_to_current(self) -> None:
        class_id = self.current_class_id()
        if class_id is None:
            self.preview_title.setText("Select a class first.")
            return
        try:
            self.apply_template(class_id, self.template.currentData(), self.detail.currentText())
        except ValueError as error:
            self.preview_title.setText(str(error))

    # --- preview ----------------------------------------------------------------------------------
    def request_preview(self) -> None:
        """Ask (through ``previewRequested``) for synthetic patches of the selected class's prompt."""
        class_id = self.current_class_id()
        if class_id is None:
            self.preview_title.setText("Select a class first.")
            return
        prompt = self.prompt_for(class_id)
        self.preview_title.setText(f"Synthesising “{prompt}”…")
        self.previewRequested.emit(class_id, prompt)

    def show_preview(self, patches: np.ndarray, wavelengths: Optional[Sequence[float]] = None,
                     title: str = "", value_title: str = PREVIEW_VALUE_TITLE,
                     patch_file: Optional[dict[str, Any]] = None, clipped_share: float = 0.0,
                     labelled_mean: Optional[np.ndarray] = None, start: str = "", class_name: str = "",
                     prompt_effect_deg: Optional[float] = None,
                     prompt_alone_mean: Optional[np.ndarray] = None, anchored: bool = False,
                     noise_effect_deg: Optional[float] = None, without_prompt_mean: Optional[np.ndarray] = None,
                     unlike: str = "") -> None:
        """Show synthetic patches as false-colour thumbnails and their centre spectra, beside the class's labelled
        mean.

        The title's first paragraph says what was previewed and what the patches started from (``start``):
        labelled patches of the class, as a run's, or noise. The second says what the prompt does: the spectral angle
        between the patches' mean and the labelled mean (drawn dashed), and the same start's without the prompt;
        whether they look like the class (``unlike``); how far the prompt turns them from where no prompt takes them,
        from their start and from noise (under :data:`PROMPT_BARELY_DEG` it is said to barely change them, or the
        model to barely read it); and the mean of patches from noise with the prompt (drawn dotted).

        The spectra leave gaps where bands are missing (a synthesis model's bands are the scene's usable ones: the
        water-absorption windows are not among them) and at NaN values.

        Args:
            patches: ``(N, B, p, p)`` synthetic patches (physical units).
            wavelengths: ``(B,)`` nm; None plots against band number.
            title: what was synthesised (e.g. the prompt).
            value_title: what the values are, for the value axis (the scene's: ``PixelValues.axis_title()``).
            patch_file: the same patches as ``core.io.patch_files.write_patches`` takes them (keyword arguments
                but the path; the engine's units), for the Save button; None leaves it off.
            clipped_share: the share of the patches' values the engine clipped into the range of the scene the model
                learnt (``SyntheticSet.clipped_share``); said under the title when not 0.
            labelled_mean: ``(B,)`` the class's mean labelled spectrum the model learnt (``SynthesisModel.
                class_spectra``), in the patches' units; None: not drawn.
            start: what the patches started from, a clause (``plugin.runs.preview_start``); "": not known (noise
                with the prompt is said, as a preview's were before they could start from labelled patches).
            class_name: the class previewed, named before the prompt; "": not named.
            prompt_effect_deg: the mean angle between patches started from labelled ones and the same start
                denoised without the prompt; None: not measured (patches from noise).
            prompt_alone_mean: ``(B,)`` the mean centre spectrum of patches from noise with the prompt, in the
                patches' units; None: not drawn.
            anchored: the patches started from labelled ones (the plot's short title says so), not from noise.
            noise_effect_deg: the mean angle between patches from noise with the prompt and without it; None: not
                measured.
            without_prompt_mean: ``(B,)`` the mean centre spectrum of the same start denoised without the prompt,
                in the patches' units (its angle to the labelled mean is said); None: not said.
            unlike: why the patches do not look like their class (``core.prompt_preview``); "": they do.
        """
        patches = np.asarray(patches, dtype=np.float32)
        if patches.ndim != 4 or patches.shape[0] == 0:
            raise ValueError(f"patches must be a non-empty (N, bands, p, p) array; got shape {patches.shape}")
        n, bands, p, _ = patches.shape
        if wavelengths is not None and len(wavelengths) != bands:
            raise ValueError(f"{len(wavelengths)} wavelengths for {bands}-band patches")
        rgb = composite_rgb(patches[:MAX_THUMBNAILS], wavelengths, "false colour")  # (n, p, p, 3) uint8
        for i, label in enumerate(self.thumbnails):
            if i < len(rgb):
                image = np.ascontiguousarray(rgb[i])
                qimage = QImage(image.data, p, p, 3 * p, QImage.Format_RGB888).copy()  # copy: numpy owns data
                label.setPixmap(QPixmap.fromImage(qimage).scaled(THUMBNAIL_PX, THUMBNAIL_PX, Qt.KeepAspectRatio,
                                                                 Qt.FastTransformation))
                label.setToolTip(f"synthetic patch {i + 1} (false colour)")
            label.setVisible(i < len(rgb))
        self.thumbnail_caption.setVisible(True)
        x = np.asarray(wavelengths, dtype=float) if wavelengths is not None else np.arange(1, bands + 1, dtype=float)
        centre = patches[:, :, p // 2, p // 2]  # (N, B) the spectrum each patch is labelled by
        self.spectra.clear()
        for spectrum in centre:
            plot_spectrum(self.spectra, x, spectrum, pen=pg.mkPen(120, 120, 200, 110))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "mean of empty slice" where every patch is NaN
            mean = np.nanmean(centre, axis=0)
        plot_spectrum(self.spectra, x, mean, pen=pg.mkPen(30, 30, 140, width=2.5))
        labelled_mean = _one_per_band(labelled_mean, bands, "labelled_mean")
        alone = _one_per_band(prompt_alone_mean, bands, "prompt_alone_mean")
        without = _one_per_band(without_prompt_mean, bands, "without_prompt_mean")
        facts = ["Bold: their mean"]
        if labelled_mean is not None:
            plot_spectrum(self.spectra, x, labelled_mean, pen=pg.mkPen(230, 120, 0, width=2.5, style=Qt.DashLine))
            facts[0] += (f", {_angle(mean, labelled_mean)} from your labels' mean (dashed orange)"
                         + (f"; without the prompt, {_angle(without, labelled_mean)}" if without is not None else ""))
        facts[0] += "."
        if unlike:
            facts.append(f"They do not look like your {class_name.replace('_', ' ') or 'class'}: {unlike}.")
        facts += _prompt_effect(prompt_effect_deg, noise_effect_deg)
        if alone is not None:
            plot_spectrum(self.spectra, x, alone, pen=pg.mkPen(150, 40, 160, width=2, style=Qt.DotLine))
            facts.append("Dotted: from noise with the prompt" + (f", {_angle(alone, labelled_mean)} from your "
                                                                "labels' mean" if labelled_mean is not None else "")
                         + ".")
        if clipped_share > 0:
            facts.append(f"Clipped into the range of the scene the model learnt: {_share(clipped_share)} of their "
                         "values.")
        self.spectra.setLabel("bottom", "Wavelength (nm)" if wavelengths is not None else "Band")
        self._value_title = value_title
        self._fit_value_title()
        what = " · ".join(part for part in (class_name.replace("_", " "), f"“{title}”" if title else "") if part)
        self.spectra.setTitle(html.escape(_plot_title(class_name, title, anchored)), size="9pt")  # in view with
        # the curves, where the preview's title may lie above the view
        self.preview_title.setText(f"{what + ': ' if what else ''}{n} patches ({p}×{p} px, {bands} bands) "
                                   f"{start or 'from noise with the prompt'}.\n{' '.join(facts)}")
        self._patch_file = dict(patch_file) if patch_file is not None else None
        self.save_button.setEnabled(self._patch_file is not None)
        self.save_button.setToolTip(SAVE_TIP if self._patch_file is not None else
                                    "This preview cannot be saved: it came without its model's classes")
        QTimer.singleShot(0, self._scroll_to_spectra)  # once the thumbnails are laid out

    def _fit_value_title(self) -> None:
        """The value axis's title whole where the plot is tall enough, else without its units or scale."""
        fit_value_title(self.spectra, self._value_title)

    def _scroll_to_spectra(self) -> None:
        """In a short dock, scroll the preview's spectra into view (they are what the analyst asked for; the plot's
        own title says what they are, where the preview's title may lie above the view)."""
        if not sip.isdeleted(self):  # not ensureWidgetVisible: it shows only the plot's top-left corner
            # a title that wrapped to more lines moved the plot down: its layout, then the content's and the scroll
            # range, each posted by the one before
            for _ in range(3):
                QCoreApplication.sendPostedEvents(None, QEvent.LayoutRequest)
            centre = self.spectra.mapTo(self.scroll.widget(), self.spectra.rect().center())
            self.scroll.ensureVisible(centre.x(), centre.y(), 0, self.spectra.height() // 2 + 2)

    def clear_preview(self) -> None:
        """Remove the shown preview (its patches came from the model of a project that was closed)."""
        for label in self.thumbnails:
            label.clear()
            label.setVisible(False)
        self.thumbnail_caption.setVisible(False)
        self.spectra.clear()
        self.spectra.setTitle(None)
        self.spectra.addItem(self.placeholder)
        self.spectra.setLabel("bottom", "Wavelength (nm)")
        self.spectra.setLabel("left", PREVIEW_VALUE_TITLE)
        self.preview_title.setText(PREVIEW_READY_HINT if self._model_ready else PREVIEW_HINT)
        self._patch_file = None
        self.save_button.setEnabled(False)
        self.save_button.setToolTip("Preview a prompt first; its patches can then be saved")

    def set_text_source(self, source: str) -> None:
        """Where the last run's model got its text encoder (the bundle's ``text_source``: "openai-pretrained:…",
        "random-init (…)"; "" no model): without CLIP weights a note says what its prompts then mean."""
        self.text_note.setVisible(source.startswith("random-init"))
        self.text_note.setToolTip(f"{NO_CLIP_DETAIL}\n\nText encoder: {source}" if source else "")

    def set_model_ready(self, ready: bool) -> None:
        """Whether a synthesis model to preview from is there: the hint in the preview's place says what Preview does
        now (a shown preview, or what was said of one, stays)."""
        self._model_ready = bool(ready)
        if self.preview_title.text() in (PREVIEW_HINT, PREVIEW_READY_HINT):
            self.preview_title.setText(PREVIEW_READY_HINT if self._model_ready else PREVIEW_HINT)

    # --- saving the preview -----------------------------------------------------------------------
    def save_preview(self, path: str | Path, overwrite: bool = False) -> list[Path]:
        """Write the shown preview's patches to ``path`` in the format its ending names (.tif, .csv, .npz;
        :func:`~..core.io.patch_files.write_patches`), whole or not at all, say where in the preview's title and
        emit ``previewSaved``; returns the files written.

        Raises:
            ValueError: no preview to save, an ending other than those three, or a file a layer of the project reads
                (the scene, a label raster: replaced, it would be lost; an earlier saved mosaic may be replaced).
            core.outputs.OutputExistsError: a file (the mosaic's class raster too) exists and ``overwrite`` is False.
        """
        if self._patch_file is None:
            raise ValueError("no preview to save: preview a prompt first")
        needed = files_the_project_needs([Path(path), *companion_files(path)])
        if needed:
            raise ValueError(f"{Path(path).name} (or its class raster) is read by the project's layer "
                             f"{', '.join(repr(n) for n in needed)}: choose another name")
        written = write_patches(path, overwrite=overwrite, **self._patch_file)
        beside = companion_files(written[0])[:1]  # a mosaic's class raster (its .qml and .aux.xml go unnamed)
        more = f" and {beside[0].name}" if beside and beside[0] in written else ""
        self.preview_title.setText(f"{len(self._patch_file['patches'])} patches saved to {written[0]}{more}.")
        self.previewSaved.emit([str(f) for f in written])
        return written

    def _ask_save(self) -> None:
        """The Save button: a file dialog (which asks before replacing the file it names), then :meth:`save_preview`;
        a refusal is said in the preview's title."""
        start = str(Path(self.save_folder, "preview_patches.tif")) if self.save_folder else "preview_patches.tif"
        path, chosen = QFileDialog.getSaveFileName(self, "Save the previewed patches", start,
                                                   ";;".join(SAVE_FILTERS.values()))
        if not path:
            return
        confirmed = bool(Path(path).suffix)  # the dialog asked before replacing the file it named
        if not confirmed:  # a name typed without its ending gets the chosen type's, a file it did not ask about
            path += next((e for e, f in SAVE_FILTERS.items() if f == chosen), ".tif")
        try:  # a confirmed mosaic's class raster goes with it; one beside a new name, or unasked, is refused
            self.save_preview(path, overwrite=confirmed and Path(path).exists())
        except (ValueError, OSError) as error:  # OutputExistsError is a ValueError
            self.preview_title.setText(f"Not saved: {error}")


def _one_per_band(spectrum: Optional[np.ndarray], bands: int, name: str) -> Optional[np.ndarray]:
    """``spectrum`` as floats, checked to hold one value per band; None stays None."""
    if spectrum is None:
        return None
    spectrum = np.asarray(spectrum, dtype=float)
    if spectrum.shape != (bands,):
        raise ValueError(f"{name} must be one value per band ({bands}); got shape {spectrum.shape}")
    return spectrum


def _plot_title(class_name: str, prompt: str, anchored: bool) -> str:
    """The plot's one line: "water · “calm open water” · from labels", the prompt elided to keep it within
    :data:`PLOT_TITLE_CHARS` (a longer title widened the plot past the tab)."""
    name, start = class_name.replace("_", " "), "from labels" if anchored else "from noise"
    room = PLOT_TITLE_CHARS - len(" · ".join(p for p in (name, "“”", start) if p))
    if prompt and len(prompt) > room:
        prompt = prompt[:max(room - 1, 1)].rstrip() + "…"
    return " · ".join(part for part in (name, f"“{prompt}”" if prompt else "", start) if part)


def _prompt_effect(anchored_deg: Optional[float], noise_deg: Optional[float]) -> list[str]:
    """What the prompt does, as the preview says it: how far it turns the patches from where no prompt takes them,
    from their labelled start (``anchored_deg``; None: they came from noise) and from noise (``noise_deg``)."""
    if noise_deg is None or not np.isfinite(noise_deg):
        return []
    if anchored_deg is None or not np.isfinite(anchored_deg):
        return [f"The prompt turns them {noise_deg:.1f}° from the model's patches of no prompt"
                + (": this model barely reads the prompt." if noise_deg < PROMPT_BARELY_DEG else ".")]
    said = (f"The prompt turns them {anchored_deg:.1f}° from where no prompt takes them (patches from noise "
            f"{noise_deg:.1f}°)")
    if noise_deg < PROMPT_BARELY_DEG and anchored_deg < PROMPT_BARELY_DEG:
        return [said + ": this model barely reads the prompt."]
    if anchored_deg < PROMPT_BARELY_DEG:
        return [said + ": at this anchor strength it barely changes your patches, whatever it says."]
    if noise_deg < PROMPT_BARELY_DEG:
        return [said + ": from noise it barely changes them."]
    return [said + "."]


def _angle(a: np.ndarray, b: np.ndarray) -> str:
    """The spectral angle between two spectra, as the preview says it ("12.3°"; "an unknown angle" without data)."""
    angle = spectral_angle_deg(a, b)
    return f"{angle:.1f}°" if np.isfinite(angle) else "an unknown angle"


def _share(share: float) -> str:
    """A share of values as the preview says it: "4.2 %", and "under 0.1 %" where that would read 0.0 %."""
    return "under 0.1 %" if share < 0.0005 else f"{share:.1%}".replace("%", " %")
