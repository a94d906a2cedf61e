"""Processing algorithm `hypersynth:synthesize`: labelled synthetic patches from a trained synthesis model."""

from __future__ import annotations

import os
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ..settings import DEVICES, HyperSynthSettings
from .base import FeedbackReporter, HyperSynthAlgorithm, engine_errors, engine_warnings


class SynthesizeAlgorithm(HyperSynthAlgorithm):
    """Sample patches for one class's stored prompt, or for a free prompt, into a NumPy .npz file."""

    GROUP = "synthesis"

    BUNDLE = "BUNDLE"
    CLASS_ID = "CLASS_ID"
    PROMPT = "PROMPT"
    LABEL = "LABEL"
    COUNT = "COUNT"
    GUIDANCE = "GUIDANCE"
    STEPS = "STEPS"
    ATTENTION = "ATTENTION"
    SEED = "SEED"
    DEVICE = "DEVICE"
    OUTPUT = "OUTPUT"

    def name(self) -> str:
        return "synthesize"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr("Synthesise labelled patches")

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr(
            "Generates hyperspectral patches with a synthesis model saved by Augment & Classify: either for a class "
            "the model knows (its stored prompt) or for any prompt you write, e.g. 'wheat field, early growth'. "
            "The .npz file holds patches (N, bands, p, p) in the scene's units, centre labels, per-pixel masks, "
            "the prompts, the wavelengths and optionally the cross-attention maps.")

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 (QGIS API)
        self.addParameter(QgsProcessingParameterFile(
            self.BUNDLE, self.tr("Trained synthesis model (folder)"), behavior=QgsProcessingParameterFile.Folder))
        self.addParameter(QgsProcessingParameterNumber(
            self.CLASS_ID, self.tr("Class id (uses the class's stored prompt)"), QgsProcessingParameterNumber.Integer,
            optional=True, minValue=1))
        self.addParameter(QgsProcessingParameterString(
            self.PROMPT, self.tr("Or a free prompt"), optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            self.LABEL, self.tr("Label id given to free-prompt patches (0: unlabelled)"),
            QgsProcessingParameterNumber.Integer, defaultValue=0, minValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            self.COUNT, self.tr("Number of patches"), QgsProcessingParameterNumber.Integer, defaultValue=16,
            minValue=1, maxValue=100000))
        advanced = [
            QgsProcessingParameterNumber(self.GUIDANCE, self.tr("Guidance ω (empty: the model's)"),
                                         QgsProcessingParameterNumber.Double, optional=True, minValue=0.0),
            QgsProcessingParameterNumber(self.STEPS, self.tr("Sampling steps (0: the model's)"),
                                         QgsProcessingParameterNumber.Integer, defaultValue=0, minValue=0),
            QgsProcessingParameterBoolean(self.ATTENTION, self.tr("Also store cross-attention maps"),
                                          defaultValue=False),
            QgsProcessingParameterNumber(self.SEED, self.tr("Random seed"), QgsProcessingParameterNumber.Integer,
                                         defaultValue=0, minValue=0),
            QgsProcessingParameterEnum(self.DEVICE, self.tr("Device"), options=list(DEVICES),
                                       defaultValue=DEVICES.index(HyperSynthSettings.load().device)),
        ]
        for parameter in advanced:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT, self.tr("Synthetic patches"), fileFilter=self.tr("NumPy archives (*.npz)")))

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        bundle = self.parameterAsFile(parameters, self.BUNDLE, context)
        if not bundle or not os.path.isdir(bundle):
            raise QgsProcessingException(f"the synthesis model must be a folder; {bundle!r} is not one")
        class_id = (self.parameterAsInt(parameters, self.CLASS_ID, context)
                    if parameters.get(self.CLASS_ID) not in (None, "") else None)
        prompt = self.parameterAsString(parameters, self.PROMPT, context).strip() or None
        if (class_id is None) == (prompt is None):
            raise QgsProcessingException("give either a class id (its stored prompt is used) or a free prompt, "
                                         "not both and not neither")
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        if not out.lower().endswith(".npz"):
            raise QgsProcessingException(f"synthetic patches are written as a .npz file; got {out}")
        self.check_destinations({self.BUNDLE: bundle}, {self.OUTPUT: out})

        from ...core.methods import MethodSettings
        from ...core.pipeline import synthesize_to_file

        guidance = (self.parameterAsDouble(parameters, self.GUIDANCE, context)
                    if parameters.get(self.GUIDANCE) not in (None, "") else None)
        settings = MethodSettings(seed=self.parameterAsInt(parameters, self.SEED, context),
                                  device=DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
                                  guidance=guidance, steps=self.parameterAsInt(parameters, self.STEPS, context) or None)
        with engine_errors():
            with engine_warnings(feedback):
                path = synthesize_to_file(bundle, out, class_id=class_id, prompt=prompt,
                                          label=self.parameterAsInt(parameters, self.LABEL, context),
                                          n=self.parameterAsInt(parameters, self.COUNT, context), settings=settings,
                                          attention=self.parameterAsBool(parameters, self.ATTENTION, context),
                                          reporter=FeedbackReporter(feedback), overwrite=True)
        return {self.OUTPUT: str(path)}
