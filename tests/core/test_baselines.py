"""Random forest and SVM baselines on an easy synthetic spectral problem, down to 1 label per class."""

import re

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from hypersynth.core.classify.base import Classifier
from hypersynth.core.classify.baselines import (
    NotFittedError, SpectralRandomForest, SpectralSVM, make_baseline,
)
from hypersynth.core.progress import CancelAfter, Cancelled

BANDS = 20


def spectra(n_per_class: int, seed: int, n_classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Three smooth class spectra (different shapes and levels) plus noise: an easy problem."""
    rng = np.random.default_rng(seed)
    wl = np.linspace(0, 1, BANDS)
    means = [0.2 + 0.3 * wl, 0.5 - 0.2 * wl, 0.3 + 0.15 * np.sin(6 * wl)][:n_classes]
    x = np.concatenate([m + rng.normal(0, 0.04, (n_per_class, BANDS)) for m in means]).astype(np.float32)
    y = np.repeat(np.arange(n_classes), n_per_class)
    return x, y


def small_rf(seed: int = 0) -> SpectralRandomForest:
    return SpectralRandomForest(n_estimators=60, seed=seed, n_jobs=1, trees_per_step=20)


@pytest.mark.parametrize("make", [small_rf, lambda: SpectralSVM(seed=0)], ids=["rf", "svm"])
def test_baselines_learn_an_easy_problem(make):
    x, y = spectra(15, seed=0)
    test_x, test_y = spectra(100, seed=1)
    clf = make().fit(x, y)
    assert isinstance(clf, Classifier) and clf.patch_size == 1 and clf.n_classes == 3
    proba = clf.predict_proba(test_x)
    assert proba.dtype == np.float32 and proba.shape == (300, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (proba.argmax(axis=1) == test_y).mean() > 0.9


@pytest.mark.parametrize("n_per_class", [1, 2])
@pytest.mark.parametrize("make", [small_rf, lambda: SpectralSVM(seed=0)], ids=["rf", "svm"])
def test_baselines_handle_one_and_two_samples_per_class(make, n_per_class):
    x, y = spectra(n_per_class, seed=2)
    test_x, test_y = spectra(100, seed=3)
    clf = make().fit(x, y)
    proba = clf.predict_proba(test_x)
    assert proba.shape == (300, 3) and np.all(np.isfinite(proba)) and np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (proba.argmax(axis=1) == test_y).mean() > 0.8
    assert (clf.predict_proba(x).argmax(axis=1) == y).all()  # its own training labels


def test_forest_on_shape_and_slope_sees_past_brightness():
    """Two classes that differ in spectral shape, each pixel scaled by its own brightness (shade, slope, mixing):
    with 3 labels per class, thresholds on reflectance split on brightness; the shape and slope do not."""
    rng = np.random.default_rng(5)
    wl = np.linspace(0, 1, BANDS)
    shapes = np.stack([0.3 + 0.2 * wl, 0.5 - 0.2 * wl])  # rising and falling spectra, equally bright on average

    def draw(n):
        y = np.repeat([0, 1], n)
        brightness = rng.uniform(0.3, 2.0, (2 * n, 1))
        return (shapes[y] * brightness + rng.normal(0, 0.01, (2 * n, BANDS))).astype(np.float32), y

    x, y = draw(3)
    test_x, test_y = draw(300)
    scores = {}
    for inputs in ("spectrum", "spectrum+shape+slope"):
        forest = SpectralRandomForest(n_estimators=100, seed=0, n_jobs=1, inputs=inputs).fit(x, y)
        scores[inputs] = (forest.predict_proba(test_x).argmax(axis=1) == test_y).mean()
        assert forest.bands == BANDS  # the band count a scene must have, not the number of derived inputs
    assert scores["spectrum+shape+slope"] > 0.95
    assert scores["spectrum+shape+slope"] > scores["spectrum"] + 0.1


def test_forest_inputs_are_checked_saved_and_old_bundles_read_as_spectrum():
    x, y = spectra(10, seed=6)
    forest = SpectralRandomForest(n_estimators=30, seed=1, n_jobs=1, inputs="spectrum+shape+slope").fit(x, y)
    config = forest.config_dict()
    assert config["inputs"] == "spectrum+shape+slope"
    assert forest.training_note() == "spectral forest: 30 trees on each pixel's spectrum, its shape and its slope"
    loaded = SpectralRandomForest.from_tensors(forest.to_tensors(), config)
    np.testing.assert_array_equal(loaded.predict_proba(x), forest.predict_proba(x))  # same inputs when walked
    plain = SpectralRandomForest(n_estimators=30, seed=1, n_jobs=1).fit(x, y)
    old = {k: v for k, v in plain.config_dict().items() if k != "inputs"}  # as written before session 16
    assert SpectralRandomForest.from_tensors(plain.to_tensors(), old).inputs == "spectrum"
    with pytest.raises(ValueError, match="unknown forest inputs 'ndvi'; choose one of spectrum, spectrum\\+shape"):
        SpectralRandomForest(inputs="ndvi")


def test_svm_chooses_hyper_parameters_only_with_enough_labels():
    few = SpectralSVM(seed=0).fit(*spectra(2, seed=4))
    assert few.chosen["C"] == 100.0 and few.chosen["gamma"] == pytest.approx(1 / BANDS)
    assert few.chosen["platt"] == 0.0
    many = SpectralSVM(seed=0).fit(*spectra(12, seed=4))
    assert many.chosen["C"] in SpectralSVM.C_GRID
    assert min(abs(many.chosen["gamma"] * BANDS - f) for f in SpectralSVM.GAMMA_FACTORS) < 1e-9
    assert many.chosen["platt"] == 1.0
    fixed = SpectralSVM(seed=0, C=5.0, gamma=0.2).fit(*spectra(12, seed=4))
    assert fixed.chosen["C"] == 5.0 and fixed.chosen["gamma"] == 0.2
    # the report says which, and what it used
    assert few.training_note() == (
        f"SVM (RBF kernel on standardised spectra): C 100, gamma {1 / BANDS:.3g} (1 / bands), defaults: "
        "cross-validation needs 3 labelled pixels in every class, and the smallest class has 2; probabilities the "
        "softmax of the decision values (Platt scaling needs 10 labelled pixels in every class)")
    note = many.training_note()
    assert re.search(r"chosen by 3-fold stratified cross-validation on the labels \(balanced accuracy \d+\.\d %, "
                     r"optimistic with few labels[^)]*\); probabilities Platt-scaled$", note), note
    assert f"C 5, gamma 0.2 ({0.2 * BANDS:g} / bands), as given" in fixed.training_note()
    assert SpectralSVM().training_note() == "SVM: not trained"
    half = SpectralSVM(seed=0, C=5.0).fit(*spectra(12, seed=4))  # gamma by cross-validation, C as given
    assert "C 5, " in half.training_note() and half.training_note().endswith("(C as given); probabilities "
                                                                            "Platt-scaled")
    # a search every setting of which scores alike says that the grid's order chose
    alike = SpectralSVM(seed=0).fit(*spectra(12, seed=4))
    alike.search.update(ties=12.0, edge=0.0)
    assert "12 settings tied, the first in the grid's order taken)" in alike.training_note()


def test_svm_two_classes_and_sample_weights():
    x, y = spectra(4, seed=5, n_classes=2)
    weights = np.where(y == 0, 1.0, 0.5)
    clf = SpectralSVM(seed=0).fit(x, y, sample_weight=weights)
    proba = clf.predict_proba(spectra(50, seed=6, n_classes=2)[0])
    assert proba.shape == (100, 2)
    assert (proba.argmax(axis=1) == np.repeat([0, 1], 50)).mean() > 0.9


def test_patches_use_their_centre_spectrum():
    x, y = spectra(5, seed=7)
    rng = np.random.default_rng(0)
    patches = rng.normal(size=(len(x), BANDS, 3, 3)).astype(np.float32)  # (N, B, 3, 3) noisy neighbours
    patches[:, :, 1, 1] = x
    for make in (small_rf, lambda: SpectralSVM(seed=0)):
        a = make().fit(patches, y).predict_proba(patches)
        b = make().fit(x, y).predict_proba(x)
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_forest_grown_in_steps_equals_one_sklearn_forest():
    x, y = spectra(10, seed=8)
    test_x, _ = spectra(20, seed=9)
    ours = small_rf(seed=3).fit(x, y).predict_proba(test_x)
    ref = RandomForestClassifier(n_estimators=60, random_state=3, n_jobs=1).fit(x, y).predict_proba(test_x)
    np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_class_index_missing_from_training_gets_a_zero_column():
    x, y = spectra(5, seed=10)
    y = np.where(y == 1, 3, y)  # indices {0, 2, 3}: index 1 has no sample
    for make in (small_rf, lambda: SpectralSVM(seed=0)):
        proba = make().fit(x, y).predict_proba(x)
        assert proba.shape == (15, 4)
        assert np.all(proba[:, 1] == 0)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_forest_fit_can_be_cancelled():
    x, y = spectra(5, seed=11)
    reporter = CancelAfter(2)
    with pytest.raises(Cancelled):
        small_rf().fit(x, y, reporter=reporter)
    assert reporter.stages == ["random forest"]


def test_bad_input_gives_clear_errors():
    x, y = spectra(3, seed=12)
    for clf in (small_rf(), SpectralSVM()):
        with pytest.raises(NotFittedError):
            clf.predict_proba(x)
        with pytest.raises(ValueError, match="two classes"):
            clf.fit(x, np.zeros(len(x), dtype=int))
        with pytest.raises(ValueError, match="one class index per sample"):
            clf.fit(x, y[:-1])
        with pytest.raises(ValueError, match="class indices"):
            clf.fit(x, y.astype(float))
        with pytest.raises(ValueError, match="NaN"):
            clf.fit(np.where(x > 0.4, np.nan, x), y)
        clf.fit(x, y)
        with pytest.raises(ValueError, match="bands"):
            clf.predict_proba(x[:, :5])
        with pytest.raises(ValueError, match="samples must be"):
            clf.predict_proba(x[:, :, None])


def test_make_baseline():
    assert isinstance(make_baseline("rf", seed=4), SpectralRandomForest)
    svm = make_baseline("svm", seed=4)
    assert isinstance(svm, SpectralSVM) and svm.seed == 4
    with pytest.raises(ValueError, match="rf, svm"):
        make_baseline("knn", seed=0)


@pytest.mark.parametrize("n_per_class", [3, 12], ids=["softmax", "platt"])
def test_svm_round_trips_through_tensors_without_pickle(n_per_class):
    from hypersynth.core.classify.baselines import SVM_FORMAT

    svm = SpectralSVM(seed=0).fit(*spectra(n_per_class, seed=5))
    test_x, _ = spectra(30, seed=6)
    config = svm.config_dict()
    assert config["format"] == SVM_FORMAT and config["n_classes"] == 3
    tensors = svm.to_tensors()
    assert set(tensors) == {"skops"} and tensors["skops"].dtype == np.uint8  # numpy: a bundle writes it without torch
    loaded = SpectralSVM.from_tensors(tensors, config)
    np.testing.assert_array_equal(loaded.predict_proba(test_x), svm.predict_proba(test_x))
    assert loaded.chosen == svm.chosen
    damaged = {"skops": tensors["skops"][: len(tensors["skops"]) // 2]}
    with pytest.raises(ValueError, match="cannot be read safely"):
        SpectralSVM.from_tensors(damaged, config)
    with pytest.raises(ValueError, match="not an SVM config"):
        SpectralSVM.from_tensors(tensors, {**config, "format": "hypersynth-random-forest/1"})
    with pytest.raises(NotFittedError):
        SpectralSVM().to_tensors()


def test_svm_learns_at_most_a_given_number_per_class_keeping_each_class_weight():
    from hypersynth.core.classify.baselines import _at_most_per_class

    y = np.repeat(np.arange(3), 40)
    index = np.arange(len(y), dtype=np.float64)[:, None]  # each sample's own index as its one feature
    w = np.linspace(0.5, 1.5, len(y))
    few_x, few_y, few_w = _at_most_per_class(index, y, w, 10, seed=0)
    kept = few_x[:, 0].astype(int)
    assert np.bincount(few_y).tolist() == [10, 10, 10] and np.array_equal(y[kept], few_y)
    np.testing.assert_allclose(few_w, 4 * w[kept])  # 40 → 10 per class: each kept sample weighs 4× its weight
    assert _at_most_per_class(index, y, None, 100, seed=0)[0] is index  # nothing to thin: the arrays as they were
    x, y = spectra(40, seed=7)
    capped = SpectralSVM(seed=0, max_per_class=10).fit(x, y)
    test_x, test_y = spectra(100, seed=8)
    assert (capped.predict_proba(test_x).argmax(axis=1) == test_y).mean() > 0.9
