"""Prototype, outside the product: cheap spectral classifiers against the blend's forest on the EnMAP development scene.

The development scene is EnMAP Potsdam's 14 train tiles with all their labels (built as ``unseen_scenes.py`` does);
each seed draws N labels per class with ``few_label_split`` and every other labelled pixel is scored (OA %); the
trees are seeded with the draw's seed, as the product seeds its forest (session 23's run seeded them with 0).
BENCHMARKS.md §4, sessions 23 and 24, gives the results. Run from the repository root (about 4 minutes):

    HYPERSYNTH_DATA_DIR=../shared/data .venv/bin/python scripts/dev_spectral_classifiers.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.decomposition import PCA
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
import unseen_scenes  # noqa: E402  (the development scene's builder)

from hypersynth.core.classify.baselines import _shape_and_slope  # noqa: E402


def _shape(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _log_slope(x: np.ndarray) -> np.ndarray:
    return np.diff(np.log(np.maximum(x, 1e-4)), axis=1)


FEATURES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "spectrum": lambda x: x, "spectrum+shape+slope": _shape_and_slope, "shape": _shape, "log-slope": _log_slope}
CANDIDATES = {  # name: (features, model factory given the draw's seed; None = nearest class mean by spectral angle)
    "forest, 500 trees (the blend's)": ("spectrum+shape+slope", lambda s: RandomForestClassifier(
        500, n_jobs=2, random_state=s)),
    "shrinkage LDA, spectrum": ("spectrum", lambda s: LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")),
    "shrinkage LDA, spectrum+shape+slope": ("spectrum+shape+slope",
                                            lambda s: LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")),
    "shrinkage LDA, log-slope": ("log-slope", lambda s: LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")),
    "logistic regression (C 0.1), spectrum": ("spectrum", lambda s: make_pipeline(
        StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))),
    "logistic regression (C 0.1), spectrum+shape+slope": ("spectrum+shape+slope", lambda s: make_pipeline(
        StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))),
    "nearest class mean, spectral angle": ("shape", None),
    # session 24: other trees, and the scene's principal components (fitted on its pixels, no labels)
    "extra trees, 500, spectrum+shape+slope": ("spectrum+shape+slope", lambda s: ExtraTreesClassifier(
        500, n_jobs=2, random_state=s)),
    "forest, 500, a third of the features per split": ("spectrum+shape+slope", lambda s: RandomForestClassifier(
        500, max_features=0.3, n_jobs=2, random_state=s)),
    "forest, 500, 30 whitened principal components": ("pca30", lambda s: RandomForestClassifier(
        500, n_jobs=2, random_state=s)),
    "extra trees, 500, 30 whitened principal components": ("pca30", lambda s: ExtraTreesClassifier(
        500, n_jobs=2, random_state=s)),
    "forest, 500, spectrum+shape+slope and the 30 components": ("spectrum+shape+slope+pca30",
                                                                lambda s: RandomForestClassifier(
                                                                    500, n_jobs=2, random_state=s)),
}


def main() -> None:
    scene, truth = unseen_scenes.development_scene()
    flat_truth = truth.ravel()  # (H*W,) as the pixels
    pixels = scene.cube[scene.good_bands].reshape(int(scene.good_bands.sum()), -1).T  # (H*W, B)
    features = {name: f(pixels) for name, f in FEATURES.items()}
    valid = scene.valid.ravel()
    features["pca30"] = PCA(30, whiten=True, random_state=0).fit(pixels[valid][::7]).transform(pixels)
    features["spectrum+shape+slope+pca30"] = np.hstack([features["spectrum+shape+slope"], features["pca30"]])
    scores: dict[tuple[int, str], list[float]] = {}
    for n, seed, train, test in unseen_scenes.development_draws(scene, truth):
        train, test = train.ravel(), test.ravel()  # (H*W,) as the pixels
        fit = train > 0
        for name, (kind, make) in CANDIDATES.items():
            x = features[kind]
            if make is None:
                classes = np.unique(train[fit])
                means = _shape(np.stack([x[fit][train[fit] == c].mean(0) for c in classes]))
                predicted = classes[np.argmax(x[test] @ means.T, axis=1)]
            else:
                predicted = make(seed).fit(x[fit], train[fit]).predict(x[test])
            scores.setdefault((n, name), []).append(100 * float(np.mean(predicted == flat_truth[test])))
    print("| classifier | N = 2 | per seed | N = 5 | per seed |\n|---|---|---|---|---|")
    for name in CANDIDATES:
        cells = [f"{np.mean(scores[n, name]):.1f} | {', '.join(f'{v:.1f}' for v in scores[n, name])}" for n in (2, 5)]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
