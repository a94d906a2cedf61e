"""What a raster's values are, read from its metadata: the engine's value axis (the report's spectra) and QGIS's
(the plugin's spectral plots) come from one reading, and differ only where the engine applies a factor QGIS does not."""

from __future__ import annotations

import numpy as np
from osgeo import gdal

from hypersynth.core.io.convert import PRODUCT_TAG
from hypersynth.core.io.pixel_values import VALUE_AS_READ, PixelValues, read_pixel_values
from hypersynth.core.report import value_label


def _raster(path, unit: str = "", tags: dict | None = None, envi: dict | None = None, scale: float = 1.0) -> str:
    """A 3-band raster with the given first-band unit type, dataset items and ENVI header items."""
    driver = "ENVI" if envi is not None else "GTiff"
    ds = gdal.GetDriverByName(driver).Create(str(path), 4, 3, 3, gdal.GDT_Int16)
    for b in range(3):
        band = ds.GetRasterBand(b + 1)
        band.WriteArray(np.full((3, 4), 100 * (b + 1), np.int16))
        band.SetUnitType(unit)
        if scale != 1.0:
            band.SetScale(scale)
    for key, value in (tags or {}).items():
        ds.SetMetadataItem(key, value)
    for key, value in (envi or {}).items():
        ds.SetMetadataItem(key, value, "ENVI")
    ds = None
    return str(path)


def test_the_engine_and_qgis_name_the_values_alike(tmp_path):
    reflectance = read_pixel_values(_raster(tmp_path / "r.tif", "Reflectance", scale=0.0001))
    assert reflectance.axis_title() == reflectance.engine_title() == "Reflectance"
    radiance = read_pixel_values(_raster(tmp_path / "rad.tif", "uW cm-2 sr-1 nm-1"))
    assert radiance.axis_title() == radiance.engine_title() == "Radiance (uW cm-2 sr-1 nm-1)"
    dn = read_pixel_values(_raster(tmp_path / "dn.tif", tags={"data_units": "DN"}))
    assert dn.axis_title() == dn.engine_title() == "Pixel value (DN)"
    plain = read_pixel_values(_raster(tmp_path / "plain.tif", scale=0.0001))
    # QGIS shows the scale applied, and the engine applies it too: the report names the values as the plots do
    assert plain.axis_title() == plain.engine_title() == "Pixel value (scale 0.0001 applied)"
    assert read_pixel_values(_raster(tmp_path / "bare.tif")).engine_title() == VALUE_AS_READ == "Pixel value"


def test_envi_integer_reflectance_is_reflectance_to_the_engine_and_scaled_in_qgis(tmp_path):
    values = read_pixel_values(_raster(tmp_path / "envi.img", envi={"reflectance scale factor": "10000"}))
    assert values.quantity == "Reflectance" and values.reflectance_factor == 10000.0
    assert values.axis_title() == "Reflectance × 10000"  # QGIS shows the stored integers
    assert values.engine_title() == "Reflectance"  # the engine divides by the factor as it reads
    assert np.allclose(values.from_engine([0.25, 0.5]), [2500.0, 5000.0])
    titles = {"z plot titles": "{Wavelength [nm], Reflectance}"}  # ENVI's plot titles name the quantity
    titled = read_pixel_values(_raster(tmp_path / "titled.img", envi=titles))
    assert titled.quantity == "Reflectance" and titled.reflectance_factor is None


def test_imported_products_are_named_by_their_product(tmp_path):
    for product, quantity in (("ENMAP01-____L2A-DT0000001867_20220724T104526Z_008_V010302_20230628T165614Z",
                               "Reflectance"), ("EMIT_L1B_RAD_001_20230801T180000_2321312_004", "Radiance"),
                              ("PRS_L2B_STD_20200524103704_20200524103708_0001", "Radiance")):
        values = read_pixel_values(_raster(tmp_path / f"{product[:8]}.tif", tags={PRODUCT_TAG: product}))
        assert values.quantity == quantity, product
        assert value_label(tmp_path / f"{product[:8]}.tif") == quantity


def test_a_product_read_from_its_own_files_is_named_by_its_name_in_the_report_only(tmp_path):
    """The engine applies a product's scaling as it reads it; QGIS shows the file's stored values."""
    direct = _raster(tmp_path / "PRS_L2D_STD_20200524103704_20200524103708_0001.tif")  # no tag, no unit
    assert value_label(direct) == "Reflectance"
    assert read_pixel_values(direct).quantity is None  # the plugin's plots: the stored values, not reflectance
    assert value_label(_raster(tmp_path / "plain.tif")) == VALUE_AS_READ


def test_a_file_gdal_cannot_read_says_nothing(tmp_path):
    (tmp_path / "scene.mat").write_bytes(b"MATLAB 5.0 MAT-file")
    for source in (None, "", tmp_path / "missing.tif", tmp_path / "scene.mat"):
        assert read_pixel_values(source) == PixelValues()
        assert value_label(source) == VALUE_AS_READ
