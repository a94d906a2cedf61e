"""metrics.json says what the run was (method, settings, inputs, engine, time): figures gathered from many runs
can be told apart without parsing the Markdown report."""

from __future__ import annotations

import json
import re
from datetime import datetime

from hypersynth.core.demo import make_demo_scene, sparse_labels
from hypersynth.core.io.write import write_label_raster, write_scene
from hypersynth.core.pipeline import classify_scene, classify_with_model
from hypersynth.core.run_record import input_said, run_record
from hypersynth.core.version import engine_description


def _files(tmp_path):
    data = make_demo_scene(size=32, bands=20, n_classes=3, seed=0)
    kw = dict(transform=data.scene.transform, crs_wkt=data.scene.crs_wkt)
    return (write_scene(data.scene, tmp_path / "scene.tif"),
            write_label_raster(tmp_path / "labels.tif", sparse_labels(data.labels, 4, seed=0), data.classes, **kw),
            write_label_raster(tmp_path / "truth.tif", data.labels, data.classes, **kw))


def test_a_runs_metrics_say_what_the_run_was(tmp_path):
    scene, labels, truth = _files(tmp_path)
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
    assert run["what"] == "classified with a saved model" and run["method"] == "rf" and run["device"] == "auto"
    assert run["inputs"] == {"classifier": str((tmp_path / "run" / "classifier_bundle").resolve()),
                             "scene": str(scene.resolve()), "validation": str(truth.resolve())}
    report = (tmp_path / "again" / "report.md").read_text()  # the report names the files it read too
    assert f"- Scene file: {scene.resolve()}" in report and f"- Validation labels: {truth.resolve()}" in report
    assert f"engine {engine_description()}" in report


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


def _mosaic(data, offset: tuple[float, float], size: int = 48):
    """The demo scene laid into a larger scene of the same pixel lattice (a mosaic of tiles holding the training
    tile), ``offset`` rows and columns from its corner; with the truth there."""
    from dataclasses import replace

    import numpy as np

    r, c = int(offset[0]), int(offset[1])
    bands, height, width = data.scene.cube.shape
    cube = np.tile(data.scene.cube.mean(axis=(1, 2), keepdims=True), (1, size, size)).astype(np.float32)
    cube[:, r:r + height, c:c + width] = data.scene.cube
    truth = np.zeros((size, size), data.labels.dtype)
    truth[r:r + height, c:c + width] = data.labels
    x0, dx, _, y0, _, dy = data.scene.transform
    transform = (x0 - offset[1] * dx, dx, 0.0, y0 - offset[0] * dy, 0.0, dy)
    return replace(data.scene, cube=cube, valid=np.ones((size, size), bool), transform=transform), truth, transform


def test_a_saved_classifier_on_a_mosaic_holding_its_tile_leaves_its_training_pixels_out(tmp_path, caplog):
    """Scored, the pixels it learnt from would flatter the map: on any scene of the same pixel lattice and CRS (a
    mosaic of tiles, a crop) they are found through their coordinates and left out, not only on the very grid."""
    import logging

    data = make_demo_scene(size=32, bands=20, n_classes=3, seed=0)
    kw = dict(transform=data.scene.transform, crs_wkt=data.scene.crs_wkt)
    sparse = sparse_labels(data.labels, 4, seed=0)
    scene = write_scene(data.scene, tmp_path / "tile.tif")
    labels = write_label_raster(tmp_path / "labels.tif", sparse, data.classes, **kw)
    classify_scene(scene, labels, tmp_path / "run", method="rf")
    learnt = int((sparse > 0).sum())
    for offset, left_out in (((8, 16), learnt), ((8.5, 16), 0)):  # on the lattice; half a pixel off it
        mosaic, truth, transform = _mosaic(data, offset)
        name = f"mosaic_{offset[0]}"
        write_scene(mosaic, tmp_path / f"{name}.tif")
        write_label_raster(tmp_path / f"{name}_truth.tif", truth, data.classes, transform=transform,
                           crs_wkt=data.scene.crs_wkt)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="hypersynth"):
            outputs = classify_with_model(tmp_path / "run" / "classifier_bundle", tmp_path / f"{name}.tif",
                                          tmp_path / name, validation_path=tmp_path / f"{name}_truth.tif")
        assert outputs.metrics["n_test"] == int((truth > 0).sum()) - left_out, offset
        said = f"{learnt} validation pixels of {name}_truth.tif lie on pixels the classifier learnt from"
        assert (said in caplog.text) == bool(left_out), caplog.text


def test_assessing_a_runs_own_map_leaves_out_what_its_classifier_learnt_from(tmp_path, capsys, caplog):
    """`assess` of a run's map gave the training pixels' accuracy too (414 pixels, OA 49.52 % against the report's
    396 and 47.22 % on an EnMAP tile): the classifier saved beside the map says which pixels it learnt from."""
    from hypersynth.core.cli import main as cli_main

    scene, labels, truth = _files(tmp_path)
    run = classify_scene(scene, labels, tmp_path / "run", method="rf", validation_path=truth)
    caplog.clear()
    assert cli_main(["assess", "--map", str(run.class_map), "--validation", str(truth),
                     "--out", str(tmp_path / "accuracy")]) == 0
    assert f"({run.metrics['n_test']} test pixels" in capsys.readouterr().out
    assessed = json.loads((tmp_path / "accuracy" / "metrics.json").read_text())
    assert assessed["n_test"] == run.metrics["n_test"] and assessed["oa"] == run.metrics["oa"]  # the report's
    said = "validation pixels of truth.tif lie on pixels the classifier saved beside the map"
    assert said in caplog.text and said in (tmp_path / "accuracy" / "accuracy.md").read_text()
    (tmp_path / "copy").mkdir()  # the same map alone: nothing says which pixels were learnt from
    (tmp_path / "copy" / "map.tif").write_bytes(run.class_map.read_bytes())
    caplog.clear()
    assert cli_main(["assess", "--map", str(tmp_path / "copy" / "map.tif"), "--validation", str(truth)]) == 0
    assert said not in caplog.text
    scored = int(re.search(r"\((\d+) test pixels", capsys.readouterr().out).group(1))
    assert scored > run.metrics["n_test"]  # the training pixels scored too
