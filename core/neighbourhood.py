"""How far a pixel's neighbours look like it: a label-free choice of the classifier's patch size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOMOGENEITY_THRESHOLD = 0.35  # a neighbour ring is "the same surface" while its angle ratio stays below this
SAMPLE_PAIRS = 4000  # random pixel pairs for the scene's typical spectral angle
BLOCK_VALUES = 16_000_000  # cube values made unit spectra at a time (64 MB of float32)


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

    The unit spectra are made a block of rows at a time (with ``max_radius`` rows below it), so memory follows the
    block, not the scene: a full-size scene's unit cube and its products were two more copies of it.
    """
    if cube.ndim != 3 or valid.shape != cube.shape[1:]:
        raise ValueError(f"cube must be (bands, rows, cols) and valid (rows, cols); got {cube.shape}, {valid.shape}")
    if max_radius < 1:
        raise ValueError(f"max_radius must be at least 1, got {max_radius}")
    rows, cols = np.nonzero(valid)
    if len(rows) < 2:
        raise ValueError("the scene needs at least two valid pixels to measure its homogeneity")
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(rows), SAMPLE_PAIRS), rng.integers(0, len(rows), SAMPLE_PAIRS)
    first, second = (_unit(cube[:, rows[i], cols[i]]) for i in (a, b))  # (B, n) unit spectra each
    random_angle = float(_angles((first * second).sum(0)).mean())
    bands, height, width = cube.shape
    step = max(1, BLOCK_VALUES // max(1, bands * width))
    down: list[list[np.ndarray]] = [[] for _ in range(max_radius)]  # (n,) cosines of each block, by distance
    right: list[list[np.ndarray]] = [[] for _ in range(max_radius)]
    for r0 in range(0, height, step):
        r1 = min(r0 + step, height)
        unit = _unit(cube[:, r0:min(r1 + max_radius, height)])  # (B, h + max_radius, W) unit spectra
        ok = valid[r0:min(r1 + max_radius, height)]
        for d in range(1, max_radius + 1):
            top = min(r1, height - d) - r0  # rows of this block that have a pixel d below them
            if top > 0:
                down[d - 1].append((unit[:, :top] * unit[:, d:d + top]).sum(0)[ok[:top] & ok[d:d + top]])
            right[d - 1].append((unit[:, :r1 - r0, :-d] * unit[:, :r1 - r0, d:]).sum(0)[ok[:r1 - r0, :-d] &
                                                                                        ok[:r1 - r0, d:]])
    ratios = []
    for d in range(1, max_radius + 1):
        pairs = np.concatenate(down[d - 1] + right[d - 1])  # (n + m,) cosines, all down pairs first
        ratios.append(float(_angles(pairs).mean()) / max(random_angle, 1e-9) if len(pairs) else 1.0)
    return Homogeneity(random_angle, ratios)


def _unit(spectra: np.ndarray) -> np.ndarray:
    """``spectra`` (bands first) over their norms: unit spectra. The norms are summed band after band whatever the
    array's memory layout, so a pixel's unit spectrum is the same to the bit in a block, a gather or the whole cube."""
    norms = np.linalg.norm(np.ascontiguousarray(spectra), axis=0, keepdims=True)  # (1, ...)
    return spectra / (norms + 1e-12)


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
