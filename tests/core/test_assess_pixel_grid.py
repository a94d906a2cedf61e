"""Assessing a class map without georeference (a benchmark cube's, on the pixel grid) against point labels drawn on
that grid, as the classifiers read them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hypersynth.core import pipeline
from hypersynth.core.demo import make_demo_scene
from hypersynth.core.evaluation.assess import assess_map
from hypersynth.core.io.write import write_label_raster, write_scene
from hypersynth.core.label_draw import draw_labels_from_files
from hypersynth.core.scene import PIXEL_GRID


def test_points_drawn_on_a_pixel_grid_score_its_map_as_its_label_raster_does(tmp_path):
    """The map's grid was taken as rasterio gives a file without georeference (y down), the points' as the engine
    does (y up, PIXEL_GRID): every point fell outside the map."""
    data = make_demo_scene(size=32, bands=20, n_classes=3, seed=0)
    scene = write_scene(replace(data.scene, transform=PIXEL_GRID, crs_wkt=None), tmp_path / "scene.tif")
    truth = write_label_raster(tmp_path / "truth.tif", data.labels, data.classes, transform=PIXEL_GRID, crs_wkt=None)
    draw = draw_labels_from_files(scene, truth, tmp_path / "train.fgb", labels_per_class=4, seed=0,
                                  validation=tmp_path / "validation.tif")
    run = pipeline.classify_scene(scene, draw.points, tmp_path / "run", method="rf")
    by_points = assess_map(run.class_map, draw.points, training_beside=False)  # the training points themselves
    assert by_points.n_test == 4 * len(data.classes)
    by_raster = assess_map(run.class_map, draw.validation)
    assert by_raster.n_test == int((data.labels > 0).sum()) - 4 * len(data.classes)
    left_out = assess_map(run.class_map, truth, exclude_path=draw.points)  # the training pixels left out
    assert left_out.n_test == by_raster.n_test and np.isclose(left_out.oa, by_raster.oa)
