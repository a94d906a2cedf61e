"""Prototype, outside the product: the scene's unmixing fractions as inputs of the blend's forest, on the EnMAP
development scene.

A 30 m EnMAP pixel of a city is a mixture (roof, street, tree, grass in one pixel), and the blend's forest learns
from 2-5 labelled spectra per class. The candidates give it what the scene's *unlabelled* pixels say about that
mixture: scikit-learn's NMF, fitted on the scene's valid spectra (no labels), gives k non-negative "endmember"
spectra and each pixel's non-negative weights on them; divided by their sum, the weights are fractions that do not
change with a pixel's brightness (shade, slope). Also scored: the same forest inputs computed on the 3 × 3 mean
spectrum around each pixel (its neighbourhood, as session 16 scored for the spectrum alone).

For each development draw (EnMAP Potsdam's 14 train tiles, seeds 0-4, N = 2 and 5;
``unseen_scenes.development_draws``) a 500-tree forest (seeded with the draw's seed, as the product seeds it) learns
each input set from the drawn labels and is scored on every labelled pixel not drawn (paired).

The rule, written before the run (BENCHMARKS.md §4, session 30): the one candidate with the best mean over both N
becomes a forest input of the product if it beats the blend's forest inputs (spectrum + shape + slope) by at least
+1.0 OA at N = 5 and loses no more than 0.5 at N = 2 (means of the 5 seeds); otherwise nothing is built. Run from the
repository root (a few minutes):

    HYPERSYNTH_DATA_DIR=../shared/data .venv/bin/python scripts/dev_unmixing_features.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage
from sklearn.decomposition import NMF

sys.path.insert(0, str(Path(__file__).resolve().parent))
import unseen_scenes  # noqa: E402  (the development scene's builder)

from hypersynth.core.classify.baselines import _shape_and_slope  # noqa: E402

SAMPLE = 20000  # valid pixels the NMF is fitted on (a fixed, label-free draw of the scene)


def nmf_weights(pixels: np.ndarray, valid: np.ndarray, k: int) -> np.ndarray:
    """``(P, k)`` non-negative weights of every pixel on k NMF endmembers fitted on a sample of the valid pixels."""
    x = np.maximum(pixels, 0.0)
    rng = np.random.default_rng(0)
    fit_on = rng.choice(np.flatnonzero(valid), size=min(SAMPLE, int(valid.sum())), replace=False)
    model = NMF(k, init="nndsvda", max_iter=400, random_state=0).fit(x[fit_on])
    return model.transform(x)


def neighbourhood_mean(cube: np.ndarray, valid: np.ndarray, size: int) -> np.ndarray:
    """``(B, H, W)`` the mean spectrum of each pixel's ``size × size`` valid neighbours."""
    weight = ndimage.uniform_filter(valid.astype(np.float64), size, mode="reflect")
    total = np.stack([ndimage.uniform_filter(np.where(valid, band, 0.0), size, mode="reflect") for band in cube])
    return (total / np.maximum(weight, 1e-12)).astype(np.float32)


def main() -> None:
    started = time.time()
    scene, truth, cube = unseen_scenes.development_cube()
    valid = scene.valid.ravel()
    pixels = cube.reshape(cube.shape[0], -1).T  # (H*W, B)
    base = _shape_and_slope(pixels)
    features = {"spectrum + shape + slope (the blend's forest)": base}
    for k in (8, 16):
        weights = nmf_weights(pixels, valid, k)
        fractions = weights / np.maximum(weights.sum(1, keepdims=True), 1e-12)
        features[f"+ NMF weights, k {k}"] = np.hstack([base, weights])
        features[f"+ NMF fractions, k {k}"] = np.hstack([base, fractions])
        print(f"NMF k {k} fitted ({time.time() - started:.0f} s)", flush=True)
    mean3 = neighbourhood_mean(cube, scene.valid, 3).reshape(cube.shape[0], -1).T
    features["+ the same of the 3 × 3 mean spectrum"] = np.hstack([base, _shape_and_slope(mean3)])
    unseen_scenes.score_forest_inputs(features, scene, truth, started)


if __name__ == "__main__":
    main()
