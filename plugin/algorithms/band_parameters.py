"""The "Bands to leave out" parameter the algorithms share: its definition, its form checked, its refusals named."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Mapping, Optional

from qgis.core import (QgsProcessingAlgorithm, QgsProcessingContext, QgsProcessingException,
                       QgsProcessingParameterDefinition, QgsProcessingParameterString)

LEAVE_OUT_BANDS = "LEAVE_OUT_BANDS"
LEAVE_OUT_TITLE = "Bands to leave out (numbers or wavelengths, e.g. 108-112, 154-167, 224 or 1340-1450nm)"
# a run's: the scene's file is not changed (an import flags them in its copy instead)
RUN_LEAVE_OUT_TITLE = "Bands this run leaves out (e.g. 108-112, 224 or 1340-1450nm; the file is not changed)"
# a saved classifier's run: by default it leaves out what its training run was told to
SAVED_LEAVE_OUT_TITLE = "Bands this run leaves out (empty: those the classifier's training run left out)"


def leave_out_bands_parameter(algorithm: QgsProcessingAlgorithm, title: str = LEAVE_OUT_TITLE,
                              advanced: bool = False) -> Any:
    """An optional text parameter of bands to leave out (:data:`~hypersynth.core.io.band_choice.LEAVE_OUT_FORMAT`);
    ``advanced``: shown under the dialog's Advanced parameters."""
    parameter = QgsProcessingParameterString(LEAVE_OUT_BANDS, algorithm.tr(title), optional=True)
    if advanced:
        parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    return parameter


def bands_to_leave_out(algorithm: QgsProcessingAlgorithm, parameters: Mapping[str, Any],
                       context: QgsProcessingContext) -> Optional[str]:
    """The bands to leave out as given, None when none are (checked by :func:`check_bands_to_leave_out`, which every
    algorithm's ``check_parameters`` calls before its run)."""
    return algorithm.parameterAsString(parameters, LEAVE_OUT_BANDS, context).strip() or None


def check_bands_to_leave_out(algorithm: QgsProcessingAlgorithm, parameters: Mapping[str, Any],
                             context: QgsProcessingContext) -> None:
    """Refuse, naming the parameter, bands to leave out of no known form or a band number beyond the SCENE layer's
    bands (the scene says the rest, its wavelengths, once it is read: :func:`band_choice_refused`)."""
    from ...core.io.band_choice import bands_left_out, parse_bands_to_leave_out

    text = bands_to_leave_out(algorithm, parameters, context)
    if text is None:
        return
    with band_choice_refused(algorithm):
        numbers = [item.text for item in parse_bands_to_leave_out(text) if not item.by_wavelength]
        bands = scene_band_count(algorithm, parameters, context)
        if numbers and bands is not None:  # before the run, as the dialog can say it
            bands_left_out(", ".join(numbers), bands)


def scene_band_count(algorithm: QgsProcessingAlgorithm, parameters: Mapping[str, Any],
                     context: QgsProcessingContext) -> Optional[int]:
    """The bands of the SCENE layer as the engine will read them, where a plain raster file is the scene; None
    otherwise: a sensor product's subdataset (a PRISMA cube shows its rows as bands) opens as the whole product."""
    from ...core.io.read import plain_raster

    if algorithm.parameterDefinition("SCENE") is None:
        return None
    scene = algorithm.parameterAsRasterLayer(parameters, "SCENE", context)
    if scene is None or not scene.isValid() or scene.providerType() != "gdal":
        return None
    return scene.bandCount() if plain_raster(scene.source()) is not None else None


@contextmanager
def band_choice_refused(algorithm: QgsProcessingAlgorithm) -> Iterator[None]:
    """A refusal of the bands to leave out (a band the scene lacks, none left usable), raised as the parameter's."""
    from ...core.io.band_choice import BandChoiceError

    try:
        yield
    except BandChoiceError as exc:
        title = algorithm.parameterDefinition(LEAVE_OUT_BANDS).description().split(" (")[0]  # without the example
        raise QgsProcessingException(f"{title} ({LEAVE_OUT_BANDS}): {exc}") from None
