"""A run's per-class cross-attention: split by class, written with its figure, read back for the attention dock."""

from __future__ import annotations

import numpy as np
import pytest

from hypersynth.core.attention import (ATTENTION_ARRAYS, ATTENTION_FIGURE, ClassAttention, class_attention_figure,
                                       even_share, per_class, read_class_attention, scale_ticks, times_label,
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


def test_where_each_patch_started_is_kept_and_said_in_the_figure(tmp_path):
    from hypersynth.core.attention import _started

    syn = _class_set()
    syn.anchor_index = np.array([0, -1])  # grass from a labelled patch, road from noise (no kept labelled patch)
    rows = per_class(syn, CLASSES)
    assert [r.anchored for r in rows] == [True, False]
    assert _started(rows) == " (from a labelled patch kept with the model for grass; the others from noise)"
    assert _started(rows[:1]) == " (each from a labelled patch kept with the model, as a run starts from its labels)"
    assert _started(rows[1:]) == " (from noise)"
    write_class_attention(tmp_path, rows, None)
    back, _ = read_class_attention(tmp_path / ATTENTION_ARRAYS)
    assert [r.anchored for r in back] == [True, False]
    with np.load(tmp_path / ATTENTION_ARRAYS) as f:  # a run's file from before the flag: its patches came from noise
        older = {k: f[k] for k in f.files if k != "anchored"}
    np.savez(tmp_path / "older.npz", **older)
    assert [r.anchored for r in read_class_attention(tmp_path / "older.npz")[0]] == [False, False]


def test_a_file_that_is_not_an_attention_file_is_refused(tmp_path):
    path = tmp_path / "patches.npz"
    np.savez(path, patches=np.zeros((1, 2, 3, 3)))
    with pytest.raises(ValueError, match="not a HyperSynth attention file.*attention"):
        read_class_attention(path)


def _uniform_rows() -> list:
    """Two prompts whose positions attend alike to every token (the even share everywhere), except one word of the
    second that takes four times its share at one place and a quarter at another."""
    rows = per_class(_class_set(side=2), CLASSES)
    for row in rows:
        n = len(row.tokens)
        row.attention[:] = 1.0 / n
    road = rows[1].attention  # (layers, T, 6); each position's attention still sums to 1
    road[:, 0, :], road[:, 0, 1] = (1.0 - 4.0 / 6) / 5, 4.0 / 6  # "asphalt": four times the even share 1/6 here
    road[:, 1, :], road[:, 1, 1] = (1.0 - 0.25 / 6) / 5, 0.25 / 6  # and a quarter of it here
    return rows


def test_even_share_is_the_attention_of_a_position_spread_over_the_tokens_it_reaches():
    attention = np.full((2, 4, 5), 0.25, np.float32)
    attention[:, :, 4] = 0.0  # a padding token the model masked out: none of the n
    assert even_share(attention) == (0.25, 4)


def test_attention_figure_shows_every_row_as_a_multiple_of_its_even_share_on_one_scale(tmp_path):
    rows = _uniform_rows()
    fig = class_attention_figure(tmp_path / ATTENTION_FIGURE, rows)
    assert (tmp_path / ATTENTION_FIGURE).stat().st_size > 0
    images = [im for ax in fig.axes for im in ax.get_images()]
    titles = [ax.get_title() for ax in fig.axes if ax.get_images()]
    assert titles == ["green", "grass", "asphalt", "road", "dark"]  # a map per word piece (the comma has none)
    norms = {(im.norm.vmin, im.norm.vmax) for im in images}
    assert len(norms) == 1  # one scale for all rows
    low, high = norms.pop()
    assert high == pytest.approx(4.0) and low == pytest.approx(0.25)  # 1× in the middle, reaching the extremes
    assert all(im.get_cmap().name == "RdBu_r" for im in images)
    grass = images[1].get_array()  # an even map reads 1× everywhere, whatever its prompt's length (1/4 here)
    np.testing.assert_allclose(grass, 1.0, rtol=1e-5)
    asphalt = images[2].get_array().ravel()
    assert asphalt[0] == pytest.approx(4.0, rel=1e-5) and asphalt[1] == pytest.approx(0.25, rel=1e-5)
    bar = fig.axes[-1]
    assert "even share" in bar.get_ylabel() and "one scale for all rows" in bar.get_ylabel()
    assert [t.get_text() for t in bar.get_yticklabels()] == ["¼×", "½×", "1×", "2×", "4×"]
    assert fig.axes[0].get_ylabel() == "grass\n(1/n = 1/4)"  # the row's class and its even share


def test_attention_scale_spans_at_least_half_to_twice_the_even_share(tmp_path):
    rows = _uniform_rows()
    rows[1].attention[:] = 1.0 / 6
    rows[1].attention[:, 0, :], rows[1].attention[:, 0, 1] = (1.0 - 1.04 / 6) / 5, 1.04 / 6  # a few per cent: pale
    fig = class_attention_figure(tmp_path / ATTENTION_FIGURE, rows)
    image = next(im for ax in fig.axes for im in ax.get_images())
    assert (image.norm.vmin, image.norm.vmax) == (pytest.approx(0.5), pytest.approx(2.0))
    assert image.norm(1.04) == pytest.approx(0.5, abs=0.03)  # near the middle of the diverging map


def test_scale_ticks_and_labels():
    assert scale_ticks(2.0) == [0.5, 1.0, 2.0]
    assert scale_ticks(16.0) == [1 / 16, 1 / 4, 1.0, 4.0, 16.0]
    assert scale_ticks(16.0, most=3) == [1 / 16, 1.0, 16.0]  # a short colour bar (the dock's, in a low window)
    assert scale_ticks(2.0, most=3) == [0.5, 1.0, 2.0]
    assert [times_label(t) for t in (0.5, 0.25, 1 / 8, 1.0, 4.0)] == ["½×", "¼×", "1/8×", "1×", "4×"]


def test_a_figure_row_wraps_a_long_class_name_and_says_the_words_it_leaves_out(tmp_path):
    """A long class name ran off the figure and an 18-word prompt showed 12 panels without a word said (review)."""
    from hypersynth.core.tokens import MAX_WORDS

    words = [f"word{i}" for i in range(MAX_WORDS + 3)]
    tokens = ["<start>", *(w + "</w>" for w in words[:5]), ",</w>", *(w + "</w>" for w in words[5:]), "<end>"]
    rng = np.random.default_rng(4)
    long_name = ClassAttention(7, "Buildings-Grass-Trees-Drives", rng.random((1, 4, len(tokens))).astype(np.float32),
                               tokens, (2, 2), np.zeros((3, 4, 4), np.float32))
    fig = class_attention_figure(tmp_path / "long.png", [long_name])
    label = fig.axes[0].get_ylabel()
    assert label.startswith("Buildings-Grass-\nTrees-Drives\n(1/n = 1/")
    assert label.endswith(f"first {MAX_WORDS} of {MAX_WORDS + 3} words")
    assert "punctuation ones too; those and the function words" in fig._suptitle.get_text().replace("\n", " ")


def test_the_figure_leaves_out_function_words_as_the_dock_does_and_says_so(tmp_path):
    """The report's figure gave 'of' and 'the' panels the attention dock hides (walk-through); a prompt with more
    function words than room left content words out."""
    from hypersynth.core.tokens import MAX_WORDS

    words = ["the", "roof", "of", "a", "house"] + ["and", "the"] * 5 + ["tiles"]
    tokens = ["<start>", *(w + "</w>" for w in words), "<end>"]
    rng = np.random.default_rng(5)
    row = ClassAttention(2, "roofs", rng.random((1, 4, len(tokens))).astype(np.float32), tokens, (2, 2),
                         np.zeros((3, 4, 4), np.float32))
    assert len(words) > MAX_WORDS
    fig = class_attention_figure(tmp_path / "roofs.png", [row])
    titles = [ax.get_title() for ax in fig.axes if ax.get_images()]
    assert titles == ["roof", "house", "tiles"]  # the last one lay past the first MAX_WORDS tokens
    label = fig.axes[0].get_ylabel().replace("\n", " ")
    assert label.endswith("not shown: the, of, a, and") and "first" not in label  # each word once
    only = ClassAttention(3, "x", rng.random((1, 4, 4)).astype(np.float32), ["<start>", "of</w>", "the</w>", "<end>"],
                          (2, 2), np.zeros((3, 4, 4), np.float32))
    fig = class_attention_figure(tmp_path / "only.png", [only])  # nothing else: the function words are the panels
    assert [ax.get_title() for ax in fig.axes if ax.get_images()] == ["of", "the"]
    assert "not shown" not in fig.axes[0].get_ylabel()
