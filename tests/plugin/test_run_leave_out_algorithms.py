"""Bands a Processing run leaves out (LEAVE_OUT_BANDS of the classifying algorithms): the engine's map, said in the
report, refusals naming the parameter, and a saved classifier leaving out again what its training run was told."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingException

import processing

from .conftest import RecordingFeedback


@dataclass
class Inputs:
    scene: str
    labels: str
    truth: str
    classes: str


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Inputs:
    """A 32 × 32 × 30 demo scene, 5 labels per class of its 3 classes, their class file and the whole ground truth."""
    from hypersynth.core.demo import make_demo_scene, sparse_labels
    from hypersynth.core.io.classes import write_classes
    from hypersynth.core.io.write import write_label_raster, write_scene

    folder = tmp_path_factory.mktemp("leave_out")
    data = make_demo_scene(size=32, bands=30, n_classes=3, seed=0)
    grid = {"transform": data.scene.transform, "crs_wkt": data.scene.crs_wkt}
    return Inputs(scene=str(write_scene(data.scene, folder / "scene.tif")),
                  labels=str(write_label_raster(folder / "labels.tif", sparse_labels(data.labels, 5, seed=0),
                                                data.classes, **grid)),
                  truth=str(write_label_raster(folder / "truth.tif", data.labels, data.classes, **grid)),
                  classes=str(write_classes(folder / "classes.json", data.classes)))


def _map(path: str | Path) -> np.ndarray:
    ds = gdal.Open(str(path))  # held while its band is read: GDAL's band does not keep its dataset alive
    return ds.GetRasterBand(1).ReadAsArray()


def test_a_baseline_leaves_the_bands_out_as_the_engine_does_and_says_so(hypersynth_plugin, inputs, tmp_path):
    from hypersynth.core.pipeline import classify_scene

    said = RecordingFeedback()
    result = processing.run("hypersynth:classifybaseline", {
        "SCENE": inputs.scene, "LABELS": inputs.labels, "CLASSES": inputs.classes, "VALIDATION": inputs.truth,
        "METHOD": 0, "SEED": 2, "LEAVE_OUT_BANDS": "1-4, 30", "OUTPUT": str(tmp_path / "map.tif"),
        "REPORT": str(tmp_path / "report.html")}, feedback=said)
    assert "Seed 2; bands to leave out as told: 1-4, 30" in said.infos  # QGIS's own echo writes a seed as 4e+09
    engine = classify_scene(inputs.scene, inputs.labels, tmp_path / "engine", method="rf", seed=2,
                            classes_path=inputs.classes, leave_out_bands="1-4, 30")
    assert np.array_equal(_map(result["OUTPUT"]), _map(engine.class_map))
    said = re.search(r"\d+ usable bands", engine.report.read_text()).group(0)  # of the 26 the file leaves usable
    report = Path(result["REPORT"]).read_text(encoding="utf-8")
    assert said == "21 usable bands" and said in report and "as the run was told" in report
    assert "<h2>Files</h2>" not in report and "<h2>Files</h2>" in engine.report.with_suffix(".html").read_text()


def test_bands_the_scene_lacks_or_of_no_known_form_are_refused_naming_the_parameter(hypersynth_plugin, inputs,
                                                                                   tmp_path):
    run = {"SCENE": inputs.scene, "LABELS": inputs.labels, "METHOD": 0, "OUTPUT": str(tmp_path / "new" / "map.tif")}
    with pytest.raises(QgsProcessingException, match=r"(?m)^Bands this run leaves out "
                                                     r"\(LEAVE_OUT_BANDS\): '9-3' runs from high to low"):
        processing.run("hypersynth:classifybaseline", {**run, "LEAVE_OUT_BANDS": "9-3"})
    with pytest.raises(QgsProcessingException, match=r"\(LEAVE_OUT_BANDS\): band 31 is not in the scene: its bands "
                                                     r"are numbered 1 to 30"):
        processing.run("hypersynth:classifybaseline", {**run, "LEAVE_OUT_BANDS": "31"})
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("hypersynth:classifybaseline")
    ok, message = algorithm.checkParameterValues({**run, "LEAVE_OUT_BANDS": "5, 31-32"}, QgsProcessingContext())
    assert not ok and "(LEAVE_OUT_BANDS): band 31 (in '31-32') is not in the scene" in message  # before the run
    with pytest.raises(QgsProcessingException, match=r"\(LEAVE_OUT_BANDS\): '3000-3100nm' holds no band"):
        processing.run("hypersynth:classifybaseline", {**run, "LEAVE_OUT_BANDS": "3000-3100nm"})  # once read
    assert not (tmp_path / "new").exists()  # the folder made for the run is gone with it


def test_a_saved_classifier_leaves_out_again_what_its_training_run_was_told(hypersynth_plugin, inputs, tmp_path):
    from hypersynth.core.pipeline import classify_scene

    trained = classify_scene(inputs.scene, inputs.labels, tmp_path / "trained", method="rf", leave_out_bands="2-6")
    said = RecordingFeedback()
    result = processing.run("hypersynth:classifywithbundle", {
        "MODEL": str(trained.classifier), "SCENE": inputs.scene, "OUTPUT": str(tmp_path / "again.tif"),
        "REPORT": str(tmp_path / "again.html")}, feedback=said)
    assert any(line.startswith("Bands to leave out: 2-6, as the classifier's training run was told (LEAVE_OUT_BANDS "
                               "empty)") for line in said.infos)
    assert np.array_equal(_map(result["OUTPUT"]), _map(trained.class_map))
    assert "as the classifier's training run was told" in html.unescape(Path(result["REPORT"]).read_text("utf-8"))
    with pytest.raises(QgsProcessingException, match=r"the classifier was trained on \d+ bands but scene.tif has \d+ "
                                                     r"usable bands.*its training run left out bands 2-6"):
        processing.run("hypersynth:classifywithbundle", {
            "MODEL": str(trained.classifier), "SCENE": inputs.scene, "LEAVE_OUT_BANDS": "1",
            "OUTPUT": str(tmp_path / "other.tif")})


def test_the_benchmark_leaves_the_bands_out_of_every_run(hypersynth_plugin, inputs, tmp_path):
    run = {"SCENE": inputs.scene, "REFERENCE": inputs.truth, "LABELS_PER_CLASS": "3", "SEEDS": "0", "METHODS": [0],
           "SPLITS": [0], "PRESET": 0}
    result = processing.run("hypersynth:benchmark", {**run, "LEAVE_OUT_BANDS": "1-4, 30",
                                                     "OUTPUT": str(tmp_path / "bench.md")})
    assert "preset tiny, synthetic weight 0.5, bands left out as told 1-4, 30`" in Path(result["OUTPUT"]).read_text()
    with pytest.raises(QgsProcessingException, match=r"\(LEAVE_OUT_BANDS\): band 31 is not in the scene"):
        processing.run("hypersynth:benchmark", {**run, "LEAVE_OUT_BANDS": "31", "OUTPUT": str(tmp_path / "b.md")})
    assert not (tmp_path / "b.md").exists()


def test_band_numbers_of_a_product_subdataset_are_left_to_the_engine(hypersynth_plugin, tmp_path):
    """A PRISMA cube's layer shows its rows as bands (4 here) while the engine reads the whole product (12 bands):
    the dialog's check of band numbers against the layer is skipped for such a scene, never refusing band 10."""
    from qgis.core import QgsProject, QgsRasterLayer

    from hypersynth.core.io.read import read_scene
    from hypersynth.plugin.algorithms.band_parameters import bands_to_leave_out

    from ..sensor_products import subdatasets, write_prisma

    cube = next(s for s in subdatasets(write_prisma(tmp_path / "prisma.he5")) if "VNIR" in s)
    layer = QgsRasterLayer(cube, "vnir", "gdal")
    assert layer.isValid() and layer.bandCount() < read_scene(cube).bands
    QgsProject.instance().addMapLayer(layer)
    try:
        algorithm = QgsApplication.processingRegistry().createAlgorithmById("hypersynth:classifybaseline")
        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
        assert bands_to_leave_out(algorithm, {"SCENE": layer.id(), "LEAVE_OUT_BANDS": "10"}, context) == "10"
    finally:
        QgsProject.instance().removeMapLayer(layer.id())


def test_each_algorithm_says_what_its_bands_to_leave_out_do(hypersynth_plugin):
    """One sentence of what the bands are, and what they do in that algorithm's run."""
    helps = {alg.name(): alg.shortHelpString() for alg in
             QgsApplication.processingRegistry().providerById("hypersynth").algorithms()}
    assert "a classifier or synthesis model the run saves leaves them out again" in helps["classifybaseline"]
    assert "the bands the classifier's training run was told to" in helps["classifywithbundle"]
    assert "The model keeps them" in helps["trainbundle"]
    assert "Every run on the scene leaves them out" in helps["benchmark"]
    assert "Bands this run leaves out (LEAVE_OUT_BANDS" not in helps["importscene"]  # its own help says it


def test_a_reused_synthesis_model_takes_no_clip_weights(hypersynth_plugin, inputs, tmp_path):
    """It brings its own text tower, as the command line's --synthesis-model with --clip-weights is refused."""
    from hypersynth.core.methods import MethodSettings
    from hypersynth.core.pipeline import train_bundle

    model = train_bundle(inputs.scene, inputs.labels, tmp_path / "model", classes_path=inputs.classes,
                         settings=MethodSettings(preset="tiny"))
    weights = tmp_path / "clip.safetensors"
    weights.write_bytes(b"weights")
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("hypersynth:augmentandclassify")
    ok, message = algorithm.checkParameterValues({
        "SCENE": inputs.scene, "LABELS": inputs.labels, "REUSE_MODEL": str(model), "CLIP_WEIGHTS": str(weights),
        "PRESET": 0, "OUTPUT": str(tmp_path / "map.tif")}, QgsProcessingContext())
    assert not ok and "a reused synthesis model (REUSE_MODEL) brings its own text tower: leave CLIP_WEIGHTS empty" \
        in message
