"""Full-scene prediction in tiles, so memory depends on the tile size and not on the scene size."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Sequence, Union

import numpy as np
from scipy.special import entr

from ..io.windows import RasterWindowReader, raster_window_reader  # noqa: F401  (the readers predict_scene streams)
from ..patches import extract_patches, pad_cube
from ..pixel_mask import PixelMask
from ..progress import NULL_REPORTER, Reporter
from .base import Classifier
from .spatial import kernel_radius, smooth_probabilities

log = logging.getLogger("hypersynth")

# read_window(row0, row1, col0, col1) -> (B, row1 - row0, col1 - col0) float32, NaN where nodata.
WindowReader = Callable[[int, int, int, int], np.ndarray]
CubeSource = Union[np.ndarray, Any, WindowReader]  # an ndarray, a memmap / h5py-like sliceable, or a reader


@dataclass
class ScenePrediction:
    """What the classifier says about every pixel of a scene."""

    class_index: np.ndarray  # (H, W) int16 class index 0..K-1, -1 where the pixel is invalid / nodata
    confidence: np.ndarray  # (H, W) float32 highest class probability, NaN where invalid
    entropy: np.ndarray  # (H, W) float32 entropy of the probabilities / log(K): 0 sure .. 1 clueless, NaN invalid
    n_classes: int = 0  # K, the number of probability columns

    def label_map(self, class_ids: Sequence[int], fill: int = 0) -> np.ndarray:
        """``(H, W)`` int32 label ids (``class_ids[index]``), ``fill`` where the pixel is invalid."""
        return _label_map(self.class_index, class_ids, fill)


def _fill_nodata(patches: np.ndarray, patch_valid: np.ndarray) -> np.ndarray:
    """Replace nodata neighbours in each patch by the mean spectrum of the patch's valid pixels.

    The centre pixel is always valid (only valid pixels are classified), so the mean exists.
    Args:
        patches: ``(n, B, p, p)`` with 0 at nodata positions.
        patch_valid: ``(n, 1, p, p)`` float32, 1 where the neighbour is valid.
    """
    if patch_valid.size == 0 or patch_valid.min() >= 1.0:
        return patches
    count = patch_valid.sum(axis=(2, 3), keepdims=True)  # (n, 1, 1, 1)
    mean = (patches * patch_valid).sum(axis=(2, 3), keepdims=True) / count  # (n, B, 1, 1)
    return np.where(patch_valid > 0, patches, mean).astype(np.float32)


def _probabilities(classifier: Classifier, samples: np.ndarray, n_classes: int) -> np.ndarray:
    proba = np.asarray(classifier.predict_proba(samples), dtype=np.float32)  # (n, K)
    if proba.shape != (len(samples), n_classes):
        raise ValueError(f"the classifier returned probabilities of shape {proba.shape}; expected "
                         f"({len(samples)}, {n_classes}) (one column per class it was trained on)")
    return proba


def _n_classes(classifier: Classifier) -> int:
    k = int(getattr(classifier, "n_classes", 0) or 0)
    if k < 1:
        raise ValueError("the classifier has no classes; fit it before predicting")
    return k


def _patch_size(classifier: Classifier) -> int:
    p = int(getattr(classifier, "patch_size", 1))
    if p < 1:
        raise ValueError(f"classifier.patch_size must be at least 1; got {p}")
    return p


def predict_pixels(classifier: Classifier, cube: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                   batch_size: int = 4096, reporter: Reporter = NULL_REPORTER, *,
                   valid: Optional[np.ndarray] = None, stage: str = "prediction") -> np.ndarray:
    """Class probabilities of selected pixels only (e.g. the test pixels of a benchmark).

    Args:
        cube: ``(B, H, W)`` float32 scene held in memory (its patches reflected at the border, as the tiles see them).
        rows, cols: ``(N,)`` pixel coordinates.
        batch_size: samples per ``predict_proba`` call.
        valid: ``(H, W)`` bool; when given, invalid neighbours inside a patch are filled as in
            :func:`predict_scene` (the valid mean of the patch), so both give the same probabilities.

    Returns:
        ``(N, K)`` float32 probabilities.
    """
    cube = np.asarray(cube)
    if cube.ndim != 3:
        raise ValueError(f"cube must be (bands, rows, cols); got shape {cube.shape}")
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    if rows.shape != cols.shape or rows.ndim != 1:
        raise ValueError("rows and cols must be 1-D arrays of the same length")
    if rows.size and (rows.min() < 0 or cols.min() < 0 or rows.max() >= cube.shape[1] or cols.max() >= cube.shape[2]):
        raise ValueError(f"pixel coordinates fall outside the {cube.shape[1]}x{cube.shape[2]} scene")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    p, k = _patch_size(classifier), _n_classes(classifier)
    read = patch_reader(cube, valid, p)  # each batch gathers its own patches: no padded copy of the cube
    out = np.empty((len(rows), k), dtype=np.float32)
    for start in range(0, len(rows), batch_size):
        reporter.check()
        sl = slice(start, min(start + batch_size, len(rows)))
        out[sl] = _probabilities(classifier, read(rows[sl], cols[sl]), k)  # from (n, B, p, p) patches
        reporter.progress(sl.stop / len(rows), stage)
    return out


def pixel_patches(cube: np.ndarray, valid: Optional[np.ndarray], rows: np.ndarray, cols: np.ndarray,
                  p: int) -> np.ndarray:
    """``(N, B, p, p)`` patches centred on the pixels exactly as prediction sees them: reflected at the
    scene border, no-data neighbours filled with the patch's valid mean. Training patches come from here so
    a classifier never learns from zeros it will not meet again (tile edges, no-data stripes)."""
    return patch_reader(cube, valid, p)(rows, cols)


def patch_reader(cube: np.ndarray, valid: Optional[np.ndarray], p: int
                 ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """:func:`pixel_patches` for many calls on one scene.

    Each call gathers its pixels' ``p × p`` neighbourhoods straight from ``cube``
    (:func:`~hypersynth.core.patches.extract_patches` without a padded cube: the indices that pass the border
    reflected as :func:`~hypersynth.core.patches.pad_cube` pads, the same values): memory follows the patches asked
    for, never a padded copy of the cube (two copies of a full-size scene for a few hundred training patches).
    """
    if valid is not None and p > 1 and valid.shape != cube.shape[1:]:
        raise ValueError(f"valid mask {valid.shape} does not match the cube's grid {cube.shape[1:]}")

    def read(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        samples = extract_patches(cube, rows, cols, p)  # (n, B, p, p)
        if valid is None or p == 1:
            return samples
        patch_valid = extract_patches(valid[None], rows, cols, p)  # (n, 1, p, p) float32, 1 where valid
        samples = np.where(patch_valid > 0, samples, 0.0).astype(np.float32)  # no-data neighbours are 0, then filled
        return _fill_nodata(samples, patch_valid)

    return read


def _window_source(cube: CubeSource) -> tuple[WindowReader, Optional[tuple[int, ...]]]:
    """A window reader over any cube source, and the source's ``(B, H, W)`` shape when known."""
    if callable(cube) and not isinstance(cube, np.ndarray):
        return cube, tuple(cube.shape) if hasattr(cube, "shape") else None
    if not hasattr(cube, "shape") or len(cube.shape) != 3:
        raise ValueError("cube must be a (bands, rows, cols) array, a sliceable array-like (memmap, h5py) "
                         "or a callable read_window(row0, row1, col0, col1)")

    def read(row0: int, row1: int, col0: int, col1: int) -> np.ndarray:
        return np.asarray(cube[:, row0:row1, col0:col1], dtype=np.float32)

    return read, tuple(cube.shape)


def _tiles(height: int, width: int, tile_size: int) -> list[tuple[int, int, int, int]]:
    """``(row0, row1, col0, col1)`` of every tile, row by row."""
    return [(r0, min(r0 + tile_size, height), c0, min(c0 + tile_size, width))
            for r0 in range(0, height, tile_size) for c0 in range(0, width, tile_size)]


@dataclass
class PredictedTile:
    """What the classifier says about one tile of a scene (:func:`predict_tiles`)."""

    row0: int  # the tile's first row in the scene
    col0: int  # the tile's first column in the scene
    class_index: np.ndarray  # (h, w) int16 class index 0..K-1, -1 where the pixel is invalid / nodata
    confidence: np.ndarray  # (h, w) float32 highest class probability, NaN where invalid
    entropy: np.ndarray  # (h, w) float32 entropy of the probabilities / log(K): 0 sure .. 1 clueless, NaN invalid
    probabilities: np.ndarray  # (K, h, w) float32 class probabilities (smoothed when asked), NaN where invalid

    def label_map(self, class_ids: Sequence[int], fill: int = 0) -> np.ndarray:
        """``(h, w)`` int32 label ids (``class_ids[index]``), ``fill`` where the pixel is invalid."""
        return _label_map(self.class_index, class_ids, fill)


def _label_map(class_index: np.ndarray, class_ids: Sequence[int], fill: int) -> np.ndarray:
    ids = np.asarray(class_ids, dtype=np.int32)
    return np.where(class_index >= 0, ids[np.clip(class_index, 0, None)], fill).astype(np.int32)


def predict_scene(classifier: Classifier, cube: CubeSource, valid: "Optional[np.ndarray | PixelMask]", *,
                  tile_size: int = 256, batch_size: int = 4096, smoothing: Optional[float] = None,
                  reporter: Reporter = NULL_REPORTER, stage: str = "prediction",
                  on_tile: Optional[Callable[[int, int, np.ndarray], None]] = None) -> ScenePrediction:
    """Classify every valid pixel of a scene, one tile at a time (:func:`predict_tiles`), into whole-scene maps.

    The maps take 10 bytes per scene pixel; to write them without holding them, iterate :func:`predict_tiles`
    (as :func:`~hypersynth.core.scene_maps.predict_and_write_maps` does).

    Args:
        on_tile: receives ``(row0, col0, (K, h, w) probabilities)`` for each tile, NaN where invalid (e.g.
            :func:`~hypersynth.core.io.write.probability_raster`'s writer), so they never fill memory.
        Others: as :func:`predict_tiles`.
    """
    tiles = predict_tiles(classifier, cube, valid, tile_size=tile_size, batch_size=batch_size, smoothing=smoothing,
                          reporter=reporter, stage=stage)
    height, width = tiles.shape
    class_index = np.full((height, width), -1, dtype=np.int16)
    confidence = np.full((height, width), np.nan, dtype=np.float32)
    entropy = np.full((height, width), np.nan, dtype=np.float32)
    for tile in tiles:
        h, w = tile.class_index.shape
        at = (slice(tile.row0, tile.row0 + h), slice(tile.col0, tile.col0 + w))
        class_index[at], confidence[at], entropy[at] = tile.class_index, tile.confidence, tile.entropy
        if on_tile is not None:
            on_tile(tile.row0, tile.col0, tile.probabilities)
    return ScenePrediction(class_index, confidence, entropy, tiles.n_classes)


@dataclass
class SceneTiles:
    """A scene's prediction as it comes, one :class:`PredictedTile` at a time (:func:`predict_tiles`)."""

    shape: tuple[int, int]  # (H, W) of the scene
    n_classes: int  # K, the number of probability columns
    tiles: Iterator[PredictedTile]  # row by row; each is predicted when it is asked for

    def __iter__(self) -> Iterator[PredictedTile]:
        return self.tiles


def predict_tiles(classifier: Classifier, cube: CubeSource, valid: "Optional[np.ndarray | PixelMask]", *,
                  tile_size: int = 256, batch_size: int = 4096, smoothing: Optional[float] = None,
                  reporter: Reporter = NULL_REPORTER, stage: str = "prediction") -> SceneTiles:
    """Classify every valid pixel of a scene, one tile at a time: a :class:`SceneTiles` that yields a
    :class:`PredictedTile` per tile.

    Each tile is read with a halo of ``p // 2`` real neighbouring pixels (p = ``classifier.patch_size``);
    only where the tile touches the scene border is the tile+halo window reflect-padded (with
    :func:`~hypersynth.core.patches.pad_cube`, which gives the same values as padding the whole scene).
    So the result does not depend on ``tile_size`` and equals :func:`predict_pixels` on every pixel.
    With a smoothing width σ > 0 (``smoothing``, else the classifier's own; see :mod:`.spatial`) the
    probabilities are predicted over the tile plus ``kernel_radius(σ)`` pixels and smoothed before the
    class is taken, so that too does not depend on the tiling.
    Nodata neighbours inside a patch are replaced by the mean spectrum of the patch's valid pixels
    (a neutral value that keeps the patch's own spectral level; 0 would look like a dark object).

    Memory is bounded by the tile, not the scene (besides ``valid``, given by the caller: 1 byte a pixel as a bool
    array, 1 bit as a :class:`~hypersynth.core.pixel_mask.PixelMask`): the peak is at most
    about ``4 · B · (T + 2r)² · 4`` bytes for the window and its padded copies (T = ``tile_size`` plus twice the
    smoothing radius, r = p // 2) plus ``K · (T + 2s)² · 8`` bytes of probabilities, plus
    ``4 · batch_size · B · p² · 3`` bytes for a batch of patches and its temporaries, plus what the classifier
    allocates for one batch. E.g. B = 200, T = 256, p = 9, batch 4096: about 0.2 GB + 0.8 GB; lower
    ``batch_size`` for big patches. (Measured with tracemalloc on a 1200 x 1000 x 32 memmap, p = 9: peak 45 MiB
    at T = 128 / batch 1024 and 144 MiB at T = 256 / batch 4096, for a 146 MiB scene.)

    The arguments are checked at the call, before any tile is predicted.

    Args:
        classifier: a fitted :class:`~hypersynth.core.classify.base.Classifier`.
        cube: ``(B, H, W)`` float32 array, numpy memmap or other sliceable array-like, or a callable
            ``read_window(row0, row1, col0, col1) -> (B, h, w)`` (see :func:`raster_window_reader`)
            so a large raster is streamed from disk; a reader with an ``expect_margin(m)`` method is told first
            how far the windows reach past their tiles (it may keep what it decodes for the next tiles' halos).
        valid: ``(H, W)`` bool array or :class:`~hypersynth.core.pixel_mask.PixelMask`, pixels to classify.
            ``None``: every pixel whose spectrum is finite (a reader returns NaN at nodata); non-finite pixels are
            always treated as invalid.
        tile_size: side of a tile in pixels.
        batch_size: samples per ``predict_proba`` call.
        smoothing: σ in pixels of the probability smoothing (0: off); None: the classifier's ``smoothing``
            attribute (a blend carries the width its labels chose), 0 when it has none.
        reporter: receives progress per batch; ``check()`` per batch lets the user cancel.
        stage: the stage name reported with progress.
    """

    if tile_size < 1 or batch_size < 1:
        raise ValueError(f"tile_size and batch_size must be at least 1; got {tile_size} and {batch_size}")
    read, shape = _window_source(cube)
    if valid is not None:
        valid = valid if isinstance(valid, PixelMask) else np.asarray(valid, dtype=bool)  # read a window at a time
        if valid.ndim != 2 or (shape is not None and tuple(shape[1:]) != valid.shape):
            raise ValueError(f"valid mask {valid.shape} does not match the cube's grid "
                             f"{None if shape is None else tuple(shape[1:])}")
        height, width = valid.shape
    elif shape is not None:
        height, width = int(shape[1]), int(shape[2])
    else:
        raise ValueError("pass a valid mask (H, W) when the cube is a plain read_window callable")
    k = _n_classes(classifier)
    if k > np.iinfo(np.int16).max:
        raise ValueError(f"{k} classes do not fit the int16 class map")
    sigma = float(getattr(classifier, "smoothing", 0.0) or 0.0) if smoothing is None else float(smoothing)
    if sigma < 0:
        raise ValueError(f"the smoothing width must be 0 (off) or positive; got {sigma}")
    tiles = _tile_predictions(classifier, read, valid, (height, width), k, _patch_size(classifier), sigma,
                              tile_size, batch_size, reporter, stage)
    return SceneTiles((height, width), k, tiles)


def _tile_predictions(classifier: Classifier, read: WindowReader, valid: "Optional[np.ndarray | PixelMask]",
                      shape: tuple[int, int], k: int, p: int, sigma: float, tile_size: int, batch_size: int,
                      reporter: Reporter, stage: str) -> Iterator[PredictedTile]:
    """:func:`predict_tiles`' tiles, once its arguments are checked."""
    height, width = shape
    s = kernel_radius(sigma)  # the smoothing needs the probabilities of s more pixels around each tile
    expect_margin = getattr(read, "expect_margin", None)
    if expect_margin is not None:  # a file reader keeps the edges of what it decodes for the next tiles' halos
        expect_margin(p // 2 + s)
    tiles = _tiles(height, width, tile_size)
    unscored = 0  # pixels the classifier gave no finite probabilities (left unclassified, said at the end)
    for t, (r0, r1, c0, c1) in enumerate(tiles):
        reporter.check()
        region = (max(r0 - s, 0), min(r1 + s, height), max(c0 - s, 0), min(c1 + s, width))
        proba, region_valid = _region_probabilities(
            classifier, read, valid, region, (height, width), p, k, batch_size,
            reporter.sub(t / len(tiles), (t + 1) / len(tiles)), stage)  # (K, h', w'), (h', w')
        # a NaN or inf probability (an extreme value the classifier's standardisation overflowed on) would be
        # argmax's class with no confidence, and the smoothing would spread it: such a pixel is left unclassified
        broken = region_valid & ~np.isfinite(proba).all(axis=0)  # (h', w')
        if broken.any():
            region_valid = region_valid & ~broken
            proba = np.where(broken, 0.0, proba)
            unscored += int(broken[r0 - region[0]:r1 - region[0], c0 - region[2]:c1 - region[2]].sum())
        if sigma > 0:
            proba = smooth_probabilities(proba, region_valid, sigma)
        crop = (slice(r0 - region[0], r1 - region[0]), slice(c0 - region[2], c1 - region[2]))
        tile_valid = region_valid[crop]  # (h, w)
        tile_proba = np.where(tile_valid, proba[:, crop[0], crop[1]], np.nan).astype(np.float32)  # (K, h, w)
        pixel_proba = tile_proba[:, tile_valid].T  # (n, K)
        class_index = np.full(tile_valid.shape, -1, dtype=np.int16)
        confidence = np.full(tile_valid.shape, np.nan, dtype=np.float32)
        entropy = np.full(tile_valid.shape, np.nan, dtype=np.float32)
        class_index[tile_valid] = np.argmax(pixel_proba, axis=1)
        confidence[tile_valid] = pixel_proba.max(axis=1)
        # clipped: float sums may pass 1 by an ulp
        entropy[tile_valid] = np.clip(entr(pixel_proba).sum(axis=1) / np.log(k), 0.0, 1.0) if k > 1 else 0.0
        reporter.progress((t + 1) / len(tiles), stage)
        yield PredictedTile(r0, c0, class_index, confidence, entropy, tile_proba)
    if unscored:
        log.warning("%s left unclassified: the classifier gave %s no finite class probabilities (values far outside "
                    "those it learnt, such as an undeclared fill value; declare it as the scene's no-data value, or "
                    "leave out the bands that hold it)", "1 pixel was" if unscored == 1 else f"{unscored} pixels were",
                    "it" if unscored == 1 else "them")


def _region_probabilities(classifier: Classifier, read: WindowReader, valid: "Optional[np.ndarray | PixelMask]",
                          region: tuple[int, int, int, int], shape: tuple[int, int], p: int, k: int,
                          batch_size: int, reporter: Reporter, stage: str) -> tuple[np.ndarray, np.ndarray]:
    """``(K, h, w)`` probabilities (0 where invalid) and the ``(h, w)`` validity of one region of the scene.

    The region is read with a halo of ``r = p // 2`` real neighbouring pixels; only where it touches the
    scene border is the region+halo window reflect-padded (with :func:`~hypersynth.core.patches.pad_cube`,
    which gives the same values as padding the whole scene).
    """
    height, width = shape
    r0, r1, c0, c1 = region
    r = p // 2
    wr0, wr1, wc0, wc1 = max(r0 - r, 0), min(r1 + r, height), max(c0 - r, 0), min(c1 + r, width)
    window = read(wr0, wr1, wc0, wc1)  # (B, h + halo, w + halo)
    if window.ndim != 3 or window.shape[1:] != (wr1 - wr0, wc1 - wc0):
        raise ValueError(f"read_window({wr0}, {wr1}, {wc0}, {wc1}) returned shape {window.shape}; expected "
                         f"(bands, {wr1 - wr0}, {wc1 - wc0})")
    window_valid = np.all(np.isfinite(window), axis=0)  # (h + halo, w + halo)
    if valid is not None:
        window_valid &= valid[wr0:wr1, wc0:wc1]
    # Pad the window on every side, then keep only the region plus r: real halo where the scene goes on,
    # reflected pixels where the window starts at the scene border.
    crop = (slice(None), slice(r0 - wr0, r0 - wr0 + (r1 - r0) + 2 * r),
            slice(c0 - wc0, c0 - wc0 + (c1 - c0) + 2 * r))
    padded_valid = pad_cube(window_valid[None].astype(np.float32), p)[crop]  # (1, h + 2r, w + 2r)
    padded = np.where(padded_valid > 0, pad_cube(window, p)[crop], 0.0).astype(np.float32)  # (B, h+2r, w+2r)
    region_valid = window_valid[r0 - wr0:r1 - wr0, c0 - wc0:c1 - wc0]  # (h, w)
    rows, cols = np.nonzero(region_valid)  # region coordinates
    proba = np.zeros((k, r1 - r0, c1 - c0), dtype=np.float32)
    for start in range(0, len(rows), batch_size):
        reporter.check()
        sl = slice(start, min(start + batch_size, len(rows)))
        samples = extract_patches(padded, rows[sl], cols[sl], p, padded=padded)  # (n, B, p, p)
        if p > 1:
            samples = _fill_nodata(samples, extract_patches(padded_valid, rows[sl], cols[sl], p,
                                                            padded=padded_valid))
        proba[:, rows[sl], cols[sl]] = _probabilities(classifier, samples, k).T  # (K, n)
        reporter.progress(sl.stop / len(rows), stage)
    return proba, region_valid
