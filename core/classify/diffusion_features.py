"""MTMSD-style classification: the scene's own latent diffusion model as a feature extractor, an SVM on top."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Optional

import numpy as np
import torch

from ..progress import NULL_REPORTER, Reporter
from .baselines import NotFittedError, SpectralSVM

# MTMSD (METHODS §2) reads a pixel U-Net's decoder at 19 timesteps; the latent DiT here is small and its blocks
# are all alike, so a few low-to-mid noise levels (as fractions of T) keep most of the signal at a fifth of the cost.
TIMESTEP_FRACTIONS = (0.05, 0.15, 0.30, 0.50)
BATCH = 1024  # patches per denoiser pass (memory ∝ batch × tokens × hidden × blocks)
SVM_MAX_PER_CLASS = 300  # training samples per class the SVM on ~1000-number features learns at most (fit ∝ n²)
FORMAT = "hypersynth-diffusion-features/1"  # config format of a saved DiffusionFeatureClassifier


@dataclass
class FeatureSpec:
    """Which activations of the denoiser make a pixel's feature vector."""

    timestep_fractions: tuple[float, ...] = TIMESTEP_FRACTIONS  # noise levels read, as fractions of T
    noise_seed: int = 0  # seeds the one noise shared by every patch (MTMSD: features differ only by content)


class DiffusionFeatures:
    """``(N, B, p, p)`` patches → ``(N, F)`` features of a trained :class:`~..ldm.model.SynthesisModel`.

    Each patch is encoded to its latent (posterior mean), noised to each timestep with the same fixed noise, and
    passed through the EMA denoiser with the null prompt (no class is assumed); the feature vector is the latent
    followed by every block's output tokens, averaged over the tokens (MTMSD's patch-mean "global" vector), at
    every timestep. Written here because no library extracts features from a HyperSynth denoiser.
    """

    def __init__(self, model: Any, spec: Optional[FeatureSpec] = None) -> None:
        from ..ldm.sampling import training_scheduler

        self.model = model
        self.spec = spec or FeatureSpec()
        if not self.spec.timestep_fractions or not all(0 <= f < 1 for f in self.spec.timestep_fractions):
            raise ValueError("timestep_fractions must be one or more numbers in [0, 1) (fractions of the "
                             f"diffusion's T); got {self.spec.timestep_fractions}")
        self.scheduler = training_scheduler(model.config.diffusion)
        total = int(model.config.diffusion.num_train_timesteps)
        self.timesteps = sorted({min(total - 1, int(round(f * total))) for f in self.spec.timestep_fractions})
        g = torch.Generator().manual_seed(int(self.spec.noise_seed))
        self.noise = torch.randn((1,) + tuple(model.latent_shape), generator=g)  # (1, c, p', p')

    @property
    def patch_size(self) -> int:
        """p, the patch side the model encodes."""
        return int(self.model.patch_size)

    @property
    def dimensions(self) -> int:
        """F, the length of one feature vector."""
        den = self.model.ema_denoiser
        return int(np.prod(self.model.latent_shape)) + len(self.timesteps) * len(den.blocks) * den.cfg.hidden_size

    @torch.no_grad()
    def __call__(self, patches: np.ndarray, reporter: Reporter = NULL_REPORTER) -> np.ndarray:
        """``(N, B, p, p)`` float32 patches (physical units) → ``(N, F)`` float32 features."""
        patches = np.asarray(patches)
        if patches.ndim != 4 or patches.shape[1] != self.model.bands or patches.shape[-1] != self.patch_size:
            raise ValueError(f"diffusion features need (N, {self.model.bands}, {self.patch_size}, "
                             f"{self.patch_size}) patches, the shape the model was trained on; got {patches.shape}")
        den = self.model.ema_denoiser.eval()
        text, mask = self.model.text_encoder.encode([self.model.null_prompt])  # (1, L, D), (1, L)
        device = self.model.device
        noise = self.noise.to(device)
        out = np.empty((len(patches), self.dimensions), np.float32)
        for start in range(0, len(patches), BATCH):
            reporter.check()
            z0 = self.model.encode(patches[start:start + BATCH])  # (n, c, p', p')
            n = z0.shape[0]
            parts = [z0.flatten(1)]  # (n, c·p'·p')
            for t in self.timesteps:
                tt = torch.full((n,), t, dtype=torch.long, device=device)
                zt = self.scheduler.add_noise(z0, noise.expand_as(z0), tt)  # (n, c, p', p')
                _, extras = den(zt, tt, text.expand(n, -1, -1), mask.expand(n, -1), return_features=True)
                parts += [f.mean(dim=1) for f in extras.features]  # each (n, hidden)
            out[start:start + n] = torch.cat(parts, dim=1).float().cpu().numpy()
            reporter.progress(min(1.0, (start + n) / len(patches)), "features from the diffusion model")
        return out


def fit_svm_real_first(make_svm: Callable[[], SpectralSVM], x: np.ndarray, labels: np.ndarray,
                       sample_weight: Optional[np.ndarray], real_count: Optional[int],
                       reporter: Reporter = NULL_REPORTER) -> SpectralSVM:
    """An SVM from ``make_svm()`` fit on ``(N, F)`` features whose first ``real_count`` rows are real labels and
    the rest synthetic (None: all real). C, γ and the probability form are chosen on the real rows alone, as the
    SVM alone would choose them (a synthetic patch anchored on a held-out label would flatter the grid search's
    CV); then the SVM is fit on every row with its weight."""
    svm = make_svm()
    if real_count is not None and real_count < len(x):
        c = make_svm().fit(x[:real_count], labels[:real_count]).chosen
        svm = SpectralSVM(seed=svm.seed, C=c["C"], gamma=c["gamma"], platt=bool(c["platt"]),
                          max_per_class=svm.max_per_class)
    return svm.fit(x, labels, sample_weight=sample_weight, reporter=reporter)


class DiffusionFeatureClassifier:
    """An RBF SVM (C and γ chosen by CV on the labels, as the SVM baseline) on :class:`DiffusionFeatures`.

    It takes patches like every HyperSynth classifier, so tiled scene prediction works unchanged. The
    synthesis model is part of it: it is trained (or reused) with the scene, so predicting another scene needs
    that scene's model (this classifier is compared in the benchmark, not saved in bundles).
    """

    def __init__(self, features: DiffusionFeatures, seed: int = 0) -> None:
        self.features = features
        self.patch_size = features.patch_size
        self.svm = SpectralSVM(seed=seed, max_per_class=SVM_MAX_PER_CLASS)
        self.n_classes = 0

    def fit(self, samples: np.ndarray, labels: np.ndarray, *, sample_weight: Optional[np.ndarray] = None,
            real_count: Optional[int] = None, reporter: Reporter = NULL_REPORTER) -> "DiffusionFeatureClassifier":
        """Extract the patches' features, then fit the SVM on them.

        Args:
            real_count: the first ``real_count`` samples are the real labels and the rest synthetic (None: all
                real). C, γ and the probability form are then chosen on the real labels alone, as the SVM
                alone would choose them: a synthetic patch anchored on a held-out label would flatter the CV.
                The SVM is then fit on every sample with its weight.
        """
        x = self.features(samples, reporter=reporter.sub(0.0, 0.5))  # (N, F)
        seed = self.svm.seed
        self.svm = fit_svm_real_first(lambda: SpectralSVM(seed=seed, max_per_class=SVM_MAX_PER_CLASS), x,
                                      np.asarray(labels), sample_weight, real_count, reporter=reporter.sub(0.5, 1.0))
        self.n_classes = self.svm.n_classes
        return self

    def predict_proba(self, samples: np.ndarray) -> np.ndarray:
        """``(N, n_classes)`` float32 probabilities for ``(N, B, p, p)`` patches."""
        if not self.n_classes:
            raise NotFittedError("fit the diffusion-feature classifier before predicting")
        return self.svm.predict_proba(self.features(samples))

    # -------------------------------------------------------------------------------- persistence
    # The synthesis model travels inside the classifier's tensors (prefix "model.<part>."), so a classifier bundle
    # applied to another scene of the sensor needs nothing else; the SVM goes as skops bytes (never pickle).
    def to_tensors(self) -> dict[str, Any]:
        """The SVM's tensors (prefix ``svm.``) and every part of the synthesis model (prefix ``model.<part>.``)."""
        if not self.n_classes:
            raise NotFittedError("fit the diffusion-feature classifier before saving it")
        parts, _, _ = self.features.model.to_parts()
        return {**{f"svm.{k}": v for k, v in self.svm.to_tensors().items()},
                **{f"model.{part}.{k}": v for part, tensors in parts.items() for k, v in tensors.items()}}

    def config_dict(self) -> dict[str, Any]:
        """JSON-ready: the feature settings, the SVM's config and the synthesis model's config and meta."""
        _, model_config, model_meta = self.features.model.to_parts()
        spec = asdict(self.features.spec)
        spec["timestep_fractions"] = list(spec["timestep_fractions"])
        return {"format": FORMAT, "patch_size": self.patch_size, "n_classes": self.n_classes, "feature_spec": spec,
                "svm": self.svm.config_dict(), "model_config": model_config, "model_meta": model_meta}

    @classmethod
    def from_tensors(cls, tensors: dict[str, Any], config: dict[str, Any]) -> "DiffusionFeatureClassifier":
        """Rebuild from :meth:`to_tensors` and :meth:`config_dict` output (``config['device']`` for the model)."""
        from ..ldm.model import SynthesisModel

        if config.get("format") != FORMAT:
            raise ValueError(f"not a diffusion-feature classifier config (format {config.get('format')!r}, "
                             f"expected {FORMAT!r})")
        parts: dict[str, dict[str, Any]] = {}
        for key, value in tensors.items():
            if key.startswith("model."):
                part, _, name = key[len("model."):].partition(".")
                parts.setdefault(part, {})[name] = value
        model = SynthesisModel.from_parts(parts, config["model_config"], config["model_meta"],
                                          device=config.get("device", "auto"), source="the classifier bundle")
        spec = dict(config["feature_spec"])
        features = DiffusionFeatures(model, FeatureSpec(timestep_fractions=tuple(spec["timestep_fractions"]),
                                                        noise_seed=int(spec["noise_seed"])))
        clf = cls(features)
        clf.svm = SpectralSVM.from_tensors({k[4:]: v for k, v in tensors.items() if k.startswith("svm.")},
                                           config["svm"])
        clf.n_classes = int(config["n_classes"])
        return clf


class PixelFeatureCache:
    """Diffusion features of scene pixels, each extracted once: cross-validation refits an SVM per fold on the
    same pixels and their neighbourhoods, and the features (unlike the SVM) do not depend on the fold.

    ``read(rows, cols)`` gives the pixels' ``(n, B, p, p)`` patches (:func:`~.predict.patch_reader`).
    """

    def __init__(self, features: DiffusionFeatures, read: Callable[[np.ndarray, np.ndarray], np.ndarray],
                 shape: tuple[int, int]) -> None:
        self.features, self.read, self.width = features, read, int(shape[1])
        self._row_of = np.full(int(shape[0]) * self.width, -1, np.int64)  # flat pixel index → row of _stored
        self._stored = np.empty((0, features.dimensions), np.float32)  # grown by doubling: rows in use = _count
        self._count = 0

    def __call__(self, rows: np.ndarray, cols: np.ndarray, reporter: Reporter = NULL_REPORTER) -> np.ndarray:
        """``(n, F)`` float32 features of the pixels ``(rows, cols)``; new pixels are extracted in one pass."""
        flat = np.asarray(rows, np.int64) * self.width + np.asarray(cols, np.int64)
        new = np.unique(flat[self._row_of[flat] < 0])
        if len(new):
            if self._count + len(new) > len(self._stored):
                grown = np.empty((max(2 * len(self._stored), self._count + len(new)), self._stored.shape[1]),
                                 np.float32)
                grown[:self._count] = self._stored[:self._count]
                self._stored = grown
            self._stored[self._count:self._count + len(new)] = self.features(
                self.read(new // self.width, new % self.width), reporter=reporter)
            self._row_of[new] = np.arange(self._count, self._count + len(new))
            self._count += len(new)
        return self._stored[self._row_of[flat]]
