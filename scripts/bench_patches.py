"""Patches per second of :func:`hypersynth.core.patches.extract_patches` against the indexing it replaced (session 17).

Whole-scene prediction of a patch classifier cuts every pixel's ``bands × p × p`` patch on one CPU core; on a GPU
that cutting, not the network, set the pace (BENCHMARKS.md §5, session 17). This times one tile's batch of patches,
cut both ways from the same padded tile, and checks that both give the same patches.

    .venv/bin/python scripts/bench_patches.py --bands 200 --patch 9 --tile 256 --batch 8192 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Callable

import numpy as np

from hypersynth.core.patches import extract_patches


def per_offset_indexing(padded: np.ndarray, rows: np.ndarray, cols: np.ndarray, p: int) -> np.ndarray:
    """The cutting before session 17: index the padded cube at each of the p² offsets of every patch."""
    dr = np.arange(p)[None, :] + rows[:, None]  # (N, p)
    dc = np.arange(p)[None, :] + cols[:, None]  # (N, p)
    out = padded[:, dr[:, :, None], dc[:, None, :]]  # (B, N, p, p)
    return np.ascontiguousarray(out.transpose(1, 0, 2, 3), dtype=np.float32)


def patches_per_second(cut: Callable[[], np.ndarray], n: int, repeats: int) -> float:
    """The best of ``repeats`` timed calls (after one untimed), as patches per second."""
    cut()
    best = min(_timed(cut) for _ in range(repeats))
    return n / best


def _timed(cut: Callable[[], np.ndarray]) -> float:
    t0 = time.perf_counter()
    cut()
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bands", type=int, default=200)
    parser.add_argument("--patch", type=int, default=9, help="patch side p")
    parser.add_argument("--tile", type=int, default=256, help="tile side (pixels)")
    parser.add_argument("--batch", type=int, default=8192, help="patches cut per call")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    r = args.patch // 2
    padded = rng.random((args.bands, args.tile + 2 * r, args.tile + 2 * r), dtype=np.float32)  # a padded tile
    pixel = np.arange(min(args.batch, args.tile * args.tile))  # row by row, as prediction takes a tile's pixels
    rows, cols = pixel // args.tile, pixel % args.tile
    now = extract_patches(padded, rows, cols, args.patch, padded=padded)
    before = per_offset_indexing(padded, rows, cols, args.patch)
    if not np.array_equal(now, before):
        raise SystemExit("the two cuttings differ: this is a bug")
    result = {"bands": args.bands, "patch": args.patch, "tile": args.tile, "batch": len(rows),
              "patches_per_s_before": round(patches_per_second(
                  lambda: per_offset_indexing(padded, rows, cols, args.patch), len(rows), args.repeats)),
              "patches_per_s_now": round(patches_per_second(
                  lambda: extract_patches(padded, rows, cols, args.patch, padded=padded), len(rows), args.repeats)),
              "load_average": os.getloadavg()}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
