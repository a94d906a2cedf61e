"""What the analyst does to a drawn validation sample that unmakes it (points moved) or that a run cannot score
(points on the scene's no-data), said rather than counted quietly as unlabelled points."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hypersynth.core.evaluation.assess import evaluate_map
from hypersynth.core.evaluation.sampling import copy_design, read_design, sample_validation
from hypersynth.core.io.write import write_class_map
from hypersynth.core.scene import ClassInfo

CLASSES = [ClassInfo(1, "water", (0, 0, 255)), ClassInfo(2, "crop", (0, 200, 0))]
TRANSFORM = (500000.0, 30.0, 0.0, 5800000.0, 0.0, -30.0)  # 30 m pixels


@pytest.fixture
def class_map(tmp_path) -> Path:
    from rasterio.crs import CRS

    values = np.ones((60, 40), np.int32)
    values[30:, :] = 2
    write_class_map(tmp_path / "map.tif", values, CLASSES, transform=TRANSFORM, crs_wkt=CRS.from_epsg(32633).to_wkt())
    return tmp_path / "map.tif"


def _label_all_and_move(points: Path, shifts: dict[int, tuple[float, float]]) -> None:
    """Give every point the class 1, and move the points of the given ``point_id`` by ``(dx, dy)`` metres."""
    from osgeo import ogr

    ds = ogr.Open(str(points), 1)
    layer = ds.GetLayer(0)
    for feature in layer:
        feature.SetField("class_id", 1)
        shift = shifts.get(feature.GetField("point_id"))
        if shift is not None:
            point = feature.GetGeometryRef()
            moved = ogr.Geometry(ogr.wkbPoint)
            moved.AddPoint_2D(point.GetX() + shift[0], point.GetY() + shift[1])
            feature.SetGeometry(moved)
        layer.SetFeature(feature)
    ds = None


def test_points_moved_from_where_they_were_drawn_are_named_and_the_figures_only_indicate(class_map, tmp_path,
                                                                                          caplog):
    points = tmp_path / "check.gpkg"
    design = sample_validation(class_map, points, seed=0, per_class=10)
    _label_all_and_move(points, {3: (10.0, -10.0)})  # within its own 30 m pixel: still the point drawn
    area = evaluate_map(class_map, points).area
    assert area.sample_problem is None and "so these figures hold" in area.to_markdown()

    east = 90.0 if design.drawn[4][1] < 20 else -90.0  # three pixels along its row, staying on the map
    _label_all_and_move(points, {5: (east, 0.0), 12: (0.0, 1e6)})  # another pixel; far off the map
    caplog.clear()
    area = evaluate_map(class_map, points).area
    assert area.sample_problem == ("2 of the labelled points were moved from where they were drawn (point_id 5, 12: "
                                   "1 to another pixel and 1 off the map), and a moved point is no random draw (move "
                                   "it back, or clear its class, to keep the sample)")
    assert "only indicate" in area.to_markdown() and "point_id 5, 12" in caplog.text
    assert json.loads(json.dumps(area.to_dict()))["validation_sample_problem"] == area.sample_problem
    assert "moved" not in json.loads(Path(str(points).replace(".gpkg", ".design.json")).read_text())


def test_points_saved_in_another_crs_are_where_they_were_drawn(class_map, tmp_path):
    """QGIS' "Save Features As…" may reproject the layer: the points are compared on the map's CRS."""
    from osgeo import gdal

    points = tmp_path / "check.gpkg"
    sample_validation(class_map, points, seed=0, per_class=10)
    _label_all_and_move(points, {})
    degrees = tmp_path / "check_wgs84.gpkg"
    gdal.VectorTranslate(str(degrees), str(points), dstSRS="EPSG:4326")
    copy_design(points, degrees)
    design = read_design(degrees)
    assert design is not None and design.crs_wkt  # the map's CRS is recorded with the design
    area = evaluate_map(class_map, degrees).area
    assert area.sample_problem is None and area.sample_points == 20


def test_a_runs_sample_points_on_the_scenes_no_data_are_said_not_dropped_quietly(tmp_path):
    """The analyst labels a sample of a first run's map, then runs on the scene with a few of those pixels no longer
    holding data: the run's report says how many validation points it could not score (they were taken as points left
    unlabelled), and that the sample's figures only indicate."""
    import rasterio

    from hypersynth.core.pipeline import classify_scene
    from tests.demo_files import write_demo_files

    scene, labels, truth_file, classes = write_demo_files(tmp_path, size=32, bands=12)
    first = classify_scene(scene, labels, tmp_path / "first", classes_path=classes, method="rf", seed=0)
    points = tmp_path / "check.gpkg"
    design = sample_validation(first.class_map, points, seed=0, per_class=20)
    with rasterio.open(truth_file) as src:
        truth = src.read(1)
    from osgeo import ogr

    ds = ogr.Open(str(points), 1)
    layer = ds.GetLayer(0)
    for feature, (row, col, _) in zip(layer, design.drawn):
        feature.SetField("class_id", int(truth[row, col]))
        layer.SetFeature(feature)
    ds = None
    with rasterio.open(labels) as src:
        training = src.read(1)
    gone = [(r, c) for r, c, _ in design.drawn if training[r, c] == 0][:3]  # three sample pixels lose their data
    with rasterio.open(scene, "r+") as dst:
        cube = dst.read()
        for r, c in gone:
            cube[:, r, c] = dst.nodata
        dst.write(cube)
    classify_scene(scene, labels, tmp_path / "second", classes_path=classes, method="rf", seed=0,
                   validation_path=points)
    metrics = json.loads((tmp_path / "second" / "metrics.json").read_text())
    assert metrics["validation_pixels_unclassified"] == 3
    assert metrics["area_adjusted"]["validation_sample_problem"] == (  # fewer pixels of data: not the sampled map's
        "classification.tif, which they were drawn from, classifies 1,024 pixels and this map 1,021, so its classes, "
        "the strata, do not cover this map")
    report = (tmp_path / "second" / "report.md").read_text()
    assert "3 validation pixels lie on pixels the map leaves unclassified (0 or no data): not scored above" in report
