"""The shared body of the algorithms that classify a whole scene through `core.pipeline.classify_scene`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from qgis.core import (
    QgsMapLayer,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingOutputNumber,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterRasterDestination,
    QgsRasterLayer,
)

from ...core.progress import Cancelled
from ..layers import class_renderer, confidence_renderer, probability_renderer
from .base import (FeedbackReporter, HyperSynthAlgorithm, accuracy_lines, accuracy_results, engine_errors,
                   engine_warnings, when_loaded)
from .inputs import (class_field_parameter, copy_name, existing_layer_file, labels_file, raster_file,
                     refuse_the_scene_as_labels, seed_parameter)
from .band_parameters import RUN_LEAVE_OUT_TITLE, band_choice_refused, bands_to_leave_out, leave_out_bands_parameter
from .destinations import OutputMoves, discard_staging, staging_folder, write_report


class StyleOnLoad(QgsProcessingLayerPostProcessorInterface):
    """Styles an output layer when Processing loads it into the project (main thread)."""

    def __init__(self, classes: Optional[list] = None, ramp: str = "classes") -> None:
        super().__init__()
        self.classes = classes  # the map's classes (their count sets the confidence ramp's floor, 1/K)
        self.ramp = ramp  # "classes": a class map; "confidence": its colour ramp; "probabilities": grey 0..1

    def postProcessLayer(self, layer: QgsMapLayer, context: QgsProcessingContext,  # noqa: N802 (QGIS API)
                         feedback: QgsProcessingFeedback) -> None:
        if not isinstance(layer, QgsRasterLayer):
            return
        if self.ramp == "confidence":
            layer.setRenderer(confidence_renderer(layer, len(self.classes or [])))
        elif self.ramp == "probabilities":
            layer.setRenderer(probability_renderer(layer))
        else:
            layer.setRenderer(class_renderer(layer, self.classes))
        layer.triggerRepaint()


MAP_KEYS = ("OUTPUT", "CONFIDENCE", "PROBABILITIES")  # the map destinations every classifying algorithm has
# the loaded layers' names after the scene's, as the dock names its result layers "classes" and "confidence"
LAYER_NAMES = {"OUTPUT": "classes", "CONFIDENCE": "confidence", "PROBABILITIES": "class probabilities"}
CONFIDENCE_HELP = ("The confidence raster's band 1 is the winning class's probability (0 to 1); band 2 the "
                   "uncertainty, the normalised entropy of the class probabilities (0: sure, 1: every class alike).")
LAYER_NAMES_HELP = ("Loaded into the project, the layers are named after the scene: 'salinas: classes' and 'salinas: "
                    "confidence' for a scene layer named salinas.")


def add_map_destinations(alg: Any) -> None:
    """The class map, confidence (made unless skipped in the dialog; from a script only when given) and
    class-probabilities (made on request) destinations of a classifying algorithm; what the confidence's bands
    hold is in the help (CONFIDENCE_HELP)."""
    output, confidence, probabilities = MAP_KEYS
    alg.addParameter(QgsProcessingParameterRasterDestination(output, alg.tr("Classified map")))
    alg.addParameter(QgsProcessingParameterRasterDestination(
        confidence, alg.tr("Confidence"), optional=True, createByDefault=True))
    alg.addParameter(QgsProcessingParameterRasterDestination(
        probabilities, alg.tr("Class probabilities"), optional=True, createByDefault=False))


def keep_map_outputs(outputs: Any, destinations: dict[str, str], moves: OutputMoves, results: dict[str, Any]) -> None:
    """Move the run's confidence and probabilities (those asked for) and, last, class map to their destinations;
    one not asked for stays in the staging folder, which is removed."""
    output, confidence, probabilities = MAP_KEYS
    if destinations[confidence]:
        results[confidence] = moves.put_raster(Path(outputs.confidence), destinations[confidence])
    if outputs.probabilities is not None and destinations[probabilities]:
        results[probabilities] = moves.put_raster(Path(outputs.probabilities), destinations[probabilities])
    results[output] = moves.put_raster(Path(outputs.class_map), destinations[output])


def style_map_outputs(context: QgsProcessingContext, results: dict[str, Any], classes: list,
                      scene_name: str = "", algorithm: Optional[QgsProcessingAlgorithm] = None) -> None:
    """Style the map outputs Processing loads: the classes' colours and names; the others in grey (the
    probabilities' first class, not three classes as red, green and blue). With ``scene_name``, name them
    "<scene>: classes", "<scene>: confidence", … so that the layers of runs on different scenes are told apart,
    unless a model named its output (a name other than ``algorithm``'s own title for that output)."""
    output, confidence, probabilities = MAP_KEYS
    for key in MAP_KEYS:
        if key in results and scene_name and context.willLoadLayerOnCompletion(results[key]):
            details = context.layerToLoadOnCompletionDetails(results[key])
            own = algorithm.parameterDefinition(key) if algorithm is not None else None
            if details.name and own is not None and details.name != own.description():
                continue  # the name a model gave its output
            details.name, details.forceName = f"{scene_name}: {LAYER_NAMES[key]}", True
    when_loaded(context, results[output], StyleOnLoad(list(classes)))
    for key, ramp in ((confidence, "confidence"), (probabilities, "probabilities")):
        if key in results:
            when_loaded(context, results[key], StyleOnLoad(list(classes), ramp))


def log_accuracy(alg: Any, feedback: QgsProcessingFeedback, metrics: Optional[dict]) -> None:
    """The accuracy lines the classifying algorithms log when validation labels were given (:func:`.base.
    accuracy_lines`)."""
    for line in accuracy_lines(metrics):
        feedback.pushInfo(alg.tr("Accuracy on the validation labels: {}").format(line))


class SceneClassificationAlgorithm(HyperSynthAlgorithm):
    """Scene + labels in; class map, confidence and report out. Subclasses add their method's parameters."""

    SCENE = "SCENE"
    LABELS = "LABELS"
    CLASS_FIELD = "CLASS_FIELD"
    CLASSES = "CLASSES"
    VALIDATION = "VALIDATION"
    VALIDATION_CLASS_FIELD = "VALIDATION_CLASS_FIELD"
    SEED = "SEED"
    OUTPUT = "OUTPUT"
    CONFIDENCE = "CONFIDENCE"
    PROBABILITIES = "PROBABILITIES"
    REPORT = "REPORT"
    OVERALL_ACCURACY = "OVERALL_ACCURACY"
    AVERAGE_ACCURACY = "AVERAGE_ACCURACY"
    KAPPA = "KAPPA"

    # --- parameters -------------------------------------------------------------------------------
    def add_input_parameters(self) -> None:
        """Scene, labels, class field, class file, validation labels."""
        self.add_training_label_parameters()
        self.addParameter(QgsProcessingParameterMapLayer(
            self.VALIDATION, self.tr("Validation labels for an accuracy assessment"),
            types=[QgsProcessing.TypeVectorAnyGeometry, QgsProcessing.TypeRaster], optional=True))
        self.addParameter(class_field_parameter(  # its own: validation points are often another layer's kind
            self.VALIDATION_CLASS_FIELD, self.tr("Class field of the validation labels (its name; empty: the training "
                                                 "labels' class field, else class_id, class, label, …)")))
        self.addParameter(leave_out_bands_parameter(self, RUN_LEAVE_OUT_TITLE, advanced=True))

    def add_seed_parameter(self) -> None:
        seed = seed_parameter(self, self.SEED)
        seed.setFlags(seed.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(seed)

    def add_output_parameters(self) -> None:
        """Class map, confidence raster and HTML report destinations, plus the accuracy outputs."""
        add_map_destinations(self)
        self.addParameter(QgsProcessingParameterFileDestination(
            self.REPORT, self.tr("Report"), fileFilter=self.tr("HTML files (*.html)"), optional=True))
        self.addOutput(QgsProcessingOutputNumber(self.OVERALL_ACCURACY, self.tr("Overall accuracy (OA)")))
        self.addOutput(QgsProcessingOutputNumber(self.AVERAGE_ACCURACY, self.tr("Average accuracy (AA)")))
        self.addOutput(QgsProcessingOutputNumber(self.KAPPA, self.tr("Cohen's kappa")))

    LEAVE_OUT_EFFECT = ("The report names them apart from the bands the file flags, and a classifier or synthesis "
                        "model the run saves leaves them out again where it is used on a scene of as many bands.")

    # --- what subclasses decide -------------------------------------------------------------------
    MODEL_FOLDERS: dict[str, str] = {}  # output parameter -> the model kind it saves ("classifier", "synthesis")

    def engine_arguments(self, parameters: dict[str, Any], context: QgsProcessingContext,
                         feedback: Optional[QgsProcessingFeedback] = None) -> dict[str, Any]:
        """Keyword arguments for ``classify_scene`` beyond the files (method, preset, settings, bundle); ``feedback``
        hears what the run will use where the parameters do not say it (the settings' CLIP weights)."""
        raise NotImplementedError(f"{type(self).__name__} must say which method it runs")

    def extra_inputs(self, parameters: dict[str, Any], context: QgsProcessingContext) -> dict[str, str]:
        """Inputs beyond the scene and the labels that no destination may replace or lie in ({name: path})."""
        return {}

    def extra_destinations(self, parameters: dict[str, Any], context: QgsProcessingContext) -> dict[str, str]:
        """Method-specific destinations (e.g. the model folders): {output parameter: path, empty when not asked}."""
        return {}

    def keep_extra_outputs(self, staged: Path, destinations: dict[str, str], moves: OutputMoves,
                           results: dict[str, Any]) -> None:
        """Move method-specific outputs (e.g. the model bundle) out of the staging folder."""

    # --- the run ----------------------------------------------------------------------------------
    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        self.check_parameters(parameters, context)
        scene_layer = self.parameterAsRasterLayer(parameters, self.SCENE, context)
        labels_layer = self.parameterAsLayer(parameters, self.LABELS, context)
        validation_layer = self.parameterAsLayer(parameters, self.VALIDATION, context)
        classes_path = self.parameterAsFile(parameters, self.CLASSES, context) or None
        destinations = {self.OUTPUT: self.parameterAsOutputLayer(parameters, self.OUTPUT, context),
                        self.CONFIDENCE: self.parameterAsOutputLayer(parameters, self.CONFIDENCE, context),
                        self.PROBABILITIES: self.parameterAsOutputLayer(parameters, self.PROBABILITIES, context),
                        self.REPORT: self.parameterAsFileOutput(parameters, self.REPORT, context),
                        **self.extra_destinations(parameters, context)}
        refuse_the_scene_as_labels(scene_layer, labels_layer)
        refuse_the_scene_as_labels(scene_layer, validation_layer, "validation labels")
        if validation_layer is not None and labels_layer is not None:
            from ..runs import reads_the_same_labels

            if reads_the_same_labels(validation_layer, labels_layer):  # the engine would say so after reading it all
                raise QgsProcessingException(self.tr(
                    "The validation labels are the training labels: accuracy on the labels the classifier learns from "
                    "is not the map's accuracy. Choose validation labels kept apart from training, or none."))
        self.check_destinations({self.SCENE: existing_layer_file(scene_layer),
                                 self.LABELS: existing_layer_file(labels_layer),
                                 self.VALIDATION: existing_layer_file(validation_layer), self.CLASSES: classes_path,
                                 **self.extra_inputs(parameters, context)},
                                destinations, self.MODEL_FOLDERS)  # before anything is read or written
        scene = raster_file(scene_layer, "scene", subdatasets=True)
        class_field = self.parameterAsString(parameters, self.CLASS_FIELD, context).strip() or None
        validation_field = self.parameterAsString(parameters, self.VALIDATION_CLASS_FIELD, context).strip() or None
        labels = labels_file(labels_layer, "labels", context, feedback, check_field=True, class_field=class_field)
        validation = (labels_file(validation_layer, "validation", context, feedback, check_field=True,
                                  class_field=validation_field or class_field)  # as the engine reads them
                      if validation_layer is not None else None)
        engine_args = self.engine_arguments(parameters, context, feedback)
        leave_out = bands_to_leave_out(self, parameters, context)
        seed = engine_args["settings"].seed if "settings" in engine_args else engine_args.get("seed", 0)
        feedback.pushInfo(self.tr("Seed {}{}").format(seed, f"; bands to leave out as told: {leave_out}"
                                                      if leave_out else ""))  # QGIS echoes a seed as 4e+09

        from ...core.outputs import runs_in_progress
        from ...core.pipeline import classify_scene  # heavy: numpy, the engine, later torch

        for other in runs_in_progress():  # a dock run, say: both go on, each several times slower
            feedback.pushWarning(self.tr("Another HyperSynth run is still going ({}): the two share the CPU and "
                                         "both run several times slower until one ends").format(other))

        staging = staging_folder(destinations[self.OUTPUT])
        with engine_errors():
            try:
                with engine_warnings(feedback), band_choice_refused(self):
                    outputs = classify_scene(scene, labels, staging, classes_path=classes_path, class_field=class_field,
                                             validation_path=validation, validation_field=validation_field,
                                             labels_name=copy_name(labels_layer, labels),
                                             validation_name=copy_name(validation_layer, validation),
                                             reporter=FeedbackReporter(feedback),
                                             overwrite=True, probabilities=bool(destinations[self.PROBABILITIES]),
                                             leave_out_bands=leave_out, **engine_args)
                if feedback.isCanceled():
                    raise Cancelled("cancelled by the user")
                results: dict[str, Any] = {}
                with OutputMoves() as moves:  # all outputs or none
                    self.keep_extra_outputs(staging, destinations, moves, results)
                    if destinations[self.REPORT]:
                        results[self.REPORT] = write_report(Path(outputs.report).with_suffix(".html"),
                                                            destinations[self.REPORT], moves)
                    keep_map_outputs(outputs, destinations, moves, results)
            finally:
                discard_staging(staging)

        results.update(accuracy_results(outputs.metrics))
        log_accuracy(self, feedback, outputs.metrics)
        style_map_outputs(context, results, outputs.classes, scene_layer.name() if scene_layer is not None else "",
                          self)
        return results
