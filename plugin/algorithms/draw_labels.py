"""Processing algorithm `hypersynth:drawlabels`: N training labels per class drawn from reference labels, as `bench`."""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Optional

from qgis.core import (
    QgsMapLayer,
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingOutputFile,
    QgsProcessingOutputLayerDefinition,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterVectorDestination,
    QgsProcessingUtils,
    QgsVectorLayer,
)

from ...core.evaluation.protocol import SPLIT_KINDS
from ...core.label_draw import DEFAULT_PATCH_SIDE, POINT_FORMATS, amount_text
from ..layers import scene_georeferenced
from .base import FeedbackReporter, HyperSynthAlgorithm, engine_errors, engine_warnings, when_loaded
from .destinations import check_file_beside
from .inputs import (CLASS_FIELD_TITLE, class_field_parameter, existing_layer_file, labels_file, raster_file,
                     refuse_the_scene_as_labels, scene_parameter, seed_parameter, seed_value)
from .benchmark import SPLIT_LABELS
from .scene_classification import StyleOnLoad

POINT_ENDINGS = tuple(ending.lstrip(".") for ending in POINT_FORMATS)  # gpkg, shp, fgb: what the provider offers
UNGEOREFERENCED_TEMPORARY = ".fgb"  # a temporary output's format for a scene without georeference: no CRS needed
CLASS_FILE_TITLE = "class file beside the training labels"  # what messages call the <points>_classes.json output


class StylePointsOnLoad(QgsProcessingLayerPostProcessorInterface):
    """Styles points by their classes when Processing loads them (main thread): ``style(layer, classes)``, the
    training labels' colours and names by default (:func:`..label_layer.style_label_layer`)."""

    def __init__(self, classes: list, style: Optional[Callable[[QgsVectorLayer, list], None]] = None) -> None:
        super().__init__()
        self.classes = classes
        self.style = style

    def postProcessLayer(self, layer: QgsMapLayer, context: QgsProcessingContext,  # noqa: N802 (QGIS API)
                         feedback: QgsProcessingFeedback) -> None:
        from ..label_layer import style_label_layer

        if isinstance(layer, QgsVectorLayer) and layer.isValid():
            (self.style or style_label_layer)(layer, self.classes)


class DrawLabelsAlgorithm(HyperSynthAlgorithm):
    """Draw N training pixels per class from reference labels with a seed, exactly as the benchmark does."""

    SCENE = "SCENE"
    REFERENCE = "REFERENCE"
    CLASS_FIELD = "CLASS_FIELD"
    CLASSES = "CLASSES"
    LABELS_PER_CLASS = "LABELS_PER_CLASS"
    SHARE = "SHARE"
    SEED = "SEED"
    SPLIT = "SPLIT"
    PATCH_SIZE = "PATCH_SIZE"
    OUTPUT = "OUTPUT"
    VALIDATION_OUTPUT = "VALIDATION_OUTPUT"
    CLASS_FILE = "CLASS_FILE"

    TAGS = ("few labels", "benchmark", "training labels", "validation", "sampling", "reference data", "split")
    HELP_ANCHOR = "command-line"  # the README's paragraph on draw-labels, the same draw

    def name(self) -> str:
        return "drawlabels"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr("Draw training labels from reference labels")

    def help_text(self) -> str:
        return self.tr(
            "Draws N training labels per class from a scene's reference labels (a label raster on the scene's grid, "
            "or points or polygons with a class field) with a seed, exactly as the benchmark draws them: the same "
            "scene, reference, labels per class and seed give the same training pixels as that row of 'Benchmark "
            "methods on a labelled scene' (or hypersynth bench), so a benchmark row can be run again by hand, looked "
            "at on the map, or run with other settings. Only reference pixels on the scene's valid pixels are "
            "drawn from. A class with N pixels or fewer gives all but one of them to training and keeps one to "
            "validate on; the log says which classes. A share of each class (SHARE, in %) draws that share of each "
            "class's reference pixels instead (rounded, at least one), the protocol of papers that train on 10 % of "
            "Indian Pines or 5 % of Pavia University, to compare with their figures on it.\n\n"
            "The training labels are points at the pixel centres with the fields class_id (the class id) and class "
            "(its name), written as a GeoPackage (.gpkg), Shapefile (.shp) or FlatGeobuf (.fgb); a scene without "
            "georeference needs .shp or .fgb (a GeoPackage always records a CRS; a temporary output is then a "
            ".fgb). Beside them NAME_classes.json holds the classes' ids, names, colours and prompts: give the "
            "points as the training labels and that file as the class file of Augment & Classify (or of a "
            "baseline). The points are added to the map in the classes' colours.\n\n"
            "Optionally the reference pixels left over are written as validation labels, a label raster on the "
            "scene's grid for the validation labels of a classification or an accuracy assessment, and added to "
            "the map too. The random split keeps every one of them; the spatially disjoint split, as the "
            "benchmark's, leaves out each pixel within PATCH_SIZE // 2 of a training pixel, so that none lies "
            "inside a training patch; 'no overlap of patches' leaves out each pixel within twice that, so that no "
            "validation pixel's patch shares a pixel with a training label's: give the patch side of the "
            "benchmark's preset ({patch} for fast and full, the default; 8 for tiny) to get the pixels it validated "
            "on.\n\n"
            "A MATLAB ground truth (.mat) is not a layer QGIS opens: turn it into a label raster with Import a "
            "MATLAB ground-truth map (hypersynth:importlabels) first, draw from it with the command line (hypersynth "
            "draw-labels), or open it in the HyperSynth dock after its scene, which adds it as a label raster. The "
            "draw takes seconds: a GeoTIFF or ENVI scene is read once for its valid pixels, never whole."
            ).format(patch=DEFAULT_PATCH_SIDE)

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(scene_parameter(self))
        self.addParameter(QgsProcessingParameterMapLayer(
            self.REFERENCE, self.tr("Reference labels (points, polygons or a label raster)"),
            types=[QgsProcessing.TypeVectorAnyGeometry, QgsProcessing.TypeRaster]))
        self.addParameter(class_field_parameter(self.CLASS_FIELD, self.tr(CLASS_FIELD_TITLE)))
        self.addParameter(QgsProcessingParameterFile(
            self.CLASSES, self.tr("Class and prompt file (names, colours, prompts)"), extension="json", optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            self.LABELS_PER_CLASS, self.tr("Labels per class"), QgsProcessingParameterNumber.Integer,
            defaultValue=5, minValue=1))
        self.addParameter(QgsProcessingParameterNumber(
            self.SHARE, self.tr("Or a share of each class (%; instead of labels per class)"),
            QgsProcessingParameterNumber.Double, optional=True, minValue=0.0, maxValue=100.0))
        self.addParameter(seed_parameter(self, self.SEED))  # as the command line's --seed
        self.addParameter(QgsProcessingParameterEnum(
            self.SPLIT, self.tr("Split"), options=[self.tr(SPLIT_LABELS[k]) for k in SPLIT_KINDS], defaultValue=0))
        patch = QgsProcessingParameterNumber(
            self.PATCH_SIZE, self.tr("Training patch size of the disjoint splits (pixels)"),
            QgsProcessingParameterNumber.Integer, defaultValue=DEFAULT_PATCH_SIDE, minValue=1)
        patch.setFlags(patch.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(patch)
        points = QgsProcessingParameterVectorDestination(
            self.OUTPUT, self.tr("Training labels"), type=QgsProcessing.TypeVectorPoint)
        points.setSupportsNonFileBasedOutput(False)  # the engine writes a file: a temporary output is one too
        self.addParameter(points)
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.VALIDATION_OUTPUT, self.tr("Validation labels (the reference pixels left over)"), optional=True,
            createByDefault=False))
        self.addOutput(QgsProcessingOutputFile(self.CLASS_FILE, self.tr("Class file of the training labels")))

    # --- checks before the run --------------------------------------------------------------------
    def check_parameters(self, parameters: dict[str, Any], context: QgsProcessingContext) -> None:
        """The destinations' names and the input files (the base's checks), and the training labels' format."""
        super().check_parameters(parameters, context)
        if self.temporary_points(parameters):
            return
        check_points_name(self.title(self.OUTPUT), self.parameterAsFileOutput(parameters, self.OUTPUT, context))

    def temporary_points(self, parameters: dict[str, Any]) -> bool:
        """Whether the training labels go to a temporary output: TEMPORARY_OUTPUT (a file Processing names), or a file
        Processing named in its temporary folder for a model's step whose output no one named: QGIS's
        ``generateTempFilename`` gives ``processing_XXXXXX/<32 hex digits>/OUTPUT.gpkg``, the first folder this QGIS
        session's own, so no file an analyst names is taken for one."""
        value = parameters.get(self.OUTPUT)
        if isinstance(value, QgsProcessingOutputLayerDefinition):
            value = value.sink.staticValue()
        if value == QgsProcessing.TEMPORARY_OUTPUT:
            return True
        if not isinstance(value, str) or not value:
            return False
        temporary = Path(QgsProcessingUtils.tempFolder()).resolve()
        named = Path(value).resolve()
        return named.parent.parent == temporary and re.fullmatch(r"[0-9a-f]{32}", named.parent.name) is not None

    def points_destination(self, parameters: dict[str, Any], context: QgsProcessingContext,
                           georeferenced: bool) -> str:
        """Where the training labels go: the file given, or a temporary GeoPackage (a FlatGeobuf for a scene
        without georeference, which a GeoPackage cannot hold), the one Processing loads on completion."""
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        if georeferenced or not self.temporary_points(parameters) or Path(out).suffix.lower() != ".gpkg":
            return out
        moved = str(Path(out).with_suffix(UNGEOREFERENCED_TEMPORARY))
        layers = context.layersToLoadOnCompletion()
        if out in layers:
            layers[moved] = layers.pop(out)
            context.setLayersToLoadOnCompletion(layers)
        return moved

    # --- the run ----------------------------------------------------------------------------------
    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from ...core.label_draw import check_draw_outputs, class_file_beside, draw_labels_from_files
        from ...core.outputs import OutputFolderError, claim_output_folder

        self.check_parameters(parameters, context)
        scene_layer = self.parameterAsRasterLayer(parameters, self.SCENE, context)
        reference_layer = self.parameterAsLayer(parameters, self.REFERENCE, context)
        classes_path = self.parameterAsFile(parameters, self.CLASSES, context) or None
        refuse_the_scene_as_labels(scene_layer, reference_layer, "reference labels")
        scene = raster_file(scene_layer, "scene", subdatasets=True)
        georeferenced = scene_georeferenced(scene)
        points = self.points_destination(parameters, context, georeferenced)
        validation = self.parameterAsOutputLayer(parameters, self.VALIDATION_OUTPUT, context) or None
        class_file = str(class_file_beside(points))
        self.check_destinations({self.SCENE: existing_layer_file(scene_layer),
                                 self.REFERENCE: existing_layer_file(reference_layer), self.CLASSES: classes_path},
                                {self.OUTPUT: points, CLASS_FILE_TITLE: class_file,
                                 self.VALIDATION_OUTPUT: validation})  # before anything is read or written
        check_file_beside(points, class_file)
        class_field = self.parameterAsString(parameters, self.CLASS_FIELD, context).strip() or None
        reference = labels_file(reference_layer, "reference", context, feedback, check_field=True,
                                class_field=class_field)
        per_class = self.parameterAsInt(parameters, self.LABELS_PER_CLASS, context)
        share = self.share(parameters, context)
        seed = seed_value(self, parameters, context, self.SEED)
        split = SPLIT_KINDS[self.parameterAsEnum(parameters, self.SPLIT, context)]
        patch_side = self.parameterAsInt(parameters, self.PATCH_SIZE, context)
        folders = dict.fromkeys(Path(p).resolve().parent for p in (points, validation) if p)
        with engine_errors(), ExitStack() as claims:
            try:  # each folder held against other runs, made when missing and removed again if left empty
                for folder in folders:
                    claims.enter_context(claim_output_folder(folder, f"a label draw from {Path(reference).name}"))
            except OutputFolderError as exc:
                raise QgsProcessingException(str(exc)) from exc
            # a GeoPackage for a scene without georeference, in the engine's words, before the scene is read
            check_draw_outputs(points, validation, georeferenced=georeferenced,
                               inputs=(scene, reference, classes_path), overwrite=True)
            with engine_warnings(feedback):
                draw = draw_labels_from_files(scene, reference, points, labels_per_class=per_class, seed=seed,
                                              split=split, patch_side=patch_side, validation=validation,
                                              classes_path=classes_path, class_field=class_field, share=share,
                                              overwrite=True, reporter=FeedbackReporter(feedback))
        for warning in draw.warnings:
            feedback.pushWarning(warning)
        feedback.pushInfo(draw.summary())
        # the destinations as Processing registered them to load, not as the engine normalised them
        results: dict[str, Any] = {self.OUTPUT: points, self.CLASS_FILE: str(draw.class_file)}
        self.name_loaded(context, results[self.OUTPUT], f"training labels ({amount_text(draw.split)}, seed {seed})")
        when_loaded(context, results[self.OUTPUT], StylePointsOnLoad(list(draw.classes)))
        if draw.validation is not None:
            results[self.VALIDATION_OUTPUT] = validation
            self.name_loaded(context, results[self.VALIDATION_OUTPUT],
                             f"validation labels ({SPLIT_LABELS[split]} split, seed {seed})")
            when_loaded(context, results[self.VALIDATION_OUTPUT], StyleOnLoad(list(draw.classes)))
        feedback.setProgress(100.0)
        return results

    def share(self, parameters: dict[str, Any], context: QgsProcessingContext) -> Optional[float]:
        """The share of each class to draw (0..1), None when none is given (empty or 0: labels per class)."""
        value = parameters.get(self.SHARE)
        if value is None or value == "":
            return None
        percent = self.parameterAsDouble(parameters, self.SHARE, context)
        if percent <= 0:
            return None
        if percent >= 100:
            raise QgsProcessingException(f"{self.title(self.SHARE)}: {percent:g} % would leave nothing to validate "
                                         "on; give a share below 100 % (10 for 10 %)")
        return percent / 100

    @staticmethod
    def name_loaded(context: QgsProcessingContext, output: str, name: str) -> None:
        """Name ``output``'s layer ``name`` when Processing loads it into the project."""
        if context.willLoadLayerOnCompletion(output):
            details = context.layerToLoadOnCompletionDetails(output)
            details.name, details.forceName = name, True


def check_points_name(title: str, destination: str) -> None:
    """Refuse a training labels destination named for a format the engine does not write (as
    :func:`.destinations.check_raster_name` does for rasters)."""
    path = Path(destination)
    if path.suffix.lower().lstrip(".") in POINT_ENDINGS:
        return
    formats = "a GeoPackage (.gpkg), a Shapefile (.shp) or a FlatGeobuf (.fgb)"
    if not path.suffix:
        raise QgsProcessingException(f"the {title} destination {path} has no extension: it is written as {formats}; "
                                     f"name it {path.name}.gpkg")
    raise QgsProcessingException(f"the {title} destination {path} is named as a {path.suffix} file, but it is "
                                 f"written as {formats}: name it {path.stem}.gpkg")
