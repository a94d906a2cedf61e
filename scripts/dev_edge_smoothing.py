"""Prototype, outside the product: edge-preserving smoothing of the class probabilities, on the EnMAP development scene.

The product smooths the blend's class probabilities with a plain Gaussian whose width the labels' CV chooses
(``core/classify/spatial.py``). A Gaussian also averages across the edge between two fields or two roofs. The
candidate weighs each neighbour by how alike its spectrum is too (a joint bilateral filter on the scene's leading
principal components; the edge-preserving filtering of Kang et al., IEEE TGRS 2014, uses a guided filter on the first
component, also scored here). For each development draw (EnMAP Potsdam's 14 train tiles, seeds 0-4, N = 2 and 5;
``unseen_scenes.development_draws``) the product's ``cnn`` (real labels only, preset fast) and the blend's forest
(spectrum + shape + slope) predict every valid pixel once; each filter is applied to the forest alone, the CNN alone
and their fixed ½ blend, scored on every labelled pixel not drawn (paired: the same pixels for every filter).

The rule, written before the run (BENCHMARKS.md §4, session 27): the product gets an edge-preserving candidate in its
smoothing CV if one setting of it beats the best Gaussian width (σ 1 or 2, the one better on average over both N) for
the ½ blend by at least +0.5 OA at both N (mean of the 5 seeds). Run from the repository root (a few minutes):

    HYPERSYNTH_DATA_DIR=../shared/data .venv/bin/python scripts/dev_edge_smoothing.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
import unseen_scenes  # noqa: E402  (the development scene's builder)

from hypersynth.core.classify.baselines import SpectralRandomForest  # noqa: E402
from hypersynth.core.classify.predict import predict_pixels  # noqa: E402
from hypersynth.core.classify.spatial import smooth_probabilities  # noqa: E402
from hypersynth.core.methods import MethodSettings, fit_method  # noqa: E402

Filter = Callable[[np.ndarray], np.ndarray]  # (K, H, W) probabilities -> (K, H, W) smoothed


def components(cube: np.ndarray, valid: np.ndarray, n: int) -> np.ndarray:
    """``(n, H, W)`` leading principal components of the standardised spectra (0 where invalid)."""
    x = cube[:, valid].T.astype(np.float64)  # (P, B)
    x = (x - x.mean(0)) / (x.std(0) + 1e-12)
    _, _, vt = np.linalg.svd(x[:: max(1, len(x) // 20000)], full_matrices=False)
    z = x @ vt[:n].T  # (P, n)
    out = np.zeros((n, *valid.shape))
    out[:, valid] = z.T
    return out


def bilateral(z: np.ndarray, valid: np.ndarray, sigma: float, h_factor: float) -> Filter:
    """Joint bilateral filter: neighbour weight = Gaussian(distance, σ) · exp(-½ (|z_i − z_j| / h)²), h = the median
    distance between valid 4-neighbours times ``h_factor``; invalid pixels weigh nothing."""
    height, width = valid.shape
    reach = int(3 * sigma + 0.5)
    steps = [(a, b) for a in range(-1, 2) for b in range(-1, 2) if (a, b) in ((0, 1), (1, 0))]
    near = []
    for a, b in steps:
        both = valid[: height - a, : width - b] & valid[a:, b:]
        d = np.linalg.norm(z[:, : height - a, : width - b] - z[:, a:, b:], axis=0)
        near.append(d[both])
    h = float(np.median(np.concatenate(near))) * h_factor
    zp = np.pad(z, ((0, 0), (reach, reach), (reach, reach)))
    vp = np.pad(valid, reach)
    weights = []
    for a in range(-reach, reach + 1):
        for b in range(-reach, reach + 1):
            zs = zp[:, reach + a: reach + a + height, reach + b: reach + b + width]
            vs = vp[reach + a: reach + a + height, reach + b: reach + b + width]
            d2 = ((z - zs) ** 2).sum(0)
            w = np.exp(-0.5 * (a * a + b * b) / sigma ** 2) * np.exp(-0.5 * d2 / h ** 2) * vs
            weights.append(((a, b), w))

    def apply(proba: np.ndarray) -> np.ndarray:
        pp = np.pad(np.where(valid, proba, 0.0), ((0, 0), (reach, reach), (reach, reach)))
        total = np.zeros_like(proba, dtype=np.float64)
        norm = np.zeros(valid.shape)
        for (a, b), w in weights:
            total += w * pp[:, reach + a: reach + a + height, reach + b: reach + b + width]
            norm += w
        return np.where(valid, total / np.maximum(norm, 1e-12), 0.0)

    return apply


def guided(guide: np.ndarray, valid: np.ndarray, radius: int, eps: float) -> Filter:
    """He et al.'s guided filter of each probability map by a grey guide (the first component scaled to 0..1),
    box means taken over valid pixels only."""
    g = np.where(valid, (guide - guide[valid].min()) / np.ptp(guide[valid]), 0.0)
    size = 2 * radius + 1
    count = ndimage.uniform_filter(valid.astype(float), size, mode="constant")

    def mean(a: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(np.where(valid, a, 0.0), size, mode="constant") / np.maximum(count, 1e-12)

    mg = mean(g)
    var = mean(g * g) - mg ** 2

    def apply(proba: np.ndarray) -> np.ndarray:
        out = np.empty_like(proba, dtype=np.float64)
        for k, p in enumerate(proba):
            mp = mean(p)
            a = (mean(g * p) - mg * mp) / (var + eps)
            b = mp - a * mg
            out[k] = mean(a) * g + mean(b)
        out = np.clip(out, 0, None)
        return np.where(valid, out / np.maximum(out.sum(0), 1e-12), 0.0)

    return apply


def full_map(proba_of: Callable[[np.ndarray, np.ndarray], np.ndarray], valid: np.ndarray, k: int) -> np.ndarray:
    """``(K, H, W)`` probabilities of every valid pixel."""
    r, c = np.nonzero(valid)
    out = np.zeros((k, *valid.shape))
    out[:, r, c] = proba_of(r, c).T
    return out


def main() -> None:
    torch.set_num_threads(2)
    scene, truth, cube = unseen_scenes.development_cube()  # cube: (B, H, W) usable bands
    valid = scene.valid
    z = components(cube, valid, 10)
    filters: dict[str, Filter] = {"none": lambda p: p}
    for s in (1.0, 2.0):
        filters[f"Gaussian σ {s:g}"] = lambda p, s=s: smooth_probabilities(p, valid, s).astype(np.float64)
    for s in (1.0, 2.0):
        for f in (0.5, 1.0, 2.0):
            filters[f"bilateral σ {s:g}, h ×{f:g}"] = bilateral(z, valid, s, f)
    for r in (2, 4):
        for eps in (1e-3, 1e-2):
            filters[f"guided r {r}, ε {eps:g}"] = guided(z[0], valid, r, eps)
    rows: dict[tuple[int, str], list[float]] = {}
    for n, seed, train, test in unseen_scenes.development_draws(scene, truth):
        classes = np.unique(train[train > 0])
        cnn = fit_method("cnn", cube, valid, train, [], MethodSettings(preset="fast", seed=seed)).classifier
        r, c = np.nonzero(train > 0)
        forest = SpectralRandomForest(500, seed=seed, n_jobs=2, inputs="spectrum+shape+slope")
        forest.fit(cube[:, r, c].T[:, :, None, None], np.searchsorted(classes, train[r, c]))
        maps = {"forest": full_map(lambda rr, cc: forest.predict_proba(cube[:, rr, cc].T[:, :, None, None]), valid,
                                   len(classes)),
                "CNN": full_map(lambda rr, cc: predict_pixels(cnn, cube, rr, cc, valid=valid), valid, len(classes))}
        maps["½ blend"] = 0.5 * maps["forest"] + 0.5 * maps["CNN"]
        tr, tc = np.nonzero(test)
        for member, proba in maps.items():
            for name, smooth in filters.items():
                oa = 100 * float(np.mean(classes[smooth(proba)[:, tr, tc].argmax(0)] == truth[tr, tc]))
                rows.setdefault((n, f"{member}, {name}"), []).append(oa)
        print(f"N={n} seed={seed}: " + ", ".join(f"{k}: {v[-1]:.1f}" for (nn, k), v in rows.items()
                                                 if nn == n and k.startswith("½")), flush=True)
    unseen_scenes.print_development_table(rows, digits=1)


if __name__ == "__main__":
    main()
