"""The class table: each class's colour, name, prompt and labelled pixels, one row per class."""

from __future__ import annotations

from typing import Optional, Sequence

from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QBrush, QColor
from qgis.PyQt.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from ..core.label_checks import FEW_LABELS
from ..core.scene import ClassInfo
from .widget_helpers import color_swatch

COLOUR, NAME, PROMPT, PIXELS = range(4)  # table columns
FEW_COLOUR = QColor(176, 96, 0)  # a count too few for the run's cross-validation: dark orange, readable on white


class ClassTable(QTableWidget):
    """The classes in rows (one selected at a time): a colour swatch (double-click to change it), the name and the
    prompt (edit them in place), the scene pixels their labels cover."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(0, 4, parent)
        self.setHorizontalHeaderLabels(["", "Class", "Prompt", "Labelled px"])
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(COLOUR, QHeaderView.Fixed)
        self.setColumnWidth(COLOUR, 26)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(PROMPT, QHeaderView.Stretch)
        header.setSectionResizeMode(PIXELS, QHeaderView.ResizeToContents)

    def selected_row(self) -> Optional[int]:
        """The selected row, or None."""
        rows = self.selectionModel().selectedRows() if self.selectionModel() else []
        return rows[0].row() if rows else None

    def show_classes(self, classes: Sequence[ClassInfo], counts: dict[int, int]) -> None:
        """One row per class, with its labelled pixels from ``counts`` (class id -> pixels). Sends no signals while
        it fills (no item edits, no selection change): the caller selects the row it wants."""
        self.blockSignals(True)
        self.setRowCount(len(classes))
        for row, c in enumerate(classes):
            swatch = QTableWidgetItem("")
            swatch.setData(Qt.DecorationRole, color_swatch(c.color))  # an icon stays visible in a selected row
            swatch.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
            swatch.setToolTip(f"id {c.id}; double-click to change the colour")
            self.setItem(row, COLOUR, swatch)
            self.setItem(row, NAME, QTableWidgetItem(c.name))
            prompt = QTableWidgetItem(c.prompt)
            prompt.setToolTip(f"Synthesis prompt; empty means “{c.text}”")
            self.setItem(row, PROMPT, prompt)
            pixels = QTableWidgetItem(str(counts.get(c.id, 0)))
            pixels.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
            pixels.setTextAlignment(int(Qt.AlignRight | Qt.AlignVCenter))
            pixels.setToolTip(pixels_tip(c, counts))
            if 0 < counts.get(c.id, 0) < FEW_LABELS <= max(counts.values(), default=0):
                pixels.setForeground(QBrush(FEW_COLOUR))
            self.setItem(row, PIXELS, pixels)
        self.blockSignals(False)


def pixels_tip(c: ClassInfo, counts: dict[int, int]) -> str:
    """The labelled-pixel count's tooltip: what the count means for a run, as the run's label checks
    (:mod:`hypersynth.core.label_checks`) will warn of it: no labels, or fewer than :data:`FEW_LABELS` while another
    class has more."""
    n = counts.get(c.id, 0)
    if n == 0:
        return f"No labelled pixels yet: brush some, or {c.name} cannot be in the map"
    if n < FEW_LABELS <= max(counts.values(), default=0):
        them = "it" if n == 1 else "them"
        return (f"Only {n} labelled pixel{'s' if n > 1 else ''}: a run learns {c.name} from {them} alone and "
                f"cannot tune itself on it; brush {FEW_LABELS} or more, in separate places")
    return (f"{n} scene pixels under {c.name}'s labels. Augment & Classify tunes itself by holding out whole "
            "labelled places: label each class in 2 or more separate places")
