"""The spectral-spatial CNN: learns texture, determinism, sample weights, cancel, save/load, tiny label sets."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from sklearn.neighbors import NearestCentroid

from hypersynth.core.classify.base import Classifier, centre_spectra
from hypersynth.core.classify.cnn import ARCHS, CNNConfig, SpectralSpatialCNN, _augment, cnn_preset
from hypersynth.core.progress import CancelAfter, Cancelled

torch.set_num_threads(1)

P = 7  # patch side of the toy problem
BANDS = 6
# Two material spectra; every class has either of them at its centre pixel, so the centre is ambiguous.
SPEC_A = np.array([1.0, 0.8, 0.6, 0.4, 0.2, 0.1], np.float32)
SPEC_B = SPEC_A[::-1].copy()


def texture_patches(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """3 classes told apart only by their neighbourhood: uniform A, A/B checkerboard, A/B stripes.

    The centre pixel is A or B at random in every class, so its spectrum says nothing about the class.
    """
    rng = np.random.default_rng(seed)
    i, j = np.mgrid[0:P, 0:P]
    layouts = [np.zeros((P, P), bool), (i + j) % 2 == 1, i % 2 == 1]  # True = material B
    samples, labels = [], []
    for k, layout in enumerate(layouts):
        for _ in range(n_per_class):
            b_mask = layout.T if (k == 2 and rng.random() < 0.5) else layout  # stripes either way
            b_mask = b_mask.copy()
            b_mask[P // 2, P // 2] = rng.random() < 0.5  # ambiguous centre
            patch = np.where(b_mask[None], SPEC_B[:, None, None], SPEC_A[:, None, None])  # (B, p, p)
            samples.append(patch * rng.uniform(0.9, 1.1) + rng.normal(0, 0.03, patch.shape))
            labels.append(k)
    return np.asarray(samples, np.float32), np.asarray(labels, np.int64)


def small_cnn(**options: object) -> SpectralSpatialCNN:
    """The tiny preset, long enough to learn the toy problem, fixed epochs unless a test asks otherwise."""
    settings = {**cnn_preset("tiny"), "epochs": 15, "val_fraction": 0.0, **options}
    return SpectralSpatialCNN(P, seed=int(settings.pop("seed", 0)), device="cpu", **settings)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def toy() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = texture_patches(12, seed=1)
    xt, yt = texture_patches(40, seed=2)
    return x, y, xt, yt


def test_learns_texture_the_centre_spectrum_cannot_tell(toy) -> None:
    x, y, xt, yt = toy
    centre_rule = NearestCentroid().fit(centre_spectra(x), y)
    centre_acc = float((centre_rule.predict(centre_spectra(xt)) == yt).mean())
    clf = small_cnn().fit(x, y)
    assert isinstance(clf, Classifier)
    proba = clf.predict_proba(xt)
    assert proba.shape == (len(xt), 3) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    cnn_acc = float((proba.argmax(axis=1) == yt).mean())
    assert centre_acc < 0.6  # the centre spectrum alone is close to chance (1/3)
    assert cnn_acc > 0.9 and cnn_acc > centre_acc + 0.3


def test_same_seed_same_model_other_seed_other_model(toy) -> None:
    x, y, xt, _ = toy
    a = small_cnn(epochs=3, seed=5).fit(x, y).predict_proba(xt)
    b = small_cnn(epochs=3, seed=5).fit(x, y).predict_proba(xt)
    c = small_cnn(epochs=3, seed=6).fit(x, y).predict_proba(xt)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_weight_zero_samples_are_ignored(toy) -> None:
    x, y, xt, yt = toy
    wrong_x, true_y = texture_patches(24, seed=3)
    wrong_y = (true_y + 1) % 3  # a bad synthetic batch: every patch carries the next class's label
    both_x, both_y = np.concatenate([x, wrong_x]), np.concatenate([y, wrong_y])
    weights = np.concatenate([np.ones(len(y)), np.zeros(len(wrong_y))])
    clean = small_cnn().fit(x, y).predict_proba(xt)
    ignored = small_cnn().fit(both_x, both_y, sample_weight=weights).predict_proba(xt)
    counted = small_cnn().fit(both_x, both_y).predict_proba(xt)
    np.testing.assert_array_equal(ignored, clean)
    # Counted at full weight, the wrong labels (twice as many as the right ones) ruin the model.
    assert (counted.argmax(1) == yt).mean() < (clean.argmax(1) == yt).mean() - 0.3


def test_cancel_raises_and_leaves_no_model(toy) -> None:
    x, y, _, _ = toy
    reporter = CancelAfter(3)
    clf = small_cnn()
    with pytest.raises(Cancelled):
        clf.fit(x, y, reporter=reporter)
    assert clf.net is None
    assert any(s.startswith("classifier 1/") for s in reporter.stages)
    with pytest.raises(RuntimeError, match="not trained"):
        clf.predict_proba(x)


def test_save_load_round_trip_gives_identical_predictions(toy, tmp_path) -> None:
    x, y, xt, _ = toy
    clf = small_cnn(epochs=3).fit(x, y)
    save_file(clf.to_tensors(), str(tmp_path / "classifier.safetensors"))
    (tmp_path / "classifier.json").write_text(json.dumps(clf.config_dict()))
    loaded = SpectralSpatialCNN.from_tensors(load_file(str(tmp_path / "classifier.safetensors")),
                                             json.loads((tmp_path / "classifier.json").read_text()))
    assert (loaded.n_classes, loaded.n_bands, loaded.patch_size) == (3, BANDS, P)
    np.testing.assert_array_equal(loaded.predict_proba(xt), clf.predict_proba(xt))
    assert loaded.predict_proba(xt[:0]).shape == (0, 3)  # an empty batch (e.g. a tile with no valid pixel)
    broken = clf.config_dict() | {"n_classes": 4}
    with pytest.raises(ValueError, match="do not match"):
        SpectralSpatialCNN.from_tensors(clf.to_tensors(), broken)


def test_one_sample_per_class_trains_for_fixed_epochs(toy) -> None:
    x, y, xt, _ = toy
    first = np.array([np.flatnonzero(y == k)[0] for k in range(3)])
    clf = small_cnn(epochs=4).fit(x[first], y[first])
    proba = clf.predict_proba(xt)
    assert proba.shape == (len(xt), 3) and np.all(np.isfinite(proba))
    assert clf.best_epoch == 4 and all(np.isnan(h["val_loss"]) for h in clf.history)


def test_early_stopping_uses_held_out_real_labels(toy) -> None:
    x, y, _, _ = toy  # 12 per class >= the threshold set here: a stratified validation set is held out
    reporter = CancelAfter(10_000)
    clf = small_cnn(epochs=6, patience=2, val_fraction=0.2, min_labels_for_early_stopping=10)
    clf.fit(x, y, reporter=reporter)
    assert all(np.isfinite(h["val_loss"]) for h in clf.history)
    assert 1 <= clf.best_epoch <= 6
    note = clf.training_note()
    assert note.startswith(f"CNN: early stopping on 20% of each class's real labels chose {clf.best_epoch} of 6")
    assert reporter.stages[0] == "classifier 1/6"


def test_early_stopping_holds_out_the_real_labels_when_other_patches_weigh_more(toy, monkeypatch) -> None:
    """A few synthetic or pseudo-labelled patches weigh more a patch than a real label (share × real count / their
    count): early stopping held them out instead of the real labels, and said it held out the real ones (review)."""
    x, y, _, _ = toy  # 12 real labels per class
    extra_x, extra_y = x[:6], y[:6]  # a small extra part: 1.5 a patch at share 0.75
    samples, labels = np.concatenate([x, extra_x]), np.concatenate([y, extra_y])
    weights = np.concatenate([np.ones(len(y), np.float32), np.full(6, 1.5, np.float32)])
    held = []
    split = SpectralSpatialCNN._validation_split
    monkeypatch.setattr(SpectralSpatialCNN, "_validation_split",
                        lambda self, *args: held.append(split(self, *args)) or held[-1])
    clf = small_cnn(epochs=3, patience=2, val_fraction=0.2, min_labels_for_early_stopping=10)
    clf.fit(samples, labels, sample_weight=weights, real_count=len(y))
    assert held[-1] is not None and (held[-1] < len(y)).all()  # the real labels' rows only
    assert len(held[-1]) == 3 * round(0.2 * 12)
    clf.fit(samples, labels, sample_weight=weights)  # without saying: the heaviest, here the extra part (as before)
    assert held[-1] is None  # 6 extra patches are too few a class to stop on


def test_few_labels_per_class_train_for_fixed_epochs_not_early_stopping(toy) -> None:
    x, y, _, _ = toy  # 12 per class: under the default threshold, the validation loss would rest on 2 pixels each
    clf = small_cnn(epochs=6, patience=1, val_fraction=0.2).fit(x, y)
    assert CNNConfig().min_labels_for_early_stopping == 20
    assert clf.best_epoch == 6 and len(clf.history) == 6
    assert all(np.isnan(h["val_loss"]) for h in clf.history)
    assert clf.training_note() == "CNN: trained 6 epochs (fixed: early stopping needs 20 real labels in every class)"
    with pytest.raises(ValueError, match="min_labels_for_early_stopping"):
        CNNConfig(min_labels_for_early_stopping=1)


@pytest.mark.parametrize("arch", ARCHS)
def test_every_arch_fits_and_predicts(arch: str, toy) -> None:
    x, y, xt, _ = toy
    proba = small_cnn(arch=arch, epochs=2).fit(x, y).predict_proba(xt[:5])
    assert proba.shape == (5, 3)


@pytest.mark.parametrize("p", [5, 6])
def test_augmentation_keeps_the_labelled_pixel_in_the_centre(p: int) -> None:
    x = torch.zeros(64, 2, p, p)
    x[:, :, p // 2, p // 2] = 1.0  # only the centre pixel is marked
    cfg = CNNConfig(patch_size=p, spectral_scale=0.0, spectral_noise=0.0)
    out = _augment(x, torch.Generator().manual_seed(0), cfg, torch.ones(2))
    assert torch.all(out[:, :, p // 2, p // 2] == 1.0) and float(out.sum()) == 64 * 2


def test_bad_input_gets_a_clear_error(toy) -> None:
    x, y, _, _ = toy
    with pytest.raises(ValueError, match="patch_size=9"):
        SpectralSpatialCNN(9).fit(x, y)
    with pytest.raises(ValueError, match="two classes"):
        small_cnn().fit(x[y == 0], y[y == 0])
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        small_cnn().fit(bad, y)
    with pytest.raises(ValueError, match="sample_weight"):
        small_cnn().fit(x, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="unknown SpectralSpatialCNN option"):
        SpectralSpatialCNN(P, epoch=3)
    with pytest.raises(ValueError, match="unknown classifier preset"):
        cnn_preset("huge")


def test_a_gpu_out_of_memory_while_predicting_halves_the_batch_and_gives_the_same_probabilities(toy, caplog):
    x, y, xt, _ = toy
    clf = small_cnn(epochs=3, predict_batch_size=64).fit(x, y)
    expected = clf.predict_proba(xt)  # 120 patches, 64 at a time
    net, sizes = clf.net, []
    plain = net.forward

    def short_of_memory(batch: torch.Tensor) -> torch.Tensor:  # as a GPU with room for 20 patches at a time
        sizes.append(len(batch))
        if len(batch) > 20:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB.")
        return plain(batch)

    net.forward = short_of_memory
    with caplog.at_level("WARNING", logger="hypersynth"):
        got = clf.predict_proba(xt)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert sizes[:3] == [64, 32, 16] and set(sizes[3:]) == {16, 8}  # halved twice, then kept (the last 8 left)
    assert caplog.text.count("the GPU ran out of memory predicting") == 2
    assert "predicting 16 at a time" in caplog.text
    sizes.clear()
    clf.predict_proba(xt[:40])  # the next call starts at the size that fitted
    assert sizes == [16, 16, 8]
    net.forward = lambda batch: (_ for _ in ()).throw(torch.OutOfMemoryError("CUDA out of memory."))
    with pytest.raises(torch.OutOfMemoryError):  # not even one patch fits: the run stops, with what to do
        clf.predict_proba(xt[:4])
