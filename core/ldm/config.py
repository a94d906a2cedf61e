"""Configuration of the Txt2HSI-LDM synthesis engine: dataclasses, named presets, device choice."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

from ..device import resolve_device  # noqa: F401 (re-exported: the ldm modules import it from here)

PRESETS = ("tiny", "fast", "full")


@dataclass
class VAEConfig:
    """The universal spectral VAE that maps ``bands × p × p`` patches to ``c × p' × p'`` latents."""

    patch_size: int = 9  # side p of the square patches (odd or even); the centre pixel is at p // 2
    hidden_channels: int = 64  # width of the convolutional blocks (a first 1×1 conv mixes all bands)
    latent_channels: int = 4  # c, channels of the latent the diffusion model works on
    spectral_components: int = 0  # k > 0: encode/decode k principal components of the scene's spectra (0: all bands)
    downsample: int = 2  # spatial reduction factor, 1, 2 or 4: p' = ceil(p / downsample)
    kl_weight: float = 1e-4  # weight of the KL term (small: a nearly deterministic autoencoder)
    sam_weight: float = 0.1  # weight of the spectral-angle loss (radians) beside the MSE
    adversarial_weight: float = 0.05  # weight of the patch discriminator's loss; 0 switches it off
    adversarial_warmup_epochs: int = 10  # epochs of pure reconstruction before the discriminator joins
    epochs: int = 40  # passes over all cropped patches
    batch_size: int = 128  # patches per optimiser step
    lr: float = 1e-3  # AdamW learning rate for the VAE and the discriminator
    holdout_fraction: float = 0.05  # share of patches kept out of training to report RMSE and SAM

    @property
    def latent_size(self) -> int:
        """p', the latent side for this patch size and downsampling factor."""
        return -(-self.patch_size // self.downsample)


@dataclass
class TextConfig:
    """The CLIP text tower that turns class prompts into per-token embeddings."""

    model: str = "ViT-B-32"  # open_clip model name whose text tower is used, or "tiny" (tests)
    weights_path: Optional[str] = None  # local .safetensors/.bin CLIP checkpoint; None: look in caches
    use_pretrained: bool = True  # look for the pretrained 'openai' weights (never downloaded)
    finetune: bool = False  # train the pretrained tower jointly with the denoiser
    finetune_lr_scale: float = 0.1  # text-tower lr = denoiser lr × this when it is trained
    train_random_tower: bool = True  # without pretrained weights: train the random tower jointly (False: freeze it)
    context_length: int = 77  # maximum tokens per prompt, start and end tokens included
    tiny_width: int = 32  # model == "tiny": width of the token embeddings (D)
    tiny_layers: int = 2  # model == "tiny": transformer layers
    tiny_heads: int = 2  # model == "tiny": attention heads
    fallback: str = "compact"  # no CLIP weights found: "compact" (small tower trained jointly) or "random-full"
    compact_width: int = 128  # fallback == "compact": width of the small jointly-trained tower
    compact_layers: int = 3  # fallback == "compact": its transformer layers
    compact_heads: int = 4  # fallback == "compact": its attention heads


@dataclass
class DenoiserConfig:
    """The DiT-style latent denoiser with cross-attention from latent tokens to text tokens."""

    token_patch: int = 1  # latent pixels per token side (1: one token per latent pixel)
    hidden_size: int = 384  # width of the transformer
    depth: int = 12  # number of DiT blocks
    num_heads: int = 6  # attention heads (self- and cross-attention); must divide hidden_size
    mlp_ratio: float = 4.0  # MLP hidden width = hidden_size × this
    cross_attention: bool = True  # attend to text tokens; False: condition on the pooled prompt only


@dataclass
class DiffusionConfig:
    """Noise schedule, denoiser training and sampling defaults."""

    num_train_timesteps: int = 1000  # T of the DDPM forward process
    beta_schedule: str = "squaredcos_cap_v2"  # diffusers beta schedule name (cosine)
    prediction_type: str = "epsilon"  # what the denoiser predicts: "epsilon" (noise) or "v_prediction"
    epochs: int = 200  # passes over the latents of all patches
    batch_size: int = 128  # latents per optimiser step
    lr: float = 2e-4  # AdamW learning rate of the denoiser
    ema_decay: float = 0.999  # decay of the EMA copy of the denoiser used for sampling
    prompt_dropout: float = 0.1  # probability a labelled prompt is replaced by the null prompt (CFG)
    unlabelled_fraction: float = 0.5  # share of each batch drawn from unlabelled patches; 0: labelled only
    rpsc_probability: float = 0.3  # probability a labelled sample becomes an RPSC mix; 0 switches RPSC off
    lfue_strength: float = 0.5  # LF-UE perturbation of latent channel statistics; 0 switches it off
    sample_steps: int = 25  # default number of DDIM steps when synthesising
    guidance: float = 3.0  # default classifier-free guidance weight ω
    scene_patches: int = 20000  # cap on scene patches (VAE training and unlabelled diffusion samples)


@dataclass
class LDMConfig:
    """Everything needed to rebuild and train a synthesis model; saved as JSON beside the weights."""

    preset: str = "fast"  # name of the preset these values started from
    vae: VAEConfig = field(default_factory=VAEConfig)  # the spectral autoencoder
    text: TextConfig = field(default_factory=TextConfig)  # the text tower
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)  # the latent transformer
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)  # schedule, training, sampling
    seed: int = 0  # seed of every random draw in training
    device: str = "auto"  # "auto" (CUDA when available), "cpu", "cuda", "cuda:1", ...

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready nested dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LDMConfig":
        """Rebuild from :meth:`to_dict` output; unknown keys raise a ValueError naming them."""
        data = dict(data)
        parts = {
            "vae": VAEConfig, "text": TextConfig, "denoiser": DenoiserConfig, "diffusion": DiffusionConfig,
        }
        kwargs: dict[str, Any] = {}
        for name, part_cls in parts.items():
            if name in data:
                kwargs[name] = _dataclass_from_dict(part_cls, data.pop(name), f"config.{name}")
        top = _dataclass_from_dict(cls, data, "config", nested_ok=False)
        return dataclasses.replace(top, **kwargs)

    def validate(self) -> "LDMConfig":
        """Raise a ValueError that says what to fix when values cannot work together; returns self."""
        v, d, t = self.vae, self.denoiser, self.text
        if v.patch_size < 2:
            raise ValueError(f"vae.patch_size must be at least 2, got {v.patch_size}")
        if v.downsample not in (1, 2, 4):
            raise ValueError(f"vae.downsample must be 1, 2 or 4, got {v.downsample}")
        if d.hidden_size % d.num_heads:
            raise ValueError(
                f"denoiser.hidden_size ({d.hidden_size}) must be divisible by denoiser.num_heads ({d.num_heads})")
        if d.hidden_size % 4:
            raise ValueError(f"denoiser.hidden_size must be divisible by 4 (2-D positions), got {d.hidden_size}")
        if v.latent_size % d.token_patch:
            raise ValueError(
                f"the latent side {v.latent_size} (patch {v.patch_size} / downsample {v.downsample}, rounded up) "
                f"must be divisible by denoiser.token_patch ({d.token_patch})")
        if t.model == "tiny" and t.tiny_width % t.tiny_heads:
            raise ValueError(f"text.tiny_width ({t.tiny_width}) must be divisible by text.tiny_heads ({t.tiny_heads})")
        if not 2 <= t.context_length <= 77:
            raise ValueError(f"text.context_length must be in 2..77, got {t.context_length}")
        return self


def _dataclass_from_dict(cls: type, data: dict[str, Any], where: str, nested_ok: bool = True) -> Any:
    """Build dataclass ``cls`` from ``data``, naming unknown keys in the error."""
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a JSON object, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{where} has unknown keys {unknown}; known keys: {sorted(names)}")
    return cls(**data)


def preset(name: str, **overrides: Any) -> LDMConfig:
    """A named configuration with optional overrides.

    Args:
        name: "tiny" (tests: seconds on CPU), "fast" (a SalinasA-size scene in minutes on 2 CPU cores)
            or "full" (GPU, paper scale: ViT-B-32 text tower, 12 blocks of width 384).
        **overrides: top-level fields (``seed=1``, ``device="cpu"``) or parts as ``vae=dict(epochs=3)``
            / ``diffusion={"guidance": 2.0}``; a dotted-style ``vae__epochs=3`` also works.

    Returns:
        A validated :class:`LDMConfig`.
    """
    if name == "tiny":
        cfg = LDMConfig(
            preset="tiny",
            vae=VAEConfig(patch_size=8, hidden_channels=16, latent_channels=4, spectral_components=4, downsample=2,
                          adversarial_weight=0.05, adversarial_warmup_epochs=1, epochs=2, batch_size=32, lr=2e-3),
            text=TextConfig(model="tiny", use_pretrained=False, context_length=16,
                            tiny_width=32, tiny_layers=2, tiny_heads=2),
            denoiser=DenoiserConfig(token_patch=1, hidden_size=16, depth=2, num_heads=2, mlp_ratio=2.0),
            diffusion=DiffusionConfig(num_train_timesteps=100, epochs=2, batch_size=32, lr=1e-3, ema_decay=0.9,
                                      sample_steps=4, guidance=2.0, scene_patches=512),
        )
    elif name == "fast":
        cfg = LDMConfig(
            preset="fast",
            # Sized for a SalinasA/demo-size scene in a few minutes on 2 CPU cores (measured, see BENCHMARKS.md):
            # a 3000-patch scene sample, 12 VAE epochs on 16 principal components (no discriminator: at this
            # length it costs spectral fidelity), 30 denoiser epochs.
            vae=VAEConfig(patch_size=9, hidden_channels=32, latent_channels=16, spectral_components=16,
                          downsample=2, sam_weight=1.0, adversarial_weight=0.0, epochs=12, batch_size=128, lr=1e-3),
            text=TextConfig(model="ViT-B-32", context_length=32),
            denoiser=DenoiserConfig(token_patch=1, hidden_size=64, depth=4, num_heads=4, mlp_ratio=4.0),
            diffusion=DiffusionConfig(epochs=30, batch_size=128, lr=1e-3, ema_decay=0.98, sample_steps=20,
                                      scene_patches=3000),
        )
    elif name == "full":
        cfg = LDMConfig(
            preset="full",
            vae=VAEConfig(patch_size=9, hidden_channels=128, latent_channels=16, spectral_components=32,
                          downsample=2, sam_weight=1.0, adversarial_warmup_epochs=20, epochs=100, batch_size=256,
                          lr=5e-4),
            text=TextConfig(model="ViT-B-32", finetune=True, context_length=77),
            denoiser=DenoiserConfig(token_patch=1, hidden_size=384, depth=12, num_heads=6, mlp_ratio=4.0),
            diffusion=DiffusionConfig(epochs=400, batch_size=256, lr=1e-4, ema_decay=0.9999, sample_steps=50),
        )
    else:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return _apply_overrides(cfg, overrides).validate()


def _apply_overrides(cfg: LDMConfig, overrides: dict[str, Any]) -> LDMConfig:
    """Apply ``preset`` keyword overrides (see :func:`preset`)."""
    data = cfg.to_dict()
    for key, value in overrides.items():
        part, _, sub = key.partition("__")
        if sub:
            value, key = {sub: value}, part
        if key in ("vae", "text", "denoiser", "diffusion"):
            if dataclasses.is_dataclass(value):
                value = dataclasses.asdict(value)
            if not isinstance(value, dict):
                raise ValueError(f"override {key}= must be a dict or a {key} config, got {type(value).__name__}")
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return LDMConfig.from_dict(data)


