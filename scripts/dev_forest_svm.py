"""Prototype, outside the product: the blend's forest and the spectral SVM blended, on the EnMAP development scene.

The development scene is EnMAP Potsdam's 14 train tiles with all their labels (built as ``unseen_scenes.py`` does);
each seed draws N labels per class with ``few_label_split`` and every other labelled pixel is scored (OA %). The
SVM's share is fixed (0, ¼, ½, ¾, 1) or chosen by cross-validation on the drawn labels alone (stratified N-fold,
3 repeats, ties to the most even share), as the product chooses its blend. BENCHMARKS.md §4, session 24, gives the
result. Run from the repository root (about 2 minutes):

    HYPERSYNTH_DATA_DIR=../shared/data .venv/bin/python scripts/dev_forest_svm.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
import unseen_scenes  # noqa: E402  (the development scene's builder)

from hypersynth.core.classify.baselines import SpectralRandomForest, SpectralSVM  # noqa: E402

SVM_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)  # the SVM's share of the blend; the rest goes to the forest
REPEATS = 3  # repeated CV, fresh folds each time


def members(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[SpectralRandomForest, SpectralSVM]:
    """The blend's forest (500 trees on spectrum, shape and slope) and the SVM baseline, fitted on ``x, y``."""
    forest = SpectralRandomForest(500, seed=seed, n_jobs=2, inputs="spectrum+shape+slope").fit(x, y)
    return forest, SpectralSVM(seed=seed).fit(x, y)


def cv_share(x: np.ndarray, y: np.ndarray, n: int, seed: int) -> float:
    """The SVM share with the best held-out accuracy on the drawn labels (ties to the share nearest ½)."""
    hits: dict[float, list[float]] = {w: [] for w in SVM_SHARES}
    for r in range(REPEATS):
        for fit, held in StratifiedKFold(n_splits=n, shuffle=True, random_state=100 * r + seed).split(x, y):
            if len(np.unique(y[fit])) < len(np.unique(y)):
                continue
            forest, svm = members(x[fit], y[fit], seed)
            pf, ps = forest.predict_proba(x[held]), svm.predict_proba(x[held])
            for w in SVM_SHARES:
                hits[w].append(float(np.mean(((1 - w) * pf + w * ps).argmax(1) == y[held])))
    best = max(np.mean(v) for v in hits.values())
    return next(w for w in sorted(SVM_SHARES, key=lambda w: abs(w - 0.5)) if np.mean(hits[w]) >= best - 1e-12)


def main() -> None:
    scene, truth = unseen_scenes.development_scene()
    flat_truth = truth.ravel()  # (H*W,) as the pixels
    pixels = scene.cube[scene.good_bands].reshape(int(scene.good_bands.sum()), -1).T  # (H*W, B)
    rows: dict[tuple[int, str], list[float]] = {}
    for n, seed, train, test in unseen_scenes.development_draws(scene, truth):
        train, test = train.ravel(), test.ravel()  # (H*W,) as the pixels
        fit = train > 0
        classes = np.unique(train[fit])
        x, y = pixels[fit], np.searchsorted(classes, train[fit])
        forest, svm = members(x, y, seed)
        pf, ps = forest.predict_proba(pixels[test]), svm.predict_proba(pixels[test])
        chosen = cv_share(x, y, n, seed)
        for name, w in [(f"SVM share {w}", w) for w in SVM_SHARES] + [("SVM share chosen by CV", chosen)]:
            predicted = classes[((1 - w) * pf + w * ps).argmax(1)]
            rows.setdefault((n, name), []).append(100 * float(np.mean(predicted == flat_truth[test])))
        rows.setdefault((n, "share chosen"), []).append(chosen)
    unseen_scenes.print_development_table(rows, "blend")


if __name__ == "__main__":
    main()
