"""Synthetic patches inside the blend's cross-validation: only those anchored on a fold's own labels, and the
labels' choice whether the final blend learns them at all."""

import json

import numpy as np
import pytest

from hypersynth.core.classify.ensemble import SpectralSpatialEnsemble, choose_blend_and_smoothing
from hypersynth.core.classify.fold_synthesis import FoldSynthetic, anchored_rows, fit_fold_members
from hypersynth.core.cli import build_parser
from hypersynth.core.methods import MethodSettings, fit_method
from hypersynth.core.scene import ClassInfo


class _NearestMean:
    """A member that classifies by the nearest weighted mean centre spectrum, and records what it learnt."""

    patch_size = 1
    learnt: list = []

    def __init__(self) -> None:
        self.n_classes = 0

    def fit(self, samples, labels, *, sample_weight=None, real_count=None, reporter=None):
        x = samples[:, :, samples.shape[-1] // 2, samples.shape[-1] // 2].astype(np.float64)
        w = np.ones(len(x)) if sample_weight is None else np.asarray(sample_weight, np.float64)
        self.n_classes = int(labels.max()) + 1
        self.means = np.stack([np.average(x[labels == k], axis=0, weights=w[labels == k])
                               for k in range(self.n_classes)])
        _NearestMean.learnt.append((len(x), sample_weight))
        return self

    def predict_proba(self, samples):
        x = samples[:, :, samples.shape[-1] // 2, samples.shape[-1] // 2]
        d = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)  # (n, K)
        p = np.exp(-(d - d.min(1, keepdims=True)) / 0.01)
        return (p / p.sum(1, keepdims=True)).astype(np.float32)


def _labelled_scene(per_class=6, seed=0):
    """Three classes with distinct 4-band spectra, labels 2 px apart (no two touch), patches of side 1."""
    rng = np.random.default_rng(seed)
    centres = np.array([[1.0, 0.2, 0.2, 0.2], [0.2, 1.0, 0.2, 0.2], [0.2, 0.2, 1.0, 0.2]])
    y = np.repeat(np.arange(3), per_class)
    rows, cols = 2 * (np.arange(len(y)) // 6), 2 * (np.arange(len(y)) % 6)
    cube = np.zeros((4, rows.max() + 2, cols.max() + 2), np.float32)
    cube[:, rows, cols] = (centres[y] + rng.normal(0, 0.05, (len(y), 4))).T
    patches = cube[:, rows, cols].T[:, :, None, None]  # (N, 4, 1, 1)
    return cube, np.ones(cube.shape[1:], bool), rows, cols, y, patches, centres


def _synthetic_from(patches, y, lie: bool, seed=0):
    """Two synthetic patches per real label, anchored on it; ``lie``: each carries the next class's label."""
    rng = np.random.default_rng(seed)
    anchors = np.repeat(np.arange(len(y)), 2)
    spectra = patches[anchors] + rng.normal(0, 0.02, patches[anchors].shape).astype(np.float32)
    labels = (y[anchors] + 1) % 3 if lie else y[anchors]
    return FoldSynthetic(spectra, labels, anchors, share=2.0, filter_by_means=False)


def test_anchor_indices_become_rows_of_the_real_labels():
    y = np.array([0, 1, 0, 1, 1])  # class 0 at rows 0, 2; class 1 at rows 1, 3, 4
    labels = np.array([0, 0, 1, 1, 1])
    index = np.array([1, 0, 2, -1, 0])
    assert anchored_rows(labels, index, y).tolist() == [2, 0, 4, -1, 1]
    assert anchored_rows(labels, None, y).tolist() == [-1] * 5  # all from noise
    with pytest.raises(ValueError, match="synthesise from these labels"):
        anchored_rows(labels, np.array([2, 0, 0, 0, 0]), y)


def test_a_fold_learns_only_the_patches_anchored_on_its_own_labels():
    cube, valid, rows, cols, y, patches, centres = _labelled_scene()
    syn = _synthetic_from(patches, y, lie=False)
    syn = FoldSynthetic(np.concatenate([syn.patches, patches[:1]]), np.append(syn.labels, 0),
                        np.append(syn.anchors, -1), share=0.5, filter_by_means=False)
    train = np.array([0, 1, 6, 7, 12, 13])
    picked = syn.for_fold(train, patches, y)
    assert set(syn.anchors[picked]) == set(train) | {-1}  # every own anchor (twice) and the one from noise
    assert len(picked) == 2 * len(train) + 1
    w = syn.weights(len(train), len(picked))
    assert w[:6].tolist() == [1.0] * 6 and w[6:].sum() == pytest.approx(0.5 * 6)  # share of the fold's real weight
    # the filter against the fold's own class means drops a patch that looks like another class
    odd = FoldSynthetic(np.stack([patches[0], patches[6]]), np.array([0, 0]), np.array([0, 1]), 0.5)
    assert odd.for_fold(train, patches, y).tolist() == [0]
    # the members of a fold see its real labels first, then those patches at their weights
    _NearestMean.learnt = []
    members = fit_fold_members(train, patches, y, None, syn, _NearestMean, _NearestMean, None)
    assert set(members) == {"cnn", "forest"}
    assert [n for n, _ in _NearestMean.learnt] == [len(train) + len(picked)] * 2


def test_choose_leaves_out_synthetic_patches_that_cost_held_out_labels():
    cube, valid, rows, cols, y, patches, _ = _labelled_scene()
    for lie, kept in ((True, False), (False, True)):
        choice, _ = choose_blend_and_smoothing(cube, valid, rows, cols, y, patches, _NearestMean, _NearestMean,
                                               smoothing=0.0, synthetic=_synthetic_from(patches, y, lie),
                                               cv_synthesis="choose")
        assert choice.learn_synthetic is kept and choice.cv_synthesis == "choose"
        assert set(choice.arm_scores) == {"real", "synthetic"}
        assert choice.arm_scores["real"] == 1.0  # the labels alone are separable
        assert (choice.arm_scores["synthetic"] < 0.5) is lie  # lying patches weigh twice the real labels
        assert ("left out" if lie else "kept") in choice.note()
    anchored, _ = choose_blend_and_smoothing(cube, valid, rows, cols, y, patches, _NearestMean, _NearestMean,
                                             smoothing=0.0, synthetic=_synthetic_from(patches, y, True),
                                             cv_synthesis="anchored")
    assert anchored.learn_synthetic and not anchored.arm_scores and max(anchored.scores.values()) < 0.5
    assert "anchored on that fold's labels" in anchored.note()
    with pytest.raises(ValueError, match="needs the run's synthetic patches"):
        choose_blend_and_smoothing(cube, valid, rows, cols, y, patches, _NearestMean, _NearestMean,
                                   cv_synthesis="choose")
    with pytest.raises(ValueError, match="cv_synthesis"):
        MethodSettings(cv_synthesis="always")


def test_augment_with_choose_trains_and_saves_what_the_labels_decided():
    rng = np.random.default_rng(0)
    wl = np.linspace(0, 1, 10)
    truth = np.zeros((16, 16), int)
    truth[:, 8:] = 1
    cube = (np.stack([0.3 + 0.2 * wl, 0.1 + 0.5 * (wl > 0.5)])[truth].transpose(2, 0, 1)
            + rng.normal(0, 0.01, (10, 16, 16))).astype(np.float32)
    labels = np.zeros((16, 16), int)
    for k, (r, c) in enumerate(((2, 2), (8, 3), (13, 5))):  # three separate labels per class
        labels[r, c], labels[r, c + 8] = 1, 2
    classes = [ClassInfo(1, "soil"), ClassInfo(2, "grass")]
    fitted = fit_method("augment", cube, np.ones((16, 16), bool), labels, classes,
                        MethodSettings(preset="tiny", device="cpu", cv_synthesis="choose"))
    ensemble = fitted.classifier
    assert isinstance(ensemble, SpectralSpatialEnsemble) and ensemble.choice.cv_synthesis == "choose"
    text = " ".join(fitted.notes)
    assert "anchored on that fold's labels" in text and "synthetic patches " in text
    assert ("kept" if ensemble.choice.learn_synthetic else "left out") in text
    # the synthesis note says what the final training did with the patches
    weighed = "together they weigh 0.5 of your labels in training" in text
    assert weighed is ensemble.choice.learn_synthetic
    assert ("left them out of the final training" in text) is not ensemble.choice.learn_synthetic
    config = json.loads(json.dumps(ensemble.config_dict()))
    again = SpectralSpatialEnsemble.from_tensors(ensemble.to_tensors(), {**config, "device": "cpu"})
    assert (again.choice.cv_synthesis, again.choice.learn_synthetic, again.choice.arm_scores) == (
        "choose", ensemble.choice.learn_synthetic, ensemble.choice.arm_scores)


def test_the_command_line_passes_cv_synthesis_on():
    from hypersynth.core.cli.commands import _settings

    args = build_parser().parse_args(["augment-classify", "--scene", "s.tif", "--labels", "l.gpkg", "--prompts",
                                      "p.json", "--out", "o", "--cv-synthesis", "choose"])
    assert _settings(args).cv_synthesis == "choose"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["augment-classify", "--scene", "s.tif", "--labels", "l.gpkg", "--prompts",
                                   "p.json", "--out", "o", "--cv-synthesis", "sometimes"])


def test_a_synthesis_note_says_when_the_labels_left_the_patches_out():
    from hypersynth.core.methods import _left_out

    note = "synthesis from the real labels: 12 synthetic patches kept of 12 (soil: 6 of 6, grass: 6 of 6); together they " \
           "weigh 0.5 of your labels in training"
    assert _left_out([note, "other"], MethodSettings()) == [
        "synthesis from the real labels: 12 synthetic patches kept of 12 (soil: 6 of 6, grass: 6 of 6); the labels' CV left "
        "them out of the final training (see the blend note)", "other"]
