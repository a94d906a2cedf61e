"""Spectral baselines analysts already use (EnMAP-Box, SCP, dzetsaka): random forest and RBF SVM on spectra."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from ..progress import NULL_REPORTER, Reporter
from .base import FOREST_INPUT_NAMES, centre_spectra


class NotFittedError(RuntimeError):
    """predict_proba was called before fit."""


def _spectra(samples: np.ndarray, bands: Optional[int] = None) -> np.ndarray:
    """``(N, B)`` or ``(N, B, p, p)`` samples to validated ``(N, B)`` float32 centre spectra."""
    samples = np.asarray(samples)
    if samples.ndim not in (2, 4):
        raise ValueError(f"samples must be spectra (N, bands) or patches (N, bands, p, p); got shape {samples.shape}")
    spectra = np.asarray(centre_spectra(samples), dtype=np.float32)  # (N, B)
    if bands is not None and spectra.shape[1] != bands:
        raise ValueError(f"the classifier was trained on {bands} bands but the samples have {spectra.shape[1]}; "
                         "use the same band set for training and prediction")
    if not np.all(np.isfinite(spectra)):
        raise ValueError("samples contain NaN or infinite values; mask nodata pixels before classifying")
    return spectra


def _shape_and_slope(spectra: np.ndarray) -> np.ndarray:
    """``(N, B)`` spectra to ``(N, 3B - 1)``: the spectrum, its shape (brightness removed: L2-normalised) and its
    slope (first difference between neighbouring bands)."""
    shape = spectra / np.maximum(np.linalg.norm(spectra, axis=1, keepdims=True), 1e-12)  # (N, B)
    slope = np.diff(spectra, axis=1)  # (N, B - 1)
    return np.concatenate([spectra, shape, slope], axis=1).astype(np.float32)


# What the forest splits on. Shape and slope were chosen on EnMAP Potsdam's 14 train tiles and judged on its two
# held-out tiles (BENCHMARKS §4, session 16): they let a tree compare spectra of different brightness, which
# raw reflectance thresholds cannot with 2-5 labels per class.
FOREST_INPUTS = {"spectrum": lambda spectra: spectra, "spectrum+shape+slope": _shape_and_slope}
assert tuple(FOREST_INPUTS) == FOREST_INPUT_NAMES  # the names the command line lists without importing this module
FOREST_INPUT_WORDS = {"spectrum": "each pixel's spectrum",
                      "spectrum+shape+slope": "each pixel's spectrum, its shape and its slope"}


def _training_arrays(samples: np.ndarray, labels: np.ndarray, sample_weight: Optional[np.ndarray]
                     ) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Validated ``(N, B)`` spectra, ``(N,)`` class indices and optional ``(N,)`` weights."""
    spectra = _spectra(samples)
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != len(spectra):
        raise ValueError(f"labels must be one class index per sample ({len(spectra)}); got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
        raise ValueError("labels must be class indices 0..K-1 (map label ids with ids_to_index)")
    if len(np.unique(y)) < 2:
        raise ValueError("a classifier needs labelled samples of at least two classes")
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != y.shape or np.any(w < 0):
            raise ValueError(f"sample_weight must be {len(y)} non-negative numbers; got shape {w.shape}")
    return spectra, y.astype(np.int64), w


def _full_columns(proba: np.ndarray, seen: np.ndarray, n_classes: int) -> np.ndarray:
    """Spread ``(N, len(seen))`` probabilities into ``(N, n_classes)`` float32 columns (unseen classes 0)."""
    out = np.zeros((len(proba), n_classes), dtype=np.float32)
    out[:, seen] = proba
    return out


def _at_most_per_class(x: np.ndarray, y: np.ndarray, w: Optional[np.ndarray], most: int, seed: int
                       ) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """At most ``most`` samples of each class, drawn at random; a thinned class's weights are scaled up so its
    total weight stays what it was."""
    rng = np.random.default_rng(seed)
    keep, scale = [], np.ones(len(y))
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) > most:
            scale[idx] = len(idx) / most
            idx = np.sort(rng.choice(idx, most, replace=False))
        keep.append(idx)
    kept = np.concatenate(keep)
    if len(kept) == len(y):
        return x, y, w
    weights = (np.ones(len(y)) if w is None else w) * scale
    return x[kept], y[kept], weights[kept]


def _smallest_class(y: np.ndarray) -> int:
    """Samples in the smallest class present in ``y``."""
    counts = np.bincount(y)
    return int(counts[counts > 0].min())


class SpectralRandomForest:
    """A random forest on centre spectra (sklearn), trees grown in chunks so a long fit can be cancelled."""

    patch_size = 1

    def __init__(self, n_estimators: int = 500, seed: int = 0, n_jobs: Optional[int] = -1,
                 trees_per_step: int = 100, inputs: str = "spectrum") -> None:
        """
        Args:
            n_estimators: number of trees.
            seed: random state of the forest (same seed, same forest).
            n_jobs: parallel jobs for sklearn (-1 = every core; 1 in tests on shared machines).
            trees_per_step: trees grown between two progress/cancel checks.
            inputs: what the trees split on, a key of :data:`FOREST_INPUTS`: "spectrum" (the RF baseline) or
                "spectrum+shape+slope" (the blend's forest).
        """
        if inputs not in FOREST_INPUTS:
            raise ValueError(f"unknown forest inputs {inputs!r}; choose one of {', '.join(FOREST_INPUTS)}")
        self.inputs = inputs
        self.n_estimators = int(n_estimators)
        self.seed = int(seed)
        self.n_jobs = n_jobs
        self.trees_per_step = max(1, int(trees_per_step))
        self.n_classes = 0
        self.bands = 0
        self._forest: Optional[RandomForestClassifier] = None
        self._trees: Optional[dict[str, np.ndarray]] = None  # node arrays of a forest loaded from a bundle

    def fit(self, samples: np.ndarray, labels: np.ndarray, *, sample_weight: Optional[np.ndarray] = None,
            real_count: Optional[int] = None, reporter: Reporter = NULL_REPORTER) -> "SpectralRandomForest":
        """Grow the forest on the patches' centre spectra (``real_count`` is not needed: every sample is learnt as
        weighted)."""
        spectra, y, w = _training_arrays(samples, labels, sample_weight)
        x = FOREST_INPUTS[self.inputs](spectra)  # (N, F)
        # warm_start grows the same trees as one fit with n_estimators (sklearn skips the used seeds).
        forest = RandomForestClassifier(n_estimators=0, warm_start=True, random_state=self.seed, n_jobs=self.n_jobs)
        for grown in range(self.trees_per_step, self.n_estimators + self.trees_per_step, self.trees_per_step):
            reporter.check()
            forest.set_params(n_estimators=min(grown, self.n_estimators))
            forest.fit(x, y, sample_weight=w)
            reporter.progress(min(grown, self.n_estimators) / self.n_estimators, "random forest")
        self._forest, self._trees, self.n_classes, self.bands = forest, None, int(y.max()) + 1, spectra.shape[1]
        return self

    def predict_proba(self, samples: np.ndarray) -> np.ndarray:
        """``(N, n_classes)`` float32: the trees' class probabilities, averaged."""
        if self._forest is None and self._trees is None:
            raise NotFittedError("fit the random forest before predicting")
        x = FOREST_INPUTS[self.inputs](_spectra(samples, self.bands))  # (N, F)
        if self._forest is None:
            return _walk_trees(self._trees, x)
        return _full_columns(self._forest.predict_proba(x), self._forest.classes_, self.n_classes)

    def training_note(self) -> str:
        """One line for the run's report: what the trees split on."""
        return f"spectral forest: {self.n_estimators} trees on {FOREST_INPUT_WORDS[self.inputs]}"

    # -------------------------------------------------------------------------------- persistence
    # A forest is saved as flat node arrays (safetensors), never pickled: a bundle from a stranger must not
    # run code. Loaded, it predicts by walking those arrays (_walk_trees), matching sklearn exactly.
    def to_tensors(self) -> dict[str, Any]:
        """Every tree's nodes as flat numpy arrays (a bundle writes them without torch): children, split feature and
        threshold, leaf probabilities."""
        if self._forest is None and self._trees is None:
            raise NotFittedError("fit the random forest before saving it")
        trees = self._trees if self._forest is None else _tree_arrays(self._forest, self.n_classes)
        return {k: np.ascontiguousarray(v) for k, v in trees.items()}

    def config_dict(self) -> dict[str, Any]:
        """JSON-ready description of the fitted forest."""
        if self._forest is None and self._trees is None:
            raise NotFittedError("fit the random forest before saving it")
        return {"format": FOREST_FORMAT, "n_estimators": self.n_estimators, "seed": self.seed,
                "n_bands": self.bands, "n_classes": self.n_classes, "inputs": self.inputs}

    @classmethod
    def from_tensors(cls, tensors: dict[str, Any], config: dict[str, Any]) -> "SpectralRandomForest":
        """Rebuild a fitted forest from :meth:`to_tensors` and :meth:`config_dict` output."""
        if config.get("format") != FOREST_FORMAT:
            raise ValueError(f"not a random-forest config (format {config.get('format')!r}, "
                             f"expected {FOREST_FORMAT!r})")
        trees = {k: np.asarray(tensors[k].numpy() if hasattr(tensors[k], "numpy") else tensors[k])
                 for k in _TREE_KEYS if k in tensors}
        missing = [k for k in _TREE_KEYS if k not in trees]
        n_nodes = len(trees.get("left", ()))
        if missing or any(len(trees[k]) != n_nodes for k in ("right", "feature", "threshold", "value")):
            raise ValueError(f"the saved random forest is incomplete or inconsistent (missing {missing or 'none'})")
        # Bundles written before session 16 have no "inputs": their forests split on the spectrum alone.
        forest = cls(n_estimators=int(config["n_estimators"]), seed=int(config["seed"]),
                     inputs=str(config.get("inputs", "spectrum")))
        forest.bands, forest.n_classes = int(config["n_bands"]), int(config["n_classes"])
        if trees["value"].shape[1] != forest.n_classes:
            raise ValueError("the saved random forest's leaves do not match its number of classes")
        forest._trees = trees
        return forest


FOREST_FORMAT = "hypersynth-random-forest/1"
_TREE_KEYS = ("roots", "left", "right", "feature", "threshold", "value")


def _tree_arrays(forest: RandomForestClassifier, n_classes: int) -> dict[str, np.ndarray]:
    """A fitted sklearn forest as flat arrays over all nodes; child indices are global, -1 at leaves."""
    trees = [est.tree_ for est in forest.estimators_]
    offsets = np.cumsum([0] + [t.node_count for t in trees])
    left, right, feature, threshold, value = [], [], [], [], []
    for t, off in zip(trees, offsets[:-1]):
        left.append(np.where(t.children_left >= 0, t.children_left + off, -1))
        right.append(np.where(t.children_right >= 0, t.children_right + off, -1))
        feature.append(t.feature)
        threshold.append(t.threshold)
        v = t.value[:, 0, :]  # (nodes, classes seen) weighted class counts or fractions
        v = v / np.maximum(v.sum(axis=1, keepdims=True), 1e-300)
        value.append(_full_columns(v, forest.classes_, n_classes))
    return {"roots": offsets[:-1].astype(np.int64), "left": np.concatenate(left).astype(np.int64),
            "right": np.concatenate(right).astype(np.int64), "feature": np.concatenate(feature).astype(np.int64),
            "threshold": np.concatenate(threshold).astype(np.float64), "value": np.concatenate(value)}


def _walk_trees(trees: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """``(N, K)`` mean leaf probabilities of all trees for ``(N, F)`` float32 forest inputs, all trees at once.

    As in sklearn, a sample goes left when its feature value is <= the node's (float64) threshold.
    """
    left, right, feature, threshold = trees["left"], trees["right"], trees["feature"], trees["threshold"]
    cols = np.arange(len(x))
    node = np.repeat(trees["roots"][:, None], len(x), axis=1)  # (T, N) current node of each tree per sample
    while True:
        inner = left[node] >= 0  # (T, N)
        if not inner.any():
            break
        values = x[cols, np.maximum(feature[node], 0)].astype(np.float64)  # (T, N)
        step = np.where(values <= threshold[node], left[node], right[node])
        node = np.where(inner, step, node)
    return trees["value"][node].mean(axis=0).astype(np.float32)  # (N, K)


class SpectralSVM:
    """Standardised spectra + RBF SVM (sklearn), with C and gamma chosen on the training labels only.

    With a handful of labels per class a fixed C/gamma is as good a guess as any, so when every
    class has at least 3 training samples C and gamma are picked by stratified k-fold CV (k = 3) on
    the training labels; below that CV cannot see every class in each fold, and C=100,
    gamma='scale' (1 / bands after standardising) are used. Ties in CV go to the default.

    Probabilities: sklearn's ``probability=True`` fits Platt scaling with an internal 5-fold CV,
    which is unreliable (and may disagree with the SVM's own decision) when a class has fewer than
    about 2 samples per fold. Below 10 samples per class the one-vs-rest decision values go through
    a softmax instead: the probabilities then rank classes exactly as the SVM does, which is what a
    class map needs (on EnMAP Potsdam at N=5, Platt scaling cost 2 points OA and 5 points AA).
    """

    patch_size = 1
    C_GRID = (100.0, 10.0, 1000.0, 1.0)  # first = default and tie-breaker
    GAMMA_FACTORS = (1.0, 0.1, 10.0)  # multiples of 1 / bands ('scale' on standardised spectra)
    MIN_PER_CLASS_FOR_CV = 3  # CV grid search only when every class has this many samples
    MIN_PER_CLASS_FOR_PLATT = 10  # Platt-scaled probabilities only when every class has this many samples

    def __init__(self, seed: int = 0, C: Optional[float] = None, gamma: Optional[float] = None,
                 platt: Optional[bool] = None, max_per_class: Optional[int] = None) -> None:
        """
        Args:
            seed: random state of the CV folds, of Platt scaling and of the draw below.
            C, gamma: fixed hyper-parameters; both given = no grid search (gamma on standardised spectra).
            platt: Platt-scaled probabilities (True) or the softmax of decision values (False); None = by the
                smallest class's size (:data:`MIN_PER_CLASS_FOR_PLATT`).
            max_per_class: learn from at most this many samples of each class, drawn at random (weights scaled
                so each class keeps its total weight); None = all. An SVM's fit grows with the square of the
                samples: brushed labels on long feature vectors would otherwise take minutes per fit.
        """
        self.seed = int(seed)
        self.C = C
        self.gamma = gamma
        self.platt = platt
        self.max_per_class = max_per_class
        self.n_classes = 0
        self.bands = 0
        self.chosen: dict[str, float] = {}  # the C and gamma used by the last fit
        self.how_chosen = ""  # how the last fit got them: "given", "cross-validation" or "defaults"
        self.search: dict[str, float] = {}  # the last CV: best score, ties with it, the smallest class's labels
        self._model: Optional[Pipeline] = None

    def _pipeline(self, C: float, gamma: float, probability: bool) -> Pipeline:
        return Pipeline([("scale", StandardScaler()),
                         ("svc", SVC(kernel="rbf", C=C, gamma=gamma, probability=probability,
                                     decision_function_shape="ovr", random_state=self.seed))])

    def _choose(self, x: np.ndarray, y: np.ndarray, w: Optional[np.ndarray]) -> tuple[float, float]:
        """C and gamma: the fixed ones, the defaults, or the CV winner on the training labels."""
        scale_gamma = 1.0 / x.shape[1]  # sklearn's 'scale' for standardised features (variance 1)
        if self.C is not None and self.gamma is not None:
            self.how_chosen = "given"
            return float(self.C), float(self.gamma)
        self.search = {"smallest": float(_smallest_class(y))}
        if _smallest_class(y) < self.MIN_PER_CLASS_FOR_CV:
            self.how_chosen = "defaults"
            return float(self.C or self.C_GRID[0]), float(self.gamma or scale_gamma)
        self.how_chosen = "cross-validation"
        # One grid per candidate, ordered by preference, so ties go to the most conventional setting.
        candidates = [{"svc__C": [float(self.C) if self.C is not None else c],
                       "svc__gamma": [float(self.gamma) if self.gamma is not None else g * scale_gamma]}
                      for g in self.GAMMA_FACTORS for c in self.C_GRID]
        folds = StratifiedKFold(n_splits=self.MIN_PER_CLASS_FOR_CV, shuffle=True, random_state=self.seed)
        search = GridSearchCV(self._pipeline(1.0, scale_gamma, probability=False), candidates,
                              scoring="balanced_accuracy", cv=folds, refit=False)
        search.fit(x, y, **({} if w is None else {"svc__sample_weight": w}))
        best, scores = search.best_params_, np.asarray(search.cv_results_["mean_test_score"])
        self.search.update(score=float(search.best_score_), ties=float(np.sum(scores >= search.best_score_ - 1e-12)),
                           edge=float(best["svc__C"] in (min(self.C_GRID), max(self.C_GRID))
                                      or best["svc__gamma"] / scale_gamma in (min(self.GAMMA_FACTORS),
                                                                              max(self.GAMMA_FACTORS))))
        return float(best["svc__C"]), float(best["svc__gamma"])

    def fit(self, samples: np.ndarray, labels: np.ndarray, *, sample_weight: Optional[np.ndarray] = None,
            real_count: Optional[int] = None, reporter: Reporter = NULL_REPORTER) -> "SpectralSVM":
        """Choose C and γ by cross-validation, then fit the SVM on the centre spectra (``real_count`` is not used:
        C and γ are chosen on every sample given; ``fit_svm_real_first`` gives it the real ones first)."""
        x, y, w = _training_arrays(samples, labels, sample_weight)
        if self.max_per_class is not None:
            x, y, w = _at_most_per_class(x, y, w, int(self.max_per_class), self.seed)
        reporter.check()
        reporter.progress(0.0, "SVM")
        C, gamma = self._choose(x, y, w)
        reporter.check()
        reporter.progress(0.5, "SVM")
        platt = self.platt if self.platt is not None else _smallest_class(y) >= self.MIN_PER_CLASS_FOR_PLATT
        model = self._pipeline(C, gamma, probability=bool(platt))
        model.fit(x, y, **({} if w is None else {"svc__sample_weight": w}))
        reporter.progress(1.0, "SVM")
        self._model, self.n_classes, self.bands = model, int(y.max()) + 1, x.shape[1]
        self.chosen = {"C": C, "gamma": gamma, "platt": float(platt)}
        return self

    def training_note(self) -> str:
        """One line for the run's report: the C and gamma the SVM used, how they were chosen (the CV's score, a tie
        broken by the grid's order, a choice at the grid's edge), and what its probabilities are."""
        if not self.chosen:
            return "SVM: not trained"
        need = self.MIN_PER_CLASS_FOR_CV
        if self.how_chosen == "cross-validation":
            how = (f"chosen by {need}-fold stratified cross-validation on the labels (balanced accuracy "
                   f"{self.search.get('score', float('nan')) * 100:.1f} %, optimistic with few labels")
            ties = int(self.search.get("ties", 1))
            how += (f"; {ties} settings tied, the first in the grid's order taken" if ties > 1 else "")
            how += ("; at the edge of the grid searched" if self.search.get("edge") else "") + ")"
        elif self.how_chosen == "defaults":
            smallest = int(self.search.get("smallest", 0))
            how = (f"defaults: cross-validation needs {need} labelled pixels in every class, and the smallest class "
                   f"has {smallest}")
        else:
            how = "as given" if self.how_chosen == "given" else "as saved"  # a loaded bundle's: not recorded
        fixed = [name for name, value in (("C", self.C), ("gamma", self.gamma)) if value is not None]
        if self.how_chosen in ("cross-validation", "defaults") and fixed:  # one of the two was given
            how += f" ({fixed[0]} as given)"
        factor = self.chosen["gamma"] * self.bands  # in multiples of 1 / bands, as the grid reads
        probabilities = ("Platt-scaled" if self.chosen.get("platt") else
                         f"the softmax of the decision values (Platt scaling needs {self.MIN_PER_CLASS_FOR_PLATT} "
                         "labelled pixels in every class)")
        return (f"SVM (RBF kernel on standardised spectra): C {self.chosen['C']:g}, gamma {self.chosen['gamma']:.3g} "
                f"({factor:g} / bands), {how}; probabilities {probabilities}")

    def predict_proba(self, samples: np.ndarray) -> np.ndarray:
        """``(N, n_classes)`` float32 class probabilities (Platt-scaled, or softmax of decision values)."""
        if self._model is None:
            raise NotFittedError("fit the SVM before predicting")
        x = _spectra(samples, self.bands)
        svc: SVC = self._model.named_steps["svc"]
        if svc.probability:
            proba = self._model.predict_proba(x)  # (N, K_seen)
        else:
            scores = self._model.decision_function(x)  # (N, K_seen), or (N,) for two classes
            if scores.ndim == 1:
                scores = np.stack([-scores, scores], axis=1) / 2.0  # softmax of ±d/2 = sigmoid(d)
            scores = scores - scores.max(axis=1, keepdims=True)
            proba = np.exp(scores)
            proba /= proba.sum(axis=1, keepdims=True)
        return _full_columns(proba, svc.classes_, self.n_classes)

    # -------------------------------------------------------------------------------- persistence
    # skops (scikit-learn's own safe format) writes the fitted scaler + SVC as arrays and a schema, and reads back
    # only the types it trusts: never pickle, so a bundle from a stranger cannot run code. Its bytes travel in the
    # bundle as one uint8 tensor.
    def to_tensors(self) -> dict[str, Any]:
        """The fitted scaler and SVC, as skops bytes in one uint8 numpy array (a bundle writes it without torch)."""
        import skops.io

        if self._model is None:
            raise NotFittedError("fit the SVM before saving it")
        return {"skops": np.frombuffer(skops.io.dumps(self._model), dtype=np.uint8).copy()}

    def config_dict(self) -> dict[str, Any]:
        """JSON-ready description of the fitted SVM."""
        if self._model is None:
            raise NotFittedError("fit the SVM before saving it")
        return {"format": SVM_FORMAT, "seed": self.seed, "n_bands": self.bands, "n_classes": self.n_classes,
                "chosen": self.chosen}

    @classmethod
    def from_tensors(cls, tensors: dict[str, Any], config: dict[str, Any]) -> "SpectralSVM":
        """Rebuild a fitted SVM from :meth:`to_tensors` and :meth:`config_dict` output."""
        import skops.io

        if config.get("format") != SVM_FORMAT:
            raise ValueError(f"not an SVM config (format {config.get('format')!r}, expected {SVM_FORMAT!r})")
        if "skops" not in tensors:
            raise ValueError("the saved SVM is incomplete (no 'skops' tensor)")
        raw = tensors["skops"]
        data = bytes(np.asarray(raw.numpy() if hasattr(raw, "numpy") else raw, dtype=np.uint8))
        try:
            model = skops.io.loads(data)  # only skops' default-trusted (scikit-learn, numpy) types are rebuilt
        except Exception as exc:  # skops raises several types for damaged or untrusted content
            raise ValueError(f"the saved SVM cannot be read safely: {exc}") from exc
        if not isinstance(model, Pipeline) or not isinstance(model.named_steps.get("svc"), SVC):
            raise ValueError("the saved SVM is not a scaler + SVC pipeline written by HyperSynth")
        chosen = {k: float(v) for k, v in dict(config.get("chosen", {})).items()}
        svm = cls(seed=int(config["seed"]), C=chosen.get("C"), gamma=chosen.get("gamma"),
                  platt=bool(chosen["platt"]) if "platt" in chosen else None)
        svm._model, svm.n_classes, svm.bands, svm.chosen = model, int(config["n_classes"]), int(config["n_bands"]), chosen
        return svm


SVM_FORMAT = "hypersynth-svm/1"
BASELINES = ("rf", "svm")


def make_baseline(name: str, seed: int = 0) -> SpectralRandomForest | SpectralSVM:
    """A baseline classifier by name: ``"rf"`` (random forest) or ``"svm"`` (RBF SVM)."""
    if name == "rf":
        return SpectralRandomForest(seed=seed)
    if name == "svm":
        return SpectralSVM(seed=seed)
    raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}")
