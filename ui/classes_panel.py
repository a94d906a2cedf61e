"""Classes and labels panel: the class table, the label layer, and the brush / polygon label tools."""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

from qgis.core import QgsMapLayerProxyModel, QgsProject, QgsRasterLayer, QgsVectorLayer
from qgis.gui import QgsMapCanvas, QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt, QTimer, pyqtSignal
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
    QVBoxLayout,
    QWidget,
)

from ..core.io.classes import name_key
from ..core.scene import ClassInfo, default_color
from ..plugin.label_layer import (
    LabelLayerError,
    class_ids_in_layer,
    create_label_layer,
    delete_class_features,
    labelled_pixel_counts,
    merge_class_features,
    relabel_features,
    save_labels,
    style_label_layer,
    use_label_layer,
)
from ..plugin.maptools import BrushTool, LabelTool, PolygonTool

COLOUR, NAME, PROMPT, PIXELS = range(4)  # table columns
MAX_CLASS_ID = 255  # label rasters are written as 8-bit
COUNT_DELAY_MS = 400  # wait for a burst of edits to end before counting labelled pixels again


class ClassesPanel(QWidget):
    """The analyst's classes (colour, name, prompt, labelled pixels) and the tools that draw labels.

    Args:
        canvas: the map canvas the label tools draw on; None for a panel without tools.
    """

    classesChanged = pyqtSignal(list)  # list[ClassInfo], after any add/rename/recolour/delete/merge/load
    currentClassChanged = pyqtSignal(object)  # ClassInfo or None
    labelLayerChanged = pyqtSignal(object)  # QgsVectorLayer or None
    message = pyqtSignal(str)  # something the analyst should read

    def __init__(self, canvas: Optional[QgsMapCanvas] = None, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._classes: list[ClassInfo] = []
        self._counts: dict[int, int] = {}
        self._label_layer: Optional[QgsVectorLayer] = None
        self._scene: Optional[QgsRasterLayer] = None
        self._canvas = canvas
        self._count_timer = QTimer(self, singleShot=True, interval=COUNT_DELAY_MS)
        self._count_timer.timeout.connect(self.refresh_counts)
        layout = QVBoxLayout(self)

        row = QHBoxLayout()
        row.addWidget(QLabel("Label layer"))
        self.layer_box = QgsMapLayerComboBox()
        self.layer_box.setFilters(QgsMapLayerProxyModel.PolygonLayer)
        self.layer_box.setAllowEmptyLayer(True)
        self.layer_box.setToolTip("A polygon layer with an integer class_id field; QGIS's own editing tools work on it")
        self.layer_box.layerChanged.connect(self._layer_chosen)
        row.addWidget(self.layer_box, 1)
        self.new_layer_button = QPushButton("New…")
        self.new_layer_button.setToolTip("Create a GeoPackage label layer in the scene's CRS")
        self.new_layer_button.clicked.connect(self._ask_new_layer)
        row.addWidget(self.new_layer_button)
        layout.addLayout(row)

        tools = QHBoxLayout()
        self.brush_button = QToolButton(text="Brush", checkable=True)
        self.brush_button.setToolTip("Paint labels of the selected class; each stroke is one polygon")
        self.polygon_button = QToolButton(text="Polygon", checkable=True)
        self.polygon_button.setToolTip("Click vertices; right-click or double-click to finish, Esc to cancel")
        tools.addWidget(self.brush_button)
        tools.addWidget(self.polygon_button)
        tools.addWidget(QLabel("radius"))
        self.radius = QDoubleSpinBox()
        self.radius.setRange(0.0, 1e6)
        self.radius.setDecimals(1)
        self.radius.setSpecialValueText("auto")
        self.radius.setToolTip("Brush radius in map units (auto: 8 screen pixels)")
        tools.addWidget(self.radius)
        self.undo_button = QToolButton(text="Undo")
        self.undo_button.setToolTip("Undo the last label edit (Ctrl+Z while a label tool is active)")
        self.save_labels_button = QToolButton(text="Save labels")
        self.save_labels_button.setToolTip("Write the label edits to the label layer's file")
        tools.addWidget(self.undo_button)
        tools.addWidget(self.save_labels_button)
        tools.addStretch(1)
        layout.addLayout(tools)

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

        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(lambda: self.add_class())
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self._ask_delete)
        self.merge_button = QPushButton("Merge…")
        self.merge_button.clicked.connect(self._ask_merge)
        self.load_button = QPushButton("Load…")
        self.load_button.clicked.connect(self._ask_load)
        self.save_button = QPushButton("Save…")
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
        else:
            for w in (self.brush_button, self.polygon_button, self.radius):
                w.setEnabled(False)
        self.undo_button.clicked.connect(self.undo)
        self.save_labels_button.clicked.connect(self.save_labels)

    # --- classes ----------------------------------------------------------------------------------
    def classes(self) -> list[ClassInfo]:
        """The classes, sorted by id (copies: editing them changes nothing here)."""
        return [dataclasses.replace(c) for c in self._classes]

    def set_classes(self, classes: list[ClassInfo]) -> None:
        """Replace every class (e.g. after loading a class file)."""
        ids = [c.id for c in classes]
        if len(set(ids)) != len(ids):
            raise ValueError(f"class ids must be unique; got {sorted(ids)}")
        clash = duplicate_names(classes)
        if clash:
            raise ValueError(clash)
        self._classes = sorted((dataclasses.replace(c) for c in classes), key=lambda c: c.id)
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
        """Add a class (next free id, palette colour, "class N" name unless given) and select it."""
        used = {c.id for c in self._classes}
        if class_id is None:
            class_id = max(used, default=0) + 1
        if class_id in used:
            raise ValueError(f"class id {class_id} is already used by {self.class_by_id(class_id).name!r}")
        if not 1 <= class_id <= MAX_CLASS_ID:
            raise ValueError(f"class ids run from 1 to {MAX_CLASS_ID}; {class_id} is out of range")
        name = (name or f"class {class_id}").strip()
        if any(_same_name(c.name, name) for c in self._classes):
            raise ValueError(f"a class named {name!r} already exists; choose another name")
        info = ClassInfo(class_id, name, color or self._free_color(), prompt)
        self._classes = sorted(self._classes + [info], key=lambda c: c.id)
        self._changed()
        self.select_class(class_id)
        self._warn_same_color(info)
        return info

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
        """Rename a class; the ``class`` text of its labels follows (one undoable edit)."""
        name = name.strip()
        if not name:
            raise ValueError("a class needs a name")
        if any(_same_name(c.name, name) and c.id != class_id for c in self._classes):
            raise ValueError(f"a class named {name!r} already exists; choose another name")
        info = self.class_by_id(class_id)
        if info.name == name:
            return
        info.name = name
        if self._label_layer is not None and self._label_layer.fields().indexOf("class") >= 0:
            relabel_features(self._label_layer, class_id, info, f"Rename class {class_id} to {name}")
        self._changed()

    def set_prompt(self, class_id: int, prompt: str) -> None:
        info = self.class_by_id(class_id)
        if info.prompt != prompt:
            info.prompt = prompt
            self._changed()

    def set_class_color(self, class_id: int, color: tuple[int, int, int]) -> None:
        info = self.class_by_id(class_id)
        info.color = tuple(int(v) for v in color)[:3]  # type: ignore[assignment]
        self._changed()
        self._warn_same_color(info)

    def delete_class(self, class_id: int, delete_labels: bool = False) -> int:
        """Remove a class; with ``delete_labels`` its label polygons go too (one undoable edit).

        Returns:
            How many label polygons were deleted.
        """
        self.class_by_id(class_id)
        deleted = 0
        if delete_labels and self._label_layer is not None:
            deleted = delete_class_features(self._label_layer, class_id)
        self._classes = [c for c in self._classes if c.id != class_id]
        self._changed()
        return deleted

    def merge_classes(self, source_id: int, target_id: int) -> int:
        """Merge class ``source_id`` into ``target_id``: its labels take the target's id and name
        (one undoable edit of the label layer), and the source class is removed.

        Returns:
            How many label polygons changed class.
        """
        if source_id == target_id:
            raise ValueError("choose two different classes to merge")
        target = self.class_by_id(target_id)
        self.class_by_id(source_id)
        changed = merge_class_features(self._label_layer, source_id, target) if self._label_layer else 0
        self._classes = [c for c in self._classes if c.id != source_id]
        self._changed()
        return changed

    def load_classes(self, path: str) -> list[ClassInfo]:
        """Replace the classes with those of a class JSON file (see core.io.classes)."""
        from ..core.io.classes import read_classes

        self.set_classes(read_classes(path))
        return self.classes()

    def save_classes(self, path: str) -> None:
        """Write the classes (ids, names, colours, prompts) to a class JSON file."""
        from ..core.io.classes import write_classes

        write_classes(path, self.classes())

    def _changed(self) -> None:
        self._fill_table()
        if self._label_layer is not None:
            style_label_layer(self._label_layer, self._classes)
        self._tools_follow_class(self.current_class())
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
        label layer (its edits, saved or not, stay in the layer: only the dock lets go of it)."""
        self.layer_box.setLayer(layer)
        # The combo signals project layers only: not a layer outside the project, nor letting go of one.
        if not _same_layer(layer, self._label_layer):
            self._layer_chosen(layer)

    def _layer_chosen(self, layer) -> None:
        if _same_layer(layer, self._label_layer):
            return
        if self._label_layer is not None:
            for signal in self._edit_signals(self._label_layer):
                try:
                    signal.disconnect(self._schedule_count)
                except (TypeError, RuntimeError):  # not connected, or the layer is deleted already
                    pass
        self._label_layer = None
        if layer is not None:
            try:
                self._label_layer = use_label_layer(layer, self._classes)
            except LabelLayerError as error:
                self.message.emit(str(error))
                self.layer_box.setLayer(None)
                return
            known = {c.id for c in self._classes}
            found = {i: n for i, n in class_ids_in_layer(layer).items() if i not in known}
            for class_id, name in sorted(found.items()):
                name = name.strip() or f"class {class_id}"
                if any(_same_name(c.name, name) for c in self._classes):  # the engine needs distinct names
                    name = f"{name} ({class_id})"
                self._classes.append(ClassInfo(class_id, name, self._free_color()))
            self._classes.sort(key=lambda c: c.id)
            for signal in self._edit_signals(layer):
                signal.connect(self._schedule_count)
        for tool in (self.brush, self.polygon):
            if tool is not None:
                tool.set_label_layer(self._label_layer)
        self.refresh_counts()
        self._changed()
        self.labelLayerChanged.emit(self._label_layer)

    def _schedule_count(self, *_args: object) -> None:
        self._count_timer.start()

    @staticmethod
    def _edit_signals(layer: QgsVectorLayer) -> list:
        return [layer.featureAdded, layer.featuresDeleted, layer.attributeValueChanged, layer.geometryChanged,
                layer.afterRollBack]

    def create_label_layer(self, path: str, project: Optional[QgsProject] = None) -> QgsVectorLayer:
        """Create a GeoPackage label layer in the scene's CRS and use it."""
        crs = self._scene.crs() if self._scene is not None else (
            self._canvas.mapSettings().destinationCrs() if self._canvas is not None else None)
        if crs is None or not crs.isValid():
            raise LabelLayerError("choose a scene first: the label layer takes the scene's CRS")
        layer = create_label_layer(path, crs, self._classes, project=project)
        self.set_label_layer(layer)
        return layer

    def set_scene_layer(self, layer: Optional[QgsRasterLayer]) -> None:
        """The scene whose pixels the labelled-pixel counts refer to."""
        self._scene = layer if isinstance(layer, QgsRasterLayer) else None
        self.refresh_counts()

    def pixel_counts(self) -> dict[int, int]:
        return dict(self._counts)

    def refresh_counts(self) -> dict[int, int]:
        """Count the scene pixels under each class's labels and show them in the table."""
        self._counts = {}
        if self._label_layer is not None and self._scene is not None:
            try:
                self._counts = labelled_pixel_counts(self._label_layer, self._scene)
            except LabelLayerError as error:
                self.message.emit(str(error))
        self._fill_table()
        return dict(self._counts)

    # --- label tools ------------------------------------------------------------------------------
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
        path, _ = QFileDialog.getSaveFileName(self, "New label layer", "labels.gpkg", "GeoPackage (*.gpkg)")
        if path:
            try:
                self.create_label_layer(path)
            except LabelLayerError as error:
                self.message.emit(str(error))

    def _ask_delete(self) -> None:
        current = self.current_class()
        if current is None:
            return
        labelled = self._label_layer is not None and current.id in class_ids_in_layer(self._label_layer)
        delete_labels = False
        if labelled:
            answer = QMessageBox.question(
                self, "Delete class", f"Delete the labels of “{current.name}” too?\n"
                "No keeps them in the label layer (they will be read as an unknown class).",
                QMessageBox.Yes | QMessageBox.No | QMessageBox.Cancel, QMessageBox.Cancel)
            if answer == QMessageBox.Cancel:
                return
            delete_labels = answer == QMessageBox.Yes
        self.delete_class(current.id, delete_labels)

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
