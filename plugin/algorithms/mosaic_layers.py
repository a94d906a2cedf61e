"""Synthetic patches laid out as a GeoTIFF mosaic, loaded by Processing as the dock shows a preview: the mosaic in
false colour, its class raster styled and hidden."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsMapLayer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
)

from ...core.io.patch_files import companion_files
from ..rendering import apply_composite
from .base import when_loaded


class ShowMosaic(QgsProcessingLayerPostProcessorInterface):
    """Shows a mosaic of synthetic patches as the dock shows a preview, in false colour; its class raster in the
    class colours (the .qml beside it) and hidden: loaded after the mosaic, it would cover it."""

    def __init__(self, classes: bool) -> None:
        super().__init__()
        self.classes = classes  # True: the class raster

    def postProcessLayer(self, layer: QgsMapLayer, context: QgsProcessingContext,  # noqa: N802 (QGIS API)
                         feedback: QgsProcessingFeedback) -> None:
        if not isinstance(layer, QgsRasterLayer):
            return
        if not self.classes:
            apply_composite(layer, "false colour")
            return
        layer.loadDefaultStyle()
        node = context.project().layerTreeRoot().findLayer(layer.id())
        if node is not None:
            node.setItemVisibilityChecked(False)


def load_mosaic(context: QgsProcessingContext, path: str | Path, output: str) -> None:
    """Have Processing load a mosaic ``path`` (a .tif; any other patch file is left alone) and its class raster
    when the run ends, styled by :class:`ShowMosaic`; ``output``: the output parameter they come from."""
    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        return
    for layer, classes in ((path, False), (companion_files(path)[0], True)):
        if layer.exists():  # no class raster for patches of label 0
            context.addLayerToLoadOnCompletion(str(layer), QgsProcessingContext.LayerDetails(
                layer.stem, context.project(), output))
            when_loaded(context, str(layer), ShowMosaic(classes))
