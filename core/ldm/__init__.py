"""Txt2HSI-LDM synthesis engine: spectral VAE, CLIP text tower, latent DiT denoiser, diffusion training and sampling."""

from .config import (
    DenoiserConfig,
    DiffusionConfig,
    LDMConfig,
    TextConfig,
    VAEConfig,
    preset,
    resolve_device,
)
from .denoiser import DenoiserExtras, LatentDiT
from .normalize import BandNormalizer
from .text_encoder import TextEncoder
from .vae import PatchDiscriminator, SpectralVAE, spectral_angle_degrees, train_vae, vae_loss

__all__ = [
    "BandNormalizer",
    "DenoiserConfig",
    "DenoiserExtras",
    "DiffusionConfig",
    "LDMConfig",
    "LatentDiT",
    "PatchDiscriminator",
    "SpectralVAE",
    "TextConfig",
    "TextEncoder",
    "VAEConfig",
    "preset",
    "resolve_device",
    "spectral_angle_degrees",
    "train_vae",
    "vae_loss",
]
