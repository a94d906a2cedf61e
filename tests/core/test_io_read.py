"""read_scene on GeoTIFF, ENVI and MATLAB files made in the test, and on real EnMAP / Jasper Ridge data."""

import logging
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import rasterio
import scipy.io
from rasterio.transform import from_origin

from hypersynth.core.io.read import (SceneReadError, find_cube_key, find_label_key, read_mat_arrays, read_scene,
                                    read_scene_layout)
from hypersynth.core.pixel_mask import PixelMask
from hypersynth.core.scene import PIXEL_GRID

UTM33N = "EPSG:32633"
DATA = Path(os.environ.get("HYPERSYNTH_DATA_DIR", "/nonexistent"))



def _spectra(bands: int, rows: int, cols: int) -> np.ndarray:
    """A ``(bands, rows, cols)`` float32 cube of one rising spectrum: not flat, which reads as a fill (no data)."""
    return np.broadcast_to(np.linspace(0.1, 0.9, bands, dtype=np.float32)[:, None, None], (bands, rows, cols)).copy()

def _write_tif(path, raw, *, nodata=None, scales=None, offsets=None, band_tags=None, descriptions=None,
               transform=from_origin(366000, 5810000, 30, 30), crs=UTM33N, **layout):
    """``raw`` (B, H, W) as a GeoTIFF; ``layout``: more creation options (e.g. ``blockysize``)."""
    bands, rows, cols = raw.shape
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=bands, dtype=raw.dtype,
                       nodata=nodata, transform=transform, crs=crs, **layout) as dst:
        dst.write(raw)
        if scales is not None:
            dst.scales = scales
        if offsets is not None:
            dst.offsets = offsets
        for b in range(bands):
            if band_tags is not None:
                dst.update_tags(b + 1, **band_tags[b])
            if descriptions is not None:
                dst.set_band_description(b + 1, descriptions[b])
    return path


def test_geotiff_scale_nodata_wavelengths_in_micrometres(tmp_path):
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 10000, size=(12, 6, 5)).astype(np.int16)  # (B, H, W)
    raw[3, 2, 1] = -32768  # nodata in one good band -> pixel invalid
    raw[7] = -32768  # nodata everywhere -> bad band
    wl_um = np.linspace(0.4, 2.5, 12)
    tags = [{"wavelength": f"{w:.4f}", "wavelength_units": "Micrometers", "fwhm": "0.01"} for w in wl_um]
    path = _write_tif(tmp_path / "s.tif", raw, nodata=-32768, scales=[1e-4] * 12, offsets=[0.1] * 12,
                      band_tags=tags)
    scene = read_scene(path)
    assert scene.cube.dtype == np.float32 and scene.cube.shape == (12, 6, 5)
    np.testing.assert_allclose(scene.wavelengths, np.round(wl_um, 4) * 1000, rtol=1e-9)
    np.testing.assert_allclose(scene.fwhm, 10.0)
    assert scene.good_bands.tolist() == [b != 7 for b in range(12)]
    assert not scene.valid[2, 1] and scene.valid.sum() == 29
    assert np.all(scene.cube[:, 2, 1] == 0) and np.all(scene.cube[7] == 0)
    np.testing.assert_allclose(scene.cube[0, 0, 0], raw[0, 0, 0] * 1e-4 + 0.1, rtol=1e-6)
    assert scene.transform == (366000.0, 30.0, 0.0, 5810000.0, 0.0, -30.0)
    assert "32633" in scene.crs_wkt and scene.georeferenced
    assert scene.name == "s" and scene.source == str(path)


def test_a_tiled_compressed_scene_is_read_a_window_of_whole_blocks_at_a_time(tmp_path, monkeypatch):
    """Each window is whole blocks read through a dataset of its own: GDAL's cache holds at most a window's decoded
    blocks and is empty again after it (it held up to GDAL_CACHEMAX, 5 % of RAM, of a full-size scene's tiles on top
    of the cube), and the cube is the file's, nodata included, also where a window is less than the full rows."""
    from osgeo import gdal

    from hypersynth.core.io import read

    bands, side, tile = 12, 64, 16
    values = np.random.default_rng(2).uniform(0.0, 1.0, (bands, side, side)).astype(np.float32)
    values[:, 5, 7] = -9999.0
    ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "tiled.tif"), side, side, bands, gdal.GDT_Float32,
                                              ["TILED=YES", f"BLOCKXSIZE={tile}", f"BLOCKYSIZE={tile}",
                                               "COMPRESS=DEFLATE"])
    for b in range(bands):
        ds.GetRasterBand(b + 1).SetNoDataValue(-9999.0)
        ds.GetRasterBand(b + 1).WriteArray(values[b])
    ds = None
    monkeypatch.setattr(read, "CHUNK_VALUES", bands * tile * 2 * tile)  # two blocks a window: rows split in two
    held = []  # GDAL's cache as each dataset reading the scene closes
    real_open = rasterio.open

    class Closing:
        def __init__(self, dataset):
            self.dataset = dataset

        def __getattr__(self, name):
            return getattr(self.dataset, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            held.append(gdal.GetCacheUsed())
            return self.dataset.__exit__(*exc)

    monkeypatch.setattr(rasterio, "open", lambda *args, **kwargs: Closing(real_open(*args, **kwargs)))
    before = gdal.GetCacheUsed()
    scene = read_scene(tmp_path / "tiled.tif")
    assert len(held) == 1 + (side // tile) * (side // (2 * tile))  # the metadata's, then one per window
    assert max(held) - before < 2 * bands * tile * 2 * tile * 4  # one window's decoded blocks (and their books)
    assert gdal.GetCacheUsed() == before
    expected = values.copy()
    expected[:, 5, 7] = 0.0
    np.testing.assert_array_equal(scene.cube, expected)
    assert not scene.valid[5, 7] and scene.valid.sum() == side * side - 1


def test_nan_and_inf_are_nodata(tmp_path):
    raw = _spectra(10, 4, 4)
    raw[2, 0, 0] = np.nan
    raw[5, 3, 3] = np.inf
    scene = read_scene(_write_tif(tmp_path / "f.tif", raw))
    assert scene.valid.sum() == 14 and not scene.valid[0, 0] and not scene.valid[3, 3]
    assert np.isfinite(scene.cube).all()


def test_a_fill_the_file_does_not_declare_is_no_data_and_said(tmp_path, caplog):
    """Two reviews: a swath's 0 background and a mosaic's undeclared −9999 were classified as land; an EnMAP tile's
    defective pixel holds 0 in its bands with data and the no-data value in the others. A spectrum is never flat."""
    raw = np.random.default_rng(0).random((12, 6, 5)).astype(np.float32) + 0.01
    raw[:, 0, :] = 0.0  # a swath's background row, no no-data declared
    raw[:, 5, :2] = -9999.0  # a mosaic's fill
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        scene = read_scene(_write_tif(tmp_path / "fill.tif", raw))
    assert not scene.valid[0].any() and not scene.valid[5, :2].any() and scene.valid.sum() == 30 - 7
    assert "fill.tif: 7 pixels hold -9999 or 0 in every band, a fill the file does not declare as no data" in \
        caplog.text and "gdal_edit.py -a_nodata" in caplog.text
    layout = read_scene_layout(tmp_path / "fill.tif")  # the windowed reading of a large scene agrees
    assert np.array_equal(np.asarray(layout.valid), scene.valid)
    tile = np.random.default_rng(1).random((12, 3, 3)).astype(np.float32) + 0.01
    tile[-2:] = -32768.0  # bands an EnMAP tile leaves empty: its declared no-data
    tile[:-2, 1, 1] = 0.0  # its defective pixel: 0 wherever the tile has data
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        enmap = read_scene(_write_tif(tmp_path / "tile.tif", tile, nodata=-32768.0))
    assert enmap.valid.sum() == 8 and not enmap.valid[1, 1] and "1 pixel holds 0 in every band" in caplog.text
    cube = _spectra(12, 4, 4)
    cube[:, 0, 0] = 0.0
    cube[3:5, 2, 2] = 0.25  # two bands alike: still a spectrum
    scipy.io.savemat(tmp_path / "fill.mat", {"cube": cube.transpose(1, 2, 0)})
    mat = read_scene(tmp_path / "fill.mat")  # a MATLAB cube, which has no no-data value to declare
    assert not mat.valid[0, 0] and mat.valid.sum() == 15
    few = _spectra(5, 2, 2)
    few[:, 0, 0] = 0.0  # fewer bands than a hyperspectral cube has: not judged (and refused anyway)
    with pytest.raises(SceneReadError, match="5 bands"):
        read_scene(_write_tif(tmp_path / "few.tif", few))


def test_wavelengths_from_the_envi_domain_of_a_geotiff(tmp_path):
    raw = _spectra(10, 3, 3)
    path = _write_tif(tmp_path / "envi.tif", raw)
    with rasterio.open(path, "r+") as ds:  # dataset level, as EnMAP-Box and ENVI write GeoTIFFs
        ds.update_tags(ns="ENVI", **{"wavelength": "{" + ", ".join(f"{0.5 + 0.1 * b:.1f}" for b in range(10)) + "}",
                                     "wavelength units": "Micrometers", "fwhm": "{" + ", ".join(["0.02"] * 10) + "}",
                                     "bbl": "{" + ", ".join(["1"] * 9 + ["0"]) + "}"})
    scene = read_scene(path)
    np.testing.assert_allclose(scene.wavelengths, [500 + 100 * b for b in range(10)])
    np.testing.assert_allclose(scene.fwhm, 20.0)
    assert scene.good_bands.tolist() == [True] * 9 + [False]
    path = _write_tif(tmp_path / "band_envi.tif", raw)
    with rasterio.open(path, "r+") as ds:  # band level ENVI domain, wavelengths in nm without a unit
        for b in range(10):
            ds.update_tags(b + 1, ns="ENVI", wavelength=str(700 + b))
    np.testing.assert_allclose(read_scene(path).wavelengths, np.arange(700, 710))


def test_wavelengths_from_band_descriptions(tmp_path):
    raw = _spectra(10, 3, 3)
    names = [f"band {b + 1} ({0.4 + 0.1 * b:.1f} µm)" for b in range(10)]
    scene = read_scene(_write_tif(tmp_path / "d.tif", raw, descriptions=names))
    np.testing.assert_allclose(scene.wavelengths, [400 + 100 * b for b in range(10)])
    assert scene.band_names[0] == "band 1 (0.4 µm)"


@pytest.mark.parametrize("written", ["-3.4e+38", "-3.40282347e+38"])
def test_a_float_fill_value_written_in_the_header_at_double_precision_is_no_data(tmp_path, written):
    """ENVI's float32 fill of -3.4e+38 never equalled the header's value read as a double: the fill pixels were
    valid data at -3.4e38, learnt from and classified (code review)."""
    from hypersynth.core.io.read import read_scene_layout
    from hypersynth.core.io.windows import raster_window_reader

    cube = np.random.default_rng(0).random((12, 4, 5)).astype("<f4")
    cube[:, 0, 0] = np.float32(float(written))
    cube.tofile(tmp_path / "fill.img")
    (tmp_path / "fill.hdr").write_text("ENVI\nsamples = 5\nlines = 4\nbands = 12\nheader offset = 0\ndata type = 4\n"
                                       f"interleave = bsq\nbyte order = 0\ndata ignore value = {written}\n")
    scene = read_scene(tmp_path / "fill.hdr")
    assert not scene.valid[0, 0] and scene.valid.sum() == 19
    assert not read_scene_layout(tmp_path / "fill.hdr").valid[0, 0]
    window = raster_window_reader(tmp_path / "fill.hdr")(0, 2, 0, 2)
    assert np.isnan(window[:, 0, 0]).all() and np.isfinite(window[:, 1, 1]).all()


def _write_envi(folder: Path, stem: str, header_name: str, data_suffix: str):
    rng = np.random.default_rng(1)
    bands, rows, cols = 11, 4, 6
    raw = rng.integers(-100, 5000, size=(rows, bands, cols)).astype("<i2")  # BIL: (lines, bands, samples)
    raw[1, :, 2] = -1  # data ignore value in every band
    raw.tofile(folder / f"{stem}{data_suffix}")
    wl = ", ".join(f"{0.4 + 0.2 * b:.3f}" for b in range(bands))
    (folder / header_name).write_text(
        "ENVI\ndescription = {test cube}\n"
        f"samples = {cols}\nlines = {rows}\nbands = {bands}\nheader offset = 0\nfile type = ENVI Standard\n"
        "data type = 2\ninterleave = bil\nbyte order = 0\ndata ignore value = -1\n"
        "reflectance scale factor = 10000\nwavelength units = Micrometers\n"
        f"wavelength = {{{wl}}}\nfwhm = {{{', '.join(['0.010'] * bands)}}}\n"
        f"bbl = {{{', '.join(['1'] * (bands - 1) + ['0'])}}}\n")
    return raw


def _envi_header(folder: Path, stem: str, wavelengths: str, units: str, extra: str = "") -> Path:
    """A 12-band float32 BSQ ENVI pair of 3 × 4 rising spectra with the header lines given."""
    bands = 12
    _spectra(bands, 3, 4).tofile(folder / f"{stem}.img")
    (folder / f"{stem}.hdr").write_text(
        f"ENVI\nsamples = 4\nlines = 3\nbands = {bands}\nheader offset = 0\nfile type = ENVI Standard\n"
        f"data type = 4\ninterleave = bsq\nbyte order = 0\nwavelength units = {units}\n"
        f"wavelength = {{{wavelengths}}}\n{extra}")
    return folder / f"{stem}.img"


def test_an_hdf5_cube_is_read_with_the_wavelengths_beside_it_and_bands_last_is_refused(tmp_path):
    """Review: an HDF5 cube stored (rows, cols, bands) was read as 60 'bands' of 80 × 40 pixels, and the wavelength
    vector beside a bands-first one was not read."""
    wavelengths = np.linspace(400, 2400, 12)
    with h5py.File(tmp_path / "first.h5", "w") as f:
        f.create_dataset("data/cube", data=_spectra(12, 5, 7))
        f.create_dataset("data/wavelength", data=wavelengths)
    scene = read_scene(f'HDF5:"{tmp_path / "first.h5"}"://data/cube')
    assert scene.cube.shape == (12, 5, 7)
    np.testing.assert_allclose(scene.wavelengths, wavelengths)
    with h5py.File(tmp_path / "last.h5", "w") as f:
        f.create_dataset("data/cube", data=_spectra(12, 5, 7).transpose(1, 2, 0))
        f.create_dataset("data/wavelength", data=wavelengths)
    with pytest.raises(SceneReadError, match=r"last.h5:cube: its wavelengths \(wavelength, 12 values\) run along its "
                                             r"last axis, .*cube.transpose\(2, 0, 1\)"):
        read_scene(f'HDF5:"{tmp_path / "last.h5"}"://data/cube')


def test_header_units_and_lists_that_cannot_be_meant_are_said(tmp_path, caplog):
    """Review: ENVI's 'Index' (band numbers) read as 1–12 nm, 'Wavenumber' as nm, nm values said to be µm read as
    400,000 nm, and a bad-band or wavelength list one short ignored, all without a word."""
    nm = [400 + 150 * b for b in range(12)]
    listed = ", ".join(str(v) for v in nm)
    with caplog.at_level(logging.INFO, logger="hypersynth"):
        assert read_scene(_envi_header(tmp_path, "index", ", ".join(str(b + 1) for b in range(12)),
                                       "Index")).wavelengths is None
        numbers = read_scene(_envi_header(tmp_path, "numbers", ", ".join(str(b + 1) for b in range(12)), "Unknown"))
        wavenumber = read_scene(_envi_header(tmp_path, "wavenumber", ", ".join(f"{1e7 / v:.4f}" for v in nm),
                                             "Wavenumber"))
        mislabelled = read_scene(_envi_header(tmp_path, "mislabelled", listed, "Micrometers"))
        nonsense = read_scene(_envi_header(tmp_path, "nonsense", ", ".join(str(v * 1e5) for v in nm), "Nanometers"))
        short = read_scene(_envi_header(tmp_path, "short", listed, "Nanometers",
                                        f"bbl = {{{', '.join(['1'] * 10 + ['0'])}}}\n"))
        too_few = read_scene(_envi_header(tmp_path, "few", ", ".join(str(v) for v in nm[:11]), "Nanometers"))
    assert numbers.wavelengths is None and "index.img: its band 'wavelengths' are band numbers (Index)" in caplog.text
    np.testing.assert_allclose(wavenumber.wavelengths, nm, rtol=1e-6)
    np.testing.assert_allclose(mislabelled.wavelengths, nm)
    assert ("mislabelled.img: its wavelengths 400–2050 are said to be in Micrometers, which gives 400000–2.05e+06 "
            "nm; read as nm instead") in caplog.text
    assert nonsense.wavelengths is None and "nonsense.img: its wavelengths in Nanometers give 4e+07–2.05e+08 nm" in \
        caplog.text
    assert short.good_bands.all() and ("short.img: its header lists 11 bad-band flags (bbl) for its 12 bands: none is "
                                       "taken, so its 1 flagged bad are used too") in caplog.text
    assert too_few.wavelengths is None and "few.img: its header lists 11 wavelengths for its 12 bands" in caplog.text


@pytest.mark.parametrize("header_name, data_suffix, open_name", [
    ("cube.hdr", ".img", "cube.hdr"),  # the user picks the header
    ("cube.hdr", ".img", "cube.img"),  # ... or the data file
    ("cube.dat.hdr", ".dat", "cube.dat.hdr"),  # header named after the data file
    ("cube.hdr", ".bsq", "cube.hdr"),
])
def test_envi_pair_either_file(tmp_path, header_name, data_suffix, open_name):
    raw = _write_envi(tmp_path, "cube", header_name, data_suffix)
    scene = read_scene(tmp_path / open_name)
    assert scene.cube.shape == (11, 4, 6)
    expected = np.transpose(raw, (1, 0, 2)).astype(np.float32) / 10000  # (B, H, W), reflectance 0..1
    expected[:, 1, 2] = 0
    np.testing.assert_allclose(scene.cube, expected, rtol=1e-6)
    np.testing.assert_allclose(scene.wavelengths, [400 + 200 * b for b in range(11)])
    np.testing.assert_allclose(scene.fwhm, 10.0)
    assert scene.good_bands.tolist() == [True] * 10 + [False]  # ENVI bad band list
    assert not scene.valid[1, 2] and scene.valid.sum() == 23
    assert scene.transform == PIXEL_GRID and scene.crs_wkt is None
    layout = read_scene_layout(tmp_path / open_name)  # what classify streams: the same layout, from either file
    assert np.array_equal(layout.valid, scene.valid) and np.array_equal(layout.good_bands, scene.good_bands)
    assert layout.source == scene.source and layout.name == scene.name
    from hypersynth.core.io.windows import raster_window_reader

    streamed = raster_window_reader(layout.source, np.flatnonzero(layout.good_bands) + 1)(0, 4, 0, 6)
    assert np.array_equal(streamed[:, scene.valid], scene.cube[scene.good_bands][:, scene.valid])
    whole = raster_window_reader(tmp_path / open_name)(0, 4, 0, 6)  # the name given, a .hdr too (the band screen's)
    assert np.array_equal(whole[:, scene.valid], scene.cube[:, scene.valid])


def test_a_run_and_a_saved_classifier_take_an_envi_header(tmp_path):
    """The header is the file an analyst picks: a forest run and its saved classifier refused it (GDAL's "the data
    file should be selected instead of the .hdr file"), where augment-classify took it."""
    from hypersynth.core.io.write import write_label_raster
    from hypersynth.core.pipeline import classify_scene, classify_with_model
    from hypersynth.core.scene import ClassInfo

    _write_envi(tmp_path, "cube", "cube.hdr", ".img")
    labels = np.zeros((4, 6), np.int32)
    labels[0, :2], labels[3, 4:] = 1, 2
    write_label_raster(tmp_path / "labels.tif", labels, [ClassInfo(1, "a"), ClassInfo(2, "b")], transform=PIXEL_GRID,
                       crs_wkt=None)
    run = classify_scene(tmp_path / "cube.hdr", tmp_path / "labels.tif", tmp_path / "run", method="rf")
    again = classify_with_model(run.classifier, tmp_path / "cube.hdr", tmp_path / "again")
    for outputs in (run, again):
        with rasterio.open(outputs.class_map) as src:
            mapped = src.read(1)
        assert mapped[1, 2] == 0 and set(np.unique(mapped[mapped > 0])) <= {1, 2}  # no data left unclassified


def test_envi_header_without_data_file(tmp_path):
    _write_envi(tmp_path, "cube", "cube.hdr", ".img")
    (tmp_path / "cube.img").rename(tmp_path / "elsewhere.bin")
    with pytest.raises(SceneReadError, match="no data file beside it"):
        read_scene(tmp_path / "cube.hdr")


def _mat_cube():
    rng = np.random.default_rng(2)
    cube = rng.random((7, 5, 12))  # MATLAB order (rows, cols, bands)
    gt = rng.integers(0, 4, size=(7, 5)).astype(np.uint8)
    return cube, gt


def test_mat_v5_orientation_and_keys(tmp_path):
    cube, gt = _mat_cube()
    cube[3, 4, 0] = np.nan
    scipy.io.savemat(tmp_path / "s.mat", {"small": np.ones((2, 2, 2)), "cube": cube, "scene_gt": gt,
                                          "wavelength": np.linspace(0.4, 2.5, 12)})
    scene = read_scene(tmp_path / "s.mat")
    assert scene.cube.shape == (12, 7, 5)
    assert scene.cube[5, 2, 3] == np.float32(cube[2, 3, 5])  # (B, H, W) from MATLAB (H, W, B)
    assert not scene.valid[3, 4] and scene.valid.sum() == 34
    np.testing.assert_allclose(scene.wavelengths, np.linspace(400, 2500, 12))
    assert scene.transform == PIXEL_GRID and not scene.georeferenced
    arrays = read_mat_arrays(tmp_path / "s.mat")
    assert find_cube_key(arrays) == "cube"
    assert find_label_key(arrays, (7, 5)) == "scene_gt"
    assert read_scene(tmp_path / "s.mat", cube_key="cube").cube.shape == (12, 7, 5)


def test_a_mat_cube_saved_bands_first_is_read_by_its_wavelengths_or_warned_of(tmp_path, caplog):
    """A cube saved from Python as bands × rows × cols was read transposed without a word, its wavelength vector
    dropped as not matching (code review)."""
    cube, _ = _mat_cube()  # (7, 5, 12): rows × cols × bands
    scipy.io.savemat(tmp_path / "b.mat", {"cube": cube.transpose(2, 0, 1), "wavelength": np.linspace(0.4, 2.5, 12)})
    scene = read_scene(tmp_path / "b.mat")
    assert scene.cube.shape == (12, 7, 5) and scene.cube[5, 2, 3] == np.float32(cube[2, 3, 5])
    np.testing.assert_allclose(scene.wavelengths, np.linspace(400, 2500, 12))
    square = np.random.default_rng(0).random((12, 12, 20)).astype(np.float32)
    scipy.io.savemat(tmp_path / "sq.mat", {"cube": square.transpose(2, 0, 1)})  # no wavelengths to tell
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        assert read_scene(tmp_path / "sq.mat").cube.shape == (12, 20, 12)  # as rows × cols × bands, and said
    assert "if it holds bands × rows × cols (as saved from Python), save it as rows × cols × bands" in caplog.text
    caplog.clear()
    scipy.io.savemat(tmp_path / "odd.mat", {"cube": cube, "wavelength": np.linspace(0.4, 2.5, 9)})
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        assert read_scene(tmp_path / "odd.mat").wavelengths is None
    assert "its wavelength list has 9 values but 'cube' is 7×5×12" in caplog.text


def _write_v73(path: Path, arrays: dict):
    """A MATLAB v7.3-like file: HDF5 after a 512-byte text header, arrays stored with reversed axes."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for key, value in arrays.items():
            ds = f.create_dataset(key, data=np.ascontiguousarray(value.T))
            ds.attrs["MATLAB_class"] = np.bytes_("double" if value.dtype == np.float64 else "uint8")
        f.create_group("#refs#")
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 .".ljust(128))


def test_mat_v73_gives_the_same_orientation(tmp_path):
    cube, gt = _mat_cube()
    _write_v73(tmp_path / "v73.mat", {"indian": cube, "indian_gt": gt})
    scipy.io.savemat(tmp_path / "v5.mat", {"indian": cube, "indian_gt": gt})
    a73, a5 = read_mat_arrays(tmp_path / "v73.mat"), read_mat_arrays(tmp_path / "v5.mat")
    assert a73["indian"].shape == (7, 5, 12) and np.array_equal(a73["indian_gt"], a5["indian_gt"])
    s73, s5 = read_scene(tmp_path / "v73.mat"), read_scene(tmp_path / "v5.mat")
    assert np.array_equal(s73.cube, s5.cube)


def test_find_label_key_prefers_hints_and_train_maps():
    grid = (4, 3)
    arrays = {"data": np.zeros((4, 3, 20)), "other": np.zeros(grid, dtype=np.int32),
              "houston_gt_te": np.zeros(grid, dtype=np.uint8), "houston_gt_tr": np.zeros(grid, dtype=np.uint8)}
    assert find_label_key(arrays, grid) == "houston_gt_tr"
    assert find_label_key({"map_double": np.ones(grid) * 2.0}, grid) == "map_double"  # integral doubles count
    assert find_label_key({"noise": np.full(grid, 0.5)}, grid) is None
    assert find_label_key({"a": np.zeros(grid, np.uint8), "b": np.zeros(grid, np.uint8)}, grid) is None
    assert find_label_key({"gt": np.zeros((5, 5), np.uint8)}, grid) is None


def test_mat_errors(tmp_path):
    scipy.io.savemat(tmp_path / "flat.mat", {"Y": np.zeros((198, 100)), "nRow": 10})
    with pytest.raises(SceneReadError, match=r"no 3-D numeric array.*Y 198×100") as refused:
        read_scene(tmp_path / "flat.mat")
    assert "ground truth" not in str(refused.value)  # 2-D, but no class ids
    scipy.io.savemat(tmp_path / "gt.mat", {"gt": np.arange(30, dtype=np.uint8).reshape(5, 6) % 4})
    with pytest.raises(SceneReadError, match=r"a 2-D array of class ids is a ground truth: give it as labels"):
        read_scene(tmp_path / "gt.mat")  # the scene's ground truth given as the scene
    cube, _ = _mat_cube()
    scipy.io.savemat(tmp_path / "c.mat", {"cube": cube})
    with pytest.raises(SceneReadError, match=r"no numeric array 'nope'.*cube 7×5×12"):
        read_scene(tmp_path / "c.mat", cube_key="nope")
    (tmp_path / "broken.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 50)
    with pytest.raises(SceneReadError, match="broken.mat"):
        read_scene(tmp_path / "broken.mat")


def test_an_unmixing_datasets_bands_by_pixels_matrix_is_read_as_its_cube(tmp_path):
    """Jasper Ridge's MATLAB file keeps its cube as Y, 198 bands × 10 000 pixels, with nRow and nCol: it was refused
    with advice to give a 2-D array as labels."""
    from hypersynth.core.io.read import holds_a_cube, mat_array_shapes

    cube, _ = _mat_cube()  # (rows 7, cols 5, bands 12), as MATLAB holds a cube
    rows, cols, bands = cube.shape
    matrix = cube.reshape(rows * cols, bands, order="F").T  # (B, H·W): pixels down each column first, as MATLAB
    scipy.io.savemat(tmp_path / "jasper_like.mat", {"Y": matrix, "nRow": rows, "nCol": cols, "nBand": bands})
    assert holds_a_cube(mat_array_shapes(tmp_path / "jasper_like.mat"))  # the dock opens it as a scene
    scene = read_scene(tmp_path / "jasper_like.mat")
    np.testing.assert_allclose(scene.cube, np.transpose(cube, (2, 0, 1)), rtol=1e-6)  # (B, H, W), same orientation


def test_rgb_image_is_refused(tmp_path):
    path = _write_tif(tmp_path / "photo.tif", np.zeros((3, 8, 8), dtype=np.uint8))
    with pytest.raises(SceneReadError, match=r"photo.tif has 3 bands; HyperSynth needs a hyperspectral cube"):
        read_scene(path)


def test_missing_corrupt_and_folder_inputs(tmp_path):
    with pytest.raises(SceneReadError, match=r"nope.tif.*does not exist"):
        read_scene(tmp_path / "nope.tif")
    (tmp_path / "junk.tif").write_bytes(b"this is not a tiff at all" * 10)
    with pytest.raises(SceneReadError, match=r"cannot read the scene .*junk.tif"):
        read_scene(tmp_path / "junk.tif")
    with pytest.raises(SceneReadError, match="is a folder"):
        read_scene(tmp_path)
    raw = _spectra(12, 64, 64)
    good = _write_tif(tmp_path / "cut.tif", raw)
    data = good.read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[: len(data) // 2])  # truncated file
    with pytest.raises(SceneReadError, match="cut.tif"):
        read_scene(tmp_path / "cut.tif")
    all_empty = _write_tif(tmp_path / "empty.tif", np.full((10, 3, 3), -1, dtype=np.int16), nodata=-1)
    with pytest.raises(SceneReadError, match="no-data everywhere"):
        read_scene(all_empty)
    with pytest.raises(SceneReadError, match="only applies to MATLAB"):
        read_scene(good.with_name("empty.tif"), cube_key="x")


def _write_netcdf(path, cube):
    """A NetCDF-4 file written by GDAL with a (band, y, x) variable ``radiance`` and a 2-D ``mask`` beside it."""
    from osgeo import gdal

    bands, rows, cols = cube.shape
    ds = gdal.GetDriverByName("netCDF").CreateMultiDimensional(str(path))
    root = ds.GetRootGroup()
    dims = [root.CreateDimension(name, None, None, size) for name, size in (("band", bands), ("y", rows), ("x", cols))]
    radiance = root.CreateMDArray("radiance", dims, gdal.ExtendedDataType.Create(gdal.GDT_Float32))
    assert radiance.Write(cube) == gdal.CE_None
    mask = root.CreateMDArray("mask", dims[1:], gdal.ExtendedDataType.Create(gdal.GDT_Byte))
    assert mask.Write(np.ones((rows, cols), dtype=np.uint8)) == gdal.CE_None
    del radiance, mask, root, dims
    ds = None  # closes the file
    return path


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_netcdf_and_hdf5_subdatasets_as_qgis_names_them(tmp_path):
    cube = np.random.default_rng(3).random((12, 5, 6), dtype=np.float32)  # (B, H, W)
    nc = _write_netcdf(tmp_path / "scene.nc", cube)
    source = f'NETCDF:"{nc}":radiance'
    scene = read_scene(source)
    with rasterio.open(source) as ds:  # GDAL's own reading (NetCDF rows come bottom-up without coordinates)
        expected = ds.read()
    assert scene.cube.shape == (12, 5, 6) and np.array_equal(scene.cube, expected)
    assert scene.source == source and scene.name == "scene radiance" and scene.valid.all()
    with pytest.raises(SceneReadError, match=r"scene.nc:mask has 1 band"):
        read_scene(f'NETCDF:"{nc}":mask')
    with pytest.raises(SceneReadError, match=r"its file .*gone.nc does not exist"):
        read_scene(f'NETCDF:"{tmp_path / "gone.nc"}":radiance')
    with pytest.raises(SceneReadError, match="container of several datasets"):
        read_scene(nc)
    with h5py.File(tmp_path / "scene.h5", "w") as f:  # PRISMA-like: the cube deep in groups, "//" in the name
        f.create_dataset("HDFEOS/SWATHS/cube", data=cube)
        f.create_dataset("other", data=np.zeros(3))
    scene = read_scene(f'HDF5:"{tmp_path / "scene.h5"}"://HDFEOS/SWATHS/cube')
    assert np.array_equal(scene.cube, cube) and scene.name == "scene cube"


@pytest.mark.skipif(not (DATA / "enmap_potsdam").is_dir(), reason="EnMAP Potsdam tiles not available")
def test_real_enmap_tile():
    scene = read_scene(DATA / "enmap_potsdam" / "images" / "enmap_potsdam_tile_128_0.tif")
    assert scene.cube.shape == (224, 32, 32)
    assert 418 <= scene.wavelengths.min() < 419 and 2445 < scene.wavelengths.max() <= 2446
    assert np.flatnonzero(~scene.good_bands).tolist() == list(range(129, 135))  # bands 130-135 (1-based)
    assert scene.fwhm is not None and np.all((scene.fwhm > 4) & (scene.fwhm < 20))
    good = scene.usable_cube()[:, scene.valid]
    assert 0 <= good.min() and good.max() < 1.5  # reflectance (GDAL scale 0.0001 applied)
    assert scene.transform == (366015.0, 30.0, 0.0, 5809965.0, 0.0, -30.0) and "32633" in scene.crs_wkt


@pytest.mark.skipif(not (DATA / "jasper_ridge").is_dir(), reason="Jasper Ridge not available")
def test_real_jasper_ridge_envi():
    scene = read_scene(DATA / "jasper_ridge" / "jasperRidge2_R198.hdr")
    assert scene.cube.shape == (198, 100, 100)
    assert scene.cube.max() == pytest.approx(0.5437) and scene.cube.min() == pytest.approx(-0.0448)  # / 10000
    assert scene.wavelengths[0] == pytest.approx(399.37) and scene.wavelengths[-1] == pytest.approx(2457.24)
    assert scene.valid.all() and scene.good_bands.all() and not scene.georeferenced


def _write_netcdf_coordinate(path, dim, values, attrs, *, fwhm=None, fwhm_units=None, coordinate=True):
    """A NetCDF-4 file (GDAL's multidimensional API) with ``radiance(dim, y, x)`` and a coordinate variable ``dim``
    holding ``values`` with the attributes ``attrs``; ``fwhm``: a 1-D variable ``fwhm(dim)`` beside it."""
    from osgeo import gdal

    bands = len(values)
    ds = gdal.GetDriverByName("netCDF").CreateMultiDimensional(str(path))
    root = ds.GetRootGroup()
    dims = [root.CreateDimension(name, None, None, size) for name, size in ((dim, bands), ("y", 4), ("x", 3))]
    arrays = []
    if coordinate:  # a variable named as its dimension: NetCDF's coordinate variable
        arrays.append(root.CreateMDArray(dim, dims[:1], gdal.ExtendedDataType.Create(gdal.GDT_Float64)))
        assert arrays[-1].Write(np.asarray(values, dtype=np.float64)) == gdal.CE_None
        for key, text in attrs.items():
            attribute = arrays[-1].CreateAttribute(key, [], gdal.ExtendedDataType.CreateString())
            assert attribute.Write(text) == gdal.CE_None
    if fwhm is not None:
        arrays.append(root.CreateMDArray("fwhm", dims[:1], gdal.ExtendedDataType.Create(gdal.GDT_Float64)))
        assert arrays[-1].Write(np.asarray(fwhm, dtype=np.float64)) == gdal.CE_None
        if fwhm_units:
            arrays[-1].SetUnit(fwhm_units)
    arrays.append(root.CreateMDArray("radiance", dims, gdal.ExtendedDataType.Create(gdal.GDT_Float32)))
    assert arrays[-1].Write(np.arange(bands * 12, dtype=np.float32).reshape(bands, 4, 3)) == gdal.CE_None
    del arrays, dims, root
    ds = None  # closes the file
    return f'NETCDF:"{path}":radiance'


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_netcdf_band_coordinate_gives_wavelengths(tmp_path):
    um = np.linspace(0.4, 2.5, 12)
    scene = read_scene(_write_netcdf_coordinate(tmp_path / "a.nc", "wavelength", um, {"units": "um"},
                                                fwhm=np.full(12, 0.01)))
    np.testing.assert_allclose(scene.wavelengths, um * 1000)
    np.testing.assert_allclose(scene.fwhm, 10.0)  # the FWHM has no unit: that of the wavelengths
    assert sorted(scene.cube[5].ravel()) == list(range(60, 72))  # band 6 holds the variable's band 6
    nm = np.arange(400.0, 412.0)
    scene = read_scene(_write_netcdf_coordinate(tmp_path / "b.nc", "band", nm, {"units": "nm"},
                                                fwhm=np.full(12, 0.005), fwhm_units="um"))  # a length unit decides
    np.testing.assert_allclose(scene.wavelengths, nm)
    np.testing.assert_allclose(scene.fwhm, 5.0)
    scene = read_scene(_write_netcdf_coordinate(tmp_path / "c.nc", "spectral", nm * 1e-9,
                                                {"units": "m", "standard_name": "radiation_wavelength"}))
    np.testing.assert_allclose(scene.wavelengths, nm)  # CF: radiation_wavelength in metres
    assert scene.fwhm is None
    for name, attrs in (("time", {"units": "days since 2000-01-01"}), ("depth", {"units": "m"}), ("lambda", {})):
        source = _write_netcdf_coordinate(tmp_path / f"{name}.nc", name, nm, attrs, coordinate=name != "lambda")
        assert read_scene(source).wavelengths is None, name  # not wavelengths; "lambda" has band numbers only


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_a_netcdf_variable_with_its_wavelengths_last_is_refused_with_how_to_reorder_it(tmp_path):
    """A (y, x, wavelength) variable came out as y bands of x × wavelength pixels, read without a word (review)."""
    from osgeo import gdal

    ds = gdal.GetDriverByName("netCDF").CreateMultiDimensional(str(tmp_path / "last.nc"))
    root = ds.GetRootGroup()
    dims = {name: root.CreateDimension(name, None, None, size) for name, size in (("y", 14), ("x", 5),
                                                                                  ("wavelength", 12))}
    coordinate = root.CreateMDArray("wavelength", [dims["wavelength"]], gdal.ExtendedDataType.Create(gdal.GDT_Float64))
    assert coordinate.Write(np.linspace(400.0, 2500.0, 12)) == gdal.CE_None
    coordinate.SetUnit("nm")
    dims["wavelength"].SetIndexingVariable(coordinate)
    cube = root.CreateMDArray("reflectance", [dims["y"], dims["x"], dims["wavelength"]],
                              gdal.ExtendedDataType.Create(gdal.GDT_Float32))
    assert cube.Write(np.random.default_rng(0).random((14, 5, 12)).astype(np.float32)) == gdal.CE_None
    del cube, coordinate, dims, root
    ds = None
    with pytest.raises(SceneReadError, match=r"its wavelengths run along the 'wavelength' dimension, which GDAL reads "
                                             r"as the image's rows or columns .* save the variable with 'wavelength' "
                                             r"first, e\.g\. gdalmdimtranslate"):
        read_scene(f'NETCDF:"{tmp_path / "last.nc"}":reflectance')


def test_an_alpha_band_is_left_out_and_its_transparent_pixels_are_no_data(tmp_path):
    """gdalwarp -dstalpha (the usual recipe to reproject) adds an alpha band GDAL does not take as the mask of a
    12-band cube: it was read as a 13th spectral band and the warp's empty corners as valid zeros (code review)."""
    from osgeo import gdal

    from hypersynth.core.io.read import read_scene_layout
    from hypersynth.core.io.windows import raster_window_reader

    raw = (np.random.default_rng(0).random((12, 20, 20)) * 1000 + 10).astype(np.int16)
    source = _write_tif(tmp_path / "utm33.tif", raw)
    warped = tmp_path / "utm32.tif"
    gdal.Warp(str(warped), str(source), dstSRS="EPSG:32632", dstAlpha=True, srcNodata=None)
    with rasterio.open(warped) as ds:
        alpha = ds.read(ds.count)
    scene = read_scene(warped)
    assert scene.bands == 13 and scene.good_bands.tolist() == [True] * 12 + [False]  # flagged bad: not light
    assert (~scene.valid).sum() == (alpha == 0).sum() > 0 and np.array_equal(scene.valid, alpha > 0)
    assert np.array_equal(np.asarray(read_scene_layout(warped).valid), scene.valid)  # as the streaming reader finds it
    window = raster_window_reader(warped, list(range(1, 13)))(0, 20, 0, 20)
    assert np.array_equal(np.isnan(window).all(axis=0), alpha[:20, :20] == 0)


@pytest.mark.parametrize("bands", [12, 300])  # the per-pixel counts of missing bands: 1 byte, and 2 past 255 bands
@pytest.mark.parametrize("flags", ["none", "some bad", "every band with data bad"])
def test_a_rasters_layout_is_found_in_one_pass_as_reading_it_whole_finds_it(tmp_path, flags, bands):
    """Good bands and valid pixels of a scene whose pixels are never held: those of the scene read whole, with a band
    that is no-data everywhere, no-data pixels in a good and in a bad band, and the file's bad-band flags."""
    rng = np.random.default_rng(0)
    raw = rng.integers(1, 5000, size=(bands, 9, 11)).astype(np.int16)
    raw[4] = -1  # a band with no data anywhere
    raw[1, 2, 3] = -1  # no data in a good band: the pixel is invalid
    raw[7, 5, 5] = -1  # no data in a band flagged bad below (but for "none"): the pixel stays valid then
    raw[:257, 8, 10] = -1  # with 300 bands, 257 missing at one pixel: a count kept in one byte would wrap to 1
    bad = {"none": [], "some bad": [0, 7], "every band with data bad": [b for b in range(bands) if b != 4]}[flags]
    tags = [{"bbl": "0" if b in bad else "1"} for b in range(bands)]
    path = _write_tif(tmp_path / "scene.tif", raw, nodata=-1, scales=[1e-4] * bands, band_tags=tags)
    whole, layout = read_scene(path), read_scene_layout(path)
    assert np.array_equal(layout.good_bands, whole.good_bands) and np.array_equal(layout.valid, whole.valid)
    assert not layout.valid[2, 3] and layout.valid[5, 5] == (flags == "some bad") and not layout.valid[8, 10]
    assert layout.cube.shape == whole.cube.shape and layout.cube.base is not None and np.isnan(layout.cube).all()
    assert (layout.transform, layout.crs_wkt, layout.name) == (whole.transform, whole.crs_wkt, whole.name)


@pytest.mark.parametrize("flags", ["none", "some bad"])
def test_a_band_missing_across_a_whole_window_is_found_when_it_has_data_elsewhere(tmp_path, monkeypatch, flags):
    """The layout pass keeps, per window, which bands miss everywhere in it; a good band missing all over one window
    (its two rows) but with data elsewhere leaves none of the window's pixels valid, as reading the scene whole does."""
    import hypersynth.core.io.read as read_module

    rng = np.random.default_rng(1)
    raw = rng.integers(1, 5000, size=(12, 8, 7)).astype(np.int16)
    raw[4] = -1  # no data anywhere: not a good band
    raw[9, 0:2] = -1  # no data across the first window (rows 0-1) only
    raw[2, 4:6, :3] = -1  # no data over part of a window
    raw[7, 6, 6] = -1  # no data at one pixel, in a band flagged bad below (but for "none")
    bad = {"none": [], "some bad": [7]}[flags]
    path = _write_tif(tmp_path / "scene.tif", raw, nodata=-1, blockysize=2,
                      band_tags=[{"bbl": "0" if b in bad else "1"} for b in range(12)])
    monkeypatch.setattr(read_module, "LAYOUT_VALUES", 12 * 7 * 2)  # a window a strip of 2 rows
    whole, layout = read_scene(path), read_scene_layout(path)
    assert np.array_equal(layout.good_bands, whole.good_bands) and np.array_equal(layout.valid, whole.valid)
    assert not layout.valid[:2].any() and not layout.valid[4:6, :3].any() and layout.valid[2:4].all()
    assert layout.valid[6, 6] == (flags == "some bad") and not layout.good_bands[4]


def test_the_layout_pass_keeps_a_bit_a_pixel(tmp_path, monkeypatch):
    """Allocation peak of finding a 1024² raster's valid pixels in windows of 8 rows: the valid mask, 1 bit a pixel
    (0.125 bytes), and a window's temporaries (about 0.6 bytes a pixel of this scene). A bool mask of the grid
    alone would take 1 byte a pixel (session 30's pass: 2.2); the missing-band counts took 3.3 (session 29)."""
    import tracemalloc

    import hypersynth.core.io.read as read_module

    n, bands = 1024, 12
    raw = np.random.default_rng(0).integers(1, 5000, size=(bands, n, n)).astype(np.int16)
    raw[4] = -1  # a band without data
    raw[2, 100:300, 50:60] = -1  # invalid pixels
    path = _write_tif(tmp_path / "scene.tif", raw, nodata=-1, blockysize=8)
    del raw
    monkeypatch.setattr(read_module, "LAYOUT_VALUES", bands * n * 8)
    read_scene_layout(path)  # once first: the libraries' own first-use allocations are not the pass's
    tracemalloc.start()
    try:
        layout = read_scene_layout(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert layout.valid.sum() == n * n - 2000 and not layout.good_bands[4]
    assert isinstance(layout.valid, PixelMask) and layout.valid.nbytes == n * n // 8
    assert peak < 0.8 * n * n, f"the layout pass peaked at {peak / n / n:.2f} bytes a pixel"


def test_only_a_plain_raster_has_its_layout_read_apart(tmp_path):
    raw = _spectra(10, 4, 4)
    scene = _write_tif(tmp_path / "f.tif", raw)
    assert read_scene_layout(scene) is not None
    scipy.io.savemat(tmp_path / "cube.mat", {"cube": raw.transpose(1, 2, 0)})
    for other in (tmp_path / "cube.mat", tmp_path / "absent.tif", f'NETCDF:"{tmp_path / "s.nc"}":radiance', tmp_path):
        assert read_scene_layout(other) is None  # read whole by read_scene, which says what is wrong, if anything
    (tmp_path / "noise.tif").write_bytes(b"not a raster")
    with pytest.raises(SceneReadError, match="noise.tif"):
        read_scene_layout(tmp_path / "noise.tif")


def test_a_crs_whose_ellipsoid_is_no_earths_is_warned_of(tmp_path, caplog):
    """Samson's ENVI header gives WGS 84 a tenth of its radius (637,813 m): every map written from it copied the
    damaged georeference without a word."""
    import logging

    from rasterio.crs import CRS

    from osgeo import osr

    raw = _spectra(12, 4, 5)
    srs = osr.SpatialReference()  # UTM 10N on WGS 84 with the header's radius, as Samson's .hdr gives it
    srs.SetProjCS("UTM_Zone_10N")
    srs.SetGeogCS("WGS 84", "WGS_1984", "WGS 84", 637813.0, 298.257223563)
    srs.SetUTM(10, True)
    damaged = srs.ExportToWkt()
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        read_scene(_write_tif(tmp_path / "sound.tif", raw, crs=CRS.from_epsg(32610)))
        assert "georeference is likely damaged" not in caplog.text
        with rasterio.open(tmp_path / "damaged.img", "w", driver="ENVI", width=5, height=4, count=12,
                           dtype="float32", crs=CRS.from_wkt(damaged), transform=from_origin(0, 0, 30, 30)) as dst:
            dst.write(raw)  # ENVI keeps the header's ellipsoid as it is (a GeoTIFF would store EPSG:32610's)
        read_scene(tmp_path / "damaged.img")
    assert ("damaged: its CRS (UTM_Zone_10N) gives the Earth's ellipsoid a semi-major axis of 637,813 m, "
            "where the Earth's is about 6,378,000 m: its georeference is likely damaged") in caplog.text
