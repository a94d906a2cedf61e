"""Spatial smoothing of class probabilities: the masked filter, tiling, and the width chosen by CV of the blend."""

import argparse

import numpy as np
import pytest

from hypersynth.core.classify.baselines import SpectralRandomForest
from hypersynth.core.classify.predict import predict_pixels, predict_scene
from hypersynth.core.classify.ensemble import MAX_SMOOTHING_PIXELS, choose_blend_and_smoothing
from hypersynth.core.classify.spatial import (SIGMAS, kernel_radius, label_regions, region_folds, resolve_smoothing,
                                              smooth_probabilities, smoothed_at)
from hypersynth.core.cli.option_values import _smoothing_width


def _random_proba(seed=0, k=3, h=17, w=21):
    rng = np.random.default_rng(seed)
    p = rng.random((k, h, w)).astype(np.float32)
    return p / p.sum(0, keepdims=True), rng.random((h, w)) > 0.25


def test_smoothing_ignores_invalid_pixels_and_keeps_probabilities():
    proba, valid = _random_proba()
    np.testing.assert_array_equal(smooth_probabilities(proba, valid, 0.0), proba)
    garbage = np.where(valid, proba, 1e6).astype(np.float32)  # whatever sits at no-data must not leak
    smoothed = smooth_probabilities(garbage, valid, 1.5)
    np.testing.assert_allclose(smoothed, smooth_probabilities(proba, valid, 1.5), rtol=1e-6)
    np.testing.assert_allclose(smoothed.sum(0)[valid], 1.0, atol=1e-5)
    assert np.all(smoothed[:, ~valid] == 0) and not np.allclose(smoothed[:, valid], proba[:, valid])
    constant = np.broadcast_to(np.array([0.2, 0.3, 0.5], np.float32)[:, None, None], proba.shape)
    np.testing.assert_allclose(smooth_probabilities(constant, valid, 2.0)[:, valid],
                               constant[:, valid], atol=1e-6)  # a uniform field is left as it is, borders too
    with pytest.raises(ValueError, match="0 \\(off\\) or positive"):
        smooth_probabilities(proba, valid, -1.0)
    with pytest.raises(ValueError, match="do not match"):
        smooth_probabilities(proba, valid[:-1], 1.0)


def test_smoothing_a_few_pixels_equals_smoothing_the_whole_map():
    proba, valid = _random_proba(seed=1)
    rows, cols = np.nonzero(valid)
    pick = np.random.default_rng(2).choice(len(rows), 30, replace=False)
    rows, cols = rows[pick], cols[pick]
    asked = []

    def proba_of(r, c):
        asked.append(len(r))
        return proba[:, r, c].T

    at = smoothed_at(proba_of, valid, rows, cols, SIGMAS)
    in_blocks = smoothed_at(proba_of, valid, rows, cols, SIGMAS, block=7)  # memory-bounded blocks, same values
    for sigma in SIGMAS:
        np.testing.assert_allclose(at[sigma], smooth_probabilities(proba, valid, sigma)[:, rows, cols].T, atol=1e-6)
        np.testing.assert_array_equal(in_blocks[sigma], at[sigma])
    assert asked[0] > len(rows)  # the first call predicted every neighbour of all 30 pixels at once
    assert kernel_radius(0.0) == 0 and kernel_radius(1.0) == 3 and kernel_radius(0.5) == 2


class _BandSoftmax:
    """A deterministic classifier: softmax of its patch's centre over the first K bands."""

    def __init__(self, k=3, patch_size=1, smoothing=0.0):
        self.n_classes, self.patch_size, self.smoothing = k, patch_size, smoothing

    def predict_proba(self, samples):
        r = samples.shape[-1] // 2
        z = 3.0 * samples[:, :self.n_classes, r, r]
        e = np.exp(z - z.max(1, keepdims=True))
        return (e / e.sum(1, keepdims=True)).astype(np.float32)


def _speckled_scene(seed=0, h=40, w=36, k=3, flip=0.15):
    """Three vertical class stripes, a fraction of pixels flipped to a wrong class; a no-data hole."""
    rng = np.random.default_rng(seed)
    truth = np.minimum(np.arange(w) * k // w, k - 1)[None].repeat(h, 0)  # (H, W)
    shown = np.where(rng.random((h, w)) < flip, (truth + rng.integers(1, k, (h, w))) % k, truth)
    cube = (np.eye(k)[shown].transpose(2, 0, 1) + 0.1 * rng.normal(size=(k, h, w))).astype(np.float32)
    cube = np.concatenate([cube, rng.normal(size=(2, h, w)).astype(np.float32)])  # (K + 2, H, W)
    valid = np.ones((h, w), bool)
    valid[5:9, 10:14] = False
    return cube, valid, truth


@pytest.mark.parametrize("patch_size", [1, 3])
def test_tiled_prediction_smooths_exactly_like_the_whole_scene(patch_size):
    cube, valid, truth = _speckled_scene()
    clf = _BandSoftmax(patch_size=patch_size, smoothing=1.0)
    rows, cols = np.nonzero(valid)
    whole = np.zeros((3,) + valid.shape, np.float32)
    whole[:, rows, cols] = predict_pixels(clf, cube, rows, cols, valid=valid).T
    expected = smooth_probabilities(whole, valid, 1.0)
    for tile in (7, 64):
        pred = predict_scene(clf, cube, valid, tile_size=tile, batch_size=50)
        np.testing.assert_array_equal(pred.class_index[valid], expected[:, rows, cols].argmax(0))
        np.testing.assert_allclose(pred.confidence[valid], expected[:, rows, cols].max(0), atol=1e-6)
        assert np.all(pred.class_index[~valid] == -1)
        asked = predict_scene(_BandSoftmax(patch_size=patch_size), cube, valid, tile_size=tile, smoothing=1.0)
        np.testing.assert_array_equal(asked.class_index, pred.class_index)  # the argument, not the attribute
    raw = predict_scene(_BandSoftmax(patch_size=patch_size), cube, valid, tile_size=16)
    np.testing.assert_array_equal(predict_scene(clf, cube, valid, tile_size=16, smoothing=0.0).class_index,
                                  raw.class_index)  # 0 switches the classifier's own smoothing off
    with pytest.raises(ValueError, match="0 \\(off\\) or positive"):
        predict_scene(clf, cube, valid, smoothing=-1.0)
    smoothed = predict_scene(clf, cube, valid, tile_size=16)
    errors = lambda p: int((p.class_index[valid] != truth[valid]).sum())  # noqa: E731
    assert errors(smoothed) < errors(raw) / 3  # the speckle is what smoothing removes


def _forest(trees=30):
    return lambda: SpectralRandomForest(n_estimators=trees, seed=0, n_jobs=1)


def _choose(cube, valid, rows, cols, y, make_cnn=None, make_forest=None, **kwargs):
    """The blend's CV with forests for both members (the share does not matter here, the smoothing does)."""
    spectra = cube[:, rows, cols].T[:, :, None, None]  # (N, B, 1, 1)
    return choose_blend_and_smoothing(cube, valid, rows, cols, y, spectra, make_cnn or _forest(),
                                      make_forest or _forest(), seed=0, **kwargs)


def test_labels_choose_smoothing_on_blocky_classes_and_none_on_pixel_scale_ones():
    cube, valid, truth = _speckled_scene(seed=3, flip=0.35)
    rng = np.random.default_rng(0)
    rows, cols = np.nonzero(valid)
    pick = np.concatenate([rng.choice(np.nonzero(truth[rows, cols] == c)[0], 5, replace=False) for c in range(3)])
    rows, cols = rows[pick], cols[pick]
    blend, blocky = _choose(cube, valid, rows, cols, truth[rows, cols])
    assert blocky.sigma > 0 and blocky.folds == blend.folds == 5 and set(blocky.scores) == set(SIGMAS)
    assert "cross-validation of the classifier blend" in blocky.note() and f"σ = {blocky.sigma:g}" in blocky.note()
    # Pixel-scale classes: each pixel's class is what its own spectrum shows, neighbours say nothing.
    shown = np.where(valid, np.argmax(cube[:3], axis=0), -1)
    rows, cols = np.nonzero(valid)
    pick = np.concatenate([rng.choice(np.nonzero(shown[rows, cols] == c)[0], 5, replace=False) for c in range(3)])
    rows, cols = rows[pick], cols[pick]
    blend, fine = _choose(cube, valid, rows, cols, shown[rows, cols])
    assert fine.sigma == 0.0 and fine.folds == blend.folds >= 2  # two picks may touch: one region


def test_brushed_regions_are_held_out_whole():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    rows = np.array([0, 0, 0, 10, 20, 20, 30, 30])
    cols = np.array([0, 1, 2, 10, 0, 1, 5, 6])
    groups = label_regions(rows, cols, y, (40, 40))
    assert len(np.unique(groups[:3])) == 1 and len(np.unique(groups)) == 4  # two strokes per class
    for train, held in region_folds(y, groups, 2, seed=0):
        assert set(y[train]) == set(y[held]) == {0, 1}
        assert not set(groups[train]) & set(groups[held])
    cube = np.random.default_rng(0).normal(size=(4, 40, 40)).astype(np.float32)
    first = np.array([0, 1, 2, 4, 5])  # one stroke per class
    never = lambda: pytest.fail("nothing can be cross-validated with one stroke per class")  # noqa: E731
    blend, one_stroke = _choose(cube, np.ones((40, 40), bool), rows[first], cols[first], y[first], never, never)
    assert one_stroke.folds == blend.folds == 0 and one_stroke.sigma == 0 and blend.cnn_weight == 0.5
    assert "single labelled region" in one_stroke.note() and "single labelled region" in blend.note()
    assert "two separate places" in one_stroke.note()


class _Counting:
    """A forest that records how many pixels it was asked to predict."""

    patch_size = 1

    def __init__(self, asked):
        self.forest, self.asked = SpectralRandomForest(n_estimators=10, seed=0, n_jobs=1), asked

    def fit(self, samples, labels, **kwargs):
        self.forest.fit(samples, labels, **kwargs)
        self.n_classes = self.forest.n_classes
        return self

    def predict_proba(self, samples):
        self.asked.append(len(samples))
        return self.forest.predict_proba(samples)


def test_thousands_of_brushed_labels_score_the_smoothing_on_a_bounded_sample():
    cube, valid, truth = _speckled_scene(seed=4, h=60, w=60, flip=0.3)
    strokes = np.zeros_like(truth)
    for c, c0 in enumerate((2, 22, 42)):  # two 25 x 14 strokes per class, one in each half of its stripe
        strokes[3:28, c0:c0 + 14] = c + 1
        strokes[32:57, c0:c0 + 14] = c + 1
    rows, cols = np.nonzero((strokes > 0) & valid)
    y = strokes[rows, cols] - 1
    asked = []
    blend, choice = _choose(cube, valid, rows, cols, y, lambda: _Counting(asked), lambda: _Counting(asked))
    assert len(rows) > 2000 and choice.folds == blend.folds == 2 and blend.repeats == 1  # 2 strokes per class
    assert choice.sigma in SIGMAS and choice.sigma > 0  # 30 % speckle inside wide stripes: smoothing pays
    held_out = 2 * len(rows)  # each member predicts every held-out label once, over the 2 folds
    neighbourhoods = sum(asked) - held_out
    reach = 2 * kernel_radius(max(SIGMAS)) + 1
    assert 0 < neighbourhoods <= 2 * 3 * MAX_SMOOTHING_PIXELS * reach ** 2  # not thousands of neighbourhoods


def test_a_width_set_by_the_analyst_is_kept_and_only_the_share_is_cross_validated():
    cube, valid, truth = _speckled_scene(seed=3, flip=0.35)
    rows, cols = np.nonzero(valid)
    pick = np.random.default_rng(0).choice(len(rows), 30, replace=False)
    rows, cols = rows[pick], cols[pick]
    asked = []
    blend, fixed = _choose(cube, valid, rows, cols, truth[rows, cols], lambda: _Counting(asked),
                           lambda: _Counting(asked), smoothing=1.5)
    assert fixed.sigma == 1.5 and fixed.folds == 0 and "set by the analyst" in fixed.note()
    assert blend.folds > 0 and blend.repeats == 3  # few labels: the folds are drawn three times
    assert sum(asked) == 2 * 3 * len(rows)  # each member, each repeat: the held-out labels only, no neighbourhoods


def test_the_analyst_can_fix_or_switch_off_the_width():
    never = lambda: pytest.fail("cross-validation should not run")  # noqa: E731
    assert resolve_smoothing(1.5, never).sigma == 1.5 and "set by the analyst" in resolve_smoothing(1.5, never).note()
    assert resolve_smoothing(0.0, never).sigma == 0.0
    with pytest.raises(ValueError, match="automatic"):
        resolve_smoothing(-2.0, never)
    assert _smoothing_width("auto") is None and _smoothing_width("off") == 0.0 and _smoothing_width("2") == 2.0
    with pytest.raises(argparse.ArgumentTypeError, match="auto, off"):
        _smoothing_width("strong")
