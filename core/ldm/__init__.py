"""Txt2HSI-LDM synthesis engine: spectral VAE, CLIP text tower, latent DiT denoiser, diffusion training and sampling."""

from importlib import import_module
from typing import Any

# The package's names and the module of each, imported on first use (PEP 562): a forest's or an SVM's bundle is
# saved through .bundle, which should not load the text tower's open_clip (about 1 s and 400 MB) on the way.
_MODULE_OF = {
    "BandNormalizer": "normalize",
    "DenoiserConfig": "config",
    "DenoiserExtras": "denoiser",
    "DiffusionConfig": "config",
    "LDMConfig": "config",
    "LatentDiT": "denoiser",
    "PatchDiscriminator": "vae",
    "SpectralVAE": "vae",
    "TextConfig": "config",
    "TextEncoder": "text_encoder",
    "VAEConfig": "config",
    "preset": "config",
    "resolve_device": "config",
    "spectral_angle_degrees": "vae",
    "train_vae": "vae",
    "vae_loss": "vae",
}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        return getattr(import_module(f".{_MODULE_OF[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
