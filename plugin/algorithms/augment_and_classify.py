"""Processing algorithm `hypersynth:augmentandclassify`: synthesise labelled patches from prompts, then classify."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
)

from ...core.methods import MethodSettings
from ..settings import DEVICES, PRESETS, HyperSynthSettings
from .base import check_folder_destination, move_folder_into_place
from .scene_classification import SceneClassificationAlgorithm
from .train_bundle import clip_weights_for


class AugmentAndClassifyAlgorithm(SceneClassificationAlgorithm):
    """Txt2HSI-LDM synthesis from class prompts + a CNN and spectral-forest blend on real, pseudo-labelled and synthetic patches."""

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
    BUNDLE = "BUNDLE"
    CLASSIFIER = "CLASSIFIER"

    def name(self) -> str:
        return "augmentandclassify"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr("Augment & Classify")

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr(
            "Learns the scene with a text-conditioned latent diffusion model (spectral VAE + CLIP text encoder + "
            "diffusion transformer, trained on all pixels and your labels), synthesises extra labelled patches "
            "for each class from its prompt, starting from your labelled patches noised by the anchor strength "
            "(rare classes get more, set by the balance rate), and trains a spectral-spatial CNN and a random "
            "forest on the spectra, their shape and slope, with the real and synthetic patches (plus, if you "
            "ask for them, pseudo-labels: "
            "unlabelled pixels from the more confident half of each class, as a first blend trained on your "
            "labels sees it, whose spectrum is also nearest that class's labelled mean; none by default, as in "
            "the benchmarks they cost accuracy), and an SVM on the diffusion model's own "
            "features of each patch (MTMSD-style). The three are blended, each one's share chosen by cross-validation on your labels "
            "(the report gives them). The blended class probabilities are smoothed with a Gaussian "
            "before each pixel gets its class, which removes isolated misclassified pixels; its width is also "
            "chosen by cross-validation on your labels unless you set it (0: off). Prompts "
            "come from the class and prompt file (otherwise the class names are used).\n\n"
            "Presets: tiny (seconds, to try the workflow), fast (minutes on a laptop CPU), full (GPU). "
            "Optionally keep the trained synthesis model to reuse it, and the classifier to apply it to other "
            "scenes of the same sensor ('Classify with a saved classifier').")

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 (QGIS API)
        defaults = HyperSynthSettings.load()
        self.add_input_parameters()
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
                                          self.tr("Let the diffusion-feature SVM join the blend (its share chosen by "
                                                  "cross-validation, which overrates it; off by default: faster, "
                                                  "and better on the development scene, BENCHMARKS §4)"),
                                          defaultValue=MethodSettings.diffusion_features),
        ]
        for parameter in advanced:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(parameter)
        self.add_seed_parameter()
        self.add_output_parameters()
        self.addParameter(QgsProcessingParameterFolderDestination(
            self.BUNDLE, self.tr("Trained synthesis model (folder, to reuse)"), optional=True,
            createByDefault=False))
        self.addParameter(QgsProcessingParameterFolderDestination(
            self.CLASSIFIER, self.tr("Trained classifier (folder, to classify other scenes)"), optional=True,
            createByDefault=False))

    def engine_arguments(self, parameters: dict[str, Any], context: QgsProcessingContext) -> dict[str, Any]:
        guidance = (self.parameterAsDouble(parameters, self.GUIDANCE, context)
                    if parameters.get(self.GUIDANCE) not in (None, "") else None)
        pseudo_labels = (self.parameterAsInt(parameters, self.PSEUDO_LABELS, context)
                         if parameters.get(self.PSEUDO_LABELS) not in (None, "") else None)
        smoothing = (self.parameterAsDouble(parameters, self.SPATIAL_SMOOTHING, context)
                     if parameters.get(self.SPATIAL_SMOOTHING) not in (None, "") else None)
        preset = PRESETS[self.parameterAsEnum(parameters, self.PRESET, context)]
        settings = MethodSettings(
            preset=preset, clip_weights=clip_weights_for(preset, HyperSynthSettings.load().clip_weights),
            device=DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
            seed=self.parameterAsInt(parameters, self.SEED, context),
            synthetic_per_class=self.parameterAsInt(parameters, self.SYNTHETIC_PER_CLASS, context) or None,
            balance_rate=self.parameterAsDouble(parameters, self.BALANCE_RATE, context),
            synthetic_weight=self.parameterAsDouble(parameters, self.SYNTHETIC_WEIGHT, context),
            guidance=guidance,
            anchor_strength=self.parameterAsDouble(parameters, self.ANCHOR_STRENGTH, context),
            pseudo_labels=pseudo_labels, spatial_smoothing=smoothing,
            diffusion_features=self.parameterAsBoolean(parameters, self.DIFFUSION_FEATURES, context),
            patch_size=self.parameterAsInt(parameters, self.PATCH_SIZE, context) or None)
        return {"method": "augment", "settings": settings}

    def check_outputs(self, parameters: dict[str, Any], context: QgsProcessingContext) -> None:
        for key in (self.BUNDLE, self.CLASSIFIER):
            destination = self.parameterAsFileOutput(parameters, key, context)
            if destination:
                check_folder_destination(destination)

    def keep_extra_outputs(self, staged: Path, parameters: dict[str, Any], context: QgsProcessingContext,
                           results: dict[str, Any]) -> None:
        from ...core.pipeline import BUNDLE, CLASSIFIER_BUNDLE

        for key, folder in ((self.BUNDLE, BUNDLE), (self.CLASSIFIER, CLASSIFIER_BUNDLE)):
            destination = self.parameterAsFileOutput(parameters, key, context)
            if destination and (staged / folder).is_dir():
                results[key] = move_folder_into_place(staged / folder, destination)
