"""Classes and labels panel: the class table, tied to the label layer and the brush / polygon label tools."""

from __future__ import annotations

import dataclasses
from typing import Optional

from qgis.core import QgsMapLayerProxyModel, QgsProject, QgsRasterLayer, QgsVectorLayer
from qgis.gui import QgsMapCanvas, QgsMapLayerComboBox
from qgis.PyQt import sip
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTableWidgetItem, QVBoxLayout, QWidget

from ..core.scene import ClassInfo
from ..plugin.label_layer import (
    CLASS_NAME_FIELD,
    LabelFeatures,
    LabelLayerError,
    create_label_layer,
    delete_class_features,
    merge_class_features,
    relabel_features,  # called from this module (a test replaces it here)
    style_label_layer,
    use_label_layer,
)
from ..plugin.tasks import TaskRunner
from .class_dialogs import (
    ask_add_class,
    ask_class_color,
    ask_delete_class,
    ask_load_classes,
    ask_merge_classes,
    ask_new_label_layer,
    ask_save_classes,
)
from .class_list import ClassList, duplicate_names
from .class_removal import ClassRemoval
from .class_table import COLOUR, NAME, PROMPT, ClassTable
from .label_draw_dialog import DRAW_TIP, ask_draw_from_reference
from .label_layer_watch import COUNT_DELAY_MS, LabelLayerWatch, same_layer
from .label_tools import (
    AUTO_RADIUS,
    BRUSH_TIP,
    CHECKED_TOOL_STYLE,
    NEEDS_CLASS,
    NEEDS_LABEL_LAYER,
    POLYGON_TIP,
    SAVE_LABELS_TIP,
    UNDO_TIP,
    LabelTools,
)
from .scene_panel import select_layer
from .widget_helpers import HINT_STYLE, EmptyHint, enable_unless

__all__ = [  # importable from here as before the split: the dock, the tests and scripts use these
    "AUTO_RADIUS", "BRUSH_TIP", "CHECKED_TOOL_STYLE", "COUNT_DELAY_MS", "EMPTY_TABLE_HINT", "HINT_STYLE",
    "NEEDS_CLASS", "NEEDS_LABEL_LAYER", "NO_LABEL_LAYER_TEXT", "POLYGON_TIP", "SAVE_LABELS_TIP", "UNDO_TIP",
    "ClassesPanel", "EmptyHint", "duplicate_names", "enable_unless",
]

EMPTY_TABLE_HINT = ("No classes yet: Add makes one, Load classes… reads a class file.\n"
                    "Labels go into a label layer: choose one above, or New… makes one.")
NO_LABEL_LAYER_TEXT = "No label layer: choose a polygon or point layer, or New…"  # the combo with none chosen


class ClassesPanel(QWidget):
    """The analyst's classes (colour, name, prompt, labelled pixels) and the tools that draw labels.

    The classes and their rules are a :class:`ClassList`, shown in a :class:`ClassTable`; the label layer and its
    counts are watched by a :class:`LabelLayerWatch`; the Brush and Polygon tools are a :class:`LabelTools`; the
    questions the buttons ask are in :mod:`.class_dialogs`. This panel keeps them in step.

    Args:
        canvas: the map canvas the label tools draw on; None for a panel without tools.
    """

    classesChanged = pyqtSignal(list)  # list[ClassInfo], after any add/rename/recolour/delete/merge/load
    currentClassChanged = pyqtSignal(object)  # ClassInfo or None
    labelLayerChanged = pyqtSignal(object)  # QgsVectorLayer or None
    countsChanged = pyqtSignal(dict)  # class id -> labelled scene pixels, after each new count
    message = pyqtSignal(str)  # something the analyst should read

    def __init__(self, canvas: Optional[QgsMapCanvas] = None, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._list = ClassList()  # the classes, and those deleted or merged away (Add brings them back as they were)
        self._canvas = canvas
        self._removals: list[ClassRemoval] = []  # held here: the layer's undo stack keeps only their C++ part
        self._labels = LabelLayerWatch(self)  # the label layer, the scene, the labelled-pixel counts
        self._labels.message.connect(self.message)
        self._count_timer = self._labels.count_timer  # fires once a burst of label edits ends
        self._count_timer.timeout.connect(self.refresh_counts)
        layout = QVBoxLayout(self)

        row = QHBoxLayout()
        row.addWidget(QLabel("Label layer"))
        self.layer_box = QgsMapLayerComboBox()
        # polygons burn the pixel centres inside them, points (field GPS points) the pixel they fall in, as a run
        self.layer_box.setFilters(QgsMapLayerProxyModel.PolygonLayer | QgsMapLayerProxyModel.PointLayer)
        self.layer_box.setAllowEmptyLayer(True, NO_LABEL_LAYER_TEXT)
        self.layer_box.setToolTip("A polygon or point layer with an integer class_id field; QGIS's own editing tools "
                                  "work on it (Brush and Polygon paint polygons)")
        self.layer_box.layerChanged.connect(self._layer_chosen)
        row.addWidget(self.layer_box, 1)
        self.new_layer_button = QPushButton("New…")
        self.new_layer_button.setToolTip("Create a GeoPackage label layer in the scene's CRS (none for a scene "
                                         "without georeference)")
        self.new_layer_button.clicked.connect(lambda: ask_new_label_layer(self))
        row.addWidget(self.new_layer_button)
        self.draw_button = QPushButton("Draw from reference…")
        self.draw_button.clicked.connect(lambda: ask_draw_from_reference(self))
        row.addWidget(self.draw_button)
        self.label_draws = TaskRunner(self)  # the draws from reference labels, in QGIS's task manager
        layout.addLayout(row)

        self.label_tools = LabelTools(canvas, self.current_class, self)
        self.label_tools.message.connect(self.message)
        layout.addLayout(self.label_tools.row)
        layout.addWidget(self.label_tools.tool_hint)
        tools = self.label_tools  # its widgets and map tools, under the names the dock and the tests use
        self.brush_button, self.polygon_button, self.radius = tools.brush_button, tools.polygon_button, tools.radius
        self.undo_button, self.save_labels_button, self.tool_hint = (tools.undo_button, tools.save_labels_button,
                                                                     tools.tool_hint)
        self.brush, self.polygon = tools.brush, tools.polygon

        self.table = ClassTable()
        self.table.itemChanged.connect(self._item_edited)
        self.table.cellDoubleClicked.connect(self._cell_double_clicked)
        self.table.itemSelectionChanged.connect(lambda: self.currentClassChanged.emit(self.current_class()))
        layout.addWidget(self.table, 1)
        self.empty_hint = EmptyHint(self.table, EMPTY_TABLE_HINT, lambda: not self._list.items)
        self.label_note = QLabel("")  # what in the label layer a run would refuse (labels of no class, ...)
        self.label_note.setWordWrap(True)
        self.label_note.setStyleSheet("color: #b03a2e")
        self.label_note.setVisible(False)
        layout.addWidget(self.label_note)

        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(lambda: ask_add_class(self))
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(lambda: ask_delete_class(self))
        self.merge_button = QPushButton("Merge…")
        self.merge_button.clicked.connect(lambda: ask_merge_classes(self))
        self.load_button = QPushButton("Load classes…")
        self.load_button.setToolTip("Replace the classes (names, colours, prompts) with those of a class file (JSON)")
        self.load_button.clicked.connect(lambda: ask_load_classes(self))
        self.save_button = QPushButton("Save classes…")
        self.save_button.clicked.connect(lambda: ask_save_classes(self))
        for button in (self.add_button, self.delete_button, self.merge_button, self.load_button, self.save_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)

        if canvas is not None:
            self.currentClassChanged.connect(self.label_tools.follow_class)
        for button in (self.brush_button, self.polygon_button):
            button.toggled.connect(self._update_actions)
        self.currentClassChanged.connect(self._update_actions)
        self._labels.stateChanged.connect(self._update_actions)  # Undo and Save labels follow the layer's edits
        self.undo_button.clicked.connect(self.undo)
        self.save_labels_button.clicked.connect(self.save_labels)
        self._update_actions()

    # --- classes ----------------------------------------------------------------------------------
    def classes(self) -> list[ClassInfo]:
        """The classes, sorted by id (copies: editing them changes nothing here)."""
        return [dataclasses.replace(c) for c in self._list.items]

    def set_classes(self, classes: list[ClassInfo]) -> None:
        """Replace every class (e.g. after loading a class file).

        Raises:
            ValueError: an id twice or out of the engine's range (:data:`CLASS_ID_RANGE`), or a name twice.
        """
        self._list.replace(classes)
        self._changed()

    def class_by_id(self, class_id: int) -> ClassInfo:
        return self._list.by_id(class_id)

    def current_class(self) -> Optional[ClassInfo]:
        row = self.table.selected_row()
        if row is None or row >= len(self._list.items):
            return None
        return self._list.items[row]

    def select_class(self, class_id: int) -> None:
        for row, c in enumerate(self._list.items):
            if c.id == class_id:
                self.table.selectRow(row)
                return
        raise KeyError(f"no class with id {class_id}")

    def add_class(self, name: Optional[str] = None, color: Optional[tuple[int, int, int]] = None,
                  prompt: str = "", class_id: Optional[int] = None) -> ClassInfo:
        """Add a class (palette colour, "class N" name unless given) and select it.

        Without ``class_id`` the class gets an id that nothing uses: no class, no label polygon, and no label
        edit that Undo or Redo could bring back, so a new class never inherits the labels of a deleted one. A
        ``class_id`` that labels in the layer use (but no class) gives the new class those labels: that is
        how :meth:`add_missing_classes` brings a class back.
        """
        if class_id is None:
            undoable = {r.removed.id for r in self._live_removals()}
            class_id = self._list.free_id(undoable | set(self.label_class_ids()))
        info = self._list.add(class_id, name, color, prompt)
        self._changed()
        self.select_class(class_id)
        self._warn_same_color(info)
        return info

    def _warn_same_color(self, info: ClassInfo) -> None:
        twin = self._list.same_color_as(info)
        if twin is not None:
            self.message.emit(f"'{info.name}' has the same colour as '{twin.name}': their labels and their pixels in "
                              "the class map will look alike; double-click the colour to change it")

    def rename_class(self, class_id: int, name: str) -> None:
        """Rename a class; the ``class`` text of its labels follows (one undoable edit).

        Raises:
            ValueError: no name, or another class's name.
            LabelLayerError: the labels cannot be changed (a read-only layer); the class keeps its old name.
        """
        name = name.strip()
        if not name:
            raise ValueError("a class needs a name")
        if self._list.name_taken(name, by_other_than=class_id):
            raise ValueError(f"a class named {name!r} already exists; choose another name")
        info = self.class_by_id(class_id)
        if info.name == name:
            return
        layer = self._labels.layer
        if layer is not None and layer.fields().indexOf(CLASS_NAME_FIELD) >= 0:
            try:
                relabel_features(layer, class_id, dataclasses.replace(info, name=name),
                                 f"Rename class {class_id} to {name}")
            except LabelLayerError as error:
                raise LabelLayerError(f"'{info.name}' was not renamed: {error}") from None
        info.name = name
        self._changed(ids_changed=False)

    def set_prompt(self, class_id: int, prompt: str) -> None:
        info = self.class_by_id(class_id)
        if info.prompt != prompt:
            info.prompt = prompt
            self._changed(ids_changed=False)

    def set_class_color(self, class_id: int, color: tuple[int, int, int]) -> None:
        info = self.class_by_id(class_id)
        info.color = tuple(int(v) for v in color)[:3]  # type: ignore[assignment]
        self._changed(ids_changed=False)
        self._warn_same_color(info)

    def delete_class(self, class_id: int, delete_labels: bool = False) -> int:
        """Remove a class; with ``delete_labels`` its labels (polygons or points) go too.

        Deleting the labels is one edit of the label layer, and the class's removal from the table is part of
        it: Undo (the Undo button, Ctrl+Z in a label tool, QGIS's own Undo, or rolling the edits back) brings
        back the labels *and* the class, with its name, colour and prompt; Redo removes both again. Without
        ``delete_labels`` the labels stay in the layer as labels of no class: a run refuses them (see
        :meth:`label_problems`) until the class is added back (:meth:`add_missing_classes`, the Add button) or
        the labels are deleted.

        Returns:
            How many labels were deleted.
        """
        info = self.class_by_id(class_id)
        self._list.removed[class_id] = dataclasses.replace(info)
        deleted = 0
        layer = self._labels.layer
        if delete_labels and layer is not None:
            removal = ClassRemoval(self, layer, info)
            deleted = delete_class_features(layer, class_id, also=removal)  # its redo removes the class
            if deleted:
                self._removals.append(removal)
        if self._list.has(class_id):  # no labels to delete: no edit, no undo
            self._remove_class(class_id)
        return deleted

    def merge_classes(self, source_id: int, target_id: int) -> int:
        """Merge class ``source_id`` into ``target_id``: its labels take the target's id and name, and the source
        class is removed, in one undoable edit of the label layer (Undo brings the source class back with its
        labels, as for :meth:`delete_class`).

        Returns:
            How many labels changed class.
        """
        if source_id == target_id:
            raise ValueError("choose two different classes to merge")
        target = self.class_by_id(target_id)
        source = self.class_by_id(source_id)
        self._list.removed[source_id] = dataclasses.replace(source)
        changed = 0
        layer = self._labels.layer
        if layer is not None:
            removal = ClassRemoval(self, layer, source)
            changed = merge_class_features(layer, source_id, target, also=removal)
            if changed:
                self._removals.append(removal)
        if self._list.has(source_id):
            self._remove_class(source_id)
        return changed

    def _remove_class(self, class_id: int) -> None:
        """Take a class out of the table (a delete or merge, or its redo)."""
        if self._list.remove(class_id):
            self._changed()

    def _restore_class(self, info: ClassInfo) -> None:
        """Put a removed class back (an undone delete or merge); an id that has a class again keeps it."""
        if self._list.restore(info):
            self._changed()

    def _live_removals(self) -> list[ClassRemoval]:
        """The class removals still on the current label layer's undo stack (Undo or Redo can replay them)."""
        self._removals = [r for r in self._removals if not sip.isdeleted(r)]  # a commit or rollback clears the stack
        layer_id = self._labels.layer.id() if self._labels.layer is not None else None
        return [r for r in self._removals if r.layer_id == layer_id]

    def removed_class(self, class_id: int) -> Optional[ClassInfo]:
        """The class deleted or merged away under ``class_id``, as it was (a copy), or None."""
        removed = self._list.removed.get(class_id)
        return dataclasses.replace(removed) if removed is not None else None

    def unknown_label_classes(self) -> dict[int, str]:
        """Class ids that labels use but no class in the table has, with the name stored beside them."""
        return {i: n for i, n in self.label_class_ids().items() if not self._list.has(i)}

    def add_missing_classes(self) -> list[ClassInfo]:
        """Add the classes whose labels are in the label layer but not in the table, and select the first.

        A class deleted here (its labels kept) comes back with its name, colour and prompt; others are named
        after their labels' ``class`` text, or "class N".
        """
        added = self._list.adopt(self.unknown_label_classes())
        if added:
            self._changed()
            self.select_class(added[0].id)
        return added

    def label_problems(self) -> list[str]:
        """What in the label layer a run would refuse or misread: labels of ids the table lacks, class ids of 0
        or below, labels that cannot be placed on the scene. Empty when there is no label layer."""
        return self._labels.problems(self.unknown_label_classes())

    def _show_label_problems(self) -> None:
        problems = self.label_problems()
        self.label_note.setText("; ".join(p[0].upper() + p[1:] for p in problems) + ("." if problems else ""))
        self.label_note.setVisible(bool(problems))

    def load_classes(self, path: str) -> list[ClassInfo]:
        """Replace the classes with those of a class JSON file (see core.io.classes)."""
        from ..core.io.classes import read_classes

        self.set_classes(read_classes(path))
        return self.classes()

    def save_classes(self, path: str) -> None:
        """Write the classes (ids, names, colours, prompts) to a class JSON file."""
        from ..core.io.classes import write_classes

        write_classes(path, self.classes())

    def _changed(self, ids_changed: bool = True) -> None:
        """Show the classes everywhere; ``ids_changed``: which ids the table has may have changed, so the labels of
        no class are looked for again (a scan of the label layer, spared on every keystroke of a prompt)."""
        self._fill_table()
        if self._labels.layer is not None:
            style_label_layer(self._labels.layer, self._list.items)
        if ids_changed:
            self._show_label_problems()
        self.label_tools.follow_class(self.current_class())
        self._update_actions()
        self.classesChanged.emit(self.classes())

    def _fill_table(self) -> None:
        selected = self.current_class()
        self.table.show_classes(self._list.items, self._labels.counts)
        if selected is not None and self._list.has(selected.id):
            self.select_class(selected.id)
        elif self._list.items and self.current_class() is None:
            self.table.selectRow(0)  # the label tools always have a class to draw

    def _item_edited(self, item: QTableWidgetItem) -> None:
        info = self._list.items[item.row()]
        try:
            if item.column() == NAME:
                self.rename_class(info.id, item.text())
            elif item.column() == PROMPT:
                self.set_prompt(info.id, item.text())
        except (ValueError, LabelLayerError) as error:
            self.message.emit(str(error))
            self._fill_table()

    def _cell_double_clicked(self, row: int, column: int) -> None:
        if column == COLOUR and row < len(self._list.items):
            ask_class_color(self, self._list.items[row])

    # --- label layer and counts (kept by self._labels) ---------------------------------------------
    def label_layer(self) -> Optional[QgsVectorLayer]:
        return self._labels.layer

    def set_label_layer(self, layer: Optional[QgsVectorLayer]) -> None:
        """Use ``layer`` for labels (checked and styled); classes it uses but the table lacks are added. None: no
        label layer (its edits, saved or not, stay in the layer: only the dock lets go of it). A layer that
        cannot hold labels is refused as in the combo: the message says why and the label layer stays."""
        self._layer_chosen(layer)
        # The combo lists project layers only: one outside the project leaves it empty (and must not unset it).
        self.layer_box.blockSignals(True)
        select_layer(self.layer_box, self._labels.layer)
        self.layer_box.blockSignals(False)

    def _layer_chosen(self, layer: Optional[QgsVectorLayer]) -> None:
        """The analyst chose ``layer`` (None: no label layer). A layer that cannot hold labels is refused and
        everything stays with the label layer there was (the combo shows it again, the tools keep drawing into
        it): a wrong pick in the combo loses nothing."""
        if same_layer(layer, self._labels.layer):
            return
        checked = None
        if layer is not None:
            try:
                checked = use_label_layer(layer, self._list.items)
            except LabelLayerError as error:
                kept = self._labels.layer
                if kept is not None and sip.isdeleted(kept):
                    kept = None
                self.message.emit(f"{error}" + (f"; the label layer stays '{kept.name()}'" if kept is not None else ""))
                self.layer_box.blockSignals(True)
                select_layer(self.layer_box, kept)
                self.layer_box.blockSignals(False)
                return
        self._labels.set_layer(checked)
        if checked is not None:
            self._list.adopt(self.unknown_label_classes())
        self.label_tools.set_label_layer(checked)
        self.refresh_counts()
        self._changed()
        self.labelLayerChanged.emit(self._labels.layer)

    def label_features(self) -> Optional[LabelFeatures]:
        """The label layer's features as last read (None without a label layer).

        The layer is read once per change (:meth:`LabelLayerWatch.edit_signals`): the counts, the label problems,
        the class ids the labels use and the dock's run check all take this read.
        """
        return self._labels.features()

    def label_class_ids(self) -> dict[int, str]:
        """The class ids the labels use (1 up to :data:`MAX_CLASS_ID`), with the name stored beside them."""
        return self._labels.class_ids()

    def create_label_layer(self, path: str, project: Optional[QgsProject] = None) -> QgsVectorLayer:
        """Create a GeoPackage label layer in the scene's CRS and use it.

        A scene without georeference gets a Shapefile label layer without CRS, in the pixel coordinates QGIS
        shows the scene in (a GeoPackage always records a CRS, which the engine refuses for such a scene); the
        message says so. Without a scene the map canvas's CRS is taken.
        """
        if self._labels.scene is not None:
            crs = self._labels.scene.crs()  # invalid for a scene without georeference: a layer without CRS
        elif self._canvas is not None and self._canvas.mapSettings().destinationCrs().isValid():
            crs = self._canvas.mapSettings().destinationCrs()
        else:
            raise LabelLayerError("choose a scene first: the label layer takes the scene's CRS")
        layer = create_label_layer(path, crs, self._list.items, project=project)
        self.set_label_layer(layer)
        if not crs.isValid():
            self.message.emit(f"The scene has no georeference, so the labels are a Shapefile without CRS, "
                              f"{layer.source()} (a GeoPackage always records a CRS, which a run would refuse).")
        return layer

    def scene_has_no_georeference(self) -> bool:
        """Whether the scene is a plain pixel grid (no CRS): its label layer must have no CRS either."""
        return self._labels.scene is not None and not self._labels.scene.crs().isValid()

    def set_scene_layer(self, layer: Optional[QgsRasterLayer]) -> None:
        """The scene whose pixels the labelled-pixel counts refer to (and the brush radius's units, without
        georeference)."""
        self._labels.set_scene(layer)
        self.label_tools.set_scene(self._labels.scene)
        self.refresh_counts()
        self._update_actions()

    def scene_layer(self) -> Optional[QgsRasterLayer]:
        """The scene the labels are counted on (None when none is chosen, or it is not read from a file)."""
        return self._labels.scene

    def pixel_counts(self) -> dict[int, int]:
        return dict(self._labels.counts)

    def refresh_counts(self) -> dict[int, int]:
        """The scene pixels under each class's labels, shown in the table.

        Counted again only when the label layer (:meth:`label_features`) or the scene changed since the last
        count: a run check right after the count an edit made reuses it.
        """
        if self._labels.recount():
            self.countsChanged.emit(dict(self._labels.counts))
        self._fill_table()
        self._show_label_problems()
        return dict(self._labels.counts)

    def undo(self) -> bool:
        """Undo the last edit of the label layer."""
        return self._labels.undo()

    def save_labels(self) -> None:
        """Write the label edits to the label layer's file."""
        self._labels.save()

    def _update_actions(self, *_args: object) -> None:
        """Enable what can act now, say in each disabled button's tooltip what it needs, show the empty table's
        hint and, while a label tool is on, which class it draws and how to stop it."""
        current = self.current_class()
        self.label_tools.update_buttons(current)
        enable_unless(self.delete_button, "Delete the selected class (asks what becomes of its labels)",
                      "" if current is not None else "Needs a class: select it in the table")
        enable_unless(self.merge_button, "Merge one class into another: its labels join the other class",
                      "" if len(self._list.items) >= 2 else "Needs at least two classes")
        enable_unless(self.draw_button, DRAW_TIP,
                      "" if self._labels.scene is not None else "Needs a scene read from a raster file (tab 1)")
        enable_unless(self.save_button, "Write the classes (names, colours, prompts) to a class file (JSON)",
                      "" if self._list.items else "No classes to save yet")
        self.empty_hint.update_shown()
        self.label_tools.show_hint(current)

