"""How often a map is right at each level of its confidence raster: the reliability table of a run's report."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

# The table's bins of the winning class's probability: below 0.5 the map's class had less than an even chance by
# its own reckoning; above, tenths, where an analyst sets a threshold
CONFIDENCE_EDGES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
CALIBRATED_WITHIN = 0.05  # the share right and the mean confidence this close: the confidence reads as the chance
FEW_PIXELS = 10  # a row of fewer validation pixels is said to be too few to read


@dataclass
class ConfidenceReliability:
    """The validation pixels binned by the map's confidence at them (:data:`CONFIDENCE_EDGES`): how many, how many
    mapped right, and their mean confidence. Where a bin's accuracy differs much from its mean confidence, the
    confidence is not the chance of being right (the classifier is not calibrated), and a threshold on it means
    what this table says, not its value."""

    edges: tuple[float, ...]  # (M + 1,) bin edges; the last bin holds its upper edge
    pixels: np.ndarray  # (M,) int64 validation pixels per bin
    correct: np.ndarray  # (M,) int64 of them mapped right
    mean_confidence: np.ndarray  # (M,) float64 their mean confidence (NaN for an empty bin)

    @classmethod
    def from_pixels(cls, confidence: np.ndarray, right: np.ndarray,
                    edges: Sequence[float] = CONFIDENCE_EDGES) -> "ConfidenceReliability":
        """From ``(N,)`` confidences in 0..1 and ``(N,)`` whether each pixel is mapped right."""
        # rounded: a float32 0.7 (a forest's 350 votes of 500) is 0.69999999 as float64, and fell in the row below
        confidence = np.round(np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0), 6)
        right = np.asarray(right, dtype=bool)
        if confidence.shape != right.shape or confidence.ndim != 1:
            raise ValueError(f"confidence {confidence.shape} and right {right.shape} must be (N,) alike")
        edges = tuple(float(e) for e in edges)
        which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, len(edges) - 2)  # (N,) bin
        pixels = np.bincount(which, minlength=len(edges) - 1)
        correct = np.bincount(which, weights=right, minlength=len(edges) - 1).astype(np.int64)
        summed = np.bincount(which, weights=confidence, minlength=len(edges) - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(pixels > 0, summed / np.maximum(pixels, 1), np.nan)
        return cls(edges, pixels.astype(np.int64), correct, mean)

    def rows(self) -> list[tuple[float, float, int, int, float]]:
        """``(from, to, pixels, correct, mean confidence)`` of each bin that holds a pixel."""
        return [(self.edges[i], self.edges[i + 1], int(n), int(self.correct[i]), float(self.mean_confidence[i]))
                for i, n in enumerate(self.pixels) if n]

    def to_dict(self) -> list[dict[str, Any]]:
        """metrics.json's ``accuracy_by_confidence``: a row per bin holding pixels."""
        return [{"from": low, "to": high, "pixels": n, "correct": k, "accuracy": k / n,
                 "mean_confidence": None if math.isnan(mean) else mean} for low, high, n, k, mean in self.rows()]

    def verdict(self) -> str:
        """One sentence on the whole table: whether the map is right about as often as its confidence says, more
        often (under-confident) or less (over-confident), by :data:`CALIBRATED_WITHIN`."""
        n = int(self.pixels.sum())
        if not n:
            return ""
        right = float(self.correct.sum()) / n
        sure = float(np.nansum(self.mean_confidence * self.pixels)) / n
        gaps = [k / m - mean for _, _, m, k, mean in self.rows() if m >= FEW_PIXELS]  # right share − confidence
        if any(g > CALIBRATED_WITHIN for g in gaps) and any(g < -CALIBRATED_WITHIN for g in gaps):
            return ("Here the map is under-confident in some rows and over-confident in others, so the whole "
                    "table's averages would hide it: read a threshold by its row.")
        said = f"right on {100 * right:.1f} % of these pixels where its confidence averages {sure:.2f}"
        if right - sure > CALIBRATED_WITHIN:
            return f"Here the map is under-confident: {said}, so a threshold on the confidence drops good pixels."
        if sure - right > CALIBRATED_WITHIN:
            return f"Here the map is over-confident: {said}, so a threshold on the confidence keeps wrong pixels."
        return f"Here the confidence reads about as the chance of being right: {said}."

    def markdown(self, stratified: bool = False) -> list[str]:
        """The report's lines: what the table says, its verdict, then the table. It describes the validation pixels,
        which are no random sample of the map or, ``stratified``, a sample stratified by map class whose points,
        counted once each, over-represent the small classes: either is said."""
        which = (" (the points of a sample stratified by map class, each counted once: small classes have as many as "
                 "large ones, so a guide to the map, not an estimate)" if stratified else
                 " (not a random sample of the map: a guide to it)")
        lines = ["How often the map is right where its confidence raster (band 1, the winning class's probability) "
                 "takes each value, over the validation pixels there" + which + ". A row right "
                 "more often than its mean confidence says the map is surer than its confidence; less often, less "
                 "sure: read a threshold on the confidence by this table, not by its value. " + self.verdict(), "",
                 "| confidence | validation pixels | mapped right | right (%) | mean confidence |",
                 "|---|---:|---:|---:|---:|"]
        for low, high, n, k, mean in self.rows():
            closed = "]" if high == self.edges[-1] else ")"  # the last bin holds 1.0
            few = f" ({n} pixel{'s' if n > 1 else ''}: too few to read)" if n < FEW_PIXELS else ""
            lines.append(f"| [{low:.1f}, {high:.1f}{closed}{few} | {n} | {k} | {_percent(k, n)} | {mean:.2f} |")
        return lines


def _percent(right: int, pixels: int) -> str:
    """``right`` of ``pixels`` in per cent to one decimal, never rounded to 100.0 with a pixel wrong."""
    share = 100.0 * right / pixels
    return "> 99.9" if right < pixels and share >= 99.95 else f"{share:.1f}"
