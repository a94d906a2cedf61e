"""Processing algorithm `hypersynth:synthesize`: labelled synthetic patches from a trained synthesis model."""

from __future__ import annotations

import os
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
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ...core.io.patch_files import check_patches_format
from ..settings import DEVICES, HyperSynthSettings
from .base import FeedbackReporter, HyperSynthAlgorithm, engine_errors, engine_warnings
from .destinations import check_mosaic_companions
from .inputs import check_model_kind, seed_parameter, seed_value
from .mosaic_layers import load_mosaic


class SynthesizeAlgorithm(HyperSynthAlgorithm):
    """Sample patches for one class's stored prompt, or for a free prompt, into a GeoTIFF mosaic (shown on the
    map), a NumPy .npz file or a CSV spectral library."""

    GROUP = "synthesis"

    BUNDLE = "BUNDLE"
    CLASS_ID = "CLASS_ID"
    PROMPT = "PROMPT"
    LABEL = "LABEL"
    COUNT = "COUNT"
    GUIDANCE = "GUIDANCE"
    STEPS = "STEPS"
    ANCHOR_STRENGTH = "ANCHOR_STRENGTH"
    ATTENTION = "ATTENTION"
    SEED = "SEED"
    DEVICE = "DEVICE"
    OUTPUT = "OUTPUT"

    def name(self) -> str:
        return "synthesize"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr("Synthesise labelled patches")

    def help_text(self) -> str:
        return self.tr(
            "Generates hyperspectral patches with a trained synthesis model: the folder saved as 'Trained "
            "synthesis model' by Augment & Classify or by 'Train synthesis model bundle'. Give either a class id, "
            "to use the prompt the model stored for that class, or a prompt you write, e.g. 'wheat field, early "
            "growth' (its patches get the label id you give; not both).\n\n"
            "The output file's type says what is written. A .npz file (NumPy) holds everything: patches (N, bands, "
            "p, p) in the scene's units, centre labels, per-pixel masks, the prompts, the wavelengths and FWHM, and "
            "optionally the cross-attention maps. A .csv file is a spectral library of the patches' centre spectra "
            "(one row a patch, one column a band, named by wavelength), for a spreadsheet or another spectral "
            "tool. A .tif file (the default) lays the patches side by side as a GeoTIFF with wavelengths and FWHM, "
            "and writes each patch's class on its pixels beside it (NAME_classes.tif, for patches of a class or a "
            "free prompt's label of 1 or more); both are added to the map, the mosaic in false colour and its classes "
            "hidden, so the synthetic spectra can be looked at with the spectral profile, or used as training data "
            "by another classifier. The patches are sampled from noise with the prompt alone, or, with an anchor "
            "strength below 1 (advanced), from the class's labelled patches kept with the model (4 a class) noised "
            "that far, as a run starts its patches from the labelled ones (0.5 there; a run also drops those nearer "
            "another class). The log says how a class's patches compare with its labelled mean, and warns when they "
            "do not look like it.\n\n"
            "Run time: a tiny model's patches take about a second; a fast model's about 15 s for 16 patches and "
            "20 s for 256 on a 2-core laptop CPU, most of it loading the model; a full model is best run on a "
            "GPU. More sampling steps take proportionally longer.")

    TAGS = ("few labels", "diffusion", "synthetic samples", "text prompts", "data augmentation", "generative")

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
            QgsProcessingParameterNumber.Integer, defaultValue=0, minValue=0, maxValue=65535))
        self.addParameter(QgsProcessingParameterNumber(
            self.COUNT, self.tr("Number of patches"), QgsProcessingParameterNumber.Integer, defaultValue=16,
            minValue=1, maxValue=100000))
        advanced = [
            QgsProcessingParameterNumber(self.GUIDANCE, self.tr("Guidance ω (empty: the model's)"),
                                         QgsProcessingParameterNumber.Double, optional=True, minValue=0.0),
            QgsProcessingParameterNumber(self.STEPS, self.tr("Sampling steps (0: the model's)"),
                                         QgsProcessingParameterNumber.Integer, defaultValue=0, minValue=0),
            QgsProcessingParameterNumber(self.ANCHOR_STRENGTH,
                                         self.tr("Anchor strength (1: from noise; below 1: from the class's labelled "
                                                 "patches kept with the model, noised this far)"),
                                         QgsProcessingParameterNumber.Double, defaultValue=1.0, minValue=0.05,
                                         maxValue=1.0),
            QgsProcessingParameterBoolean(self.ATTENTION, self.tr("Also store cross-attention maps"),
                                          defaultValue=False),
            seed_parameter(self, self.SEED),
            QgsProcessingParameterEnum(self.DEVICE, self.tr("Device"), options=list(DEVICES),
                                       defaultValue=DEVICES.index(HyperSynthSettings.load().device)),
        ]
        for parameter in advanced:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT, self.tr("Synthetic patches"),
            fileFilter=self.tr("GeoTIFF mosaic (*.tif);;NumPy archives (*.npz);;Spectral library CSV (*.csv)")))

    def check_parameters(self, parameters: dict[str, Any], context: QgsProcessingContext) -> None:
        """The file name (.npz, .csv or .tif; attention maps in a .npz only), the model folder, a class id or a
        prompt (one of them), and the device."""
        super().check_parameters(parameters, context)
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        if out and not os.path.isdir(out):  # a folder, or one that cannot be written: check_destinations says so
            with engine_errors():
                check_patches_format(out, self.parameterAsBool(parameters, self.ATTENTION, context))
            check_mosaic_companions(out)
        bundle = self.parameterAsFile(parameters, self.BUNDLE, context)
        if not bundle or not os.path.isdir(bundle):
            raise QgsProcessingException(f"the synthesis model must be a folder; {bundle!r} is not one")
        check_model_kind(bundle, "synthesis")
        class_id, prompt = self.class_and_prompt(parameters, context)
        if (class_id is None) == (prompt is None):
            given = "both were given" if class_id is not None else "neither was given"
            raise QgsProcessingException("give either a class id (its stored prompt is used) or a free prompt, "
                                         f"not both and not neither ({given})")
        self.check_device_parameter(parameters, context)

    def class_and_prompt(self, parameters: dict[str, Any], context: QgsProcessingContext
                         ) -> tuple[Optional[int], Optional[str]]:
        """The class id and the free prompt given (None where not)."""
        class_id = (self.parameterAsInt(parameters, self.CLASS_ID, context)
                    if parameters.get(self.CLASS_ID) not in (None, "") else None)
        prompt = (self.parameterAsString(parameters, self.PROMPT, context) or "").strip() or None
        return class_id, prompt

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        self.check_parameters(parameters, context)
        bundle = self.parameterAsFile(parameters, self.BUNDLE, context)
        class_id, prompt = self.class_and_prompt(parameters, context)
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        self.check_destinations({self.BUNDLE: bundle}, {self.OUTPUT: out})

        from ...core.methods import MethodSettings
        from ...core.pipeline import synthesize_to_file

        guidance = (self.parameterAsDouble(parameters, self.GUIDANCE, context)
                    if parameters.get(self.GUIDANCE) not in (None, "") else None)
        label = self.parameterAsInt(parameters, self.LABEL, context)
        settings = MethodSettings(seed=seed_value(self, parameters, context, self.SEED),
                                  device=DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
                                  guidance=guidance, steps=self.parameterAsInt(parameters, self.STEPS, context) or None)
        with engine_errors():
            with engine_warnings(feedback):
                path = synthesize_to_file(bundle, out, class_id=class_id, prompt=prompt, label=label,
                                          n=self.parameterAsInt(parameters, self.COUNT, context), settings=settings,
                                          attention=self.parameterAsBool(parameters, self.ATTENTION, context),
                                          reporter=FeedbackReporter(feedback), overwrite=True,
                                          anchor_strength=self.parameterAsDouble(parameters, self.ANCHOR_STRENGTH,
                                                                                 context))
        load_mosaic(context, path, self.OUTPUT, feedback)
        return {self.OUTPUT: str(path)}
