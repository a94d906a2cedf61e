"""Method-level behaviour: the synthetic-sample filter and input checks of fit_method."""

import numpy as np
import pytest

from hypersynth.core.ldm.synthesize import SyntheticSet
from hypersynth.core.methods import MethodSettings, filter_by_real_means, fit_method
from hypersynth.core.scene import ClassInfo


def test_filter_drops_synthetic_patches_nearer_another_class():
    a, b = np.array([1.0, 0.1, 0.1]), np.array([0.1, 1.0, 0.1])
    real = np.stack([a, a, b, b])[:, :, None, None] * np.ones((1, 1, 3, 3))  # (4, 3, 3, 3)
    y = np.array([0, 0, 1, 1])
    syn_spec = np.stack([a * 0.9, b * 1.1, b, a])  # the last two contradict their labels below
    labels = np.array([5, 7, 5, 7])
    syn = SyntheticSet(patches=(syn_spec[:, :, None, None] * np.ones((1, 1, 3, 3))).astype(np.float32),
                       labels=labels, masks=np.repeat(labels, 9).reshape(4, 3, 3), prompts=["a", "b", "a", "b"])
    kept, dropped = filter_by_real_means(syn, real, y, np.array([5, 7]))
    assert dropped == 2
    assert kept.labels.tolist() == [5, 7] and kept.prompts == ["a", "b"] and len(kept.patches) == 2


def test_fit_method_needs_two_labelled_classes():
    cube = np.random.default_rng(0).random((5, 8, 8)).astype(np.float32)
    labels = np.zeros((8, 8), int)
    labels[2, 2] = 1
    with pytest.raises(ValueError, match="at least two classes"):
        fit_method("rf", cube, np.ones((8, 8), bool), labels, [ClassInfo(1, "a")], MethodSettings())
    with pytest.raises(ValueError, match="unknown method"):
        fit_method("magic", cube, np.ones((8, 8), bool), labels, [ClassInfo(1, "a")], MethodSettings())
