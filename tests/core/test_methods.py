"""Method-level behaviour: the synthetic-sample filter and input checks of fit_method."""

from dataclasses import replace

import numpy as np
import pytest

from hypersynth.core.ldm.synthesize import SyntheticSet
from hypersynth.core.methods import (MethodSettings, _synthetic_part, _weighted_parts, filter_by_real_means,
                                     fit_method)
from hypersynth.core.scene import ClassInfo


def test_filter_drops_synthetic_patches_nearer_another_class():
    a, b = np.array([1.0, 0.1, 0.1]), np.array([0.1, 1.0, 0.1])
    real = np.stack([a, a, b, b])[:, :, None, None] * np.ones((1, 1, 3, 3))  # (4, 3, 3, 3)
    y = np.array([0, 0, 1, 1])
    syn_spec = np.stack([a * 0.9, b * 1.1, b, a])  # the last two contradict their labels below
    labels = np.array([5, 7, 5, 7])
    syn = SyntheticSet(patches=(syn_spec[:, :, None, None] * np.ones((1, 1, 3, 3))).astype(np.float32),
                       labels=labels, masks=np.repeat(labels, 9).reshape(4, 3, 3), prompts=["a", "b", "a", "b"],
                       anchor_index=np.array([0, 1, 2, 3]))
    kept, dropped = filter_by_real_means(syn, real, y, np.array([5, 7]))
    assert dropped == 2
    assert kept.labels.tolist() == [5, 7] and kept.prompts == ["a", "b"] and len(kept.patches) == 2
    assert kept.anchor_index.tolist() == [0, 1]  # each kept patch keeps its anchor


def test_a_class_whose_synthetic_patches_are_all_dropped_is_warned_of(monkeypatch, caplog):
    """The run then learns that class from its labels alone: the report's counts said 0 of n, now a warning too."""
    from types import SimpleNamespace

    import hypersynth.core.ldm.synthesize as synthesis
    from hypersynth.core.methods import _synthesize_for

    a, b = np.array([1.0, 0.1, 0.1]), np.array([0.1, 1.0, 0.1])
    real = (np.stack([a, a, b, b])[:, :, None, None] * np.ones((1, 1, 3, 3))).astype(np.float32)
    y = np.array([0, 0, 1, 1])

    def sample(model, prompts, counts, **kwargs):  # every patch of class 7 looks like class 5
        labels = np.repeat(list(counts), list(counts.values()))
        spectra = np.stack([a for _ in labels])
        return SyntheticSet(patches=(spectra[:, :, None, None] * np.ones((1, 1, 3, 3))).astype(np.float32),
                            labels=labels, masks=np.repeat(labels, 9).reshape(-1, 3, 3), prompts=["x"] * len(labels))

    monkeypatch.setattr(synthesis, "synthesize", sample)
    model = SimpleNamespace(config=SimpleNamespace(diffusion=SimpleNamespace(guidance=2.0, sample_steps=5)))
    used = [ClassInfo(5, "soil"), ClassInfo(7, "grass")]
    with caplog.at_level("WARNING", logger="hypersynth"):
        kept, notes, _ = _synthesize_for(model, used, np.array([5, 7]), real, y, real, y,
                                         MethodSettings(synthetic_per_class=4), None)
    assert set(kept.labels.tolist()) == {5}
    assert "synthesis from the real labels: every synthetic patch of grass was dropped (its centre spectrum lay " \
           "nearer another class's labelled mean than its own), so the classifier learns it from the labels alone" \
        in caplog.text
    assert "soil" not in caplog.text



def test_synthetic_weight_is_the_synthetic_patches_share_of_the_training_loss():
    real, y = np.zeros((6, 4, 3, 3), np.float32), np.array([0, 0, 0, 1, 1, 1])  # (N, bands, p, p)
    synthetic = SyntheticSet(patches=np.ones((30, 4, 3, 3), np.float32), labels=np.repeat([1, 2], 15),
                             masks=np.ones((30, 3, 3), np.int32), prompts=["soil"] * 15 + ["grass"] * 15)
    for weight in (0.5, 2.0):
        part = _synthetic_part(synthetic, np.array([1, 2]), MethodSettings(synthetic_weight=weight))
        _, labels, weights = _weighted_parts([(real, y, 1.0), part])
        assert weights[:6].sum() == 6  # each real label weighs 1
        assert weights[6:].sum() == pytest.approx(weight * 6)  # all synthetic patches together: weight × the labels
        assert labels[6:].tolist() == [0] * 15 + [1] * 15  # label ids become the classifier's class indices
    for bad in (0, -1, float("nan"), 11, "much"):
        with pytest.raises(ValueError, match=r"synthetic_weight must be a number in \(0, 10\].*cnn-pseudo"):
            MethodSettings(synthetic_weight=bad)


def test_the_blend_forest_splits_on_the_settings_inputs():
    from hypersynth.core.methods import _forest_for

    assert MethodSettings().forest_inputs == "spectrum+shape+slope"
    assert _forest_for(MethodSettings()).inputs == "spectrum+shape+slope"
    assert _forest_for(MethodSettings(forest_inputs="spectrum")).inputs == "spectrum"
    with pytest.raises(ValueError, match="forest_inputs must be one of spectrum, spectrum\\+shape\\+slope; got 'raw'"):
        MethodSettings(forest_inputs="raw")


def test_fit_method_needs_two_labelled_classes():
    cube = np.random.default_rng(0).random((5, 8, 8)).astype(np.float32)
    labels = np.zeros((8, 8), int)
    labels[2, 2] = 1
    with pytest.raises(ValueError, match="at least two classes"):
        fit_method("rf", cube, np.ones((8, 8), bool), labels, [ClassInfo(1, "a")], MethodSettings())
    with pytest.raises(ValueError, match="unknown method"):
        fit_method("magic", cube, np.ones((8, 8), bool), labels, [ClassInfo(1, "a")], MethodSettings())


def _two_field_scene(seed=0):
    """Left half soil, right half grass, with noise; 3 labels per class."""
    rng = np.random.default_rng(seed)
    wl = np.linspace(0, 1, 10)
    soil, grass = 0.3 + 0.2 * wl, 0.1 + 0.5 * (wl > 0.5)
    truth = np.zeros((16, 16), int)
    truth[:, 8:] = 1
    cube = np.stack([soil, grass])[truth].transpose(2, 0, 1) + rng.normal(0, 0.01, (10, 16, 16))
    labels = np.zeros((16, 16), int)
    for k in range(2):
        rows, cols = np.nonzero(truth == k)
        pick = rng.choice(len(rows), 3, replace=False)
        labels[rows[pick], cols[pick]] = k + 1
    return cube.astype(np.float32), np.ones((16, 16), bool), labels, truth


class _Flattened:
    """A classifier's probabilities pulled towards uniform, so that none reaches 0.9 (its ranking unchanged)."""

    def __init__(self, clf) -> None:
        self.clf, self.patch_size, self.n_classes = clf, clf.patch_size, clf.n_classes

    def predict_proba(self, x):
        return 0.5 * self.clf.predict_proba(x) + 0.5 / self.n_classes


def test_pseudo_labels_are_confident_agreeing_and_never_on_labelled_pixels():
    from hypersynth.core.classify.baselines import make_baseline
    from hypersynth.core.pseudo_labels import select_pseudo_labels

    cube, valid, labels, truth = _two_field_scene()
    rows, cols = np.nonzero(labels)
    y = labels[rows, cols] - 1
    clf = make_baseline("rf", seed=0).fit(cube[:, rows, cols].T[:, :, None, None], y)
    means = np.stack([cube[:, rows[y == k], cols[y == k]].mean(1) for k in range(2)])
    pseudo = select_pseudo_labels(clf, cube, valid, labels > 0, means, per_class=7, seed=1, rule="threshold")
    assert pseudo.counts(2).tolist() == [7, 7]
    assert (pseudo.index == truth[pseudo.rows, pseudo.cols]).all()  # every pseudo-label is right here
    assert not (labels[pseudo.rows, pseudo.cols] > 0).any() and (pseudo.confidence >= 0.9).all()
    assert pseudo.candidates == 16 * 16 - 6
    none = select_pseudo_labels(clf, cube, valid, labels > 0, means[::-1], per_class=7)  # means disagree
    assert len(none) == 0
    from hypersynth.core.methods import _pseudo_note

    assert _pseudo_note(none, np.array([1, 2]), {}).startswith("no pseudo-labels: none of the 250 ")  # said plainly
    # A classifier whose probabilities never reach 0.9 (a forest's vote shares, a blend): the threshold finds
    # nothing, the rank takes each class's more confident half, as right here as the confident ones.
    timid = _Flattened(clf)
    assert len(select_pseudo_labels(timid, cube, valid, labels > 0, means, per_class=7, rule="threshold")) == 0
    ranked = select_pseudo_labels(timid, cube, valid, labels > 0, means, per_class=7, seed=1)  # rank: the default
    assert ranked.counts(2).tolist() == [7, 7] and (ranked.index == truth[ranked.rows, ranked.cols]).all()
    with pytest.raises(ValueError, match="rule"):
        select_pseudo_labels(clf, cube, valid, labels > 0, means, per_class=3, rule="top")
    assert _pseudo_note(pseudo, np.array([1, 2]), {1: "soil"}).endswith("(soil: 7, 2: 7)")
    with pytest.raises(ValueError, match="threshold"):
        select_pseudo_labels(clf, cube, valid, labels > 0, means, per_class=3, threshold=0.0)


def test_pseudo_labels_are_drawn_only_when_asked_for():
    from hypersynth.core.methods import pseudo_label_count

    # none by default since session 13 (picked by the blend from a few labels they cost accuracy: BENCHMARKS §4)
    for preset in ("tiny", "fast", "full"):
        assert pseudo_label_count(MethodSettings(preset=preset), "augment") == 0
    assert pseudo_label_count(MethodSettings(pseudo_labels=40), "augment") == 40
    assert pseudo_label_count(MethodSettings(pseudo_labels=40), "cnn-pseudo") == 40
    assert pseudo_label_count(MethodSettings(pseudo_labels=40), "cnn") == 0  # the CNN alone: real labels only


def test_cnn_with_pseudo_labels_trains_twice_and_says_so():
    cube, valid, labels, truth = _two_field_scene()
    classes = [ClassInfo(1, "soil"), ClassInfo(2, "grass")]
    fitted = fit_method("cnn-pseudo", cube, valid, labels, classes,
                        MethodSettings(preset="tiny", pseudo_labels=5, patch_size=3))
    assert fitted.classifier.patch_size == 3
    assert any("pseudo-labelled pixels" in n for n in fitted.notes)
    plain = fit_method("cnn", cube, valid, labels, classes, MethodSettings(preset="tiny", patch_size=3,
                                                                            pseudo_labels=5))
    assert len(plain.notes) == 1 and plain.notes[0].startswith("CNN: trained")  # how it trained; no pseudo-labels


def test_the_blend_the_labels_chose_picks_the_pseudo_labels_unless_told_the_cnn():
    cube, valid, labels, truth = _two_field_scene()
    classes = [ClassInfo(1, "soil"), ClassInfo(2, "grass")]
    settings = MethodSettings(preset="tiny", pseudo_labels=5, patch_size=3, diffusion_features=False)
    assert settings.pseudo_labeller == "blend"  # the default since session 11 (BENCHMARKS §4)
    fitted = fit_method("cnn-pseudo", cube, valid, labels, classes, settings)
    picked = [n for n in fitted.notes if "pseudo-labelled pixels" in n]
    assert picked and "(picked by the blend the labels chose)" in picked[0]
    assert sum("classifier blend:" in n for n in fitted.notes) == 1  # one CV, reused by the final blend
    assert set(fitted.classifier.members) == {"cnn", "forest"}
    by_cnn = fit_method("cnn-pseudo", cube, valid, labels, classes, replace(settings, pseudo_labeller="cnn"))
    picked = [n for n in by_cnn.notes if "pseudo-labelled pixels" in n]
    assert picked and "(picked by the blend the labels chose)" not in picked[0]
    assert sum("classifier blend:" in n for n in by_cnn.notes) == 1  # the final blend's own CV
    with pytest.raises(ValueError, match="pseudo-labeller"):
        fit_method("cnn-pseudo", cube, valid, labels, classes, MethodSettings(preset="tiny", pseudo_labeller="svm"))
    with pytest.raises(ValueError, match="pseudo-label rule"):
        fit_method("cnn-pseudo", cube, valid, labels, classes, MethodSettings(preset="tiny", pseudo_rule="top"))


def test_augment_uses_anchors_pseudo_labels_and_the_scene_patch_size():
    cube, valid, labels, truth = _two_field_scene()
    classes = [ClassInfo(1, "soil"), ClassInfo(2, "grass")]
    # The rank rule (the default since session 13) draws pseudo-labels whatever the tiny blend's probabilities
    # (with the 0.9 threshold a blend of 8-epoch members may stay under it everywhere: BENCHMARKS §4, session 12).
    settings = MethodSettings(preset="tiny", device="cpu", pseudo_labels=4)  # asked for: none by default
    assert settings.pseudo_rule == "rank"
    fitted = fit_method("augment", cube, valid, labels, classes, settings)
    # two large fields: the scene-chosen patch is the largest odd side within the preset's 8
    assert fitted.classifier.patch_size == fitted.synthesis_model.patch_size == 7
    text = " ".join(fitted.notes)
    assert text.count("synthetic patches kept") == 2
    kept = [n for n in fitted.notes if "synthetic patches kept" in n]  # which synthesis is which, classes by name
    assert kept[0].startswith("first synthesis, from the real labels") and "soil: " in kept[0]
    assert kept[1].startswith("second synthesis, from the real and pseudo-labelled patches")
    pseudo = next(n for n in fitted.notes if "pseudo-labelled pixels" in n)
    assert int(pseudo.split()[0]) > 0 and "soil: " in pseudo and pseudo.endswith("agreeing pixels)")
    assert fitted.pseudo_per_class.sum() == int(pseudo.split()[0])  # the counts the benchmark records
    assert "CNN: trained" in text or "CNN: early stopping" in text  # how long the final CNN trained, and why
    assert "spectral forest: 50 trees on each pixel's spectrum, its shape and its slope" in text  # and the forest
    assert len(fitted.synthetic) > 0 and set(np.unique(fitted.synthetic.labels)) <= {1, 2}


def test_the_first_import_of_the_diffusion_libraries_is_a_named_stage(monkeypatch):
    """diffusers' first import brings in PyTorch's compiler (seconds): the run names that wait instead of sitting at
    'training patches'; once loaded, it is not named again."""
    import sys
    from types import SimpleNamespace

    from hypersynth.core.methods import _trained_or_reused
    from hypersynth.core.progress import CallbackReporter

    stages: list[str] = []
    reused = SimpleNamespace(classes=[ClassInfo(1, "water"), ClassInfo(2, "soil")])
    settings = MethodSettings(preset="tiny", synthesis_model=reused)
    args = (None, None, None, [], np.array([1, 2]), 5, settings, CallbackReporter(lambda _, s: stages.append(s)), None)
    monkeypatch.delitem(sys.modules, "diffusers", raising=False)  # as in a fresh QGIS session
    assert _trained_or_reused(*args)[0] is reused
    assert stages == ["loading the diffusion libraries"]
    monkeypatch.setitem(sys.modules, "diffusers", SimpleNamespace())
    stages.clear()
    _trained_or_reused(*args)
    assert stages == []
