"""MTMSD-style classification: the scene's own latent diffusion model as a feature extractor, an SVM on top."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

from ..progress import NULL_REPORTER, Reporter
from .baselines import NotFittedError, SpectralSVM

# MTMSD (METHODS §2) reads a pixel U-Net's decoder at 19 timesteps; the latent DiT here is small and its blocks
# are all alike, so a few low-to-mid noise levels (as fractions of T) keep most of the signal at a fifth of the cost.
TIMESTEP_FRACTIONS = (0.05, 0.15, 0.30, 0.50)
BATCH = 1024  # patches per denoiser pass (memory ∝ batch × tokens × hidden × blocks)


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
            reporter.progress(min(1.0, (start + n) / len(patches)), "diffusion features")
        return out


class DiffusionFeatureClassifier:
    """An RBF SVM (C and γ chosen by CV on the labels, as the SVM baseline) on :class:`DiffusionFeatures`.

    It takes patches like every HyperSynth classifier, so tiled scene prediction works unchanged. The
    synthesis model is part of it: it is trained (or reused) with the scene, so predicting another scene needs
    that scene's model (this classifier is compared in the benchmark, not saved in bundles).
    """

    def __init__(self, features: DiffusionFeatures, seed: int = 0) -> None:
        self.features = features
        self.patch_size = features.patch_size
        self.svm = SpectralSVM(seed=seed)
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
        if real_count is not None and real_count < len(x):
            chooser = SpectralSVM(seed=seed).fit(x[:real_count], np.asarray(labels)[:real_count])
            c = chooser.chosen
            self.svm = SpectralSVM(seed=seed, C=c["C"], gamma=c["gamma"], platt=bool(c["platt"]))
        self.svm.fit(x, labels, sample_weight=sample_weight, reporter=reporter.sub(0.5, 1.0))
        self.n_classes = self.svm.n_classes
        return self

    def predict_proba(self, samples: np.ndarray) -> np.ndarray:
        """``(N, n_classes)`` float32 probabilities for ``(N, B, p, p)`` patches."""
        if not self.n_classes:
            raise NotFittedError("fit the diffusion-feature classifier before predicting")
        return self.svm.predict_proba(self.features(samples))
