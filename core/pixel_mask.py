"""A scene's valid pixels held one bit a pixel: the one per-pixel array a streamed classification keeps."""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

# A mask's window: a row, a slice of rows, or (rows, columns), each an int or a slice of step 1.
Key = Union[int, slice, tuple[Union[int, slice], Union[int, slice]]]

# set bits in each byte value: a packed row's count of True pixels without unpacking it
_BITS_SET = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(axis=1).astype(np.uint8)  # (256,)


class PixelMask:
    """An ``(H, W)`` boolean mask packed 8 pixels a byte (numpy's ``packbits`` along each row), read and written a
    window at a time like a bool array: ``mask[r0:r1, c0:c1]`` gives the window as a bool array and
    ``mask[r0:r1, c0:c1] = values`` sets it.

    A scene's valid mask is the only array a streamed classification (``hypersynth classify``) holds for every
    pixel; as a bool array it is 1 byte a pixel (256 MB at 16 000 × 16 000 pixels), packed 1 bit. numpy's packing does
    the work; this class only keeps the windows' bit offsets, which numpy's packed arrays leave to the caller.
    ``np.asarray(mask)`` unpacks it whole, for code that needs the plain array (a run that holds its labels whole).
    """

    ndim = 2
    dtype = np.dtype(bool)

    def __init__(self, shape: tuple[int, int], packed: Optional[np.ndarray] = None) -> None:
        height, width = (int(n) for n in shape)
        if height < 0 or width < 0:
            raise ValueError(f"a mask's shape must not be negative; got {shape}")
        self.shape = (height, width)
        if packed is None:
            packed = np.zeros((height, (width + 7) // 8), dtype=np.uint8)
        elif packed.shape != (height, (width + 7) // 8) or packed.dtype != np.uint8:
            raise ValueError(f"packed bits {packed.shape} {packed.dtype} do not hold a {height} × {width} mask")
        self._packed = packed  # (H, ceil(W / 8)) uint8; bit 7 of byte 0 is column 0; the pad bits stay 0

    @classmethod
    def from_array(cls, mask: np.ndarray) -> "PixelMask":
        """The packed copy of an ``(H, W)`` bool array."""
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim != 2:
            raise ValueError(f"a pixel mask is (rows, cols); got shape {mask.shape}")
        return cls(mask.shape, np.packbits(mask, axis=1))

    @property
    def nbytes(self) -> int:
        """Bytes the packed bits take."""
        return int(self._packed.nbytes)

    def _window(self, key: Key) -> tuple[slice, int, int, tuple[int, ...]]:
        """``(rows, col0, col1, the axes an int picked)`` of a key, clipped to the grid as numpy clips a slice."""
        parts = key if isinstance(key, tuple) else (key, slice(None))
        if len(parts) != 2:
            raise TypeError(f"a pixel mask has two axes (rows, columns); got the key {key!r}")
        spans, picked = [], []
        for axis, (part, size) in enumerate(zip(parts, self.shape)):
            if isinstance(part, (int, np.integer)):
                at = int(part) + (size if part < 0 else 0)
                if not 0 <= at < size:
                    raise IndexError(f"index {part} is outside a mask of {size} along axis {axis}")
                part = slice(at, at + 1)
                picked.append(axis)
            if not isinstance(part, slice):
                raise TypeError(f"a pixel mask is indexed by ints and slices (a window); got {key!r}")
            start, stop, step = part.indices(size)
            if step != 1:
                raise TypeError("a pixel mask's windows are contiguous: slices with step 1 only")
            spans.append((start, max(start, stop)))
        (r0, r1), (c0, c1) = spans
        return slice(r0, r1), c0, c1, tuple(picked)

    def __getitem__(self, key: Key) -> np.ndarray:
        """The window as an ``(h, w)`` bool array (an int drops its axis, as in numpy)."""
        rows, c0, c1, picked = self._window(key)
        byte0 = c0 // 8
        bits = np.unpackbits(self._packed[rows, byte0:(c1 + 7) // 8], axis=1)  # (h, 8 · bytes)
        window = bits[:, c0 - 8 * byte0:c1 - 8 * byte0].view(bool)
        return window[tuple(0 if axis in picked else slice(None) for axis in (0, 1))]  # a pixel: a numpy bool

    def __setitem__(self, key: Key, values: Any) -> None:
        """Set the window to ``values``: a bool scalar or an array that broadcasts to the window."""
        rows, c0, c1, _ = self._window(key)
        if rows.stop == rows.start or c1 == c0:
            return
        byte0, byte1 = c0 // 8, (c1 + 7) // 8
        if c0 % 8 == 0 and (c1 % 8 == 0 or c1 == self.shape[1]):  # whole bytes: packed straight in
            window = np.broadcast_to(np.asarray(values, dtype=bool), (rows.stop - rows.start, c1 - c0))
            self._packed[rows, byte0:byte1] = np.packbits(window, axis=1)
            return
        bits = np.unpackbits(self._packed[rows, byte0:byte1], axis=1)  # the bytes the window shares with its sides
        bits[:, c0 - 8 * byte0:c1 - 8 * byte0] = np.asarray(values, dtype=bool)
        self._packed[rows, byte0:byte1] = np.packbits(bits, axis=1)

    def count_per_row(self) -> np.ndarray:
        """``(H,)`` int64 True pixels in each row, counted on the packed bytes a strip at a time."""
        counts = np.empty(self.shape[0], dtype=np.int64)
        step = max(1, (1 << 20) // max(1, self._packed.shape[1]))  # a strip of about a million bytes
        for r0 in range(0, self.shape[0], step):
            counts[r0:r0 + step] = _BITS_SET[self._packed[r0:r0 + step]].sum(axis=1, dtype=np.int64)
        return counts

    def sum(self) -> int:
        """True pixels in the mask."""
        return int(self.count_per_row().sum())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = np.unpackbits(self._packed, axis=1, count=self.shape[1]).view(bool)  # (H, W): 1 byte a pixel
        return whole if dtype is None else whole.astype(dtype)

    def __repr__(self) -> str:
        return f"PixelMask({self.shape[0]} × {self.shape[1]}, {self.nbytes} bytes)"


def count_per_row(mask: "np.ndarray | PixelMask") -> np.ndarray:
    """``(H,)`` True pixels in each row of a bool array or a :class:`PixelMask`."""
    return mask.count_per_row() if isinstance(mask, PixelMask) else np.count_nonzero(mask, axis=1)
