"""Pseudo-labels: confident unlabelled pixels that a first classifier and the labelled spectra agree on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .classify.base import Classifier
from .progress import NULL_REPORTER, Reporter

CONFIDENCE_THRESHOLD = 0.9  # the least class probability a pseudo-label needs (set for a CNN's softmax)
PSEUDO_RULES = ("rank", "threshold")  # what "confident" means: a class's more confident half, or an absolute probability


@dataclass
class PseudoLabels:
    """Unlabelled pixels given a class, with what decided it."""

    rows: np.ndarray  # (n,) pixel rows
    cols: np.ndarray  # (n,) pixel columns
    index: np.ndarray  # (n,) class index 0..K-1 (the classifier's output column)
    confidence: np.ndarray  # (n,) the classifier's probability of that class
    candidates: int  # unlabelled pixels scored

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def counts(self, n_classes: int) -> np.ndarray:
        """``(K,)`` pseudo-labels per class index."""
        return np.bincount(self.index, minlength=n_classes)


def nearest_mean_index(spectra: np.ndarray, means: np.ndarray) -> np.ndarray:
    """``(N,)`` index of the mean spectrum ``(K, B)`` with the smallest spectral angle to each ``(N, B)`` spectrum."""
    cos = (spectra @ means.T) / (np.linalg.norm(spectra, axis=1, keepdims=True)
                                 * np.linalg.norm(means, axis=1) + 1e-12)  # (N, K)
    return np.argmax(cos, axis=1)


def select_pseudo_labels(classifier: Classifier, cube: np.ndarray, valid: np.ndarray, labelled: np.ndarray,
                         real_means: np.ndarray, per_class: int, *, threshold: float = CONFIDENCE_THRESHOLD,
                         pool: int = 5000, seed: int = 0, rule: str = "rank",
                         reporter: Reporter = NULL_REPORTER) -> PseudoLabels:
    """Score a random pool of unlabelled valid pixels and keep up to ``per_class`` per class.

    A pixel qualifies when the classifier is confident of its class *and* the pixel's spectrum is nearest
    (spectral angle) to the same class's mean labelled spectrum, so two views of the few labels must agree
    (as in co-training). Confident, with ``rule="rank"`` (the default): at least the median probability among
    the pixels the classifier gives that class and the nearest mean agrees with, i.e. the more confident half.
    With ``rule="threshold"``: a probability of at least ``threshold``. An absolute threshold means different
    things for differently calibrated classifiers (a CNN's softmax is sharp, a forest's vote share and a
    blend that averages it are not, and may never reach 0.9); a rank within the classifier's own
    scores does not depend on its calibration, and gives every class its share. Among the qualifying pixels
    of a class the kept ones are drawn at random, not the most confident, so they spread over the class
    rather than crowd around the labelled pixels.

    Args:
        classifier: trained on the labelled pixels (class indices = rows of ``real_means``).
        cube: ``(B, H, W)`` float32 scene.
        valid: ``(H, W)`` bool, pixels that may be used.
        labelled: ``(H, W)`` bool, the pixels already labelled (never pseudo-labelled).
        real_means: ``(K, B)`` mean labelled spectrum per class index.
        per_class: the most pseudo-labels a class gets.
        threshold: minimum class probability (``rule="threshold"`` only).
        pool: unlabelled pixels scored (a random sample; the whole scene would cost a full prediction).
        seed: seeds the pool and the draw.
        rule: "rank" or "threshold" (above).
    """
    from .classify.predict import predict_pixels

    if rule not in PSEUDO_RULES:
        raise ValueError(f"unknown pseudo-label rule {rule!r}; choose one of {', '.join(PSEUDO_RULES)}")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if per_class < 0 or pool < 1:
        raise ValueError(f"per_class must be >= 0 and pool >= 1, got {per_class} and {pool}")
    rng = np.random.default_rng(seed)
    flat = np.flatnonzero(valid & ~labelled)
    if len(flat) > pool:
        flat = np.sort(rng.choice(flat, pool, replace=False))
    rows, cols = np.unravel_index(flat, valid.shape)
    if per_class == 0 or len(flat) == 0:
        empty = np.zeros(0, np.int64)
        return PseudoLabels(empty, empty, empty, np.zeros(0, np.float32), int(len(flat)))
    proba = predict_pixels(classifier, cube, rows, cols, batch_size=1024, valid=valid, reporter=reporter,
                           stage="pseudo-labels")  # (n, K)
    index, confidence = np.argmax(proba, axis=1), proba.max(axis=1)
    agree = nearest_mean_index(cube[:, rows, cols].T, real_means) == index
    keep: list[np.ndarray] = []
    for k in range(real_means.shape[0]):
        ok = np.flatnonzero((index == k) & agree)
        if len(ok):
            floor = threshold if rule == "threshold" else np.median(confidence[ok])
            ok = ok[confidence[ok] >= floor]
        keep.append(rng.choice(ok, min(per_class, len(ok)), replace=False) if len(ok) else ok)
    chosen = np.sort(np.concatenate(keep)).astype(np.int64)
    return PseudoLabels(rows[chosen], cols[chosen], index[chosen], confidence[chosen].astype(np.float32),
                        int(len(flat)))
