"""The pixels a sensor product's own quality masks flag as cloud, cloud shadow or cirrus, left out of its scene."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from ..scene import Scene
from .product_names import emit_acquisition, enmap_file, is_emit_mask_of

log = logging.getLogger("hypersynth")

# EnMAP L2A quality layers beside the SPECTRAL_IMAGE, one band of uint8 on its grid: (layer, lowest value flagged,
# in words). Values (DLR's product specification, as HySpecNet-11k lists them): cloud and cloud shadow 0 none /
# 1 flagged; cirrus 0 none, 1 thin, 2 medium, 3 thick. Thin cirrus is kept: the atmospheric correction handles it
# and the ground shows through. Haze (corrected too) and snow (a surface) are kept.
ENMAP_QUALITY_LAYERS = (("QL_QUALITY_CLOUD", 1, "cloud"), ("QL_QUALITY_CLOUDSHADOW", 1, "cloud shadow"),
                        ("QL_QUALITY_CIRRUS", 2, "medium or thick cirrus"))

# EMIT: the L2A MASK granule of the same acquisition, whose ``mask`` (downtrack, crosstrack, flags) float32 holds
# 0/1 flags and some data bands, named in ``sensor_band_parameters/mask_bands``. The band layout differs between
# versions (v001: Cloud flag, Cirrus flag, Water flag, Spacecraft Flag, Dilated Cloud Flag, AOD550, H2O, Aggregate
# Flag; v003 adds SpecTf-Cloud bands), so flags are chosen by name. Water and the Aggregate Flag (which includes
# water) are not used: water is land cover to classify.
EMIT_MASK_FLAGS = {"cloud flag": "cloud", "cirrus flag": "cirrus", "dilated cloud flag": "cloud buffer",
                   "spacecraft flag": "spacecraft", "spectf-cloud flag": "cloud"}
EMIT_V001_MASK_BANDS = ("Cloud flag", "Cirrus flag", "Water flag", "Spacecraft Flag", "Dilated Cloud Flag", "AOD550",
                        "H2O (g cm-2)", "Aggregate Flag")  # when a granule does not name its bands
KEEP_FLAGGED_HINT = ("to keep them, import the product with its quality masks off (hypersynth import-scene "
                     "--keep-flagged-pixels, or untick the option in Processing's Import scene)")


@dataclass(frozen=True)
class FlaggedPixels:
    """What a product's quality masks flag."""

    flagged: np.ndarray  # (H, W) bool on the scene's grid: True where a mask flags the pixel
    reasons: tuple[str, ...]  # what the masks used flag, in words: ("cloud", "cloud shadow", …)
    files: tuple[str, ...]  # the files the masks came from (names), for the message


def enmap_flagged(image: Path, stem: str, shape: tuple[int, int]) -> Optional[FlaggedPixels]:
    """The pixels the QL_QUALITY_* layers beside an EnMAP L2A ``image`` flag, or None when none of them is there.

    A layer on another grid than the image's ``shape`` (rows, cols) is not used, and the log says so.
    """
    import rasterio
    from rasterio.errors import RasterioError

    flagged = np.zeros(shape, dtype=bool)
    reasons, files = [], []
    for layer, lowest, words in ENMAP_QUALITY_LAYERS:
        path = enmap_file(image, stem, f"{layer}.TIF")
        if path is None:
            continue
        try:
            with rasterio.open(path) as ds:
                values, nodata = ds.read(1), ds.nodata
        except (RasterioError, OSError) as err:
            log.warning("%s cannot be read (%s): the pixels it flags as %s are not left out; copy the product again",
                        path.name, err, words)
            continue
        if values.shape != shape:
            log.warning("%s is %d × %d pixels, the image %d × %d: the pixels it flags as %s are not left out",
                        path.name, *values.shape, *shape, words)
            continue
        hit = values >= lowest
        if nodata is not None:
            hit &= values != nodata
        flagged |= hit
        reasons.append(words)
        files.append(path.name)
    return FlaggedPixels(flagged, tuple(reasons), tuple(files)) if files else None


def emit_mask_granule(path: Path) -> Optional[Path]:
    """The L2A MASK granule of the same acquisition beside an EMIT L2A RFL or L1B RAD granule, or None."""
    acquisition = emit_acquisition(path.name)
    if acquisition is None:
        return None
    found = sorted(p for p in path.parent.glob("EMIT_L2A_MASK_*")
                   if p.is_file() and is_emit_mask_of(p.name, acquisition))
    return found[-1] if found else None  # the latest version when several are there


def emit_flagged(mask_path: Path, swath: tuple[int, int], ortho: Callable[[np.ndarray], np.ndarray]
                 ) -> Optional[FlaggedPixels]:
    """The pixels an EMIT L2A MASK granule flags, on the ortho grid.

    Args:
        mask_path: the MASK granule (:func:`emit_mask_granule`).
        swath: (downtrack, crosstrack) of the cube's swath; a mask of another swath is not used.
        ortho: puts a (downtrack, crosstrack) bool array onto the scene's ortho grid (through the cube's GLT).

    Returns:
        The flagged pixels, or None when the granule cannot be used (the log says why).
    """
    import h5py

    try:
        with h5py.File(mask_path, "r") as f:
            mask = f.get("mask")
            names = _mask_band_names(f, mask.shape[2] if mask is not None and mask.ndim == 3 else 0)
            if mask is None or mask.ndim != 3 or tuple(mask.shape[:2]) != swath or names is None:
                log.warning("%s is not the MASK granule of this %d × %d swath (its mask is %s): clouds are not left "
                            "out; download the granule's MASK file again", mask_path.name, *swath,
                            "missing" if mask is None else "×".join(map(str, mask.shape)))
                return None
            used = [(i, EMIT_MASK_FLAGS[n.lower()]) for i, n in enumerate(names) if n.lower() in EMIT_MASK_FLAGS]
            if not used:
                log.warning("%s names no cloud, cirrus or spacecraft flag among its bands (%s): clouds are not left "
                            "out", mask_path.name, ", ".join(names))
                return None
            # the flags used, in one read (increasing indices, as h5py wants); -9999 is no data
            flags = np.asarray(mask[:, :, [i for i, _ in used]], dtype=np.float32)  # (downtrack, crosstrack, n)
            flagged_swath = (flags >= 0.5).any(axis=2)
    except OSError as err:
        log.warning("%s cannot be read (%s): clouds are not left out; download the MASK granule again",
                    mask_path.name, err)
        return None
    reasons = tuple(dict.fromkeys(words for _, words in used))
    return FlaggedPixels(ortho(flagged_swath), reasons, (mask_path.name,))


def _mask_band_names(f: Any, bands: int) -> Optional[list[str]]:
    """The MASK granule's band names, or v001's when it names none and has v001's 8 bands."""
    params = f.get("sensor_band_parameters")
    if params is not None and "mask_bands" in params:
        raw = np.asarray(params["mask_bands"][()]).ravel()
        names = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in raw]
        return [n.strip() for n in names] if len(names) == bands else None
    return list(EMIT_V001_MASK_BANDS) if bands == len(EMIT_V001_MASK_BANDS) else None


def leave_out_flagged(scene: Scene, found: FlaggedPixels) -> int:
    """Mark the pixels ``found`` flags as no data in ``scene`` (in place) and say how many; returns that number."""
    newly = found.flagged & scene.valid
    count = int(newly.sum())
    if count:
        scene.valid &= ~found.flagged
        scene.cube[:, newly] = 0.0  # a scene's invalid pixels hold 0 (Scene's rule)
        share = 100.0 * count / max(1, newly.size)
        log.warning("%s: %s pixel%s (%.1f %%) that the product's quality masks (%s) flag as %s %s left out as no "
                    "data: not classified, not learnt from; %s", scene.name, f"{count:,}", "" if count == 1 else "s",
                    share, ", ".join(found.files), _either(found.reasons), "is" if count == 1 else "are",
                    KEEP_FLAGGED_HINT)
    else:
        log.info("%s: the product's quality masks (%s) flag no pixel as %s", scene.name, ", ".join(found.files),
                 _either(found.reasons))
    return count


def _either(words: tuple[str, ...]) -> str:
    """"a, b or c"."""
    return " or ".join(filter(None, (", ".join(words[:-1]), words[-1]))) if words else "nothing"
