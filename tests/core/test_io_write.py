"""write_scene / write_class_map / write_confidence / atomic_output: exact round trips and safe replacement."""

import gc
import weakref
import xml.etree.ElementTree as ET
from contextlib import contextmanager

import numpy as np
import pytest
import rasterio
from osgeo import gdal
from rasterio.crs import CRS

from hypersynth.core.io.read import read_scene
from hypersynth.core.io.write import (OutputExistsError, atomic_output, write_class_map, write_confidence,
                                      write_label_raster, write_scene)
from hypersynth.core.scene import PIXEL_GRID, ClassInfo, Scene

UTM_WKT = CRS.from_epsg(32633).to_wkt()
GRID = (366000.0, 30.0, 0.0, 5810000.0, 0.0, -30.0)
CLASSES = [ClassInfo(1, "roof", (214, 39, 40)), ClassInfo(2, "tree", (44, 160, 44)),
           ClassInfo(3, "water", (31, 119, 180))]


def _scene(georeferenced=True):
    rng = np.random.default_rng(0)
    cube = rng.random((12, 9, 7)).astype(np.float32)  # (B, H, W)
    valid = np.ones((9, 7), dtype=bool)
    valid[0, 0] = valid[4, 5] = False
    cube[:, ~valid] = 0
    good = np.ones(12, dtype=bool)
    good[5] = False  # flagged bad (bbl = 0) but holds data
    return Scene(cube=cube, valid=valid, wavelengths=np.linspace(400.123456789, 2500.5, 12),
                 fwhm=np.full(12, 9.87654321), good_bands=good,
                 transform=GRID if georeferenced else PIXEL_GRID, crs_wkt=UTM_WKT if georeferenced else None)


def test_scene_round_trip_is_exact(tmp_path):
    scene = _scene()
    path = write_scene(scene, tmp_path / "scene.tif")
    back = read_scene(path)
    assert np.array_equal(back.cube, scene.cube)
    assert np.array_equal(back.valid, scene.valid)
    assert np.array_equal(back.good_bands, scene.good_bands)
    assert np.array_equal(back.wavelengths, scene.wavelengths) and np.array_equal(back.fwhm, scene.fwhm)
    assert back.transform == scene.transform and CRS.from_wkt(back.crs_wkt) == CRS.from_epsg(32633)


def test_scene_file_carries_metadata_for_qgis_and_enmapbox(tmp_path):
    scene = _scene()
    path = write_scene(scene, tmp_path / "scene.tif")
    with rasterio.open(path) as ds:
        assert ds.dtypes[0] == "float32" and ds.nodata == -9999 and ds.is_tiled
        assert ds.compression.name.lower() == "deflate"
        assert ds.descriptions[1] == f"B2 ({scene.wavelengths[1]:.1f} nm)"
        tags = ds.tags(2)
        assert tags["wavelength_units"] == "Nanometers" and float(tags["wavelength"]) == scene.wavelengths[1]
        envi = ds.tags(ns="ENVI")
        assert envi["wavelength units"] == "Nanometers"
        assert len(envi["wavelength"].strip("{}").split(",")) == 12
        assert envi["bbl"].startswith("{1, 1, 1, 1, 1, 0,")
        imagery = ds.tags(2, ns="IMAGERY")  # GDAL's own domain (3.10 on), in micrometres
        assert float(imagery["CENTRAL_WAVELENGTH_UM"]) * 1000 == pytest.approx(scene.wavelengths[1], rel=1e-12)
        assert float(imagery["FWHM_UM"]) * 1000 == pytest.approx(scene.fwhm[1], rel=1e-12)
        assert np.all(ds.read(1)[~scene.valid] == -9999)


class _CacheAtEachBand(np.ndarray):
    """A cube that notes how much GDAL's block cache holds each time a band of it is taken to be written."""

    cached: list

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            self.cached.append(gdal.GetCacheUsed())  # before this band's tiles go into the cache
        return np.asarray(self)[index]


def test_scene_tiles_leave_gdals_cache_band_by_band(tmp_path):
    """Each band is compressed and written before the next: GDAL's block cache holds about a band, never the cube
    (which on a full-size scene was a gigabyte more memory, all compressed at the close in one call that held the
    GIL: a QGIS import task froze QGIS for as long)."""
    bands, side = 40, 64
    values = np.random.default_rng(1).random((bands, side, side)).astype(np.float32)
    cube = values.view(_CacheAtEachBand)
    cube.cached = []
    scene = Scene(cube=cube, valid=np.ones((side, side), dtype=bool), wavelengths=np.linspace(400.0, 2500.0, bands),
                  good_bands=np.ones(bands, dtype=bool), transform=GRID, crs_wkt=UTM_WKT)
    before = gdal.GetCacheUsed()
    path = write_scene(scene, tmp_path / "scene.tif")
    assert len(cube.cached) == bands
    assert max(cube.cached) - before < side * side * 4  # less than one band: earlier bands' tiles are gone
    assert np.array_equal(read_scene(path).cube, values)


def test_pixel_grid_scene_is_written_without_georeference(tmp_path):
    scene = _scene(georeferenced=False)
    path = write_scene(scene, tmp_path / "grid.tif")
    assert gdal.Open(str(path)).GetProjection() == ""
    back = read_scene(path)
    assert back.transform == PIXEL_GRID and back.crs_wkt is None
    assert np.array_equal(back.cube, scene.cube)


def test_scene_without_wavelengths(tmp_path):
    scene = _scene()
    scene.wavelengths, scene.fwhm = None, None
    back = read_scene(write_scene(scene, tmp_path / "nowl.tif"))
    assert back.wavelengths is None and back.band_names[0] == "B1"


def test_refuses_to_overwrite_unless_asked(tmp_path):
    target = tmp_path / "scene.tif"
    write_scene(_scene(), target)
    before = target.read_bytes()
    with pytest.raises(OutputExistsError, match=r"already exists.*overwrit"):
        write_scene(_scene(), target)
    assert target.read_bytes() == before
    with pytest.raises(ValueError):  # OutputExistsError is a ValueError too, for callers catching bad input
        write_confidence(target, np.zeros((2, 2), np.float32), transform=GRID, crs_wkt=None)
    scene = _scene()
    scene.cube[0, 1, 1] = 0.5
    write_scene(scene, target, overwrite=True)
    assert read_scene(target).cube[0, 1, 1] == 0.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.tif"]  # no temp files left


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "report.txt"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(target, overwrite=True) as tmp:
            tmp.write_text("new")
            raise RuntimeError("boom")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["report.txt"]


def test_atomic_output_moves_sidecars_and_folders(tmp_path):
    with atomic_output(tmp_path / "out" / "a.tif") as tmp:  # missing parent folders are created
        tmp.write_text("data")
        (tmp.parent / "a.tif.aux.xml").write_text("<PAMDataset/>")
        (tmp.parent / "a.qml").write_text("<qgis/>")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.qml", "a.tif", "a.tif.aux.xml"]
    with atomic_output(tmp_path / "out" / "a.tif", overwrite=True) as tmp:
        tmp.write_text("plain")  # no .aux.xml this time: the old one would describe the wrong data
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.qml", "a.tif"]
    for n in (1, 2):
        with atomic_output(tmp_path / "bundle", overwrite=n == 2) as tmp:
            tmp.mkdir()
            (tmp / "weights.safetensors").write_text(f"v{n}")
    assert (tmp_path / "bundle" / "weights.safetensors").read_text() == "v2"
    with pytest.raises(FileNotFoundError, match="nothing was written"):
        with atomic_output(tmp_path / "never.txt"):
            pass


def test_class_map_colours_names_rat_and_qml(tmp_path):
    class_map = np.array([[0, 1, 2], [3, 3, 1]], dtype=np.int32)
    path = write_class_map(tmp_path / "map.tif", class_map, CLASSES, transform=GRID, crs_wkt=UTM_WKT)
    ds = gdal.Open(str(path))
    assert ds.GetGeoTransform() == GRID and "32633" in ds.GetProjection()
    band = ds.GetRasterBand(1)
    assert band.DataType == gdal.GDT_Byte and band.GetNoDataValue() == 0
    assert np.array_equal(band.ReadAsArray(), class_map)
    assert band.GetColorTable().GetColorEntry(3)[:3] == (31, 119, 180)
    assert band.GetCategoryNames()[:4] == ["unclassified", "roof", "tree", "water"]
    rat = band.GetDefaultRAT()
    columns = [rat.GetNameOfCol(i) for i in range(rat.GetColumnCount())]
    assert columns == ["Value", "Class_Name", "Red", "Green", "Blue"]
    assert [(rat.GetValueAsInt(r, 0), rat.GetValueAsString(r, 1)) for r in range(rat.GetRowCount())] == \
        [(1, "roof"), (2, "tree"), (3, "water")]
    ds = None
    qml = ET.parse(tmp_path / "map.qml").getroot()
    renderer = qml.find("pipe/rasterrenderer")
    assert renderer.get("type") == "paletted"
    entries = [(e.get("value"), e.get("color"), e.get("label")) for e in renderer.iter("paletteEntry")]
    assert entries == [("1", "#d62728", "roof"), ("2", "#2ca02c", "tree"), ("3", "#1f77b4", "water")]


def test_class_ids_above_255_use_uint16(tmp_path):
    classes = [ClassInfo(1, "a"), ClassInfo(300, "b")]
    path = write_class_map(tmp_path / "wide.tif", np.array([[1, 300]]), classes, transform=PIXEL_GRID,
                           crs_wkt=None)
    ds = gdal.Open(str(path))  # keep the dataset referenced while its band is used (GDAL frees it otherwise)
    band = ds.GetRasterBand(1)
    assert band.DataType == gdal.GDT_UInt16 and band.ReadAsArray().tolist() == [[1, 300]]


def test_label_raster_and_class_map_input_errors(tmp_path):
    with pytest.raises(ValueError, match=r"values \[7\] that are not among the classes"):
        write_class_map(tmp_path / "m.tif", np.array([[1, 7]]), CLASSES, transform=GRID, crs_wkt=None)
    with pytest.raises(ValueError, match="2-D integer array"):
        write_label_raster(tmp_path / "m.tif", np.zeros((2, 2, 2), int), CLASSES, transform=GRID, crs_wkt=None)
    with pytest.raises(ValueError, match="name the output .tif"):
        write_label_raster(tmp_path / "m.png", np.zeros((2, 2), int), CLASSES, transform=GRID, crs_wkt=None)
    with pytest.raises(ValueError, match="degenerate"):
        write_label_raster(tmp_path / "m.tif", np.zeros((2, 2), int), CLASSES, transform=(0, 0, 0, 0, 0, 0),
                           crs_wkt=None)
    assert list(tmp_path.iterdir()) == []
    path = write_label_raster(tmp_path / "labels.tif", np.array([[0, 2]]), CLASSES, transform=GRID, crs_wkt=None)
    ds = gdal.Open(str(path))
    ds.GetGeoTransform()  # GDAL 3.6 loads the .aux.xml (category names) lazily, on georeference access
    assert ds.GetRasterBand(1).GetCategoryNames()[0] == "unlabelled"


def test_confidence(tmp_path):
    conf = np.array([[0.25, np.nan], [1.0, 0.0]], dtype=np.float32)
    path = write_confidence(tmp_path / "conf.tif", conf, transform=GRID, crs_wkt=UTM_WKT)
    with rasterio.open(path) as ds:
        assert ds.dtypes[0] == "float32" and ds.nodata == -1
        assert ds.descriptions[0] == "confidence (max class probability)"
        assert ds.read(1).tolist() == [[0.25, -1.0], [1.0, 0.0]]
    with pytest.raises(ValueError, match="0..1"):
        write_confidence(tmp_path / "bad.tif", np.array([[1.5]], np.float32), transform=GRID, crs_wkt=None)
    entropy = np.array([[0.5, np.nan], [0.0, 1.0]], dtype=np.float32)
    path = write_confidence(tmp_path / "both.tif", conf, transform=GRID, crs_wkt=UTM_WKT, uncertainty=entropy)
    with rasterio.open(path) as ds:
        assert ds.count == 2 and ds.descriptions[1].startswith("uncertainty (normalised entropy")
        assert ds.read(2).tolist() == [[0.5, -1.0], [0.0, 1.0]] and ds.read(1).tolist() == [[0.25, -1.0], [1.0, 0.0]]
    with pytest.raises(ValueError, match="uncertainty must lie in 0..1"):
        write_confidence(tmp_path / "bad2.tif", conf, transform=GRID, crs_wkt=None, uncertainty=entropy * 2)
    assert not (tmp_path / "bad2.tif").exists()


def test_probability_raster_writes_a_named_band_per_class_and_nothing_on_failure(tmp_path):
    import rasterio

    from hypersynth.core.io.write import probability_raster
    from hypersynth.core.scene import ClassInfo

    classes = [ClassInfo(3, "water"), ClassInfo(7, "road")]
    transform = (500000.0, 10.0, 0.0, 5800000.0, 0.0, -10.0)
    proba = np.full((2, 4, 6), np.nan, dtype=np.float32)
    proba[0, :, 1:], proba[1, :, 1:] = 0.25, 0.75  # column 0 unclassified
    with probability_raster(tmp_path / "p.tif", classes, (4, 6), transform=transform, crs_wkt=None) as write:
        write(0, 0, proba[:, :2])  # two tiles, as predict_scene hands them over
        write(2, 0, proba[:, 2:])
    with rasterio.open(tmp_path / "p.tif") as src:
        assert src.count == 2 and src.dtypes == ("float32", "float32") and src.nodata == -1.0
        assert src.descriptions == ("probability of water (class 3)", "probability of road (class 7)")
        values = src.read()
    assert (values[:, :, 0] == -1.0).all() and (values[0, :, 1:] == 0.25).all() and (values[1, :, 1:] == 0.75).all()
    with pytest.raises(RuntimeError, match="cancelled"):
        with probability_raster(tmp_path / "q.tif", classes, (4, 6), transform=transform, crs_wkt=None) as write:
            write(0, 0, proba[:, :2])
            raise RuntimeError("cancelled")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.tif"]  # no half-written file, no temporary left
    with pytest.raises(FileExistsError):
        with probability_raster(tmp_path / "p.tif", classes, (4, 6), transform=transform, crs_wkt=None):
            pass


def test_maps_written_a_tile_at_a_time_refuse_a_bad_tile_and_leave_no_file(tmp_path):
    from hypersynth.core.io.write import categorical_raster, confidence_raster

    with categorical_raster(tmp_path / "map.tif", CLASSES, (2, 3), transform=GRID, crs_wkt=None) as write:
        write(0, 0, np.array([[1, 2], [0, 1]]))
        write(0, 2, np.array([[2], [2]]))
    with rasterio.open(tmp_path / "map.tif") as ds:
        assert ds.read(1).tolist() == [[1, 2, 2], [0, 1, 2]]
    with pytest.raises(ValueError, match=r"values \[7\] that are not among the classes"):
        with categorical_raster(tmp_path / "bad.tif", CLASSES, (2, 3), transform=GRID, crs_wkt=None) as write:
            write(0, 0, np.array([[1, 2], [0, 1]]))
            write(0, 2, np.array([[7], [2]]))  # a later tile
    with pytest.raises(ValueError, match="exactly when the confidence raster has its band"):
        with confidence_raster(tmp_path / "conf.tif", (2, 2), transform=GRID, crs_wkt=None) as write:
            write(0, 0, np.full((2, 2), 0.5, np.float32))  # the uncertainty band is left out
    with pytest.raises(ValueError, match="the confidence must be a 2-D array"):
        with confidence_raster(tmp_path / "conf.tif", (4,), transform=GRID, crs_wkt=None):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.qml", "map.tif", "map.tif.aux.xml"]


class _Band:
    def __init__(self, code: int) -> None:
        self.code = code

    def WriteArray(self, values, col0, row0):  # noqa: N802 (GDAL's name)
        if self.code != gdal.CE_None:
            gdal.Error(gdal.CE_Failure, 1, "Access window out of range")
        return self.code


class _Dataset:
    """A GDAL dataset stand-in whose band write or cache flush fails as a full disk makes GDAL's fail."""

    def __init__(self, write_code: int = gdal.CE_None, flush_fails: bool = False) -> None:
        self.band, self.flush_fails = _Band(write_code), flush_fails

    def GetRasterBand(self, index):  # noqa: N802
        return self.band

    def FlushCache(self):  # noqa: N802
        if self.flush_fails:  # GDAL reports it in its error state only; its FlushCache returns nothing to check
            gdal.Error(gdal.CE_Failure, 1, "TIFFWriteEncodedTile failed")


@contextmanager
def _quiet_gdal():
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        yield
    finally:
        gdal.PopErrorHandler()
        gdal.ErrorReset()


def test_a_tile_gdal_fails_to_write_is_refused_at_once_naming_its_file(tmp_path):
    """A tile's write error was checked only at the file's close, and a tile read between (which resets GDAL's error
    state) let a damaged map through in a streamed run (code review)."""
    from hypersynth.core.io.write import _write_tile

    tile = [np.zeros((2, 2), np.float32)]
    _write_tile(_Dataset(), tmp_path / "fine.tif", tile, 0, 0)  # nothing to say
    with _quiet_gdal(), pytest.raises(OSError, match=r"^GDAL could not write confidence\.tif: TIFFWriteEncoded"):
        _write_tile(_Dataset(flush_fails=True), tmp_path / "confidence.tif", tile, 0, 0)
    with _quiet_gdal(), pytest.raises(OSError, match=r"^GDAL could not write map\.tif: Access window out of"):
        _write_tile(_Dataset(write_code=gdal.CE_Failure), tmp_path / "map.tif", tile, 0, 0)


def test_a_failed_tiled_write_closes_its_file_before_removing_its_folder(tmp_path, monkeypatch):
    """The writers held the file open while the unfinished folder was removed: Windows cannot delete it, and the
    `.partial` folder stayed (code review)."""
    from hypersynth.core.io import write as write_module

    opened, closed_first = [], []
    create, rmtree = write_module._create_gtiff, write_module.shutil.rmtree

    def remember(*args, **kwargs):
        ds = create(*args, **kwargs)
        opened.append(weakref.ref(ds))
        return ds

    def remove(path, **kwargs):
        gc.collect()
        closed_first.append(all(ref() is None for ref in opened))
        rmtree(path, **kwargs)

    monkeypatch.setattr(write_module, "_create_gtiff", remember)
    monkeypatch.setattr(write_module.shutil, "rmtree", remove)
    for writer, tile in ((write_module.categorical_raster(tmp_path / "map.tif", CLASSES, (2, 3), transform=GRID,
                                                          crs_wkt=None), np.array([[1, 2], [0, 1]])),
                         (write_module.confidence_raster(tmp_path / "conf.tif", (2, 3), transform=GRID, crs_wkt=None,
                                                         uncertainty=False), np.full((2, 2), 0.5, np.float32)),
                         (write_module.probability_raster(tmp_path / "proba.tif", CLASSES, (2, 3), transform=GRID,
                                                          crs_wkt=None),
                          np.full((len(CLASSES), 2, 2), 0.5, np.float32))):
        with pytest.raises(RuntimeError, match="cancelled"):
            with writer as write:
                write(0, 0, tile)
                raise RuntimeError("cancelled")
    assert closed_first == [True, True, True]  # each file closed before its folder went
    assert list(tmp_path.iterdir()) == []


def test_a_replaced_raster_leaves_no_mask_or_overviews_of_the_old_one(tmp_path):
    """An old raster's external mask (.msk) stayed beside the scene that replaced it, and GDAL read it with the new
    file: half a later run's map came out unclassified; its overviews showed the old values (review)."""
    from osgeo import gdal

    from hypersynth.core.io.write import write_label_raster
    from hypersynth.core.outputs import GDAL_SIDECARS

    path = tmp_path / "labels.tif"
    classes = [ClassInfo(1, "water"), ClassInfo(2, "road")]
    write_label_raster(path, np.ones((16, 16), np.uint8), classes, transform=GRID, crs_wkt=None)
    ds = gdal.Open(str(path), gdal.GA_ReadOnly)
    ds.CreateMaskBand(gdal.GMF_PER_DATASET)  # read-only: GDAL writes it beside, as labels.tif.msk
    ds.GetRasterBand(1).GetMaskBand().WriteArray(np.zeros((16, 16), np.uint8))
    ds.BuildOverviews("NEAREST", [2])  # read-only: labels.tif.ovr
    ds = None
    (tmp_path / "labels.tif.msk.ovr").write_bytes(b"old")
    (tmp_path / "labels.tfw").write_text("1\n0\n0\n-1\n0\n0\n")  # not GDAL's to read with it: kept
    assert (tmp_path / "labels.tif.msk").is_file() and (tmp_path / "labels.tif.ovr").is_file()
    write_label_raster(path, np.full((16, 16), 2, np.uint8), classes, transform=GRID, crs_wkt=None, overwrite=True)
    assert not [s for s in GDAL_SIDECARS[1:] if (tmp_path / ("labels.tif" + s)).exists()]
    ds = gdal.Open(str(path))
    band = ds.GetRasterBand(1)
    assert band.GetOverviewCount() == 0 and band.GetMaskFlags() != gdal.GMF_PER_DATASET
    assert band.ReadAsArray().min() == 2
    assert (tmp_path / "labels.tfw").is_file()
