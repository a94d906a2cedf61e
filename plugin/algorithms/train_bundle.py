"""Processing algorithm `hypersynth:trainbundle`: train a text-conditioned synthesis model and keep it as a folder."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
)

from ...core.progress import Cancelled
from ..settings import DEVICES, PRESETS, HyperSynthSettings
from .base import FeedbackReporter, HyperSynthAlgorithm, check_patch_size, engine_errors, engine_warnings
from .inputs import (existing_layer_file, labels_file, raster_file, refuse_the_scene_as_labels, seed_parameter,
                     seed_value)
from .band_parameters import RUN_LEAVE_OUT_TITLE, band_choice_refused, bands_to_leave_out, leave_out_bands_parameter
from .clip_weights import clip_weights_chosen, clip_weights_parameter
from .destinations import OutputMoves, discard_staging, move_folder_into_place, staging_folder


class TrainBundleAlgorithm(HyperSynthAlgorithm):
    """Train the spectral VAE, the prompt encoder and the latent denoiser on a scene and its labels."""

    GROUP = "synthesis"

    SCENE = "SCENE"
    LABELS = "LABELS"
    CLASS_FIELD = "CLASS_FIELD"
    CLASSES = "CLASSES"
    PRESET = "PRESET"
    DEVICE = "DEVICE"
    SEED = "SEED"
    PATCH_SIZE = "PATCH_SIZE"
    OUTPUT = "OUTPUT"

    def name(self) -> str:
        return "trainbundle"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr("Train synthesis model bundle")

    def help_text(self) -> str:
        return self.tr(
            "Trains the text-conditioned synthesis model (spectral VAE + CLIP text encoder + diffusion "
            "transformer) on all pixels of the scene and your labels, and saves it as a folder (a model "
            "bundle). Use the bundle with 'Synthesise labelled patches'. Augment & Classify can reuse it "
            "to skip this training: in the HyperSynth panel's run dialog, in its Processing algorithm ('Synthesis "
            "model to reuse') or on the command line ('hypersynth augment-classify --synthesis-model'). Prompts "
            "come from the class and prompt file (otherwise the class names are used).\n\n"
            "Presets: tiny (under a minute on a small scene, to try the workflow), fast (minutes on a laptop CPU), "
            "full (GPU). The fast and full presets load the CLIP weights file CLIP_WEIGHTS names, else the one set in "
            "the HyperSynth settings. A cancelled or failed run leaves no folder behind.")

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 (QGIS API)
        defaults = HyperSynthSettings.load()
        self.add_training_label_parameters()
        self.addParameter(QgsProcessingParameterEnum(
            self.PRESET, self.tr("Preset"), options=list(PRESETS), defaultValue=PRESETS.index(defaults.preset)))
        advanced = [
            QgsProcessingParameterEnum(self.DEVICE, self.tr("Device"), options=list(DEVICES),
                                       defaultValue=DEVICES.index(defaults.device)),
            seed_parameter(self, self.SEED),
            QgsProcessingParameterNumber(self.PATCH_SIZE,
                                         self.tr("Patch size in pixels (0: chosen from the scene, at most the "
                                                 "preset's)"),
                                         QgsProcessingParameterNumber.Integer, defaultValue=0, minValue=0),
            leave_out_bands_parameter(self, RUN_LEAVE_OUT_TITLE),
            clip_weights_parameter(self),
        ]
        for parameter in advanced:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterFolderDestination(
            self.OUTPUT, self.tr("Trained synthesis model (folder)")))

    TAGS = ("few labels", "diffusion", "VAE", "CLIP", "text prompts", "synthetic samples", "deep learning")
    LEAVE_OUT_EFFECT = ("The model keeps them: Augment & Classify reusing it on a scene of as many bands leaves them "
                        "out again unless told others.")

    def check_parameters(self, parameters: dict[str, Any], context: QgsProcessingContext) -> None:
        """The patch size against the scene's size, and the device."""
        super().check_parameters(parameters, context)
        check_patch_size(self.parameterAsInt(parameters, self.PATCH_SIZE, context),
                         self.parameterAsRasterLayer(parameters, self.SCENE, context), self.title(self.PATCH_SIZE))
        self.check_device_parameter(parameters, context)

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        self.check_parameters(parameters, context)
        scene_layer = self.parameterAsRasterLayer(parameters, self.SCENE, context)
        labels_layer = self.parameterAsLayer(parameters, self.LABELS, context)
        classes_path = self.parameterAsFile(parameters, self.CLASSES, context) or None
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        if not out:
            raise QgsProcessingException("choose a folder for the trained synthesis model")
        refuse_the_scene_as_labels(scene_layer, labels_layer)
        # before the long training, not after it
        self.check_destinations({self.SCENE: existing_layer_file(scene_layer),
                                 self.LABELS: existing_layer_file(labels_layer), self.CLASSES: classes_path},
                                {self.OUTPUT: out}, {self.OUTPUT: "synthesis"})
        patch_size = self.parameterAsInt(parameters, self.PATCH_SIZE, context)  # checked in check_parameters
        scene = raster_file(scene_layer, "scene", subdatasets=True)
        class_field = self.parameterAsString(parameters, self.CLASS_FIELD, context).strip() or None
        labels = labels_file(labels_layer, "labels", context, feedback, check_field=True, class_field=class_field)

        from ...core.methods import MethodSettings
        from ...core.pipeline import train_bundle  # heavy: the engine and torch

        preset = PRESETS[self.parameterAsEnum(parameters, self.PRESET, context)]
        settings = MethodSettings(
            preset=preset, device=DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
            seed=seed_value(self, parameters, context, self.SEED), patch_size=patch_size or None,
            clip_weights=clip_weights_chosen(self, parameters, context, preset, feedback))
        staging = staging_folder(out)
        with engine_errors(cancelled="cancelled by the user; no model was written"):
            try:
                with engine_warnings(feedback), band_choice_refused(self):
                    bundle = train_bundle(scene, labels, staging / "model_bundle", classes_path=classes_path,
                                          class_field=class_field, settings=settings,
                                          reporter=FeedbackReporter(feedback),
                                          leave_out_bands=bands_to_leave_out(self, parameters, context))
                if feedback.isCanceled():
                    raise Cancelled("cancelled by the user")
                with OutputMoves() as moves:
                    result = move_folder_into_place(bundle, out, "synthesis", moves)
            finally:
                discard_staging(staging)
        feedback.pushInfo(self.tr("Synthesis model saved in {}").format(result))
        return {self.OUTPUT: result}
