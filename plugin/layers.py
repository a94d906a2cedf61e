"""Result layers in the project: the class map in class colours and names; confidence and probabilities in grey."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

from qgis.core import (
    QgsContrastEnhancement,
    QgsLayerTreeGroup,
    QgsPalettedRasterRenderer,
    QgsProject,
    QgsRasterLayer,
    QgsSingleBandGrayRenderer,
)
from qgis.PyQt.QtGui import QColor

from ..core.scene import ClassInfo

PathLike = Union[str, Path]


class LayerLoadError(ValueError):
    """A result file could not be opened as a QGIS layer."""


def _open_raster(path: PathLike, name: str) -> QgsRasterLayer:
    layer = QgsRasterLayer(str(path), name, "gdal")
    if not layer.isValid():
        raise LayerLoadError(f"QGIS could not open {path} as a raster layer; check that the file exists "
                             "and is a complete GeoTIFF")
    return layer


def class_renderer(layer: QgsRasterLayer, classes: Sequence[ClassInfo]) -> QgsPalettedRasterRenderer:
    """A paletted renderer showing each class id in its colour, labelled with its name (0 stays empty)."""
    entries = [QgsPalettedRasterRenderer.Class(int(c.id), QColor(*c.color), c.name) for c in classes]
    return QgsPalettedRasterRenderer(layer.dataProvider(), 1, entries)


def confidence_renderer(layer: QgsRasterLayer) -> QgsSingleBandGrayRenderer:
    """Greyscale from 0 (black, unsure) to 1 (white, confident), whatever the raster's own statistics."""
    renderer = QgsSingleBandGrayRenderer(layer.dataProvider(), 1)
    stretch = QgsContrastEnhancement(layer.dataProvider().dataType(1))
    stretch.setContrastEnhancementAlgorithm(QgsContrastEnhancement.StretchToMinimumMaximum)
    stretch.setMinimumValue(0.0)
    stretch.setMaximumValue(1.0)
    renderer.setContrastEnhancement(stretch)
    return renderer


def class_map_layer(path: PathLike, classes: Sequence[ClassInfo], name: Optional[str] = None) -> QgsRasterLayer:
    """Open a class map raster styled with the classes' colours and names (not yet in a project)."""
    layer = _open_raster(path, name or Path(path).stem)
    layer.setRenderer(class_renderer(layer, classes))
    return layer


def confidence_layer(path: PathLike, name: Optional[str] = None) -> QgsRasterLayer:
    """Open a confidence raster (max class probability, 0..1) in greyscale (not yet in a project)."""
    layer = _open_raster(path, name or Path(path).stem)
    layer.setRenderer(confidence_renderer(layer))
    return layer


def add_result_layers(class_map: PathLike, confidence: Optional[PathLike], classes: Sequence[ClassInfo], *,
                      title: str, project: Optional[QgsProject] = None,
                      probabilities: Optional[PathLike] = None) -> list[QgsRasterLayer]:
    """Add the class map (on top), its confidence and (when written) its class probabilities to ``project`` in a
    group named ``title``; all but the map start hidden.

    Call on the main thread only (from a task's ``finished()`` or an algorithm's post-processing).

    Returns:
        The layers added, class map first.
    """
    project = project or QgsProject.instance()
    layers = [class_map_layer(class_map, classes, name=f"{title}: classes")]
    if confidence is not None:
        layers.append(confidence_layer(confidence, name=f"{title}: confidence"))
    if probabilities is not None:
        layers.append(confidence_layer(probabilities, name=f"{title}: class probabilities"))  # class 1 in grey
    group: QgsLayerTreeGroup = project.layerTreeRoot().insertGroup(0, title)
    for layer in layers:
        project.addMapLayer(layer, False)
        group.addLayer(layer)
    for layer in layers[1:]:
        node = group.findLayer(layer.id())
        if node is not None:
            node.setItemVisibilityChecked(False)  # the map first; the others are there to inspect
    return layers
