"""The pixels a classifier learnt from are never scored as validation: a saved classifier on any scene of its
training grid's lattice (the grid itself, a mosaic holding it, a crop), and `assess` of a run's own map."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace

import numpy as np
import pytest
from rasterio.crs import CRS

from hypersynth.core.classifier_bundle import own_training_pixels
from hypersynth.core.cli import main as cli_main
from hypersynth.core.demo import make_demo_scene, sparse_labels
from hypersynth.core.io.write import write_label_raster, write_scene
from hypersynth.core.pipeline import classify_scene, classify_with_model
from hypersynth.core.scene import Scene

UTM = CRS.from_epsg(32633).to_wkt()
GRID = {"shape": [4, 5], "transform": [500000.0, 30.0, 0.0, 5800000.0, 0.0, -30.0], "crs_wkt": UTM}
PIXELS = np.array([[0, 0], [1, 4], [3, 2]])  # rows, cols on GRID


def _grid(shape, x0=500000.0, y0=5800000.0, size=30.0, crs=UTM) -> Scene:
    return Scene(np.zeros((1, *shape), np.float32), np.ones(shape, bool), transform=(x0, size, 0.0, y0, 0.0, -size),
                 crs_wkt=crs)


@pytest.mark.parametrize("scene, expected", [
    (_grid((4, 5)), PIXELS),  # the very grid
    (_grid((10, 10), x0=500000.0 - 2 * 30, y0=5800000.0 + 3 * 30), PIXELS + [3, 2]),  # a mosaic holding it
    (_grid((3, 3), x0=500000.0 + 2 * 30, y0=5800000.0 - 1 * 30), np.array([[0, 2], [2, 0]])),  # a crop: (0,0) is off
    (_grid((10, 10), x0=500000.0 - 15), None),  # half a pixel off the lattice
    (_grid((10, 10), size=10.0), None),  # other pixel sizes
    (_grid((10, 10), crs=CRS.from_epsg(32632).to_wkt()), None),  # another CRS
    (_grid((3, 3), x0=600000.0), None),  # the same lattice far away: none of them on it
])
def test_a_classifiers_training_pixels_are_found_on_scenes_of_its_lattice(scene, expected):
    found = own_training_pixels({"training_grid": GRID, "training_pixels": PIXELS}, scene)
    assert (found is None) if expected is None else np.array_equal(found, expected)


def test_a_bundle_saved_before_it_kept_its_crs_finds_them_on_its_very_grid_only():
    old = {"training_grid": {k: v for k, v in GRID.items() if k != "crs_wkt"}, "training_pixels": PIXELS}
    assert np.array_equal(own_training_pixels(old, _grid((4, 5))), PIXELS)
    assert own_training_pixels(old, _grid((10, 10), x0=500000.0 - 60, y0=5800000.0 + 90)) is None


def _mosaic(data, offset: tuple[float, float], size: int = 48):
    """The demo scene laid into a larger scene of the same pixel lattice (a mosaic of tiles holding the training
    tile), ``offset`` rows and columns from its corner; with the truth there."""
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
    """A mosaic of EnMAP tiles holding the training tile scored its 18 training pixels."""
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
        said = (f"{learnt} validation pixels of {name}_truth.tif lie at the positions of pixels the classifier "
                "learnt from")
        assert (said in caplog.text) == bool(left_out), caplog.text


def _scored(capsys) -> int:
    return int(re.search(r"\((\d+) validation pixels", capsys.readouterr().out).group(1))


def test_assessing_a_runs_own_map_leaves_out_what_its_classifier_learnt_from(scene_files, tmp_path, capsys, caplog):
    """`assess` of a run's map gave the training pixels' accuracy too (414 pixels, OA 49.52 % against the report's
    396 and 47.22 % on an EnMAP tile): the classifier saved beside the map says which pixels it learnt from."""
    labels, truth = scene_files["labels"], scene_files["truth"]
    run = classify_scene(scene_files["scene"], labels, tmp_path / "run", method="rf", validation_path=truth)
    assess = ["assess", "--map", str(run.class_map), "--validation", str(truth)]
    caplog.clear()
    assert cli_main([*assess, "--out", str(tmp_path / "accuracy")]) == 0
    assert _scored(capsys) == run.metrics["n_test"]  # the report's figure
    said = "12 validation pixels of truth.tif lie on pixels the classifier saved beside the map"
    document = (tmp_path / "accuracy" / "accuracy.md").read_text()
    assert said in caplog.text and said in document
    assert "- The map's training pixels: left out: the pixels the classifier saved beside the map learnt" in document
    assert json.loads((tmp_path / "accuracy" / "metrics.json").read_text())["training_pixels"] == "left_out_beside"
    caplog.clear()
    assert cli_main([*assess, "--exclude", str(labels)]) == 0  # left out already: nothing more to say
    assert _scored(capsys) == run.metrics["n_test"] and "saved beside the map" not in caplog.text
    assert cli_main([*assess, "--keep-training-pixels"]) == 0
    assert _scored(capsys) == run.metrics["n_test"] + 12  # asked for: the training pixels scored too
    assert cli_main(["assess", "--map", str(run.class_map), "--validation", str(labels)]) == 2
    assert ("every validation pixel of labels.tif on the map lies on a pixel the classifier saved beside it"
            in capsys.readouterr().err)
    (tmp_path / "copy").mkdir()  # the same map alone: nothing says which pixels were learnt from
    (tmp_path / "copy" / "map.tif").write_bytes(run.class_map.read_bytes())
    caplog.clear()
    assert cli_main(["assess", "--map", str(tmp_path / "copy" / "map.tif"), "--validation", str(truth),
                     "--out", str(tmp_path / "copy" / "accuracy")]) == 0
    printed, noted = capsys.readouterr()
    assert int(re.search(r"\((\d+) validation pixels", printed).group(1)) == run.metrics["n_test"] + 12
    assert "saved beside the map" not in caplog.text
    assert ("Note: which pixels the map's classifier learnt from is not known (no classifier_bundle folder beside "
            "the map says): validation pixels among them were scored, which flatters the map; give its training "
            "labels as --exclude") in noted  # said (beside the figures, on stderr), as they may flatter the map
    metrics = json.loads((tmp_path / "copy" / "accuracy" / "metrics.json").read_text())
    assert metrics["training_pixels"] == "unknown"
    assert "- The map's training pixels: not known" in (tmp_path / "copy" / "accuracy" / "accuracy.md").read_text()
