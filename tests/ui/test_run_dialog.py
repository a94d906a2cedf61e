"""Run dialog: returns the settings, refuses unwritable folders, asks before overwriting."""

from __future__ import annotations

import numpy as np
import pytest

from hypersynth.ui.main_dock import HyperSynthDock
from hypersynth.ui.run_dialog import RunDialog, existing_outputs, folder_problem

from .conftest import map_box, type_over


def test_values_round_trip(keep, tmp_path, screenshot):
    dialog = keep(RunDialog(defaults={"preset": "tiny", "device": "cpu", "seed": 7, "output_folder": str(tmp_path)}))
    values = dialog.values()
    assert values["preset"] == "tiny" and values["device"] == "cpu" and values["seed"] == 7
    assert values["patch_size"] is None and values["guidance"] is None and values["synthetic_per_class"] is None
    assert values["bundle"] is None and values["output_folder"] == str(tmp_path)
    assert values["synthetic_patches"] is False  # written on request only
    dialog.synthetic_patches.setChecked(True)
    assert dialog.values()["synthetic_patches"] is True
    dialog.patch_size.setValue(9)
    dialog.guidance.setValue(3.5)
    dialog.balance.setValue(0.8)
    dialog.synthetic.setValue(200)
    assert values["synthetic_weight"] == 0.5  # MethodSettings' default
    dialog.synthetic_weight.setValue(1.25)
    values = dialog.values()
    assert (values["patch_size"], values["guidance"], values["balance_rate"], values["synthetic_per_class"],
            values["synthetic_weight"]) == (9, 3.5, 0.8, 200, 1.25)
    dialog.synthetic_weight.setValue(0.0)  # below the range: a share of 0 would make synthesis pointless
    assert dialog.synthetic_weight.value() == 0.05
    dialog.accept()
    assert dialog.result() == RunDialog.Accepted and dialog.values()["overwrite"] is False
    pixels = screenshot(dialog, "run_dialog")
    assert pixels.std() > 0


def test_anchor_strength_and_pseudo_labels_become_method_settings(keep, tmp_path):
    from hypersynth.core.methods import MethodSettings

    dialog = keep(RunDialog(defaults={"output_folder": str(tmp_path)}))
    assert dialog.pseudo_labels.text() == "none (default)" and dialog.patch_size.text() == "from the scene"
    values = dialog.values()
    assert values["anchor_strength"] == 0.5 and values["pseudo_labels"] is None  # MethodSettings' defaults
    dialog.anchor_strength.setValue(0.0)  # below the range: (0, 1] only
    assert dialog.anchor_strength.value() == 0.05
    dialog.anchor_strength.setValue(0.3)
    dialog.pseudo_labels.setValue(0)  # 0 is a choice (no pseudo-labels), not "the preset's"
    keys = ("anchor_strength", "pseudo_labels", "patch_size", "synthetic_per_class", "guidance", "balance_rate")
    settings = MethodSettings(**{key: dialog.values()[key] for key in keys})
    assert (settings.anchor_strength, settings.pseudo_labels, settings.balance_rate) == (0.3, 0, 0.5)
    dialog.pseudo_labels.setValue(25)
    assert MethodSettings(pseudo_labels=dialog.values()["pseudo_labels"]).pseudo_labels == 25
    again = keep(RunDialog(defaults={"anchor_strength": 0.7, "pseudo_labels": 0}))  # defaults round-trip
    assert (again.values()["anchor_strength"], again.values()["pseudo_labels"]) == (0.7, 0)


def test_spatial_smoothing_is_cross_validated_unless_set(keep):
    from hypersynth.core.methods import MethodSettings

    dialog = keep(RunDialog(defaults={}))
    assert dialog.spatial_smoothing.text() == "chosen from your labels" and dialog.values()["spatial_smoothing"] is None
    dialog.spatial_smoothing.setValue(0.0)  # 0 is a choice: off
    assert MethodSettings(spatial_smoothing=dialog.values()["spatial_smoothing"]).spatial_smoothing == 0.0
    dialog.spatial_smoothing.setValue(1.5)
    assert dialog.values()["spatial_smoothing"] == 1.5
    assert keep(RunDialog(defaults={"spatial_smoothing": 2.0})).values()["spatial_smoothing"] == 2.0


def test_the_diffusion_feature_member_is_off_unless_switched_on(keep):
    from hypersynth.core.methods import MethodSettings

    dialog = keep(RunDialog(defaults={}))
    assert dialog.values()["diffusion_features"] is False  # since session 18, as MethodSettings
    assert MethodSettings(diffusion_features=dialog.values()["diffusion_features"]) == MethodSettings()
    dialog.diffusion_features.setChecked(True)
    assert MethodSettings(diffusion_features=dialog.values()["diffusion_features"]).diffusion_features is True
    assert keep(RunDialog(defaults={"diffusion_features": True})).values()["diffusion_features"] is True


def test_a_seed_above_a_cpp_int_typed_reaches_the_run_settings_whole(keep, qgis_iface, canvas, scene_layer,
                                                                     label_layer, classes, tmp_path):
    """The command line and Processing take seeds 0 to SEED_MAX (2**32 - 1); the dialog's QSpinBox stopped at
    2**31 - 1, so a seed of a benchmark row above it could not be run again from the dock."""
    from qgis.PyQt.QtCore import Qt
    from qgis.PyQt.QtTest import QTest

    from hypersynth.core.bench_inputs import SEED_MAX

    dialog = keep(RunDialog(defaults={"output_folder": str(tmp_path / "run")}))
    assert f"0 to {SEED_MAX}" in dialog.seed.toolTip() and str(2**31 - 1) not in dialog.seed.toolTip()
    assert type_over(dialog.seed, "4000000000") == "4000000000"
    assert dialog.seed.value() == 4000000000 and "Seed" in dialog.changed_knobs()
    dialog.accept()
    assert dialog.result() == RunDialog.Accepted, dialog.problem.text()
    values = dialog.values()
    assert values["seed"] == 4000000000 and type(values["seed"]) is int

    dock = keep(HyperSynthDock(qgis_iface), 480, 620)  # the run the dock asks the plugin for, with that seed
    dock.set_scene_layer(scene_layer)
    dock.set_classes(classes)
    dock.set_label_layer(label_layer)
    for class_id, col in ((1, 0), (2, 4)):
        dock.classes_panel.select_class(class_id)
        dock.classes_panel.polygon.add_polygon(map_box(col, col, 2))
    dock.classes_panel.delete_class(3)
    requested = dock.request_run(values)
    assert requested is not None and requested["seed"] == 4000000000, dock.status.text()
    again = keep(RunDialog(defaults=dock.run_defaults()))  # the next dialog starts from it
    assert again.seed.text() == "4000000000" and again.values()["seed"] == 4000000000

    assert type_over(again.seed, str(SEED_MAX)) == str(SEED_MAX)  # the largest the command line takes
    QTest.keyClick(again.seed, Qt.Key_Up)  # no further
    assert again.seed.value() == SEED_MAX
    QTest.keyClick(again.seed, Qt.Key_Down)  # the arrows step by one, as a spin box's
    assert again.seed.value() == SEED_MAX - 1
    dock.cleanup()


def test_the_seed_box_takes_digits_only(keep):
    dialog = keep(RunDialog(defaults={"seed": 7}))
    assert dialog.seed.text() == "7"
    assert type_over(dialog.seed, "seven") == "7"  # nothing typed: the seed shown stays
    assert type_over(dialog.seed, "-1.5e3") == "153"  # no sign, decimal point or exponent
    assert type_over(dialog.seed, "4,000") == "4000"  # no group separator: written as the command line takes it
    assert type_over(dialog.seed, "9999999999") == "999999999"  # a tenth 9 would pass SEED_MAX: refused
    assert dialog.values()["seed"] == 999999999
    for pasted in (" 77 ", "4000000000\n"):  # a seed copied from a report or a terminal, spaces and line break too
        dialog.seed.lineEdit().selectAll()
        dialog.seed.lineEdit().insert(pasted)
        dialog.seed.interpretText()
        assert dialog.values()["seed"] == int(pasted), repr(pasted)


def test_refuses_an_unwritable_folder(keep, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert "is a file" in folder_problem(str(blocker))
    assert f"cannot take the outputs: {blocker} is a file, so no folder can be made there" in folder_problem(
        str(blocker / "out"))
    assert folder_problem("") == "Choose an output folder."
    assert folder_problem(str(tmp_path / "new" / "deeper")) is None  # creatable is fine
    dialog = keep(RunDialog(defaults={"output_folder": str(blocker / "out")}))
    dialog.accept()
    assert dialog.result() != RunDialog.Accepted
    assert "is a file, so no folder can be made there" in dialog.problem.text()
    assert folder_problem("/proc/hypersynth-out") is not None  # /proc takes no new files, not even from root


def test_warns_before_overwriting(keep, tmp_path, monkeypatch):
    (tmp_path / "classification.tif").write_bytes(b"earlier run")
    assert existing_outputs(str(tmp_path)) == ["classification.tif"]
    dialog = keep(RunDialog(defaults={"output_folder": str(tmp_path)}))
    asked = []
    monkeypatch.setattr(dialog, "confirm_overwrite", lambda names: asked.append(names) or False)
    dialog.accept()
    assert asked == [["classification.tif"]] and dialog.result() != RunDialog.Accepted
    monkeypatch.setattr(dialog, "confirm_overwrite", lambda names: True)
    dialog.accept()
    assert dialog.result() == RunDialog.Accepted and dialog.values()["overwrite"] is True
    assert dialog.values()["approved_outputs"] == ["classification.tif"]  # the yes covers these, not later ones


def test_a_missing_or_foreign_bundle_is_refused(keep, tmp_path):
    dialog = keep(RunDialog(defaults={"output_folder": str(tmp_path), "bundle": str(tmp_path / "nope")}))
    assert any("does not exist" in p for p in dialog.problems())
    (tmp_path / "empty_bundle").mkdir()
    dialog.bundle.setFilePath(str(tmp_path / "empty_bundle"))
    assert any("no manifest.json" in p for p in dialog.problems())
    (tmp_path / "empty_bundle" / "manifest.json").write_text("{}")
    assert dialog.problems() == []
    assert dialog.values()["bundle"] == str(tmp_path / "empty_bundle")


# --- validation labels and a reused bundle's band count -----------------------------------------------------------

def _points_layer(name: str, field: str, pixels: list[tuple[int, int, int]]):
    """A memory point layer with an integer class ``field``: a point at the centre of each (row, col, class id)."""
    from qgis.core import QgsFeature, QgsField, QgsGeometry, QgsPointXY, QgsVectorLayer
    from qgis.PyQt.QtCore import QVariant

    from .conftest import pixel_centre

    layer = QgsVectorLayer("Point?crs=EPSG:32633", name, "memory")
    layer.dataProvider().addAttributes([QgsField(field, QVariant.Int)])
    layer.updateFields()
    features = []
    for row, col, class_id in pixels:
        feature = QgsFeature(layer.fields())
        feature.setAttribute(field, class_id)
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(*pixel_centre(row, col))))
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    return layer


def _write_label_raster(path, bands: int = 1):
    """A label raster on the test scene's grid (``bands`` bands of class ids; 0 = unlabelled)."""
    import numpy as np

    from .conftest import COLS, ROWS, write_byte_raster

    data = np.zeros((ROWS, COLS), dtype=np.uint8)
    data[2:6, 2:6], data[10:14, 10:14] = 1, 2
    return str(write_byte_raster(path, [data] * bands))


def _synthesis_bundle(folder, bands: int, wavelengths=None):
    """A synthesis model bundle's folder as far as the dialog reads it: the manifest naming its parts (how
    core.model_folders tells a synthesis model), meta.json with the band count it was trained on, and with
    ``wavelengths`` its reference tensors holding them."""
    import json

    import numpy as np
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"kind": "hypersynth-bundle",
                                                      "parts": ["normalizer", "vae", "text_encoder", "ema_denoiser"]}))
    (folder / "meta.json").write_text(json.dumps({"bands": bands, "classes": []}))
    if wavelengths is not None:
        save_file({"wavelengths": np.asarray(wavelengths, dtype=np.float64)}, str(folder / "reference.safetensors"))
    return str(folder)


def test_validation_labels_default_to_none_and_come_back_from_the_settings(keep, tmp_path, scene_layer, label_layer,
                                                                        qgis_new_project):
    from qgis.core import QgsRasterLayer

    validation = _points_layer("ground truth", "class_id", [(3, 3, 1), (12, 12, 2)])
    truth_raster = QgsRasterLayer(_write_label_raster(tmp_path / "truth.tif"), "truth raster")
    qgis_new_project.addMapLayers([label_layer, validation, truth_raster])
    dialog = keep(RunDialog(defaults={"output_folder": str(tmp_path / "out")}, scene=scene_layer, labels=label_layer))
    assert dialog.validation.currentLayer() is None  # none unless chosen: the run then has no accuracy section
    alone = keep(RunDialog(defaults={}, scene=scene_layer))  # other layers offered: the empty choice still said
    assert alone.validation.currentText() == dialog.validation.currentText() == "none (no accuracy section)"
    now_training = keep(RunDialog(defaults={"validation_layer_id": validation.id()}, scene=scene_layer,
                                  labels=validation))  # the last run's validation layer is this run's labels
    assert now_training.validation.currentText() == "none (no accuracy section)"
    assert dialog.values()["validation_layer_id"] == "" and dialog.values()["validation_field"] == ""
    offered = {dialog.validation.layer(i).name() for i in range(dialog.validation.count())
               if dialog.validation.layer(i) is not None}
    assert offered == {"ground truth", "truth raster"}  # points, polygons, label rasters; not the scene nor the
    # training labels
    assert not dialog.validation_field.isEnabled()  # nothing to read a field from
    dialog.validation.setLayer(validation)
    assert dialog.validation_field.isEnabled()
    assert dialog.problems() == []
    dialog.validation_field.setText(" class_id ")
    values = dialog.values()
    assert (values["validation_layer_id"], values["validation_field"]) == (validation.id(), "class_id")
    again = keep(RunDialog(defaults=values, scene=scene_layer, labels=label_layer))  # the next dialog starts there
    assert again.validation.currentLayer() is validation and again.validation_field.text() == "class_id"
    again.validation.setLayer(truth_raster)
    assert not again.validation_field.isEnabled() and again.problems() == []  # a label raster holds ids itself
    qgis_new_project.removeMapLayer(validation.id())  # remembered, then removed from the project: none again
    assert keep(RunDialog(defaults=values, scene=scene_layer, labels=label_layer)).validation.currentLayer() is None


def test_the_training_labels_are_refused_as_validation_labels(keep, tmp_path, scene_layer, label_layer,
                                                             qgis_new_project):
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsVectorLayer

    from .conftest import pixel_centre

    for row, class_id in ((3, 1), (12, 2)):  # a label of each class, saved in the GeoPackage
        feature = QgsFeature(label_layer.fields())
        feature.setAttribute("class_id", class_id)
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(*pixel_centre(row, row))))
        assert label_layer.dataProvider().addFeatures([feature])[0]
    qgis_new_project.addMapLayer(label_layer)
    dialog = keep(RunDialog(defaults={"output_folder": str(tmp_path / "out")}, scene=scene_layer, labels=label_layer))
    dialog.validation.setLayer(label_layer)
    assert dialog.validation.currentLayer() is None  # the training layer itself is not offered
    twice = QgsVectorLayer(label_layer.source(), "labels again", "ogr")  # the same file's layer, added once more
    qgis_new_project.addMapLayer(twice)
    dialog.validation.setLayer(twice)
    refusal = ("The validation labels 'labels again' are the training label layer: accuracy on the labels the "
               "classifier learnt from is not the map's accuracy; choose labels kept apart from training (or none).")
    assert dialog.problems() == [refusal]
    dialog.accept()
    assert dialog.result() != RunDialog.Accepted and refusal in dialog.problem.text()
    twice.setSubsetString("class_id = 2")  # the same file filtered otherwise gives other labels
    assert dialog.problems() == []
    dialog.validation.setLayer(None)
    dialog.accept()
    assert dialog.result() == RunDialog.Accepted


def test_a_validation_sample_not_labelled_yet_is_said_before_the_run(keep, tmp_path, scene_layer, label_layer,
                                                                     qgis_new_project):
    """Points drawn by sample-validation and not labelled yet: the dialog says so before the run starts; one label
    typed in the layer (unsaved) is enough for it to go."""
    from qgis.core import QgsVectorLayer

    from hypersynth.core.evaluation.sampling import sample_validation
    from hypersynth.core.io.write import write_class_map
    from hypersynth.core.scene import ClassInfo

    grid = scene_layer.dataProvider()
    transform = (scene_layer.extent().xMinimum(), scene_layer.rasterUnitsPerPixelX(), 0.0,
                 scene_layer.extent().yMaximum(), 0.0, -scene_layer.rasterUnitsPerPixelY())
    class_map = np.ones((grid.ySize(), grid.xSize()), np.int32)
    write_class_map(tmp_path / "map.tif", class_map, [ClassInfo(1, "water")], transform=transform,
                    crs_wkt=scene_layer.crs().toWkt() or None)
    points = tmp_path / ("check.gpkg" if scene_layer.crs().isValid() else "check.fgb")
    sample_validation(tmp_path / "map.tif", points, seed=0, per_class=4)
    sample = QgsVectorLayer(str(points), "check", "ogr")
    qgis_new_project.addMapLayers([label_layer, sample])
    dialog = keep(RunDialog(defaults={"output_folder": str(tmp_path / "out")}, scene=scene_layer, labels=label_layer))
    dialog.validation.setLayer(sample)
    assert dialog.problems() == ["None of the 4 points of the validation sample 'check' has a class in class_id yet; "
                                 "label them (the class on the ground, not the map's) or choose none."]
    assert sample.startEditing()
    sample.changeAttributeValue(next(sample.getFeatures()).id(), sample.fields().indexOf("class_id"), 1)
    assert dialog.problems() == []
    sample.rollBack()


def test_the_validation_class_field_must_be_one_of_the_layers_fields(keep, tmp_path, scene_layer, label_layer,
                                                                    qgis_new_project):
    from qgis.core import QgsRasterLayer

    truth = _points_layer("truth points", "Truth", [(3, 3, 1), (12, 12, 2)])
    stacked = QgsRasterLayer(_write_label_raster(tmp_path / "stacked.tif", bands=3), "stacked")
    qgis_new_project.addMapLayers([label_layer, truth, stacked])
    dialog = keep(RunDialog(defaults={"output_folder": str(tmp_path / "out")}, scene=scene_layer, labels=label_layer))
    dialog.validation.setLayer(truth)
    assert dialog.problems() == ["The validation layer 'truth points' has no field named like a class (class_id, "
                                 "class, label, …; its fields: Truth); type the field that holds the class."]
    dialog.validation_field.setText("truth")  # any case, as the engine matches it
    assert dialog.problems() == []
    dialog.validation_field.setText("cover")
    assert dialog.problems() == ["The validation layer 'truth points' has no field 'cover' (its fields: Truth); type "
                                 "the class field."]
    dialog.validation.setLayer(stacked)
    assert dialog.problems() == ["The validation raster 'stacked' has 3 bands; a label raster has one band of class "
                                 "ids (0 = unlabelled)."]


def test_validation_labels_inside_the_output_folder_are_refused(keep, tmp_path, scene_layer, label_layer,
                                                               qgis_new_project):
    from qgis.core import QgsRasterLayer

    out = tmp_path / "out"
    out.mkdir()
    truth = QgsRasterLayer(_write_label_raster(out / "classification.tif"), "classification")  # a run writes there
    qgis_new_project.addMapLayers([label_layer, truth])
    dialog = keep(RunDialog(defaults={"output_folder": str(out)}, scene=scene_layer, labels=label_layer))
    dialog.validation.setLayer(truth)
    assert any(f"input {out / 'classification.tif'} is where the run writes its classification.tif" in p
               for p in dialog.problems())


def test_a_bundle_of_another_band_count_is_refused_before_the_run(keep, tmp_path, scene_layer, scene_path):
    from hypersynth.core.io.read import read_scene
    from hypersynth.ui.run_dialog import UsableBands, usable_bands

    from .conftest import BANDS

    scene = read_scene(scene_path)
    engine = int(scene.good_bands.sum())  # the count the engine compares with the bundle's
    usable = usable_bands(scene_layer.source())
    assert usable[:4] == UsableBands(engine, engine, BANDS, 1)[:4] == (15, 15, 16, 1)
    assert usable.wavelengths == pytest.approx(scene.usable_wavelengths())  # what the engine compares too
    other = _synthesis_bundle(tmp_path / "pavia" / "model_bundle", bands=103)
    dialog = keep(RunDialog(defaults={"output_folder": str(tmp_path / "out"), "bundle": other}, scene=scene_layer))
    assert dialog.problems() == [
        "The model bundle was trained on 103 bands but this scene has 15 usable bands (of its 16, 1 flagged bad): "
        "reuse a bundle trained on a scene of the same sensor (same band set), or clear 'Reuse model bundle' to train "
        "a new model on this scene."]
    dialog.accept()
    assert dialog.result() != RunDialog.Accepted
    dialog.bundle.setFilePath(_synthesis_bundle(tmp_path / "same" / "model_bundle", bands=15,
                                                wavelengths=scene.usable_wavelengths() + 1.0))  # calibration drift
    assert dialog.problems() == []
    # the same count at other wavelengths (another sensor's subset): the engine would refuse it once the run started
    dialog.bundle.setFilePath(_synthesis_bundle(tmp_path / "shifted" / "model_bundle", bands=15,
                                                wavelengths=scene.usable_wavelengths() + 60.0))
    (said,) = dialog.problems()
    assert said.startswith("The model bundle was trained on bands at other wavelengths than this scene's (usable band "
                           f"1: {scene.usable_wavelengths()[0]:.1f} nm here, {scene.usable_wavelengths()[0] + 60:.1f} "
                           "nm in the model bundle; 15 bands differ): reuse a bundle trained on a scene of the same "
                           "sensor")
    dialog.bundle.setFilePath(str(tmp_path / "pavia"))  # the run's folder, not its bundle: the engine's own words
    assert dialog.problems() == [f"{tmp_path / 'pavia'} is a run's output folder; give the synthesis model in it: "
                                 f"{tmp_path / 'pavia' / 'model_bundle'}."]


def _scene_with_empty_bands(path, rows: int, cols: int):
    """A scene of 16 int16 bands (band 13 flagged bad) where band 5 holds data at pixel (0, 0) alone and band 7 none
    at all: the engine uses 14 bands."""
    import numpy as np
    from osgeo import gdal, osr

    from .conftest import NODATA, ORIGIN, PIXEL

    ds = gdal.GetDriverByName("GTiff").Create(str(path), cols, rows, 16, gdal.GDT_Int16)
    ds.SetGeoTransform((ORIGIN[0], PIXEL, 0.0, ORIGIN[1], 0.0, -PIXEL))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    for b in range(16):
        data = np.full((rows, cols), 1000 + 100 * b, dtype=np.int16)
        if b + 1 in (5, 7):
            data[:] = NODATA
        if b + 1 == 5:
            data[0, 0] = 1500
        band = ds.GetRasterBand(b + 1)
        band.WriteArray(data)
        band.SetNoDataValue(NODATA)
        band.SetMetadata({"wavelength": f"{420 + 120 * b}", "bbl": "0" if b + 1 == 13 else "1"})
    ds = None
    return str(path)


def test_bands_without_data_where_the_dialog_looks_are_left_to_the_engine(keep, tmp_path, qgis_new_project):
    """A band holding data at one corner pixel only: on a scene larger than the dialog's few windows it cannot say
    whether the run uses 14 or 15 bands, and refuses only a bundle outside that range (never one the engine takes);
    on a scene its windows cover it counts as the engine does."""
    from qgis.core import QgsRasterLayer

    from hypersynth.core.io.read import read_scene
    from hypersynth.ui.run_dialog import UsableBands, usable_bands

    small = _scene_with_empty_bands(tmp_path / "small.tif", 20, 24)
    assert int(read_scene(small).good_bands.sum()) == 14  # 16 less the flagged band and the empty one
    assert usable_bands(small)[:4] == (14, 14, 16, 1)  # every pixel sampled: the engine's count
    assert usable_bands(small).wavelengths == tuple(420.0 + 120 * b for b in range(16) if b + 1 not in (7, 13))
    large = _scene_with_empty_bands(tmp_path / "large.tif", 64, 80)
    assert int(read_scene(large).good_bands.sum()) == 14
    scene = QgsRasterLayer(large, "large")
    qgis_new_project.addMapLayer(scene)
    assert usable_bands(scene.source()) == UsableBands(13, 15, 16, 1)  # band 5's corner not among the windows
    # (which bands the run uses is then not known: no wavelengths to compare)
    dialog = keep(RunDialog(defaults={"output_folder": str(tmp_path / "out")}, scene=scene))
    dialog.bundle.setFilePath(_synthesis_bundle(tmp_path / "b14", bands=14))  # what the engine counts: accepted
    assert dialog.problems() == []
    dialog.bundle.setFilePath(_synthesis_bundle(tmp_path / "b16", bands=16))
    assert dialog.problems()[0].startswith("The model bundle was trained on 16 bands but this scene has at most 15 "
                                           "usable bands (of its 16, 1 flagged bad)")
    dialog.bundle.setFilePath(_synthesis_bundle(tmp_path / "b10", bands=10))
    assert "this scene has at least 13 usable bands" in dialog.problems()[0]


def test_a_problem_leaves_the_dialog_once_fixed(keep, tmp_path, scene_layer, label_layer, qgis_new_project):
    """A wrong class field said in red stayed after the analyst chose a label raster instead, until Run again: once
    Run has listed problems, each edit checks again; before the first Run nothing is said."""
    from qgis.core import QgsRasterLayer

    validation = _points_layer("ground truth", "class_id", [(3, 3, 1), (12, 12, 2)])
    truth_raster = QgsRasterLayer(_write_label_raster(tmp_path / "truth.tif"), "truth raster")
    qgis_new_project.addMapLayers([label_layer, validation, truth_raster])
    dialog = keep(RunDialog(defaults={"output_folder": str(tmp_path / "out")}, scene=scene_layer, labels=label_layer))
    dialog.validation.setLayer(validation)
    dialog.validation_field.setText("klass")
    assert dialog.problem.text() == ""  # not before Run
    dialog.accept()
    assert "has no field 'klass'" in dialog.problem.text() and dialog.result() != RunDialog.Accepted
    dialog.patch_size.setValue(2)  # another problem joins the list
    assert "too small" in dialog.problem.text() and "klass" in dialog.problem.text()
    dialog.patch_size.setValue(0)
    dialog.validation.setLayer(truth_raster)  # the field no longer matters: the list empties
    assert dialog.problem.text() == ""


def test_the_dialog_fits_its_advanced_box_folded_or_open(keep):
    """Folded, the Advanced box left about 300 px empty above Run (the dialog opened as tall as with it open): the
    dialog takes the height it needs, as it opens and as the box folds or opens."""
    from qgis.PyQt.QtCore import QCoreApplication

    dialog = keep(RunDialog(defaults={}))
    dialog.show()
    for _ in range(3):
        QCoreApplication.processEvents()
    folded = dialog.height()
    dialog.advanced.setCollapsed(False)
    opened = dialog.height()
    assert opened > folded + 150
    dialog.advanced.setCollapsed(True)
    assert dialog.height() == folded
