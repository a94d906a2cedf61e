"""What went wrong with a raster GDAL could not read: GDAL's own messages collected, and said in one clear line."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

# GDAL/libtiff saying a file's compression has no decoder in this build (not that the data is damaged):
# "Cannot open TIFF file due to missing codec JP2000.", "... missing codec of code 52546.", libtiff's
# "LERC compression support is not configured" and "Compression scheme 65000 decoding is not implemented".
_MISSING_CODEC = re.compile(r"missing codec|compression support is not configured|decoding is not implemented|"
                            r"compression (?:scheme|method) .*not (?:implemented|supported)|unsupported compression",
                            re.IGNORECASE)
# ENVI "data type" code -> bytes per value (1 byte, 2 int16, 3 int32, 4 float32, 5 float64, 6/9 complex, 12 uint16,
# 13 uint32, 14 int64, 15 uint64)
_ENVI_ITEMSIZE = {1: 1, 2: 2, 3: 4, 4: 4, 5: 8, 6: 8, 9: 16, 12: 2, 13: 4, 14: 8, 15: 8}


@contextmanager
def gdal_messages() -> Iterator[list[tuple[int, str]]]:
    """Collect GDAL's messages, ``(CPLErr class, text)`` in order, instead of GDAL printing them to stderr.

    A truncated GeoTIFF makes GDAL print "ERROR 1: TIFFReadEncodedStrip..." lines before HyperSynth's own
    error; the caller puts the first failure into that error instead. The handler sits on this thread's GDAL
    error stack, which rasterio and osgeo share (one libgdal). rasterio.open pushes its own handler for the
    open itself and drops failures there, so open errors come from the exception's text; the same holds for
    reads inside a caller's ``rasterio.Env``, whose nested exit puts rasterio's handler back on top.
    """
    from osgeo import gdal

    messages: list[tuple[int, str]] = []

    def collect(err_class: int, err_no: int, text: str) -> None:
        messages.append((int(err_class), str(text).strip()))

    gdal.PushErrorHandler(collect)
    try:
        yield messages
    finally:
        gdal.PopErrorHandler()


def first_gdal_failure(messages: list[tuple[int, str]], path: Path, fallback: str) -> str:
    """GDAL's first error in ``messages`` (else ``fallback``), without the file name GDAL often puts in it."""
    from osgeo import gdal

    text = next((t for c, t in messages if c >= gdal.CE_Failure and t), "") or fallback.strip()
    for named in (f"{path}: ", f"{path}, "):  # "x.tif: TIFFReadDirectory:Failed ..." -> "TIFFReadDirectory:..."
        text = text.replace(named, "")
    return text


def describe_unreadable(path: Path, what: str, gdal_message: str, expected: str) -> str:
    """The message for a file GDAL could not read: empty, not a format GDAL knows, or truncated/damaged.

    Args:
        path: the file.
        what: the input's role as the other messages name it ("scene", "labels").
        gdal_message: GDAL's first error for the file (:func:`first_gdal_failure`).
        expected: the files to choose instead when this one is no raster at all.
    """
    from osgeo import gdal

    head = f"cannot read the {what} {path}"
    if path.is_file() and path.stat().st_size == 0:
        return (f"{head}: the file is empty (0 bytes), e.g. a copy or download that did not finish; copy it again "
                f"or re-export it")
    gdal.ErrorReset()  # with gdal.UseExceptions() on, the failed open's error would be raised by the next call
    try:
        driver = gdal.IdentifyDriverEx(str(path), gdal.OF_RASTER | gdal.OF_VECTOR)
    except RuntimeError:
        driver = None
    if driver is None or driver.ShortName in ("ENVI", "EHdr"):  # not a GeoTIFF etc. with a .hdr beside it
        truncated = _truncated_by_header(path, what) if path.is_file() else None
        if truncated:
            return truncated
    if driver is None:
        holds = " (it holds text)" if path.is_file() and _holds_text(path) else ""
        return f"{head}: it is not in a format GDAL can read{holds}; choose {expected}"
    if _MISSING_CODEC.search(gdal_message):  # a sound file this build cannot decode: copying it again won't help
        return (f"{head}: it is compressed with a method this GDAL cannot decode (GDAL: {gdal_message}); re-export "
                f"it uncompressed or with DEFLATE/LZW")
    # a driver claims the file, so its header is there but the data behind it is short or garbled
    return f"{head}: it looks truncated or damaged (GDAL: {gdal_message}); copy it again or re-export it"


def describe_truncated_raw(path: Path, what: str, driver: str, files: list[str], shape: tuple[int, int, int],
                           dtype: Any, envi: dict[str, str]) -> Optional[str]:
    """Why an ENVI or ESRI .hdr (EHdr: .bil/.bip/.bsq) data file GDAL opened is shorter than its header
    describes; None when it is long enough.

    GDAL's raw drivers read the missing part of an ENVI file as zeros without a word, so a copy that stopped
    half-way would give a cube whose lower part is 0; an EHdr file fails later with "Failed to read scanline".

    Args:
        path: the data file GDAL opened.
        what: the input's role as the other messages name it ("scene", "labels").
        driver: GDAL's short driver name; only "ENVI" and "EHdr" are checked.
        files: the dataset's files (GDAL's file list: the data file and its header).
        shape: ``(bands, lines, samples)`` as GDAL opened them (ENVI; EHdr reads its header).
        dtype: the bands' data type (a NumPy dtype or its name).
        envi: the ENVI metadata domain (GDAL spells its keys ``header_offset``, ``file_compression``).
    """
    header = next((Path(f) for f in files if f.lower().endswith(".hdr")), None)
    if driver == "EHdr":
        return _ehdr_shortfall(path, what, header) if header is not None else None
    if driver != "ENVI":
        return None
    try:
        itemsize = np.dtype(dtype).itemsize if dtype is not None else 0
    except TypeError:  # a type NumPy has no name for (GDAL's complex integers): not an ENVI type anyway
        return None
    return _envi_shortfall(path, what, header, shape, itemsize, {metadata_key(k): v for k, v in envi.items()})


def _truncated_by_header(path: Path, what: str) -> Optional[str]:
    """As :func:`describe_truncated_raw` from the ENVI or ESRI header beside ``path``, for a file GDAL refused
    to open.

    GDAL refuses a raw data file far shorter than its header describes ("Image file is too small") and then
    names no driver for it, which would read as "not a format GDAL can read".
    """
    stem = path.with_suffix("")
    for header in (stem.with_name(stem.name + ".hdr"), stem.with_name(stem.name + ".HDR"),
                   path.with_name(path.name + ".hdr"), path.with_name(path.name + ".HDR")):
        if header != path and header.is_file():
            break
    else:
        return None
    try:
        text = header.read_text(encoding="latin-1")[:1_000_000]
    except OSError:
        return None
    if not text.startswith("ENVI"):
        return _ehdr_shortfall(path, what, header, text)
    keys = {metadata_key(m.group(1)): m.group(2).strip() for m in re.finditer(r"^\s*([A-Za-z][\w ]*?)\s*=\s*(.*)$", text,
                                                                        re.MULTILINE)}
    dims = [number_or_none(keys.get(k, "")) for k in ("bands", "lines", "samples")]
    itemsize = _ENVI_ITEMSIZE.get(int(number_or_none(keys.get("data_type", "")) or 0), 0)
    if not all(dims) or not itemsize:
        return None
    bands, lines, samples = (int(d or 0) for d in dims)
    return _envi_shortfall(path, what, header, (bands, lines, samples), itemsize, keys)


def _envi_shortfall(path: Path, what: str, header: Optional[Path], shape: tuple[int, int, int], itemsize: int,
                    envi: dict[str, str]) -> Optional[str]:
    """The error for an ENVI data file shorter than header offset + samples × lines × bands × bytes per value.

    Interleave (BSQ/BIL/BIP) does not change the total; a longer file is fine (ENVI allows trailing bytes).
    """
    if not itemsize or not path.is_file():
        return None
    if (envi.get("file_compression") or "0").strip() not in ("", "0"):
        return None  # gzip-compressed data (ENVI "file compression = 1"): shorter than the cube by design
    offset = int(number_or_none(envi.get("header_offset") or 0) or 0)
    bands, lines, samples = shape
    expected = offset + samples * lines * bands * itemsize
    size = path.stat().st_size
    if size >= expected:
        return None
    return (f"cannot read the {what} {path}: it holds {size} bytes, but its ENVI header"
            f"{f' {header}' if header else ''} describes {expected} ({samples} samples × {lines} lines × {bands} "
            f"bands × {itemsize} bytes + {offset} bytes header offset): it looks truncated; copy it again or "
            f"re-export it")


def _ehdr_shortfall(path: Path, what: str, header: Path, text: Optional[str] = None) -> Optional[str]:
    """The error for an ESRI .hdr (EHdr) data file shorter than the bytes GDAL reads for the header's grid.

    As GDAL's EHdr driver reads it: SKIPBYTES, then rows of NCOLS values of NBITS bits for NBANDS bands. Whole
    bytes per value: SKIPBYTES + NROWS × NCOLS × NBANDS × NBITS/8 in any LAYOUT (GDAL ignores BANDROWBYTES and
    TOTALROWBYTES then, so a longer file is fine). 1 to 7 bits: band b of row y starts SKIPBYTES + b × BANDROWBYTES
    + y × TOTALROWBYTES bytes in, each ⌈NCOLS × NBITS / 8⌉ bytes long. No NBITS nor PIXELTYPE: GDAL guesses the
    value size from the file's, so there is nothing to check.
    """
    if text is None:
        try:
            text = header.read_text(encoding="latin-1")[:1_000_000]
        except OSError:
            return None
    words = (line.split() for line in text.splitlines()[:50])  # GDAL reads at most 50 lines
    keys = {w[0].lower(): w[1] for w in words if len(w) >= 2}
    rows, cols, bands, skip = (int(number_or_none(keys.get(k, default)) or 0)
                               for k, default in (("nrows", 0), ("ncols", 0), ("nbands", 1), ("skipbytes", 0)))
    pixeltype = keys.get("pixeltype", "").upper()
    nbits = int(number_or_none(keys["nbits"]) or 0) if "nbits" in keys else (
        32 if pixeltype.startswith("F") else 8 if pixeltype else 0)
    if rows <= 0 or cols <= 0 or bands <= 0 or nbits <= 0 or (nbits > 8 and nbits % 8) or not path.is_file():
        return None  # nothing GDAL reads (e.g. NBITS 12, which it refuses)
    if nbits >= 8:
        expected = skip + rows * cols * bands * (nbits // 8)
        layout = f"{cols} columns × {rows} rows × {bands} bands × {nbits // 8} bytes + {skip} bytes skipped"
    else:
        row_bytes = (cols * nbits + 7) // 8
        band_row = int(number_or_none(keys.get("bandrowbytes", 0)) or 0) or row_bytes
        line_bits = int(number_or_none(keys.get("totalrowbytes", 0)) or 0) * 8 or cols * nbits
        expected = ((skip + (bands - 1) * band_row) * 8 + (rows - 1) * line_bits) // 8 + row_bytes
        layout = (f"{rows} rows of {line_bits / 8:g} bytes, {bands} bands of {cols} {nbits}-bit values + {skip} "
                  "bytes skipped")
    size = path.stat().st_size
    if size >= expected:
        return None
    return (f"cannot read the {what} {path}: it holds {size} bytes, but its ESRI header {header} describes "
            f"{expected} ({layout}): it looks truncated; copy it again or re-export it")


def _holds_text(path: Path) -> bool:
    """The file starts with text (a renamed .txt/.xml/.html), not binary raster data."""
    with open(path, "rb") as fh:
        head = fh.read(1024)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False  # also a UTF-8 character cut at byte 1024: rare, and only the hint is lost
    return b"\0" not in head


def number_or_none(text: Any) -> Optional[float]:
    """A header value as a number, or None when it is not one."""
    try:
        return float(str(text).strip())
    except ValueError:
        return None


def metadata_key(name: str) -> str:
    """Metadata keys compared case- and separator-blind ('wavelength units' == 'wavelength_units')."""
    return name.strip().lower().replace(" ", "_")
