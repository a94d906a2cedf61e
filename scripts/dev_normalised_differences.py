"""Prototype, outside the product: normalised differences of band groups as inputs of the blend's forest, on the
EnMAP development scene.

EnMAP Potsdam at N = 5 is the cell furthest from the target (session 41: 2.7 under RF on the no-overlap split), and
the blend's best member there is its spectral forest. Neighbourhood inputs (3 x 3 means, morphological profiles,
superpixel means: sessions 30, 35, 43) and oblique splits (rotation forests, session 42) did not help it. What an
axis-aligned tree cannot split on is a ratio of two bands: remote sensing's indices (NDVI, NDWI, NDBI for built-up
areas) are normalised differences ``(a - b) / (a + b)``, and an exhaustive search over narrow-band pairs is the
classic way to find the ones that separate classes in hyperspectral data (Thenkabail, Smith & De Pauw 2000). The
forest's shape input (the L2-normalised spectrum) removes brightness, but each of its features is still one band.

Features, from the scene alone (no labels): the usable bands are cut into K contiguous groups of equal band count
(K = 12 or 24), each pixel's mean reflectance per group is taken, and every pair of groups gives
``(g_i - g_j) / (|g_i| + |g_j| + eps)`` (the absolute values keep it bounded where noise makes a group negative).

Candidates, scored as sessions 23-43 scored theirs (``unseen_scenes.score_forest_inputs``: for each development draw,
EnMAP Potsdam's 14 train tiles, seeds 0-4, N = 2 and 5, a 500-tree forest seeded with the draw's seed learns each
input set from the drawn labels and is scored on every labelled pixel not drawn, paired):
- the blend's forest inputs (spectrum + shape + slope), as they are;
- those + the normalised differences of 12 groups (66 features);
- those + the normalised differences of 24 groups (276 features);
- the spectrum + the normalised differences of 24 groups (shape and slope left out).

The rule, written before the run (session 35's): the one candidate with the best mean over both N would become the
forest's inputs in the product if it beats the blend's forest inputs by at least +1.0 OA at N = 5 and loses no more
than 0.5 at N = 2 (means of the 5 seeds); it would then be judged on the two held-out tiles (pooled) by the same two
thresholds before anything is built. Otherwise nothing is built. Run from the repository root (a few minutes):

    HYPERSYNTH_DATA_DIR=../shared/data .venv/bin/python scripts/dev_normalised_differences.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import unseen_scenes  # noqa: E402  (the development scene's builder)

from hypersynth.core.classify.baselines import _shape_and_slope  # noqa: E402


def normalised_differences(pixels: np.ndarray, groups: int) -> np.ndarray:
    """``(P, B)`` spectra to ``(P, groups * (groups - 1) / 2)``: every pair of band groups' normalised difference."""
    means = np.stack([part.mean(axis=1) for part in np.array_split(pixels, groups, axis=1)], axis=1)  # (P, K)
    i, j = np.triu_indices(groups, k=1)
    a, b = means[:, i], means[:, j]
    return ((a - b) / (np.abs(a) + np.abs(b) + 1e-6)).astype(np.float32)


def main() -> None:
    started = time.time()
    scene, truth, cube = unseen_scenes.development_cube()
    pixels = cube.reshape(cube.shape[0], -1).T  # (H*W, B)
    base = _shape_and_slope(pixels)
    nd12, nd24 = normalised_differences(pixels, 12), normalised_differences(pixels, 24)
    features = {
        "spectrum + shape + slope (the blend's forest)": base,
        "+ normalised differences of 12 band groups": np.hstack([base, nd12]),
        "+ normalised differences of 24 band groups": np.hstack([base, nd24]),
        "spectrum + normalised differences of 24 band groups": np.hstack([pixels.astype(np.float32), nd24]),
    }
    print(f"{pixels.shape[1]} bands; features made ({time.time() - started:.0f} s)", flush=True)
    unseen_scenes.score_forest_inputs(features, scene, truth, started)


if __name__ == "__main__":
    main()
