"""The analyst's label layer: class polygons or points in a GeoPackage, styled by class, editable with any QGIS tool."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
from osgeo import gdal, ogr, osr
from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsFeatureRequest,
    QgsField,
    QgsFieldConstraints,
    QgsFields,
    QgsFillSymbol,
    QgsGeometry,
    QgsMarkerSymbol,
    QgsProject,
    QgsRasterLayer,
    QgsRendererCategory,
    QgsSimpleLineSymbolLayer,
    QgsSimpleMarkerSymbolLayer,
    QgsSymbol,
    QgsVectorFileWriter,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import Qt, QVariant
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import QUndoCommand

from ..core.progress import NULL_REPORTER, Reporter
from ..core.scene import CLASS_ID_RANGE, MAX_CLASS_ID, MIN_CLASS_ID, PIXEL_GRID, ClassInfo  # the engine's id range
from .layers import add_input_layer, gdal_name, open_in_layers_panel

CLASS_ID_FIELD = "class_id"  # integer label value, the ClassInfo.id
CLASS_NAME_FIELD = "class"  # class name, for people reading the attribute table
LAYER_NAME = "labels"  # table name inside the GeoPackage
LAYER_OPACITY = 0.6  # the label layer's opacity: the scene shows through its fills (the legend keeps full colours)
HALO_WIDTH = 0.6  # mm: a white band just outside each label's edge, so it stands out on any scene colour
EDGE_WIDTH = 0.5  # mm: a line of the class colour darkened (QColor.darker) just inside the edge
EDGE_DARKER = 160
MARKER_SIZE = 3.2  # mm: a point label's dot, large enough to see its colour at any zoom (2.4 mm was easy to miss)
# What a label layer may hold: polygons burn the pixel centres inside them, points the pixel they fall in (as the
# engine reads labels: core.io.labels)
LABEL_GEOMETRIES = (QgsWkbTypes.PolygonGeometry, QgsWkbTypes.PointGeometry)
# Why the Brush and Polygon tools draw nothing into a layer of points, and what to do instead
POINT_LAYER_PAINTS_NOT = ("the label layer holds points: add points with QGIS's own Add Point Feature tool, or make "
                          "a New… polygon layer to paint")


class LabelLayerError(ValueError):
    """A layer cannot serve as the label layer, or the label file cannot be written."""


def check_class_id(class_id: int) -> int:
    """Return ``class_id`` if the engine takes it as a class id.

    Raises:
        ValueError: saying the allowed range.
    """
    if isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer)):
        raise ValueError(f"a class id is a whole number {CLASS_ID_RANGE}; got {class_id!r}")
    if not MIN_CLASS_ID <= class_id <= MAX_CLASS_ID:
        raise ValueError(f"class ids run {CLASS_ID_RANGE} (0 means unlabelled); {class_id} is out of range")
    return int(class_id)


def label_fields() -> QgsFields:
    """The attribute fields of a label layer."""
    fields = QgsFields()
    fields.append(QgsField(CLASS_ID_FIELD, QVariant.Int))
    fields.append(QgsField(CLASS_NAME_FIELD, QVariant.String, len=100))
    return fields


def create_label_layer(path: str, crs: QgsCoordinateReferenceSystem, classes: Sequence[ClassInfo], *,
                       name: Optional[str] = None, project: Optional[QgsProject] = None,
                       overwrite: bool = False) -> QgsVectorLayer:
    """Create an empty polygon layer for labels, style it and add it to the project.

    The layer is a GeoPackage, except for an invalid ``crs`` (a scene without georeference): a GeoPackage
    always records a CRS (GDAL reads even "undefined" as one), which the engine refuses for such a scene, so the
    labels become a Shapefile without CRS (``path`` with ``.shp``), in the scene's pixel coordinates.

    Args:
        path: the ``.gpkg`` file to write (``.shp`` without CRS).
        crs: the label layer's CRS (use the scene's, so polygons line up with pixels); invalid: none.
        classes: the classes, for the categorised style.
        name: the layer name in the project (default: the file stem).
        project: where to add it (default: the current project).
        overwrite: replace an existing file at ``path``.

    Raises:
        LabelLayerError: the file exists (and ``overwrite`` is False) or cannot be written.
    """
    shapefile = not crs.isValid()
    suffix = ".shp" if shapefile else ".gpkg"
    target = Path(path)
    if target.suffix.lower() != suffix:
        target = target.with_suffix(suffix)
    if target.exists() and not overwrite:
        raise LabelLayerError(f"{target} already exists; choose another file name or open it as the label layer")
    if not target.parent.is_dir():
        raise LabelLayerError(f"the folder {target.parent} does not exist")
    fd, tmp = tempfile.mkstemp(suffix=suffix, prefix=".labels-", dir=str(target.parent))
    os.close(fd)
    os.unlink(tmp)  # the driver wants to create the file itself
    # a Shapefile is several files: each moves to the target's name
    sidecars = (".shp", ".shx", ".dbf", ".cpg", ".prj", ".qpj") if shapefile else (suffix,)
    tmp_stem, target_stem = tmp[:-len(suffix)], str(target)[:-len(suffix)]
    try:
        options = QgsVectorFileWriter.SaveVectorOptions()
        options.driverName = "ESRI Shapefile" if shapefile else "GPKG"
        options.layerName = LAYER_NAME
        options.fileEncoding = "UTF-8"
        context = (project or QgsProject.instance()).transformContext()
        writer = QgsVectorFileWriter.create(tmp, label_fields(), QgsWkbTypes.MultiPolygon, crs, context, options)
        error = writer.errorMessage() if writer.hasError() else ""
        del writer  # closes the file
        if error:
            raise LabelLayerError(f"could not write the label layer {target}: {error}")
        for ext in sidecars:
            if os.path.exists(tmp_stem + ext):
                os.replace(tmp_stem + ext, target_stem + ext)
            elif os.path.exists(target_stem + ext):
                os.unlink(target_stem + ext)  # an overwritten Shapefile's .prj must not give the new one a CRS
    finally:
        for ext in sidecars:
            if os.path.exists(tmp_stem + ext):
                os.unlink(tmp_stem + ext)
    source = str(target) if shapefile else f"{target}|layername={LAYER_NAME}"
    layer = QgsVectorLayer(source, name or target.stem, "ogr")
    if not layer.isValid():
        raise LabelLayerError(f"QGIS could not open the new label layer {target}")
    style_label_layer(layer, classes)
    layer.setOpacity(LAYER_OPACITY)
    constrain_class_ids(layer)
    add_input_layer(layer, project)
    return layer


def check_label_layer(layer: object) -> QgsVectorLayer:
    """Return ``layer`` if it can hold labels (a polygon or point layer with an integer ``class_id`` field).

    Raises:
        LabelLayerError: with what the analyst should change.
    """
    if not isinstance(layer, QgsVectorLayer) or not layer.isValid():
        raise LabelLayerError("choose a valid vector layer as the label layer")
    if layer.geometryType() not in LABEL_GEOMETRIES:
        kind = QgsWkbTypes.geometryDisplayString(layer.geometryType()).lower()
        raise LabelLayerError(f"the label layer must hold polygons or points; {layer.name()!r} holds "
                              f"{'no geometry' if layer.geometryType() == QgsWkbTypes.NullGeometry else kind + 's'}")
    index = layer.fields().indexOf(CLASS_ID_FIELD)
    if index < 0:
        raise LabelLayerError(f"the label layer {layer.name()!r} has no {CLASS_ID_FIELD!r} field; "
                              "add an integer field with that name or create a new label layer")
    if layer.fields().at(index).type() not in (QVariant.Int, QVariant.LongLong, QVariant.UInt, QVariant.ULongLong):
        raise LabelLayerError(f"the {CLASS_ID_FIELD!r} field of {layer.name()!r} must be an integer field")
    return layer


def use_label_layer(layer: object, classes: Sequence[ClassInfo]) -> QgsVectorLayer:
    """Adopt an existing vector layer as the label layer: check it, style it by class (see the scene through it where
    it is opaque: :data:`LAYER_OPACITY`), and have QGIS's attribute form refuse a class id the engine would refuse
    (:func:`constrain_class_ids`)."""
    checked = check_label_layer(layer)
    style_label_layer(checked, classes)
    if checked.opacity() >= 1.0:  # an opacity the analyst chose stays
        checked.setOpacity(LAYER_OPACITY)
    constrain_class_ids(checked)
    open_in_layers_panel(QgsProject.instance().layerTreeRoot().findLayer(checked.id()))  # its classes in view
    return checked


def constrain_class_ids(layer: QgsVectorLayer) -> None:
    """A hard constraint on the ``class_id`` field: QGIS's attribute form (a feature drawn with QGIS's own tools,
    an attribute edited in the form) refuses an id outside the engine's range and says the range. Empty is let
    through: a feature without class labels nothing."""
    index = layer.fields().indexOf(CLASS_ID_FIELD)
    if index < 0:
        return
    layer.setConstraintExpression(
        index, f'"{CLASS_ID_FIELD}" IS NULL OR ("{CLASS_ID_FIELD}" >= {MIN_CLASS_ID} AND '
               f'"{CLASS_ID_FIELD}" <= {MAX_CLASS_ID})',
        f"class ids run {CLASS_ID_RANGE} (0 means unlabelled)")
    layer.setFieldConstraint(index, QgsFieldConstraints.ConstraintExpression,
                             QgsFieldConstraints.ConstraintStrengthHard)


def holds_points(layer: QgsVectorLayer) -> bool:
    """Whether ``layer`` holds point labels (field GPS points: each labels the pixel it falls in), not polygons."""
    return layer.geometryType() == QgsWkbTypes.PointGeometry


def label_symbol(color: tuple[int, int, int], points: bool = False) -> QgsSymbol:
    """A label's symbol, in the class colour with a white halo, so a grey label on a grey road still shows.

    A polygon: a fill of the class colour, edged inside by the class colour darkened and outside by a white halo,
    side by side (a line's offset moves it off the edge: positive inwards). A point (``points``): a dot of the class
    colour edged by its darker shade on a white disc a halo wider. The class colour is opaque, so the legend shows
    it as the class table and the class map do: the layer's opacity (:data:`LAYER_OPACITY`) lets the scene show
    through.
    """
    edge_colour = QColor(*color).darker(EDGE_DARKER)
    if points:
        marker = QgsMarkerSymbol.createSimple({"name": "circle", "color": "255,255,255,255", "outline_style": "no",
                                               "size": str(MARKER_SIZE + 2 * HALO_WIDTH)})  # the halo, beneath
        dot = QgsSimpleMarkerSymbolLayer(QgsSimpleMarkerSymbolLayer.Circle, MARKER_SIZE, color=QColor(*color),
                                         strokeColor=edge_colour)
        dot.setStrokeWidth(EDGE_WIDTH)  # centred on the dot's outline: between the class colour and the halo
        marker.appendSymbolLayer(dot)  # the symbol owns it (a list given to the constructor was freed twice)
        return marker
    symbol = QgsFillSymbol.createSimple({"color": "{},{},{},255".format(*color), "outline_style": "no"})
    halo_line = QgsSimpleLineSymbolLayer(QColor(255, 255, 255), HALO_WIDTH)
    halo_line.setOffset(-HALO_WIDTH / 2)  # outside the edge
    edge = QgsSimpleLineSymbolLayer(edge_colour, EDGE_WIDTH)
    edge.setOffset(EDGE_WIDTH / 2)  # inside it
    for line in (halo_line, edge):
        line.setPenJoinStyle(Qt.RoundJoin)
        symbol.appendSymbolLayer(line)
    return symbol


def style_label_layer(layer: QgsVectorLayer, classes: Sequence[ClassInfo]) -> None:
    """A categorised renderer on ``class_id``: each class in its colour, haloed (:func:`label_symbol`: a fill for
    polygons, a dot for points), named."""
    points = holds_points(layer)
    categories = [QgsRendererCategory(int(c.id), label_symbol(c.color, points), c.name)
                  for c in sorted(classes, key=lambda c: c.id)]
    renderer = QgsCategorizedSymbolRenderer(CLASS_ID_FIELD, categories)
    layer.setRenderer(renderer)
    layer.triggerRepaint()


def prepare_sample_for_labelling(layer: QgsVectorLayer, classes: Sequence[ClassInfo]) -> None:
    """Ready a validation sample's points (:func:`~..core.evaluation.sampling.sample_validation`) for the analyst:
    ``class_id`` chosen by class name from a list (the map's classes, ``classes``) in the attribute form, ``point_id``
    and the file's feature id read-only, and the points drawn hollow until labelled, then in their class's colour."""
    from qgis.core import QgsEditorWidgetSetup, QgsRendererCategory

    field = layer.fields().indexOf(CLASS_ID_FIELD)
    if field < 0:
        return
    choices = [{c.name: int(c.id)} for c in sorted(classes, key=lambda c: c.id)]
    layer.setEditorWidgetSetup(field, QgsEditorWidgetSetup("ValueMap", {"map": choices}))
    form = layer.editFormConfig()
    keys = list(layer.dataProvider().pkAttributeIndexes()) if layer.dataProvider() is not None else []
    for fixed in [layer.fields().indexOf("point_id"), *keys]:  # the point's names: not typed over by mistake
        if fixed >= 0:
            form.setReadOnly(fixed, True)
    layer.setEditFormConfig(form)
    # hollow, a black ring with a white one inside: seen on any class's colour (a yellow ring vanished on a pale
    # yellow class) and unlike the labelled points' filled dots
    size = str(MARKER_SIZE + 2 * HALO_WIDTH)
    pending = QgsMarkerSymbol.createSimple({"name": "circle", "color": "0,0,0,0", "outline_color": "0,0,0,255",
                                            "outline_width": "0.9", "size": size})
    pending.appendSymbolLayer(QgsSimpleMarkerSymbolLayer.create({
        "name": "circle", "color": "0,0,0,0", "outline_color": "255,255,255,255", "outline_width": "0.35",
        "size": size}))
    categories = [QgsRendererCategory(int(c.id), label_symbol(c.color, True), c.name)
                  for c in sorted(classes, key=lambda c: c.id)]
    categories.append(QgsRendererCategory("", pending, "not labelled yet"))  # "": every other value, NULL too
    layer.setRenderer(QgsCategorizedSymbolRenderer(CLASS_ID_FIELD, categories))
    layer.triggerRepaint()


def _is_null(value: object) -> bool:
    return value is None or (isinstance(value, QVariant) and value.isNull())


@dataclass
class LabelFeatures:
    """What a label layer holds, read in one pass over its features (pending edits included).

    The class ids the labels use, the ids that are no class, and the shapes to burn onto a scene all come from
    the same read, so a panel that reads the layer once per change has all three (:func:`read_label_features`).
    """

    class_ids: dict[int, str]  # every class id (1 .. MAX_CLASS_ID) in use, with the name beside its first label
    invalid_ids: dict[int, int]  # how many features carry each id that is no class (0 or below, past MAX), by id
    shapes: list[tuple[QgsGeometry, int]]  # (geometry in the layer's CRS, class id >= 1), in feature order
    crs: QgsCoordinateReferenceSystem  # the layer's CRS when it was read (the shapes' CRS)


def read_label_features(layer: QgsVectorLayer, geometry: bool = True) -> LabelFeatures:
    """Read every feature of a label layer (a layer with a ``class_id`` field) once.

    Ids of 0 or below or past :data:`MAX_CLASS_ID` are no class (0 means unlabelled, and the engine refuses the
    others): they go to ``invalid_ids`` and label nothing; a feature without class id, or without geometry, labels
    nothing either.

    Args:
        geometry: also keep the shapes (False: ids only, a lighter read).
    """
    class_ids: dict[int, str] = {}
    invalid: dict[int, int] = {}
    shapes: list[tuple[QgsGeometry, int]] = []
    has_name = layer.fields().indexOf(CLASS_NAME_FIELD) >= 0
    request = QgsFeatureRequest()
    if not geometry:
        request.setFlags(QgsFeatureRequest.NoGeometry)
    for feature in layer.getFeatures(request):
        value = feature[CLASS_ID_FIELD]
        if _is_null(value):
            continue
        class_id = int(value)
        if not MIN_CLASS_ID <= class_id <= MAX_CLASS_ID:
            invalid[class_id] = invalid.get(class_id, 0) + 1
            continue
        if class_id not in class_ids:
            name = feature[CLASS_NAME_FIELD] if has_name else None
            class_ids[class_id] = "" if _is_null(name) else str(name)
        if geometry and not feature.geometry().isEmpty():
            shapes.append((QgsGeometry(feature.geometry()), class_id))
    return LabelFeatures(class_ids, invalid, shapes, layer.crs())


def class_ids_in_layer(layer: QgsVectorLayer) -> dict[int, str]:
    """Every class id (1, 2, ...) used by the layer's features, with the name stored beside it (may be empty).

    Ids of 0 or below or past :data:`MAX_CLASS_ID` are no class: see :func:`invalid_class_ids`.
    """
    return read_label_features(layer, geometry=False).class_ids


def invalid_class_ids(layer: QgsVectorLayer) -> dict[int, int]:
    """How many features carry each id that is no class (0 or below, past :data:`MAX_CLASS_ID`: they label
    nothing), by id."""
    return read_label_features(layer, geometry=False).invalid_ids


def _features_of(layer: QgsVectorLayer, class_id: int) -> list[QgsFeature]:
    request = QgsFeatureRequest().setFilterExpression(f'"{CLASS_ID_FIELD}" = {int(class_id)}')
    return list(layer.getFeatures(request))


def _edit(layer: QgsVectorLayer, title: str):
    """Start editing when needed and open one undoable edit command; the caller ends it."""
    if not layer.isEditable() and not layer.startEditing():
        raise LabelLayerError(f"the label layer {layer.name()!r} cannot be edited (read-only file?)")
    layer.beginEditCommand(title)


def _end_edit(layer: QgsVectorLayer, also: Optional[QUndoCommand]) -> None:
    """Close the edit command opened by :func:`_edit`, with ``also`` inside it (QUndoStack.push runs its
    ``redo()`` now), so that one Undo or Redo of the label edit reverts or repeats both."""
    if also is not None:
        layer.undoStack().push(also)
    layer.endEditCommand()


def add_label_polygon(layer: QgsVectorLayer, geometry: QgsGeometry, class_id: int, class_name: str,
                      title: str = "Add label") -> int:
    """Add one polygon of class ``class_id`` as its own undoable edit command; returns its feature id.

    Raises:
        LabelLayerError: an empty shape, a layer of points (:data:`POINT_LAYER_PAINTS_NOT`) or a refused edit.
    """
    if geometry.isEmpty():
        raise LabelLayerError("the label shape is empty")
    if layer.geometryType() != QgsWkbTypes.PolygonGeometry:  # a polygon would go in as a point of its centroid
        raise LabelLayerError(f"no label drawn: {POINT_LAYER_PAINTS_NOT}")
    if QgsWkbTypes.isMultiType(layer.wkbType()):
        geometry.convertToMultiType()
    else:
        geometry.convertToSingleType()
    feature = QgsFeature(layer.fields())
    feature.setGeometry(geometry)
    feature.setAttribute(CLASS_ID_FIELD, int(class_id))
    if layer.fields().indexOf(CLASS_NAME_FIELD) >= 0:
        feature.setAttribute(CLASS_NAME_FIELD, class_name)
    _edit(layer, title)
    if not layer.addFeature(feature):
        layer.destroyEditCommand()
        raise LabelLayerError(f"the label layer {layer.name()!r} refused the new polygon")
    layer.endEditCommand()
    return int(feature.id())


def relabel_features(layer: QgsVectorLayer, source_id: int, target: ClassInfo, title: str,
                     also: Optional[QUndoCommand] = None) -> int:
    """Give every feature of class ``source_id`` the id and name of ``target`` in one undoable command.

    Args:
        also: a command that belongs to the same edit (the class table's side of it), pushed into it; it is
            not pushed when no feature has ``source_id`` (0 is returned and no edit is made).

    Raises:
        LabelLayerError: the layer cannot be edited or refused a change (nothing is changed then).
    """
    features = _features_of(layer, source_id)
    if not features:
        return 0
    id_index = layer.fields().indexOf(CLASS_ID_FIELD)
    name_index = layer.fields().indexOf(CLASS_NAME_FIELD)
    _edit(layer, title)
    for feature in features:
        done = layer.changeAttributeValue(feature.id(), id_index, int(target.id))
        if done and name_index >= 0:
            done = layer.changeAttributeValue(feature.id(), name_index, target.name)
        if not done:
            layer.destroyEditCommand()  # undoes the changes made so far
            raise LabelLayerError(f"the label layer {layer.name()!r} refused to change the class of its labels")
    _end_edit(layer, also)
    layer.triggerRepaint()
    return len(features)


def merge_class_features(layer: QgsVectorLayer, source_id: int, target: ClassInfo,
                         also: Optional[QUndoCommand] = None) -> int:
    """Rewrite the labels of class ``source_id`` to ``target`` (undoable); returns how many changed."""
    return relabel_features(layer, source_id, target, f"Merge class {source_id} into {target.name}", also)


def delete_class_features(layer: QgsVectorLayer, class_id: int, also: Optional[QUndoCommand] = None) -> int:
    """Delete every label (polygon or point) of ``class_id`` in one undoable command; returns how many.

    Args:
        also: as in :func:`relabel_features`: pushed into the same edit, and only when there is something to delete.
    """
    ids = [f.id() for f in _features_of(layer, class_id)]
    if not ids:
        return 0
    _edit(layer, f"Delete labels of class {class_id}")
    if not layer.deleteFeatures(ids):
        layer.destroyEditCommand()
        raise LabelLayerError(f"the label layer {layer.name()!r} refused to delete the labels of class {class_id}")
    _end_edit(layer, also)
    layer.triggerRepaint()
    return len(ids)


def save_labels(layer: QgsVectorLayer) -> None:
    """Write pending label edits to the file and keep the layer editable for more labelling.

    Raises:
        LabelLayerError: with QGIS's commit errors when the edits cannot be written.
    """
    if not layer.isEditable():
        return
    if not layer.commitChanges(False):
        raise LabelLayerError("could not save the labels: " + "; ".join(layer.commitErrors()))


def label_raster(label_layer: QgsVectorLayer, scene_layer: QgsRasterLayer, project: Optional[QgsProject] = None,
                 features: Optional[LabelFeatures] = None) -> tuple[np.ndarray, tuple[int, int]]:
    """Burn the labels onto the scene's pixel grid as a run reads them (``core.io.labels.read_labels``): a polygon
    labels the pixels whose centre it contains, a point the pixel it falls in.

    Only the window around the labels is burnt, so large scenes stay cheap. Later polygons win where polygons
    overlap, and points win over polygons (the later point where two fall in one pixel). Pending (unsaved) edits are
    included. As in the engine: a label layer without CRS is taken to be in the scene's CRS, and a scene without
    georeference is the pixel grid QGIS shows (x = column, y = -row); features whose id is no class
    (:func:`read_label_features`) label nothing.

    Args:
        features: the layer as already read (:func:`read_label_features`); None: read it now.

    Raises:
        LabelLayerError: the scene cannot be read, has a rotated grid, or has no georeference while the label
            layer has a CRS.

    Returns:
        ``(labels, (row0, col0))``: an ``(h, w)`` int32 window of class ids (0 = unlabelled) and the
        scene pixel where it starts; ``(0, 0)``-shaped when no label falls on the scene.
    """
    check_label_layer(label_layer)
    ds = gdal.Open(gdal_name(scene_layer.source()))
    if ds is None:
        raise LabelLayerError(f"GDAL cannot open the scene {scene_layer.source()}")
    geotransform = ds.GetGeoTransform(can_return_null=True) or PIXEL_GRID  # none: GDAL says (0,1,0,0,0,1)
    x0, dx, rx, y0, ry, dy = geotransform
    if rx or ry:
        raise LabelLayerError("rotated scene grids are not supported for labels; warp the scene first")
    if features is None:
        features = read_label_features(label_layer)
    label_crs, scene_crs = features.crs, scene_layer.crs()
    if label_crs.isValid() and not scene_crs.isValid():
        raise LabelLayerError(f"the label layer {label_layer.name()!r} has a CRS ({label_crs.authid() or 'custom'}) "
                              f"but the scene {scene_layer.name()!r} has no georeference: use a label layer "
                              "without CRS, drawn over the scene in pixel coordinates and saved as a Shapefile "
                              "or FlatGeobuf (a GeoPackage always records a CRS)")
    reproject = label_crs.isValid() and label_crs != scene_crs  # no CRS: taken to be the scene's
    transform = QgsCoordinateTransform(label_crs, scene_crs, (project or QgsProject.instance()).transformContext())
    areas: list[tuple[QgsGeometry, int]] = []
    point_xy: list[tuple[float, float]] = []
    point_ids: list[int] = []
    for shape, class_id in features.shapes:
        geometry = QgsGeometry(shape)  # a copy: the features may be read once and burnt again
        if reproject:
            geometry.transform(transform)
        if geometry.type() == QgsWkbTypes.PointGeometry:
            for vertex in geometry.vertices():  # a multipoint burns each of its points
                point_xy.append((vertex.x(), vertex.y()))
                point_ids.append(class_id)
        elif geometry.type() == QgsWkbTypes.PolygonGeometry:
            areas.append((geometry, class_id))
    rows, cols = ds.RasterYSize, ds.RasterXSize
    pixel_rows, pixel_cols = _pixels_of(np.array(point_xy, dtype=np.float64).reshape(-1, 2), geotransform)  # (n,)
    on_scene = (pixel_rows >= 0) & (pixel_rows < rows) & (pixel_cols >= 0) & (pixel_cols < cols)
    pixel_rows, pixel_cols = pixel_rows[on_scene].astype(np.int64), pixel_cols[on_scene].astype(np.int64)
    point_values = np.array(point_ids, dtype=np.int32)[on_scene]
    # The window: the pixels whose centres the polygons' bounding box may hold, and the pixels points fall in (a
    # single point's bounding box is a dot, which floor and ceil would make empty where it lies on a pixel edge)
    r0, r1, c0, c1 = rows, 0, cols, 0
    if areas:
        bbox = areas[0][0].boundingBox()
        for geometry, _ in areas[1:]:
            bbox.combineExtentWith(geometry.boundingBox())
        col_a, col_b = sorted(((bbox.xMinimum() - x0) / dx, (bbox.xMaximum() - x0) / dx))
        row_a, row_b = sorted(((bbox.yMinimum() - y0) / dy, (bbox.yMaximum() - y0) / dy))
        area_c0, area_c1 = max(0, int(np.floor(col_a))), min(cols, int(np.ceil(col_b)))
        area_r0, area_r1 = max(0, int(np.floor(row_a))), min(rows, int(np.ceil(row_b)))
        if area_c1 > area_c0 and area_r1 > area_r0:
            r0, r1, c0, c1 = area_r0, area_r1, area_c0, area_c1
    if pixel_rows.size:
        r0, r1 = min(r0, int(pixel_rows.min())), max(r1, int(pixel_rows.max()) + 1)
        c0, c1 = min(c0, int(pixel_cols.min())), max(c1, int(pixel_cols.max()) + 1)
    if c1 <= c0 or r1 <= r0:
        return np.zeros((0, 0), dtype=np.int32), (0, 0)
    labels = np.zeros((r1 - r0, c1 - c0), dtype=np.int32)  # (h, w)
    if areas:
        labels = _burn_areas(ds, (r0, c0), labels.shape, areas)
    if pixel_rows.size:  # points after polygons, as the engine burns them: a point wins over a polygon
        flat = (pixel_rows - r0) * labels.shape[1] + (pixel_cols - c0)  # (n,) in feature order
        _, from_end = np.unique(flat[::-1], return_index=True)
        last = flat.size - 1 - from_end  # the last point in each pixel wins, as GDAL burns one after another
        labels.flat[flat[last]] = point_values[last]
    return labels, (r0, c0)


def _pixels_of(xy: np.ndarray, geotransform: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The scene pixel ``(rows, cols)`` (floats, off the scene too) each map point of ``xy`` ``(n, 2)`` falls in.

    Computed as GDAL's rasteriser does it, which the engine burns points with: map to pixel coordinates through
    GDAL's inverse geotransform (``-x0/dx + x * (1/dx)``, which rounds otherwise than ``(x - x0) / dx`` on some
    edges), then floored, so a point on a pixel edge goes to the pixel right of or below it, as in a run.
    """
    x0, dx, _, y0, _, dy = geotransform
    cols = np.floor(-x0 / dx + xy[:, 0] * (1.0 / dx))
    rows = np.floor(-y0 / dy + xy[:, 1] * (1.0 / dy))
    return rows, cols


def _burn_areas(ds: gdal.Dataset, origin: tuple[int, int], shape: tuple[int, int],
                areas: list[tuple[QgsGeometry, int]]) -> np.ndarray:
    """Burn polygons (scene CRS) onto the ``shape`` window of scene ``ds`` starting at pixel ``origin``: a pixel
    whose centre a polygon contains takes its class id, the later polygon where they overlap."""
    x0, dx, _, y0, _, dy = ds.GetGeoTransform(can_return_null=True) or PIXEL_GRID
    (r0, c0), (height, width) = origin, shape
    window = gdal.GetDriverByName("MEM").Create("", width, height, 1, gdal.GDT_Int32)
    window.SetGeoTransform((x0 + c0 * dx, dx, 0.0, y0 + r0 * dy, 0.0, dy))
    source = ogr.GetDriverByName("Memory").CreateDataSource("labels")
    srs = osr.SpatialReference()
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)  # x, y as QGIS writes them
    if ds.GetProjection():
        srs.ImportFromWkt(ds.GetProjection())
    layer = source.CreateLayer("labels", srs, ogr.wkbMultiPolygon)
    layer.CreateField(ogr.FieldDefn(CLASS_ID_FIELD, ogr.OFTInteger))
    for geometry, value in areas:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField(CLASS_ID_FIELD, value)
        feature.SetGeometry(ogr.CreateGeometryFromWkb(bytes(geometry.asWkb())))
        layer.CreateFeature(feature)
    gdal.RasterizeLayer(window, [1], layer, options=[f"ATTRIBUTE={CLASS_ID_FIELD}"])
    return window.ReadAsArray().astype(np.int32)


def labelled_pixel_counts(label_layer: QgsVectorLayer, scene_layer: QgsRasterLayer,
                          features: Optional[LabelFeatures] = None) -> dict[int, int]:
    """How many scene pixels each class labels (pixel centres inside its polygons, pixels its points fall in), as a
    run counts them (:func:`label_raster`); ``features``: the layer as already read (None: read it now)."""
    labels, _ = label_raster(label_layer, scene_layer, features=features)
    ids = labels[labels > 0]  # label_raster burns no id below 1; 0 = unlabelled
    counts = np.bincount(ids, minlength=1) if ids.size else np.zeros(1, dtype=np.int64)
    return {int(i): int(n) for i, n in enumerate(counts) if i > 0 and n > 0}


def class_spectra_statistics(label_layer: QgsVectorLayer, scene_layer: QgsRasterLayer,
                             class_ids: Optional[Iterable[int]] = None, features: Optional[LabelFeatures] = None
                             ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per-class mean and std spectrum ``(B,)`` of the labelled pixels (scale/offset applied, nodata → NaN);
    ``features``: the layer as already read (None: read it now).

    The labels are burnt here (:func:`label_raster`, QGIS geometries: main thread); their pixels' spectra are read by
    :func:`labelled_spectra_statistics`, which the dock runs in a task.
    """
    labels, origin = label_raster(label_layer, scene_layer, features=features)
    return labelled_spectra_statistics(gdal_name(scene_layer.source()), labels, origin, class_ids)


def labelled_spectra_statistics(scene_path: str, labels: np.ndarray, origin: tuple[int, int],
                                class_ids: Optional[Iterable[int]] = None, reporter: Reporter = NULL_REPORTER
                                ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per-class mean and std spectrum ``(B,)`` of the pixels labelled in ``labels``, read from the scene file.

    Only the pixels under labels are read, a block of the file at a time (the part of each block that holds labels):
    memory and time follow the labels, not the scene, where reading the labels' bounding box would read a whole
    full-size scene for labels at its corners. GDAL and arrays only, no QGIS object: it runs in a task.

    Args:
        scene_path: the scene file, as GDAL opens it.
        labels: ``(h, w)`` class ids (0 = unlabelled), a window of the scene starting at ``origin`` (``label_raster``).
        origin: ``(row0, col0)`` of the window in the scene.
        class_ids: the classes to describe; None: every class labelled.
        reporter: progress per block read; cancel between blocks.

    Raises:
        LabelLayerError: GDAL cannot open the scene.
    """
    if labels.size == 0:
        return {}
    wanted = set(class_ids) if class_ids is not None else set(np.unique(labels[labels > 0]).tolist())
    keep = (labels > 0) & np.isin(labels, sorted(wanted))
    rows, cols = np.nonzero(keep)  # window coordinates of the labelled pixels, in raster order
    if rows.size == 0:
        return {}
    ds = gdal.Open(scene_path)
    if ds is None:
        raise LabelLayerError(f"GDAL cannot open the scene {scene_path}")
    rows, cols = rows + origin[0], cols + origin[1]  # scene coordinates
    block_cols, block_rows = ds.GetRasterBand(1).GetBlockSize()
    blocks = (rows // block_rows) * (ds.RasterXSize // block_cols + 1) + cols // block_cols
    order = np.argsort(blocks, kind="stable")
    starts = np.flatnonzero(np.diff(blocks[order], prepend=-1))  # where each block's pixels begin in ``order``
    bands = [ds.GetRasterBand(b + 1) for b in range(ds.RasterCount)]
    spectra = np.empty((len(bands), rows.size), dtype=np.float64)  # (B, n) in raster order
    for i, start in enumerate(starts):
        reporter.check()
        at = order[start:starts[i + 1] if i + 1 < len(starts) else None]  # this block's labelled pixels
        r, c = rows[at], cols[at]
        y0, x0 = int(r.min()), int(c.min())
        height, width = int(r.max()) + 1 - y0, int(c.max()) + 1 - x0
        for b, band in enumerate(bands):
            spectra[b, at] = band.ReadAsArray(x0, y0, width, height)[r - y0, c - x0]
        ds.FlushCache()  # this block is done: its bands' decompressed tiles leave GDAL's cache, which stays small
        reporter.progress((i + 1) / len(starts), "reading the labelled pixels' spectra")
    for b, band in enumerate(bands):
        nodata = band.GetNoDataValue()
        if nodata is not None:
            spectra[b, spectra[b] == nodata] = np.nan
        spectra[b] = spectra[b] * (band.GetScale() or 1.0) + (band.GetOffset() or 0.0)
    ids = labels[keep]  # (n,) in the order of spectra's columns
    stats: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for class_id in sorted(wanted):
        pixels = spectra[:, ids == class_id]  # (B, n)
        if pixels.shape[1] == 0:
            continue
        with np.errstate(invalid="ignore"):
            finite = np.isfinite(pixels).any(axis=1)
            mean = np.full(pixels.shape[0], np.nan)
            std = np.full(pixels.shape[0], np.nan)
            mean[finite] = np.nanmean(pixels[finite], axis=1)
            std[finite] = np.nanstd(pixels[finite], axis=1)
        stats[int(class_id)] = (mean, std)
    return stats
