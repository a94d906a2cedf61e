"""A run's per-class cross-attention: split by class, written with its figure, read back for the attention dock."""

from __future__ import annotations

import numpy as np
import pytest

from hypersynth.core.attention import (ATTENTION_ARRAYS, ATTENTION_FIGURE, per_class, read_class_attention,
                                       write_class_attention)
from hypersynth.core.ldm.synthesize import SyntheticSet
from hypersynth.core.scene import ClassInfo

CLASSES = [ClassInfo(1, "grass", prompt="green grass"), ClassInfo(4, "road", prompt="asphalt road , dark")]
TOKENS = [["<start>", "green</w>", "grass</w>", "<end>"],
          ["<start>", "asphalt</w>", "road</w>", ",</w>", "dark</w>", "<end>"]]


def _class_set(layers: int = 2, side: int = 4, bands: int = 5, p: int = 8) -> SyntheticSet:
    """Two classes' patches with attention padded to the longer prompt (as synthesize pads it); the padding is
    filled with a value no real column has, so a reader that keeps it would show."""
    rng = np.random.default_rng(0)
    width = max(len(t) for t in TOKENS)
    attention = rng.random((2, layers, side * side, width)).astype(np.float32)  # (N, layers, T, W)
    attention[0, :, :, len(TOKENS[0]):] = -1.0
    return SyntheticSet(patches=rng.random((2, bands, p, p)).astype(np.float32), labels=np.array([1, 4], np.int32),
                        masks=np.ones((2, p, p), np.int32), prompts=[c.text for c in CLASSES], attention=attention,
                        tokens=TOKENS)


def test_per_class_drops_the_padding_of_shorter_prompts():
    rows = per_class(_class_set(), CLASSES)
    assert [(r.class_id, r.name) for r in rows] == [(1, "grass"), (4, "road")]
    assert rows[0].attention.shape == (2, 16, 4) and rows[1].attention.shape == (2, 16, 6)
    assert rows[0].attention.min() >= 0.0  # no padding column left
    assert rows[0].latent_hw == (4, 4) and rows[0].patch.shape == (5, 8, 8)


def test_written_attention_reads_back_for_the_dock(tmp_path):
    rows = per_class(_class_set(), CLASSES)
    wavelengths = np.array([450.0, 550.0, 650.0, 850.0, 1650.0])
    write_class_attention(tmp_path, rows, wavelengths)
    assert (tmp_path / ATTENTION_FIGURE).stat().st_size > 0
    back, wl = read_class_attention(tmp_path / ATTENTION_ARRAYS)
    np.testing.assert_allclose(wl, wavelengths)
    assert [(r.class_id, r.name, r.tokens, r.latent_hw) for r in back] == \
        [(r.class_id, r.name, r.tokens, r.latent_hw) for r in rows]
    for before, after in zip(rows, back):
        np.testing.assert_array_equal(after.attention, before.attention)
        np.testing.assert_array_equal(after.patch, before.patch)


def test_a_file_that_is_not_an_attention_file_is_refused(tmp_path):
    path = tmp_path / "patches.npz"
    np.savez(path, patches=np.zeros((1, 2, 3, 3)))
    with pytest.raises(ValueError, match="not a HyperSynth attention file.*attention"):
        read_class_attention(path)
