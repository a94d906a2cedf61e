"""Train a Txt2HSI-LDM synthesis model on one scene: VAE on all patches, then the text-conditioned denoiser."""

from __future__ import annotations

import copy
import logging
import math
import time
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.training_utils import EMAModel

from ..device import repeatable_training
from ..patches import extract_patches, iter_patch_batches
from ..progress import NULL_REPORTER, Reporter
from ..scene import ClassInfo
from .augment import lf_ue, rpsc_mix_batch, rpsc_prompt
from .config import LDMConfig, resolve_device
from .denoiser import LatentDiT
from .model import NULL_PROMPT, SynthesisModel
from .normalize import BandNormalizer
from .sampling import training_scheduler, training_target
from .text_encoder import TextEncoder
from .vae import SpectralVAE, train_vae

LOG = logging.getLogger("hypersynth")

MAX_PATCH_BYTES = 512 * 2**20  # the VAE's training patches are held in memory: cap them at 512 MiB
ENCODE_BATCH = 512  # patches per VAE encoder call when caching latents
VAE_SHARE = 0.35  # share of the progress bar given to the VAE (the rest: latents, then diffusion)
EXAMPLES_PER_CLASS = 4  # labelled patches of each class kept with the model, for prompt previews to start from
EXAMPLE_STREAM = 45  # the examples are drawn from their own seeded stream: training draws what it drew before


def _check_inputs(cube: np.ndarray, valid: np.ndarray, labels: np.ndarray, classes: list[ClassInfo]) -> None:
    """Raise a ValueError that says what to fix when the scene, labels or classes cannot be trained on."""
    if cube.ndim != 3:
        raise ValueError(f"the cube must be (bands, rows, cols), got shape {cube.shape}")
    if valid.shape != cube.shape[1:] or labels.shape != cube.shape[1:]:
        raise ValueError(f"valid {valid.shape} and labels {labels.shape} must match the cube grid {cube.shape[1:]}")
    if not classes:
        raise ValueError("give at least one class to synthesise")
    ids = [c.id for c in classes]
    if len(set(ids)) != len(ids):
        raise ValueError(f"class ids must be unique, got {ids}")
    if not valid.any():
        raise ValueError("the scene has no valid pixel")
    if not all(np.isfinite(band[valid]).all() for band in cube):  # band by band: no copy of the cube
        raise ValueError("the cube has NaN or infinite values at valid pixels; mark them invalid (no-data)")
    empty = [f"{c.id} ({c.name})" for c in classes if not np.any((labels == c.id) & valid)]
    if empty:
        raise ValueError(f"classes {', '.join(empty)} have no labelled valid pixel; label at least one pixel "
                         "of each class or leave those classes out")


def _pick_pixels(valid: np.ndarray, labels: np.ndarray, classes: list[ClassInfo], cap: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """``(scene pixels (n,) flat indices, labelled pixels per class id)``; the scene sample holds every
    labelled pixel (up to the cap) plus a random subsample of the other valid pixels."""
    flat_valid = np.flatnonzero(valid)
    labelled = {c.id: np.flatnonzero((labels == c.id) & valid) for c in classes}
    all_labelled = np.concatenate(list(labelled.values()))
    if len(all_labelled) > cap // 2:
        all_labelled = rng.choice(all_labelled, cap // 2, replace=False)
    others = np.setdiff1d(flat_valid, all_labelled, assume_unique=True)
    take = min(len(others), cap - len(all_labelled))
    scene = np.concatenate([all_labelled, rng.choice(others, take, replace=False)])
    return np.sort(scene), labelled


def pick_examples(cube: np.ndarray, labelled: dict[int, np.ndarray], patch_size: int, seed: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(patches (M, B, p, p) physical, class ids (M,))``: up to :data:`EXAMPLES_PER_CLASS` labelled patches of each
    class, drawn at random (seeded), kept with the model so that a prompt preview starts from labelled patches as a
    run does."""
    rng = np.random.default_rng([seed, EXAMPLE_STREAM])
    flat, ids = [], []
    for class_id, pixels in labelled.items():
        chosen = rng.permutation(pixels)[:EXAMPLES_PER_CLASS]
        flat.append(chosen)
        ids.append(np.full(len(chosen), class_id, dtype=np.int64))
    flat_all, ids_all = np.concatenate(flat), np.concatenate(ids)
    rows, cols = np.unravel_index(flat_all, cube.shape[1:])
    return extract_patches(cube, rows, cols, patch_size).astype(np.float32), ids_all


def band_range(cube: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``(2, B)`` float32: each band's lowest and highest value over the ``valid`` pixels of a ``(B, H, W)`` cube.

    One band at a time, so a full-size scene is never copied whole.
    """
    ranges = []
    for band in cube:
        values = band[valid]  # (n_valid,) one copy a band, read once for both ends
        ranges.append((values.min(), values.max()))
    return np.array(ranges, dtype=np.float32).T


@torch.no_grad()
def _encode_pixels(vae: SpectralVAE, normalizer: BandNormalizer, cube: np.ndarray, flat: np.ndarray,
                   patch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior ``(mean, logvar)`` ``(n, c, p', p')`` of the patches centred on ``flat`` pixel indices."""
    rows, cols = np.unravel_index(flat, cube.shape[1:])
    means, logvars = [], []
    for _, patches in iter_patch_batches(cube, rows, cols, patch_size, ENCODE_BATCH):
        x = normalizer.normalize(torch.from_numpy(patches).to(device))  # (b, B, p, p)
        mean, logvar = vae.encode(x)  # (b, c, p', p') each
        means.append(mean)
        logvars.append(logvar)
    return torch.cat(means), torch.cat(logvars)


def train_synthesis_model(cube: np.ndarray, valid: np.ndarray, labels: np.ndarray, classes: list[ClassInfo],
                          cfg: LDMConfig, *, reporter: Reporter = NULL_REPORTER, max_unlabelled: int = 20000,
                          wavelengths: Optional[np.ndarray] = None) -> SynthesisModel:
    """Train the whole synthesis engine on one scene.

    1. Patches of the valid pixels (all labelled ones plus a random subsample, at most
       ``max_unlabelled`` and 512 MiB) fit the band normaliser and train the VAE.
    2. Their latents (posterior mean/log-variance) are cached; latents are scaled to unit variance.
    3. The DiT denoiser learns to predict the DDPM noise. Each batch mixes a share
       ``cfg.diffusion.unlabelled_fraction`` of scene patches with the null prompt and labelled patches
       with their class prompt (classes drawn equally often); a labelled sample becomes an RPSC mix of two
       classes with probability ``rpsc_probability`` (prompt naming both); prompts are dropped to the null
       prompt with probability ``prompt_dropout`` (for classifier-free guidance); LF-UE perturbs the
       batch's latent statistics with ``lfue_strength``. An EMA copy of the weights is kept for sampling.
       The text tower trains jointly when the text encoder is trainable (``cfg.text.finetune`` for a
       pretrained tower at a ``finetune_lr_scale`` lower rate, ``cfg.text.train_random_tower`` for a random one).

    Args:
        cube: ``(B, H, W)`` float32 physical values (the scene's usable bands).
        valid: ``(H, W)`` bool, pixels that may be used.
        labels: ``(H, W)`` int label ids, 0 = unlabelled; ids not in ``classes`` count as unlabelled.
        classes: the classes to learn, each with its prompt (``ClassInfo.text``).
        cfg: the configuration (see :func:`config.preset`).
        reporter: progress ("VAE e/E", "latents", "diffusion e/E") and cancel.
        max_unlabelled: cap on the scene patches used for the VAE and as unlabelled diffusion samples.
        wavelengths: ``(B,)`` nanometres, stored with the model for plots.

    Returns:
        The trained :class:`SynthesisModel` (modules in eval mode).
    """
    cube = np.asarray(cube, dtype=np.float32)
    valid, labels = np.asarray(valid, dtype=bool), np.asarray(labels)
    _check_inputs(cube, valid, labels, classes)
    cfg = copy.deepcopy(cfg).validate()
    if wavelengths is not None and np.shape(wavelengths) != (cube.shape[0],):
        raise ValueError(f"wavelengths must hold one value per band ({cube.shape[0]}), got shape "
                         f"{np.shape(wavelengths)}")
    if max_unlabelled < 2:
        raise ValueError(f"max_unlabelled must be at least 2, got {max_unlabelled}")
    started = time.perf_counter()
    device = resolve_device(cfg.device)
    rng = np.random.default_rng(cfg.seed)
    bands, p = cube.shape[0], cfg.vae.patch_size
    cap = int(min(max_unlabelled, cfg.diffusion.scene_patches, max(2, MAX_PATCH_BYTES // (bands * p * p * 4))))
    scene_pixels, labelled = _pick_pixels(valid, labels, classes, cap, rng)
    # patches are read from the cube itself, reflected at its border (extract_patches): a padded copy of the
    # cube, held through the whole training, was a second cube in memory

    # 1. Normaliser and VAE on the scene patches.
    rows, cols = np.unravel_index(scene_pixels, valid.shape)
    patches = extract_patches(cube, rows, cols, p)  # (n, B, p, p) physical
    normalizer = BandNormalizer(bands).fit(patches)
    patches = normalizer.normalize_array(patches)  # (n, B, p, p) standardised
    normalizer.to(device)
    with repeatable_training(device):  # one seed, one model (CPU gradients are summed in a varying order otherwise)
        vae, vae_history = train_vae(patches, cfg.vae, seed=cfg.seed, device=device,
                                     physical=(normalizer.mean, normalizer.std), reporter=reporter.sub(0.0, VAE_SHARE))
    del patches
    vae.requires_grad_(False)

    # 2. Cached latents of the scene sample and of every labelled pixel.
    reporter.progress(VAE_SHARE, "latents")
    reporter.check()
    scene_mean, scene_logvar = _encode_pixels(vae, normalizer, cube, scene_pixels, p, device)
    latent_scale = float(1.0 / max(scene_mean.std().item(), 1e-4))
    lab_latents = {cid: _encode_pixels(vae, normalizer, cube, flat, p, device)
                   for cid, flat in labelled.items()}
    class_spectra = np.stack([cube[:, valid & (labels == c.id)].mean(axis=1) for c in classes]).astype(np.float32)
    value_range = band_range(cube, valid)  # (2, B)
    examples, example_ids = pick_examples(cube, labelled, p, cfg.seed)  # (M, B, p, p), (M,)

    # 3. Text tower, denoiser, EMA.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        text_encoder = TextEncoder(cfg.text).to(device)
        c, size, _ = vae.latent_shape
        denoiser = LatentDiT(cfg.denoiser, latent_channels=c, latent_size=size, text_dim=text_encoder.width).to(device)
    ema_denoiser = copy.deepcopy(denoiser).requires_grad_(False).eval()
    ema = EMAModel(denoiser.parameters(), decay=cfg.diffusion.ema_decay)
    groups: list[dict[str, Any]] = [{"params": list(denoiser.parameters()), "lr": cfg.diffusion.lr}]
    if text_encoder.trainable:
        random_tower = text_encoder.source.startswith("random-init")
        scale = 1.0 if random_tower else cfg.text.finetune_lr_scale  # a pretrained tower only adapts
        groups.append({"params": list(text_encoder.parameters()), "lr": cfg.diffusion.lr * scale})
    optimizer = torch.optim.AdamW(groups, weight_decay=0.0)
    scheduler = training_scheduler(cfg.diffusion)
    generator = torch.Generator(device=device).manual_seed(cfg.seed)

    with repeatable_training(device):
        diffusion_history = _train_denoiser(
            cfg, denoiser, ema, optimizer, scheduler, text_encoder, vae, normalizer, cube, classes,
            labelled, lab_latents, (scene_mean, scene_logvar), latent_scale, rng, generator, device,
            reporter.sub(VAE_SHARE + 0.02, 1.0))
    ema.copy_to(ema_denoiser.parameters())
    denoiser.eval()
    text_encoder.set_trainable(False)
    text_encoder.eval()

    history = {
        "vae": vae_history,
        "diffusion": diffusion_history,
        "n_scene_patches": int(len(scene_pixels)),
        "n_labelled": {str(cid): int(len(flat)) for cid, flat in labelled.items()},
        "text_source": text_encoder.source,
        "seconds": round(time.perf_counter() - started, 2),
        "device": str(device),
    }
    reporter.progress(1.0, f"diffusion {cfg.diffusion.epochs}/{cfg.diffusion.epochs}")
    return SynthesisModel(
        config=cfg, normalizer=normalizer, vae=vae.eval(), text_encoder=text_encoder, denoiser=denoiser,
        ema_denoiser=ema_denoiser, classes=list(classes), class_spectra=class_spectra, latent_scale=latent_scale,
        wavelengths=None if wavelengths is None else np.asarray(wavelengths, dtype=np.float64),
        value_range=value_range, history=history, example_patches=examples, example_class_ids=example_ids,
        device=device)


def _train_denoiser(cfg: LDMConfig, denoiser: LatentDiT, ema: EMAModel, optimizer: torch.optim.Optimizer,
                    scheduler: Any, text_encoder: TextEncoder, vae: SpectralVAE, normalizer: BandNormalizer,
                    cube: np.ndarray, classes: list[ClassInfo],
                    labelled: dict[int, np.ndarray], lab_latents: dict[int, tuple[torch.Tensor, torch.Tensor]],
                    scene_latents: tuple[torch.Tensor, torch.Tensor], latent_scale: float,
                    rng: np.random.Generator, generator: torch.Generator, device: torch.device,
                    reporter: Reporter) -> dict[str, Any]:
    """The denoiser's epochs (see :func:`train_synthesis_model`); returns its history."""
    d, p = cfg.diffusion, cfg.vae.patch_size
    n_scene = scene_latents[0].shape[0]
    n_labelled = sum(len(v) for v in labelled.values())
    # An epoch has as many steps as the scene sample and labelled pixels fill, whatever the mix, so
    # ablations (no unlabelled patches, no RPSC) train for the same number of steps.
    steps = max(1, math.ceil((n_scene + n_labelled) / d.batch_size))
    n_unl = int(round(d.batch_size * d.unlabelled_fraction))
    n_lab = d.batch_size - n_unl
    texts = {c.id: c.text for c in classes}
    ids = np.array([c.id for c in classes])
    rpsc_on = d.rpsc_probability > 0 and len(classes) > 1
    history: dict[str, Any] = {"loss": [], "steps_per_epoch": steps, "rpsc_samples": 0, "dropped_prompts": 0}
    denoiser.train()
    text_encoder.train(text_encoder.trainable)
    for epoch in range(d.epochs):
        stage = f"diffusion {epoch + 1}/{d.epochs}"
        total = 0.0
        for step in range(steps):
            reporter.check()
            latents, prompts = [], []
            if n_unl:
                pick = torch.from_numpy(rng.integers(0, n_scene, n_unl)).to(device)
                latents.append(vae.sample_latent(scene_latents[0][pick], scene_latents[1][pick], generator))
                prompts += [NULL_PROMPT] * n_unl
            if n_lab:
                z_lab, lab_prompts, mixed = _labelled_batch(n_lab, ids, texts, labelled, lab_latents, rpsc_on,
                                                            d.rpsc_probability, vae, normalizer, cube, p, rng,
                                                            generator, device)
                history["rpsc_samples"] += mixed
                dropped = rng.random(n_lab) < d.prompt_dropout
                history["dropped_prompts"] += int(dropped.sum())
                latents.append(z_lab)
                prompts += [NULL_PROMPT if drop else text for drop, text in zip(dropped, lab_prompts)]
            z0 = torch.cat(latents) * latent_scale  # (N, c, p', p')
            z0 = lf_ue(z0, d.lfue_strength, generator)  # (N, c, p', p')
            noise = torch.randn(z0.shape, generator=generator, device=device)  # (N, c, p', p')
            t = torch.randint(0, d.num_train_timesteps, (z0.shape[0],), generator=generator, device=device)  # (N,)
            noisy = scheduler.add_noise(z0, noise, t)  # (N, c, p', p')
            text, mask = text_encoder.encode(prompts)  # (N, L, D), (N, L)
            prediction = denoiser(noisy, t, text, mask)  # (N, c, p', p')
            loss = F.mse_loss(prediction, training_target(scheduler, z0, noise, t))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(denoiser.parameters(), 1.0)
            optimizer.step()
            ema.step(denoiser.parameters())
            total += float(loss.detach())
            reporter.progress((epoch + (step + 1) / steps) / d.epochs, stage)
        history["loss"].append(total / steps)
    return history


def _labelled_batch(n: int, ids: np.ndarray, texts: dict[int, str], labelled: dict[int, np.ndarray],
                    lab_latents: dict[int, tuple[torch.Tensor, torch.Tensor]], rpsc_on: bool, rpsc_probability: float,
                    vae: SpectralVAE, normalizer: BandNormalizer, cube: np.ndarray, p: int,
                    rng: np.random.Generator, generator: torch.Generator,
                    device: torch.device) -> tuple[torch.Tensor, list[str], int]:
    """``n`` labelled latents (classes drawn equally often), some of them RPSC mixes; returns
    ``(latents (n, c, p', p'), prompts, number of RPSC mixes)``."""
    class_a = rng.choice(ids, n)
    pixel_a = np.array([rng.integers(0, len(labelled[a])) for a in class_a])
    mix = rng.random(n) < rpsc_probability if rpsc_on else np.zeros(n, dtype=bool)
    latents = torch.empty((n,) + tuple(vae.latent_shape), device=device)  # (n, c, p', p')
    prompts = [texts[int(a)] for a in class_a]
    for a in np.unique(class_a[~mix]):
        rows = np.flatnonzero((class_a == a) & ~mix)
        mean, logvar = lab_latents[int(a)]
        pick = torch.from_numpy(pixel_a[rows]).to(device)
        latents[torch.from_numpy(rows).to(device)] = vae.sample_latent(mean[pick], logvar[pick], generator)
    rows = np.flatnonzero(mix)
    if len(rows):
        # Class b ≠ a for every mixed sample: shift a's index by 1..K-1 around the class list.
        position = {int(cid): i for i, cid in enumerate(ids)}
        index_a = np.array([position[int(a)] for a in class_a[rows]])
        class_b = ids[(index_a + rng.integers(1, len(ids), len(rows))) % len(ids)]
        flat_a = np.array([labelled[int(a)][i] for a, i in zip(class_a[rows], pixel_a[rows])])
        flat_b = np.array([labelled[int(b)][rng.integers(0, len(labelled[int(b)]))] for b in class_b])
        patches_a = extract_patches(cube, *np.unravel_index(flat_a, cube.shape[1:]), p)
        patches_b = extract_patches(cube, *np.unravel_index(flat_b, cube.shape[1:]), p)
        mixed, _ = rpsc_mix_batch(patches_a, patches_b, rng)  # (m, B, p, p) physical
        with torch.no_grad():
            mean, logvar = vae.encode(normalizer.normalize(torch.from_numpy(mixed).to(device)))  # (m, c, p', p')
        latents[torch.from_numpy(rows).to(device)] = vae.sample_latent(mean, logvar, generator)
        for row, a, b in zip(rows, class_a[rows], class_b):
            prompts[row] = rpsc_prompt(texts[int(a)], texts[int(b)])
    return latents, prompts, int(len(rows))
