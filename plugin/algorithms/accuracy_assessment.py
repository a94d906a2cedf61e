"""Processing algorithm `hypersynth:accuracyassessment`: OA, AA, kappa and confusion of a class map against labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterRasterLayer,
)

from .base import CANCELLED, FeedbackReporter, HyperSynthAlgorithm, accuracy_lines, engine_errors, engine_warnings
from .inputs import (class_field_parameter, copy_name, existing_layer_file, labels_file, raster_file,
                     refuse_the_scene_as_labels)
from .destinations import OutputMoves, discard_staging, staging_folder


class AccuracyAssessmentAlgorithm(HyperSynthAlgorithm):
    """Compare any classified map (HyperSynth's or another tool's) with validation labels."""

    CLASS_MAP = "CLASS_MAP"
    VALIDATION = "VALIDATION"
    CLASS_FIELD = "CLASS_FIELD"
    EXCLUDE = "EXCLUDE"
    EXCLUDE_CLASS_FIELD = "EXCLUDE_CLASS_FIELD"
    KEEP_TRAINING_PIXELS = "KEEP_TRAINING_PIXELS"
    CLASSES = "CLASSES"
    OUTPUT = "OUTPUT"
    FOLDER = "FOLDER"
    OVERALL_ACCURACY = "OVERALL_ACCURACY"
    AVERAGE_ACCURACY = "AVERAGE_ACCURACY"
    KAPPA = "KAPPA"
    AREA_ADJUSTED_ACCURACY = "AREA_ADJUSTED_ACCURACY"

    TAGS = ("classification", "accuracy", "validation", "confusion matrix", "kappa", "area estimate")

    def name(self) -> str:
        return "accuracyassessment"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr("Accuracy assessment")

    def help_text(self) -> str:
        return self.tr(
            "Compares a classified map with validation labels (points, polygons or a label raster on the map's "
            "grid) over the pixels that are both labelled and classified: overall accuracy (OA), average "
            "per-class accuracy (AA), Cohen's kappa, each class's producer's and user's accuracy and F1, and the "
            "confusion matrix (rows: validation class, columns: mapped class). Class names come from the class "
            "file when given, otherwise from the map's category names. Pixels of the optional 'Labels to leave "
            "out' (the map's training labels, say: scored, they make it look better) are not assessed, nor, for a "
            "HyperSynth run's own map, the pixels its classifier (the classifier_bundle folder beside the map) "
            "learnt from, as the run's report left them out; the log says how many. The command line's and the "
            "panel's runs save that folder beside their map; a Processing run's map has it only where its 'Trained "
            "classifier' output was saved beside the map as classifier_bundle. Without it, give the training labels "
            "as 'Labels to leave out', or the accuracy counts them (the log says so).\n\n"
            "From the whole map's class counts it also estimates the area-adjusted overall accuracy and each "
            "class's true area (hectares on a metric grid, else pixels) with 95 % confidence intervals, as "
            "Olofsson et al. (2014) recommend. These hold when the validation pixels are a random sample of "
            "the map (simple, or stratified by map class): 'Draw validation sample' draws one for you to label, "
            "with NAME.design.json beside the points. With that file the assessment says the figures hold; on "
            "another map of the same grid (another method's) it estimates with the sampled map's classes as the "
            "strata (Stehman 2014), so one labelled sample compares several maps.\n\n"
            "The metrics are written as JSON; optionally a folder receives the same metrics.json, an accuracy "
            "table (accuracy.md) and a confusion-matrix figure (confusion.png).")

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(QgsProcessingParameterRasterLayer(self.CLASS_MAP, self.tr("Classified map")))
        self.addParameter(QgsProcessingParameterMapLayer(
            self.VALIDATION, self.tr("Validation labels (points, polygons or a label raster)"),
            types=[QgsProcessing.TypeVectorAnyGeometry, QgsProcessing.TypeRaster]))
        self.addParameter(class_field_parameter(
            self.CLASS_FIELD, self.tr("Class field of the validation labels (its name; empty: a field named class_id, "
                                      "class, label, …)")))
        self.addParameter(QgsProcessingParameterMapLayer(
            self.EXCLUDE, self.tr("Labels to leave out (e.g. the map's training labels)"),
            types=[QgsProcessing.TypeVectorAnyGeometry, QgsProcessing.TypeRaster], optional=True))
        advanced = [
            class_field_parameter(self.EXCLUDE_CLASS_FIELD, self.tr(
                "Class field of the labels to leave out (empty: the validation labels' class field where they have it, "
                "else guessed; only which pixels they label matters)")),
            QgsProcessingParameterBoolean(self.KEEP_TRAINING_PIXELS, self.tr(
                "Score the pixels the classifier beside the map learnt from too (its accuracy on its own training "
                "labels, which flatters it)"), defaultValue=False),
        ]
        for parameter in advanced:  # as the command line's --exclude-field and --keep-training-pixels
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterFile(
            self.CLASSES, self.tr("Class file (names matching text class fields)"), extension="json",
            optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT, self.tr("Accuracy metrics (JSON)"), fileFilter=self.tr("JSON files (*.json)")))
        self.addParameter(QgsProcessingParameterFolderDestination(
            self.FOLDER, self.tr("Folder for the accuracy table and confusion-matrix figure"), optional=True,
            createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber(self.OVERALL_ACCURACY, self.tr("Overall accuracy (OA)")))
        self.addOutput(QgsProcessingOutputNumber(self.AVERAGE_ACCURACY, self.tr("Average accuracy (AA)")))
        self.addOutput(QgsProcessingOutputNumber(self.KAPPA, self.tr("Cohen's kappa")))
        self.addOutput(QgsProcessingOutputNumber(self.AREA_ADJUSTED_ACCURACY,
                                                 self.tr("Area-adjusted overall accuracy (Olofsson et al. 2014)")))

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        map_layer = self.parameterAsRasterLayer(parameters, self.CLASS_MAP, context)
        validation_layer = self.parameterAsLayer(parameters, self.VALIDATION, context)
        exclude_layer = self.parameterAsLayer(parameters, self.EXCLUDE, context)
        classes_path = self.parameterAsFile(parameters, self.CLASSES, context) or None
        out_json = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        folder = self.parameterAsFileOutput(parameters, self.FOLDER, context)
        if not out_json.lower().endswith(".json"):
            raise QgsProcessingException(f"the accuracy metrics are written as a .json file; got {out_json}")
        refuse_the_scene_as_labels(map_layer, validation_layer, "validation labels", "the classified map")
        self.check_destinations({self.CLASS_MAP: existing_layer_file(map_layer),
                                 self.VALIDATION: existing_layer_file(validation_layer), self.CLASSES: classes_path,
                                 **({self.EXCLUDE: existing_layer_file(exclude_layer)} if exclude_layer else {})},
                                {self.OUTPUT: out_json, self.FOLDER: folder},
                                {self.FOLDER: ""})  # a plain folder: the files are added to what is there
        class_map = raster_file(map_layer, "classified map")
        class_field = self.parameterAsString(parameters, self.CLASS_FIELD, context).strip() or None
        validation = labels_file(validation_layer, "validation", context, feedback, check_field=True,
                                 class_field=class_field)
        exclude = labels_file(exclude_layer, "left out", context, feedback) if exclude_layer is not None else None

        from ...core.pipeline import assess_accuracy

        keep_training = self.parameterAsBoolean(parameters, self.KEEP_TRAINING_PIXELS, context)
        exclude_field = self.parameterAsString(parameters, self.EXCLUDE_CLASS_FIELD, context).strip() or None
        feedback.setProgress(10.0)
        if folder:
            from ...core.evaluation.assess import check_not_a_run_folder

            with engine_errors():
                check_not_a_run_folder(Path(folder))
        staging = staging_folder(folder or out_json)  # beside the folder: a failed run leaves no folder
        with engine_errors():
            try:
                with engine_warnings(feedback):
                    metrics = assess_accuracy(class_map, validation, class_field=class_field, classes_path=classes_path,
                                              out_dir=staging / "folder" if folder else None,
                                              overwrite=True, exclude_path=exclude, exclude_field=exclude_field,
                                              training_beside=not keep_training,
                                              validation_name=copy_name(validation_layer, validation),
                                              reporter=FeedbackReporter(feedback).sub(0.1, 0.8))
                if feedback.isCanceled():
                    raise QgsProcessingException(CANCELLED)
                feedback.setProgress(80.0)
                results: dict[str, Any] = {}
                with OutputMoves() as moves:  # all outputs or none
                    if folder:
                        for written in sorted((staging / "folder").iterdir()):
                            moves.put(written, str(Path(folder) / written.name))
                        results[self.FOLDER] = folder
                    results[self.OUTPUT] = moves.put_text(json.dumps(metrics, indent=2), staging, out_json)
            finally:
                discard_staging(staging)
        if metrics.get("training_pixels") == "unknown":
            feedback.pushInfo(self.tr(
                "Which pixels the map's classifier learnt from is not known (no classifier_bundle folder beside the "
                "map holds them on its grid): validation pixels among them were scored, which flatters the map; give "
                "its training labels as '{}' ({}) to leave them out").format(self.title(self.EXCLUDE), self.EXCLUDE))
        for key, name in ((self.OVERALL_ACCURACY, "oa"), (self.AVERAGE_ACCURACY, "aa"), (self.KAPPA, "kappa")):
            if metrics.get(name) is not None:  # None: undefined (e.g. kappa with a single class)
                results[key] = float(metrics[name])
        adjusted = metrics.get("area_adjusted") or {}
        if adjusted.get("oa") is not None:
            results[self.AREA_ADJUSTED_ACCURACY] = float(adjusted["oa"])
        for line in accuracy_lines(metrics):  # a sample's estimate first, as the report words it
            feedback.pushInfo(line)
        if metrics.get("validation_pixels_left_out"):  # as the help promises: how many the rule or EXCLUDE took out
            n = int(metrics["validation_pixels_left_out"])
            feedback.pushInfo(self.tr("{} validation pixel{} left out as pixels the map's classifier learnt from (not "
                                      "scored)").format(n, "s" if n != 1 else ""))
        feedback.setProgress(100.0)
        return results
