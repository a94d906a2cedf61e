"""Accuracy of a classification: OA, AA, Cohen's kappa, per-class accuracy, confusion matrix, seed summaries."""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix, precision_recall_fscore_support

from ..markdown_text import md_text
from ..scene import ClassInfo
from .area import AreaEstimate, area_estimate, disagreement
from .reliability import ConfidenceReliability


@dataclass
class NearTraining:
    """How the accuracy differs between validation pixels near a training pixel and those further away: neighbouring
    pixels are alike (spatial autocorrelation), so validation pixels beside the labels score higher than the map
    does elsewhere."""

    radius: int  # pixels (the larger of the row and column distance) counted as near a training pixel
    near: int  # validation pixels within ``radius`` of a training pixel
    apart: int  # the others
    oa_near: float  # OA on the near ones, 0..1 (NaN when none)
    oa_apart: float  # OA on the others, 0..1 (NaN when none)
    radius_means: str = "the neighbouring pixels"  # what ``radius`` is: how far the classifier's view of a pixel
    # reaches (its patch and its smoothing), so a training label's own pixels or its neighbours' shape the prediction

    def sentence(self, sampled: bool = False) -> str:
        """The line the report and ``accuracy.md`` show; ``sampled``: the validation points are a stratified sample
        the area-adjusted figures hold for, whose points' own OA (near or away) is no estimate of the map's."""
        reach = f"{self.radius} pixel{'s' if self.radius != 1 else ''}"
        if not self.near:  # nothing to set apart: the OA above is already the one away from the training pixels
            return (f"None of the {self.apart} validation pixels lies within {reach} of a training pixel "
                    f"({self.radius_means}).")
        return (f"{self.near} of the {self.near + self.apart} validation pixels lie within {reach} of a training "
                f"pixel ({self.radius_means}), where pixels are alike: OA {_pct(self.oa_near)} % there, "
                f"{_pct(self.oa_apart)} % on the {self.apart} further away, "
                + ("the sample's own points, unweighted: the area-adjusted OA is the map's estimate." if sampled else
                   "the better guide to the map elsewhere."))

    def to_dict(self) -> dict[str, Any]:
        return {"radius": self.radius, "radius_means": self.radius_means, "near": self.near, "apart": self.apart,
                "oa_near": _json_number(self.oa_near), "oa_apart": _json_number(self.oa_apart)}


TRAINING_PIXELS = {  # how an assessment of a map treated the pixels its classifier learnt from -> what it means
    "left_out_beside": "left out: the pixels the classifier saved beside the map learnt from",
    "left_out_given": "left out: the pixels of the labels given to leave out",
    "kept": "scored, as asked (the map's accuracy on its own training labels flatters it)",
    "unknown": "not known (no classifier folder beside the map says which they are, and no labels to leave out were "
               "given): validation pixels among them were scored, which flatters the map",
}


def sampled_oa(metrics: Mapping[str, Any], digits: int = 2) -> Optional[str]:
    """From a ``metrics.json``'s figures: the area-adjusted "OA 90.71 ± 6.15 %" where its validation points are a
    stratified random sample the area figures hold for (they lead then), else None; the map classes (or strata) without
    a point are named after it, as the figure leaves them out."""
    area = metrics.get("area_adjusted") or {}
    if not area.get("validation_sample") or area.get("validation_sample_problem") or area.get("oa") is None:
        return None
    half = area.get("oa_ci95")
    left = list(area.get("unsampled_map_classes") or []) + list(area.get("unsampled_strata") or [])
    return (f"OA {100 * area['oa']:.{digits}f}"
            + (f" ± {100 * half:.{digits}f}" if half is not None else "") + " %"
            + (f" (over the map without {', '.join(left)}: no point there)" if left else ""))  # said where quoted


@dataclass
class Evaluation:
    """How well predicted label ids agree with the true ones on the test pixels."""

    oa: float  # overall accuracy, fraction 0..1 of test pixels classified correctly
    aa: float  # average accuracy, mean of per-class accuracies over classes that have test pixels
    kappa: float  # Cohen's kappa (-1..1; NaN when undefined, e.g. one class only)
    per_class: dict[int, float]  # class id -> accuracy (recall) 0..1, NaN when the class has no test pixel
    confusion: np.ndarray  # (K, K) int64 pixel counts, rows = true class, columns = predicted class
    class_names: list[str]  # K names, in the order of the confusion matrix
    n_test: int  # number of test pixels evaluated
    class_ids: list[int] = field(default_factory=list)  # K label ids, in the order of the confusion matrix
    users: dict[int, float] = field(default_factory=dict)  # class id -> user's accuracy (precision), NaN if never mapped
    f1: dict[int, float] = field(default_factory=dict)  # class id -> F1 of producer's and user's accuracy
    area: Optional[AreaEstimate] = None  # area-adjusted figures, when the map's class counts were given
    near_training: Optional[NearTraining] = None  # the accuracy near the training pixels and apart, when known
    by_confidence: Optional[ConfidenceReliability] = None  # a run's: the accuracy at each level of its confidence
    quantity_disagreement: float = math.nan  # 0..1, Pontius & Millones 2011: the classes' amounts differ
    allocation_disagreement: float = math.nan  # 0..1: the right amounts in the wrong places (Q + A = 1 − OA)
    validation_unclassified: Optional[int] = None  # validation pixels on the map's unclassified (0 or no-data)
    # pixels, not scored; a run's: on pixels of its scene with data that its map leaves at 0 (None: not counted)
    validation_no_data: Optional[int] = None  # a run's: validation pixels on its scene's no-data pixels (nothing to
    # classify there), not scored
    validation_left_out: Optional[int] = None  # a map's assessment: validation pixels left out as training pixels
    training_pixels: Optional[str] = None  # a map's assessment: how the pixels it was trained on were treated, one of
    # TRAINING_PIXELS' keys ("unknown": nothing said which they are, so validation pixels among them were scored)

    def support(self) -> np.ndarray:
        """``(K,)`` test pixels per true class."""
        return self.confusion.sum(axis=1)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN becomes ``None``)."""
        support = self.support()
        return {
            "oa": _json_number(self.oa), "aa": _json_number(self.aa), "kappa": _json_number(self.kappa),
            "n_test": int(self.n_test),
            # a stratified random sample: these top-level figures are its points' own counts, which over-represent
            # the small classes; area_adjusted holds the map's estimates (review: nothing said so here)
            **({"sample_counts_not_estimates": True} if self.sampled else {}),
            "quantity_disagreement": _json_number(self.quantity_disagreement),
            "allocation_disagreement": _json_number(self.allocation_disagreement),
            "classes": [{"id": int(c), "name": n, "accuracy": _json_number(self.per_class[c]),  # producer's
                         "producers_accuracy": _json_number(self.per_class[c]),
                         "users_accuracy": _json_number(self.users.get(c, math.nan)),
                         "f1": _json_number(self.f1.get(c, math.nan)),
                         "test_pixels": int(s), "correct": int(self.confusion[i, i])}
                        for i, (c, n, s) in enumerate(zip(self.class_ids, self.class_names, support))],
            "confusion": self.confusion.astype(int).tolist(),
            "confusion_rows": "validation (reference) class", "confusion_columns": "map (predicted) class",
            "confusion_class_ids": [int(c) for c in self.class_ids],
            **({"area_adjusted": self.area.to_dict()} if self.area is not None else {}),
            **({"near_training": self.near_training.to_dict()} if self.near_training is not None else {}),
            **({"accuracy_by_confidence": self.by_confidence.to_dict()} if self.by_confidence is not None else {}),
            **({"training_pixels": self.training_pixels} if self.training_pixels is not None else {}),
            **({"validation_pixels_left_out": self.validation_left_out} if self.validation_left_out is not None
               else {}),
            **({"validation_pixels_unclassified": self.validation_unclassified}
               if self.validation_unclassified is not None else {}),
            **({"validation_pixels_on_no_data": self.validation_no_data} if self.validation_no_data is not None
               else {}),
        }

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_markdown(self) -> str:
        """A summary line and a per-class table (accuracies in percent), then the area-adjusted figures."""
        return f"{self.headline()}\n\n{self.tables_markdown()}"

    @property
    def sampled(self) -> bool:
        """Whether the validation points are a stratified random sample the area-adjusted figures hold for: then
        the points' own counts are no estimate of the map's."""
        return self.area is not None and self.area.holds()

    def headline(self, raw: Optional[str] = None) -> str:
        """The line that leads: the summary line (``raw``: another wording of it), or where the validation points are
        a stratified random sample the area-adjusted OA first, since the points' own counts over-represent the small
        classes the sample gave as many points as the large ones (Olofsson et al. 2014)."""
        raw = raw or self.summary_line()
        if not self.sampled:
            return raw
        return (f"{self.area.headline()}. The points' own OA, AA, κ, F1 and "
                f"producer's accuracies, below, are not estimates of the map's (they over-represent small classes): "
                f"{raw}")

    def summary_line(self) -> str:
        """OA, AA and κ on one line."""
        held = int((self.support() > 0).sum())  # classes a map-only class (never in the validation) does not count
        return (f"OA {_pct(self.oa)} %, AA {_pct(self.aa)} %, κ {_num(self.kappa, 4)} "
                f"({self.n_test} validation pixels, {held} class{'es' if held != 1 else ''})")

    def unclassified_sentence(self) -> str:
        """What the validation pixels on the map's unclassified pixels would do to OA, counted as omissions."""
        n = int(self.validation_unclassified or 0)
        correct = int(np.trace(self.confusion))
        return (f"{n} validation pixel{'s lie' if n != 1 else ' lies'} on pixels the map leaves unclassified (0 or "
                f"no data): not scored above; counted as errors of omission, OA would be "
                f"{_pct(correct / (self.n_test + n))} %.")

    def no_data_sentence(self) -> str:
        """The validation pixels on the run's scene's no-data pixels: where nothing was classified."""
        n = int(self.validation_no_data or 0)
        return (f"{n} validation pixel{'s lie' if n != 1 else ' lies'} on the scene's no-data pixels: nothing is "
                "classified there, so they are not scored.")

    def disagreement_sentence(self) -> str:
        """What the pixels mapped wrong are made of, as Pontius & Millones (2011) split 1 − OA."""
        if math.isnan(self.quantity_disagreement):
            return ""
        return (f"Of the {_pct(1 - self.oa)} % of validation pixels mapped wrong, {_pct(self.quantity_disagreement)} "
                "points are quantity disagreement (the map gives the classes other shares than the validation "
                f"labels have) and {_pct(self.allocation_disagreement)} allocation disagreement (the right shares in "
                "the wrong places; Pontius & Millones 2011).")

    def tables_markdown(self) -> str:
        """What the figures mean, the per-class table, then the area-adjusted figures when there are some."""
        lines = ["OA: the share of validation pixels mapped right; AA: the mean of the classes' producer's "
                 "accuracies; κ: Cohen's kappa, agreement beyond chance, given as the benchmarks report it (Pontius & "
                 "Millones 2011 advise against reading it, and split 1 − OA into quantity and allocation disagreement "
                 "instead, below). Producer's accuracy: a class's validation pixels mapped as it; user's accuracy: the "
                 "pixels mapped as a class that are it; F1: their harmonic mean. The confusion matrix has the "
                 "validation classes as rows and the map's as columns.", "",
                 # a sample's own split is by design (its classes' equal shares), not the map's: the area-adjusted
                 # split below is (review)
                 *([self.disagreement_sentence(), ""] if self.disagreement_sentence() and not self.sampled else []),
                 *([self.unclassified_sentence(), ""] if self.validation_unclassified else []),
                 *([self.no_data_sentence(), ""] if self.validation_no_data else []),
                 *([self.near_training.sentence(sampled=self.sampled), ""]
                   if self.near_training is not None else []),
                 "| id | class | validation pixels | correct | producer's acc. (%) | user's acc. (%) | F1 (%) |",
                 "|---:|---|---:|---:|---:|---:|---:|"]
        for i, (c, name, n) in enumerate(zip(self.class_ids, self.class_names, self.support())):
            lines.append(f"| {c} | {md_text(name)} | {int(n)} | {int(self.confusion[i, i])} | "
                         f"{_pct(self.per_class[c])} | {_pct(self.users.get(c, math.nan))} | "
                         f"{_pct(self.f1.get(c, math.nan))} |")
        if self.by_confidence is not None:
            # a stratified sample's points weigh classes unlike the map (equal allocation), so the table describes
            # the points, which it says (review: it read as the map's)
            lines += ["", *self.by_confidence.markdown(stratified=self.sampled)]
        if self.area is not None:
            lines += ["", self.area.to_markdown(led=self.area.holds()).rstrip("\n")]  # holding, it leads: headline
        return "\n".join(lines) + "\n"


def _json_number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _pct(value: float, digits: int = 2) -> str:
    return "–" if math.isnan(value) else f"{value * 100:.{digits}f}"


def _num(value: float, digits: int) -> str:
    return "–" if math.isnan(value) else f"{value:.{digits}f}"


def _label_set(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[ClassInfo]) -> tuple[list[int], list[str]]:
    """Class ids and names in confusion-matrix order: ``classes`` by id, then ids only the data names."""
    by_id = {int(c.id): c.name for c in classes}
    extra = sorted((set(np.unique(y_true).tolist()) | set(np.unique(y_pred).tolist())) - set(by_id))
    ids = sorted(by_id) + [int(i) for i in extra]
    names = [by_id[i] if i in by_id else ("unclassified" if i == 0 else f"class {i}") for i in ids]
    return ids, names


def evaluate(y_true_ids: np.ndarray, y_pred_ids: np.ndarray, classes: Sequence[ClassInfo], *,
             mapped_pixels: Optional[Mapping[int, int]] = None, area_unit: tuple[str, float] = ("pixels", 1.0)
             ) -> Evaluation:
    """Compare predicted label ids with true ones.

    Args:
        y_true_ids: ``(N,)`` true label ids of the test pixels (never 0, which means unlabelled).
        y_pred_ids: ``(N,)`` predicted label ids.
        classes: the classes of the scene; their order (by id) is the order of the confusion matrix.
            Ids that occur in the data but not in ``classes`` (e.g. a validation class the classifier
            never saw) are appended with a generic name so that they count as errors, not vanish.
        mapped_pixels: how many pixels the whole map the predictions come from gives each class id
            (:func:`pixel_counts` of it): with it, the area-adjusted accuracy and each class's estimated area are
            added (:mod:`.area`).
        area_unit: the area unit and one pixel's area in it (:func:`.area.pixel_area_unit`).
    """
    y_true = np.asarray(y_true_ids).ravel()
    y_pred = np.asarray(y_pred_ids).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} pixels but y_pred has {y_pred.size}; pass the same test pixels")
    if y_true.size == 0:
        raise ValueError("no test pixel to evaluate; check that the test labels overlap the classified pixels")
    if np.any(y_true == 0):
        raise ValueError("y_true contains 0 (unlabelled); evaluate labelled pixels only")
    ids, names = _label_set(y_true, y_pred, classes)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        # one class validated and mapped: scikit-learn asks for the labels it was given (a UserWarning per call)
        warnings.filterwarnings("ignore", message="A single label was found", category=UserWarning)
        confusion = confusion_matrix(y_true, y_pred, labels=ids)  # (K, K), rows = true
        precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=ids, average=None,
                                                                    zero_division=np.nan)  # (K,) each
        kappa = float(cohen_kappa_score(y_true, y_pred, labels=ids))  # NaN when chance agreement is 1
    present = ~np.isnan(recall)
    quantity, allocation = disagreement(confusion)
    return Evaluation(
        oa=float(accuracy_score(y_true, y_pred)),
        aa=float(np.mean(recall[present])),  # classes without test pixels do not count (as balanced accuracy)
        kappa=kappa,
        per_class={c: float(r) for c, r in zip(ids, recall)},
        confusion=confusion.astype(np.int64),
        class_names=names,
        n_test=int(y_true.size),
        class_ids=ids,
        users={c: float(u) for c, u in zip(ids, precision)},
        f1={c: float(f) for c, f in zip(ids, f1)},
        quantity_disagreement=quantity, allocation_disagreement=allocation,
        area=None if mapped_pixels is None else area_estimate(confusion, ids, names,
                                                              [int(mapped_pixels.get(i, 0)) for i in ids], *area_unit),
    )


WIDE_INTERVAL = 0.10  # an OA interval wider than this (10 points) is said beside the OA: too few pixels to judge by


def oa_interval(oa: float, n: int) -> tuple[float, float]:
    """The 95 % confidence interval of an OA measured on ``n`` validation pixels (Wilson's score interval, through
    scipy: it stays within 0..1 and holds for a few pixels, where the normal approximation does not)."""
    from scipy.stats import binomtest

    ci = binomtest(int(round(oa * n)), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def few_pixels_note(oa: Optional[float], n: int) -> str:
    """"the OA's 95 % interval: 23.7–76.3 %; few pixels to judge by" when so few pixels validate that the OA's interval
    is wider than :data:`WIDE_INTERVAL`; empty otherwise."""
    if oa is None or not n or not math.isfinite(oa):
        return ""
    low, high = oa_interval(oa, n)
    if high - low <= WIDE_INTERVAL:
        return ""
    return f"the OA's 95 % interval: {low * 100:.1f}–{high * 100:.1f} %; few pixels to judge by"


def pixel_counts(class_map: np.ndarray) -> dict[int, int]:
    """How many pixels of ``class_map`` hold each value in it, in one pass over the map."""
    values, counts = np.unique(class_map, return_counts=True)
    return {int(v): int(n) for v, n in zip(values.tolist(), counts.tolist())}


def format_mean_std(values: Sequence[float], digits: int = 2) -> str:
    """Fractions as a percent mean ± (population) std, e.g. ``"87.32 ± 1.05"``; NaNs are left out."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)] * 100
    if v.size == 0:
        return "–"
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


@dataclass
class SeedSummary:
    """Mean ± std over the seeds of one experiment (std with ddof=0, as the benchmark tables use)."""

    n_seeds: int  # number of evaluations summarised
    oa_mean: float  # fraction 0..1
    oa_std: float
    aa_mean: float
    aa_std: float
    kappa_mean: float
    kappa_std: float
    per_class_mean: dict[int, float]  # class id -> mean accuracy over the seeds where it had test pixels
    class_names: dict[int, str]  # class id -> name

    @classmethod
    def from_evaluations(cls, evals: Sequence[Evaluation]) -> "SeedSummary":
        if not evals:
            raise ValueError("summarize needs at least one Evaluation")
        oa, aa, kappa = (np.array([getattr(e, k) for e in evals], dtype=float) for k in ("oa", "aa", "kappa"))
        names: dict[int, str] = {}
        per_class: dict[int, list[float]] = {}
        for e in evals:
            for c, name in zip(e.class_ids, e.class_names):
                names.setdefault(c, name)
                per_class.setdefault(c, []).append(e.per_class[c])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN, which is what we want
            return cls(len(evals), float(np.nanmean(oa)), float(np.nanstd(oa)), float(np.nanmean(aa)),
                       float(np.nanstd(aa)), float(np.nanmean(kappa)), float(np.nanstd(kappa)),
                       {c: float(np.nanmean(v)) for c, v in sorted(per_class.items())}, dict(sorted(names.items())))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready numbers plus ready-made ``"87.32 ± 1.05"`` strings (percent)."""
        return {
            "n_seeds": self.n_seeds,
            "oa_mean": _json_number(self.oa_mean), "oa_std": _json_number(self.oa_std),
            "aa_mean": _json_number(self.aa_mean), "aa_std": _json_number(self.aa_std),
            "kappa_mean": _json_number(self.kappa_mean), "kappa_std": _json_number(self.kappa_std),
            "oa": _mean_std_text(self.oa_mean, self.oa_std), "aa": _mean_std_text(self.aa_mean, self.aa_std),
            "kappa": _mean_std_text(self.kappa_mean, self.kappa_std),
            "per_class_mean": {str(c): _json_number(v) for c, v in self.per_class_mean.items()},
            "class_names": {str(c): n for c, n in self.class_names.items()},
        }


def _mean_std_text(mean: float, std: float, digits: int = 2) -> str:
    return "–" if math.isnan(mean) else f"{mean * 100:.{digits}f} ± {std * 100:.{digits}f}"


def summarize(evals: Sequence[Evaluation]) -> dict[str, Any]:
    """Mean ± std of OA/AA/κ and per-class mean accuracy over seeds, as a JSON-ready dict.

    See :class:`SeedSummary` for the typed form; this is ``SeedSummary.from_evaluations(evals).to_dict()``.
    """
    return SeedSummary.from_evaluations(evals).to_dict()


def confusion_matrix_figure(evaluation: Evaluation) -> Any:
    """The confusion matrix as a matplotlib Figure: counts in the cells, colours normalised per true class, each
    class's producer's accuracy at the right of its row and user's accuracy above its column (an accuracy table's
    margins).

    Uses matplotlib's object API (``Figure`` + ``FigureCanvasAgg``), never pyplot, so it is safe inside QGIS.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = evaluation.confusion
    k = counts.shape[0]
    row_sums = counts.sum(axis=1)  # (K,)
    share = np.divide(counts, row_sums[:, None], out=np.zeros(counts.shape, dtype=float),
                      where=row_sums[:, None] > 0)  # (K, K)
    diagonal = np.diag(counts).astype(float)  # (K,)
    col_sums = counts.sum(axis=0)  # (K,)
    producers = np.divide(diagonal, row_sums, out=np.full(k, np.nan), where=row_sums > 0)  # (K,)
    users = np.divide(diagonal, col_sums, out=np.full(k, np.nan), where=col_sums > 0)  # (K,)
    side = min(3.0 + 0.45 * k, 14.0)
    fig = Figure(figsize=(side + 2.0, side + 0.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111)
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    font = max(5, 9 - k // 6)
    right = ax.secondary_yaxis("right")
    right.set_yticks(range(k))
    right.set_yticklabels([_pct(v, 1) for v in producers], fontsize=font)
    right.set_ylabel("producer's accuracy (%)", fontsize=font + 1)
    top = ax.secondary_xaxis("top")
    top.set_xticks(range(k))
    top.set_xticklabels([_pct(v, 1) for v in users], fontsize=font, rotation=90 if k > 8 else 0)
    top.set_xlabel("user's accuracy (%)", fontsize=font + 1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.16, label="share of the true class")
    for i in range(k):
        for j in range(k):
            if counts[i, j]:
                ax.text(j, i, str(int(counts[i, j])), ha="center", va="center", fontsize=font,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(evaluation.class_names, rotation=45, ha="right", fontsize=font)
    ax.set_yticklabels(evaluation.class_names, fontsize=font)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"OA {_pct(evaluation.oa)} %, AA {_pct(evaluation.aa)} %, κ {_num(evaluation.kappa, 3)}",
                 fontsize=10)
    return fig


def confusion_figure(evaluation: Evaluation, path: str | os.PathLike) -> Path:
    """Save :func:`confusion_matrix_figure` as a PNG, written to a temporary file beside ``path`` and moved into
    place."""
    path = Path(path)
    fig = confusion_matrix_figure(evaluation)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".png", dir=path.parent)
    try:
        from ..report import save_figure  # the report's module imports this one

        with os.fdopen(fd, "wb") as handle:
            save_figure(fig, handle, layout=fig.tight_layout, format="png")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a figure is meant to be shared like the report
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
