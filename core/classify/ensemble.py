"""The product's classifier: the spectral-spatial CNN blended with a random forest on spectra, weighted by CV on the labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold

from ..progress import NULL_REPORTER, Reporter
from .base import Classifier

FORMAT = "hypersynth-ensemble/2"  # /2 added the spatial smoothing width
OLD_FORMATS = ("hypersynth-ensemble/1",)  # read as smoothing 0
CNN_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # candidate shares of the CNN in the blend (the rest is the forest's)
DEFAULT_CNN_WEIGHT = 0.5  # used when there are too few labels to cross-validate, and the tie-breaker
MAX_FOLDS = 5  # cross-validation folds on the labelled pixels (fewer when a class has fewer labels)


@dataclass
class BlendChoice:
    """How the CNN's share of the blend was chosen: cross-validation on the real labels only."""

    cnn_weight: float  # the CNN's share of the blended probabilities (1 - it = the forest's)
    folds: int  # cross-validation folds used; 0 = too few labels, the default weight was used
    scores: dict[float, float] = field(default_factory=dict)  # CV balanced accuracy per candidate weight

    def note(self) -> str:
        """One line for the run's report."""
        if not self.folds:
            return (f"classifier blend: CNN {self.cnn_weight:.2f} + spectral forest {1 - self.cnn_weight:.2f} "
                    "(default; a class has a single label, too few to cross-validate)")
        tried = ", ".join(f"{w:.2f}: {s * 100:.1f} %" for w, s in self.scores.items())
        return (f"classifier blend: CNN {self.cnn_weight:.2f} + spectral forest {1 - self.cnn_weight:.2f}, chosen by "
                f"{self.folds}-fold cross-validation on the real labels (balanced accuracy per CNN share: {tried}); "
                f"the chosen blend's cross-validated accuracy, {self.scores[self.cnn_weight] * 100:.1f} %, is optimistic "
                "(few labels, and the share was picked on the same folds): validation labels give the real figure")


def choose_cnn_weight(patches: np.ndarray, y: np.ndarray, make_cnn: Callable[[], Classifier],
                      make_forest: Callable[[], Classifier], *, seed: int = 0,
                      reporter: Reporter = NULL_REPORTER) -> BlendChoice:
    """Pick the CNN's share of the blend by stratified k-fold CV on the real labelled patches.

    Each fold trains a fresh CNN and forest on the other folds' labels and predicts the held-out ones;
    the blend weights in :data:`CNN_WEIGHTS` are scored on those out-of-fold probabilities (balanced
    accuracy, so a class with more labels does not dominate). Ties go to the weight nearest 0.5. Only the
    labelled pixels are used: this is how a hyperparameter is chosen without test pixels.

    Args:
        patches: ``(N, B, p, p)`` real labelled patches.
        y: ``(N,)`` class indices 0..K-1.
        make_cnn, make_forest: return a fresh untrained member (same settings as the final one).
        seed: seeds the folds.
    """
    y = np.asarray(y, dtype=np.int64)
    counts = np.bincount(y)
    smallest = int(counts[counts > 0].min())
    if smallest < 2:
        return BlendChoice(DEFAULT_CNN_WEIGHT, 0)
    k = min(MAX_FOLDS, smallest)
    n_classes = int(y.max()) + 1
    p_cnn = np.zeros((len(y), n_classes), np.float32)  # out-of-fold probabilities
    p_forest = np.zeros_like(p_cnn)
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for i, (train, held) in enumerate(folds.split(np.zeros(len(y)), y)):
        reporter.check()
        reporter.progress(i / k, f"cross-validation {i + 1}/{k}")
        cnn = make_cnn().fit(patches[train], y[train], reporter=reporter.sub(i / k, (i + 0.9) / k))
        p_cnn[held] = cnn.predict_proba(patches[held])  # every class is in each training fold: k <= smallest
        forest = make_forest().fit(patches[train], y[train])
        p_forest[held] = forest.predict_proba(patches[held])
    scores = {w: float(balanced_accuracy_score(y, np.argmax(w * p_cnn + (1 - w) * p_forest, axis=1)))
              for w in CNN_WEIGHTS}
    best = max(scores.values())
    chosen = min((w for w, s in scores.items() if s >= best - 1e-12), key=lambda w: abs(w - DEFAULT_CNN_WEIGHT))
    reporter.progress(1.0, "cross-validation")
    return BlendChoice(chosen, k, scores)


class SpectralSpatialEnsemble:
    """``cnn_weight`` × CNN probabilities on patches + (1 − ``cnn_weight``) × forest probabilities on the centre
    spectrum. The CNN sees the neighbourhood, the forest only the pixel: where neighbours mislead (coarse,
    mixed scenes) the forest holds, where they help the CNN does; the labels decide the mix. Over a scene,
    :func:`~.predict.predict_scene` then smooths the blended probabilities with a Gaussian of width
    ``smoothing`` pixels (:mod:`.spatial`; 0 = off)."""

    def __init__(self, cnn: Any, forest: Any, cnn_weight: float, choice: Optional[BlendChoice] = None,
                 smoothing: float = 0.0, smoothing_note: str = "") -> None:
        if not 0.0 <= cnn_weight <= 1.0:
            raise ValueError(f"cnn_weight must be in [0, 1], got {cnn_weight}")
        if cnn.n_classes != forest.n_classes:
            raise ValueError(f"the CNN knows {cnn.n_classes} classes but the forest {forest.n_classes}; "
                             "train both on the same labels")
        self.cnn, self.forest, self.cnn_weight = cnn, forest, float(cnn_weight)
        self.choice = choice or BlendChoice(self.cnn_weight, 0)
        if smoothing < 0:
            raise ValueError(f"smoothing must be 0 (off) or a Gaussian width in pixels; got {smoothing}")
        self.smoothing = float(smoothing)  # σ (pixels) of the probability smoothing predict_scene applies
        self.smoothing_note = smoothing_note  # how σ was chosen, for the report and the bundle
        self.patch_size = int(cnn.patch_size)
        self.n_classes = int(cnn.n_classes)

    @property
    def members(self) -> dict[str, Any]:
        """The two classifiers blended, by name (for ablations and inspection)."""
        return {"cnn": self.cnn, "forest": self.forest}

    def fit(self, samples: np.ndarray, labels: np.ndarray, *, sample_weight: Optional[np.ndarray] = None,
            reporter: Reporter = NULL_REPORTER) -> "SpectralSpatialEnsemble":
        """Train both members on the same weighted patches (the blend weight stays as chosen)."""
        self.cnn.fit(samples, labels, sample_weight=sample_weight, reporter=reporter.sub(0.0, 0.9))
        self.forest.fit(samples, labels, sample_weight=sample_weight, reporter=reporter.sub(0.9, 1.0))
        self.n_classes = int(self.cnn.n_classes)
        return self

    def predict_proba(self, samples: np.ndarray) -> np.ndarray:
        """``(N, n_classes)`` float32 blended probabilities for ``(N, B, p, p)`` patches."""
        return self.blend(self.cnn.predict_proba(samples) if self.cnn_weight > 0 else None,
                          self.forest.predict_proba(samples) if self.cnn_weight < 1 else None)

    def blend(self, cnn_proba: Optional[np.ndarray], forest_proba: Optional[np.ndarray]) -> np.ndarray:
        """Float32 blend of the members' probabilities, ``(N, n_classes)`` rows or ``(n_classes, H, W)`` maps (a
        member without a share may be None); for callers that already have both, e.g. to score the members too."""
        proba = np.zeros(np.shape(cnn_proba if cnn_proba is not None else forest_proba), np.float32)
        if self.cnn_weight > 0:
            proba += self.cnn_weight * cnn_proba
        if self.cnn_weight < 1:
            proba += (1.0 - self.cnn_weight) * forest_proba
        return proba

    def predict(self, samples: np.ndarray) -> np.ndarray:
        """``(N,)`` most probable class index per patch."""
        return self.predict_proba(samples).argmax(axis=1)

    # -------------------------------------------------------------------------------- persistence
    def to_tensors(self) -> dict[str, Any]:
        """Both members' tensors, prefixed ``cnn.`` and ``forest.``."""
        return {**{f"cnn.{k}": v for k, v in self.cnn.to_tensors().items()},
                **{f"forest.{k}": v for k, v in self.forest.to_tensors().items()}}

    def config_dict(self) -> dict[str, Any]:
        """JSON-ready: the blend, how it was chosen, and both members' configs."""
        return {"format": FORMAT, "cnn_weight": self.cnn_weight, "cv_folds": self.choice.folds,
                "cv_scores": {str(w): s for w, s in self.choice.scores.items()},
                "smoothing": self.smoothing, "smoothing_note": self.smoothing_note,
                "patch_size": self.patch_size, "n_classes": self.n_classes,
                "cnn": self.cnn.config_dict(), "forest": self.forest.config_dict()}

    @classmethod
    def from_tensors(cls, tensors: dict[str, Any], config: dict[str, Any]) -> "SpectralSpatialEnsemble":
        """Rebuild from :meth:`to_tensors` and :meth:`config_dict` output (``config['device']`` for the CNN)."""
        from .baselines import SpectralRandomForest
        from .cnn import SpectralSpatialCNN

        if config.get("format") not in (FORMAT,) + OLD_FORMATS:
            raise ValueError(f"not a classifier-ensemble config (format {config.get('format')!r}, expected {FORMAT!r})")
        cnn_config = {**config["cnn"], "device": config.get("device", config["cnn"].get("device", "auto"))}
        cnn = SpectralSpatialCNN.from_tensors({k[4:]: v for k, v in tensors.items() if k.startswith("cnn.")},
                                              cnn_config)
        forest = SpectralRandomForest.from_tensors(
            {k[7:]: v for k, v in tensors.items() if k.startswith("forest.")}, config["forest"])
        choice = BlendChoice(float(config["cnn_weight"]), int(config.get("cv_folds", 0)),
                             {float(w): float(s) for w, s in config.get("cv_scores", {}).items()})
        return cls(cnn, forest, float(config["cnn_weight"]), choice, float(config.get("smoothing", 0.0)),
                   str(config.get("smoothing_note", "")))
