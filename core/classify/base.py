"""The interface every HyperSynth classifier shares, so baselines and deep models are interchangeable."""

from __future__ import annotations

from typing import Optional, Protocol, runtime_checkable

import numpy as np

from ..progress import NULL_REPORTER, Reporter

# How the cross-validation's held-out scores pick a blend's member shares (classify.ensemble.choose_shares); here,
# with no heavy imports, so the command line and the settings can list them without loading scikit-learn.
SHARE_RULES = ("balanced-accuracy", "log-loss")
# What the blend's cross-validation folds learn of the synthetic patches (classify.fold_synthesis): "none" (the
# real labels only), "anchored" (also the patches anchored on the fold's own labels) or "choose" (both, and the
# labels decide whether the final blend learns synthetic patches at all).
CV_SYNTHESIS = ("none", "anchored", "choose")
# What a forest splits on (classify.baselines.FOREST_INPUTS, which makes them), named here for the same reason.
FOREST_INPUT_NAMES = ("spectrum", "spectrum+shape+slope")


@runtime_checkable
class Classifier(Protocol):
    """fit on labelled samples, predict class probabilities for new samples.

    Samples are patches ``(N, B, p, p)`` float32 centred on the pixel to classify. A spectral
    classifier (``patch_size == 1``) receives ``(N, B, 1, 1)`` and uses the centre spectrum.
    Labels are class *indices* ``0..n_classes-1`` (not label-raster ids); the caller maps ids.
    """

    patch_size: int  # side of the patch the classifier looks at (1 = spectrum only)
    n_classes: int  # set by fit

    def fit(self, samples: np.ndarray, labels: np.ndarray, *, sample_weight: Optional[np.ndarray] = None,
            real_count: Optional[int] = None, reporter: Reporter = NULL_REPORTER) -> "Classifier":
        """Learn ``(N, B, p, p)`` patches with class indices ``(N,)``; ``real_count``: the first that many samples
        are the real labels (the rest synthetic or pseudo-labelled), for what needs them alone; None: not said."""
        ...

    def predict_proba(self, samples: np.ndarray) -> np.ndarray:
        """``(N, n_classes)`` float32 probabilities that sum to 1 per row."""
        ...


def centre_spectra(samples: np.ndarray) -> np.ndarray:
    """``(N, B, p, p)`` patches to their ``(N, B)`` centre spectra."""
    if samples.ndim == 2:
        return samples
    c = samples.shape[-1] // 2
    return samples[:, :, c, c]
