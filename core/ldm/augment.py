"""Training-time augmentations of Txt2HSI-LDM: random polygon spatial clipping (RPSC) and LF-UE."""

from __future__ import annotations

from typing import Optional

import numpy as np
import rasterio
import torch
from rasterio.features import rasterize
from rasterio.transform import Affine

# Share of the patch the pasted polygon may cover: enough pixels to matter, never the whole patch.
MIN_POLYGON_FRACTION = 0.1
MAX_POLYGON_FRACTION = 0.6


def random_polygon_mask(size: int, rng: np.random.Generator, *, min_fraction: float = MIN_POLYGON_FRACTION,
                        max_fraction: float = MAX_POLYGON_FRACTION) -> np.ndarray:
    """A random star-shaped polygon rasterised on a ``size × size`` pixel grid.

    The polygon has 3 to 8 vertices around a centre inside the patch; pixels whose centre falls
    inside it are True. Polygons covering less than ``min_fraction`` or more than ``max_fraction``
    of the patch are redrawn, so the mask is never empty and never the whole patch.

    Args:
        size: side p of the patch (at least 2).
        rng: NumPy generator, the only source of randomness.
        min_fraction, max_fraction: accepted share of True pixels.

    Returns:
        ``(p, p)`` bool mask.
    """
    if size < 2:
        raise ValueError(f"a polygon mask needs a patch side of at least 2 pixels, got {size}")
    if not 0.0 < min_fraction <= max_fraction < 1.0:
        raise ValueError(f"need 0 < min_fraction <= max_fraction < 1, got {min_fraction}, {max_fraction}")
    lo = max(1, int(np.ceil(min_fraction * size * size)))
    hi = min(size * size - 1, max(lo, int(np.floor(max_fraction * size * size))))
    for _ in range(50):
        n_vertices = int(rng.integers(3, 9))
        centre = rng.uniform(0.25 * size, 0.75 * size, size=2)  # (x, y) in pixel units
        angles = np.sort(rng.uniform(0.0, 2.0 * np.pi, size=n_vertices))
        radii = rng.uniform(0.2 * size, 0.65 * size, size=n_vertices)
        xs = np.clip(centre[0] + radii * np.cos(angles), 0.0, size)
        ys = np.clip(centre[1] + radii * np.sin(angles), 0.0, size)
        ring = [(float(x), float(y)) for x, y in zip(xs, ys)]
        ring.append(ring[0])
        # rasterio burns pixels whose centre lies inside the polygon (identity transform = pixel grid).
        mask = rasterize([({"type": "Polygon", "coordinates": [ring]}, 1)], out_shape=(size, size),
                         transform=Affine.identity(), fill=0, dtype="uint8").astype(bool)
        if lo <= int(mask.sum()) <= hi:
            return mask
    # Degenerate draws only happen on very small patches: fall back to lo random pixels.
    mask = np.zeros(size * size, dtype=bool)
    mask[rng.choice(size * size, size=lo, replace=False)] = True
    return mask.reshape(size, size)


def rpsc_mix(patch_a: np.ndarray, patch_b: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Paste a random polygon cut from ``patch_b`` into ``patch_a``.

    Args:
        patch_a: ``(B, p, p)`` patch of the background class a.
        patch_b: ``(B, p, p)`` patch of the pasted class b, same shape.
        rng: NumPy generator for the polygon.

    Returns:
        ``(mixed (B, p, p), mask_b (p, p) bool)``; ``mixed`` equals ``patch_b`` where ``mask_b`` is True
        and ``patch_a`` elsewhere.
    """
    if patch_a.shape != patch_b.shape or patch_a.ndim != 3 or patch_a.shape[1] != patch_a.shape[2]:
        raise ValueError(f"RPSC needs two (B, p, p) patches of the same shape, got {patch_a.shape} and {patch_b.shape}")
    mask_b = random_polygon_mask(patch_a.shape[-1], rng)
    mixed = np.where(mask_b[None], patch_b, patch_a)  # (B, p, p)
    return mixed.astype(patch_a.dtype, copy=False), mask_b


def rpsc_mix_batch(patches_a: np.ndarray, patches_b: np.ndarray,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """:func:`rpsc_mix` over ``(N, B, p, p)`` pairs; returns ``(mixed (N, B, p, p), masks_b (N, p, p) bool)``."""
    if patches_a.shape != patches_b.shape or patches_a.ndim != 4:
        raise ValueError(f"RPSC needs two (N, B, p, p) batches of the same shape, "
                         f"got {patches_a.shape} and {patches_b.shape}")
    n, _, p, _ = patches_a.shape
    with rasterio.Env():  # one GDAL environment for the whole batch: 4× faster than one per polygon
        masks = np.stack([random_polygon_mask(p, rng) for _ in range(n)]) if n else np.zeros((0, p, p), bool)
    mixed = np.where(masks[:, None], patches_b, patches_a)  # (N, B, p, p)
    return mixed.astype(patches_a.dtype, copy=False), masks


def rpsc_prompt(prompt_a: str, prompt_b: str) -> str:
    """The prompt of a mixed patch: class a is the background, class b the pasted polygon."""
    a, b = prompt_a.strip(), prompt_b.strip()
    if not a or not b:
        raise ValueError("an RPSC prompt needs both class prompts to be non-empty")
    return f"{a} with a patch of {b}"


def lf_ue(z: torch.Tensor, strength: float, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Latent feature uncertainty estimation: resample each latent's channel statistics.

    Each sample's channel mean μ and std σ (over the latent pixels) are treated as Gaussians whose
    variance is the batch variance of μ and σ times ``strength``; new μ', σ' are drawn and the latent
    is re-normalised: ``z' = σ' · (z − μ) / σ + μ'``. No learned parameters (as in DSU, Li et al. 2022).

    Args:
        z: ``(N, C, h, w)`` latents.
        strength: scale of the variance of the drawn statistics; 0 returns ``z`` unchanged.
        generator: torch generator on ``z``'s device, for reproducible draws.

    Returns:
        ``(N, C, h, w)`` perturbed latents.
    """
    if z.ndim != 4:
        raise ValueError(f"LF-UE expects (N, C, h, w) latents, got shape {tuple(z.shape)}")
    if strength < 0:
        raise ValueError(f"LF-UE strength must be >= 0, got {strength}")
    if strength == 0 or z.shape[0] < 2:
        return z  # identity: nothing to perturb, or no batch to estimate the variance from
    eps = 1e-6
    mu = z.mean(dim=(2, 3), keepdim=True)  # (N, C, 1, 1)
    sigma = (z.var(dim=(2, 3), keepdim=True, unbiased=False) + eps).sqrt()  # (N, C, 1, 1)
    spread_mu = (mu.var(dim=0, keepdim=True, unbiased=False) * strength).sqrt()  # (1, C, 1, 1)
    spread_sigma = (sigma.var(dim=0, keepdim=True, unbiased=False) * strength).sqrt()  # (1, C, 1, 1)
    noise = torch.randn((2,) + tuple(mu.shape), generator=generator, device=z.device, dtype=z.dtype)  # (2, N, C, 1, 1)
    new_mu = mu + noise[0] * spread_mu  # (N, C, 1, 1)
    new_sigma = (sigma + noise[1] * spread_sigma).clamp_min(eps)  # (N, C, 1, 1), a std stays positive
    return new_sigma * (z - mu) / sigma + new_mu  # (N, C, h, w)
