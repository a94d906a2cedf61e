"""read_scene on EnMAP L2A, EMIT L2A and PRISMA L2 products in their real layouts, and their import as one GeoTIFF."""

import h5py
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from hypersynth.core.io import products
from hypersynth.core.io.convert import import_scene
from hypersynth.core.io.read import SceneReadError, read_scene
from hypersynth.core.io.write import OutputExistsError
from hypersynth.core.progress import CancelAfter, Cancelled
from hypersynth.core.scene import PIXEL_GRID

from ..sensor_products import (EMIT_GEOTRANSFORM, EMIT_GLT_X, EMIT_GLT_Y, EMIT_NAME, ENMAP_STEM, PRISMA_CW,
                               PRISMA_NAME, PRISMA_SCALE, PRODUCTS, assert_same_scene, emit_swath, enmap_dn, prisma_dn,
                               subdatasets, write_emit, write_enmap, write_prisma, write_prisma_of, write_product)

# --------------------------------------------------------------------------- EnMAP L2A


def test_enmap_l2a_takes_wavelengths_fwhm_and_scale_from_its_xml(tmp_path):
    dn = enmap_dn()
    dn[:, 2, 3] = -32768  # background pixel
    order = [3, 1, 2] + list(range(4, 13))  # bandID elements need not come in band order
    image = write_enmap(tmp_path / "product", dn, order=order)
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
    from_folder = read_scene(tmp_path / "product")  # and its folder (review: refused as a folder)
    assert np.array_equal(from_folder.cube, scene.cube) and from_folder.source == str(image)
    assert np.array_equal(read_scene(tmp_path).cube, scene.cube)  # the folder of an unpacked delivery holding it
    write_enmap(tmp_path / "product" / "copy", dn, order=order)
    with pytest.raises(SceneReadError, match=r"it is a folder; choose the image file inside it \(it holds 2 product "
                                             r"images: ENMAP01-"):
        read_scene(tmp_path / "product")


def test_enmap_l2a_scale_in_the_geotiff_is_not_applied_twice_and_background_is_nodata_without_a_tag(tmp_path):
    dn = enmap_dn()
    scaled = read_scene(write_enmap(tmp_path / "a", dn, scales=[1e-4] * 12))
    np.testing.assert_allclose(scaled.cube, dn * 1e-4, rtol=1e-6)
    dn[:, 0, 0] = -32768
    untagged = read_scene(write_enmap(tmp_path / "b", dn, nodata=None))  # DLR's background value, no GDAL nodata
    assert not untagged.valid[0, 0] and untagged.valid.sum() == 29 and np.all(untagged.cube[:, 0, 0] == 0)
    no_gain = read_scene(write_enmap(tmp_path / "c", enmap_dn(), drop="GainOfBand"))
    np.testing.assert_allclose(no_gain.cube, enmap_dn())  # no gain in the XML: the stored values as they are
    assert no_gain.wavelengths is not None


def test_enmap_l2a_incomplete_or_damaged_products(tmp_path):
    image = write_enmap(tmp_path / "noxml", enmap_dn(), xml=False)
    with pytest.raises(SceneReadError, match=r"EnMAP L2A image without wavelengths.*-METADATA.XML is not beside it"):
        read_scene(image)
    image = write_enmap(tmp_path / "short", enmap_dn(), order=range(1, 11))
    with pytest.raises(SceneReadError, match=r"METADATA.XML describes 10 bands, but .*SPECTRAL_IMAGE.TIF has 12"):
        read_scene(image)
    image = write_enmap(tmp_path / "cut", enmap_dn())
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


@pytest.mark.parametrize("block_values", [products.CHUNK_VALUES, 40])  # one block, and a few lines at a time
def test_emit_l2a_is_orthorectified_through_its_glt(tmp_path, monkeypatch, block_values):
    monkeypatch.setattr(products, "CHUNK_VALUES", block_values)
    swath = emit_swath()
    swath[1, 2, 4] = -9999.0  # fill in one good band: that swath pixel (line 2, sample 3) becomes invalid
    path = write_emit(tmp_path / "EMIT_L2A_RFL_001_20230801T180000_2321312_004.nc", swath)
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
    path = write_emit(tmp_path / "EMIT_L2A_RFL_001_20230801T180000_2321312_004.nc", emit_swath())
    whole = read_scene(path)
    names = subdatasets(path)
    assert f'NETCDF:"{path}":reflectance' in names and f'NETCDF:"{path}":/location/glt_x' in names
    for name in names + [f'HDF5:"{path}"://reflectance']:
        scene = read_scene(name)
        assert np.array_equal(scene.cube, whole.cube) and scene.transform == whole.transform
        assert scene.source == name and scene.name == path.stem


def test_emit_l2a_incomplete_or_damaged(tmp_path):
    path = write_emit(tmp_path / "EMIT_L2A_RFL_001_20230801T180000_2321312_004.nc", emit_swath(), location=False)
    with pytest.raises(SceneReadError, match=r"EMIT granule, but location/glt_x, location/glt_y are missing; download"):
        read_scene(path)
    glt_y = EMIT_GLT_Y.copy()
    glt_y[0, 1] = 9  # past the 4 swath lines
    path = write_emit(tmp_path / "bad_glt.nc", emit_swath(), glt_y=glt_y)
    with pytest.raises(SceneReadError, match=r"its GLT points past the 4 × 3 swath"):
        read_scene(path)
    path = write_emit(tmp_path / "bands.nc", emit_swath(bands=12))
    with h5py.File(path, "r+") as f:
        del f["sensor_band_parameters/wavelengths"]
        f["sensor_band_parameters/wavelengths"] = np.arange(400.0, 410.0)  # 10 wavelengths for 12 bands
    with pytest.raises(SceneReadError, match=r"reflectance is 4×3×12, but an EMIT cube is .* × 10 bands"):
        read_scene(path)
    data = write_emit(tmp_path / "EMIT_L2A_RFL_cut.nc", emit_swath(lines=40, samples=30)).read_bytes()
    (tmp_path / "EMIT_L2A_RFL_cut.nc").write_bytes(data[: len(data) * 2 // 3])  # a download that stopped
    with pytest.raises(SceneReadError, match=r"EMIT_L2A_RFL_cut.nc: it looks truncated or damaged"):
        read_scene(tmp_path / "EMIT_L2A_RFL_cut.nc")


# --------------------------------------------------------------------------- PRISMA L2D


def test_prisma_l2d_merges_vnir_and_swir_by_wavelength_in_reflectance(tmp_path):
    cubes = {d: prisma_dn(d) for d in PRISMA_CW}
    for dn in cubes.values():
        dn[3, :, 0] = 0  # outside the swath: every band 0 in both cubes
    path = write_prisma(tmp_path / "PRS_L2D_STD_20200524103704_20200524103708_0001.he5", cubes=cubes)
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
    for name in subdatasets(path):  # HDF5:"…he5"://HDFEOS/SWATHS/PRS_L2D_HCO/Data_Fields/VNIR_Cube, …
        from_layer = read_scene(name)
        assert np.array_equal(from_layer.cube, scene.cube) and from_layer.source == name


def test_prisma_bands_asi_flags_as_unusable_are_kept_as_bad_bands(tmp_path):
    path = write_prisma(tmp_path / "PRS_L2D_STD_20200524103704_20200524103708_0001.he5")
    with h5py.File(path, "a") as f:  # VNIR's 600 nm band (its index 6) and SWIR's 2000 nm band (index 2) flagged 0
        f.attrs["List_Cw_Vnir_Flags"] = np.array([0, 0, 1, 1, 1, 1, 0, 1], dtype=np.int8)
        f.attrs["List_Cw_Swir_Flags"] = np.array([1, 1, 0, 1, 1, 1, 0], dtype=np.int8)
    scene = read_scene(path)
    assert scene.bands == 12 and scene.wavelengths[~scene.good_bands].tolist() == [600.0, 2000.0]


def test_prisma_l2c_is_a_pixel_grid(tmp_path):
    scene = read_scene(write_prisma(tmp_path / "PRS_L2C_STD_20200524103704_20200524103708_0001.he5", level="C",
                                     drop=("Epsg_Code",)))
    assert scene.cube.shape == (12, 4, 5) and scene.transform == PIXEL_GRID and not scene.georeferenced


def test_prisma_incomplete_or_damaged(tmp_path):
    path = write_prisma(tmp_path / "a.he5", drop=("L2ScaleSwirMax", "SWIR_Cube"))
    with pytest.raises(SceneReadError, match=r"PRISMA L2D product, but Data Fields/SWIR_Cube, L2ScaleSwirMax are "
                                             r"missing from it; download the product again"):
        read_scene(path)
    path = write_prisma(tmp_path / "b.he5", drop=("Product_ULcorner_northing",))
    with pytest.raises(SceneReadError, match=r"Product_ULcorner_northing is missing"):
        read_scene(path)
    cubes = {d: prisma_dn(d) for d in PRISMA_CW}
    cubes["Swir"] = cubes["Swir"][:, :5]  # 5 bands for 7 listed wavelengths
    with pytest.raises(SceneReadError, match=r"List_Cw_Swir \(7\) and List_Fwhm_Swir \(7\) do not describe the 5"):
        read_scene(write_prisma(tmp_path / "c.he5", cubes=cubes))
    cubes = {d: prisma_dn(d) for d in PRISMA_CW}
    cubes["Swir"] = prisma_dn("Swir", rows=3)
    with pytest.raises(SceneReadError, match=r"not \(rows, bands, cols\) on one grid"):
        read_scene(write_prisma(tmp_path / "d.he5", cubes=cubes))


def test_other_hdf5_files_are_not_taken_for_products(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as f:  # a cube and band parameters, but neither EMIT nor PRISMA
        f.create_dataset("HDFEOS/SWATHS/PRS_L1_HCO/Data Fields/VNIR_Cube", data=np.ones((12, 4, 5), np.float32))
        f.create_dataset("cube", data=np.random.default_rng(0).random((12, 4, 5), np.float32))  # not flat: a fill
        f.create_dataset("reflectance", data=np.ones((12, 4, 5), np.float32))  # EMIT's names, no EMIT granule
        f.create_dataset("sensor_band_parameters/wavelengths", data=np.arange(5.0))
    assert products.read_product(tmp_path / "other.h5", source="x") is None
    scene = read_scene(f'HDF5:"{tmp_path / "other.h5"}"://cube')
    assert scene.cube.shape == (12, 4, 5) and scene.name == "other cube"


def test_product_kind_names_each_product_from_any_of_its_files_without_reading_pixels(tmp_path):
    image = write_enmap(tmp_path / "enmap", enmap_dn())
    assert products.product_kind(image) == "EnMAP L2A"
    assert products.product_kind(image.with_name(f"{ENMAP_STEM}-METADATA.XML")) == "EnMAP L2A"
    emit = write_emit(tmp_path / "EMIT_L2A_RFL_001.nc", emit_swath())
    assert products.product_kind(emit) == "EMIT L2A reflectance"
    assert {products.product_kind(name) for name in subdatasets(emit)} == {"EMIT L2A reflectance"}
    prisma = write_prisma(tmp_path / "PRS_L2D_STD.he5")
    assert products.product_kind(prisma) == "PRISMA L2D"
    assert products.product_kind(write_prisma(tmp_path / "PRS_L2C_STD.he5", level="C")) == "PRISMA L2C"
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("reflectance", data=np.zeros((2, 2, 12), dtype=np.float32))
    plain = tmp_path / "plain.tif"
    with rasterio.open(plain, "w", driver="GTiff", width=2, height=2, count=1, dtype="uint8",
                       transform=from_origin(0, 2, 1, 1), crs="EPSG:32633") as dst:
        dst.write(np.zeros((1, 2, 2), dtype=np.uint8))
    assert products.product_kind(other) is None and products.product_kind(plain) is None
    assert products.product_kind(tmp_path / "gone.he5") is None


# --------------------------------------------------------------------------- imported as one GeoTIFF


@pytest.mark.parametrize("kind", PRODUCTS)
def test_product_facts_give_the_shape_of_the_scene_without_reading_it(tmp_path, kind):
    path = write_product(kind, tmp_path)
    facts = products.product_facts(path)
    assert facts.kind == kind and facts.shape == read_scene(path).cube.shape
    assert facts.name == {"EnMAP L2A": ENMAP_STEM, "EMIT L2A reflectance": EMIT_NAME, "PRISMA L2D": PRISMA_NAME}[kind]
    if kind == "EnMAP L2A":  # the image and its XML, from either
        assert facts.files == (path, path.with_name(f"{ENMAP_STEM}-METADATA.XML"))
        assert products.product_facts(facts.files[1]) == facts
    else:
        assert facts.files == (path,) and {products.product_facts(n) for n in subdatasets(path)} == {facts}
    broken = write_prisma(tmp_path / "broken.he5", drop=("SWIR_Cube",))
    assert products.product_facts(broken).shape is None  # incomplete: no shape, reading it says why


def test_import_scene_writes_the_scene_read_back_the_same_reporting_read_and_write(tmp_path):
    product = write_product("PRISMA L2D", tmp_path)
    reporter = CancelAfter(10)
    out = import_scene(product, tmp_path / "out" / "prisma.tif", reporter=reporter)
    assert out == tmp_path / "out" / "prisma.tif"
    assert_same_scene(read_scene(out), read_scene(product))
    assert reporter.stages == [f"reading the PRISMA L2D product {PRISMA_NAME}", "writing prisma.tif",
                               "written prisma.tif"]
    with rasterio.open(out) as ds:  # what QGIS and EnMAP-Box read
        assert ds.dtypes[0] == "float32" and ds.nodata == -9999 and ds.crs.to_epsg() == 32633
        assert float(ds.tags(1)["wavelength"]) == 500.0 and ds.tags(1)["wavelength_units"] == "Nanometers"
        assert "wavelength" in ds.tags(ns="ENVI")


def test_import_scene_refuses_what_it_must_not_write_and_leaves_nothing_when_cancelled(tmp_path):
    product = write_product("EMIT L2A reflectance", tmp_path)
    taken = tmp_path / "taken.tif"
    taken.write_bytes(b"mine")
    with pytest.raises(OutputExistsError, match=r"taken.tif already exists; .*\(overwrite=True\)"):
        import_scene(product, taken)
    assert taken.read_bytes() == b"mine"
    import_scene(product, taken, overwrite=True)
    assert read_scene(taken).cube.shape == (12, 5, 6)
    with pytest.raises(ValueError, match=r"name it emit.tif"):
        import_scene(product, tmp_path / "emit.img")
    plain = import_scene(product, tmp_path / "plain.tif")  # a GeoTIFF imported onto itself: refused, overwrite or not
    with pytest.raises(ValueError, match=r"plain.tif is the file the scene is read from; choose another name"):
        import_scene(plain, plain, overwrite=True)
    enmap = write_product("EnMAP L2A", tmp_path / "enmap")
    with pytest.raises(ValueError, match=r"SPECTRAL_IMAGE.TIF is the file the scene is read from"):
        import_scene(enmap.with_name(f"{ENMAP_STEM}-METADATA.XML"), enmap, overwrite=True)
    for checks in (1, 2):  # cancelled before the read, and between reading and writing
        with pytest.raises(Cancelled):
            import_scene(product, tmp_path / "cancelled.tif", reporter=CancelAfter(checks))
        assert not (tmp_path / "cancelled.tif").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["EMIT_L2A_RFL_001_20230801T180000_2321312_004.nc",
                                                          "enmap", "plain.tif", "taken.tif"]  # nothing half-written
    with pytest.raises(SceneReadError, match=r"does not exist"):
        import_scene(tmp_path / "gone.he5", tmp_path / "gone.tif")


def test_import_destination_beside_the_product_reuses_an_earlier_import_and_avoids_other_files(tmp_path, monkeypatch):
    from hypersynth.core.io import convert

    product = write_product("PRISMA L2D", tmp_path)
    first = convert.import_destination(product)
    assert first == convert.ImportDestination(tmp_path / f"{PRISMA_NAME}.tif", earlier=False)
    import_scene(product, first.path)
    assert convert.import_destination(product) == convert.ImportDestination(first.path, earlier=True)
    for name in subdatasets(product):  # from any of its arrays
        assert convert.import_destination(name) == convert.ImportDestination(first.path, earlier=True)
    first.path.rename(tmp_path / "kept.tif")
    first.path.write_bytes(b"another file")  # in the way: the next free name
    assert convert.import_destination(product) == convert.ImportDestination(tmp_path / f"{PRISMA_NAME}_1.tif", False)
    import_scene(write_product("EMIT L2A reflectance", tmp_path / "emit"), tmp_path / f"{PRISMA_NAME}_1.tif")
    assert convert.import_destination(product).path == tmp_path / f"{PRISMA_NAME}_2.tif"  # another scene's import
    (tmp_path / "kept.tif").rename(tmp_path / f"{PRISMA_NAME}_2.tif")
    assert convert.import_destination(product) == convert.ImportDestination(tmp_path / f"{PRISMA_NAME}_2.tif", True)
    monkeypatch.setattr(convert, "write_problem", lambda folder: f"cannot write in {folder}")
    assert convert.import_destination(product) == convert.ImportDestination(None, False)
    with pytest.raises(ValueError, match=r"not an EnMAP, EMIT or PRISMA product"):
        convert.import_destination(tmp_path / "kept.tif")


def test_a_scene_written_as_prisma_l2d_reads_back_within_the_uint16_step(tmp_path):
    from hypersynth.core.demo import make_demo_scene

    demo = make_demo_scene(size=32, bands=40, n_classes=3, seed=2).scene
    scene = read_scene(write_prisma_of(demo, tmp_path / f"{PRISMA_NAME}.he5"))
    assert scene.cube.shape == demo.cube.shape and np.allclose(scene.wavelengths, demo.wavelengths, atol=1e-3)  # float32
    step = 1.1 / 65535  # (high - low) / 65535
    assert np.abs(scene.cube - demo.cube).max() <= step
    assert scene.transform == (demo.transform[0], 30.0, 0.0, demo.transform[3], 0.0, -30.0) and scene.valid.all()
