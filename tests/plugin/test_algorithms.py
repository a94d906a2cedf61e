"""The Processing algorithms through their public ids, on a small demo scene written for the test."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr
from qgis.core import (
    QgsMultiBandColorRenderer,
    QgsPalettedRasterRenderer,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProject,
    QgsRasterLayer,
    QgsSingleBandPseudoColorRenderer,
    QgsVectorLayer,
)

import processing

from .conftest import CancelAfterProgress, RecordingFeedback, write_label_points


@dataclass
class SmallDemo:
    scene: str
    labels: str  # sparse label raster
    points: str  # the same labels as points, fields class / class_id
    ground_truth: str
    classes: str  # class and prompt JSON
    class_ids: set


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> SmallDemo:
    from hypersynth.core.demo import make_demo_scene, sparse_labels
    from hypersynth.core.io.classes import write_classes
    from hypersynth.core.io.write import write_label_raster, write_scene

    folder = tmp_path_factory.mktemp("demo")
    data = make_demo_scene(size=32, bands=30, n_classes=3, seed=0)
    grid = {"transform": data.scene.transform, "crs_wkt": data.scene.crs_wkt}
    sparse = sparse_labels(data.labels, n_per_class=5, seed=0)
    return SmallDemo(
        scene=str(write_scene(data.scene, folder / "scene.tif")),
        labels=str(write_label_raster(folder / "labels.tif", sparse, data.classes, **grid)),
        points=write_label_points(folder / "labels.gpkg", sparse, {c.id: c.name for c in data.classes}, **grid),
        ground_truth=str(write_label_raster(folder / "ground_truth.tif", data.labels, data.classes, **grid)),
        classes=str(write_classes(folder / "classes.json", data.classes)),
        class_ids={c.id for c in data.classes})


def _band(path: str) -> tuple[np.ndarray, gdal.Band, gdal.Dataset]:
    ds = gdal.Open(path)
    band = ds.GetRasterBand(1)
    return band.ReadAsArray(), band, ds


def test_classifybaseline_writes_class_ids_with_colour_table(hypersynth_plugin, demo, tmp_path):
    out = tmp_path / "results"
    result = processing.run("hypersynth:classifybaseline", {
        "SCENE": demo.scene, "LABELS": demo.labels, "CLASSES": demo.classes, "VALIDATION": demo.ground_truth,
        "METHOD": 0, "OUTPUT": str(out / "map.tif"), "CONFIDENCE": str(out / "confidence.tif"),
        "REPORT": str(out / "report.html")})
    assert result["OUTPUT"] == str(out / "map.tif")
    values, band, ds = _band(result["OUTPUT"])
    assert values.shape == (32, 32)
    assert set(np.unique(values).tolist()) <= demo.class_ids and len(np.unique(values)) >= 2
    table = band.GetColorTable()
    assert table is not None and table.GetCount() > max(demo.class_ids)
    assert table.GetColorEntry(1)[:3] == (31, 119, 180)  # the class file's colour for class 1 (water)
    assert (out / "map.qml").is_file()  # the style travels with the map
    confidence, _, _ = _band(result["CONFIDENCE"])
    assert confidence.shape == (32, 32) and 0.0 < confidence.min() and confidence.max() <= 1.0
    html = Path(result["REPORT"]).read_text(encoding="utf-8")
    assert "data:image/png;base64," in html  # one self-contained file
    assert 0.5 < result["OVERALL_ACCURACY"] <= 1.0 and -1.0 <= result["KAPPA"] <= 1.0
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # no staging left


def test_classifybaseline_with_point_layer_and_class_field(hypersynth_plugin, demo, tmp_path):
    points = QgsVectorLayer(f"{demo.points}|layername=labels", "labels", "ogr")
    assert points.isValid()
    result = processing.run("hypersynth:classifybaseline", {
        "SCENE": demo.scene, "LABELS": points, "CLASS_FIELD": "class", "METHOD": 1,
        "OUTPUT": str(tmp_path / "svm.tif"), "CONFIDENCE": str(tmp_path / "svm_confidence.tif"),
        "REPORT": str(tmp_path / "svm.html")})
    values, band, _ = _band(result["OUTPUT"])
    assert set(np.unique(values).tolist()) <= demo.class_ids
    # a layer inside a GeoPackage is read from a copy: the report names the layer and its file, not the copy
    assert (f"Label file: the layer 'labels' ({Path(demo.points).name}) as it stood in QGIS (copied for the run, the "
            "copy not kept)") in html.unescape(Path(result["REPORT"]).read_text())
    assert band.GetColorTable() is not None
    assert "OVERALL_ACCURACY" not in result  # no validation labels given
    assert "PROBABILITIES" not in result and sorted(p.name for p in tmp_path.glob("*.tif")) == [
        "svm.tif", "svm_confidence.tif"]  # probabilities only when a destination is given


def test_class_probabilities_go_where_asked(hypersynth_plugin, demo, tmp_path):
    result = processing.run("hypersynth:classifybaseline", {
        "SCENE": demo.scene, "LABELS": demo.labels, "CLASSES": demo.classes, "METHOD": 0,
        "OUTPUT": str(tmp_path / "map.tif"), "CONFIDENCE": str(tmp_path / "confidence.tif"),
        "PROBABILITIES": str(tmp_path / "proba.tif")})
    assert result["PROBABILITIES"] == str(tmp_path / "proba.tif")
    classes, _, _ = _band(result["OUTPUT"])
    ds = gdal.Open(result["PROBABILITIES"])
    proba = ds.ReadAsArray()  # (K, 32, 32)
    assert proba.shape == (len(demo.class_ids), 32, 32)
    assert ds.GetRasterBand(1).GetDescription().startswith("probability of water")
    ids = np.array(sorted(demo.class_ids))
    assert np.array_equal(ids[proba.argmax(axis=0)], classes)
    np.testing.assert_allclose(proba.sum(axis=0), 1.0, atol=1e-4)


def test_cancel_leaves_no_output(hypersynth_plugin, demo, tmp_path):
    out = tmp_path / "cancelled"
    with pytest.raises(QgsProcessingException, match="^cancelled by the user; no output was written$"):
        processing.run("hypersynth:classifybaseline", {
            "SCENE": demo.scene, "LABELS": demo.labels, "METHOD": 0, "OUTPUT": str(out / "map.tif"),
            "CONFIDENCE": str(out / "confidence.tif"), "REPORT": str(out / "report.html")},
            feedback=CancelAfterProgress(2))
    assert not out.exists() or list(out.iterdir()) == []


def test_every_algorithm_says_the_engines_refusals_the_same_way(tmp_path):
    """engine_errors, which each algorithm runs the engine under: Cancel, a bad input and a file error read as
    Processing shows them; the algorithm's own refusal and a bug (any other exception) pass unchanged."""
    from hypersynth.core.progress import Cancelled
    from hypersynth.plugin.algorithms.base import engine_errors

    denied = PermissionError(13, "Permission denied", str(tmp_path / "map.tif"))
    cases = [(Cancelled("stop"), {}, "cancelled by the user; no output was written"),
             (Cancelled("stop"), {"cancelled": "cancelled by the user; no model was written"},
              "cancelled by the user; no model was written"),
             (ValueError("the scene has 3 bands"), {}, "the scene has 3 bands"),
             (denied, {}, f"could not write or read {tmp_path / 'map.tif'}: Permission denied; check the destination "
                          "folders and free disk space"),
             (QgsProcessingException("choose at least one method"), {}, "choose at least one method"),
             (MemoryError("Unable to allocate 3.43 GiB for an array"), {},
              "this computer ran out of memory (Unable to allocate 3.43 GiB for an array); nothing was written. "
              "Close other programs, crop the scene or leave out bands, or use a machine with more memory"),
             (RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"), {},
              "the disk is full; nothing was written. Free some space, or choose an output on another disk")]
    for raised, options, said in cases:
        with pytest.raises(QgsProcessingException) as caught:
            with engine_errors(**options):
                raise raised
        assert str(caught.value) == said
    with pytest.raises(KeyError):  # a bug, not a refusal: Processing shows its traceback
        with engine_errors():
            raise KeyError("class_id")
    with pytest.raises(RuntimeError, match="shape mismatch"):  # so is any other RuntimeError
        with engine_errors():
            raise RuntimeError("shape mismatch")


def test_a_gpu_out_of_memory_says_what_to_do_and_writes_nothing(hypersynth_plugin, demo, tmp_path, monkeypatch):
    import torch

    from hypersynth.core.ldm import training

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
                                     "3.81 GiB of which 1.02 GiB is free.\nSee documentation for Memory Management")

    monkeypatch.setattr(training, "train_synthesis_model", out_of_memory)
    out = tmp_path / "gpu"
    with pytest.raises(QgsProcessingException, match=r"^the GPU ran out of memory \(CUDA out of memory. Tried to "
                                                     r"allocate 2.00 GiB. .* is free\); nothing was written. Close "
                                                     r"other programs that use the GPU, .* run on the CPU"):
        processing.run("hypersynth:augmentandclassify", {
            "SCENE": demo.scene, "LABELS": demo.labels, "CLASSES": demo.classes, "PRESET": 0, "DEVICE": 1,
            "OUTPUT": str(out / "map.tif"), "CONFIDENCE": str(out / "confidence.tif"),
            "BUNDLE": str(out / "synthesis_model"), "CLASSIFIER": str(out / "classifier")})
    assert not out.exists() or list(out.iterdir()) == []


def test_bad_scene_gives_the_engine_message(hypersynth_plugin, demo, tmp_path):
    rgb = tmp_path / "rgb.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(rgb), 32, 32, 3, gdal.GDT_Byte)
    ds.SetGeoTransform(gdal.Open(demo.scene).GetGeoTransform())
    ds = None
    with pytest.raises(QgsProcessingException, match="3 bands; HyperSynth needs a hyperspectral cube"):
        processing.run("hypersynth:classifybaseline", {
            "SCENE": str(rgb), "LABELS": demo.labels, "METHOD": 0, "OUTPUT": str(tmp_path / "map.tif"),
            "CONFIDENCE": str(tmp_path / "confidence.tif")})
    assert not (tmp_path / "map.tif").exists()


def test_loaded_outputs_are_styled(hypersynth_plugin, demo, tmp_path, qgis_new_project):
    context = QgsProcessingContext()
    context.setProject(qgis_new_project)
    result = processing.runAndLoadResults("hypersynth:classifybaseline", {
        "SCENE": demo.scene, "LABELS": demo.labels, "CLASSES": demo.classes, "METHOD": 0,
        "OUTPUT": str(tmp_path / "map.tif"), "CONFIDENCE": str(tmp_path / "confidence.tif")}, context=context)
    by_source = {layer.source(): layer for layer in QgsProject.instance().mapLayers().values()}
    class_layer, confidence_layer = by_source[result["OUTPUT"]], by_source[result["CONFIDENCE"]]
    assert isinstance(class_layer.renderer(), QgsPalettedRasterRenderer)
    names = {c.value: c.label for c in class_layer.renderer().classes()}
    assert names == {1: "water", 2: "asphalt road", 3: "bare soil"}
    assert isinstance(confidence_layer.renderer(), QgsSingleBandPseudoColorRenderer)  # 1/3 to 1, 3 classes
    assert confidence_layer.renderer().classificationMin() == pytest.approx(1 / 3)
    scene = Path(demo.scene).stem  # the scene layer's name: runs on different scenes are told apart
    assert (class_layer.name(), confidence_layer.name()) == (f"{scene}: classes", f"{scene}: confidence")


def test_the_confidence_can_be_skipped_and_is_then_not_kept(hypersynth_plugin, demo, tmp_path):
    """As qgis_process runs it with OUTPUT alone: the confidence is optional (made by default in the dialog)."""
    for name in ("classifybaseline", "augmentandclassify", "classifywithbundle"):
        from qgis.core import QgsApplication

        definition = QgsApplication.processingRegistry().algorithmById(f"hypersynth:{name}").parameterDefinition(
            "CONFIDENCE")
        assert definition.flags() & definition.FlagOptional and definition.createByDefault(), name
    out = tmp_path / "out"
    result = processing.run("hypersynth:classifybaseline", {
        "SCENE": demo.scene, "LABELS": demo.labels, "METHOD": 0, "OUTPUT": str(out / "map.tif")})
    assert "CONFIDENCE" not in result and result["OUTPUT"] == str(out / "map.tif")
    assert sorted(p.name for p in out.iterdir()) == ["map.qml", "map.tif", "map.tif.aux.xml"]  # no confidence


def test_the_log_has_a_line_per_stage_and_the_progress_bar_every_step():
    """The stages of a tiny Augment & Classify run (the review's 158-line log): one line per stage and per
    cross-validation fold, none per epoch, classifier or class, "report" once."""
    from hypersynth.plugin.algorithms.base import FeedbackReporter

    stages = (["reading scene", "reading scene: finding the valid pixels", "training patches", "VAE 1/2", "VAE 2/2",
               "latents", "synthesis sampling class 1", "synthesis sampling class 2"]
              + [f"cross-validation {k}/12{s}" for k in (1, 2) for s in
                 ["", *(f": classifier {j}/8" for j in range(1, 9)), ": classifier done"]]
              + ["cross-validation", "classifier 1/8", "classifier 2/8", "classifier done", "prediction", "report",
                 "attention sampling class 1", "attention sampling class 2", "report", "done"])
    log = RecordingFeedback()
    reporter = FeedbackReporter(log)
    for k, stage in enumerate(stages):
        reporter.progress(k / len(stages), stage)
    assert log.infos == ["reading scene", "reading scene: finding the valid pixels", "training patches", "VAE 1/2",
                         "latents", "synthesis sampling class 1", "cross-validation 1/12", "cross-validation 2/12",
                         "cross-validation", "classifier 1/8", "prediction", "report", "attention sampling class 1",
                         "done"]
    assert log.progresses == [pytest.approx(100 * k / len(stages)) for k in range(len(stages))]
    bench = RecordingFeedback()
    reporter = FeedbackReporter(bench)
    run = "scene N=2 random seed 0 augment"  # a benchmark's run: its stages as a run of its own would log them
    for stage in (run, f"{run}: VAE 1/2", f"{run}: VAE 2/2", f"{run}: cross-validation 1/12",
                  f"{run}: cross-validation 1/12: classifier 1/8", f"{run}: cross-validation 1/12: classifier 2/8",
                  f"{run}: cross-validation 2/12", f"{run}: cross-validation 2/12: classifier 1/8", "done"):
        reporter.progress(0.5, stage)
    assert bench.infos == [run, f"{run}: VAE 1/2", f"{run}: cross-validation 1/12", f"{run}: cross-validation 2/12",
                           "done"]


@pytest.mark.slow
def test_augment_then_reuse_the_classifier_and_synthesis_model(hypersynth_plugin, demo, tmp_path):
    """Augment & Classify (tiny preset) keeps its models; both are reused by the other algorithms."""
    import torch

    torch.set_num_threads(1)
    result = processing.run("hypersynth:augmentandclassify", {
        "SCENE": demo.scene, "LABELS": demo.labels, "CLASSES": demo.classes, "PRESET": 0, "DEVICE": 1,
        "OUTPUT": str(tmp_path / "map.tif"), "CONFIDENCE": str(tmp_path / "confidence.tif"),
        "BUNDLE": str(tmp_path / "synthesis_model"), "CLASSIFIER": str(tmp_path / "classifier"),
        "TRAINING_AREA": 2, "REPORT": str(tmp_path / "report.html")})  # learnt from the labels' area: here the scene
    assert "Learnt from the area around the labels (rows 0–32, columns 0–32:" in Path(result["REPORT"]).read_text()
    values, band, _ = _band(result["OUTPUT"])
    assert set(np.unique(values).tolist()) <= demo.class_ids and band.GetColorTable() is not None
    assert (Path(result["BUNDLE"]) / "manifest.json").is_file()
    assert (Path(result["CLASSIFIER"]) / "manifest.json").is_file()

    reused = processing.run("hypersynth:classifywithbundle", {
        "MODEL": result["CLASSIFIER"], "SCENE": demo.scene, "VALIDATION": demo.ground_truth, "DEVICE": 1,
        "OUTPUT": str(tmp_path / "again.tif"), "CONFIDENCE": str(tmp_path / "again_conf.tif"),
        "METRICS": str(tmp_path / "metrics.json"), "PROBABILITIES": str(tmp_path / "again_proba.tif"),
        "REPORT": str(tmp_path / "again.html")})
    again, _, _ = _band(reused["OUTPUT"])
    assert np.array_equal(again, values)  # the same classifier on the same scene
    proba = gdal.Open(reused["PROBABILITIES"]).ReadAsArray()  # (K, 32, 32), a band per class the model knows
    assert np.array_equal(np.array(sorted(demo.class_ids))[proba.argmax(axis=0)], again)
    assert 0.0 <= reused["OVERALL_ACCURACY"] <= 1.0 and Path(reused["METRICS"]).is_file()
    report = Path(reused["REPORT"]).read_text()  # one file, its figures inside, with the accuracy
    assert "data:image/png;base64," in report and "Accuracy against the validation labels" in report

    patches = processing.run("hypersynth:synthesize", {
        "BUNDLE": result["BUNDLE"], "CLASS_ID": 1, "COUNT": 3, "DEVICE": 1, "OUTPUT": str(tmp_path / "water.npz")})
    with np.load(patches["OUTPUT"]) as npz:
        assert npz["patches"].shape[0] == 3 and set(npz["labels"].tolist()) == {1}
        bands = npz["patches"].shape[1]
    anchored = processing.run("hypersynth:synthesize", {  # from the class's labelled patches kept with the model
        "BUNDLE": result["BUNDLE"], "CLASS_ID": 1, "COUNT": 2, "DEVICE": 1, "ANCHOR_STRENGTH": 0.5,
        "OUTPUT": str(tmp_path / "anchored.npz")})
    with np.load(anchored["OUTPUT"]) as npz:
        assert npz["patches"].shape[:2] == (2, bands) and set(npz["labels"].tolist()) == {1}
    with pytest.raises(QgsProcessingException, match="label 0 is none of the model's classes"):
        processing.run("hypersynth:synthesize", {"BUNDLE": result["BUNDLE"], "PROMPT": "dry grass", "COUNT": 1,
                                                 "DEVICE": 1, "ANCHOR_STRENGTH": 0.5,
                                                 "OUTPUT": str(tmp_path / "free.npz")})
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    said = RecordingFeedback()
    mosaic = processing.run("hypersynth:synthesize", {
        "BUNDLE": result["BUNDLE"], "CLASS_ID": 1, "COUNT": 3, "DEVICE": 1, "OUTPUT": str(tmp_path / "water.tif")},
        context=context, feedback=said)
    assert any(line.startswith("water lies on a pixel grid of its own") for line in said.infos)  # where to find it
    shown = sorted(Path(p).name for p in context.layersToLoadOnCompletion())  # the mosaic and its classes
    assert shown == ["water.tif", "water_classes.tif"] and mosaic["OUTPUT"] == str(tmp_path / "water.tif")
    assert gdal.Open(mosaic["OUTPUT"]).RasterCount == bands
    project, shown = QgsProject.instance(), {}
    for name in ("water.tif", "water_classes.tif"):  # as Processing loads them: added, then post-processed
        layer = QgsRasterLayer(str(tmp_path / name), name)
        project.addMapLayer(layer)
        context.layerToLoadOnCompletionDetails(str(tmp_path / name)).postProcessor().postProcessLayer(
            layer, context, RecordingFeedback())
        shown[name] = (layer, project.layerTreeRoot().findLayer(layer.id()).isVisible())
    (water, water_visible), (classes, classes_visible) = shown["water.tif"], shown["water_classes.tif"]
    assert isinstance(water.renderer(), QgsMultiBandColorRenderer) and water_visible  # false colour
    assert isinstance(classes.renderer(), QgsPalettedRasterRenderer) and not classes_visible  # its .qml, hidden
    assert {c.value for c in classes.renderer().classes()} == {1}
    project.removeMapLayers([water.id(), classes.id()])


def test_a_processing_run_beside_another_run_warns_in_its_log(hypersynth_plugin, demo, tmp_path):
    from hypersynth.core.outputs import claim_output_folder

    log = RecordingFeedback()
    with claim_output_folder(tmp_path / "dock_run", "Augment & Classify of demo_scene.tif"):  # the dock's run
        processing.run("hypersynth:classifybaseline", {
            "SCENE": demo.scene, "LABELS": demo.labels, "METHOD": 0, "OUTPUT": str(tmp_path / "map.tif"),
            "CONFIDENCE": str(tmp_path / "confidence.tif")}, feedback=log)
    assert log.warnings == ["Another HyperSynth run is still going (Augment & Classify of demo_scene.tif): the two "
                            "share the CPU and both run several times slower until one ends"]


def test_the_training_labels_as_validation_are_refused_before_the_run(hypersynth_plugin, demo, tmp_path):
    """Accuracy on the labels the classifier learns from is no accuracy; the engine said so only after reading the
    scene, the algorithm says it before anything is read or written."""
    out = tmp_path / "results"
    with pytest.raises(QgsProcessingException, match="^The validation labels are the training labels: accuracy on"):
        processing.run("hypersynth:classifybaseline", {
            "SCENE": demo.scene, "LABELS": demo.labels, "CLASSES": demo.classes, "VALIDATION": demo.labels,
            "METHOD": 0, "OUTPUT": str(out / "map.tif")})
    assert not out.exists()


def test_a_mistyped_class_field_or_the_scene_as_labels_is_refused_before_the_scene_is_read(hypersynth_plugin, demo,
                                                                                          tmp_path):
    """A class field typed wrong was said only once the run had read the scene, and a dialog with the scene alone
    in the project fills the labels with it: both are refused at once, with what to do, and nothing is written."""
    out = tmp_path / "results"
    run = {"SCENE": demo.scene, "LABELS": demo.points, "CLASSES": demo.classes, "METHOD": 0,
           "OUTPUT": str(out / "map.tif")}
    with pytest.raises(QgsProcessingException, match=r"^the labels layer 'labels' has no field 'klass' \(its fields: "
                                                     r"fid, class, class_id\); type the name of the field"):
        processing.run("hypersynth:classifybaseline", {**run, "CLASS_FIELD": "klass"})
    with pytest.raises(QgsProcessingException, match="^the training labels are the hyperspectral scene itself"):
        processing.run("hypersynth:classifybaseline", {**run, "LABELS": demo.scene})
    with pytest.raises(QgsProcessingException, match="^the validation layer 'labels' has no field 'klass'"):
        processing.run("hypersynth:accuracyassessment", {"CLASS_MAP": demo.ground_truth, "VALIDATION": demo.points,
                                                         "CLASS_FIELD": "klass", "OUTPUT": str(out / "m.json")})
    with pytest.raises(QgsProcessingException, match="^the validation labels are the classified map itself"):
        processing.run("hypersynth:accuracyassessment", {
            "CLASS_MAP": demo.ground_truth, "VALIDATION": demo.ground_truth, "OUTPUT": str(out / "m.json")})
    with pytest.raises(QgsProcessingException, match="^the reference labels are the hyperspectral scene itself"):
        processing.run("hypersynth:benchmark", {"SCENE": demo.scene, "REFERENCE": demo.scene,
                                                "OUTPUT": str(out / "bench.md")})
    assert not out.exists()
    result = processing.run("hypersynth:classifybaseline", {**run, "CLASS_FIELD": " CLASS_ID "})  # any case, as read
    assert Path(result["OUTPUT"]).is_file()
    # validation points with a class field of their own: their class names in "name", none named like a class
    from hypersynth.core.demo import make_demo_scene, sparse_labels

    data = make_demo_scene(size=32, bands=30, n_classes=3, seed=0)
    truth = sparse_labels(data.labels, n_per_class=8, seed=11)
    points = write_label_points(tmp_path / "truth.gpkg", truth, {c.id: c.name for c in data.classes},
                                data.scene.transform, data.scene.crs_wkt)
    ds = ogr.Open(points, update=1)
    ds.ExecuteSQL('ALTER TABLE labels RENAME COLUMN class TO name')
    ds.ExecuteSQL('ALTER TABLE labels RENAME COLUMN class_id TO code')
    ds = None
    validated = processing.run("hypersynth:classifybaseline", {
        **run, "VALIDATION": points, "VALIDATION_CLASS_FIELD": "name", "OUTPUT": str(tmp_path / "validated" / "m.tif")})
    assert validated["OVERALL_ACCURACY"] > 0.5
