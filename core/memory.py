"""Whether a scene read whole fits in the memory this process may use: refused before allocation, not by the system.

Linux hands out memory it does not have (overcommit) and kills the process that then touches it: inside QGIS that is
QGIS itself, with the analyst's unsaved project. So a whole read is measured first against the memory available
(what the system can give without swapping anything out, plus free swap, and no more than the memory limit of the
container, batch job or service the process runs in), and refused with what to do instead.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

log = logging.getLogger("hypersynth")
TIGHT_SHARE = 0.5  # a cube above this share of the available memory is warned of: a run holds about twice the cube
MEMINFO = Path("/proc/meminfo")
PROC_CGROUP = Path("/proc/self/cgroup")  # the control groups this process is in, one line per hierarchy
MOUNTINFO = Path("/proc/self/mountinfo")  # where each control-group hierarchy is mounted
NO_LIMIT = 1 << 60  # a cgroup v1 limit at or above this is "unlimited" (the kernel writes 2^63 rounded to a page)


@dataclass(frozen=True)
class MemoryBudget:
    """The memory a new allocation may use, and what sets it (for messages)."""

    bytes: int  # what a new allocation may use now
    limited: bool  # True where the process's cgroup memory limit binds (a container, a batch job), not the machine

    def describe(self) -> str:
        """The budget as a message says it, e.g. "this machine has 3.1 GB of memory available"."""
        if self.limited:
            return (f"the memory limit of the container or job this runs in (its cgroup) leaves {self.bytes / 1e9:.1f} "
                    "GB of memory available")
        return f"this machine has {self.bytes / 1e9:.1f} GB of memory available"


def memory_budget() -> Optional[MemoryBudget]:
    """What a new allocation may use: Linux's MemAvailable plus free swap (``/proc/meminfo``), lowered to what the
    memory limit of the process's control group leaves (a container's, a Slurm job's, a systemd service's: there
    ``/proc/meminfo`` still shows the whole machine, and going over the limit kills the process); psutil's available
    memory plus free swap elsewhere; None where neither can tell."""
    machine = _meminfo()
    if machine is None:
        try:
            import psutil
        except ImportError:
            return None
        return MemoryBudget(int(psutil.virtual_memory().available + psutil.swap_memory().free), False)
    available, swap_free = machine
    limited = _cgroup_headroom(swap_free)
    if limited is not None and limited < available:
        return MemoryBudget(max(limited, 0), True)
    return MemoryBudget(available, False)


def _meminfo() -> Optional[tuple[int, int]]:
    """``(MemAvailable + SwapFree, SwapFree)`` in bytes from ``/proc/meminfo``, or None off Linux."""
    if not (sys.platform.startswith("linux") and MEMINFO.is_file()):
        return None
    fields = {}
    for line in MEMINFO.read_text().splitlines():
        name, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            fields[name] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    if "MemAvailable" not in fields:
        return None
    return fields["MemAvailable"] + fields.get("SwapFree", 0), fields.get("SwapFree", 0)


# Read by hand: no maintained Python library reports a cgroup's memory headroom (psutil reads /proc/meminfo only).
# The figure is the limit less the kubelet's "working set" (usage less the inactive file cache, which the kernel
# reclaims before it kills), the tightest over the process's cgroup and each ancestor visible.
def _cgroup_headroom(swap_free: int) -> Optional[int]:
    """Bytes this process's memory cgroup (v1 or v2) and its visible ancestors let it allocate, counting the swap
    they allow up to ``swap_free``; None where no limit is set or the files cannot be read."""
    return _tightest(lambda version, cgroup: (_v2_headroom if version == 2 else _v1_headroom)(cgroup, swap_free))


def cgroup_memory_limit() -> Optional[int]:
    """The tightest memory limit, in bytes, of this process's cgroup and its visible ancestors (for describing the
    machine a benchmark ran on); None where none is set or it cannot be read."""
    return _tightest(_memory_limit)


def _tightest(measure: Callable[[int, Path], Optional[int]]) -> Optional[int]:
    """The least ``measure(cgroup version, directory)`` over this process's memory cgroup and its visible ancestors;
    None where every one is None (no limit), there is no memory cgroup, or its files cannot be read."""
    try:
        found = _memory_cgroup_dirs()
        if found is None:
            return None
        version, dirs = found
        values = [value for value in (measure(version, cgroup) for cgroup in dirs) if value is not None]
    except (OSError, ValueError, IndexError):  # an unreadable or unexpected cgroup file: the machine's figure stands
        return None
    return min(values) if values else None


def _memory_limit(version: int, cgroup: Path, stat: Optional[dict[str, int]] = None) -> Optional[int]:
    """A cgroup directory's memory limit in bytes (v1: its ancestors' too, through the hierarchical limit in
    ``stat``, its ``memory.stat`` read where not given); None where unlimited."""
    if version == 2:
        return _v2_limit(cgroup / "memory.max")
    stat = _stat(cgroup / "memory.stat") if stat is None else stat
    ram = min(_read_int(cgroup / "memory.limit_in_bytes", NO_LIMIT), stat.get("hierarchical_memory_limit", NO_LIMIT))
    return None if ram >= NO_LIMIT else ram


def _memory_cgroup_dirs() -> Optional[tuple[int, list[Path]]]:
    """``(cgroup version, directories)`` of this process's memory cgroup: its own first, then each parent up to the
    hierarchy's mount point; None where there is none (no memory controller mounted)."""
    if not (PROC_CGROUP.is_file() and MOUNTINFO.is_file()):
        return None
    v1 = v2 = None
    for line in PROC_CGROUP.read_text().splitlines():  # "4:memory:/path" (v1) or "0::/path" (v2)
        hierarchy, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            v1 = path
        elif hierarchy == "0" and controllers == "":
            v2 = path
    for line in MOUNTINFO.read_text().splitlines():  # "id parent dev root mount opts … - type source superopts"
        fields = line.split()
        dash = fields.index("-")
        root, point, fstype, options = fields[3], _unescape(fields[4]), fields[dash + 1], fields[dash + 3]
        if v1 is not None and fstype == "cgroup" and "memory" in options.split(","):
            return 1, _cgroup_chain(Path(point), root, v1)
        if v1 is None and v2 is not None and fstype == "cgroup2":
            dirs = _cgroup_chain(Path(point), root, v2)
            if (dirs[0] / "memory.current").is_file() or (dirs[0] / "memory.max").is_file():
                return 2, dirs
    return None


def _unescape(path: str) -> str:
    """A mountinfo path with its octal escapes (``\\040`` for a space) decoded."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def _cgroup_chain(mount: Path, root: str, path: str) -> list[Path]:
    """The cgroup directory of ``path`` under a hierarchy mounted at ``mount`` (showing its ``root``), then its
    parents up to ``mount``; the mount alone where the directory is not visible (a container's namespace)."""
    inside = path[len(root):] if root != "/" and path.startswith(root) else path
    leaf = mount / inside.strip("/")
    if not leaf.is_dir():
        return [mount]
    chain = [leaf]
    while chain[-1] != mount and mount in chain[-1].parents:
        chain.append(chain[-1].parent)
    return chain


def _v2_headroom(cgroup: Path, swap_free: int) -> Optional[int]:
    """What a cgroup v2 directory's ``memory.max`` (and ``memory.swap.max``) leave; None where unlimited."""
    ram = _memory_limit(2, cgroup)
    if ram is None:
        return None
    inactive = _stat(cgroup / "memory.stat").get("inactive_file", 0)
    left = ram - max(_read_int(cgroup / "memory.current", 0) - inactive, 0)
    swap = _v2_limit(cgroup / "memory.swap.max")
    swap_left = swap_free if swap is None else min(swap_free, swap - _read_int(cgroup / "memory.swap.current", 0))
    return left + max(swap_left, 0)


def _v1_headroom(cgroup: Path, swap_free: int) -> Optional[int]:
    """What a cgroup v1 directory's memory limit (:func:`_memory_limit`) and ``memory.memsw.limit_in_bytes`` (memory
    plus swap) leave; None where unlimited."""
    stat = _stat(cgroup / "memory.stat")
    ram = _memory_limit(1, cgroup, stat)
    if ram is None:
        return None
    inactive = stat.get("total_inactive_file", stat.get("inactive_file", 0))
    left = ram - max(_read_int(cgroup / "memory.usage_in_bytes", 0) - inactive, 0) + swap_free
    both = _read_int(cgroup / "memory.memsw.limit_in_bytes", NO_LIMIT)
    if both < NO_LIMIT:  # memory and swap together are limited too
        left = min(left, both - max(_read_int(cgroup / "memory.memsw.usage_in_bytes", 0) - inactive, 0))
    return left


def _v2_limit(path: Path) -> Optional[int]:
    """A cgroup v2 limit file's bytes; None for ``max`` or no file."""
    if not path.is_file():
        return None
    text = path.read_text().strip()
    return None if text == "max" else int(text)


def _read_int(path: Path, default: int) -> int:
    """The number a cgroup file holds, or ``default`` where there is no such file."""
    return int(path.read_text().strip()) if path.is_file() else default


def _stat(path: Path) -> dict[str, int]:
    """A cgroup ``memory.stat`` file as ``{key: value}`` (empty where there is none)."""
    if not path.is_file():
        return {}
    return {key: int(value) for key, value in (line.split() for line in path.read_text().splitlines() if line.strip())}


class SceneTooLargeError(ValueError):
    """A scene to be read whole needs more memory than this machine has available (a ValueError: the input is what
    to change, and the command line and QGIS show its message as they show any refused input's)."""


def check_fits_in_memory(nbytes: int, name: str, shape: tuple[int, int, int]) -> None:
    """Refuse a whole read of ``nbytes`` (the ``(B, H, W)`` float32 cube of scene ``name``) that cannot fit, before it
    is allocated; warn when it takes over :data:`TIGHT_SHARE` of what is available (the run may then run short).

    Raises:
        SceneTooLargeError: the cube alone is larger than the memory available; the message says what to do.
    """
    budget = memory_budget()
    if budget is None:
        return
    available = budget.bytes
    bands, rows, cols = shape
    size = f"{name} ({rows} × {cols} pixels, {bands} bands) takes {nbytes / 1e9:.1f} GB read whole"
    if nbytes > available:
        raise SceneTooLargeError(
            f"{size}, and {budget.describe()}; crop it to the area you need (QGIS: Raster ▸ Extraction ▸ Clip "
            "Raster by Extent; gdal_translate -srcwin) or leave out bands, close other programs, or use a machine (or "
            "ask for a container or job) with more memory. A GeoTIFF or ENVI scene need not be read whole "
            "(import a sensor product as one: import-scene, or the dock's Import): Augment & Classify then learns from "
            "the area around the labels, and a random forest, an SVM or a saved classifier read it a tile at a time")
    if nbytes > TIGHT_SHARE * available:
        log.warning("%s, and %s: over half, and a run holds about twice that, so it may run out of memory; crop the "
                    "scene or close other programs if it does", size, budget.describe())


def new_cube(shape: tuple[int, int, int], name: str, fill: Optional[float] = None) -> np.ndarray:
    """A ``(B, H, W)`` float32 cube for scene ``name`` read whole (left unset, or ``fill`` everywhere), allocated only
    after :func:`check_fits_in_memory` let it: every whole read of a scene allocates its cube here."""
    check_fits_in_memory(4 * int(np.prod(shape)), name, shape)
    if fill is None:
        return np.empty(shape, dtype=np.float32)
    return np.full(shape, fill, dtype=np.float32)


def out_of_memory_message(error: BaseException) -> Optional[str]:
    """What to tell the analyst when ``error`` is the GPU (PyTorch's ``OutOfMemoryError``) or this computer
    (``MemoryError``: Windows and macOS refuse an allocation where Linux would kill) running out of memory in the middle
    of a run; None for any other error. The command line, Processing and the dock show it in place of a traceback."""
    torch = sys.modules.get("torch")  # not imported: the error cannot be PyTorch's
    if torch is not None and isinstance(error, getattr(torch, "OutOfMemoryError", ())):
        said = (str(error).strip().splitlines() or ["no detail"])[0][:300].rstrip(".")
        return (f"the GPU ran out of memory ({said}); nothing was written. Close other programs that use the GPU, "
                "choose a smaller preset, or run on the CPU (device 'cpu': --device cpu, or Device in the run's "
                "settings)")
    if isinstance(error, MemoryError):
        said = str(error).strip() or "an allocation was refused"
        return (f"this computer ran out of memory ({said}); nothing was written. Close other programs, crop the scene "
                "or leave out bands, or use a machine with more memory")
    return None


def disk_full_message(error: BaseException, out: Optional[str] = None) -> Optional[str]:
    """What to tell the analyst when ``error`` is a full disk (ENOSPC, or a quota) met while writing ``out``: an
    ``OSError``, or a library's own error that only says so in its text (safetensors' ``SafetensorError``, GDAL's
    ``RuntimeError``); None for any other error."""
    import errno

    text = str(error).lower()
    if not ((isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT))
            or "no space left on device" in text or "disk quota exceeded" in text):
        return None
    where = f" holding {out}" if out else ""
    return f"the disk{where} is full; nothing was written. Free some space, or choose an output on another disk"


# ----------------------------------------------------------------------------- handing freed memory back


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Optional[Callable[[int], int]]:
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, Windows, musl)."""
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except (OSError, TypeError):  # Windows: no process-wide handle
        return None


def release_freed_memory() -> None:
    """Give the pages freed inside the C heap back to the system (glibc's ``malloc_trim``; nothing elsewhere).

    A streamed run frees each window's and tile's arrays, but glibc keeps the freed pages of its heap (its mmap
    threshold rises with each large free, so arrays of 128 kB to 32 MB come from the heap), and they pile up in
    fragments as the windows go: ``classify`` on 16 times the pixels peaked 12 to 30 MB higher with nothing kept
    (session 31). Called after each window of the valid-pixel pass and each predicted tile, the peak stays that of one
    window or tile.
    Written by hand: no maintained Python library exposes it (Dask's guide to worker memory calls it the same way).
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
