"""Prototype, outside the product: superpixel (segment) means as inputs of the blend's forest, on the EnMAP
development scene.

EnMAP Potsdam at N = 5 is the cell furthest from the target (session 41: 2.7 under RF on the no-overlap split), and
the blend's best member there is the spectral forest. Fixed neighbourhoods added little to it (session 30: a 3 × 3
mean, +0.6 at most; session 35: morphological profiles, dropped). A superpixel is a neighbourhood that follows the
scene's edges: the mean spectrum of a pixel's segment denoises it without mixing in the street beside a roof, the
object-based idea of few-label hyperspectral mapping (e.g. SuperPCA, Jiang et al. 2018; superpixel-guided
classification, Fang et al. 2015). Segments are drawn from the scene alone (its first principal components, fitted on
a label-free sample of valid pixels), no labels.

Candidates, scored as sessions 23-42 scored theirs (``unseen_scenes.score_forest_inputs``: for each development draw,
EnMAP Potsdam's 14 train tiles, seeds 0-4, N = 2 and 5, a 500-tree forest seeded with the draw's seed learns each
input set from the drawn labels and is scored on every labelled pixel not drawn, paired):
- the blend's forest inputs (spectrum + shape + slope), as they are;
- those + the segment's mean spectrum and its size, Felzenszwalb segments of the first 3 components (scale 20);
- the same with larger segments (scale 80);
- those + SLIC segments' mean spectrum and size (about 1 segment per 16 valid pixels, compactness 0.1);
- the segment mean's spectrum + shape + slope in place of the pixel's (Felzenszwalb, scale 20).

The rule, written before the run (the rule of session 35): the one candidate with the best mean over both N would
become the forest's inputs in the product if it beats the blend's forest inputs by at least +1.0 OA at N = 5 and loses
no more than 0.5 at N = 2 (means of the 5 seeds); otherwise nothing is built. scikit-image is not a dependency of the
product; for this prototype it comes from a folder given on PYTHONPATH. Run from the repository root (a few minutes):

    PIP_FIND_LINKS= /usr/bin/python3 -m pip install -q --target /tmp/skim --no-deps scikit-image==0.24.0 lazy_loader
    PYTHONPATH=/tmp/skim HYPERSYNTH_DATA_DIR=../shared/data .venv/bin/python scripts/dev_superpixel_features.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage.segmentation import felzenszwalb, slic

sys.path.insert(0, str(Path(__file__).resolve().parent))
import unseen_scenes  # noqa: E402  (the development scene's builder)
from dev_morphological_profiles import components  # noqa: E402  (the label-free PCA of the valid pixels)

from hypersynth.core.classify.baselines import _shape_and_slope  # noqa: E402

PIXELS_PER_SLIC_SEGMENT = 16  # SLIC's segment count: the valid pixels over this


def scaled_rgb(pcs: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` the first three components, each robustly scaled to about 0-1 (what the segmenters expect)."""
    channels = []
    for pc in pcs[:3]:
        low, high = np.percentile(pc, (2, 98))
        channels.append(np.clip((pc - low) / max(high - low, 1e-9), 0, 1))
    return np.stack(channels, axis=-1)


def segment_means(pixels: np.ndarray, segments: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``(P, B + 1)`` each pixel's segment mean spectrum over the segment's valid pixels, and the log of its size."""
    ids = np.where(valid, segments.ravel() + 1, 0)  # 0: no-data, left out of every mean
    count = np.bincount(ids, minlength=ids.max() + 1).astype(np.float64)
    means = np.stack([ndimage.sum_labels(pixels[:, b], ids, index=np.arange(ids.max() + 1))
                      for b in range(pixels.shape[1])], axis=1) / np.maximum(count, 1)[:, None]
    out = np.hstack([means[ids], np.log1p(count[ids])[:, None]]).astype(np.float32)
    out[~valid] = 0
    return out


def main() -> None:
    started = time.time()
    scene, truth, cube = unseen_scenes.development_cube()
    shape = cube.shape[1:]
    valid = scene.valid.ravel()
    pixels = cube.reshape(cube.shape[0], -1).T  # (H*W, B)
    base = _shape_and_slope(pixels)
    rgb = scaled_rgb(components(pixels, valid, shape, 3))
    mask = scene.valid
    fz20 = felzenszwalb(rgb, scale=20, sigma=0.5, min_size=4) * mask
    fz80 = felzenszwalb(rgb, scale=80, sigma=0.5, min_size=8) * mask
    n_slic = int(mask.sum()) // PIXELS_PER_SLIC_SEGMENT
    sl = slic(rgb, n_segments=n_slic, compactness=0.1, mask=mask, start_label=1, channel_axis=-1)
    for name, seg in (("felzenszwalb 20", fz20), ("felzenszwalb 80", fz80), ("slic", sl)):
        sizes = np.bincount(seg[mask].ravel())
        sizes = sizes[sizes > 0]
        print(f"{name}: {sizes.size} segments, median {np.median(sizes):.0f} pixels", flush=True)
    seg20 = segment_means(pixels, fz20, valid)
    features = {
        "spectrum + shape + slope (the blend's forest)": base,
        "+ Felzenszwalb segment mean (scale 20)": np.hstack([base, seg20]),
        "+ Felzenszwalb segment mean (scale 80)": np.hstack([base, segment_means(pixels, fz80, valid)]),
        "+ SLIC segment mean": np.hstack([base, segment_means(pixels, sl, valid)]),
        "segment mean's spectrum + shape + slope (scale 20)": np.hstack([_shape_and_slope(seg20[:, :-1]),
                                                                          seg20[:, -1:]]),
    }
    print(f"features made ({time.time() - started:.0f} s)", flush=True)
    unseen_scenes.score_forest_inputs(features, scene, truth, started)


if __name__ == "__main__":
    main()
