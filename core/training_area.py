"""The part of a scene a run's models learn from: the whole scene, or the area around the labels when the whole scene
would not fit in memory (the map still covers the whole scene, predicted tile by tile from its file)."""

from __future__ import annotations

import logging
from typing import Any, Optional

import numpy as np

from . import memory
from .memory import TIGHT_SHARE, SceneTooLargeError
from .progress import NULL_REPORTER, Reporter

log = logging.getLogger("hypersynth")
# "auto": the whole scene when its cube fits in TIGHT_SHARE of the memory available, else the labelled area
TRAINING_AREAS = ("auto", "scene", "labelled-area")
AREA_MARGIN = 64  # pixels of the scene kept around the labels: their patches, smoothing neighbourhoods, context
MIN_AREA_SIDE = 512  # the area grows to at least this side where the scene allows: the synthesis model's sample of it
AREA_STRIP = 64  # rows of the area read at once

Area = tuple[slice, slice]  # (rows, cols) of the scene


def cube_bytes(shape: tuple[int, int, int]) -> int:
    """Bytes of a ``(B, H, W)`` float32 cube."""
    bands, rows, cols = shape
    return 4 * bands * rows * cols


def learns_from_labelled_area(training_area: str, shape: Optional[tuple[int, int, int]]) -> bool:
    """Whether a run learns from the labelled area rather than the whole scene; ``shape``: the scene's ``(B, H, W)``
    when it is a plain raster (read by windows), None otherwise (read whole, always).

    Raises:
        ValueError: an unknown ``training_area``, or "labelled-area" asked of a scene that cannot be read by windows.
    """
    if training_area not in TRAINING_AREAS:
        raise ValueError(f"unknown training area {training_area!r}; use one of {', '.join(TRAINING_AREAS)}")
    if shape is None:
        if training_area == "labelled-area":
            raise ValueError("only a plain raster (a GeoTIFF, an ENVI file) is read by area; import the product as a "
                             "GeoTIFF first (import-scene, or the dock's Import), or learn from the whole scene")
        return False
    if training_area != "auto":
        return training_area == "labelled-area"
    available = memory.available_memory()
    return available is not None and cube_bytes(shape) > TIGHT_SHARE * available


def labelled_area(labelled: np.ndarray, bands: int, name: str) -> Area:
    """The rows and columns of the scene around its ``(H, W)`` ``labelled`` pixels: their bounding box grown by
    :data:`AREA_MARGIN` and to at least :data:`MIN_AREA_SIDE` (centred, inside the scene).

    Raises:
        ValueError: no pixel is labelled.
        SceneTooLargeError: the area's ``bands`` usable bands take over :data:`TIGHT_SHARE` of the memory available.
    """
    rows, cols = np.nonzero(labelled)
    if rows.size == 0:
        raise ValueError(f"no labelled pixel lies on {name}'s valid pixels; label some pixels that hold data")
    height, width = labelled.shape
    area = (_grown(int(rows.min()), int(rows.max()) + 1, height), _grown(int(cols.min()), int(cols.max()) + 1, width))
    need = cube_bytes((bands, area[0].stop - area[0].start, area[1].stop - area[1].start))
    available = memory.available_memory()
    if available is not None and need > TIGHT_SHARE * available:
        raise SceneTooLargeError(
            f"{name} does not fit in memory whole, and its labels spread over rows {area[0].start}–{area[0].stop}, "
            f"columns {area[1].start}–{area[1].stop}: {need / 1e9:.1f} GB to learn from, over half of the "
            f"{available / 1e9:.1f} GB available; label a smaller part of the scene, crop it (QGIS: Raster ▸ "
            "Extraction ▸ Clip Raster by Extent), or use a random forest or SVM baseline, which learns from the "
            "labelled pixels alone")
    return area


def _grown(start: int, stop: int, size: int) -> slice:
    """``start:stop`` grown by :data:`AREA_MARGIN` each side, then to :data:`MIN_AREA_SIDE`, kept inside ``0:size``."""
    start, stop = max(start - AREA_MARGIN, 0), min(stop + AREA_MARGIN, size)
    short = MIN_AREA_SIDE - (stop - start)
    if short > 0:
        start = max(start - short // 2, 0)
        stop = min(start + MIN_AREA_SIDE, size)
        start = max(stop - MIN_AREA_SIDE, 0)
    return slice(start, stop)


def read_area(read: Any, valid: np.ndarray, area: Area, reporter: Reporter = NULL_REPORTER) -> np.ndarray:
    """``(B, h, w)`` float32 usable cube of ``area`` from a window reader, 0 where not ``valid`` (as
    :func:`~.io.read.read_scene` gives a cube), read :data:`AREA_STRIP` rows at a time so that the file's raw values and
    their conversion never take more than a strip's memory; ``reporter`` hears the strips (stage "reading the labelled
    area") and may stop it."""
    rows, cols = area
    cube = np.empty((read.shape[0], rows.stop - rows.start, cols.stop - cols.start), dtype=np.float32)  # (B, h, w)
    starts = range(rows.start, rows.stop, AREA_STRIP)
    for i, r0 in enumerate(starts):
        reporter.check()
        r1 = min(r0 + AREA_STRIP, rows.stop)
        strip = read(r0, r1, cols.start, cols.stop)  # (B, r1 - r0, w), NaN at no data
        strip[:, ~valid[r0:r1, cols]] = 0.0
        cube[:, r0 - rows.start:r1 - rows.start] = strip
        reporter.progress((i + 1) / len(starts), "reading the labelled area")
    return cube


def area_fact(area: Area, shape: tuple[int, int]) -> str:
    """The report's line on what the models learnt from."""
    rows, cols = area
    return (f"Learnt from the area around the labels: rows {rows.start}–{rows.stop}, columns {cols.start}–{cols.stop} "
            f"({rows.stop - rows.start} × {cols.stop - cols.start} of the scene's {shape[0]} × {shape[1]} pixels); "
            "the map covers the whole scene")
