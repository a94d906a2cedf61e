"""Per-band standardisation of hyperspectral patches, kept as buffers so it is saved with the model."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch import nn


class BandNormalizer(nn.Module):
    """Per-band mean/std standardisation: ``(x - mean) / std`` along axis 1 of ``(N, B, ...)`` arrays.

    The statistics live in buffers (``mean``, ``std``, ``fitted``), so ``state_dict()`` carries them.
    Bands with (near) zero spread, e.g. no-data or saturated bands, get std 1 so they stay finite.
    """

    mean: torch.Tensor
    std: torch.Tensor
    fitted: torch.Tensor

    def __init__(self, bands: int, eps: float = 1e-6) -> None:
        """
        Args:
            bands: number of spectral bands B.
            eps: spreads below this count as constant bands.
        """
        super().__init__()
        if bands < 1:
            raise ValueError(f"bands must be at least 1, got {bands}")
        self.bands = bands
        self.eps = eps
        self.register_buffer("mean", torch.zeros(bands))  # (B,)
        self.register_buffer("std", torch.ones(bands))  # (B,)
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def fit(self, samples: np.ndarray | torch.Tensor) -> "BandNormalizer":
        """Estimate per-band statistics from ``(N, B, ...)`` samples (patches or spectra); returns self."""
        x = torch.as_tensor(np.asarray(samples) if not isinstance(samples, torch.Tensor) else samples).detach()
        if x.ndim < 2 or x.shape[1] != self.bands:
            raise ValueError(f"fit expects (N, {self.bands}, ...) samples, got shape {tuple(x.shape)}")
        if x.shape[0] == 0:
            raise ValueError("fit needs at least one sample")

        # two passes over chunks in float64: exact enough, and no float64 copy of a large patch stack
        def chunks() -> Iterator[torch.Tensor]:
            for part in x.split(4096):
                yield part.to(torch.float64).transpose(0, 1).reshape(self.bands, -1)  # (B, n·...)

        total = 0
        sums = torch.zeros(self.bands, dtype=torch.float64, device=x.device)  # (B,)
        for c in chunks():
            if not torch.isfinite(c).all():
                raise ValueError("fit samples contain NaN or infinite values; mask no-data pixels first")
            sums += c.sum(dim=1)
            total += c.shape[1]
        mean = sums / total  # (B,)
        squares = torch.zeros_like(sums)  # (B,)
        for c in chunks():
            squares += (c - mean[:, None]).pow(2).sum(dim=1)
        std = (squares / total).sqrt()  # (B,)
        std = torch.where(std > self.eps, std, torch.ones_like(std))
        self.mean.copy_(mean.to(self.mean.dtype))
        self.std.copy_(std.to(self.std.dtype))
        self.fitted.fill_(True)
        return self

    def _shape(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std broadcastable against ``(N, B, ...)`` ``x``."""
        if not bool(self.fitted):
            raise RuntimeError("BandNormalizer is not fitted; call fit(samples) first")
        if x.ndim < 2 or x.shape[1] != self.bands:
            raise ValueError(f"expected (N, {self.bands}, ...) data, got shape {tuple(x.shape)}")
        view = (1, self.bands) + (1,) * (x.ndim - 2)
        return self.mean.view(view).to(x), self.std.view(view).to(x)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Physical units → standardised, same shape."""
        mean, std = self._shape(x)
        return (x - mean) / std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised → physical units, same shape."""
        mean, std = self._shape(x)
        return x * std + mean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`normalize`."""
        return self.normalize(x)

    def normalize_array(self, x: np.ndarray) -> np.ndarray:
        """NumPy convenience: ``(N, B, ...)`` float array → standardised float32 array."""
        with torch.no_grad():
            return self.normalize(torch.as_tensor(np.asarray(x, dtype=np.float32))).cpu().numpy()

    def denormalize_array(self, x: np.ndarray) -> np.ndarray:
        """NumPy convenience: standardised ``(N, B, ...)`` array → float32 physical units."""
        with torch.no_grad():
            return self.denormalize(torch.as_tensor(np.asarray(x, dtype=np.float32))).cpu().numpy()
