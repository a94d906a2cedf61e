"""`hypersynth:benchmark` through its public id: the few-label protocol on a small scene with reference labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsVectorLayer

import processing
from hypersynth.core.methods import METHODS

from .conftest import CancelAfterProgress

TINY = 0  # index of the tiny preset in the algorithm's preset list


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> dict:
    from hypersynth.core.demo import make_demo_scene, sparse_labels, write_label_points
    from hypersynth.core.io.classes import write_classes
    from hypersynth.core.io.write import write_label_raster, write_scene

    folder = tmp_path_factory.mktemp("bench")
    data = make_demo_scene(size=32, bands=30, n_classes=3, seed=1)
    grid = {"transform": data.scene.transform, "crs_wkt": data.scene.crs_wkt}
    sample = sparse_labels(data.labels, n_per_class=6, seed=1)  # a sparse reference: 6 points per class
    return {"scene": str(write_scene(data.scene, folder / "field_scene.tif")),
            "reference": str(write_label_raster(folder / "reference.tif", data.labels, data.classes, **grid)),
            "points": _points(folder / "reference_points.gpkg", sample, data, write_label_points),
            "classes": str(write_classes(folder / "classes.json", data.classes)), "n_classes": len(data.classes)}


def _points(path: Path, labels: np.ndarray, data, write) -> str:
    write(path, labels, data.classes, data.scene.transform, data.scene.crs_wkt, overwrite=False)
    return str(path)


def _methods(*names: str) -> list[int]:
    return [METHODS.index(n) for n in names]


def test_benchmark_writes_tables_and_every_run(hypersynth_plugin, scene, tmp_path):
    md, js = tmp_path / "bench.md", tmp_path / "bench.json"
    result = processing.run("hypersynth:benchmark", {
        "SCENE": scene["scene"], "REFERENCE": scene["reference"], "CLASSES": scene["classes"],
        "LABELS_PER_CLASS": "2", "SEEDS": "0-1", "METHODS": _methods("rf", "cnn"), "SPLITS": [0, 1],
        "PRESET": TINY, "OUTPUT": str(md), "JSON": str(js)})
    assert result["OUTPUT"] == str(md) and result["JSON"] == str(js)
    document = json.loads(js.read_text())
    runs = document["runs"]
    assert {(r["split"], r["method"], r["seed"]) for r in runs} == {
        (split, method, seed) for split in ("random", "disjoint") for method in ("rf", "cnn") for seed in (0, 1)}
    assert {r["dataset"] for r in runs} == {"field_scene"}  # named after the scene layer
    assert all(r["n_train"] == 2 * scene["n_classes"] and 0.3 < r["oa"] <= 1.0 for r in runs)
    rows = {(r["split"], r["method"]): r for r in document["rows"]}
    assert rows[("random", "rf")]["seeds"] == [0, 1]
    text = md.read_text()
    assert "### field_scene, random split" in text and "### field_scene, disjoint split" in text
    assert "preset tiny" in text  # the tables say how they were made
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json", "bench.md"]  # no partial file left


def test_benchmark_reads_a_point_reference_with_its_class_field_and_a_name(hypersynth_plugin, scene, tmp_path):
    points = QgsVectorLayer(f"{scene['points']}|layername=labels", "reference points", "ogr")
    assert points.isValid() and points.featureCount() == 6 * scene["n_classes"]
    md = tmp_path / "points.md"
    processing.run("hypersynth:benchmark", {
        "SCENE": scene["scene"], "REFERENCE": points, "CLASS_FIELD": "class_id", "LABELS_PER_CLASS": "2,4",
        "SEEDS": "3", "METHODS": _methods("svm"), "SPLITS": [0], "PRESET": TINY, "NAME": "dev site",
        "OUTPUT": str(md)})
    text = md.read_text()
    assert "### dev site, random split" in text and "| method | N=2: OA / AA / κ (%) | s / run | N=4: " in text


def test_benchmark_refuses_bad_counts_and_writes_nothing(hypersynth_plugin, scene, tmp_path):
    md = tmp_path / "bad.md"
    with pytest.raises(QgsProcessingException, match="labels per class must be whole numbers"):
        processing.run("hypersynth:benchmark", {
            "SCENE": scene["scene"], "REFERENCE": scene["reference"], "LABELS_PER_CLASS": "two",
            "METHODS": _methods("rf"), "PRESET": TINY, "OUTPUT": str(md)})
    with pytest.raises(QgsProcessingException, match="type another name in 'Name of the scene in the tables'"):
        processing.run("hypersynth:benchmark", {
            "SCENE": scene["scene"], "REFERENCE": scene["reference"], "NAME": "salinasA",
            "METHODS": _methods("rf"), "PRESET": TINY, "OUTPUT": str(md)})
    assert not md.exists()


def test_cancelled_benchmark_writes_nothing(hypersynth_plugin, scene, tmp_path):
    md, js = tmp_path / "c.md", tmp_path / "c.json"
    with pytest.raises(QgsProcessingException, match="^cancelled by the user; no output was written$"):
        processing.run("hypersynth:benchmark", {
            "SCENE": scene["scene"], "REFERENCE": scene["reference"], "LABELS_PER_CLASS": "2", "SEEDS": "0-4",
            "METHODS": _methods("rf", "cnn"), "PRESET": TINY, "OUTPUT": str(md), "JSON": str(js)},
            feedback=CancelAfterProgress(3))
    assert list(Path(tmp_path).iterdir()) == []


def test_benchmark_runs_shares_of_each_class_as_draw_labels_draws_them(hypersynth_plugin, scene, tmp_path):
    from hypersynth.core.bench import bench_split
    from hypersynth.core.io.labels import read_labels
    from hypersynth.core.io.read import read_scene

    md, js = tmp_path / "share.md", tmp_path / "share.json"
    processing.run("hypersynth:benchmark", {
        "SCENE": scene["scene"], "REFERENCE": scene["reference"], "LABELS_PER_CLASS": "", "SHARES": "5, 10%",
        "SEEDS": "2", "METHODS": _methods("rf"), "SPLITS": [0], "PRESET": TINY, "OUTPUT": str(md), "JSON": str(js)})
    document = json.loads(js.read_text())
    assert [(r["labels_per_class"], r["share"]) for r in document["rows"]] == [(None, 0.05), (None, 0.1)]
    field = read_scene(scene["scene"])
    labels, _ = read_labels(scene["reference"], field)
    drawn = bench_split(labels, field.valid, None, 0.1, 2, "random", 8)  # the tiny preset's patch side
    assert next(r for r in document["runs"] if r["share"] == 0.1)["n_train"] == int(drawn.train_mask.sum())
    assert "### field_scene, random split" in md.read_text() and "| 10 %: OA / AA / κ (%) |" in md.read_text()


def test_benchmark_needs_labels_per_class_or_shares(hypersynth_plugin, scene, tmp_path):
    run = {"SCENE": scene["scene"], "REFERENCE": scene["reference"], "SEEDS": "0", "METHODS": _methods("rf"),
           "SPLITS": [0], "PRESET": TINY, "OUTPUT": str(tmp_path / "none.md")}
    with pytest.raises(QgsProcessingException, match=r"give Labels per class \(LABELS_PER_CLASS, e.g. 2,5\), Shares "
                                                     r"of each class \(SHARES, e.g. 10\) or both"):
        processing.run("hypersynth:benchmark", {**run, "LABELS_PER_CLASS": "", "SHARES": ""})
    with pytest.raises(QgsProcessingException, match=r"Shares of each class \(SHARES\) are percents of each class, "
                                                     r"above 0 and below 100, e.g. 10 or 5,10; got '150'"):
        processing.run("hypersynth:benchmark", {**run, "SHARES": "150"})
    assert not any(tmp_path.iterdir())


def test_the_methods_options_keep_their_indexes_and_offer_every_method():
    """Saved models and scripts give METHODS by index: the list is frozen, a new method goes at its end."""
    from hypersynth.core.methods import METHODS as CORE_METHODS
    from hypersynth.plugin.algorithms.benchmark import METHOD_KEYS

    assert METHOD_KEYS[:7] == ("rf", "svm", "cnn", "cnn-pseudo", "dfeat", "dfeat-augment", "augment")
    assert sorted(METHOD_KEYS) == sorted(CORE_METHODS)
