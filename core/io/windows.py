"""A scene's pixels read window by window from its raster file, as tiled prediction streams a scene larger than memory."""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from ..progress import NULL_REPORTER, Reporter
from .read import (alpha_bands, envi_data_file, invalid_values, opened_quietly, physical_values, raster_units,
                   uses_a_mask_band, validity_masks)

FULL_BLOCKS = 2  # decoded file blocks kept whole: the tile's own and the next one along its row
# Files whose blocks are wider than this are read window by window, never by their blocks: a block a scene wide (a
# strip of an ENVI file or an untiled GeoTIFF) kept as edges would hold rows of the whole scene's width per tile
MAX_CACHED_BLOCK_WIDTH = 1024
MAX_CACHED_BLOCK_PIXELS = 512 * 512  # nor by blocks larger than this: one strip of a whole untiled file is the scene
PIXEL_TILE = 256  # side of the squares a few pixels' spectra are read by (one window per square holding some)


@dataclass
class RasterWindowReader:
    """``read_window(row0, row1, col0, col1) -> (B, h, w)`` float32 over a raster file, in physical units.

    The values are those :func:`~hypersynth.core.io.read.read_scene` gives (the same scale, offset and ENVI
    reflectance factor), with NaN at no-data (nodata value, mask band, non-finite), which
    :func:`~hypersynth.core.classify.predict.predict_scene` treats as invalid. Pass the scene's usable bands in
    ``band_indexes`` so that a band that is no data everywhere does not invalidate every pixel.

    Told the halo of the windows to come (:meth:`expect_margin`, as ``predict_scene`` does), it reads the file by
    its blocks and keeps each decoded block's edges that wide: a compressed, tiled GeoTIFF decodes a whole block
    for the few halo rows a window takes from it, so a window of a 256-pixel tile with a 4-pixel halo decoded nine
    blocks (six times the file's decoding over a scene), and now each block is decoded about twice. Memory: two
    whole blocks and the edges of two rows of blocks (``B · (2 · bh · bw + 8 · margin · W)`` floats for blocks of
    ``bh × bw`` in a scene ``W`` wide), never the scene. A file whose blocks are wider than
    :data:`MAX_CACHED_BLOCK_WIDTH` or larger than :data:`MAX_CACHED_BLOCK_PIXELS` (strips a scene wide: ENVI,
    untiled GeoTIFF, one strip for the whole file) is read window by window instead, as its blocks' edges would be
    rows of the scene's whole width, or its whole blocks the scene.
    """

    path: str  # raster file (GeoTIFF, ENVI, ... anything GDAL reads)
    band_indexes: Optional[list[int]] = None  # 1-based band numbers to read; None = all bands
    shape: tuple[int, int, int] = field(init=False)  # (B, H, W) of what a full read would return
    _units: tuple[np.ndarray, np.ndarray] = field(init=False, repr=False)  # (scales, offsets) of the bands read
    _nodata: list[Optional[float]] = field(init=False, repr=False)  # the bands' no-data values
    _masked: bool = field(init=False, repr=False)  # whether a mask band says where the raster holds data
    _alpha: list[int] = field(init=False, repr=False)  # alpha bands GDAL does not take as its mask (read.alpha_bands)
    _block: tuple[int, int] = field(init=False, repr=False)  # (rows, cols) of the file's blocks
    _margin: int = field(init=False, repr=False, default=0)  # the windows' halo: block edges kept this wide
    _whole: "OrderedDict[tuple[int, int], np.ndarray]" = field(init=False, repr=False, default_factory=OrderedDict)
    _edges: dict[tuple[int, int], tuple[np.ndarray, ...]] = field(init=False, repr=False, default_factory=dict)
    decoded: int = field(init=False, default=0)  # file blocks decoded so far (by the block reads)

    def __post_init__(self) -> None:
        with opened_quietly(self.path) as ds:
            count, height, width = ds.count, ds.height, ds.width
            if self.band_indexes is None:
                self.band_indexes = list(range(1, count + 1))
            bad = [b for b in self.band_indexes if not 1 <= int(b) <= count]
            if bad or not self.band_indexes:
                raise ValueError(f"band indexes {bad or '[]'} are not bands of {self.path} (it has bands 1..{count})")
            self.band_indexes = [int(b) for b in self.band_indexes]
            chosen = np.array(self.band_indexes) - 1
            scales, offsets = raster_units(ds)
            self._units = (scales[chosen], offsets[chosen])
            self._nodata = [ds.nodatavals[b] for b in chosen]
            self._masked = uses_a_mask_band(ds)
            self._alpha = alpha_bands(ds)  # found once: every window's masks need them
            self._block = (max(1, int(ds.block_shapes[0][0])), max(1, int(ds.block_shapes[0][1])))
        self.shape = (len(self.band_indexes), height, width)

    def expect_margin(self, margin: int) -> None:
        """The windows to come reach ``margin`` pixels past their tiles: read by blocks, keeping edges this wide
        (0: read each window straight, as a window that needs no neighbour decodes no block twice; so are files
        of blocks too wide or too large to keep)."""
        bh, bw = self._block
        cached = bw <= MAX_CACHED_BLOCK_WIDTH and bh * bw <= MAX_CACHED_BLOCK_PIXELS
        self._margin = max(0, int(margin)) if cached else 0
        self._whole.clear()
        self._edges.clear()

    def __call__(self, row0: int, row1: int, col0: int, col1: int) -> np.ndarray:
        if not self._margin:
            return self._read(row0, row1, col0, col1)
        bh, bw = self._block
        out = np.empty((self.shape[0], row1 - row0, col1 - col0), dtype=np.float32)  # (B, h, w)
        for bi in range(row0 // bh, (row1 - 1) // bh + 1):
            for bj in range(col0 // bw, (col1 - 1) // bw + 1):
                top, left = bi * bh, bj * bw  # the block's first row and column in the scene
                rows = slice(max(row0, top) - top, min(row1, top + bh) - top)  # the window's part, in the block
                cols = slice(max(col0, left) - left, min(col1, left + bw) - left)
                out[:, top + rows.start - row0:top + rows.stop - row0, left + cols.start - col0:
                    left + cols.stop - col0] = self._block_part(bi, bj, rows, cols)
        for key in [key for key in self._edges if key[0] < row0 // bh]:  # rows of blocks no later window reaches
            del self._edges[key]
        return out

    def _block_part(self, bi: int, bj: int, rows: slice, cols: slice) -> np.ndarray:
        """``(B, len(rows), len(cols))`` of block ``(bi, bj)``: from its whole kept copy, its kept edges, or decoded
        now (kept whole when the window needs its every row, as the next tile along the row will)."""
        whole = self._whole.get((bi, bj))
        if whole is not None:
            return whole[:, rows, cols]
        edges = self._edges.get((bi, bj))
        if edges is not None:
            (top, bottom, bottom_at), (left, right, right_at) = edges[:3], edges[3:]
            if rows.stop <= top.shape[1]:
                return top[:, rows, cols]
            if rows.start >= bottom_at:
                return bottom[:, rows.start - bottom_at:rows.stop - bottom_at, cols]
            if cols.stop <= left.shape[2]:
                return left[:, rows, cols]
            if cols.start >= right_at:
                return right[:, rows, cols.start - right_at:cols.stop - right_at]
        bh, bw = self._block
        height, width = self.shape[1:]
        block = self._read(bi * bh, min((bi + 1) * bh, height), bj * bw, min((bj + 1) * bw, width))  # (B, h, w)
        self.decoded += 1
        m = self._margin
        bottom_at, right_at = max(block.shape[1] - m, 0), max(block.shape[2] - m, 0)
        self._edges[(bi, bj)] = (block[:, :m].copy(), block[:, bottom_at:].copy(), bottom_at,
                                 block[:, :, :m].copy(), block[:, :, right_at:].copy(), right_at)
        if rows.start == 0 and rows.stop == block.shape[1]:
            self._whole[(bi, bj)] = block
            while len(self._whole) > FULL_BLOCKS:
                self._whole.popitem(last=False)  # the oldest
        return block[:, rows, cols]

    def _read(self, row0: int, row1: int, col0: int, col1: int) -> np.ndarray:
        """The window as read from the file, ``(B, h, w)`` float32 in physical units, NaN at no data."""
        from rasterio.windows import Window

        window = Window(col0, row0, col1 - col0, row1 - row0)
        with opened_quietly(self.path) as ds:  # its own dataset: GDAL's cache of decoded blocks goes with it
            raw = ds.read(self.band_indexes, window=window)  # (B, h, w) in the file's data type
            masks = validity_masks(ds, window, self.band_indexes, self._alpha) if self._masked else None
        return physical_values(raw, invalid_values(raw, self._nodata, masks), *self._units)


def raster_window_reader(path: str | os.PathLike, band_indexes: Optional[Sequence[int]] = None
                         ) -> RasterWindowReader:
    """A window reader that streams ``path`` tile by tile into
    :func:`~hypersynth.core.classify.predict.predict_scene`; an ENVI ``.hdr`` is read through its data file, as
    :func:`~.read.read_scene` reads it (GDAL opens ENVI by the data file only)."""
    if Path(path).suffix.lower() == ".hdr":
        path = envi_data_file(Path(path))
    return RasterWindowReader(str(path), None if band_indexes is None else [int(b) for b in band_indexes])


@dataclass
class PixelSpectra:
    """The spectra of a few pixels of a scene held as its cube would give them at those pixels (``cube[:, rows,
    cols]`` or ``cube[:, mask]``): the labelled pixels a spectral classifier learns from and the report plots, read
    from a streamed scene (:func:`read_pixel_spectra`) without its cube. Any other pixel is refused, loudly."""

    shape: tuple[int, int, int]  # (B, H, W) of the scene's usable cube
    rows: np.ndarray  # (N,) the pixels held, in row-major order
    cols: np.ndarray  # (N,)
    spectra: np.ndarray  # (B, N) float32, their values in physical units

    def __getitem__(self, key: Any) -> np.ndarray:
        if not (isinstance(key, tuple) and key[0] == slice(None) and len(key) in (2, 3)):
            raise TypeError(f"PixelSpectra is indexed as cube[:, rows, cols] or cube[:, mask]; got {key!r}")
        rows, cols = np.nonzero(np.asarray(key[1], dtype=bool)) if len(key) == 2 else (np.asarray(key[1]),
                                                                                       np.asarray(key[2]))
        width = self.shape[2]
        held = self.rows.astype(np.int64) * width + self.cols
        asked = np.asarray(rows, dtype=np.int64) * width + np.asarray(cols)
        at = np.clip(np.searchsorted(held, asked), 0, max(len(held) - 1, 0))
        if asked.size and (not len(held) or not np.array_equal(held[at], asked)):
            raise KeyError("pixels outside those read were asked for: only the labelled pixels' spectra are held")
        return self.spectra[:, at]


def read_pixel_spectra(read: Any, pixels: np.ndarray, reporter: Reporter = NULL_REPORTER) -> PixelSpectra:
    """The spectra of the ``(H, W)`` bool ``pixels`` (e.g. the labelled ones) from a window reader (``read(row0,
    row1, col0, col1) -> (B, h, w)`` with a ``shape``), never the scene: the grid is cut into
    :data:`PIXEL_TILE`-pixel squares and each square holding some of them is read once, over the smallest window
    around them (memory: one square's ``B · 256²`` floats at most). ``reporter`` hears the squares read (stage
    "reading the labelled pixels") and may stop it."""
    rows, cols = np.nonzero(pixels)  # row-major, as PixelSpectra looks them up
    spectra = np.empty((read.shape[0], rows.size), dtype=np.float32)  # (B, N)
    square = square_index(rows, cols, read.shape[2], PIXEL_TILE)
    squares = np.unique(square)
    for i, s in enumerate(squares):
        reporter.check()
        at = np.flatnonzero(square == s)
        r0, r1, c0, c1 = rows[at].min(), rows[at].max() + 1, cols[at].min(), cols[at].max() + 1
        spectra[:, at] = read(int(r0), int(r1), int(c0), int(c1))[:, rows[at] - r0, cols[at] - c0]
        reporter.progress((i + 1) / len(squares), "reading the labelled pixels")
    return PixelSpectra(tuple(read.shape), rows, cols, spectra)


def square_index(rows: np.ndarray, cols: np.ndarray, width: int, side: int) -> np.ndarray:
    """``(N,)`` the number of the ``side``-pixel square (row-major) of a scene ``width`` pixels wide that holds each
    pixel: pixels grouped by where they lie, to read or learn from each group at once."""
    return (rows // side) * (width // side + 1) + cols // side
