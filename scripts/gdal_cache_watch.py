"""GDAL's block cache and the process's RSS, sampled while a ``hypersynth`` command runs in this process.

Says how much of a run's memory GDAL's cache of decoded blocks holds, and where in the code (the main thread's
innermost frames) the cache was fullest: a peak that grows with the scene is either the program's arrays or this
cache, which GDAL caps at ``GDAL_CACHEMAX`` (5 % of RAM by default), not at the scene. Run from the repository root:

    .venv/bin/python scripts/gdal_cache_watch.py classify --model /tmp/hypersynth_map_outputs/rf/classifier_bundle \\
        --scene /tmp/hypersynth_map_outputs/scene_2048x2048x32.tif --out /tmp/c --overwrite --quiet
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".importroot"))  # this checkout's code

from osgeo import gdal  # noqa: E402

from hypersynth.core.cli import main  # noqa: E402

EVERY = 0.5  # seconds between samples


def rss_mib() -> int:
    """The process's resident set (VmRSS), MiB."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))


def where(thread: threading.Thread) -> str:
    """The innermost frames of ``thread``, file:line, innermost first."""
    frame = sys._current_frames().get(thread.ident or 0)
    steps = list(traceback.walk_stack(frame))[:6] if frame is not None else []
    return " <- ".join(f"{Path(f.f_code.co_filename).name}:{line}" for f, line in steps)


def run() -> int:
    samples: list[tuple[float, int, int, str]] = []  # (seconds, cache MiB, RSS MiB, where)
    done = threading.Event()
    worker = threading.main_thread()

    def watch() -> None:
        start = time.time()
        while not done.is_set():
            samples.append((time.time() - start, gdal.GetCacheUsed() // 2**20, rss_mib(), where(worker)))
            done.wait(EVERY)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        code = main(sys.argv[1:])
    finally:
        done.set()
        watcher.join()
    fullest = max(samples, key=lambda s: s[1])
    highest = max(samples, key=lambda s: s[2])
    print(f"GDAL_CACHEMAX {gdal.GetCacheMax() // 2**20} MiB; {len(samples)} samples every {EVERY} s")
    print(f"cache fullest: {fullest[1]} MiB at {fullest[0]:.0f} s, in {fullest[3]}")
    print(f"RSS highest sampled: {highest[2]} MiB at {highest[0]:.0f} s (cache {highest[1]} MiB), in {highest[3]}")
    print("highest RSS in each tenth of the run (a peak that grows as the run goes is something kept per tile):")
    for tenth in range(10):
        part = samples[tenth * len(samples) // 10:(tenth + 1) * len(samples) // 10]
        if part:
            top = max(part, key=lambda s: s[2])
            print(f"  {top[0]:6.0f} s  RSS {top[2]:5d} MiB  cache {top[1]:4d} MiB  {top[3]}")
    return code


if __name__ == "__main__":
    sys.exit(run())
