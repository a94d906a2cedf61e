"""Cut ``bands × p × p`` patches around pixels, with reflect padding so border pixels get patches too."""

from __future__ import annotations

from typing import Iterator

import numpy as np


def pad_cube(cube: np.ndarray, patch_size: int) -> np.ndarray:
    """Reflect-pad a ``(B, H, W)`` cube by ``patch_size // 2`` on each side (edge mode for tiny grids)."""
    r = patch_size // 2
    if r == 0:
        return cube
    mode = "reflect" if min(cube.shape[1:]) > r else "edge"
    return np.pad(cube, ((0, 0), (r, r), (r, r)), mode=mode)


def extract_patches(cube: np.ndarray, rows: np.ndarray, cols: np.ndarray, patch_size: int,
                    padded: np.ndarray | None = None) -> np.ndarray:
    """Patches centred on ``(rows[i], cols[i])``.

    Args:
        cube: ``(B, H, W)`` float32 cube.
        rows, cols: pixel coordinates, same length N.
        patch_size: odd or even side p; the centre pixel sits at index ``p // 2``.
        padded: the result of :func:`pad_cube` for this cube, to avoid padding again in loops.

    Returns:
        ``(N, B, p, p)`` float32.
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    if padded is None:
        padded = pad_cube(cube, patch_size)
    p = patch_size
    # (N, p) row and column indices into the padded cube; centre at offset p // 2.
    dr = np.arange(p)[None, :] + rows[:, None]
    dc = np.arange(p)[None, :] + cols[:, None]
    out = padded[:, dr[:, :, None], dc[:, None, :]]  # (B, N, p, p)
    return np.ascontiguousarray(out.transpose(1, 0, 2, 3), dtype=np.float32)


def iter_patch_batches(cube: np.ndarray, rows: np.ndarray, cols: np.ndarray, patch_size: int,
                       batch_size: int, padded: np.ndarray | None = None
                       ) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield ``(slice into rows/cols, (n, B, p, p) patches)`` in batches, padding the cube once."""
    if padded is None:
        padded = pad_cube(cube, patch_size)
    n = len(rows)
    for start in range(0, n, batch_size):
        sl = slice(start, min(start + batch_size, n))
        yield sl, extract_patches(cube, rows[sl], cols[sl], patch_size, padded=padded)
