"""Synthetic patches of a class against its labelled mean: said like it when they are, warned of when not."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest

from hypersynth.core.scene import ClassInfo
from hypersynth.core.synthetic_check import compare_to_labelled

BANDS = 12
WATER = np.full(BANDS, 0.02)  # flat and dark
TREE = np.r_[np.full(6, 0.04), np.full(6, 0.35)]  # a red edge halfway


def _model() -> SimpleNamespace:
    return SimpleNamespace(classes=[ClassInfo(1, "water"), ClassInfo(2, "tree")],
                           class_spectra=np.stack([WATER, TREE]).astype(np.float32))


def _patches(centre: np.ndarray, n: int = 8, p: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    patches = np.repeat(np.repeat(centre[None, :, None, None], p, axis=2), p, axis=3).repeat(n, axis=0)
    return (patches * (1 + rng.normal(0, 0.02, patches.shape))).astype(np.float32)  # (n, B, p, p)


def test_patches_like_their_class_are_said_to_be():
    check = compare_to_labelled(_model(), _patches(WATER * 1.2), 1)
    assert check.patches == 8 and check.nearer_other == {} and not check.unlike
    assert check.angle < 3 and check.brightness == pytest.approx(1.2, rel=0.02)
    assert check.sentence().startswith(f"the 8 patches' mean centre spectrum is {check.angle:.1f}° from water's "
                                       "labelled mean and 1.20 × as bright; 0 of 8 lie nearer another class's")


def test_patches_that_look_like_another_class_are_warned_of():
    """A tiny model's 'water' patches were vegetation spectra, labelled water, with no word."""
    check = compare_to_labelled(_model(), _patches(TREE), 1)
    assert check.nearer_other == {"tree": 8} and check.unlike
    assert "8 of 8 lie nearer another class's labelled mean (spectral angle) (tree: 8): they do not look like " \
           "water. They were sampled from noise with the prompt alone" in check.sentence()
    anchored = compare_to_labelled(_model(), _patches(TREE), 1, starts=_patches(WATER, n=4))  # from labelled water
    assert anchored.sentence().endswith("they do not look like water, though they started from its labelled "
                                        "patches: the prompt took them away, so do not take these as training data "
                                        "as they are (a prompt nearer what the labels show, or a lower anchor "
                                        "strength, keeps them nearer; a run also drops those nearer another class)")
    assert anchored.reason() == "8 of 8 lie nearer another class's labelled mean"
    edge = compare_to_labelled(_model(), _patches(TREE), 1, starts=np.concatenate([_patches(WATER, n=2),
                                                                                   _patches(TREE, n=2)]))
    assert edge.starts_unlike == 2 and "and 2 of the labelled patches they started from already lie nearer another " \
        "class's labelled mean (mixed or edge pixels)" in edge.sentence()  # not blamed on the prompt (review)
    bright = compare_to_labelled(_model(), _patches(WATER * 7), 1)  # the right shape, seven times as bright
    assert bright.nearer_other == {} and bright.unlike and re.search(r"and 7\.0\d × as bright", bright.sentence())
    assert bright.reason() == "7 × as bright as your labels"


def test_a_class_the_model_never_learnt_is_not_compared():
    assert compare_to_labelled(_model(), _patches(WATER), 0) is None  # a free prompt's patches of no class
    assert compare_to_labelled(_model(), _patches(WATER)[:0], 1) is None
