"""What the synthesis model reads in each prompt: per-class cross-attention, its figures and its file."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from .progress import NULL_REPORTER, Reporter
from .report import agg_figure
from .scene import ClassInfo
from .tokens import word_tokens

ATTENTION_FIGURE = "attention.png"
ATTENTION_ARRAYS = "attention.npz"


@dataclass
class ClassAttention:
    """One synthetic patch of a class and where its latent tokens attended to each word of the class's prompt."""

    class_id: int
    name: str
    attention: np.ndarray  # (layers, T, W): latent tokens × the prompt's word pieces, mean over heads and steps
    tokens: list[str]  # (W,) word pieces, start/end markers included (the dock and figures skip them)
    latent_hw: tuple[int, int]  # the latent grid: T = h * w
    patch: np.ndarray  # (B, p, p) float32, the synthetic patch in the scene's physical units


def class_attention(model: Any, classes: list[ClassInfo], seed: int = 0, reporter: Reporter = NULL_REPORTER) -> Any:
    """One patch per class synthesised from noise with its prompt, with each word's cross-attention (mean over
    heads and steps), as a ``SyntheticSet``. The run's own patches are sampled without it (its maps for hundreds
    of patches would only cost memory)."""
    from .ldm.synthesize import synthesize

    return synthesize(model, {c.id: c.text for c in classes}, 1, seed=seed, return_attention=True, reporter=reporter)


def per_class(synthetic: Any, classes: Sequence[ClassInfo]) -> list[ClassAttention]:
    """Split :func:`class_attention`'s set into one :class:`ClassAttention` per patch, in its order."""
    names = {c.id: c.name for c in classes}
    rows = []
    for i, class_id in enumerate(synthetic.labels):
        tokens = list(synthetic.tokens[i])
        maps = np.asarray(synthetic.attention[i])[:, :, :len(tokens)]  # drop the padding of shorter prompts
        side = math.isqrt(maps.shape[1])  # latents are square: T = side²
        rows.append(ClassAttention(int(class_id), names.get(int(class_id), str(int(class_id))),
                                   maps.astype(np.float32), tokens, (side, side),
                                   np.asarray(synthetic.patches[i], dtype=np.float32)))
    return rows


def write_class_attention(out: Path, rows: Sequence[ClassAttention], wavelengths: Optional[Sequence[float]]) -> None:
    """Write the figure (``attention.png``) and the arrays the attention dock reads (``attention.npz``) into ``out``."""
    class_attention_figure(out / ATTENTION_FIGURE, rows)
    width = max(len(r.tokens) for r in rows)
    attention = np.zeros((len(rows), *rows[0].attention.shape[:2], width), np.float32)  # (N, layers, T, W)
    tokens = np.full((len(rows), width), "", dtype="U64")
    for i, r in enumerate(rows):
        attention[i, :, :, :len(r.tokens)] = r.attention
        tokens[i, :len(r.tokens)] = r.tokens
    arrays = {"class_ids": np.array([r.class_id for r in rows], np.int32),
              "names": np.array([r.name for r in rows], dtype="U200"),
              "n_tokens": np.array([len(r.tokens) for r in rows], np.int32), "tokens": tokens,
              "attention": attention, "patches": np.stack([r.patch for r in rows])}
    if wavelengths is not None:
        arrays["wavelengths"] = np.asarray(wavelengths, dtype=np.float32)
    np.savez_compressed(out / ATTENTION_ARRAYS, **arrays)


def read_class_attention(path: str | Path) -> tuple[list[ClassAttention], Optional[np.ndarray]]:
    """The rows of a run's ``attention.npz`` and the wavelengths of its patches' bands (None when unknown)."""
    with np.load(Path(path)) as f:
        missing = {"class_ids", "names", "n_tokens", "tokens", "attention", "patches"} - set(f.files)
        if missing:
            raise ValueError(f"{path} is not a HyperSynth attention file: it lacks {', '.join(sorted(missing))}")
        rows = []
        for i, class_id in enumerate(f["class_ids"]):
            n = int(f["n_tokens"][i])
            maps = f["attention"][i, :, :, :n]  # (layers, T, W)
            side = math.isqrt(maps.shape[1])
            rows.append(ClassAttention(int(class_id), str(f["names"][i]), maps, [str(t) for t in f["tokens"][i, :n]],
                                       (side, side), f["patches"][i]))
        wavelengths = f["wavelengths"] if "wavelengths" in f.files else None
    return rows, wavelengths


def class_attention_figure(path: Path, rows: Sequence[ClassAttention]) -> None:
    """A row per class: where the denoiser's latent tokens attend to each word of the class's prompt (mean over
    layers). One colour scale per row, from its least to its most attended token: a word's share depends on how
    many words its prompt has, and the scale shows where it looks."""
    n_cols = max(1, max(len(word_tokens(r.tokens)) for r in rows))
    fig = agg_figure(1.5 * n_cols + 1.2, 1.6 * len(rows) + 0.4)
    fig.set_layout_engine("constrained")
    grid = fig.subplots(len(rows), n_cols, squeeze=False)
    for r, row in enumerate(rows):
        maps = row.attention.mean(axis=0)  # (T, W): latent tokens × word pieces
        words = word_tokens(row.tokens)
        shown = maps[:, [j for j, _ in words]] if words else np.zeros((1, 1))
        low, top = float(shown.min()), float(max(shown.max(), shown.min() + 1e-6))  # the row's own range
        image = None
        for k, ax in enumerate(grid[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            if k >= len(words):
                ax.set_axis_off()
                continue
            j, word = words[k]
            image = ax.imshow(maps[:, j].reshape(row.latent_hw), cmap="magma", vmin=low, vmax=top)
            ax.set_title(word, fontsize=8)
            if k == 0:
                ax.set_ylabel(row.name, fontsize=8)
        if image is not None:
            fig.colorbar(image, ax=list(grid[r]), shrink=0.9, pad=0.01).ax.tick_params(labelsize=6)
    fig.suptitle("Cross-attention of each prompt word over one synthetic patch per class (brighter: more)", fontsize=8)
    fig.savefig(path)


def attention_figure(path: Path, attention: np.ndarray, tokens: list[str], latent_hw: tuple[int, int],
                     title: str) -> None:
    """Cross-attention of one synthesised patch: one heatmap per prompt word (averaged over layers)."""
    att = attention.mean(axis=0) if attention.ndim == 3 else attention  # (T, W)
    words = word_tokens(tokens)
    n = max(1, len(words))
    fig = agg_figure(1.9 * n, 2.3)
    for k, (j, t) in enumerate(words):
        ax = fig.add_subplot(1, n, k + 1)
        ax.imshow(att[:, j].reshape(latent_hw), cmap="magma")
        ax.set_title(t, fontsize=8)
        ax.axis("off")
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
