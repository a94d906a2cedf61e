"""A sensor product's own cloud masks leave its cloudy pixels out; products are read from their ZIP as ordered."""

import logging

import numpy as np
import pytest
import rasterio

from hypersynth.core.cli import main as cli_main
from hypersynth.core.io import convert, products
from hypersynth.core.io.convert import import_scene
from hypersynth.core.io.product_archives import UNPACK_PREFIX
from hypersynth.core.io.read import SceneReadError, read_scene

from ..sensor_products import (EMIT_GLT_X, EMIT_GLT_Y, EMIT_MASK_NAME, EMIT_NAME, ENMAP_STEM,
                               PRISMA_NAME, assert_same_scene, emit_swath, enmap_dn, write_emit, write_emit_mask,
                               write_enmap, write_enmap_quality, write_prisma,
                               zip_files)


def _enmap_with_quality(folder):
    """An EnMAP product whose QL layers flag: cloud at (0, 0), (0, 1); shadow at (1, 0); thin cirrus at (2, 2),
    thick cirrus at (3, 3); snow at (4, 4) (kept)."""
    image = write_enmap(folder, enmap_dn())
    zeros = np.zeros((5, 6), np.uint8)
    cloud, shadow, cirrus, snow = zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy()
    cloud[0, :2] = 1
    shadow[1, 0] = 1
    cirrus[2, 2], cirrus[3, 3] = 1, 3
    snow[4, 4] = 1
    write_enmap_quality(folder, {"QL_QUALITY_CLOUD": cloud, "QL_QUALITY_CLOUDSHADOW": shadow,
                                 "QL_QUALITY_CIRRUS": cirrus, "QL_QUALITY_SNOW": snow})
    return image


LEFT_OUT = [(0, 0), (0, 1), (1, 0), (3, 3)]


# --------------------------------------------------------------------------- EnMAP L2A


def test_enmap_clouds_shadows_and_thicker_cirrus_are_left_out_and_counted(tmp_path, caplog):
    image = _enmap_with_quality(tmp_path / "product")
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        scene = read_scene(image)
    expected = np.ones((5, 6), bool)
    for cell in LEFT_OUT:
        expected[cell] = False
    np.testing.assert_array_equal(scene.valid, expected)
    assert np.all(scene.cube[:, ~expected] == 0)  # a scene's invalid pixels hold 0
    kept = read_scene(image, quality_masks=False)
    assert kept.valid.all()
    np.testing.assert_array_equal(scene.cube[:, expected], kept.cube[:, expected])  # the other pixels as they were
    assert (f"{ENMAP_STEM}: 4 pixels (13.3 %) that the product's quality masks ({ENMAP_STEM}-QL_QUALITY_CLOUD.TIF, "
            f"{ENMAP_STEM}-QL_QUALITY_CLOUDSHADOW.TIF, {ENMAP_STEM}-QL_QUALITY_CIRRUS.TIF) flag as cloud, cloud "
            f"shadow or medium or thick cirrus are left out as no data") in caplog.text
    assert "--keep-flagged-pixels" in caplog.text


def test_enmap_without_quality_layers_says_clouds_stay_and_a_layer_on_another_grid_is_not_used(tmp_path, caplog):
    bare = write_enmap(tmp_path / "bare", enmap_dn())
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        assert read_scene(bare).valid.all()
    assert "no QL_QUALITY_CLOUD, _CLOUDSHADOW or _CIRRUS layer is beside the image, so cloudy pixels are not left " \
           "out; copy the whole product folder" in caplog.text
    caplog.clear()
    image = write_enmap(tmp_path / "odd", enmap_dn())
    write_enmap_quality(tmp_path / "odd", {"QL_QUALITY_CLOUD": np.ones((10, 12), np.uint8),
                                           "QL_QUALITY_CLOUDSHADOW": np.eye(5, 6, dtype=np.uint8)})
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        scene = read_scene(image)
    said = "QL_QUALITY_CLOUD.TIF is 10 × 12 pixels, the image 5 × 6: the pixels it flags as cloud are not left out"
    assert said in caplog.text
    np.testing.assert_array_equal(scene.valid, ~np.eye(5, 6, dtype=bool))  # the shadow layer that fits is used
    caplog.clear()
    clear = write_enmap(tmp_path / "clear", enmap_dn())
    write_enmap_quality(tmp_path / "clear", {"QL_QUALITY_CLOUD": np.zeros((5, 6), np.uint8)})
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        assert read_scene(clear).valid.all()
    assert caplog.text == ""  # a clear scene: nothing to warn of


# --------------------------------------------------------------------------- EMIT


def _emit_flags(lines=4, samples=3):
    """v001 mask bands: cloud at swath (0, 0), water at (1, 1) (kept), dilated cloud at (2, 2), AOD everywhere."""
    flags = np.zeros((lines, samples, 8), np.float32)
    flags[0, 0, 0] = 1  # Cloud flag
    flags[1, 1, 2] = 1  # Water flag: water is land cover
    flags[2, 2, 4] = 1  # Dilated Cloud Flag
    flags[:, :, 5] = 0.7  # AOD550, a value, not a flag
    flags[:, :, 7] = flags[:, :, :5].max(axis=2)  # Aggregate Flag (includes water): not used
    return flags


def _ortho(swath_flags):
    """Where the test GLT shows a flagged swath pixel."""
    shown = (EMIT_GLT_X > 0) & (EMIT_GLT_Y > 0)
    out = np.zeros(EMIT_GLT_X.shape, bool)
    out[shown] = swath_flags[EMIT_GLT_Y[shown] - 1, EMIT_GLT_X[shown] - 1]
    return out


def test_emit_mask_granule_beside_the_granule_flags_clouds_through_the_glt_and_keeps_water(tmp_path, caplog):
    granule = write_emit(tmp_path / f"{EMIT_NAME}.nc", emit_swath())
    write_emit_mask(tmp_path / f"{EMIT_MASK_NAME}.nc", _emit_flags())
    kept = read_scene(granule, quality_masks=False)
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        scene = read_scene(granule)
    flagged_swath = np.zeros((4, 3), bool)
    flagged_swath[0, 0] = flagged_swath[2, 2] = True
    np.testing.assert_array_equal(scene.valid, kept.valid & ~_ortho(flagged_swath))
    assert _ortho(flagged_swath).sum() == 2
    assert f"{EMIT_NAME}: 2 pixels (6.7 %) that the product's quality masks ({EMIT_MASK_NAME}.nc) flag as cloud, " \
           f"cirrus, spacecraft or cloud buffer are left out" in caplog.text
    water = np.zeros((4, 3), bool)
    water[1, 1] = True
    assert _ortho(water).any() and scene.valid[_ortho(water)].all()


def test_emit_mask_bands_are_chosen_by_name_and_a_mask_that_does_not_fit_is_said(tmp_path, caplog):
    granule = write_emit(tmp_path / f"{EMIT_NAME}.nc", emit_swath())
    v003 = ("Cloud Flag", "Cirrus Flag", "Water Flag", "Dilated Cloud Flag", "SpecTf-Cloud Probability",
            "SpecTf-Cloud Flag", "SpecTf-Buffer Distance")
    flags = np.zeros((4, 3, 7), np.float32)
    flags[3, 0, 5] = 1  # SpecTf-Cloud Flag
    flags[:, :, 4] = 0.9  # a probability, not a flag
    flags[0, 1, 2] = 1  # water
    mask = write_emit_mask(tmp_path / f"{EMIT_MASK_NAME}.nc", flags, names=v003)
    swath = np.zeros((4, 3), bool)
    swath[3, 0] = True
    np.testing.assert_array_equal(~read_scene(granule).valid & read_scene(granule, quality_masks=False).valid,
                                  _ortho(swath))
    write_emit_mask(mask, _emit_flags(), names=None)  # an older granule that does not name its 8 bands: v001's
    swath = np.zeros((4, 3), bool)
    swath[0, 0] = swath[2, 2] = True
    np.testing.assert_array_equal(~read_scene(granule).valid & read_scene(granule, quality_masks=False).valid,
                                  _ortho(swath))
    write_emit_mask(mask, _emit_flags(lines=6))  # another swath
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        assert read_scene(granule).valid.sum() == read_scene(granule, quality_masks=False).valid.sum()
    assert f"{EMIT_MASK_NAME}.nc is not the MASK granule of this 4 × 3 swath (its mask is 6×3×8): clouds are not " \
           f"left out" in caplog.text
    caplog.clear()
    mask.unlink()
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        read_scene(granule)
    assert "the L2A MASK granule of this acquisition is not beside it, so cloudy pixels are not left out" in caplog.text


# --------------------------------------------------------------------------- importing, on the command line too


def test_import_writes_flagged_pixels_as_no_data_unless_asked_to_keep_them(tmp_path, caplog):
    image = _enmap_with_quality(tmp_path / "product")
    masked, everything = tmp_path / "masked.tif", tmp_path / "everything.tif"
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        assert cli_main(["import-scene", "--scene", str(image), "--out", str(masked), "--quiet"]) == 0
    assert "4 pixels (13.3 %)" in caplog.text
    assert cli_main(["import-scene", "--scene", str(image), "--out", str(everything), "--quiet",
                     "--keep-flagged-pixels"]) == 0
    with rasterio.open(masked) as ds:
        band = ds.read(1)
        assert all(band[cell] == ds.nodata for cell in LEFT_OUT) and (band != ds.nodata).sum() == 26
        assert ds.tags()[convert.PRODUCT_TAG] == ENMAP_STEM
    assert read_scene(everything).valid.all()
    assert_same_scene(read_scene(masked), read_scene(image))


# --------------------------------------------------------------------------- products in their ZIP


def test_products_are_read_from_their_zip_as_unpacked_and_nothing_is_left_behind(tmp_path, caplog):
    folder = tmp_path / ENMAP_STEM
    image = _enmap_with_quality(folder)
    enmap_zip = zip_files(tmp_path / f"{ENMAP_STEM}.ZIP", sorted(folder.iterdir()), folder=ENMAP_STEM)
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        scene = read_scene(enmap_zip)
    assert_same_scene(scene, read_scene(image))  # with the QL layers it held
    assert "4 pixels (13.3 %)" in caplog.text
    assert scene.name == ENMAP_STEM and scene.source == str(enmap_zip)
    prisma = write_prisma(tmp_path / f"{PRISMA_NAME}.he5")
    prisma_zip = zip_files(tmp_path / f"{PRISMA_NAME}.zip", [prisma])
    assert_same_scene(read_scene(prisma_zip), read_scene(prisma))
    emit_folder = tmp_path / "emit"
    emit_folder.mkdir()
    granule = write_emit(emit_folder / f"{EMIT_NAME}.nc", emit_swath())
    write_emit_mask(emit_folder / f"{EMIT_MASK_NAME}.nc", _emit_flags())
    emit_zip = zip_files(tmp_path / "emit.zip", sorted(emit_folder.iterdir()))  # the granule and its MASK granule
    assert_same_scene(read_scene(emit_zip), read_scene(granule))
    assert not list(tmp_path.rglob(f"{UNPACK_PREFIX}*"))  # every unpacked copy removed


def test_zip_facts_import_and_reuse_of_the_earlier_import(tmp_path):
    (tmp_path / "src").mkdir()
    prisma_zip = zip_files(tmp_path / f"{PRISMA_NAME}.zip", [write_prisma(tmp_path / "src" / f"{PRISMA_NAME}.he5")])
    facts = products.product_facts(prisma_zip)
    assert facts == products.ProductFacts("PRISMA L2D", PRISMA_NAME, (prisma_zip,), None)  # HDF5 in a ZIP: no shape
    assert products.product_kind(prisma_zip) == "PRISMA L2D"
    first = convert.import_destination(prisma_zip)
    assert first == convert.ImportDestination(tmp_path / f"{PRISMA_NAME}.tif", earlier=False)
    import_scene(prisma_zip, first.path)
    assert convert.import_destination(prisma_zip) == convert.ImportDestination(first.path, earlier=True)  # by name
    other = tmp_path / "other.tif"
    import_scene(tmp_path / "src" / f"{PRISMA_NAME}.he5", other)
    with rasterio.open(other, "r+") as ds:
        ds.update_tags(**{convert.PRODUCT_TAG: "another product"})
    other.replace(first.path)  # a GeoTIFF of another product in the way: the next free name
    assert convert.import_destination(prisma_zip).path == tmp_path / f"{PRISMA_NAME}_1.tif"
    folder = tmp_path / ENMAP_STEM
    enmap_zip = zip_files(tmp_path / "order.zip", sorted(write_enmap(folder, enmap_dn()).parent.iterdir()), ENMAP_STEM)
    assert products.product_facts(enmap_zip) == products.ProductFacts("EnMAP L2A", ENMAP_STEM, (enmap_zip,),
                                                                      (12, 5, 6))  # GDAL reads a TIF in a ZIP


def test_zips_that_hold_no_product_several_or_a_damaged_one_are_refused_with_what_to_do(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("field notes")
    empty = zip_files(tmp_path / "notes.zip", [notes])
    with pytest.raises(SceneReadError, match=r"notes.zip holds no EnMAP L2A, PRISMA L2 or EMIT product; unpack it"):
        read_scene(empty)
    assert products.product_facts(empty) is None
    a = write_prisma(tmp_path / f"{PRISMA_NAME}.he5")
    b = write_prisma(tmp_path / "PRS_L2D_STD_20210101000000_20210101000004_0001.he5")
    with pytest.raises(SceneReadError, match=rf"two.zip holds 2 products \(PRS_L2D.*\); open one of them as "
                                             rf"two.zip/<product name>, e.g. two.zip/{PRISMA_NAME}, or unpack it"):
        read_scene(zip_files(tmp_path / "two.zip", [a, b]))
    fake = tmp_path / "PRS_L2D_STD_20220101000000_20220101000004_0001.he5"
    fake.write_bytes(b"not HDF5")
    with pytest.raises(SceneReadError, match=r"is named as a PRISMA L2D product but is none"):
        read_scene(zip_files(tmp_path / "fake.zip", [fake]))
    whole = zip_files(tmp_path / "whole.zip", [a]).read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[: len(whole) // 2])  # a download that stopped half-way: no ZIP directory at the end
    with pytest.raises(SceneReadError, match=r"cut.zip"):
        read_scene(cut)
    assert not list(tmp_path.rglob(f"{UNPACK_PREFIX}*"))
