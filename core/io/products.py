"""Open the products of spaceborne imaging spectrometers (EnMAP L2A, EMIT L2A/L1B, PRISMA L2) as a :class:`Scene`."""

from __future__ import annotations

import glob
import logging
import re
import xml.etree.ElementTree as ElementTree  # the product's own local XML; Python's expat caps entity expansion
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, Optional

import numpy as np

from ..memory import new_cube
from ..progress import NULL_REPORTER, Reporter
from ..scene import PIXEL_GRID, Scene
from .product_archives import archived_product, is_archive, product_in_archive
from .product_names import ENMAP_L2A_IMAGE, ENMAP_L2A_METADATA, EMIT_KINDS, enmap_file
from .quality_masks import emit_flagged, emit_mask_granule, enmap_flagged, leave_out_flagged
from .band_metadata import nanometres_per_unit
from .read import (CHUNK_VALUES, BandDefaults, SceneReadError, check_band_count, finish_masks, gdal_subdataset_file,
                   read_gdal_scene)

log = logging.getLogger("hypersynth")

# Hand-written: the readers that exist need what the engine may not load (EnMAP-Box's importers run in QGIS
# Processing; NASA's emit-utils/emit_tools need netCDF4 or xarray and hold the whole swath in memory; prismaread is R).

# Background value of EnMAP L2A int16 reflectance where the GeoTIFF declares none (ESA SNAP's EnMAP reader,
# eu.esa.opt.dataio.enmap.EnmapL2AMetadata, uses it because the XML's backgroundValue is unreliable for L2A).
ENMAP_L2A_BACKGROUND = -32768.0

EMIT_FILL = -9999.0  # EMIT's NetCDF fill value (emit-sds/emit-utils daac_converter.NODATA)
EMIT_CUBES = ("reflectance", "radiance")  # L2A RFL, L1B RAD: (downtrack, crosstrack, bands) at the file's root

# PRISMA (ASI) HDF-EOS5: the co-registered hyperspectral cube of a level-2 product, e.g. "PRS_L2D_HCO".
_PRISMA_L2_SWATH = re.compile(r"^PRS_L2([BCD])_HCO$")
PRISMA_PIXEL_M = 30.0  # L2D VNIR/SWIR grid spacing (EnMAP-Box ImportPrismaL2DAlgorithm, prismaread pr_setext_L2D)
PRISMA_DN_MAX = 65535.0  # uint16 full scale of the L2 scaling formula

Shape = tuple[int, int, int]  # (bands, rows, cols) of the scene a product opens as


@dataclass(frozen=True)
class ProductFacts:
    """What a product is, from its names and layout alone (no pixels read)."""

    kind: str  # in words: "EnMAP L2A", "EMIT L2A reflectance", "PRISMA L2D"
    name: str  # the product's name: EnMAP's file stem without "-SPECTRAL_IMAGE", else the container's stem
    files: tuple[Path, ...]  # what the scene is read from: EnMAP's image and XML, a ZIP or tar, else the container
    shape: Optional[Shape]  # of the scene it opens as; None when the layout does not tell (an incomplete product)


class _Hdf5Product(NamedTuple):
    kind: str  # as ProductFacts.kind
    read: Callable[[str, bool], Scene]  # its reader, given the scene's source and whether to apply quality masks
    shape: Callable[[], Optional[Shape]]  # the scene's shape from the layout alone (may raise: see _layout_shape)


def read_product(path: Path, source: str, *, quality_masks: bool = True) -> Optional[Scene]:
    """The scene of an imaging-spectrometer product in ``path``, or None when ``path`` is no product recognised here.

    Args:
        path: the file the user chose: EnMAP's SPECTRAL_IMAGE or METADATA.XML, an EMIT NetCDF or a PRISMA .he5
            (for a GDAL subdataset name, the container file that holds it).
        source: what the user gave, kept as the scene's ``source`` (e.g. the subdataset name QGIS gives a layer).
        quality_masks: leave out as no data the pixels the product's own quality masks flag as cloud, cloud shadow
            or cirrus (EnMAP's QL_QUALITY_* layers, EMIT's MASK granule; :mod:`.quality_masks`), saying how many;
            the log says so when the masks are not beside the product.

    Raises:
        SceneReadError: the file is such a product, but its layout is incomplete or damaged.
    """
    if ENMAP_L2A_IMAGE.match(path.name):
        return _read_enmap_l2a(path, source, quality_masks)
    if ENMAP_L2A_METADATA.match(path.name):
        return _read_enmap_l2a(_enmap_image_beside(path), source, quality_masks)
    with _hdf5_file(path) as f:
        found = _hdf5_product(f, path) if f is not None else None
        if found is None:
            return None
        try:
            return found.read(source, quality_masks)
        except OSError as err:  # HDF5 could open the file but not read its data
            raise SceneReadError(f"cannot read the scene {path}: it looks truncated or damaged (HDF5: {err}); "
                                 f"download it again") from err


def product_kind(source: str | Path) -> Optional[str]:
    """What imaging-spectrometer product ``source`` is, in words ("EnMAP L2A", "EMIT L2A reflectance", "PRISMA L2D"),
    or None; ``source`` may be a file of the product or a GDAL subdataset name of its container. Reads names, an image
    header and the HDF5 layout only, no pixels (the plugin asks it before it converts a product QGIS cannot show as
    it is)."""
    facts = product_facts(source)
    return facts.kind if facts is not None else None


def product_facts(source: str | Path, reporter: Reporter = NULL_REPORTER) -> Optional[ProductFacts]:
    """What :func:`product_kind` tells, with the product's name, files and the shape of its scene; None for anything
    that is no product recognised here. Reads names, headers and the HDF5 layout only, no pixels (the plugin asks it
    whether an earlier import of the product is still good). ``reporter`` hears the listing of an order's tar (read
    whole to list it, unless listed before) and may stop it (:class:`~hypersynth.core.progress.Cancelled`)."""
    path = gdal_subdataset_file(source) or Path(source)
    inside = product_in_archive(path)  # ``order.tar.gz/<product name>``: one product of an archive holding several
    if inside is not None:
        return _archived_facts(*inside, reporter=reporter)
    if is_archive(path):
        return _archived_facts(path, reporter=reporter)
    for pattern in (ENMAP_L2A_IMAGE, ENMAP_L2A_METADATA):
        named = pattern.match(path.name)
        if named is not None:
            return _enmap_facts(path, named.group(1))
    with _hdf5_file(path) as f:
        found = _hdf5_product(f, path) if f is not None else None
        return ProductFacts(found.kind, path.stem, (path,), _layout_shape(found.shape)) if found is not None else None


def _archived_facts(path: Path, name: Optional[str] = None, reporter: Reporter = NULL_REPORTER
                    ) -> Optional[ProductFacts]:
    """The product named ``name`` inside the ZIP or tar ``path`` (its one product when no name is given): its shape
    from the header for EnMAP's GeoTIFF in a ZIP (GDAL reads it inside the archive), unknown for an HDF5 product (it
    would have to be unpacked) and for anything in a tar (GDAL would decompress the stream up to it, a product ZIP in
    it would have to be unpacked); None when the archive holds no such product, or several and no name says which."""
    try:
        found = archived_product(path, name, reporter)
    except SceneReadError:
        return None
    in_zip_image = found.kind == "EnMAP L2A" and not found.tar and not found.nested_zip
    shape = _raster_shape(f"/vsizip/{path}/{found.member}") if in_zip_image else None
    return ProductFacts(found.kind, found.name, (path,), shape)


def _raster_shape(path: str | Path) -> Optional[Shape]:
    """(bands, rows, cols) from a raster's header, or None when GDAL cannot open it."""
    import rasterio
    from rasterio.errors import RasterioError

    try:
        with rasterio.open(path) as ds:
            return ds.count, ds.height, ds.width
    except (RasterioError, OSError):  # RasterioIOError is an OSError
        return None


@contextmanager
def _hdf5_file(path: Path) -> Iterator[Any]:
    """``path`` open with h5py, or None when it is no readable HDF5 file (GDAL's reading then says why)."""
    import h5py

    handle = None
    if path.is_file() and h5py.is_hdf5(str(path)):
        try:
            handle = h5py.File(path, "r")
        except OSError:
            handle = None
    try:
        yield handle
    finally:
        if handle is not None:
            handle.close()


def _hdf5_product(f: Any, path: Path) -> Optional[_Hdf5Product]:
    """The product in words, its reader and its shape for an EMIT or PRISMA file open in ``f``, or None."""
    import h5py

    cube_name = next((n for n in EMIT_CUBES if isinstance(f.get(n), h5py.Dataset)), None)
    if cube_name is not None and _is_emit(f, path):
        kind = EMIT_KINDS["L2A_RFL" if cube_name == "reflectance" else "L1B_RAD"]
        return _Hdf5Product(kind, lambda source, masks: _read_emit(f, cube_name, path, source, masks),
                            lambda: _emit_shape(f, cube_name))
    swaths = f.get("HDFEOS/SWATHS")
    for swath in swaths if isinstance(swaths, h5py.Group) else []:
        level = _PRISMA_L2_SWATH.match(swath)
        if level is not None:
            return _Hdf5Product(f"PRISMA L2{level.group(1)}",
                                lambda source, masks, s=swath, lv=level.group(1): _read_prisma_l2(f, s, lv, path,
                                                                                                  source),
                                lambda s=swath: _prisma_shape(f, s))
    return None


def _layout_shape(shape: Callable[[], Optional[Shape]]) -> Optional[Shape]:
    """``shape()``, or None where the layout it reads is missing or damaged (reading the product then says why)."""
    try:
        found = shape()
    except (KeyError, IndexError, TypeError, ValueError, OSError):
        return None
    return found if found is not None and all(n > 0 for n in found) else None


# --------------------------------------------------------------------------- EnMAP L2A (DLR)


def _read_enmap_l2a(image: Path, source: str, quality_masks: bool) -> Scene:
    """The SPECTRAL_IMAGE, with wavelengths, FWHM, scaling and no-data from the METADATA.XML beside it where the image
    does not carry them (a DLR GeoTIFF carries none of them); with ``quality_masks``, the pixels the QL_QUALITY_*
    layers beside it flag as cloud, cloud shadow or cirrus left out."""
    if not image.is_file():
        raise SceneReadError(f"cannot read the scene {image}: the file does not exist")
    product = ENMAP_L2A_IMAGE.match(image.name)
    assert product is not None
    stem = product.group(1)
    metadata = enmap_file(image, stem, "METADATA.XML")
    if metadata is None:
        scene = read_gdal_scene(image)
        if scene.wavelengths is None:
            raise SceneReadError(
                f"{image.name} is an EnMAP L2A image without wavelengths, and its {stem}-METADATA.XML is not beside "
                f"it; copy the whole product folder (the XML gives each band's wavelength and the reflectance scale)")
    else:
        scene = read_gdal_scene(image, defaults=enmap_band_defaults(metadata))
    scene.name, scene.source = stem, source
    if quality_masks:
        found = enmap_flagged(image, stem, scene.shape)
        if found is not None:
            leave_out_flagged(scene, found)
        else:
            log.warning("%s: no QL_QUALITY_CLOUD, _CLOUDSHADOW or _CIRRUS layer is beside the image, so cloudy pixels "
                        "are not left out; copy the whole product folder", stem)
    return scene


def enmap_band_defaults(metadata: Path) -> BandDefaults:
    """Each band's centre wavelength, FWHM, gain and offset from an EnMAP METADATA.XML.

    The elements are ``level_X/specific/bandCharacterisation/bandID[@number]`` with ``wavelengthCenterOfBand``,
    ``FWHMOfBand`` (nm), ``GainOfBand`` and ``OffsetOfBand``, as EnMAP-Box (ImportEnmapL2AAlgorithm), GFZ's EnPT and
    ESA SNAP's EnMAP reader read them. The stored value × GainOfBand + OffsetOfBand is the physical value (SNAP's
    EnmapMetadata.getBandScaling; EnMAP-Box sets them as GDAL scale/offset); EnPT writes L2A gains of 1/10000, so
    L2A reflectance comes out 0 to 1.
    """
    try:
        root = ElementTree.parse(metadata).getroot()
    except (ElementTree.ParseError, OSError) as err:
        raise SceneReadError(f"cannot read the EnMAP metadata {metadata}: {err}; it looks truncated or damaged, "
                             f"copy the product again") from err
    for element in root.iter():  # element names without any XML namespace
        element.tag = element.tag.rsplit("}", 1)[-1]
    entries = root.findall("specific/bandCharacterisation/bandID")
    fields = ("wavelengthCenterOfBand", "FWHMOfBand", "GainOfBand", "OffsetOfBand")
    rows = []
    for entry in entries:
        values = [_number(entry.findtext(f)) for f in fields]
        number = _number(entry.get("number"))
        if number is None or values[0] is None:
            raise SceneReadError(f"{metadata.name}: a specific/bandCharacterisation/bandID has no number or no "
                                 f"wavelengthCenterOfBand; the file looks damaged, copy the product again")
        rows.append((number, *values))
    if not rows:
        raise SceneReadError(f"{metadata.name} lists no bands (no specific/bandCharacterisation/bandID): it is not the "
                             f"metadata of an EnMAP L2A product or is damaged; copy the product again")
    rows.sort(key=lambda r: r[0])
    table = np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=np.float64)  # (B, 5)

    def column(i: int) -> Optional[np.ndarray]:
        return None if np.isnan(table[:, i]).any() else table[:, i]

    gains, offsets = column(3), column(4)
    return BandDefaults(described_by=metadata.name, wavelengths=table[:, 1], fwhm=column(2),
                        gains=gains, offsets=offsets if gains is not None else None, nodata=ENMAP_L2A_BACKGROUND)


def _enmap_image_beside(metadata: Path) -> Path:
    """The SPECTRAL_IMAGE of the product whose METADATA.XML is ``metadata``."""
    stem = metadata.name[: -len("-METADATA.XML")]
    images = sorted(p for p in metadata.parent.glob(f"{glob.escape(stem)}-SPECTRAL_IMAGE*")
                    if ENMAP_L2A_IMAGE.match(p.name))
    if not images:
        raise SceneReadError(f"{metadata.name} is EnMAP metadata, but its {stem}-SPECTRAL_IMAGE.TIF is not beside it; "
                             f"copy the whole product folder")
    return images[0]


def _enmap_facts(path: Path, stem: str) -> ProductFacts:
    """An EnMAP L2A product given by its image or metadata file: the shape from the image's header."""
    metadata = enmap_file(path, stem, "METADATA.XML")
    image: Optional[Path] = path
    if ENMAP_L2A_METADATA.match(path.name):
        try:
            image = _enmap_image_beside(path)
        except SceneReadError:
            image = None
    shape = _raster_shape(image) if image is not None and image.is_file() else None
    files = tuple(dict.fromkeys(p for p in (image, metadata) if p is not None and p.is_file()))
    return ProductFacts("EnMAP L2A", stem, files or (path,), shape)


# --------------------------------------------------------------------------- EMIT L2A / L1B (NASA JPL)


def _is_emit(f: Any, path: Path) -> bool:
    """An EMIT granule: band parameters beside the cube, and EMIT's name, instrument attribute or location group."""
    named = path.name.upper().startswith("EMIT_") or _text(f.attrs.get("instrument")).strip().upper() == "EMIT"
    return "sensor_band_parameters" in f and (named or "location" in f)


def _read_emit(f: Any, cube_name: str, path: Path, source: str, quality_masks: bool) -> Scene:
    """An EMIT granule orthorectified through its geometry lookup table (GLT), as NASA's emit-utils does.

    ``location/glt_x`` and ``glt_y`` (1-based crosstrack and downtrack index, 0 = no pixel) give, for each cell of
    the north-up grid that the root attributes ``geotransform`` (GDAL order) and ``spatial_ref`` (WKT) describe, the
    swath pixel it shows (emit_utils.reformat.single_image_ortho). The swath is read a block of lines at a time and
    scattered onto that grid, so memory stays near the output cube. With ``quality_masks``, the pixels that the MASK
    granule of the same acquisition beside it flags as cloud, cirrus or spacecraft are left out.
    """
    data = f[cube_name]  # (downtrack, crosstrack, bands)
    params, location = f["sensor_band_parameters"], f.get("location")
    missing = [name for name, there in (
        ("sensor_band_parameters/wavelengths", "wavelengths" in params),
        ("location/glt_x", location is not None and "glt_x" in location),
        ("location/glt_y", location is not None and "glt_y" in location),
        ("the root attribute geotransform", "geotransform" in f.attrs),
        ("the root attribute spatial_ref", "spatial_ref" in f.attrs)) if not there]
    if missing:
        raise SceneReadError(
            f"{path.name} is an EMIT granule, but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing; "
            f"download the granule again from NASA Earthdata (a subsetted or converted copy may have dropped them)")
    raw_wl = np.asarray(params["wavelengths"][()], dtype=np.float64).ravel()
    if data.ndim != 3 or data.shape[2] != raw_wl.size:
        raise SceneReadError(f"{path.name}: {cube_name} is {'×'.join(map(str, data.shape))}, but an EMIT cube is "
                             f"downtrack × crosstrack × {raw_wl.size} bands (one per wavelength); the file looks "
                             f"damaged")
    lines, samples, bands = data.shape
    check_band_count(path, bands)
    factor = nanometres_per_unit(_text(params["wavelengths"].attrs.get("units")), raw_wl)
    fwhm = _band_values(params, "fwhm", bands)
    flags = _band_values(params, "good_wavelengths", bands)
    glt_x = np.asarray(location["glt_x"][()], dtype=np.int64)  # (rows, cols) of the ortho grid
    glt_y = np.asarray(location["glt_y"][()], dtype=np.int64)
    transform = tuple(float(v) for v in np.asarray(f.attrs["geotransform"], dtype=np.float64).ravel())
    if glt_x.ndim != 2 or glt_x.shape != glt_y.shape or len(transform) != 6:
        raise SceneReadError(f"{path.name}: the GLT (location/glt_x {glt_x.shape}, glt_y {glt_y.shape}) or the "
                             f"geotransform ({len(transform)} values) is not a grid; the file looks damaged")
    shown = (glt_x > 0) & (glt_y > 0)  # 0 (or the fill -9999): no swath pixel for this cell
    out_rows, out_cols = np.nonzero(shown)
    src_rows, src_cols = glt_y[shown] - 1, glt_x[shown] - 1  # 1-based in the file
    if src_rows.size and (src_rows.max() >= lines or src_cols.max() >= samples):
        raise SceneReadError(f"{path.name}: its GLT points past the {lines} × {samples} swath; the file looks damaged")
    order = np.argsort(src_rows, kind="stable")
    out_rows, out_cols, src_rows, src_cols = out_rows[order], out_cols[order], src_rows[order], src_cols[order]
    declared_fill = _number(_first(data.attrs.get("_FillValue")))
    fill = EMIT_FILL if declared_fill is None else declared_fill
    cube = new_cube((bands, *glt_x.shape), path.name, fill=np.nan)  # (B, H, W) on the ortho grid
    step = max(1, CHUNK_VALUES // max(1, samples * bands))
    for r0 in range(0, lines, step):
        lo, hi = np.searchsorted(src_rows, (r0, r0 + step))
        if lo == hi:
            continue  # no grid cell shows these swath lines
        block = np.asarray(data[r0:r0 + step], dtype=np.float32)  # (h, crosstrack, B)
        block[(block == fill) | ~np.isfinite(block)] = np.nan
        cube[:, out_rows[lo:hi], out_cols[lo:hi]] = block[src_rows[lo:hi] - r0, src_cols[lo:hi]].T  # (B, n)
    good, valid = finish_masks(path, cube, np.ones(bands, bool) if flags is None else flags != 0)
    wavelengths = raw_wl * factor
    scene = Scene(cube=cube, valid=valid, wavelengths=wavelengths, fwhm=None if fwhm is None else fwhm * factor,
                  good_bands=good, transform=transform, crs_wkt=_text(f.attrs["spatial_ref"]) or None, name=path.stem,
                  source=source, band_names=[f"band {b + 1} ({w:.1f} nm)" for b, w in enumerate(wavelengths)])
    if quality_masks:
        def ortho(swath_flags: np.ndarray) -> np.ndarray:  # (downtrack, crosstrack) -> the scene's grid
            out = np.zeros(glt_x.shape, dtype=bool)
            out[out_rows, out_cols] = swath_flags[src_rows, src_cols]
            return out

        granule = emit_mask_granule(path)
        found = emit_flagged(granule, (lines, samples), ortho) if granule is not None else None
        if found is not None:
            leave_out_flagged(scene, found)
        elif granule is None:
            log.warning("%s: the L2A MASK granule of this acquisition is not beside it, so cloudy pixels are not left "
                        "out; download its EMIT_L2A_MASK_….nc into the same folder", path.stem)
    return scene


def _emit_shape(f: Any, cube_name: str) -> Optional[Shape]:
    """The ortho grid of the GLT, with the cube's bands."""
    cube, glt = f[cube_name].shape, f["location/glt_x"].shape  # (downtrack, crosstrack, bands), (rows, cols)
    return (int(cube[2]), int(glt[0]), int(glt[1])) if len(cube) == 3 and len(glt) == 2 else None


def _band_values(group: Any, name: str, bands: int) -> Optional[np.ndarray]:
    """A per-band variable of EMIT's sensor_band_parameters, or None when it is absent or of another length."""
    values = np.asarray(group[name][()], dtype=np.float64).ravel() if name in group else None
    return values if values is not None and values.size == bands else None


# --------------------------------------------------------------------------- PRISMA L2B/L2C/L2D (ASI)


def _read_prisma_l2(f: Any, swath: str, level: str, path: Path, source: str) -> Scene:
    """PRISMA's VNIR and SWIR cubes merged into one cube sorted by wavelength, in reflectance (L2C/L2D).

    Each ``HDFEOS/SWATHS/PRS_L2?_HCO/Data Fields/{VNIR,SWIR}_Cube`` is (rows, bands, cols) uint16; band ``i`` is
    described by the root attributes ``List_Cw_*[i]`` and ``List_Fwhm_*[i]`` (nm, listed from long to short
    wavelengths; 0 for a band that is not there, which is skipped; a band whose ``List_Cw_*_Flags[i]`` is 0 is kept
    but flagged bad, as a bad-band list does). The value is ``L2Scale*Min + DN × (L2Scale*Max −
    L2Scale*Min) / 65535`` (prismaread pr_rastwrite_lines; the same attribute names in EnMAP-Box's importer), and a
    pixel whose every band is 0 holds no data (EnMAP-Box ImportPrismaL2DAlgorithm). L2D is a 30 m grid, north up, in
    ``Epsg_Code``, whose ``Product_ULcorner_easting/northing`` is the centre of the upper-left pixel (both readers
    move it half a pixel out); L2B and L2C are in swath geometry and come as a pixel grid.

    The product's per-pixel, per-band error matrices (``{VNIR,SWIR}_PIXEL_L2_ERR_MATRIX``) are not applied, as
    prismaread leaves them by default (``apply_errmatrix = FALSE``; EnMAP-Box's L1 importer writes the L1 matrix as a
    raster apart): here a flag in one band would take the whole pixel out of labelling, training and the map.
    """
    fields = f[f"HDFEOS/SWATHS/{swath}"].get("Data Fields")
    detectors = [("VNIR", "Vnir"), ("SWIR", "Swir")]
    needed = [f"Data Fields/{d}_Cube" for d, _ in detectors if fields is None or f"{d}_Cube" not in fields]
    needed += [a for _, s in detectors for a in (f"List_Cw_{s}", f"List_Fwhm_{s}", f"L2Scale{s}Min", f"L2Scale{s}Max")
               if a not in f.attrs]
    if level == "D":
        georeference = ("Epsg_Code", "Product_ULcorner_easting", "Product_ULcorner_northing")
        needed += [a for a in georeference if a not in f.attrs]
    if needed:
        raise SceneReadError(
            f"{path.name} is a PRISMA L2{level} product, but {', '.join(needed)} {'is' if len(needed) == 1 else 'are'} "
            f"missing from it; download the product again from ASI's PRISMA portal (it looks incomplete or damaged)")
    cubes = {d: fields[f"{d}_Cube"] for d, _ in detectors}  # (rows, bands, cols)
    if any(c.ndim != 3 for c in cubes.values()) or len({(c.shape[0], c.shape[2]) for c in cubes.values()}) != 1:
        raise SceneReadError(f"{path.name}: the VNIR and SWIR cubes are not (rows, bands, cols) on one grid "
                             f"({', '.join(f'{d} {c.shape}' for d, c in cubes.items())}); the file looks damaged")
    rows, cols = cubes["VNIR"].shape[0], cubes["VNIR"].shape[2]
    bands_of: list[tuple[float, float, str, int]] = []  # (wavelength, fwhm, detector, band in its cube)
    scale: dict[str, tuple[float, float]] = {}
    flagged_bad: set[tuple[str, int]] = set()  # (detector, band in its cube) that List_Cw_*_Flags marks 0
    for detector, suffix in detectors:
        centres = _attribute_list(f.attrs[f"List_Cw_{suffix}"])
        widths = _attribute_list(f.attrs[f"List_Fwhm_{suffix}"])
        if not (centres.size == widths.size == cubes[detector].shape[1]):
            raise SceneReadError(f"{path.name}: List_Cw_{suffix} ({centres.size}) and List_Fwhm_{suffix} "
                                 f"({widths.size}) do not describe the {cubes[detector].shape[1]} bands of the "
                                 f"{detector} cube; the file looks damaged")
        low, high = (_number(_first(f.attrs[f"L2Scale{suffix}{e}"])) for e in ("Min", "Max"))
        if low is None or high is None:
            raise SceneReadError(f"{path.name}: L2Scale{suffix}Min/Max are not numbers; the file looks damaged")
        scale[detector] = (low, high)
        bands_of += [(float(w), float(widths[i]), detector, i) for i, w in enumerate(centres) if w > 0]
        flags = _attribute_list(f.attrs[f"List_Cw_{suffix}_Flags"]) if f"List_Cw_{suffix}_Flags" in f.attrs else None
        if flags is not None and flags.size == centres.size:  # 0: ASI flags the band as not usable
            flagged_bad.update((detector, i) for i, flag in enumerate(flags) if flag == 0)
    bands_of.sort(key=lambda b: b[0])  # stable: VNIR before SWIR where both list one wavelength
    check_band_count(path, len(bands_of))
    cube = new_cube((len(bands_of), rows, cols), path.name)  # (B, H, W)
    signal = np.zeros((rows, cols), dtype=bool)  # some band is not 0
    step = max(1, CHUNK_VALUES // max(1, cols * max(c.shape[1] for c in cubes.values())))
    for detector, _ in detectors:
        low, high = scale[detector]
        kept = [(out, i) for out, (_, _, d, i) in enumerate(bands_of) if d == detector]
        positions, indices = [k[0] for k in kept], [k[1] for k in kept]
        for r0 in range(0, rows, step):
            dn = np.asarray(cubes[detector][r0:r0 + step])[:, indices, :]  # (h, b, W) uint16
            signal[r0:r0 + step] |= (dn != 0).any(axis=1)
            reflectance = low + np.moveaxis(dn, 1, 0).astype(np.float32) * ((high - low) / PRISMA_DN_MAX)  # (b, h, W)
            cube[positions, r0:r0 + step] = reflectance
    cube[:, ~signal] = np.nan
    usable = np.array([(d, i) not in flagged_bad for _, _, d, i in bands_of])  # as a bad-band list would say
    good, valid = finish_masks(path, cube, usable)
    transform, crs_wkt = PIXEL_GRID, None
    if level == "D":
        from rasterio.crs import CRS

        easting, northing = (_number(_first(f.attrs[f"Product_ULcorner_{a}"])) for a in ("easting", "northing"))
        epsg = _number(_first(f.attrs["Epsg_Code"]))
        if easting is None or northing is None or epsg is None:
            raise SceneReadError(f"{path.name}: Epsg_Code or Product_ULcorner_easting/northing is not a number; "
                                 f"the file looks damaged")
        half = PRISMA_PIXEL_M / 2  # the corner attributes give the upper-left pixel's centre
        transform = (easting - half, PRISMA_PIXEL_M, 0.0, northing + half, 0.0, -PRISMA_PIXEL_M)
        crs_wkt = CRS.from_epsg(int(epsg)).to_wkt()
    return Scene(cube=cube, valid=valid, wavelengths=np.array([b[0] for b in bands_of]),
                 fwhm=np.array([b[1] for b in bands_of]), good_bands=good, transform=transform, crs_wkt=crs_wkt,
                 name=path.stem, source=source,
                 band_names=[f"{d} band {i + 1} ({w:.1f} nm)" for w, _, d, i in bands_of])


def _prisma_shape(f: Any, swath: str) -> Optional[Shape]:
    """The cubes' grid, with the bands listed with a wavelength in both detectors."""
    fields = f[f"HDFEOS/SWATHS/{swath}/Data Fields"]
    grid = fields["VNIR_Cube"].shape, fields["SWIR_Cube"].shape  # (rows, bands, cols) each
    if any(len(g) != 3 for g in grid) or grid[0][0::2] != grid[1][0::2]:
        return None
    bands = sum(int(np.count_nonzero(_attribute_list(f.attrs[f"List_Cw_{s}"]) > 0)) for s in ("Vnir", "Swir"))
    return bands, int(grid[0][0]), int(grid[0][2])


def _attribute_list(value: Any) -> np.ndarray:
    """An HDF5 attribute holding numbers, as an array: a numeric array, or text such as "1.5 2.5"."""
    if isinstance(value, (bytes, str)) or (isinstance(value, np.ndarray) and value.dtype.kind in "SUO"):
        text = " ".join(_text(v) for v in np.atleast_1d(value))
        return np.array([float(v) for v in re.split(r"[,\s]+", text.strip()) if v], dtype=np.float64)
    return np.asarray(value, dtype=np.float64).ravel()


# --------------------------------------------------------------------------- attribute values


def _first(value: Any) -> Any:
    """A scalar attribute that HDF5 may store as a one-element array."""
    array = np.asarray(value) if value is not None else None
    return array.ravel()[0] if array is not None and array.size else value


def _text(value: Any) -> str:
    """An attribute as text (HDF5 gives bytes, str or a one-element array of either)."""
    value = _first(value)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ("" if value is None else str(value))


def _number(value: Any) -> Optional[float]:
    """An attribute or XML text as a number, or None."""
    try:
        return float(_text(value).strip()) if isinstance(value, (bytes, str)) or value is None else float(value)
    except (TypeError, ValueError):
        return None
