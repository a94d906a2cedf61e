"""The class table: each class's colour, name, prompt and labelled pixels, one row per class."""

from __future__ import annotations

from typing import Optional, Sequence

from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from ..core.scene import ClassInfo
from .widget_helpers import color_swatch

COLOUR, NAME, PROMPT, PIXELS = range(4)  # table columns


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
            self.setItem(row, PIXELS, pixels)
        self.blockSignals(False)
