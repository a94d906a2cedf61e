"""The classification methods HyperSynth compares, trained on arrays: RF, SVM, CNN, Augment & Classify."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from .classify.base import Classifier
from .patches import extract_patches, pad_cube
from .progress import NULL_REPORTER, Reporter
from .scene import ClassInfo

log = logging.getLogger("hypersynth")

METHODS = ("rf", "svm", "cnn", "augment")
METHOD_TITLES = {
    "rf": "Random forest (spectra)",
    "svm": "SVM (spectra)",
    "cnn": "Spectral-spatial CNN, real labels only",
    "augment": "Augment & Classify (CNN on real + synthetic)",
}


@dataclass
class MethodSettings:
    """What a method needs beyond the data; one object so the CLI, the plugin and the bench agree."""

    preset: str = "fast"  # synthesis/classifier preset: tiny (tests), fast (CPU), full (GPU)
    patch_size: Optional[int] = None  # CNN/VAE patch side; None = the preset's
    synthetic_per_class: Optional[int] = None  # synthetic patches for the average class; None = preset default
    balance_rate: float = 0.5  # λ: 0 = equal per class, 1 = inversely proportional to real counts
    synthetic_weight: float = 0.5  # loss weight of a synthetic patch relative to a real one
    filter_synthetic: bool = True  # drop synthetic patches whose centre spectrum is nearer another class's real mean
    guidance: Optional[float] = None  # classifier-free guidance ω; None = the preset's
    steps: Optional[int] = None  # DDIM steps; None = the preset's
    device: str = "auto"  # "auto", "cpu" or "cuda"
    clip_weights: Optional[str] = None  # local file of CLIP ViT-B-32 weights (else open_clip's cache, else fallback)
    seed: int = 0  # seeds every random choice of the run
    synthesis_model: Any = None  # a trained SynthesisModel to reuse (skips synthesis training)


@dataclass
class FittedMethod:
    """A trained classifier and, for Augment & Classify, what produced its synthetic data."""

    method: str
    classifier: Classifier
    class_ids: np.ndarray  # (K,) label ids in the order of the classifier's output columns
    synthesis_model: Any = None  # SynthesisModel or None
    synthetic: Any = None  # SyntheticSet or None
    notes: list[str] = field(default_factory=list)


def preset_patch_size(settings: MethodSettings) -> int:
    """The patch side used by the deep methods for these settings."""
    if settings.patch_size:
        return int(settings.patch_size)
    if settings.synthesis_model is not None:
        return int(settings.synthesis_model.config.vae.patch_size)
    from .ldm.config import preset

    return int(preset(settings.preset).vae.patch_size)


def synthesis_config(settings: MethodSettings) -> Any:
    """The synthesis model's LDMConfig for these settings: the preset, with patch size and CLIP file applied."""
    from .ldm.config import preset

    cfg = preset(settings.preset, seed=settings.seed, device=settings.device)
    if settings.patch_size:
        cfg.vae.patch_size = int(settings.patch_size)
    if settings.clip_weights:
        cfg.text.weights_path = str(settings.clip_weights)
    return cfg


def _cnn_for(settings: MethodSettings, patch_size: int) -> Classifier:
    from .classify.cnn import SpectralSpatialCNN, cnn_preset

    return SpectralSpatialCNN(patch_size=patch_size, seed=settings.seed, device=settings.device,
                              **cnn_preset(settings.preset))


def fit_method(method: str, cube: np.ndarray, valid: np.ndarray, train_labels: np.ndarray,
               classes: list[ClassInfo], settings: MethodSettings, *,
               wavelengths: Optional[np.ndarray] = None, reporter: Reporter = NULL_REPORTER) -> FittedMethod:
    """Train ``method`` on the labelled pixels of ``train_labels`` (0 = not used).

    Args:
        cube: ``(B, H, W)`` float32 scene (usable bands only).
        valid: ``(H, W)`` bool, pixels that may be sampled.
        train_labels: ``(H, W)`` int ids, the labels the method may learn from.
        classes: all classes of the scene; classes without a training pixel are left out.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    rows, cols = np.nonzero((train_labels > 0) & valid)
    ids = train_labels[rows, cols]
    class_ids = np.unique(ids)
    if len(class_ids) < 2:
        raise ValueError("at least two classes need labelled pixels to train a classifier "
                         f"(found {len(class_ids)}); label more classes")
    y = np.searchsorted(class_ids, ids)
    if method in ("rf", "svm"):
        from .classify.baselines import make_baseline

        clf = make_baseline(method, seed=settings.seed)
        spectra = cube[:, rows, cols].T[:, :, None, None]  # (N, B, 1, 1)
        reporter.progress(0.0, "classifier")
        clf.fit(spectra, y, reporter=reporter.sub(0.0, 1.0, "classifier "))
        return FittedMethod(method, clf, class_ids)

    p = preset_patch_size(settings)
    padded = pad_cube(cube, p)
    real = extract_patches(cube, rows, cols, p, padded=padded)  # (N, B, p, p)
    if method == "cnn":
        clf = _cnn_for(settings, p)
        clf.fit(real, y, reporter=reporter)
        return FittedMethod(method, clf, class_ids)

    return _fit_augment(cube, valid, train_labels, classes, class_ids, real, y, settings, reporter, wavelengths)


def _fit_augment(cube: np.ndarray, valid: np.ndarray, train_labels: np.ndarray, classes: list[ClassInfo],
                 class_ids: np.ndarray, real: np.ndarray, y: np.ndarray, settings: MethodSettings,
                 reporter: Reporter, wavelengths: Optional[np.ndarray] = None) -> FittedMethod:
    """Train (or reuse) the synthesis model, synthesise per class, train the CNN on real + synthetic."""
    from .ldm.synthesize import balance_counts, synthesize
    from .ldm.training import train_synthesis_model

    notes: list[str] = []
    used = [c for c in classes if c.id in set(class_ids.tolist())]
    model = settings.synthesis_model
    if model is None:
        cfg = synthesis_config(settings)
        model = train_synthesis_model(cube, valid, train_labels, used, cfg, reporter=reporter.sub(0.0, 0.6),
                                      wavelengths=wavelengths)
    else:
        missing = [int(c) for c in class_ids if int(c) not in {k.id for k in model.classes}]
        if missing:
            raise ValueError(f"the reused model bundle was not trained with classes {missing}; "
                             "train a new bundle for this label set")
        notes.append("synthesis model reused from a bundle")
    cfg = model.config
    real_counts = {int(c): int((y == i).sum()) for i, c in enumerate(class_ids)}
    per_class = settings.synthetic_per_class or _default_synthetic(settings.preset)
    counts = balance_counts(real_counts, per_class * len(class_ids), settings.balance_rate)
    prompts = {c.id: c.text for c in used}
    synthetic = synthesize(model, prompts, counts,
                           guidance=settings.guidance if settings.guidance is not None else cfg.diffusion.guidance,
                           steps=settings.steps or cfg.diffusion.sample_steps, seed=settings.seed,
                           reporter=reporter.sub(0.6, 0.75, "synthesis "))
    if settings.filter_synthetic:
        synthetic, dropped = filter_by_real_means(synthetic, real, y, class_ids)
        notes.append(f"{dropped} synthetic patches dropped: nearer (spectral angle) to another class's real mean")
    syn_y = np.searchsorted(class_ids, synthetic.labels)
    samples = np.concatenate([real, synthetic.patches.astype(np.float32)])
    labels = np.concatenate([y, syn_y])
    weights = np.concatenate([np.ones(len(y), np.float32),
                              np.full(len(syn_y), settings.synthetic_weight, np.float32)])
    clf = _cnn_for(settings, real.shape[-1])
    clf.fit(samples, labels, sample_weight=weights, reporter=reporter.sub(0.75, 1.0))
    notes.append(f"{len(syn_y)} synthetic patches ({', '.join(f'{k}: {v}' for k, v in counts.items())})")
    return FittedMethod("augment", clf, class_ids, synthesis_model=model, synthetic=synthetic, notes=notes)


def _default_synthetic(preset_name: str) -> int:
    return {"tiny": 8, "fast": 60, "full": 300}.get(preset_name, 60)


def filter_by_real_means(synthetic: Any, real: np.ndarray, y: np.ndarray, class_ids: np.ndarray) -> tuple[Any, int]:
    """Keep the synthetic patches whose centre spectrum is nearest (spectral angle) to its own class's mean
    real labelled spectrum; the labelled pixels are the only truth the run has, so they arbitrate."""
    from dataclasses import replace

    from .classify.base import centre_spectra

    means = np.stack([centre_spectra(real[y == i]).mean(0) for i in range(len(class_ids))])  # (K, B)
    spec = centre_spectra(synthetic.patches)  # (N, B)
    cos = (spec @ means.T) / (np.linalg.norm(spec, axis=1, keepdims=True) * np.linalg.norm(means, axis=1) + 1e-12)
    nearest = class_ids[np.argmax(cos, axis=1)]  # (N,) smallest angle = largest cosine
    keep = nearest == synthetic.labels
    kept = replace(synthetic, patches=synthetic.patches[keep], labels=synthetic.labels[keep],
                   masks=synthetic.masks[keep], prompts=[p for p, k in zip(synthetic.prompts, keep) if k],
                   attention=None if synthetic.attention is None else synthetic.attention[keep],
                   tokens=None if synthetic.tokens is None else [t for t, k in zip(synthetic.tokens, keep) if k])
    return kept, int((~keep).sum())
