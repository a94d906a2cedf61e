"""The label layer the class panel uses: its features read once per change, and the scene pixels each class labels."""

from __future__ import annotations

from typing import Optional

from qgis.core import QgsRasterLayer, QgsVectorLayer
from qgis.PyQt.QtCore import QObject, QTimer, pyqtSignal

from ..plugin.label_layer import (
    CLASS_ID_RANGE,
    LabelFeatures,
    LabelLayerError,
    holds_points,
    labelled_pixel_counts,
    read_label_features,
    save_labels,
)

COUNT_DELAY_MS = 400  # wait for a burst of edits to end before counting labelled pixels again


class LabelLayerWatch(QObject):
    """The label layer and the scene its labels are counted on.

    The layer is read once per change of its features (:meth:`edit_signals`): the counts, the label problems, the
    class ids the labels use and the dock's run check all take that read. After an edit ``count_timer`` fires once
    the burst of edits has ended: whoever shows the counts connects it and calls :meth:`recount`.
    """

    stateChanged = pyqtSignal()  # the layer's undo stack or editing state changed: can Undo and Save labels act?
    message = pyqtSignal(str)  # something the analyst should read

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.layer: Optional[QgsVectorLayer] = None  # the label layer (checked already); None: none chosen
        self.scene: Optional[QgsRasterLayer] = None  # the scene whose pixels the counts refer to
        self.counts: dict[int, int] = {}  # class id -> labelled scene pixels, as last counted
        self.count_error = ""  # why the labels could not be counted on the scene ("" when they could)
        self._features: Optional[LabelFeatures] = None  # the label layer as last read; None: read at the next need
        self._reads = 0  # how many times the label layer was read: the counts name the read they come from
        self._counted: Optional[tuple] = None  # what self.counts was counted from (:meth:`_count_source`)
        self.count_timer = QTimer(self, singleShot=True, interval=COUNT_DELAY_MS)

    def set_layer(self, layer: Optional[QgsVectorLayer]) -> None:
        """Watch ``layer`` (checked to hold labels) instead of the label layer there was; None: no label layer."""
        if self.layer is not None:
            for signals, slot in ((self.edit_signals, self._edited), (self.state_signals, self._state_changed)):
                try:
                    connected = signals(self.layer)
                except RuntimeError:  # the layer is deleted already
                    break
                for signal in connected:
                    try:
                        signal.disconnect(slot)
                    except (TypeError, RuntimeError):  # not connected, or the layer is deleted already
                        pass
        self.layer = layer
        self._features = None
        if layer is not None:
            for signal in self.edit_signals(layer):
                signal.connect(self._edited)
            for signal in self.state_signals(layer):
                signal.connect(self._state_changed)

    def set_scene(self, scene: Optional[QgsRasterLayer]) -> None:
        """The scene whose pixels the labelled-pixel counts refer to (anything but a raster layer: none)."""
        self.scene = scene if isinstance(scene, QgsRasterLayer) else None

    @staticmethod
    def edit_signals(layer: QgsVectorLayer) -> list:
        """What tells that the label layer's features changed: its edits (undo and redo included), a rollback, a
        save (features get their ids in the file), a reload of its file, a new filter, another CRS."""
        return [layer.featureAdded, layer.featuresDeleted, layer.attributeValueChanged, layer.geometryChanged,
                layer.afterRollBack, layer.afterCommitChanges, layer.dataChanged, layer.subsetStringChanged,
                layer.crsChanged]

    @staticmethod
    def state_signals(layer: QgsVectorLayer) -> list:
        """What changes whether Undo and Save labels can act: the layer's undo stack, its editing state, a save."""
        stack = layer.undoStack()
        return [stack.indexChanged, stack.cleanChanged, layer.editingStarted, layer.editingStopped,
                layer.layerModified, layer.afterCommitChanges, layer.afterRollBack]

    def _edited(self, *_args: object) -> None:
        """The label layer changed: what was read from it is stale; count again once a burst of edits ends."""
        self._features = None
        self.count_timer.start()

    def _state_changed(self, *_args: object) -> None:
        self.stateChanged.emit()

    def features(self) -> Optional[LabelFeatures]:
        """The label layer's features as last read (None without a label layer); read again after each change."""
        if self.layer is None:
            return None
        if self._features is None:
            self._features = read_label_features(self.layer)
            self._reads += 1
        return self._features

    def class_ids(self) -> dict[int, str]:
        """The class ids the labels use, with the name stored beside them."""
        features = self.features()
        return dict(features.class_ids) if features is not None else {}

    def recount(self) -> bool:
        """Count the scene pixels under each class's labels again, if the label layer (:meth:`features`) or the
        scene changed since the last count; a failed count leaves no counts and says why once.

        Returns:
            Whether it counted (the counts may have come out the same).
        """
        source = self._count_source()
        if source == self._counted:
            return False
        self.counts = {}
        error_before, self.count_error = self.count_error, ""
        if self.layer is not None and self.scene is not None:
            try:
                self.counts = labelled_pixel_counts(self.layer, self.scene, self.features())
            except LabelLayerError as error:
                self.count_error = str(error)
                if self.count_error != error_before:  # said once, not after every edit
                    self.message.emit(self.count_error)
        self._counted = source
        return True

    def _count_source(self) -> tuple:
        """What the counts depend on: the read of the label layer (its CRS included: :meth:`edit_signals`) and the
        scene, its file and CRS. Reads the label layer when it changed since its last read."""
        layer, scene = self.layer, self.scene
        read = None
        if layer is not None:
            self.features()  # counts self._reads up when it reads
            read = (layer.id(), self._reads)
        shown = (scene.id(), scene.source(), scene.crs().toWkt()) if scene is not None else None
        return read, shown

    def problems(self, unknown: dict[int, str]) -> list[str]:
        """What in the label layer a run would refuse or misread: labels of the class ids ``unknown`` (those the
        class table lacks, with the name the labels carry), class ids of 0 or below, labels that cannot be placed
        on the scene. Empty when there is no label layer."""
        layer = self.layer
        if layer is None:
            return []
        problems = []
        if unknown:
            listed = ", ".join(f"{i} ('{n}')" if n else str(i) for i, n in sorted(unknown.items()))
            one = len(unknown) == 1
            them = "that class" if one else "those classes"
            problems.append(f"the label layer '{layer.name()}' has labels of class id{'' if one else 's'} {listed}, "
                            f"which the class table lacks: press Add to bring {them} back (then keep, merge or "
                            "delete it with its labels), or delete those labels")
        features = self.features()
        invalid = features.invalid_ids if features is not None else {}
        if invalid:
            count = sum(invalid.values())
            kind = "point" if holds_points(layer) else "polygon"
            problems.append(f"{count} label {kind}{'' if count == 1 else 's'} of '{layer.name()}' "
                            f"{'has' if count == 1 else 'have'} class_id {', '.join(map(str, sorted(invalid)))}, "
                            f"which is no class (0 means unlabelled; class ids run {CLASS_ID_RANGE}): give "
                            f"{'it' if count == 1 else 'them'} the id of a class in the table, or delete "
                            f"{'it' if count == 1 else 'them'}")
        if self.count_error:
            problems.append(self.count_error)
        return problems

    def undo(self) -> bool:
        """Undo the last edit of the label layer."""
        layer = self.layer
        if layer is None or not layer.undoStack().canUndo():
            return False
        layer.undoStack().undo()
        layer.triggerRepaint()
        return True

    def save(self) -> None:
        """Write the label edits to the label layer's file; the message says where, or why not."""
        if self.layer is None:
            return
        try:
            save_labels(self.layer)
            self.message.emit(f"Labels saved to {self.layer.source().split('|')[0]}")
        except LabelLayerError as error:
            self.message.emit(str(error))


def same_layer(a: object, b: object) -> bool:
    """Whether ``a`` and ``b`` are the same map layer (by id), or both None."""
    if a is None or b is None:
        return a is b
    return a.id() == b.id()  # type: ignore[attr-defined]
