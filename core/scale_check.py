"""The scale check: whether a scene's values are in the units a saved classifier learnt from."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from .pixel_mask import count_per_row
from .scene import Scene

if TYPE_CHECKING:
    from .pixel_mask import PixelMask

log = logging.getLogger("hypersynth")
SCALE_TOLERANCE = 5.0  # a scene whose median value is this many times the training scene's (or 1/this) is warned of
# ... and refused at this many times (or 1/this), unless told to go on: reflectance 0–1 against 0–10 000 is other
# units, not another scene's brightness, and its map would be wrong with exit status 0 (a batch job's check). Not at
# 100: a scene mostly of open water (dark in over half its bands) has a median a hundredth of a land scene's
SCALE_REFUSAL = 1000.0
# ... and at this many times when the scene's bright values (HIGH_PERCENTILE) are off as much as its median: a scene
# mostly of open water has a low median but land's bright values, while reflectance ×100 has both a hundred times
# (review: percent reflectance was mapped with exit status 0)
SCALE_REFUSAL_BOTH = 30.0
HIGH_PERCENTILE = 99.0  # the scene's bright values: its values' 99th percentile over the pixels taken


def typical_value(cube: np.ndarray, valid: np.ndarray, n: int = 100_000) -> float:
    """The median of a usable cube's values ``(B_good, H, W)`` over up to ``n`` valid pixels (a fixed draw): its
    units' scale."""
    return typical_levels(cube, valid, n)[0]


def typical_levels(cube: np.ndarray, valid: np.ndarray, n: int = 100_000) -> tuple[float, float]:
    """:func:`typical_value` and the values' :data:`HIGH_PERCENTILE` over the same pixels: the scale of the units and
    of the scene's bright values."""
    rows, cols = typical_pixels(valid, n)
    # (B_good * n,): the pixels gathered, never a copy of the cube, and flattened in the order numpy laid them out
    # (pixel-major: a C-order ravel would copy them all again); the percentiles may reorder it in place
    return value_levels(cube[:, rows, cols].ravel(order="K"))


def value_levels(values: np.ndarray) -> tuple[float, float]:
    """``(median, HIGH_PERCENTILE)`` of ``values`` (NaN ignored), reordering them in place; NaN for none."""
    if not values.size or not np.isfinite(values).any():
        return float("nan"), float("nan")
    median, high = np.nanpercentile(values, [50.0, HIGH_PERCENTILE], overwrite_input=True)
    return float(median), float(high)


def typical_pixels(valid: "np.ndarray | PixelMask", n: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` of the valid pixels (``(H, W)`` bool array or :class:`~.pixel_mask.PixelMask`)
    :func:`typical_value` takes: all of them, or a fixed draw of ``n``.

    The draw picks ranks among the valid pixels (row by row) and finds each rank's pixel a row at a time, so it never
    lists every valid pixel (``np.nonzero`` would take 16 bytes a pixel of the scene); the pixels are those
    ``np.nonzero(valid)`` indexed by the same draw would give, in the draw's order.
    """
    per_row = count_per_row(valid)  # (H,)
    total = int(per_row.sum())
    # (n,) k-th valid pixel, row by row; every one when there are at most n (np.nonzero's order)
    ranks = np.arange(total) if total <= n else np.random.default_rng(0).choice(total, n, replace=False)
    n = len(ranks)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    row_end = np.cumsum(per_row)  # (H,) rank just past each row's last valid pixel
    rows = np.searchsorted(row_end, ranks, side="right")  # (n,) the row holding each rank
    offsets = ranks - (row_end - per_row)[rows]  # (n,) the rank's place among its row's valid pixels
    cols = np.empty(n, dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    for group in np.split(order, np.flatnonzero(np.diff(rows[order])) + 1):  # the ranks of one row each
        cols[group] = np.flatnonzero(valid[rows[group[0]]])[offsets[group]]
    return rows.astype(np.int64), cols


class GatheringReader:
    """A window reader that passes each window on and keeps, from the windows as they pass, the values of the pixels
    :func:`typical_value` takes: a streamed scene's typical value, without reading the scene again."""

    def __init__(self, read: Any, valid: "np.ndarray | PixelMask") -> None:
        self._read, self.shape = read, read.shape  # (B, H, W)
        self._rows, self._cols = typical_pixels(valid)
        self._values = np.full((read.shape[0], self._rows.size), np.nan, dtype=np.float32)  # (B, n)
        self._missing = np.ones(self._rows.size, dtype=bool)  # not gathered yet

    def __call__(self, row0: int, row1: int, col0: int, col1: int) -> np.ndarray:
        window = self._read(row0, row1, col0, col1)  # (B, h, w)
        inside = np.flatnonzero(self._missing & (self._rows >= row0) & (self._rows < row1) & (self._cols >= col0)
                                & (self._cols < col1))
        self._values[:, inside] = window[:, self._rows[inside] - row0, self._cols[inside] - col0]
        self._missing[inside] = False
        return window

    def expect_margin(self, margin: int) -> None:
        """Passed on to the reader when it takes it
        (:meth:`~hypersynth.core.io.windows.RasterWindowReader.expect_margin`)."""
        expect = getattr(self._read, "expect_margin", None)
        if expect is not None:
            expect(margin)

    def typical_value(self) -> float:
        """:func:`typical_value` of the scene, once every window was read (NaN where a pixel never passed)."""
        return self.typical_levels()[0]

    def typical_levels(self) -> tuple[float, float]:
        """:func:`typical_levels` of the scene, once every window was read."""
        return value_levels(self._values.ravel())  # reordered in place: percentiles do not mind the order


class OtherUnitsError(ValueError):
    """A scene's values are in other units than those a saved classifier learnt (:data:`SCALE_REFUSAL`)."""


def refuse_other_units(scene: Scene, median: float, learnt_median: Optional[float], go_on: str,
                       high: float = float("nan"), learnt_high: Optional[float] = None) -> None:
    """Refuse, before the prediction, a scene whose values (``median``: its typical value, from a sample of its
    pixels: :attr:`~.band_screen.BandScreen.median`) are :data:`SCALE_REFUSAL` or more times those the classifier
    learnt, either way, or :data:`SCALE_REFUSAL_BOTH` times where its bright values (``high``, against
    ``learnt_high``: their :data:`HIGH_PERCENTILE`, which a bundle saved before session 47 lacks) are too; ``go_on``:
    how the caller is told to map it anyway ("give --accept-other-units"). A median at or below zero (offset or
    centred values) says nothing of the units: nothing is refused then.

    Raises:
        OtherUnitsError: the values are in other units.
    """
    ratio = _ratio(median, learnt_median)
    if ratio is None:
        return
    bright = _ratio(high, learnt_high)
    both = bright is not None and (min(ratio, bright) >= SCALE_REFUSAL_BOTH
                                   or max(ratio, bright) <= 1 / SCALE_REFUSAL_BOTH)
    if 1 / SCALE_REFUSAL < ratio < SCALE_REFUSAL and not both:
        return
    raise OtherUnitsError(f"{scene.name}'s values are about {ratio:.3g} times those of the scene the classifier "
                          f"learnt from (median {median:.4g} against {learnt_median:.4g}): other units (reflectance "
                          "0–1 against 0–10 000, say), and its map would be wrong. Rescale the scene to "
                          "the training scene's units (QGIS's Raster Calculator, gdal_calc.py), or, to map it as it "
                          f"is, {go_on}; nothing was written")


def _ratio(median: float, learnt_median: Optional[float]) -> Optional[float]:
    """The scene's typical value over the training scene's; None where either is unknown or at or below zero (offset
    or centred values: their ratio says nothing of the units)."""
    if learnt_median is None or not np.isfinite(learnt_median) or not np.isfinite(median):
        return None
    return median / learnt_median if median > 0 and learnt_median > 0 else None


def warn_of_scale(scene: Scene, median: float, learnt_median: Optional[float]) -> None:
    """Log :func:`scale_warning`'s sentence, when it has one (the run's report lists what the run warned of)."""
    warning = scale_warning(scene, median, learnt_median)
    if warning:
        log.warning(warning)


def scale_warning(scene: Scene, median: float, learnt_median: Optional[float]) -> Optional[str]:
    """What to say when the scene's values (``median``: its :func:`typical_value`) are on another scale than those
    the classifier learnt (reflectance 0–1 against 0–10 000, say): the map would be wrong, with no error to tell."""
    ratio = _ratio(median, learnt_median)
    if ratio is None or 1 / SCALE_TOLERANCE <= ratio <= SCALE_TOLERANCE:
        return None
    return (f"{scene.name}'s values are about {ratio:.3g} times those of the scene the classifier learnt from "
            f"(median {median:.4g} against {learnt_median:.4g}): other units or scaling (reflectance 0–1 against "
            "0–10 000, say)? Rescale the scene to the training scene's units, or this map is likely wrong.")
