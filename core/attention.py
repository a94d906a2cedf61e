"""What the synthesis model reads in each prompt: per-class cross-attention, its figures and its file."""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from .io.patch_files import write_npz
from .progress import NULL_REPORTER, Reporter
from .report import agg_figure, save_figure
from .scene import ClassInfo
from .tokens import hidden_function_words, panel_words, token_table

ATTENTION_FIGURE = "attention.png"
ATTENTION_ARRAYS = "attention.npz"
ROW_LABEL_WIDTH = 16  # characters of a class name on one line of a figure row's label
MIN_SPAN = 2.0  # the colour scale reaches at least half and twice the even share, so noise near it stays pale


@dataclass
class ClassAttention:
    """One synthetic patch of a class and where its latent tokens attended to each word of the class's prompt."""

    class_id: int
    name: str
    attention: np.ndarray  # (layers, T, W): latent tokens × the prompt's word pieces, mean over heads and steps
    tokens: list[str]  # (W,) word pieces, start/end markers included (the dock and figures skip them)
    latent_hw: tuple[int, int]  # the latent grid: T = h * w
    patch: np.ndarray  # (B, p, p) float32, the synthetic patch in the scene's physical units
    anchored: bool = False  # the patch started from a labelled patch of the class noised part-way, as a run's do


def class_attention(model: Any, classes: list[ClassInfo], seed: int = 0, reporter: Reporter = NULL_REPORTER, *,
                    anchor_strength: float = 1.0, guidance: Optional[float] = None,
                    steps: Optional[int] = None) -> Any:
    """One patch per class synthesised with its prompt and each word's cross-attention (mean over heads and
    steps), as a ``SyntheticSet``, made as the run makes its training patches: below ``anchor_strength`` 1 it
    starts from a labelled patch of the class kept with the model (from noise for a class with none), with the
    run's ``guidance`` and ``steps`` (None: the model's). The run's own patches are sampled without it (its maps
    for hundreds of patches would only cost memory)."""
    from .ldm.synthesize import synthesize

    anchors = {}
    if anchor_strength < 1:
        kept = {c.id: model.examples_of(c.id) for c in classes}
        anchors = {k: v for k, v in kept.items() if v is not None}
    return synthesize(model, {c.id: c.text for c in classes}, 1, seed=seed, return_attention=True,
                      guidance=guidance, steps=steps, anchors=anchors or None,
                      strength=anchor_strength if anchors else 1.0, reporter=reporter)


def per_class(synthetic: Any, classes: Sequence[ClassInfo]) -> list[ClassAttention]:
    """Split :func:`class_attention`'s set into one :class:`ClassAttention` per patch, in its order."""
    names = {c.id: c.name for c in classes}
    started = synthetic.anchor_index if synthetic.anchor_index is not None else np.full(len(synthetic.labels), -1)
    rows = []
    for i, class_id in enumerate(synthetic.labels):
        tokens = list(synthetic.tokens[i])
        maps = np.asarray(synthetic.attention[i])[:, :, :len(tokens)]  # drop the padding of shorter prompts
        side = math.isqrt(maps.shape[1])  # latents are square: T = side²
        rows.append(ClassAttention(int(class_id), names.get(int(class_id), str(int(class_id))),
                                   maps.astype(np.float32), tokens, (side, side),
                                   np.asarray(synthetic.patches[i], dtype=np.float32), bool(started[i] >= 0)))
    return rows


def write_class_attention(out: Path, rows: Sequence[ClassAttention], wavelengths: Optional[Sequence[float]]) -> None:
    """Write the figure (``attention.png``) and the arrays the attention dock reads (``attention.npz``) into ``out``."""
    class_attention_figure(out / ATTENTION_FIGURE, rows)
    width = max(len(r.tokens) for r in rows)
    attention = np.zeros((len(rows), *rows[0].attention.shape[:2], width), np.float32)  # (N, layers, T, W)
    for i, r in enumerate(rows):
        attention[i, :, :, :len(r.tokens)] = r.attention
    tokens, n_tokens = token_table([r.tokens for r in rows])
    arrays = {"class_ids": np.array([r.class_id for r in rows], np.int32),
              "names": np.array([r.name for r in rows], dtype="U200"),
              "n_tokens": n_tokens, "tokens": tokens,
              "attention": attention, "patches": np.stack([r.patch for r in rows]),
              "anchored": np.array([r.anchored for r in rows], bool)}
    if wavelengths is not None:
        arrays["wavelengths"] = np.asarray(wavelengths, dtype=np.float32)
    write_npz(out / ATTENTION_ARRAYS, arrays)


def read_class_attention(path: str | Path) -> tuple[list[ClassAttention], Optional[np.ndarray]]:
    """The rows of a run's ``attention.npz`` and the wavelengths of its patches' bands (None when unknown)."""
    with np.load(Path(path)) as f:
        missing = {"class_ids", "names", "n_tokens", "tokens", "attention", "patches"} - set(f.files)
        if missing:
            raise ValueError(f"{path} is not a HyperSynth attention file: it lacks {', '.join(sorted(missing))}")
        anchored = f["anchored"] if "anchored" in f.files else np.zeros(len(f["class_ids"]), bool)  # older: noise
        rows = []
        for i, class_id in enumerate(f["class_ids"]):
            n = int(f["n_tokens"][i])
            maps = f["attention"][i, :, :, :n]  # (layers, T, W)
            side = math.isqrt(maps.shape[1])
            rows.append(ClassAttention(int(class_id), str(f["names"][i]), maps, [str(t) for t in f["tokens"][i, :n]],
                                       (side, side), f["patches"][i], bool(anchored[i])))
        wavelengths = f["wavelengths"] if "wavelengths" in f.files else None
    return rows, wavelengths


def even_share(attention: np.ndarray) -> tuple[float, int]:
    """``(share, n)``: the attention a token gets where a position attends to the ``n`` prompt tokens it reaches
    alike (about ``1/n``), from ``(layers, T, W)`` maps; a token the model masked out (no attention anywhere) is
    none of the ``n``. The attention dock's rule."""
    reached = int((attention > 0).any(axis=(0, 1)).sum()) or attention.shape[2]
    return float(attention.sum(axis=2).mean()) / reached or 1.0 / reached, reached


def scale_ticks(span: float, most: int = 7) -> list[float]:
    """Colour bar ticks between ``1/span`` and ``span`` times the even share: powers of two, 1 included, at most
    ``most`` (odd, at least 3: a short bar's labels overlapped)."""
    top = int(np.floor(np.log2(span) + 1e-9))
    step = max(1, -(-top // max(1, (most - 1) // 2)))
    return [2.0 ** e for e in range(-(top // step) * step, top + 1, step)]


def times_label(value: float) -> str:
    """A tick's label: ``2×``, ``1×``, ``½×``, ``¼×``…"""
    if value >= 1:
        return f"{value:g}×"
    return {0.5: "½×", 0.25: "¼×"}.get(value, f"1/{1 / value:g}×")


def class_attention_figure(path: Path, rows: Sequence[ClassAttention]) -> Any:
    """A row per class: where the denoiser's latent positions attend to each word piece of the class's prompt (mean
    over layers), as a multiple of the even share ``1/n`` of that prompt (:func:`even_share`), on one diverging
    scale for all rows, red above and blue below 1×, from ``1/k`` to ``k`` (log), ``k`` at least
    :data:`MIN_SPAN`: a map within a few per cent of even stays pale (as the attention dock shows it). Returns the
    figure, saved to ``path``."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LogNorm

    n_cols = max(1, max(len(panel_words(r.tokens)) for r in rows))
    width = 1.5 * n_cols + 1.6
    fig = agg_figure(width, 1.6 * len(rows) + 0.9)
    fig.set_layout_engine("constrained")
    grid = fig.subplots(len(rows), n_cols, squeeze=False)
    ratios, shares = [], []
    for row in rows:
        share, n = even_share(row.attention)
        maps = row.attention.mean(axis=0) / share  # (T, W): latent positions × word pieces, × the even share
        ratios.append([np.clip(maps[:, j], 1e-6, None).reshape(row.latent_hw) for j, _ in panel_words(row.tokens)])
        shares.append(n)
    shown = [r for maps in ratios for r in maps]
    low = min((float(r.min()) for r in shown), default=1.0)
    high = max((float(r.max()) for r in shown), default=1.0)
    span = max(MIN_SPAN, high, 1.0 / low)
    norm = LogNorm(vmin=1.0 / span, vmax=span)  # one scale for every row
    cmap = colormaps["RdBu_r"]
    for r, (row, maps, n) in enumerate(zip(rows, ratios, shares)):
        words = panel_words(row.tokens)
        for k, ax in enumerate(grid[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            if k >= len(words):
                ax.set_axis_off()
                continue
            ax.imshow(maps[k], cmap=cmap, norm=norm, interpolation="nearest")
            ax.set_title(words[k][1], fontsize=8)
            if k == 0:
                ax.set_ylabel(_row_label(row, n), fontsize=8)
    ticks = scale_ticks(span)
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=list(grid.ravel()), shrink=0.6, pad=0.01, ticks=ticks)
    bar.ax.set_yticklabels([times_label(t) for t in ticks])
    bar.ax.minorticks_off()
    bar.ax.tick_params(labelsize=7)
    bar.set_label("× even share 1/n (n: the prompt's tokens); one scale for all rows", fontsize=8)
    title = (f"Cross-attention of each prompt word piece over one synthetic patch per class{_started(rows)}, as a "
             f"multiple of the even share 1/n (red: more, blue: less; here {low:.2f}–{high:.2f}×); n counts every "
             "token, the start, end and punctuation ones too; those and the function words ('a', 'of', 'the'…) "
             "have no panel")
    fig.suptitle(textwrap.fill(title, max(40, int(width * 12))), fontsize=8)
    save_figure(fig, path)
    return fig


def _row_label(row: ClassAttention, n: int) -> str:
    """A figure row's label: the class name wrapped (a long one ran off the figure), the even share, the function
    words without a panel (as the attention dock hides them) and how many of the other words have one where the
    figure has no room for all."""
    name = textwrap.fill(row.name, ROW_LABEL_WIDTH, max_lines=3, placeholder=" …") or row.name
    shown = panel_words(row.tokens)
    hidden = hidden_function_words(row.tokens, shown)
    content = len(panel_words(row.tokens, limit=None))
    label = f"{name}\n(1/n = 1/{n})" + (f"\nfirst {len(shown)} of {content} words" if content > len(shown) else "")
    return label + ("\n" + textwrap.fill(f"not shown: {', '.join(hidden)}", ROW_LABEL_WIDTH, max_lines=2,
                                        placeholder=" …") if hidden else "")


def _started(rows: Sequence[ClassAttention]) -> str:
    """Where the figure's patches started, as its title says it."""
    anchored = [r.name for r in rows if r.anchored]
    if not anchored:
        return " (from noise)"
    if len(anchored) == len(rows):
        return " (each from a labelled patch kept with the model, as a run starts from its labels)"
    return f" (from a labelled patch kept with the model for {', '.join(anchored)}; the others from noise)"


def attention_figure(path: Path, attention: np.ndarray, tokens: list[str], latent_hw: tuple[int, int],
                     title: str) -> None:
    """Cross-attention of one synthesised patch: one heatmap per prompt word (averaged over layers)."""
    att = attention.mean(axis=0) if attention.ndim == 3 else attention  # (T, W)
    words = panel_words(tokens)
    n = max(1, len(words))
    fig = agg_figure(1.9 * n, 2.3)
    for k, (j, t) in enumerate(words):
        ax = fig.add_subplot(1, n, k + 1)
        ax.imshow(att[:, j].reshape(latent_hw), cmap="magma")
        ax.set_title(t, fontsize=8)
        ax.axis("off")
    fig.suptitle(title, fontsize=8)
    save_figure(fig, path, layout=fig.tight_layout)
