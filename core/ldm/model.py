"""A trained synthesis model: normaliser, VAE, text tower and denoiser together, saved as one bundle."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from ..scene import ClassInfo
from .bundle import BundleError, PathLike, load_bundle, save_bundle
from .config import LDMConfig, resolve_device
from .denoiser import LatentDiT
from .normalize import BandNormalizer
from .text_encoder import TextEncoder
from .vae import SpectralVAE

NULL_PROMPT = ""  # the prompt of unlabelled patches and of the unconditional pass of guidance


@dataclass
class SynthesisModel:
    """Everything needed to synthesise labelled patches for a scene's classes from text prompts."""

    config: LDMConfig  # how every part was built and trained
    normalizer: BandNormalizer  # per-band standardisation fitted on the scene's patches
    vae: SpectralVAE  # patches ⇄ latents
    text_encoder: TextEncoder  # prompts → per-token embeddings
    denoiser: LatentDiT  # the trained weights (a copy of the EMA weights after loading a bundle)
    ema_denoiser: LatentDiT  # the EMA weights, used for sampling
    classes: list[ClassInfo]  # the classes it was trained on, with their prompts
    class_spectra: np.ndarray  # (K, B) float32 mean labelled spectrum per class, physical units
    latent_scale: float  # latents are multiplied by this before diffusion (unit variance, as in LDM)
    wavelengths: Optional[np.ndarray] = None  # (B,) nanometres, None when unknown
    fwhm: Optional[np.ndarray] = None  # (B,) each band's full width at half maximum, nanometres; None when unknown
    value_range: Optional[np.ndarray] = None  # (2, B) float32 lowest and highest value of each band among the patches
    # it learnt from; synthetic patches are clipped to it (a bundle saved before session 35: None, not clipped)
    history: dict[str, Any] = field(default_factory=dict)  # training curves and counts
    null_prompt: str = NULL_PROMPT  # unconditional prompt
    values: str = ""  # what its patches' values are, as the engine read its scene ("Reflectance"); "" unknown
    # the bands its training run was told to leave out ("108-112,224"; "" none) of its scene's scene_bands: a run
    # reusing it on a scene of as many bands leaves them out again
    named_left_out: str = ""
    scene_bands: Optional[int] = None  # all the bands of the scene it learnt from, usable or not; None: not known
    # a few labelled patches of each class it learnt from, physical units: a prompt preview starts from them as a run
    # starts from the labelled ones (a bundle saved before session 45: None, previews start from noise)
    example_patches: Optional[np.ndarray] = None  # (M, B, p, p) float32
    example_class_ids: Optional[np.ndarray] = None  # (M,) int64 the class of each example patch
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))  # where the modules live

    @property
    def bands(self) -> int:
        """B, spectral bands of the patches."""
        return int(self.normalizer.bands)

    @property
    def patch_size(self) -> int:
        """p, side of the synthesised patches."""
        return int(self.config.vae.patch_size)

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """``(c, p', p')`` of one latent."""
        return self.vae.latent_shape

    @property
    def text_source(self) -> str:
        """Where the text tower's weights came from (pretrained checkpoint or random init)."""
        return self.text_encoder.source

    def band_facts(self) -> dict[str, Any]:
        """What a file of its patches says of their bands: ``wavelengths``, ``fwhm`` and what the ``values`` are, as
        ``core.io.patch_files.write_patches`` takes them."""
        return {"wavelengths": self.wavelengths, "fwhm": self.fwhm, "values": self.values}

    def examples_of(self, class_id: int) -> Optional[np.ndarray]:
        """``(m, B, p, p)`` the labelled patches of ``class_id`` kept with the model; None where it kept none."""
        if self.example_patches is None or self.example_class_ids is None:
            return None
        keep = np.asarray(self.example_class_ids) == int(class_id)
        return self.example_patches[keep] if keep.any() else None

    def class_info(self, class_id: int) -> ClassInfo:
        """The :class:`ClassInfo` with label ``class_id``; ValueError naming the known ids otherwise."""
        for c in self.classes:
            if c.id == int(class_id):
                return c
        raise ValueError(f"class id {class_id} is not one of this model's classes {[c.id for c in self.classes]}")

    def to(self, device: Union[str, torch.device]) -> "SynthesisModel":
        """Move every module to ``device`` ("auto", "cpu", "cuda"…); returns self."""
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        for module in self._modules():
            module.to(self.device)
        self.text_encoder.clear_cache()
        return self

    def _modules(self) -> list[torch.nn.Module]:
        return [self.normalizer, self.vae, self.text_encoder, self.denoiser, self.ema_denoiser]

    @torch.no_grad()
    def encode(self, patches: np.ndarray) -> torch.Tensor:
        """``(N, B, p, p)`` patches in physical units → scaled diffusion latents ``(N, c, p', p')`` (posterior mean)."""
        x = torch.as_tensor(np.asarray(patches, dtype=np.float32), device=self.device)
        mean, _ = self.vae.encode(self.normalizer.normalize(x))  # (N, c, p', p')
        return mean * self.latent_scale

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """Diffusion latents ``(N, c, p', p')`` (scaled) → ``(N, B, p, p)`` float32 patches in physical units."""
        patches = self.vae.decode(latents.to(self.device) / self.latent_scale)  # (N, B, p, p) normalised
        return self.normalizer.denormalize(patches).float().cpu().numpy()

    def save(self, folder: PathLike, overwrite: bool = False, *, include_training_weights: bool = False) -> Path:
        """Write the model as a bundle folder (safetensors + JSON; see bundle.py).

        Args:
            folder: bundle folder to create.
            overwrite: replace an existing bundle there.
            include_training_weights: also store the non-EMA denoiser weights (only useful to study
                training; sampling uses the EMA weights). Without them a loaded model's ``denoiser`` is a
                copy of its EMA weights.
        """
        parts, config, meta = self.to_parts(include_training_weights=include_training_weights)
        return save_bundle(folder, parts, config, meta, overwrite=overwrite)

    def to_parts(self, *, include_training_weights: bool = False
                 ) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any], dict[str, Any]]:
        """``(tensors by part, config, meta)``: what :meth:`save` writes, for a bundle that carries the model
        inside another (a classifier whose features come from this model)."""
        parts: dict[str, dict[str, torch.Tensor]] = {
            "normalizer": self.normalizer.state_dict(),
            "vae": self.vae.state_dict(),
            "text_encoder": self.text_encoder.state_dict(),
            "ema_denoiser": self.ema_denoiser.state_dict(),
            "reference": {
                "class_ids": torch.tensor([c.id for c in self.classes], dtype=torch.int64),
                "class_spectra": torch.from_numpy(np.ascontiguousarray(self.class_spectra, dtype=np.float32)),
                "latent_scale": torch.tensor(self.latent_scale, dtype=torch.float64),
                **({"wavelengths": torch.from_numpy(np.asarray(self.wavelengths, dtype=np.float64))}
                   if self.wavelengths is not None else {}),
                **({"fwhm": torch.from_numpy(np.asarray(self.fwhm, dtype=np.float64))}
                   if self.fwhm is not None else {}),
                **({"value_range": torch.from_numpy(np.ascontiguousarray(self.value_range, dtype=np.float32))}
                   if self.value_range is not None else {}),
                **({"example_patches": torch.from_numpy(np.ascontiguousarray(self.example_patches, dtype=np.float32)),
                    "example_class_ids": torch.from_numpy(np.asarray(self.example_class_ids, dtype=np.int64))}
                   if self.example_patches is not None and self.example_class_ids is not None else {}),
            },
        }
        if include_training_weights:
            parts["denoiser"] = self.denoiser.state_dict()
        meta = {
            "bands": self.bands,
            "classes": [{"id": c.id, "name": c.name, "color": list(c.color), "prompt": c.prompt}
                        for c in self.classes],
            "text_source": self.text_source,
            "text_width": self.text_encoder.width,
            "null_prompt": self.null_prompt,
            "history": self.history,
            "values": self.values,
            "named_left_out": self.named_left_out,
            "scene_bands": self.scene_bands,
        }
        return parts, self.config.to_dict(), meta

    @classmethod
    def load(cls, folder: PathLike, device: Union[str, torch.device] = "auto") -> "SynthesisModel":
        """Read a bundle written by :meth:`save`; the weights are bit-exact copies of the saved ones.

        Raises:
            BundleError: the folder is not an intact bundle of this engine (see bundle.py), or its
                tensors do not fit the architecture its config describes.
        """
        bundle = load_bundle(folder)
        return cls.from_parts(bundle.tensors_by_part, bundle.config, bundle.meta, device=device, source=str(folder))

    @classmethod
    def from_parts(cls, parts: dict[str, dict[str, torch.Tensor]], config_dict: dict[str, Any], meta: dict[str, Any],
                   device: Union[str, torch.device] = "auto", source: str = "the bundle") -> "SynthesisModel":
        """Rebuild a model from :meth:`to_parts` output; ``source`` names where it came from in errors.

        Raises:
            BundleError: the config or meta is unusable, or the tensors do not fit the architecture.
        """
        try:
            config = LDMConfig.from_dict(config_dict)
            bands, text_width = int(meta["bands"]), int(meta["text_width"])
            classes = [ClassInfo(id=int(c["id"]), name=str(c["name"]), color=tuple(c["color"]),  # type: ignore[arg-type]
                                 prompt=str(c["prompt"])) for c in meta["classes"]]
            reference = parts["reference"]
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"{source} has an unusable synthesis-model config or meta ({exc}); "
                              "it was not written by SynthesisModel.save") from exc
        with torch.random.fork_rng(devices=[]):  # building modules must not disturb the caller's RNG
            normalizer = BandNormalizer(bands)
            vae = SpectralVAE(config.vae, bands)
            text_encoder = TextEncoder(config.text, load_weights=False)
            c, size, _ = vae.latent_shape
            ema = LatentDiT(config.denoiser, latent_channels=c, latent_size=size, text_dim=text_width)
        for name, module in (("normalizer", normalizer), ("vae", vae), ("text_encoder", text_encoder),
                             ("ema_denoiser", ema)):
            try:
                module.load_state_dict(parts[name], strict=True)
            except (KeyError, RuntimeError) as exc:
                raise BundleError(f"{source}: synthesis-model part {name!r} does not fit its config: {exc}") from exc
        denoiser = copy.deepcopy(ema)
        if "denoiser" in parts:
            denoiser.load_state_dict(parts["denoiser"], strict=True)
        text_encoder.source = str(meta.get("text_source", "unknown (loaded from a bundle)"))
        text_encoder.set_trainable(False)
        model = cls(
            config=config, normalizer=normalizer, vae=vae, text_encoder=text_encoder, denoiser=denoiser,
            ema_denoiser=ema, classes=classes, class_spectra=reference["class_spectra"].numpy(),
            latent_scale=float(reference["latent_scale"]),
            wavelengths=reference["wavelengths"].numpy() if "wavelengths" in reference else None,
            fwhm=reference["fwhm"].numpy() if "fwhm" in reference else None,  # a bundle before session 34: none
            value_range=reference["value_range"].numpy() if "value_range" in reference else None,  # before 35: none
            history=dict(meta.get("history", {})), null_prompt=str(meta.get("null_prompt", NULL_PROMPT)),
            values=str(meta.get("values", "")),  # a bundle saved before session 33: not known
            named_left_out=str(meta.get("named_left_out") or ""),  # before session 39: none known
            scene_bands=int(meta["scene_bands"]) if meta.get("scene_bands") else None,
            example_patches=reference["example_patches"].numpy() if "example_patches" in reference else None,
            example_class_ids=reference["example_class_ids"].numpy() if "example_class_ids" in reference else None,
        )
        if model.example_patches is not None and (
                model.example_patches.shape[1:] != (bands, model.patch_size, model.patch_size)
                or model.example_class_ids is None or len(model.example_class_ids) != len(model.example_patches)):
            raise BundleError(f"{source}: its kept labelled patches {tuple(model.example_patches.shape)} do not fit "
                              f"its {bands} bands and {model.patch_size}-pixel patches, or their class ids")
        for module in model._modules():
            module.eval()
        return model.to(device)
