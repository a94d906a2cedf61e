"""Which of the project's layers look like reference labels for a draw: a rank, and whether one lies over the scene."""

from __future__ import annotations

from typing import Optional

from osgeo import gdal
from qgis.core import (Qgis, QgsCoordinateTransform, QgsCsException, QgsMapLayer, QgsProject, QgsRasterLayer,
                       QgsVectorLayer)

from ..core.io.labels import pick_class_field
from ..core.label_draw import is_validation_of_a_draw
from ..plugin.layers import gdal_name, layer_file, same_file

INTEGER_TYPES = (Qgis.Byte, Qgis.UInt16, Qgis.Int16, Qgis.UInt32, Qgis.Int32)  # what a label raster's band holds
FLOAT_TYPES = (Qgis.Float32, Qgis.Float64)  # or whole class ids as floats (the EnMAP label rasters)


def reference_rank(layer: QgsMapLayer, scene: Optional[QgsRasterLayer]) -> int:
    """How much ``layer`` looks like reference labels: 3 a one-band integer raster of the scene's size, 2 another
    one-band integer raster or a one-band float raster of the scene's size (whole class ids as floats), 1 a vector
    layer with a class field or another one-band float raster, 0 anything else: the scene itself, the validation
    raster an earlier draw left (:func:`~..core.label_draw.is_validation_of_a_draw`), and a run's class map or
    confidence, which are no reference."""
    if isinstance(layer, QgsRasterLayer) and layer.isValid():
        kind = layer.dataProvider().dataType(1) if layer.bandCount() == 1 else None
        if kind not in INTEGER_TYPES + FLOAT_TYPES or (scene is not None and (
                layer is scene or same_file(layer_file(layer), layer_file(scene)))):
            return 0
        if layer.providerType() == "gdal" and is_validation_of_a_draw(gdal_name(layer.source())):
            return 0
        if _is_run_output(layer):  # a layer added while a run's result is selected joins its group: not asked
            return 0  # a run's class map or confidence: drawing labels from a classification says nothing of it
        if scene is not None and not over_the_scene(layer, scene):
            return 0  # another scene's ground truth
        on_grid = scene is not None and (layer.width(), layer.height()) == (scene.width(), scene.height())
        return (3 if on_grid else 2) if kind in INTEGER_TYPES else (2 if on_grid else 1)
    if isinstance(layer, QgsVectorLayer) and layer.isValid():
        if scene is not None and not over_the_scene(layer, scene):
            return 0
        return 1 if pick_class_field(layer.fields().names(), None) is not None else 0
    return 0


def over_the_scene(layer: QgsMapLayer, scene: QgsRasterLayer) -> bool:
    """Whether ``layer``'s extent meets the scene's: in the scene's CRS, or as they are where either has none (a
    pixel grid's extent is its columns and rows); True when the layer has no extent to tell (the engine says)."""
    extent = layer.extent()
    if extent.isNull() or extent.isEmpty():
        return True
    if layer.crs().isValid() and scene.crs().isValid() and layer.crs() != scene.crs():
        try:
            extent = QgsCoordinateTransform(layer.crs(), scene.crs(), QgsProject.instance()).transformBoundingBox(
                extent)
        except QgsCsException:
            return False
    return extent.intersects(scene.extent())


def _is_run_output(layer: QgsRasterLayer) -> bool:
    """Whether ``layer`` is a class map or confidence raster a run wrote (its band described "class" or
    "confidence…"; a label raster's is "label")."""
    if layer.providerType() != "gdal":
        return False
    ds = gdal.OpenEx(gdal_name(layer.source()), gdal.OF_RASTER)
    described = ds.GetRasterBand(1).GetDescription() if ds is not None and ds.RasterCount else ""
    return described == "class" or described.startswith("confidence")
