"""Processing algorithm `hypersynth:classifywithbundle`: apply a saved classifier to a scene of the same sensor."""

from __future__ import annotations

import json
import os
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
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMapLayer,
)

from ...core.progress import Cancelled
from ..settings import DEVICES, HyperSynthSettings
from .base import FeedbackReporter, HyperSynthAlgorithm, accuracy_results, engine_errors, engine_warnings
from .inputs import (check_model_kind, class_field_parameter, copy_name, existing_layer_file, labels_file,
                     raster_file, scene_parameter)
from .band_parameters import (LEAVE_OUT_BANDS, SAVED_LEAVE_OUT_TITLE, band_choice_refused, bands_to_leave_out,
                              leave_out_bands_parameter, scene_band_count)
from .destinations import OutputMoves, discard_staging, staging_folder, write_report
from .scene_classification import (
    CONFIDENCE_HELP,
    LAYER_NAMES_HELP,
    add_map_destinations,
    keep_map_outputs,
    log_accuracy,
    style_map_outputs,
)


class ClassifyWithBundleAlgorithm(HyperSynthAlgorithm):
    """Classify every pixel of a scene with a classifier saved by Augment & Classify (no labels needed)."""

    MODEL = "MODEL"
    SCENE = "SCENE"
    VALIDATION = "VALIDATION"
    CLASS_FIELD = "CLASS_FIELD"
    DEVICE = "DEVICE"
    OUTPUT = "OUTPUT"
    CONFIDENCE = "CONFIDENCE"
    PROBABILITIES = "PROBABILITIES"
    ACCEPT_OTHER_UNITS = "ACCEPT_OTHER_UNITS"
    METRICS = "METRICS"
    REPORT = "REPORT"
    OVERALL_ACCURACY = "OVERALL_ACCURACY"
    AVERAGE_ACCURACY = "AVERAGE_ACCURACY"
    KAPPA = "KAPPA"

    def name(self) -> str:
        return "classifywithbundle"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr("Classify with a saved classifier")

    def help_text(self) -> str:
        return self.tr(
            "Applies a classifier trained by Augment & Classify (the folder saved as its 'Trained classifier' "
            "output) to a scene of the same sensor and band set, e.g. a neighbouring flight line (one that flags "
            "fewer bands bad than the training scene has its bands matched by wavelength). No labels are "
            "needed. With validation labels the accuracy (overall and average accuracy, kappa) is measured, logged "
            "and given as outputs, and can be written as JSON (the 'Accuracy' output, which needs validation "
            "labels). Outputs as Augment & Classify's: the class map, the confidence (made unless skipped in the "
            "dialog; from a script only when CONFIDENCE is given), "
            "optionally each class's probability, and the report (HTML, one file: the map, the classes' spectra, "
            "and the accuracy with validation labels). {confidence} {names}\n\n"
            "A scene layer on a GeoTIFF or ENVI file is read a tile at a time, never whole, so it may be larger "
            "than memory. Run time: the model loads in seconds; mapping runs at about 9 000 pixels a second on a "
            "2-core laptop CPU (a 2048 × 2048 scene of 200 bands in about 8 minutes) and 12 000–15 000 on a "
            "GPU.").format(confidence=self.tr(CONFIDENCE_HELP), names=self.tr(LAYER_NAMES_HELP))

    TAGS = ("classification", "CNN", "random forest", "saved model", "apply a model")
    LEAVE_OUT_EFFECT = ("Left empty, the run leaves out the bands the classifier's training run was told to, where "
                        "the scene has as many bands as its scene had; the report says whose choice they were.")

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(QgsProcessingParameterFile(
            self.MODEL, self.tr("Trained classifier (folder)"), behavior=QgsProcessingParameterFile.Folder))
        self.addParameter(scene_parameter(self))
        self.addParameter(QgsProcessingParameterMapLayer(
            self.VALIDATION, self.tr("Validation labels for an accuracy assessment"),
            types=[QgsProcessing.TypeVectorAnyGeometry, QgsProcessing.TypeRaster], optional=True))
        self.addParameter(class_field_parameter(
            self.CLASS_FIELD, self.tr("Class field of the validation labels (its name; empty: a field named "
                                      "class_id, class, label, …)")))
        self.addParameter(leave_out_bands_parameter(self, SAVED_LEAVE_OUT_TITLE, advanced=True))
        other_units = QgsProcessingParameterBoolean(
            self.ACCEPT_OTHER_UNITS, self.tr("Map a scene in other units than the classifier learnt (values 1000 "
                                             "× theirs or more, or 30 × with its bright values too, or as little; "
                                             "its map would be wrong)"),
            defaultValue=False)
        other_units.setFlags(other_units.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(other_units)
        device = QgsProcessingParameterEnum(self.DEVICE, self.tr("Device"), options=list(DEVICES),
                                            defaultValue=DEVICES.index(HyperSynthSettings.load().device))
        device.setFlags(device.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(device)
        add_map_destinations(self)
        self.addParameter(QgsProcessingParameterFileDestination(
            self.METRICS, self.tr("Accuracy (JSON)"), fileFilter=self.tr("JSON files (*.json)"), optional=True,
            createByDefault=False))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.REPORT, self.tr("Report"), fileFilter=self.tr("HTML files (*.html)"), optional=True))  # as the runs
        self.addOutput(QgsProcessingOutputNumber(self.OVERALL_ACCURACY, self.tr("Overall accuracy (OA)")))
        self.addOutput(QgsProcessingOutputNumber(self.AVERAGE_ACCURACY, self.tr("Average accuracy (AA)")))
        self.addOutput(QgsProcessingOutputNumber(self.KAPPA, self.tr("Cohen's kappa")))

    def empty_model_message(self) -> str:
        """Why the classifier input is empty: in a model, the step that trains it chains an output it was not asked
        to write (a folder output left blank passes on nothing)."""
        return (f"the {self.title(self.MODEL)} ({self.MODEL}) input is empty. In a model this happens when the step "
                "before was not asked to write it: give that step's 'Trained classifier' output a folder (or make it "
                "a model output); otherwise choose the folder Augment & Classify saved as its 'Trained classifier'")

    def checkParameterValues(self, parameters: dict[str, Any],  # noqa: N802 (QGIS API)
                             context: QgsProcessingContext) -> tuple[bool, str]:
        ok, message = super().checkParameterValues(parameters, context)
        if not ok and not self.parameterAsFile(parameters, self.MODEL, context):  # QGIS says "Incorrect parameter"
            return False, self.empty_model_message()
        return ok, message

    def check_parameters(self, parameters: dict[str, Any], context: QgsProcessingContext) -> None:
        """The destinations' names, an accuracy output only with validation labels, the classifier folder's kind
        and the device."""
        super().check_parameters(parameters, context)
        if (self.parameterAsFileOutput(parameters, self.METRICS, context)
                and self.parameterAsLayer(parameters, self.VALIDATION, context) is None):
            raise QgsProcessingException(
                f"the {self.title(self.METRICS)} output is measured on validation labels, but no "
                f"{self.title(self.VALIDATION)} were given: give them, or skip the {self.title(self.METRICS)} output")
        model = self.parameterAsFile(parameters, self.MODEL, context)
        if not model:
            raise QgsProcessingException(self.empty_model_message())
        if not os.path.isdir(model):
            state = "is a file" if os.path.exists(model) else "does not exist"
            raise QgsProcessingException(f"the {self.title(self.MODEL)} ({self.MODEL}) must be the folder of a saved "
                                         f"classifier; {model} {state}")
        check_model_kind(model, "classifier")
        self.check_device_parameter(parameters, context)

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        self.check_parameters(parameters, context)
        model = self.parameterAsFile(parameters, self.MODEL, context)
        scene_layer = self.parameterAsRasterLayer(parameters, self.SCENE, context)
        validation_layer = self.parameterAsLayer(parameters, self.VALIDATION, context)
        destinations = {self.OUTPUT: self.parameterAsOutputLayer(parameters, self.OUTPUT, context),
                        self.CONFIDENCE: self.parameterAsOutputLayer(parameters, self.CONFIDENCE, context),
                        self.PROBABILITIES: self.parameterAsOutputLayer(parameters, self.PROBABILITIES, context),
                        self.METRICS: self.parameterAsFileOutput(parameters, self.METRICS, context),
                        self.REPORT: self.parameterAsFileOutput(parameters, self.REPORT, context)}
        self.check_destinations({self.MODEL: model, self.SCENE: existing_layer_file(scene_layer),
                                 self.VALIDATION: existing_layer_file(validation_layer)}, destinations)
        device = DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)]  # checked in check_parameters
        scene = raster_file(scene_layer, "scene", subdatasets=True)
        class_field = self.parameterAsString(parameters, self.CLASS_FIELD, context).strip() or None
        validation = (labels_file(validation_layer, "validation", context, feedback, check_field=True,
                                  class_field=class_field) if validation_layer is not None else None)
        out_metrics = destinations[self.METRICS]
        leave_out = bands_to_leave_out(self, parameters, context)
        if leave_out:
            feedback.pushInfo(self.tr("Bands to leave out as told: {}").format(leave_out))
        else:
            from ...core.ldm.bundle import read_bundle_meta

            meta = read_bundle_meta(model)
            trained_without = meta.get("named_left_out")
            if trained_without and meta.get("scene_bands") == scene_band_count(self, parameters, context):
                feedback.pushInfo(self.tr("Bands to leave out: {}, as the classifier's training run was told ({} "
                                          "empty), on a scene of as many bands as its own").format(
                    trained_without, LEAVE_OUT_BANDS))

        from ...core.pipeline import classify_with_model

        staging = staging_folder(destinations[self.OUTPUT])
        with engine_errors():
            try:
                with engine_warnings(feedback), band_choice_refused(self):
                    outputs = classify_with_model(model, scene, staging, validation_path=validation,
                                                  class_field=class_field, device=device,
                                                  reporter=FeedbackReporter(feedback), overwrite=True,
                                                  probabilities=bool(destinations[self.PROBABILITIES]),
                                                  leave_out_bands=leave_out,
                                                  validation_name=copy_name(validation_layer, validation),
                                                  accept_other_units=self.parameterAsBool(
                                                      parameters, self.ACCEPT_OTHER_UNITS, context),
                                                  other_units_option=f"tick '{self.title(self.ACCEPT_OTHER_UNITS)}' "
                                                                     f"({self.ACCEPT_OTHER_UNITS})")
                if feedback.isCanceled():
                    raise Cancelled("cancelled by the user")
                results: dict[str, Any] = {}
                with OutputMoves() as moves:  # all outputs or none
                    if outputs.metrics and out_metrics:
                        results[self.METRICS] = moves.put_text(json.dumps(outputs.metrics, indent=2), staging,
                                                               out_metrics)
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
