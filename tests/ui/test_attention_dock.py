"""Attention dock: one panel per prompt word, heatmaps upsampled to the patch, layer/timestep re-render, a scale
against the even share, a run's maps and a preview's side by side, function words last."""

from __future__ import annotations

import numpy as np
import pytest

from hypersynth.core.tokens import word_tokens
from hypersynth.ui.attention_dock import (ALL_LAYERS, ANCHORED_CAPTION, ANCHORED_NOTE, MIN_SPAN, NO_CLIP_MAPS,
                                         PREVIEW, RUN, AttentionDock)

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
    titles = [ax.get_title() for ax in dock.figure.axes[:5]]
    assert titles[1:] == ["corn", "field", "early", "growth"]
    assert "synthetic patch" in titles[0] and "from noise" in titles[0] and "NIR" in titles[0]  # what it is
    assert "R, G, B = NIR, red, green" in dock.status.text()
    assert "from noise with the prompt (a run's start from labelled ones unless its anchor strength is 1)" in \
        dock.status.text()  # not the patches the classifier learnt from
    corn = dock.images[0].get_array()
    assert corn.shape == (16, 16)  # latent 4x4 upsampled to the 16x16 patch
    assert corn[:4].mean() > corn[8:].mean()  # the top row is where "corn" looks
    before = [np.array(im.get_array()) for im in dock.images]
    dock.set_layer(1)
    after = [np.array(im.get_array()) for im in dock.images]
    assert any(not np.allclose(a, b) for a, b in zip(before, after))
    assert dock.timestep_slider.isVisibleTo(dock) and dock.timestep_slider.maximum() == 2
    dock.set_timestep_index(0)
    assert dock.timestep_label.text() == "t = 999"
    assert not np.allclose(after[1], dock.images[1].get_array())
    dock.set_layer(ALL_LAYERS)
    dock.set_attention(_attention(), TOKENS, LATENT_HW, patch_rgb=patch, timesteps=[999, 500, 1],
                       patch_caption=ANCHORED_CAPTION)  # a prompt preview's patch, started as a run's
    assert "from labels" in dock.figure.axes[0].get_title()
    assert ANCHORED_NOTE in dock.status.text() and "from noise" not in dock.status.text()
    under = dock.figure.axes[1].get_images()[0].get_array()  # the first word's map lies over the patch in grey
    assert np.ndim(under) == 2 and 0.45 <= float(np.min(under)) and float(np.max(under)) <= 0.95
    dock.overlay_box.setChecked(False)
    assert len(dock.figure.axes[1].get_images()) == 1  # the map alone
    dock.overlay_box.setChecked(True)
    pixels = screenshot(dock, "attention_dock")
    assert pixels.std() > 0


def test_three_dimensional_attention_and_transposed_input(keep):
    dock = keep(AttentionDock())
    att = _attention(layers=3, steps=1)[:, 0]  # (layers, T, L)
    dock.set_attention(att.swapaxes(1, 2), TOKENS, LATENT_HW)  # (layers, L, T) is recognised too
    assert len(dock.images) == 4
    # one slice (the mean over the sampling steps): no slider that does nothing, a label that says so
    assert dock.timestep_slider.isHidden() and dock.timestep_caption.isHidden() and not dock.timestep_slider.isEnabled()
    assert dock.timestep_label.text() == "mean of all steps" and "averaged over all" in dock.timestep_label.toolTip()
    maps = dict(dock.word_maps())
    np.testing.assert_allclose(maps["corn"], att.mean(axis=0)[1].reshape(LATENT_HW))
    with pytest.raises(ValueError, match="does not match"):
        dock.set_attention(att, TOKENS[:-1], LATENT_HW)


WATER = "calm open water of a lake dark in the near infrared".split()
FUNCTION = ["of", "a", "in", "the"]


def _near_uniform(words: list[str], noise: float, seed: int = 2) -> tuple[np.ndarray, list[str]]:
    """``(layers, T, L)`` maps within ``noise`` of the even share 1/T, and the tokens, start/end included."""
    tokens = ["<start>", *words, "<end>"]
    att = 1 + noise * np.random.default_rng(seed).uniform(-1, 1, (2, len(tokens), 16))
    return att / att.sum(axis=1, keepdims=True), tokens


def test_content_words_come_first_and_function_words_on_request(keep, screenshot):
    dock = keep(AttentionDock(), 760, 360)
    att, tokens = _near_uniform(WATER, 0.1)
    dock.set_attention(att, tokens, LATENT_HW, patch_rgb=np.zeros((16, 16, 3), np.uint8))
    content = [w for w in WATER if w not in FUNCTION]
    assert [word for word, _ in dock.word_maps()] == content  # the encoder's start/end markers get no panel either
    assert dock.function_box.isEnabled() and not dock.function_box.isChecked()
    assert "not shown: of, a, in, the" in dock.status.text()  # said, not hidden silently
    dock.function_box.setChecked(True)
    assert [word for word, _ in dock.word_maps()] == content + FUNCTION  # after the content words
    assert len(dock.images) == len(WATER) and "not shown" not in dock.status.text()
    rows = {round(image.axes.get_position().y0, 3) for image in dock.images}
    assert len(rows) == 2  # a long prompt's words wrap onto a second row
    assert screenshot(dock, "attention_dock_long_prompt").std() > 0
    maps = dict(dock.word_maps())
    np.testing.assert_allclose(maps["of"], att.mean(axis=0)[WATER.index("of") + 1].reshape(LATENT_HW))
    only, only_tokens = _near_uniform(["the", "of"], 0.1)
    dock.set_attention(only, only_tokens, LATENT_HW)  # nothing but function words: shown, nothing to tick
    dock.function_box.setChecked(False)
    assert [word for word, _ in dock.word_maps()] == ["the", "of"] and not dock.function_box.isEnabled()


def test_near_uniform_attention_stays_pale_on_a_scale_from_the_even_share(keep, screenshot):
    """Maps within a few % of 1/n (a run's maps often are) must not be stretched into structure."""
    dock = keep(AttentionDock(), 760, 300)
    att, tokens = _near_uniform(WATER, 0.08)  # 0.066-0.077 for 13 tokens, as the review saw
    dock.set_attention(att, tokens, LATENT_HW)
    assert dock.even_share() == pytest.approx(1 / len(tokens))
    assert dock.scale() == pytest.approx((1 / MIN_SPAN, MIN_SPAN))  # not the maps' own 0.93-1.07
    assert all(image.get_clim() == pytest.approx((1 / MIN_SPAN, MIN_SPAN)) for image in dock.images)
    colours = np.concatenate([image.to_rgba(image.get_array())[..., :3].reshape(-1, 3) for image in dock.images])
    assert (colours.max(axis=1) - colours.min(axis=1)).max() < 0.2  # pale: close to the neutral middle
    assert f"even share 1/{len(tokens)} = {1 / len(tokens):.3f}" in dock.status.text()
    flat = "No word singles out a part of the patch: each word's map stays within 10% of its own mean across it."
    assert flat in dock.status.text()  # said in words, not left to the pale colours
    assert NO_CLIP_MAPS not in dock.status.text()
    dock.set_text_source("random-init (no CLIP weights found)")  # the model learnt its text encoder from the labels
    assert dock.status.text().endswith(NO_CLIP_MAPS)
    dock.set_text_source("openai-pretrained:ViT-B-32")
    assert NO_CLIP_MAPS not in dock.status.text()
    assert screenshot(dock, "attention_dock_near_uniform").std() > 0

    peaked = att.copy()
    peaked[:, 1, :4] *= 6  # "calm" takes six times its share in the top row
    peaked /= peaked.sum(axis=1, keepdims=True)
    dock.set_attention(peaked, tokens, LATENT_HW)
    assert "No word singles out" not in dock.status.text()
    low, high = dock.scale()
    assert high > 4 and low == pytest.approx(1 / high)  # the scale widens to the data, evenly about 1x
    calm = dock.images[0]
    top = calm.to_rgba(calm.get_array())[0, LATENT_HW[1] * 8 // 2]  # a pixel in the top row's middle
    assert top[0] - top[2] > 0.25 and top[0] > top[1]  # red: more than the even share


def test_the_even_share_counts_only_the_tokens_attention_can_reach():
    """Padding the model masked gets no attention and is no token to share with."""
    dock = AttentionDock()
    att, tokens = _near_uniform(["corn", "field"], 0.0)  # 4 tokens: 0.25 each
    padded = np.concatenate([att, np.zeros((2, 3, 16))], axis=1)
    dock.set_attention(padded, [*tokens, "!", "!", "!"], LATENT_HW)
    assert dock.even_share() == pytest.approx(0.25)
    dock.deleteLater()


def test_a_preview_keeps_the_runs_maps_a_pick_away(keep, screenshot):
    dock = keep(AttentionDock(), 760, 320)
    corn, corn_tokens = _near_uniform(["corn", "field"], 0.2, seed=1)
    soil, soil_tokens = _near_uniform(["bare", "soil"], 0.2, seed=3)
    patch = np.full((16, 16, 3), 90, np.uint8)
    dock.set_class_choices([("corn", {"attention": corn, "tokens": corn_tokens, "latent_hw": LATENT_HW,
                                      "patch_rgb": patch}),
                            ("bare soil", {"attention": soil, "tokens": soil_tokens, "latent_hw": LATENT_HW})],
                           "Augment & Classify scene")
    assert dock.source() == RUN and dock.source_box.isHidden()  # one source: nothing to pick
    assert dock.class_box.isVisibleTo(dock)
    dock.set_class("bare soil")
    preview, preview_tokens = _near_uniform(["asphalt", "road"], 0.2, seed=4)
    dock.set_attention(preview, preview_tokens, LATENT_HW, source="preview of 'asphalt road'")
    assert dock.source() == PREVIEW and dock.source_box.isVisibleTo(dock)
    assert [dock.source_box.itemText(i) for i in range(dock.source_box.count())] == [
        "run: Augment & Classify scene", "preview of 'asphalt road'"]
    assert not dock.class_box.isVisibleTo(dock)  # a preview is one patch: no class to pick
    assert [w for w, _ in dock.word_maps()] == ["asphalt", "road"]
    assert dock.status.text().startswith("preview of 'asphalt road': 2 word pieces (the prompt as the text encoder splits it)")
    screenshot(dock, "attention_dock_preview_with_run")

    dock.source_box.setCurrentIndex(dock.source_box.findData(RUN))  # back to the run, as the analyst picks it
    assert dock.class_box.isVisibleTo(dock) and dock.class_box.currentText() == "bare soil"
    assert [w for w, _ in dock.word_maps()] == ["bare", "soil"]
    assert dock.status.text().startswith("Augment & Classify scene: 2 word pieces")
    dock.set_source(PREVIEW)
    dock.set_class("corn")  # picking a class goes back to the run
    assert dock.source() == RUN and [w for w, _ in dock.word_maps()] == ["corn", "field"]
    dock.set_class_choices([("corn", {"attention": corn, "tokens": corn_tokens, "latent_hw": LATENT_HW})],
                           "a second run")  # a new run shows, the preview stays
    assert dock.source() == RUN and dock.source_box.itemText(0) == "run: a second run" and dock.source_box.count() == 2
    with pytest.raises(ValueError, match="does not match"):
        dock.set_attention(preview, preview_tokens[:-1], LATENT_HW)  # refused: nothing changes
    assert dock.source() == RUN and dock.source_box.itemText(1) == "preview of 'asphalt road'"
    dock.clear()
    assert dock.source() is None and dock.source_box.count() == 0 and dock.class_box.count() == 0
    assert dock.pick_row.isHidden()


def test_a_prompt_without_words_says_so_instead_of_the_last_status(keep):
    dock = keep(AttentionDock(), 600, 300)
    dock.set_attention(_attention(), TOKENS, LATENT_HW, source="corn field")
    assert dock.status.text().startswith("corn field: 4 word pieces")
    tokens = ["<start_of_text>", ",</w>", "<end_of_text>"]
    dock.set_attention(np.full((2, 1, 3, 16), 1 / 3), tokens, LATENT_HW, source="preview of ','")
    assert dock.word_maps() == [] and dock.images == [] and dock.figure.axes == []
    assert dock.status.text() == ("preview of ',': the prompt has no words to show attention for (only punctuation "
                                  "or special tokens).")
    dock.clear()
    assert dock.status.text() == "Preview a prompt to see where each word attends."


def test_a_low_dock_gets_three_colour_bar_ticks_and_a_tall_one_more(keep, qapp, monkeypatch):
    """In a low dock the colour bar's 16×, 4×, 1×, ½×, 1/16× overlapped (review): 3 ticks there, drawn again with
    more as the maps' canvas grows past TALL_ENOUGH_FOR_TICKS."""
    from hypersynth.ui import attention_dock

    dock = keep(AttentionDock(), 760, 300)
    dock.show()  # resized on screen: the canvas hears it
    attention = _attention()
    attention[:, :, 1, :4] *= 40.0  # a wide span: five ticks where there is room
    monkeypatch.setattr(attention_dock, "TALL_ENOUGH_FOR_TICKS", 10_000)  # every canvas is low
    dock.set_attention(attention / attention.sum(axis=2, keepdims=True), TOKENS, LATENT_HW)
    qapp.processEvents()
    assert len(dock.figure.axes[-1].get_yticks()) == 3
    monkeypatch.setattr(attention_dock, "TALL_ENOUGH_FOR_TICKS", 1)  # now tall enough: the next resize redraws
    dock.resize(780, 320)
    qapp.processEvents()
    assert len(dock.figure.axes[-1].get_yticks()) == 5
