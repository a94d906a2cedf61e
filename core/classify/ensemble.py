"""The product's classifier: the spectral-spatial CNN, a random forest on spectra and, when the scene's diffusion model
is at hand, an SVM on its features, blended with weights chosen by CV on the labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
from sklearn.metrics import balanced_accuracy_score

from ..progress import NULL_REPORTER, Reporter
from .base import CV_SYNTHESIS, SHARE_RULES, Classifier
from .fold_synthesis import FoldSynthetic, fit_fold_members
from .predict import patch_reader
from .spatial import (SIGMAS, SmoothingChoice, at_most_per_class, label_regions, region_folds, repeated,
                      resolve_smoothing, smoothed_at)

FORMAT = "hypersynth-ensemble/3"  # /3 added the diffusion-feature member; /2 the spatial smoothing width
OLD_FORMATS = ("hypersynth-ensemble/1", "hypersynth-ensemble/2")  # /1 read as smoothing 0; both without the member
CNN_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # candidate shares of the CNN in the CNN + forest pair (the rest: forest)
DFEAT_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # candidate shares of the diffusion-feature SVM (the rest: the pair)
DEFAULT_CNN_WEIGHT = 0.5  # used when there are too few labels to cross-validate
DEFAULT_DFEAT_WEIGHT = 0.25  # likewise: with the pair at ½ / ½, the weights nearest an equal three-way blend
MAX_FOLDS = 5  # cross-validation folds on the labelled pixels (fewer when a class has fewer label regions)
REPEATS = 3  # repeated CV (fresh folds): with 2-5 labels per class one split is too noisy to choose on
MANY_LABELS = 50  # labelled pixels of the smallest class from which one split is enough (and 3 would be slow)
MAX_SMOOTHING_PIXELS = 60  # held-out pixels per class whose smoothed blend is scored (brushed labels: thousands)
MEMBER_NAMES = {"cnn": "CNN", "forest": "spectral forest", "dfeat": "diffusion-feature SVM"}


def member_weights(cnn_weight: float, dfeat_weight: float = 0.0) -> dict[str, float]:
    """The members' shares of the blend: ``dfeat_weight`` to the diffusion-feature SVM, the rest split between
    the CNN (``cnn_weight`` of it) and the forest."""
    pair = 1.0 - dfeat_weight
    return {"cnn": pair * cnn_weight, "forest": pair * (1.0 - cnn_weight), "dfeat": dfeat_weight}


def candidate_blends(with_dfeat: bool) -> list[tuple[float, float]]:
    """The ``(cnn_weight, dfeat_weight)`` pairs cross-validation scores (a blend that is all diffusion features
    once, whatever the pair's split), ordered from the most even blend: ties go to the first."""
    pairs = {(c, d if with_dfeat else 0.0) if d < 1 else (DEFAULT_CNN_WEIGHT, 1.0)
             for c in CNN_WEIGHTS for d in (DFEAT_WEIGHTS if with_dfeat else (0.0,))}
    n = 3 if with_dfeat else 2

    def unevenness(pair: tuple[float, float]) -> float:  # distance of the members' shares from an equal blend
        w = member_weights(*pair)
        shares = [w["cnn"], w["forest"]] + ([w["dfeat"]] if with_dfeat else [])
        return float(sum((x - 1.0 / n) ** 2 for x in shares))

    return sorted(pairs, key=lambda pair: (round(unevenness(pair), 9), pair))


def blend_probabilities(weights: dict[str, float], probabilities: dict[str, Optional[np.ndarray]]) -> np.ndarray:
    """Float32 sum of each member's ``share · probabilities`` (rows or maps, all one shape); a member without a
    share is skipped and may be None."""
    shape = np.shape(next(p for p in probabilities.values() if p is not None))
    proba = np.zeros(shape, np.float32)
    for m, w in weights.items():
        if w > 0:
            proba += w * probabilities[m]
    return proba


def most_even_best(scores: dict[tuple[float, float], float], candidates: list[tuple[float, float]]
                   ) -> tuple[float, float]:
    """The candidate blend with the highest score, ties to the first of ``candidates`` (the most even first, as
    :func:`candidate_blends` orders them): the "balanced-accuracy" share rule."""
    best = max(scores[key] for key in candidates)
    return next(key for key in candidates if scores[key] >= best - 1e-12)


def choose_shares(rule: str, scores: dict[tuple[float, float], float], log_losses: dict[tuple[float, float], float],
                  candidates: list[tuple[float, float]]) -> tuple[float, float]:
    """The blend a share rule picks from the CV's held-out scores, ties to the most even blend.

    "balanced-accuracy": the highest held-out balanced accuracy. With 2-5 labels per class it moves in steps of
    one held-out pixel, so many blends tie and the most even wins. "log-loss": the lowest held-out log-loss, a
    continuous score that also weighs how sure each member is of the true class.
    """
    if rule == "balanced-accuracy":
        return most_even_best(scores, candidates)
    if rule == "log-loss":
        return most_even_best({key: -log_losses[key] for key in candidates}, candidates)
    raise ValueError(f"unknown share rule {rule!r}; use one of {', '.join(SHARE_RULES)}")


@dataclass
class BlendChoice:
    """How the members' shares of the blend were chosen: cross-validation on the real labels only."""

    cnn_weight: float  # the CNN's share of the CNN + forest pair (1 - it = the forest's)
    folds: int  # cross-validation folds used; 0 = too few labels, the default weights were used
    scores: dict[tuple[float, float], float] = field(default_factory=dict)  # CV balanced accuracy per (cnn, dfeat)
    repeats: int = 1  # times the folds were drawn afresh (their held-out predictions pooled)
    dfeat_weight: float = 0.0  # the diffusion-feature SVM's share of the whole blend (0 = not a member)
    with_dfeat: bool = False  # whether the diffusion-feature SVM was a candidate member
    log_losses: dict[tuple[float, float], float] = field(default_factory=dict)  # CV log-loss per (cnn, dfeat)
    rule: str = "balanced-accuracy"  # which CV score picked the shares (SHARE_RULES)
    cv_synthesis: str = "none"  # what the folds learnt of the synthetic patches (CV_SYNTHESIS)
    learn_synthetic: bool = True  # whether the final blend learns the synthetic patches ("choose" may leave them out)
    arm_scores: dict[str, float] = field(default_factory=dict)  # "choose": each arm's chosen blend's CV score

    def weights(self) -> dict[str, float]:
        """Each member's share of the blend."""
        return member_weights(self.cnn_weight, self.dfeat_weight)

    def describe(self) -> str:
        """The blend in words: "CNN 0.38 + spectral forest 0.38 + diffusion-feature SVM 0.25"."""
        w = self.weights()
        names = ["cnn", "forest"] + (["dfeat"] if self.with_dfeat else [])
        return " + ".join(f"{MEMBER_NAMES[m]} {w[m]:.2f}" for m in names)

    def note(self, listing: bool = True) -> str:
        """One line for the run's report; ``listing=False`` leaves out the score of every blend tried (the
        report shows them as :meth:`table`)."""
        if not self.folds:
            return (f"classifier blend: {self.describe()} (default; a class has a single labelled region, too few "
                    "to cross-validate)")
        tried = ", ".join(f"{_key_text(key, self.with_dfeat)}: {s * 100:.1f} %"
                          for key, s in sorted(self.scores.items(), key=lambda item: (item[0][1], item[0][0])))
        what = 'CNN share of the pair / diffusion-feature share' if self.with_dfeat else 'CNN share'
        chosen = self.scores[(self.cnn_weight, self.dfeat_weight)]
        by = ("the lowest held-out log-loss" if self.rule == "log-loss" else "the highest held-out balanced accuracy")
        return (f"classifier blend: {self.describe()}, chosen by {repeated(self.repeats)}{self.folds}-fold "
                f"cross-validation on the real labels ({by}), label regions held out whole"
                + self.synthesis_note()
                + (f" (balanced accuracy per {what}: {tried})" if listing else "")
                + f"; the chosen blend's cross-validated balanced accuracy, {chosen * 100:.1f} %, is optimistic "
                "(few labels, and the shares were picked on the same folds): validation labels give the real figure")

    def synthesis_note(self) -> str:
        """What the folds learnt of the synthetic patches and, with "choose", what the labels decided; "" for "none"."""
        if self.cv_synthesis == "none":
            return ""
        text = "; each fold's members also learnt the synthetic patches anchored on that fold's labels"
        if self.cv_synthesis == "choose" and self.arm_scores:
            score = ("log-loss {:.3f}".format if self.rule == "log-loss" else
                     lambda v: f"balanced accuracy {v * 100:.1f} %")
            verdict = ("kept: the blend learns them" if self.learn_synthetic else
                       "left out: the blend learns your labels alone")
            text += (f"; synthetic patches {verdict} (held-out {score(self.arm_scores['synthetic'])} with them, "
                     f"{score(self.arm_scores['real'])} without)")
        return text

    def table(self) -> list[str]:
        """The cross-validated balanced accuracy of every blend tried, as Markdown table lines (the chosen one
        in bold): a row per CNN share of the CNN + forest pair, a column per diffusion-feature share below 1;
        the SVM alone (share 1, one blend whatever the pair) gets its own last row."""
        if not self.scores:
            return []

        def cell(key: tuple[float, float]) -> str:
            if key not in self.scores:
                return "–"
            text = f"{self.scores[key] * 100:.1f} %"
            return f"**{text}**" if key == (self.cnn_weight, self.dfeat_weight) else text

        shares = sorted({d for _, d in self.scores if d < 1})
        head = ["CNN share of the pair"] + ([f"SVM share {d:g}" for d in shares] if self.with_dfeat
                                            else ["CV balanced accuracy"])
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for c in sorted({c for c, d in self.scores if d < 1}):
            lines.append(f"| {c:g} | " + " | ".join(cell((c, d)) for d in shares) + " |")
        alone = [key for key in self.scores if key[1] == 1.0]
        if alone:
            lines.append("| SVM alone (share 1) | " + " | ".join([cell(alone[0])] + [""] * (len(shares) - 1)) + " |")
        return lines


def _key_text(key: tuple[float, float], with_dfeat: bool) -> str:
    return f"{key[0]:.2f}/{key[1]:.2f}" if with_dfeat else f"{key[0]:.2f}"


def choose_blend_and_smoothing(cube: np.ndarray, valid: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                               y: np.ndarray, patches: np.ndarray, make_cnn: Callable[[], Classifier],
                               make_forest: Callable[[], Classifier], *, smoothing: Optional[float] = None,
                               seed: int = 0, sigmas: tuple[float, ...] = SIGMAS,
                               dfeat: Optional[tuple[Callable[..., np.ndarray], Callable[[], Classifier]]] = None,
                               share_rule: str = "balanced-accuracy", synthetic: Optional[FoldSynthetic] = None,
                               cv_synthesis: str = "none",
                               reporter: Reporter = NULL_REPORTER) -> tuple[BlendChoice, SmoothingChoice]:
    """Pick the members' shares of the blend, then its smoothing width, by repeated k-fold CV on the real labels.

    The folds hold out whole label regions (8-connected same-class labels: a brushed stroke), so a held-out
    pixel never has training labels for neighbours: that would flatter both the CNN, whose patch would
    overlap them, and the smoothing. Each fold trains a fresh CNN and forest (and diffusion-feature SVM) on the
    other folds' labels. The blends of :func:`candidate_blends` are scored on the held-out pixels' blended
    probabilities by ``share_rule`` (:func:`choose_shares`: balanced accuracy, so a class with more labels does not
    dominate, or log-loss; ties to the most even blend). The widths in ``sigmas`` are then scored with that blend on the same held-out pixels, their
    neighbourhoods predicted by the fold's members and smoothed (the masked average is linear, so each member is
    smoothed once); ties go to the higher mean probability of the true class, then to the smaller width. With
    few labels the folds are drawn :data:`REPEATS` times and the held-out predictions pooled. Smoothing is
    chosen with the blend it will smooth: a spectral forest alone gains more from neighbours than a
    blend whose CNN already sees them.

    With ``synthetic`` and ``cv_synthesis`` "anchored", each fold's members also learn the synthetic patches
    anchored on that fold's labels (:class:`~.fold_synthesis.FoldSynthetic`), as the final members learn them
    all. With "choose", the same folds train both ways, each way's best blend is scored by ``share_rule``, and
    the synthetic patches stay only if they score at least as well (``BlendChoice.learn_synthetic``).

    Args:
        cube: ``(B, H, W)`` scene; valid: ``(H, W)`` bool.
        rows, cols, y: ``(N,)`` real labelled pixels and their class indices 0..K-1.
        patches: ``(N, B, p, p)`` their patches (as :func:`~.predict.pixel_patches` cuts them).
        make_cnn, make_forest: return a fresh untrained member (same settings as the final one).
        smoothing: the analyst's width (≥ 0; then only the shares are cross-validated), or None to choose it.
        seed: seeds the folds and the draw of the pixels whose smoothing is scored (at most
            :data:`MAX_SMOOTHING_PIXELS` per class: each costs a (2R + 1)² neighbourhood prediction).
        dfeat: ``(features_at, make_svm)`` to make the diffusion-feature SVM a candidate member:
            ``features_at(rows, cols)`` gives pixels' ``(n, F)`` diffusion features (each extracted once:
            :class:`~.diffusion_features.PixelFeatureCache`), ``make_svm()`` a fresh SVM for them. None: two members.
        share_rule: one of :data:`SHARE_RULES`.
        synthetic: the run's synthetic patches (with their features when ``dfeat`` is given), or None.
        cv_synthesis: one of :data:`CV_SYNTHESIS`; anything but "none" needs ``synthetic``.
    """
    if share_rule not in SHARE_RULES:
        raise ValueError(f"unknown share rule {share_rule!r}; use one of {', '.join(SHARE_RULES)}")
    if cv_synthesis not in CV_SYNTHESIS:
        raise ValueError(f"unknown cv_synthesis {cv_synthesis!r}; use one of {', '.join(CV_SYNTHESIS)}")
    if cv_synthesis != "none" and synthetic is None:
        raise ValueError(f"cv_synthesis {cv_synthesis!r} needs the run's synthetic patches")
    y = np.asarray(y, dtype=np.int64)
    with_dfeat = dfeat is not None
    groups = label_regions(rows, cols, y, valid.shape)
    regions_per_class = np.array([len(np.unique(groups[y == k])) for k in np.unique(y)])
    if regions_per_class.min() < 2:
        why = ("off: a class has a single labelled region, too few to test smoothing on labels the model has not "
               "seen (label at least two separate places per class to let the labels choose)")
        return (BlendChoice(DEFAULT_CNN_WEIGHT, 0, dfeat_weight=DEFAULT_DFEAT_WEIGHT if with_dfeat else 0.0,
                            with_dfeat=with_dfeat, rule=share_rule, cv_synthesis=cv_synthesis),
                resolve_smoothing(smoothing, lambda: SmoothingChoice(0.0, 0, reason=why)))
    k = min(MAX_FOLDS, int(regions_per_class.min()))
    repeats = REPEATS if np.bincount(y).min() < MANY_LABELS else 1
    widths = sigmas if smoothing is None else ()
    scored = np.zeros(len(y), bool)
    scored[at_most_per_class(y, MAX_SMOOTHING_PIXELS, seed)] = True
    arms = {"none": ("real",), "anchored": ("synthetic",), "choose": ("synthetic", "real")}[cv_synthesis]
    held_out, smoothed = _out_of_fold(cube, valid, rows, cols, y, groups, patches, make_cnn, make_forest, dfeat,
                                      k, repeats, seed, scored, widths, reporter,
                                      {arm: synthetic if arm == "synthetic" else None for arm in arms})
    names = list(held_out[arms[0]])
    n_classes = held_out[arms[0]]["cnn"].shape[-1]
    y_all = np.tile(y, repeats)  # the repeats' held-out predictions are pooled
    candidates = candidate_blends(with_dfeat)

    def blended(parts: dict[str, np.ndarray], key: tuple[float, float]) -> np.ndarray:
        w = member_weights(*key)
        return sum(w[m] * parts[m] for m in names)

    scores: dict[str, dict[tuple[float, float], float]] = {}
    log_losses: dict[str, dict[tuple[float, float], float]] = {}
    chosen_of: dict[str, tuple[float, float]] = {}
    picked = np.arange(len(y_all))
    for arm in arms:
        pooled = {m: p.reshape(-1, n_classes) for m, p in held_out[arm].items()}
        scores[arm], log_losses[arm] = {}, {}
        for key in candidates:  # each candidate blended once, scored twice
            p = blended(pooled, key)
            scores[arm][key] = float(balanced_accuracy_score(y_all, np.argmax(p, axis=1)))
            # mean -log p(true class), by hand: a blend of one-hot members has exact zeros to floor
            log_losses[arm][key] = float(-np.log(np.maximum(p[picked, y_all], 1e-7)).mean())
        chosen_of[arm] = choose_shares(share_rule, scores[arm], log_losses[arm], candidates)

    def arm_score(arm: str) -> float:  # the arm's chosen blend by the share rule's own score (higher is better)
        key = chosen_of[arm]
        return -log_losses[arm][key] if share_rule == "log-loss" else scores[arm][key]

    # "choose": ties keep the synthetic patches (the method's premise); only a better score without them drops them
    arm = arms[0] if len(arms) == 1 or arm_score("synthetic") >= arm_score("real") - 1e-12 else "real"
    chosen = chosen_of[arm]
    arm_scores = ({a: (log_losses[a] if share_rule == "log-loss" else scores[a])[chosen_of[a]] for a in arms}
                  if cv_synthesis == "choose" else {})
    reporter.progress(1.0, "cross-validation")

    def choose_width() -> SmoothingChoice:  # scored for the chosen blend, on the smoothed held-out blends
        t = np.tile(y[scored], repeats)
        sigma_scores, confidence = {}, {}
        for s in widths:
            each = smoothed[arm][s][:, scored].reshape(len(t), len(names), n_classes)  # (R·n, members, K)
            p = blended({m: each[:, i] for i, m in enumerate(names)}, chosen)
            sigma_scores[s] = float(balanced_accuracy_score(t, np.argmax(p, axis=1)))
            confidence[s] = float(p[np.arange(len(t)), t].mean())
        best = max(sigma_scores.values())
        sigma = min((s for s in widths if sigma_scores[s] >= best - 1e-12), key=lambda s: (-confidence[s], s))
        return SmoothingChoice(float(sigma), k, sigma_scores, repeats=repeats)

    choice = BlendChoice(chosen[0], k, scores[arm], repeats, dfeat_weight=chosen[1], with_dfeat=with_dfeat,
                         log_losses=log_losses[arm], rule=share_rule, cv_synthesis=cv_synthesis,
                         learn_synthetic=arm == "synthetic" or cv_synthesis == "none", arm_scores=arm_scores)
    return choice, resolve_smoothing(smoothing, choose_width)


def _out_of_fold(cube: np.ndarray, valid: np.ndarray, rows: np.ndarray, cols: np.ndarray, y: np.ndarray,
                 groups: np.ndarray, patches: np.ndarray, make_cnn: Callable[[], Classifier],
                 make_forest: Callable[[], Classifier],
                 dfeat: Optional[tuple[Callable[..., np.ndarray], Callable[[], Classifier]]], k: int, repeats: int,
                 seed: int, scored: np.ndarray, widths: tuple[float, ...], reporter: Reporter,
                 arms: Optional[dict[str, Optional[FoldSynthetic]]] = None,
                 ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[float, np.ndarray]]]:
    """Each member's held-out probabilities over ``repeats`` draws of ``k`` region folds, for each of ``arms``.

    ``arms`` maps a name to the synthetic patches its folds' members also learn (None: the real labels only);
    default ``{"real": None}``. Every arm uses the same folds, so their scores compare pixel for pixel.
    Returns, per arm, ``{member: (R, N, K)}`` probabilities of every labelled pixel from the fold that held it out
    (members "cnn", "forest" and, with ``dfeat``, "dfeat", in that order), and ``{σ: (R, N, M·K)}`` the M
    members' (in the same order) smoothed over each width in ``widths`` (filled at the ``scored`` pixels only;
    zeros elsewhere).
    """
    arms = arms if arms is not None else {"real": None}
    n_classes = int(y.max()) + 1
    names = ["cnn", "forest"] + (["dfeat"] if dfeat is not None else [])
    held_out = {a: {m: np.zeros((repeats, len(y), n_classes), np.float32) for m in names} for a in arms}
    smoothed = {a: {s: np.zeros((repeats, len(y), len(names) * n_classes), np.float32) for s in widths} for a in arms}
    read = patch_reader(cube, valid, patches.shape[-1]) if widths else None  # padded once for every fold
    features_at, make_svm = dfeat if dfeat is not None else (None, None)
    if features_at is not None:
        reporter.progress(0.0, "features from the diffusion model (labels)")
        features_at(rows, cols, reporter=reporter.sub(0.0, 0.0))  # extracted once; the folds only read them

    def inputs(m: str, r: np.ndarray, c: np.ndarray, x: np.ndarray) -> np.ndarray:
        return features_at(r, c) if m == "dfeat" else x  # the SVM reads the pixels' features, the others patches

    total = repeats * k * len(arms)
    step = 0
    for rep in range(repeats):
        for train, held in region_folds(y, groups, k, seed + rep):
            train_features = features_at(rows[train], cols[train]) if features_at is not None else None  # once a fold
            for arm, synthetic in arms.items():
                reporter.check()
                reporter.progress(step / total, f"cross-validation {step + 1}/{total}")
                fold = reporter.sub(step / total, (step + 0.8) / total, f"cross-validation {step + 1}/{total}: ")
                members = fit_fold_members(train, patches, y, train_features, synthetic, make_cnn, make_forest,
                                           make_svm, reporter=fold)  # stages read "cross-validation 3/15: classifier …"
                step += 1
                for m in names:  # every class is in each training fold
                    held_out[arm][m][rep, held] = members[m].predict_proba(
                        inputs(m, rows[held], cols[held], patches[held]))
                at = held[scored[held]]
                if read is None or not len(at):
                    continue

                def proba_of(r: np.ndarray, c: np.ndarray, members: dict[str, Classifier] = members) -> np.ndarray:
                    parts = []  # (n, M·K): every member on the same pixels, each patch read once
                    for i0 in range(0, len(r), 1024):
                        r0, c0 = r[i0:i0 + 1024], c[i0:i0 + 1024]
                        x = read(r0, c0)  # (n, B, p, p); the forest takes the centre
                        parts.append(np.concatenate([members[m].predict_proba(inputs(m, r0, c0, x)) for m in names],
                                                    axis=1))
                    return np.concatenate(parts)

                reporter.check()
                for s, p in smoothed_at(proba_of, valid, rows[at], cols[at], widths, block=512).items():
                    smoothed[arm][s][rep, at] = p
    return held_out, smoothed


class SpectralSpatialEnsemble:
    """The blend of the members' class probabilities, each member's share chosen by the labels.

    The CNN sees the neighbourhood, the forest only the pixel: where neighbours mislead (coarse, mixed scenes)
    the forest holds, where they help the CNN does. The optional third member, an SVM on the features of the
    scene's own diffusion model (:mod:`.diffusion_features`, MTMSD-style), sees the patch as the model that
    learnt every pixel of the scene does. Blend: ``(1 − d)·(c·CNN + (1 − c)·forest) + d·dfeat``, with
    ``c = cnn_weight`` and ``d = dfeat_weight``. Over a scene, :func:`~.predict.predict_scene` then smooths the
    blended probabilities with a Gaussian of width ``smoothing`` pixels (:mod:`.spatial`; 0 = off)."""

    def __init__(self, cnn: Any, forest: Any, cnn_weight: float, choice: Optional[BlendChoice] = None,
                 smoothing: float = 0.0, smoothing_note: str = "", dfeat: Any = None, dfeat_weight: float = 0.0) -> None:
        if not 0.0 <= cnn_weight <= 1.0:
            raise ValueError(f"cnn_weight must be in [0, 1], got {cnn_weight}")
        if not 0.0 <= dfeat_weight <= 1.0 or (dfeat_weight > 0 and dfeat is None):
            raise ValueError(f"dfeat_weight must be in [0, 1] and needs a diffusion-feature member; got {dfeat_weight}")
        if cnn.n_classes != forest.n_classes:
            raise ValueError(f"the CNN knows {cnn.n_classes} classes but the forest {forest.n_classes}; "
                             "train both on the same labels")
        self.cnn, self.forest, self.dfeat = cnn, forest, dfeat
        self.cnn_weight, self.dfeat_weight = float(cnn_weight), float(dfeat_weight)
        self.choice = choice or BlendChoice(self.cnn_weight, 0, dfeat_weight=self.dfeat_weight,
                                            with_dfeat=dfeat is not None)
        if smoothing < 0:
            raise ValueError(f"smoothing must be 0 (off) or a Gaussian width in pixels; got {smoothing}")
        self.smoothing = float(smoothing)  # σ (pixels) of the probability smoothing predict_scene applies
        self.smoothing_note = smoothing_note  # how σ was chosen, for the report and the bundle
        self.patch_size = int(cnn.patch_size)
        self.n_classes = int(cnn.n_classes)

    @property
    def members(self) -> dict[str, Any]:
        """The classifiers blended, by name (for ablations and inspection)."""
        return {"cnn": self.cnn, "forest": self.forest, **({"dfeat": self.dfeat} if self.dfeat is not None else {})}

    @property
    def weights(self) -> dict[str, float]:
        """Each member's share of the blended probabilities."""
        return {m: w for m, w in member_weights(self.cnn_weight, self.dfeat_weight).items() if m in self.members}

    def fit(self, samples: np.ndarray, labels: np.ndarray, *, sample_weight: Optional[np.ndarray] = None,
            real_count: Optional[int] = None, reporter: Reporter = NULL_REPORTER) -> "SpectralSpatialEnsemble":
        """Train every member on the same weighted patches (the shares stay as chosen); the first ``real_count``
        samples are the real labels (the CNN's early stopping holds out some of them alone, the diffusion-feature
        SVM chooses its C and γ on them alone)."""
        cnn_end = 0.8 if self.dfeat is not None else 0.9
        self.cnn.fit(samples, labels, sample_weight=sample_weight, real_count=real_count,
                     reporter=reporter.sub(0.0, cnn_end))
        self.forest.fit(samples, labels, sample_weight=sample_weight, reporter=reporter.sub(cnn_end, cnn_end + 0.1))
        if self.dfeat is not None:
            self.dfeat.fit(samples, labels, sample_weight=sample_weight, real_count=real_count,
                           reporter=reporter.sub(0.9, 1.0))
        self.n_classes = int(self.cnn.n_classes)
        return self

    def predict_proba(self, samples: np.ndarray) -> np.ndarray:
        """``(N, n_classes)`` float32 blended probabilities for ``(N, B, p, p)`` patches."""
        return self.blend(**{m: member.predict_proba(samples) if self.weights[m] > 0 else None
                             for m, member in self.members.items()})

    def blend(self, cnn: Optional[np.ndarray] = None, forest: Optional[np.ndarray] = None,
              dfeat: Optional[np.ndarray] = None) -> np.ndarray:
        """Float32 blend of the members' probabilities, ``(N, n_classes)`` rows or ``(n_classes, H, W)`` maps (a
        member without a share may be None); for callers that already have them, e.g. to score the members too."""
        return blend_probabilities(self.weights, {"cnn": cnn, "forest": forest, "dfeat": dfeat})

    def predict(self, samples: np.ndarray) -> np.ndarray:
        """``(N,)`` most probable class index per patch."""
        return self.predict_proba(samples).argmax(axis=1)

    # -------------------------------------------------------------------------------- persistence
    def to_tensors(self) -> dict[str, Any]:
        """Every member's tensors, prefixed with its name (``cnn.``, ``forest.``, ``dfeat.``)."""
        return {f"{m}.{k}": v for m, member in self.members.items() for k, v in member.to_tensors().items()}

    def config_dict(self) -> dict[str, Any]:
        """JSON-ready: the blend, how it was chosen, and every member's config."""
        return {"format": FORMAT, "cnn_weight": self.cnn_weight, "dfeat_weight": self.dfeat_weight,
                "cv_folds": self.choice.folds, "cv_repeats": self.choice.repeats,
                "cv_scores": {f"{c},{d}": s for (c, d), s in self.choice.scores.items()},
                "cv_log_losses": {f"{c},{d}": s for (c, d), s in self.choice.log_losses.items()},
                "share_rule": self.choice.rule, "cv_synthesis": self.choice.cv_synthesis,
                "learn_synthetic": self.choice.learn_synthetic, "cv_arm_scores": dict(self.choice.arm_scores),
                "smoothing": self.smoothing, "smoothing_note": self.smoothing_note,
                "patch_size": self.patch_size, "n_classes": self.n_classes,
                **{m: member.config_dict() for m, member in self.members.items()}}

    @classmethod
    def from_tensors(cls, tensors: dict[str, Any], config: dict[str, Any]) -> "SpectralSpatialEnsemble":
        """Rebuild from :meth:`to_tensors` and :meth:`config_dict` output (``config['device']`` for the CNN and
        the diffusion model)."""
        from .baselines import SpectralRandomForest
        from .cnn import SpectralSpatialCNN
        from .diffusion_features import DiffusionFeatureClassifier

        if config.get("format") not in (FORMAT,) + OLD_FORMATS:
            raise ValueError(f"not a classifier-ensemble config (format {config.get('format')!r}, expected {FORMAT!r})")

        def part(prefix: str) -> dict[str, Any]:
            return {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}

        device = config.get("device", config["cnn"].get("device", "auto"))
        cnn = SpectralSpatialCNN.from_tensors(part("cnn"), {**config["cnn"], "device": device})
        forest = SpectralRandomForest.from_tensors(part("forest"), config["forest"])
        dfeat = (DiffusionFeatureClassifier.from_tensors(part("dfeat"), {**config["dfeat"], "device": device})
                 if "dfeat" in config else None)
        dfeat_weight = float(config.get("dfeat_weight", 0.0))
        def by_blend(table: dict[str, Any]) -> dict[tuple[float, float], float]:  # "c,d" (format /3) or "c" (older)
            out = {}
            for key, s in table.items():
                c, _, d = str(key).partition(",")
                out[(float(c), float(d or 0.0))] = float(s)
            return out

        choice = BlendChoice(float(config["cnn_weight"]), int(config.get("cv_folds", 0)),
                             by_blend(config.get("cv_scores", {})), int(config.get("cv_repeats", 1)),
                             dfeat_weight=dfeat_weight, with_dfeat=dfeat is not None,
                             log_losses=by_blend(config.get("cv_log_losses", {})),
                             rule=str(config.get("share_rule", "balanced-accuracy")),
                             cv_synthesis=str(config.get("cv_synthesis", "none")),
                             learn_synthetic=bool(config.get("learn_synthetic", True)),
                             arm_scores={str(k): float(v) for k, v in config.get("cv_arm_scores", {}).items()})
        return cls(cnn, forest, float(config["cnn_weight"]), choice, float(config.get("smoothing", 0.0)),
                   str(config.get("smoothing_note", "")), dfeat=dfeat, dfeat_weight=dfeat_weight)
