"""Tests for the part of a scene the models learn from (core/training_area.py) and runs that learn from it."""

import re

import numpy as np
import pytest
import rasterio

from hypersynth.core import memory, training_area
from hypersynth.core.io import read as read_module
from hypersynth.core.methods import MethodSettings
from hypersynth.core.pipeline import classify_scene

from ..demo_files import write_demo_files


def test_the_labelled_area_is_the_labels_box_with_a_margin_at_least_the_smallest_side(monkeypatch):
    monkeypatch.setattr(memory, "memory_budget", lambda: None)  # no limit known: the area as drawn
    labelled = np.zeros((3000, 2000), bool)
    labelled[1000, 700] = labelled[1100, 1500] = True
    (rows, cols), = training_area.labelled_area(labelled, 200, "scene.tif").boxes
    assert (rows.start, rows.stop) == (936 - 141, 936 - 141 + 512)  # 936–1165 (± 64 rows) grown to 512, centred
    assert (cols.start, cols.stop) == (700 - 64, 1501 + 64)  # wider than 512 already: the margin only
    labelled[:] = False
    labelled[5, 1990] = True  # at a corner: kept inside the scene, still 512 wide where the scene allows
    (rows, cols), = training_area.labelled_area(labelled, 200, "scene.tif").boxes
    assert (rows.start, rows.stop, cols.start, cols.stop) == (0, 512, 2000 - 512, 2000)
    small = np.zeros((40, 30), bool)
    small[3, 4] = True
    assert training_area.labelled_area(small, 200, "scene.tif").boxes == [(slice(0, 40), slice(0, 30))]
    with pytest.raises(ValueError, match="no labelled pixel lies on scene.tif's valid pixels"):
        training_area.labelled_area(np.zeros((40, 30), bool), 200, "scene.tif")


def test_labels_spread_over_a_scene_too_large_are_learnt_from_a_box_around_each_group(monkeypatch):
    # half of it: 1 GB to learn from
    monkeypatch.setattr(memory, "memory_budget", lambda: memory.MemoryBudget(2 * 10**9, False))
    labelled = np.zeros((3000, 2000), bool)
    labelled[0, 0] = labelled[2999, 1999] = True  # the whole box: 4.8 GB of 200 bands
    labelled[10, 100] = True  # in the first one's square: one group
    area = training_area.labelled_area(labelled, 200, "scene.tif")
    assert area.boxes == [(slice(0, 75), slice(0, 165)), (slice(2935, 3000), slice(1935, 2000))]
    assert area.grid_shape == (75 + training_area.GAP + 65, 165)
    labelled[200:260, 1500] = True  # two squares apart a stroke; their boxes meet, so they merge
    labelled[300, 1500] = True
    assert (slice(136, 365), slice(1436, 1565)) in training_area.labelled_area(labelled, 200, "scene.tif").boxes
    labelled[::150, ::150] = True  # a label every 150 pixels: 280 boxes of 129 × 129, 3.7 GB with their gaps
    with pytest.raises(memory.SceneTooLargeError, match=r"the areas around its labels take \d.\d GB to learn from "
                                                        r"\(\d+ of them\), over half of what is free: this machine "
                                                        r"has 2.0 GB of memory available"):
        training_area.labelled_area(labelled, 200, "scene.tif")


def test_which_runs_learn_from_the_labelled_area(monkeypatch):
    monkeypatch.setattr(memory, "memory_budget", lambda: memory.MemoryBudget(10**9, False))
    large, small = (200, 1000, 1000), (200, 100, 100)  # 0.8 GB and 8 MB
    assert training_area.learns_from_labelled_area("auto", large)  # over half of the memory available
    assert not training_area.learns_from_labelled_area("auto", small)
    assert not training_area.learns_from_labelled_area("scene", large)  # asked for: the whole scene
    assert training_area.learns_from_labelled_area("labelled-area", small)
    assert not training_area.learns_from_labelled_area("auto", None)  # a product: read whole, always
    with pytest.raises(ValueError, match="only a plain raster .* is read by area; import the product as a GeoTIFF"):
        training_area.learns_from_labelled_area("labelled-area", None)
    with pytest.raises(ValueError, match="unknown training area 'labels'; use one of auto, scene, labelled-area"):
        training_area.learns_from_labelled_area("labels", small)
    monkeypatch.setattr(memory, "memory_budget", lambda: None)  # nothing known: the whole scene
    assert not training_area.learns_from_labelled_area("auto", large)


def _scene(folder, size, labelled_rows=None):
    """The demo files; with ``labelled_rows``, 4 labels per class drawn from the first rows only."""
    def in_rows(truth):
        labels = np.zeros_like(truth)
        for c in np.unique(truth[:labelled_rows][truth[:labelled_rows] > 0]):
            r, k = np.nonzero(truth[:labelled_rows] == c)
            pick = np.random.default_rng(int(c)).choice(len(r), min(4, len(r)), replace=False)
            labels[r[pick], k[pick]] = c
        return labels

    return write_demo_files(folder, size=size, seed=3, draw=in_rows if labelled_rows else None)


def test_learning_from_an_area_that_covers_the_scene_maps_it_as_learning_from_the_scene(tmp_path):
    """On a scene smaller than the area's smallest side the area is the scene: the same maps and model, whether the
    scene is read whole or by windows."""
    scene, labels, truth, classes = _scene(tmp_path, 32)
    run = dict(method="cnn", classes_path=classes, validation_path=truth, settings=MethodSettings(preset="tiny"))
    by_area = classify_scene(scene, labels, tmp_path / "area", training_area="labelled-area", **run)
    whole = classify_scene(scene, labels, tmp_path / "whole", training_area="scene", **run)
    for name in ("classification.tif", "confidence.tif"):
        with rasterio.open(tmp_path / "area" / name) as a, rasterio.open(tmp_path / "whole" / name) as b:
            assert np.array_equal(a.read(), b.read(), equal_nan=True), name
    assert by_area.metrics == whole.metrics
    assert "Learnt from the area around the labels (rows 0–32, columns 0–32: 1024 of" in by_area.report.read_text()


def test_a_scene_too_large_for_memory_learns_from_its_labelled_area_and_is_mapped_whole(tmp_path, monkeypatch,
                                                                                          caplog):
    """Augment & Classify on a scene that would take over half of the memory: the models learn from the area around
    the labels, read by windows; the scene is never read whole, and every valid pixel is mapped."""
    import logging

    monkeypatch.setattr(training_area, "AREA_MARGIN", 2)
    monkeypatch.setattr(training_area, "MIN_AREA_SIDE", 8)
    scene, labels, truth, classes = _scene(tmp_path, 48, labelled_rows=16)
    with rasterio.open(scene) as ds:
        cube_bytes = 4 * ds.count * ds.height * ds.width
    monkeypatch.setattr(memory, "memory_budget", lambda: memory.MemoryBudget(int(1.5 * cube_bytes), False))

    def never(*args, **kwargs):
        raise AssertionError("the scene was read whole")

    monkeypatch.setattr(read_module, "read_scene", never)
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        out = classify_scene(scene, labels, tmp_path / "run", method="augment", classes_path=classes,
                             validation_path=truth, settings=MethodSettings(preset="tiny", synthetic_per_class=6))
    said = re.search(r"rows (\d+)–(\d+), columns (\d+)–(\d+)", caplog.text)
    assert "takes over half of the memory available read whole: the models learn from the area" in caplog.text
    assert said and int(said.group(1)) == 0 and int(said.group(2)) <= 19 and said.group(4) == "48"
    report = out.report.read_text()
    assert f"Learnt from the area around the labels (rows 0–{said.group(2)}" in report
    assert "takes over half of the memory available" in report  # the warning, kept in the report
    with rasterio.open(out.class_map) as cm:
        mapped = cm.read(1)
    valid = mapped > 0
    assert valid[40:].mean() > 0.9  # rows far below the area are mapped too
    assert out.bundle is not None and out.metrics["oa"] > 0.4


def test_the_area_is_read_by_strips_as_the_scene_read_whole_holds_it(tmp_path, monkeypatch):
    from hypersynth.core.io.windows import raster_window_reader
    from hypersynth.core.progress import CancelAfter, Cancelled

    scene, _, _, _ = _scene(tmp_path, 32)
    whole = read_module.read_scene(scene)
    valid = whole.valid.copy()
    valid[10:12, 5:20] = False  # no data inside the area: 0, as in a cube read whole
    usable = whole.cube[whole.good_bands]
    reader = raster_window_reader(scene, np.flatnonzero(whole.good_bands) + 1)
    monkeypatch.setattr(training_area, "AREA_STRIP", 3)
    one = training_area.TrainingArea([(slice(4, 15), slice(2, 30))], (32, 32))
    cube = one.read(reader, valid)
    assert cube.dtype == np.float32 and np.array_equal(cube, np.where(valid[4:15, 2:30], usable[:, 4:15, 2:30], 0))
    two = training_area.TrainingArea([(slice(0, 5), slice(20, 32)), (slice(25, 32), slice(0, 8))], (32, 32))
    cube, gap = two.read(reader, valid), training_area.GAP
    assert cube.shape[1:] == (5 + gap + 7, 12) == two.take(valid).shape
    assert np.array_equal(cube[:, :5], usable[:, 0:5, 20:32])  # each box in its place, one under the other
    assert np.array_equal(cube[:, 5 + gap:, :8], usable[:, 25:32, 0:8]) and not cube[:, 5:5 + gap].any()
    assert not cube[:, 5 + gap:, 8:].any() and not two.take(valid)[5:5 + gap].any()  # beside and between: no data
    with pytest.raises(Cancelled):
        one.read(reader, valid, CancelAfter(2))


def test_a_run_learns_from_boxes_around_each_group_of_labels_laid_side_by_side(tmp_path, monkeypatch):
    """The CNN on a scene whose labels lie at its top and bottom, too far apart for one box in the memory given: two
    boxes, each around its labels; every valid pixel mapped, the report naming both."""
    monkeypatch.setattr(training_area, "AREA_MARGIN", 2)
    monkeypatch.setattr(training_area, "MIN_AREA_SIDE", 8)
    monkeypatch.setattr(training_area, "LABEL_SQUARE", 16)
    monkeypatch.setattr(training_area, "GAP", 4)

    def top_and_bottom(truth):
        labels = np.zeros_like(truth)
        for c in np.unique(truth[truth > 0]):
            for band in (slice(0, 8), slice(40, 48)):  # 3 labels per class in each
                r, k = np.nonzero(truth[band] == c)
                if len(r):
                    pick = np.random.default_rng(int(c)).choice(len(r), min(3, len(r)), replace=False)
                    labels[band][r[pick], k[pick]] = c
        return labels

    scene, labels, truth, classes = write_demo_files(tmp_path, size=48, seed=3, draw=top_and_bottom)
    with rasterio.open(scene) as ds:
        cube_bytes = 4 * ds.count * ds.height * ds.width
    # the labels' box: over half
    monkeypatch.setattr(memory, "memory_budget", lambda: memory.MemoryBudget(int(1.5 * cube_bytes), False))
    monkeypatch.setattr(read_module, "read_scene", lambda *a, **k: pytest.fail("the scene was read whole"))
    out = classify_scene(scene, labels, tmp_path / "run", method="cnn", classes_path=classes, validation_path=truth,
                         settings=MethodSettings(preset="tiny"))
    learnt = out.report.read_text().split("Learnt from the area around the labels (", 1)[1].split(":", 1)[0]
    boxes = [tuple(map(int, b)) for b in re.findall(r"rows (\d+)–(\d+), columns (\d+)–(\d+)", learnt)]
    assert len(boxes) >= 2 and all(r1 <= 11 or r0 >= 37 for r0, r1, _, _ in boxes)  # around the top's or the bottom's
    assert {r0 < 24 for r0, _, _, _ in boxes} == {True, False}  # both
    with rasterio.open(out.class_map) as cm:
        assert (cm.read(1)[16:32] > 0).mean() > 0.9  # the rows between them are mapped too
    assert out.metrics["oa"] > 0.4
