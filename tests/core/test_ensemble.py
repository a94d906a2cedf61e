"""The classifier blend (CNN, spectral forest, diffusion-feature SVM): the forest saved as arrays, the shares chosen
by CV, bundles, bench member rows."""

import json

import numpy as np
import pytest
import rasterio

from hypersynth.core.bench import every_blend
from hypersynth.core.classify.baselines import SpectralRandomForest
from hypersynth.core.classify.cnn import SpectralSpatialCNN
from hypersynth.core.classify.ensemble import (CNN_WEIGHTS, DEFAULT_CNN_WEIGHT, DEFAULT_DFEAT_WEIGHT, SHARE_RULES,
                                               BlendChoice, SpectralSpatialEnsemble, candidate_blends,
                                               choose_blend_and_smoothing, choose_shares)
from hypersynth.core.classify.spatial import SIGMAS
from hypersynth.core.cli import main as cli_main
from hypersynth.core.demo import make_demo_scene, sparse_labels
from hypersynth.core.io.classes import write_classes
from hypersynth.core.io.write import write_label_raster, write_scene
from hypersynth.core.methods import MethodSettings, fit_method
from hypersynth.core.pipeline import CLASSIFIER_BUNDLE, classify_scene, classify_with_model, load_classifier


def _spectra(seed=0, n=300, bands=12, classes=4):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, bands))
    y = rng.integers(0, classes, n)
    return (centres[y] + 0.8 * rng.normal(size=(n, bands))).astype(np.float32), y


def test_forest_saved_as_arrays_predicts_exactly_like_sklearn():
    x, y = _spectra()
    w = np.random.default_rng(1).uniform(0.2, 2.0, len(y))
    forest = SpectralRandomForest(n_estimators=60, seed=3, n_jobs=1).fit(x[:200], y[:200], sample_weight=w[:200])
    loaded = SpectralRandomForest.from_tensors(forest.to_tensors(), json.loads(json.dumps(forest.config_dict())))
    np.testing.assert_array_equal(loaded.predict_proba(x[200:]), forest.predict_proba(x[200:]))
    broken = {k: v for k, v in forest.to_tensors().items() if k != "threshold"}
    with pytest.raises(ValueError, match="incomplete"):
        SpectralRandomForest.from_tensors(broken, forest.config_dict())
    with pytest.raises(ValueError, match="not a random-forest config"):
        SpectralRandomForest.from_tensors(forest.to_tensors(), {"format": "something else"})


class _Fixed:
    """A stand-in member that always answers from a fixed rule (right = the true class, else class 0)."""

    patch_size = 1

    def __init__(self, right: bool):
        self.right, self.n_classes = right, 0

    def fit(self, samples, labels, *, sample_weight=None, real_count=None, reporter=None):
        self.n_classes = int(labels.max()) + 1
        return self

    def predict_proba(self, samples):
        index = samples[:, 0, 0, 0].astype(int) if self.right else np.zeros(len(samples), int)
        return np.eye(self.n_classes, dtype=np.float32)[index]


class _FixedOnFeatures(_Fixed):
    """The same rule for a member that reads feature vectors ``(n, F)`` (feature 0 holds the class)."""

    def predict_proba(self, samples):
        return super().predict_proba(samples[:, :, None, None])


def _choose_share(y, make_cnn, make_forest, dfeat_right=None, smoothing=0.0, share_rule="balanced-accuracy"):
    """The blend's CV on labels 2 px apart (no two touch), band 0 holding the class (what ``_Fixed`` reads);
    with ``dfeat_right`` a third member reads the class from pixel "features" (right or not)."""
    rows, cols = 2 * (np.arange(len(y)) // 4), 2 * (np.arange(len(y)) % 4)
    cube = np.zeros((2, 2 * rows.max() + 2, 8), np.float32)
    cube[0, rows, cols] = y
    patches = cube[:, rows, cols].T[:, :, None, None]  # (N, 2, 1, 1)
    valid = np.ones(cube.shape[1:], bool)
    read = []
    dfeat = None
    if dfeat_right is not None:
        def features_at(r, c, reporter=None):
            read.append(len(r))
            return cube[:, r, c].T  # (n, 2): feature 0 holds the class
        dfeat = (features_at, lambda: _FixedOnFeatures(dfeat_right))
    blend, smooth = choose_blend_and_smoothing(cube, valid, rows, cols, y, patches, make_cnn, make_forest, seed=0,
                                               smoothing=smoothing, dfeat=dfeat, share_rule=share_rule)
    return (blend, smooth, read) if dfeat_right is not None else blend


def test_cv_gives_the_blend_to_the_member_that_predicts_held_out_labels():
    y = np.repeat(np.arange(3), 4)
    to_cnn = _choose_share(y, lambda: _Fixed(True), lambda: _Fixed(False))
    to_forest = _choose_share(y, lambda: _Fixed(False), lambda: _Fixed(True))
    assert to_cnn.folds == to_forest.folds == 4 and set(to_cnn.scores) == {(w, 0.0) for w in CNN_WEIGHTS}
    assert to_cnn.cnn_weight > 0.5 and to_forest.cnn_weight < 0.5
    assert to_cnn.dfeat_weight == 0.0 and not to_cnn.with_dfeat and "diffusion" not in to_cnn.note()
    assert to_cnn.scores[(to_cnn.cnn_weight, 0.0)] == 1.0 and "cross-validation" in to_cnn.note()
    # the held-out log-loss of every blend is kept beside its balanced accuracy: the right CNN gives the true class
    # probability c (its share) on the two classes the wrong forest misses, and 1 on class 0
    assert set(to_cnn.log_losses) == set(to_cnn.scores)
    assert to_cnn.log_losses[(0.5, 0.0)] == pytest.approx(-2 / 3 * np.log(0.5), rel=1e-6)
    losses = [to_cnn.log_losses[(w, 0.0)] for w in CNN_WEIGHTS]  # shares 0 … 1: the loss falls as the CNN's rises
    assert losses == sorted(losses, reverse=True) and losses[-1] == pytest.approx(0.0, abs=1e-6)
    one_label = _choose_share(y[::4], lambda: _Fixed(True), lambda: _Fixed(False))
    assert one_label.folds == 0 and one_label.cnn_weight == DEFAULT_CNN_WEIGHT and "too few" in one_label.note()


def test_cv_weighs_the_diffusion_feature_member_by_what_it_predicts():
    y = np.repeat(np.arange(3), 4)
    to_dfeat, _, read = _choose_share(y, lambda: _Fixed(False), lambda: _Fixed(False), dfeat_right=True)
    # only the third member is right: it needs more than half the blend; the most even such blend is ¾
    assert to_dfeat.with_dfeat and to_dfeat.dfeat_weight == 0.75 and to_dfeat.cnn_weight == 0.5
    assert to_dfeat.weights() == {"cnn": 0.125, "forest": 0.125, "dfeat": 0.75}
    assert len(to_dfeat.scores) == len(candidate_blends(True)) == 21  # 4 × 5 pairs + "all diffusion features"
    assert "diffusion-feature SVM 0.75" in to_dfeat.note()
    table = to_dfeat.table()  # the report's grid: a row per CNN share, a column per SVM share, then the SVM alone
    assert table[0].count("SVM share") == 4 and len(table) == 2 + 5 + 1 and table[-1].startswith("| SVM alone")
    assert sum("**" in row for row in table) == 1 and "| 0.5 |" in next(r for r in table if "**" in r)
    assert "0.50/0.75" in to_dfeat.note() and "0.50/0.75" not in to_dfeat.note(listing=False)
    assert read[0] == len(y)  # the labels' features are asked for once, up front (the cache extracts them there)
    to_cnn, _, _ = _choose_share(y, lambda: _Fixed(True), lambda: _Fixed(False), dfeat_right=False)
    assert to_cnn.dfeat_weight < 0.5 and to_cnn.weights()["cnn"] > 0.5
    # smoothing is scored with all three members' neighbourhood predictions
    _, smooth, _ = _choose_share(y, lambda: _Fixed(False), lambda: _Fixed(False), dfeat_right=True, smoothing=None)
    assert smooth.folds == 4 and set(smooth.scores) == set(SIGMAS)
    one_label, _, _ = _choose_share(y[::4], lambda: _Fixed(True), lambda: _Fixed(False), dfeat_right=True)
    assert one_label.folds == 0 and one_label.dfeat_weight == DEFAULT_DFEAT_WEIGHT and "too few" in one_label.note()


def test_bench_records_every_blend_the_cv_scored_with_its_test_accuracy():
    y = np.repeat(np.arange(3), 4)
    choice = _choose_share(y, lambda: _Fixed(True), lambda: _Fixed(False))  # the CNN right, the forest says 0
    truth = np.array([0, 1, 2, 2, 1, 0])  # test pixels, class ids 1..3 (class index + 1)
    cnn = np.eye(3, dtype=np.float32)[truth]  # right on every pixel
    forest = np.eye(3, dtype=np.float32)[np.zeros(6, int)]  # always class index 0
    blends = every_blend(choice, {"cnn": cnn, "forest": forest}, truth + 1, np.array([1, 2, 3]))
    assert [(b["cnn_weight"], b["dfeat_weight"]) for b in blends] == sorted(choice.scores)
    by_share = {b["cnn_weight"]: b for b in blends}
    assert by_share[1.0]["oa"] == 1.0 and by_share[0.0]["oa"] == pytest.approx(2 / 6)  # the forest: class 0 only
    assert by_share[0.75]["cv_balanced_accuracy"] == choice.scores[(0.75, 0.0)]
    assert by_share[0.75]["cv_log_loss"] == choice.log_losses[(0.75, 0.0)]
    ensemble = SpectralSpatialEnsemble(_Fixed(True).fit(None, y), _Fixed(False).fit(None, y), 0.75)
    assert by_share[0.75]["oa"] == float((np.argmax(ensemble.blend(cnn=cnn, forest=forest), axis=1) == truth).mean())


def test_log_loss_rule_breaks_the_accuracy_ties_by_how_sure_the_blend_is():
    y = np.repeat(np.arange(3), 4)
    by_accuracy = _choose_share(y, lambda: _Fixed(True), lambda: _Fixed(False))
    by_loss = _choose_share(y, lambda: _Fixed(True), lambda: _Fixed(False), share_rule="log-loss")
    # every CNN share above ½ classifies the held-out labels perfectly: accuracy ties and the most even such share
    # wins; the log-loss falls all the way to the right CNN alone
    assert by_accuracy.cnn_weight == min(w for w in CNN_WEIGHTS if w > 0.5) and by_loss.cnn_weight == 1.0
    assert by_loss.scores == by_accuracy.scores and by_loss.log_losses == by_accuracy.log_losses
    assert by_loss.rule == "log-loss" and "lowest held-out log-loss" in by_loss.note()
    assert "highest held-out balanced accuracy" in by_accuracy.note()
    scores, losses = {(0.5, 0.0): 0.9, (1.0, 0.0): 0.9}, {(0.5, 0.0): 0.3, (1.0, 0.0): 0.3}
    assert choose_shares("log-loss", scores, losses, [(0.5, 0.0), (1.0, 0.0)]) == (0.5, 0.0)  # ties: most even
    with pytest.raises(ValueError, match="share rule"):
        choose_shares("accuracy", scores, losses, [(0.5, 0.0)])
    with pytest.raises(ValueError, match="share_rule"):
        MethodSettings(share_rule="accuracy")
    assert set(SHARE_RULES) == {"balanced-accuracy", "log-loss"}


def test_ties_go_to_the_most_even_blend():
    assert candidate_blends(False)[0] == (0.5, 0.0) and candidate_blends(False)[-2:] == [(0.0, 0.0), (1.0, 0.0)]
    assert candidate_blends(True)[0] == (0.5, DEFAULT_DFEAT_WEIGHT)


def _two_class_patches(seed=0, n=40, bands=8, p=3):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    base = np.where(y[:, None] == 0, 1.0, -1.0) * np.linspace(0.5, 1.5, bands)[None]  # (n, bands)
    x = base[:, :, None, None] + 0.3 * rng.normal(size=(n, bands, p, p))
    return x.astype(np.float32), y


def test_ensemble_blends_members_and_round_trips_through_tensors():
    x, y = _two_class_patches()
    cnn = SpectralSpatialCNN(patch_size=3, seed=0, device="cpu", epochs=3, width=8, min_samples_per_epoch=16, patience=2)
    forest = SpectralRandomForest(n_estimators=20, seed=0, n_jobs=1)
    ensemble = SpectralSpatialEnsemble(cnn, forest, 0.25).fit(x, y)
    expected = 0.25 * cnn.predict_proba(x) + 0.75 * forest.predict_proba(x)
    np.testing.assert_allclose(ensemble.predict_proba(x), expected, atol=1e-6)
    config = json.loads(json.dumps({**ensemble.config_dict(), "device": "cpu"}))
    loaded = SpectralSpatialEnsemble.from_tensors(ensemble.to_tensors(), config)
    np.testing.assert_allclose(loaded.predict_proba(x), ensemble.predict_proba(x), atol=1e-6)
    # the bundle keeps every CV score and the rule that chose from them (older bundles: accuracy, no log-losses)
    chosen = BlendChoice(0.25, 4, {(0.25, 0.0): 0.8, (0.5, 0.0): 0.7}, log_losses={(0.25, 0.0): 0.4, (0.5, 0.0): 0.6},
                         rule="log-loss")
    ruled = SpectralSpatialEnsemble(cnn, forest, 0.25, chosen)
    back = SpectralSpatialEnsemble.from_tensors(ruled.to_tensors(), json.loads(json.dumps(
        {**ruled.config_dict(), "device": "cpu"}))).choice
    assert (back.scores, back.log_losses, back.rule) == (chosen.scores, chosen.log_losses, "log-loss")
    assert loaded.choice.rule == "balanced-accuracy" and loaded.choice.log_losses == {}
    with pytest.raises(ValueError, match="cnn_weight"):
        SpectralSpatialEnsemble(cnn, forest, 1.5)
    smoothed = SpectralSpatialEnsemble(cnn, forest, 0.25, smoothing=1.5, smoothing_note="set by the analyst")
    again = SpectralSpatialEnsemble.from_tensors(smoothed.to_tensors(), {**smoothed.config_dict(), "device": "cpu"})
    assert again.smoothing == 1.5 and again.smoothing_note == "set by the analyst"
    old = {**config, "format": "hypersynth-ensemble/1"}  # bundles written before smoothing existed
    old.pop("smoothing")
    assert SpectralSpatialEnsemble.from_tensors(ensemble.to_tensors(), old).smoothing == 0.0


def test_augment_and_the_no_synthesis_ablation_end_in_the_cv_blend():
    data = make_demo_scene(size=40, bands=24, seed=0)
    labels = np.where(data.scene.valid, sparse_labels(data.labels, 4, seed=0), 0)
    settings = MethodSettings(preset="tiny", seed=0, patch_size=3, pseudo_labels=3, diffusion_features=True)
    for method in ("cnn-pseudo", "augment"):
        fitted = fit_method(method, data.scene.usable_cube(), data.scene.valid, labels, data.classes, settings)
        assert isinstance(fitted.classifier, SpectralSpatialEnsemble)
        assert set(fitted.classifier.members) == {"cnn", "forest", "dfeat"} and fitted.synthesis_model is not None
        assert fitted.classifier.choice.with_dfeat and abs(sum(fitted.classifier.weights.values()) - 1) < 1e-9
        folds = fitted.classifier.choice.folds  # 4 labels per class; two that touch make one region
        assert fitted.classifier.cnn_weight in CNN_WEIGHTS and folds in (3, 4)
        assert any(f"{folds}-fold cross-validation on the real labels" in n for n in fitted.notes)
        assert fitted.classifier.smoothing in SIGMAS and any("spatial smoothing" in n for n in fitted.notes)
    plain = fit_method("cnn", data.scene.usable_cube(), data.scene.valid, labels, data.classes, settings)
    assert isinstance(plain.classifier, SpectralSpatialCNN)
    # by default (since session 18) the blend is the CNN and the forest, and the ablation trains no synthesis model
    without = fit_method("cnn-pseudo", data.scene.usable_cube(), data.scene.valid, labels, data.classes,
                         MethodSettings(preset="tiny", seed=0, patch_size=3, pseudo_labels=3))
    assert set(without.classifier.members) == {"cnn", "forest"} and without.synthesis_model is None
    assert not without.classifier.choice.with_dfeat


def test_rf_run_saves_a_forest_bundle_that_reproduces_its_map(tmp_path):
    data = make_demo_scene(size=32, bands=16, seed=0)
    scene = write_scene(data.scene, tmp_path / "scene.tif")
    kw = dict(transform=data.scene.transform, crs_wkt=data.scene.crs_wkt)
    labels = write_label_raster(tmp_path / "labels.tif", sparse_labels(data.labels, 5, seed=0), data.classes, **kw)
    write_classes(tmp_path / "classes.json", data.classes)
    out = tmp_path / "rf"
    classify_scene(scene, labels, out, method="rf", classes_path=tmp_path / "classes.json",
                   settings=MethodSettings(seed=0))
    clf, class_ids, _, meta = load_classifier(out / CLASSIFIER_BUNDLE)
    assert isinstance(clf, SpectralRandomForest) and meta["method"] == "rf"
    again = classify_with_model(out / CLASSIFIER_BUNDLE, scene, tmp_path / "again")
    with rasterio.open(out / "classification.tif") as a, rasterio.open(again.class_map) as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))


def test_bench_scores_each_member_of_the_blend(tmp_path):
    path = tmp_path / "bench.json"
    assert cli_main(["bench", "--datasets", "demo", "--labels-per-class", "3", "--seeds", "0",
                     "--methods", "cnn-pseudo", "--preset", "tiny", "--spatial-smoothing", "1", "--json", str(path),
                     "--pseudo-labels", "4", "--diffusion-features", "--quiet"]) == 0
    data = json.loads(path.read_text())
    rows = {r["method"]: r for r in data["rows"]}
    assert set(rows) == {"cnn-pseudo", "cnn-pseudo:cnn", "cnn-pseudo:forest", "cnn-pseudo:dfeat", "cnn-pseudo:blend"}
    assert all(0.0 < r["oa_mean"] <= 1.0 for r in rows.values())
    choices = data["runs"][0]["choices"]
    assert choices["smoothing"] == 1.0 and choices["cnn_weight"] in CNN_WEIGHTS and 0 <= choices["dfeat_weight"] <= 1
    # how many pseudo-labels the run drew and over how many classes, so a run without any shows in its JSON
    # (tiny preset: up to 4 per class, the demo has 6 classes)
    assert 1 <= choices["pseudo_classes"] <= 6 and choices["pseudo_classes"] <= choices["pseudo_labels"] <= 4 * 6
    # this draw puts one class's 3 labels in one touching region: too few to cross-validate, so no blend was scored
    assert all(r["blends"] == [] for r in data["runs"])
    for run in data["runs"]:  # files written before session 16 have no "blends": they still merge
        del run["blends"]
    path.write_text(json.dumps(data))
    assert cli_main(["bench", "--merge", str(path), "--json", str(tmp_path / "merged.json"), "--quiet"]) == 0
