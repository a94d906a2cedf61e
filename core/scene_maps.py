"""A run's class map, confidence and probabilities written tile by tile as they are predicted, never held whole."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from .memory import release_freed_memory
from .progress import NULL_REPORTER, Reporter
from .scene import ClassInfo, Scene


@dataclass
class MappedScene:
    """What a run keeps of the maps it wrote: what the report and the accuracy need, not the maps (whose 10 bytes a
    pixel would grow with the scene)."""

    pixels: dict[int, int]  # mapped pixels of each class id (0: the unclassified, invalid pixels)
    scored: Optional[np.ndarray]  # (N,) class ids mapped at the pixels asked to be scored, row by row; 0 unclassified
    scored_confidence: Optional[np.ndarray] = None  # (N,) the confidence raster's value there (NaN: unclassified)

    def mapped(self, class_id: int) -> int:
        """Pixels the map gives ``class_id``."""
        return self.pixels.get(int(class_id), 0)


def predict_and_write_maps(classifier: Any, class_ids: np.ndarray, classes: Sequence[ClassInfo],
                           mapped: Sequence[ClassInfo], scene: Scene, cube: Any, *, class_map: Path,
                           confidence: Path, probabilities: Optional[Path] = None,
                           scored: Optional[np.ndarray] = None, tile_size: int = 256, batch_size: int = 1024,
                           reporter: Reporter = NULL_REPORTER) -> MappedScene:
    """Predict every valid pixel of ``scene`` and write its class map (styled with ``mapped``), its confidence and
    uncertainty and, given ``probabilities``, a probability band per class (in ``classes``' order of
    ``class_ids``), one tile at a time.

    Memory is bounded by the tile: each tile goes to the three files as it is predicted, and only the pixel counts
    per class and the classes at the ``scored`` pixels are kept. Each file appears only when every tile is
    written (a cancelled or failed run leaves none).

    Args:
        classifier: a fitted classifier; its probability columns are ``class_ids``.
        class_ids: ``(K,)`` class id of each probability column.
        classes: every class of the run (the probability bands are named by them).
        mapped: the classes the map's style and legend show (those the classifier learnt).
        scene: the scene's grid (``valid``, georeference).
        cube: the scene's usable bands: an array or a window reader (:func:`~.classify.predict.predict_tiles`).
        class_map, confidence, probabilities: the GeoTIFFs to write (``probabilities``: None, not written).
        scored: ``(N,)`` ascending flat indices (``row * W + col``) of the pixels whose mapped class to keep (e.g.
            the validation pixels, :class:`~.evaluation.assess.ValidationPixels`); None: none.
        tile_size: side of a tile in pixels; batch_size: samples per ``predict_proba`` call.
        reporter: progress per batch, cancel between batches.
    """
    from .classify.predict import predict_tiles
    from .io.write import categorical_raster, confidence_raster, probability_raster

    ids = np.asarray(class_ids, dtype=np.int64)
    grid = {"transform": scene.transform, "crs_wkt": scene.crs_wkt}
    shape = scene.valid.shape
    tiles = predict_tiles(classifier, cube, scene.valid, tile_size=tile_size, batch_size=batch_size,
                          reporter=reporter, stage="prediction")
    gather = _ScoredPixels(scored, shape[1]) if scored is not None else None
    counts = np.zeros(len(ids) + 1, dtype=np.int64)  # [unclassified, column 0, column 1, ...]
    with ExitStack() as files:
        write_class = files.enter_context(categorical_raster(class_map, list(mapped), shape, **grid))
        write_confidence = files.enter_context(confidence_raster(confidence, shape, **grid))
        write_probabilities = None
        if probabilities is not None:
            by_id = {c.id: c for c in classes}
            write_probabilities = files.enter_context(
                probability_raster(probabilities, [by_id[int(i)] for i in ids], shape, **grid))
        for tile in tiles:
            class_ids_tile = tile.label_map(ids)  # (h, w), 0 where unclassified
            write_class(tile.row0, tile.col0, class_ids_tile)
            write_confidence(tile.row0, tile.col0, tile.confidence, tile.entropy)
            if write_probabilities is not None:
                write_probabilities(tile.row0, tile.col0, tile.probabilities)
            counts += np.bincount(tile.class_index.ravel() + 1, minlength=len(counts))
            if gather is not None:
                gather.add(tile.row0, tile.col0, class_ids_tile, tile.confidence)
            del tile, class_ids_tile
            release_freed_memory()  # the tile's pages, or the heap grows with the tiles' fragments
    pixels = {0: int(counts[0]), **{int(i): int(n) for i, n in zip(ids, counts[1:])}}
    return MappedScene(pixels, None if gather is None else gather.classes,
                       None if gather is None else gather.confidence)


class _ScoredPixels:
    """The mapped class at each of a few pixels (flat indices), filled in as the tiles come (in any order): no
    ``(H, W)`` mask is held."""

    def __init__(self, flat: np.ndarray, width: int) -> None:
        self.flat = np.asarray(flat, dtype=np.int64)  # (N,) ascending flat indices: the order of ``classes``
        if self.flat.ndim != 1 or np.any(np.diff(self.flat) <= 0):
            raise ValueError("scored pixels must be ascending flat indices (row * width + col), each once")
        self.width = int(width)
        self.classes = np.zeros(len(self.flat), dtype=np.int64)  # (N,)
        self.confidence = np.full(len(self.flat), np.nan, dtype=np.float32)  # (N,)

    def add(self, row0: int, col0: int, class_ids: np.ndarray, confidence: np.ndarray) -> None:
        """Keep the classes of ``class_ids`` and the ``confidence`` (``(h, w)`` tiles at ``row0, col0``) at the
        scored pixels in it."""
        h, w = class_ids.shape
        lo, hi = np.searchsorted(self.flat, [row0 * self.width, (row0 + h) * self.width])  # the tile's rows
        rows, cols = np.divmod(self.flat[lo:hi], self.width)
        inside = (cols >= col0) & (cols < col0 + w)
        self.classes[lo:hi][inside] = class_ids[rows[inside] - row0, cols[inside] - col0]
        self.confidence[lo:hi][inside] = confidence[rows[inside] - row0, cols[inside] - col0]
