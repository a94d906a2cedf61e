"""Bad destinations and inputs through the algorithms' public ids: refused before any work, inputs untouched."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException

import processing

from .conftest import RecordingFeedback


@dataclass
class Inputs:
    folder: Path
    scene: str
    scaled_scene: str  # the same scene in other units (×10 000)
    labels: str  # sparse label raster
    ground_truth: str
    classes: str  # class and prompt JSON
    confidence: str  # a float raster on the scene's grid (a confidence layer)
    classifier: str  # a saved classifier bundle
    synthesis: str  # a folder whose manifest says it is a synthesis model


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Inputs:
    from hypersynth.core.demo import make_demo_scene, sparse_labels
    from hypersynth.core.io.classes import write_classes
    from hypersynth.core.io.write import write_label_raster, write_scene
    from hypersynth.core.pipeline import CLASSIFIER_BUNDLE, classify_scene

    folder = tmp_path_factory.mktemp("inputs")
    data = make_demo_scene(size=32, bands=30, n_classes=3, seed=0)
    grid = {"transform": data.scene.transform, "crs_wkt": data.scene.crs_wkt}
    scene = str(write_scene(data.scene, folder / "scene.tif"))
    labels = str(write_label_raster(folder / "labels.tif", sparse_labels(data.labels, n_per_class=5, seed=0),
                                    data.classes, **grid))
    run = classify_scene(scene, labels, folder / "run", method="rf")
    confidence = folder / "confidence.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(confidence), 32, 32, 1, gdal.GDT_Float32)
    ds.SetGeoTransform(data.scene.transform)
    ds.GetRasterBand(1).WriteArray(np.random.default_rng(0).uniform(0.3, 1.0, (32, 32)).astype(np.float32))
    ds = None
    synthesis = folder / "synthesis_model"
    synthesis.mkdir()
    (synthesis / "manifest.json").write_text('{"kind": "hypersynth-model-bundle", "parts": ["vae", "ema_denoiser"]}')
    return Inputs(
        folder=folder, scene=scene, labels=labels,
        scaled_scene=str(write_scene(dataclasses.replace(data.scene, cube=data.scene.cube * 10000),
                                     folder / "scene_dn.tif")),
        ground_truth=str(write_label_raster(folder / "ground_truth.tif", data.labels, data.classes, **grid)),
        classes=str(write_classes(folder / "classes.json", data.classes)), confidence=str(confidence),
        classifier=str(run.class_map.parent / CLASSIFIER_BUNDLE), synthesis=str(synthesis))


def _fingerprint(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the hash of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def untouched(inputs):
    """Asserts, after the test, that the user's input files are all there, byte-for-byte what they were."""
    before = _fingerprint(inputs.folder)
    yield
    after = _fingerprint(inputs.folder)
    assert {name: after.get(name) for name in before} == before  # GDAL may add statistics (.aux.xml) beside them


def _refused(algorithm: str, parameters: dict, match: str, feedback=None) -> None:
    with pytest.raises(QgsProcessingException, match=match):
        processing.run(f"hypersynth:{algorithm}", parameters, feedback=feedback)


def _baseline(inputs: Inputs, tmp_path: Path, **over) -> dict:
    return {"SCENE": inputs.scene, "LABELS": inputs.labels, "CLASSES": inputs.classes, "METHOD": 0,
            "OUTPUT": str(tmp_path / "map.tif"), "CONFIDENCE": str(tmp_path / "confidence.tif"), **over}


def _augment(inputs: Inputs, tmp_path: Path, **over) -> dict:
    return {"SCENE": inputs.scene, "LABELS": inputs.labels, "PRESET": 0, "DEVICE": 1,
            "OUTPUT": str(tmp_path / "map.tif"), "CONFIDENCE": str(tmp_path / "confidence.tif"), **over}


def _with_bundle(inputs: Inputs, tmp_path: Path, **over) -> dict:
    return {"MODEL": inputs.classifier, "SCENE": inputs.scene, "DEVICE": 1,
            "OUTPUT": str(tmp_path / "map.tif"), "CONFIDENCE": str(tmp_path / "confidence.tif"), **over}


def _accuracy(inputs: Inputs, tmp_path: Path, **over) -> dict:
    return {"CLASS_MAP": inputs.ground_truth, "VALIDATION": inputs.ground_truth,
            "OUTPUT": str(tmp_path / "accuracy.json"), **over}


def _benchmark(inputs: Inputs, tmp_path: Path, **over) -> dict:
    return {"SCENE": inputs.scene, "REFERENCE": inputs.ground_truth, "LABELS_PER_CLASS": "2", "SEEDS": "0",
            "METHODS": [0], "SPLITS": [0], "PRESET": 0, "OUTPUT": str(tmp_path / "bench.md"), **over}


def _no_engine(monkeypatch) -> None:
    """Make every engine run fail loudly: a refusal must come before any of them."""
    import hypersynth.core.bench as bench
    import hypersynth.core.pipeline as pipeline

    def ran(*args, **kwargs):
        raise AssertionError("the engine ran although the destination should have been refused first")

    for module, name in ((pipeline, "classify_scene"), (pipeline, "classify_with_model"), (pipeline, "train_bundle"),
                         (pipeline, "assess_accuracy"), (pipeline, "synthesize_to_file"), (bench, "run_bench")):
        monkeypatch.setattr(module, name, ran)


# --- 1. an input is never an output -------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["map=scene", "map=labels", "confidence=validation", "report=classes",
                                  "map=confidence"])
def test_classifybaseline_refuses_an_input_or_the_other_output_as_destination(hypersynth_plugin, inputs, tmp_path,
                                                                              untouched, monkeypatch, case):
    _no_engine(monkeypatch)
    over, match = {
        "map=scene": ({"OUTPUT": inputs.scene}, r"the Classified map destination is your Hyperspectral scene file"),
        "map=labels": ({"OUTPUT": inputs.labels}, r"the Classified map destination is your Training labels file"),
        "confidence=validation": ({"VALIDATION": inputs.ground_truth, "CONFIDENCE": inputs.ground_truth},
                                  r"the Confidence destination is your Validation labels .* file"),
        "report=classes": ({"REPORT": inputs.classes}, r"the Report destination is your Class and prompt file \("),
        "map=confidence": ({"CONFIDENCE": str(tmp_path / "map.tif")},
                           r"the Classified map and Confidence destinations are the same path"),
    }[case]
    _refused("classifybaseline", _baseline(inputs, tmp_path, **over), match)
    assert list(tmp_path.iterdir()) == []


def test_other_algorithms_refuse_an_input_as_destination(hypersynth_plugin, inputs, tmp_path, untouched,
                                                         monkeypatch):
    _no_engine(monkeypatch)
    _refused("accuracyassessment", _accuracy(inputs, tmp_path, CLASSES=inputs.classes, OUTPUT=inputs.classes),
             r"Accuracy metrics destination is your Class file")
    _refused("classifywithbundle", _with_bundle(inputs, tmp_path, OUTPUT=inputs.scene),
             r"Classified map destination is your Hyperspectral scene file")
    _refused("classifywithbundle", _with_bundle(inputs, tmp_path, METRICS=str(Path(inputs.classifier) / "manifest.json")),
             r"Accuracy destination .* lies inside your Trained classifier folder")
    _refused("classifywithbundle", _with_bundle(inputs, tmp_path, OUTPUT=inputs.classifier),
             r"Classified map destination is your Trained classifier folder")
    _refused("augmentandclassify", _augment(inputs, tmp_path, OUTPUT=inputs.labels),
             r"Classified map destination is your Training labels file")
    _refused("augmentandclassify", _augment(inputs, tmp_path, BUNDLE=str(inputs.folder)),
             r"Trained synthesis model destination .* contains your Hyperspectral scene")
    _refused("benchmark", _benchmark(inputs, tmp_path, JSON=inputs.ground_truth),
             r"Every run and the mean rows destination is your Reference labels file")
    _refused("benchmark", _benchmark(inputs, tmp_path, JSON=str(tmp_path / "bench.md")),
             r"Benchmark tables and Every run and the mean rows destinations are the same path")
    _refused("synthesize", {"BUNDLE": inputs.synthesis, "PROMPT": "water", "OUTPUT": str(Path(inputs.synthesis) / "x.npz")},
             r"Synthetic patches destination .* lies inside your Trained synthesis model folder")
    assert list(tmp_path.iterdir()) == []


# --- 2. a saved model is never replaced by another kind ----------------------------------------------------------
def test_a_saved_classifier_is_never_replaced_by_a_synthesis_model(hypersynth_plugin, inputs, tmp_path, untouched,
                                                                   monkeypatch):
    _no_engine(monkeypatch)
    models = str(tmp_path / "models")
    _refused("augmentandclassify", _augment(inputs, tmp_path, BUNDLE=models, CLASSIFIER=models),
             r"Trained synthesis model and Trained classifier destinations are the same path")
    _refused("augmentandclassify", _augment(inputs, tmp_path, BUNDLE=inputs.classifier),
             r"folder .* holds a saved classifier, which saving the synthesis model there would replace")
    _refused("augmentandclassify", _augment(inputs, tmp_path, CLASSIFIER=inputs.synthesis),
             r"holds a saved synthesis model, which saving the classifier there would replace")
    _refused("trainbundle", {"SCENE": inputs.scene, "LABELS": inputs.labels, "PRESET": 0, "DEVICE": 1,
                             "OUTPUT": inputs.classifier},
             r"holds a saved classifier, which saving the synthesis model there would replace")
    assert list(tmp_path.iterdir()) == []


# --- 3, 4, 5. destinations that cannot be written are refused before the run -------------------------------------
def test_unwritable_destinations_are_refused_before_the_run(hypersynth_plugin, inputs, tmp_path, untouched,
                                                            monkeypatch):
    _no_engine(monkeypatch)
    (tmp_path / "map.tif").mkdir()
    (tmp_path / "a_file").write_text("not a folder")
    under_file = str(tmp_path / "a_file" / "x")
    _refused("classifybaseline", _baseline(inputs, tmp_path), r"Classified map destination .*map.tif is a folder")
    _refused("classifybaseline", _baseline(inputs, tmp_path, OUTPUT=str(tmp_path / "ok.tif"),
                                           REPORT=under_file + ".html"),
             r"Report destination .* cannot be written: .*a_file is a file, so no folder can be made there")
    _refused("trainbundle", {"SCENE": inputs.scene, "LABELS": inputs.labels, "PRESET": 0, "DEVICE": 1,
                             "OUTPUT": under_file}, r"a_file is a file, so no folder can be made there")
    _refused("synthesize", {"BUNDLE": inputs.synthesis, "PROMPT": "water", "OUTPUT": under_file + ".npz"},
             r"Synthetic patches destination .* cannot be written: .*is a file")
    _refused("accuracyassessment", _accuracy(inputs, tmp_path, FOLDER=str(tmp_path / "a_file")),
             r"Folder for the accuracy table .* is a file; give a folder")
    _refused("benchmark", _benchmark(inputs, tmp_path, OUTPUT=str(tmp_path / "map.tif")),
             r"Benchmark tables destination .* is a folder")
    _refused("classifywithbundle", _with_bundle(inputs, tmp_path, OUTPUT=str(tmp_path / "ok.tif"),
                                               CONFIDENCE=under_file + ".tif"), r"is a file, so no folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "map.tif"]  # no staging, nothing else


def test_a_failed_move_puts_everything_back(tmp_path):
    from hypersynth.plugin.algorithms.destinations import OutputMoves

    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "a").write_text("new a")
    (tmp_path / "a.txt").write_text("old a")
    with pytest.raises(OSError):
        with OutputMoves() as moves:
            moves.put(staged / "a", str(tmp_path / "a.txt"))
            moves.put(staged / "missing", str(tmp_path / "b.txt"))  # fails: nothing to move
    assert (tmp_path / "a.txt").read_text() == "old a" and not (tmp_path / "b.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "staged"]  # no hidden leftovers


def _claimed_by_a_live_process(folder: Path):
    """``folder`` claimed, as a dock or command-line run claims its output folder, by a process that lives on."""
    import json
    import socket
    import subprocess
    import sys

    from hypersynth.core.outputs import CLAIM_FILE

    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CLAIM_FILE).write_text(json.dumps({"pid": process.pid, "host": socket.gethostname(),
                                                 "what": "Augment & Classify of scene.tif",
                                                 "started": "2024-05-01T09:30:00+02:00"}))
    return process


def test_a_destination_in_a_folder_another_run_holds_is_refused_before_the_run(hypersynth_plugin, inputs, tmp_path,
                                                                               untouched, monkeypatch):
    _no_engine(monkeypatch)
    busy = tmp_path / "busy"
    process = _claimed_by_a_live_process(busy)
    try:
        _refused("classifybaseline", _baseline(inputs, tmp_path, REPORT=str(busy / "report.html")),
                 rf"Report destination cannot be written now: .*busy is in use by another HyperSynth run "
                 rf"\(Augment & Classify of scene.tif, process {process.pid}")
        _refused("accuracyassessment", _accuracy(inputs, tmp_path, FOLDER=str(busy)),
                 r"Folder for the accuracy table .* destination cannot be written now: .*busy is in use")
    finally:
        process.kill()
        process.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]


def test_moves_into_a_folder_another_run_holds_are_refused_and_undone(tmp_path):
    from hypersynth.core.outputs import CLAIM_FILE
    from hypersynth.plugin.algorithms.destinations import OutputMoves

    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "a").write_text("new a")
    (staged / "b").write_text("new b")
    free, busy = tmp_path / "free", tmp_path / "busy"
    free.mkdir()
    (free / "a.txt").write_text("old a")
    process = _claimed_by_a_live_process(busy)  # claimed after this run's check: its moves are refused
    try:
        with pytest.raises(QgsProcessingException, match=r"busy is in use by another HyperSynth run"):
            with OutputMoves() as moves:
                moves.put(staged / "a", str(free / "a.txt"))
                assert (free / CLAIM_FILE).exists()  # held until every move is kept or undone
                moves.put(staged / "b", str(busy / "b.txt"))
    finally:
        process.kill()
        process.wait()
    assert sorted(p.name for p in free.iterdir()) == ["a.txt"] and (free / "a.txt").read_text() == "old a"
    assert sorted(p.name for p in busy.iterdir()) == [CLAIM_FILE]  # the other run's claim, and nothing of this one
    with OutputMoves() as moves:
        moves.put(staged / "b", str(tmp_path / "new" / "b.txt"))  # a folder the moves make is claimed, then kept
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["b.txt"]


# --- 6. engine warnings reach the Processing log -----------------------------------------------------------------
def test_the_scale_warning_reaches_the_processing_log(hypersynth_plugin, inputs, tmp_path, untouched):
    feedback = RecordingFeedback()
    processing.run("hypersynth:classifywithbundle", _with_bundle(inputs, tmp_path, SCENE=inputs.scaled_scene),
                   feedback=feedback)
    assert any("times those of the scene the classifier learnt from" in w for w in feedback.warnings)
    assert logging.getLogger("hypersynth").handlers == []  # detached after the run


# --- 7. help says what is true ---------------------------------------------------------------------------------
def test_help_texts_say_what_the_algorithms_do():
    from hypersynth.plugin.algorithms.augment_and_classify import AugmentAndClassifyAlgorithm
    from hypersynth.plugin.algorithms.train_bundle import TrainBundleAlgorithm

    train = TrainBundleAlgorithm().shortHelpString()
    assert "augment-classify --bundle" in train and "always trains a new one" in train
    augment = AugmentAndClassifyAlgorithm()
    augment.initAlgorithm()
    text = augment.shortHelpString()
    assert "The three are blended" not in text and "MTMSD" not in text and "off by default" in text
    label = augment.parameterDefinition("DIFFUSION_FEATURES").description()
    assert "BENCHMARKS" not in label and "off by default" in label


# --- 8. a class map that is not class ids ------------------------------------------------------------------------
def test_accuracy_refuses_a_confidence_layer_and_maps_sharing_no_class(hypersynth_plugin, inputs, tmp_path, untouched):
    _refused("accuracyassessment", _accuracy(inputs, tmp_path, CLASS_MAP=inputs.confidence),
             r"fractional values .* pick the class map instead")
    shifted = tmp_path / "shifted.tif"
    gdal.Translate(str(shifted), inputs.ground_truth)
    ds = gdal.Open(str(shifted), gdal.GA_Update)
    ds.GetRasterBand(1).WriteArray(ds.GetRasterBand(1).ReadAsArray() + 10)
    ds = None
    _refused("accuracyassessment", _accuracy(inputs, tmp_path, CLASS_MAP=str(shifted)),
             r"share no class id \(map: 11, 12, 13; validation labels: 1, 2, 3\)")
    assert not (tmp_path / "accuracy.json").exists()


# --- 9, 10, 11. clear refusals of other parameters ----------------------------------------------------------------
def test_benchmark_name_refusal_points_at_the_parameter(hypersynth_plugin, inputs, tmp_path, untouched, monkeypatch):
    _no_engine(monkeypatch)
    with pytest.raises(QgsProcessingException) as refused:
        processing.run("hypersynth:benchmark", _benchmark(inputs, tmp_path, NAME="demo"))
    assert "--name" not in str(refused.value) and "Name of the scene in the tables' parameter" in str(refused.value)


def test_patch_size_outside_its_range_is_refused(hypersynth_plugin, inputs, tmp_path, untouched, monkeypatch):
    _no_engine(monkeypatch)
    _refused("augmentandclassify", _augment(inputs, tmp_path, PATCH_SIZE=1),
             r"Patch size in pixels is 1: give 0 .* from 3 to 32")
    _refused("trainbundle", {"SCENE": inputs.scene, "LABELS": inputs.labels, "PRESET": 0, "DEVICE": 1,
                             "PATCH_SIZE": 64, "OUTPUT": str(tmp_path / "model")},
             r"Patch size in pixels is 64: .* from 3 to 32 \(the scene's smaller side\)")
    assert list(tmp_path.iterdir()) == []


def test_classifywithbundle_refuses_cuda_without_a_gpu(hypersynth_plugin, inputs, tmp_path, untouched, monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    _no_engine(monkeypatch)
    _refused("classifywithbundle", _with_bundle(inputs, tmp_path, DEVICE=2), r"no CUDA GPU is available")
