"""How far a pixel's neighbours look like it: a label-free choice of the classifier's patch size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOMOGENEITY_THRESHOLD = 0.35  # a neighbour ring is "the same surface" while its angle ratio stays below this
SAMPLE_PAIRS = 4000  # random pixel pairs for the scene's typical spectral angle


@dataclass
class Homogeneity:
    """Spectral angle between pixels ``d`` apart, relative to the angle between random pixels of the scene."""

    random_angle: float  # mean spectral angle (degrees) between random valid pixels
    ratios: list[float]  # ratios[d - 1] = mean angle at distance d / random_angle, d = 1..max_radius

    def radius(self, threshold: float = HOMOGENEITY_THRESHOLD) -> int:
        """The largest d such that every distance up to d stays below ``threshold`` (0 when d = 1 fails)."""
        radius = 0
        for ratio in self.ratios:
            if ratio >= threshold:
                break
            radius += 1
        return radius


def spatial_homogeneity(cube: np.ndarray, valid: np.ndarray, max_radius: int = 4, seed: int = 0) -> Homogeneity:
    """Measure how quickly spectra change with distance in ``cube`` ``(B, H, W)``.

    Uses no labels: a fine-resolution scene of large fields (SalinasA, 3.7 m) keeps neighbours 4 pixels
    away within a quarter of the random-pair angle, while a 30 m urban scene (EnMAP Potsdam) is already at
    half of it 3 pixels away. Only pairs of valid pixels count.
    """
    if cube.ndim != 3 or valid.shape != cube.shape[1:]:
        raise ValueError(f"cube must be (bands, rows, cols) and valid (rows, cols); got {cube.shape}, {valid.shape}")
    if max_radius < 1:
        raise ValueError(f"max_radius must be at least 1, got {max_radius}")
    unit = cube / (np.linalg.norm(cube, axis=0, keepdims=True) + 1e-12)  # (B, H, W) unit spectra
    rows, cols = np.nonzero(valid)
    if len(rows) < 2:
        raise ValueError("the scene needs at least two valid pixels to measure its homogeneity")
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(rows), SAMPLE_PAIRS), rng.integers(0, len(rows), SAMPLE_PAIRS)
    random_angle = float(_angles((unit[:, rows[a], cols[a]] * unit[:, rows[b], cols[b]]).sum(0)).mean())
    ratios = []
    for d in range(1, max_radius + 1):
        down = (unit[:, :-d, :] * unit[:, d:, :]).sum(0)[valid[:-d, :] & valid[d:, :]]  # (n,) cosines
        right = (unit[:, :, :-d] * unit[:, :, d:]).sum(0)[valid[:, :-d] & valid[:, d:]]  # (m,) cosines
        pairs = np.concatenate([down, right])
        ratios.append(float(_angles(pairs).mean()) / max(random_angle, 1e-9) if len(pairs) else 1.0)
    return Homogeneity(random_angle, ratios)


def choose_patch_size(cube: np.ndarray, valid: np.ndarray, largest: int = 9,
                      threshold: float = HOMOGENEITY_THRESHOLD) -> int:
    """Patch side ``2·radius + 1`` for the classifier, from :func:`spatial_homogeneity`, between 3 and ``largest``.

    At least 3: the synthesis VAE needs a neighbourhood, and the classifier's 1×1 bottleneck still sees
    the centre spectrum first.
    """
    radius = spatial_homogeneity(cube, valid, max_radius=max(1, (largest - 1) // 2)).radius(threshold)
    return int(min(largest, max(3, 2 * radius + 1)))


def _angles(cosines: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))
