"""After a draw from reference: the classes it numbers the reference by, its layers, and what the dock says of it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer
from qgis.PyQt.QtWidgets import QWidget

from ..core.io.classes import read_classes
from ..core.label_draw import LabelDraw, is_validation_of_a_draw, written_files
from ..core.scene import ClassInfo
from ..plugin.label_layer import LAYER_NAME, style_label_layer
from ..plugin.layers import add_input_layer, gdal_name, remove_layers_reading
from ..plugin.rendering import class_palette_renderer
from .class_list import same_name

if TYPE_CHECKING:
    from .classes_panel import ClassesPanel
    from .label_draw_dialog import DrawRequest


def sentence(text: str) -> str:
    """``text`` as a sentence of a message: stripped, with a full stop unless it ends one already (its case is kept:
    it may start with a file or layer name)."""
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def sentences(parts: list[str]) -> str:
    """``parts`` as one message, each a sentence (:func:`sentence`)."""
    return " ".join(sentence(p) for p in parts if p.strip())


# --- the classes the reference is numbered by -------------------------------------------------------------------
@dataclass
class ReferenceClasses:
    """The classes a draw numbers the reference by (the engine's ``known_classes``), and where they came from."""

    known: list[ClassInfo]  # the dock's, then the class file's the dock lacks (renamed where a dock class has the name)
    dock_ids: set[int]  # the ids the dock had when the draw started: they keep the dock's names
    file_names: dict[int, str]  # each id's name in the reference's class file (none: no class file)


def name_among(info: ClassInfo, classes: list[ClassInfo]) -> str:
    """The name a reference class ``info`` gets among ``classes``: its own, or ``<name> (<id>)`` where one of them
    has that name already."""
    return info.name if not any(same_name(c.name, info.name) for c in classes) else f"{info.name} ({info.id})"


def reference_classes(dock: list[ClassInfo], class_file: Optional[Path]) -> ReferenceClasses:
    """The dock's classes, then each class of ``class_file`` (the class file beside the reference) whose id the dock
    lacks: with its name, colour and prompt, or, when a dock class has that name, as ``<name> (<id>)`` (dropped if
    that name is taken too: the reference then names it). So a reference of class names is numbered by the dock's
    classes, and a reference of ids keeps the dock's names for the ids it has.

    Raises:
        ClassFileError: ``class_file`` cannot be read.
    """
    theirs = read_classes(class_file) if class_file is not None else []
    known = [dataclasses.replace(c) for c in dock]
    for info in theirs:
        if any(c.id == info.id for c in known):
            continue
        name = name_among(info, known)
        if name != info.name and any(same_name(c.name, name) for c in known + theirs):
            continue
        known.append(dataclasses.replace(info, name=name))
    return ReferenceClasses(sorted(known, key=lambda c: c.id), {c.id for c in dock}, {c.id: c.name for c in theirs})


def class_notes(classes: ReferenceClasses, draw: LabelDraw, added: list[ClassInfo],
                now: list[ClassInfo]) -> list[str]:
    """What the analyst should know of the names the drawn classes got: the reference's class names took the dock's
    ids (the engine's ``renumbered``); a reference id the dock has kept the dock's name where the class file names
    it otherwise (a reference of ids: nothing renumbered); a reference class whose name a dock class of another id
    has came in under another name (``added``: the classes the merge added; ``now``: the dock's classes after
    it)."""
    drawn = draw.classes
    drawn_names = {c.id: c.name for c in drawn}
    notes = []
    if draw.renumbered:  # a reference of names, numbered by the dock's classes: bench's pixels, the dock's ids
        moved = ", ".join(f"{drawn_names.get(new, f'class {new}')} {own} → {new}"
                          for own, new in sorted(draw.renumbered.items(), key=lambda item: item[1]))
        notes.append(f"The reference's class names took your classes' ids: {moved}; the pixels are those the "
                     "benchmark draws")
    else:
        for info in drawn:
            theirs = classes.file_names.get(info.id)
            if info.id in classes.dock_ids and theirs and not same_name(theirs, info.name):
                notes.append(f"Class {info.id} keeps your name '{info.name}' (the reference's class file calls it "
                             f"'{theirs}')")
    for info in added:
        theirs = classes.file_names.get(info.id) or drawn_names.get(info.id, "")
        if not theirs or same_name(theirs, info.name):
            continue
        holder = next((c for c in now if c.id != info.id and same_name(c.name, theirs)), None)
        if holder is not None:
            notes.append(f"The reference's class {info.id} '{theirs}' came in as '{info.name}': your class "
                         f"{holder.id} has that name")
    return notes


# --- the draw's files, layers and message ----------------------------------------------------------------------
def merge_drawn_classes(panel: ClassesPanel, drawn: list[ClassInfo]) -> list[ClassInfo]:
    """Add the drawn classes whose ids the panel lacks, with the reference's name (numbered if taken), colour and
    prompt; an id the panel has keeps the analyst's class. Returns those added."""
    added = []
    for info in drawn:
        classes = panel.classes()
        if any(c.id == info.id for c in classes):
            continue
        name = name_among(info, classes)
        added.append(panel.add_class(name, tuple(info.color), info.prompt, class_id=info.id))
    return added


def run_settings_of(widget: QWidget) -> Optional[dict[str, Any]]:
    """The run dialog's remembered settings of the dock holding ``widget`` (``last_run_settings``), or None."""
    parent = widget.parentWidget()
    while parent is not None:
        settings = getattr(parent, "last_run_settings", None)
        if isinstance(settings, dict):
            return settings
        parent = parent.parentWidget()
    return None


def to_the_top(layer: QgsVectorLayer, project: QgsProject) -> None:
    """Move ``layer`` to the top of ``project``'s layer tree (QGIS put it at the Layers panel's selection, which may
    lie below the reference raster the points were drawn from: in the same colours, it hides them)."""
    root = project.layerTreeRoot()
    node = root.findLayer(layer.id())
    if node is None or (node.parent() is root and root.children().index(node) == 0):
        return
    root.insertChildNode(0, node.clone())
    node.parent().removeChildNode(node)


def add_below(layer: QgsRasterLayer, above: QgsVectorLayer, project: QgsProject) -> None:
    """Add ``layer`` to ``project`` just below ``above`` in the layer tree, hidden (in class colours under points
    in the same colours, it would hide them)."""
    root = project.layerTreeRoot()
    node = root.findLayer(above.id())
    if node is None or node.parent() is None:
        add_input_layer(layer, project)
    else:
        project.addMapLayer(layer, False)
        parent = node.parent()
        parent.insertLayer(parent.children().index(node) + 1, layer)
    added = root.findLayer(layer.id())
    if added is not None:
        added.setItemVisibilityChecked(False)


def _validation_said(panel: ClassesPanel, draw: LabelDraw, points: QgsVectorLayer, into: QgsProject) -> list[str]:
    """Add the validation raster the draw wrote below the points, make it the next run's Validation labels, and say
    so; without one, forget an earlier draw's as the next run's (its pixels include this draw's training labels)."""
    settings = run_settings_of(panel)
    if draw.validation is None:
        earlier = into.mapLayer(str((settings or {}).get("validation_layer_id") or ""))
        if settings is None or not isinstance(earlier, QgsRasterLayer) or not is_validation_of_a_draw(
                gdal_name(earlier.source())):
            return []  # none, or one the analyst chose: theirs
        settings.update(validation_layer_id="", validation_field="")
        return [f"The next run has no validation labels: '{earlier.name()}' was left by an earlier draw"]
    validation = QgsRasterLayer(str(draw.validation), draw.validation.stem, "gdal")  # its .qml: class colours
    if not validation.isValid():
        return [f"QGIS could not open the validation labels {draw.validation.name}"]
    if validation.renderer() is None or validation.renderer().type() != "paletted":
        validation.setRenderer(class_palette_renderer(validation, draw.classes))
    add_below(validation, points, into)
    where = "below the points and hidden (tick it to see it)"
    if settings is None:
        return [f"Pick '{validation.name()}', {where}, as Validation labels in the run dialog"]
    settings.update(validation_layer_id=validation.id(), validation_field="")
    return [f"'{validation.name()}', {where}, is the next run's Validation labels"]


def use_drawn_labels(panel: ClassesPanel, draw: LabelDraw, request: DrawRequest, scene_id: str,
                     classes: ReferenceClasses, project: Optional[QgsProject] = None) -> Optional[QgsVectorLayer]:
    """Add the drawn points (in class colours) and, below them and hidden, the validation raster to the project; the
    classes the dock lacks join it, the points become the label layer (when the scene is still the one drawn on) and
    the validation raster the next run's validation labels. The message says what was drawn, under which names, and
    what to do next."""
    into = project or QgsProject.instance()
    assert draw.points is not None
    if request.overwrite:  # the layers reading these files left before the draw; one added meanwhile would be stale
        remove_layers_reading(written_files(draw.points, draw.validation), into)
    source = str(draw.points) if draw.points.suffix.lower() != ".gpkg" else f"{draw.points}|layername={LAYER_NAME}"
    points = QgsVectorLayer(source, draw.points.stem, "ogr")
    if not points.isValid():
        panel.message.emit(f"The labels were drawn into {draw.points}, but QGIS could not open it.")
        return None
    added = merge_drawn_classes(panel, draw.classes)
    style_label_layer(points, panel.classes())
    add_input_layer(points, into)
    to_the_top(points, into)  # above the reference it was drawn from, which would hide it
    said = [draw.summary()]
    scene = panel.scene_layer()
    if scene is not None and scene.id() == scene_id:
        panel.set_label_layer(points)
        if panel.label_layer() is points:
            said.append(f"'{points.name()}' is the label layer now")
    else:
        said.append(f"The scene changed meanwhile: '{points.name()}' was added but is not the label layer")
    if added:
        said.append(f"Classes added from the reference: {', '.join(c.name for c in added)}")
    said.extend(class_notes(classes, draw, added, panel.classes()))
    said.extend(_validation_said(panel, draw, points, into))
    if draw.warnings:  # whole phrases naming their classes, without a final full stop
        said.append("Note that " + "; ".join(w.strip().rstrip(".") for w in draw.warnings))
    panel.message.emit(sentences(said))
    return points
