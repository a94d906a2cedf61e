"""How often a map is right at each level of its confidence raster: the reliability table of a run's report."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

# The table's bins of the winning class's probability: below 0.5 the map's class had less than an even chance by
# its own reckoning; above, tenths, where an analyst sets a threshold
CONFIDENCE_EDGES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


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
        confidence = np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0)
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

    def markdown(self) -> list[str]:
        """The report's lines: what the table says, then the table."""
        lines = ["How often the map is right where its confidence raster (the winning class's probability) says "
                 "so much: where a row's accuracy is far from its mean confidence, the confidence is not the chance "
                 "of being right, and a threshold on it keeps what this table says.", "",
                 "| confidence | validation pixels | mapped right (%) | mean confidence |", "|---|---:|---:|---:|"]
        for low, high, n, k, mean in self.rows():
            closed = "]" if high == self.edges[-1] else ")"  # the last bin holds 1.0
            lines.append(f"| [{low:.1f}, {high:.1f}{closed} | {n} | {100 * k / n:.1f} | {mean:.2f} |")
        return lines
