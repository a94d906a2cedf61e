"""Prototype, outside the product: rotation forests against the blend's forest on EnMAP Potsdam (session 42).

EnMAP Potsdam at N = 5 is where the target is furthest: the blend's best member there is its spectral forest, and
sessions 16–24 found no spectral classifier above it. Rotation forest (Rodríguez, Kuncheva & Alonso 2006, IEEE
TPAMI 28(10); on hyperspectral data Xia et al. 2014, IEEE GRSL 11(1)) had not been tried: each tree learns from the
features turned by PCA fitted per random subset of them (on a bootstrap of a random subset of the classes), so its
splits are oblique in the original features. It is not in scikit-learn, so the prototype writes it here.

Plan and rule, written at 10:34 UTC on 2026-12-07, before any run of this script:

1. **Choosing, on the development scene** (EnMAP Potsdam's 14 train tiles with all their labels; the same
   ``few_label_split`` draws, seeds 0–4, N = 2 and 5; OA % on every labelled pixel not drawn). Three candidates,
   each 200 trees seeded with the draw's seed, features standardised on the drawn labels: (A) spectrum + shape +
   slope, 3 features per rotated subset; (B) the same, 10 per subset; (C) the spectrum alone, 3 per subset.
   A candidate qualifies if its mean is above the blend's forest (500 trees on spectrum + shape + slope) at both N;
   the qualifying one with the best mean over both N is *the* candidate. None qualifying: nothing is built.
2. **Judging, on the two held-out tiles** (``validation_files.csv``; never in the development scene): the candidate
   and the blend's forest, each trained on every development draw, predict both tiles, pooled. It passes if it
   gains at least +1.0 OA at N = 5 and loses no more than 0.5 at N = 2 (session 16's rule for the forest's inputs).
3. Passing, it would replace the forest in the blend (a product change measured by the benchmark); failing, nothing
   is built and BENCHMARKS §4 says so.

Result (10:44 UTC, 10 min): no candidate qualified (1.7–4.3 points under the forest at N = 5, 1.9–3.0 at N = 2);
nothing was built. BENCHMARKS §4, session 42, has the tables.

Run from the repository root (a few minutes on 2 cores):

    HYPERSYNTH_DATA_DIR=../shared/data .venv/bin/python scripts/dev_rotation_forest.py
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
import unseen_scenes  # noqa: E402  (the development scene's builder)

from hypersynth.core.classify.baselines import _shape_and_slope  # noqa: E402
from hypersynth.core.io.read import read_scene  # noqa: E402


@dataclass
class RotationForest:
    """Rotation forest: each tree splits on the standardised features turned by per-subset PCA rotations."""

    trees: int = 200  # number of trees, each with its own rotation
    subset: int = 3  # features per rotated subset (the paper's M)
    sample: float = 0.75  # share of the chosen classes' labels bootstrapped to fit each subset's PCA
    seed: int = 0  # seeds the subsets, class choices, bootstraps and trees

    def fit(self, x: np.ndarray, y: np.ndarray) -> "RotationForest":
        rng = np.random.default_rng(self.seed)
        self.mean_ = x.mean(0)  # (F,)
        self.scale_ = np.where(x.std(0) > 0, x.std(0), 1.0)  # (F,)
        z = (x - self.mean_) / self.scale_  # (N, F)
        self.classes_ = np.unique(y)
        features = z.shape[1]
        groups = -(-features // self.subset)  # K subsets; the last is filled up with features drawn again
        self.members_ = []
        for _ in range(self.trees):
            order = np.concatenate([rng.permutation(features),
                                    rng.choice(features, groups * self.subset - features, replace=False)])
            index = order.reshape(groups, self.subset)  # (K, M) feature ids
            turns = np.empty((groups, self.subset, self.subset))  # (K, M, M) each subset's PCA axes as columns
            for k in range(groups):
                chosen = self.classes_[rng.random(len(self.classes_)) < 0.5]
                if chosen.size == 0:
                    chosen = rng.choice(self.classes_, 1)
                rows = np.flatnonzero(np.isin(y, chosen))
                picked = rng.choice(rows, max(2, int(round(self.sample * rows.size))), replace=True)
                d = z[np.ix_(picked, index[k])]
                _, _, vt = np.linalg.svd(d - d.mean(0), full_matrices=True)  # vt (M, M): full basis even if rank < M
                turns[k] = vt.T
            tree = DecisionTreeClassifier(random_state=int(rng.integers(2**31 - 1)))
            tree.fit(self._turn(z, index, turns), y)
            self.members_.append((index, turns, tree))
        return self

    @staticmethod
    def _turn(z: np.ndarray, index: np.ndarray, turns: np.ndarray) -> np.ndarray:
        return np.einsum("nkm,kmj->nkj", z[:, index], turns).reshape(len(z), -1)  # (N, K*M)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean_) / self.scale_
        proba = np.zeros((len(x), len(self.classes_)))
        for index, turns, tree in self.members_:
            proba += tree.predict_proba(self._turn(z, index, turns))  # every tree saw every class
        return proba / len(self.members_)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(x), axis=1)]


FOREST = "forest, 500 trees, spectrum+shape+slope (the blend's)"
CANDIDATES = {  # name: (features, model given the draw's seed)
    FOREST: ("spectrum+shape+slope", lambda s: RandomForestClassifier(500, n_jobs=2, random_state=s)),
    "(A) rotation forest, 200, spectrum+shape+slope, 3 per subset": (
        "spectrum+shape+slope", lambda s: RotationForest(200, 3, seed=s)),
    "(B) rotation forest, 200, spectrum+shape+slope, 10 per subset": (
        "spectrum+shape+slope", lambda s: RotationForest(200, 10, seed=s)),
    "(C) rotation forest, 200, spectrum, 3 per subset": ("spectrum", lambda s: RotationForest(200, 3, seed=s)),
}
FEATURES = {"spectrum": lambda x: x, "spectrum+shape+slope": _shape_and_slope}


def held_out_pixels(good_bands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two held-out tiles' labelled pixels: ``(P, B)`` spectra of the development scene's bands, ``(P,)`` ids."""
    spectra, ids = [], []
    for tile in unseen_scenes.read_tile_list(unseen_scenes.data_folder(), "validation_files.csv"):
        scene = read_scene(tile.image)
        truth = unseen_scenes.read_label_tile(tile.labels)
        keep = (truth > 0) & scene.valid
        spectra.append(scene.cube[good_bands][:, keep].T)
        ids.append(truth[keep])
    return np.concatenate(spectra), np.concatenate(ids)


def main() -> None:
    started = time.time()
    scene, truth = unseen_scenes.development_scene()
    flat_truth = truth.ravel()  # (H*W,)
    pixels = scene.cube[scene.good_bands].reshape(int(scene.good_bands.sum()), -1).T  # (H*W, B)
    tile_pixels, tile_truth = held_out_pixels(scene.good_bands)
    features = {name: f(pixels) for name, f in FEATURES.items()}
    tile_features = {name: f(tile_pixels) for name, f in FEATURES.items()}
    print(f"development scene {truth.shape}, {int((truth > 0).sum())} labelled; held-out tiles "
          f"{len(tile_truth)} labelled pixels", flush=True)
    development: dict[tuple[int, str], list[float]] = {}
    held_out: dict[tuple[int, str], list[float]] = {}
    for n, seed, train, test in unseen_scenes.development_draws(scene, truth):
        train, test = train.ravel(), test.ravel()
        fit = train > 0
        for name, (kind, make) in CANDIDATES.items():
            model = make(seed).fit(features[kind][fit], train[fit])
            development.setdefault((n, name), []).append(
                100 * float(np.mean(model.predict(features[kind][test]) == flat_truth[test])))
            held_out.setdefault((n, name), []).append(
                100 * float(np.mean(model.predict(tile_features[kind]) == tile_truth)))
        print(f"N {n} seed {seed} done ({time.time() - started:.0f} s)", flush=True)
    print("\nDevelopment scene (choosing):")
    unseen_scenes.print_development_table(development, first="classifier")
    print("\nHeld-out tiles, pooled (judging; read only for the candidate the development scene chose):")
    unseen_scenes.print_development_table(held_out, first="classifier")


if __name__ == "__main__":
    main()
