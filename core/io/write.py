"""Write scenes, class maps, confidence and label rasters as GeoTIFF, atomically and never over a file by accident."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from ..outputs import OutputExistsError, stale_sidecars  # OutputExistsError: the engine's one refusal class
from ..scene import CLASS_ID_RANGE, MAX_CLASS_ID, MIN_CLASS_ID, PIXEL_GRID, ClassInfo, Scene

SCENE_NODATA = -9999.0  # written into every band of an invalid pixel
CONFIDENCE_NODATA = -1.0  # written where a pixel is unclassified (NaN confidence)
GTIFF_OPTIONS = {"TILED": "YES", "COMPRESS": "DEFLATE", "BIGTIFF": "IF_SAFER"}  # creation options for every output
PAM_SIDECAR = ".aux.xml"  # where GDAL keeps what a GeoTIFF cannot hold (RAT, category names)

log = logging.getLogger("hypersynth")


@contextmanager
def atomic_output(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write to; move it to ``path`` only if the block succeeds.

    The temporary path lies in a hidden folder beside ``path`` (same file system, so the final move is
    atomic) and has the same file name, so sidecars written next to it (``x.tif.aux.xml``, ``x.qml``)
    keep their names and move along with it. On an exception everything written is removed.
    The yielded path may also be made a folder (e.g. a model bundle).

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; choose another name or allow overwriting "
                                f"(overwrite=True) to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    tmp = staging / path.name
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"nothing was written for {path}")
        sidecars = [p for p in sorted(staging.iterdir()) if p != tmp]
        for stale in stale_sidecars(path, [p.name for p in sidecars]) if not tmp.is_dir() else ():
            stale.unlink(missing_ok=True)  # GDAL would read it with the new file, whose data it does not describe
        for sidecar in sidecars:
            os.replace(sidecar, path.parent / sidecar.name)
        if tmp.is_dir() and path.exists():
            os.replace(path, staging / ".replaced")  # a folder cannot be replaced in one move
        os.replace(tmp, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if staging.exists():  # a file still open (Windows) or a permission: said, so it can be removed by hand
            log.warning("could not remove the temporary folder %s; delete it by hand", staging)


def write_text(path: str | Path, text: str) -> Path:
    """Replace ``path`` with ``text`` in one move (:func:`atomic_output`), so a reader never sees half a file."""
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_scene(scene: Scene, path: str | Path, *, overwrite: bool = False,
                tags: Optional[dict[str, str]] = None, unit_type: Optional[str] = None,
                band_labels: Optional[Sequence[str]] = None) -> Path:
    """Write a scene as a float32 GeoTIFF that QGIS, EnMAP-Box and :func:`read_scene` all understand; ``tags``: more
    metadata items of the dataset (GDAL's default domain); ``unit_type``: what the values are, as each band's GDAL
    unit type ("reflectance"; the plugin's spectral plots name their value axis by it), when it is known;
    ``band_labels``: each band's description, where "B7 (452.3 nm)" (its number in this file) would mislead.

    Wavelengths go into each band's GDAL metadata (``wavelength``, ``wavelength_units``, ``fwhm``, ``bbl``)
    and into the dataset's ENVI domain (``wavelength = {…}``, ``wavelength units``); invalid pixels are
    written as -9999 (the nodata value) in every band. A pixel-grid scene is written without CRS.

    Each band's tiles are compressed and written as soon as the band is (its cache flushed): GDAL's block cache
    never holds the whole cube, and no single call compresses it all at the close (which in a QGIS task would
    hold Python's GIL, and so QGIS, for as long as a full-size scene takes to compress).
    """
    from osgeo import gdal

    path = _geotiff_path(path)
    bands, rows, cols = scene.cube.shape
    good = scene.good_bands if scene.good_bands is not None else np.ones(bands, dtype=bool)
    side = _tile_side(rows, cols)
    extra = ["PREDICTOR=3", "INTERLEAVE=BAND", f"BLOCKXSIZE={side}", f"BLOCKYSIZE={side}",
             "NUM_THREADS=ALL_CPUS"]  # tiles compressed in parallel: a 230-band scene's write took half the time
    with atomic_output(path, overwrite) as tmp:
        ds = _create_gtiff(tmp, (rows, cols), gdal.GDT_Float32, extra, scene.transform, scene.crs_wkt, bands=bands)
        invalid = ~scene.valid
        for b in range(bands):
            band = ds.GetRasterBand(b + 1)
            band.SetNoDataValue(SCENE_NODATA)
            values = np.array(scene.cube[b], dtype=np.float32)  # (H, W) copy, the scene stays untouched
            values[invalid] = SCENE_NODATA
            band.WriteArray(values)
            band.FlushCache()  # compressed and written now, not held in GDAL's cache until the close
            band_tags = {"bbl": "1" if good[b] else "0"}
            imagery = {}  # GDAL's own domain for them (3.10 on): read by GDAL's tools and newer QGIS
            label = band_labels[b] if band_labels is not None else f"B{b + 1}"
            if scene.wavelengths is not None:
                w = float(scene.wavelengths[b])
                band_tags.update(wavelength=repr(w), wavelength_units="Nanometers")  # repr: exact round trip
                imagery["CENTRAL_WAVELENGTH_UM"] = repr(w / 1000)
                label += f" ({w:.1f} nm)" if band_labels is None else ""
            if scene.fwhm is not None:
                band_tags["fwhm"] = repr(float(scene.fwhm[b]))
                imagery["FWHM_UM"] = repr(float(scene.fwhm[b]) / 1000)
            band.SetMetadata(band_tags)
            if unit_type:
                band.SetUnitType(unit_type)
            if imagery:
                band.SetMetadata(imagery, "IMAGERY")
            band.SetDescription(label)
        envi = {"bbl": _envi_list_text(good.astype(int))}
        for key, value in (tags or {}).items():
            ds.SetMetadataItem(key, value)
        if scene.wavelengths is not None:
            ds.SetMetadataItem("wavelength_units", "Nanometers")
            envi.update({"wavelength": _envi_list_text(scene.wavelengths), "wavelength units": "Nanometers"})
        if scene.fwhm is not None:
            envi["fwhm"] = _envi_list_text(scene.fwhm)
        ds.SetMetadata(envi, "ENVI")
        band = ds = None  # GDAL finishes the file when the last reference goes
        _check_written(tmp)
    return path


def write_class_map(path: str | Path, class_map: np.ndarray, classes: list[ClassInfo], *,
                    transform: Sequence[float], crs_wkt: Optional[str], overwrite: bool = False) -> Path:
    """Write a classified map: uint8 GeoTIFF (uint16 above id 255), 0 = unclassified (nodata).

    The class colours and names go into a GDAL colour table, category names and a raster attribute
    table (Value, Class_Name, Red, Green, Blue), and into a ``.qml`` style beside the file that QGIS
    applies when the layer loads.

    Args:
        path: the ``.tif`` to write.
        class_map: ``(H, W)`` integer class ids, 0 where nothing was classified.
        classes: the classes the ids refer to (every id in the map must be one of them).
        transform: GDAL geotransform of the grid (``Scene.transform``; ``PIXEL_GRID`` writes none).
        crs_wkt: CRS as WKT, or None.
        overwrite: replace an existing file.
    """
    return _write_categorical(path, class_map, classes, transform, crs_wkt, overwrite,
                              zero_name="unclassified", description="class")


def write_label_raster(path: str | Path, labels: np.ndarray, classes: list[ClassInfo], *,
                       transform: Sequence[float], crs_wkt: Optional[str], overwrite: bool = False) -> Path:
    """Write a label layer (0 = unlabelled) the same way as :func:`write_class_map`."""
    return _write_categorical(path, labels, classes, transform, crs_wkt, overwrite,
                              zero_name="unlabelled", description="label")


def write_confidence(path: str | Path, confidence: np.ndarray, *, transform: Sequence[float],
                     crs_wkt: Optional[str], overwrite: bool = False,
                     uncertainty: Optional[np.ndarray] = None) -> Path:
    """Write per-pixel confidence (max class probability, 0..1; NaN = unclassified) as float32 GeoTIFF, and
    with ``uncertainty`` (the probabilities' entropy over its maximum, 0 sure .. 1 clueless) a second band.

    Unclassified pixels are written as -1, the nodata value.
    """
    confidence = np.asarray(confidence)
    with confidence_raster(path, confidence.shape, transform=transform, crs_wkt=crs_wkt, overwrite=overwrite,
                           uncertainty=uncertainty is not None) as write:
        write(0, 0, confidence, uncertainty)
    return _geotiff_path(path)


@contextmanager
def confidence_raster(path: str | Path, shape: tuple[int, int], *, transform: Sequence[float],
                      crs_wkt: Optional[str], overwrite: bool = False, uncertainty: bool = True
                      ) -> Iterator[Callable[..., None]]:
    """:func:`write_confidence` a tile at a time: yields ``write(row0, col0, confidence, uncertainty=None)``
    ((h, w) arrays each; ``uncertainty`` given when the file has its band), called for tiles that cover the scene.
    The file appears only when the block ends without an error (atomic), so a cancelled run leaves none."""
    from osgeo import gdal

    path = _geotiff_path(path)
    layers = [("confidence", "confidence (max class probability)")]
    if uncertainty:
        layers.append(("uncertainty", "uncertainty (normalised entropy: 0 sure, 1 every class alike)"))
    with atomic_output(path, overwrite) as tmp:
        ds = _create_gtiff(tmp, _shape(shape, "the confidence"), gdal.GDT_Float32, ["PREDICTOR=3"], transform,
                           crs_wkt, bands=len(layers))
        for i, (_, what) in enumerate(layers):
            band = ds.GetRasterBand(i + 1)
            band.SetNoDataValue(CONFIDENCE_NODATA)
            band.SetDescription(what)

        def write(row0: int, col0: int, confidence: np.ndarray, uncertainty: Optional[np.ndarray] = None) -> None:
            if (uncertainty is None) != (len(layers) == 1):
                raise ValueError("give the uncertainty exactly when the confidence raster has its band")
            tiles = [confidence] if uncertainty is None else [confidence, uncertainty]
            _write_tile(ds, tmp, [_unit_interval(np.asarray(values), name) for values, (name, _) in zip(tiles, layers)],
                        row0, col0)

        band = None  # a Band holds its Dataset open: only ds keeps it now, and is dropped on failure
        try:
            yield write
        except BaseException:
            ds = None  # closed before its folder is removed (Windows cannot delete an open file)
            raise
        ds.FlushCache()
        ds = None  # GDAL finishes the file when the last reference goes
        _check_written(tmp)


# --------------------------------------------------------------------------- helpers


def _write_categorical(path: str | Path, values: np.ndarray, classes: list[ClassInfo], transform: Sequence[float],
                       crs_wkt: Optional[str], overwrite: bool, *, zero_name: str, description: str) -> Path:
    values = _id_array(values, description)
    with categorical_raster(path, classes, values.shape, transform=transform, crs_wkt=crs_wkt, overwrite=overwrite,
                            zero_name=zero_name, description=description) as write:
        write(0, 0, values)
    return _geotiff_path(path)


@contextmanager
def categorical_raster(path: str | Path, classes: list[ClassInfo], shape: tuple[int, int], *,
                       transform: Sequence[float], crs_wkt: Optional[str], overwrite: bool = False,
                       zero_name: str = "unclassified", description: str = "class"
                       ) -> Iterator[Callable[[int, int, np.ndarray], None]]:
    """:func:`write_class_map` a tile at a time: yields ``write(row0, col0, (h, w) class ids)``, called for tiles
    that cover the map. The file (with its ``.qml`` style) appears only when the block ends without an error
    (atomic), so a cancelled run leaves none."""
    from osgeo import gdal

    path = _geotiff_path(path)
    ids = [int(c.id) for c in classes]
    if len(set(ids)) != len(ids) or any(not MIN_CLASS_ID <= i <= MAX_CLASS_ID for i in ids):
        raise ValueError(f"class ids must be unique and run {CLASS_ID_RANGE}; got {sorted(ids)}")
    known = np.asarray(sorted({0, *ids}))
    wide = max(ids, default=0) > 255
    gdal_type, np_type = (gdal.GDT_UInt16, np.uint16) if wide else (gdal.GDT_Byte, np.uint8)
    ordered = sorted(classes, key=lambda c: c.id)
    with atomic_output(path, overwrite) as tmp:
        ds = _create_gtiff(tmp, _shape(shape, f"a {description} map"), gdal_type, [], transform, crs_wkt)
        band = ds.GetRasterBand(1)
        band.SetNoDataValue(0)
        band.SetDescription(description)
        table = gdal.ColorTable()
        table.SetColorEntry(0, (0, 0, 0, 0))
        for c in ordered:
            table.SetColorEntry(c.id, (*[int(v) for v in c.color], 255))
        band.SetRasterColorTable(table)
        band.SetRasterColorInterpretation(gdal.GCI_PaletteIndex)
        names = [""] * (max(ids, default=0) + 1)
        names[0] = zero_name
        for c in ordered:
            names[c.id] = c.name
        band.SetCategoryNames(names)
        band.SetDefaultRAT(_attribute_table(ordered))
        band = None

        def write(row0: int, col0: int, values: np.ndarray) -> None:
            values = _id_array(values, description)
            found = np.unique(values)
            unknown = found[~np.isin(found, known)].tolist()
            if unknown:
                raise ValueError(f"the {description} map holds values {unknown[:10]} that are not among the classes "
                                 f"{sorted(ids)}; pass a ClassInfo for every value (0 = {zero_name})")
            _write_tile(ds, tmp, [values.astype(np_type)], row0, col0)

        try:
            yield write
        except BaseException:
            ds = None  # closed before its folder is removed (Windows cannot delete an open file)
            raise
        ds.FlushCache()
        ds = None  # GDAL finishes the file (and its .aux.xml) when the last reference goes
        _check_written(tmp)
        tmp.with_suffix(".qml").write_text(paletted_qml(ordered), encoding="utf-8")


def _id_array(values: np.ndarray, description: str) -> np.ndarray:
    """``values`` as an array if they are a 2-D integer map; else a clear error naming the ``description`` map."""
    values = np.asarray(values)
    if values.ndim != 2 or values.dtype.kind not in "iu":
        raise ValueError(f"a {description} map must be a 2-D integer array (rows, cols); got {values.dtype} "
                         f"{values.shape}")
    return values


def _attribute_table(classes: list[ClassInfo]) -> Any:
    """A GDAL raster attribute table: Value, Class_Name, Red, Green, Blue (what QGIS and ArcGIS show)."""
    from osgeo import gdal

    rat = gdal.RasterAttributeTable()
    rat.CreateColumn("Value", gdal.GFT_Integer, gdal.GFU_MinMax)
    rat.CreateColumn("Class_Name", gdal.GFT_String, gdal.GFU_Name)
    for name, usage in (("Red", gdal.GFU_Red), ("Green", gdal.GFU_Green), ("Blue", gdal.GFU_Blue)):
        rat.CreateColumn(name, gdal.GFT_Integer, usage)
    rat.SetRowCount(len(classes))
    for row, c in enumerate(classes):
        rat.SetValueAsInt(row, 0, int(c.id))
        rat.SetValueAsString(row, 1, c.name)
        for col, v in enumerate(c.color, start=2):
            rat.SetValueAsInt(row, col, int(v))
    return rat


def paletted_qml(classes: list[ClassInfo]) -> str:
    """A QGIS layer style (QML) with a paletted renderer: one entry per class, its colour and name."""
    root = ET.Element("qgis", {"version": "3.22.0", "styleCategories": "AllStyleCategories"})
    pipe = ET.SubElement(root, "pipe")
    renderer = ET.SubElement(pipe, "rasterrenderer", {"type": "paletted", "band": "1", "opacity": "1",
                                                      "alphaBand": "-1", "nodataColor": ""})
    ET.SubElement(renderer, "rasterTransparency")
    palette = ET.SubElement(renderer, "colorPalette")
    for c in sorted(classes, key=lambda c: c.id):
        ET.SubElement(palette, "paletteEntry", {"value": str(c.id), "color": _hex(c.color), "alpha": "255",
                                                "label": c.name})
    ET.SubElement(pipe, "brightnesscontrast", {"brightness": "0", "contrast": "0", "gamma": "1"})
    ET.SubElement(pipe, "huesaturation", {"saturation": "0", "grayscaleMode": "0", "invertColors": "0",
                                          "colorizeOn": "0", "colorizeRed": "255", "colorizeGreen": "128",
                                          "colorizeBlue": "128", "colorizeStrength": "100"})
    ET.SubElement(pipe, "rasterresampler", {"maxOversampling": "2"})
    ET.SubElement(root, "blendMode").text = "0"
    ET.indent(root)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode") + "\n"


def _unit_interval(values: np.ndarray, name: str) -> np.ndarray:
    """``values`` (2-D, 0..1, NaN = unclassified) as float32 with the nodata value for NaN; else a clear error
    naming them (``name``)."""
    if values.ndim != 2 or values.dtype.kind != "f":
        raise ValueError(f"{name} must be a 2-D float array (rows, cols); got {values.dtype} {values.shape}")
    known = ~np.isnan(values)
    if np.any(np.isinf(values)) or np.any(values[known] < 0) or np.any(values[known] > 1):
        raise ValueError(f"{name} must lie in 0..1 (NaN for unclassified pixels); got values from "
                         f"{np.min(values[known]):g} to {np.max(values[known]):g}")
    return np.where(known, values, CONFIDENCE_NODATA).astype(np.float32)


@contextmanager
def probability_raster(path: str | Path, classes: Sequence[ClassInfo], shape: tuple[int, int], *,
                       transform: Sequence[float], crs_wkt: Optional[str], overwrite: bool = False
                       ) -> Iterator[Callable[[int, int, int, np.ndarray], None]]:
    """Write each class's probability as a float32 band (band k: ``classes[k]``, named by it), a tile at a time.

    Yields ``write(row0, col0, (K, h, w) probabilities)``, called once per tile of the scene (the tiles cover it):
    NaN (unclassified) is written as -1, the nodata value. The file appears only when the block ends without an
    error (atomic), so a cancelled run leaves none.
    """
    from osgeo import gdal

    path = _geotiff_path(path)
    k = len(classes)
    with atomic_output(path, overwrite) as tmp:
        ds = _create_gtiff(tmp, shape, gdal.GDT_Float32, ["PREDICTOR=3", "INTERLEAVE=BAND"], transform, crs_wkt,
                           bands=k)
        for i, c in enumerate(classes):
            band = ds.GetRasterBand(i + 1)
            band.SetNoDataValue(CONFIDENCE_NODATA)
            band.SetDescription(f"probability of {c.name} (class {c.id})")

        def write(row0: int, col0: int, proba: np.ndarray) -> None:
            if proba.ndim != 3 or proba.shape[0] != k:
                raise ValueError(f"expected ({k}, h, w) probabilities; got {proba.shape}")
            values = np.where(np.isnan(proba), CONFIDENCE_NODATA, proba).astype(np.float32)
            _write_tile(ds, tmp, list(values), row0, col0)

        band = None  # a Band holds its Dataset open: only ds keeps it now, and is dropped on failure
        try:
            yield write
        except BaseException:
            ds = None  # closed before its folder is removed (Windows cannot delete an open file)
            raise
        ds.FlushCache()
        ds = None  # GDAL finishes the file when the last reference goes
        _check_written(tmp)


def _create_gtiff(tmp: Path, shape: tuple[int, int], gdal_type: int, extra: list[str],
                  transform: Sequence[float], crs_wkt: Optional[str], bands: int = 1) -> Any:
    from osgeo import gdal

    gdal.ErrorReset()
    rows, cols = shape
    options = [f"{k}={v}" for k, v in GTIFF_OPTIONS.items()] + extra
    ds = gdal.GetDriverByName("GTiff").Create(str(tmp), cols, rows, bands, gdal_type, options=options)
    if ds is None:
        raise OSError(f"GDAL could not create {tmp.name}: {gdal.GetLastErrorMsg()}")
    georeference = _gdal_transform(transform)
    if georeference is not None:
        ds.SetGeoTransform(georeference)
    if crs_wkt:
        ds.SetProjection(crs_wkt)
    return ds


def _write_tile(ds: Any, tmp: Path, bands: Sequence[np.ndarray], row0: int, col0: int) -> None:
    """Write one tile's ``(h, w)`` array of each band (1, 2, ...) at ``(row0, col0)`` and flush it to the file, failing
    at once where GDAL reports an error: a scene tile read between two writes resets GDAL's error state, so an
    error of one tile would be gone by the file's close."""
    from osgeo import gdal

    gdal.ErrorReset()
    for i, values in enumerate(bands):
        if ds.GetRasterBand(i + 1).WriteArray(values, col0, row0) != gdal.CE_None:
            raise OSError(f"GDAL could not write {tmp.name}: {gdal.GetLastErrorMsg() or 'no reason given'}")
    ds.FlushCache()  # else GDAL's block cache keeps every written tile: memory would grow with the scene
    _check_written(tmp)


def _check_written(tmp: Path) -> None:
    """Fail loudly if GDAL reported an error while writing (it does not raise without UseExceptions)."""
    from osgeo import gdal

    if gdal.GetLastErrorType() >= gdal.CE_Failure:
        raise OSError(f"GDAL could not write {tmp.name}: {gdal.GetLastErrorMsg()}")


def _gdal_transform(transform: Any) -> Optional[tuple[float, ...]]:
    """A GDAL geotransform to write, or None for a pixel grid (no georeference)."""
    if hasattr(transform, "to_gdal"):  # a rasterio/affine Affine
        transform = transform.to_gdal()
    values = tuple(float(v) for v in transform)
    if len(values) != 6:
        raise ValueError(f"transform must be a GDAL geotransform of 6 numbers; got {len(values)}")
    if values == PIXEL_GRID:
        return None
    if values[1] == 0 and values[2] == 0 or values[4] == 0 and values[5] == 0:
        raise ValueError(f"transform {values} is degenerate; give a GDAL geotransform (x0, dx, rx, y0, ry, dy)")
    return values


def _shape(shape: Sequence[int], what: str = "a raster") -> tuple[int, int]:
    """``(rows, cols)`` of a raster to create; a clear error for anything else."""
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"{what} must be a 2-D array (rows, cols) of at least one pixel; got shape {tuple(shape)}")
    return int(shape[0]), int(shape[1])


def _geotiff_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        raise ValueError(f"HyperSynth writes GeoTIFF; name the output .tif (got {path.name})")
    return path


def _tile_side(rows: int, cols: int) -> int:
    """The side of square GeoTIFF tiles: 256 px (smaller rasters get one tile that covers them, a multiple of 16)."""
    return min(256, max(16, -(-max(rows, cols) // 16) * 16))


def _envi_list_text(values: Any) -> str:
    return "{" + ", ".join(repr(float(v)) if isinstance(v, (float, np.floating)) else str(v)
                           for v in np.asarray(values).tolist()) + "}"


def _hex(color: Sequence[int]) -> str:
    r, g, b = (int(v) for v in color[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def export_cog(source: str | Path, target: str | Path, *, overwrite: bool = False) -> Path:
    """Copy a GeoTIFF (e.g. a class map) as a Cloud-Optimised GeoTIFF, with its colour table and sidecars.

    GDAL's COG driver does the work; the ``.aux.xml`` (attribute table, category names) and ``.qml``
    style of the source are copied beside the target so the map keeps its class names and colours.
    """
    import shutil

    from osgeo import gdal

    source, target = Path(source), _geotiff_path(target)
    if not source.is_file():
        raise FileNotFoundError(f"no such raster: {source}")
    with atomic_output(target, overwrite) as tmp:
        ds = gdal.Translate(str(tmp), str(source), format="COG", creationOptions=["COMPRESS=DEFLATE"])
        if ds is None:
            raise ValueError(f"GDAL could not write a Cloud-Optimised GeoTIFF from {source}")
        ds = None
        stray = Path(str(tmp) + PAM_SIDECAR)  # GDAL may write its own; the source's is the one to keep
        if stray.exists():
            stray.unlink()
    for suffix in (PAM_SIDECAR,):
        side = Path(str(source) + suffix)
        if side.exists():
            shutil.copyfile(side, Path(str(target) + suffix))
    qml = source.with_suffix(".qml")
    if qml.exists():
        shutil.copyfile(qml, target.with_suffix(".qml"))
    return target
