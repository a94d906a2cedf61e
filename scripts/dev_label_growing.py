"""Prototype, outside the product: labels grown into their spectrally alike neighbours, on the EnMAP development scene.

A labelled pixel gives its class to the unlabelled valid pixels within ``R`` (Chebyshev distance) whose spectral angle
to it, over the scene's random-pair angle, is under a threshold (0.35 is the product's homogeneity threshold,
``core.neighbourhood``); a pixel two classes claim is left out. The blend's forest learns from the real and grown
labels. Same development scene and draws as ``dev_spectral_classifiers.py`` (EnMAP Potsdam's 14 train tiles, seeds
0-4); OA % on the labelled pixels not drawn, and the grown labels' purity against the ground truth. BENCHMARKS.md §4,
session 24, gives the result. Run from the repository root (about 2 minutes):

    HYPERSYNTH_DATA_DIR=../shared/data .venv/bin/python scripts/dev_label_growing.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import unseen_scenes  # noqa: E402  (the development scene's builder)

from hypersynth.core.classify.baselines import SpectralRandomForest  # noqa: E402
from hypersynth.core.neighbourhood import spatial_homogeneity  # noqa: E402

RULES = {"real labels only": (0, 0.0), "R 1, ratio < 0.25": (1, 0.25), "R 1, ratio < 0.35": (1, 0.35),
         "R 2, ratio < 0.25": (2, 0.25), "R 2, ratio < 0.35": (2, 0.35)}  # name: (R, threshold)


def grow(train: np.ndarray, unit: np.ndarray, valid: np.ndarray, random_angle: float, radius: int,
         threshold: float) -> np.ndarray:
    """``(H, W)`` class ids given to unlabelled pixels by their labelled neighbours (0 elsewhere)."""
    height, width = train.shape
    claims: dict[tuple[int, int], set[int]] = {}
    for r, c in zip(*np.nonzero(train)):
        for q in ((r + dr, c + dc) for dr in range(-radius, radius + 1) for dc in range(-radius, radius + 1)):
            if 0 <= q[0] < height and 0 <= q[1] < width and valid[q] and not train[q]:
                angle = np.degrees(np.arccos(np.clip(unit[:, r, c] @ unit[:, q[0], q[1]], -1.0, 1.0)))
                if angle / random_angle < threshold:
                    claims.setdefault(q, set()).add(int(train[r, c]))
    grown = np.zeros_like(train)
    for q, classes in claims.items():
        if len(classes) == 1:
            grown[q] = classes.pop()
    return grown


def main() -> None:
    scene, truth = unseen_scenes.development_scene()
    flat_truth = truth.ravel()  # (H*W,) as the pixels
    cube = scene.cube[scene.good_bands]  # (B, H, W)
    unit = cube / (np.linalg.norm(cube, axis=0, keepdims=True) + 1e-12)
    random_angle = spatial_homogeneity(cube, scene.valid).random_angle
    pixels = cube.reshape(cube.shape[0], -1).T  # (H*W, B)
    rows: dict[tuple[int, str], list[tuple[float, int, float]]] = {}
    for n, seed, train, test in unseen_scenes.development_draws(scene, truth):
        test = test.ravel()  # (H*W,) as the pixels
        for name, (radius, threshold) in RULES.items():
            grown = grow(train, unit, scene.valid, random_angle, radius, threshold) if radius else 0 * train
            labels = np.where(train > 0, train, grown).ravel()
            classes = np.unique(labels[labels > 0])
            forest = SpectralRandomForest(500, seed=seed, n_jobs=2, inputs="spectrum+shape+slope")
            forest.fit(pixels[labels > 0], np.searchsorted(classes, labels[labels > 0]))
            predicted = classes[forest.predict_proba(pixels[test]).argmax(1)]
            purity = 100 * float(np.mean(grown[grown > 0] == truth[grown > 0])) if grown.any() else float("nan")
            rows.setdefault((n, name), []).append(
                (100 * float(np.mean(predicted == flat_truth[test])), int((grown > 0).sum()), purity))
    print("| labels | N = 2 OA | per seed | grown, purity | N = 5 OA | per seed | grown, purity |\n"
          "|---|---|---|---|---|---|---|")
    for name in RULES:
        cells = []
        for n in (2, 5):
            a = np.array(rows[n, name])
            cells.append(f"{a[:, 0].mean():.1f} | {', '.join(f'{v:.1f}' for v in a[:, 0])} | "
                         f"{a[:, 1].mean():.0f}, {np.nanmean(a[:, 2]) if a[:, 1].any() else float('nan'):.1f} %")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
