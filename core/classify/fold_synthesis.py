"""Synthetic patches inside the blend's cross-validation: each fold learns only those anchored on its own labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..progress import NULL_REPORTER, Reporter
from ..pseudo_labels import nearest_mean_index
from .base import Classifier, centre_spectra


def anchored_rows(labels: np.ndarray, anchor_index: Optional[np.ndarray], y: np.ndarray) -> np.ndarray:
    """``(S,)`` row of the real labelled pixel each synthetic patch started from, -1 for a start from noise.

    ``labels`` are the patches' class indices and ``anchor_index`` (``SyntheticSet.anchor_index``) counts within
    each class's anchors, which anchored synthesis took in label order (``real[y == k]``); None = all from noise.
    """
    labels = np.asarray(labels, np.int64)
    rows = np.full(len(labels), -1, np.int64)
    if anchor_index is None:
        return rows
    anchor_index = np.asarray(anchor_index, np.int64)
    for k in np.unique(labels):
        at = np.flatnonzero((labels == k) & (anchor_index >= 0))
        of_class = np.flatnonzero(y == k)
        if len(at) and anchor_index[at].max() >= len(of_class):
            raise ValueError(f"synthetic patches of class {int(k)} name anchor {int(anchor_index[at].max())}, but the "
                             f"class has {len(of_class)} labelled pixels: synthesise from these labels")
        rows[at] = of_class[anchor_index[at]]
    return rows


@dataclass
class FoldSynthetic:
    """The run's synthetic patches, as a cross-validation fold may learn them.

    An anchored patch starts from a real labelled patch noised part-way, so it keeps that label's likeness: a fold
    that holds the label out must not learn it, or the held-out pixel is scored by members that have nearly seen
    it. Each fold therefore learns the patches anchored on its own training labels (and those started from noise),
    filtered against the means of its own labels as the final run filters against all of them, at the same share
    of its real labels' weight. The synthesis model itself was trained on every label (training one per fold
    would cost the run's longest stage five-fold); its class prompts saw the held-out labels, a leak left in.
    """

    patches: np.ndarray  # (S, B, p, p) float32, as synthesised (before the filter against the real class means)
    labels: np.ndarray  # (S,) class indices 0..K-1
    anchors: np.ndarray  # (S,) int64 row of the real labelled pixel each patch started from; -1 = from noise
    share: float  # a fold's synthetic patches together weigh this much of its real labels (synthetic_weight)
    filter_by_means: bool = True  # keep a patch only if nearest (spectral angle) its class's mean of the fold's labels
    features: Optional[np.ndarray] = None  # (S, F) diffusion features, for the diffusion-feature SVM (else None)

    def __post_init__(self) -> None:
        n = len(self.patches)
        if len(self.labels) != n or len(self.anchors) != n or (self.features is not None and len(self.features) != n):
            raise ValueError("synthetic patches, labels, anchors and features must be one row per patch")
        self.labels = np.asarray(self.labels, np.int64)
        self.anchors = np.asarray(self.anchors, np.int64)
        self._centres = centre_spectra(self.patches).astype(np.float64)  # (S, B), for the per-fold filter

    def for_fold(self, train: np.ndarray, real: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Indices of the patches a fold whose real training labels are rows ``train`` of ``real``/``y`` learns."""
        ok = (self.anchors < 0) | np.isin(self.anchors, train)
        if self.filter_by_means and ok.any():  # the final run's filter (methods.filter_by_real_means), fold means
            centres = centre_spectra(real[train]).astype(np.float64)  # (n, B)
            t = y[train]
            means = np.stack([centres[t == k].mean(0) for k in range(int(y.max()) + 1)])  # (K, B); each k in train
            ok &= nearest_mean_index(self._centres, means) == self.labels
        return np.flatnonzero(ok)

    def weights(self, n_real: int, n_synthetic: int) -> np.ndarray:
        """``(n_real + n_synthetic,)`` loss weights: 1 per real label, the synthetic patches sharing ``share`` of
        the real labels' total (as :func:`hypersynth.core.methods._weighted_parts` weighs the final run)."""
        return np.concatenate([np.ones(n_real, np.float32),
                               np.full(n_synthetic, self.share * n_real / max(n_synthetic, 1), np.float32)])


def fit_fold_members(train: np.ndarray, real: np.ndarray, y: np.ndarray, pixel_features: Optional[np.ndarray],
                     synthetic: Optional[FoldSynthetic], make_cnn: Callable[[], Classifier],
                     make_forest: Callable[[], Classifier], make_svm: Optional[Callable[[], Classifier]],
                     reporter: Reporter = NULL_REPORTER) -> dict[str, Classifier]:
    """A fold's members ("cnn", "forest" and, given ``pixel_features``, "dfeat") trained on the real labels at rows
    ``train`` and, given ``synthetic``, on the synthetic patches that fold may learn (:meth:`FoldSynthetic.for_fold`).

    ``pixel_features`` are the ``(len(train), F)`` diffusion features of the training pixels; the SVM on them
    chooses C and γ on the real labels alone and then learns the synthetic patches' features too, as the final
    diffusion-feature member does.
    """
    x, t, w, extra = real[train], y[train], None, np.empty(0, np.int64)
    if synthetic is not None:
        extra = synthetic.for_fold(train, real, y)
        if len(extra):
            x = np.concatenate([x, synthetic.patches[extra]])
            t = np.concatenate([t, synthetic.labels[extra]])
            w = synthetic.weights(len(train), len(extra))
    members: dict[str, Classifier] = {"cnn": make_cnn().fit(x, t, sample_weight=w, real_count=len(train),
                                                            reporter=reporter)}
    members["forest"] = make_forest().fit(x, t, sample_weight=w)
    if pixel_features is not None and make_svm is not None:
        from .diffusion_features import fit_svm_real_first

        f = pixel_features
        if len(extra):
            if synthetic is None or synthetic.features is None:
                raise ValueError("the diffusion-feature SVM needs the synthetic patches' features (FoldSynthetic.features)")
            f = np.concatenate([f, synthetic.features[extra]])
        members["dfeat"] = fit_svm_real_first(make_svm, f, t, w, len(train))
    return members
