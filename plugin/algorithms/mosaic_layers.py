"""Synthetic patches laid out as a GeoTIFF mosaic, loaded by Processing as the dock shows a preview: the mosaic in
false colour, its class raster styled and hidden."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from qgis.core import (
    QgsMapLayer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
)

from ...core.io.patch_files import companion_files
from ..layers import show_patch_mosaic
from .base import when_loaded


class ShowMosaic(QgsProcessingLayerPostProcessorInterface):
    """Shows a mosaic of synthetic patches as the dock shows a preview, in false colour; its class raster in the
    class colours (the .qml beside it) and hidden: loaded after the mosaic, it would cover it."""

    def __init__(self, classes: bool) -> None:
        super().__init__()
        self.classes = classes  # True: the class raster

    def postProcessLayer(self, layer: QgsMapLayer, context: QgsProcessingContext,  # noqa: N802 (QGIS API)
                         feedback: QgsProcessingFeedback) -> None:
        if isinstance(layer, QgsRasterLayer):
            show_patch_mosaic(layer, self.classes, context.project())


# Said in the log when a mosaic is loaded: it lies on a pixel grid of its own, away from any scene, so the map does
# not seem to change (the dock's Save goes to it; a Processing output is left where the analyst's view is)
MOSAIC_PLACE = ("{name} lies on a pixel grid of its own (no place on Earth), away from the scene: on the map, "
                "right-click it ▸ Zoom to Layer to see the patches, and the scene's Zoom to Layer to go back")


def load_mosaic(context: QgsProcessingContext, path: str | Path, output: str,
                feedback: Optional[QgsProcessingFeedback] = None) -> None:
    """Have Processing load a mosaic ``path`` (a .tif; any other patch file is left alone) and its class raster
    when the run ends, styled by :class:`ShowMosaic`; ``output``: the output parameter they come from; ``feedback``
    says where the mosaic lies (:data:`MOSAIC_PLACE`)."""
    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        return
    if feedback is not None:
        feedback.pushInfo(MOSAIC_PLACE.format(name=path.stem))
    for layer, classes in ((path, False), (companion_files(path)[0], True)):
        if layer.exists():  # no class raster for patches of label 0
            context.addLayerToLoadOnCompletion(str(layer), QgsProcessingContext.LayerDetails(
                layer.stem, context.project(), output))
            when_loaded(context, str(layer), ShowMosaic(classes))
