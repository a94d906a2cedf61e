"""Prototype, outside the product: the blend's CNN trained with mixup, on the EnMAP development scene.

A 30 m EnMAP pixel of a city is mostly a mixture of roof, road, tree and grass, and the CNN learns from 2 or 5 pure
labelled pixels per class. Mixup (Zhang et al., ICLR 2018) trains on convex mixtures of two patches of the batch with
the same mixture of their classes as the target: the linear mixing of spectra, as a labelled example. The candidate
draws λ ~ Beta(α, α) per patch after the product's own augmentation (flips, brightness, band noise), mixes each patch
with a random other of its batch, and weighs the two classes' cross-entropies by λ and 1 − λ. It is patched into the
product's training loop here (``cnn._augment`` and the loop's ``F.cross_entropy``), so the loop itself is the product's.

For each development draw (EnMAP Potsdam's 14 train tiles, seeds 0-4, N = 2 and 5; ``unseen_scenes.development_draws``)
the product's ``cnn`` (real labels only, preset fast) is trained plain and with each α, and scored, alone and in a
fixed ½ blend with the blend's forest (spectrum + shape + slope), on every labelled pixel not drawn (paired).

The rule, written before the run (BENCHMARKS.md §4, session 27): the CNN gets mixup (with that α) if one α gains at
least +0.5 OA for the CNN and +0.3 for the ½ blend, at both N (mean of the 5 seeds). Run from the repository root
(about 8 minutes):

    HYPERSYNTH_DATA_DIR=../shared/data .venv/bin/python scripts/dev_cnn_mixup.py
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import unseen_scenes  # noqa: E402  (the development scene's builder)

from hypersynth.core.classify import cnn as cnn_module  # noqa: E402
from hypersynth.core.classify.baselines import SpectralRandomForest  # noqa: E402
from hypersynth.core.classify.predict import pixel_patches  # noqa: E402
from hypersynth.core.methods import MethodSettings, resolve_patch_size  # noqa: E402

ALPHAS = (0.2, 1.0)


class _MixingFunctional:
    """``torch.nn.functional`` whose per-sample cross-entropy weighs the two mixed classes by λ and 1 − λ once a
    batch was mixed (the pairing left by the patched augmentation); everything else as torch's."""

    def __init__(self) -> None:
        self.pending: Optional[tuple[torch.Tensor, torch.Tensor]] = None  # (λ (n,), partner index (n,))

    def __getattr__(self, name: str) -> Any:
        return getattr(F, name)

    def cross_entropy(self, logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean",
                      label_smoothing: float = 0.0) -> torch.Tensor:
        if self.pending is None or reduction != "none":
            return F.cross_entropy(logits, target, reduction=reduction, label_smoothing=label_smoothing)
        lam, partner = self.pending
        self.pending = None
        own = F.cross_entropy(logits, target, reduction="none", label_smoothing=label_smoothing)  # (n,)
        other = F.cross_entropy(logits, target[partner], reduction="none", label_smoothing=label_smoothing)
        return lam * own + (1 - lam) * other


@contextmanager
def mixup(alpha: float, seed: int) -> Iterator[None]:
    """Within the block, the product's CNN trains on mixed patches (λ ~ Beta(α, α), a fixed draw per seed)."""
    original, functional = cnn_module._augment, _MixingFunctional()
    rng = np.random.default_rng(seed)

    def augment(x: torch.Tensor, gen: torch.Generator, cfg: Any, band_std: torch.Tensor) -> torch.Tensor:
        x = original(x, gen, cfg, band_std)  # (n, B, p, p)
        lam = torch.from_numpy(rng.beta(alpha, alpha, size=len(x)).astype(np.float32)).to(x.device)  # (n,)
        partner = torch.from_numpy(rng.permutation(len(x))).to(x.device)  # (n,)
        functional.pending = (lam, partner)
        return lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[partner]

    cnn_module._augment, cnn_module.F = augment, functional
    try:
        yield
    finally:
        cnn_module._augment, cnn_module.F = original, F


def main() -> None:
    torch.set_num_threads(2)
    scene, truth, cube = unseen_scenes.development_cube()  # cube: (B, H, W) usable bands
    valid = scene.valid
    rows: dict[tuple[int, str], list[float]] = {}
    for n, seed, train, test in unseen_scenes.development_draws(scene, truth):
        settings = MethodSettings(preset="fast", seed=seed)
        classes = np.unique(train[train > 0])
        r, c = np.nonzero(train > 0)
        y = np.searchsorted(classes, train[r, c])
        p = resolve_patch_size(settings, cube, valid)
        forest = SpectralRandomForest(500, seed=seed, n_jobs=2, inputs="spectrum+shape+slope")
        forest.fit(cube[:, r, c].T[:, :, None, None], y)
        tr, tc = np.nonzero(test)
        pf = forest.predict_proba(cube[:, tr, tc].T[:, :, None, None])
        real, scored = pixel_patches(cube, valid, r, c, p), pixel_patches(cube, valid, tr, tc, p)
        for name, alpha in (("plain", None), *((f"mixup α {a:g}", a) for a in ALPHAS)):
            net = cnn_module.SpectralSpatialCNN(patch_size=p, seed=seed, device="cpu", **cnn_module.cnn_preset("fast"))
            if alpha is None:
                net.fit(real, y)
            else:
                with mixup(alpha, seed):
                    net.fit(real, y)
            pc = net.predict_proba(scored)
            for tag, proba in ((f"CNN, {name}", pc), (f"½ blend with the forest, {name}", 0.5 * pc + 0.5 * pf)):
                oa = 100 * float(np.mean(classes[proba.argmax(1)] == truth[tr, tc]))
                rows.setdefault((n, tag), []).append(oa)
                print(f"N={n} seed={seed} {tag}: {oa:.2f}", flush=True)
    unseen_scenes.print_development_table(rows)


if __name__ == "__main__":
    main()
