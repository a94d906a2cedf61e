"""`hypersynth:accuracyassessment` through its public id, on a class map and validation labels counted by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from osgeo import ogr, osr
from qgis.core import QgsProcessingException, QgsVectorLayer

import processing
from hypersynth.core.scene import ClassInfo

CLASSES = [ClassInfo(1, "water", (31, 119, 180)), ClassInfo(2, "meadow", (44, 160, 44)),
           ClassInfo(3, "roof", (214, 39, 40))]
# The classified map: three class blocks, one unclassified column (0) on the right.
CLASS_MAP = np.array([[1, 1, 1, 2, 2, 2, 3, 0],
                      [1, 1, 1, 2, 2, 2, 3, 0],
                      [1, 1, 1, 2, 2, 2, 3, 0],
                      [1, 1, 1, 2, 2, 2, 3, 0],
                      [3, 3, 3, 3, 3, 3, 3, 0],
                      [3, 3, 3, 3, 3, 3, 3, 0]], dtype=np.int32)
# Validation pixels (row, col, true class) and how the map did on each.
VALIDATION = [
    (0, 0, 1), (1, 1, 1), (3, 2, 2),  # water: right, right; meadow mapped as water: wrong
    (0, 4, 2), (2, 5, 2), (3, 3, 1),  # meadow: right, right; water mapped as meadow: wrong
    (0, 6, 3), (4, 0, 3), (5, 5, 3),  # roof: right, right, right
    (2, 7, 1),  # on the unclassified column: not counted
]
CORRECT, COUNTED = 7, 9
# Per true class: water 2 of 3, meadow 2 of 3, roof 3 of 3.
AA = (2 / 3 + 2 / 3 + 3 / 3) / 3


@pytest.fixture
def files(tmp_path) -> dict:
    from hypersynth.core.demo import demo_crs_wkt, demo_transform
    from hypersynth.core.io.classes import write_classes
    from hypersynth.core.io.write import write_class_map, write_label_raster

    grid = {"transform": demo_transform(), "crs_wkt": demo_crs_wkt()}
    validation = np.zeros_like(CLASS_MAP)
    for row, col, class_id in VALIDATION:
        validation[row, col] = class_id
    return {
        "map": str(write_class_map(tmp_path / "map.tif", CLASS_MAP, CLASSES, **grid)),
        "validation": str(write_label_raster(tmp_path / "validation.tif", validation, CLASSES, **grid)),
        "points": _write_points(tmp_path / "validation.gpkg", **grid),
        "classes": str(write_classes(tmp_path / "classes.json", CLASSES)),
    }


def _write_points(path: Path, transform: tuple, crs_wkt: str) -> str:
    """The validation pixels as points at pixel centres with the class *name* in field ``landcover``."""
    names = {c.id: c.name for c in CLASSES}
    srs = osr.SpatialReference()
    srs.ImportFromWkt(crs_wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = ds.CreateLayer("validation", srs, ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("landcover", ogr.OFTString))
    x0, dx, _, y0, _, dy = transform
    for row, col, class_id in VALIDATION:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("landcover", names[class_id])
        point = ogr.Geometry(ogr.wkbPoint)
        point.AddPoint_2D(x0 + (col + 0.5) * dx, y0 + (row + 0.5) * dy)
        feature.SetGeometry(point)
        layer.CreateFeature(feature)
    ds = None
    return str(path)


def _kappa() -> float:
    """Cohen's kappa from the hand-made confusion matrix (rows: truth, columns: map)."""
    confusion = np.array([[2, 1, 0],   # water: 2 as water, 1 as meadow
                          [1, 2, 0],   # meadow: 1 as water, 2 as meadow
                          [0, 0, 3]])  # roof
    n = confusion.sum()
    expected = (confusion.sum(axis=1) * confusion.sum(axis=0)).sum() / n ** 2
    return (np.trace(confusion) / n - expected) / (1 - expected)


def test_label_raster_gives_the_hand_counted_accuracy(hypersynth_plugin, files, tmp_path):
    out = tmp_path / "results" / "accuracy.json"
    result = processing.run("hypersynth:accuracyassessment", {
        "CLASS_MAP": files["map"], "VALIDATION": files["validation"], "OUTPUT": str(out)})
    assert result["OVERALL_ACCURACY"] == pytest.approx(CORRECT / COUNTED)
    assert result["AVERAGE_ACCURACY"] == pytest.approx(AA)
    assert result["KAPPA"] == pytest.approx(_kappa())
    assert result["OUTPUT"] == str(out)
    metrics = json.loads(out.read_text())
    assert metrics["n_test"] == COUNTED and metrics["oa"] == pytest.approx(CORRECT / COUNTED)
    assert metrics["confusion"] == [[2, 1, 0], [1, 2, 0], [0, 0, 3]]
    assert [(c["id"], c["test_pixels"], c["correct"]) for c in metrics["classes"]] == [(1, 3, 2), (2, 3, 2),
                                                                                        (3, 3, 3)]
    assert "FOLDER" not in result and sorted(p.name for p in out.parent.iterdir()) == ["accuracy.json"]
    import rasterio

    with rasterio.open(files["map"]) as src:
        mapped = np.array([(src.read(1) == c).sum() for c in (1, 2, 3)], dtype=float)
    weight = mapped / mapped.sum()  # each map class's share of the map; 2 of its 3 points right, 2 of 3, 3 of 3
    assert result["AREA_ADJUSTED_ACCURACY"] == pytest.approx(weight @ [2 / 3, 2 / 3, 1.0])
    assert metrics["area_adjusted"]["oa"] == pytest.approx(result["AREA_ADJUSTED_ACCURACY"])
    assert [c["mapped_pixels"] for c in metrics["area_adjusted"]["classes"]] == mapped.astype(int).tolist()


def test_points_with_class_names_and_a_folder_for_the_table_and_figure(hypersynth_plugin, files, tmp_path):
    points = QgsVectorLayer(f"{files['points']}|layername=validation", "validation", "ogr")
    assert points.isValid()
    folder = tmp_path / "accuracy"
    result = processing.run("hypersynth:accuracyassessment", {
        "CLASS_MAP": files["map"], "VALIDATION": points, "CLASS_FIELD": "landcover", "CLASSES": files["classes"],
        "OUTPUT": str(tmp_path / "metrics.json"), "FOLDER": str(folder)})
    assert result["OVERALL_ACCURACY"] == pytest.approx(CORRECT / COUNTED)
    assert result["FOLDER"] == str(folder)
    metrics = json.loads(Path(result["OUTPUT"]).read_text())
    assert [c["name"] for c in metrics["classes"]] == ["water", "meadow", "roof"]  # from the class file
    assert sorted(p.name for p in folder.iterdir()) == ["accuracy.md", "confusion.png", "metrics.json"]
    assert "| 3 | roof | 3 | 3 | 100.00 |" in (folder / "accuracy.md").read_text()
    assert (folder / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((folder / "metrics.json").read_text()) == metrics


def test_validation_off_the_map_is_refused_and_writes_nothing(hypersynth_plugin, files, tmp_path):
    from hypersynth.core.demo import demo_crs_wkt, demo_transform
    from hypersynth.core.io.write import write_label_raster

    off_map = np.zeros_like(CLASS_MAP)
    off_map[:3, 7], off_map[3:, 7] = 1, 2  # only the unclassified column is labelled
    validation = write_label_raster(tmp_path / "off_map.tif", off_map, CLASSES, transform=demo_transform(),
                                    crs_wkt=demo_crs_wkt())
    out = tmp_path / "out" / "accuracy.json"
    with pytest.raises(QgsProcessingException, match="no validation pixel falls on a classified pixel"):
        processing.run("hypersynth:accuracyassessment", {
            "CLASS_MAP": files["map"], "VALIDATION": str(validation), "OUTPUT": str(out),
            "FOLDER": str(tmp_path / "out" / "figures")})
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_a_runs_output_folder_is_refused_for_the_table_and_figure(hypersynth_plugin, files, tmp_path):
    """Its metrics.json and confusion.png belong to the report beside them: as on the command line, refused."""
    run = tmp_path / "run"
    run.mkdir()
    for name, text in (("classification.tif", "map"), ("report.md", "OA 92.91 %"), ("metrics.json", "{}")):
        (run / name).write_text(text)
    with pytest.raises(QgsProcessingException, match=f"{run} is a run's output folder"):
        processing.run("hypersynth:accuracyassessment", {
            "CLASS_MAP": files["map"], "VALIDATION": files["points"], "CLASS_FIELD": "landcover",
            "CLASSES": files["classes"], "OUTPUT": str(tmp_path / "metrics.json"), "FOLDER": str(run)})
    assert (run / "metrics.json").read_text() == "{}" and not (tmp_path / "metrics.json").exists()


def test_labels_to_leave_out_are_not_assessed(hypersynth_plugin, files, tmp_path):
    """The map's training labels among the validation pixels: given as 'Labels to leave out', their pixels are not
    scored (here the three roof points, all right: OA 4 of 6 instead of 7 of 9)."""
    from hypersynth.core.demo import demo_crs_wkt, demo_transform
    from hypersynth.core.io.write import write_label_raster

    training = np.zeros_like(CLASS_MAP)
    for row, col, class_id in VALIDATION:
        if class_id == 3:
            training[row, col] = 3
    exclude = write_label_raster(tmp_path / "training.tif", training, CLASSES[2:], transform=demo_transform(),
                                 crs_wkt=demo_crs_wkt())
    result = processing.run("hypersynth:accuracyassessment", {
        "CLASS_MAP": files["map"], "VALIDATION": files["validation"], "EXCLUDE": str(exclude),
        "OUTPUT": str(tmp_path / "metrics.json")})
    assert result["OVERALL_ACCURACY"] == pytest.approx(4 / 6)
    assert json.loads(Path(result["OUTPUT"]).read_text())["n_test"] == 6


def test_the_log_says_when_the_training_pixels_cannot_be_known(hypersynth_plugin, files, tmp_path):
    """A map with no classifier folder beside it (a Processing run's, or another program's) and nothing to leave
    out: the accuracy counts whatever training pixels the validation labels hold, and the log says so."""
    from .conftest import RecordingFeedback

    said = RecordingFeedback()
    processing.run("hypersynth:accuracyassessment", {
        "CLASS_MAP": files["map"], "VALIDATION": files["validation"], "OUTPUT": str(tmp_path / "metrics.json")},
        feedback=said)
    assert any(line.startswith("Which pixels the map's classifier learnt from is not known") and "(EXCLUDE)" in line
               for line in said.infos)
    assert json.loads((tmp_path / "metrics.json").read_text())["training_pixels"] == "unknown"
    from hypersynth.core.demo import demo_crs_wkt, demo_transform
    from hypersynth.core.io.write import write_label_raster

    training = np.zeros_like(CLASS_MAP)
    training[VALIDATION[0][0], VALIDATION[0][1]] = VALIDATION[0][2]
    exclude = write_label_raster(tmp_path / "training.tif", training, CLASSES, transform=demo_transform(),
                                 crs_wkt=demo_crs_wkt())
    told = RecordingFeedback()
    processing.run("hypersynth:accuracyassessment", {
        "CLASS_MAP": files["map"], "VALIDATION": files["validation"], "EXCLUDE": str(exclude),
        "OUTPUT": str(tmp_path / "told.json")}, feedback=told)
    assert told.infos and not any("is not known" in line for line in told.infos)
    assert json.loads((tmp_path / "told.json").read_text())["training_pixels"] == "left_out_given"


def test_the_training_pixels_beside_a_runs_map_are_left_out_unless_kept(hypersynth_plugin, tmp_path):
    """As the command line's --keep-training-pixels: a run's own map, scored against its whole ground truth, leaves
    out the pixels its classifier learnt from unless told to keep them."""
    from hypersynth.core.demo import make_demo_scene, sparse_labels
    from hypersynth.core.io.write import write_label_raster, write_scene
    from hypersynth.core.pipeline import classify_scene

    data = make_demo_scene(size=32, bands=20, n_classes=3, seed=0)
    grid = {"transform": data.scene.transform, "crs_wkt": data.scene.crs_wkt}
    scene = write_scene(data.scene, tmp_path / "scene.tif")
    truth = write_label_raster(tmp_path / "truth.tif", data.labels, data.classes, **grid)
    labels = write_label_raster(tmp_path / "labels.tif", sparse_labels(data.labels, 4, seed=0), data.classes, **grid)
    run = classify_scene(scene, labels, tmp_path / "run", method="rf")
    scored = {}
    for keep in (False, True):
        result = processing.run("hypersynth:accuracyassessment", {
            "CLASS_MAP": str(run.class_map), "VALIDATION": str(truth), "KEEP_TRAINING_PIXELS": keep,
            "OUTPUT": str(tmp_path / f"keep_{keep}.json")})
        metrics = json.loads(Path(result["OUTPUT"]).read_text())
        scored[keep] = metrics["n_test"]
        assert metrics["training_pixels"] == ("kept" if keep else "left_out_beside")
    labelled = int(((data.labels > 0) & data.scene.valid).sum())
    assert scored == {False: labelled - 4 * len(data.classes), True: labelled}
