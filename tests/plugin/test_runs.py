"""A run requested by the dock: layers resolved to files, the engine in a QgsTask, results added as layers."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pytest
from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsField,
    QgsGeometry,
    QgsPalettedRasterRenderer,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QVariant

from .conftest import wait_until, write_small_scene


@pytest.fixture(scope="module")
def small_scene(tmp_path_factory):
    return write_small_scene(tmp_path_factory.mktemp("scene"), seed=2, n_per_class=4)


def _memory_points(data, labels: np.ndarray) -> QgsVectorLayer:
    """Labels as an unsaved memory layer, as an analyst's fresh scratch layer would be."""
    layer = QgsVectorLayer("Point?crs=EPSG:32633", "scratch labels", "memory")
    layer.dataProvider().addAttributes([QgsField("class_id", QVariant.Int)])
    layer.updateFields()
    x0, dx, _, y0, _, dy = data.scene.transform
    features = []
    for r, c in zip(*np.nonzero(labels)):
        feature = QgsFeature(layer.fields())
        feature.setAttribute("class_id", int(labels[r, c]))
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x0 + (c + 0.5) * dx, y0 + (r + 0.5) * dy)))
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    return layer


def test_run_from_dock_values_adds_styled_result_layers(hypersynth_plugin, qgis_iface, qgis_new_project,
                                                        small_scene, tmp_path):
    data, labels, scene_path, _ = small_scene
    scene = QgsRasterLayer(scene_path, "scene")
    points = _memory_points(data, labels)
    qgis_new_project.addMapLayers([scene, points])
    out = tmp_path / "run"
    task = hypersynth_plugin.run_from_dock({
        "scene_layer_id": scene.id(), "label_layer_id": points.id(), "classes": data.classes,
        "output_folder": str(out), "method": "rf", "seed": 3, "patch_size": 0, "guidance": ""})
    assert task is not None and task in hypersynth_plugin.tasks.running
    assert wait_until(lambda: not hypersynth_plugin.tasks.running, timeout=120), task.description()
    assert task.error is None, task.error_details
    assert task.callback_error is None, task.callback_error
    group = qgis_new_project.layerTreeRoot().findGroup("run: Random forest scene")  # the folder, then the run
    assert group is not None
    class_layer = group.findLayers()[-1].layer()  # the class map, under the hidden confidence
    assert isinstance(class_layer.renderer(), QgsPalettedRasterRenderer)
    assert {c.label for c in class_layer.renderer().classes()} == {c.name for c in data.classes}
    assert (out / "classification.tif").is_file() and (out / "report.html").is_file()
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".hypersynth")) == []  # scratch files gone
    bar = qgis_iface.messageBar()  # the run's message comes once the event loop turns (after QGIS's own notice)
    assert wait_until(lambda: any("finished" in m and "report.html" in m for m in bar.get_messages(Qgis.Success)))
    assert [n.name() for n in group.findLayers()] == ["confidence", "classes"]


def test_class_probabilities_asked_for_in_the_dialog_arrive_as_a_hidden_layer(hypersynth_plugin, qgis_new_project,
                                                                              small_scene, tmp_path):
    base = _requests(small_scene, qgis_new_project)
    task = hypersynth_plugin.run_from_dock({**base, "output_folder": str(tmp_path / "run"), "probabilities": True})
    assert task is not None and wait_until(lambda: not hypersynth_plugin.tasks.running, timeout=120)
    assert task.error is None, task.error_details
    group = qgis_new_project.layerTreeRoot().findGroup("run: Random forest scene")
    nodes = {n.name(): n for n in group.findLayers()}
    probabilities = nodes["class probabilities"]
    assert not probabilities.isVisible() and nodes["classes"].isVisible()
    layer = probabilities.layer()
    assert layer.bandCount() == len(small_scene[0].classes) and layer.renderer().grayBand() == 1
    assert layer.source() == str(tmp_path / "run" / "probabilities.tif")


def test_synthetic_patches_asked_for_in_the_dialog_go_to_an_augment_run_only(hypersynth_plugin, qgis_new_project,
                                                                               small_scene, tmp_path):
    from hypersynth.plugin.runs import remove_scratch

    base = {**_requests(small_scene, qgis_new_project), "output_folder": str(tmp_path / "run"),
            "synthetic_patches": True}
    for method, asked in (("augment", True), ("rf", False)):  # a random forest synthesises none
        request = hypersynth_plugin.request_from_values({**base, "method": method})
        remove_scratch(request.temporary_labels)
        assert request.synthetic_patches is asked, method


def test_a_rerun_into_the_same_folder_replaces_the_earlier_runs_group(hypersynth_plugin, qgis_new_project,
                                                                      small_scene, tmp_path):
    base = {**_requests(small_scene, qgis_new_project), "output_folder": str(tmp_path / "run")}
    first = hypersynth_plugin.run_from_dock({**base, "probabilities": True})
    assert first is not None and wait_until(lambda: not hypersynth_plugin.tasks.running, timeout=120)
    assert first.error is None, first.error_details
    second = hypersynth_plugin.run_from_dock({**base, "seed": 5, "overwrite": True})  # no probabilities this time
    assert second is not None and wait_until(lambda: not hypersynth_plugin.tasks.running, timeout=120)
    assert second.error is None, second.error_details
    assert second.callback_error is None, second.callback_error
    root = qgis_new_project.layerTreeRoot()
    assert [g.name() for g in root.findGroups()] == ["run: Random forest scene"]
    reading = sorted(Path(layer.source()).name for layer in qgis_new_project.mapLayers().values()
                     if Path(layer.source()).parent == tmp_path / "run")
    assert reading == ["classification.tif", "confidence.tif"]  # the earlier probabilities layer went with its file
    assert all(layer.isValid() for layer in qgis_new_project.mapLayers().values())


def test_dock_values_reach_the_engine_method_settings(hypersynth_plugin, qgis_new_project, small_scene, tmp_path,
                                                     monkeypatch):
    """The run dialog's synthesis settings pass through RunRequest into core MethodSettings."""
    import hypersynth.core.pipeline as pipeline
    from hypersynth.plugin.runs import RunRequest, classify_job

    data, _, scene_path, label_raster = small_scene
    scene, label_layer = QgsRasterLayer(scene_path, "scene"), QgsRasterLayer(label_raster, "labels")
    qgis_new_project.addMapLayers([scene, label_layer])
    seen = []
    monkeypatch.setattr(pipeline, "classify_scene", lambda *args, settings=None, **kwargs: seen.append(settings))
    base = {"scene_layer_id": scene.id(), "label_layer_id": label_layer.id(), "classes": data.classes,
            "output_folder": str(tmp_path / "run"), "preset": "tiny"}
    chosen = {"patch_size": 5, "synthetic_per_class": 30, "guidance": 2.0, "balance_rate": 0.8, "synthetic_weight": 1.5,
              "anchor_strength": 0.3, "pseudo_labels": 12, "spatial_smoothing": 1.5, "diffusion_features": True}
    unset = {"patch_size": 0, "synthetic_per_class": 0, "guidance": None, "pseudo_labels": None,
             "spatial_smoothing": None}  # the dialog's
    for values in (chosen, {"pseudo_labels": 0, "spatial_smoothing": 0.0}, unset, {"pseudo_labels": ""}, {}):
        request = hypersynth_plugin.request_from_values({**base, **values})
        assert isinstance(request, RunRequest)
        classify_job(request)(None)
    picked = ("patch_size", "synthetic_per_class", "guidance", "balance_rate", "synthetic_weight", "anchor_strength",
              "pseudo_labels", "spatial_smoothing", "diffusion_features")
    assert [tuple(getattr(s, key) for key in picked) for s in seen] == [
        (5, 30, 2.0, 0.8, 1.5, 0.3, 12, 1.5, True),
        (None, None, None, 0.5, 0.5, 0.5, 0, 0.0, False),  # 0 pseudo-labels / 0 smoothing are kept: they switch them off
        (None, None, None, 0.5, 0.5, 0.5, None, None, False),
        (None, None, None, 0.5, 0.5, 0.5, None, None, False),
        (None, None, None, 0.5, 0.5, 0.5, None, None, False)]
    assert hypersynth_plugin.request_from_values({**base, "method": "cnn-pseudo"}).method == "cnn-pseudo"


def test_failed_run_shows_the_engine_message(hypersynth_plugin, qgis_iface, qgis_new_project, small_scene,
                                             tmp_path):
    data, labels, scene_path, label_raster = small_scene
    scene = QgsRasterLayer(scene_path, "scene")
    one_class = tmp_path / "one_class.tif"
    from hypersynth.core.io.write import write_label_raster

    write_label_raster(one_class, np.where(labels == 1, 1, 0), data.classes, transform=data.scene.transform,
                       crs_wkt=data.scene.crs_wkt)
    label_layer = QgsRasterLayer(str(one_class), "labels")
    qgis_new_project.addMapLayers([scene, label_layer])
    task = hypersynth_plugin.run_from_dock({
        "scene_layer_id": scene.id(), "label_layer_id": label_layer.id(), "classes": data.classes,
        "output_folder": str(tmp_path / "run"), "method": "rf"})
    assert wait_until(lambda: not hypersynth_plugin.tasks.running, timeout=120)
    assert task.error and "two classes" in task.error
    assert wait_until(lambda: any(task.error in m for m in qgis_iface.messageBar().get_messages(Qgis.Critical)))
    assert not (tmp_path / "run" / "classification.tif").exists()


def test_incomplete_request_is_a_message_not_a_task(hypersynth_plugin, qgis_iface, qgis_new_project):
    from hypersynth.core.scene import ClassInfo

    assert hypersynth_plugin.run_from_dock({"classes": [ClassInfo(1, "water")]}) is None
    warnings = qgis_iface.messageBar().get_messages(Qgis.Warning)
    assert any("choose the scene layer and the label layer first" in m for m in warnings)
    assert hypersynth_plugin.tasks.running == []


def test_saved_label_file_is_used_directly(small_scene, tmp_path):
    from hypersynth.plugin.runs import label_file_for

    _, _, _, label_raster = small_scene
    path, temporary = label_file_for(QgsRasterLayer(label_raster, "labels"), str(tmp_path))
    assert Path(path) == Path(label_raster) and temporary is None
    with pytest.raises(ValueError, match="choose a label layer"):
        label_file_for(None, str(tmp_path))


def test_layer_inside_a_geopackage_is_copied_to_its_own_file(small_scene, tmp_path):
    from hypersynth.plugin.runs import copied_layer_name, label_file_for

    data, labels, _, _ = small_scene
    memory = _memory_points(data, labels)
    first, temporary = label_file_for(memory, str(tmp_path))
    assert temporary == first and Path(first).parent == tmp_path
    in_package = QgsVectorLayer(f"{first}|layername=labels", "labels", "ogr")
    assert in_package.isValid() and in_package.featureCount() == int((labels > 0).sum())
    copied, scratch = label_file_for(in_package, str(tmp_path))
    assert scratch == copied and copied != first
    assert QgsVectorLayer(copied, "copy", "ogr").featureCount() == in_package.featureCount()
    # the run's messages and report name the layer and its file, not the scratch copy
    assert copied_layer_name(in_package) == f"the layer 'labels' ({Path(first).name})"
    assert copied_layer_name(memory) == f"the layer '{memory.name()}' (in memory)"


def test_unsaved_label_edits_are_used_without_saving_them(small_scene, tmp_path, qgis_new_project):
    """The run sees the labels as the analyst sees them, and their file stays as they last saved it."""
    from qgis.core import QgsVectorFileWriter

    from hypersynth.plugin.runs import copied_layer_name, has_unsaved_edits, label_file_for

    data, labels, _, _ = small_scene
    saved = tmp_path / "labels.geojson"
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GeoJSON"
    error, *_ = QgsVectorFileWriter.writeAsVectorFormatV3(_memory_points(data, labels), str(saved),
                                                          qgis_new_project.transformContext(), options)
    assert error == QgsVectorFileWriter.NoError
    saved_text = saved.read_text()
    layer = QgsVectorLayer(str(saved), "labels", "ogr")
    count = layer.featureCount()
    assert label_file_for(layer, str(tmp_path / "run")) == (str(saved), None)  # nothing unsaved: the file itself
    layer.startEditing()
    extra = QgsFeature(layer.fields())
    extra.setAttribute("class_id", 1)
    extra.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(data.scene.transform[0] + 0.5, data.scene.transform[3] - 0.5)))
    assert layer.addFeature(extra) and has_unsaved_edits(layer)
    path, temporary = label_file_for(layer, str(tmp_path / "run"))
    assert temporary == path and Path(path).parent == tmp_path / "run"
    assert QgsVectorLayer(path, "copy", "ogr").featureCount() == count + 1  # the edit is in what the run reads
    assert saved.read_text() == saved_text and has_unsaved_edits(layer)  # and still the analyst's to save or not
    assert copied_layer_name(layer) == "the layer 'labels' (labels.geojson, unsaved edits included)"
    layer.rollBack()


def _copy_contents(path: str) -> tuple:
    """What the engine's label reader (GDAL) finds in a one-layer vector file: CRS WKT (None: none), field names,
    and each feature's class_id, in file order."""
    from osgeo import ogr

    ds = ogr.Open(path)
    layer = ds.GetLayer(0)
    srs = layer.GetSpatialRef()
    defn = layer.GetLayerDefn()
    return (srs.ExportToWkt() if srs is not None else None,
            [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())],
            [feature.GetField("class_id") for feature in layer])


def test_a_copy_keeps_a_layer_without_crs_its_feature_order_and_its_field_names(tmp_path, qgis_new_project):
    """The run reads a copy as the analyst's layer stands: no CRS stays none (the engine places it on the scene's
    pixel grid), the later of overlapping labels stays later (it wins), long field names stay whole."""
    from hypersynth.plugin.runs import label_file_for

    layer = QgsVectorLayer("Polygon?field=class_id:integer&field=land_cover_name:string", "pixels", "memory")
    layer.setCrs(QgsCoordinateReferenceSystem())
    features = []
    for i, class_id in enumerate([3, 1, 2, 1] * 30):  # overlapping squares, far more than a spatial index reorders
        feature = QgsFeature(layer.fields())
        feature.setAttributes([class_id, f"class {class_id}"])
        feature.setGeometry(QgsGeometry.fromRect(QgsRectangle(i % 7, -(i % 5) - 4, i % 7 + 4, -(i % 5))))
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    path, temporary = label_file_for(layer, str(tmp_path))
    assert temporary == path and path.endswith(".fgb")
    assert _copy_contents(path) == (None, ["class_id", "land_cover_name"], [3, 1, 2, 1] * 30)

    layer.setCrs(QgsCoordinateReferenceSystem("EPSG:32633"))  # a CRS is kept as well
    crs = _copy_contents(label_file_for(layer, str(tmp_path))[0])[0]
    assert 'ID["EPSG",32633]' in crs or 'AUTHORITY["EPSG","32633"]' in crs


def test_a_crs_set_in_qgis_on_a_file_without_one_is_the_one_the_run_reads(tmp_path, qgis_new_project):
    """A shapefile without .prj, its CRS set by Layer ▸ Set CRS: the run read the file, without a CRS, and refused
    the labels as lying outside the scene they cover on the map (review)."""
    from osgeo import ogr

    from hypersynth.plugin.runs import label_file_for

    saved = tmp_path / "points.shp"
    ds = ogr.GetDriverByName("ESRI Shapefile").CreateDataSource(str(saved))
    points = ds.CreateLayer("points", None, ogr.wkbPoint)  # no CRS: no .prj
    points.CreateField(ogr.FieldDefn("class_id", ogr.OFTInteger))
    feature = ogr.Feature(points.GetLayerDefn())
    feature.SetField("class_id", 1)
    feature.SetGeometry(ogr.CreateGeometryFromWkt("POINT (13.05 52.42)"))
    points.CreateFeature(feature)
    ds = points = feature = None
    layer = QgsVectorLayer(str(saved), "points", "ogr")
    assert label_file_for(layer, str(tmp_path / "run")) == (str(saved), None)  # as its file says: read as it is
    layer.setCrs(QgsCoordinateReferenceSystem("EPSG:4326"))
    path, temporary = label_file_for(layer, str(tmp_path / "run"))
    assert temporary == path != str(saved)
    crs = _copy_contents(path)[0]
    assert 'ID["EPSG",4326]' in crs or 'AUTHORITY["EPSG","4326"]' in crs


def test_a_label_layer_without_crs_is_classified_with_its_unsaved_edits(hypersynth_plugin, qgis_new_project,
                                                                        small_scene, tmp_path):
    """A scene without georeference, labels drawn over it in pixel coordinates (no CRS), the last ones not saved:
    the dock's run classifies with them, and leaves the file as it was saved."""
    import dataclasses

    from osgeo import gdal, ogr

    from hypersynth.core.io.write import write_scene
    from hypersynth.core.scene import PIXEL_GRID
    from hypersynth.plugin.runs import has_unsaved_edits

    data, labels, _, _ = small_scene
    scene_path = write_scene(dataclasses.replace(data.scene, transform=PIXEL_GRID, crs_wkt=None),
                             tmp_path / "pixels.tif")
    saved = tmp_path / "labels.shp"
    ds = ogr.GetDriverByName("ESRI Shapefile").CreateDataSource(str(saved))
    points = ds.CreateLayer("labels", None, ogr.wkbPoint)  # no CRS: no .prj
    points.CreateField(ogr.FieldDefn("class_id", ogr.OFTInteger))

    def centre(r: int, c: int) -> QgsPointXY:  # QGIS shows a pixel grid with x = column, y = -row
        return QgsPointXY(c + 0.5, -(r + 0.5))

    for r, c in zip(*np.nonzero((labels == 1) | (labels == 2))):  # saved: classes 1 and 2 only
        feature = ogr.Feature(points.GetLayerDefn())
        feature.SetField("class_id", int(labels[r, c]))
        feature.SetGeometry(ogr.CreateGeometryFromWkt(centre(r, c).asWkt().replace("Point", "POINT")))
        points.CreateFeature(feature)
    ds = None
    saved_bytes = saved.read_bytes()
    scene = QgsRasterLayer(str(scene_path), "pixels")
    layer = QgsVectorLayer(str(saved), "labels", "ogr")
    assert scene.isValid() and not scene.crs().isValid() and layer.isValid() and not layer.crs().isValid()
    qgis_new_project.addMapLayers([scene, layer])
    layer.startEditing()
    for r, c in zip(*np.nonzero(labels == 3)):  # class 3: drawn, not saved
        feature = QgsFeature(layer.fields())
        feature.setAttribute("class_id", 3)
        feature.setGeometry(QgsGeometry.fromPointXY(centre(r, c)))
        assert layer.addFeature(feature)
    assert has_unsaved_edits(layer)
    out = tmp_path / "run"
    task = hypersynth_plugin.run_from_dock({
        "scene_layer_id": scene.id(), "label_layer_id": layer.id(), "classes": data.classes,
        "output_folder": str(out), "method": "rf", "seed": 3})
    assert task is not None and wait_until(lambda: not hypersynth_plugin.tasks.running, timeout=120)
    assert task.error is None, task.error_details
    assert {c.id for c in task.result.classes} == {1, 2, 3}  # class 3 exists only in the unsaved edits
    assert 3 in np.unique(gdal.Open(str(out / "classification.tif")).ReadAsArray())
    assert saved.read_bytes() == saved_bytes and has_unsaved_edits(layer)  # still the analyst's to save or not
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".hypersynth")) == []  # the copy is gone
    # the report says which layer the run read, and keeps the dock's classes in a file the dock loads again
    report = (out / "report.md").read_text()
    assert ("Label file: the layer 'labels' (labels.shp, unsaved edits included) as it stood in QGIS (copied for the "
            "run, the copy not kept)") in report
    assert "Class file: the dock's classes and prompts as they stood, kept as run_classes.json in this folder" in report
    from hypersynth.core.io.classes import read_classes

    assert [(c.id, c.name, c.prompt) for c in read_classes(out / "run_classes.json")] == [
        (c.id, c.name, c.prompt) for c in data.classes]
    layer.rollBack()


def test_class_ids_above_255_go_through_a_dock_run_into_a_16_bit_map(hypersynth_plugin, qgis_new_project,
                                                                    small_scene, tmp_path):
    """The engine takes class ids 1 to 65535 (a map with ids above 255 is written as uint16): so does the dock,
    from its labels to the styled map in the project."""
    import dataclasses

    from osgeo import gdal

    data, labels, scene_path, _ = small_scene
    wide = {1: 300, 2: 1000, 3: 65535}
    classes = [dataclasses.replace(c, id=wide[c.id]) for c in data.classes]
    scene = QgsRasterLayer(scene_path, "scene")
    points = _memory_points(data, np.vectorize(lambda v: wide.get(int(v), 0))(labels))
    qgis_new_project.addMapLayers([scene, points])
    out = tmp_path / "run"
    task = hypersynth_plugin.run_from_dock({
        "scene_layer_id": scene.id(), "label_layer_id": points.id(), "classes": classes,
        "output_folder": str(out), "method": "rf", "seed": 3})
    assert task is not None and wait_until(lambda: not hypersynth_plugin.tasks.running, timeout=120)
    assert task.error is None, task.error_details
    mapped = gdal.Open(str(out / "classification.tif"))
    assert mapped.GetRasterBand(1).DataType == gdal.GDT_UInt16
    assert set(np.unique(mapped.ReadAsArray()).tolist()) <= {0, 300, 1000, 65535}
    assert {300, 1000, 65535} <= set(np.unique(mapped.ReadAsArray()).tolist())
    group = qgis_new_project.layerTreeRoot().findGroup("run: Random forest scene")
    renderer = group.findLayers()[-1].layer().renderer()  # the class map
    assert {(c.value, c.label) for c in renderer.classes()} == {(c.id, c.name) for c in classes}


def test_outputs_written_after_the_analyst_agreed_are_not_replaced(tmp_path):
    """The run dialog's yes covers the outputs it named; one written since (another run) is refused, also when a
    queued task starts later."""
    from hypersynth.plugin.runs import check_output_folder, check_still_approved

    out = tmp_path / "run"
    out.mkdir()
    (out / "classification.tif").write_bytes(b"asked about")
    check_output_folder(str(out), [], overwrite=True, approved=["classification.tif"])
    (out / "report.html").write_text("written after the question")
    message = (f"{out} now holds report.html, written after you agreed to replace classification.tif (another run?); "
               "run again to be asked about them, or choose another output folder")
    with pytest.raises(ValueError, match="now holds report.html") as refused:
        check_output_folder(str(out), [], overwrite=True, approved=["classification.tif"])
    assert str(refused.value) == message
    with pytest.raises(ValueError, match="written after you agreed to replace nothing"):
        check_still_approved(str(out), [])
    check_still_approved(str(out), None)  # not from the dialog: overwrite alone decides
    assert (out / "report.html").read_text() == "written after the question"


def test_preview_without_a_trained_model_explains_what_to_do(hypersynth_plugin, qgis_iface):
    hypersynth_plugin.last_bundle = None
    assert hypersynth_plugin.preview_prompt(1, "calm lake water") is None
    assert any("run Augment & Classify once" in m for m in qgis_iface.messageBar().get_messages(Qgis.Warning))


@pytest.mark.slow
def test_augment_run_then_prompt_preview_in_the_dock(qgis_iface, qgis_processing, qgis_new_project, small_scene,
                                                      tmp_path):
    """The whole dock workflow: Augment & Classify (tiny) in a task, then a prompt preview from its model, saved."""
    import torch

    from hypersynth import classFactory
    from hypersynth.core.io.read import read_scene
    from hypersynth.core.ldm.model import SynthesisModel
    from hypersynth.core.methods import MethodSettings
    from hypersynth.core.progress import NULL_REPORTER
    from hypersynth.plugin.runs import preview_job, preview_start
    from hypersynth.ui.attention_dock import ANCHORED_NOTE

    torch.set_num_threads(1)
    data, labels, scene_path, _ = small_scene
    plugin = classFactory(qgis_iface)
    plugin.initGui()
    try:
        shown, show_preview = [], plugin.dock.show_preview
        plugin.dock.show_preview = lambda **kwargs: (shown.append(kwargs), show_preview(**kwargs))
        scene = QgsRasterLayer(scene_path, "scene")
        points = _memory_points(data, labels)
        qgis_new_project.addMapLayers([scene, points])
        task = plugin.run_from_dock({
            "scene_layer_id": scene.id(), "label_layer_id": points.id(), "classes": data.classes,
            "class_field": "class_id", "method": "augment", "preset": "tiny", "device": "cpu",
            "output_folder": str(tmp_path / "run"), "synthetic_patches": True})
        assert wait_until(lambda: not plugin.tasks.running, timeout=600), task.description()
        assert task.error is None, task.error_details
        assert task.callback_error is None, task.callback_error
        assert plugin.last_bundle and Path(plugin.last_bundle, "manifest.json").is_file()
        assert (tmp_path / "run" / "synthetic_patches.tif").is_file()  # asked for in the run dialog
        assert task.result.metrics is None and task.result.labels_cv_accuracy is not None  # no validation labels:
        said = f"CV {100 * task.result.labels_cv_accuracy:.1f} % (optimistic)"  # the one figure
        assert wait_until(lambda: any(said in m for m in qgis_iface.messageBar().get_messages(Qgis.Success)))
        synthetic = plugin.dock.spectral_dock().class_bands("synthetic")  # the run's spectra, beside the labels'
        assert sorted(b.name for b in synthetic) == sorted(f"{c.name} (synthetic)" for c in data.classes)
        assert all(len(b.mean) == data.scene.bands and np.isfinite(b.mean).any() for b in synthetic)
        assert plugin.dock.spectral_dock().show_source["synthetic"].isEnabled()
        attention = plugin.dock.attention_dock()  # the run's one patch per class, picked by class
        names = [attention.class_box.itemText(i) for i in range(attention.class_box.count())]
        assert sorted(names) == sorted(c.name for c in data.classes) and attention.images

        preview = plugin.preview_prompt(1, data.classes[0].text)
        assert wait_until(lambda: not plugin.tasks.running, timeout=300)
        assert preview.error is None, preview.error_details
        assert preview.callback_error is None, preview.callback_error  # the dock showed it without error
        assert len(shown) == 1 and shown[0]["patches"].shape[0] == 4
        model = SynthesisModel.load(plugin.last_bundle)  # the class's labelled mean is drawn beside the preview
        np.testing.assert_allclose(shown[0]["labelled_mean"], model.class_spectra[0])
        kept = len(model.examples_of(1))  # started as a run's: from the class's labelled patches kept with the model
        name = model.class_info(1).name
        assert shown[0]["anchored"] and shown[0]["class_name"] == name
        assert shown[0]["start"] == preview_start(kept, MethodSettings.anchor_strength, class_name=name)
        assert np.isfinite(shown[0]["prompt_effect_deg"]) and shown[0]["prompt_alone_mean"].shape == (model.bands,)
        assert np.isfinite(shown[0]["noise_effect_deg"]) and shown[0]["without_prompt_mean"].shape == (model.bands,)
        said = plugin.dock.prompts_panel.preview_title.text()
        assert "as a run makes them" in said and "The prompt turns them" in said and "Dotted: from noise" in said
        assert ANCHORED_NOTE in plugin.dock.attention_dock().status.text()  # its patch too, under its maps
        noise = preview_job(plugin.last_bundle, 1, "bare soil", device="cpu", anchor_strength=1.0)(NULL_REPORTER)
        assert not noise["anchored"] and noise["start"] == preview_start(
            0, 1.0, "the run settings' anchor strength is 1: a run starts from noise too")
        assert noise["prompt_effect_deg"] is None and noise["prompt_alone_mean"] is None  # its patches are that
        assert np.isfinite(noise["noise_effect_deg"])  # what the prompt does from noise is still said
        model.example_patches = model.example_class_ids = None  # a model saved before it kept labelled patches
        model.save(tmp_path / "older")
        older = preview_job(str(tmp_path / "older"), 1, "bare soil", device="cpu")(NULL_REPORTER)
        assert not older["anchored"] and "the last run's model was saved before HyperSynth kept labelled patches" in \
            older["start"]
        assert len(plugin.dock.prompts_panel.spectra.getPlotItem().listDataItems()) == 7  # + the prompt alone's mean
        attention = shown[0]["attention"]
        assert attention is not None and attention["attention"].shape[-1] == len(attention["tokens"])
        h, w = attention["latent_hw"]
        assert attention["attention"].shape[-2] == h * w
        patch_file = shown[0]["patch_file"]  # what a Save writes: the model's classes, values and band widths too
        assert [c.id for c in patch_file["classes"]] == [c.id for c in data.classes]
        assert patch_file["labels"].tolist() == [1] * 4
        assert patch_file["masks"].shape == (4, *shown[0]["patches"].shape[2:])

        # the dock's Save: the previewed patches as a mosaic on the map, as Processing's Synthesise puts one there
        panel = plugin.dock.prompts_panel
        assert panel.save_button.isEnabled()
        panel.save_preview(tmp_path / "preview.tif")
        root = qgis_new_project.layerTreeRoot()
        mosaic, = qgis_new_project.mapLayersByName("preview")
        classes, = qgis_new_project.mapLayersByName("preview_classes")
        assert mosaic.renderer().type() == "multibandcolor" and root.findLayer(mosaic.id()).isVisible()
        assert classes.renderer().type() == "paletted" and not root.findLayer(classes.id()).isVisible()
        # the mosaic's own pixel grid lies far from the scene: the map goes to it, and the dock says how to go back
        assert qgis_iface.mapCanvas().extent().contains(mosaic.extent())
        assert "on a pixel grid of their own, away from the scene" in plugin.dock.status.text()
        saved = read_scene(tmp_path / "preview.tif")  # the engine's values, as the model gave them
        np.testing.assert_allclose(saved.cube[:, :3, :3], shown[0]["patch_file"]["patches"][0][:, :3, :3], rtol=1e-6)
        panel.save_preview(tmp_path / "preview.tif", overwrite=True)  # saved again: the layers are replaced
        assert len(qgis_new_project.mapLayersByName("preview")) == 1
    finally:
        plugin.unload()


def test_a_run_the_dock_requests_is_followed_in_the_dock(qgis_iface, qgis_processing, qgis_new_project, small_scene,
                                                        tmp_path):
    """The dock's runRequested reaches the plugin, which starts the task and hands it to the dock to follow."""
    from hypersynth import classFactory

    data, labels, scene_path, _ = small_scene
    plugin = classFactory(qgis_iface)
    plugin.initGui()
    try:
        scene = QgsRasterLayer(scene_path, "scene")
        points = _memory_points(data, labels)
        qgis_new_project.addMapLayers([scene, points])
        plugin.dock.runRequested.emit({
            "scene_layer_id": scene.id(), "label_layer_id": points.id(), "classes": data.classes,
            "output_folder": str(tmp_path / "run"), "method": "rf"})
        assert plugin.tasks.running and plugin.dock.running()
        assert wait_until(lambda: not plugin.tasks.running and not plugin.dock.running(), timeout=120)
        status = plugin.dock.status.text()
        assert "Random forest scene: finished" in status and (tmp_path / "run" / "report.html").as_uri() in status
    finally:
        plugin.unload()


def test_a_run_whose_scene_left_the_project_adds_nothing_and_says_where_its_map_is(
        qgis_iface, qgis_processing, qgis_new_project, small_scene, tmp_path):
    """The analyst closes the project (or removes the scene) while a run goes: its layers must not land in
    whatever project is open when it ends."""
    from hypersynth import classFactory

    plugin = classFactory(qgis_iface)
    plugin.initGui()
    try:
        values = _requests(small_scene, qgis_new_project)
        plugin.dock.runRequested.emit({**values, "output_folder": str(tmp_path / "run")})
        assert plugin.tasks.running
        qgis_new_project.removeAllMapLayers()  # as closing the project does
        assert wait_until(lambda: not plugin.tasks.running and not plugin.dock.running(), timeout=120)
        assert qgis_new_project.mapLayers() == {}
        bar = qgis_iface.messageBar()  # the message comes once the event loop turns (after QGIS's own notice)
        assert wait_until(lambda: any("finished after" in m for m in bar.get_messages(Qgis.Warning)))
        said = qgis_iface.messageBar().get_messages(Qgis.Warning)[-1]
        assert "finished after its scene left the project, so nothing was added" in said
        assert str(tmp_path / "run" / "classification.tif") in said
        assert "its scene left the project, so nothing was added" in plugin.dock.status.text()
    finally:
        plugin.unload()


def _requests(small_scene, qgis_new_project) -> dict:
    """The dock's request for the small scene with memory point labels (copied to a scratch file per run)."""
    data, labels, scene_path, _ = small_scene
    scene = QgsRasterLayer(scene_path, "scene")
    points = _memory_points(data, labels)
    qgis_new_project.addMapLayers([scene, points])
    return {"scene_layer_id": scene.id(), "label_layer_id": points.id(), "classes": data.classes, "method": "rf"}


def test_a_run_ending_after_a_new_project_leaves_its_model_to_the_project_it_ran_in(
        qgis_iface, qgis_processing, qgis_new_project, small_scene, tmp_path, monkeypatch):
    """Project ▸ New while Augment & Classify runs: the run's synthesis model is not the new project's prompt
    preview model (nor written into it)."""
    import threading
    from types import SimpleNamespace

    import hypersynth.core.pipeline as pipeline
    from hypersynth import classFactory

    go_on = threading.Event()
    run = tmp_path / "run"

    def waits(*args, reporter=None, **kwargs):  # a run that ends when the test says, with a synthesis model
        while not go_on.wait(0.01):
            reporter.check()
        (run / "model_bundle").mkdir()
        return SimpleNamespace(bundle=run / "model_bundle", report=str(run / "report.md"),
                               class_map=str(run / "classification.tif"))

    monkeypatch.setattr(pipeline, "classify_scene", waits)
    plugin = classFactory(qgis_iface)
    plugin.initGui()
    try:
        plugin.dock.runRequested.emit({**_requests(small_scene, qgis_new_project), "output_folder": str(run)})
        assert plugin.dock.running()
        QgsProject.instance().clear()  # Project ▸ New
        go_on.set()
        assert wait_until(lambda: not plugin.tasks.running and not plugin.dock.running(), timeout=30)
        assert "its scene left the project, so nothing was added" in plugin.dock.status.text()
        assert plugin.last_bundle is None
        assert QgsProject.instance().readEntry("HyperSynth", "dock", "") == ("", False)
    finally:
        go_on.set()
        plugin.unload()


def test_an_output_folder_the_run_cannot_use_is_refused_before_anything_is_written(
        qgis_iface, qgis_processing, qgis_new_project, small_scene, tmp_path):
    """A file, a folder under a file, an earlier run's outputs, the scene where an output goes: a message on the
    bar and under the dock's button (no traceback), no task, and the analyst's files as they were."""
    from hypersynth import classFactory

    plugin = classFactory(qgis_iface)
    plugin.initGui()
    try:
        base = _requests(small_scene, qgis_new_project)
        a_file = tmp_path / "notes.txt"
        a_file.write_text("mine")
        earlier = tmp_path / "earlier"
        earlier.mkdir()
        (earlier / "classification.tif").write_bytes(b"an earlier map")
        (earlier / "report.html").write_text("an earlier report")
        _, _, scene_path, _ = small_scene
        scene_folder = tmp_path / "project"
        cases = [
            (a_file, f"{a_file} is a file, not a folder; choose another output folder"),
            (a_file / "run", f"{a_file / 'run'} cannot take the outputs: {a_file} is a file, so no folder can be made "
                             "there; choose another output folder"),
            (earlier, f"{earlier} already holds classification.tif, report.html, files a run writes there (an "
                      "earlier run's, or yours by those names); choose another output folder, or allow replacing them "
                      "(Augment & Classify asks)")]
        for out, message in cases:
            plugin.dock.runRequested.emit({**base, "output_folder": str(out)})  # as the dock's request_run does
            assert plugin.tasks.running == [] and not plugin.dock.running()
            assert qgis_iface.messageBar().get_messages(Qgis.Warning)[-1] == f"HyperSynth:{message}"
            assert plugin.dock.status.text() == f"Augment & Classify did not start: {message}"
        assert a_file.read_text() == "mine"
        assert sorted(p.name for p in earlier.iterdir()) == ["classification.tif", "report.html"]  # no scratch file
        assert (earlier / "classification.tif").read_bytes() == b"an earlier map"
        scene_copy = scene_folder / "model_bundle" / "scene.tif"  # the scene inside what a run replaces
        scene_copy.parent.mkdir(parents=True)
        scene_copy.write_bytes(Path(scene_path).read_bytes())
        moved = QgsRasterLayer(str(scene_copy), "scene copy")
        qgis_new_project.addMapLayer(moved)
        assert plugin.run_from_dock({**base, "scene_layer_id": moved.id(), "output_folder": str(scene_folder),
                                     "overwrite": True}) is None
        assert plugin.dock.status.text() == (f"Augment & Classify did not start: your input {scene_copy} is where the "
                                             "run writes its model_bundle: choose another output folder, or move the "
                                             "input out of it")
        assert scene_copy.read_bytes() == Path(scene_path).read_bytes()
    finally:
        plugin.unload()


def test_a_label_layer_removed_before_the_run_is_a_message(hypersynth_plugin, qgis_iface, qgis_new_project,
                                                           small_scene, tmp_path):
    base = _requests(small_scene, qgis_new_project)
    qgis_new_project.removeMapLayer(base["label_layer_id"])
    assert hypersynth_plugin.run_from_dock({**base, "output_folder": str(tmp_path / "run")}) is None
    assert qgis_iface.messageBar().get_messages(Qgis.Warning)[-1] == (
        "HyperSynth:the label layer is no longer in the project; choose or create one in the dock (tab 2)")
    assert not (tmp_path / "run").exists()


def test_a_second_run_requested_while_the_dock_follows_one_is_refused(qgis_iface, qgis_processing, qgis_new_project,
                                                                      small_scene, tmp_path, monkeypatch):
    import time

    import hypersynth.core.pipeline as pipeline
    from hypersynth import classFactory

    def slow(*args, reporter=None, **kwargs):  # a run that takes a while and can be cancelled
        for _ in range(400):
            reporter.progress(0.1, "training")
            reporter.check()
            time.sleep(0.01)
        raise RuntimeError("the slow stand-in run ended")

    monkeypatch.setattr(pipeline, "classify_scene", slow)
    plugin = classFactory(qgis_iface)
    plugin.initGui()
    try:
        request = {**_requests(small_scene, qgis_new_project), "output_folder": str(tmp_path / "new" / "run")}
        plugin.dock.runRequested.emit(request)
        assert len(plugin.tasks.running) == 1 and plugin.dock.running()
        assert (tmp_path / "new" / "run").is_dir()  # made for the run's files
        first = plugin.tasks.running[0]
        plugin.dock.runRequested.emit({**request, "output_folder": str(tmp_path / "second")})
        assert plugin.tasks.running == [first]
        assert plugin.dock.status.text() == ("Augment & Classify did not start: a run of the dock is still going; "
                                             "wait for it or cancel it")
        plugin.dock.run_button.click()  # its Cancel
        assert wait_until(lambda: not plugin.tasks.running, timeout=30)
        assert "cancelled; nothing was written" in plugin.dock.status.text()
        assert not (tmp_path / "second").exists()
        assert not (tmp_path / "new").exists()  # nor the folders made for the cancelled run (a desktop review)
    finally:
        plugin.unload()


def test_a_preview_without_a_model_says_so_in_the_prompts_tab(qgis_iface, qgis_processing, qgis_new_project, tmp_path):
    """A new project: an earlier test's project would bring back its run's model for previews."""
    from hypersynth import classFactory

    plugin = classFactory(qgis_iface)
    plugin.initGui()
    try:
        plugin.dock.classes_panel.add_class("lake")
        plugin.dock.prompts_panel.request_preview()  # the Preview button
        assert plugin.dock.prompts_panel.preview_title.text() == (
            "No preview: a prompt preview needs a trained synthesis model: run Augment & Classify once, its model is "
            "then reused for previews")
        plugin.last_bundle = str(tmp_path / "deleted" / "model_bundle")  # the last run's folder was removed
        assert plugin.preview_prompt(1, "lake") is None and plugin.tasks.running == []
        assert "the synthesis model of the last run" in plugin.dock.prompts_panel.preview_title.text()
        assert "is gone; run Augment & Classify again" in qgis_iface.messageBar().get_messages(Qgis.Warning)[-1]
    finally:
        plugin.unload()


def test_an_output_folder_another_run_writes_into_is_refused_up_front(hypersynth_plugin, qgis_iface,
                                                                      qgis_new_project, small_scene, tmp_path):
    """The dock's check (and the run dialog's) names the run holding the folder before anything starts; the folder
    is free again when that run ends."""
    from hypersynth.core.outputs import claim_output_folder
    from hypersynth.ui.run_dialog import folder_problem

    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    base = _requests(small_scene, qgis_new_project)
    with claim_output_folder(out, "Augment & Classify of another scene"):  # as a Processing run holds it
        assert hypersynth_plugin.run_from_dock({**base, "output_folder": str(out)}) is None
        said = qgis_iface.messageBar().get_messages(Qgis.Warning)[-1]
        assert said.startswith(f"HyperSynth:{out} is in use by another run in this program (Augment & Classify of "
                               "another scene, process ")
        assert said.endswith("which writes its outputs there: wait for it to finish, or choose another output folder")
        assert folder_problem(str(out)) == said[len("HyperSynth:"):] + "."
        assert hypersynth_plugin.tasks.running == []
    assert folder_problem(str(out)) is None
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_a_dock_run_started_while_another_run_goes_says_both_share_the_cpu(hypersynth_plugin, qgis_iface,
                                                                            qgis_new_project, small_scene, tmp_path):
    from hypersynth.core.outputs import claim_output_folder

    base = _requests(small_scene, qgis_new_project)
    with claim_output_folder(tmp_path / "processing", "Augment & Classify of other.tif"):  # a Processing run's
        task = hypersynth_plugin.run_from_dock({**base, "output_folder": str(tmp_path / "run")})
        assert task is not None  # not refused: another folder
        said = qgis_iface.messageBar().get_messages(Qgis.Warning)[-1]
        assert said == ("HyperSynth:Random forest scene shares the CPU with Augment & Classify of other.tif, which is "
                        "still going: both run several times slower until one ends (cancel one to speed up the "
                        "other).")
    assert wait_until(lambda: not hypersynth_plugin.tasks.running, timeout=120) and task.error is None


def _a_clause(text: Optional[str]) -> bool:
    """Reads mid-sentence and after "did not start: ": no capital, no full stop (a path may start it)."""
    return bool(text) and text == text.strip() and not text.endswith(".") and not text[0].isupper()


def test_folder_refusals_are_put_together_from_the_engines_clauses_as_they_are(tmp_path, monkeypatch):
    """The dock's refusal and the run dialog's sentence are made of core's clauses (write_problem, claim_holder)
    with nothing reworded: this fails when core's text stops being a clause (a capital, a full stop), and a
    relative folder's name keeps its case in both."""
    from hypersynth.core.outputs import claim_holder, claim_output_folder, write_problem
    from hypersynth.plugin.runs import check_output_folder
    from hypersynth.ui.run_dialog import folder_problem

    monkeypatch.chdir(tmp_path)
    Path("notes.txt").write_text("mine")
    under_a_file = Path("notes.txt") / "run"
    fact = write_problem(under_a_file)
    assert _a_clause(fact) and fact.startswith(f"{tmp_path / 'notes.txt'} is a file")
    said = f"{under_a_file} cannot take the outputs: {fact}"
    with pytest.raises(ValueError) as refused:
        check_output_folder(str(under_a_file), [], overwrite=False)
    assert str(refused.value) == f"{said}; choose another output folder"
    assert folder_problem(str(under_a_file)) == f"{said}."

    with claim_output_folder(Path("busy"), "Augment & Classify of another scene"):
        held = claim_holder(Path("busy"))
        assert _a_clause(held) and held.startswith("busy is in use by another run in this program")
        assert held.endswith("choose another output folder")  # it says what to do: nothing is added to it
        with pytest.raises(ValueError) as refused:
            check_output_folder("busy", [], overwrite=False)
        assert str(refused.value) == held
        assert folder_problem("busy") == f"{held}."  # not "Busy is in use…": a folder's name keeps its case



def test_the_accuracy_line_says_when_few_pixels_validate():
    from hypersynth.plugin.runs import accuracy_line

    assert accuracy_line({"oa": 0.5, "aa": 0.5, "kappa": 0.2, "n_test": 10}) == (
        "OA 50.0 %, AA 50.0 %, κ 0.200 on 10 validation pixels (the OA's 95 % interval: 23.7–76.3 %; few pixels to "
        "judge by)")
    assert accuracy_line({"oa": 0.931, "aa": 0.957, "kappa": 0.912, "n_test": 3767}) == (
        "OA 93.1 %, AA 95.7 %, κ 0.912 on 3767 validation pixels")
    assert accuracy_line({"oa": 0.931, "aa": 0.957, "kappa": 0.912, "n_test": 3767}, short=True) == (
        "OA 93.1 % on 3767 validation pixels")  # the message bar's one line


def test_without_validation_labels_the_line_gives_the_labels_cross_validation_as_optimistic():
    """A default run (no validation labels) said nothing of accuracy in the dock: the blend's CV figure was in the
    report only."""
    from hypersynth.plugin.runs import accuracy_line

    assert accuracy_line(None, labels_cv=0.9134) == (
        "your labels' cross-validated balanced accuracy 91.3 % (optimistic with few labels: a validation sample gives "
        "the map's)")
    assert accuracy_line(None, short=True, labels_cv=0.9134) == "CV 91.3 % (optimistic)"
    assert accuracy_line(None) == ""  # too few labels to cross-validate, or a forest's run: nothing to say
    assert accuracy_line({"oa": 0.5, "n_test": 40}, labels_cv=0.9).startswith("OA 50.0 %")  # validation's leads


SAMPLED = {"oa": 0.9205, "aa": 0.9, "kappa": None, "n_test": 88,  # κ undefined: one class validated
           "area_adjusted": {"oa": 0.9071, "oa_ci95": 0.0615, "validation_sample": "a stratified random sample of "
                             "map.tif: 120 points", "validation_sample_problem": None, "sample_points": 120,
                             "method": "Stehman 2014, strata = the classes of map.tif"}}


def test_a_stratified_samples_estimate_leads_the_dock_and_processing_lines():
    """A stratified sample over-represents small classes: the area-adjusted OA is the map's estimate and leads; the
    points' own figures follow; κ undefined is a dash, not a crash (Processing's outputs leave it out)."""
    from hypersynth.plugin.algorithms.base import accuracy_lines, accuracy_results
    from hypersynth.plugin.runs import accuracy_line

    assert accuracy_line(SAMPLED) == ("area-adjusted OA 90.7 ± 6.2 % from a stratified random sample; its points' own "
                                      "OA 92.0 %, AA 90.0 % on 88 validation pixels")
    assert accuracy_line(SAMPLED, short=True) == "area-adjusted OA 90.7 ± 6.2 %"
    assert accuracy_lines(SAMPLED) == [
        "Area-adjusted OA 90.71 ± 6.15 %: the estimate of the map's accuracy (the validation points are a stratified "
        "random sample; Stehman 2014, strata = the classes of map.tif; 88 of its 120 points labelled and scored)",
        "The points' own OA 92.05 %, AA 90.00 %, kappa – on 88 validation pixels (they over-represent small "
        "classes)"]
    assert accuracy_results(SAMPLED) == {"OVERALL_ACCURACY": 0.9205, "AVERAGE_ACCURACY": 0.9}
    gap = {**SAMPLED, "area_adjusted": {**SAMPLED["area_adjusted"], "unsampled_map_classes": ["road"]}}
    assert accuracy_line(gap, short=True) == ("area-adjusted OA 90.7 ± 6.2 % (over the map without road: no point "
                                              "there)")  # the part of the map the figure leaves out, where quoted
    brushed = {**SAMPLED, "kappa": 0.8, "area_adjusted": {**SAMPLED["area_adjusted"], "validation_sample": None,
                                                          "unsampled_map_classes": ["road"]}}
    assert accuracy_line(brushed).startswith("OA 92.0 %, AA 90.0 %, κ 0.800 on 88 validation pixels")
    assert accuracy_lines(brushed) == [
        "OA 92.05 %, AA 90.00 %, kappa 0.8000 on 88 validation pixels",
        "Area-adjusted OA 90.71 % ± 6.15: an indication only (these figures hold for a random sample of the map, "
        "which nothing here says the validation pixels are; it covers only the map classes with validation pixels, "
        "not road)"]
    one = {**brushed, "aa": 0.0, "area_adjusted": {}, "classes": [{"name": "roof", "test_pixels": 40},
                                                                  {"name": "tree", "test_pixels": 0}]}
    assert accuracy_lines(one) == [  # an AA of 0 is 0.00 %, not "nan"
        "OA 92.05 %, AA 0.00 %, kappa 0.8000 on 88 validation pixels",
        "The validation labels hold one class (roof): AA repeats its accuracy and kappa says nothing; give "
        "validation labels of every class to judge the map"]


def test_an_edited_validation_sample_is_copied_with_its_design_and_both_are_removed(tmp_path):
    """A sample drawn with sample-validation, labelled in QGIS and not saved, goes to a dock run as a copy: its
    design goes beside the copy (so the run's report knows the sample), and the run's clean-up removes both."""
    from hypersynth.core.evaluation.sampling import (design_file, labelled_sample_design, read_design,
                                                     sample_validation)
    from hypersynth.core.io.write import write_class_map
    from hypersynth.core.scene import ClassInfo
    from hypersynth.plugin.runs import label_file_for, remove_scratch

    grid = np.ones((20, 20), np.int32)
    grid[10:] = 2
    write_class_map(tmp_path / "map.tif", grid, [ClassInfo(1, "water"), ClassInfo(2, "crop")],
                    transform=(500000.0, 30.0, 0.0, 5800000.0, 0.0, -30.0), crs_wkt="EPSG:32633")
    sample_validation(tmp_path / "map.tif", tmp_path / "check.gpkg", seed=0, per_class=5)
    layer = QgsVectorLayer(str(tmp_path / "check.gpkg"), "check", "ogr")
    assert layer.startEditing()
    field = layer.fields().indexOf("class_id")
    for feature in layer.getFeatures():
        layer.changeAttributeValue(feature.id(), field, 1)
    out = tmp_path / "run"
    copy, scratch = label_file_for(layer, str(out), "validation labels")
    own, copied = read_design(tmp_path / "check.gpkg"), read_design(copy)
    assert scratch == copy and copied.points_file == Path(copy).name and copied.drawn == own.drawn
    labelled = labelled_sample_design(copy)  # the copy's points are where they were drawn: none moved
    assert labelled is not None and labelled.moved == [] and labelled.off_map == []
    remove_scratch(scratch)
    assert sorted(p.name for p in out.iterdir()) == [] and design_file(tmp_path / "check.gpkg").is_file()
    layer.rollBack()
