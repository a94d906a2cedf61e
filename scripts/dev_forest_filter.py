"""Prototype, outside the product: synthetic patches kept only where a forest of the real labels agrees, on the EnMAP
development scene.

Augment & Classify drops the synthetic patches whose centre spectrum is nearer (spectral angle) another class's mean
real spectrum (``methods.filter_by_real_means``). A class's mean is one point; a class of roofs or of mixed urban
pixels is not one cloud. The candidate also asks a random forest trained on the real labelled spectra (spectrum +
shape + slope, as the blend's) and keeps a synthetic patch only where it predicts the patch's own class: the labelled
pixels still arbitrate, through a model of their spread. It is patched in place of the product's filter here
(``methods.filter_by_real_means``), so everything else is the product's run.

For each development draw (EnMAP Potsdam's 14 train tiles, seeds 0-4, N = 2 and 5; ``unseen_scenes.development_draws``)
the product's ``augment`` method (preset fast) runs with each filter, and its map (the blend, smoothed as its CV chose)
is scored on every labelled pixel not drawn (paired: the same synthesis seeds, the same pixels).

The rule, written before the run (BENCHMARKS.md §4, session 27): the product gets the forest's agreement in its filter
if Augment & Classify gains at least +0.5 OA at both N (mean of the 5 seeds). Run from the repository root (about
25 minutes):

    HYPERSYNTH_DATA_DIR=../shared/data .venv/bin/python scripts/dev_forest_filter.py
"""

from __future__ import annotations

import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import unseen_scenes  # noqa: E402  (the development scene's builder)

from hypersynth.core import methods  # noqa: E402
from hypersynth.core.classify.base import centre_spectra  # noqa: E402
from hypersynth.core.classify.baselines import SpectralRandomForest  # noqa: E402
from hypersynth.core.classify.predict import predict_scene  # noqa: E402
from hypersynth.core.methods import MethodSettings, fit_method  # noqa: E402


@contextmanager
def forest_agreement(seed: int) -> Iterator[list[int]]:
    """Within the block, the product's synthetic filter also drops what a forest of the real labels calls another
    class; yields the list the patches it drops are counted into."""
    original = methods.filter_by_real_means
    dropped: list[int] = []

    def both(synthetic: Any, real: np.ndarray, y: np.ndarray, class_ids: np.ndarray) -> tuple[Any, int]:
        kept, by_means = original(synthetic, real, y, class_ids)
        forest = SpectralRandomForest(500, seed=seed, n_jobs=2, inputs="spectrum+shape+slope")
        forest.fit(centre_spectra(real)[:, :, None, None], y)
        said = class_ids[forest.predict_proba(centre_spectra(kept.patches)[:, :, None, None]).argmax(1)]  # (n,) ids
        keep = said == kept.labels
        kept = kept.subset(keep)  # the same fields as the product's filter selects, on its survivors
        dropped.append(int((~keep).sum()))
        return kept, by_means + int((~keep).sum())

    methods.filter_by_real_means = both
    try:
        yield dropped
    finally:
        methods.filter_by_real_means = original


def main() -> None:
    torch.set_num_threads(2)
    scene, truth, cube = unseen_scenes.development_cube()  # cube: (B, H, W) usable bands
    rows: dict[tuple[int, str], list[float]] = {}
    for n, seed, train, test in unseen_scenes.development_draws(scene, truth):
        for name, filtering in (("nearest real mean (shipped)", nullcontext([])),
                                ("nearest real mean and the forest agree", forest_agreement(seed))):
            with filtering as extra:
                fitted = fit_method("augment", cube, scene.valid, train, list(unseen_scenes.CLASSES),
                                    MethodSettings(preset="fast", seed=seed), wavelengths=scene.usable_wavelengths())
            pred = predict_scene(fitted.classifier, cube, scene.valid, batch_size=1024)
            tr, tc = np.nonzero(test & (pred.class_index >= 0))
            oa = 100 * float(np.mean(fitted.class_ids[pred.class_index[tr, tc]] == truth[tr, tc]))
            rows.setdefault((n, name), []).append(oa)
            print(f"N={n} seed={seed} {name}: {oa:.2f} (the forest dropped {sum(extra)} more)", flush=True)
    unseen_scenes.print_development_table(rows, "Augment & Classify, synthetic patches kept where")


if __name__ == "__main__":
    main()
