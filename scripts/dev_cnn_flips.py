"""Prototype, outside the product: the CNN's prediction averaged over the patch's 8 flips and rotations, on the EnMAP
development scene.

The CNN learns with the 8 dihedral maps of its patches as augmentation (``cnn._augment``) but predicts from the patch
as it lies. Averaging its class probabilities over the same 8 maps at prediction time (test-time augmentation) is the
candidate, scored with and without the 8 maps as ``dev_cnn_scoring.py`` scores (paired, on the development scene).

The rule, written before the run (BENCHMARKS.md §4, session 26): the product averages over the 8 maps if, on this
scene, the CNN with them beats the CNN without by at least +0.3 OA at both N (mean of the 5 seeds), and the ½ blend
with them is not below the ½ blend without at either N. Run from the repository root (about 2 minutes):

    HYPERSYNTH_DATA_DIR=../shared/data .venv/bin/python scripts/dev_cnn_flips.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dev_cnn_scoring  # noqa: E402  (the paired scoring on the development scene)

from hypersynth.core.classify.cnn import _mirror  # noqa: E402


def dihedral(x: torch.Tensor) -> list[torch.Tensor]:
    """The 8 flips and 90° rotations of ``(N, B, p, p)`` patches about their centre pixel."""
    out = []
    for t in (x, x.transpose(2, 3)):
        for rows in (False, True):
            for cols in (False, True):
                y = _mirror(t, 2) if rows else t
                out.append(_mirror(y, 3) if cols else y)
    return out


def cnn_probabilities(cnn: Any, patches: np.ndarray, flips: bool) -> np.ndarray:
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


if __name__ == "__main__":
    dev_cnn_scoring.score([0], lambda cnns, patches: [("as it lies", cnn_probabilities(cnns[0], patches, False)),
                                                      ("8 maps", cnn_probabilities(cnns[0], patches, True))])
