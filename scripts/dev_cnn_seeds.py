"""Prototype, outside the product: three CNNs of different seeds averaged, on the EnMAP development scene.

With 2-5 labels per class one CNN's result depends on its seed (initial weights, batch order, augmentation). The
candidate averages the class probabilities of three CNNs trained on the same labels with seeds s, s + 1000 and
s + 2000 (the product's ``cnn`` method each). Same development scene and draws as ``dev_spectral_classifiers.py`` (EnMAP Potsdam's 14 train tiles with
all their labels, seeds 0-4, N = 2 and 5): the product's ``cnn`` method (real labels only, preset fast) is trained on
each draw and scored, alone and as the three's average, on the same 20,000 labelled pixels not drawn (a fixed random subset
per draw, so the comparison is paired); so is a fixed ½ blend with the blend's forest (spectrum + shape + slope).

The rule, written before the run (BENCHMARKS.md §4, session 26): the blend's CNN becomes three if, on this scene,
the three's average beats the first CNN alone by at least +0.5 OA at both N (mean of the 5 seeds), and the ½ blend
with the three beats the ½ blend with one by at least +0.5 at both N. Run from the repository root (about 2 minutes):

    HYPERSYNTH_DATA_DIR=../shared/data .venv/bin/python scripts/dev_cnn_seeds.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import unseen_scenes  # noqa: E402  (the development scene's builder)

from hypersynth.core.classify.baselines import SpectralRandomForest  # noqa: E402
from hypersynth.core.classify.predict import pixel_patches  # noqa: E402
from hypersynth.core.methods import MethodSettings, fit_method  # noqa: E402

SCORED = 20_000  # labelled pixels not drawn, scored per draw (the same for every arm)


def cnn_probabilities(cnn, patches: np.ndarray) -> np.ndarray:
    """``(N, K)`` softmax of the fitted CNN."""
    return cnn.predict_proba(patches)


def main() -> None:
    torch.set_num_threads(2)
    scene, truth = unseen_scenes.development_scene()
    cube = np.ascontiguousarray(scene.cube[scene.good_bands])  # (B, H, W)
    rows: dict[tuple[int, str], list[float]] = {}
    for n, seed, train, test in unseen_scenes.development_draws(scene, truth):
        fitted = [fit_method("cnn", cube, scene.valid, train, [], MethodSettings(preset="fast", seed=seed + k))
                  for k in (0, 1000, 2000)]
        cnn, classes = fitted[0].classifier, fitted[0].class_ids
        r, c = np.nonzero(train > 0)
        forest = SpectralRandomForest(500, seed=seed, n_jobs=2, inputs="spectrum+shape+slope")
        forest.fit(cube[:, r, c].T[:, :, None, None], np.searchsorted(classes, train[r, c]))
        tr, tc = np.nonzero(test)
        pick = np.sort(np.random.default_rng(seed).choice(len(tr), size=min(SCORED, len(tr)), replace=False))
        tr, tc = tr[pick], tc[pick]
        truth_ids = truth[tr, tc]
        patches = pixel_patches(cube, scene.valid, tr, tc, cnn.patch_size)
        pf = forest.predict_proba(cube[:, tr, tc].T[:, :, None, None])
        alone = cnn_probabilities(cnn, patches)
        three = np.mean([alone] + [cnn_probabilities(f.classifier, patches) for f in fitted[1:]], axis=0)
        for pc, tag in ((alone, "one"), (three, "three averaged")):
            for name, proba in ((f"CNN, {tag}", pc), (f"½ blend with the forest, {tag}", 0.5 * pc + 0.5 * pf)):
                oa = 100 * float(np.mean(classes[proba.argmax(1)] == truth_ids))
                rows.setdefault((n, name), []).append(oa)
                print(f"N={n} seed={seed} {name}: {oa:.2f}", flush=True)
    print("| prediction | N = 2 | per seed | N = 5 | per seed |\n|---|---|---|---|---|")
    for name in dict.fromkeys(name for _, name in rows):
        cells = [f"{np.mean(rows[n, name]):.2f} | {', '.join(f'{v:.2f}' for v in rows[n, name])}" for n in (2, 5)]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
