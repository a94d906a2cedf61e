"""Processing algorithm `hypersynth:augmentandclassify`: synthesise labelled patches from prompts, then classify."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
)

from ...core.methods import MethodSettings
from ..settings import DEVICES, PRESETS, HyperSynthSettings
from .base import check_patch_size
from .inputs import check_model_kind, seed_value
from .clip_weights import CLIP_WEIGHTS, clip_weights_chosen, clip_weights_parameter
from .destinations import OutputMoves, check_mosaic_companions, move_folder_into_place
from .mosaic_layers import load_mosaic
from .scene_classification import CONFIDENCE_HELP, LAYER_NAMES_HELP, SceneClassificationAlgorithm


class AugmentAndClassifyAlgorithm(SceneClassificationAlgorithm):
    """Synthesis from class prompts, then a blend of a CNN and a spectral forest trained on real and synthetic patches."""

    PRESET = "PRESET"
    DEVICE = "DEVICE"
    SYNTHETIC_PER_CLASS = "SYNTHETIC_PER_CLASS"
    BALANCE_RATE = "BALANCE_RATE"
    SYNTHETIC_WEIGHT = "SYNTHETIC_WEIGHT"
    GUIDANCE = "GUIDANCE"
    PATCH_SIZE = "PATCH_SIZE"
    ANCHOR_STRENGTH = "ANCHOR_STRENGTH"
    PSEUDO_LABELS = "PSEUDO_LABELS"
    SPATIAL_SMOOTHING = "SPATIAL_SMOOTHING"
    DIFFUSION_FEATURES = "DIFFUSION_FEATURES"
    TRAINING_AREA = "TRAINING_AREA"
    # what the models learn from: the engine's training areas, in this order
    LEARN_FROM = (("auto", "The whole scene, or the area around the labels when it would take over half of the "
                           "memory available"),
                  ("scene", "The whole scene"),
                  ("labelled-area", "The area around the labels (a GeoTIFF or ENVI scene; mapped whole, tile by "
                                    "tile)"))
    BUNDLE = "BUNDLE"
    REUSE = "REUSE_MODEL"  # a synthesis model saved earlier, used instead of training one
    CLASSIFIER = "CLASSIFIER"
    MODEL_FOLDERS = {BUNDLE: "synthesis", CLASSIFIER: "classifier"}  # the models this algorithm can save
    SYNTHETIC_PATCHES = "SYNTHETIC_PATCHES"  # the synthetic patches the classifier learnt from, on request
    TAGS = ("classification", "few labels", "diffusion", "data augmentation", "synthetic samples", "text prompts", "CNN", "random forest",
            "deep learning")
    HELP_ANCHOR = "how-augment--classify-works"

    def name(self) -> str:
        return "augmentandclassify"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr("Augment & Classify")

    def help_text(self) -> str:
        return self.tr(
            "Learns your scene with a text-conditioned diffusion model: a spectral autoencoder, a CLIP text "
            "encoder and a diffusion transformer, trained on all pixels and your labels. "
            "It then synthesises extra labelled patches for each class from the class's prompt. "
            "Each synthetic patch starts from one of your labelled patches with noise added (the anchor "
            "strength). Rare classes get more patches (the balance rate).\n\n"
            "Two classifiers learn from your real patches and the synthetic ones: a spectral-spatial CNN and a "
            "random forest on the spectra, their shape and their slope. Their class probabilities are blended; "
            "each one's share is chosen by cross-validation on your labels, and the report gives the shares. "
            "Optionally a third member joins the blend: an SVM on the features the diffusion model computes for "
            "each patch ('Add a diffusion-feature SVM to the blend', off by default). It makes the run slower, "
            "cross-validation on your labels tends to give it too large a share, and on the scene HyperSynth was "
            "tuned on the maps were more accurate without it.\n\n"
            "Pseudo-labels are off by default: they add unlabelled pixels that a first blend classifies "
            "confidently and whose spectrum is nearest its class's labelled mean. In the benchmarks they cost "
            "accuracy.\n\n"
            "The blended probabilities are smoothed with a Gaussian before each pixel gets its class. This "
            "removes isolated misclassified pixels. Its width is chosen by cross-validation on your labels "
            "unless you set it (0: off).\n\n"
            "Prompts come from the class and prompt file; without one, the class names are used.\n\n"
            "Outputs: the class map, the confidence (made unless skipped in the dialog; from a script only when "
            "CONFIDENCE is given), optionally each class's probability (a band per class) and the HTML report. "
            "{confidence} {names} With validation labels, the report, the log and the outputs give the overall "
            "accuracy, average accuracy and kappa.\n\n"
            "A scene layer on a GeoTIFF or ENVI file that would take over half of the memory available is not read "
            "whole: the models learn from the area around your labels, and the whole scene is mapped a tile at a "
            "time (the report says which area).\n\n"
            "Presets: tiny (under a minute on a small scene, to try the workflow), fast (minutes on a laptop CPU), "
            "full (GPU). "
            "A synthesis model saved earlier (by this algorithm or 'Train synthesis model bundle', for the same "
            "scene and classes) can be reused instead of training one: 'Synthesis model to reuse'.\n\n"
            "Optionally keep the trained synthesis model (to generate patches with 'Synthesise labelled "
            "patches'), the classifier, to apply it to other scenes of the same sensor ('Classify with a saved "
            "classifier'), and the synthetic patches the classifier learnt from: a .tif mosaic with its classes "
            "beside it, added to the map in false colour, a .csv spectral library of their centre spectra, or a "
            ".npz with everything.").format(confidence=self.tr(CONFIDENCE_HELP), names=self.tr(LAYER_NAMES_HELP))

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 (QGIS API)
        defaults = HyperSynthSettings.load()
        self.add_input_parameters()
        self.addParameter(QgsProcessingParameterFile(
            self.REUSE, self.tr("Synthesis model to reuse (a saved 'Trained synthesis model' folder; empty: train "
                                "one)"), behavior=QgsProcessingParameterFile.Folder, optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            self.PRESET, self.tr("Preset"), options=list(PRESETS), defaultValue=PRESETS.index(defaults.preset)))
        advanced = [
            QgsProcessingParameterEnum(self.DEVICE, self.tr("Device"), options=list(DEVICES),
                                       defaultValue=DEVICES.index(defaults.device)),
            QgsProcessingParameterNumber(self.SYNTHETIC_PER_CLASS,
                                         self.tr("Synthetic patches for an average class (0: the preset's)"),
                                         QgsProcessingParameterNumber.Integer, defaultValue=0, minValue=0),
            QgsProcessingParameterNumber(self.BALANCE_RATE,
                                         self.tr("Balance rate λ (0: equal per class, 1: inverse to frequency)"),
                                         QgsProcessingParameterNumber.Double,
                                         defaultValue=MethodSettings.balance_rate, minValue=0.0, maxValue=1.0),
            QgsProcessingParameterNumber(self.SYNTHETIC_WEIGHT,
                                         self.tr("Synthetic weight (all synthetic patches together count this "
                                                 "much relative to your labels; 1: as much)"),
                                         QgsProcessingParameterNumber.Double,
                                         defaultValue=MethodSettings.synthetic_weight, minValue=0.01, maxValue=10.0),
            QgsProcessingParameterNumber(self.GUIDANCE, self.tr("Guidance ω (empty: the preset's)"),
                                         QgsProcessingParameterNumber.Double, optional=True, minValue=0.0),
            QgsProcessingParameterNumber(self.PATCH_SIZE,
                                         self.tr("Patch size in pixels (0: chosen from the scene, at most the "
                                                 "preset's)"),
                                         QgsProcessingParameterNumber.Integer, defaultValue=0, minValue=0),
            QgsProcessingParameterNumber(self.ANCHOR_STRENGTH,
                                         self.tr("Anchor strength (noise added to your labelled patches before "
                                                 "synthesis; 0.3–0.6: variations of them, 1: pure noise)"),
                                         QgsProcessingParameterNumber.Double,
                                         defaultValue=MethodSettings.anchor_strength, minValue=0.05, maxValue=1.0),
            QgsProcessingParameterNumber(self.PSEUDO_LABELS,
                                         self.tr("Pseudo-labels per class (confident unlabelled pixels; "
                                                 "empty or 0: none)"),
                                         QgsProcessingParameterNumber.Integer, optional=True, minValue=0),
            QgsProcessingParameterNumber(self.SPATIAL_SMOOTHING,
                                         self.tr("Spatial smoothing σ in pixels (empty: chosen by cross-validation "
                                                 "on your labels, 0: off)"),
                                         QgsProcessingParameterNumber.Double, optional=True, minValue=0.0),
            QgsProcessingParameterBoolean(self.DIFFUSION_FEATURES,
                                          self.tr("Add a diffusion-feature SVM to the blend (slower)"),
                                          defaultValue=MethodSettings.diffusion_features),
            QgsProcessingParameterEnum(self.TRAINING_AREA, self.tr("Learn from"),
                                       options=[self.tr(title) for _, title in self.LEARN_FROM], defaultValue=0),
        ]
        for parameter in advanced:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(parameter)
        self.addParameter(clip_weights_parameter(self))
        self.add_seed_parameter()
        self.add_output_parameters()
        self.addParameter(QgsProcessingParameterFolderDestination(
            self.BUNDLE, self.tr("Trained synthesis model (folder, to reuse)"), optional=True,
            createByDefault=False))
        self.addParameter(QgsProcessingParameterFolderDestination(
            self.CLASSIFIER, self.tr("Trained classifier (folder, to classify other scenes)"), optional=True,
            createByDefault=False))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.SYNTHETIC_PATCHES, self.tr("Synthetic patches learnt from"),
            fileFilter=self.tr("GeoTIFF mosaic (*.tif);;NumPy archives (*.npz);;Spectral library CSV (*.csv)"),
            optional=True, createByDefault=False))

    def check_parameters(self, parameters: dict[str, Any], context: QgsProcessingContext) -> None:
        """The destinations' names, the patch size against the scene's size, the device and the synthesis model to
        reuse (a folder of that kind: the engine would refuse another only once the scene is read)."""
        super().check_parameters(parameters, context)
        check_patch_size(self.parameterAsInt(parameters, self.PATCH_SIZE, context),
                         self.parameterAsRasterLayer(parameters, self.SCENE, context), self.title(self.PATCH_SIZE))
        self.check_device_parameter(parameters, context)
        patches = self.parameterAsFileOutput(parameters, self.SYNTHETIC_PATCHES, context)
        if patches and Path(patches).suffix.lower() in (".tif", ".tiff"):  # a mosaic: its class raster beside it
            check_mosaic_companions(patches)
        reuse = self.parameterAsFile(parameters, self.REUSE, context)
        if reuse:
            if not os.path.isdir(reuse):
                raise QgsProcessingException(f"the {self.title(self.REUSE)} ({self.REUSE}) must be the folder of a "
                                             f"saved synthesis model; {reuse} "
                                             f"{'is a file' if os.path.exists(reuse) else 'does not exist'}")
            check_model_kind(reuse, "synthesis")  # a classifier or a run folder is named for what it is
            if self.parameterAsFile(parameters, CLIP_WEIGHTS, context):  # as the command line refuses both
                raise QgsProcessingException(
                    f"a reused synthesis model ({self.REUSE}) brings its own text tower: leave {CLIP_WEIGHTS} empty")

    def engine_arguments(self, parameters: dict[str, Any], context: QgsProcessingContext,
                         feedback: Optional[QgsProcessingFeedback] = None) -> dict[str, Any]:
        guidance = (self.parameterAsDouble(parameters, self.GUIDANCE, context)
                    if parameters.get(self.GUIDANCE) not in (None, "") else None)
        pseudo_labels = (self.parameterAsInt(parameters, self.PSEUDO_LABELS, context)
                         if parameters.get(self.PSEUDO_LABELS) not in (None, "") else None)
        smoothing = (self.parameterAsDouble(parameters, self.SPATIAL_SMOOTHING, context)
                     if parameters.get(self.SPATIAL_SMOOTHING) not in (None, "") else None)
        patch_size = self.parameterAsInt(parameters, self.PATCH_SIZE, context)  # checked in check_parameters
        preset = PRESETS[self.parameterAsEnum(parameters, self.PRESET, context)]
        reuse = self.parameterAsFile(parameters, self.REUSE, context) or None  # checked in check_parameters
        if reuse and feedback is not None:
            feedback.pushInfo(self.tr("CLIP weights: none loaded; the reused synthesis model brings its own text "
                                      "tower"))
        settings = MethodSettings(
            preset=preset, clip_weights=None if reuse else clip_weights_chosen(self, parameters, context, preset,
                                                                               feedback),
            device=DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
            seed=seed_value(self, parameters, context, self.SEED),
            synthetic_per_class=self.parameterAsInt(parameters, self.SYNTHETIC_PER_CLASS, context) or None,
            balance_rate=self.parameterAsDouble(parameters, self.BALANCE_RATE, context),
            synthetic_weight=self.parameterAsDouble(parameters, self.SYNTHETIC_WEIGHT, context),
            guidance=guidance,
            anchor_strength=self.parameterAsDouble(parameters, self.ANCHOR_STRENGTH, context),
            pseudo_labels=pseudo_labels, spatial_smoothing=smoothing,
            diffusion_features=self.parameterAsBoolean(parameters, self.DIFFUSION_FEATURES, context),
            patch_size=patch_size or None)
        patches = self.parameterAsFileOutput(parameters, self.SYNTHETIC_PATCHES, context)
        return {"method": "augment", "settings": settings, "bundle_path": reuse,
                "training_area": self.LEARN_FROM[self.parameterAsEnum(parameters, self.TRAINING_AREA, context)][0],
                "synthetic_patches": Path(patches).suffix.lower() if patches else None}

    def extra_inputs(self, parameters: dict[str, Any], context: QgsProcessingContext) -> dict[str, str]:
        reuse = self.parameterAsFile(parameters, self.REUSE, context)
        return {self.REUSE: reuse} if reuse else {}  # a map saved into it would be deleted with its next model

    def extra_destinations(self, parameters: dict[str, Any], context: QgsProcessingContext) -> dict[str, str]:
        return {key: self.parameterAsFileOutput(parameters, key, context)
                for key in (*self.MODEL_FOLDERS, self.SYNTHETIC_PATCHES)}

    def keep_extra_outputs(self, staged: Path, destinations: dict[str, str], moves: OutputMoves,
                           results: dict[str, Any]) -> None:
        from ...core.pipeline import BUNDLE, CLASSIFIER_BUNDLE

        for key, folder in ((self.BUNDLE, BUNDLE), (self.CLASSIFIER, CLASSIFIER_BUNDLE)):
            if destinations[key] and (staged / folder).is_dir():
                results[key] = move_folder_into_place(staged / folder, destinations[key], self.MODEL_FOLDERS[key],
                                                      moves)
        wanted = destinations[self.SYNTHETIC_PATCHES]
        if wanted:
            from ...core.io.patch_files import companion_files, patch_format
            from ...core.pipeline import SYNTHETIC_PATCHES

            made = staged / (SYNTHETIC_PATCHES + patch_format(wanted))
            classes = companion_files(made)
            if classes and classes[0].exists():  # the mosaic's class raster, its .qml style going along
                moves.put_raster(classes[0], str(companion_files(wanted)[0]))
            move = moves.put_raster if made.suffix == ".tif" else moves.put  # a mosaic replaces a raster's sidecars
            results[self.SYNTHETIC_PATCHES] = move(made, wanted)

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802 (QGIS API)
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        results = super().processAlgorithm(parameters, context, feedback)
        if results.get(self.SYNTHETIC_PATCHES):  # a mosaic and its classes go on the map, as Synthesise puts them
            load_mosaic(context, results[self.SYNTHETIC_PATCHES], self.SYNTHETIC_PATCHES, feedback)
        return results
