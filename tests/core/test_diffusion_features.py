"""MTMSD-style diffusion features: shapes, determinism, dependence on content only, and the fitted method."""

import numpy as np
import pytest

from hypersynth.core.classify.diffusion_features import DiffusionFeatureClassifier, DiffusionFeatures, FeatureSpec
from hypersynth.core.classify.predict import pixel_patches
from hypersynth.core.methods import MethodSettings, fit_method
from hypersynth.core.scene import ClassInfo

from .test_methods import _two_field_scene


@pytest.fixture(scope="module")
def fitted():
    cube, valid, labels, truth = _two_field_scene()
    classes = [ClassInfo(1, "soil"), ClassInfo(2, "grass")]
    fitted = fit_method("dfeat", cube, valid, labels, classes, MethodSettings(preset="tiny", device="cpu", seed=3))
    return fitted, cube, valid, labels, truth


def test_features_are_the_latent_and_every_block_at_every_timestep(fitted):
    fit, cube, valid, labels, truth = fitted
    model = fit.synthesis_model
    feats = DiffusionFeatures(model, FeatureSpec(timestep_fractions=(0.1, 0.5), noise_seed=0))
    total = model.config.diffusion.num_train_timesteps
    assert feats.timesteps == [round(0.1 * total), round(0.5 * total)]
    den = model.ema_denoiser
    assert feats.dimensions == int(np.prod(model.latent_shape)) + 2 * len(den.blocks) * den.cfg.hidden_size
    rows, cols = np.nonzero(valid)
    patches = pixel_patches(cube, valid, rows[:40], cols[:40], model.patch_size)
    x = feats(patches)
    assert x.shape == (40, feats.dimensions) and x.dtype == np.float32 and np.isfinite(x).all()
    # one shared, seeded noise: the same patch gives the same features in any batch and on a second call
    np.testing.assert_allclose(feats(patches[[7]])[0], x[7], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(feats(patches), x)
    # the features describe the content: two fields' patches differ more across classes than within one
    left, right = x[truth[rows[:40], cols[:40]] == 0], x[truth[rows[:40], cols[:40]] == 1]  # rows 0-2: both fields
    within = np.linalg.norm(left - left.mean(0), axis=1).mean()
    assert np.linalg.norm(left.mean(0) - right.mean(0)) > within


def test_bad_patches_and_timesteps_say_what_to_fix(fitted):
    model = fitted[0].synthesis_model
    with pytest.raises(ValueError, match="fractions of the diffusion"):
        DiffusionFeatures(model, FeatureSpec(timestep_fractions=(1.5,)))
    with pytest.raises(ValueError, match="the shape the model was trained on"):
        DiffusionFeatures(model)(np.zeros((2, model.bands, model.patch_size + 2, model.patch_size + 2), np.float32))
    clf = DiffusionFeatureClassifier(DiffusionFeatures(model))
    with pytest.raises(RuntimeError, match="fit the diffusion-feature classifier"):
        clf.predict_proba(np.zeros((1, model.bands, model.patch_size, model.patch_size), np.float32))


def test_dfeat_method_classifies_the_two_fields_and_says_how(fitted):
    fit, cube, valid, labels, truth = fitted
    clf = fit.classifier
    assert fit.method == "dfeat" and clf.patch_size == fit.synthesis_model.patch_size
    assert any("diffusion features per pixel" in n for n in fit.notes)
    rows, cols = np.nonzero(valid & (labels == 0))
    proba = clf.predict_proba(pixel_patches(cube, valid, rows, cols, clf.patch_size))
    assert proba.shape == (len(rows), 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    accuracy = (proba.argmax(1) == truth[rows, cols]).mean()
    assert accuracy > 0.9  # two clearly different fields, 3 labels each


def test_with_synthetic_patches_the_svm_is_chosen_on_the_real_labels_alone(fitted):
    fit, cube, valid, labels, truth = fitted
    classes = [ClassInfo(1, "soil"), ClassInfo(2, "grass")]
    settings = MethodSettings(preset="tiny", device="cpu", seed=3, synthesis_model=fit.synthesis_model,
                              synthetic_per_class=5)
    aug = fit_method("dfeat-augment", cube, valid, labels, classes, settings)
    assert aug.method == "dfeat-augment" and len(aug.synthetic) > 0
    assert any("synthetic patches kept" in n for n in aug.notes) and any("reused" in n for n in aug.notes)
    real_only = fit.classifier.svm.chosen
    assert (aug.classifier.svm.C, aug.classifier.svm.gamma) == (real_only["C"], real_only["gamma"])
    assert aug.classifier.svm.platt == bool(real_only["platt"])  # 3 labels per class: softmax, as for the real
    rows, cols = np.nonzero(valid & (labels == 0))
    proba = aug.classifier.predict_proba(pixel_patches(cube, valid, rows, cols, aug.classifier.patch_size))
    assert (proba.argmax(1) == truth[rows, cols]).mean() > 0.9


def test_bench_table_sets_the_diffusion_features_against_the_baselines_and_their_synthetic_gain():
    from hypersynth.core.bench_tables import BenchRow, diffusion_feature_table

    def row(method, oa):
        return BenchRow("salinasA", 5, "random", method, oa, 0.01, oa, 0.0, oa, 0.0, 1.0, [0, 1])

    assert diffusion_feature_table([row("rf", 0.88), row("svm", 0.95)]) == ""  # no feature rows: no table
    text = diffusion_feature_table([row("rf", 0.88), row("svm", 0.955), row("augment", 0.984),
                                    row("dfeat", 0.99), row("dfeat-augment", 0.985)])
    line = text.splitlines()[2]
    assert line.startswith("| salinasA | random | 5 | 95.5 ± 1.0 (svm) | 98.4 ± 1.0 | 99.0 ± 1.0 | 98.5 ± 1.0 |")
    assert line.endswith("| +3.5 | +3.0 | -0.5 |")


def test_the_classifier_round_trips_with_its_synthesis_model_inside(fitted):
    import json

    from hypersynth.core.classify.ensemble import SpectralSpatialEnsemble
    from hypersynth.core.classify.baselines import SpectralRandomForest
    from hypersynth.core.classify.cnn import SpectralSpatialCNN

    fit, cube, valid, labels, truth = fitted
    clf = fit.classifier
    rows, cols = np.nonzero(valid)
    patches = pixel_patches(cube, valid, rows[:60], cols[:60], clf.patch_size)
    config = json.loads(json.dumps({**clf.config_dict(), "device": "cpu"}))  # what a bundle stores
    tensors = clf.to_tensors()
    assert any(k.startswith("model.vae.") for k in tensors) and "svm.skops" in tensors
    loaded = DiffusionFeatureClassifier.from_tensors(tensors, config)
    np.testing.assert_allclose(loaded.predict_proba(patches), clf.predict_proba(patches), atol=1e-5)
    with pytest.raises(ValueError, match="not a diffusion-feature classifier"):
        DiffusionFeatureClassifier.from_tensors(tensors, {**config, "format": "x"})
    # as the third member of the blend, saved and loaded with the ensemble
    y = truth[rows[:60], cols[:60]]
    cnn = SpectralSpatialCNN(patch_size=clf.patch_size, seed=0, device="cpu", epochs=2, width=8,
                             min_samples_per_epoch=16, patience=2)
    ensemble = SpectralSpatialEnsemble(cnn, SpectralRandomForest(n_estimators=20, seed=0, n_jobs=1), 0.5,
                                       dfeat=clf, dfeat_weight=0.25)
    ensemble.cnn.fit(patches, y)
    ensemble.forest.fit(patches, y)
    expected = (0.375 * ensemble.cnn.predict_proba(patches) + 0.375 * ensemble.forest.predict_proba(patches)
                + 0.25 * clf.predict_proba(patches))
    np.testing.assert_allclose(ensemble.predict_proba(patches), expected, atol=1e-5)
    config = json.loads(json.dumps({**ensemble.config_dict(), "device": "cpu"}))
    again = SpectralSpatialEnsemble.from_tensors(ensemble.to_tensors(), config)
    assert set(again.members) == {"cnn", "forest", "dfeat"} and again.dfeat_weight == 0.25
    np.testing.assert_allclose(again.predict_proba(patches), ensemble.predict_proba(patches), atol=1e-5)
    with pytest.raises(ValueError, match="needs a diffusion-feature member"):
        SpectralSpatialEnsemble(cnn, ensemble.forest, 0.5, dfeat_weight=0.25)


def test_the_pixel_cache_extracts_each_pixel_once_and_gives_the_same_features(fitted):
    from hypersynth.core.classify.diffusion_features import PixelFeatureCache
    from hypersynth.core.classify.predict import patch_reader

    fit, cube, valid, labels, truth = fitted
    feats = fit.classifier.features
    extracted = []

    def counting(patches, reporter=None):
        extracted.append(len(patches))
        return feats(patches)

    counting.dimensions = feats.dimensions
    cache = PixelFeatureCache(counting, patch_reader(cube, valid, feats.patch_size), valid.shape)
    rows, cols = np.nonzero(valid)
    first = cache(rows[:30], cols[:30])
    again = cache(rows[[40, 3, 3, 41]], cols[[40, 3, 3, 41]])  # two new pixels, one already there (twice)
    assert extracted == [30, 2]
    np.testing.assert_array_equal(again[1], first[3])
    np.testing.assert_allclose(cache(rows[:45], cols[:45]), feats(pixel_patches(cube, valid, rows[:45], cols[:45],
                                                                                 feats.patch_size)), atol=1e-5)
    assert extracted == [30, 2, 13]
