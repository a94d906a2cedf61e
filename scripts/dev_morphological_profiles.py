"""Prototype, outside the product: extended morphological profiles (EMP) as inputs of the blend's forest, on the EnMAP
development scene.

Session 28 found that EnMAP Potsdam at N = 5 needs a stronger spectral member; session 30's unmixing fractions and
3 × 3 mean gained at most +0.6. An EMP (Benediktsson et al. 2005, the classic spectral-spatial input of few-label
urban mapping) says how large and how bright or dark the structure around a pixel is: the scene's first principal
components (fitted on its valid pixels, no labels), each opened and closed by reconstruction with discs of growing
radius. A roof and a street of alike spectra differ there by their size and their contrast with what surrounds them.

Candidates, scored as sessions 23-30 scored theirs: for each development draw (EnMAP Potsdam's 14 train tiles, seeds
0-4, N = 2 and 5; ``unseen_scenes.development_draws``) a 500-tree forest (seeded with the draw's seed) learns each
input set from the drawn labels and is scored on every labelled pixel not drawn (paired):
- the blend's forest inputs (spectrum + shape + slope), as they are;
- those + the EMP of the first 4 components (discs of radius 1, 2, 3: 4 × 7 inputs);
- those + the EMP of the first 8 components;
- the first 10 components + the EMP of the first 4 alone (a forest whose splits draw on the profile far more often:
  among ~650 spectral inputs, a few profile inputs are rarely offered to a split, as session 30 saw);
- the blend's inputs + the plain (not by reconstruction) openings and closings of the first 4 components.

The rule, written before the run (BENCHMARKS.md §4, session 35): the one candidate with the best mean over both N
becomes the forest's inputs in the product if it beats the blend's forest inputs (spectrum + shape + slope) by at least
+1.0 OA at N = 5 and loses no more than 0.5 at N = 2 (means of the 5 seeds); otherwise nothing is built. Run from the
repository root (a few minutes):

    HYPERSYNTH_DATA_DIR=../shared/data .venv/bin/python scripts/dev_morphological_profiles.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage
from sklearn.decomposition import PCA

sys.path.insert(0, str(Path(__file__).resolve().parent))
import unseen_scenes  # noqa: E402  (the development scene's builder)

from hypersynth.core.classify.baselines import _shape_and_slope  # noqa: E402

RADII = (1, 2, 3)  # disc radii (pixels) of the profile's openings and closings
SAMPLE = 20000  # valid pixels the PCA is fitted on (a fixed, label-free draw of the scene)


def disc(radius: int) -> np.ndarray:
    """A ``(2r + 1, 2r + 1)`` boolean disc footprint."""
    y, x = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    return x * x + y * y <= radius * radius


def reconstruct_by_dilation(marker: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Greyscale reconstruction of ``mask`` from ``marker`` <= ``mask``: geodesic 3 × 3 dilations until stable (no
    scikit-image here; scipy has no reconstruction)."""
    current = np.minimum(marker, mask)
    while True:
        grown = np.minimum(ndimage.grey_dilation(current, size=(3, 3)), mask)
        if np.array_equal(grown, current):
            return current
        current = grown


def opening_by_reconstruction(image: np.ndarray, radius: int) -> np.ndarray:
    return reconstruct_by_dilation(ndimage.grey_erosion(image, footprint=disc(radius)), image)


def closing_by_reconstruction(image: np.ndarray, radius: int) -> np.ndarray:
    return -opening_by_reconstruction(-image, radius)


def profile(component: np.ndarray, by_reconstruction: bool) -> list[np.ndarray]:
    """The component and its openings and closings with discs of :data:`RADII`: ``1 + 2 × len(RADII)`` maps."""
    maps = [component]
    for r in RADII:
        if by_reconstruction:
            maps += [opening_by_reconstruction(component, r), closing_by_reconstruction(component, r)]
        else:
            maps += [ndimage.grey_opening(component, footprint=disc(r)),
                     ndimage.grey_closing(component, footprint=disc(r))]
    return maps


def components(pixels: np.ndarray, valid: np.ndarray, shape: tuple[int, int], k: int) -> np.ndarray:
    """``(k, H, W)`` the first k principal components, fitted on a label-free sample of valid pixels; no-data 0."""
    rng = np.random.default_rng(0)
    fit_on = rng.choice(np.flatnonzero(valid), size=min(SAMPLE, int(valid.sum())), replace=False)
    pca = PCA(k, random_state=0).fit(pixels[fit_on])
    scores = np.where(valid[:, None], pca.transform(pixels), 0.0)  # (P, k)
    return scores.T.reshape((k,) + shape).astype(np.float64)


def emp(pcs: np.ndarray, by_reconstruction: bool = True) -> np.ndarray:
    """``(P, k × (1 + 2 × len(RADII)))`` the profile of every component, a row per pixel."""
    maps = [m for pc in pcs for m in profile(pc, by_reconstruction)]
    return np.stack([m.ravel() for m in maps], axis=1).astype(np.float32)


def main() -> None:
    started = time.time()
    scene, truth, cube = unseen_scenes.development_cube()
    shape = cube.shape[1:]
    valid = scene.valid.ravel()
    pixels = cube.reshape(cube.shape[0], -1).T  # (H*W, B)
    base = _shape_and_slope(pixels)
    pcs = components(pixels, valid, shape, 10)
    emp4, emp8 = emp(pcs[:4]), emp(pcs[:8])
    print(f"profiles made ({time.time() - started:.0f} s)", flush=True)
    features = {
        "spectrum + shape + slope (the blend's forest)": base,
        "+ EMP of 4 components": np.hstack([base, emp4]),
        "+ EMP of 8 components": np.hstack([base, emp8]),
        "10 components + EMP of 4 alone": np.hstack([pcs.reshape(10, -1).T.astype(np.float32), emp4]),
        "+ plain openings and closings of 4 components": np.hstack([base, emp(pcs[:4], by_reconstruction=False)]),
    }
    unseen_scenes.score_forest_inputs(features, scene, truth, started)


if __name__ == "__main__":
    main()
