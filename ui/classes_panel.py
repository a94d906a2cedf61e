"""Classes and labels panel: the class table, the label layer, and the brush / polygon label tools."""

from __future__ import annotations

import dataclasses
import html
import weakref
from typing import Callable, Optional, Sequence

from qgis.core import QgsMapLayerProxyModel, QgsProject, QgsRasterLayer, QgsUnitTypes, QgsVectorLayer
from qgis.gui import QgsMapCanvas, QgsMapLayerComboBox
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QEvent, QObject, Qt, QTimer, pyqtSignal
from qgis.PyQt.QtGui import QColor, QIcon, QPixmap
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QUndoCommand,
    QVBoxLayout,
    QWidget,
)

from ..core.io.classes import name_key
from ..core.scene import ClassInfo, default_color
from ..plugin.label_layer import (
    CLASS_ID_RANGE,
    CLASS_NAME_FIELD,
    MAX_CLASS_ID,
    LabelFeatures,
    LabelLayerError,
    check_class_id,
    create_label_layer,
    delete_class_features,
    labelled_pixel_counts,
    merge_class_features,
    read_label_features,
    relabel_features,
    save_labels,
    style_label_layer,
    use_label_layer,
)
from ..plugin.maptools import DEFAULT_BRUSH_PIXELS, BrushTool, LabelTool, PolygonTool
from .scene_panel import select_layer

COLOUR, NAME, PROMPT, PIXELS = range(4)  # table columns
COUNT_DELAY_MS = 400  # wait for a burst of edits to end before counting labelled pixels again
EMPTY_TABLE_HINT = ("No classes yet: Add makes one, Load classes… reads a class file.\n"
                    "Labels go into a label layer: choose one above, or New… makes one.")
AUTO_RADIUS = f"auto: {DEFAULT_BRUSH_PIXELS} screen px"  # the radius box at 0: a brush as wide on screen at any zoom
BRUSH_TIP = "Paint labels of the selected class; each stroke is one polygon"
POLYGON_TIP = "Click vertices; right-click or double-click to finish, Esc to cancel"
UNDO_TIP = "Undo the last label edit (Ctrl+Z while a label tool is active)"
SAVE_LABELS_TIP = "Write the label edits to the label layer's file"
NO_LABEL_LAYER_TEXT = "No label layer: choose a polygon layer, or New…"  # the label layer combo with none chosen
NEEDS_LABEL_LAYER = "Needs a label layer: choose one above, or New… makes one"
NEEDS_CLASS = "Needs a class: Add one or Load classes…, then select it in the table"
CHECKED_TOOL_STYLE = ("QToolButton:checked { background-color: #2f6fb3; color: white; font-weight: bold; "
                      "border: 1px solid #1d4f85; border-radius: 3px; padding: 2px 6px; }")  # which tool is on
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


class ClassesPanel(QWidget):
    """The analyst's classes (colour, name, prompt, labelled pixels) and the tools that draw labels.

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
        self._classes: list[ClassInfo] = []
        self._counts: dict[int, int] = {}
        self._label_layer: Optional[QgsVectorLayer] = None
        self._features: Optional[LabelFeatures] = None  # the label layer as last read; None: read at the next need
        self._reads = 0  # how many times the label layer was read: the counts name the read they come from
        self._counted: Optional[tuple] = None  # what self._counts was counted from (:meth:`_count_source`)
        self._scene: Optional[QgsRasterLayer] = None
        self._canvas = canvas
        self._count_error = ""  # why the labels could not be counted on the scene ("" when they could)
        self._removed: dict[int, ClassInfo] = {}  # classes deleted or merged away: Add brings them back as they were
        self._removals: list[_ClassRemoval] = []  # held here: the layer's undo stack keeps only their C++ part
        self._radius_units: Optional[QgsUnitTypes.DistanceUnit] = None  # the canvas units the radius is in
        self._count_timer = QTimer(self, singleShot=True, interval=COUNT_DELAY_MS)
        self._count_timer.timeout.connect(self.refresh_counts)
        layout = QVBoxLayout(self)

        row = QHBoxLayout()
        row.addWidget(QLabel("Label layer"))
        self.layer_box = QgsMapLayerComboBox()
        self.layer_box.setFilters(QgsMapLayerProxyModel.PolygonLayer)
        self.layer_box.setAllowEmptyLayer(True, NO_LABEL_LAYER_TEXT)
        self.layer_box.setToolTip("A polygon layer with an integer class_id field; QGIS's own editing tools work on it")
        self.layer_box.layerChanged.connect(self._layer_chosen)
        row.addWidget(self.layer_box, 1)
        self.new_layer_button = QPushButton("New…")
        self.new_layer_button.setToolTip("Create a GeoPackage label layer in the scene's CRS (none for a scene "
                                         "without georeference)")
        self.new_layer_button.clicked.connect(self._ask_new_layer)
        row.addWidget(self.new_layer_button)
        layout.addLayout(row)

        tools = QHBoxLayout()
        self.brush_button = QToolButton(text="Brush", checkable=True)
        self.polygon_button = QToolButton(text="Polygon", checkable=True)
        for button in (self.brush_button, self.polygon_button):
            button.setStyleSheet(CHECKED_TOOL_STYLE)
        tools.addWidget(self.brush_button)
        tools.addWidget(self.polygon_button)
        tools.addWidget(QLabel("radius"))
        self.radius = QDoubleSpinBox()
        self.radius.setRange(0.0, 1e6)
        self.radius.setDecimals(1)
        self.radius.setSpecialValueText(AUTO_RADIUS)  # a suffix is not shown with it: the unit is in the text
        self.radius.setToolTip(f"Brush radius in map units ({AUTO_RADIUS}, as wide on screen at any zoom)")
        tools.addWidget(self.radius)
        self.undo_button = QToolButton(text="Undo")
        self.save_labels_button = QToolButton(text="Save labels")
        tools.addWidget(self.undo_button)
        tools.addWidget(self.save_labels_button)
        tools.addStretch(1)
        layout.addLayout(tools)
        self.tool_hint = QLabel("")  # while a label tool is on: which class it draws and how to stop it
        self.tool_hint.setTextFormat(Qt.RichText)  # the class in bold after a swatch of its colour
        self.tool_hint.setWordWrap(True)
        self.tool_hint.setVisible(False)
        layout.addWidget(self.tool_hint)

        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["", "Class", "Prompt", "Labelled px"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COLOUR, QHeaderView.Fixed)
        self.table.setColumnWidth(COLOUR, 26)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(PROMPT, QHeaderView.Stretch)
        header.setSectionResizeMode(PIXELS, QHeaderView.ResizeToContents)
        self.table.itemChanged.connect(self._item_edited)
        self.table.cellDoubleClicked.connect(self._cell_double_clicked)
        self.table.itemSelectionChanged.connect(lambda: self.currentClassChanged.emit(self.current_class()))
        layout.addWidget(self.table, 1)
        self.empty_hint = EmptyHint(self.table, EMPTY_TABLE_HINT, lambda: not self._classes)
        self.label_note = QLabel("")  # what in the label layer a run would refuse (labels of no class, ...)
        self.label_note.setWordWrap(True)
        self.label_note.setStyleSheet("color: #b03a2e")
        self.label_note.setVisible(False)
        layout.addWidget(self.label_note)

        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(self._ask_add)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self._ask_delete)
        self.merge_button = QPushButton("Merge…")
        self.merge_button.clicked.connect(self._ask_merge)
        self.load_button = QPushButton("Load classes…")
        self.load_button.setToolTip("Replace the classes (names, colours, prompts) with those of a class file (JSON)")
        self.load_button.clicked.connect(self._ask_load)
        self.save_button = QPushButton("Save classes…")
        self.save_button.clicked.connect(self._ask_save)
        for button in (self.add_button, self.delete_button, self.merge_button, self.load_button, self.save_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)

        self.brush: Optional[BrushTool] = None
        self.polygon: Optional[PolygonTool] = None
        if canvas is not None:
            self.brush = BrushTool(canvas)
            self.polygon = PolygonTool(canvas)
            for tool, button in ((self.brush, self.brush_button), (self.polygon, self.polygon_button)):
                tool.message.connect(self.message)
                tool.deactivated.connect(lambda b=button: b.setChecked(False))
                button.toggled.connect(lambda on, t=tool: self._toggle_tool(t, on))
            self.currentClassChanged.connect(self._tools_follow_class)
            self.radius.valueChanged.connect(lambda r: self.brush.set_radius(r or None))
            canvas.destinationCrsChanged.connect(self._follow_canvas_units)
            self._follow_canvas_units()
        else:
            self.radius.setEnabled(False)
        for button in (self.brush_button, self.polygon_button):
            button.toggled.connect(self._update_actions)
        self.currentClassChanged.connect(self._update_actions)
        self.undo_button.clicked.connect(self.undo)
        self.save_labels_button.clicked.connect(self.save_labels)
        self._update_actions()

    # --- classes ----------------------------------------------------------------------------------
    def classes(self) -> list[ClassInfo]:
        """The classes, sorted by id (copies: editing them changes nothing here)."""
        return [dataclasses.replace(c) for c in self._classes]

    def set_classes(self, classes: list[ClassInfo]) -> None:
        """Replace every class (e.g. after loading a class file).

        Raises:
            ValueError: an id twice or out of the engine's range (:data:`CLASS_ID_RANGE`), or a name twice.
        """
        ids = [c.id for c in classes]
        if len(set(ids)) != len(ids):
            raise ValueError(f"class ids must be unique; got {sorted(ids)}")
        for class_id in ids:
            check_class_id(class_id)
        clash = duplicate_names(classes)
        if clash:
            raise ValueError(clash)
        self._classes = sorted((dataclasses.replace(c) for c in classes), key=lambda c: c.id)
        self._removed = {}  # another set of classes: what was deleted before says nothing about them
        self._changed()

    def class_by_id(self, class_id: int) -> ClassInfo:
        for c in self._classes:
            if c.id == class_id:
                return c
        raise KeyError(f"no class with id {class_id}")

    def current_class(self) -> Optional[ClassInfo]:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self._classes):
            return None
        return self._classes[rows[0].row()]

    def select_class(self, class_id: int) -> None:
        for row, c in enumerate(self._classes):
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
        used = {c.id for c in self._classes}
        if class_id is None:
            class_id = self._free_id()
        check_class_id(class_id)
        if class_id in used:
            raise ValueError(f"class id {class_id} is already used by {self.class_by_id(class_id).name!r}")
        name = (name or f"class {class_id}").strip()
        if any(_same_name(c.name, name) for c in self._classes):
            raise ValueError(f"a class named {name!r} already exists; choose another name")
        info = ClassInfo(class_id, name, color or self._free_color(), prompt)
        self._classes = sorted(self._classes + [info], key=lambda c: c.id)
        self._changed()
        self.select_class(class_id)
        self._warn_same_color(info)
        return info

    def _free_id(self) -> int:
        """The next id after every id in use (classes, labels, undoable edits); past the engine's last id, the
        lowest free one."""
        taken = {c.id for c in self._classes} | {r.removed.id for r in self._live_removals()}
        taken |= set(self.label_class_ids())
        after = max(taken, default=0) + 1
        if after <= MAX_CLASS_ID:
            return after
        free = next((i for i in range(1, MAX_CLASS_ID + 1) if i not in taken), None)
        if free is None:
            raise ValueError(f"every class id {CLASS_ID_RANGE} is taken (by classes or labels)")
        return free

    def _free_color(self) -> tuple[int, int, int]:
        """The first palette colour no class has (after a deletion the next index may be taken)."""
        used = {tuple(c.color) for c in self._classes}
        for index in range(len(self._classes), len(self._classes) + 64):
            if default_color(index) not in used:
                return default_color(index)
        return default_color(len(self._classes))

    def _warn_same_color(self, info: ClassInfo) -> None:
        twin = next((c for c in self._classes if c.id != info.id and tuple(c.color) == tuple(info.color)), None)
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
        if any(_same_name(c.name, name) and c.id != class_id for c in self._classes):
            raise ValueError(f"a class named {name!r} already exists; choose another name")
        info = self.class_by_id(class_id)
        if info.name == name:
            return
        if self._label_layer is not None and self._label_layer.fields().indexOf(CLASS_NAME_FIELD) >= 0:
            try:
                relabel_features(self._label_layer, class_id, dataclasses.replace(info, name=name),
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
        """Remove a class; with ``delete_labels`` its label polygons go too.

        Deleting the labels is one edit of the label layer, and the class's removal from the table is part of
        it: Undo (the Undo button, Ctrl+Z in a label tool, QGIS's own Undo, or rolling the edits back) brings
        back the labels *and* the class, with its name, colour and prompt; Redo removes both again. Without
        ``delete_labels`` the labels stay in the layer as labels of no class: a run refuses them (see
        :meth:`label_problems`) until the class is added back (:meth:`add_missing_classes`, the Add button) or
        the labels are deleted.

        Returns:
            How many label polygons were deleted.
        """
        info = self.class_by_id(class_id)
        self._removed[class_id] = dataclasses.replace(info)
        deleted = 0
        if delete_labels and self._label_layer is not None:
            removal = _ClassRemoval(self, self._label_layer, info)
            deleted = delete_class_features(self._label_layer, class_id, also=removal)  # its redo removes the class
            if deleted:
                self._removals.append(removal)
        if any(c.id == class_id for c in self._classes):  # no labels to delete: no edit, no undo
            self._remove_class(class_id)
        return deleted

    def merge_classes(self, source_id: int, target_id: int) -> int:
        """Merge class ``source_id`` into ``target_id``: its labels take the target's id and name, and the source
        class is removed, in one undoable edit of the label layer (Undo brings the source class back with its
        labels, as for :meth:`delete_class`).

        Returns:
            How many label polygons changed class.
        """
        if source_id == target_id:
            raise ValueError("choose two different classes to merge")
        target = self.class_by_id(target_id)
        source = self.class_by_id(source_id)
        self._removed[source_id] = dataclasses.replace(source)
        changed = 0
        if self._label_layer is not None:
            removal = _ClassRemoval(self, self._label_layer, source)
            changed = merge_class_features(self._label_layer, source_id, target, also=removal)
            if changed:
                self._removals.append(removal)
        if any(c.id == source_id for c in self._classes):
            self._remove_class(source_id)
        return changed

    def _remove_class(self, class_id: int) -> None:
        if any(c.id == class_id for c in self._classes):
            self._classes = [c for c in self._classes if c.id != class_id]
            self._changed()

    def _restore_class(self, info: ClassInfo) -> None:
        """Put a removed class back (an undone delete or merge); an id that has a class again keeps it."""
        if any(c.id == info.id for c in self._classes):
            return
        name = info.name
        if any(_same_name(c.name, name) for c in self._classes):  # taken meanwhile: the engine needs distinct names
            name = f"{name} ({info.id})"
        self._classes = sorted(self._classes + [dataclasses.replace(info, name=name)], key=lambda c: c.id)
        self._changed()

    def _live_removals(self) -> list[_ClassRemoval]:
        """The class removals still on the current label layer's undo stack (Undo or Redo can replay them)."""
        self._removals = [r for r in self._removals if not sip.isdeleted(r)]  # a commit or rollback clears the stack
        layer_id = self._label_layer.id() if self._label_layer is not None else None
        return [r for r in self._removals if r.layer_id == layer_id]

    def unknown_label_classes(self) -> dict[int, str]:
        """Class ids that label polygons use but no class in the table has, with the name stored beside them."""
        known = {c.id for c in self._classes}
        return {i: n for i, n in self.label_class_ids().items() if i not in known}

    def add_missing_classes(self) -> list[ClassInfo]:
        """Add the classes whose labels are in the label layer but not in the table, and select the first.

        A class deleted here (its labels kept) comes back with its name, colour and prompt; others are named
        after their labels' ``class`` text, or "class N".
        """
        added = self._adopt_unknown()
        if added:
            self._changed()
            self.select_class(added[0].id)
        return added

    def _adopt_unknown(self) -> list[ClassInfo]:
        added = []
        for class_id, name in sorted(self.unknown_label_classes().items()):
            old = self._removed.get(class_id)
            if old is not None and name.strip() and not _same_name(name, old.name):
                old = None  # another class under a reused id (e.g. in another label layer): the labels' name counts
            name = (old.name if old is not None else name).strip() or f"class {class_id}"
            if any(_same_name(c.name, name) for c in self._classes):  # the engine needs distinct names
                name = f"{name} ({class_id})"
            info = ClassInfo(class_id, name, tuple(old.color) if old is not None else self._free_color(),
                             old.prompt if old is not None else "")
            self._classes.append(info)
            added.append(info)
        self._classes.sort(key=lambda c: c.id)
        return added

    def label_problems(self) -> list[str]:
        """What in the label layer a run would refuse or misread: labels of ids the table lacks, class ids of 0
        or below, labels that cannot be placed on the scene. Empty when there is no label layer."""
        layer = self._label_layer
        if layer is None:
            return []
        problems = []
        unknown = self.unknown_label_classes()
        if unknown:
            listed = ", ".join(f"{i} ('{n}')" if n else str(i) for i, n in sorted(unknown.items()))
            one = len(unknown) == 1
            them = "that class" if one else "those classes"
            problems.append(f"the label layer '{layer.name()}' has labels of class id{'' if one else 's'} {listed}, "
                            f"which the class table lacks: press Add to bring {them} back (then keep, merge or "
                            "delete it with its labels), or delete those labels")
        features = self.label_features()
        invalid = features.invalid_ids if features is not None else {}
        if invalid:
            count = sum(invalid.values())
            problems.append(f"{count} label polygon{'' if count == 1 else 's'} of '{layer.name()}' "
                            f"{'has' if count == 1 else 'have'} class_id {', '.join(map(str, sorted(invalid)))}, "
                            f"which is no class (0 means unlabelled; class ids run {CLASS_ID_RANGE}): give "
                            f"{'it' if count == 1 else 'them'} the id of a class in the table, or delete "
                            f"{'it' if count == 1 else 'them'}")
        if self._count_error:
            problems.append(self._count_error)
        return problems

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
        if self._label_layer is not None:
            style_label_layer(self._label_layer, self._classes)
        if ids_changed:
            self._show_label_problems()
        self._tools_follow_class(self.current_class())
        self._update_actions()
        self.classesChanged.emit(self.classes())

    def _fill_table(self) -> None:
        selected = self.current_class()
        self.table.blockSignals(True)
        self.table.setRowCount(len(self._classes))
        for row, c in enumerate(self._classes):
            swatch = QTableWidgetItem("")
            swatch.setData(Qt.DecorationRole, _swatch(c.color))  # an icon stays visible in a selected row
            swatch.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
            swatch.setToolTip(f"id {c.id}; double-click to change the colour")
            self.table.setItem(row, COLOUR, swatch)
            self.table.setItem(row, NAME, QTableWidgetItem(c.name))
            prompt = QTableWidgetItem(c.prompt)
            prompt.setToolTip(f"Synthesis prompt; empty means “{c.text}”")
            self.table.setItem(row, PROMPT, prompt)
            pixels = QTableWidgetItem(str(self._counts.get(c.id, 0)))
            pixels.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
            pixels.setTextAlignment(int(Qt.AlignRight | Qt.AlignVCenter))
            self.table.setItem(row, PIXELS, pixels)
        self.table.blockSignals(False)
        if selected is not None and any(c.id == selected.id for c in self._classes):
            self.select_class(selected.id)
        elif self._classes and self.current_class() is None:
            self.table.selectRow(0)  # the label tools always have a class to draw

    def _item_edited(self, item: QTableWidgetItem) -> None:
        info = self._classes[item.row()]
        try:
            if item.column() == NAME:
                self.rename_class(info.id, item.text())
            elif item.column() == PROMPT:
                self.set_prompt(info.id, item.text())
        except (ValueError, LabelLayerError) as error:
            self.message.emit(str(error))
            self._fill_table()

    def _cell_double_clicked(self, row: int, column: int) -> None:
        if column != COLOUR or row >= len(self._classes):
            return
        info = self._classes[row]
        color = QColorDialog.getColor(QColor(*info.color), self, f"Colour of {info.name}")
        if color.isValid():
            self.set_class_color(info.id, (color.red(), color.green(), color.blue()))

    # --- label layer and counts -------------------------------------------------------------------
    def label_layer(self) -> Optional[QgsVectorLayer]:
        return self._label_layer

    def set_label_layer(self, layer: Optional[QgsVectorLayer]) -> None:
        """Use ``layer`` for labels (checked and styled); classes it uses but the table lacks are added. None: no
        label layer (its edits, saved or not, stay in the layer: only the dock lets go of it). A layer that
        cannot hold labels is refused as in the combo: the message says why and the label layer stays."""
        self._layer_chosen(layer)
        # The combo lists project layers only: one outside the project leaves it empty (and must not unset it).
        self.layer_box.blockSignals(True)
        select_layer(self.layer_box, self._label_layer)
        self.layer_box.blockSignals(False)

    def _layer_chosen(self, layer) -> None:
        """The analyst chose ``layer`` (None: no label layer). A layer that cannot hold labels is refused and
        everything stays with the label layer there was (the combo shows it again, the tools keep drawing into
        it): a wrong pick in the combo loses nothing."""
        if _same_layer(layer, self._label_layer):
            return
        if layer is not None:
            try:
                checked = use_label_layer(layer, self._classes)
            except LabelLayerError as error:
                kept = self._label_layer
                if kept is not None and sip.isdeleted(kept):
                    kept = None
                self.message.emit(f"{error}" + (f"; the label layer stays '{kept.name()}'" if kept is not None else ""))
                self.layer_box.blockSignals(True)
                select_layer(self.layer_box, kept)
                self.layer_box.blockSignals(False)
                return
        if self._label_layer is not None:
            for signals, slot in ((self._edit_signals, self._labels_changed),
                                  (self._state_signals, self._update_actions)):
                try:
                    connected = signals(self._label_layer)
                except RuntimeError:  # the layer is deleted already
                    break
                for signal in connected:
                    try:
                        signal.disconnect(slot)
                    except (TypeError, RuntimeError):  # not connected, or the layer is deleted already
                        pass
        self._label_layer = None
        self._features = None
        if layer is not None:
            self._label_layer = checked
            self._adopt_unknown()
            for signal in self._edit_signals(layer):
                signal.connect(self._labels_changed)
            for signal in self._state_signals(layer):
                signal.connect(self._update_actions)
        for tool in (self.brush, self.polygon):
            if tool is not None:
                tool.set_label_layer(self._label_layer)
        self.refresh_counts()
        self._changed()
        self.labelLayerChanged.emit(self._label_layer)

    def _labels_changed(self, *_args: object) -> None:
        """The label layer changed: what was read from it is stale; count again once a burst of edits ends."""
        self._features = None
        self._count_timer.start()

    @staticmethod
    def _edit_signals(layer: QgsVectorLayer) -> list:
        """What tells that the label layer's features changed: its edits (undo and redo included), a rollback, a
        save (features get their ids in the file), a reload of its file, a new filter, another CRS."""
        return [layer.featureAdded, layer.featuresDeleted, layer.attributeValueChanged, layer.geometryChanged,
                layer.afterRollBack, layer.afterCommitChanges, layer.dataChanged, layer.subsetStringChanged,
                layer.crsChanged]

    @staticmethod
    def _state_signals(layer: QgsVectorLayer) -> list:
        """What changes whether Undo and Save labels can act: the layer's undo stack, its editing state, a save."""
        stack = layer.undoStack()
        return [stack.indexChanged, stack.cleanChanged, layer.editingStarted, layer.editingStopped,
                layer.layerModified, layer.afterCommitChanges, layer.afterRollBack]

    def label_features(self) -> Optional[LabelFeatures]:
        """The label layer's features as last read (None without a label layer).

        The layer is read once per change (:meth:`_edit_signals`): the counts, the label problems, the class ids
        the labels use and the dock's run check all take this read.
        """
        if self._label_layer is None:
            return None
        if self._features is None:
            self._features = read_label_features(self._label_layer)
            self._reads += 1
        return self._features

    def label_class_ids(self) -> dict[int, str]:
        """The class ids the labels use (1 up to :data:`MAX_CLASS_ID`), with the name stored beside them."""
        features = self.label_features()
        return dict(features.class_ids) if features is not None else {}

    def create_label_layer(self, path: str, project: Optional[QgsProject] = None) -> QgsVectorLayer:
        """Create a GeoPackage label layer in the scene's CRS and use it.

        A scene without georeference gets a Shapefile label layer without CRS, in the pixel coordinates QGIS
        shows the scene in (a GeoPackage always records a CRS, which the engine refuses for such a scene); the
        message says so. Without a scene the map canvas's CRS is taken.
        """
        if self._scene is not None:
            crs = self._scene.crs()  # invalid for a scene without georeference: a layer without CRS
        elif self._canvas is not None and self._canvas.mapSettings().destinationCrs().isValid():
            crs = self._canvas.mapSettings().destinationCrs()
        else:
            raise LabelLayerError("choose a scene first: the label layer takes the scene's CRS")
        layer = create_label_layer(path, crs, self._classes, project=project)
        self.set_label_layer(layer)
        if not crs.isValid():
            self.message.emit(f"The scene has no georeference, so the labels are a Shapefile without CRS, "
                              f"{layer.source()} (a GeoPackage always records a CRS, which a run would refuse).")
        return layer

    def scene_has_no_georeference(self) -> bool:
        """Whether the scene is a plain pixel grid (no CRS): its label layer must have no CRS either."""
        return self._scene is not None and not self._scene.crs().isValid()

    def set_scene_layer(self, layer: Optional[QgsRasterLayer]) -> None:
        """The scene whose pixels the labelled-pixel counts refer to."""
        self._scene = layer if isinstance(layer, QgsRasterLayer) else None
        self.refresh_counts()

    def pixel_counts(self) -> dict[int, int]:
        return dict(self._counts)

    def refresh_counts(self) -> dict[int, int]:
        """The scene pixels under each class's labels, shown in the table.

        Counted again only when the label layer (:meth:`label_features`) or the scene changed since the last
        count: a run check right after the count an edit made reuses it.
        """
        source = self._count_source()
        if source != self._counted:
            self._counts = {}
            error_before, self._count_error = self._count_error, ""
            if self._label_layer is not None and self._scene is not None:
                try:
                    self._counts = labelled_pixel_counts(self._label_layer, self._scene, self.label_features())
                except LabelLayerError as error:
                    self._count_error = str(error)
                    if self._count_error != error_before:  # said once, not after every edit
                        self.message.emit(self._count_error)
            self._counted = source
            self.countsChanged.emit(dict(self._counts))
        self._fill_table()
        self._show_label_problems()
        return dict(self._counts)

    def _count_source(self) -> tuple:
        """What the counts depend on: the read of the label layer (its CRS included: :meth:`_edit_signals`) and the
        scene, its file and CRS. Reads the label layer when it changed since its last read."""
        layer, scene = self._label_layer, self._scene
        read = None
        if layer is not None:
            self.label_features()  # counts self._reads up when it reads
            read = (layer.id(), self._reads)
        shown = (scene.id(), scene.source(), scene.crs().toWkt()) if scene is not None else None
        return read, shown

    # --- label tools ------------------------------------------------------------------------------
    def _follow_canvas_units(self) -> None:
        """The brush radius is in the canvas's map units: its decimals and step follow them (0.0002 degrees
        is a brush of about 20 m), and a radius set in other units goes back to auto."""
        assert self._canvas is not None
        units = self._canvas.mapUnits()
        if units == self._radius_units:
            return
        before, self._radius_units = self._radius_units, units
        degrees = units == QgsUnitTypes.DistanceDegrees
        self.radius.setDecimals(6 if degrees else 2)
        self.radius.setSingleStep(0.0001 if degrees else 1.0)
        known = units != QgsUnitTypes.DistanceUnknownUnit
        self.radius.setSuffix(f" {QgsUnitTypes.toAbbreviatedString(units)}" if known else "")
        unit_name = QgsUnitTypes.toString(units) if known else "pixels of a scene without georeference"
        self.radius.setToolTip(f"Brush radius in map units ({unit_name}; auto: 8 screen pixels)")
        if before is not None and self.radius.value() > 0:
            self.radius.setValue(0.0)
            self.message.emit(f"The map's units are now {QgsUnitTypes.toString(units)}: the brush radius is back to "
                              "auto; set it again in the new units.")

    def _update_actions(self, *_args: object) -> None:
        """Enable what can act now, say in each disabled button's tooltip what it needs, show the empty table's
        hint and, while a label tool is on, which class it draws and how to stop it."""
        layer = self._label_layer
        if layer is not None and sip.isdeleted(layer):
            layer = None
        current = self.current_class()
        draw_needs = ("Needs the QGIS map canvas" if self._canvas is None else
                      NEEDS_LABEL_LAYER if layer is None else NEEDS_CLASS if current is None else "")
        for button, tip in ((self.brush_button, BRUSH_TIP), (self.polygon_button, POLYGON_TIP)):
            if draw_needs and button.isChecked():
                button.setChecked(False)  # its tool lets go of the canvas (nothing to draw into, or no class)
            enable_unless(button, tip, draw_needs)
        unsaved = layer is not None and layer.isEditable() and layer.isModified()
        enable_unless(self.undo_button, UNDO_TIP, NEEDS_LABEL_LAYER if layer is None else
                      "" if layer.undoStack().canUndo() else "No label edit to undo")
        enable_unless(self.save_labels_button, SAVE_LABELS_TIP, NEEDS_LABEL_LAYER if layer is None else
                      "" if unsaved else "No unsaved label edits")
        enable_unless(self.delete_button, "Delete the selected class (asks what becomes of its labels)",
                      "" if current is not None else "Needs a class: select it in the table")
        enable_unless(self.merge_button, "Merge one class into another: its labels join the other class",
                      "" if len(self._classes) >= 2 else "Needs at least two classes")
        enable_unless(self.save_button, "Write the classes (names, colours, prompts) to a class file (JSON)",
                      "" if self._classes else "No classes to save yet")
        self.empty_hint.update_shown()
        self._show_tool_hint(current)

    def _show_tool_hint(self, current: Optional[ClassInfo]) -> None:
        """While the Brush or Polygon tool is on: the class it draws (in its colour) and how to stop."""
        on = "Brush" if self.brush_button.isChecked() else "Polygon" if self.polygon_button.isChecked() else ""
        if not on or current is None:
            self.tool_hint.setVisible(False)
            self.tool_hint.setText("")
            return
        swatch = "<span style='color: rgb({}, {}, {});'>&#9632;</span>".format(*current.color)
        doing = "Painting" if on == "Brush" else "Drawing polygons of"
        how = ("Esc drops a stroke in progress" if on == "Brush" else
               "right-click or double-click ends a polygon, Esc drops it")
        self.tool_hint.setText(f"{doing}: {swatch} <b>{html.escape(current.name)}</b> — click {on} again (or "
                               f"another map tool) to stop; {how}.")
        self.tool_hint.setVisible(True)

    def _tools_follow_class(self, current: Optional[ClassInfo]) -> None:
        for tool in (self.brush, self.polygon):
            if tool is not None:
                tool.set_class(current)

    def _toggle_tool(self, tool: LabelTool, on: bool) -> None:
        assert self._canvas is not None
        if on:
            if self._label_layer is None:
                self.message.emit("Choose or create a label layer first.")
            elif self.current_class() is None:
                self.message.emit("Select the class to label in the table first.")
            self._canvas.setMapTool(tool)
        elif self._canvas.mapTool() is tool:
            self._canvas.unsetMapTool(tool)

    def undo(self) -> bool:
        """Undo the last edit of the label layer."""
        layer = self._label_layer
        if layer is None or not layer.undoStack().canUndo():
            return False
        layer.undoStack().undo()
        layer.triggerRepaint()
        return True

    def save_labels(self) -> None:
        if self._label_layer is None:
            return
        try:
            save_labels(self._label_layer)
            self.message.emit(f"Labels saved to {self._label_layer.source().split('|')[0]}")
        except LabelLayerError as error:
            self.message.emit(str(error))

    # --- dialogs (thin wrappers around the methods above) -----------------------------------------
    def _ask_new_layer(self) -> None:
        start, kind = ("labels.shp", "Shapefile without CRS (*.shp)") if self.scene_has_no_georeference() else (
            "labels.gpkg", "GeoPackage (*.gpkg)")
        path, _ = QFileDialog.getSaveFileName(self, "New label layer", start, kind)
        if path:
            try:
                self.create_label_layer(path)
            except LabelLayerError as error:
                self.message.emit(str(error))

    def _ask_add(self) -> None:
        """Add: a new class, unless labels of classes the table lacks are waiting to get their class back."""
        unknown = self.unknown_label_classes()
        if unknown:
            listed = ", ".join(f"“{self._removed[i].name if i in self._removed else n or f'class {i}'}” (id {i})"
                               for i, n in sorted(unknown.items()))
            answer = QMessageBox.question(
                self, "Add class", f"The label layer has labels of {listed}, which the class table lacks.\n"
                "Add back to the table? No adds a new class without labels.",
                QMessageBox.Yes | QMessageBox.No | QMessageBox.Cancel, QMessageBox.Yes)
            if answer == QMessageBox.Cancel:
                return
            if answer == QMessageBox.Yes:
                self.add_missing_classes()
                return
        try:
            self.add_class()
        except ValueError as error:
            self.message.emit(str(error))

    def _ask_delete(self) -> None:
        current = self.current_class()
        if current is None:
            return
        labelled = current.id in self.label_class_ids()
        delete_labels = False
        if labelled:
            answer = QMessageBox.question(
                self, "Delete class", f"Delete the labels of “{current.name}” too?\n"
                "No keeps them in the label layer as labels of no class: a run refuses them until "
                "the class is added back (Add) or they are deleted.",
                QMessageBox.Yes | QMessageBox.No | QMessageBox.Cancel, QMessageBox.Cancel)
            if answer == QMessageBox.Cancel:
                return
            delete_labels = answer == QMessageBox.Yes
        try:
            self.delete_class(current.id, delete_labels)
        except LabelLayerError as error:  # a read-only label layer: the class and its labels stay
            self.message.emit(str(error))

    def _ask_merge(self) -> None:
        if len(self._classes) < 2:
            self.message.emit("Merging needs at least two classes.")
            return
        dialog = QDialog(self)
        dialog.setWindowTitle("Merge classes")
        form = QFormLayout(dialog)
        source, target = QComboBox(), QComboBox()
        for c in self._classes:
            source.addItem(c.name, c.id)
            target.addItem(c.name, c.id)
        current = self.current_class()
        if current is not None:
            source.setCurrentIndex(source.findData(current.id))
        target.setCurrentIndex(1 if source.currentIndex() == 0 else 0)
        form.addRow("Merge", source)
        form.addRow("into", target)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        form.addRow(buttons)
        if dialog.exec_() == QDialog.Accepted:
            try:
                changed = self.merge_classes(source.currentData(), target.currentData())
                self.message.emit(f"{changed} labels now belong to {target.currentText()}.")
            except ValueError as error:
                self.message.emit(str(error))

    def _ask_load(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load classes", "", "Class files (*.json)")
        if path:
            try:
                self.load_classes(path)
            except ValueError as error:
                self.message.emit(str(error))

    def _ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save classes", "classes.json", "Class files (*.json)")
        if path:
            try:
                self.save_classes(path)
            except (ValueError, OSError) as error:
                self.message.emit(str(error))


class _ClassRemoval(QUndoCommand):
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


def enable_unless(button: QWidget, tip: str, needs: str) -> None:
    """Enable ``button`` unless it ``needs`` something (then its tooltip says what, after what it does)."""
    button.setEnabled(not needs)
    button.setToolTip(f"{tip}.\n{needs}." if needs else tip)


def _swatch(color: tuple[int, int, int], size: int = 16) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*color))
    icon = QIcon(pixmap)
    icon.addPixmap(pixmap, QIcon.Selected)  # the true colour, not Qt's tinted one, in a selected row
    return icon


def _same_name(a: str, b: str) -> bool:
    """Whether two class names are the same to the engine (which ignores case and surrounding spaces)."""
    return name_key(a) == name_key(b)


def duplicate_names(classes: Sequence[ClassInfo]) -> Optional[str]:
    """What to fix when two classes share a name (the engine refuses it, ignoring case), else None."""
    seen: dict[str, ClassInfo] = {}
    for c in sorted(classes, key=lambda c: c.id):
        key = name_key(c.name)
        if key in seen:
            return (f"classes {seen[key].id} and {c.id} are both named '{seen[key].name.strip()}'; "
                    "give each class its own name")
        seen[key] = c
    return None


def _same_layer(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    return a.id() == b.id()  # type: ignore[attr-defined]
