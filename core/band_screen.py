"""Bands that carry almost no signal, found from the data: a suggestion of bands to leave out, never applied by itself.

A cube straight from the sensor (AVIRIS radiance, Hyperion's uncalibrated bands) keeps bands where the atmosphere's
water vapour took nearly all the light, or where the detector gave none. Their values are the sensor's noise, and a
classifier learns from them as from any band. Files seldom flag them (an ENVI ``bbl`` would), so the analyst had to
know the windows by heart. This screen finds them from two figures of each band, read from a sample of the scene:

- its **level**: the median of its values, against the median band's. Under :data:`LOW_LEVEL` of it the band holds
  next to no light: SalinasA's uncorrected cube has its water-vapour bands at 0–2 % of the median band's
  (band 224 at 1.96 %).
- its **signal-to-noise ratio**: the level over the noise, estimated from the differences of neighbouring pixels
  (the shift-difference estimate: a neighbour's value differs by the noise of both, √2 times one's, plus the
  scene's texture, so the figure is a lower bound that treats every band alike). Under :data:`LOW_SNR` of the median
  band's, the band is noise.

On SalinasA's uncorrected 224-band cube it names bands 108–112, 153–167 and 224: the 20 bands EHU's corrected cube
leaves out and band 153, whose level is 3.8 % of the median band's and whose SNR is 2.6 % of the median band's (EHU
keeps it). On EnMAP's L2A tiles, whose water-vapour windows the product leaves out itself, it names none; on Samson and
Moffett Field none; on Jasper Ridge's 198 bands band 1 (380 nm, median reflectance 0). Written by hand:
two medians and a shift difference, which no library of the field gives as a band screen with these reasons.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from .io.band_choice import band_numbers_text, describe_bands

if TYPE_CHECKING:
    from .scene import Scene

LOW_LEVEL = 0.02  # a band's median under this share of the median band's: no light reached the sensor there
LOW_SNR = 0.05  # a band's signal-to-noise ratio under this share of the median band's: its values are noise
CENTRED_SHARE = 0.4  # values this share or more at or below 0: centred on zero (standardised), no light to judge
SAMPLE_PIXELS = 32_768  # pixels read to screen a scene's bands, at most (four squares of 90 × 90)
SAMPLE_VALUES = 4_000_000  # and at most this many values (pixels × bands): 16 MB of float32, beside a run's own peak
SAMPLE_WINDOWS = 4  # squares spread over the scene (2 × 2), so one field or one cloud does not decide


@dataclass(frozen=True)
class BandScreen:
    """Each band's level and signal-to-noise ratio, and the bands they suggest leaving out."""

    level: np.ndarray  # (B,) the band's median value over the pixels read; NaN for a band without data there
    noise: np.ndarray  # (B,) the noise's standard deviation from neighbouring pixels' differences; NaN without pairs
    screened: np.ndarray  # (B,) bool: the bands looked at (not flagged bad by the file, with data in the sample)
    low_level: np.ndarray  # (B,) bool: screened bands whose level is under LOW_LEVEL of the median band's
    low_snr: np.ndarray  # (B,) bool: screened bands whose SNR is under LOW_SNR of the median band's
    pixels: int  # pixels the figures rest on
    why_none: str = ""  # why no band can be suggested at all (values centred on zero, too few pixels), else ""

    @property
    def suggested(self) -> np.ndarray:
        """``(B,)`` bool: the bands to leave out."""
        return self.low_level | self.low_snr

    @property
    def snr(self) -> np.ndarray:
        """``(B,)`` level over noise (inf where the sample shows no noise; NaN where unknown)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.level / self.noise

    def option_text(self) -> str:
        """The suggested bands as ``--leave-out-bands`` and the dock's Leave out bands… take them: "108-112,224"."""
        return band_numbers_text(self.suggested)

    def describe(self, wavelengths: Optional[Sequence[float]] = None, pixels: bool = True) -> str:
        """What the screen found, in a sentence: which bands and why, or why none; ``pixels``: say how many pixels
        it read, at the end."""
        if self.why_none:
            return f"no band can be suggested from the data: {self.why_none}"
        read = f" ({self.pixels:,} pixels read)" if pixels else ""
        if not self.suggested.any():
            return (f"every band looked at has at least {LOW_LEVEL:.0%} of the median band's level and "
                    f"{LOW_SNR:.0%} of its signal-to-noise ratio{read}: the data suggest leaving out no band")
        reasons = []
        if self.low_level.any():
            reasons.append(f"{describe_bands(self.low_level, wavelengths)} {_verb(self.low_level)} under "
                           f"{LOW_LEVEL:.0%} of the median band's level (next to no light: a water-vapour window, "
                           "an uncalibrated band, the spectrum's edge)")
        only_noise = self.low_snr & ~self.low_level
        if only_noise.any():
            reasons.append(f"{describe_bands(only_noise, wavelengths)} {_verb(only_noise)} under {LOW_SNR:.0%} of "
                           "the median band's signal-to-noise ratio (mostly noise)")
        return "; ".join(reasons) + read


def _verb(chosen: np.ndarray) -> str:
    return "are" if chosen.sum() > 1 else "is"


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
    they, them = ("they are", "them") if screen.suggested.sum() > 1 else ("it is", "it")
    return (f"{screen.describe(wavelengths)}. If {they} unusable, leave {them} out: name "
            f"{screen.option_text()} as the bands to leave out (--leave-out-bands on the command line, Leave out "
            "bands… in the dock)")


def screen_file(path: str | os.PathLike, flagged_good: Optional[np.ndarray] = None) -> BandScreen:
    """Screen a raster file's bands (any raster GDAL reads, in the physical units a run reads) from up to
    :data:`SAMPLE_WINDOWS` squares spread over it, :data:`SAMPLE_PIXELS` pixels and :data:`SAMPLE_VALUES` values in
    all: a second or so, whatever the scene's size. ``flagged_good``: the bands to screen (default: those the file
    does not flag bad)."""
    from .io.band_metadata import read_band_facts
    from .io.windows import raster_window_reader

    read = raster_window_reader(path)
    bands, height, width = read.shape
    facts = read_band_facts(path)
    windows = [read(*window) for window in sample_windows(height, width, bands)]  # each (B, h, w), NaN at no data
    if flagged_good is None and facts is not None:
        flagged_good = facts.flagged_good
    return screen_windows(windows, flagged_good)


def sample_windows(height: int, width: int, bands: int) -> list[tuple[int, int, int, int]]:
    """``(row0, row1, col0, col1)`` of the squares :func:`screen_file` reads: the whole scene when it is within the
    budget, else :data:`SAMPLE_WINDOWS` squares centred on the quarters of a 2 × 2 grid."""
    pixels = max(1, min(SAMPLE_PIXELS, SAMPLE_VALUES // max(bands, 1)))
    if height * width <= pixels:
        return [(0, height, 0, width)]
    side = max(2, min(height, width, int(np.sqrt(pixels / SAMPLE_WINDOWS))))
    windows = []
    for fr in (0.25, 0.75):
        for fc in (0.25, 0.75):
            r0 = int(np.clip(round(fr * height - side / 2), 0, height - side))
            c0 = int(np.clip(round(fc * width - side / 2), 0, width - side))
            windows.append((r0, r0 + side, c0, c0 + side))
    return sorted(set(windows))  # a narrow scene's squares may coincide


def _window_sums(cube: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(values (B, h·w), squared differences summed (B,), differences counted (B,))`` of one window: its values
    for the medians, and its neighbours' differences (across and down) for the noise."""
    cube = np.asarray(cube, dtype=np.float32)
    if cube.ndim != 3:
        raise ValueError(f"a cube to screen must be (bands, rows, cols); got shape {cube.shape}")
    across = cube[:, :, 1:] - cube[:, :, :-1]  # (B, h, w-1), NaN where either pixel has no data
    down = cube[:, 1:, :] - cube[:, :-1, :]  # (B, h-1, w)
    squares = (np.nansum(np.square(across, dtype=np.float64), axis=(1, 2))
               + np.nansum(np.square(down, dtype=np.float64), axis=(1, 2)))
    counts = np.isfinite(across).sum(axis=(1, 2)) + np.isfinite(down).sum(axis=(1, 2))
    return cube.reshape(cube.shape[0], -1), squares, counts


def _screened(values: np.ndarray, squares: np.ndarray, counts: np.ndarray,
              flagged_good: Optional[np.ndarray]) -> BandScreen:
    """The screen from pooled values ``(B, N)`` and neighbour differences' sums and counts ``(B,)``."""
    bands = values.shape[0]
    values = np.where(np.isfinite(values), values, np.nan)
    has_data = np.isfinite(values).any(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        level = np.full(bands, np.nan)
        level[has_data] = np.nanmedian(values[has_data], axis=1)
        noise = np.where(counts > 0, np.sqrt(squares / np.maximum(counts, 1) / 2.0), np.nan)  # σ of one pixel
    good = np.ones(bands, dtype=bool) if flagged_good is None else np.asarray(flagged_good, dtype=bool)
    screened = good & has_data
    pixels = int(np.isfinite(values[screened]).all(axis=0).sum()) if screened.any() else 0  # data in each band
    none = np.zeros(bands, dtype=bool)
    if screened.sum() < 3 or pixels < 16:
        return BandScreen(level, noise, screened, none, none.copy(), pixels,
                          why_none=f"only {pixels} pixels with data in every band were read" if pixels < 16
                          else "fewer than 3 bands to compare")
    # the typical band among all with data, the file's flagged ones too: leaving bands out changes no threshold
    typical = float(np.median(level[has_data]))
    if typical <= 0 or np.nanmean(values[screened] <= 0) > CENTRED_SHARE:
        return BandScreen(level, noise, screened, none, none.copy(), pixels,
                          why_none="its values are centred on zero (standardised or differenced?), so a band's level "
                                   "says nothing of its light")
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(noise > 0, level / noise, np.inf)  # (B,) a band without noise in the sample: no concern
    finite = has_data & np.isfinite(snr)
    typical_snr = float(np.median(snr[finite])) if finite.any() else float("inf")
    low_level = screened & (level < LOW_LEVEL * typical)
    low_snr = screened & ~low_level & np.isfinite(typical_snr) & (snr < LOW_SNR * typical_snr)
    return BandScreen(level, noise, screened, low_level, low_snr, pixels)
