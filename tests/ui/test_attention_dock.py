"""Attention dock: one panel per prompt word, heatmaps upsampled to the patch, layer/timestep re-render."""

from __future__ import annotations

import numpy as np
import pytest

from hypersynth.core.tokens import word_tokens
from hypersynth.ui.attention_dock import ALL_LAYERS, AttentionDock

TOKENS = ["<start_of_text>", "corn</w>", "field</w>", ",</w>", "early</w>", "growth</w>", "<end_of_text>", "!", "!"]
LATENT_HW = (4, 4)


def _attention(layers: int = 2, steps: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    att = rng.random((layers, steps, len(TOKENS), LATENT_HW[0] * LATENT_HW[1]))  # (layers, timesteps, T, L)
    att[:, :, 1, :4] += 3.0  # "corn" attends to the top row
    return att / att.sum(axis=2, keepdims=True)  # softmax over tokens: sums to 1 per latent position


def test_word_tokens_skip_special_and_punctuation():
    assert word_tokens(TOKENS) == [(1, "corn"), (2, "field"), (4, "early"), (5, "growth")]


def test_one_panel_per_word_and_layer_switch_changes_the_image(keep, screenshot):
    dock = keep(AttentionDock(), 760, 300)
    rows, cols = np.mgrid[0:16, 0:16]
    patch = np.stack([rows * 12, cols * 10, 255 - rows * 8], axis=-1).astype(np.uint8)  # a smooth picture
    dock.set_attention(_attention(), TOKENS, LATENT_HW, patch_rgb=patch, timesteps=[999, 500, 1])
    assert len(dock.images) == 4
    assert [ax.get_title() for ax in dock.figure.axes[:5]] == ["patch", "corn", "field", "early", "growth"]
    corn = dock.images[0].get_array()
    assert corn.shape == (16, 16)  # latent 4x4 upsampled to the 16x16 patch
    assert corn[:4].mean() > corn[8:].mean()  # the top row is where "corn" looks
    before = [np.array(im.get_array()) for im in dock.images]
    dock.set_layer(1)
    after = [np.array(im.get_array()) for im in dock.images]
    assert any(not np.allclose(a, b) for a, b in zip(before, after))
    dock.set_timestep_index(0)
    assert dock.timestep_label.text() == "t = 999"
    assert not np.allclose(after[1], dock.images[1].get_array())
    dock.set_layer(ALL_LAYERS)
    pixels = screenshot(dock, "attention_dock")
    assert pixels.std() > 0


def test_three_dimensional_attention_and_transposed_input(keep):
    dock = keep(AttentionDock())
    att = _attention(layers=3, steps=1)[:, 0]  # (layers, T, L)
    dock.set_attention(att.swapaxes(1, 2), TOKENS, LATENT_HW)  # (layers, L, T) is recognised too
    assert len(dock.images) == 4 and not dock.timestep_slider.isEnabled()
    maps = dict(dock.word_maps())
    np.testing.assert_allclose(maps["corn"], att.mean(axis=0)[1].reshape(LATENT_HW))
    with pytest.raises(ValueError, match="does not match"):
        dock.set_attention(att, TOKENS[:-1], LATENT_HW)


def test_a_long_prompt_wraps_onto_a_second_row(keep, screenshot):
    dock = keep(AttentionDock(), 760, 360)
    words = "calm open water of a lake dark in the near infrared".split()
    tokens = ["<start>", *words, "<end>"]
    rng = np.random.default_rng(2)
    patch = (rng.random((16, 16, 3)) * 255).astype(np.uint8)
    dock.set_attention(rng.random((2, len(tokens), 16)), tokens, LATENT_HW, patch_rgb=patch)
    assert [word for word, _ in dock.word_maps()] == words  # the encoder's start/end markers get no panel
    rows = {round(image.axes.get_position().y0, 3) for image in dock.images}
    assert len(dock.images) == len(words) and len(rows) == 2
    low = min(float(image.get_array().min()) for image in dock.images)  # one scale, the maps' own range
    high = max(float(image.get_array().max()) for image in dock.images)
    assert all(image.get_clim() == pytest.approx((low, high)) for image in dock.images)
    assert screenshot(dock, "attention_dock_long_prompt").std() > 0


def test_a_prompt_without_words_says_so_instead_of_the_last_status(keep):
    dock = keep(AttentionDock(), 600, 300)
    dock.set_attention(_attention(), TOKENS, LATENT_HW, source="corn field")
    assert dock.status.text().startswith("corn field: 4 prompt words")
    tokens = ["<start_of_text>", ",</w>", "<end_of_text>"]
    dock.set_attention(np.full((2, 1, 3, 16), 1 / 3), tokens, LATENT_HW, source="preview of ','")
    assert dock.word_maps() == [] and dock.images == [] and dock.figure.axes == []
    assert dock.status.text() == ("preview of ',': the prompt has no words to show attention for (only punctuation "
                                  "or special tokens).")
    dock.clear()
    assert dock.status.text() == "Preview a prompt to see where each word attends."
