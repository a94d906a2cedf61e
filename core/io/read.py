"""Read a hyperspectral scene (GeoTIFF, ENVI or any GDAL raster, NetCDF, MATLAB .mat) into a :class:`Scene`."""

from __future__ import annotations

import logging
import math
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from ..memory import new_cube, release_freed_memory
from ..pixel_mask import PixelMask
from ..progress import NULL_REPORTER, Reporter
from ..scene import PIXEL_GRID, Scene
from .band_metadata import WAVELENGTH_NAME, band_facts, netcdf_wavelengths_across, to_nanometres
from .damaged import (describe_truncated_raw, describe_unreadable, first_gdal_failure, gdal_messages, metadata_key,
                      number_or_none)

MIN_BANDS = 10  # fewer bands than this is a multispectral/RGB image, not a hyperspectral cube
ENVI_DATA_SUFFIXES = ("", ".img", ".dat", ".bil", ".bsq", ".bip", ".raw", ".bin")  # beside an ENVI .hdr
CHUNK_VALUES = 16_000_000  # raw values read per window (keeps peak memory near the float32 cube)
# raw values per window of the pass that finds a streamed raster's valid pixels: that window, its mask and GDAL's
# blocks for it were the peak of a small scene's classify (1024² × 32 bands: 276 MB with 16 M values, 254 with 4 M,
# where the prediction's own peak is; session 30)
LAYOUT_VALUES = 4_000_000

_MATLAB_NUMERIC_CLASSES = {b"double", b"single", b"int8", b"uint8", b"int16", b"uint16", b"int32", b"uint32",
                           b"int64", b"uint64", b"logical"}


class SceneReadError(ValueError):
    """The file is not a hyperspectral scene HyperSynth can read; the message says why and what to do."""


@dataclass
class BandDefaults:
    """What a product's own metadata file says of the bands of a raster that does not say it itself (EnMAP's XML).

    Each field is used only where the raster lacks it: wavelengths when it names none, gains/offsets when GDAL
    carries no scale/offset for integer data, nodata when it declares none.
    """

    described_by: str  # the metadata file, as messages name it
    wavelengths: Optional[np.ndarray] = None  # (B,) nm
    fwhm: Optional[np.ndarray] = None  # (B,) nm
    gains: Optional[np.ndarray] = None  # (B,) physical value = stored value × gain + offset
    offsets: Optional[np.ndarray] = None  # (B,)
    nodata: Optional[float] = None  # the stored value of pixels without data


def read_scene(path: str | Path, *, cube_key: Optional[str] = None, quality_masks: bool = True,
               reporter: Reporter = NULL_REPORTER) -> Scene:
    """Read a hyperspectral cube, its wavelengths, georeference and no-data mask.

    Args:
        path: a GeoTIFF or any GDAL raster, an ENVI data file or its ``.hdr``, a MATLAB ``.mat``
            (v5 or v7.3), a GDAL subdataset of a NetCDF or HDF file (``NETCDF:"scene.nc":radiance``,
            ``HDF5:"scene.he5"://path/to/cube``, as QGIS gives for such a layer), or a product of a spaceborne
            imaging spectrometer (:mod:`.products`: EnMAP L2A, EMIT L2A/L1B, PRISMA L2), given as its image,
            metadata or container file or as any subdataset of that container.
        cube_key: for ``.mat`` files, the variable that holds the cube; by default the largest
            3-D numeric array.
        quality_masks: for a sensor product, leave out as no data the pixels its own quality masks flag as cloud,
            cloud shadow or cirrus (:func:`.products.read_product`); other files have none.
        reporter: hears how much of a product's archive (a ZIP, an order's .tar.gz) is read to unpack the product, and
            may stop it there; other files are read in one go.

    Returns:
        A :class:`Scene` with a float32 ``(bands, rows, cols)`` cube in physical units (GDAL scale/offset,
        the ENVI reflectance scale factor or the product's own scaling applied), invalid pixels set to 0,
        wavelengths in nm.

    Raises:
        SceneReadError: the file is missing, unreadable, not a cube, has fewer than 10 bands, or is a product whose
            layout is incomplete or damaged.
        Cancelled: the reporter asked to stop while a product was unpacked from its archive.
    """
    from .product_archives import is_archive, product_in_archive  # both build on this module's readers
    from .products import read_product

    container = gdal_subdataset_file(path)
    if container is not None:  # a NetCDF variable or HDF5 array: kept as a string (Path would fold "://")
        if not container.is_file():
            raise SceneReadError(f"cannot read the scene {path}: its file {container} does not exist")
        # any array of a product opens the whole product
        product = read_product(container, source=str(path), quality_masks=quality_masks)
        return product if product is not None else read_gdal_scene(container, dataset=str(path))
    given = str(path).replace("\\", "/")  # before Path: on Windows it reads "\\vsizip\\C:\\…"
    if given.startswith("/vsi") and not Path(path).exists():  # GDAL's name of a file in an archive, or online
        online = given.startswith(("/vsicurl", "/vsis3", "/vsigs", "/vsiaz", "/vsiadls", "/vsioss", "/vsiswift",
                                   "/vsiwebhdfs", "/vsihdfs"))
        raise SceneReadError(f"cannot read the scene {path}: it is GDAL's name of "
                             + ("a file online; download it and give the file" if online else
                                "a file inside an archive; extract it and give the file (a sensor product's own "
                                "archive, e.g. an EnMAP .ZIP, is read as it is: give the archive)"))
    path = Path(path)
    if not path.exists():
        inside = product_in_archive(path)
        if inside is not None:  # ``order.tar.gz/<product name>``: one product of an archive holding several
            archive, name = inside
            return _read_archived_product(archive, quality_masks, name=name, source=path, reporter=reporter)
        raise SceneReadError(f"cannot read the scene {path}: the file does not exist")
    if path.is_dir():  # a product's folder: its one image (review: refused as a folder)
        from .product_names import product_images_in

        images = product_images_in(path)
        if len(images) == 1:
            logging.getLogger("hypersynth").info("%s: a folder: its product image %s is read", path.name,
                                                 images[0].name)
            return read_scene(images[0], quality_masks=quality_masks, reporter=reporter)
        raise SceneReadError(f"cannot read the scene {path}: it is a folder; choose the image file inside it"
                             + (f" (it holds {len(images)} product images: "
                                f"{', '.join(p.name for p in images[:3])}{', …' if len(images) > 3 else ''})"
                                if images else ""))
    if is_archive(path):
        return _read_archived_product(path, quality_masks, reporter=reporter)
    if is_mat_file(path):
        return _read_mat_scene(path, cube_key)
    if cube_key is not None:
        raise SceneReadError(f"cube_key={cube_key!r} only applies to MATLAB .mat files, not to {path.name}")
    if path.suffix.lower() == ".hdr":
        path = envi_data_file(path)
    product = read_product(path, source=str(path), quality_masks=quality_masks)
    return product if product is not None else read_gdal_scene(path)


def read_scene_layout(path: str | Path, reporter: Reporter = NULL_REPORTER) -> Optional[Scene]:
    """A plain raster file's scene without its pixels: bands, good bands, wavelengths, grid and valid mask (a
    :class:`~hypersynth.core.pixel_mask.PixelMask`, 1 bit a pixel), found in one pass over the file that keeps no pixel
    (the cube is a read-only NaN placeholder of no memory). For applying a saved classifier to a scene larger than
    memory: its pixels are then streamed window by window (:func:`~hypersynth.core.io.windows.raster_window_reader`),
    which gives them as :func:`read_scene` would.
    ``reporter`` hears the pass over the raster (stage "finding the valid pixels") and may stop it.

    Returns:
        The layout of a GeoTIFF, an ENVI file (or its ``.hdr``) or another single raster GDAL reads; None for what
        :func:`read_scene` reads its own way (a sensor product, an archive, a container's subdataset, a MATLAB file),
        or a file that is missing: read those whole with :func:`read_scene`, which also says what is wrong.

    Raises:
        SceneReadError: the raster cannot be read, or is no cube (as :func:`read_scene` says).
        Cancelled: the reporter asked to stop.
    """
    plain = plain_raster(path)
    return None if plain is None else read_gdal_scene(plain, layout_only=True, reporter=reporter)


def plain_raster(path: str | Path) -> Optional[Path]:
    """The raster file of a scene GDAL reads as one plain raster (a GeoTIFF, an ENVI file or its ``.hdr``, ...), or
    None for what :func:`read_scene` reads its own way (a sensor product, an archive, a container's subdataset, a
    MATLAB file) or a file that is missing."""
    from .product_archives import is_archive
    from .products import product_facts

    path = Path(path)
    if gdal_subdataset_file(path) is not None or not path.is_file() or is_archive(path) or is_mat_file(path):
        return None
    if path.suffix.lower() == ".hdr":
        path = envi_data_file(path)
    return None if product_facts(path) is not None else path


def plain_raster_shape(path: str | Path) -> Optional[tuple[int, int, int]]:
    """``(bands, rows, cols)`` of a :func:`plain_raster` from its header alone (no pixel read), or None where the
    scene is not one or GDAL cannot open it (:func:`read_scene` then says what is wrong)."""
    from rasterio.errors import RasterioIOError

    plain = plain_raster(path)
    if plain is None:
        return None
    try:
        with opened_quietly(plain) as ds:
            return int(ds.count), int(ds.height), int(ds.width)
    except RasterioIOError:
        return None


@contextmanager
def opened_quietly(source: str | Path) -> Iterator[Any]:
    """``source`` opened with rasterio, quietly when it has no georeference (a pixel grid, as :func:`read_scene`
    reads it)."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        dataset = rasterio.open(source)
    with dataset:
        yield dataset


def _read_archived_product(path: Path, quality_masks: bool, name: Optional[str] = None,
                           source: Optional[Path] = None, reporter: Reporter = NULL_REPORTER) -> Scene:
    """The sensor product named ``name`` inside the ZIP or tar ``path`` (its one product when no name is given),
    unpacked beside it to be read and removed after; ``source``: what the user gave, when not ``path`` itself;
    ``reporter``: hears the archive's listing and unpacking, and may stop them."""
    from .product_archives import archived_product, unpacked
    from .products import read_product

    found = archived_product(path, name, reporter)
    with unpacked(found, reporter) as main:
        scene = read_product(main, source=str(source or path), quality_masks=quality_masks)
    if scene is None:
        raise SceneReadError(f"{path.name}: {found.member} is named as a {found.kind} product but is none (its layout "
                             f"is not that product's); download the archive again")
    return scene


# --------------------------------------------------------------------------- MATLAB


def read_mat_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Every numeric array of a MATLAB file (v4/v5 via scipy, v7.3 via h5py), in MATLAB's axis order.

    v7.3 files are HDF5, which stores MATLAB's column-major arrays with their axes reversed; they are
    transposed back here so both versions give the same shapes (e.g. a cube is ``(rows, cols, bands)``).
    """
    import h5py
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise SceneReadError(f"cannot read {path}: the file does not exist")
    try:
        if h5py.is_hdf5(str(path)):
            arrays: dict[str, np.ndarray] = {}
            with h5py.File(path, "r") as f:
                for key, item in f.items():
                    if key.startswith("#") or not isinstance(item, h5py.Dataset):
                        continue  # '#refs#' and structs/cells are groups: not numeric arrays
                    if _matlab_class(item) not in _MATLAB_NUMERIC_CLASSES or item.dtype.kind not in "biuf":
                        continue
                    arrays[key] = np.asarray(item[()]).T  # HDF5 holds MATLAB arrays with reversed axes
            return arrays
        content = scipy.io.loadmat(str(path))
    except (OSError, ValueError, TypeError, NotImplementedError, EOFError) as err:
        raise SceneReadError(f"cannot read the MATLAB file {path}: {err}") from err
    except Exception as err:  # scipy's MatReadError and zlib errors for truncated files
        raise SceneReadError(f"cannot read the MATLAB file {path} (damaged or truncated?): {err}") from err
    return {k: v for k, v in content.items()
            if not k.startswith("__") and isinstance(v, np.ndarray) and v.dtype.kind in "biuf"}


def _matlab_class(item: Any) -> bytes:
    """The MATLAB class a v7.3 file records of an HDF5 dataset (b"double" where it records none)."""
    kind = item.attrs.get("MATLAB_class", b"double")
    return kind.encode() if isinstance(kind, str) else bytes(kind)


def mat_array_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """The shape of each numeric array of a MATLAB file, in MATLAB's axis order, read from its header alone (scipy's
    ``whosmat``, or the HDF5 layout of a v7.3 file): whether it holds a cube or a label map, without reading either.

    Raises:
        SceneReadError: the file cannot be read as MATLAB's.
    """
    import h5py
    import scipy.io

    try:
        if h5py.is_hdf5(str(path)):
            with h5py.File(path, "r") as f:
                return {key: tuple(reversed(item.shape)) for key, item in f.items()
                        if not key.startswith("#") and isinstance(item, h5py.Dataset)
                        and _matlab_class(item) in _MATLAB_NUMERIC_CLASSES}
        return {name: tuple(shape) for name, shape, kind in scipy.io.whosmat(str(path))
                if kind.encode() in _MATLAB_NUMERIC_CLASSES}  # a struct, a cell or text is no cube nor map
    except Exception as err:  # scipy's MatReadError, truncated files
        raise SceneReadError(f"cannot read the MATLAB file {path} (damaged or truncated?): {err}") from err


def holds_a_cube(shapes: dict[str, tuple[int, ...]]) -> bool:
    """Whether a MATLAB file of these array ``shapes`` (:func:`mat_array_shapes`) holds a 3-D array of at least
    :data:`MIN_BANDS` bands (a scene), or an unmixing dataset's bands × pixels matrix beside its ``nRow`` and ``nCol``
    (:func:`pixel_matrix_cube`), as against only 2-D ones (a ground-truth map)."""
    matrix = "nRow" in shapes and "nCol" in shapes and any(
        len(shape) == 2 and min(shape) >= MIN_BANDS for shape in shapes.values())
    return matrix or any(len(shape) == 3 and shape[2] >= MIN_BANDS for shape in shapes.values())


def matlab_pixel_grid(matrix: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``(K, H, W)`` from a ``(K, H·W)`` or ``(H·W, K)`` matrix of K values a pixel, its pixels in MATLAB's column
    order (down each column first: index = row + rows · col), as the unmixing datasets keep cubes and abundances."""
    columns = matrix if matrix.shape[1] == rows * cols else matrix.T  # (K, H·W)
    return columns.reshape(len(columns), rows, cols, order="F")


def pixel_matrix_cube(arrays: dict[str, np.ndarray]) -> Optional[tuple[str, np.ndarray]]:
    """``(name, (H, W, B) array)`` of an unmixing dataset's cube kept as a bands × pixels matrix with the grid's
    ``nRow`` and ``nCol`` beside it (Jasper Ridge's and Samson's MATLAB files: ``Y`` 198 × 10000, pixels in MATLAB's
    column order), laid out as the 3-D cubes are; None without one."""
    try:
        rows, cols = int(np.asarray(arrays["nRow"]).ravel()[0]), int(np.asarray(arrays["nCol"]).ravel()[0])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    for key, a in arrays.items():
        if a.ndim == 2 and a.dtype.kind in "iuf" and rows * cols in a.shape and min(a.shape) >= MIN_BANDS:
            return key, np.transpose(matlab_pixel_grid(a, rows, cols), (1, 2, 0))  # (H, W, B), as 3-D cubes
    return None


def find_cube_key(arrays: dict[str, np.ndarray]) -> str:
    """The name of the largest 3-D numeric array (the hyperspectral cube of a .mat file)."""
    cubes = [(int(a.size), k) for k, a in arrays.items() if a.ndim == 3 and a.dtype.kind in "iuf"]
    if not cubes:
        two_d = any(_class_id_like(a) for a in arrays.values())
        raise SceneReadError("no 3-D numeric array (rows × cols × bands) found; the file holds "
                             + (_describe_arrays(arrays) or "no numeric arrays")
                             + ("; a 2-D array of class ids is a ground truth: give it as labels (--labels, "
                                "--truth or --validation; in Processing, Import a MATLAB ground-truth map first)"
                                if two_d else ""))
    best = max(size for size, _ in cubes)
    return next(k for size, k in cubes if size == best)


def _class_id_like(array: np.ndarray) -> bool:
    """Whether ``array`` looks like a ground-truth map: 2-D, whole numbers from 0 to 1000, more than one of them
    (spectra stored 2-D, as Jasper Ridge's and Samson's Y, are fractions)."""
    if array.ndim != 2 or array.dtype.kind not in "iuf" or array.size == 0:
        return False
    finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
    return (finite.size > 0 and finite.min() >= 0 and finite.max() <= 1000 and bool(np.all(finite == np.round(finite)))
            and len(np.unique(finite[:100_000])) > 1)


def find_label_key(arrays: dict[str, np.ndarray], shape: tuple[int, int]) -> Optional[str]:
    """The name of a 2-D integer label map with the cube's grid ``shape`` (rows, cols), or None.

    Names hinting at ground truth ('gt', 'label', 'map') win; names hinting at a test split lose.
    A float array counts when all its values are whole numbers (MATLAB saves many maps as double).
    """
    candidates = []
    for key, a in arrays.items():
        if a.ndim != 2 or tuple(a.shape) != tuple(shape) or a.dtype.kind not in "biuf":
            continue
        if a.dtype.kind == "f" and not (np.all(np.isfinite(a)) and np.array_equal(a, np.round(a))):
            continue
        name = key.lower()
        hinted = any(h in name for h in ("gt", "label", "map"))
        test_like = bool(re.search(r"(^|_)(te|test)($|_)", name))
        candidates.append((not hinted, test_like, key))
    if not candidates:
        return None
    candidates.sort(key=lambda c: (c[0], c[1]))
    unhinted_only = all(c[0] for c in candidates)
    if unhinted_only and len(candidates) > 1:
        return None  # several anonymous 2-D maps: guessing would be worse than asking
    return candidates[0][2]


def is_mat_file(path: Path) -> bool:
    """A MATLAB file: its header says so, or its name ends in .mat."""
    with open(path, "rb") as fh:
        head = fh.read(128)
    return head.startswith(b"MATLAB") or path.suffix.lower() == ".mat"


def _read_mat_scene(path: Path, cube_key: Optional[str]) -> Scene:
    arrays = read_mat_arrays(path)
    matrix = pixel_matrix_cube(arrays) if cube_key is None and not any(a.ndim == 3 for a in arrays.values()) else None
    if matrix is not None:  # bands × pixels: as the unmixing datasets keep it
        cube_key, arrays[matrix[0]] = matrix
    if cube_key is None:
        try:
            cube_key = find_cube_key(arrays)
        except SceneReadError as err:
            raise SceneReadError(f"{path.name}: {err}") from None
    elif cube_key not in arrays:
        raise SceneReadError(f"{path.name} has no numeric array {cube_key!r}; it holds {_describe_arrays(arrays)}")
    raw = arrays[cube_key]
    if raw.ndim != 3:
        raise SceneReadError(f"{path.name}: {cube_key!r} is {raw.ndim}-D {raw.shape}; a cube must be "
                             f"rows × cols × bands")
    listed = _wavelength_vector(arrays, raw.shape)  # how many bands the file says its cube holds, where it says
    bands_first = listed is not None and listed.size == raw.shape[0] != raw.shape[2]
    if bands_first:  # saved from Python (bands × rows × cols): the wavelengths say which axis the bands are
        logging.getLogger("hypersynth").info("%s: %r read as bands × rows × cols %s (its %d wavelengths are its first "
                                             "axis)", path.name, cube_key, raw.shape, listed.size)
    elif listed is None and raw.shape[1] == raw.shape[2] != raw.shape[0]:  # a square scene saved bands first?
        logging.getLogger("hypersynth").warning(
            "%s: %r is %s, read as rows × cols × bands (%d bands of %d × %d pixels); if it holds bands × rows × "
            "cols (as saved from Python), save it as rows × cols × bands (numpy: cube.transpose(1, 2, 0)) or with "
            "a 'wavelength' vector beside it", path.name, cube_key, "×".join(map(str, raw.shape)), raw.shape[2],
            raw.shape[0], raw.shape[1])
    elif listed is not None and listed.size != raw.shape[2]:
        logging.getLogger("hypersynth").warning(
            "%s: its wavelength list has %d values but %r is %s, read as rows × cols × bands (%d bands): the "
            "wavelengths are left out; check that the file holds the cube you mean", path.name, listed.size,
            cube_key, "×".join(map(str, raw.shape)), raw.shape[2])
    bands = raw.shape[0] if bands_first else raw.shape[2]
    check_band_count(path, bands)
    # (B, H, W) from (H, W, B), or as it is
    cube = np.ascontiguousarray(raw if bands_first else np.transpose(raw, (2, 0, 1)), dtype=np.float32)
    if raw.dtype.kind == "f":
        cube[~np.isfinite(cube)] = np.nan
    fill, held = constant_spectra(cube, np.isnan(cube))  # (H, W): a MATLAB cube has no no-data value to say it
    if fill.any():
        _say_fill(path, int(fill.sum()), {float(v) for v in np.unique(held[fill])[:4]})
        cube[:, fill] = np.nan
    good, valid = finish_masks(path, cube, np.ones(bands, dtype=bool))
    wavelengths = None
    if listed is not None and listed.size == bands:
        wavelengths = to_nanometres(listed, None, path.name)[0]
    return Scene(cube=cube, valid=valid, wavelengths=wavelengths, good_bands=good, transform=PIXEL_GRID,
                 crs_wkt=None, name=path.stem, source=str(path))


def _wavelength_vector(arrays: dict[str, np.ndarray], shape: tuple[int, ...]) -> Optional[np.ndarray]:
    """A numeric 1-D (or 1 × n) array named like a wavelength list, as float64 values: the first as long as the
    cube's last axis, else its first, else the first at all; None without one."""
    vectors = [a.astype(np.float64).ravel() for key, a in arrays.items() if WAVELENGTH_NAME.match(key)
               and a.dtype.kind in "iuf" and a.ndim <= 2 and a.size > 0 and min(a.shape or (1,)) == 1]
    for size in (shape[-1], shape[0]):
        for values in vectors:
            if values.size == size:
                return values
    return vectors[0] if vectors else None


def _describe_arrays(arrays: dict[str, np.ndarray]) -> str:
    return ", ".join(f"{k} {'×'.join(map(str, a.shape))} {a.dtype}" for k, a in arrays.items())


# --------------------------------------------------------------------------- GDAL rasters


def envi_data_file(header: Path) -> Path:
    """The data file an ENVI header describes (GDAL opens ENVI through the data file, not the .hdr)."""
    stem = header.with_suffix("")  # x.img.hdr -> x.img, x.hdr -> x
    tried = []
    for suffix in ENVI_DATA_SUFFIXES:
        for candidate in {stem.with_name(stem.name + suffix), stem.with_name(stem.name + suffix.upper())}:
            tried.append(candidate.name)
            if candidate.is_file() and candidate != header:
                return candidate
    raise SceneReadError(f"the ENVI header {header} has no data file beside it (looked for "
                         f"{', '.join(sorted(set(tried)))}); put the .img/.dat file next to the header")


_SUBDATASET_PREFIX = re.compile(r"^(?:[A-Z][A-Z0-9_]+:)+")  # "NETCDF:", "HDF4_EOS:EOS_GRID:" (not "C:")


def gdal_subdataset_file(source: str | Path) -> Optional[Path]:
    """The file holding a GDAL subdataset (``NETCDF:"/data/scene.nc":radiance`` -> ``/data/scene.nc``), or None when
    ``source`` is an existing file or not a subdataset name.

    GDAL names a NetCDF variable or an HDF array as ``DRIVER:"file":name`` (the quotes may be missing when the
    path holds no colon); QGIS keeps that name as such a layer's source.
    """
    text = str(source)
    prefix = _SUBDATASET_PREFIX.match(text)
    if prefix is None or Path(text).exists():
        return None
    rest = text[prefix.end():]
    if rest.startswith('"'):
        end = rest.find('"', 1)
        return Path(rest[1:end]) if end > 1 else None
    name = rest.split(":", 1)[0]
    return Path(name) if name else None


def hdf5_wavelength_vector(container: Path, dataset: Optional[str]) -> Optional[tuple[str, np.ndarray, int]]:
    """The wavelength vector beside an HDF5 subdataset's 3-D array (a 1-D dataset of its group named like
    :data:`~.band_metadata.WAVELENGTH_NAME`) as long as one of its outer axes: ``(name, values, axis)``, axis 0 where
    it is the array's first (the bands, as GDAL reads them), 2 where its last (a (rows, cols, bands) cube, which GDAL
    reads as bands × rows × cols); None without one."""
    if not dataset or not str(dataset).upper().startswith("HDF5:") or '":' not in str(dataset):
        return None
    inner = str(dataset)[str(dataset).rfind('":') + 2:].lstrip("/")
    try:
        import h5py

        with h5py.File(container, "r") as f:
            array = f.get(inner or "/")
            if not isinstance(array, h5py.Dataset) or array.ndim != 3:
                return None
            for name, item in array.parent.items():
                if not (isinstance(item, h5py.Dataset) and item.ndim == 1 and WAVELENGTH_NAME.match(name)):
                    continue
                for axis in (0, 2):
                    if item.shape[0] == array.shape[axis] and (axis == 0 or array.shape[0] != array.shape[2]):
                        return name, np.asarray(item[()], dtype=np.float64), axis
    except (OSError, ImportError, ValueError, TypeError):  # not HDF5 h5py opens: GDAL's reading says what it can
        return None
    return None


def subdataset_name(source: str | Path) -> str:
    """The variable or array a GDAL subdataset name opens, last part of its path (``NETCDF:"scene.nc":radiance`` ->
    ``radiance``, ``HDF5:"x.he5"://HDFEOS/SWATHS/PRS_L2D_HCO/Data_Fields/VNIR_Cube`` -> ``VNIR_Cube``); "" for a
    file or a name that opens no part of its container. Scene names and QGIS layer names ("scene radiance") use it."""
    if gdal_subdataset_file(source) is None:
        return ""
    text = str(source)
    prefix = _SUBDATASET_PREFIX.match(text)
    assert prefix is not None  # gdal_subdataset_file found it
    rest = text[prefix.end():]
    inside = rest[rest.find('"', 1) + 1:] if rest.startswith('"') else rest.partition(":")[2]
    return re.split(r"[:/]", inside.rstrip(":/"))[-1]


def source_name(source: str | Path) -> str:
    """What a scene read from ``source`` is called: the file's stem, with the subdataset's name for a variable or array
    inside a container ("scene radiance" for ``NETCDF:"scene.nc":radiance``), or the product's whole name for one
    product of an archive (``order.tar.gz/<product name>``); the scene's and its QGIS layer's name."""
    from .product_archives import product_in_archive  # it builds on this module's readers

    container = gdal_subdataset_file(source)
    if container is None:
        inside = product_in_archive(source)
        return inside[1] if inside is not None else Path(source).stem  # a product's name may hold a dot
    leaf = subdataset_name(source)
    return f"{container.stem} {leaf}" if leaf else container.stem


def read_gdal_scene(path: Path, dataset: Optional[str] = None, defaults: Optional[BandDefaults] = None, *,
                    layout_only: bool = False, reporter: Reporter = NULL_REPORTER) -> Scene:
    """Read ``path`` with GDAL.

    Args:
        path: the raster file, or the NetCDF/HDF container of ``dataset``.
        dataset: the subdataset name to open in the container.
        defaults: what a product's metadata file says of the bands, for what the raster does not say itself.
        layout_only: read every pixel once for the good bands and the valid mask, but keep no pixel: the scene's
            cube is a read-only NaN placeholder of no memory (:func:`read_scene_layout`).
        reporter: hears the share of the raster read, window by window (stage "finding the valid pixels" with
            ``layout_only``, else "reading the pixels"), and may stop the reading there.
    """
    from osgeo import gdal
    from rasterio.errors import RasterioError, RasterioIOError

    with gdal_messages() as messages:
        try:
            scene = _read_gdal_cube(path, dataset, defaults, layout_only, reporter)
        except (RasterioError, RasterioIOError) as err:  # RasterioIOError is an OSError, not a RasterioError
            reason = first_gdal_failure(messages, path, str(err))
            raise SceneReadError(describe_unreadable(
                path, "scene", reason, "the image file itself: a GeoTIFF, an ENVI .hdr/.img pair or a MATLAB .mat"
            )) from err
    for err_class, text in messages:  # to GDAL's own logger name (gdal.ConfigurePythonLogging), not raw stderr
        logging.getLogger("gdal").log(logging.WARNING if err_class >= gdal.CE_Warning else logging.DEBUG, "%s", text)
    return scene


def _read_gdal_cube(path: Path, dataset: Optional[str], defaults: Optional[BandDefaults], layout_only: bool = False,
                    reporter: Reporter = NULL_REPORTER) -> Scene:
    from rasterio.windows import Window

    leaf = subdataset_name(dataset) if dataset else ""  # the variable or array name
    shown = path.with_name(f"{path.name}:{leaf}") if leaf else path  # for messages: scene.nc:mask has 1 band
    with opened_quietly(dataset or path) as ds:
        if ds.count == 0 and ds.subdatasets:
            raise SceneReadError(f"{path.name} is a container of several datasets; open one of them: "
                                 + ", ".join(ds.subdatasets[:10]))
        bands, rows, cols = ds.count, ds.height, ds.width
        envi = {metadata_key(k): v for k, v in ds.tags(ns="ENVI").items()} if "ENVI" in (ds.tag_namespaces() or []) else {}
        truncated = describe_truncated_raw(path, "scene", ds.driver, list(ds.files), (bands, rows, cols),
                                           ds.dtypes[0] if bands else "uint8", envi)
        if truncated:
            raise SceneReadError(truncated)
        across = netcdf_wavelengths_across({metadata_key(k): v for k, v in ds.tags().items()})
        if across:  # read as bands, its y rows would be learnt as spectra: refused with how to reorder it
            raise SceneReadError(
                f"{shown}: its wavelengths run along the {across!r} dimension, which GDAL reads as the image's rows "
                f"or columns (it takes a NetCDF variable's last two dimensions as rows and columns, the others as "
                f"bands): save the variable with {across!r} first, e.g. gdalmdimtranslate in.nc out.nc -array "
                f"name=VARIABLE,transpose=[2,0,1] for a (y, x, {across}) variable, or xarray's "
                f".transpose({across!r}, 'y', 'x')")
        beside = hdf5_wavelength_vector(path, dataset)
        if beside is not None and beside[2] == 2:  # read as bands, its rows would be learnt as spectra (review:
            raise SceneReadError(  # read as 60 "bands" of 80 × 40)
                f"{shown}: its wavelengths ({beside[0]}, {beside[1].size} values) run along its last axis, which GDAL "
                "reads as the image's columns (it takes an HDF5 array's first axis as its bands): save the cube with "
                "its bands first (numpy: cube.transpose(2, 0, 1) for a (rows, cols, bands) array)")
        check_band_count(shown, bands)
        if defaults is not None:
            _check_defaults(defaults, shown, bands)
        facts = band_facts(ds, path)  # wavelengths, FWHM and bad-band flags from the metadata
        scales, offsets = raster_units(ds)
        integers = np.dtype(ds.dtypes[0]).kind in "iu"
        if np.all(scales == 1.0) and np.all(offsets == 0.0) and integers and defaults and defaults.gains is not None:
            scales = defaults.gains.astype(np.float64)
            offsets = np.zeros(bands) if defaults.offsets is None else defaults.offsets.astype(np.float64)
        nodata = [ds.nodatavals[b] for b in range(bands)]
        uses_mask_band = uses_a_mask_band(ds)
        if all(nd is None for nd in nodata) and not uses_mask_band and defaults and defaults.nodata is not None:
            nodata = [defaults.nodata] * bands
        flagged = facts.flagged_good
        alpha = alpha_bands(ds)
        if alpha:  # transparency, not light: left out of the bands, its zeros no data
            logging.getLogger("hypersynth").info(
                "%s: band %s is an alpha band: it is left out and the pixels it makes transparent are no data",
                shown.name, ", ".join(map(str, alpha)))
        if layout_only:  # what finish_masks needs, found window by window: no pixel's values are kept
            has_data = np.zeros(bands, dtype=bool)
            # the bands a valid pixel has: every band with data, or the flagged-good ones when the file flags some
            # band bad (good_bands decides which at the end); one candidate mask per set, 1 bit a pixel each:
            # no band of the set is missing at the pixel but those missing all over its window
            band_sets = [np.ones(bands, dtype=bool)] + ([flagged] if not flagged.all() else [])
            candidates = [PixelMask((rows, cols)) for _ in band_sets]
            # each window's (row0, row1, col0, col1) and the bands missing at every pixel of it
            windows: list[tuple[int, int, int, int, np.ndarray]] = []
        else:
            cube = new_cube((bands, rows, cols), shown.name)  # (B, H, W)
        step_rows, step_cols = _window_shape(bands, rows, cols, ds.block_shapes[0] if bands else (1, cols),
                                             LAYOUT_VALUES if layout_only else CHUNK_VALUES)
        stage = "finding the valid pixels" if layout_only else "reading the pixels"
        filled, fill_values = 0, set()  # pixels of one value in every band, taken as no data, and those values
        for r0 in range(0, rows, step_rows):
            for c0 in range(0, cols, step_cols):
                reporter.check()
                reporter.progress((r0 * cols + c0 * min(step_rows, rows - r0)) / max(rows * cols, 1), stage)
                window = Window(c0, r0, min(step_cols, cols - c0), min(step_rows, rows - r0))
                with opened_quietly(dataset or path) as part:  # its own dataset: GDAL's cache of decoded blocks goes
                    raw = part.read(window=window)  # (B, h, w) in the file's data type
                    masks = validity_masks(part, window, alpha=alpha) if uses_mask_band else None
                invalid = invalid_values(raw, nodata, masks)
                fill, held = constant_spectra(raw, invalid)  # (h, w) each: an undeclared fill, and its value
                if fill.any():
                    filled += int(fill.sum())
                    fill_values.update(float(v) for v in np.unique(held[fill])[:4])
                    invalid |= fill[None]
                if layout_only:
                    everywhere = invalid.reshape(bands, -1).all(axis=1)  # (B,)
                    has_data |= ~everywhere
                    r1, c1 = r0 + window.height, c0 + window.width
                    windows.append((r0, r1, c0, c1, everywhere))
                    for candidate, needed in zip(candidates, band_sets):
                        candidate[r0:r1, c0:c1] = ~invalid.any(axis=0, where=(needed & ~everywhere)[:, None, None])
                    del raw, masks, invalid
                    release_freed_memory()  # the window's pages, or the heap grows with the windows' fragments
                    continue
                # NaN marks nodata until the good-band decision below
                cube[:, r0:r0 + window.height, c0:c0 + window.width] = physical_values(raw, invalid, scales, offsets)
        _say_fill(shown, filled, fill_values)  # before a scene of nothing else is refused
        wavelengths, fwhm = facts.wavelengths, facts.fwhm
        if wavelengths is None and defaults is not None:
            wavelengths, fwhm = defaults.wavelengths, defaults.fwhm
        if wavelengths is None and beside is not None:  # an HDF5 array's wavelength vector beside it
            wavelengths = to_nanometres(beside[1], None, shown.name)[0]
        if layout_only:
            good = good_bands(shown, has_data, flagged)
            # good is the flagged-good bands with data when there are some (and some band is flagged bad), else all
            # the bands with data: valid where none of them is missing
            k = int(len(band_sets) > 1 and bool((has_data & flagged).any()))
            valid, needed = candidates[k], band_sets[k]
            candidates = []
            for top, bottom, left, right, everywhere in windows:  # a needed band with data, but none in this
                if (needed & everywhere & has_data).any():  # window: every pixel of the window misses it
                    valid[top:bottom, left:right] = False
            cube = np.broadcast_to(np.float32(np.nan), (bands, rows, cols))
        else:
            good, valid = finish_masks(shown, cube, flagged)
        transform, crs_wkt = dataset_grid(ds)
        names = [d or "" for d in ds.descriptions]
    damaged = crs_problem(crs_wkt)
    if damaged:
        logging.getLogger("hypersynth").warning("%s: %s", source_name(dataset or path), damaged)
    return Scene(cube=cube, valid=valid, wavelengths=wavelengths, fwhm=fwhm, good_bands=good, transform=transform,
                 crs_wkt=crs_wkt, name=source_name(dataset or path), source=dataset or str(path),
                 band_names=names if any(names) else [])


def dataset_grid(ds: Any) -> tuple[tuple[float, ...], Optional[str]]:
    """``(GDAL geotransform, CRS as WKT or None)`` of the open rasterio dataset ``ds`` as a scene keeps them: a file
    without georeference is on the pixel grid (:data:`~hypersynth.core.scene.PIXEL_GRID`)."""
    crs_wkt = ds.crs.to_wkt() if ds.crs is not None else None
    if crs_wkt is None and ds.transform.is_identity:
        return PIXEL_GRID, None
    return tuple(float(v) for v in ds.transform.to_gdal()), crs_wkt


EARTH_SEMI_MAJOR_M = (6.2e6, 6.5e6)  # the equatorial radii of the Earth's ellipsoids (WGS 84: 6,378,137 m) lie within


def crs_problem(crs_wkt: Optional[str]) -> Optional[str]:
    """Why a scene's CRS cannot be an Earth map's: its ellipsoid's semi-major axis is not the Earth's (Samson's ENVI
    header gives WGS 84 a tenth of its radius, 637,813 m: damaged map or projection info, which every output would
    copy); None for a plausible CRS, or none."""
    if not crs_wkt:
        return None
    from osgeo import osr

    srs = osr.SpatialReference()
    if srs.ImportFromWkt(crs_wkt) != 0:
        return None
    axis = srs.GetSemiMajor()
    low, high = EARTH_SEMI_MAJOR_M
    if not axis or low <= axis <= high:
        return None
    return (f"its CRS ({srs.GetName() or 'unnamed'}) gives the Earth's ellipsoid a semi-major axis of {axis:,.0f} m, "
            "where the Earth's is about 6,378,000 m: its georeference is likely damaged (the header's map or "
            "projection info?); the maps written from it carry it as it is, so they will not lie where they should "
            "in QGIS")


def raster_units(ds: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(scales, offsets)`` ``(B,)`` float64 from the raw values of the open rasterio dataset ``ds`` to physical
    units: GDAL's per-band scale and offset, else the ENVI header's reflectance scale factor (ENVI stores reflectance
    × factor and GDAL leaves that to the reader)."""
    scales = np.asarray(ds.scales, dtype=np.float64)
    offsets = np.asarray(ds.offsets, dtype=np.float64)
    envi = {metadata_key(k): v for k, v in ds.tags(ns="ENVI").items()} if "ENVI" in (ds.tag_namespaces() or []) else {}
    if np.all(scales == 1.0) and np.all(offsets == 0.0) and "reflectance_scale_factor" in envi:
        factor = number_or_none(envi["reflectance_scale_factor"])
        if factor:
            scales[:] = 1.0 / factor
    return scales, offsets


def uses_a_mask_band(ds: Any) -> bool:
    """Whether the open rasterio dataset ``ds`` says which pixels hold data in a mask band (per dataset or alpha), or
    in an alpha band GDAL does not take as its mask (:func:`alpha_bands`)."""
    from rasterio.enums import MaskFlags

    return any(MaskFlags.per_dataset in f or MaskFlags.alpha in f for f in ds.mask_flag_enums) or bool(alpha_bands(ds))


def alpha_bands(ds: Any) -> list[int]:
    """The 1-based alpha bands of the open rasterio dataset ``ds`` that GDAL does not use as its mask: ``gdalwarp
    -dstalpha`` adds one after a cube's bands, and GDAL masks by alpha only for 2 or 4 bands. Such a band is flagged
    bad (:func:`~.band_metadata.band_facts`) and its zeros are no data (:func:`validity_masks`)."""
    from rasterio.enums import ColorInterp, MaskFlags

    if any(MaskFlags.alpha in f or MaskFlags.per_dataset in f for f in ds.mask_flag_enums):
        return []
    return [b + 1 for b, interp in enumerate(ds.colorinterp) if interp == ColorInterp.alpha]


def validity_masks(ds: Any, window: Any, indexes: Optional[Sequence[int]] = None,
                   alpha: Optional[Sequence[int]] = None) -> np.ndarray:
    """``(B, h, w)`` uint8, 0 where the bands ``indexes`` (1-based; None: all) of the open rasterio dataset ``ds``
    hold no data in ``window``: GDAL's mask bands, or its alpha bands where GDAL does not take them as its mask
    (``alpha``: :func:`alpha_bands` of ``ds``, where a reader of many windows has it; None: found here)."""
    alpha = alpha_bands(ds) if alpha is None else list(alpha)
    if not alpha:
        return ds.read_masks(indexes, window=window)
    transparent = (ds.read(alpha, window=window) == 0).any(axis=0)  # (h, w)
    count = len(indexes) if indexes is not None else ds.count
    return np.broadcast_to(np.where(transparent, 0, 255).astype(np.uint8), (count, *transparent.shape))


def constant_spectra(raw: np.ndarray, invalid: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """``(h, w)`` bool: the pixels of a ``(B, h, w)`` window holding one value in every band with data there (at least
    :data:`MIN_BANDS` of them; ``invalid``: ``(B, h, w)``, where a band has no data, e.g. its no-data value in the
    bands a product leaves empty): no spectrum, but a fill (a swath's 0 background, a mosaic's −9999 or −32768, an
    EnMAP tile's defective pixel) that the file does not declare as no data (reviews: such pixels were classified as
    land). NaN is no such value. With it, ``(h, w)`` each pixel's first value with data: the fill's value there."""
    h, w = raw.shape[1:]
    ref = np.zeros((h, w), dtype=raw.dtype)  # each pixel's first value with data
    have = np.zeros((h, w), dtype=bool)
    same = np.ones((h, w), dtype=bool)
    count = np.zeros((h, w), dtype=np.int32)
    for b in range(raw.shape[0]):  # band by band: no (B, h, w) temporary
        ok = ~invalid[b] if invalid is not None else np.ones((h, w), dtype=bool)
        first = ok & ~have
        ref[first] = raw[b][first]
        have |= ok
        same &= ~ok | (raw[b] == ref)
        count += ok
    return same & (count >= MIN_BANDS), ref


def _say_fill(shown: Path, pixels: int, values: set[float]) -> None:
    """The warning that ``pixels`` pixels holding one of ``values`` in every band (:func:`constant_spectra`) are no
    data."""
    if pixels:
        held = " or ".join(f"{v:g}" for v in sorted(values)[:3]) + (" (among others)" if len(values) > 3 else "")
        logging.getLogger("hypersynth").warning(
            "%s: %s %s in every band, a fill the file does not declare as no data (a spectrum is never flat): %s "
            "taken as no data and left unclassified; declare the file's no-data value (gdal_edit.py -a_nodata VALUE) "
            "to say so yourself", shown.name, f"{pixels:,} pixel holds" if pixels == 1 else f"{pixels:,} pixels hold",
            held, "it is" if pixels == 1 else "they are")


def invalid_values(raw: np.ndarray, nodata: Sequence[Optional[float]], masks: Optional[np.ndarray]) -> np.ndarray:
    """``(B, h, w)`` bool, where a raw window ``(B, h, w)`` holds no data: not finite, the band's no-data value, or
    0 in its mask band (``masks``, when the raster uses one)."""
    invalid = ~np.isfinite(raw) if raw.dtype.kind == "f" else np.zeros(raw.shape, dtype=bool)
    for b, nd in enumerate(nodata):
        if nd is not None and not math.isnan(nd):
            invalid[b] |= raw[b] == _in_band_type(nd, raw.dtype)
    if masks is not None:
        invalid |= masks == 0
    return invalid


def _in_band_type(nodata: float, dtype: np.dtype) -> float:
    """A band's no-data value as the band's pixels hold it: an ENVI header's ``-3.4e+38`` is a double the float32 fill
    value (``-3.4000000e+38`` rounded) never equals, so a float band compares with the value rounded to its type."""
    if dtype.kind != "f" or not np.isfinite(nodata):
        return nodata
    with np.errstate(over="ignore"):
        rounded = dtype.type(nodata)
    return float(rounded) if np.isfinite(rounded) else nodata  # beyond the type's range: no pixel holds it


def physical_values(raw: np.ndarray, invalid: np.ndarray, scales: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``(B, h, w)`` float32 of a raw window in physical units (scaled in float64 when the raster is), NaN where
    ``invalid``: the values every reader of a scene's pixels gives, read whole or window by window. ``raw`` may be
    changed (a window read for this call)."""
    scaled = not (np.all(scales == 1.0) and np.all(offsets == 0.0))
    block = raw.astype(np.float64) * scales[:, None, None] + offsets[:, None, None] if scaled else raw
    block = block.astype(np.float32, copy=False)  # raw's own memory when it is float32 already: raw is a temporary
    block[invalid] = np.nan
    return block


def _window_shape(bands: int, rows: int, cols: int, block: tuple[int, int], values: int = CHUNK_VALUES
                  ) -> tuple[int, int]:
    """Rows and columns of the windows a raster is read in: whole blocks of the file (``block``: its rows and
    columns), as many as ``values`` raw values allow but at least one, full rows when they fit.

    Each window is read through a dataset of its own, whose cache of decoded blocks is dropped with it: a window of
    whole blocks decodes each block once, and GDAL's cache never holds more than a window (it held up to
    GDAL_CACHEMAX, 5 % of RAM, of a compressed scene's decoded tiles on top of the cube).
    """
    block_rows, block_cols = max(1, min(block[0], rows)), max(1, min(block[1], cols))
    per_block_row = bands * cols * block_rows
    if per_block_row <= values:
        return block_rows * max(1, values // per_block_row), cols
    return block_rows, block_cols * max(1, values // max(1, bands * block_rows * block_cols))


def _check_defaults(defaults: BandDefaults, shown: Path, bands: int) -> None:
    """A product's metadata file must describe the raster's bands one to one."""
    for values in (defaults.wavelengths, defaults.fwhm, defaults.gains, defaults.offsets):
        if values is not None and len(values) != bands:
            raise SceneReadError(
                f"{defaults.described_by} describes {len(values)} bands, but {shown.name} has {bands}: the two files "
                f"come from different products or one of them is damaged; put the image's own metadata file beside it")


def check_band_count(path: Path, bands: int) -> None:
    if bands < MIN_BANDS:
        raise SceneReadError(
            f"{path.name} has {bands} band{'s' if bands != 1 else ''}; HyperSynth needs a hyperspectral cube "
            f"(at least {MIN_BANDS} bands, typically 100-250), not an RGB or multispectral image")


def good_bands(path: Path, has_data: np.ndarray, flagged_good: np.ndarray) -> np.ndarray:
    """The usable bands: those with data somewhere that the file does not flag bad (all with data when it flags every
    one of them: a bad-band list that cannot be meant)."""
    if not has_data.any():
        raise SceneReadError(f"{path.name} holds no data: every band is no-data everywhere")
    good = has_data & flagged_good
    return good if good.any() else has_data


def finish_masks(path: Path, cube: np.ndarray, flagged_good: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Good bands and the valid-pixel mask from a cube holding NaN at nodata; zeroes the NaNs in place."""
    bands = cube.shape[0]
    has_data = np.array([not np.all(np.isnan(cube[b])) for b in range(bands)])  # band by band: no big temporaries
    good = good_bands(path, has_data, flagged_good)
    valid = np.ones(cube.shape[1:], dtype=bool)
    for b in range(bands):
        missing = np.isnan(cube[b])
        if good[b]:
            valid &= ~missing
        cube[b][missing] = 0.0
    cube[:, ~valid] = 0.0
    return good, valid
