"""Whether a scene read whole fits in this machine's memory: refused before its cube is allocated, not by the system.

Linux hands out memory it does not have (overcommit) and kills the process that then touches it: inside QGIS that is
QGIS itself, with the analyst's unsaved project. So a whole read is measured first against the memory available
(what the system can give without swapping anything out, plus free swap), and refused with what to do instead.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import numpy as np

log = logging.getLogger("hypersynth")
TIGHT_SHARE = 0.5  # a cube above this share of the available memory is warned of: a run holds about twice the cube
MEMINFO = Path("/proc/meminfo")


def available_memory() -> Optional[int]:
    """Bytes of memory a new allocation may use: Linux's MemAvailable plus free swap (``/proc/meminfo``), psutil's
    available memory plus free swap elsewhere, or None where neither can tell."""
    if sys.platform.startswith("linux") and MEMINFO.is_file():
        fields = {}
        for line in MEMINFO.read_text().splitlines():
            name, _, value = line.partition(":")
            parts = value.split()
            if parts and parts[0].isdigit():
                fields[name] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
        if "MemAvailable" in fields:
            return fields["MemAvailable"] + fields.get("SwapFree", 0)
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.virtual_memory().available + psutil.swap_memory().free)


class SceneTooLargeError(ValueError):
    """A scene to be read whole needs more memory than this machine has available (a ValueError: the input is what
    to change, and the command line and QGIS show its message as they show any refused input's)."""


def check_fits_in_memory(nbytes: int, name: str, shape: tuple[int, int, int]) -> None:
    """Refuse a whole read of ``nbytes`` (the ``(B, H, W)`` float32 cube of scene ``name``) that cannot fit, before it
    is allocated; warn when it takes over :data:`TIGHT_SHARE` of what is available (the run may then run short).

    Raises:
        SceneTooLargeError: the cube alone is larger than the memory available; the message says what to do.
    """
    available = available_memory()
    if available is None:
        return
    bands, rows, cols = shape
    size = f"{name} ({rows} × {cols} pixels, {bands} bands) takes {nbytes / 1e9:.1f} GB read whole"
    if nbytes > available:
        raise SceneTooLargeError(
            f"{size}, and this machine has {available / 1e9:.1f} GB of memory available; crop it to the area you need "
            "(QGIS: Raster ▸ Extraction ▸ Clip Raster by Extent; gdal_translate -srcwin) or leave out bands, close "
            "other programs, or use a machine with more memory. A GeoTIFF or ENVI scene need not be read whole "
            "(import a sensor product as one: import-scene, or the dock's Import): Augment & Classify then learns from "
            "the area around the labels, and a random forest, an SVM or a saved classifier read it a tile at a time")
    if nbytes > TIGHT_SHARE * available:
        log.warning("%s, over half of the %.1f GB of memory available: a run holds about twice that, so it may run "
                    "out of memory; crop the scene or close other programs if it does", size, available / 1e9)


def new_cube(shape: tuple[int, int, int], name: str, fill: Optional[float] = None) -> np.ndarray:
    """A ``(B, H, W)`` float32 cube for scene ``name`` read whole (left unset, or ``fill`` everywhere), allocated only
    after :func:`check_fits_in_memory` let it: every whole read of a scene allocates its cube here."""
    check_fits_in_memory(4 * int(np.prod(shape)), name, shape)
    if fill is None:
        return np.empty(shape, dtype=np.float32)
    return np.full(shape, fill, dtype=np.float32)
