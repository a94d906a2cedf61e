"""The CLIP weights a run's text encoder loads, as a Processing parameter: given, or the file HyperSynth's settings
name, and said in the log either way."""

from __future__ import annotations

from typing import Any, Optional

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFile,
)

from ..settings import HyperSynthSettings

CLIP_WEIGHTS = "CLIP_WEIGHTS"


def clip_weights_for(preset_name: str, clip_weights: Optional[str]) -> Optional[str]:
    """The CLIP weights file to give a run of ``preset_name``, or None when the preset cannot use it.

    The settings' file holds CLIP ViT-B-32 weights; a preset whose text tower is the small test tower
    ("tiny") cannot load them, so the setting is left out there instead of failing the run.
    Imports the engine configuration (and torch): call it inside a job or ``processAlgorithm``.
    """
    if not clip_weights:
        return None
    from ...core.ldm.config import preset

    return clip_weights if preset(preset_name).text.model != "tiny" else None


def clip_weights_parameter(algorithm: QgsProcessingAlgorithm) -> Any:
    """An optional, advanced file parameter: the CLIP ViT-B-32 weights the run's text encoder loads, so that a script
    or a model says which it used; empty: the file HyperSynth's settings name, if any."""
    parameter = QgsProcessingParameterFile(
        CLIP_WEIGHTS, algorithm.tr("CLIP ViT-B-32 weights file (empty: the one in HyperSynth's settings, if any)"),
        behavior=QgsProcessingParameterFile.File, optional=True,
        fileFilter=algorithm.tr("CLIP checkpoints (*.safetensors *.bin *.pt);;All files (*)"))
    parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    return parameter


def clip_weights_chosen(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any], context: QgsProcessingContext,
                        preset_name: str, feedback: Optional[QgsProcessingFeedback]) -> Optional[str]:
    """The CLIP weights file a run of ``preset_name`` gets (:func:`clip_weights_for`): the one given, else the
    settings' file; the log says which, and where it came from, since the settings differ from profile to profile."""
    from ...core.ldm.config import preset

    given = algorithm.parameterAsFile(parameters, CLIP_WEIGHTS, context)
    chosen = clip_weights_for(preset_name, given or HyperSynthSettings.load().clip_weights)
    if feedback is not None:
        if chosen:
            feedback.pushInfo(algorithm.tr("CLIP weights: {} ({})").format(
                chosen, "given" if given else "HyperSynth's settings"))
        elif preset(preset_name).text.model == "tiny":
            feedback.pushInfo(algorithm.tr("CLIP weights: none, as the {} preset's small test text tower loads "
                                           "none").format(preset_name))
        else:
            feedback.pushInfo(algorithm.tr("CLIP weights: none given nor in HyperSynth's settings; the text encoder "
                                           "looks in open_clip's cache and says what it falls back to"))
    return chosen
