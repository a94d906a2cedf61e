"""`hypersynth assess`: any classified map against validation labels, printed and optionally written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hypersynth.core.cli import main as cli_main
from hypersynth.core.io.write import write_class_map, write_label_raster
from hypersynth.core.scene import ClassInfo

CLASSES = [ClassInfo(1, "water", (0, 0, 255)), ClassInfo(2, "meadow", (0, 200, 0))]
TRANSFORM = (500000.0, 30.0, 0.0, 5800000.0, 0.0, -30.0)  # 30 m pixels: 0.09 ha each


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    from rasterio.crs import CRS

    crs = CRS.from_epsg(32633).to_wkt()
    class_map = np.ones((10, 10), np.int32)
    class_map[:, 6:] = 2  # 60 water pixels, 40 meadow
    validation = np.zeros((10, 10), np.int32)
    validation[0, :4] = 1  # 4 water points on water
    validation[1, 6:9] = 2  # 3 meadow points on meadow
    validation[2, 7] = 1  # 1 water point the map calls meadow
    write_class_map(tmp_path / "map.tif", class_map, CLASSES, transform=TRANSFORM, crs_wkt=crs)
    write_label_raster(tmp_path / "validation.tif", validation, CLASSES, transform=TRANSFORM, crs_wkt=crs)
    return {"map": tmp_path / "map.tif", "validation": tmp_path / "validation.tif"}


def test_assess_prints_the_tables_and_writes_them_on_request(files, tmp_path, capsys):
    out = tmp_path / "accuracy"
    assert cli_main(["assess", "--map", str(files["map"]), "--validation", str(files["validation"]),
                     "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("OA 87.50 %, AA 90.00 %")  # 7 of 8; water 4/5, meadow 3/3
    assert "| 1 | water | 5 | 4 | 80.00 | 100.00 | 88.89 |" in printed  # names from the map's own table
    # area-adjusted: meadow's map holds 1 water in 4 points, so 40 × 1/4 = 10 of its pixels are water
    assert "| 1 | water | 5.4 | 6.3 ±" in printed and "| 2 | meadow | 3.6 | 2.7 ±" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["area_adjusted"]["classes"][0]["estimated_area"] == pytest.approx(70 * 0.09)
    assert sorted(p.name for p in out.iterdir()) == ["accuracy.md", "confusion.png", "metrics.json"]
    document = (out / "accuracy.md").read_text()  # the printed figures under what was assessed, and when
    assert document.startswith(f"# Accuracy of map.tif\n\n- Class map: {files['map'].resolve()}\n- Validation labels: ")
    assert printed.split("\nwritten: ")[0] in document and document.endswith("![confusion matrix](confusion.png)\n")


def test_validation_pixels_on_unclassified_map_pixels_are_counted_and_said(files, tmp_path, capsys):
    """Another tool's map with gaps: validation pixels on its unclassified pixels are not scored (as before), but
    they are counted, and what OA would be with them as omissions is said; the pixels --exclude removes are counted."""
    from rasterio.crs import CRS

    class_map = np.ones((10, 10), np.int32)
    class_map[:, 6:] = 2
    class_map[0, :2] = 0  # two of water's validation points fall on a gap
    write_class_map(tmp_path / "gaps.tif", class_map, CLASSES, transform=TRANSFORM,
                    crs_wkt=CRS.from_epsg(32633).to_wkt())
    training = np.zeros((10, 10), np.int32)
    training[1, 6] = 2
    write_label_raster(tmp_path / "training.tif", training, CLASSES[1:], transform=TRANSFORM,
                       crs_wkt=CRS.from_epsg(32633).to_wkt())
    out = tmp_path / "accuracy"
    assert cli_main(["assess", "--map", str(tmp_path / "gaps.tif"), "--validation", str(files["validation"]),
                     "--exclude", str(tmp_path / "training.tif"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("OA 80.00 %") and "(5 validation pixels, 2 classes)" in printed  # 4 of 5 right
    assert ("2 validation pixels lie on pixels the map leaves unclassified (0 or no data): not scored above; counted "
            "as errors of omission, OA would be 57.14 %.") in printed  # 4 of 7
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["validation_pixels_unclassified"] == 2 and metrics["validation_pixels_left_out"] == 1
    assert metrics["training_pixels"] == "left_out_given"
    assert "- Validation pixels left out as training pixels: 1\n" in (out / "accuracy.md").read_text()


def test_assess_refuses_an_earlier_assessment_before_any_work(files, tmp_path, capsys):
    out = tmp_path / "accuracy"
    out.mkdir()
    (out / "accuracy.md").write_text("mine")
    args = ["assess", "--map", str(files["map"]), "--validation", str(files["validation"]), "--out", str(out)]
    assert cli_main(args) == 2
    assert capsys.readouterr().err == (f"error: {out} already holds accuracy.md, a file a run writes there; pass "
                                       "--overwrite to replace it, or choose another --out\n")
    assert sorted(p.name for p in out.iterdir()) == ["accuracy.md"] and (out / "accuracy.md").read_text() == "mine"
    assert cli_main(args + ["--overwrite"]) == 0
    assert "\nOA 87.50 %" in (out / "accuracy.md").read_text()


def test_assess_without_out_writes_nothing(files, tmp_path, capsys):
    before = sorted(p.name for p in tmp_path.iterdir())
    assert cli_main(["assess", "--map", str(files["map"]), "--validation", str(files["validation"])]) == 0
    assert "Area-adjusted OA" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_map_class_without_validation_pixels_keeps_its_name_and_is_left_out_of_the_areas_openly(files, tmp_path,
                                                                                                   capsys):
    """Validation labels of one of the map's two classes: the other keeps the map's own name in every table, and the
    area-adjusted figures say beside the OA that they cover the sampled map classes only (60 % of the map)."""
    from rasterio.crs import CRS

    water_only = np.zeros((10, 10), np.int32)
    water_only[0, :4] = 1
    path = tmp_path / "water_only.tif"
    write_label_raster(path, water_only, CLASSES[:1], transform=TRANSFORM, crs_wkt=CRS.from_epsg(32633).to_wkt())
    out = tmp_path / "accuracy"
    assert cli_main(["assess", "--map", str(files["map"]), "--validation", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| 2 | meadow | 0 | 0 | – | – | – |" in printed  # the map's name, not "class 2"
    assert ("Olofsson et al. 2014, the map classes as strata; over the map classes with validation pixels, 60 % of "
            "the mapped area: meadow has none)") in printed
    assert "| id | class | mapped (ha) | estimated area within the sampled map classes (ha) |" in printed
    assert "| 2 | meadow | 3.6 |" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["area_adjusted"]["unsampled_map_classes"] == ["meadow"]


def test_assess_leaves_out_the_pixels_of_the_labels_it_is_told_to(files, tmp_path, capsys):
    """The map's training labels among the validation pixels make it look better (a run leaves its own out):
    --exclude leaves their pixels out, and accuracy.md says so."""
    from rasterio.crs import CRS

    training = np.zeros((10, 10), np.int32)
    training[1, 6:9] = 2  # the three meadow points were training labels
    path = tmp_path / "training.tif"
    write_label_raster(path, training, CLASSES[1:], transform=TRANSFORM, crs_wkt=CRS.from_epsg(32633).to_wkt())
    out = tmp_path / "accuracy"
    assert cli_main(["assess", "--map", str(files["map"]), "--validation", str(files["validation"]), "--exclude",
                     str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("OA 80.00 %") and "(5 validation pixels, 1 class)" in printed  # 4 of 5 left; no meadow
    assert f"- Left out: the pixels of {path.resolve()}" in (out / "accuracy.md").read_text()
    everything = tmp_path / "everything.tif"
    write_label_raster(everything, np.ones((10, 10), np.int32), CLASSES[:1], transform=TRANSFORM,
                       crs_wkt=CRS.from_epsg(32633).to_wkt())
    assert cli_main(["assess", "--map", str(files["map"]), "--validation", str(files["validation"]), "--exclude",
                     str(everything)]) == 2
    assert "no validation pixel falls on a classified pixel outside the excluded labels" in capsys.readouterr().err


def test_validation_labels_off_the_maps_grid_are_said_to_be_off_the_map(files, tmp_path, capsys):
    """assess reads labels onto the class map's grid: what does not fit is said of the map, not of a scene."""
    from rasterio.crs import CRS

    shifted = (TRANSFORM[0] + 300.0, *TRANSFORM[1:])
    path = tmp_path / "shifted.tif"
    write_label_raster(path, np.ones((10, 10), np.int32), CLASSES[:1], transform=shifted,
                       crs_wkt=CRS.from_epsg(32633).to_wkt())
    assert cli_main(["assess", "--map", str(files["map"]), "--validation", str(path)]) == 2
    err = capsys.readouterr().err  # on the map's pixel lattice, 10 pixels east: beside it
    assert "covers no pixel of the class map" in err and "give the labels of this class map" in err
    assert "scene" not in err
    half = tmp_path / "half.tif"  # half a pixel off: another grid
    write_label_raster(half, np.ones((10, 10), np.int32), CLASSES[:1], transform=(TRANSFORM[0] + 15.0, *TRANSFORM[1:]),
                       crs_wkt=CRS.from_epsg(32633).to_wkt())
    assert cli_main(["assess", "--map", str(files["map"]), "--validation", str(half)]) == 2
    err = capsys.readouterr().err
    assert "than the class map" in err and "resample the labels to the class map's grid" in err
    assert "scene" not in err


def _float_raster(path: Path, values: np.ndarray, nodata: float) -> Path:
    """A one-band float32 GeoTIFF on the map's grid (a run's confidence layer, or class ids saved as floats)."""
    import rasterio
    from rasterio.transform import Affine

    with rasterio.open(path, "w", driver="GTiff", width=values.shape[1], height=values.shape[0], count=1,
                       dtype="float32", transform=Affine.from_gdal(*TRANSFORM), crs="EPSG:32633",
                       nodata=nodata) as dst:
        dst.write(values.astype(np.float32), 1)
    return path


def test_assess_refuses_a_confidence_layer_given_as_the_class_map(files, tmp_path, capsys):
    """Scored as class ids, 0.73 would count as class 0 (unclassified): an accuracy that means nothing. The command
    line and Processing (pipeline.assess_accuracy) say the same, before anything is written."""
    from hypersynth.core.pipeline import assess_accuracy

    confidence = np.full((10, 10), 0.73)
    confidence[0, 0] = -1.0  # unclassified: the layer's no-data
    layer = _float_raster(tmp_path / "confidence.tif", confidence, nodata=-1.0)
    message = ("confidence.tif holds fractional values (e.g. 0.73), not class ids: it looks like a confidence or "
               "probability layer; pick the class map instead (a HyperSynth run's classification.tif, not its "
               "confidence.tif or probabilities.tif)")
    out = tmp_path / "accuracy"
    assert cli_main(["assess", "--map", str(layer), "--validation", str(files["validation"]), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert not out.exists()
    with pytest.raises(ValueError) as err:
        assess_accuracy(layer, files["validation"])
    assert str(err.value) == message


def test_assess_scores_class_ids_stored_as_floats_like_the_integer_map(files, tmp_path, capsys):
    import rasterio

    with rasterio.open(files["map"]) as src:
        ids = src.read(1).astype(np.float64)
    ids[9, 0] = np.nan  # unclassified, as NaN
    as_floats = _float_raster(tmp_path / "float_map.tif", ids, nodata=np.nan)
    assert cli_main(["assess", "--map", str(as_floats), "--validation", str(files["validation"])]) == 0
    assert capsys.readouterr().out.startswith("OA 87.50 %, AA 90.00 %")


def test_assess_refuses_a_map_whose_class_ids_the_validation_labels_never_use(files, tmp_path, capsys):
    """Two numberings of the same classes would score 0 %: said, with both sets of ids, and nothing written."""
    import rasterio

    shifted = tmp_path / "shifted.tif"
    with rasterio.open(files["map"]) as src:
        profile, values = src.profile, src.read(1)
    with rasterio.open(shifted, "w", **profile) as dst:
        dst.write(values + 10, 1)
    out = tmp_path / "accuracy"
    assert cli_main(["assess", "--map", str(shifted), "--validation", str(files["validation"]),
                     "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "share no class id (map: 11, 12; validation labels: 1, 2)" in err and "class file" in err
    assert not out.exists()


def test_assess_refuses_a_runs_output_folder_whose_report_it_would_contradict(files, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    for name, text in (("classification.tif", "map"), ("report.md", "OA 92.91 %"), ("metrics.json", "{}")):
        (run / name).write_text(text)
    assert cli_main(["assess", "--map", str(files["map"]), "--validation", str(files["validation"]),
                     "--out", str(run), "--overwrite"]) == 2
    assert f"{run} is a run's output folder" in capsys.readouterr().err
    assert (run / "metrics.json").read_text() == "{}" and not (run / "accuracy.md").exists()


def test_a_map_assessed_a_strip_at_a_time_gives_the_figures_of_the_whole_map(tmp_path, monkeypatch):
    """The map is read in strips (here of 16 rows, its tiles' height): the same evaluation as one strip, with
    no-data, unclassified pixels and validation pixels in every strip; a fractional value in a late strip is still
    refused. The allocation peak on a 1024² map stays near the validation labels' int32 map (it took about 25
    bytes a pixel when the map was read whole, session 30)."""
    import tracemalloc

    import rasterio
    from rasterio.crs import CRS

    import hypersynth.core.io.labels as labels_module
    from hypersynth.core.evaluation.area import pixel_area_unit
    from hypersynth.core.evaluation.assess import evaluate_map
    from hypersynth.core.evaluation.metrics import evaluate, pixel_counts

    def write_map(path, values, nodata=None):
        with rasterio.open(path, "w", driver="GTiff", width=values.shape[1], height=values.shape[0], count=1,
                           dtype=values.dtype, crs=CRS.from_epsg(32633), tiled=True, blockxsize=16, blockysize=16,
                           transform=rasterio.Affine.from_gdal(*TRANSFORM), nodata=nodata) as ds:
            ds.write(values, 1)
        return path

    rng = np.random.default_rng(4)
    n = 1024
    class_map = rng.choice([0, 1, 2, 3, 255], size=(n, n), p=[0.1, 0.4, 0.3, 0.15, 0.05]).astype(np.uint8)
    validation = np.where(rng.random((n, n)) < 0.01, rng.integers(1, 4, (n, n)), 0).astype(np.int32)
    write_label_raster(tmp_path / "validation.tif", validation, [ClassInfo(i, f"c{i}") for i in (1, 2, 3)],
                       transform=TRANSFORM, crs_wkt=CRS.from_epsg(32633).to_wkt())
    path = write_map(tmp_path / "map.tif", class_map, nodata=255)
    whole = evaluate_map(path, tmp_path / "validation.tif")  # one strip: 1024 rows of 1024
    monkeypatch.setattr(labels_module, "LABEL_CHUNK_PIXELS", 16 * n)
    from hypersynth.core.progress import CallbackReporter, Cancelled

    said = []

    def record_progress(fraction: float, stage: str) -> None:
        said.append((round(fraction, 3), stage))

    with pytest.raises(Cancelled):  # the Cancel button stops it between strips, not after the whole map
        evaluate_map(path, tmp_path / "validation.tif", reporter=CallbackReporter(
            record_progress, lambda: any(stage == "scoring the map" for _, stage in said)))
    assert said[0][1] == "counting the map's classes" and said[-1][1] == "scoring the map" and said[-1][0] < 1
    tracemalloc.start()
    try:
        strips = evaluate_map(path, tmp_path / "validation.tif")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    mapped = np.where(class_map == 255, 0, class_map).astype(np.int64)  # the map as read whole before
    test = (validation > 0) & (mapped > 0)
    reference = evaluate(validation[test], mapped[test], [ClassInfo(i, f"class {i}") for i in (1, 2, 3)],
                         mapped_pixels=pixel_counts(mapped),
                         area_unit=pixel_area_unit(TRANSFORM, CRS.from_epsg(32633).to_wkt()))
    unclassified = int(((validation > 0) & (mapped == 0)).sum())  # counted and said, not scored
    assert strips.to_dict() == whole.to_dict() == {**reference.to_dict(), "training_pixels": "unknown",
                                                   "validation_pixels_left_out": 0,
                                                   "validation_pixels_unclassified": unclassified}
    assert unclassified > 1000
    assert strips.n_test == int(test.sum())
    assert peak < 6 * n * n, f"the assessment peaked at {peak / n / n:.1f} bytes a pixel"
    fractional = class_map.astype(np.float32)
    fractional[1000, 5] = 0.4  # in the last strip
    with pytest.raises(ValueError, match=r"holds fractional values \(e.g. 0.4\)"):
        evaluate_map(write_map(tmp_path / "confidence.tif", fractional), tmp_path / "validation.tif")


def _training_points(path: Path, field: str) -> Path:
    """The three meadow validation points as a GeoPackage of training points whose class sits in ``field``."""
    from osgeo import ogr, osr

    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = ds.CreateLayer("training", srs, ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn(field, ogr.OFTInteger))
    for col in (6, 7, 8):  # row 1: the meadow validation points
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField(field, 2)
        x, y = TRANSFORM[0] + (col + 0.5) * TRANSFORM[1], TRANSFORM[3] + 1.5 * TRANSFORM[5]
        feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({x} {y})"))
        layer.CreateFeature(feature)
    ds = None
    return path


def test_labels_left_out_are_read_with_their_own_field(files, tmp_path):
    """Only which pixels the left-out labels label matters; their class field is --exclude-field, or the
    validation labels' field when their layer has it, or guessed; a guess that fails names --exclude-field."""
    from hypersynth.core.evaluation.assess import evaluate_map
    from hypersynth.core.io.labels import LabelReadError

    training = _training_points(tmp_path / "training.gpkg", "lc")
    with pytest.raises(LabelReadError, match=r"no class field found .* its fields are lc\. .*\(--exclude-field on"):
        evaluate_map(files["map"], files["validation"], exclude_path=training)
    for given in ({"exclude_field": "lc"}, {"class_field": "lc"}):
        ev = evaluate_map(files["map"], files["validation"], exclude_path=training, **given)
        assert ev.n_test == 5 and ev.oa == pytest.approx(0.8)  # the three training pixels left out
    guessed = _training_points(tmp_path / "guessed.gpkg", "class")
    ev = evaluate_map(files["map"], files["validation"], exclude_path=guessed, class_field="lc")
    assert ev.n_test == 5  # the validation field is not in that layer: its own field is guessed


def test_assess_takes_the_field_of_the_labels_left_out(files, tmp_path, capsys):
    training = _training_points(tmp_path / "training.gpkg", "lc")
    command = ["assess", "--map", str(files["map"]), "--validation", str(files["validation"]), "--exclude",
               str(training)]
    assert cli_main(command) == 2
    assert "(--exclude-field on the command line)" in capsys.readouterr().err
    assert cli_main([*command, "--exclude-field", "lc"]) == 0
    assert capsys.readouterr().out.startswith("OA 80.00 %")  # the three training pixels left out


def test_a_mapped_class_the_class_file_leaves_out_is_still_a_stratum(tmp_path):
    """A map class the class file did not name vanished from the strata: the estimates claimed the whole map
    without a word (review). It is kept, by the map's name for it, and said to have no point."""
    from rasterio.crs import CRS

    from hypersynth.core.evaluation.assess import evaluate_map
    from hypersynth.core.io.classes import write_classes

    crs, grid = CRS.from_epsg(32633).to_wkt(), (500000.0, 30.0, 0.0, 5800000.0, 0.0, -30.0)
    named = [ClassInfo(1, "water", (0, 0, 255)), ClassInfo(2, "meadow", (0, 200, 0))]
    mapped = np.ones((10, 10), np.int32)
    mapped[:, 6:] = 2
    mapped[5:, :3] = 7  # 15 pixels of a class the file does not name
    points = np.zeros((10, 10), np.int32)
    points[0, :4], points[1, 6:9], points[2, 7] = 1, 2, 1
    write_class_map(tmp_path / "map.tif", mapped, named + [ClassInfo(7, "urban", (200, 0, 0))], transform=grid,
                    crs_wkt=crs)
    write_label_raster(tmp_path / "points.tif", points, named, transform=grid, crs_wkt=crs)
    write_classes(tmp_path / "classes.json", named)
    area = evaluate_map(tmp_path / "map.tif", tmp_path / "points.tif", classes_path=tmp_path / "classes.json").area
    assert area.class_ids == [1, 2, 7] and area.mapped_pixels.tolist() == [45, 40, 15]
    assert area.unsampled == ["urban"]  # the map's own name for it
    assert "85 % of the mapped area: urban has none" in area.to_markdown()
