"""Prototype, outside the product: the CNN's prediction averaged over the patch's 8 flips and rotations, on the EnMAP
development scene.

The CNN learns with the 8 dihedral maps of its patches as augmentation (``cnn._augment``) but predicts from the patch
as it lies. Averaging its class probabilities over the same 8 maps at prediction time (test-time augmentation) is the
candidate. Same development scene and draws as ``dev_spectral_classifiers.py`` (EnMAP Potsdam's 14 train tiles with
all their labels, seeds 0-4, N = 2 and 5): the product's ``cnn`` method (real labels only, preset fast) is trained on
each draw and scored, with and without the 8 maps, on the same 20,000 labelled pixels not drawn (a fixed random subset
per draw, so the comparison is paired); so is a fixed ½ blend with the blend's forest (spectrum + shape + slope).

The rule, written before the run (BENCHMARKS.md §4, session 26): the product averages over the 8 maps if, on this
scene, the CNN with them beats the CNN without by at least +0.3 OA at both N (mean of the 5 seeds), and the ½ blend
with them is not below the ½ blend without at either N. Run from the repository root (about 2 minutes):

    HYPERSYNTH_DATA_DIR=../shared/data .venv/bin/python scripts/dev_cnn_flips.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import unseen_scenes  # noqa: E402  (the development scene's builder)

from hypersynth.core.classify.baselines import SpectralRandomForest  # noqa: E402
from hypersynth.core.classify.cnn import _mirror  # noqa: E402
from hypersynth.core.classify.predict import pixel_patches  # noqa: E402
from hypersynth.core.methods import MethodSettings, fit_method  # noqa: E402

SCORED = 20_000  # labelled pixels not drawn, scored per draw (the same for every arm)


def dihedral(x: torch.Tensor) -> list[torch.Tensor]:
    """The 8 flips and 90° rotations of ``(N, B, p, p)`` patches about their centre pixel."""
    out = []
    for t in (x, x.transpose(2, 3)):
        for rows in (False, True):
            for cols in (False, True):
                y = _mirror(t, 2) if rows else t
                out.append(_mirror(y, 3) if cols else y)
    return out


def cnn_probabilities(cnn, patches: np.ndarray, flips: bool) -> np.ndarray:
    """``(N, K)`` softmax of the fitted CNN, plain or averaged over the 8 maps."""
    net = cnn._fitted_net()
    net.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(patches), 1024):
            x = torch.from_numpy(patches[start:start + 1024])
            views = dihedral(x) if flips else [x]
            out.append(torch.stack([torch.softmax(net(v), 1) for v in views]).mean(0).numpy())
    return np.concatenate(out)


def main() -> None:
    torch.set_num_threads(2)
    scene, truth = unseen_scenes.development_scene()
    cube = np.ascontiguousarray(scene.cube[scene.good_bands])  # (B, H, W)
    rows: dict[tuple[int, str], list[float]] = {}
    for n, seed, train, test in unseen_scenes.development_draws(scene, truth):
        fitted = fit_method("cnn", cube, scene.valid, train, [], MethodSettings(preset="fast", seed=seed))
        cnn, classes = fitted.classifier, fitted.class_ids
        r, c = np.nonzero(train > 0)
        forest = SpectralRandomForest(500, seed=seed, n_jobs=2, inputs="spectrum+shape+slope")
        forest.fit(cube[:, r, c].T[:, :, None, None], np.searchsorted(classes, train[r, c]))
        tr, tc = np.nonzero(test)
        pick = np.sort(np.random.default_rng(seed).choice(len(tr), size=min(SCORED, len(tr)), replace=False))
        tr, tc = tr[pick], tc[pick]
        truth_ids = truth[tr, tc]
        patches = pixel_patches(cube, scene.valid, tr, tc, cnn.patch_size)
        pf = forest.predict_proba(cube[:, tr, tc].T[:, :, None, None])
        for flips in (False, True):
            pc = cnn_probabilities(cnn, patches, flips)
            tag = "8 maps" if flips else "as it lies"
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
