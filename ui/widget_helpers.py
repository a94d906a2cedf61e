"""Widget helpers the panels share: the empty-table hint, buttons that say what they need, colour swatches."""

from __future__ import annotations

from typing import Callable

from qgis.PyQt.QtCore import QEvent, QObject, Qt
from qgis.PyQt.QtGui import QColor, QIcon, QPixmap
from qgis.PyQt.QtWidgets import QAbstractItemView, QLabel, QWidget

HINT_STYLE = "color: #6b6b6b;"  # empty-state and "what is going on" lines: quieter than the content


class EmptyHint(QLabel):
    """A grey line in the middle of an empty table (or any scroll area's viewport) saying what to do first.

    Shown while ``is_empty()`` holds: call :meth:`update_shown` when the contents change.
    """

    def __init__(self, view: QAbstractItemView, text: str, is_empty: Callable[[], bool]) -> None:
        super().__init__(text, view.viewport())
        self._is_empty = is_empty
        self.setAlignment(Qt.AlignCenter)
        self.setWordWrap(True)
        self.setStyleSheet(HINT_STYLE)
        self.setAttribute(Qt.WA_TransparentForMouseEvents)  # clicks reach the table under it
        view.viewport().installEventFilter(self)
        self._fit()
        self.update_shown()

    def update_shown(self) -> None:
        self.setVisible(bool(self._is_empty()))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Resize:
            self._fit()
        return False

    def _fit(self) -> None:
        self.setGeometry(self.parentWidget().rect().adjusted(12, 12, -12, -12))


def enable_unless(button: QWidget, tip: str, needs: str) -> None:
    """Enable ``button`` unless it ``needs`` something (then its tooltip says what, after what it does)."""
    button.setEnabled(not needs)
    button.setToolTip(f"{tip}.\n{needs}." if needs else tip)


def color_swatch(color: tuple[int, int, int], size: int = 16) -> QIcon:
    """A square of ``color`` for a table cell, in its true colour also when the row is selected."""
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*color))
    icon = QIcon(pixmap)
    icon.addPixmap(pixmap, QIcon.Selected)  # the true colour, not Qt's tinted one, in a selected row
    return icon
