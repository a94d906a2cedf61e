"""The questions the class panel asks the analyst (files, colours, what becomes of labels), then hands to the panel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import (
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QMessageBox,
)

from ..core.scene import ClassInfo
from ..plugin.label_layer import LabelLayerError

if TYPE_CHECKING:
    from .classes_panel import ClassesPanel


def ask_new_label_layer(panel: ClassesPanel) -> None:
    """New…: where to create the label layer (a Shapefile without CRS for a scene without georeference)."""
    start, kind = ("labels.shp", "Shapefile without CRS (*.shp)") if panel.scene_has_no_georeference() else (
        "labels.gpkg", "GeoPackage (*.gpkg)")
    path, _ = QFileDialog.getSaveFileName(panel, "New label layer", start, kind)
    if path:
        try:
            panel.create_label_layer(path)
        except LabelLayerError as error:
            panel.message.emit(str(error))


def ask_add_class(panel: ClassesPanel) -> None:
    """Add: a new class, unless labels of classes the table lacks are waiting to get their class back."""
    unknown = panel.unknown_label_classes()
    if unknown:
        listed = ", ".join(f"“{_unknown_class_name(panel, i, n)}” (id {i})" for i, n in sorted(unknown.items()))
        answer = QMessageBox.question(
            panel, "Add class", f"The label layer has labels of {listed}, which the class table lacks.\n"
            "Add back to the table? No adds a new class without labels.",
            QMessageBox.Yes | QMessageBox.No | QMessageBox.Cancel, QMessageBox.Yes)
        if answer == QMessageBox.Cancel:
            return
        if answer == QMessageBox.Yes:
            panel.add_missing_classes()
            return
    try:
        panel.add_class()
    except ValueError as error:
        panel.message.emit(str(error))


def _unknown_class_name(panel: ClassesPanel, class_id: int, label_name: str) -> str:
    """What to call the class of labels the table lacks: the class deleted here under that id, else the name the
    labels carry, else "class N"."""
    removed = panel.removed_class(class_id)
    return removed.name if removed is not None else label_name or f"class {class_id}"


def ask_delete_class(panel: ClassesPanel) -> None:
    """Delete: the selected class; whether its labels go too when it has any."""
    current = panel.current_class()
    if current is None:
        return
    labelled = current.id in panel.label_class_ids()
    delete_labels = False
    if labelled:
        answer = QMessageBox.question(
            panel, "Delete class", f"Delete the labels of “{current.name}” too?\n"
            "No keeps them in the label layer as labels of no class: a run refuses them until "
            "the class is added back (Add) or they are deleted.",
            QMessageBox.Yes | QMessageBox.No | QMessageBox.Cancel, QMessageBox.Cancel)
        if answer == QMessageBox.Cancel:
            return
        delete_labels = answer == QMessageBox.Yes
    try:
        panel.delete_class(current.id, delete_labels)
    except LabelLayerError as error:  # a read-only label layer: the class and its labels stay
        panel.message.emit(str(error))


def ask_merge_classes(panel: ClassesPanel) -> None:
    """Merge…: which class goes into which (the selected class first)."""
    classes = panel.classes()
    if len(classes) < 2:
        panel.message.emit("Merging needs at least two classes.")
        return
    dialog = QDialog(panel)
    dialog.setWindowTitle("Merge classes")
    form = QFormLayout(dialog)
    source, target = QComboBox(), QComboBox()
    for c in classes:
        source.addItem(c.name, c.id)
        target.addItem(c.name, c.id)
    current = panel.current_class()
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
            changed = panel.merge_classes(source.currentData(), target.currentData())
            panel.message.emit(f"{changed} labels now belong to {target.currentText()}.")
        except ValueError as error:
            panel.message.emit(str(error))


def ask_class_color(panel: ClassesPanel, info: ClassInfo) -> None:
    """A double-click on a class's swatch: its new colour."""
    color = QColorDialog.getColor(QColor(*info.color), panel, f"Colour of {info.name}")
    if color.isValid():
        panel.set_class_color(info.id, (color.red(), color.green(), color.blue()))


def ask_load_classes(panel: ClassesPanel) -> None:
    """Load classes…: the class file whose classes replace the table's."""
    path, _ = QFileDialog.getOpenFileName(panel, "Load classes", "", "Class files (*.json)")
    if path:
        try:
            panel.load_classes(path)
        except ValueError as error:
            panel.message.emit(str(error))


def ask_save_classes(panel: ClassesPanel) -> None:
    """Save classes…: where to write the class file."""
    path, _ = QFileDialog.getSaveFileName(panel, "Save classes", "classes.json", "Class files (*.json)")
    if path:
        try:
            panel.save_classes(path)
        except (ValueError, OSError) as error:
            panel.message.emit(str(error))
