"""Processing algorithm `hypersynth:samplevalidation`: validation points drawn from a class map, stratified by class."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any, Optional

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFile,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
)

from ...core.evaluation.sampling import DEFAULT_PER_CLASS, MAX_POINTS, MIN_PER_STRATUM
from ..layers import scene_georeferenced
from .base import FeedbackReporter, HyperSynthAlgorithm, engine_errors, engine_warnings, when_loaded
from .destinations import check_file_beside
from .draw_labels import DrawLabelsAlgorithm, StylePointsOnLoad, check_points_name
from .inputs import existing_layer_file, raster_file, seed_parameter, seed_value

# How many points: the command line's --per-class, --total and --target-error, in the order of SIZE's options
SIZE_KINDS = ("per_class", "total", "target_error")
SIZE_LABELS = {"per_class": "the same number of points on every map class",
               "total": "a total, shared by mapped area (each class at least the minimum)",
               "target_error": "as many as the target standard error needs, shared by mapped area"}
DESIGN_FILE_TITLE = "design file beside the validation points"  # what messages call the NAME.design.json output


class SampleValidationAlgorithm(HyperSynthAlgorithm):
    """Draw a stratified random sample of a class map for the analyst to label (Olofsson et al. 2014)."""

    CLASS_MAP = "CLASS_MAP"
    SIZE = "SIZE"
    PER_CLASS = "PER_CLASS"
    TOTAL = "TOTAL"
    MIN_PER_CLASS = "MIN_PER_CLASS"
    TARGET_ERROR = "TARGET_ERROR"
    EXPECTED_ACCURACY = "EXPECTED_ACCURACY"
    SEED = "SEED"
    OUTPUT = "OUTPUT"
    DESIGN_FILE = "DESIGN_FILE"
    POINT_COUNT = "POINT_COUNT"

    HELP_ANCHOR = "command-line"  # the README's paragraph on sample-validation, the same draw
    TAGS = ("accuracy", "validation", "sampling", "stratified random sample", "area estimate", "reference data")

    # a temporary output of a map without georeference as a FlatGeobuf, as the training labels drawn are
    temporary_points = DrawLabelsAlgorithm.temporary_points
    points_destination = DrawLabelsAlgorithm.points_destination

    def name(self) -> str:
        return "samplevalidation"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr("Draw validation sample")

    def help_text(self) -> str:
        return self.tr(
            "Draws validation points from a classified map (any tool's: a one-band raster of class ids; 0 and no "
            "data are unclassified and never drawn) at random, stratified by its classes: the design under which "
            "the area-adjusted accuracy and class areas of the Accuracy assessment hold (Olofsson et al. 2014). "
            "Brushed polygons or points picked by eye give no such estimate; a random sample does.\n\n"
            "How many points (SIZE): the same number on every map class (PER_CLASS, 50 by default, the least "
            "Olofsson et al. advise); a total (TOTAL) shared by mapped area, each class given at least MIN_PER_CLASS "
            "so that rare classes get enough for their user's accuracy; or as many as give the overall accuracy the "
            "target standard error (TARGET_ERROR, 0.01: one percentage point), given the user's accuracy you expect "
            "of the map's classes (EXPECTED_ACCURACY, one fraction for every class), shared by area as a total is "
            "(the log gives the standard error that sharing reaches, near the target). A class with fewer pixels "
            "than asked gives all of them, and one given fewer than 50 points is said; the log says which.\n\n"
            "The points lie at pixel centres, in random order (the order gives no hint of their map class), with a "
            "point_id and an empty class_id field, written as a GeoPackage (.gpkg), Shapefile (.shp) or FlatGeobuf "
            "(.fgb; a map without georeference needs .shp or .fgb). They are added to the map. Label each point: "
            "type in its class_id the class you see on the ground (a field visit, finer imagery), not the map's "
            "class, and save the layer; points left empty are left out. Beside them NAME.design.json records the "
            "map and the draw: then run the Accuracy assessment with the map and these points as its validation "
            "labels; it reads the design file and says that its area figures hold. The same labelled points also "
            "assess another map of the same grid (another method's, for a fair comparison): the assessment then "
            "takes this map's classes as the strata (Stehman 2014).")

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(QgsProcessingParameterRasterLayer(self.CLASS_MAP, self.tr("Classified map")))
        self.addParameter(QgsProcessingParameterEnum(
            self.SIZE, self.tr("How many points"), options=[self.tr(SIZE_LABELS[k]) for k in SIZE_KINDS],
            defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            self.PER_CLASS, self.tr("Points per class (the same number on every map class)"),
            QgsProcessingParameterNumber.Integer, defaultValue=DEFAULT_PER_CLASS, minValue=MIN_PER_STRATUM,
            maxValue=MAX_POINTS))
        self.addParameter(QgsProcessingParameterNumber(
            self.TOTAL, self.tr("Total points (shared by mapped area)"), QgsProcessingParameterNumber.Integer,
            optional=True, minValue=1, maxValue=MAX_POINTS))
        self.addParameter(QgsProcessingParameterNumber(
            self.MIN_PER_CLASS, self.tr("Minimum points per class (with a total or a target standard error)"),
            QgsProcessingParameterNumber.Integer, defaultValue=DEFAULT_PER_CLASS, minValue=MIN_PER_STRATUM,
            maxValue=MAX_POINTS))
        target = QgsProcessingParameterNumber(
            self.TARGET_ERROR, self.tr("Target standard error of the overall accuracy (0.01: one percentage point)"),
            QgsProcessingParameterNumber.Double, defaultValue=0.01, minValue=0.0, maxValue=1.0)
        target.setMetadata({"widget_wrapper": {"decimals": 4}})
        self.addParameter(target)
        expected = QgsProcessingParameterNumber(
            self.EXPECTED_ACCURACY, self.tr("Expected user's accuracy of every class (with a target standard error)"),
            QgsProcessingParameterNumber.Double, defaultValue=0.8, minValue=0.0, maxValue=1.0)
        expected.setMetadata({"widget_wrapper": {"decimals": 3}})
        self.addParameter(expected)
        self.addParameter(seed_parameter(self, self.SEED))  # as the command line's --seed
        points = QgsProcessingParameterVectorDestination(
            self.OUTPUT, self.tr("Validation points (to label)"), type=QgsProcessing.TypeVectorPoint)
        points.setSupportsNonFileBasedOutput(False)  # the engine writes a file: a temporary output is one too
        self.addParameter(points)
        self.addOutput(QgsProcessingOutputFile(self.DESIGN_FILE, self.tr("Sample design (NAME.design.json)")))
        self.addOutput(QgsProcessingOutputNumber(self.POINT_COUNT, self.tr("Number of points drawn")))

    # --- checks before the run --------------------------------------------------------------------
    def check_parameters(self, parameters: dict[str, Any], context: QgsProcessingContext) -> None:
        """The destinations' names, the input files and the seed (the base's checks), the points' format, and the
        numbers the chosen way of sizing the sample needs."""
        super().check_parameters(parameters, context)
        if not self.temporary_points(parameters):
            check_points_name(self.title(self.OUTPUT), self.parameterAsFileOutput(parameters, self.OUTPUT, context))
        kind = SIZE_KINDS[self.parameterAsEnum(parameters, self.SIZE, context)]
        total = self.total(parameters, context)
        if kind == "total" and total is None:
            raise QgsProcessingException(f"{self.title(self.TOTAL)} ({self.TOTAL}): give the number of points to "
                                         f"draw in all, or choose another way under '{self.title(self.SIZE)}'")
        if kind != "total" and total is not None:  # a script's TOTAL without SIZE=1 would draw 50 a class instead
            raise QgsProcessingException(f"{self.title(self.TOTAL)} ({self.TOTAL}) is {total}, but "
                                         f"'{self.title(self.SIZE)}' ({self.SIZE}) is "
                                         f"'{SIZE_LABELS[kind]}': choose '{SIZE_LABELS['total']}' ({self.SIZE}=1), "
                                         "or leave the total empty")
        if kind == "target_error":
            error = self.parameterAsDouble(parameters, self.TARGET_ERROR, context)
            if not 0 < error < 1:
                raise QgsProcessingException(f"{self.title(self.TARGET_ERROR)} ({self.TARGET_ERROR}) is a fraction "
                                             f"of 1 above 0, e.g. 0.01 for one percentage point; got {error:g}")
            accuracy = self.parameterAsDouble(parameters, self.EXPECTED_ACCURACY, context)
            if not 0 < accuracy < 1:
                raise QgsProcessingException(f"{self.title(self.EXPECTED_ACCURACY)} ({self.EXPECTED_ACCURACY}) is a "
                                             f"fraction between 0 and 1, e.g. 0.8; got {accuracy:g}")

    def total(self, parameters: dict[str, Any], context: QgsProcessingContext) -> Optional[int]:
        """The total number of points given, None when none is (empty)."""
        value = parameters.get(self.TOTAL)
        if value is None or value == "":
            return None
        return self.parameterAsInt(parameters, self.TOTAL, context)

    # --- the run ----------------------------------------------------------------------------------
    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from ...core.evaluation.sampling import design_file, sample_validation
        from ...core.outputs import OutputFolderError, claim_output_folder

        self.check_parameters(parameters, context)
        map_layer = self.parameterAsRasterLayer(parameters, self.CLASS_MAP, context)
        class_map = raster_file(map_layer, "classified map")
        points = self.points_destination(parameters, context, scene_georeferenced(class_map))
        design_path = str(design_file(points))
        self.check_destinations({self.CLASS_MAP: existing_layer_file(map_layer)},
                                {self.OUTPUT: points, DESIGN_FILE_TITLE: design_path})  # before anything is read
        check_file_beside(points, design_path, "the design of the validation points", "the points")
        kind = SIZE_KINDS[self.parameterAsEnum(parameters, self.SIZE, context)]
        size: dict[str, Any] = {}
        if kind == "per_class":
            size["per_class"] = self.parameterAsInt(parameters, self.PER_CLASS, context)
        else:
            size["min_per_class"] = self.parameterAsInt(parameters, self.MIN_PER_CLASS, context)
            if kind == "total":
                size["total"] = self.total(parameters, context)
            else:
                size["target_error"] = self.parameterAsDouble(parameters, self.TARGET_ERROR, context)
                size["expected_accuracy"] = self.parameterAsDouble(parameters, self.EXPECTED_ACCURACY, context)
        seed = seed_value(self, parameters, context, self.SEED)
        with engine_errors(), ExitStack() as claims:
            try:  # the folder held against other runs, made when missing and removed again if left empty
                claims.enter_context(claim_output_folder(Path(points).resolve().parent,
                                                         f"a validation sample of {Path(class_map).name}"))
            except OutputFolderError as exc:
                raise QgsProcessingException(str(exc)) from exc
            with engine_warnings(feedback):  # Processing's destination is replaced (the dialog asks first)
                design = sample_validation(class_map, points, seed=seed, overwrite=True,
                                           reporter=FeedbackReporter(feedback), **size)
        for note in design.notes:
            feedback.pushWarning(note)
        feedback.pushInfo(f"drew {design.describe()}")
        feedback.pushInfo(self.tr(
            "Label each point's class_id by what is on the ground (a field visit, finer imagery), not by the map, "
            "save the layer, then run the Accuracy assessment (hypersynth:accuracyassessment) with the map and these "
            "points: it reads {} beside them").format(Path(design_path).name))
        # the destination as Processing registered it to load, not as the engine normalised it
        results: dict[str, Any] = {self.OUTPUT: points, self.DESIGN_FILE: design_path,
                                   self.POINT_COUNT: design.points}
        DrawLabelsAlgorithm.name_loaded(context, points, f"validation points to label ({design.points} points, "
                                                         f"seed {seed})")
        from ...core.evaluation.assess import classes_of_map

        from ..label_layer import prepare_sample_for_labelling

        when_loaded(context, points, StylePointsOnLoad(classes_of_map(class_map, design.class_pixels),
                                                       prepare_sample_for_labelling))  # ready to label
        feedback.setProgress(100.0)
        return results
