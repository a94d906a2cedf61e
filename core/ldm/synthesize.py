"""Synthesise labelled patches from prompts with a trained model, and decide how many each class gets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
import torch

from ..progress import NULL_REPORTER, Reporter
from .augment import rpsc_prompt
from .model import SynthesisModel
from .sampling import SAMPLING_METHODS, SamplerStep, effective_steps, sample

SAMPLE_BATCH = 256  # latents sampled per sampler run


@dataclass
class SyntheticSet:
    """Synthetic labelled patches, in the scene's physical units."""

    patches: np.ndarray  # (N, B, p, p) float32 physical units
    labels: np.ndarray  # (N,) int32 class id of the centre pixel
    masks: np.ndarray  # (N, p, p) int32 class id of every pixel
    prompts: list[str]  # (N,) the prompt each patch was sampled from
    attention: Optional[np.ndarray] = None  # (N, layers, T, L) cross-attention, mean over heads and steps
    tokens: Optional[list[list[str]]] = None  # (N,) word pieces labelling the first len() columns of L
    anchor_index: Optional[np.ndarray] = None  # (N,) int64: which of its class's anchor patches a patch started from
    # (its row in the ``anchors`` block synthesize was given; -1 = from pure noise); None where not recorded
    clipped: Optional[np.ndarray] = None  # (N,) int64 values of each patch that lay outside the range of values the
    # model learnt (``SynthesisModel.value_range``) and were clipped to it; None where not recorded

    def subset(self, keep: np.ndarray) -> "SyntheticSet":
        """The patches where the ``(N,)`` boolean ``keep`` is true, with everything recorded of them."""
        keep = np.asarray(keep, dtype=bool)
        return SyntheticSet(
            patches=self.patches[keep], labels=self.labels[keep], masks=self.masks[keep],
            prompts=[p for p, k in zip(self.prompts, keep) if k],
            attention=None if self.attention is None else self.attention[keep],
            tokens=None if self.tokens is None else [t for t, k in zip(self.tokens, keep) if k],
            anchor_index=None if self.anchor_index is None else self.anchor_index[keep],
            clipped=None if self.clipped is None else self.clipped[keep])

    def clipped_share(self) -> float:
        """The share of all values that were clipped into the model's range (0 when not recorded)."""
        if self.clipped is None or not self.patches.size:
            return 0.0
        return float(self.clipped.sum()) / float(self.patches.size)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def balance_counts(real_counts: dict[int, int], n_total: int, balance_rate: float) -> dict[int, int]:
    """How many synthetic patches each class gets.

    Class k's share is proportional to ``count_k ** -λ``: λ = 0 gives every class the same number,
    λ = 1 gives numbers inversely proportional to the real counts (rare classes get more). Shares are
    rounded by largest remainder, so the counts sum to ``n_total`` exactly.

    Args:
        real_counts: class id → number of real labelled samples (0 counts as 1).
        n_total: synthetic patches to share out.
        balance_rate: λ in [0, 1].
    """
    if not real_counts:
        raise ValueError("balance_counts needs at least one class")
    if n_total < 0:
        raise ValueError(f"n_total must be >= 0, got {n_total}")
    if not 0.0 <= balance_rate <= 1.0:
        raise ValueError(f"balance_rate λ must be in [0, 1], got {balance_rate}")
    if any(int(n) < 0 for n in real_counts.values()):
        raise ValueError(f"real counts must be >= 0, got {real_counts}")
    ids = list(real_counts)
    counts = np.array([max(int(real_counts[i]), 1) for i in ids], dtype=np.float64)
    weights = counts ** -balance_rate
    exact = n_total * weights / weights.sum()
    base = np.floor(exact).astype(np.int64)
    remainder = exact - base
    order = np.lexsort((np.arange(len(ids)), -remainder))  # largest remainder first, ties by order given
    base[order[: n_total - int(base.sum())]] += 1
    return {int(i): int(n) for i, n in zip(ids, base)}


def clip_to_learnt_range(model: SynthesisModel, patches: np.ndarray) -> np.ndarray:
    """Clip ``(N, B, p, p)`` physical patches, in place, to each band's lowest and highest value in the scene the
    model learnt (``model.value_range``); returns how many values moved, per patch ``(N,)``.

    A sample from pure noise can leave what the scene holds (water below 0 reflectance past 1000 nm); clipping in
    physical units, per band, keeps it there. Written here because diffusers' ``clip_sample`` clips the whole
    latent to one fixed bound, and our bound is per band and in the decoded patch. A model without a range (a
    bundle saved before session 35) clips nothing.
    """
    if model.value_range is None:
        return np.zeros(len(patches), dtype=np.int64)
    low = model.value_range[0][None, :, None, None]  # (1, B, 1, 1)
    high = model.value_range[1][None, :, None, None]  # (1, B, 1, 1)
    moved = ((patches < low) | (patches > high)).sum(axis=(1, 2, 3))  # (N,)
    np.clip(patches, low, high, out=patches)
    return moved.astype(np.int64)


def _batch_seed(seed: int, *keys: int) -> int:
    """A seed for one sampler run that depends only on the user seed and what is sampled."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *[int(k) & 0xFFFFFFFF for k in keys]])
               .generate_state(1)[0])


def _check_sampling(model: SynthesisModel, guidance: Optional[float], steps: Optional[int], method: str
                    ) -> tuple[float, int]:
    if method not in SAMPLING_METHODS:
        raise ValueError(f"unknown sampling method {method!r}; choose one of {', '.join(SAMPLING_METHODS)}")
    guidance = model.config.diffusion.guidance if guidance is None else float(guidance)
    steps = model.config.diffusion.sample_steps if steps is None else int(steps)
    if guidance < 0:
        raise ValueError(f"guidance ω must be >= 0 (0 = unconditional), got {guidance}")
    return guidance, steps


def _sample_prompt(model: SynthesisModel, prompt: str, n: int, *, guidance: float, steps: int, method: str,
                   seed: int, return_attention: bool, reporter: Reporter, done: int, total: int,
                   stage: str, anchors: Optional[np.ndarray] = None, strength: float = 1.0
                   ) -> tuple[np.ndarray, Optional[np.ndarray], np.ndarray, np.ndarray]:
    """``n`` patches for one prompt in batches: ``(patches (n, B, p, p), attention (n, layers, T, L) or None,
    anchor index (n,), values clipped into the model's range (n,))``.

    With ``anchors`` ``(m, B, p, p)`` (physical units) and ``strength`` < 1 sample i starts from anchor ``i mod m``,
    noised to ``strength``; its anchor index is then ``i mod m``, else -1 (pure noise).
    """
    cond = model.text_encoder.encode([prompt])  # (1, L, D), (1, L)
    uncond = model.text_encoder.encode([model.null_prompt])  # (1, L0, D), (1, L0)
    anchor_latents = None if anchors is None or strength >= 1.0 else model.encode(anchors)  # (m, c, p', p')
    anchor_decoded = None if anchor_latents is None else model.decode(anchor_latents)  # (m, B, p, p) physical
    run_steps = effective_steps(steps, 1.0 if anchor_latents is None else strength)
    patches, attention, clipped = [], [], []
    for batch, start in enumerate(range(0, n, SAMPLE_BATCH)):
        size = min(SAMPLE_BATCH, n - start)
        summed: list[torch.Tensor] = []
        init = None
        if anchor_latents is not None:
            init = anchor_latents[torch.arange(start, start + size, device=anchor_latents.device)
                                  % anchor_latents.shape[0]]  # (size, c, p', p')

        def callback(step: SamplerStep, first: int = done + start * run_steps) -> None:
            if step.attention is not None:
                heads_mean = torch.stack([a.mean(dim=1) for a in step.attention], dim=1)  # (b, layers, T, L)
                summed.append(heads_mean)
            reporter.progress((first + (step.index + 1) * size) / max(total, 1), stage)
            reporter.check()

        latents, _ = sample(model.ema_denoiser, cond, uncond, (size,) + tuple(model.latent_shape), steps=steps,
                            guidance=guidance, method=method, seed=_batch_seed(seed, batch),
                            train_cfg=model.config.diffusion, return_attention=return_attention, callback=callback,
                            device=model.device, init_latent=init, strength=strength if init is not None else 1.0)
        decoded = model.decode(latents)  # (size, B, p, p) physical
        if init is not None:
            # Keep the anchor's own detail: add to the real patch only what the diffusion changed, measured
            # between two decodes, so the VAE's reconstruction error (≈ 1° SAM, the size of the gap between
            # neighbouring crop stages) cancels instead of blurring the classes.
            index = np.arange(start, start + size) % len(anchors)
            decoded = anchors[index] + decoded - anchor_decoded[index]
        clipped.append(clip_to_learnt_range(model, decoded))
        patches.append(decoded)
        if return_attention:
            attention.append((torch.stack(summed).mean(dim=0)).float().cpu().numpy())
    anchor_index = np.arange(n) % len(anchors) if anchor_latents is not None else np.full(n, -1)
    return (np.concatenate(patches), (np.concatenate(attention) if return_attention else None), anchor_index,
            np.concatenate(clipped))


def _pad_attention(blocks: list[np.ndarray]) -> np.ndarray:
    """Concatenate ``(n_i, layers, T, L_i)`` attention blocks, zero-padding L to the longest."""
    length = max(b.shape[-1] for b in blocks)
    return np.concatenate([np.pad(b, [(0, 0)] * 3 + [(0, length - b.shape[-1])]) for b in blocks])


def synthesize(model: SynthesisModel, prompts_by_class: dict[int, str], n_per_class: Union[int, dict[int, int]], *,
               guidance: Optional[float] = None, steps: Optional[int] = None, seed: int = 0, method: str = "ddim",
               return_attention: bool = False, anchors: Optional[dict[int, np.ndarray]] = None,
               strength: float = 1.0, reporter: Reporter = NULL_REPORTER) -> SyntheticSet:
    """Sample patches for each class from its prompt and label them with the class.

    Args:
        model: a trained (or loaded) synthesis model.
        prompts_by_class: class id → prompt (coarse "corn" or fine "corn field, minimum tillage").
        n_per_class: patches per class, one number for all or class id → number.
        guidance: classifier-free guidance ω (0 = unconditional, 1 = conditional, >1 stronger);
            None = the model's default.
        steps: reverse diffusion steps; None = the model's default.
        seed: the same seed, model and arguments give the same patches (per device).
        method: "ddim" (deterministic given the seed) or "ancestral".
        return_attention: also return cross-attention maps (mean over heads and steps) and word pieces.
        reporter: progress per sampling step and cancel.

    Returns:
        A :class:`SyntheticSet` with the classes in the order of ``prompts_by_class``.
    """
    guidance, steps = _check_sampling(model, guidance, steps, method)
    anchors = {int(k): v for k, v in (anchors or {}).items()}
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1] (1 = start from pure noise), got {strength}")
    for class_id, block in anchors.items():
        shape = (model.bands, model.patch_size, model.patch_size)
        if np.ndim(block) != 4 or len(block) == 0 or tuple(np.shape(block)[1:]) != shape:
            raise ValueError(f"anchors of class {class_id} must be a non-empty (m, {', '.join(map(str, shape))}) "
                             f"array of patches, got shape {np.shape(block)}")
    counts = {int(c): int(n_per_class if isinstance(n_per_class, int) else n_per_class.get(c, 0))
              for c in prompts_by_class}
    if isinstance(n_per_class, dict):
        unknown = sorted(set(map(int, n_per_class)) - set(counts))
        if unknown:
            raise ValueError(f"n_per_class names classes {unknown} that have no prompt in prompts_by_class")
    if any(n < 0 for n in counts.values()):
        raise ValueError(f"the number of patches per class must be >= 0, got {counts}")
    empty = [c for c, prompt in prompts_by_class.items() if not str(prompt).strip()]
    if empty:
        raise ValueError(f"classes {empty} have an empty prompt; write a prompt (the class name will do)")
    for prompt in prompts_by_class.values():  # the analyst's prompts: one longer than the text tower reads is said
        model.text_encoder.say_if_cut(prompt)

    def class_steps(class_id: int) -> int:
        return effective_steps(steps, strength if int(class_id) in anchors else 1.0)

    total = sum(n * class_steps(c) for c, n in counts.items())
    patches, labels, prompts, attention, tokens, anchor_index, clipped = [], [], [], [], [], [], []
    done = 0
    for class_id, prompt in prompts_by_class.items():
        n = counts[int(class_id)]
        if n == 0:
            continue
        block, att, started_from, moved = _sample_prompt(
            model, prompt, n, guidance=guidance, steps=steps, method=method, seed=_batch_seed(seed, class_id),
            return_attention=return_attention, reporter=reporter, done=done, total=total,
            stage=f"sampling class {class_id}", anchors=anchors.get(int(class_id)), strength=strength)
        done += n * class_steps(class_id)
        patches.append(block)
        labels.append(np.full(n, class_id, dtype=np.int32))
        anchor_index.append(started_from)
        clipped.append(moved)
        prompts += [prompt] * n
        if att is not None:
            attention.append(att)
            tokens += [model.text_encoder.tokens(prompt)] * n
    p, bands = model.patch_size, model.bands
    if not patches:
        return SyntheticSet(np.zeros((0, bands, p, p), np.float32), np.zeros(0, np.int32),
                            np.zeros((0, p, p), np.int32), [], None, [] if return_attention else None,
                            np.zeros(0, np.int64), np.zeros(0, np.int64))
    all_labels = np.concatenate(labels)
    return SyntheticSet(
        patches=np.concatenate(patches).astype(np.float32, copy=False), labels=all_labels,
        masks=np.broadcast_to(all_labels[:, None, None], (len(all_labels), p, p)).copy(), prompts=prompts,
        attention=_pad_attention(attention) if return_attention else None,
        tokens=tokens if return_attention else None, anchor_index=np.concatenate(anchor_index).astype(np.int64),
        clipped=np.concatenate(clipped))


def synthesize_rpsc(model: SynthesisModel, id_a: int, id_b: int, n: int, *, prompt_a: Optional[str] = None,
                    prompt_b: Optional[str] = None, guidance: Optional[float] = None, steps: Optional[int] = None,
                    seed: int = 0, method: str = "ddim", return_attention: bool = False,
                    reporter: Reporter = NULL_REPORTER) -> SyntheticSet:
    """Mixed patches from the RPSC prompt "a with a patch of b", with a per-pixel class mask.

    The model is not told where b goes, so the mask is read from the result: each pixel gets the class
    (a or b) whose mean labelled spectrum is nearest in standardised units. ``labels`` is the class of
    the centre pixel.
    """
    guidance, steps = _check_sampling(model, guidance, steps, method)
    if id_a == id_b:
        raise ValueError("RPSC mixes two different classes; give two different class ids")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    info_a, info_b = model.class_info(id_a), model.class_info(id_b)
    prompt = rpsc_prompt(prompt_a or info_a.text, prompt_b or info_b.text)
    patches, attention, _, clipped = _sample_prompt(
        model, prompt, n, guidance=guidance, steps=steps, method=method, seed=_batch_seed(seed, id_a, id_b),
        return_attention=return_attention, reporter=reporter, done=0, total=n * steps,
        stage=f"sampling classes {id_a}+{id_b}") if n else (None, None, None, None)
    p = model.patch_size
    if patches is None:
        return SyntheticSet(np.zeros((0, model.bands, p, p), np.float32), np.zeros(0, np.int32),
                            np.zeros((0, p, p), np.int32), [], None, [] if return_attention else None)
    ids = [c.id for c in model.classes]
    refs = model.class_spectra[[ids.index(id_a), ids.index(id_b)]]  # (2, B)
    std = model.normalizer.std.cpu().numpy()  # (B,)
    diff = (patches[:, None] - refs[None, :, :, None, None]) / std[None, None, :, None, None]  # (N, 2, B, p, p)
    nearest = np.square(diff).sum(axis=2).argmin(axis=1)  # (N, p, p) 0 = a, 1 = b
    masks = np.where(nearest == 1, id_b, id_a).astype(np.int32)
    return SyntheticSet(patches=patches.astype(np.float32, copy=False), labels=masks[:, p // 2, p // 2].copy(),
                        masks=masks, prompts=[prompt] * n, attention=attention,
                        tokens=[model.text_encoder.tokens(prompt)] * n if return_attention else None,
                        clipped=clipped)
