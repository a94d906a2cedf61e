"""The class table's part of a label edit that removes a class, so that undoing the edit brings the class back."""

from __future__ import annotations

import dataclasses
import weakref
from typing import TYPE_CHECKING, Optional

from qgis.core import QgsVectorLayer
from qgis.PyQt import sip
from qgis.PyQt.QtWidgets import QUndoCommand

from ..core.scene import ClassInfo

if TYPE_CHECKING:
    from .classes_panel import ClassesPanel


class ClassRemoval(QUndoCommand):
    """The class table's side of a label edit that removes a class (a delete with labels, a merge).

    It is pushed into the label layer's edit command, so every way of undoing that edit (the panel's Undo,
    Ctrl+Z in a label tool, QGIS's Undo, rolling the edits back) brings the class back with its labels, and
    Redo removes it again. It acts only while the panel is alive and still uses that label layer.
    """

    def __init__(self, panel: ClassesPanel, layer: QgsVectorLayer, removed: ClassInfo) -> None:
        super().__init__(f"Remove class {removed.name}")
        self.removed = dataclasses.replace(removed)
        self.layer_id = layer.id()
        self._panel = weakref.ref(panel)

    def _target(self) -> Optional[ClassesPanel]:
        panel = self._panel()
        if panel is None or sip.isdeleted(panel):
            return None
        layer = panel.label_layer()
        return panel if layer is not None and layer.id() == self.layer_id else None

    def redo(self) -> None:
        panel = self._target()
        if panel is not None:
            panel._remove_class(self.removed.id)

    def undo(self) -> None:
        panel = self._target()
        if panel is not None:
            panel._restore_class(self.removed)
