"""What the analyst does to a drawn validation sample that unmakes it (points moved) or that a run cannot score
(points on the scene's no-data), said rather than counted quietly as unlabelled points."""

from __future__ import annotations

import json
import logging
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
        shift = shifts.get(int(feature.GetField("point_id")))  # text too
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


def _labelled_in_degrees(class_map: Path, tmp_path: Path) -> Path:
    """A sample of ``class_map``, labelled, saved again in WGS 84 with its design (as "Save Features As…" does)."""
    from osgeo import gdal

    points = tmp_path / "check.gpkg"
    sample_validation(class_map, points, seed=0, per_class=10)
    _label_all_and_move(points, {})
    degrees = tmp_path / "check_wgs84.gpkg"
    gdal.VectorTranslate(str(degrees), str(points), dstSRS="EPSG:4326")
    copy_design(points, degrees)
    return degrees


def test_points_saved_in_another_crs_are_where_they_were_drawn(class_map, tmp_path):
    """QGIS' "Save Features As…" may reproject the layer: the points are compared on the map's CRS."""
    degrees = _labelled_in_degrees(class_map, tmp_path)
    design = read_design(degrees)
    assert design is not None and design.crs_wkt  # the map's CRS is recorded with the design
    area = evaluate_map(class_map, degrees).area
    assert area.sample_problem is None and area.sample_points == 20


def test_a_design_without_its_maps_crs_takes_the_grids(class_map, tmp_path):
    """A design written before it recorded the map's CRS: points saved in another CRS are compared on the CRS of the
    map they are scored on, not taken as moved off it."""
    degrees = _labelled_in_degrees(class_map, tmp_path)
    design_path = tmp_path / "check_wgs84.design.json"
    old = json.loads(design_path.read_text())
    del old["crs_wkt"]
    design_path.write_text(json.dumps(old))
    assert read_design(degrees).crs_wkt == ""
    area = evaluate_map(class_map, degrees).area
    assert area.sample_problem is None


def test_a_pixel_grid_samples_moved_points_are_found_on_its_pixel_coordinates(tmp_path):
    values = np.ones((20, 30), np.int32)
    values[10:, :] = 2
    write_class_map(tmp_path / "map.tif", values, CLASSES, transform=(0.0, 1.0, 0.0, 0.0, 0.0, -1.0), crs_wkt=None)
    points = tmp_path / "check.fgb"
    design = sample_validation(tmp_path / "map.tif", points, seed=0, per_class=5)
    assert design.crs_wkt == ""
    along = 2.0 if design.drawn[0][1] < 15 else -2.0  # two columns along its row
    _label_all_and_move(points, {1: (along, 0.0)})
    area = evaluate_map(tmp_path / "map.tif", points).area
    assert area.sample_problem is not None and area.sample_problem.startswith(
        "1 of the labelled points was moved from where it was drawn (point_id 1: 1 to another pixel)")


def test_a_sample_of_a_map_without_georeference_is_refused_on_a_grid_of_another_size(tmp_path):
    """A crop of a map without georeference starts again at pixel 0, 0: nothing places the sample's points on it, so
    the assessment refuses, saying what to assess, rather than scoring other places (it gave OA 0 % once)."""
    from hypersynth.core.evaluation.sampling import SamplingError

    values = np.ones((20, 30), np.int32)
    values[10:, :] = 2
    pixel_grid = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    write_class_map(tmp_path / "map.tif", values, CLASSES, transform=pixel_grid, crs_wkt=None)
    write_class_map(tmp_path / "crop.tif", values[5:, 4:], CLASSES, transform=pixel_grid, crs_wkt=None)
    points = tmp_path / "check.shp"
    sample_validation(tmp_path / "map.tif", points, seed=0, per_class=5)
    _label_all_and_move(points, {})
    other = values.copy()
    other[:, :3] = 1  # another map of the same pixel grid (another method's): the points are placed, not refused
    write_class_map(tmp_path / "other.tif", other, CLASSES, transform=pixel_grid, crs_wkt=None)
    assert evaluate_map(tmp_path / "other.tif", points).area.strata_map == "map.tif"
    with pytest.raises(SamplingError, match=r"check.shp was drawn on map.tif, 20 × 30 pixels without georeference, "
                                            r"and this grid has 15 × 26: .* score them on map.tif's grid"):
        evaluate_map(tmp_path / "crop.tif", points)
    assert evaluate_map(tmp_path / "map.tif", points).area.sample is not None


def test_point_ids_as_text_and_unlabelled_moved_points(class_map, tmp_path):
    """A sample passed through a spreadsheet keeps its point ids as text: read as numbers. A moved point left
    unlabelled (class 0, as the label reader reads it) unmakes nothing."""
    from osgeo import gdal, ogr

    points = tmp_path / "check.gpkg"
    design = sample_validation(class_map, points, seed=0, per_class=10)
    as_text = tmp_path / "check_text.gpkg"
    gdal.VectorTranslate(str(as_text), str(points), SQLStatement="SELECT CAST(point_id AS TEXT) AS point_id, class_id, "
                         "geom FROM labels", layerName="labels")
    copy_design(points, as_text)
    ds = ogr.Open(str(as_text))
    definition = ds.GetLayer(0).GetLayerDefn()
    assert definition.GetFieldDefn(definition.GetFieldIndex("point_id")).GetType() == ogr.OFTString
    ds = None
    east = 90.0 if design.drawn[1][1] < 20 else -90.0
    _label_all_and_move(as_text, {2: (east, 0.0)})
    assert evaluate_map(class_map, as_text).area.sample_problem.startswith(
        "1 of the labelled points was moved from where it was drawn (point_id 2: 1 to another pixel)")
    ds = ogr.Open(str(as_text), 1)
    layer = ds.GetLayer(0)
    for feature in layer:
        if feature.GetField("point_id") == "2":
            feature.SetField("class_id", 0)
            layer.SetFeature(feature)
    ds = None
    assert evaluate_map(class_map, as_text).area.sample_problem is None


def test_a_copy_pasted_point_is_an_added_label_not_a_moved_one(class_map, tmp_path):
    from osgeo import ogr

    points = tmp_path / "check.gpkg"
    design = sample_validation(class_map, points, seed=0, per_class=10)
    _label_all_and_move(points, {})
    ds = ogr.Open(str(points), 1)
    layer = ds.GetLayer(0)
    first = layer.GetNextFeature()
    copy = ogr.Feature(layer.GetLayerDefn())
    copy.SetFrom(first)  # point_id 1 and its class, beside the original
    moved = ogr.Geometry(ogr.wkbPoint)
    east = 90.0 if design.drawn[0][1] < 20 else -90.0
    moved.AddPoint_2D(first.GetGeometryRef().GetX() + east, first.GetGeometryRef().GetY())
    copy.SetGeometry(moved)
    assert layer.CreateFeature(copy) == 0
    ds = None
    problem = evaluate_map(class_map, points).area.sample_problem
    assert problem is not None and "labels added to the sample" in problem and "moved" not in problem


def test_points_given_a_wrong_crs_are_refused_by_the_label_reader(class_map, tmp_path):
    """UTM coordinates declared as degrees cannot be placed on the map: the label reader's message, not a failure
    of the moved-points check."""
    from osgeo import gdal

    from hypersynth.core.io.labels import LabelReadError

    points = tmp_path / "check.gpkg"
    sample_validation(class_map, points, seed=0, per_class=10)
    _label_all_and_move(points, {})
    wrong = tmp_path / "check_wrong.gpkg"
    gdal.VectorTranslate(str(wrong), str(points), srcSRS="EPSG:4326", dstSRS="EPSG:4326")  # assigned, not reprojected
    copy_design(points, wrong)
    with pytest.raises(LabelReadError, match="cannot reproject"):
        evaluate_map(class_map, wrong)


def test_points_renamed_with_their_design_are_told_how_to_be_the_sample_again(class_map, tmp_path, caplog):
    """Points and design copied under another name (the design still naming the first file) are scored as any labels,
    and the warning says which line of the design to change; changed, they are the sample again."""
    import shutil

    points = tmp_path / "check.gpkg"
    sample_validation(class_map, points, seed=0, per_class=10)
    _label_all_and_move(points, {})
    shutil.copy(points, tmp_path / "check_l.gpkg")
    shutil.copy(tmp_path / "check.design.json", tmp_path / "check_l.design.json")
    caplog.clear()
    assert evaluate_map(class_map, tmp_path / "check_l.gpkg").area.sample is None
    assert ('check_l.design.json describes check.gpkg, not check_l.gpkg: check_l.gpkg is assessed as any validation '
            'labels, not as the sample; if it is check.gpkg renamed, write "points_file": "check_l.gpkg" in '
            'check_l.design.json') in caplog.text
    assert [r.levelname for r in caplog.records if "describes check.gpkg" in r.getMessage()] == ["WARNING"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hypersynth"):
        assert read_design(tmp_path / "check_l.gpkg") is None  # not about to be scored (a copy, a clean-up): quieter
    assert [r.levelname for r in caplog.records if "describes check.gpkg" in r.getMessage()] == ["INFO"]
    design = json.loads((tmp_path / "check_l.design.json").read_text())
    design["points_file"] = "check_l.gpkg"
    (tmp_path / "check_l.design.json").write_text(json.dumps(design))
    assert evaluate_map(class_map, tmp_path / "check_l.gpkg").area.sample is not None


def test_a_run_names_a_copied_sample_as_the_analyst_knows_it(tmp_path):
    """The dock and Processing hand a run a copy of a layer being edited: a refusal of the sample names the layer,
    not the copy's scratch file."""
    from hypersynth.core.evaluation.sampling import SamplingError
    from hypersynth.core.pipeline import classify_scene
    from tests.demo_files import write_demo_files

    scene, labels, _, classes = write_demo_files(tmp_path, size=32, bands=12)
    first = classify_scene(scene, labels, tmp_path / "first", classes_path=classes, method="rf", seed=0)
    copy = tmp_path / ".hypersynth-labels-x1.fgb"
    sample_validation(first.class_map, copy, seed=0, per_class=5)  # nothing labelled yet
    with pytest.raises(SamplingError, match=r"^the layer 'check' \(check.gpkg\): none of its 15 validation points"):
        classify_scene(scene, labels, tmp_path / "second", classes_path=classes, method="rf", seed=0,
                       validation_path=copy, validation_name="the layer 'check' (check.gpkg)")
    from hypersynth.core.pipeline import classify_with_model

    with pytest.raises(SamplingError, match=r"^the layer 'check' \(check.gpkg\): none of its 15 validation points"):
        classify_with_model(first.classifier, scene, tmp_path / "third", validation_path=copy,
                            validation_name="the layer 'check' (check.gpkg)")
    _label_all_and_move(copy, {})
    again = classify_with_model(first.classifier, scene, tmp_path / "fourth", validation_path=copy,
                                validation_name="the layer 'check' (check.gpkg)")
    assert "- Validation labels: the layer 'check' (check.gpkg) as it stood in QGIS" in again.report.read_text()


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
    assert metrics["validation_pixels_on_no_data"] == 3 and metrics["validation_pixels_unclassified"] == 0
    assert metrics["area_adjusted"]["validation_sample_problem"] == (  # fewer pixels of data: not the sampled map's
        "classification.tif, which they were drawn from, classifies 1,024 pixels and this map 1,021, so its classes, "
        "the strata, do not cover this map")
    report = (tmp_path / "second" / "report.md").read_text()
    assert "3 validation pixels lie on the scene's no-data pixels: nothing is classified there" in report
    assert "leaves unclassified" not in report  # no omission-error OA for pixels without a spectrum
