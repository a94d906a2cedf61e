"""Bad destinations and inputs through the algorithms' public ids: refused before any work, inputs untouched."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
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
    return {"CLASS_MAP": inputs.ground_truth, "VALIDATION": inputs.labels,
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
    _refused("classifywithbundle", _with_bundle(inputs, tmp_path, VALIDATION=inputs.ground_truth,
                                                METRICS=str(Path(inputs.classifier) / "manifest.json")),
             r"Accuracy destination .* lies inside your Trained classifier folder")
    _refused("classifywithbundle", _with_bundle(inputs, tmp_path, OUTPUT=inputs.classifier),
             r"Classified map destination is your Trained classifier folder")
    _refused("augmentandclassify", _augment(inputs, tmp_path, OUTPUT=inputs.labels),
             r"Classified map destination is your Training labels file")
    _refused("augmentandclassify", _augment(inputs, tmp_path, BUNDLE=str(inputs.folder)),
             r"Trained synthesis model destination .* contains your Hyperspectral scene")
    _refused("benchmark", _benchmark(inputs, tmp_path, JSON=inputs.ground_truth),
             r"Every run and the mean rows destination is your Reference labels file")
    _refused("benchmark", _benchmark(inputs, tmp_path, JSON=str(tmp_path / "bench.md")),  # refused by its name first
             r"Every run and the mean rows destination .*bench.md is named as a .md file, but it is written as JSON")
    _refused("synthesize", {"BUNDLE": inputs.synthesis, "PROMPT": "water", "OUTPUT": str(Path(inputs.synthesis) / "x.npz")},
             r"Synthetic patches destination .* lies inside your Trained synthesis model folder")
    (tmp_path / "mine.qml").write_text("<qgis/>")  # the analyst's style, with no map of that name: kept
    _refused("classifybaseline", _baseline(inputs, tmp_path, OUTPUT=str(tmp_path / "mine.tif")),
             r"mine\.qml already exists, and the run writes the style of mine\.tif there; move it, or give the "
             r"Classified map another name")
    (tmp_path / "mine.qml").unlink()
    _refused("classifybaseline", _baseline(inputs, tmp_path, CONFIDENCE=str(tmp_path / "map.tiff")),
             r"the Classified map and Confidence destinations \(map\.tif, map\.tiff\) would share one "
             r"style file, map\.qml: give them different names")
    _refused("augmentandclassify", _augment(inputs, tmp_path, REUSE_MODEL=inputs.synthesis,
                                            OUTPUT=str(Path(inputs.synthesis) / "map.tif")),
             r"Classified map destination .* lies inside your Synthesis model to reuse folder")
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


def test_a_saved_model_folder_holding_the_analysts_files_is_never_replaced(hypersynth_plugin, inputs, tmp_path,
                                                                             untouched, monkeypatch):
    """Processing asks nothing for a folder destination: saving a synthesis model over an earlier one deleted the
    notes and the map the analyst had put in its folder (review)."""
    import shutil

    _no_engine(monkeypatch)
    model = tmp_path / "model"
    shutil.copytree(inputs.synthesis, model)
    (model / "my_notes.txt").write_text("keep me")
    _refused("trainbundle", {"SCENE": inputs.scene, "LABELS": inputs.labels, "PRESET": 0, "DEVICE": 1,
                             "OUTPUT": str(model)},
             r"folder .*model holds a saved synthesis model and also my_notes\.txt, which saving the synthesis "
             r"model there would delete: move them out of it, or choose another folder")
    assert (model / "my_notes.txt").read_text() == "keep me"


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
    (staged / "c").mkdir()  # a classifier folder, say
    free, busy = tmp_path / "free", tmp_path / "busy"
    free.mkdir()
    (free / "a.txt").write_text("old a")
    process = _claimed_by_a_live_process(busy)  # claimed after this run's check: its moves are refused
    try:
        with pytest.raises(QgsProcessingException, match=r"busy is in use by another HyperSynth run"):
            with OutputMoves() as moves:
                moves.put(staged / "a", str(free / "a.txt"))
                assert (free / CLAIM_FILE).exists()  # held until every move is kept or undone
                moves.put(staged / "c", str(tmp_path / "made" / "for" / "classifier"))
                moves.put(staged / "b", str(busy / "b.txt"))
    finally:
        process.kill()
        process.wait()
    assert sorted(p.name for p in free.iterdir()) == ["a.txt"] and (free / "a.txt").read_text() == "old a"
    assert sorted(p.name for p in busy.iterdir()) == [CLAIM_FILE]  # the other run's claim, and nothing of this one
    assert not (tmp_path / "made").exists()  # the folders made for a destination go with it
    with OutputMoves() as moves:
        moves.put(staged / "b", str(tmp_path / "new" / "b.txt"))  # a folder the moves make is claimed, then kept
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["b.txt"]


# --- 6. engine warnings reach the Processing log -----------------------------------------------------------------
def test_the_scale_warning_reaches_the_processing_log(hypersynth_plugin, inputs, tmp_path, untouched):
    """A scene in other units (× 10 000) is refused, naming the box that maps it anyway; ticked, it is warned of."""
    parameters = _with_bundle(inputs, tmp_path, SCENE=inputs.scaled_scene)
    _refused("classifywithbundle", parameters, r"times those of the scene the classifier learnt from .* to map it as "
             r"it is, tick 'Map a scene in other units than the classifier learnt' \(ACCEPT_OTHER_UNITS\); nothing "
             r"was written")
    assert not os.path.exists(parameters["OUTPUT"])
    feedback = RecordingFeedback()
    processing.run("hypersynth:classifywithbundle", {**parameters, "ACCEPT_OTHER_UNITS": True}, feedback=feedback)
    assert any("times those of the scene the classifier learnt from" in w for w in feedback.warnings)
    assert logging.getLogger("hypersynth").handlers == []  # detached after the run


# --- 7. help says what is true ---------------------------------------------------------------------------------
def test_help_texts_say_what_the_algorithms_do():
    from hypersynth.plugin.algorithms.augment_and_classify import AugmentAndClassifyAlgorithm
    from hypersynth.plugin.algorithms.train_bundle import TrainBundleAlgorithm

    train = TrainBundleAlgorithm().shortHelpString()
    assert "augment-classify --synthesis-model" in train and "('Synthesis model to reuse')" in train
    augment = AugmentAndClassifyAlgorithm()
    augment.initAlgorithm()
    text = augment.shortHelpString()
    assert "The three are blended" not in text and "MTMSD" not in text and "off by default" in text
    label = augment.parameterDefinition("DIFFUSION_FEATURES").description()
    assert "BENCHMARKS" not in label and len(label) < 60  # a label: what it does is in the help
    assert "('Add a diffusion-feature SVM to the blend', off by default). It makes the run slower" in text


def test_the_synthesize_help_gives_the_number_of_labelled_patches_a_model_keeps():
    from hypersynth.core.ldm.training import EXAMPLES_PER_CLASS
    from hypersynth.plugin.algorithms.synthesize import SynthesizeAlgorithm

    # typed into the help (the plugin's modules load without torch): it follows the engine's number
    assert f"kept with the model ({EXAMPLES_PER_CLASS} a class)" in SynthesizeAlgorithm().shortHelpString()


def _algorithm(cls):
    algorithm = cls()
    algorithm.initAlgorithm()
    return algorithm


def test_labels_are_short_and_the_help_says_the_rest():
    from hypersynth.plugin.algorithms.augment_and_classify import AugmentAndClassifyAlgorithm
    from hypersynth.plugin.algorithms.benchmark import BenchmarkAlgorithm
    from hypersynth.plugin.algorithms.classify_baseline import ClassifyBaselineAlgorithm
    from hypersynth.plugin.algorithms.classify_with_bundle import ClassifyWithBundleAlgorithm
    from hypersynth.plugin.algorithms.synthesize import SynthesizeAlgorithm
    from hypersynth.plugin.provider import PROVIDED

    for cls in (ClassifyBaselineAlgorithm, AugmentAndClassifyAlgorithm, ClassifyWithBundleAlgorithm):
        algorithm = _algorithm(cls)
        assert algorithm.parameterDefinition("CONFIDENCE").description() == "Confidence"
        assert "band 2 the uncertainty, the normalised entropy" in algorithm.shortHelpString()
        assert "'salinas: classes' and 'salinas: confidence'" in algorithm.shortHelpString()
    bench = _algorithm(BenchmarkAlgorithm)
    methods = bench.parameterDefinition("METHODS").options()
    assert len(methods) == 7 and max(len(m) for m in methods) <= 40 and "Augment & Classify" in methods
    assert bench.parameterDefinition("SPLITS").options() == ["random", "spatially disjoint", "no overlap of patches"]
    help_text = bench.shortHelpString()
    assert "The 'spatially disjoint' split keeps" in help_text
    assert "the defaults make 40 runs (2 label counts × 5 seeds × 4 methods × 1 split)" in help_text
    assert "CNN + forest blend (no synthesis): Augment & Classify without synthesis (the ablation)" in help_text
    synthesize = SynthesizeAlgorithm().shortHelpString()
    assert "'Train synthesis model bundle'" in synthesize and "Run time:" in synthesize
    assert "Run time:" in ClassifyWithBundleAlgorithm().shortHelpString()
    for cls in PROVIDED:
        algorithm = cls()
        assert "hyperspectral" in algorithm.tags() and len(algorithm.tags()) > 3, algorithm.name()
        assert algorithm.helpUrl().startswith("https://github.com/hypersynth/hypersynth#"), algorithm.name()
        assert "<" not in algorithm.shortHelpString(), algorithm.name()  # the help is shown as HTML
    assert AugmentAndClassifyAlgorithm().helpUrl().endswith("#how-augment--classify-works")


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
    import shutil

    _no_engine(monkeypatch)
    with pytest.raises(QgsProcessingException) as refused:
        processing.run("hypersynth:benchmark", _benchmark(inputs, tmp_path, NAME="demo"))
    message = str(refused.value)
    assert "--name" not in message and "'Name of the scene in the tables' (under Advanced parameters; NAME in " \
                                      "scripts)" in message
    assert "it is the key of a dataset HyperSynth benchmarks" in message and "comma" not in message
    with pytest.raises(QgsProcessingException) as refused:
        processing.run("hypersynth:benchmark", _benchmark(inputs, tmp_path, NAME="my;scene"))
    assert "'my;scene' cannot name your scene in the benchmark tables: a comma, semicolon or line break would " \
           "split its rows" in str(refused.value) and "dataset" not in str(refused.value)
    scene = tmp_path / "salinasA.tif"  # a scene file named as the dataset, no name given: the reviewer's case
    shutil.copy(inputs.scene, scene)
    with pytest.raises(QgsProcessingException, match=r"(?m)^'salinasA' cannot name your scene .*: it is the key of a "
                                                     r"dataset HyperSynth benchmarks \(.*salinasA.*\), and its rows "
                                                     r"would mix with that dataset's"):
        processing.run("hypersynth:benchmark", _benchmark(inputs, tmp_path, SCENE=str(scene)))
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("hypersynth:benchmark")
    ok, message = algorithm.checkParameterValues(_benchmark(inputs, tmp_path, SCENE=str(scene)), QgsProcessingContext())
    assert not ok and message.startswith("'salinasA' cannot name your scene")  # in the dialog, before the run


def test_patch_size_outside_its_range_is_refused(hypersynth_plugin, inputs, tmp_path, untouched, monkeypatch):
    _no_engine(monkeypatch)
    _refused("augmentandclassify", _augment(inputs, tmp_path, PATCH_SIZE=1),
             r"Patch size in pixels \(PATCH_SIZE\) is 1: give 0 .* from 3 to 32")
    _refused("trainbundle", {"SCENE": inputs.scene, "LABELS": inputs.labels, "PRESET": 0, "DEVICE": 1,
                             "PATCH_SIZE": 64, "OUTPUT": str(tmp_path / "model")},
             r"Patch size in pixels \(PATCH_SIZE\) is 64: .* from 3 to 32 \(the scene's smaller side\)")
    assert list(tmp_path.iterdir()) == []


def test_an_even_patch_size_is_accepted_as_the_engine_takes_it(hypersynth_plugin, inputs, tmp_path, untouched,
                                                                monkeypatch):
    from hypersynth.core.ldm.config import preset

    _no_engine(monkeypatch)
    assert preset("tiny").vae.patch_size % 2 == 0  # the engine's own preset is even: odd is not a rule
    config = preset("fast")
    config.vae.patch_size = 4
    config.validate()  # the engine's check of the synthesis model's settings takes it
    assert _check("augmentandclassify", _augment(inputs, tmp_path, PATCH_SIZE=4)) == (True, "")
    assert _check("trainbundle", {"SCENE": inputs.scene, "LABELS": inputs.labels, "PRESET": 0, "DEVICE": 1,
                                  "PATCH_SIZE": 4, "OUTPUT": str(tmp_path / "model")}) == (True, "")
    assert list(tmp_path.iterdir()) == []


def test_a_synthesis_model_to_reuse_is_checked_before_the_run(hypersynth_plugin, inputs, tmp_path, untouched,
                                                              monkeypatch):
    _no_engine(monkeypatch)
    ok, message = _check("augmentandclassify", _augment(inputs, tmp_path, REUSE_MODEL=inputs.classifier))
    assert not ok and message.startswith(f"{inputs.classifier} is a saved classifier, not a synthesis model")
    missing = str(tmp_path / "no_such_model")
    ok, message = _check("augmentandclassify", _augment(inputs, tmp_path, REUSE_MODEL=missing))
    assert not ok and message == (f"the Synthesis model to reuse (REUSE_MODEL) must be the folder of a saved "
                                  f"synthesis model; {missing} does not exist")
    assert _check("augmentandclassify", _augment(inputs, tmp_path, REUSE_MODEL=inputs.synthesis)) == (True, "")
    assert list(tmp_path.iterdir()) == []


def test_a_mosaics_class_raster_and_style_beside_it_are_never_replaced_unasked(hypersynth_plugin, inputs, tmp_path,
                                                                               untouched, monkeypatch):
    """Processing asks about the destination alone: a new p.tif replaced the analyst's own p_classes.tif and
    p_classes.qml beside it (review)."""
    _no_engine(monkeypatch)
    (tmp_path / "p_classes.tif").write_bytes(b"the analyst's")
    synthesize = {"BUNDLE": inputs.synthesis, "CLASS_ID": 1, "OUTPUT": str(tmp_path / "p.tif")}
    ok, message = _check("synthesize", synthesize)
    assert not ok and message == (f"{tmp_path / 'p_classes.tif'} already exists, and the run writes the patches' "
                                  "classes of p.tif there; move it, or give the synthetic patches another name")
    ok, message = _check("augmentandclassify", _augment(inputs, tmp_path, SYNTHETIC_PATCHES=str(tmp_path / "p.tif")))
    assert not ok and "p_classes.tif already exists, and the run writes the patches' classes of p.tif" in message
    (tmp_path / "p_classes.tif").unlink()
    (tmp_path / "p_classes.qml").write_text("<qgis/>")
    ok, message = _check("synthesize", synthesize)
    assert not ok and "p_classes.qml already exists, and the run writes the style of the classes of p.tif" in message
    assert _check("synthesize", {**synthesize, "OUTPUT": str(tmp_path / "p.npz")}) == (True, "")  # none beside
    (tmp_path / "p.tif").write_bytes(b"an earlier mosaic")  # replacing it, as the dialog asked: its companions go too
    assert _check("synthesize", synthesize) == (True, "")


def test_a_matlab_file_is_sent_to_import_scene_not_found(hypersynth_plugin, inputs, tmp_path, untouched,
                                                         monkeypatch):
    from scipy.io import savemat

    _no_engine(monkeypatch)
    mat = tmp_path / "salinasA.mat"
    savemat(str(mat), {"salinasA": np.ones((8, 8, 5), dtype=np.float32)})
    ok, message = _check("classifybaseline", _baseline(inputs, tmp_path, SCENE=str(mat)))
    assert not ok and message == ("the Hyperspectral scene (SCENE) is a MATLAB .mat file, which QGIS cannot open as "
                                  "a layer: import it first with 'Import a hyperspectral scene or sensor product' "
                                  "(hypersynth:importscene), which writes it as a GeoTIFF, and give that")
    _refused("benchmark", _benchmark(inputs, tmp_path, SCENE=str(mat)),
             r"import it first with .*hypersynth:importscene")
    _refused("classifywithbundle", _with_bundle(inputs, tmp_path, SCENE=str(mat)), r"\(SCENE\) is a MATLAB .mat file")
    ok, message = _check("classifybaseline", _baseline(inputs, tmp_path, LABELS=str(mat)))
    assert not ok and message.startswith("the Training labels (LABELS) is a MATLAB .mat file") \
        and "Processing cannot read labels from it" in message
    assert "import it first with 'Import a hyperspectral scene" in _algorithm_help("classifybaseline")
    from hypersynth.plugin.algorithms.import_scene import INPUT_FILTER

    assert "*.mat" in INPUT_FILTER  # the route the message names takes it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["salinasA.mat"]


def _algorithm_help(algorithm: str) -> str:
    return QgsApplication.processingRegistry().algorithmById(f"hypersynth:{algorithm}").shortHelpString()


def test_an_empty_classifier_input_says_the_step_before_was_not_asked_to_write_it(hypersynth_plugin, inputs,
                                                                                   tmp_path, untouched, monkeypatch):
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback

    _no_engine(monkeypatch)
    said = ("the Trained classifier (MODEL) input is empty. In a model this happens when the step before was not "
            "asked to write it")
    ok, message = _check("classifywithbundle", _with_bundle(inputs, tmp_path, MODEL=""))
    assert not ok and message.startswith(said)
    # a model runs its steps without checkParameterValues: the algorithm's own check says the same
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("hypersynth:classifywithbundle")
    context, feedback = QgsProcessingContext(), QgsProcessingFeedback()
    with pytest.raises(QgsProcessingException, match=r"^" + re.escape(said)):
        algorithm.processAlgorithm(_with_bundle(inputs, tmp_path, MODEL=""), context, feedback)
    missing = str(tmp_path / "gone")
    ok, message = _check("classifywithbundle", _with_bundle(inputs, tmp_path, MODEL=missing))
    assert not ok and message.endswith(f"must be the folder of a saved classifier; {missing} does not exist")
    assert list(tmp_path.iterdir()) == []


def test_the_help_gives_scripts_the_defaults_the_outputs_and_the_class_file_format(hypersynth_plugin):
    from qgis.core import QgsApplication

    from hypersynth.core.io.classes import classes_from_text

    provider = QgsApplication.processingRegistry().providerById("hypersynth")
    for algorithm in provider.algorithms():
        text = algorithm.shortHelpString()
        for definition in algorithm.parameterDefinitions():  # each default as a script gives it
            default = definition.defaultValue()
            if definition.isDestination() or default in (None, "", []):
                continue
            given = (",".join(map(str, default)) if isinstance(default, list) else
                     str(default).lower() if isinstance(default, bool) else f"{default:g}"
                     if isinstance(default, float) else str(default))
            assert f"{definition.name()}={given}" in text, (algorithm.id(), definition.name())
        if algorithm.parameterDefinition("CLASSES") is not None:
            example = re.search(r"CLASSES is a JSON file: (\{.*\}), …\]\}", text).group(1) + "]}"
            [water] = classes_from_text(example, "the help's example")  # the format shown is what is read
            assert (water.id, water.name, water.prompt) == (1, "water", "calm dark water")
            assert "colour (or color, #RRGGBB) and prompt may be left out" in text
    augment = _algorithm_help("augmentandclassify")
    assert "PRESET=1 (0 tiny: a quick trial, under a minute on a small scene; 1 fast: minutes on a laptop " \
           "CPU" in augment
    for name in ("augmentandclassify", "classifybaseline", "classifywithbundle"):
        text = _algorithm_help(name)
        assert "made unless skipped)" not in text and "from a script only when CONFIDENCE is given" in text
        assert re.search(r"The optional outputs CONFIDENCE, .* are written only when given a path or TEMPORARY_OUTPUT "
                         r"\(the dialog makes CONFIDENCE", text), name


def test_classifywithbundle_refuses_cuda_without_a_gpu(hypersynth_plugin, inputs, tmp_path, untouched, monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    _no_engine(monkeypatch)
    _refused("classifywithbundle", _with_bundle(inputs, tmp_path, DEVICE=2), r"no CUDA GPU is available")


# --- 12. refused before the run, from the parameters alone (checkParameterValues) -------------------------------
def _check(algorithm: str, parameters: dict) -> tuple[bool, str]:
    """What checkParameterValues says: the dialog shows it and keeps the parameters, before any run."""
    from qgis.core import QgsApplication, QgsProcessingContext

    alg = QgsApplication.processingRegistry().createAlgorithmById(f"hypersynth:{algorithm}")
    return alg.checkParameterValues(parameters, QgsProcessingContext())


def test_classifywithbundle_refuses_an_accuracy_output_without_validation_labels(hypersynth_plugin, inputs,
                                                                                   tmp_path, untouched, monkeypatch):
    _no_engine(monkeypatch)
    asked = _with_bundle(inputs, tmp_path, METRICS=str(tmp_path / "accuracy.json"))
    ok, message = _check("classifywithbundle", asked)
    assert not ok and message == ("the Accuracy output is measured on validation labels, but no Validation labels "
                                  "for an accuracy assessment were given: give them, or skip the Accuracy output")
    _refused("classifywithbundle", asked, "the Accuracy output is measured on validation labels")
    assert _check("classifywithbundle", _with_bundle(inputs, tmp_path, VALIDATION=inputs.ground_truth,
                                                     METRICS=str(tmp_path / "accuracy.json"))) == (True, "")
    assert list(tmp_path.iterdir()) == []


def test_classifywithbundle_logs_the_accuracy_as_classifybaseline_does(hypersynth_plugin, inputs, tmp_path,
                                                                       untouched):
    log = RecordingFeedback()
    result = processing.run("hypersynth:classifywithbundle", _with_bundle(inputs, tmp_path,
                                                                          VALIDATION=inputs.ground_truth),
                            feedback=log)
    said = [line for line in log.infos if line.startswith("Accuracy on the validation labels")]
    assert said[0].startswith(f"Accuracy on the validation labels: OA {100 * result['OVERALL_ACCURACY']:.2f} %, AA "
                              f"{100 * result['AVERAGE_ACCURACY']:.2f} %, kappa {result['KAPPA']:.4f} on ")
    assert len(said) == 2 and "an indication only" in said[1]  # the reference pixels are no sample: said so


@pytest.mark.parametrize("name, match", [
    ("r.txt", r"the Report destination .*r.txt is named as a .txt file, but it is written as HTML: name it r.html"),
    ("report", r"the Report destination .*report has no extension: it is written as HTML; name it report.html"),
])
def test_a_report_not_named_html_is_refused_before_the_run(hypersynth_plugin, inputs, tmp_path, untouched,
                                                           monkeypatch, name, match):
    _no_engine(monkeypatch)
    ok, message = _check("classifybaseline", _baseline(inputs, tmp_path, REPORT=str(tmp_path / name)))
    assert not ok and re.search(match, message)
    _refused("augmentandclassify", _augment(inputs, tmp_path, REPORT=str(tmp_path / name)), match)
    _refused("benchmark", _benchmark(inputs, tmp_path, JSON=str(tmp_path / "runs.txt")),
             r"Every run and the mean rows destination .*runs.txt is named as a .txt file, but it is written as "
             r"JSON: name it runs.json")
    assert list(tmp_path.iterdir()) == []


def test_combinations_are_refused_before_the_run(hypersynth_plugin, inputs, tmp_path, untouched, monkeypatch):
    _no_engine(monkeypatch)
    npz = str(tmp_path / "patches.npz")
    for given, said in ((dict(CLASS_ID=1, PROMPT="water"), "both were given"), ({}, "neither was given")):
        ok, message = _check("synthesize", {"BUNDLE": inputs.synthesis, "OUTPUT": npz, **given})
        assert not ok and message == ("give either a class id (its stored prompt is used) or a free prompt, not "
                                      f"both and not neither ({said})")
    ok, message = _check("augmentandclassify", _augment(inputs, tmp_path, PATCH_SIZE=2))
    assert not ok and "Patch size in pixels (PATCH_SIZE) is 2: give 0" in message
    ok, message = _check("benchmark", _benchmark(inputs, tmp_path, SEEDS="zero"))
    assert not ok and message.startswith("seeds must be whole numbers")
    ok, message = _check("benchmark", _benchmark(inputs, tmp_path, METHODS=[]))
    assert not ok
    assert _check("synthesize", {"BUNDLE": inputs.synthesis, "PROMPT": "water", "OUTPUT": npz}) == (True, "")
    for out in ("patches.csv", "patches.tif"):  # the file's ending chooses what is written
        assert _check("synthesize", {"BUNDLE": inputs.synthesis, "PROMPT": "water",
                                     "OUTPUT": str(tmp_path / out)}) == (True, "")
    ok, message = _check("synthesize", {"BUNDLE": inputs.synthesis, "PROMPT": "water", "ATTENTION": True,
                                        "OUTPUT": str(tmp_path / "patches.csv")})
    assert not ok and message.startswith("cross-attention maps are kept in a .npz file only; got 'patches.csv'")
    ok, message = _check("synthesize", {"BUNDLE": inputs.synthesis, "PROMPT": "water",
                                        "OUTPUT": str(tmp_path / "patches.txt")})
    assert not ok and "name it patches.tif" in message  # the mosaic, the first of the formats
    assert _check("augmentandclassify", _augment(inputs, tmp_path)) == (True, "")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("algorithm", ["classifybaseline", "augmentandclassify", "trainbundle", "benchmark",
                                       "accuracyassessment"])
def test_a_class_file_that_is_not_there_is_refused_before_the_run(hypersynth_plugin, inputs, tmp_path, untouched,
                                                                  monkeypatch, algorithm):
    _no_engine(monkeypatch)
    parameters = {"classifybaseline": _baseline(inputs, tmp_path),
                  "augmentandclassify": _augment(inputs, tmp_path, CLASSES=inputs.classes),
                  "trainbundle": {"SCENE": inputs.scene, "LABELS": inputs.labels, "CLASSES": inputs.classes,
                                  "PRESET": 0, "DEVICE": 1, "OUTPUT": str(tmp_path / "model")},
                  "benchmark": _benchmark(inputs, tmp_path, CLASSES=inputs.classes),
                  "accuracyassessment": _accuracy(inputs, tmp_path, CLASSES=inputs.classes)}[algorithm]
    assert _check(algorithm, parameters) == (True, "")  # the class file as it is
    missing = str(inputs.folder / "clases.json")
    ok, message = _check(algorithm, {**parameters, "CLASSES": missing})
    assert not ok and re.fullmatch(r"Class (and prompt )?file \(CLASSES\): there is no file .*clases\.json\. Give an "
                                   r"existing file, or leave it empty\.", message), message
    _refused(algorithm, {**parameters, "CLASSES": missing}, r"there is no file .*clases\.json")  # a script too
    ok, message = _check(algorithm, {**parameters, "CLASSES": str(inputs.folder)})
    assert not ok and f"{inputs.folder} is a folder. Give an existing file" in message
    vsi = {**parameters, "CLASSES": f"/vsizip/{inputs.folder}/classes.zip/classes.json"}  # GDAL's to open, not ours
    assert "there is no file" not in _check(algorithm, vsi)[1]
    assert list(tmp_path.iterdir()) == []


def test_a_product_to_import_that_is_not_there_is_refused_before_the_run(hypersynth_plugin, inputs, tmp_path,
                                                                         untouched):
    parameters = {"INPUT": str(inputs.folder / "ENMAP01-gone.xml"), "OUTPUT": str(tmp_path / "scene.tif")}
    ok, message = _check("importscene", parameters)
    assert not ok and message.startswith("Scene or sensor product (INPUT): there is no file ")
    assert message.endswith("ENMAP01-gone.xml. Give an existing file.")  # a required input: no "leave it empty"
    assert _check("importscene", {**parameters, "INPUT": inputs.scene}) == (True, "")
    assert list(tmp_path.iterdir()) == []


def test_a_device_this_machine_lacks_is_refused_before_the_run(hypersynth_plugin, inputs, tmp_path, untouched,
                                                               monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    _no_engine(monkeypatch)
    cases = {"augmentandclassify": _augment(inputs, tmp_path, DEVICE=2),
             "trainbundle": {"SCENE": inputs.scene, "LABELS": inputs.labels, "PRESET": 0, "DEVICE": 2,
                             "OUTPUT": str(tmp_path / "model")},
             "synthesize": {"BUNDLE": inputs.synthesis, "PROMPT": "water", "DEVICE": 2,
                            "OUTPUT": str(tmp_path / "p.npz")},
             "benchmark": _benchmark(inputs, tmp_path, DEVICE=2),
             "classifywithbundle": _with_bundle(inputs, tmp_path, DEVICE=2)}
    for algorithm, parameters in cases.items():
        ok, message = _check(algorithm, parameters)
        assert not ok and "no CUDA GPU is available; use 'auto' or 'cpu' as the Device" in message, algorithm
    assert list(tmp_path.iterdir()) == []


def test_a_model_of_the_other_kind_is_refused_in_the_words_of_processing(hypersynth_plugin, inputs, tmp_path,
                                                                          untouched, monkeypatch):
    _no_engine(monkeypatch)
    ok, message = _check("classifywithbundle", _with_bundle(inputs, tmp_path, MODEL=inputs.synthesis))
    assert not ok and message == (f"{inputs.synthesis} is a synthesis model, not a classifier: give the folder "
                                  "Augment & Classify saved as its 'Trained classifier' output (a synthesis model "
                                  "goes to 'Synthesise labelled patches')")
    ok, message = _check("synthesize", {"BUNDLE": inputs.classifier, "CLASS_ID": 1,
                                        "OUTPUT": str(tmp_path / "p.npz")})
    assert not ok and "is a saved classifier, not a synthesis model: give the folder saved as 'Trained synthesis " \
                      "model' by Augment & Classify or by 'Train synthesis model bundle'" in message
    run_folder = str(Path(inputs.classifier).parent)  # the engine's run: its classifier is a folder inside it
    ok, message = _check("classifywithbundle", _with_bundle(inputs, tmp_path, MODEL=run_folder))
    assert not ok and message.endswith(f"give the classifier it saved: {inputs.classifier}")
    ok, message = _check("synthesize", {"BUNDLE": run_folder, "CLASS_ID": 1, "OUTPUT": str(tmp_path / "p.npz")})
    assert not ok and "saved no synthesis model (a baseline saves none)" in message
    assert "_bundle folder" not in message
    assert list(tmp_path.iterdir()) == []
