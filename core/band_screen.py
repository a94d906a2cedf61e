"""Bands that carry almost no signal, found from the data: a suggestion of bands to leave out, never applied by itself.

A cube straight from the sensor (AVIRIS radiance, Hyperion's uncalibrated bands) keeps bands where the atmosphere's
water vapour took nearly all the light, or where the detector gave none. Their values are the sensor's noise, and a
classifier learns from them as from any band. Files seldom flag them (an ENVI ``bbl`` would), so the analyst had to
know the windows by heart. This screen judges each band from a sample of the scene by:

- its **level**, the median of its values against the median band's: under :data:`LOW_LEVEL` of it the band holds
  next to no light;
- its **signal-to-noise ratio**, the level over the noise estimated from neighbouring pixels' differences (the
  shift-difference estimate; the scene's texture is in the differences too, so the figure is a lower bound that
  treats every band alike): under :data:`LOW_SNR` of the median band's, the band is mostly noise;
- and whether it holds **one value** throughout (a saturated or dead detector, a fill value).

Measured on the real cubes here (BENCHMARKS.md, "the band screen"): SalinasA's uncorrected cube gets EHU's 20
water-vapour bands (19 by their level, 0–1.96 % of the median band's; band 167 by its SNR) and band 153 (SNR 2.6 %,
which EHU keeps); EnMAP, Samson and Moffett Field none; Jasper Ridge band 1 (399 nm, median reflectance below 0). A
scene mostly dark in some bands (open water in the short-wave infrared) lowers the median band's level, so a band
of noise there may pass. Written by hand: two medians and a shift difference, which no library of the field gives as
a band screen with these reasons.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from .io.band_choice import band_numbers_text, describe_bands
from .scale_check import value_levels

if TYPE_CHECKING:
    from .scene import Scene

LOW_LEVEL = 0.02  # a band's median under this share of the median band's: no light reached the sensor there
LOW_SNR = 0.05  # a band's signal-to-noise ratio under this share of the median band's: its values are noise
CENTRED_SHARE = 0.4  # values over this share at or below 0: standardised or offset data, no light to judge
SAMPLE_PIXELS = 32_768  # pixels read to screen a scene's bands, at most (four squares of 90 × 90)
SAMPLE_VALUES = 4_000_000  # and at most this many values (pixels × bands): 16 MB of float32, beside a run's own peak
#                            (so 17,424 pixels, four squares of 66 × 66, for 224 bands)
MIN_BAND_PIXELS = 16  # a band with data at fewer of the pixels read is not judged
SAMPLE_WINDOWS = 4  # squares spread over the scene (2 × 2), so one field or one cloud does not decide


@dataclass(frozen=True)
class BandScreen:
    """Each band's level and signal-to-noise ratio, and the bands they suggest leaving out."""

    level: np.ndarray  # (B,) the band's median value over the pixels read; NaN for a band without data there
    noise: np.ndarray  # (B,) the noise's standard deviation from neighbouring pixels' differences (with the scene's
    #                    texture in it: an upper bound, so the SNR is a lower bound); NaN without pairs
    screened: np.ndarray  # (B,) bool: the bands looked at (not flagged bad by the file, MIN_BAND_PIXELS with data)
    low_level: np.ndarray  # (B,) bool: screened bands whose level is under LOW_LEVEL of the median band's
    low_snr: np.ndarray  # (B,) bool: screened bands whose SNR is under LOW_SNR of the median band's
    constant: np.ndarray  # (B,) bool: screened bands of one value over the pixels read (saturated, dead, a fill)
    pixels: int  # pixels read with data in some band looked at
    why_none: str = ""  # why no band can be suggested at all (values at or below zero, too few pixels), else ""
    median: float = math.nan  # the median of the bands looked at's values over the pixels read, pooled: the scene's
    #                           typical value as .scale_check.typical_value takes it, from these pixels
    high: float = math.nan  # their HIGH_PERCENTILE (.scale_check.typical_levels' second): the bright values' scale

    @property
    def suggested(self) -> np.ndarray:
        """``(B,)`` bool: the bands to leave out."""
        return self.low_level | self.low_snr | self.constant

    @property
    def snr(self) -> np.ndarray:
        """``(B,)`` level over noise: a lower bound (the noise holds the scene's texture); NaN where unknown, for a
        constant band and for a level at or below zero."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where((self.noise > 0) & (self.level > 0), self.level / self.noise, np.nan)

    def option_text(self) -> str:
        """The suggested bands as ``--leave-out-bands`` and the dock's Leave out bands… take them: "108-112,224"."""
        return band_numbers_text(self.suggested)

    def describe(self, wavelengths: Optional[Sequence[float]] = None, pixels: bool = True) -> str:
        """What the screen found, in a sentence: which bands and why, or why none; ``pixels``: begin with how many
        pixels it read."""
        read = f"in {self.pixels:,} pixels read, " if pixels else ""
        if self.why_none:
            return f"no band can be suggested from the data: {self.why_none}"
        if not self.suggested.any():
            return (f"{read}every band looked at has at least {_percent(LOW_LEVEL)} of the median band's level and "
                    f"{_percent(LOW_SNR)} of its signal-to-noise ratio: the data suggest leaving out no band")
        reasons = []
        if self.low_level.any():
            reasons.append(f"{describe_bands(self.low_level, wavelengths)} {_verb(self.low_level)} under "
                           f"{_percent(LOW_LEVEL)} of the median band's level (next to no light: a water-vapour "
                           "window, an uncalibrated band, the spectrum's edge)")
        if self.low_snr.any():
            reasons.append(f"{describe_bands(self.low_snr, wavelengths)} {_verb(self.low_snr)} under "
                           f"{_percent(LOW_SNR)} of the median band's signal-to-noise ratio (mostly noise)")
        if self.constant.any():
            reasons.append(f"{describe_bands(self.constant, wavelengths)} {_verb(self.constant)} one value "
                           "throughout (a saturated or dead detector, a fill value)")
        return read + "; ".join(reasons)


def _verb(chosen: np.ndarray) -> str:
    return "are" if chosen.sum() > 1 else "is"


def _percent(share: float) -> str:
    return f"{share * 100:.0f} %"


def screen_cube(cube: np.ndarray, flagged_good: Optional[np.ndarray] = None) -> BandScreen:
    """Screen the bands of ``cube`` ``(B, H, W)`` (NaN where there is no data), a scene or one window of it.

    ``flagged_good``: ``(B,)`` bool, the bands the file does not flag bad (those it flags are not screened again).
    """
    return _screened(*_window_sums(cube), flagged_good)


def screen_windows(windows: Sequence[np.ndarray], flagged_good: Optional[np.ndarray] = None) -> BandScreen:
    """:func:`screen_cube` over several windows ``(B, h, w)`` of one scene (their pixels pooled)."""
    parts = [_window_sums(window) for window in windows]
    values = np.concatenate([p[0] for p in parts], axis=1)  # (B, N)
    return _screened(values, sum(p[1] for p in parts), sum(p[2] for p in parts), flagged_good)


def screen_scene(scene: "Scene") -> BandScreen:
    """Screen a scene read into memory (its file's bad-band flags kept) from the squares :func:`screen_file` would
    read, so a large cube costs no copy of itself."""
    windows = []
    for r0, r1, c0, c1 in sample_windows(*scene.shape, scene.bands):
        window = scene.cube[:, r0:r1, c0:c1].astype(np.float32)  # (B, h, w), a copy
        window[:, ~np.asarray(scene.valid[r0:r1, c0:c1], dtype=bool)] = np.nan  # no data: 0 in the cube
        windows.append(window)
    return screen_windows(windows, scene.good_bands)


def leave_out_suggestion(screen: BandScreen, wavelengths: Optional[Sequence[float]] = None) -> Optional[str]:
    """A warning naming the bands ``screen`` suggests leaving out and how to (None when it suggests none)."""
    if not screen.suggested.any():
        return None
    they, them = _pronouns(screen)
    return (f"{screen.describe(wavelengths)}. If {they} unusable, leave {them} out: name "
            f"{screen.option_text()} as the bands to leave out (--leave-out-bands on the command line, 'Bands this "
            "run leaves out' in Processing, Leave out bands… in the dock; bands the file flags bad are left out "
            "already)")


def retrain_suggestion(screen: BandScreen, wavelengths: Optional[Sequence[float]] = None,
                       told: Optional[np.ndarray] = None) -> Optional[str]:
    """:func:`leave_out_suggestion` for a scene a saved classifier maps, which needs the bands it learnt from: the
    way out is a classifier trained without them (``told``: ``(B,)`` the bands its training run left out already,
    kept in the list); None when the screen suggests none."""
    if not screen.suggested.any():
        return None
    from .io.band_choice import band_numbers_text

    they, them = _pronouns(screen)
    both = band_numbers_text(screen.suggested if told is None else screen.suggested | np.asarray(told, dtype=bool))
    return (f"{screen.describe(wavelengths)}. The classifier learnt from {them} too; if {they} unusable, a classifier "
            f"trained leaving out {both} (--leave-out-bands on the command line, 'Bands this run leaves out' in "
            "Processing, Leave out bands… in the dock) may map this sensor better")


def _pronouns(screen: BandScreen) -> tuple[str, str]:
    return ("they are", "them") if screen.suggested.sum() > 1 else ("it is", "it")


def screen_file(path: str | os.PathLike, flagged_good: Optional[np.ndarray] = None) -> BandScreen:
    """Screen a raster file's bands (any raster GDAL reads, in the physical units a run reads) from up to
    :data:`SAMPLE_WINDOWS` squares spread over it, :data:`SAMPLE_PIXELS` pixels and :data:`SAMPLE_VALUES` values in
    all: a second or so, whatever the scene's size. ``flagged_good``: the bands to screen (default: those the file
    does not flag bad)."""
    from .io.band_metadata import read_band_facts
    from .io.windows import raster_window_reader

    read = raster_window_reader(path)
    bands, height, width = read.shape
    windows = [read(*window) for window in sample_windows(height, width, bands)]  # each (B, h, w), NaN at no data
    if flagged_good is None:  # the caller's, where it has them: no second read of the metadata
        facts = read_band_facts(path)
        flagged_good = None if facts is None else facts.flagged_good
    return screen_windows(windows, flagged_good)


def sample_windows(height: int, width: int, bands: int) -> list[tuple[int, int, int, int]]:
    """``(row0, row1, col0, col1)`` of the windows :func:`screen_file` reads: the whole scene when it is within the
    budget, else :data:`SAMPLE_WINDOWS` squares centred on the quarters of a 2 × 2 grid; a scene too narrow for
    them (a strip a few rows high) gets as many windows of its whole height, or width, spread along it."""
    pixels = max(1, min(SAMPLE_PIXELS, SAMPLE_VALUES // max(bands, 1)))
    if height * width <= pixels:
        return [(0, height, 0, width)]
    each = pixels // SAMPLE_WINDOWS  # pixels a window
    side = int(np.sqrt(each))
    if side <= min(height, width):  # squares on a 2 x 2 grid
        spots = [(fr, fc) for fr in (0.25, 0.75) for fc in (0.25, 0.75)]
        rows, cols = side, side
    elif height < width:  # a strip across: windows of its whole height along it
        rows, cols = height, min(width, max(1, each // height))
        spots = [(0.5, (2 * k + 1) / (2 * SAMPLE_WINDOWS)) for k in range(SAMPLE_WINDOWS)]
    else:  # a strip down
        rows, cols = min(height, max(1, each // width)), width
        spots = [((2 * k + 1) / (2 * SAMPLE_WINDOWS), 0.5) for k in range(SAMPLE_WINDOWS)]
    windows = []
    for fr, fc in spots:
        r0 = int(np.clip(round(fr * height - rows / 2), 0, height - rows))
        c0 = int(np.clip(round(fc * width - cols / 2), 0, width - cols))
        windows.append((r0, r0 + rows, c0, c0 + cols))
    return sorted(set(windows))


def _window_sums(cube: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(values (B, h·w), squared differences summed (B,), differences counted (B,))`` of one window: its values
    for the medians, and its neighbours' differences (across and down) for the noise; ±inf counts as no data."""
    cube = np.asarray(cube, dtype=np.float32)
    if cube.ndim != 3:
        raise ValueError(f"a cube to screen must be (bands, rows, cols); got shape {cube.shape}")
    cube = np.where(np.isfinite(cube), cube, np.float32(np.nan))
    across = cube[:, :, 1:] - cube[:, :, :-1]  # (B, h, w-1), NaN where either pixel has no data
    down = cube[:, 1:, :] - cube[:, :-1, :]  # (B, h-1, w)
    squares = (np.nansum(np.square(across, dtype=np.float64), axis=(1, 2))
               + np.nansum(np.square(down, dtype=np.float64), axis=(1, 2)))
    counts = np.isfinite(across).sum(axis=(1, 2)) + np.isfinite(down).sum(axis=(1, 2))
    return cube.reshape(cube.shape[0], -1), squares, counts


def _screened(values: np.ndarray, squares: np.ndarray, counts: np.ndarray,
              flagged_good: Optional[np.ndarray]) -> BandScreen:
    """The screen from pooled values ``(B, N)`` (NaN at no data) and neighbour differences' sums and counts
    ``(B,)``."""
    bands = values.shape[0]
    finite = np.isfinite(values)  # (B, N)
    has_data = finite.sum(axis=1) >= MIN_BAND_PIXELS  # (B,) a band with data at a few pixels is not judged
    with np.errstate(invalid="ignore", divide="ignore"):
        level = np.full(bands, np.nan)
        level[has_data] = np.nanmedian(values[has_data], axis=1)
        noise = np.where(counts > 0, np.sqrt(squares / np.maximum(counts, 1) / 2.0), np.nan)  # σ of one pixel
    good = np.ones(bands, dtype=bool) if flagged_good is None else np.asarray(flagged_good, dtype=bool)
    screened = good & has_data
    pixels = int(finite[screened].any(axis=0).sum()) if screened.any() else 0
    median, high = value_levels(values[screened].ravel())  # a copy already (boolean indexing), reordered in place
    none = np.zeros(bands, dtype=bool)

    def nothing(why: str) -> BandScreen:
        return BandScreen(level, noise, screened, none, none.copy(), none.copy(), pixels, why_none=why, median=median,
                          high=high)

    if screened.sum() < 3:
        return nothing(f"{int(screened.sum())} band{'' if screened.sum() == 1 else 's'} with data at "
                       f"{MIN_BAND_PIXELS} pixels or more and not flagged bad by the file: too few to compare")
    # the typical band among all with data, the file's flagged ones too: leaving bands out changes no threshold
    typical = float(np.median(level[has_data]))
    if typical <= 0 or np.nanmean(values[screened] <= 0) > CENTRED_SHARE:
        return nothing("its values are mostly at or below zero (standardised, differenced or offset?), so a band's "
                       "level says nothing of its light")
    constant = screened & (counts > 0) & (noise == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(noise > 0, level / noise, np.nan)  # (B,)
    typical_snr = float(np.nanmedian(snr[has_data])) if np.isfinite(snr[has_data]).any() else float("nan")
    low_level = screened & ~constant & (level < LOW_LEVEL * typical)
    low_snr = screened & ~constant & ~low_level & (snr < LOW_SNR * typical_snr)  # NaN compares False
    return BandScreen(level, noise, screened, low_level, low_snr, constant, pixels, median=median, high=high)
