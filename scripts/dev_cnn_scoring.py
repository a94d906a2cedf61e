"""Prototype, outside the product: the paired scoring of CNN variants on the EnMAP development scene.

Shared by ``dev_cnn_flips.py`` and ``dev_cnn_seeds.py``. For each development draw (EnMAP Potsdam's 14 train tiles
with all their labels, seeds 0-4, N = 2 and 5; ``unseen_scenes.development_draws``) the product's ``cnn`` method
(real labels only, preset fast) is trained once per seed offset, the blend's forest (spectrum + shape + slope) once,
and every variant is scored, alone and in a fixed ½ blend with the forest, on the same 20,000 labelled pixels not
drawn (a fixed random subset per draw, so the comparisons are paired).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import unseen_scenes  # noqa: E402  (the development scene's builder)

from hypersynth.core.classify.baselines import SpectralRandomForest  # noqa: E402
from hypersynth.core.classify.predict import pixel_patches  # noqa: E402
from hypersynth.core.methods import MethodSettings, fit_method  # noqa: E402

SCORED = 20_000  # labelled pixels not drawn, scored per draw (the same for every arm)

# (the draw's fitted CNNs, one per seed offset; their (N, B, p, p) patches) -> [(variant name, (N, K) probabilities)]
Variants = Callable[[list[Any], np.ndarray], list[tuple[str, np.ndarray]]]


def score(seed_offsets: Sequence[int], variants: Variants) -> None:
    """Print each draw's OA % per variant, alone and in the ½ blend, then the table of means and seeds."""
    torch.set_num_threads(2)
    scene, truth, cube = unseen_scenes.development_cube()  # cube: (B, H, W) usable bands
    rows: dict[tuple[int, str], list[float]] = {}
    for n, seed, train, test in unseen_scenes.development_draws(scene, truth):
        cnns = [fit_method("cnn", cube, scene.valid, train, [], MethodSettings(preset="fast", seed=seed + k)).classifier
                for k in seed_offsets]
        classes = np.unique(train[train > 0])
        r, c = np.nonzero(train > 0)
        forest = SpectralRandomForest(500, seed=seed, n_jobs=2, inputs="spectrum+shape+slope")
        forest.fit(cube[:, r, c].T[:, :, None, None], np.searchsorted(classes, train[r, c]))
        tr, tc = np.nonzero(test)
        pick = np.sort(np.random.default_rng(seed).choice(len(tr), size=min(SCORED, len(tr)), replace=False))
        tr, tc = tr[pick], tc[pick]
        pf = forest.predict_proba(cube[:, tr, tc].T[:, :, None, None])
        for tag, pc in variants(cnns, pixel_patches(cube, scene.valid, tr, tc, cnns[0].patch_size)):
            for name, proba in ((f"CNN, {tag}", pc), (f"½ blend with the forest, {tag}", 0.5 * pc + 0.5 * pf)):
                oa = 100 * float(np.mean(classes[proba.argmax(1)] == truth[tr, tc]))
                rows.setdefault((n, name), []).append(oa)
                print(f"N={n} seed={seed} {name}: {oa:.2f}", flush=True)
    unseen_scenes.print_development_table(rows)
