"""Small EnMAP L2A, EMIT L2A and PRISMA L2 products in their real layouts, for engine, CLI and plugin tests (no Qt)."""

from pathlib import Path

import h5py
import numpy as np
import rasterio
from osgeo import gdal
from rasterio.transform import from_origin


ENMAP_STEM = "ENMAP01-____L2A-DT0000001867_20220724T104526Z_008_V010302_20230628T165614Z"
WGS84_WKT = ('GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],'
             'UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]]')


def subdatasets(path: Path) -> list[str]:
    """The subdataset names GDAL lists for a container file (QGIS names a layer of one of them so)."""
    return [name for name, _ in gdal.Open(str(path)).GetSubDatasets()]


# --------------------------------------------------------------------------- EnMAP L2A


def enmap_dn(bands=12, rows=5, cols=6):
    """int16 reflectance × 10000, distinct per band, row and column: 1000 b + 100 r + c + 1."""
    b, r, c = np.meshgrid(np.arange(bands), np.arange(rows), np.arange(cols), indexing="ij")
    return (1000 * b + 100 * r + c + 1).astype(np.int16)  # (B, H, W)


def enmap_xml(bands, order=None, gain="1.0000e-04", offset="0", drop=None, stem=ENMAP_STEM):
    """A METADATA.XML in DLR's structure: level_X/specific/bandCharacterisation/bandID[@number], in ``order``."""
    entries = []
    for n in order or range(1, bands + 1):
        children = {"wavelengthCenterOfBand": f"{418.416 + 9.5 * (n - 1):.3f}", "FWHMOfBand": f"{6.0 + 0.1 * n:.2f}",
                    "GainOfBand": gain, "OffsetOfBand": offset}
        entries.append(f'      <bandID number="{n}">\n' + "".join(
            f"        <{k}>{v}</{k}>\n" for k, v in children.items() if k != drop) + "      </bandID>\n")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<level_X>\n'
            "  <metadata><schema><versionSchema>01.02.00</versionSchema></schema>"
            f"<name>{stem}</name></metadata>\n"
            "  <base><level>L2A</level><format>ENMAP_L2A</format></base>\n"
            "  <specific>\n    <backgroundValue>-32768</backgroundValue>\n    <bandCharacterisation>\n"
            + "".join(entries) + "    </bandCharacterisation>\n  </specific>\n"
            "  <product><ortho><projection>UTM_Zone33_North</projection><resolution>30</resolution></ortho></product>\n"
            "</level_X>\n")


def write_enmap(folder: Path, dn: np.ndarray, *, nodata=-32768, scales=None, xml=True, stem=ENMAP_STEM,
                **xml_args) -> Path:
    """An EnMAP L2A product ``stem`` (another data take's tile when not ENMAP_STEM) in ``folder``: its image of ``dn``
    and, with ``xml``, its METADATA.XML; returns the image."""
    folder.mkdir(parents=True, exist_ok=True)
    image = folder / f"{stem}-SPECTRAL_IMAGE.TIF"
    bands, rows, cols = dn.shape
    with rasterio.open(image, "w", driver="GTiff", width=cols, height=rows, count=bands, dtype="int16", nodata=nodata,
                       transform=from_origin(366000, 5810000, 30, 30), crs="EPSG:32633") as dst:
        dst.write(dn)
        if scales is not None:
            dst.scales = scales
    if xml:
        (folder / f"{stem}-METADATA.XML").write_text(enmap_xml(bands, stem=stem, **xml_args))
    return image


def write_enmap_quality(folder: Path, layers: dict, *, nodata=None) -> list:
    """EnMAP's QL_QUALITY_* layers beside the image: ``layers`` maps a layer name ("QL_QUALITY_CLOUD") to its (H, W)
    uint8 values, written on the image's grid."""
    written = []
    for layer, values in layers.items():
        path = folder / f"{ENMAP_STEM}-{layer}.TIF"
        rows, cols = values.shape
        with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=1, dtype="uint8", nodata=nodata,
                           transform=from_origin(366000, 5810000, 30, 30), crs="EPSG:32633") as dst:
            dst.write(values.astype(np.uint8), 1)
        written.append(path)
    return written


# --------------------------------------------------------------------------- EMIT L2A


def emit_swath(lines=4, samples=3, bands=12):
    """Reflectance (downtrack, crosstrack, bands), distinct per line, sample and band: 1000 l + 100 s + b."""
    line, sample, band = np.meshgrid(np.arange(lines), np.arange(samples), np.arange(bands), indexing="ij")
    return (1000 * line + 100 * sample + band).astype(np.float32)


EMIT_GLT_X = np.array([[0, 1, 2, 3, 0, 0],  # crosstrack sample (1-based) shown in each ortho cell; 0 = none
                       [1, 2, 3, 0, 0, 0],
                       [0, 3, 2, 1, 0, 0],
                       [0, 0, 1, 1, 2, 3],
                       [0, 0, 0, 3, 2, 1]], dtype=np.int32)
EMIT_GLT_Y = np.array([[0, 1, 1, 1, 0, 0],  # downtrack line (1-based)
                       [2, 2, 2, 0, 0, 0],
                       [0, 3, 3, 3, 0, 0],
                       [0, 0, 4, 4, 4, 4],
                       [0, 0, 0, 1, 2, 3]], dtype=np.int32)
EMIT_GEOTRANSFORM = np.array([-110.5, 0.000542232520256, 0.0, 35.25, 0.0, -0.000542232520256])


def write_emit(path: Path, swath: np.ndarray, *, location=True, glt_y=EMIT_GLT_Y) -> Path:
    """An EMIT L2A RFL granule as NetCDF-4 (HDF5) in NASA's layout."""
    bands = swath.shape[2]
    with h5py.File(path, "w") as f:
        f.attrs["geotransform"] = EMIT_GEOTRANSFORM
        f.attrs["spatial_ref"] = WGS84_WKT
        f.attrs["title"] = "EMIT L2A Estimated Surface Reflectance 60 m V001"
        data = f.create_dataset("reflectance", data=swath)
        data.attrs["_FillValue"] = np.array([-9999.0], dtype=np.float32)
        params = f.create_group("sensor_band_parameters")
        wl = params.create_dataset("wavelengths", data=np.linspace(381.0, 2493.0, bands).astype(np.float32))
        wl.attrs["units"] = "nm"
        params.create_dataset("fwhm", data=np.full(bands, 8.5, dtype=np.float32))
        params.create_dataset("good_wavelengths", data=np.array([1] * 5 + [0] + [1] * (bands - 6), dtype=np.float32))
        if location:
            f.create_dataset("location/glt_x", data=EMIT_GLT_X)
            f.create_dataset("location/glt_y", data=glt_y)
            f.create_dataset("location/lat", data=np.zeros(swath.shape[:2]))
    return path


EMIT_MASK_NAME = "EMIT_L2A_MASK_001_20230801T180000_2321312_004"  # the MASK granule of EMIT_NAME's acquisition
EMIT_V001_MASK_BANDS = ("Cloud flag", "Cirrus flag", "Water flag", "Spacecraft Flag", "Dilated Cloud Flag", "AOD550",
                        "H2O (g cm-2)", "Aggregate Flag")


def write_emit_mask(path: Path, flags: np.ndarray, *, names=EMIT_V001_MASK_BANDS) -> Path:
    """An EMIT L2A MASK granule: ``flags`` (downtrack, crosstrack, len(names)) float32 as ``mask``, its band names in
    ``sensor_band_parameters/mask_bands`` (None: not written, as an older granule may lack them)."""
    with h5py.File(path, "w") as f:
        f.attrs["title"] = "EMIT L2A Masks 60 m V001"
        f.create_dataset("mask", data=flags.astype(np.float32))
        if names is not None:
            f.create_dataset("sensor_band_parameters/mask_bands", data=np.array([n.encode() for n in names]))
        f.create_dataset("location/glt_x", data=EMIT_GLT_X)
        f.create_dataset("location/glt_y", data=EMIT_GLT_Y)
    return path


# --------------------------------------------------------------------------- PRISMA L2


PRISMA_CW = {"Vnir": [0.0, 0.0, 980.0, 900.0, 800.0, 700.0, 600.0, 500.0],  # long to short, 0 = band not there
             "Swir": [2400.0, 2200.0, 2000.0, 1600.0, 1200.0, 950.0, 0.0]}
PRISMA_SCALE = {"Vnir": (0.0, 2.0), "Swir": (-0.1, 1.5)}  # L2Scale*Min, L2Scale*Max


def prisma_dn(detector: str, rows=4, cols=5):
    """uint16 (rows, bands, cols), distinct per row, band and column: 10000 r + 100 b + c + 1."""
    bands = len(PRISMA_CW[detector])
    r, b, c = np.meshgrid(np.arange(rows), np.arange(bands), np.arange(cols), indexing="ij")
    return (10000 * r + 100 * b + c + 1 + (50 if detector == "Swir" else 0)).astype(np.uint16)


def write_prisma(path: Path, *, level="D", drop=(), cubes=None, cw=None, scale=None,
                 corner=(366015.0, 5809965.0)) -> Path:
    """A PRISMA L2 product in ASI's HDF-EOS5 layout: ``cubes`` (rows, bands, cols) uint16 per detector ("Vnir",
    "Swir"), described by ``cw`` (centre wavelengths, long to short) and ``scale`` (L2Scale*Min, L2Scale*Max);
    ``corner``: the upper-left pixel's centre (easting, northing) in EPSG:32633."""
    cw, scale = cw or PRISMA_CW, scale or PRISMA_SCALE
    cubes = cubes or {d: prisma_dn(d) for d in cw}
    rows, _, cols = next(iter(cubes.values())).shape
    with h5py.File(path, "w") as f:
        fields = f.create_group(f"HDFEOS/SWATHS/PRS_L2{level}_HCO/Data Fields")
        for detector, dn in cubes.items():
            if f"{detector.upper()}_Cube" not in drop:
                fields.create_dataset(f"{detector.upper()}_Cube", data=dn)
        f.create_dataset(f"HDFEOS/SWATHS/PRS_L2{level}_HCO/Geolocation Fields/Latitude", data=np.zeros((rows, cols)))
        attrs = {"Processing_Level": f"2{level}", "Epsg_Code": np.int32(32633),
                 "Product_ULcorner_easting": corner[0], "Product_ULcorner_northing": corner[1]}
        for suffix, centres in cw.items():
            attrs[f"List_Cw_{suffix}"] = np.array(centres, dtype=np.float32)
            attrs[f"List_Fwhm_{suffix}"] = np.array([w / 100 for w in centres], dtype=np.float32)
            attrs[f"L2Scale{suffix}Min"], attrs[f"L2Scale{suffix}Max"] = scale[suffix]
        for key, value in attrs.items():
            if key not in drop:
                f.attrs[key] = value
    return path


def write_prisma_of(scene, path: Path, low: float = -0.1, high: float = 1.0) -> Path:
    """``scene`` (a :class:`Scene` with wavelengths) as a PRISMA L2D product: its bands under 1000 nm in the VNIR
    cube, the others in the SWIR cube, each listed from long to short as PRISMA lists them, values scaled to uint16
    between ``low`` and ``high``."""
    wavelengths = np.asarray(scene.wavelengths)
    cubes, cw = {}, {}
    for detector, keep in (("Vnir", wavelengths < 1000), ("Swir", wavelengths >= 1000)):
        order = np.flatnonzero(keep)[::-1]  # long to short
        dn = np.clip(np.round((scene.cube[order] - low) / (high - low) * 65535), 1, 65535).astype(np.uint16)
        cubes[detector] = np.ascontiguousarray(np.transpose(dn, (1, 0, 2)))  # (rows, bands, cols)
        cw[detector] = [float(w) for w in wavelengths[order]]
    x0, _, _, y0, _, _ = scene.transform
    return write_prisma(path, cubes=cubes, cw=cw, scale={"Vnir": (low, high), "Swir": (low, high)},
                        corner=(x0 + 15.0, y0 - 15.0))


# --------------------------------------------------------------------------- one of each, and comparing scenes

EMIT_NAME = "EMIT_L2A_RFL_001_20230801T180000_2321312_004"
PRISMA_NAME = "PRS_L2D_STD_20200524103704_20200524103708_0001"
PRODUCTS = ("EnMAP L2A", "EMIT L2A reflectance", "PRISMA L2D")  # the kinds write_product writes


def write_product(kind: str, folder: Path) -> Path:
    """A small product of ``kind`` (one of PRODUCTS) in ``folder``: the file an analyst opens (EnMAP: the image)."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "EnMAP L2A":
        return write_enmap(folder, enmap_dn())
    if kind == "EMIT L2A reflectance":
        return write_emit(folder / f"{EMIT_NAME}.nc", emit_swath())
    if kind == "PRISMA L2D":
        return write_prisma(folder / f"{PRISMA_NAME}.he5")
    raise ValueError(kind)


def zip_files(path: Path, files, folder: str = "") -> Path:
    """``files`` packed into the ZIP ``path``, under ``folder`` when given (as an order holds a product folder)."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for f in files:
            archive.write(f, f"{folder}/{f.name}" if folder else f.name)
    return path


def tar_files(path: Path, files, folder: str = "") -> Path:
    """``files`` packed into the tar ``path`` (gzipped when named .tar.gz or .tgz), under ``folder`` when given (as
    DLR's order holds its product ZIPs under a few folders)."""
    import tarfile

    mode = "w:gz" if path.name.lower().endswith((".tar.gz", ".tgz")) else "w"
    with tarfile.open(path, mode) as archive:
        for f in files:
            archive.add(f, f"{folder}/{f.name}" if folder else f.name)
    return path


def assert_same_scene(found, expected) -> None:
    """Two scenes hold the same cube, masks, wavelengths, FWHM and georeference."""
    from rasterio.crs import CRS

    np.testing.assert_array_equal(found.cube, expected.cube)
    np.testing.assert_array_equal(found.valid, expected.valid)
    np.testing.assert_array_equal(found.good_bands, expected.good_bands)
    np.testing.assert_array_equal(found.wavelengths, expected.wavelengths)
    np.testing.assert_array_equal(found.fwhm, expected.fwhm)
    assert found.transform == expected.transform
    assert CRS.from_wkt(found.crs_wkt) == CRS.from_wkt(expected.crs_wkt)
