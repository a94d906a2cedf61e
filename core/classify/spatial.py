"""Spatial smoothing of class probabilities, its scale chosen by cross-validation on the labelled pixels.

Neighbouring pixels of a scene mostly share a class, so averaging each class's probability over a small
Gaussian neighbourhood (before taking the most probable class) removes isolated misclassified pixels.
This is the probability-filtering step of spectral-spatial classifiers (e.g. Kang et al., "Spectral-spatial
hyperspectral image classification with edge-preserving filtering", IEEE TGRS 2014), here with a plain
Gaussian whose width the analyst's labels choose (0 = off; the choice is made with the classifier blend in
:mod:`.ensemble`). The filter itself is scipy's; what is written here is the masking (no-data pixels carry no
weight), smoothing at a few pixels only, and the label-region folds that cross-validation holds out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
from scipy import ndimage

SIGMAS = (0.0, 0.5, 1.0, 2.0, 3.0)  # candidate Gaussian widths (pixels); 0 = no smoothing
TRUNCATE = 3.0  # the kernel reaches TRUNCATE · σ pixels (scipy's default), rounded as scipy rounds it


def kernel_radius(sigma: float) -> int:
    """Pixels the smoothing reaches on each side: scipy's ``int(truncate · σ + 0.5)``; 0 when off."""
    return int(TRUNCATE * float(sigma) + 0.5) if sigma > 0 else 0


def _kernel_1d(sigma: float) -> np.ndarray:
    """``(2R + 1,)`` unnormalised Gaussian weights (the normalisation cancels in the masked average)."""
    r = kernel_radius(sigma)
    d = np.arange(-r, r + 1, dtype=np.float64)
    return np.exp(-0.5 * (d / sigma) ** 2)


def smooth_probabilities(proba: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """Masked Gaussian average of each class's probability map over the valid pixels.

    Args:
        proba: ``(K, H, W)`` class probabilities (any value where ``valid`` is False; it is ignored).
        valid: ``(H, W)`` bool, the pixels that carry a probability.
        sigma: Gaussian width in pixels; 0 returns ``proba`` unchanged.

    Returns:
        ``(K, H, W)`` float32: at each valid pixel, Σ g·valid·p / Σ g·valid over its neighbourhood (pixels
        beyond the array's edge count as invalid, so a tile read with a halo of :func:`kernel_radius`
        pixels gives the same values as the whole scene); 0 where invalid.
    """
    if sigma < 0:
        raise ValueError(f"the smoothing width must be 0 (off) or positive; got {sigma}")
    if proba.ndim != 3 or proba.shape[1:] != valid.shape:
        raise ValueError(f"probabilities {proba.shape} and valid mask {valid.shape} do not match (K, H, W) / (H, W)")
    if sigma == 0:
        return proba.astype(np.float32, copy=False)
    w = valid.astype(np.float64)
    kernel = _kernel_1d(sigma)

    def blur(a: np.ndarray) -> np.ndarray:  # separable: rows then columns, zeros beyond the edge
        a = ndimage.convolve1d(a, kernel, axis=-2, mode="constant", cval=0.0)
        return ndimage.convolve1d(a, kernel, axis=-1, mode="constant", cval=0.0)

    weight = blur(w)  # (H, W) > 0 at every valid pixel (its own weight)
    out = blur(np.where(valid, proba, 0.0).astype(np.float64))  # (K, H, W)
    out = np.divide(out, weight, out=np.zeros_like(out), where=valid & (weight > 0))
    return out.astype(np.float32)


def smoothed_at(proba_of: Callable[[np.ndarray, np.ndarray], np.ndarray], valid: np.ndarray, rows: np.ndarray,
                cols: np.ndarray, sigmas: tuple[float, ...], block: int = 256) -> dict[float, np.ndarray]:
    """Smoothed probabilities at a few pixels only, for each width in ``sigmas``.

    Equal to :func:`smooth_probabilities` at those pixels, but predicts only their neighbourhoods:
    cross-validation needs a handful of held-out pixels, not the whole scene.

    Args:
        proba_of: ``proba_of(rows, cols) -> (n, K)`` probabilities of valid pixels.
        valid: ``(H, W)`` bool.
        rows, cols: ``(N,)`` valid pixels to evaluate.
        block: pixels evaluated at once (memory: block · (2R + 1)² · K · 8 bytes).
    Returns:
        ``{sigma: (N, K) float32}``.
    """
    parts = [_smoothed_block(proba_of, valid, rows[i:i + block], cols[i:i + block], sigmas)
             for i in range(0, len(rows), block)]
    return {s: np.concatenate([p[s] for p in parts]) for s in sigmas}


def _smoothed_block(proba_of: Callable[[np.ndarray, np.ndarray], np.ndarray], valid: np.ndarray, rows: np.ndarray,
                    cols: np.ndarray, sigmas: tuple[float, ...]) -> dict[float, np.ndarray]:
    """:func:`smoothed_at` for one block of pixels: gather each pixel's (2R + 1)² neighbours, weigh, average."""
    height, width = valid.shape
    reach = max(kernel_radius(s) for s in sigmas)
    d = np.arange(-reach, reach + 1)
    nr = rows[:, None, None] + d[None, :, None]  # (N, 2R + 1, 1)
    nc = cols[:, None, None] + d[None, None, :]  # (N, 1, 2R + 1)
    nr, nc = np.broadcast_arrays(nr, nc)  # (N, 2R + 1, 2R + 1)
    inside = (nr >= 0) & (nr < height) & (nc >= 0) & (nc < width)
    usable = inside & valid[np.clip(nr, 0, height - 1), np.clip(nc, 0, width - 1)]
    flat = np.unique(nr[usable] * width + nc[usable])  # each neighbour predicted once
    table = np.asarray(proba_of(flat // width, flat % width), dtype=np.float64)  # (M, K)
    where = np.searchsorted(flat, np.where(usable, nr * width + nc, flat[0]))  # (N, 2R + 1, 2R + 1)
    neighbours = np.where(usable[..., None], table[where], 0.0)  # (N, 2R + 1, 2R + 1, K)
    out = {}
    for sigma in sigmas:
        if sigma == 0:
            out[sigma] = neighbours[:, reach, reach].astype(np.float32)
            continue
        g = np.zeros(2 * reach + 1)
        r = kernel_radius(sigma)
        g[reach - r:reach + r + 1] = _kernel_1d(sigma)
        weight = (g[:, None] * g[None, :])[None] * usable  # (N, 2R + 1, 2R + 1)
        out[sigma] = (np.einsum("nij,nijk->nk", weight, neighbours)
                      / weight.sum(axis=(1, 2))[:, None]).astype(np.float32)
    return out


@dataclass
class SmoothingChoice:
    """How the smoothing width was chosen: cross-validation of the classifier blend on the real labels
    (:func:`~.ensemble.choose_blend_and_smoothing`), or the analyst's setting."""

    sigma: float  # Gaussian width in pixels; 0 = no smoothing
    folds: int  # cross-validation folds; 0 = not cross-validated (see ``reason``)
    scores: dict[float, float] = field(default_factory=dict)  # CV balanced accuracy per candidate width
    reason: str = ""  # why the width was not cross-validated, or "" when it was
    repeats: int = 1  # times the folds were drawn afresh (their held-out predictions pooled)

    def note(self) -> str:
        """One line for the run's report."""
        if not self.folds:
            return f"spatial smoothing: σ = {self.sigma:g} px ({self.reason})"
        tried = ", ".join(f"{s:g}: {v * 100:.1f} %" for s, v in self.scores.items())
        chosen = f"Gaussian σ = {self.sigma:g} px" if self.sigma else "off (σ = 0)"
        return (f"spatial smoothing of the class probabilities: {chosen}, chosen by {repeated(self.repeats)}"
                f"{self.folds}-fold cross-validation of the classifier blend on the real labels, label regions "
                f"held out whole (balanced accuracy per σ: {tried})")


def repeated(repeats: int) -> str:
    """The report's words for folds drawn several times ("3× repeated "), empty for a single draw."""
    return f"{repeats}× repeated " if repeats > 1 else ""


def label_regions(rows: np.ndarray, cols: np.ndarray, y: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``(N,)`` group id per labelled pixel: its 8-connected region of same-class labels (a brush stroke).

    Cross-validation holds out whole regions: a held-out pixel whose neighbours trained the model would
    make smoothing look better than it is.
    """
    groups = np.zeros(len(y), dtype=np.int64)
    offset = 0
    for k in np.unique(y):
        mask = np.zeros(shape, dtype=bool)
        sel = y == k
        mask[rows[sel], cols[sel]] = True
        regions, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=int))
        groups[sel] = regions[rows[sel], cols[sel]] + offset
        offset += n
    return groups


def region_folds(y: np.ndarray, groups: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train, held-out) index splits that hold out whole label regions, every class in every fold.

    Each class's regions are shuffled and dealt to the folds in turn. Written here because sklearn's
    StratifiedGroupKFold balances greedily and, with two regions per class, can put both in one fold,
    leaving that class out of the other fold's training.
    """
    rng = np.random.default_rng(seed)
    fold_of_group: dict[int, int] = {}
    for c in np.unique(y):
        regions = rng.permutation(np.unique(groups[y == c]))
        for i, g in enumerate(regions):
            fold_of_group[int(g)] = i % k
    fold = np.array([fold_of_group[int(g)] for g in groups])
    return [(np.nonzero(fold != i)[0], np.nonzero(fold == i)[0]) for i in range(k)]


def at_most_per_class(y: np.ndarray, most: int, seed: int) -> np.ndarray:
    """Sorted indices of at most ``most`` randomly drawn samples of each class (all of a smaller class)."""
    rng = np.random.default_rng(seed)
    keep = [idx if len(idx) <= most else rng.choice(idx, most, replace=False)
            for idx in (np.nonzero(y == c)[0] for c in np.unique(y))]
    return np.sort(np.concatenate(keep))


def resolve_smoothing(setting: Optional[float], choose: Callable[[], SmoothingChoice]) -> SmoothingChoice:
    """The analyst's fixed width (``setting`` ≥ 0) or, when ``None``, the cross-validated one."""
    if setting is None:
        return choose()
    if setting < 0:
        raise ValueError(f"spatial smoothing must be 0 (off), a width in pixels, or automatic; got {setting}")
    return SmoothingChoice(float(setting), 0, reason="set by the analyst" if setting else "off, as asked")
