"""The part of a scene a run's models learn from: the whole scene, or the area around the labels when the whole scene
would not fit in memory (the map still covers the whole scene, predicted tile by tile from its file)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from . import memory
from .io.windows import square_index
from .memory import TIGHT_SHARE, SceneTooLargeError
from .progress import NULL_REPORTER, Reporter

log = logging.getLogger("hypersynth")
# "auto": the whole scene when its cube fits in TIGHT_SHARE of the memory available, else the labelled area
TRAINING_AREAS = ("auto", "scene", "labelled-area")
AREA_MARGIN = 64  # pixels of the scene kept around the labels: their patches, smoothing neighbourhoods, context
MIN_AREA_SIDE = 512  # the area grows to at least this side where the scene allows: the synthesis model's sample of it
AREA_STRIP = 64  # rows of the area read at once

Box = tuple[slice, slice]  # (rows, cols) of the scene
LABEL_SQUARE = 256  # labels are grouped by squares of this side; each group's box is kept (merged where they meet)
GAP = 32  # no-data pixels between two boxes laid side by side: wider than a patch's and the smoothing's reach


@dataclass
class TrainingArea:
    """The boxes of the scene the models learn from, laid out side by side with :data:`GAP` no-data pixels between
    them (one box: the box itself). What the models see as their scene: its grid is :attr:`grid_shape`."""

    boxes: list[Box]  # the scene's rows and columns, top to bottom as laid out
    scene_shape: tuple[int, int]  # (H, W) of the scene

    @property
    def grid_shape(self) -> tuple[int, int]:
        """``(h, w)`` of the laid-out boxes."""
        slots = [slot for _, slot in self._slots()]
        return max(rows.stop for rows, _ in slots), max(cols.stop for _, cols in slots)

    def _slots(self) -> list[tuple[Box, Box]]:
        """``(box in the scene, its place in the laid-out grid)`` for each box: left to right in shelves about as wide
        as the boxes' total area is square (at least the widest box), :data:`GAP` no-data pixels between boxes and
        between shelves, so that the grid wastes little memory around boxes of unlike sizes."""
        sizes = [(rows.stop - rows.start, cols.stop - cols.start) for rows, cols in self.boxes]
        width = max(max(w for _, w in sizes), int(np.sqrt(sum(h * w for h, w in sizes))))
        slots, x, y, shelf = [], 0, 0, 0
        for box, (h, w) in zip(self.boxes, sizes):
            if x and x + w > width:  # the next shelf
                x, y, shelf = 0, y + shelf + GAP, 0
            slots.append((box, (slice(y, y + h), slice(x, x + w))))
            x, shelf = x + w + GAP, max(shelf, h)
        return slots

    def take(self, grid: np.ndarray) -> np.ndarray:
        """A scene's ``(H, W)`` array laid out as the boxes are (0 / False between and beside them)."""
        out = np.zeros(self.grid_shape, dtype=grid.dtype)
        for box, slot in self._slots():
            out[slot] = grid[box]
        return out

    def read(self, read: Any, valid: np.ndarray, reporter: Reporter = NULL_REPORTER) -> np.ndarray:
        """``(B, h, w)`` float32 usable cube of the laid-out boxes from a window reader, 0 where not ``valid`` and
        between boxes (as :func:`~.io.read.read_scene` gives a cube); each box read :data:`AREA_STRIP` rows at a time,
        so the file's raw values and their conversion never take more than a strip's memory. ``reporter`` hears the
        strips (stage "reading the labelled area") and may stop it."""
        cube = np.zeros((read.shape[0], *self.grid_shape), dtype=np.float32)  # (B, h, w)
        strips = [(box, slot, r0) for box, slot in self._slots() for r0 in range(box[0].start, box[0].stop, AREA_STRIP)]
        for i, ((rows, cols), (slot_rows, slot_cols), r0) in enumerate(strips):
            reporter.check()
            r1 = min(r0 + AREA_STRIP, rows.stop)
            strip = read(r0, r1, cols.start, cols.stop)  # (B, r1 - r0, w), NaN at no data
            strip[:, ~valid[r0:r1, cols]] = 0.0
            top = slot_rows.start + r0 - rows.start
            cube[:, top:top + r1 - r0, slot_cols] = strip
            reporter.progress((i + 1) / len(strips), "reading the labelled area")
        return cube

    def describe(self) -> str:
        """The boxes in words: "rows 0–127, columns 0–236; rows …"."""
        return "; ".join(f"rows {r.start}–{r.stop}, columns {c.start}–{c.stop}" for r, c in self.boxes)

    def fact(self) -> str:
        """The report's line on what the models learnt from."""
        pixels = sum((r.stop - r.start) * (c.stop - c.start) for r, c in self.boxes)
        return (f"Learnt from the area around the labels ({self.describe()}: {pixels} of the scene's "
                f"{self.scene_shape[0] * self.scene_shape[1]} pixels); the map covers the whole scene")


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
    budget = memory.memory_budget()
    return budget is not None and cube_bytes(shape) > TIGHT_SHARE * budget.bytes


def labelled_area(labelled: np.ndarray, bands: int, name: str) -> TrainingArea:
    """The part of the scene around its ``(H, W)`` ``labelled`` pixels the models learn from: their bounding box grown
    by :data:`AREA_MARGIN` and to at least :data:`MIN_AREA_SIDE` (centred, inside the scene); or, where that box's
    ``bands`` usable bands would take over :data:`TIGHT_SHARE` of the memory available (labels spread over a large
    scene), a box around each group of labels (:data:`LABEL_SQUARE` squares, :data:`AREA_MARGIN` more each side,
    merged where they meet), laid side by side.

    Raises:
        ValueError: no pixel is labelled.
        SceneTooLargeError: even the boxes take over :data:`TIGHT_SHARE` of the memory available.
    """
    rows, cols = np.nonzero(labelled)
    if rows.size == 0:
        raise ValueError(f"no labelled pixel lies on {name}'s valid pixels; label some pixels that hold data")
    height, width = labelled.shape
    available = memory.memory_budget()
    budget = None if available is None else TIGHT_SHARE * available.bytes
    whole = TrainingArea([(_grown(int(rows.min()), int(rows.max()) + 1, height),
                           _grown(int(cols.min()), int(cols.max()) + 1, width))], (height, width))
    if budget is None or cube_bytes((bands, *whole.grid_shape)) <= budget:
        return whole
    groups = TrainingArea(_label_boxes(rows, cols, (height, width)), (height, width))
    need = cube_bytes((bands, *groups.grid_shape))
    if need > budget:
        raise SceneTooLargeError(
            f"{name} does not fit in memory whole, and the areas around its labels take {need / 1e9:.1f} GB to learn "
            f"from ({len(groups.boxes)} of them), over half of what is free: {available.describe()}; "
            "label fewer places, crop the scene (QGIS: Raster ▸ Extraction ▸ Clip Raster by Extent), or use a "
            "random forest or SVM baseline, which learns from the labelled pixels alone")
    return groups


def _label_boxes(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> list[Box]:
    """A box around the labels of each :data:`LABEL_SQUARE` square holding some, :data:`AREA_MARGIN` more each side
    (inside the scene), merged while any two overlap or touch; top to bottom, then left to right."""
    height, width = shape
    square = square_index(rows, cols, width, LABEL_SQUARE)
    boxes = []
    for s in np.unique(square):
        r, c = rows[square == s], cols[square == s]
        boxes.append([max(int(r.min()) - AREA_MARGIN, 0), min(int(r.max()) + 1 + AREA_MARGIN, height),
                      max(int(c.min()) - AREA_MARGIN, 0), min(int(c.max()) + 1 + AREA_MARGIN, width)])
    while (pair := _first_meeting(boxes)) is not None:  # a few hundred boxes at most: pairwise is quick
        i, j = pair
        a, b = boxes[i], boxes.pop(j)  # j > i: boxes[i] stays in place
        boxes[i] = [min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])]
    return [(slice(r0, r1), slice(c0, c1)) for r0, r1, c0, c1 in sorted(boxes)]


def _first_meeting(boxes: list[list[int]]) -> Optional[tuple[int, int]]:
    """``(i, j)``, ``i < j``, of the first two ``[r0, r1, c0, c1]`` boxes that overlap or touch, or None."""
    return next(((i, j) for i, a in enumerate(boxes) for j in range(i + 1, len(boxes))
                 if a[0] <= boxes[j][1] and boxes[j][0] <= a[1] and a[2] <= boxes[j][3] and boxes[j][2] <= a[3]), None)


def _grown(start: int, stop: int, size: int) -> slice:
    """``start:stop`` grown by :data:`AREA_MARGIN` each side, then to :data:`MIN_AREA_SIDE`, kept inside ``0:size``."""
    start, stop = max(start - AREA_MARGIN, 0), min(stop + AREA_MARGIN, size)
    short = MIN_AREA_SIDE - (stop - start)
    if short > 0:
        start = max(start - short // 2, 0)
        stop = min(start + MIN_AREA_SIDE, size)
        start = max(stop - MIN_AREA_SIDE, 0)
    return slice(start, stop)
