"""Diffusion schedules and samplers (diffusers schedulers), kept apart from the denoiser.

Classifier-free guidance convention (used everywhere in HyperSynth):
``eps = eps_uncond + ω · (eps_cond − eps_uncond)``, so ω = 0 samples unconditionally (the scene's whole
distribution), ω = 1 uses the conditional prediction alone, and ω > 1 pushes further towards the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Protocol, Union

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DDPMScheduler

from .config import DiffusionConfig

SAMPLING_METHODS = ("ddim", "ancestral")
# Sampling from pure noise clips each step's clean-latent estimate to ± this many standard deviations of the latents
# (scaled to unit variance; the demo's kept labelled patches reach 3.7): see sample_steps
NOISE_START_CLIP = 5.0
# ... and where its first step's ᾱ is below this, that step's clean-latent estimate is the latents' mean, 0 (the noise
# prediction taken as x_T / √(1 − ᾱ_T)): an ε-model's estimate there divides its error by √ᾱ (2e-9 at T − 1 of the
# cosine schedule), which the clip turned into ±5 everywhere and carried into the next latent (review: a Fréchet
# distance to the real latents of 610 against 72 with this); the prompt conditions every later step
FIRST_STEP_ALPHA = 1e-3

TextCondition = tuple[torch.Tensor, torch.Tensor]  # (tokens (N, L, D) float, mask (N, L) bool)


class Denoiser(Protocol):
    """What the sampler calls: the LatentDiT signature (see denoiser.py)."""

    def __call__(self, z: torch.Tensor, t: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor, *,
                 return_attention: bool = False) -> Union[torch.Tensor, tuple]:
        ...


@dataclass
class SamplerStep:
    """One reverse-diffusion step, as the sampler yields it."""

    index: int  # 0-based number of this step
    total: int  # number of steps of the whole run
    timestep: int  # diffusion timestep t of the model call (counts down towards 0)
    latent: torch.Tensor  # (N, C, h, w) the latent after this step (x_{t-1})
    predicted_x0: torch.Tensor  # (N, C, h, w) the model's current estimate of the clean latent
    attention: Optional[list[torch.Tensor]]  # per layer (N, heads, T, L) cross-attention of the prompt pass


def training_scheduler(cfg: DiffusionConfig) -> DDPMScheduler:
    """The DDPM forward process used to noise latents in training (``add_noise``)."""
    return DDPMScheduler(num_train_timesteps=cfg.num_train_timesteps, beta_schedule=cfg.beta_schedule,
                         prediction_type=cfg.prediction_type, clip_sample=False)


def sampling_scheduler(cfg: DiffusionConfig, method: str, steps: int, clip_latents: Optional[float] = None
                       ) -> Union[DDIMScheduler, DDPMScheduler]:
    """A fresh scheduler for ``steps`` reverse steps: DDIM (deterministic, η = 0) or DDPM ancestral.

    ``timestep_spacing="trailing"`` starts at t = T − 1, where training saw pure noise; the default
    "leading" spacing starts lower, which hurts few-step sampling (Lin et al. 2024). ``clip_latents``: each step's
    estimate of the clean latent is clipped to ± this (the latents have unit variance); None leaves it.
    """
    if method not in SAMPLING_METHODS:
        raise ValueError(f"unknown sampling method {method!r}; choose one of {', '.join(SAMPLING_METHODS)}")
    if not 1 <= steps <= cfg.num_train_timesteps:
        raise ValueError(f"steps must be in 1..{cfg.num_train_timesteps} (the training timesteps), got {steps}")
    common = dict(num_train_timesteps=cfg.num_train_timesteps, beta_schedule=cfg.beta_schedule,
                  prediction_type=cfg.prediction_type, clip_sample=clip_latents is not None,
                  clip_sample_range=float(clip_latents or 1.0), timestep_spacing="trailing")
    scheduler: Union[DDIMScheduler, DDPMScheduler]
    scheduler = DDIMScheduler(**common) if method == "ddim" else DDPMScheduler(**common)
    scheduler.set_timesteps(steps)
    return scheduler


def training_target(scheduler: DDPMScheduler, z0: torch.Tensor, noise: torch.Tensor,
                    t: torch.Tensor) -> torch.Tensor:
    """What the denoiser must predict for ``prediction_type``: the noise, or the velocity v."""
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "v_prediction":
        return scheduler.get_velocity(z0, noise, t)
    raise ValueError(f"prediction_type {kind!r} is not supported; use 'epsilon' or 'v_prediction'")


def pad_condition(cond: TextCondition, length: int) -> TextCondition:
    """Zero-pad text tokens ``(N, L, D)`` and mask ``(N, L)`` to ``length`` tokens (padding masked out)."""
    tokens, mask = cond
    extra = length - tokens.shape[1]
    if extra < 0:
        raise ValueError(f"cannot pad {tokens.shape[1]} text tokens down to {length}")
    if extra == 0:
        return tokens, mask
    return F.pad(tokens, (0, 0, 0, extra)), F.pad(mask, (0, extra), value=False)  # (N, length, D), (N, length)


def _batch_condition(cond: TextCondition, n: int, name: str) -> TextCondition:
    """Broadcast a single-prompt condition to ``n`` samples; check shapes."""
    tokens, mask = cond
    if tokens.ndim != 3 or mask.shape != tokens.shape[:2]:
        raise ValueError(f"{name} must be (tokens (N, L, D), mask (N, L)); got {tuple(tokens.shape)} and "
                         f"{tuple(mask.shape)}")
    if tokens.shape[0] == 1 and n > 1:
        return tokens.expand(n, -1, -1), mask.expand(n, -1)
    if tokens.shape[0] != n:
        raise ValueError(f"{name} has {tokens.shape[0]} prompts for {n} samples; give 1 or {n}")
    return tokens, mask


def effective_steps(steps: int, strength: float) -> int:
    """Reverse steps :func:`sample_steps` runs for ``steps`` and a start ``strength`` (1 = from pure noise)."""
    return steps if strength >= 1.0 else max(1, int(round(steps * strength)))


def sample_steps(denoiser: Denoiser, cond: TextCondition, uncond: TextCondition, shape: tuple[int, ...], *,
                 steps: int, guidance: float, method: str = "ddim", seed: int = 0, train_cfg: DiffusionConfig,
                 return_attention: bool = False, callback: Optional[Callable[[SamplerStep], None]] = None,
                 device: Optional[torch.device] = None, init_latent: Optional[torch.Tensor] = None,
                 strength: float = 1.0) -> Iterator[SamplerStep]:
    """Reverse diffusion from Gaussian noise (or from a noised ``init_latent``), one :class:`SamplerStep`
    per step (a generator).

    Args:
        denoiser: the (EMA) LatentDiT, or anything with its call signature.
        cond: the prompt condition ``(tokens (N or 1, L, D), mask (N or 1, L) bool)``.
        uncond: the null-prompt condition, same layout (its L may differ).
        shape: ``(N, C, h, w)`` of the latents to sample.
        steps: number of reverse steps.
        guidance: classifier-free guidance weight ω (see the module docstring; 0 = unconditional).
        method: "ddim" (deterministic, η = 0) or "ancestral" (DDPM, stochastic).
        seed: seeds the starting noise and the ancestral noise.
        train_cfg: the schedule the denoiser was trained with.
        return_attention: attach the prompt pass's cross-attention of every layer to each step.
        callback: called with each step before it is yielded; may raise ``core.progress.Cancelled``.
        device: where to sample; defaults to the device of ``cond``.
        init_latent: ``(N, C, h, w)`` clean latents to start from (SDEdit / image-to-image, Meng et al.
            2022): they are noised to the timestep ``strength`` of the way up the schedule and only the
            remaining reverse steps run. None: start from pure noise.
        strength: in (0, 1]; 1 = pure noise (``init_latent`` ignored), smaller keeps more of the start.

    Yields:
        :class:`SamplerStep` after every reverse step; the last one holds the final latents.
    """
    if len(shape) != 4:
        raise ValueError(f"shape must be (N, C, h, w), got {shape}")
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1] (1 = start from pure noise), got {strength}")
    if init_latent is not None and tuple(init_latent.shape) != tuple(shape):
        raise ValueError(f"init_latent has shape {tuple(init_latent.shape)}, expected {tuple(shape)}")
    n = shape[0]
    device = device or cond[0].device
    cond = _batch_condition(cond, n, "cond")
    uncond = _batch_condition(uncond, n, "uncond")
    from_noise = init_latent is None or strength >= 1.0
    # From pure noise the first step's clean-latent estimate divides the model's noise error by √ᾱ at t = T − 1
    # (2e-9 under the cosine schedule's cap), about 20,000×: the latents ran to a std of ~500 where the data's is 1,
    # and the decoder's GroupNorm hid it (review). Clipped to the latents' range, they stay there. A start from
    # labelled patches (t ≈ T/2 at the run's strength 0.5) never meets that step and is left as benchmarked.
    scheduler = sampling_scheduler(train_cfg, method, steps, NOISE_START_CLIP if from_noise else None)
    need_cond = guidance != 0 or return_attention
    need_uncond = guidance != 1
    if need_cond and need_uncond:
        # One batched call for both passes: pad the prompts to a common token length.
        length = max(cond[0].shape[1], uncond[0].shape[1])
        cond, uncond = pad_condition(cond, length), pad_condition(uncond, length)
        text = torch.cat([cond[0], uncond[0]]).to(device)  # (2N, L, D)
        text_mask = torch.cat([cond[1], uncond[1]]).to(device)  # (2N, L)
    else:
        text, text_mask = (cond if need_cond else uncond)
        text, text_mask = text.to(device), text_mask.to(device)  # (N, L, D), (N, L)

    generator = torch.Generator(device=device).manual_seed(int(seed))
    noise = torch.randn(shape, generator=generator, device=device)  # (N, C, h, w)
    timesteps = scheduler.timesteps
    if init_latent is None or strength >= 1.0:
        latent = noise * scheduler.init_noise_sigma  # (N, C, h, w)
    else:
        # as diffusers' img2img pipelines: skip the first (1 - strength) of the steps, noise the start to match
        timesteps = timesteps[len(timesteps) - effective_steps(steps, strength):]
        latent = scheduler.add_noise(init_latent.to(device), noise, timesteps[:1].repeat(shape[0]))  # (N, C, h, w)
    copies = text.shape[0] // n  # 2 when the prompt and null passes share one call, else 1
    for index, t in enumerate(timesteps):
        z_in = scheduler.scale_model_input(latent, t).repeat(copies, 1, 1, 1)  # (copies·N, C, h, w)
        t_in = torch.full((z_in.shape[0],), int(t), device=device, dtype=torch.long)  # (copies·N,)
        with torch.no_grad():
            result = denoiser(z_in, t_in, text, text_mask, return_attention=return_attention)
        out, extras = result if return_attention else (result, None)  # out: (copies·N, C, h, w)
        if need_cond and need_uncond:
            eps_cond, eps_uncond = out[:n], out[n:]  # (N, C, h, w) each
            model_out = eps_uncond + guidance * (eps_cond - eps_uncond)  # (N, C, h, w)
        else:
            model_out = out  # (N, C, h, w): ω = 0 is the unconditional pass, ω = 1 the conditional one
        if from_noise and index == 0 and scheduler.config.prediction_type == "epsilon":
            alpha = float(scheduler.alphas_cumprod[int(t)])
            if alpha < FIRST_STEP_ALPHA:  # x̂0 = 0 rather than the model's error divided by √ᾱ
                model_out = latent / (1.0 - alpha) ** 0.5  # (N, C, h, w)
        kwargs = {"eta": 0.0} if method == "ddim" else {}
        stepped = scheduler.step(model_out, t, latent, generator=generator, **kwargs)
        latent = stepped.prev_sample  # (N, C, h, w)
        attention = None
        if extras is not None:
            attention = [a[:n] for a in extras.attention]  # per layer (N, heads, T, L) of the prompt pass
        step = SamplerStep(index=index, total=len(timesteps), timestep=int(t), latent=latent,
                           predicted_x0=stepped.pred_original_sample, attention=attention)
        if callback is not None:
            callback(step)
        yield step


def sample(denoiser: Denoiser, cond: TextCondition, uncond: TextCondition, shape: tuple[int, ...], *,
           steps: int, guidance: float, method: str = "ddim", seed: int = 0, train_cfg: DiffusionConfig,
           return_attention: bool = False, callback: Optional[Callable[[SamplerStep], None]] = None,
           device: Optional[torch.device] = None, init_latent: Optional[torch.Tensor] = None,
           strength: float = 1.0) -> tuple[torch.Tensor, SamplerStep]:
    """Run :func:`sample_steps` to the end; returns ``(latents (N, C, h, w), last SamplerStep)``."""
    last: Optional[SamplerStep] = None
    for last in sample_steps(denoiser, cond, uncond, shape, steps=steps, guidance=guidance, method=method,
                             seed=seed, train_cfg=train_cfg, return_attention=return_attention,
                             callback=callback, device=device, init_latent=init_latent, strength=strength):
        pass
    assert last is not None  # steps >= 1 is checked by sampling_scheduler
    return last.latent, last
