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
    assert "| field_scene | random | 2 |" in text and "| field_scene | disjoint | 2 |" in text
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
    assert "| dev site | random | 2 |" in text and "| dev site | random | 4 |" in text


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
