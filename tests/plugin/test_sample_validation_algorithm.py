"""`hypersynth:samplevalidation` through its public id: a stratified random sample of a class map, for the analyst to
label, and its design beside it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr
from qgis.core import QgsApplication, QgsProcessingException

import processing
from hypersynth.core.scene import ClassInfo

from .conftest import RecordingFeedback

CLASSES = [ClassInfo(1, "water", (31, 119, 180)), ClassInfo(2, "meadow", (44, 160, 44)),
           ClassInfo(3, "roof", (214, 39, 40))]
SIDE = 60  # the map: 60 × 60 pixels, water on the top half, meadow below, a strip of roofs and unclassified pixels


def _class_map() -> np.ndarray:
    class_map = np.full((SIDE, SIDE), 2, dtype=np.int32)
    class_map[:30] = 1
    class_map[-1, :30] = 3  # 30 roof pixels: fewer than 50
    class_map[-1, 30:] = 0  # unclassified: never drawn
    return class_map


CLASS_MAP = _class_map()
PIXELS = {1: 1800, 2: 1740, 3: 30}


@pytest.fixture
def files(tmp_path) -> dict:
    from hypersynth.core.demo import demo_crs_wkt, demo_transform
    from hypersynth.core.io.write import write_class_map

    maps = tmp_path / "maps"
    maps.mkdir()
    return {"map": str(write_class_map(maps / "map.tif", CLASS_MAP, CLASSES, transform=demo_transform(),
                                       crs_wkt=demo_crs_wkt())),
            "out": tmp_path / "out"}


def _run(parameters: dict, feedback=None) -> dict:
    return processing.run("hypersynth:samplevalidation", parameters, feedback=feedback)


def _points(path: str, class_map_path: str, transform=None) -> list[tuple[int, int, int, object]]:
    """``(point_id, row, col, class_id)`` of each point, its pixel found on the map's grid (``transform``: the grid's,
    where the map's file records none)."""
    x0, dx, _, y0, _, dy = transform or gdal.Open(class_map_path).GetGeoTransform()
    ds = ogr.Open(path)  # held while its layer is read
    out = []
    for feature in ds.GetLayer(0):
        point = feature.GetGeometryRef()
        row, col = int((point.GetY() - y0) // dy), int((point.GetX() - x0) // dx)
        out.append((feature.GetField("point_id"), row, col, feature.GetField("class_id")))
    return out


def _per_class(points: list) -> dict[int, int]:
    """Points per map class (the class of the map's pixel under each)."""
    found: dict[int, int] = {}
    for _, row, col, _ in points:
        found[int(CLASS_MAP[row, col])] = found.get(int(CLASS_MAP[row, col]), 0) + 1
    return dict(sorted(found.items()))


# --- registered, and the defaults ------------------------------------------------------------------------------------
def test_registered_in_the_accuracy_assessments_group(hypersynth_plugin):
    registry = QgsApplication.processingRegistry()
    algorithm = registry.algorithmById("hypersynth:samplevalidation")
    assert algorithm is not None and algorithm.displayName() == "Draw validation sample"
    assert algorithm in hypersynth_plugin.provider.algorithms()
    assessment = registry.algorithmById("hypersynth:accuracyassessment")
    assert (algorithm.groupId(), algorithm.group()) == (assessment.groupId(), assessment.group())
    assert algorithm.parameterDefinition("OUTPUT").defaultFileExtension() == "gpkg"


def test_the_defaults_draw_50_a_class_or_all_of_a_small_one_and_write_the_design(hypersynth_plugin, files):
    log = RecordingFeedback()
    points = files["out"] / "check.gpkg"
    result = _run({"CLASS_MAP": files["map"], "OUTPUT": str(points)}, log)
    assert result["OUTPUT"] == str(points) and result["DESIGN_FILE"] == str(files["out"] / "check.design.json")
    assert result["POINT_COUNT"] == 130
    drawn = _points(result["OUTPUT"], files["map"])
    assert _per_class(drawn) == {1: 50, 2: 50, 3: 30}  # never on the unclassified pixels
    assert sorted(p[0] for p in drawn) == list(range(1, 131)) and {p[3] for p in drawn} == {None}  # for the analyst
    assert len({(p[1], p[2]) for p in drawn}) == 130  # drawn without replacement
    design = json.loads(Path(result["DESIGN_FILE"]).read_text())
    assert (design["map_name"], design["map_shape"], design["seed"], design["allocation"]) == (
        "map.tif", [SIDE, SIDE], 0, "equal")
    assert design["class_pixels"] == {str(c): n for c, n in PIXELS.items()}
    assert design["sample_sizes"] == {"1": 50, "2": 50, "3": 30}
    assert design["class_names"] == {"1": "water", "2": "meadow", "3": "roof"}
    assert sorted(p.name for p in files["out"].iterdir()) == ["check.design.json", "check.gpkg"]
    assert log.warnings == ["map class 3 has only 30 pixels: all of them are drawn"]
    said = " ".join(log.infos)
    assert "drew a stratified random sample of map.tif: 130 points over 3 map classes" in said
    assert "by what is on the ground" in said and "hypersynth:accuracyassessment" in said
    assert log.progresses[-1] == 100.0
    # the same seed, the same points; another seed, others
    again = _run({"CLASS_MAP": files["map"], "OUTPUT": str(files["out"] / "again.shp")})
    assert _points(again["OUTPUT"], files["map"]) == drawn
    other = _run({"CLASS_MAP": files["map"], "SEED": 5, "PER_CLASS": 10, "OUTPUT": str(files["out"] / "other.fgb")})
    assert _per_class(_points(other["OUTPUT"], files["map"])) == {1: 10, 2: 10, 3: 10}
    assert json.loads(Path(other["DESIGN_FILE"]).read_text())["seed"] == 5


# --- the other sizes ---------------------------------------------------------------------------------------------
def test_a_total_shared_by_area_with_a_minimum_per_class(hypersynth_plugin, files):
    result = _run({"CLASS_MAP": files["map"], "SIZE": 1, "TOTAL": 300, "MIN_PER_CLASS": 40,
                   "OUTPUT": str(files["out"] / "total.gpkg")})
    # roofs: all 30 (under the minimum); the 270 left shared by area, 1800 : 1740, by largest remainder
    assert _per_class(_points(result["OUTPUT"], files["map"])) == {1: 137, 2: 133, 3: 30}
    design = json.loads(Path(result["DESIGN_FILE"]).read_text())
    assert design["allocation"] == "proportional" and design["sample_sizes"] == {"1": 137, "2": 133, "3": 30}
    with pytest.raises(QgsProcessingException, match=r"300 points cannot give each of the 3 map classes 150: give a "
                                                     r"total of at least 450 or a lower minimum per class"):
        _run({"CLASS_MAP": files["map"], "SIZE": 1, "TOTAL": 300, "MIN_PER_CLASS": 150,
              "OUTPUT": str(files["out"] / "too_few.gpkg")})
    with pytest.raises(QgsProcessingException, match=r"Total points \(TOTAL\): give the number of points to draw in "
                                                     r"all"):
        _run({"CLASS_MAP": files["map"], "SIZE": 1, "OUTPUT": str(files["out"] / "no_total.gpkg")})
    with pytest.raises(QgsProcessingException, match=r"Total points \(TOTAL\) is 300, but 'How many points' \(SIZE\) "
                                                     r"is 'the same number of points on every map class'"):
        _run({"CLASS_MAP": files["map"], "TOTAL": 300, "OUTPUT": str(files["out"] / "no_size.gpkg")})
    assert sorted(p.name for p in files["out"].iterdir()) == ["total.design.json", "total.gpkg"]


def test_a_target_standard_error(hypersynth_plugin, files):
    from hypersynth.core.evaluation.sampling import allocate, sample_size

    result = _run({"CLASS_MAP": files["map"], "SIZE": 2, "TARGET_ERROR": 0.05, "EXPECTED_ACCURACY": 0.8,
                   "MIN_PER_CLASS": 10, "OUTPUT": str(files["out"] / "target.gpkg")})
    total = sample_size(PIXELS, 0.8, 0.05)
    assert 64 <= total <= 65  # (√(0.8 · 0.2) / 0.05)² = 64, up to rounding
    sizes, _ = allocate(PIXELS, total=total, min_per_class=10)
    assert sizes[3] == 10 and sum(sizes.values()) == total
    assert _per_class(_points(result["OUTPUT"], files["map"])) == sizes
    assert result["POINT_COUNT"] == total
    # a better map needs fewer points for the same error
    better = _run({"CLASS_MAP": files["map"], "SIZE": 2, "TARGET_ERROR": 0.05, "EXPECTED_ACCURACY": 0.95,
                   "MIN_PER_CLASS": 5, "OUTPUT": str(files["out"] / "better.gpkg")})
    assert better["POINT_COUNT"] == sample_size(PIXELS, 0.95, 0.05) < total
    for wrong, said in (({"TARGET_ERROR": 0}, r"Target standard error of the overall accuracy \(TARGET_ERROR\) is a "
                                              r"fraction of 1 above 0"),
                        ({"EXPECTED_ACCURACY": 1}, r"Expected user's accuracy of every class "
                                                   r"\(EXPECTED_ACCURACY\) is a fraction between 0 and 1")):
        with pytest.raises(QgsProcessingException, match=said):
            _run({"CLASS_MAP": files["map"], "SIZE": 2, **wrong, "OUTPUT": str(files["out"] / "wrong.gpkg")})
    assert not (files["out"] / "wrong.gpkg").exists()


# --- outputs --------------------------------------------------------------------------------------------------------
def test_existing_points_are_replaced_but_a_design_file_alone_is_refused(hypersynth_plugin, files):
    """As with every Processing algorithm, the destination chosen is replaced (the dialog asks first); the design file
    beside it, which nobody was asked about, only with the earlier draw's points it belongs to."""
    points = files["out"] / "check.gpkg"
    first = _points(_run({"CLASS_MAP": files["map"], "OUTPUT": str(points)})["OUTPUT"], files["map"])
    second = _run({"CLASS_MAP": files["map"], "SEED": 7, "PER_CLASS": 5, "OUTPUT": str(points)})
    replaced = _points(second["OUTPUT"], files["map"])
    assert len(replaced) == 15 and replaced != first
    assert json.loads(Path(second["DESIGN_FILE"]).read_text())["seed"] == 7
    assert sorted(p.name for p in files["out"].iterdir()) == ["check.design.json", "check.gpkg"]  # nothing set aside
    other = files["out"] / "mine.design.json"
    other.write_text('{"mine": true}')
    with pytest.raises(QgsProcessingException, match=r"mine.design.json already exists, and the draw writes the "
                                                     r"design of the validation points mine.gpkg there"):
        _run({"CLASS_MAP": files["map"], "OUTPUT": str(files["out"] / "mine.gpkg")})
    assert other.read_text() == '{"mine": true}' and not (files["out"] / "mine.gpkg").exists()
    with pytest.raises(QgsProcessingException, match=r"is named as a .geojson file, but it is written as a "
                                                     r"GeoPackage \(.gpkg\), a Shapefile"):
        _run({"CLASS_MAP": files["map"], "OUTPUT": str(files["out"] / "check.geojson")})
    assert sorted(p.name for p in files["out"].iterdir()) == ["check.design.json", "check.gpkg", "mine.design.json"]


def test_a_temporary_output_loads_named(hypersynth_plugin, files, qgis_new_project, close_layers):
    from qgis.core import QgsProcessingContext, QgsProject

    context = QgsProcessingContext()
    context.setProject(qgis_new_project)
    result = processing.runAndLoadResults("hypersynth:samplevalidation", {
        "CLASS_MAP": files["map"], "PER_CLASS": 4, "SEED": 2, "OUTPUT": "TEMPORARY_OUTPUT"}, context=context)
    assert result["OUTPUT"].endswith(".gpkg") and Path(result["DESIGN_FILE"]).name == "OUTPUT.design.json"
    assert Path(result["DESIGN_FILE"]).is_file()
    loaded = {layer.source().split("|")[0]: layer for layer in QgsProject.instance().mapLayers().values()}
    layer = loaded[result["OUTPUT"]]
    assert layer.name() == "validation points to label (12 points, seed 2)" and layer.featureCount() == 12
    assert {"point_id", "class_id"} <= set(layer.fields().names())
    # ready to label: class_id picked by the map's class names, point_id not to be typed over, hollow until labelled
    setup = layer.editorWidgetSetup(layer.fields().indexOf("class_id"))
    assert setup.type() == "ValueMap" and setup.config()["map"] == [{"water": 1}, {"meadow": 2}, {"roof": 3}]
    assert layer.editFormConfig().readOnly(layer.fields().indexOf("point_id"))
    assert layer.editFormConfig().readOnly(layer.fields().indexOf("fid"))  # the GeoPackage's own feature id
    renderer = layer.renderer()
    assert [(c.value(), c.label()) for c in renderer.categories()] == [
        (1, "water"), (2, "meadow"), (3, "roof"), ("", "not labelled yet")]
    categories = renderer.categories()  # held: a category's symbol lives as long as its category
    assert categories[0].symbol().symbolLayer(1).color().getRgb()[:3] == CLASSES[0].color  # the map's colours
    rings = categories[3].symbol()  # not labelled yet: hollow black and white rings, seen on any class's colour
    assert [(ring.color().alpha(), ring.strokeColor().getRgb()[:3]) for ring in rings.symbolLayers()] == [
        (0, (0, 0, 0)), (0, (255, 255, 255))]
    from qgis.core import QgsRenderContext

    feature = next(layer.getFeatures())  # class_id NULL: drawn with the "not labelled yet" symbol
    context = QgsRenderContext()
    renderer.startRender(context, layer.fields())
    drawn = renderer.symbolForFeature(feature, context)
    assert drawn is not None and drawn.symbolLayer(0).properties() == categories[3].symbol().symbolLayer(0).properties()
    feature.setAttribute("class_id", 2)  # labelled meadow: the meadow dot
    drawn = renderer.symbolForFeature(feature, context)
    assert drawn.symbolLayer(1).color().getRgb()[:3] == CLASSES[1].color
    renderer.stopRender(context)


def test_a_map_without_georeference_is_drawn_as_a_flatgeobuf(hypersynth_plugin, tmp_path, qgis_new_project,
                                                             close_layers):
    from qgis.core import QgsProcessingContext, QgsProject

    from hypersynth.core.io.write import write_class_map
    from hypersynth.core.scene import PIXEL_GRID

    pixel_map = str(write_class_map(tmp_path / "pixel_map.tif", CLASS_MAP, CLASSES, transform=PIXEL_GRID,
                                    crs_wkt=None))
    with pytest.raises(QgsProcessingException, match=r"check.gpkg: the map has no georeference, and a GeoPackage "
                                                     r"always records a CRS"):
        _run({"CLASS_MAP": pixel_map, "OUTPUT": str(tmp_path / "check.gpkg")})
    assert not (tmp_path / "check.gpkg").exists()
    context = QgsProcessingContext()
    context.setProject(qgis_new_project)
    result = processing.runAndLoadResults("hypersynth:samplevalidation", {
        "CLASS_MAP": pixel_map, "PER_CLASS": 3, "OUTPUT": "TEMPORARY_OUTPUT"}, context=context)
    assert result["OUTPUT"].endswith(".fgb") and Path(result["DESIGN_FILE"]).is_file()
    loaded = {layer.source().split("|")[0]: layer for layer in QgsProject.instance().mapLayers().values()}
    assert loaded[result["OUTPUT"]].featureCount() == 9
    assert _per_class(_points(result["OUTPUT"], pixel_map, PIXEL_GRID)) == {1: 3, 2: 3, 3: 3}


# --- maps that are no class maps -------------------------------------------------------------------------------------
def _raster(path: Path, bands: np.ndarray) -> str:
    from hypersynth.core.demo import demo_crs_wkt, demo_transform

    ds = gdal.GetDriverByName("GTiff").Create(str(path), bands.shape[2], bands.shape[1], bands.shape[0],
                                              gdal.GDT_Float32)
    ds.SetGeoTransform(demo_transform())
    ds.SetProjection(demo_crs_wkt())
    for k, band in enumerate(bands, start=1):
        ds.GetRasterBand(k).WriteArray(band)
    ds = None
    return str(path)


def test_a_raster_that_is_no_class_map_is_refused_with_what_to_pick(hypersynth_plugin, tmp_path):
    two_bands = _raster(tmp_path / "two_bands.tif", np.stack([CLASS_MAP, CLASS_MAP]).astype(np.float32))
    out = tmp_path / "out"
    with pytest.raises(QgsProcessingException, match=r"^two_bands.tif has 2 bands; a class map has one$"):
        _run({"CLASS_MAP": two_bands, "OUTPUT": str(out / "check.gpkg")})
    confidence = _raster(tmp_path / "confidence.tif", np.full((1, 20, 20), 0.75, dtype=np.float32))
    with pytest.raises(QgsProcessingException, match=r"^confidence.tif holds fractional values \(e.g. 0.75\), not "
                                                     r"class ids: .*pick the class map instead"):
        _run({"CLASS_MAP": confidence, "OUTPUT": str(out / "check.gpkg")})
    assert not out.exists()  # the folder made for the output is removed again


def test_cancel_leaves_no_output(hypersynth_plugin, files):
    from qgis.core import QgsProcessingFeedback

    feedback = QgsProcessingFeedback()
    feedback.cancel()
    with pytest.raises(QgsProcessingException, match="^cancelled by the user; no output was written$"):
        _run({"CLASS_MAP": files["map"], "OUTPUT": str(files["out"] / "check.gpkg")}, feedback)
    assert not files["out"].exists()


# --- what the analyst reads ------------------------------------------------------------------------------------------
def test_the_help_says_to_label_by_the_ground_and_assess_after(hypersynth_plugin):
    algorithm = QgsApplication.processingRegistry().algorithmById("hypersynth:samplevalidation")
    text = algorithm.shortHelpString()
    for said in ("stratified by its classes", "Olofsson et al. 2014", "the class you see on the ground",
                 "not the map's class", "class_id", "point_id", "NAME.design.json", "Accuracy assessment",
                 "says that its area figures hold", "Stehman 2014", "PER_CLASS=50", "MIN_PER_CLASS=50",
                 "TARGET_ERROR=0.01", "EXPECTED_ACCURACY=0.8", "SEED=0", "SIZE=0"):
        assert said in text, said
    assert algorithm.parameterDefinition("SIZE").options() == [
        "the same number of points on every map class",
        "a total, shared by mapped area (each class at least the minimum)",
        "as many as the target standard error needs, shared by mapped area"]


# --- labelled in QGIS, assessed --------------------------------------------------------------------------------------
def test_points_labelled_in_an_edited_layer_are_assessed_as_the_sample(hypersynth_plugin, files, tmp_path):
    """The analyst labels the drawn points in QGIS and runs the Accuracy assessment before saving: the assessment
    reads a copy of the layer, and the design beside its file goes with it, so the figures are said to hold."""
    from qgis.core import QgsVectorLayer

    out = tmp_path / "check.gpkg"
    _run({"CLASS_MAP": files["map"], "PER_CLASS": 10, "OUTPUT": str(out)})
    layer = QgsVectorLayer(str(out), "check", "ogr")
    assert layer.isValid() and layer.startEditing()
    x0, dx, _, y0, _, dy = gdal.Open(files["map"]).GetGeoTransform()
    field = layer.fields().indexOf("class_id")
    for feature in layer.getFeatures():
        point = feature.geometry().asPoint()
        row, col = int((point.y() - y0) // dy), int((point.x() - x0) // dx)
        layer.changeAttributeValue(feature.id(), field, int(CLASS_MAP[row, col]))  # the truth: the map is right
    result = processing.run("hypersynth:accuracyassessment", {
        "CLASS_MAP": files["map"], "VALIDATION": layer, "OUTPUT": str(tmp_path / "metrics.json")})
    assert layer.isEditable() and layer.isModified()  # nothing saved for the analyst
    metrics = json.loads(Path(result["OUTPUT"]).read_text())
    assert metrics["area_adjusted"]["validation_sample"].startswith("a stratified random sample of map.tif: 30 points")
    assert metrics["area_adjusted"]["validation_sample_problem"] is None and result["OVERALL_ACCURACY"] == 1.0
    processing.run("hypersynth:accuracyassessment", {
        "CLASS_MAP": files["map"], "VALIDATION": layer, "OUTPUT": str(tmp_path / "m2.json"),
        "FOLDER": str(tmp_path / "a")})
    said = next(line for line in (tmp_path / "a" / "accuracy.md").read_text().splitlines()
                if line.startswith("- Validation labels: "))
    assert said.startswith("- Validation labels: the layer 'check'") and ".fgb" not in said  # not the copy, now gone
    layer.rollBack()
