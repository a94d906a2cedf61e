"""read_scene on EnMAP L2A, EMIT L2A and PRISMA L2 products made in the test in each product's real layout."""

from pathlib import Path

import h5py
import numpy as np
import pytest
import rasterio
from osgeo import gdal
from rasterio.transform import from_origin

from hypersynth.core.io import products
from hypersynth.core.io.read import SceneReadError, read_scene
from hypersynth.core.scene import PIXEL_GRID

ENMAP_STEM = "ENMAP01-____L2A-DT0000001867_20220724T104526Z_008_V010302_20230628T165614Z"
WGS84_WKT = ('GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],'
             'UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]]')


def _subdatasets(path: Path) -> list[str]:
    """The subdataset names GDAL lists for a container file (QGIS names a layer of one of them so)."""
    return [name for name, _ in gdal.Open(str(path)).GetSubDatasets()]


# --------------------------------------------------------------------------- EnMAP L2A


def _enmap_dn(bands=12, rows=5, cols=6):
    """int16 reflectance × 10000, distinct per band, row and column: 1000 b + 100 r + c + 1."""
    b, r, c = np.meshgrid(np.arange(bands), np.arange(rows), np.arange(cols), indexing="ij")
    return (1000 * b + 100 * r + c + 1).astype(np.int16)  # (B, H, W)


def _enmap_xml(bands, order=None, gain="1.0000e-04", offset="0", drop=None):
    """A METADATA.XML in DLR's structure: level_X/specific/bandCharacterisation/bandID[@number], in ``order``."""
    entries = []
    for n in order or range(1, bands + 1):
        children = {"wavelengthCenterOfBand": f"{418.416 + 9.5 * (n - 1):.3f}", "FWHMOfBand": f"{6.0 + 0.1 * n:.2f}",
                    "GainOfBand": gain, "OffsetOfBand": offset}
        entries.append(f'      <bandID number="{n}">\n' + "".join(
            f"        <{k}>{v}</{k}>\n" for k, v in children.items() if k != drop) + "      </bandID>\n")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<level_X>\n'
            "  <metadata><schema><versionSchema>01.02.00</versionSchema></schema>"
            f"<name>{ENMAP_STEM}</name></metadata>\n"
            "  <base><level>L2A</level><format>ENMAP_L2A</format></base>\n"
            "  <specific>\n    <backgroundValue>-32768</backgroundValue>\n    <bandCharacterisation>\n"
            + "".join(entries) + "    </bandCharacterisation>\n  </specific>\n"
            "  <product><ortho><projection>UTM_Zone33_North</projection><resolution>30</resolution></ortho></product>\n"
            "</level_X>\n")


def _write_enmap(folder: Path, dn: np.ndarray, *, nodata=-32768, scales=None, xml=True, **xml_args) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    image = folder / f"{ENMAP_STEM}-SPECTRAL_IMAGE.TIF"
    bands, rows, cols = dn.shape
    with rasterio.open(image, "w", driver="GTiff", width=cols, height=rows, count=bands, dtype="int16", nodata=nodata,
                       transform=from_origin(366000, 5810000, 30, 30), crs="EPSG:32633") as dst:
        dst.write(dn)
        if scales is not None:
            dst.scales = scales
    if xml:
        (folder / f"{ENMAP_STEM}-METADATA.XML").write_text(_enmap_xml(bands, **xml_args))
    return image


def test_enmap_l2a_takes_wavelengths_fwhm_and_scale_from_its_xml(tmp_path):
    dn = _enmap_dn()
    dn[:, 2, 3] = -32768  # background pixel
    order = [3, 1, 2] + list(range(4, 13))  # bandID elements need not come in band order
    image = _write_enmap(tmp_path / "product", dn, order=order)
    scene = read_scene(image)
    assert scene.cube.shape == (12, 5, 6)
    expected = dn.astype(np.float32) * np.float32(1e-4)  # reflectance = DN × GainOfBand + OffsetOfBand
    expected[:, 2, 3] = 0
    np.testing.assert_allclose(scene.cube, expected, rtol=1e-6)
    assert scene.cube[7, 4, 1] == pytest.approx((1000 * 7 + 100 * 4 + 1 + 1) * 1e-4)  # band 8, row 5, col 2
    np.testing.assert_allclose(scene.wavelengths, 418.416 + 9.5 * np.arange(12), atol=1e-9)
    np.testing.assert_allclose(scene.fwhm, 6.0 + 0.1 * np.arange(1, 13), atol=1e-9)
    assert not scene.valid[2, 3] and scene.valid.sum() == 29 and scene.good_bands.all()
    assert scene.transform == (366000.0, 30.0, 0.0, 5810000.0, 0.0, -30.0) and "32633" in scene.crs_wkt
    assert scene.name == ENMAP_STEM and scene.source == str(image)
    from_xml = read_scene(tmp_path / "product" / f"{ENMAP_STEM}-METADATA.XML")  # the XML opens the product too
    assert np.array_equal(from_xml.cube, scene.cube) and from_xml.source.endswith("-METADATA.XML")


def test_enmap_l2a_scale_in_the_geotiff_is_not_applied_twice_and_background_is_nodata_without_a_tag(tmp_path):
    dn = _enmap_dn()
    scaled = read_scene(_write_enmap(tmp_path / "a", dn, scales=[1e-4] * 12))
    np.testing.assert_allclose(scaled.cube, dn * 1e-4, rtol=1e-6)
    dn[:, 0, 0] = -32768
    untagged = read_scene(_write_enmap(tmp_path / "b", dn, nodata=None))  # DLR's background value, no GDAL nodata
    assert not untagged.valid[0, 0] and untagged.valid.sum() == 29 and np.all(untagged.cube[:, 0, 0] == 0)
    no_gain = read_scene(_write_enmap(tmp_path / "c", _enmap_dn(), drop="GainOfBand"))
    np.testing.assert_allclose(no_gain.cube, _enmap_dn())  # no gain in the XML: the stored values as they are
    assert no_gain.wavelengths is not None


def test_enmap_l2a_incomplete_or_damaged_products(tmp_path):
    image = _write_enmap(tmp_path / "noxml", _enmap_dn(), xml=False)
    with pytest.raises(SceneReadError, match=r"EnMAP L2A image without wavelengths.*-METADATA.XML is not beside it"):
        read_scene(image)
    image = _write_enmap(tmp_path / "short", _enmap_dn(), order=range(1, 11))
    with pytest.raises(SceneReadError, match=r"METADATA.XML describes 10 bands, but .*SPECTRAL_IMAGE.TIF has 12"):
        read_scene(image)
    image = _write_enmap(tmp_path / "cut", _enmap_dn())
    xml = image.with_name(f"{ENMAP_STEM}-METADATA.XML")
    xml.write_text(xml.read_text()[:700])
    with pytest.raises(SceneReadError, match=r"cannot read the EnMAP metadata .*truncated or damaged"):
        read_scene(image)
    xml.write_text("<level_X><specific/></level_X>")
    with pytest.raises(SceneReadError, match=r"lists no bands"):
        read_scene(image)
    image.unlink()
    with pytest.raises(SceneReadError, match=r"SPECTRAL_IMAGE.TIF is not beside it"):
        read_scene(xml)


# --------------------------------------------------------------------------- EMIT L2A


def _emit_swath(lines=4, samples=3, bands=12):
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


def _write_emit(path: Path, swath: np.ndarray, *, location=True, glt_y=EMIT_GLT_Y) -> Path:
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


@pytest.mark.parametrize("block_values", [products.CHUNK_VALUES, 40])  # one block, and a few lines at a time
def test_emit_l2a_is_orthorectified_through_its_glt(tmp_path, monkeypatch, block_values):
    monkeypatch.setattr(products, "CHUNK_VALUES", block_values)
    swath = _emit_swath()
    swath[1, 2, 4] = -9999.0  # fill in one good band: that swath pixel (line 2, sample 3) becomes invalid
    path = _write_emit(tmp_path / "EMIT_L2A_RFL_001_20230801T180000_2321312_004.nc", swath)
    scene = read_scene(path)
    assert scene.cube.shape == (12, 5, 6)  # bands first, on the GLT's grid
    for row in range(5):
        for col in range(6):
            line, sample = EMIT_GLT_Y[row, col] - 1, EMIT_GLT_X[row, col] - 1
            if EMIT_GLT_X[row, col] == 0 or (line, sample) == (1, 2):
                assert not scene.valid[row, col] and np.all(scene.cube[:, row, col] == 0)
            else:
                assert scene.valid[row, col]
                np.testing.assert_array_equal(scene.cube[:, row, col], swath[line, sample, :])
    assert scene.cube[3, 3, 5] == 1000 * 3 + 100 * 2 + 3  # ortho cell (4, 6) shows line 4, sample 3, band 4
    assert scene.valid.sum() == 15  # 16 cells show a swath pixel, one of them the filled one
    np.testing.assert_allclose(scene.wavelengths, np.linspace(381.0, 2493.0, 12), rtol=1e-6)
    np.testing.assert_allclose(scene.fwhm, 8.5)
    assert scene.good_bands.tolist() == [b != 5 for b in range(12)]
    assert scene.transform == tuple(EMIT_GEOTRANSFORM) and "4326" in scene.crs_wkt
    assert scene.name == path.stem and scene.source == str(path)


def test_emit_l2a_opens_as_a_whole_from_every_subdataset_gdal_lists(tmp_path):
    path = _write_emit(tmp_path / "EMIT_L2A_RFL_001_20230801T180000_2321312_004.nc", _emit_swath())
    whole = read_scene(path)
    names = _subdatasets(path)
    assert f'NETCDF:"{path}":reflectance' in names and f'NETCDF:"{path}":/location/glt_x' in names
    for name in names + [f'HDF5:"{path}"://reflectance']:
        scene = read_scene(name)
        assert np.array_equal(scene.cube, whole.cube) and scene.transform == whole.transform
        assert scene.source == name and scene.name == path.stem


def test_emit_l2a_incomplete_or_damaged(tmp_path):
    path = _write_emit(tmp_path / "EMIT_L2A_RFL_001_20230801T180000_2321312_004.nc", _emit_swath(), location=False)
    with pytest.raises(SceneReadError, match=r"EMIT granule, but location/glt_x, location/glt_y are missing; download"):
        read_scene(path)
    glt_y = EMIT_GLT_Y.copy()
    glt_y[0, 1] = 9  # past the 4 swath lines
    path = _write_emit(tmp_path / "bad_glt.nc", _emit_swath(), glt_y=glt_y)
    with pytest.raises(SceneReadError, match=r"its GLT points past the 4 × 3 swath"):
        read_scene(path)
    path = _write_emit(tmp_path / "bands.nc", _emit_swath(bands=12))
    with h5py.File(path, "r+") as f:
        del f["sensor_band_parameters/wavelengths"]
        f["sensor_band_parameters/wavelengths"] = np.arange(400.0, 410.0)  # 10 wavelengths for 12 bands
    with pytest.raises(SceneReadError, match=r"reflectance is 4×3×12, but an EMIT cube is .* × 10 bands"):
        read_scene(path)
    data = _write_emit(tmp_path / "EMIT_L2A_RFL_cut.nc", _emit_swath(lines=40, samples=30)).read_bytes()
    (tmp_path / "EMIT_L2A_RFL_cut.nc").write_bytes(data[: len(data) * 2 // 3])  # a download that stopped
    with pytest.raises(SceneReadError, match=r"EMIT_L2A_RFL_cut.nc: it looks truncated or damaged"):
        read_scene(tmp_path / "EMIT_L2A_RFL_cut.nc")


# --------------------------------------------------------------------------- PRISMA L2D

PRISMA_CW = {"Vnir": [0.0, 0.0, 980.0, 900.0, 800.0, 700.0, 600.0, 500.0],  # long to short, 0 = band not there
             "Swir": [2400.0, 2200.0, 2000.0, 1600.0, 1200.0, 950.0, 0.0]}
PRISMA_SCALE = {"Vnir": (0.0, 2.0), "Swir": (-0.1, 1.5)}  # L2Scale*Min, L2Scale*Max


def _prisma_dn(detector: str, rows=4, cols=5):
    """uint16 (rows, bands, cols), distinct per row, band and column: 10000 r + 100 b + c + 1."""
    bands = len(PRISMA_CW[detector])
    r, b, c = np.meshgrid(np.arange(rows), np.arange(bands), np.arange(cols), indexing="ij")
    return (10000 * r + 100 * b + c + 1 + (50 if detector == "Swir" else 0)).astype(np.uint16)


def _write_prisma(path: Path, *, level="D", drop=(), cubes=None) -> Path:
    """A PRISMA L2 product in ASI's HDF-EOS5 layout."""
    cubes = cubes or {d: _prisma_dn(d) for d in PRISMA_CW}
    with h5py.File(path, "w") as f:
        fields = f.create_group(f"HDFEOS/SWATHS/PRS_L2{level}_HCO/Data Fields")
        for detector, dn in cubes.items():
            if f"{detector.upper()}_Cube" not in drop:
                fields.create_dataset(f"{detector.upper()}_Cube", data=dn)
        f.create_dataset(f"HDFEOS/SWATHS/PRS_L2{level}_HCO/Geolocation Fields/Latitude", data=np.zeros((4, 5)))
        attrs = {"Processing_Level": f"2{level}", "Epsg_Code": np.int32(32633),
                 "Product_ULcorner_easting": 366015.0, "Product_ULcorner_northing": 5809965.0}
        for suffix, cw in PRISMA_CW.items():
            attrs[f"List_Cw_{suffix}"] = np.array(cw, dtype=np.float32)
            attrs[f"List_Fwhm_{suffix}"] = np.array([w / 100 for w in cw], dtype=np.float32)
            attrs[f"L2Scale{suffix}Min"], attrs[f"L2Scale{suffix}Max"] = PRISMA_SCALE[suffix]
        for key, value in attrs.items():
            if key not in drop:
                f.attrs[key] = value
    return path


def test_prisma_l2d_merges_vnir_and_swir_by_wavelength_in_reflectance(tmp_path):
    cubes = {d: _prisma_dn(d) for d in PRISMA_CW}
    for dn in cubes.values():
        dn[3, :, 0] = 0  # outside the swath: every band 0 in both cubes
    path = _write_prisma(tmp_path / "PRS_L2D_STD_20200524103704_20200524103708_0001.he5", cubes=cubes)
    scene = read_scene(path)
    listed = [(w, d, i) for d, cw in PRISMA_CW.items() for i, w in enumerate(cw) if w > 0]
    listed.sort(key=lambda x: x[0])
    assert scene.cube.shape == (12, 4, 5)
    np.testing.assert_allclose(scene.wavelengths, [w for w, _, _ in listed])
    assert scene.wavelengths.tolist()[5:8] == [950.0, 980.0, 1200.0]  # SWIR 950 between VNIR 900 and 980
    np.testing.assert_allclose(scene.fwhm, scene.wavelengths / 100, rtol=1e-6)
    for k, (_, detector, i) in enumerate(listed):
        low, high = PRISMA_SCALE[detector]
        expected = low + cubes[detector][:, i, :].astype(np.float64) * (high - low) / 65535  # (rows, cols)
        expected[3, 0] = 0
        np.testing.assert_allclose(scene.cube[k], expected, rtol=1e-6, atol=1e-7)
    assert scene.cube[0, 2, 4] == pytest.approx(0.0 + (10000 * 2 + 100 * 7 + 4 + 1) * 2.0 / 65535, rel=1e-6)
    assert not scene.valid[3, 0] and scene.valid.sum() == 19 and scene.good_bands.all()
    assert scene.transform == (366000.0, 30.0, 0.0, 5809980.0, 0.0, -30.0)  # UL corner attributes: a pixel centre
    assert "32633" in scene.crs_wkt
    assert scene.name == path.stem and scene.source == str(path)
    assert scene.band_names[5] == "SWIR band 6 (950.0 nm)"
    for name in _subdatasets(path):  # HDF5:"…he5"://HDFEOS/SWATHS/PRS_L2D_HCO/Data_Fields/VNIR_Cube, …
        from_layer = read_scene(name)
        assert np.array_equal(from_layer.cube, scene.cube) and from_layer.source == name


def test_prisma_l2c_is_a_pixel_grid(tmp_path):
    scene = read_scene(_write_prisma(tmp_path / "PRS_L2C_STD_20200524103704_20200524103708_0001.he5", level="C",
                                     drop=("Epsg_Code",)))
    assert scene.cube.shape == (12, 4, 5) and scene.transform == PIXEL_GRID and not scene.georeferenced


def test_prisma_incomplete_or_damaged(tmp_path):
    path = _write_prisma(tmp_path / "a.he5", drop=("L2ScaleSwirMax", "SWIR_Cube"))
    with pytest.raises(SceneReadError, match=r"PRISMA L2D product, but Data Fields/SWIR_Cube, L2ScaleSwirMax are "
                                             r"missing from it; download the product again"):
        read_scene(path)
    path = _write_prisma(tmp_path / "b.he5", drop=("Product_ULcorner_northing",))
    with pytest.raises(SceneReadError, match=r"Product_ULcorner_northing is missing"):
        read_scene(path)
    cubes = {d: _prisma_dn(d) for d in PRISMA_CW}
    cubes["Swir"] = cubes["Swir"][:, :5]  # 5 bands for 7 listed wavelengths
    with pytest.raises(SceneReadError, match=r"List_Cw_Swir \(7\) and List_Fwhm_Swir \(7\) do not describe the 5"):
        read_scene(_write_prisma(tmp_path / "c.he5", cubes=cubes))
    cubes = {d: _prisma_dn(d) for d in PRISMA_CW}
    cubes["Swir"] = _prisma_dn("Swir", rows=3)
    with pytest.raises(SceneReadError, match=r"not \(rows, bands, cols\) on one grid"):
        read_scene(_write_prisma(tmp_path / "d.he5", cubes=cubes))


def test_other_hdf5_files_are_not_taken_for_products(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as f:  # a cube and band parameters, but neither EMIT nor PRISMA
        f.create_dataset("HDFEOS/SWATHS/PRS_L1_HCO/Data Fields/VNIR_Cube", data=np.ones((12, 4, 5), np.float32))
        f.create_dataset("cube", data=np.ones((12, 4, 5), np.float32))
        f.create_dataset("reflectance", data=np.ones((12, 4, 5), np.float32))  # EMIT's names, no EMIT granule
        f.create_dataset("sensor_band_parameters/wavelengths", data=np.arange(5.0))
    assert products.read_product(tmp_path / "other.h5", source="x") is None
    scene = read_scene(f'HDF5:"{tmp_path / "other.h5"}"://cube')
    assert scene.cube.shape == (12, 4, 5) and scene.name == "other cube"


def test_product_kind_names_each_product_from_any_of_its_files_without_reading_pixels(tmp_path):
    image = _write_enmap(tmp_path / "enmap", _enmap_dn())
    assert products.product_kind(image) == "EnMAP L2A"
    assert products.product_kind(image.with_name(f"{ENMAP_STEM}-METADATA.XML")) == "EnMAP L2A"
    emit = _write_emit(tmp_path / "EMIT_L2A_RFL_001.nc", _emit_swath())
    assert products.product_kind(emit) == "EMIT L2A reflectance"
    assert {products.product_kind(name) for name in _subdatasets(emit)} == {"EMIT L2A reflectance"}
    prisma = _write_prisma(tmp_path / "PRS_L2D_STD.he5")
    assert products.product_kind(prisma) == "PRISMA L2D"
    assert products.product_kind(_write_prisma(tmp_path / "PRS_L2C_STD.he5", level="C")) == "PRISMA L2C"
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("reflectance", data=np.zeros((2, 2, 12), dtype=np.float32))
    plain = tmp_path / "plain.tif"
    with rasterio.open(plain, "w", driver="GTiff", width=2, height=2, count=1, dtype="uint8",
                       transform=from_origin(0, 2, 1, 1), crs="EPSG:32633") as dst:
        dst.write(np.zeros((1, 2, 2), dtype=np.uint8))
    assert products.product_kind(other) is None and products.product_kind(plain) is None
    assert products.product_kind(tmp_path / "gone.he5") is None
