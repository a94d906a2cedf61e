"""Products read from an order's tar (EnMAP's .tar.gz of product ZIPs) as from the product, or refused saying why."""

import os
import tempfile

import numpy as np
import pytest

from hypersynth.core.cli import main as cli_main
from hypersynth.core.io import product_archives, products
from hypersynth.core.io import convert
from hypersynth.core.io.product_archives import UNPACK_PREFIX, archived_product, archived_products, is_archive
from hypersynth.core.io.read import SceneReadError, read_scene, source_name
from hypersynth.core.progress import CancelAfter, Cancelled

from ..sensor_products import (ENMAP_STEM, PRISMA_NAME, assert_same_scene, enmap_dn, tar_files, write_enmap,
                               write_enmap_quality, write_prisma, zip_files)

ORDER = "dims_op_oc_oc-en_701234567_1.tar.gz"  # as DLR names an EnMAP order
ORDER_FOLDER = "dims_op_oc_oc-en_701234567_1/ENMAP.HSI.L2A/DT0000001867"  # where the product ZIP lies in it


def _enmap_order(tmp_path, name=ORDER):
    """An order holding one EnMAP product ZIP under a few folders, and the product's image (its cloud layer flags
    (0, 0) and (0, 1)) as unpacked by hand."""
    folder = tmp_path / "unpacked" / ENMAP_STEM
    image = write_enmap(folder, enmap_dn())
    cloud = np.zeros((5, 6), np.uint8)
    cloud[0, :2] = 1
    write_enmap_quality(folder, {"QL_QUALITY_CLOUD": cloud})
    product_zip = zip_files(tmp_path / "unpacked" / f"{ENMAP_STEM}.ZIP", sorted(folder.iterdir()), folder=ENMAP_STEM)
    return tar_files(tmp_path / name, [product_zip], folder=ORDER_FOLDER), image


OTHER_STEM = "ENMAP01-____L2A-DT0000001867_20220724T104530Z_009_V010302_20230628T165620Z"  # the next tile


def _two_product_order(tmp_path):
    """An order of two tiles of one data take (ENMAP_STEM, then OTHER_STEM, of other pixels), and each product's
    image as unpacked by hand."""
    images, zips = [], []
    for stem, dn in ((ENMAP_STEM, enmap_dn()), (OTHER_STEM, enmap_dn() + 500)):
        images.append(write_enmap(tmp_path / "unpacked" / stem, dn, stem=stem))
        zips.append(zip_files(tmp_path / "unpacked" / f"{stem}.ZIP", sorted(images[-1].parent.iterdir()), folder=stem))
    return tar_files(tmp_path / ORDER, zips, folder=ORDER_FOLDER), images


def test_one_product_of_an_order_of_several_is_read_by_its_name_and_nothing_is_left(tmp_path, monkeypatch):
    order, (first, second) = _two_product_order(tmp_path)
    opened = []
    real_open = product_archives.tarfile.open
    monkeypatch.setattr(product_archives.tarfile, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    assert [p.name for p in archived_products(order)] == [ENMAP_STEM, OTHER_STEM]
    for stem, image in ((OTHER_STEM, second), (ENMAP_STEM, first)):
        source = f"{order}/{stem}"
        assert products.product_facts(source) == products.ProductFacts("EnMAP L2A", stem, (order,), None)
        scene = read_scene(source)
        assert_same_scene(scene, read_scene(image))
        assert scene.name == stem and scene.source == source and source_name(source) == stem
    assert len([a for a in opened if a[1:] == ("r|*",)]) == 3  # one listing, kept, and one pass per product read
    assert source_name(f"{order}/PRS_L2D_STD_20200524103704_20200524103708_0001.v2") == (
        "PRS_L2D_STD_20200524103704_20200524103708_0001.v2")  # a dot in a product's name is no suffix
    assert not list(tmp_path.rglob(f"{UNPACK_PREFIX}*"))


def test_a_product_name_an_archive_does_not_hold_is_refused_naming_those_it_holds(tmp_path):
    order, _ = _two_product_order(tmp_path)
    absent = f"{order}/ENMAP01-____L2A-DT0000009999_20220724T104526Z_001_V010302_20230628T165614Z"
    with pytest.raises(SceneReadError, match=rf"^{ORDER} holds no product named ENMAP01-____L2A-DT0000009999_.*; it "
                                             rf"holds 2 products \({ENMAP_STEM}, {OTHER_STEM}\)$"):
        read_scene(absent)
    assert products.product_facts(absent) is None
    (tmp_path / "scenes").mkdir()
    for plain in (tmp_path / "scenes" / "cube.tif", tmp_path / "absent.tar.gz" / ENMAP_STEM,
                  tmp_path / "unpacked" / f"{ENMAP_STEM}.ZIP" / "inner" / ENMAP_STEM):  # under no archive
        with pytest.raises(SceneReadError, match=r"the file does not exist$"):
            read_scene(plain)
    zipped = f"/vsizip/{tmp_path / 'scenes.zip'}/cube.tif"  # a zip dragged into QGIS: its layer's source (review)
    with pytest.raises(SceneReadError, match=r"is GDAL's name of a file inside an archive; extract it and give "
                                             r"the file"):
        read_scene(zipped)
    with pytest.raises(SceneReadError, match=r"cannot read the scene /vsicurl/https://example\.org/cube\.tif: it is "
                                             r"GDAL's name of a file online; download it"):  # quoted as given
        read_scene("/vsicurl/https://example.org/cube.tif")
    with pytest.raises(SceneReadError, match=r"GDAL's name of a file inside an archive"):  # a Windows path's form
        read_scene("\\vsizip\\C:\\data\\scenes.zip\\cube.tif")
    prisma = write_prisma(tmp_path / "scenes" / f"{PRISMA_NAME}.he5")  # a ZIP of two products, too
    other = write_prisma(tmp_path / "scenes" / "PRS_L2D_STD_20210101000000_20210101000004_0001.he5")
    two = zip_files(tmp_path / "two.zip", [prisma, other])
    assert_same_scene(read_scene(f"{two}/{PRISMA_NAME}"), read_scene(prisma))
    assert not list(tmp_path.rglob(f"{UNPACK_PREFIX}*"))


def test_import_scene_writes_one_product_of_an_order_of_several_beside_it(tmp_path, capsys):
    order, (_, second) = _two_product_order(tmp_path)
    source = f"{order}/{OTHER_STEM}"
    assert convert.import_destination(source) == convert.ImportDestination(tmp_path / f"{OTHER_STEM}.tif", False)
    out = tmp_path / "x.tif"
    assert cli_main(["import-scene", "--scene", source, "--out", str(out), "--quiet"]) == 0
    assert capsys.readouterr().out == f"imported the EnMAP L2A product {source}\nGeoTIFF: {out}\n"
    assert_same_scene(read_scene(out), read_scene(second))
    assert not list(tmp_path.rglob(f"{UNPACK_PREFIX}*"))


def test_an_enmap_order_reads_as_its_product_with_its_cloud_mask_and_nothing_is_left_beside_it(tmp_path):
    order, image = _enmap_order(tmp_path)
    assert is_archive(order)
    found = archived_product(order)
    assert (found.kind, found.name, found.tar, found.nested_zip) == ("EnMAP L2A", ENMAP_STEM, True, True)
    assert found.member == f"{ORDER_FOLDER}/{ENMAP_STEM}.ZIP"
    scene = read_scene(order)
    assert_same_scene(scene, read_scene(image))  # with the cloud layer the inner ZIP held
    assert not scene.valid[0, :2].any() and scene.valid.sum() == 28
    assert scene.name == ENMAP_STEM and scene.source == str(order)
    assert not list(tmp_path.rglob(f"{UNPACK_PREFIX}*"))


def test_a_tar_holding_a_prisma_he5_directly_and_a_tgz_read_as_the_product(tmp_path):
    (tmp_path / "src").mkdir()
    prisma = write_prisma(tmp_path / "src" / f"{PRISMA_NAME}.he5")
    for name in ("prisma.tar", "prisma.tgz"):
        archive = tar_files(tmp_path / name, [prisma], folder="order")
        assert is_archive(archive) and not archived_product(archive).nested_zip
        assert_same_scene(read_scene(archive), read_scene(prisma))
    assert not list(tmp_path.rglob(f"{UNPACK_PREFIX}*"))


def test_order_facts_come_from_the_names_alone(tmp_path):
    order, _ = _enmap_order(tmp_path)
    assert products.product_facts(order) == products.ProductFacts("EnMAP L2A", ENMAP_STEM, (order,), None)
    prisma_zip = zip_files(tmp_path / f"{PRISMA_NAME}.zip", [write_prisma(tmp_path / f"{PRISMA_NAME}.he5")])
    prisma_order = tar_files(tmp_path / "prisma.tar.gz", [prisma_zip])
    assert products.product_facts(prisma_order) == products.ProductFacts("PRISMA L2D", PRISMA_NAME, (prisma_order,),
                                                                         None)
    notes = tmp_path / "notes.txt"
    notes.write_text("field notes")
    assert products.product_facts(tar_files(tmp_path / "notes.tar.gz", [notes])) is None
    assert not is_archive(notes) and not is_archive(tmp_path / "absent.tar.gz")


def test_orders_with_several_products_none_or_a_damaged_stream_are_refused_with_what_to_do(tmp_path):
    first = zip_files(tmp_path / f"{ENMAP_STEM}.ZIP", [write_enmap(tmp_path / "a", enmap_dn())])
    other = "ENMAP01-____L2A-DT0000001868_20220724T104530Z_009_V010302_20230628T165620Z"
    second = zip_files(tmp_path / f"{other}.ZIP", [write_enmap(tmp_path / "b", enmap_dn())])
    with pytest.raises(SceneReadError, match=rf"two.tar.gz holds 2 products \({ENMAP_STEM}, {other}\); open one of "
                                             rf"them as two.tar.gz/<product name>, e.g. two.tar.gz/{ENMAP_STEM}, or "
                                             r"unpack it$"):
        read_scene(tar_files(tmp_path / "two.tar.gz", [first, second], folder="order"))
    notes = tmp_path / "notes.txt"
    notes.write_text("field notes")
    field_zip = zip_files(tmp_path / "field_photos.zip", [notes])
    with pytest.raises(SceneReadError, match=r"photos.tar.gz holds no EnMAP L2A, PRISMA L2 or EMIT product \(it "
                                             r"holds field_photos.zip, named as no product\); unpack it and open"):
        read_scene(tar_files(tmp_path / "photos.tar.gz", [field_zip, notes]))
    whole = tar_files(tmp_path / "whole.tar.gz", [first]).read_bytes()
    cut = tmp_path / "cut.tar.gz"
    for length in (len(whole) // 2, 100):  # a download that stopped half-way, or almost at once
        cut.write_bytes(whole[:length])
        assert is_archive(cut)
        with pytest.raises(SceneReadError, match=r"cut.tar.gz.*truncated or damaged, download it again"):
            read_scene(cut)
    assert not list(tmp_path.rglob(f"{UNPACK_PREFIX}*"))


def test_a_zip_named_as_a_product_but_holding_none_is_refused_naming_the_order(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("field notes")
    fake = zip_files(tmp_path / f"{ENMAP_STEM}.ZIP", [notes])
    order = tar_files(tmp_path / ORDER, [fake])
    assert products.product_facts(order).kind == "EnMAP L2A"  # its name says so; only unpacking tells
    with pytest.raises(SceneReadError, match=rf"^{ORDER}: {ENMAP_STEM}.ZIP holds no EnMAP L2A, PRISMA L2 or EMIT"):
        read_scene(order)
    assert not list(tmp_path.rglob(f"{UNPACK_PREFIX}*"))


def test_an_order_in_a_folder_that_cannot_be_written_is_unpacked_in_the_system_temporary_folder(tmp_path, monkeypatch):
    order, image = _enmap_order(tmp_path)
    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    monkeypatch.setattr(product_archives, "write_problem",  # root writes anywhere: the folder is said read-only
                        lambda folder: f"cannot write in {folder}" if folder == tmp_path else None)
    read_from = []
    read_product = products.read_product
    monkeypatch.setattr(products, "read_product", lambda main, **kw: read_from.append(main) or read_product(main, **kw))
    assert_same_scene(read_scene(order), read_scene(image))
    assert read_from[0].parent.parent.parent == system_temp  # in the unpacked ZIP's folder, in the tar's
    assert not list(tmp_path.rglob(f"{UNPACK_PREFIX}*"))


def test_import_scene_writes_an_order_as_its_product(tmp_path, capsys):
    order, image = _enmap_order(tmp_path)
    out = tmp_path / "scene.tif"
    assert cli_main(["import-scene", "--scene", str(order), "--out", str(out), "--quiet"]) == 0
    assert capsys.readouterr().out == f"imported the EnMAP L2A product {order}\nGeoTIFF: {out}\n"
    assert_same_scene(read_scene(out), read_scene(image))


def test_an_order_is_listed_once_for_its_facts_and_its_reading(tmp_path, monkeypatch):
    order, image = _enmap_order(tmp_path, "listed_once.tar.gz")
    opened = []
    real_open = product_archives.tarfile.open
    monkeypatch.setattr(product_archives.tarfile, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    assert products.product_facts(order).name == ENMAP_STEM  # the dock asks first, on QGIS's main thread
    assert_same_scene(read_scene(order), read_scene(image))  # then the import task reads it
    passes = [a for a in opened if a[1:] == ("r|*",)]  # is_tarfile's opens read the first header only
    assert len(passes) == 2  # one listing, kept, and one pass that unpacks the product ZIP


def test_an_order_zipped_again_reads_as_its_product(tmp_path):
    order, image = _enmap_order(tmp_path)
    product_zip = next((tmp_path / "unpacked").glob("*.ZIP"))
    zipped = zip_files(tmp_path / "order.zip", [product_zip], folder="ENMAP.HSI.L2A")
    found = archived_product(zipped)
    assert (found.name, found.tar, found.nested_zip) == (ENMAP_STEM, False, True)
    assert products.product_facts(zipped) == products.ProductFacts("EnMAP L2A", ENMAP_STEM, (zipped,), None)
    assert_same_scene(read_scene(zipped), read_scene(image))
    assert not list(tmp_path.rglob(f"{UNPACK_PREFIX}*"))


def test_an_order_of_many_products_names_every_one_so_that_one_can_be_opened(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("the order's products, by name only: the refusal reads no ZIP")
    names = [f"PRS_L2D_STD_2020052{i}103704_2020052{i}103708_0001" for i in range(6)]
    order = tar_files(tmp_path / "six.tar.gz", [zip_files(tmp_path / f"{n}.zip", [notes]) for n in names])
    with pytest.raises(SceneReadError, match=r"six.tar.gz holds 6 products") as refused:
        read_scene(order)
    assert all(name in str(refused.value) for name in names)


def test_an_order_needs_listing_once_as_it_is_and_again_when_it_changes(tmp_path):
    order, _ = _enmap_order(tmp_path, "to_list.tar.gz")
    assert product_archives.needs_listing(order)  # a .tar.gz is read whole to find its products
    assert [p.name for p in product_archives.archived_products(order)] == [ENMAP_STEM]
    assert not product_archives.needs_listing(order)
    os.utime(order, ns=(order.stat().st_atime_ns, order.stat().st_mtime_ns + 10**9))  # downloaded again
    assert product_archives.needs_listing(order)
    product_zip = next((tmp_path / "unpacked").glob("*.ZIP"))
    assert not product_archives.needs_listing(product_zip)  # a ZIP lists its members from its end
    assert not product_archives.needs_listing(tmp_path / "absent.tar.gz")


def test_listing_an_order_reports_how_much_is_read_and_stops_when_cancelled_keeping_nothing(tmp_path):
    order, _ = _enmap_order(tmp_path, "big_order.tar.gz")
    stopped = CancelAfter(2)  # the second block read: inside the product ZIP, long before the stream's end
    with pytest.raises(Cancelled):
        product_archives.archived_products(order, stopped)
    assert stopped.checks == 2
    assert product_archives.needs_listing(order)  # nothing half-listed is kept
    heard = []

    class Heard(CancelAfter):
        def progress(self, fraction, stage):
            heard.append((fraction, stage))

    assert [p.name for p in product_archives.archived_products(order, Heard(10**6))] == [ENMAP_STEM]
    fractions = [f for f, _ in heard]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0  # the whole file, in order
    assert {stage for _, stage in heard} == {"reading"}
    assert not product_archives.needs_listing(order)


@pytest.mark.parametrize("zipped_again", [False, True])
def test_reading_an_order_reports_its_unpacking_and_a_cancel_there_leaves_nothing(tmp_path, zipped_again):
    order, image = _enmap_order(tmp_path)
    if zipped_again:  # an order zipped again: the product ZIP, then the product from it (each half of the progress)
        order = zip_files(tmp_path / "order.zip", [next((tmp_path / "unpacked").glob("*.ZIP"))])
    product_archives.archived_products(order)  # listed first, as the dock does: the reading below unpacks only

    class Counting(CancelAfter):
        heard: list = []

        def progress(self, fraction, stage):
            self.heard.append((round(fraction, 6), stage))

    counting = Counting(10**6)
    assert_same_scene(read_scene(order, reporter=counting), read_scene(image))
    assert {stage for _, stage in counting.heard} == {"unpacking"}
    fractions = [f for f, _ in counting.heard]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0  # the last member written ends it
    if zipped_again:
        assert any(0.0 < f <= 0.5 for f in fractions) and any(0.5 < f < 1.0 for f in fractions)
    stopped = CancelAfter(counting.checks - 1)  # the last block of the unpacking: its folder exists, half written
    with pytest.raises(Cancelled):
        read_scene(order, reporter=stopped)
    assert not list(tmp_path.rglob(f"{UNPACK_PREFIX}*"))  # the half-unpacked product is removed


def test_importing_an_order_reports_its_unpacking_within_the_reading_stage(tmp_path):
    order, _ = _enmap_order(tmp_path)
    heard = []

    class Heard(CancelAfter):
        def progress(self, fraction, stage):
            heard.append((fraction, stage))

    convert.import_scene(order, tmp_path / "imported.tif", reporter=Heard(10**6))
    reading = f"reading the EnMAP L2A product {ENMAP_STEM}"
    unpacking = [f for f, stage in heard if stage == f"{reading}: unpacking"]
    assert unpacking and 0.0 < max(unpacking) <= convert.READ_SHARE
    assert heard[0] == (0.0, reading) and heard[-1] == (1.0, "written imported.tif")
