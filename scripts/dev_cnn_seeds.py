"""Prototype, outside the product: three CNNs of different seeds averaged, on the EnMAP development scene.

With 2-5 labels per class one CNN's result depends on its seed (initial weights, batch order, augmentation). The
candidate averages the class probabilities of three CNNs trained on the same labels with seeds s, s + 1000 and
s + 2000 (the product's ``cnn`` method each), scored alone and as the three's average as ``dev_cnn_scoring.py``
scores (paired, on the development scene).

The rule, written before the run (BENCHMARKS.md §4, session 26): the blend's CNN becomes three if, on this scene,
the three's average beats the first CNN alone by at least +0.5 OA at both N (mean of the 5 seeds), and the ½ blend
with the three beats the ½ blend with one by at least +0.5 at both N. Run from the repository root (about 2 minutes):

    HYPERSYNTH_DATA_DIR=../shared/data .venv/bin/python scripts/dev_cnn_seeds.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dev_cnn_scoring  # noqa: E402  (the paired scoring on the development scene)

if __name__ == "__main__":
    dev_cnn_scoring.score([0, 1000, 2000], lambda cnns, patches: [
        ("one", cnns[0].predict_proba(patches)),
        ("three averaged", np.mean([cnn.predict_proba(patches) for cnn in cnns], axis=0))])
