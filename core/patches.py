"""Cut ``bands × p × p`` patches around pixels, with reflect padding so border pixels get patches too."""

from __future__ import annotations

from typing import Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


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
    # A (B, H, W, p, p) view of every p x p window of the padded cube (no copy): the patch centred on pixel
    # (r, c) starts at padded row r, col c. Indexing it by pixel copies whole p x p windows, 2-3x faster than
    # indexing each of the p^2 offsets (measured: BENCHMARKS.md §5, session 17).
    windows = sliding_window_view(padded, (p, p), axis=(1, 2))  # (B, H', W', p, p)
    out = windows[:, rows, cols]  # (B, N, p, p)
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
