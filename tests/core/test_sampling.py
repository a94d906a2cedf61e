"""Stratified random validation samples of a class map: sizes, the draw, the files, and what `assess` makes of them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hypersynth.core.cli import main as cli_main
from hypersynth.core.evaluation.assess import evaluate_map
from hypersynth.core.evaluation.sampling import (SamplingError, allocate, design_file, draw_points, expected_error,
                                                 read_design, sample_size, sample_validation)
from hypersynth.core.io.write import write_class_map
from hypersynth.core.outputs import OutputExistsError
from hypersynth.core.progress import Cancelled, Reporter
from hypersynth.core.scene import ClassInfo

CLASSES = [ClassInfo(1, "water", (0, 0, 255)), ClassInfo(2, "crop", (0, 200, 0)), ClassInfo(3, "road", (90, 90, 90))]
TRANSFORM = (500000.0, 30.0, 0.0, 5800000.0, 0.0, -30.0)  # 30 m pixels


def _map() -> np.ndarray:
    class_map = np.ones((120, 80), np.int32)  # water 120 × 80 less the rest
    class_map[60:110, :60] = 2  # crop: 3000 pixels
    class_map[110:, :4] = 3  # road: 40 pixels, fewer than 50
    class_map[:5, :5] = 0  # unclassified: never drawn
    return class_map


@pytest.fixture
def class_map(tmp_path) -> Path:
    from rasterio.crs import CRS

    write_class_map(tmp_path / "map.tif", _map(), CLASSES, transform=TRANSFORM, crs_wkt=CRS.from_epsg(32633).to_wkt())
    return tmp_path / "map.tif"


def _points(path: Path) -> tuple[np.ndarray, np.ndarray, list]:
    """``(rows, cols)`` of the points on TRANSFORM's grid, and their class_id values."""
    from osgeo import ogr

    ds = ogr.Open(str(path))
    layer = ds.GetLayer(0)
    rows, cols, ids = [], [], []
    for feature in layer:
        point = feature.GetGeometryRef()
        cols.append(int((point.GetX() - TRANSFORM[0]) // TRANSFORM[1]))
        rows.append(int((TRANSFORM[3] - point.GetY()) // -TRANSFORM[5]))
        ids.append(feature.GetField("class_id"))
    return np.array(rows), np.array(cols), ids


def _label(path: Path, truth: np.ndarray, every: int = 1) -> int:
    """Fill each ``every``-th point's class_id from ``truth``; the number labelled."""
    from osgeo import ogr

    ds = ogr.Open(str(path), 1)
    layer = ds.GetLayer(0)
    labelled = 0
    for k, feature in enumerate(layer):
        if k % every:
            continue
        point = feature.GetGeometryRef()
        col = int((point.GetX() - TRANSFORM[0]) // TRANSFORM[1])
        row = int((TRANSFORM[3] - point.GetY()) // -TRANSFORM[5])
        feature.SetField("class_id", int(truth[row, col]))
        layer.SetFeature(feature)
        labelled += 1
    ds = None
    return labelled


def test_sample_size_reproduces_olofsson_et_al_2014s_example():
    """Their section 5.1: W = 0.02, 0.015, 0.32, 0.645, expected U = 0.7, 0.6, 0.9, 0.95, S(O) = 0.01: n ≈ 641."""
    pixels = {1: 200, 2: 150, 3: 3200, 4: 6450}
    assert sample_size(pixels, {1: 0.7, 2: 0.6, 3: 0.9, 4: 0.95}, 0.01) == 641
    assert sample_size(pixels, 0.8, 0.02) == 400  # one U for all: (0.4 / 0.02)²
    with pytest.raises(SamplingError, match="fraction between 0 and 1"):
        sample_size(pixels, 1.0, 0.01)
    # shared by area with 50 a class (50/50/179/362) the 641 give 0.0105, not 0.01 (review); Olofsson's own
    # allocation, 75/75/165/325, gives 0.0109 (their eq. 13 sizes the total for the best allocation)
    expected = {1: 0.7, 2: 0.6, 3: 0.9, 4: 0.95}
    sizes, _ = allocate(pixels, total=641, min_per_class=50)
    assert sizes == {1: 50, 2: 50, 3: 179, 4: 362}
    assert expected_error(pixels, sizes, expected) == pytest.approx(0.01046, abs=5e-6)
    assert expected_error(pixels, {1: 75, 2: 75, 3: 165, 4: 325}, expected) == pytest.approx(0.01091, abs=5e-6)


def test_allocation_equal_and_by_area_with_a_minimum():
    pixels = {1: 90_000, 2: 9_000, 3: 1_000}
    assert allocate(pixels, per_class=50) == ({1: 50, 2: 50, 3: 50}, [])
    sizes, notes = allocate(pixels, total=400, min_per_class=50)
    assert sizes == {1: 300, 2: 50, 3: 50} and notes == []  # 9 % of 400 is 36 < 50: crop and road get the minimum
    sizes, _ = allocate(pixels, total=1000, min_per_class=50)
    assert sizes == {1: 864, 2: 86, 3: 50}  # road's 10 raised to 50; 950 by area: 863.6 and 86.4, rounded to add up
    sizes, notes = allocate({1: 500, 2: 20}, per_class=50)
    assert sizes == {1: 50, 2: 20} and notes == ["map class 2 has only 20 pixels: all of them are drawn"]
    with pytest.raises(SamplingError, match="give a total of at least 150 or a lower minimum per class"):
        allocate(pixels, total=100, min_per_class=50)
    with pytest.raises(SamplingError, match="no classified pixel"):
        allocate({1: 0}, per_class=5)


def test_fewer_points_a_class_than_olofsson_advise_is_said():
    """Review: 5 points a class went by without a word, and a class whose 5 points agreed read ± 0.0."""
    sizes, notes = allocate({1: 90_000, 2: 9_000, 3: 1_000}, per_class=5)
    assert sizes == {1: 5, 2: 5, 3: 5}
    assert notes == ["map classes 1, 2, 3 get fewer than the 50 points a class Olofsson et al. 2014 advise (the "
                     "fewest: 5): their intervals will be wide, or read ± 0 where all their points agree, which is "
                     "no certainty; draw at least 50 points a class for a tighter estimate"]
    _, notes = allocate({1: 90_000, 2: 9_000, 3: 1_000}, total=400, min_per_class=20)
    assert notes[-1].startswith("map classes 2, 3 get fewer than the 50 points") and "(the fewest: 20)" in notes[-1]
    _, notes = allocate({1: 500, 2: 20}, per_class=50)  # all of a small class's pixels: nothing more to draw
    assert len(notes) == 1


def test_the_draw_is_uniform_within_each_class_and_does_not_depend_on_the_strips():
    class_map = _map()

    def strips(height: int):
        for start in range(0, class_map.shape[0], height):
            yield slice(start, min(start + height, class_map.shape[0])), class_map[start:start + height]

    pixels = {c: int((class_map == c).sum()) for c in (1, 2, 3)}
    sizes = {1: 30, 2: 20, 3: 40}
    rows, cols, ids = draw_points(strips(7), pixels, sizes, seed=3, height=120)
    assert np.array_equal(class_map[rows, cols], ids)  # every point lies on its stratum
    assert {c: int((ids == c).sum()) for c in (1, 2, 3)} == sizes
    assert len(set(zip(rows.tolist(), cols.tolist()))) == 90  # without replacement
    again = draw_points(strips(120), pixels, sizes, seed=3, height=120)  # one strip: the same pixels, same order
    assert all(np.array_equal(a, b) for a, b in zip((rows, cols, ids), again))
    other = draw_points(strips(7), pixels, sizes, seed=4, height=120)
    assert not np.array_equal(rows, other[0])
    # uniform: over many seeds every crop pixel is drawn about equally often (20 of 3000 each time)
    hits = np.zeros(class_map.shape, int)
    for seed in range(300):
        r, c, _ = draw_points(strips(13), pixels, {2: 20}, seed=seed, height=120)
        hits[r, c] += 1
    crop = hits[class_map == 2]
    assert crop.sum() == 6000 and abs(crop[:1500].mean() - crop[1500:].mean()) < 0.25  # top and bottom half alike


def test_the_points_and_their_design_are_written_for_the_analyst_to_label(class_map, tmp_path):
    design = sample_validation(class_map, tmp_path / "check.gpkg", seed=0)
    assert design.sample_sizes == {1: 50, 2: 50, 3: 40} and design.allocation == "equal"
    assert design.class_pixels == {1: 120 * 80 - 3000 - 40 - 25, 2: 3000, 3: 40}
    assert design.notes == ["map class 3 has only 40 pixels: all of them are drawn"]
    rows, cols, ids = _points(tmp_path / "check.gpkg")
    assert len(rows) == 140 and ids == [None] * 140  # the class is the analyst's to fill in
    drawn = _map()[rows, cols]
    assert {c: int((drawn == c).sum()) for c in (1, 2, 3)} == {1: 50, 2: 50, 3: 40}
    assert drawn[:10].tolist() != sorted(drawn[:10].tolist())  # in random order, not class by class
    recorded = json.loads(design_file(tmp_path / "check.gpkg").read_text())
    assert recorded["map_name"] == "map.tif" and recorded["sample_sizes"] == {"1": 50, "2": 50, "3": 40}
    assert read_design(tmp_path / "check.gpkg") == design
    assert design.class_names == {1: "water", 2: "crop", 3: "road"}
    assert "stratified random sample of map.tif: 140 points over 3 map classes" in design.describe()


def test_refusals_write_nothing_and_keep_what_was_there(class_map, tmp_path):
    target = tmp_path / "check.gpkg"
    sample_validation(class_map, target, seed=0, per_class=5)
    before = target.read_bytes()
    with pytest.raises(OutputExistsError):
        sample_validation(class_map, target, seed=1, per_class=5)
    assert target.read_bytes() == before
    with pytest.raises(SamplingError, match="GeoPackage"):
        sample_validation(class_map, tmp_path / "check.csv", seed=0)
    with pytest.raises(SamplingError, match="give one of"):
        sample_validation(class_map, tmp_path / "other.gpkg", seed=0, per_class=5, total=100)
    with pytest.raises(SamplingError, match="give a total of at least 150"):
        sample_validation(class_map, tmp_path / "other.gpkg", seed=0, total=100)

    class Stop(Reporter):
        def is_cancelled(self) -> bool:
            return True

    with pytest.raises(Cancelled):
        sample_validation(class_map, tmp_path / "other.gpkg", seed=0, reporter=Stop())
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("map")) == [
        "check.design.json", "check.gpkg"]
    replaced = sample_validation(class_map, target, seed=1, per_class=5, overwrite=True)
    assert replaced.seed == 1 and read_design(target).seed == 1


def test_a_map_without_georeference_is_sampled_on_its_pixel_grid(tmp_path):
    write_class_map(tmp_path / "grid.tif", _map(), CLASSES, transform=(0.0, 1.0, 0.0, 0.0, 0.0, -1.0), crs_wkt=None)
    with pytest.raises(SamplingError, match="the map has no georeference.*check.shp or check.fgb"):
        sample_validation(tmp_path / "grid.tif", tmp_path / "check.gpkg", seed=0)
    sample_validation(tmp_path / "grid.tif", tmp_path / "check.fgb", seed=0, per_class=10)
    from osgeo import ogr

    ds = ogr.Open(str(tmp_path / "check.fgb"))  # held: a layer outliving its data source crashes GDAL
    for feature in ds.GetLayer(0):  # x = column, y = −row: pixel centres
        point = feature.GetGeometryRef()
        assert _map()[int(-point.GetY()), int(point.GetX())] > 0


def test_assess_says_the_figures_hold_for_a_labelled_sample_of_this_map(class_map, tmp_path, caplog):
    truth = _map()
    truth[60:70, :60] = 1  # the map calls 600 water pixels crop
    points = tmp_path / "check.gpkg"
    sample_validation(class_map, points, seed=0)
    with pytest.raises(ValueError, match="none of its 140 validation points has a class yet"):
        evaluate_map(class_map, points)
    _label(points, truth, every=2)  # half labelled
    area = evaluate_map(class_map, points).area
    assert area.sample is not None and area.sample_problem is None and area.sample_points == 140
    text = area.to_markdown()
    assert "the validation points are a stratified random sample of this map" in text.splitlines()[0]
    assert "a random sample, so these figures hold. 70 of its 140 points are labelled and scored" in text
    assert area.to_dict()["validation_sample"].startswith("a stratified random sample of map.tif")
    assert "Olofsson et al. 2014, the map classes as strata" in text.splitlines()[0]


def test_the_area_adjusted_oa_leads_where_the_sample_holds(class_map, tmp_path, capsys):
    """A stratified sample gives small classes as many points as large ones, so the points' own OA is no estimate
    of the map's: the report and the command's output lead with the area-adjusted OA."""
    truth = _map()
    truth[60:70, :60] = 1
    points = tmp_path / "check.gpkg"
    sample_validation(class_map, points, seed=0)
    _label(points, truth)
    ev = evaluate_map(class_map, points)
    first = ev.to_markdown().splitlines()[0]
    assert first.startswith(f"Area-adjusted OA {ev.area.oa * 100:.2f} ± {ev.area.oa_ci * 100:.2f} % (± the 95 % "
                            "confidence interval; the validation points are a stratified random sample, Olofsson et "
                            "al. 2014). The points' own OA, AA, κ, F1 and producer's accuracies, below, are not "
                            "estimates "
                            f"of the map's (they over-represent small classes): OA {ev.oa * 100:.2f} %")
    text = ev.to_markdown()  # the area section splits the leading OA's error without repeating the OA
    assert text.count("Area-adjusted OA") == 1
    assert (f"\nOf the {(1 - ev.area.oa) * 100:.2f} % of the map mapped wrong by the area-adjusted OA above, "
            f"{ev.area.quantity_disagreement * 100:.2f} points are quantity and") in text
    assert "of validation pixels mapped wrong" not in text  # the points' own split is by design, not the map's
    assert ev.to_dict()["sample_counts_not_estimates"] is True
    assert cli_main(["assess", "--map", str(class_map), "--validation", str(points)]) == 0
    assert capsys.readouterr().out.startswith(first)
    brushed = evaluate_map(class_map, tmp_path / "map.tif")  # no sample: the counts lead, as before
    assert brushed.to_markdown().startswith("OA 100.00 %") and "sample_counts_not_estimates" not in brushed.to_dict()
    assert "\nArea-adjusted OA 100.00 ± 0.00 % (± the 95 % confidence interval; an indication only" in \
        brushed.to_markdown()  # and the area section gives the OA it does not lead with


def test_one_sample_assesses_another_map_of_the_grid_with_the_sampled_maps_strata(class_map, tmp_path, caplog):
    """Points drawn from map.tif assess other.tif (another classifier's map of the same grid) with Stehman's (2014)
    estimators, map.tif's classes the strata; on a grid of another size, or with labels added to the points, the
    figures are the map's own and are said to only indicate."""
    from rasterio.crs import CRS

    truth = _map()
    points = tmp_path / "check.gpkg"
    sample_validation(class_map, points, seed=0, per_class=40)
    _label(points, truth)
    other = _map()
    stripe = other[:30]  # a view
    stripe[stripe > 0] = 2  # another map: calls 2375 water pixels crop, classifying the same pixels
    crs = CRS.from_epsg(32633).to_wkt()
    write_class_map(tmp_path / "other.tif", other, CLASSES, transform=TRANSFORM, crs_wkt=crs)
    area = evaluate_map(tmp_path / "other.tif", points).area
    assert area.sample is not None and area.strata_map == "map.tif" and area.sample_problem is None
    first = area.to_markdown().splitlines()[0]
    assert "a stratified random sample of map.tif; Stehman 2014, map.tif's classes as strata" in first
    assert area.to_dict()["method"] == "Stehman 2014, strata = the classes of map.tif"
    wrong = int(((other != truth) & (truth > 0)).sum())  # the true OA of other.tif over map.tif's classified pixels
    true_oa = 1 - wrong / int((truth > 0).sum())
    assert abs(area.oa - true_oa) <= area.oa_ci and area.oa < 0.9  # water's 40 points see the stripe
    # a map of another size: the points are no sample of it
    write_class_map(tmp_path / "small.tif", other[:100], CLASSES, transform=TRANSFORM, crs_wkt=crs)
    caplog.clear()
    small = evaluate_map(tmp_path / "small.tif", points).area
    assert small.sample is None and "drawn from a map of 120 × 80 pixels (map.tif)" in small.sample_problem
    assert "only indicate" in small.to_markdown() and "only indicate" in caplog.text
    # a label added beside the points: no longer the sample
    from osgeo import ogr

    ds = ogr.Open(str(points), 1)
    layer = ds.GetLayer(0)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetField("class_id", 1)
    feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({TRANSFORM[0] + 70 * 30 + 15} {TRANSFORM[3] - 15})"))
    assert not any(r == 0 and c == 70 for r, c, _ in read_design(points).drawn)  # seed 0: not a point
    layer.CreateFeature(feature)
    ds = None
    added = evaluate_map(class_map, points).area
    assert added.sample is None and "also labels 1 pixel that is none of its points" in added.sample_problem


def test_the_command_draws_and_tells_what_to_do_next(class_map, tmp_path, capsys):
    out = tmp_path / "check.gpkg"
    assert cli_main(["sample-validation", "--map", str(class_map), "--out", str(out), "--total", "300",
                     "--min-per-class", "30", "--seed", "2", "--quiet"]) == 0
    printed = capsys.readouterr()
    assert "drew a stratified random sample of map.tif: 300 points" in printed.out
    assert f"hypersynth assess --map {class_map} --validation {out}" in printed.out
    # road's 1.25 by area raised to 30; the other 270 by area: 185.05 and 84.95
    assert read_design(out).sample_sizes == {1: 185, 2: 85, 3: 30}
    assert cli_main(["sample-validation", "--map", str(class_map), "--out", str(out), "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert cli_main(["sample-validation", "--map", str(class_map), "--out", str(tmp_path / "t.gpkg"),
                     "--target-error", "0.02", "--expected-accuracy", "1:0.9,2:0.7", "--quiet"]) == 0
    assert cli_main(["sample-validation", "--map", str(class_map), "--out", str(tmp_path / "u.gpkg"),
                     "--expected-accuracy", "1.5"]) == 2
    assert "expected a fraction between 0 and 1" in capsys.readouterr().err
    assert cli_main(["sample-validation", "--map", str(class_map), "--out", str(tmp_path / "j.gpkg"), "--json",
                     "--per-class", "5", "--quiet"]) == 0
    facts = json.loads(capsys.readouterr().out)  # one strict JSON object, for scripts
    assert facts["points"] == str(tmp_path / "j.gpkg") and facts["design"] == str(tmp_path / "j.design.json")
    assert facts["sample_sizes"] == {"1": 5, "2": 5, "3": 5} and facts["allocation"] == "equal"


def test_a_run_scored_on_a_sample_of_an_earlier_map_of_the_scene_gives_the_samples_estimates(tmp_path, capsys):
    """The analyst draws and labels a sample on a first run's map, then runs again (another method) with the points
    as validation labels: the run's report estimates with the first map's classes as strata (Stehman 2014)."""
    import rasterio

    from hypersynth.core.pipeline import classify_scene
    from tests.demo_files import write_demo_files

    scene, labels, truth_file, classes = write_demo_files(tmp_path, size=32, bands=12)
    first = classify_scene(scene, labels, tmp_path / "first", classes_path=classes, method="rf", seed=0)
    points = tmp_path / "check.gpkg"
    design = sample_validation(first.class_map, points, seed=0, per_class=150)  # most of each class: some on labels
    with rasterio.open(truth_file) as src:
        truth, transform = src.read(1), src.transform
    from osgeo import ogr

    ds = ogr.Open(str(points), 1)
    layer = ds.GetLayer(0)
    for feature in layer:
        point = feature.GetGeometryRef()
        row, col = rasterio.transform.rowcol(transform, point.GetX(), point.GetY())
        feature.SetField("class_id", int(truth[row, col]))
        layer.SetFeature(feature)
    ds = None
    classify_scene(scene, labels, tmp_path / "second", classes_path=classes, method="svm", seed=0,
                   validation_path=points)
    area = json.loads((tmp_path / "second" / "metrics.json").read_text())["area_adjusted"]
    with rasterio.open(first.class_map) as a, rasterio.open(tmp_path / "second" / "classification.tif") as b:
        assert (a.read(1) != b.read(1)).any()  # another map: its classes are not the strata
    first_map = str(Path(first.class_map).resolve())  # both maps are classification.tif: the sampled one by its path
    assert area["method"] == f"Stehman 2014, strata = the classes of {first_map}"
    assert area["validation_sample"].startswith(f"a stratified random sample of {first_map}: ")
    assert area["validation_sample_problem"] is None
    report = (tmp_path / "second" / "report.md").read_text()
    assert "a random sample, so these figures hold" in report
    assert "## Accuracy against the validation labels\n\nArea-adjusted OA " in report  # the estimate leads
    with rasterio.open(labels) as src:  # the run's training labels: points on them are left out and said apart
        on_training = sum(int(src.read(1)[r, c] > 0) for r, c, _ in design.drawn)
    assert on_training > 0 and area["sample_points_left_out_as_training"] == on_training
    capsys.readouterr()
    assert cli_main(["classify", "--classifier", str(tmp_path / "first" / "classifier_bundle"), "--scene", str(scene),
                     "--validation", str(points), "--out", str(tmp_path / "third")]) == 0
    lines = capsys.readouterr().out.splitlines()  # the estimate of the map first; the points' own line as it was
    assert lines[-2].startswith("area-adjusted:  OA ") and "stratified random sample" in lines[-2]
    assert lines[-1].startswith("accuracy:       OA ")


def test_a_stratum_without_labelled_points_is_named_and_left_out_of_what_the_figures_cover(class_map, tmp_path):
    """Another map assessed with a sample whose road points are all unlabelled: the estimates cover water and crop,
    whose share of map.tif's pixels is said, and road is named as the stratum to label (review of session 42)."""
    from rasterio.crs import CRS

    truth = _map()
    points = tmp_path / "check.gpkg"
    sample_validation(class_map, points, seed=0, per_class=40)
    _label(points, truth)
    from osgeo import ogr

    ds = ogr.Open(str(points), 1)
    layer = ds.GetLayer(0)
    for feature in layer:
        if feature.GetField("class_id") == 3:
            feature.SetFieldNull("class_id")
            layer.SetFeature(feature)
    ds = None
    other = _map()
    other[60:62, :60] = 1
    write_class_map(tmp_path / "other.tif", other, CLASSES, transform=TRANSFORM,
                    crs_wkt=CRS.from_epsg(32633).to_wkt())
    area = evaluate_map(tmp_path / "other.tif", points).area
    assert area.strata_map == "map.tif" and area.unsampled_strata == ["road"]
    assert area.covered_share == pytest.approx((9575 - 40) / 9575)
    text = area.to_markdown()
    assert "over the strata with validation points, 99.6 % of map.tif's classified area: its road has none" in text
    assert "estimated area within the sampled map classes" in text  # the areas add up to the strata covered
    assert area.to_dict()["unsampled_strata"] == ["road"]
    assert "No labelled validation point lies in map.tif's road" in text and "strata with labelled points only" in text


def test_another_map_with_the_same_class_counts_is_still_another_map(class_map, tmp_path):
    """Two pixels swapped between water and crop leave every class's count as it was: the points' strata, not the
    counts alone, tell the maps apart (review of session 42)."""
    from rasterio.crs import CRS

    points = tmp_path / "check.gpkg"
    design = sample_validation(class_map, points, seed=0, per_class=40)
    _label(points, _map())
    (r1, c1, _), (r2, c2, _) = next(p for p in design.drawn if p[2] == 1), next(p for p in design.drawn if p[2] == 2)
    swapped = _map()
    swapped[r1, c1], swapped[r2, c2] = 2, 1
    write_class_map(tmp_path / "swapped.tif", swapped, CLASSES, transform=TRANSFORM,
                    crs_wkt=CRS.from_epsg(32633).to_wkt())
    area = evaluate_map(tmp_path / "swapped.tif", points).area
    assert area.strata_map == "map.tif" and area.sample_problem is None


def test_the_design_belongs_to_its_own_point_file(class_map, tmp_path):
    """A raster or another point file of the same name is no sample; draw-labels replacing a sample's points removes
    its design; labels read from another field of a sample are not refused as unlabelled (review of session 42)."""
    from hypersynth.core.io.write import write_label_raster

    points = tmp_path / "check.gpkg"
    sample_validation(class_map, points, seed=0, per_class=10)
    write_label_raster(tmp_path / "check.tif", _map(), CLASSES, transform=TRANSFORM, crs_wkt="EPSG:32633")
    assert read_design(tmp_path / "check.tif") is None and read_design(tmp_path / "check.shp") is None
    area = evaluate_map(class_map, tmp_path / "check.tif").area
    assert area.sample is None and area.sample_problem is None  # any validation labels
    from osgeo import ogr

    ds = ogr.Open(str(points), 1)
    layer = ds.GetLayer(0)
    layer.CreateField(ogr.FieldDefn("truth", ogr.OFTInteger))
    for feature in layer:
        feature.SetField("truth", 1)
        layer.SetFeature(feature)
    ds = None
    assert evaluate_map(class_map, points, class_field="truth").n_test > 0  # no "none has a class yet"
    design_file(points).write_text('{"class_pixels": []}')
    assert read_design(points) is None  # a broken design: said, and the points are any labels


def test_draw_labels_replacing_a_sample_removes_its_design(class_map, tmp_path):
    from hypersynth.core.label_draw import draw_labels, write_draw
    from hypersynth.core.scene import Scene

    points = tmp_path / "check.gpkg"
    sample_validation(class_map, points, seed=0, per_class=10)
    grid = Scene(cube=np.zeros((1, 120, 80), np.float32), valid=np.ones((120, 80), bool), transform=TRANSFORM,
                 crs_wkt="EPSG:32633", name="grid")
    draw = draw_labels(_map(), np.ones((120, 80), bool), CLASSES, labels_per_class=2, seed=0)
    write_draw(draw, grid, points, overwrite=True)
    assert not design_file(points).exists()


def test_a_target_error_smaller_than_the_minimum_asks_and_one_too_fine_is_refused_in_its_terms(class_map, tmp_path):
    design = sample_validation(class_map, tmp_path / "a.gpkg", seed=0, target_error=0.1, min_per_class=20)
    assert design.points == 60 and design.notes[0].startswith("a standard error of 0.1 needs 16 points; the total is "
                                                              "raised to 60")
    assert design.notes[1].startswith("with the points shared this way and the user's accuracies as expected, the "
                                      "overall accuracy's standard error is about 0.")
    partly = sample_validation(class_map, tmp_path / "p.gpkg", seed=0, target_error=0.05, min_per_class=20,
                               expected_accuracy={1: 0.9})
    assert "map classes 2, 3 are taken to be 0.8 right, not being in the expected accuracies" in partly.notes[1]
    with pytest.raises(SamplingError, match=r"a standard error of 0.001 needs 160,000 points, more than the 100,000"):
        sample_validation(class_map, tmp_path / "b.gpkg", seed=0, target_error=0.001)
    with pytest.raises(SamplingError, match="the minimum per class must be at least 2"):
        sample_validation(class_map, tmp_path / "c.gpkg", seed=0, total=100, min_per_class=1)


def test_a_flatgeobuf_keeps_the_points_in_the_order_drawn(class_map, tmp_path):
    """GDAL's spatial index would sort the features along a curve: the order to label in would follow the map."""
    from osgeo import ogr

    sample_validation(class_map, tmp_path / "check.fgb", seed=0, per_class=10)
    ds = ogr.Open(str(tmp_path / "check.fgb"))
    assert [f.GetField("point_id") for f in ds.GetLayer(0)] == list(range(1, 31))


def test_points_on_training_pixels_are_counted_apart_from_the_unlabelled(class_map, tmp_path):
    from hypersynth.core.io.write import write_label_raster

    points = tmp_path / "check.gpkg"
    design = sample_validation(class_map, points, seed=0, per_class=10)
    _label(points, _map())
    training = np.zeros((120, 80), np.int32)
    for r, c, h in design.drawn[:3]:
        training[r, c] = h
    write_label_raster(tmp_path / "training.tif", training, CLASSES, transform=TRANSFORM, crs_wkt="EPSG:32633")
    area = evaluate_map(class_map, points, exclude_path=tmp_path / "training.tif").area
    assert area.sample_left_out == 3 and int(area.samples.sum()) == 27
    text = area.to_markdown()
    assert "3 labelled points lie on pixels the classifier learnt from" in text and "not labelled" not in text
    assert area.to_dict()["sample_points_left_out_as_training"] == 3
