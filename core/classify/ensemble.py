"""The product's classifier: the spectral-spatial CNN blended with a random forest on spectra, weighted by CV on the labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
from sklearn.metrics import balanced_accuracy_score

from ..progress import NULL_REPORTER, Reporter
from .base import Classifier
from .predict import patch_reader
from .spatial import (SIGMAS, SmoothingChoice, at_most_per_class, label_regions, region_folds, repeated,
                      resolve_smoothing, smoothed_at)

FORMAT = "hypersynth-ensemble/2"  # /2 added the spatial smoothing width
OLD_FORMATS = ("hypersynth-ensemble/1",)  # read as smoothing 0
CNN_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # candidate shares of the CNN in the blend (the rest is the forest's)
DEFAULT_CNN_WEIGHT = 0.5  # used when there are too few labels to cross-validate, and the tie-breaker
MAX_FOLDS = 5  # cross-validation folds on the labelled pixels (fewer when a class has fewer label regions)
REPEATS = 3  # repeated CV (fresh folds): with 2-5 labels per class one split is too noisy to choose on
MANY_LABELS = 50  # labelled pixels of the smallest class from which one split is enough (and 3 would be slow)
MAX_SMOOTHING_PIXELS = 60  # held-out pixels per class whose smoothed blend is scored (brushed labels: thousands)


@dataclass
class BlendChoice:
    """How the CNN's share of the blend was chosen: cross-validation on the real labels only."""

    cnn_weight: float  # the CNN's share of the blended probabilities (1 - it = the forest's)
    folds: int  # cross-validation folds used; 0 = too few labels, the default weight was used
    scores: dict[float, float] = field(default_factory=dict)  # CV balanced accuracy per candidate weight
    repeats: int = 1  # times the folds were drawn afresh (their held-out predictions pooled)

    def note(self) -> str:
        """One line for the run's report."""
        if not self.folds:
            return (f"classifier blend: CNN {self.cnn_weight:.2f} + spectral forest {1 - self.cnn_weight:.2f} "
                    "(default; a class has a single labelled region, too few to cross-validate)")
        tried = ", ".join(f"{w:.2f}: {s * 100:.1f} %" for w, s in self.scores.items())
        return (f"classifier blend: CNN {self.cnn_weight:.2f} + spectral forest {1 - self.cnn_weight:.2f}, chosen by "
                f"{repeated(self.repeats)}{self.folds}-fold cross-validation on the real labels, label regions held out whole "
                f"(balanced accuracy per CNN share: {tried}); "
                f"the chosen blend's cross-validated accuracy, {self.scores[self.cnn_weight] * 100:.1f} %, is optimistic "
                "(few labels, and the share was picked on the same folds): validation labels give the real figure")


def choose_blend_and_smoothing(cube: np.ndarray, valid: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                               y: np.ndarray, patches: np.ndarray, make_cnn: Callable[[], Classifier],
                               make_forest: Callable[[], Classifier], *, smoothing: Optional[float] = None,
                               seed: int = 0, sigmas: tuple[float, ...] = SIGMAS,
                               reporter: Reporter = NULL_REPORTER) -> tuple[BlendChoice, SmoothingChoice]:
    """Pick the CNN's share of the blend, then its smoothing width, by repeated k-fold CV on the real labels only.

    The folds hold out whole label regions (8-connected same-class labels: a brushed stroke), so a held-out
    pixel never has training labels for neighbours: that would flatter both the CNN, whose patch would
    overlap them, and the smoothing. Each fold trains a fresh CNN and forest on the other folds' labels.
    The shares in :data:`CNN_WEIGHTS` are scored on the held-out pixels' blended probabilities (balanced
    accuracy, so a class with more labels does not dominate; ties to the share nearest 0.5). The widths in
    ``sigmas`` are then scored with that share on the same held-out pixels, their neighbourhoods predicted
    by the fold's members and smoothed (the masked average is linear, so each member is smoothed once);
    ties go to the higher mean probability of the true class, then to the smaller width. With few labels the
    folds are drawn :data:`REPEATS` times and the held-out predictions pooled. Smoothing is
    chosen with the blend it will smooth: a spectral forest alone gains more from neighbours than a
    blend whose CNN already sees them.

    Args:
        cube: ``(B, H, W)`` scene; valid: ``(H, W)`` bool.
        rows, cols, y: ``(N,)`` real labelled pixels and their class indices 0..K-1.
        patches: ``(N, B, p, p)`` their patches (as :func:`~.predict.pixel_patches` cuts them).
        make_cnn, make_forest: return a fresh untrained member (same settings as the final one).
        smoothing: the analyst's width (≥ 0; then only the share is cross-validated), or None to choose it.
        seed: seeds the folds and the draw of the pixels whose smoothing is scored (at most
            :data:`MAX_SMOOTHING_PIXELS` per class: each costs a (2R + 1)² neighbourhood prediction).
    """
    y = np.asarray(y, dtype=np.int64)
    groups = label_regions(rows, cols, y, valid.shape)
    regions_per_class = np.array([len(np.unique(groups[y == k])) for k in np.unique(y)])
    if regions_per_class.min() < 2:
        why = ("off: a class has a single labelled region, too few to test smoothing on labels the model has not "
               "seen (label at least two separate places per class to let the labels choose)")
        return (BlendChoice(DEFAULT_CNN_WEIGHT, 0),
                resolve_smoothing(smoothing, lambda: SmoothingChoice(0.0, 0, reason=why)))
    k = min(MAX_FOLDS, int(regions_per_class.min()))
    repeats = REPEATS if np.bincount(y).min() < MANY_LABELS else 1
    widths = sigmas if smoothing is None else ()
    scored = np.zeros(len(y), bool)
    scored[at_most_per_class(y, MAX_SMOOTHING_PIXELS, seed)] = True
    p_cnn, p_forest, smoothed = _out_of_fold(cube, valid, rows, cols, y, groups, patches, make_cnn, make_forest,
                                             k, repeats, seed, scored, widths, reporter)
    n_classes = p_cnn.shape[-1]
    y_all = np.tile(y, repeats)  # the repeats' held-out predictions are pooled
    p_cnn, p_forest = p_cnn.reshape(-1, n_classes), p_forest.reshape(-1, n_classes)
    scores = {w: float(balanced_accuracy_score(y_all, np.argmax(w * p_cnn + (1 - w) * p_forest, axis=1)))
              for w in CNN_WEIGHTS}
    best = max(scores.values())
    w = min((c for c, s in scores.items() if s >= best - 1e-12), key=lambda c: abs(c - DEFAULT_CNN_WEIGHT))
    reporter.progress(1.0, "cross-validation")

    def choose_width() -> SmoothingChoice:  # scored for the chosen share, on the smoothed held-out blends
        t = np.tile(y[scored], repeats)
        sigma_scores, confidence = {}, {}
        for s in widths:
            both = smoothed[s][:, scored].reshape(len(t), 2, n_classes)  # (R·n, [cnn, forest], K)
            p = w * both[:, 0] + (1 - w) * both[:, 1]
            sigma_scores[s] = float(balanced_accuracy_score(t, np.argmax(p, axis=1)))
            confidence[s] = float(p[np.arange(len(t)), t].mean())
        best = max(sigma_scores.values())
        sigma = min((s for s in widths if sigma_scores[s] >= best - 1e-12), key=lambda s: (-confidence[s], s))
        return SmoothingChoice(float(sigma), k, sigma_scores, repeats=repeats)

    return BlendChoice(w, k, scores, repeats), resolve_smoothing(smoothing, choose_width)


def _out_of_fold(cube: np.ndarray, valid: np.ndarray, rows: np.ndarray, cols: np.ndarray, y: np.ndarray,
                 groups: np.ndarray, patches: np.ndarray, make_cnn: Callable[[], Classifier],
                 make_forest: Callable[[], Classifier], k: int, repeats: int, seed: int, scored: np.ndarray,
                 widths: tuple[float, ...], reporter: Reporter
                 ) -> tuple[np.ndarray, np.ndarray, dict[float, np.ndarray]]:
    """Each member's held-out probabilities over ``repeats`` draws of ``k`` region folds.

    Returns ``(R, N, K)`` CNN and forest probabilities of every labelled pixel from the fold that held it
    out, and ``{σ: (R, N, 2K)}`` both members' (CNN columns first) smoothed over each width in ``widths``
    (filled at the ``scored`` pixels only; zeros elsewhere).
    """
    n_classes = int(y.max()) + 1
    p_cnn = np.zeros((repeats, len(y), n_classes), np.float32)
    p_forest = np.zeros_like(p_cnn)
    smoothed = {s: np.zeros((repeats, len(y), 2 * n_classes), np.float32) for s in widths}
    read = patch_reader(cube, valid, patches.shape[-1]) if widths else None  # padded once for every fold
    total = repeats * k
    for rep in range(repeats):
        for i, (train, held) in enumerate(region_folds(y, groups, k, seed + rep)):
            reporter.check()
            step = rep * k + i
            reporter.progress(step / total, f"cross-validation {step + 1}/{total}")
            cnn = make_cnn().fit(patches[train], y[train], reporter=reporter.sub(step / total, (step + 0.8) / total))
            forest = make_forest().fit(patches[train], y[train])
            p_cnn[rep, held] = cnn.predict_proba(patches[held])  # every class is in each training fold
            p_forest[rep, held] = forest.predict_proba(patches[held])
            at = held[scored[held]]
            if read is None or not len(at):
                continue

            def proba_of(r: np.ndarray, c: np.ndarray, cnn: Classifier = cnn, forest: Classifier = forest
                         ) -> np.ndarray:  # (n, 2K): both members on the same patches, read once
                parts = []
                for i0 in range(0, len(r), 1024):
                    x = read(r[i0:i0 + 1024], c[i0:i0 + 1024])  # (n, B, p, p); the forest takes the centre
                    parts.append(np.concatenate([cnn.predict_proba(x), forest.predict_proba(x)], axis=1))
                return np.concatenate(parts)

            reporter.check()
            for s, p in smoothed_at(proba_of, valid, rows[at], cols[at], widths, block=512).items():
                smoothed[s][rep, at] = p
    return p_cnn, p_forest, smoothed


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
                "cv_repeats": self.choice.repeats,
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
                             {float(w): float(s) for w, s in config.get("cv_scores", {}).items()},
                             int(config.get("cv_repeats", 1)))
        return cls(cnn, forest, float(config["cnn_weight"]), choice, float(config.get("smoothing", 0.0)),
                   str(config.get("smoothing_note", "")))
