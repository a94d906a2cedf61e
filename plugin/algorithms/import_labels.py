"""Processing algorithm `hypersynth:importlabels`: a MATLAB ground-truth map as a label raster on its scene's grid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFile,
    QgsProcessingParameterFile,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from .base import HyperSynthAlgorithm, engine_errors, when_loaded
from .inputs import existing_layer_file, raster_file
from .scene_classification import StyleOnLoad


class ImportLabelsAlgorithm(HyperSynthAlgorithm):
    """Write the label map of a ground truth saved by MATLAB (``Indian_pines_gt.mat``) as a label raster on the
    imported scene's grid, with its classes' names and prompts beside it: QGIS cannot open a .mat as a layer, so a
    model or a script could not give a benchmark's ground truth to Draw training labels or as validation labels."""

    GROUP = "scenes"
    INPUT = "INPUT"
    SCENE = "SCENE"
    OUTPUT = "OUTPUT"
    CLASS_FILE = "CLASS_FILE"

    TAGS = ("import", "ground truth", "MATLAB", "reference labels", "validation labels", "Indian Pines", "benchmark")

    def name(self) -> str:
        return "importlabels"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr("Import a MATLAB ground-truth map")

    def help_text(self) -> str:
        return self.tr(
            "Writes the label map of a ground truth saved by MATLAB (Indian_pines_gt.mat, PaviaU_gt.mat, "
            "SalinasA_gt.mat, …) as a label raster on the grid of its scene, the cube imported with 'Import a "
            "hyperspectral scene or sensor product' (a .mat carries no georeference of its own, so the scene's is "
            "taken; the map must have the scene's rows and columns). 0 is unlabelled. A standard benchmark's map "
            "(found by its array's name) gets the benchmark's class names, colours and prompts; others are 'class 1', "
            "'class 2', …. The classes are written beside the raster as NAME_classes.json (CLASS_FILE), which "
            "Draw training labels, Augment & Classify and the benchmark take as their class file. The raster is "
            "loaded in the class colours, ready as reference labels for Draw training labels or the benchmark, or "
            "as validation labels of a run.")

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(QgsProcessingParameterFile(
            self.INPUT, self.tr("Ground-truth map (MATLAB .mat)"), behavior=QgsProcessingParameterFile.File,
            fileFilter=self.tr("MATLAB files (*.mat);;All files (*)")))
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.SCENE, self.tr("Its scene (the imported cube, whose grid the labels take)")))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Label raster")))
        self.addOutput(QgsProcessingOutputFile(self.CLASS_FILE, self.tr("Class file of the labels")))

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from ...core.io.classes import class_file_beside
        from ...core.io.mat_labels import import_label_map
        from ...core.io.read import dataset_grid, is_mat_file, opened_quietly

        self.check_parameters(parameters, context)
        source = self.parameterAsFile(parameters, self.INPUT, context)
        if not source or not is_mat_file(Path(source)):
            raise QgsProcessingException(f"the {self.title(self.INPUT)} ({self.INPUT}) must be a MATLAB .mat file; "
                                         f"got {source or 'nothing'}: a label raster or a vector layer needs no import")
        scene_layer = self.parameterAsRasterLayer(parameters, self.SCENE, context)
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        class_file = str(class_file_beside(out))
        self.check_destinations({self.INPUT: source, self.SCENE: existing_layer_file(scene_layer)},
                                {self.OUTPUT: out, self.CLASS_FILE: class_file})  # before anything is read
        if Path(class_file).exists() and not Path(out).exists():  # no earlier import's: maybe the analyst's own
            raise QgsProcessingException(f"{class_file} already exists, and the import writes the classes of the "
                                         f"label raster {Path(out).name} there; move it, or give the raster another "
                                         "name")
        scene = raster_file(scene_layer, "scene")
        with engine_errors():
            with opened_quietly(scene) as ds:  # the grid alone: a .mat has none of its own
                shape = (ds.height, ds.width)
                transform, crs_wkt = dataset_grid(ds)
            imported = import_label_map(source, out, shape, transform=transform, crs_wkt=crs_wkt, overwrite=True)
        feedback.pushInfo(self.tr("{} labelled pixels in {} classes{}: {}").format(
            imported.labelled, len(imported.classes), f" ({imported.dataset})" if imported.dataset else "",
            ", ".join(f"{c.id} {c.name}" for c in imported.classes)))
        if context.willLoadLayerOnCompletion(out):
            details = context.layerToLoadOnCompletionDetails(out)
            details.name, details.forceName = f"{Path(source).stem} (reference labels)", True
            when_loaded(context, out, StyleOnLoad(list(imported.classes)))
        return {self.OUTPUT: out, self.CLASS_FILE: str(imported.class_file)}
