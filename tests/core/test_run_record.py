"""metrics.json says what the run was (method, settings, inputs, engine, time): figures gathered from many runs
can be told apart without parsing the Markdown report."""

from __future__ import annotations

import json
from datetime import datetime

from hypersynth.core.pipeline import classify_scene, classify_with_model
from hypersynth.core.run_record import input_said, run_record
from hypersynth.core.version import engine_description


def test_a_runs_metrics_say_what_the_run_was(scene_files, tmp_path):
    scene, labels, truth = scene_files["scene"], scene_files["labels"], scene_files["truth"]
    outputs = classify_scene(scene, labels, tmp_path / "run", method="rf", seed=7, validation_path=truth)
    run = json.loads(outputs.class_map.with_name("metrics.json").read_text())["run"]
    assert run["what"] == "Random forest (spectra)" and run["method"] == "rf" and run["seed"] == 7
    assert "preset" not in run and "device" not in run  # scikit-learn's: neither shapes its result
    assert run["inputs"] == {"scene": str(scene.resolve()), "labels": str(labels.resolve()),
                             "validation": str(truth.resolve())}
    assert run["engine"] == engine_description()
    assert (datetime.now().astimezone() - datetime.fromisoformat(run["finished"])).total_seconds() < 3600

    again = classify_with_model(tmp_path / "run" / "classifier_bundle", scene, tmp_path / "again",
                                validation_path=truth)
    run = json.loads(again.class_map.with_name("metrics.json").read_text())["run"]
    assert run["what"] == "classified with a saved model" and run["method"] == "rf" and "device" not in run
    assert run["inputs"] == {"classifier": str((tmp_path / "run" / "classifier_bundle").resolve()),
                             "scene": str(scene.resolve()), "validation": str(truth.resolve())}
    report = (tmp_path / "again" / "report.md").read_text()  # the report names the files it read too
    assert f"- Scene file: {scene.resolve()}" in report and f"- Validation labels: {truth.resolve()}" in report
    assert f"engine {engine_description()}" in report


def test_a_network_runs_record_says_the_device_it_ran_on_not_the_one_asked_for(scene_files, tmp_path):
    from hypersynth.core.methods import MethodSettings

    outputs = classify_scene(scene_files["scene"], scene_files["labels"], tmp_path / "cnn", method="cnn",
                             validation_path=scene_files["truth"], settings=MethodSettings(preset="tiny"))
    run = json.loads(outputs.class_map.with_name("metrics.json").read_text())["run"]
    assert run["device"] == "cpu" and run["preset"] == "tiny"  # "auto" resolved: no GPU here


def test_a_copy_made_for_the_run_is_named_as_the_analyst_knows_it(tmp_path):
    copy = tmp_path / ".hypersynth-labels-abc.fgb"
    names = {"label file": "the layer 'labels' (labels.gpkg)"}
    record = run_record("Augment & Classify", [("label file", copy), ("class file", tmp_path / ".hypersynth-c.json"),
                                               ("validation labels", None)], names, method="augment", preset=None)
    assert record["inputs"] == {
        "labels": "the layer 'labels' (labels.gpkg) as it stood in QGIS (copied for the run, the copy not kept)",
        "classes": "the dock's classes and prompts as they stood, kept as run_classes.json in this folder"}
    assert record["method"] == "augment" and "preset" not in record
    assert input_said("scene file", tmp_path / "scene.tif") == str((tmp_path / "scene.tif").resolve())
