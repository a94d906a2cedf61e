"""RGB composites pick the bands nearest to the target wavelengths; class palettes use class colours; spectral plots
leave gaps at bad and missing bands and name their value axis from the file's metadata."""

from __future__ import annotations

import numpy as np
import pytest
from qgis.core import QgsMultiBandColorRenderer, QgsPalettedRasterRenderer, QgsRasterLayer

from hypersynth.core.io.pixel_values import PixelValues
from hypersynth.plugin.rendering import (
    NoWavelengthsError,
    apply_class_palette,
    apply_composite,
    blank_bad_bands,
    break_at_missing_bands,
    choose_composite,
    composite_rgb,
    fallback_bands,
    nearest_bands,
    read_bad_bands,
    read_band_wavelengths,
    read_pixel_values,
)

from .conftest import BAD_BAND, BANDS, WAVELENGTHS, write_scene


def test_reads_wavelengths_and_bad_bands_from_gdal_metadata(scene_path):
    np.testing.assert_allclose(read_band_wavelengths(str(scene_path)), WAVELENGTHS, atol=0.05)
    bad = read_bad_bands(str(scene_path))
    assert bad is not None and bad.sum() == 1 and bad[BAD_BAND - 1]


def test_micrometre_wavelengths_become_nanometres(tmp_path):
    from osgeo import gdal

    path = write_scene(tmp_path / "um.tif", wavelengths=False)
    ds = gdal.Open(str(path), gdal.GA_Update)
    for b in range(BANDS):
        ds.GetRasterBand(b + 1).SetMetadata({"wavelength": f"{WAVELENGTHS[b] / 1000:.4f}",
                                             "wavelength_units": "Micrometers"})
    ds = None
    np.testing.assert_allclose(read_band_wavelengths(str(path)), WAVELENGTHS, atol=0.1)


def _metadata(path, style: str) -> None:
    """Write the scene's wavelengths in one of the ways files carry them."""
    from osgeo import gdal

    ds = gdal.Open(str(path), gdal.GA_Update)
    if style == "envi header list":
        ds.SetMetadata({"wavelength": "{" + ", ".join(f"{w / 1000:.5f}" for w in WAVELENGTHS) + "}",
                        "wavelength_units": "Micrometers"}, "ENVI")
    for b in range(BANDS):
        band = ds.GetRasterBand(b + 1)
        if style == "imagery domain":  # GDAL 3.10's standard: CENTRAL_WAVELENGTH_UM, FWHM_UM
            band.SetMetadata({"CENTRAL_WAVELENGTH_UM": f"{WAVELENGTHS[b] / 1000:.5f}", "FWHM_UM": "0.01"}, "IMAGERY")
        elif style == "descriptions in µm (Greek mu)":
            band.SetDescription(f"Band {b + 1} ({WAVELENGTHS[b] / 1000:.5f} \u03bcm)")
        elif style == "descriptions in nm with an exponent":
            band.SetDescription(f"B{b + 1} ({WAVELENGTHS[b] / 100:.4f}e2 nm)")
    ds = None


@pytest.mark.parametrize("style", ["envi header list", "imagery domain", "descriptions in µm (Greek mu)",
                                   "descriptions in nm with an exponent"])
def test_the_map_and_the_engine_read_the_same_wavelengths(tmp_path, style):
    """Composites and spectral plots read a layer's wavelengths with the engine's reader. The plugin had its own,
    which missed wavelengths written with an exponent (and a NetCDF band coordinate), while the engine missed GDAL's
    IMAGERY domain: each failed one of these before they shared the reader."""
    from hypersynth.core.io.read import read_scene

    path = write_scene(tmp_path / "scene.tif", wavelengths=False)
    _metadata(path, style)
    shown = read_band_wavelengths(str(path))
    np.testing.assert_allclose(shown, WAVELENGTHS, atol=0.05)
    np.testing.assert_array_equal(shown, read_scene(path).wavelengths)
    if style == "imagery domain":
        np.testing.assert_allclose(read_scene(path).fwhm, 10.0)


def test_nearest_bands_for_known_wavelengths():
    wavelengths = [450, 470, 500, 550, 600, 640, 700, 860, 900]
    assert nearest_bands(wavelengths, (640, 550, 470)) == (6, 4, 2)
    assert nearest_bands(wavelengths, (860, 650, 550)) == (8, 6, 4)
    # a bad band is never chosen, the next nearest good one is
    assert nearest_bands(wavelengths, (640,), bad=[False] * 5 + [True] + [False] * 3) == (5,)
    with pytest.raises(NoWavelengthsError, match="no band wavelengths"):
        nearest_bands([], (640,))


def test_composites_on_the_test_scene(scene_layer):
    # wavelengths 420, 540, 660, 780, 900, ...: true colour 640/550/470 -> 660, 540, 420 (or 540 for 470)
    choice = apply_composite(scene_layer, "true colour")
    assert choice.bands == (3, 2, 1)
    renderer = scene_layer.renderer()
    assert isinstance(renderer, QgsMultiBandColorRenderer)
    assert (renderer.redBand(), renderer.greenBand(), renderer.blueBand()) == (3, 2, 1)
    assert renderer.redContrastEnhancement().maximumValue() > renderer.redContrastEnhancement().minimumValue()
    false = apply_composite(scene_layer, "false colour")
    assert false.bands == (5, 3, 2)  # 900 nm is nearest to 860, 660 to 650, 540 to 550
    swir = apply_composite(scene_layer, "swir")
    assert swir.bands[0] == int(np.abs(WAVELENGTHS - 1650).argmin()) + 1
    assert swir.note == ""


def test_scene_without_wavelengths_falls_back_with_a_note(tmp_path, qgis_new_project):
    path = write_scene(tmp_path / "nowl.tif", wavelengths=False)
    layer = QgsRasterLayer(str(path), "nowl")
    choice = apply_composite(layer, "true colour")
    assert choice.bands == fallback_bands(BANDS) == (14, 9, 4)
    assert choice.wavelengths is None and "No band wavelengths" in choice.note


def test_without_wavelengths_the_fallback_skips_the_bands_flagged_bad():
    bad = np.zeros(16, dtype=bool)
    bad[[8, 13, 14]] = True  # bands 9, 14 and 15
    assert fallback_bands(16, bad) == (13, 8, 4)  # 14 -> 13 (15 is bad too), 9 -> 8 (the lower on a tie)
    assert choose_composite(None, 16, "true colour", bad).bands == (13, 8, 4)
    assert fallback_bands(16, np.ones(16, dtype=bool)) == (14, 9, 4)  # all flagged: nothing better to pick


def test_far_targets_get_a_note():
    choice = choose_composite([1000.0, 1100.0, 1200.0, 1300.0], 4, "true colour")
    assert "more than 50 nm" in choice.note
    with pytest.raises(ValueError, match="unknown composite"):
        choose_composite(None, 4, "ultraviolet")


def test_class_palette(scene_layer, classes):
    apply_class_palette(scene_layer, classes)
    renderer = scene_layer.renderer()
    assert isinstance(renderer, QgsPalettedRasterRenderer)
    by_value = {c.value: c for c in renderer.classes()}
    assert by_value[2].label == "water" and by_value[2].color.getRgb()[:3] == (30, 90, 200)


def test_composite_rgb_thumbnails():
    rng = np.random.default_rng(0)
    patches = rng.random((3, BANDS, 5, 5)).astype(np.float32)
    rgb = composite_rgb(patches, WAVELENGTHS)
    assert rgb.shape == (3, 5, 5, 3) and rgb.dtype == np.uint8
    assert rgb.std() > 0


def test_composite_rgb_stretches_the_patches_together_so_they_compare():
    """One class's patch twice as bright as another's stays brighter (the attention dock shows one per class): a
    stretch of each patch on its own would draw both alike."""
    rng = np.random.default_rng(0)
    dim = rng.uniform(0.1, 0.2, (1, BANDS, 6, 6)).astype(np.float32)
    rgb = composite_rgb(np.concatenate([dim, 2 * dim]), WAVELENGTHS).astype(float)  # (2, 6, 6, 3)
    assert rgb[1].mean() > rgb[0].mean() + 100
    alone = composite_rgb(dim, WAVELENGTHS).astype(float)  # the dim patch alone spans the whole range
    assert alone.max() == 255 and alone.min() == 0


def test_bad_bands_become_gaps():
    values = [0.1, 0.2, 0.01, 0.3]
    np.testing.assert_array_equal(blank_bad_bands(values, [False, False, True, False]), [0.1, 0.2, np.nan, 0.3])
    np.testing.assert_array_equal(blank_bad_bands(values, None), values)
    np.testing.assert_array_equal(blank_bad_bands(values, [True, False]), values)  # flags of another band count


def test_missing_bands_break_the_line():
    """A synthesis model's spectra hold the usable bands only: 103 of 120, the absorption windows left out."""
    full = np.linspace(400, 2500, 120)
    usable = full[(full < 1350) | ((full > 1460) & (full < 1790)) | (full > 1960)]
    y = np.linspace(0, 1, len(usable))
    x, (broken,) = break_at_missing_bands(usable, y)
    assert len(x) == len(usable) + 2
    gaps = np.flatnonzero(np.isnan(broken))
    assert [round(v) for v in x[gaps]] == [round((usable[gaps[0] - 1] + usable[gaps[0]]) / 2),
                                           round((usable[gaps[1] - 2] + usable[gaps[1] - 1]) / 2)]
    np.testing.assert_array_equal(broken[np.isfinite(broken)], y)
    assert 1340 < x[gaps[0]] < 1470 and 1780 < x[gaps[1]] < 1970
    # a regular grid, band numbers, and the uneven sampling of a real sensor (VNIR 6.5 nm, SWIR 10 nm) stay whole
    assert len(break_at_missing_bands(full, full)[0]) == 120
    assert len(break_at_missing_bands(np.arange(1, 50), np.ones(49))[0]) == 49
    sensor = np.r_[np.arange(420, 1000, 6.5), np.arange(1000, 2450, 10.0)]
    assert len(break_at_missing_bands(sensor, sensor)[0]) == len(sensor)
    one_missing = np.delete(full, 30)  # a single band left out doubles the step: a gap too
    assert len(break_at_missing_bands(one_missing, one_missing)[0]) == 120


def test_a_second_detector_is_its_own_line():
    """EnMAP's file lists its VNIR bands to 993 nm, then its SWIR bands from 902 nm: each is drawn as its own line
    (before, wavelengths that did not increase were drawn as given: a scribble over 902–993 nm, and straight across
    the SWIR's absorption windows)."""
    vnir, swir = np.arange(418.0, 994, 6.5), np.r_[np.arange(902.0, 1320, 10), np.arange(1390.0, 1761, 10),
                                                     np.arange(1939.0, 2447, 10)]
    x = np.r_[vnir, swir]
    xs, (broken,) = break_at_missing_bands(x, x)
    gaps = np.flatnonzero(np.isnan(broken))
    assert len(gaps) == 3 and gaps[0] == len(vnir)  # after 993 nm, before 1390 nm, before 1939 nm
    assert broken[gaps[0] - 1] == vnir[-1] and broken[gaps[0] + 1] == 902.0
    assert broken[gaps[1] - 1] < 1320 < 1390 <= broken[gaps[1] + 1] and broken[gaps[2] + 1] == 1939.0
    np.testing.assert_array_equal(broken[np.isfinite(broken)], x)


def test_value_axis_titles():
    assert PixelValues().axis_title() == "Pixel value"
    assert PixelValues(scale=0.0001).axis_title() == "Pixel value (scale 0.0001 applied)"
    assert PixelValues(scale=2.0, offset=-1.0).axis_title() == "Pixel value (scale 2, offset -1 applied)"
    assert PixelValues(units="DN").axis_title() == "Pixel value (DN)"
    assert PixelValues("Reflectance", scale=0.0001).axis_title() == "Reflectance"
    assert PixelValues("Reflectance", reflectance_factor=10000.0).axis_title() == "Reflectance × 10000"
    assert PixelValues("Radiance", "W/(m2 sr um)").axis_title() == "Radiance (W/(m2 sr um))"
    assert PixelValues("Radiance", "W/(m2 sr um)").axis_title(short=True) == "Radiance"
    assert PixelValues(scale=0.0001).axis_title(short=True) == "Pixel value"
    assert PixelValues("Reflectance", reflectance_factor=10000.0).axis_title(short=True) == "Reflectance × 10000"


def _tagged_scene(tmp_path, name: str, unit: str = "", tags: dict | None = None) -> str:
    from osgeo import gdal

    path = write_scene(tmp_path / f"{name}.tif")
    ds = gdal.Open(str(path), gdal.GA_Update)
    for b in range(BANDS):
        ds.GetRasterBand(b + 1).SetUnitType(unit)
    for key, value in (tags or {}).items():
        ds.SetMetadataItem(key, value)
    ds = None
    return str(path)


def test_what_a_files_values_are(tmp_path):
    from osgeo import gdal

    from hypersynth.core.io.convert import PRODUCT_TAG

    assert read_pixel_values(_tagged_scene(tmp_path, "plain")).axis_title() == "Pixel value (scale 0.0001 applied)"
    assert read_pixel_values(_tagged_scene(tmp_path, "unit", "Reflectance")).axis_title() == "Reflectance"
    radiance = read_pixel_values(_tagged_scene(tmp_path, "radiance", "uW cm-2 sr-1 nm-1"))
    assert radiance.axis_title() == "Radiance (uW cm-2 sr-1 nm-1)"
    assert read_pixel_values(_tagged_scene(tmp_path, "units", tags={"data_units": "DN"})).axis_title() == \
        "Pixel value (DN)"
    for product, quantity in (("ENMAP01-____L2A-DT0000001867_20220724T104526Z_008_V010302_20230628T165614Z",
                               "Reflectance"), ("EMIT_L2A_RFL_001_20230801T180000_2321312_004", "Reflectance"),
                              ("EMIT_L1B_RAD_001_20230801T180000_2321312_004", "Radiance"),
                              ("PRS_L2D_STD_20200524103704_20200524103708_0001", "Reflectance")):
        imported = _tagged_scene(tmp_path, product[:8], tags={PRODUCT_TAG: product})
        assert read_pixel_values(imported).quantity == quantity, product
    envi = gdal.GetDriverByName("ENVI").Create(str(tmp_path / "envi.img"), 4, 3, 2, gdal.GDT_Int16)
    envi.SetMetadataItem("reflectance scale factor", "10000", "ENVI")  # ENVI's integer reflectance: QGIS shows it so
    envi = None
    assert read_pixel_values(str(tmp_path / "envi.img")).axis_title() == "Reflectance × 10000"
    # the engine's values (reflectance) shown in QGIS's (the stored integers); GDAL's scale applies to both alike
    assert np.allclose(read_pixel_values(str(tmp_path / "envi.img")).from_engine([0.25, 0.5]), [2500.0, 5000.0])
    assert np.allclose(PixelValues("Reflectance", scale=0.0001).from_engine([0.25]), [0.25])
    titled = gdal.GetDriverByName("ENVI").Create(str(tmp_path / "titled.img"), 4, 3, 2, gdal.GDT_Float32)
    titled.SetMetadataItem("z plot titles", "{Wavelength [nm], Reflectance}", "ENVI")
    titled = None
    assert read_pixel_values(str(tmp_path / "titled.img")).axis_title() == "Reflectance"
    assert read_pixel_values(str(tmp_path / "missing.tif")) == PixelValues()
