"""The universal spectral VAE: ``bands × p × p`` patches ⇄ small ``c × p' × p'`` latents, and its training."""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..progress import NULL_REPORTER, Reporter
from .config import VAEConfig, resolve_device


def _groups(channels: int) -> int:
    """GroupNorm groups: up to 8, dividing ``channels``."""
    return math.gcd(8, channels)


def spectral_angle_degrees(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, axis: int = 1,
                           eps: float = 1e-12) -> np.ndarray | torch.Tensor:
    """Per-pixel spectral angle between ``a`` and ``b`` in degrees (the SAM metric).

    Args:
        a, b: same-shape spectra with bands along ``axis``: ``(N, B)`` spectra or ``(N, B, p, p)`` patches.
        axis: the band axis.
        eps: keeps zero spectra finite (an all-zero spectrum is at 90° to anything).

    Returns:
        Angles with ``axis`` removed, as a NumPy array for NumPy inputs, else a tensor.
    """
    as_numpy = not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor)
    ta = torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a).to(torch.float64)
    tb = torch.as_tensor(np.asarray(b) if not isinstance(b, torch.Tensor) else b).to(ta)
    if ta.shape != tb.shape:
        raise ValueError(f"spectral_angle_degrees needs same-shape inputs, got {tuple(ta.shape)} and {tuple(tb.shape)}")
    angle = torch.rad2deg(_spectral_angle(ta, tb, axis, eps, margin=0.0))
    return angle.numpy() if as_numpy else angle.to(a.dtype if isinstance(a, torch.Tensor) else torch.float32)


def _spectral_angle(a: torch.Tensor, b: torch.Tensor, axis: int = 1, eps: float = 1e-8,
                    margin: float = 1e-7) -> torch.Tensor:
    """Spectral angle in radians along ``axis``; ``margin`` > 0 keeps it differentiable."""
    dot = (a * b).sum(dim=axis)
    norms = a.norm(dim=axis) * b.norm(dim=axis)
    # the loss clamps inside (-1, 1) because acos has an infinite gradient at ±1
    cos = (dot / (norms + eps)).clamp(-1.0 + margin, 1.0 - margin)
    return torch.acos(cos)


class ResBlock(nn.Module):
    """Two 3×3 convolutions with GroupNorm and SiLU around a residual connection."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(channels), channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(_groups(channels), channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (N, C, H, W)
        h = self.conv2(F.silu(self.norm2(h)))  # (N, C, H, W)
        return x + h  # (N, C, H, W)


class SpectralVAE(nn.Module):
    """Convolutional VAE over hyperspectral patches.

    With ``cfg.spectral_components = k > 0`` every pixel is first projected on the scene's k principal
    spectral components (fixed buffers fitted by :meth:`fit_spectral_basis`, whitened) and the decoder
    predicts k coefficients that the same basis maps back to all bands. Hyperspectral pixels live close to
    such a low-dimensional subspace, so decoded spectra cannot carry band-to-band noise, and the networks
    only learn the spatial part and the compression (written here: no library offers a PCA layer that is
    saved inside a torch state dict).

    A 1×1 convolution mixes all ``bands`` (or k components) of each pixel, residual 3×3 blocks model the neighbourhood
    and ``log2(downsample)`` stride-2 stages shrink the patch to ``p' = ceil(p / downsample)``. Odd
    patches are padded (replicate, bottom/right) to a multiple of the factor before encoding and the
    decoder output is cropped back, so the centre pixel keeps index ``p // 2`` and ``decode`` returns
    exactly ``p × p`` for odd and even ``p``.
    """

    def __init__(self, cfg: VAEConfig, bands: int) -> None:
        super().__init__()
        if bands < 1:
            raise ValueError(f"bands must be at least 1, got {bands}")
        if cfg.downsample not in (1, 2, 4):
            raise ValueError(f"VAEConfig.downsample must be 1, 2 or 4, got {cfg.downsample}")
        self.cfg = cfg
        self.bands = bands
        h, c = cfg.hidden_channels, cfg.latent_channels
        k = min(int(cfg.spectral_components), bands)
        self.components = k
        channels = k if k > 0 else bands
        if k > 0:
            self.register_buffer("basis", torch.zeros(k, bands))  # (k, B) principal directions, rows orthonormal
            self.register_buffer("basis_mean", torch.zeros(bands))  # (B,) mean normalised spectrum
            self.register_buffer("basis_scale", torch.ones(k))  # (k,) std of each coefficient (whitening)
        stages = int(math.log2(cfg.downsample))
        # 1×1 convolutions mix the bands at each pixel (9× cheaper than 3×3 on hundreds of bands);
        # the 3×3 convolutions between them model the spatial neighbourhood.
        enc: list[nn.Module] = [nn.Conv2d(channels, h, 1), ResBlock(h)]
        for _ in range(stages):
            enc += [nn.Conv2d(h, h, 3, stride=2, padding=1), ResBlock(h)]
        enc += [nn.GroupNorm(_groups(h), h), nn.SiLU(), nn.Conv2d(h, 2 * c, 3, padding=1)]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv2d(c, h, 3, padding=1), ResBlock(h)]
        for _ in range(stages):
            dec += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(h, h, 3, padding=1), ResBlock(h)]
        dec += [nn.GroupNorm(_groups(h), h), nn.SiLU(), nn.Conv2d(h, channels, 1)]
        self.decoder = nn.Sequential(*dec)

    @torch.no_grad()
    def fit_spectral_basis(self, patches: np.ndarray, max_pixels: int = 50000, seed: int = 0) -> "SpectralVAE":
        """Fit the principal spectral components on the pixels of ``(N, B, p, p)`` normalised patches."""
        if self.components == 0:
            return self
        pixels = np.asarray(patches, dtype=np.float32).transpose(0, 2, 3, 1).reshape(-1, self.bands)  # (n, B)
        if len(pixels) > max_pixels:
            pixels = pixels[np.random.default_rng(seed).choice(len(pixels), max_pixels, replace=False)]
        if len(pixels) < 2:
            raise ValueError("fitting the spectral basis needs at least two pixels")
        x = torch.from_numpy(pixels).double()
        mean = x.mean(dim=0)  # (B,)
        _, s, vt = torch.linalg.svd(x - mean, full_matrices=False)  # vt: (min(n, B), B)
        k = min(self.components, vt.shape[0])
        basis = torch.zeros(self.components, self.bands, dtype=torch.float64)
        basis[:k] = vt[:k]
        scale = torch.ones(self.components, dtype=torch.float64)
        scale[:k] = (s[:k] / math.sqrt(max(len(pixels) - 1, 1))).clamp_min(1e-6)
        self.basis.copy_(basis.to(self.basis))
        self.basis_mean.copy_(mean.to(self.basis_mean))
        self.basis_scale.copy_(scale.to(self.basis_scale))
        return self

    def _to_components(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, B, p, p)`` → whitened coefficients ``(N, k, p, p)`` (identity without a basis)."""
        if self.components == 0:
            return x
        centred = x - self.basis_mean.view(1, -1, 1, 1)  # (N, B, p, p)
        coef = torch.einsum("nbhw,kb->nkhw", centred, self.basis)  # (N, k, p, p)
        return coef / self.basis_scale.view(1, -1, 1, 1)

    def _from_components(self, coef: torch.Tensor) -> torch.Tensor:
        """Whitened coefficients ``(N, k, p, p)`` → ``(N, B, p, p)`` (identity without a basis)."""
        if self.components == 0:
            return coef
        x = torch.einsum("nkhw,kb->nbhw", coef * self.basis_scale.view(1, -1, 1, 1), self.basis)  # (N, B, p, p)
        return x + self.basis_mean.view(1, -1, 1, 1)

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """``(c, p', p')`` of one latent."""
        return (self.cfg.latent_channels, self.cfg.latent_size, self.cfg.latent_size)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, B, p, p)`` normalised patches → ``(mean, logvar)``, each ``(N, c, p', p')``."""
        p = self.cfg.patch_size
        if x.ndim != 4 or x.shape[1] != self.bands or x.shape[2] != p or x.shape[3] != p:
            raise ValueError(f"SpectralVAE expects (N, {self.bands}, {p}, {p}) patches, got {tuple(x.shape)}")
        x = self._to_components(x)  # (N, k or B, p, p)
        pad = self.cfg.latent_size * self.cfg.downsample - p
        if pad:
            x = F.pad(x, (0, pad, 0, pad), mode="replicate")  # (N, k or B, p + pad, p + pad)
        moments = self.encoder(x)  # (N, 2c, p', p')
        mean, logvar = moments.chunk(2, dim=1)  # (N, c, p', p') each
        return mean, logvar.clamp(-30.0, 20.0)

    def sample_latent(self, mean: torch.Tensor, logvar: torch.Tensor,
                      generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Reparameterised draw ``mean + exp(logvar / 2) · ε``; same shape as ``mean``."""
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + torch.exp(0.5 * logvar) * noise  # (N, c, p', p')

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, c, p', p')`` latents → ``(N, B, p, p)`` normalised patches."""
        if z.ndim != 4 or tuple(z.shape[1:]) != self.latent_shape:
            raise ValueError(f"SpectralVAE.decode expects (N, {', '.join(map(str, self.latent_shape))}) latents, "
                             f"got {tuple(z.shape)}")
        p = self.cfg.patch_size
        x = self.decoder(z)  # (N, k or B, p' · downsample, p' · downsample)
        return self._from_components(x[:, :, :p, :p])  # (N, B, p, p)

    def forward(self, x: torch.Tensor, generator: Optional[torch.Generator] = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode, draw a latent, decode: ``(x_hat (N, B, p, p), mean, logvar (N, c, p', p'))``."""
        mean, logvar = self.encode(x)  # (N, c, p', p') each
        z = self.sample_latent(mean, logvar, generator)  # (N, c, p', p')
        return self.decode(z), mean, logvar


class PatchDiscriminator(nn.Module):
    """A small convolutional critic scoring each neighbourhood of a patch as real or reconstructed."""

    def __init__(self, bands: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(bands, hidden, 1),  # band mixing per pixel
            nn.LeakyReLU(0.2),
            nn.Conv2d(hidden, 2 * hidden, 3, stride=2, padding=1),
            nn.GroupNorm(_groups(2 * hidden), 2 * hidden),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * hidden, 1, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, B, p, p)`` → logits ``(N, 1, ceil(p / 2), ceil(p / 2))``."""
        return self.net(x)


def vae_loss(x: torch.Tensor, x_hat: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor,
             cfg: VAEConfig, physical: Optional[tuple[torch.Tensor, torch.Tensor]] = None
             ) -> tuple[torch.Tensor, dict[str, float]]:
    """Reconstruction MSE + ``kl_weight`` · KL + ``sam_weight`` · spectral angle (radians).

    ``physical`` = per-band ``(mean, std)`` ``(B,)`` of the normalisation: the spectral angle is then
    measured on the spectra in physical units (angles of standardised spectra mean little).

    The KL is summed over latent elements and averaged over the batch (as in latent-diffusion VAEs);
    the MSE and spectral angle are per-element / per-pixel means.

    Returns:
        ``(total, parts)`` with parts ``reconstruction``, ``kl``, ``sam_degrees`` and ``total`` as floats.
    """
    reconstruction = F.mse_loss(x_hat, x)
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1).sum(dim=1).mean()
    sam = _spectral_angle(*_physical(x_hat, x, physical), axis=1).mean()
    total = reconstruction + cfg.kl_weight * kl + cfg.sam_weight * sam
    parts = {
        "reconstruction": float(reconstruction.detach()),
        "kl": float(kl.detach()),
        "sam_degrees": math.degrees(float(sam.detach())),
        "total": float(total.detach()),
    }
    return total, parts


def _physical(x_hat: torch.Tensor, x: torch.Tensor, physical: Optional[tuple[torch.Tensor, torch.Tensor]]
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Both ``(N, B, ...)`` tensors back in physical units when the normalisation is given."""
    if physical is None:
        return x_hat, x
    view = (1, -1) + (1,) * (x.ndim - 2)
    mean, std = physical[0].view(view).to(x), physical[1].view(view).to(x)
    return x_hat * std + mean, x * std + mean


def _check_patches(patches: np.ndarray, cfg: VAEConfig) -> np.ndarray:
    """Validate ``(N, B, p, p)`` training patches and return them as float32."""
    patches = np.asarray(patches)
    p = cfg.patch_size
    if patches.ndim != 4 or patches.shape[2] != p or patches.shape[3] != p:
        raise ValueError(f"train_vae expects (N, bands, {p}, {p}) patches (VAEConfig.patch_size={p}), "
                         f"got shape {patches.shape}")
    if patches.shape[0] < 2:
        raise ValueError(f"train_vae needs at least 2 patches, got {patches.shape[0]}")
    patches = patches.astype(np.float32, copy=False)
    if not np.isfinite(patches).all():
        raise ValueError("training patches contain NaN or infinite values; mask no-data pixels first")
    return patches


def train_vae(patches: np.ndarray, cfg: VAEConfig, *, seed: int = 0, device: str | torch.device = "auto",
              physical: Optional[tuple[torch.Tensor, torch.Tensor]] = None,
              reporter: Reporter = NULL_REPORTER) -> tuple[SpectralVAE, dict[str, Any]]:
    """Train a :class:`SpectralVAE` on normalised patches of the whole scene.

    A share ``cfg.holdout_fraction`` of the patches is kept out to report reconstruction RMSE and SAM
    per epoch. The patch discriminator joins after ``cfg.adversarial_warmup_epochs`` epochs when
    ``cfg.adversarial_weight > 0`` (hinge loss, as in latent-diffusion autoencoders).

    Args:
        patches: ``(N, B, p, p)`` float patches, already normalised per band.
        cfg: sizes, loss weights and optimiser settings.
        seed: seeds initialisation, shuffling and latent noise (same seed, same device → same model).
        device: "auto", "cpu", "cuda" or a torch.device.
        physical: per-band ``(mean, std)`` of the normalisation, so the spectral-angle loss and the held-out
            SAM are measured in physical units; None: on the normalised values.
        reporter: gets ``progress(fraction, "VAE e/E")`` and ``check()`` every batch.

    Returns:
        ``(vae in eval mode, history)``; history holds per-epoch lists ``loss``, ``reconstruction``, ``kl``,
        ``sam_degrees``, ``adversarial``, ``discriminator``, ``holdout_rmse``, ``holdout_sam_degrees``
        (NaN where not measured) and ``n_train``, ``n_holdout``.
    """
    patches = _check_patches(patches, cfg)
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    rng = np.random.default_rng(seed)
    n = patches.shape[0]
    order = rng.permutation(n)
    n_holdout = int(n * cfg.holdout_fraction) if n >= 10 else 0
    holdout, train = order[:n_holdout], order[n_holdout:]

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        vae = SpectralVAE(cfg, patches.shape[1]).fit_spectral_basis(patches[train[:50000 // (cfg.patch_size ** 2) + 1]], seed=seed).to(dev)
        critic = PatchDiscriminator(patches.shape[1], cfg.hidden_channels).to(dev)
    generator = torch.Generator(device=dev).manual_seed(seed)
    opt = torch.optim.AdamW(vae.parameters(), lr=cfg.lr, weight_decay=1e-4)
    opt_critic = torch.optim.Adam(critic.parameters(), lr=cfg.lr, betas=(0.5, 0.9))

    keys = ("loss", "reconstruction", "kl", "sam_degrees", "adversarial", "discriminator",
            "holdout_rmse", "holdout_sam_degrees")
    history: dict[str, Any] = {k: [] for k in keys}
    history.update(n_train=int(len(train)), n_holdout=int(n_holdout))
    batches = max(1, math.ceil(len(train) / cfg.batch_size))
    for epoch in range(cfg.epochs):
        stage = f"VAE {epoch + 1}/{cfg.epochs}"
        adversarial_on = cfg.adversarial_weight > 0 and epoch >= cfg.adversarial_warmup_epochs
        vae.train()
        sums = {k: 0.0 for k in keys[:6]}
        perm = train[rng.permutation(len(train))]
        for b in range(batches):
            reporter.check()
            idx = np.sort(perm[b * cfg.batch_size:(b + 1) * cfg.batch_size])
            x = torch.from_numpy(patches[idx]).to(dev)  # (n, B, p, p)
            x_hat, mean, logvar = vae(x, generator)  # (n, B, p, p), (n, c, p', p') × 2
            loss, parts = vae_loss(x, x_hat, mean, logvar, cfg, physical)
            adv_value = critic_value = 0.0
            if adversarial_on:
                adversarial = -critic(x_hat).mean()  # generator side of the hinge GAN
                loss = loss + cfg.adversarial_weight * adversarial
                adv_value = float(adversarial.detach())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if adversarial_on:
                real, fake = critic(x), critic(x_hat.detach())  # (n, 1, p/2, p/2) logits each
                critic_loss = F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
                opt_critic.zero_grad(set_to_none=True)
                critic_loss.backward()
                opt_critic.step()
                critic_value = float(critic_loss.detach())
            for k, v in (("loss", float(loss.detach())), ("reconstruction", parts["reconstruction"]),
                         ("kl", parts["kl"]), ("sam_degrees", parts["sam_degrees"]),
                         ("adversarial", adv_value), ("discriminator", critic_value)):
                sums[k] += v
            reporter.progress((epoch + (b + 1) / batches) / cfg.epochs, stage)
        for k, v in sums.items():
            history[k].append(v / batches)
        rmse, sam = _holdout_metrics(vae, patches[holdout], dev, cfg.batch_size, physical)
        history["holdout_rmse"].append(rmse)
        history["holdout_sam_degrees"].append(sam)
    vae.eval()
    return vae, history


@torch.no_grad()
def _holdout_metrics(vae: SpectralVAE, patches: np.ndarray, device: torch.device, batch_size: int,
                     physical: Optional[tuple[torch.Tensor, torch.Tensor]] = None) -> tuple[float, float]:
    """RMSE (normalised units) and mean SAM (degrees; physical units when ``physical`` is given) of the
    deterministic reconstruction (latent mean)."""
    if len(patches) == 0:
        return float("nan"), float("nan")
    was_training = vae.training
    vae.eval()
    sq, angle, count, pixels = 0.0, 0.0, 0, 0
    for start in range(0, len(patches), batch_size):
        x = torch.from_numpy(patches[start:start + batch_size]).to(device)  # (n, B, p, p)
        x_hat = vae.decode(vae.encode(x)[0])  # (n, B, p, p)
        sq += float((x_hat - x).pow(2).sum())
        count += x.numel()
        sam = spectral_angle_degrees(*_physical(x_hat, x, physical))  # (n, p, p)
        angle += float(sam.sum())
        pixels += sam.numel()
    vae.train(was_training)
    return math.sqrt(sq / count), angle / pixels
