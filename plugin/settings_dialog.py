"""The "HyperSynth settings" dialog: device, CLIP weights and default preset/output, checked before saving."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from qgis.core import QgsSettings
from qgis.gui import QgsFileWidget
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from .settings import DEVICES, PRESETS, HyperSynthSettings

CLIP_FILTER = "CLIP weights (*.safetensors *.bin *.pt *.pth);;All files (*)"


def settings_problems(settings: HyperSynthSettings) -> list[str]:
    """What is wrong with ``settings`` for an analyst to fix; empty when they can be saved."""
    problems = []
    if settings.clip_weights and not Path(settings.clip_weights).expanduser().is_file():
        problems.append(f"the CLIP weights file {settings.clip_weights} does not exist; choose the file or "
                        "leave the field empty")
    value = settings.output_dir
    if value and Path(value).expanduser().exists() and not Path(value).expanduser().is_dir():
        problems.append(f"the default output folder {value} is a file; choose a folder")
    return problems


class HyperSynthSettingsDialog(QDialog):
    """Edits the stored :class:`HyperSynthSettings`; OK saves them, but only when they are valid.

    Args:
        parent: the QGIS main window.
        store: where the settings live; None: QGIS's own settings (tests pass an .ini file).
    """

    def __init__(self, parent: Optional[QWidget] = None, store: Optional[QgsSettings] = None) -> None:
        super().__init__(parent)
        self.store = store
        self.setObjectName("HyperSynthSettingsDialog")
        self.setWindowTitle(self.tr("HyperSynth settings"))
        self.setMinimumWidth(760)  # room for the fields' placeholders

        self.problems = QLabel(self)  # what to fix before saving; hidden while there is nothing
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("QLabel { color: #b00020; }")
        self.problems.hide()
        self.device = QComboBox(self)
        self.device.addItems(DEVICES)
        self.device.setToolTip(self.tr("auto: the GPU (CUDA) when PyTorch finds one, otherwise the CPU"))
        self.clip_weights = QgsFileWidget(self)
        self.clip_weights.setStorageMode(QgsFileWidget.GetFile)
        self.clip_weights.setFilter(CLIP_FILTER)
        self.clip_weights.setDialogTitle(self.tr("CLIP ViT-B-32 weights file"))
        self.clip_weights.setToolTip(self.tr(
            "An open_clip ViT-B-32 checkpoint on this computer, used by the fast and full presets. Empty: the "
            "pretrained checkpoint is looked for in the Hugging Face cache; without it a small text encoder is "
            "trained from scratch with the synthesis model, so prompts carry no prior language knowledge. "
            "Nothing is downloaded."))
        self.clip_weights.lineEdit().setPlaceholderText(self.tr(
            "Empty: Hugging Face cache, else learnt from scratch"))
        self.preset = QComboBox(self)
        self.preset.addItems(PRESETS)
        self.preset.setToolTip(self.tr("tiny: under a minute on a small scene, to try the workflow; fast: minutes on "
                                       "a laptop CPU; full: a GPU"))
        self.output_dir = QgsFileWidget(self)
        self.output_dir.setStorageMode(QgsFileWidget.GetDirectory)
        self.output_dir.setToolTip(self.tr(
            "The output folder the run dialog starts with, until a run of the project chose one (the dialog then "
            "starts with the last run's). Empty: the dialog starts empty and asks for one"))
        self.output_dir.lineEdit().setPlaceholderText(self.tr("Empty: chosen in the run dialog"))

        form = QFormLayout()
        form.addRow(self.tr("Device"), self.device)
        form.addRow(self.tr("CLIP weights file"), self.clip_weights)
        form.addRow(self.tr("Default preset"), self.preset)
        form.addRow(self.tr("Default output folder"), self.output_dir)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, parent=self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problems)
        layout.addWidget(self.buttons)

        self.set_settings(HyperSynthSettings.load(self.store))

    @staticmethod
    def tr(text: str) -> str:
        return QCoreApplication.translate("HyperSynthSettingsDialog", text)

    def set_settings(self, settings: HyperSynthSettings) -> None:
        """Show ``settings`` in the widgets."""
        self.device.setCurrentIndex(DEVICES.index(settings.device))
        self.clip_weights.setFilePath(settings.clip_weights)
        self.preset.setCurrentIndex(PRESETS.index(settings.preset))
        self.output_dir.setFilePath(settings.output_dir)

    def settings(self) -> HyperSynthSettings:
        """The values in the widgets (not yet checked or saved)."""
        return HyperSynthSettings(device=self.device.currentText(), clip_weights=self.clip_weights.filePath().strip(),
                                  preset=self.preset.currentText(),
                                  output_dir=self.output_dir.filePath().strip())

    def accept(self) -> None:
        """Save and close when the values are valid; otherwise say what to fix and stay open."""
        chosen = self.settings()
        problems = settings_problems(chosen)
        self.problems.setText("\n".join(self.tr("Cannot save: {}.").format(problem) for problem in problems))
        self.problems.setVisible(bool(problems))
        if problems:
            return
        chosen.save(self.store)
        super().accept()
