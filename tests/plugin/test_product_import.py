"""Sensor products (EnMAP L2A, EMIT, PRISMA) imported as a GeoTIFF with wavelengths: by Processing and by the Scene
panel's Open file…, which converts a product once in a QgsTask and opens the GeoTIFF as the scene."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from qgis.core import (QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback,
                       QgsProcessingOutputLayerDefinition, QgsProject)

import processing
from hypersynth.core.io.read import opened_quietly, read_scene

from ..sensor_products import (EMIT_NAME, ENMAP_STEM, PRISMA_NAME, PRODUCTS, assert_same_scene, subdatasets,
                               write_prisma, write_product)
from .conftest import CancelAfterProgress, RecordingFeedback, wait_until

pytestmark = pytest.mark.usefixtures("close_layers")


def _imported(panel, timeout: float = 60.0) -> None:
    """Wait for the panel's imports to end, as the task manager runs them."""
    assert wait_until(lambda: not panel.imports.running, timeout=timeout), panel.note.text()


def _two_tile_order(tmp_path) -> tuple[Path, str, Path]:
    """An EnMAP order of two tiles (ENMAP_STEM, then another of other pixels): the order, the second tile's name and
    its image as unpacked by hand."""
    from ..sensor_products import enmap_dn, tar_files, write_enmap, zip_files

    other = "ENMAP01-____L2A-DT0000001867_20220724T104530Z_009_V010302_20230628T165620Z"
    images = {stem: write_enmap(tmp_path / "product" / stem, dn, stem=stem)
              for stem, dn in ((ENMAP_STEM, enmap_dn()), (other, enmap_dn() + 500))}
    zips = [zip_files(tmp_path / "product" / f"{stem}.ZIP", sorted(image.parent.iterdir()), folder=stem)
            for stem, image in images.items()]
    order = tar_files(tmp_path / "dims_op_oc_oc-en_701234567_1.tar.gz", zips, folder="ENMAP.HSI.L2A")
    return order, other, images[other]


# --- Processing ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", PRODUCTS)
def test_processing_imports_each_product_as_a_geotiff_named_after_it(hypersynth_plugin, kind, tmp_path):
    product = write_product(kind, tmp_path / "product")
    out = str(tmp_path / "imported.tif")
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    result = processing.run("hypersynth:importscene", {
        "INPUT": str(product), "OUTPUT": QgsProcessingOutputLayerDefinition(out, QgsProject.instance())},
        context=context)
    assert result["OUTPUT"] == out
    assert_same_scene(read_scene(out), read_scene(product))
    assert read_scene(out).wavelengths is not None
    name = {"EnMAP L2A": ENMAP_STEM, "EMIT L2A reflectance": EMIT_NAME, "PRISMA L2D": PRISMA_NAME}[kind]
    assert context.layerToLoadOnCompletionDetails(out).name == name  # the layer Processing loads


def test_processing_import_errors_and_cancel(hypersynth_plugin, tmp_path):
    broken = write_prisma(tmp_path / "broken.he5", drop=("L2ScaleSwirMax",))
    with pytest.raises(QgsProcessingException, match=r"broken.he5 is a PRISMA L2D product, but L2ScaleSwirMax is "
                                                     r"missing from it; download the product again"):
        processing.run("hypersynth:importscene", {"INPUT": str(broken), "OUTPUT": str(tmp_path / "broken.tif")})
    product = write_product("EMIT L2A reflectance", tmp_path)
    with pytest.raises(QgsProcessingException, match=r"cancelled by the user; no output was written"):
        processing.run("hypersynth:importscene", {"INPUT": str(product), "OUTPUT": str(tmp_path / "emit.tif")},
                       feedback=CancelAfterProgress(1))
    (tmp_path / "out.tif").write_bytes(b"the analyst's file")  # refused before it is read
    with pytest.raises(QgsProcessingException, match=r"the Imported scene destination is your Scene or sensor "
                                                     r"product file"):
        processing.run("hypersynth:importscene", {"INPUT": str(tmp_path / "out.tif"),
                                                  "OUTPUT": str(tmp_path / "out.tif")})
    assert (tmp_path / "out.tif").read_bytes() == b"the analyst's file"
    with pytest.raises(QgsProcessingException, match=r"Bands to leave out \(LEAVE_OUT_BANDS\): '20-10' runs from "
                                                     r"high to low; give the lower end first \(10-20\)"):
        processing.run("hypersynth:importscene", {"INPUT": str(product), "LEAVE_OUT_BANDS": "20-10",
                                                  "OUTPUT": str(tmp_path / "emit.tif")})
    with pytest.raises(QgsProcessingException, match=r"Bands to leave out \(LEAVE_OUT_BANDS\): band 999 is not in the "
                                                     r"scene: its bands are numbered 1 to \d+"):  # once it is read
        processing.run("hypersynth:importscene", {"INPUT": str(product), "LEAVE_OUT_BANDS": "999",
                                                  "OUTPUT": str(tmp_path / "emit.tif")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["EMIT_L2A_RFL_001_20230801T180000_2321312_004.nc",
                                                          "broken.he5", "out.tif"]


def test_processing_import_flags_the_bands_to_leave_out_and_logs_which(hypersynth_plugin, tmp_path):
    from hypersynth.core.io.band_choice import bands_left_out, describe_bands

    product = write_product("PRISMA L2D", tmp_path / "product")
    scene = read_scene(product)
    low, high = scene.wavelengths[[5, 8]]
    feedback = RecordingFeedback()
    out = str(tmp_path / "imported.tif")
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    processing.run("hypersynth:importscene", {"INPUT": str(product), "LEAVE_OUT_BANDS": f"1, {low - 0.01:.2f}-"
                                              f"{high + 0.01:.2f}nm",
                                              "OUTPUT": QgsProcessingOutputLayerDefinition(out, QgsProject.instance())},
                   context=context, feedback=feedback)
    usable = int((scene.good_bands & ~np.isin(np.arange(scene.bands), [0, 5, 6, 7, 8])).sum())
    assert context.layerToLoadOnCompletionDetails(out).name == f"{PRISMA_NAME} ({usable} of {scene.bands} bands)"
    imported = read_scene(out)
    left_out = np.isin(np.arange(scene.bands), [0, 5, 6, 7, 8])
    assert np.array_equal(imported.good_bands, scene.good_bands & ~left_out)
    assert np.array_equal(imported.cube, scene.cube)  # their values written as they were
    said = describe_bands(bands_left_out(f"1, {low - 0.01:.2f}-{high + 0.01:.2f}nm", scene.bands, scene.wavelengths),
                          scene.wavelengths)
    assert any(line.endswith(f"; {said} flagged bad") for line in feedback.infos), feedback.infos


def test_processing_imports_one_product_of_an_order_and_cancels_while_listing_or_unpacking(hypersynth_plugin,
                                                                                          tmp_path):
    from hypersynth.core.io import product_archives

    from .conftest import RecordingFeedback

    order, other, image = _two_tile_order(tmp_path)
    product = str(order / other)  # one product of the order, by its name
    for stage in ("listing the order: reading", "unpacking"):  # Cancel pressed as the stage shows in the log
        feedback = QgsProcessingFeedback()
        pushed = []

        def push(text, feedback=feedback, pushed=pushed, stage=stage):
            pushed.append(text)
            if text.endswith(stage):
                feedback.cancel()

        feedback.pushInfo = push
        with pytest.raises(QgsProcessingException, match=r"cancelled by the user; no output was written"):
            processing.run("hypersynth:importscene", {"INPUT": product, "OUTPUT": str(tmp_path / "tile.tif")},
                           feedback=feedback)
        assert pushed[-1].endswith(stage), pushed  # stopped there
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([order.name, "product"])  # nothing left
    assert not product_archives.needs_listing(order)  # the second try listed it whole, then stopped unpacking
    feedback = RecordingFeedback()
    processing.run("hypersynth:importscene", {"INPUT": product, "OUTPUT": str(tmp_path / "tile.tif")},
                   feedback=feedback)
    assert_same_scene(read_scene(tmp_path / "tile.tif"), read_scene(image))


def test_processing_leaves_out_what_the_quality_masks_flag_unless_unticked(hypersynth_plugin, tmp_path):
    import numpy as np

    from ..sensor_products import enmap_dn, write_enmap, write_enmap_quality

    image = write_enmap(tmp_path / "product", enmap_dn())
    cloud = np.zeros((5, 6), np.uint8)
    cloud[2, 1:4] = 1
    write_enmap_quality(tmp_path / "product", {"QL_QUALITY_CLOUD": cloud})
    feedback = RecordingFeedback()
    processing.run("hypersynth:importscene", {"INPUT": str(image), "OUTPUT": str(tmp_path / "masked.tif")},
                   feedback=feedback)
    assert np.array_equal(read_scene(tmp_path / "masked.tif").valid, cloud == 0)
    assert any("3 pixels (10.0 %)" in w and "flag as cloud" in w for w in feedback.warnings), feedback.warnings
    processing.run("hypersynth:importscene", {"INPUT": str(image), "QUALITY_MASKS": False,
                                              "OUTPUT": str(tmp_path / "everything.tif")})
    assert read_scene(tmp_path / "everything.tif").valid.all()


def test_processing_imports_one_product_of_an_order_named_inside_it(hypersynth_plugin, tmp_path):
    order, other, image = _two_tile_order(tmp_path)
    out = str(tmp_path / "tile.tif")
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    processing.run("hypersynth:importscene", {
        "INPUT": f"{order}/{other}", "OUTPUT": QgsProcessingOutputLayerDefinition(out, QgsProject.instance())},
        context=context)
    assert_same_scene(read_scene(out), read_scene(image))
    assert context.layerToLoadOnCompletionDetails(out).name == other


# --- the Scene panel's Open file… --------------------------------------------------------------------------------
def test_open_file_imports_a_prisma_product_once_and_opens_its_geotiff_as_the_scene(qgis_new_project, tmp_path, panel):
    product = write_product("PRISMA L2D", tmp_path)
    assert panel.open_file(str(product), qgis_new_project) is None  # the import runs in the task manager
    assert panel.note.text() == (f"Importing the PRISMA L2D product {product.name} as {tmp_path / PRISMA_NAME}.tif … "
                                 "(progress and Cancel in QGIS's task manager)")
    _imported(panel)
    target = tmp_path / f"{PRISMA_NAME}.tif"
    layer = panel.scene_layer()
    assert layer is not None and layer.source() == str(target) and layer.name() == PRISMA_NAME
    assert list(qgis_new_project.mapLayers().values()) == [layer]  # no view of the .he5 itself
    assert layer.bandCount() == 12 and panel.fact_labels["wavelengths"].text() == "500–2400 nm"
    assert panel.note.text() == f"Imported the PRISMA L2D product {product.name} as {target}, with its wavelengths."
    assert_same_scene(read_scene(target), read_scene(product))

    written = target.stat().st_mtime_ns  # opened again: the earlier import, at once
    again = panel.open_file(str(product), qgis_new_project)
    assert again is not None and again.source() == str(target) and panel.scene_layer() is again
    assert not panel.imports.running and target.stat().st_mtime_ns == written
    assert panel.note.text() == (f"Opened {target.name}, the GeoTIFF of the PRISMA L2D product {product.name} "
                                 "imported earlier.")

    target.unlink()  # another file in the way: the next free name
    target.write_bytes(b"not this product")
    assert panel.open_file(str(product), qgis_new_project) is None
    _imported(panel)
    assert panel.scene_layer().source() == str(tmp_path / f"{PRISMA_NAME}_1.tif")
    assert target.read_bytes() == b"not this product"


@pytest.mark.parametrize("as_ordered", ["zip", "order tar.gz"])
def test_open_file_imports_an_enmap_product_as_ordered_and_says_what_its_cloud_mask_left_out(qgis_new_project,
                                                                                             tmp_path, panel,
                                                                                             as_ordered):
    import numpy as np

    from ..sensor_products import enmap_dn, tar_files, write_enmap, write_enmap_quality, zip_files

    folder = tmp_path / "product" / ENMAP_STEM
    write_enmap(folder, enmap_dn())
    cloud = np.zeros((5, 6), np.uint8)
    cloud[0, :2] = 1
    write_enmap_quality(folder, {"QL_QUALITY_CLOUD": cloud})
    if as_ordered == "zip":  # the product's own ZIP
        archive = zip_files(tmp_path / f"{ENMAP_STEM}.ZIP", sorted(folder.iterdir()), folder=ENMAP_STEM)
    else:  # DLR's order: a .tar.gz of product ZIPs
        product_zip = zip_files(tmp_path / "product" / f"{ENMAP_STEM}.ZIP", sorted(folder.iterdir()),
                                folder=ENMAP_STEM)
        archive = tar_files(tmp_path / "dims_op_oc_oc-en_701234567_1.tar.gz", [product_zip], folder="ENMAP.HSI.L2A")
    assert panel.open_file(str(archive), qgis_new_project) is None
    _imported(panel)
    target = tmp_path / f"{ENMAP_STEM}.tif"
    layer = panel.scene_layer()
    assert layer is not None and layer.source() == str(target) and layer.name() == ENMAP_STEM
    assert np.array_equal(read_scene(target).valid, cloud == 0)
    assert panel.note.text().startswith(f"Imported the EnMAP L2A product {archive.name} as {target}, with its "
                                        f"wavelengths. {ENMAP_STEM}: 2 pixels (6.7 %) that the product's quality masks")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([archive.name, target.name, "product"])  # nothing unpacked is left beside it
    again = panel.open_file(str(archive), qgis_new_project)  # the earlier import, found by the product's name
    assert again is not None and again.source() == str(target) and not panel.imports.running


def test_open_file_on_an_order_of_several_products_asks_which_and_imports_it_beside_the_order(qgis_new_project,
                                                                                               tmp_path, panel,
                                                                                               monkeypatch):
    import hypersynth.ui.scene_panel as scene_panel

    order, other, image = _two_tile_order(tmp_path)
    asked = []

    def pick(parent, title, label, items, current, editable):
        asked.append((title, label, items))
        return items[1], True

    monkeypatch.setattr(scene_panel.QInputDialog, "getItem", pick)
    assert panel.open_file(str(order), qgis_new_project) is None  # the order is listed in a task, then asked of
    assert not asked and panel.note.text().startswith(f"Reading {order.name} to list its products")
    _imported(panel)  # the listing, the question, then the import of the product chosen
    assert asked == [("Open a product of the order", f"{order.name} holds 2 products; which one do you open?",
                      [ENMAP_STEM, other])]
    target = tmp_path / f"{other}.tif"
    layer = panel.scene_layer()
    assert layer is not None and layer.source() == str(target) and layer.name() == other
    assert_same_scene(read_scene(target), read_scene(image))
    assert panel.note.text().startswith(f"Imported the EnMAP L2A product {other} as {target}, with its wavelengths.")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([order.name, target.name, "product"])
    again = panel.open_file(str(order), qgis_new_project)  # asked again; that product's earlier import, at once
    assert again is not None and again.source() == str(target) and not panel.imports.running and len(asked) == 2


def test_cancelling_the_choice_of_a_product_opens_nothing(qgis_new_project, tmp_path, panel, monkeypatch):
    import hypersynth.ui.scene_panel as scene_panel

    order, _, _ = _two_tile_order(tmp_path)
    monkeypatch.setattr(scene_panel.QInputDialog, "getItem", lambda *a, **k: ("", False))
    assert panel.open_file(str(order), qgis_new_project) is None
    _imported(panel)  # the listing's task
    assert panel.scene_layer() is None and not qgis_new_project.mapLayers()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([order.name, "product"])


def test_an_orders_listing_is_cancelled_from_the_task_manager_mid_read(qgis_new_project, tmp_path, panel,
                                                                       monkeypatch):
    from hypersynth.core.io import product_archives

    order, _, _ = _two_tile_order(tmp_path)
    started, release = threading.Event(), threading.Event()
    real = product_archives._WatchedFile.read

    def held(self, size=-1):  # the first block waits, as a large order's reading would, until the test cancels it
        started.set()
        release.wait(30)
        return real(self, size)

    monkeypatch.setattr(product_archives._WatchedFile, "read", held)
    assert panel.open_file(str(order), qgis_new_project) is None
    assert panel.note.text() == f"Reading {order.name} to list its products … (Cancel in QGIS's task manager)"
    task = panel.imports.running[0]
    assert wait_until(started.is_set)
    task.cancel()  # the task manager's Cancel, while the order is read
    release.set()
    _imported(panel)
    assert panel.note.text() == f"{order.name} was not opened: cancelled by the user"
    assert product_archives.needs_listing(order)  # nothing half-listed is kept: opening it again lists it again
    assert panel.scene_layer() is None and not qgis_new_project.mapLayers()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([order.name, "product"])


def test_an_order_that_is_damaged_or_holds_no_product_says_so_after_its_listing(qgis_new_project, tmp_path, panel):
    from ..sensor_products import tar_files, zip_files

    order, _, _ = _two_tile_order(tmp_path)
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(order.read_bytes()[: order.stat().st_size // 2])  # a download that stopped half-way
    assert panel.open_file(str(cut), qgis_new_project) is None
    _imported(panel)
    assert panel.note.text().startswith("cut.tar.gz was not opened: cannot read the archive")
    assert panel.note.text().endswith("download it again")
    notes = tmp_path / "notes.txt"
    notes.write_text("field notes")
    photos = tar_files(tmp_path / "photos.tar.gz", [zip_files(tmp_path / "field_photos.zip", [notes])])
    assert panel.open_file(str(photos), qgis_new_project) is None
    _imported(panel)
    assert panel.note.text().startswith("photos.tar.gz holds no EnMAP L2A, PRISMA L2 or EMIT product (it holds "
                                        "field_photos.zip")
    assert panel.scene_layer() is None and not qgis_new_project.mapLayers()


def test_open_file_on_a_zip_without_one_product_says_what_it_holds(qgis_new_project, tmp_path, panel):
    from ..sensor_products import zip_files

    notes = tmp_path / "notes.txt"
    notes.write_text("field notes")
    zip_files(tmp_path / "notes.zip", [notes])
    with pytest.raises(ValueError, match=r"notes.zip holds no EnMAP L2A, PRISMA L2 or EMIT product; unpack it"):
        panel.open_file(str(tmp_path / "notes.zip"), qgis_new_project)
    assert not qgis_new_project.mapLayers()


def test_open_file_imports_an_emit_subdataset_as_the_whole_orthorectified_granule(qgis_new_project, tmp_path, panel):
    granule = write_product("EMIT L2A reflectance", tmp_path)
    name = next(n for n in subdatasets(granule) if n.endswith(":reflectance"))
    assert panel.open_file(name, qgis_new_project) is None
    _imported(panel)
    target = tmp_path / f"{EMIT_NAME}.tif"
    layer = panel.scene_layer()
    assert layer.source() == str(target) and layer.name() == EMIT_NAME
    assert (layer.bandCount(), layer.width(), layer.height()) == (12, 6, 5)  # the GLT's grid, bands first
    assert "EPSG:4326" in panel.fact_labels["crs"].text()
    assert_same_scene(read_scene(target), read_scene(granule))


def test_a_damaged_product_leaves_the_message_and_no_layer(qgis_new_project, tmp_path, panel):
    broken = write_prisma(tmp_path / "PRS_L2D_broken.he5", drop=("SWIR_Cube",))
    assert panel.open_file(str(broken), qgis_new_project) is None
    _imported(panel)
    assert panel.note.text() == ("The PRISMA L2D product PRS_L2D_broken.he5 was not imported: PRS_L2D_broken.he5 is "
                                 "a PRISMA L2D product, but Data Fields/SWIR_Cube is missing from it; download the "
                                 "product again from ASI's PRISMA portal (it looks incomplete or damaged)")
    assert panel.scene_layer() is None and not qgis_new_project.mapLayers()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["PRS_L2D_broken.he5"]  # nothing half-written


def test_an_import_is_cancelled_from_the_task_manager(qgis_new_project, tmp_path, panel, monkeypatch):
    import hypersynth.ui.scene_imports as scene_imports

    started, release = threading.Event(), threading.Event()
    real = scene_imports.import_scene

    def held(*args, **kwargs):  # the import waits, as a large product's read would, until the test cancels it
        started.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(scene_imports, "import_scene", held)
    product = write_product("PRISMA L2D", tmp_path)
    panel.open_file(str(product), qgis_new_project)
    task = panel.imports.running[0]
    assert task.description() == f"Import the PRISMA L2D product {PRISMA_NAME}"
    assert wait_until(started.is_set)
    task.cancel()  # the task manager's Cancel
    release.set()
    _imported(panel)
    assert panel.note.text() == f"The PRISMA L2D product {product.name} was not imported: cancelled by the user"
    assert panel.scene_layer() is None and not (tmp_path / f"{PRISMA_NAME}.tif").exists()


def test_a_product_in_a_folder_that_cannot_be_written_goes_where_the_analyst_says(qgis_new_project, tmp_path, panel,
                                                                                 monkeypatch):
    import hypersynth.core.io.convert as convert
    import hypersynth.ui.scene_panel as scene_panel

    product = write_product("EnMAP L2A", tmp_path / "read_only")
    read_only = tmp_path / "read_only"  # the product's folder alone (the import checks its own output too)
    monkeypatch.setattr(convert, "write_problem",
                        lambda path: f"cannot write in {path}" if read_only in (Path(path), *Path(path).parents)
                        else None)
    asked = []

    def save_as(parent, title, start, filters):
        asked.append((title, start))
        return (str(tmp_path / "mine") if len(asked) == 1 else "", "")

    monkeypatch.setattr(scene_panel.QFileDialog, "getSaveFileName", save_as)
    monkeypatch.setattr(scene_panel.QFileDialog, "getOpenFileName",  # Open file… on the product's XML
                        lambda *a, **k: (str(product.with_name(f"{ENMAP_STEM}-METADATA.XML")), ""))
    panel._ask_open()
    _imported(panel)
    assert asked[0] == (f"The folder of {ENMAP_STEM}-METADATA.XML cannot be written: save its GeoTIFF as",
                        str(Path.home() / f"{ENMAP_STEM}.tif"))
    layer = panel.scene_layer()
    assert layer.source() == str(tmp_path / "mine.tif") and layer.name() == ENMAP_STEM
    assert panel.fact_labels["wavelengths"].text() == "418–523 nm"  # from the XML, now in the GeoTIFF
    panel.set_scene_layer(None)
    assert panel.open_file(str(product), qgis_new_project) is None  # no file chosen: nothing opened
    assert panel.note.text() == (f"The EnMAP L2A product {product.name} was not opened: its folder cannot be written, "
                                 "and no file was chosen for its GeoTIFF.")
    assert panel.scene_layer() is None and not panel.imports.running


def test_layer_names_of_subdatasets_follow_the_engines_rule(tmp_path):
    from hypersynth.core.io.read import source_name as _layer_name  # the dock names a layer by the engine's rule
    from hypersynth.ui.scene_panel import RASTER_FILTER

    assert _layer_name(f'NETCDF:"{tmp_path}/scene.nc":radiance') == "scene radiance"
    assert _layer_name(f'HDF5:"{tmp_path}/x.he5"://HDFEOS/SWATHS/PRS_L2D_HCO/Data_Fields/VNIR_Cube') == "x VNIR_Cube"
    assert _layer_name(str(tmp_path / "cube.tif")) == "cube"
    assert "EnMAP L2A metadata (*-METADATA.XML)" in RASTER_FILTER and "*.he5" in RASTER_FILTER


def test_open_file_imports_a_matlab_cube_once_and_opens_its_geotiff_as_the_scene(qgis_new_project, tmp_path, panel):
    """The standard benchmark cubes come as .mat files, which QGIS cannot read: Open file… imports one as a product."""
    import scipy.io

    from hypersynth.ui.scene_panel import RASTER_FILTER

    assert "*.mat" in RASTER_FILTER.split(";;")[0]
    cube = np.random.default_rng(0).uniform(0, 8000, (20, 24, 15)).astype(np.int16)  # (rows, cols, bands), as EHU
    scipy.io.savemat(tmp_path / "Cube.mat", {"cube": cube, "note": np.zeros((2, 2))})
    assert panel.open_file(str(tmp_path / "Cube.mat"), qgis_new_project) is None  # imported in the task manager
    target = tmp_path / "Cube.tif"
    assert panel.note.text() == (f"Importing the MATLAB file Cube.mat as {target} … (progress and Cancel in QGIS's "
                                 "task manager)")
    _imported(panel)
    layer = panel.scene_layer()
    assert layer is not None and layer.source() == str(target) and layer.name() == "Cube"
    assert layer.bandCount() == 15 and panel.fact_labels["wavelengths"].text() == "not in the file's metadata"
    assert panel.note.text() == (f"Imported the MATLAB file Cube.mat as {target}, the largest 3-D array as its bands "
                                 "(a .mat names no wavelengths).")
    assert np.array_equal(read_scene(target).cube, np.moveaxis(cube, 2, 0).astype(np.float32))

    written = target.stat().st_mtime_ns  # opened again: the earlier import, at once
    again = panel.open_file(str(tmp_path / "Cube.mat"), qgis_new_project)
    assert again is not None and again.source() == str(target) and target.stat().st_mtime_ns == written
    assert panel.note.text() == "Opened Cube.tif, the GeoTIFF of the MATLAB file Cube.mat imported earlier."
    target.unlink()
    target.write_bytes(b"the analyst's own Cube.tif")  # not an import of it: the next free name, nothing replaced
    assert panel.open_file(str(tmp_path / "Cube.mat"), qgis_new_project) is None
    _imported(panel)
    assert panel.scene_layer().source() == str(tmp_path / "Cube_1.tif")
    assert target.read_bytes() == b"the analyst's own Cube.tif"


def test_open_file_adds_a_matlab_ground_truth_as_labels_on_the_scenes_grid(qgis_new_project, tmp_path, panel):
    """A benchmark's ground truth comes as a second .mat: opened after its scene, it becomes a label raster in the
    benchmark's class names and colours (validation labels for a run), and the scene stays the scene."""
    import json

    import scipy.io
    from qgis.core import QgsPalettedRasterRenderer

    from hypersynth.core.datasets.registry import get_spec

    gt = np.zeros((20, 24), np.uint8)
    gt[2:8, 3:9], gt[10:15, 12:20] = 1, 12  # SalinasA's own ids: Brocoli_green_weeds_1 and Lettuce_romaine_5wk
    scipy.io.savemat(tmp_path / "SalinasA_gt.mat", {"salinasA_gt": gt})
    with pytest.raises(ValueError, match=r"SalinasA_gt.mat holds a label map, not a scene: open its scene first"):
        panel.open_file(str(tmp_path / "SalinasA_gt.mat"), qgis_new_project)
    cube = np.random.default_rng(0).uniform(0, 8000, (20, 24, 15)).astype(np.int16)
    scipy.io.savemat(tmp_path / "cube.mat", {"cube": cube})
    panel.open_file(str(tmp_path / "cube.mat"), qgis_new_project)
    _imported(panel)
    scene = panel.scene_layer()
    assert panel.open_file(str(tmp_path / "SalinasA_gt.mat"), qgis_new_project) is scene  # the scene stays
    labels = next(layer for layer in qgis_new_project.mapLayers().values() if layer.name() == "SalinasA_gt")
    assert labels.source() == str(tmp_path / "SalinasA_gt.tif") and labels.width() == 24 and labels.height() == 20
    renderer = labels.renderer()
    names = get_spec("salinasA").class_names
    assert isinstance(renderer, QgsPalettedRasterRenderer)
    assert [(c.value, c.label) for c in renderer.classes()] == [(1, names[1]), (12, names[12])]
    classes = json.loads((tmp_path / "SalinasA_gt_classes.json").read_text())["classes"]
    assert [(c["id"], c["name"]) for c in classes] == [(1, names[1]), (12, names[12])] and classes[0]["prompt"]
    assert panel.note.text() == (
        f"Added SalinasA_gt.tif: the ground truth of {get_spec('salinasA').title}, {int((gt > 0).sum())} labelled "
        "pixels on the grid of cube. Choose it as Validation labels in the run dialog; its classes, with their "
        "prompts, are in SalinasA_gt_classes.json (Load classes… in the Classes tab).")
    with opened_quietly(tmp_path / "SalinasA_gt.tif") as ds:
        assert np.array_equal(ds.read(1), gt) and ds.transform.is_identity and ds.crs is None  # the scene's grid
    panel.open_file(str(tmp_path / "SalinasA_gt.mat"), qgis_new_project)  # again: that import, not a second one
    assert panel.note.text().startswith("Opened again SalinasA_gt.tif: the ground truth of SalinasA")
    assert not (tmp_path / "SalinasA_gt_1.tif").exists()
    scipy.io.savemat(tmp_path / "struct.mat", {"meta": {"sensor": "AVIRIS"}})
    with pytest.raises(ValueError, match=r"struct.mat holds no scene \(a rows × cols × bands array of at least 10 "
                                         r"bands\) and no label map"):
        panel.open_file(str(tmp_path / "struct.mat"), qgis_new_project)
    scipy.io.savemat(tmp_path / "other_gt.mat", {"other_gt": np.ones((30, 30), np.uint8)})
    with pytest.raises(ValueError, match=r"other_gt.mat holds no 2-D label map of the scene's size 20 × 24 \(2-D "
                                         r"arrays: other_gt \(30, 30\)\); open the scene these labels belong to"):
        panel.open_file(str(tmp_path / "other_gt.mat"), qgis_new_project)
    assert not (tmp_path / "other_gt.tif").exists()
