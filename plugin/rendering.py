"""How scenes and class maps look in QGIS: RGB composites picked by wavelength, class palettes, and what spectral
plots show: gaps at bad bands, the name of the value axis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from qgis.core import (
    QgsContrastEnhancement,
    QgsMultiBandColorRenderer,
    QgsPalettedRasterRenderer,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.PyQt.QtGui import QColor

from ..core.io.band_metadata import read_band_facts
from ..core.io.pixel_values import PixelValues
from ..core.io.pixel_values import read_pixel_values as read_file_pixel_values
from ..core.scene import ClassInfo
from .layers import gdal_name

# Target wavelengths (nm) of each composite, in red, green, blue order.
COMPOSITES: dict[str, tuple[float, float, float]] = {
    "true colour": (640.0, 550.0, 470.0),  # what the eye sees
    "false colour": (860.0, 650.0, 550.0),  # colour infrared (CIR): vegetation shows red
    "swir": (1650.0, 860.0, 650.0),  # SWIR / NIR / red: soil, moisture and built-up areas stand out
}
# Composite names as the buttons show them.
COMPOSITE_TITLES = {"true colour": "True colour", "false colour": "False colour (CIR)", "swir": "SWIR"}
class NoWavelengthsError(ValueError):
    """The raster does not say which wavelength each band holds."""


@dataclass
class CompositeChoice:
    """Which bands a composite uses and why."""

    bands: tuple[int, int, int]  # 1-based band numbers for red, green, blue
    wavelengths: Optional[tuple[float, float, float]]  # nm of the chosen bands, None when unknown
    note: str = ""  # shown to the analyst when the choice is a guess (no wavelengths, target out of range)


def read_band_info(source: str) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """``(wavelengths, bad)`` of a raster (a QGIS layer's source), from one read of its metadata: the centre
    wavelength (nm) of every band, or None when the file does not say; ``(B,)`` bool, True for bands flagged bad
    (ENVI/EnMAP ``bbl`` = 0), or None when nothing is flagged.

    The engine's reader of band metadata (:func:`~hypersynth.core.io.band_metadata.read_band_facts`: band tags, the
    ENVI header, GDAL's IMAGERY domain, band descriptions, a NetCDF band coordinate), so composites and spectral plots
    show the wavelengths a run uses. QGIS's raster provider does not expose band metadata.
    """
    facts = read_band_facts(gdal_name(source))
    if facts is None:
        return None, None
    return facts.wavelengths, (None if facts.flagged_good.all() else ~facts.flagged_good)


def read_pixel_values(source: str) -> PixelValues:
    """What the values of a raster (a QGIS layer's source) are: the engine's
    :func:`~hypersynth.core.io.pixel_values.read_pixel_values`, so spectral plots and reports name them alike."""
    return read_file_pixel_values(gdal_name(source))


def blank_bad_bands(values: Sequence[float], bad: Optional[Sequence[bool]]) -> np.ndarray:
    """A float copy of a ``(B,)`` spectrum with NaN (a gap in the plot) at the bands flagged bad; unchanged where
    ``bad`` is None or of another band count (the spectrum is not of this scene's bands)."""
    out = np.array(values, dtype=float)
    if bad is not None and len(bad) == len(out):
        out[np.asarray(bad, dtype=bool)] = np.nan
    return out


def break_at_missing_bands(x: Sequence[float], *spectra: Sequence[float]
                           ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Spectra over wavelengths with a NaN point inserted wherever bands are missing, so a plot leaves a gap there.

    Spectra of the usable bands alone (a synthesis model's, a scene with its water-absorption bands dropped) would
    otherwise be drawn straight across the absorption windows. The gaps are the engine's figures' own
    (:func:`~hypersynth.core.report.band_gaps`: a step over :data:`~hypersynth.core.report.GAP_STEP` times those
    around it), so the uneven sampling of real sensors breaks nothing; where the wavelengths step back (a second
    detector, as EnMAP's SWIR), each detector gets its own line.

    Args:
        x: ``(B,)`` wavelengths (nm) or band numbers.
        spectra: ``(B,)`` values each.

    Returns:
        ``x`` and the spectra, each ``(B + gaps,)`` float; the inserted x is the middle of its gap.
    """
    from ..core.report import band_gaps, with_gaps

    xs = np.asarray(x, dtype=float)
    ys = [np.asarray(s, dtype=float) for s in spectra]
    if len(xs) < 2:
        return xs, ys
    gaps = band_gaps(xs)
    if not gaps.any():
        return xs, ys
    broken = with_gaps(xs, gaps, *ys)
    return broken[0], list(broken[1:])


def read_band_wavelengths(source: str) -> Optional[np.ndarray]:
    """The wavelengths of :func:`read_band_info`."""
    return read_band_info(source)[0]


def read_bad_bands(source: str) -> Optional[np.ndarray]:
    """The bad-band flags of :func:`read_band_info`."""
    return read_band_info(source)[1]


def nearest_bands(wavelengths: Sequence[float], targets: Sequence[float],
                  bad: Optional[Sequence[bool]] = None) -> tuple[int, ...]:
    """1-based numbers of the (good) bands nearest to each target wavelength.

    Raises:
        NoWavelengthsError: when there are no wavelengths, or every band is flagged bad.
    """
    wl = np.asarray(wavelengths, dtype=float)
    if wl.size == 0 or not np.isfinite(wl).any():
        raise NoWavelengthsError("the raster has no band wavelengths; set them in its metadata")
    usable = np.isfinite(wl)
    if bad is not None:
        usable &= ~np.asarray(bad, dtype=bool)
    if not usable.any():
        raise NoWavelengthsError("every band is flagged bad; nothing to display")
    distance = np.where(usable[None, :], np.abs(wl[None, :] - np.asarray(targets, float)[:, None]), np.inf)
    return tuple(int(i) + 1 for i in distance.argmin(axis=1))


def fallback_bands(band_count: int, bad: Optional[Sequence[bool]] = None) -> tuple[int, int, int]:
    """Bands at 5/6, 1/2 and 1/6 of the band range (red, green, blue) when wavelengths are unknown; each the nearest
    band not flagged ``bad`` (:func:`nearest_usable_band`)."""
    if band_count < 1:
        raise ValueError("the raster has no bands")
    pick = [int(np.floor(1.5 + f * (band_count - 1))) for f in (5 / 6, 1 / 2, 1 / 6)]  # round half up
    red, green, blue = (nearest_usable_band(b, bad) for b in pick)
    return red, green, blue


def nearest_usable_band(band: int, bad: Optional[Sequence[bool]]) -> int:
    """The 1-based ``band`` itself, or the nearest band by number that ``bad`` does not flag (the lower on a tie);
    ``band`` where every band is flagged, or ``bad`` is None."""
    if bad is None:
        return band
    usable = np.flatnonzero(~np.asarray(bad, dtype=bool)) + 1
    if usable.size == 0:
        return band
    return int(usable[np.argmin(np.abs(usable - band))])


def choose_composite(wavelengths: Optional[Sequence[float]], band_count: int, composite: str,
                     bad: Optional[Sequence[bool]] = None) -> CompositeChoice:
    """The bands for ``composite`` (a key of :data:`COMPOSITES`) on a raster with these wavelengths."""
    if composite not in COMPOSITES:
        raise ValueError(f"unknown composite {composite!r}; choose one of {', '.join(COMPOSITES)}")
    if band_count < 3:
        raise ValueError(f"an RGB composite needs at least 3 bands; this raster has {band_count}")
    targets = COMPOSITES[composite]
    if wavelengths is None or len(wavelengths) != band_count:
        return CompositeChoice(fallback_bands(band_count, bad), None,
                               "No band wavelengths in this raster: showing bands at 1/6, 1/2 and 5/6 "
                               "of the band range.")
    bands = nearest_bands(wavelengths, targets, bad)
    wl = tuple(float(wavelengths[b - 1]) for b in bands)
    far = [f"{t:.0f} nm" for t, w in zip(targets, wl) if abs(t - w) > 50.0]
    note = f"Closest bands are more than 50 nm away from {', '.join(far)}." if far else ""
    return CompositeChoice((bands[0], bands[1], bands[2]), (wl[0], wl[1], wl[2]), note)


def _stretch(layer: QgsRasterLayer, band: int, extent: QgsRectangle) -> QgsContrastEnhancement:
    """A 2–98 % cumulative-cut linear stretch, QGIS's own default for multiband composites."""
    provider = layer.dataProvider()
    low, high = provider.cumulativeCut(band, 0.02, 0.98, extent, 250000)
    enhancement = QgsContrastEnhancement(provider.dataType(band))
    enhancement.setContrastEnhancementAlgorithm(QgsContrastEnhancement.StretchToMinimumMaximum)
    if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
        high = low + 1.0
    enhancement.setMinimumValue(low)
    enhancement.setMaximumValue(high)
    return enhancement


def apply_composite(layer: QgsRasterLayer, composite: str) -> CompositeChoice:
    """Show ``layer`` as an RGB composite (``"true colour"``, ``"false colour"`` or ``"swir"``).

    Returns the bands chosen, so the caller can tell the analyst (and warn when it was a guess).
    """
    if not isinstance(layer, QgsRasterLayer) or not layer.isValid():
        raise ValueError("choose a valid raster layer first")
    wavelengths, bad = read_band_info(layer.source())  # one read of the file's metadata
    choice = choose_composite(wavelengths, layer.bandCount(), composite, bad)
    show_bands(layer, choice.bands)
    return choice


def show_bands(layer: QgsRasterLayer, bands: Sequence[int]) -> None:
    """Show ``layer`` as the RGB composite of its 1-based ``bands`` (red, green, blue), each stretched as QGIS
    stretches a multiband composite (:func:`_stretch`)."""
    red, green, blue = bands
    renderer = QgsMultiBandColorRenderer(layer.dataProvider(), red, green, blue)
    extent = layer.extent()
    renderer.setRedContrastEnhancement(_stretch(layer, red, extent))
    renderer.setGreenContrastEnhancement(_stretch(layer, green, extent))
    renderer.setBlueContrastEnhancement(_stretch(layer, blue, extent))
    layer.setRenderer(renderer)
    layer.triggerRepaint()


def show_as(copy: QgsRasterLayer, original: QgsRasterLayer) -> Optional[tuple[int, int, int]]:
    """Show ``copy`` (the same bands, some more flagged bad) as ``original`` is shown: its RGB composite's bands, each
    moved to the nearest one ``copy`` does not flag bad, restretched; returns those bands, or None (``copy`` left as
    QGIS shows it) where ``original`` is not shown as an RGB composite or has other bands."""
    renderer = original.renderer()
    if not isinstance(renderer, QgsMultiBandColorRenderer) or copy.bandCount() != original.bandCount():
        return None
    wanted = (renderer.redBand(), renderer.greenBand(), renderer.blueBand())
    if min(wanted) < 1:  # a colour the composite leaves out (band 0): keep QGIS's own
        return None
    _, bad = read_band_info(copy.source())
    flagged = np.zeros(copy.bandCount(), dtype=bool) if bad is None else np.asarray(bad, dtype=bool)
    taken = flagged.copy()  # flagged, or shown: a moved colour takes a band no other colour shows
    for band in wanted:
        if 1 <= band <= taken.size and not flagged[band - 1]:
            taken[band - 1] = True
    bands = []
    for band in wanted:  # QGIS's 1, 2, 3 all flagged go to 4, 5, 6, not all to 4 (a grey picture)
        if 1 <= band <= flagged.size and flagged[band - 1]:
            band = nearest_usable_band(band, taken if not taken.all() else flagged)
            taken[band - 1] = True
        bands.append(band)
    show_bands(copy, bands)
    return bands[0], bands[1], bands[2]


def class_palette_renderer(layer: QgsRasterLayer, classes: Sequence[ClassInfo],
                           band: int = 1) -> QgsPalettedRasterRenderer:
    """A paletted renderer: each class id in its colour with its name; 0 (unclassified) stays transparent."""
    entries = [QgsPalettedRasterRenderer.Class(c.id, QColor(*c.color), c.name)
               for c in sorted(classes, key=lambda c: c.id)]
    return QgsPalettedRasterRenderer(layer.dataProvider(), band, entries)


def apply_class_palette(layer: QgsRasterLayer, classes: Sequence[ClassInfo]) -> None:
    """Style a classified map (or label raster) with the class colours and names."""
    if not isinstance(layer, QgsRasterLayer) or not layer.isValid():
        raise ValueError("the class map is not a valid raster layer")
    layer.setRenderer(class_palette_renderer(layer, classes))
    layer.triggerRepaint()


def composite_rgb(patches: np.ndarray, wavelengths: Optional[Sequence[float]],
                  composite: str = "false colour") -> np.ndarray:
    """RGB thumbnails of hyperspectral patches, stretched together so they compare.

    Args:
        patches: ``(N, B, p, p)`` float array (e.g. synthetic patches).
        wavelengths: ``(B,)`` nm, or None to fall back to bands at 1/6, 1/2, 5/6 of the range.
        composite: a key of :data:`COMPOSITES`.

    Returns:
        ``(N, p, p, 3)`` uint8.
    """
    if patches.ndim != 4:
        raise ValueError(f"patches must be (N, bands, p, p); got shape {patches.shape}")
    bands = choose_composite(wavelengths, patches.shape[1], composite).bands
    rgb = patches[:, [b - 1 for b in bands]].transpose(0, 2, 3, 1).astype(np.float64)  # (N, p, p, 3)
    out = np.zeros(rgb.shape, dtype=np.uint8)
    for ch in range(3):
        values = rgb[..., ch]
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            continue
        low, high = np.percentile(finite, [2.0, 98.0])
        scale = 255.0 / (high - low) if high > low else 0.0
        scaled = np.clip((np.nan_to_num(values, nan=low) - low) * scale, 0, 255)
        out[..., ch] = scaled.astype(np.uint8)
    return out
