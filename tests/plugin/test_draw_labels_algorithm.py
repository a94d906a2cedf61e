"""`hypersynth:drawlabels` through its public id: the benchmark's label draw, written as files a run takes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr, osr
from qgis.core import QgsProcessingException

import processing

from .conftest import RecordingFeedback

INVALID_COLUMNS = 3  # the scene's first columns are no-data: the draw must never take a pixel there
# Three field polygons of the reference, (first row, last row, class name): whole rows of the 32 × 32 scene
FIELDS = ((0, 9, "water"), (12, 21, "asphalt road"), (24, 31, "bare soil"))


@dataclass
class Scene:
    folder: Path
    scene: str  # a georeferenced 32 × 32 × 30 demo scene, its first columns no-data
    reference: str  # its full ground truth as a label raster
    polygons: str  # FIELDS as polygons, class names in the field "landcover"
    classes: str  # a class file with prompts
    pixel_scene: str  # the same scene without georeference (a pixel grid)
    pixel_reference: str  # its ground truth on that grid
    ground_truth: np.ndarray
    class_names: dict


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Scene:
    from hypersynth.core.demo import make_demo_scene
    from hypersynth.core.io.classes import write_classes
    from hypersynth.core.io.write import write_label_raster, write_scene
    from hypersynth.core.scene import PIXEL_GRID

    folder = tmp_path_factory.mktemp("draw")
    demo = make_demo_scene(size=32, bands=30, n_classes=3, seed=0)
    valid = np.asarray(demo.scene.valid).copy()
    valid[:, :INVALID_COLUMNS] = False
    scene = dataclasses.replace(demo.scene, valid=valid)
    grid = {"transform": scene.transform, "crs_wkt": scene.crs_wkt}
    pixel_grid = {"transform": PIXEL_GRID, "crs_wkt": None}
    return Scene(
        folder=folder, scene=str(write_scene(scene, folder / "scene.tif")),
        reference=str(write_label_raster(folder / "reference.tif", demo.labels, demo.classes, **grid)),
        polygons=_write_fields(folder / "fields.gpkg", **grid),
        classes=str(write_classes(folder / "classes.json", demo.classes)),
        pixel_scene=str(write_scene(dataclasses.replace(scene, **pixel_grid), folder / "pixel_scene.tif")),
        pixel_reference=str(write_label_raster(folder / "pixel_reference.tif", demo.labels, demo.classes,
                                               **pixel_grid)),
        ground_truth=np.asarray(demo.labels), class_names={c.id: c.name for c in demo.classes})


def _write_fields(path: Path, transform: tuple, crs_wkt: str, rows=FIELDS, offset: float = 0.0) -> str:
    """Each field of ``rows`` as a polygon over whole rows of pixels, its class name in the field "landcover";
    ``offset`` moves them east (metres)."""
    srs = osr.SpatialReference()
    srs.ImportFromWkt(crs_wkt)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = ds.CreateLayer("fields", srs, ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("landcover", ogr.OFTString))
    x0, dx, _, y0, _, dy = transform
    for first, last, name in rows:
        left, right = x0 + offset, x0 + offset + 32 * dx
        top, bottom = y0 + first * dy, y0 + (last + 1) * dy
        ring = ogr.Geometry(ogr.wkbLinearRing)
        for x, y in ((left, top), (right, top), (right, bottom), (left, bottom), (left, top)):
            ring.AddPoint_2D(x, y)
        polygon = ogr.Geometry(ogr.wkbPolygon)
        polygon.AddGeometry(ring)
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("landcover", name)
        feature.SetGeometry(polygon)
        layer.CreateFeature(feature)
    ds = None
    return str(path)


def _expected(scene: str, reference: str, n: int, seed: int, kind: str = "random", patch: int = 9,
              class_field=None):
    """The benchmark's draw on the reference masked by the scene's valid pixels, computed apart."""
    from hypersynth.core.evaluation.protocol import few_label_split
    from hypersynth.core.io.labels import read_labels
    from hypersynth.core.io.read import read_scene

    grid = read_scene(scene)
    assert not grid.valid[:, :INVALID_COLUMNS].any() and grid.valid[:, INVALID_COLUMNS:].all()
    labels, _ = read_labels(reference, grid, class_field=class_field)
    return few_label_split(np.where(grid.valid, labels, 0), n, seed, kind=kind, patch_size=patch, valid=grid.valid)


def _points(path: str, scene: str) -> np.ndarray:
    """The training points read back onto the scene's grid, as every run reads labels."""
    from hypersynth.core.io.labels import read_labels
    from hypersynth.core.io.read import read_scene

    labels, _ = read_labels(path, read_scene(scene))
    return labels


def _fields(path: str) -> list[tuple[int, str]]:
    ds = ogr.Open(path)  # held while its layer is read
    return sorted((f.GetField("class_id"), f.GetField("class")) for f in ds.GetLayer(0))


def _raster(path: str) -> np.ndarray:
    ds = gdal.Open(path)  # held while its band is read: GDAL frees the band with it
    return ds.GetRasterBand(1).ReadAsArray()


def _run(parameters: dict, feedback=None) -> dict:
    return processing.run("hypersynth:drawlabels", parameters, feedback=feedback)


# --- the draw is the benchmark's ---------------------------------------------------------------------------------
def test_a_label_raster_gives_the_benchmarks_pixels_and_the_class_file_beside(hypersynth_plugin, data, tmp_path):
    from hypersynth.core.io.classes import read_classes

    log = RecordingFeedback()
    points, validation = tmp_path / "train.gpkg", tmp_path / "validation.tif"
    result = _run({"SCENE": data.scene, "REFERENCE": data.reference, "CLASSES": data.classes,
                   "LABELS_PER_CLASS": 5, "SEED": 3, "OUTPUT": str(points), "VALIDATION_OUTPUT": str(validation)},
                  log)
    split = _expected(data.scene, data.reference, 5, 3)
    drawn = _points(result["OUTPUT"], data.scene)
    assert result["OUTPUT"] == str(points) and result["VALIDATION_OUTPUT"] == str(validation)
    np.testing.assert_array_equal(drawn, np.where(split.train_mask, split.labels, 0))
    assert [int((drawn == c).sum()) for c in (1, 2, 3)] == [5, 5, 5]
    assert not drawn[:, :INVALID_COLUMNS].any()  # never on the scene's no-data
    assert _fields(result["OUTPUT"]) == sorted((int(i), data.class_names[int(i)]) for i in drawn[drawn > 0])
    np.testing.assert_array_equal(_raster(result["VALIDATION_OUTPUT"]), np.where(split.test_mask, split.labels, 0))
    # the class file beside: what Augment & Classify takes as its class file, the prompts carried over
    assert result["CLASS_FILE"] == str(tmp_path / "train_classes.json")
    assert read_classes(result["CLASS_FILE"]) == read_classes(data.classes)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".aux.xml")) == [
        "train.gpkg", "train_classes.json", "validation.qml", "validation.tif"]
    assert "15 training labels (5 per class, seed 3) drawn from" in " ".join(log.infos)
    assert log.warnings == [] and log.progresses[-1] == 100.0


def test_polygons_with_a_class_field(hypersynth_plugin, data, tmp_path):
    result = _run({"SCENE": data.scene, "REFERENCE": data.polygons, "CLASS_FIELD": "landcover",
                   "LABELS_PER_CLASS": 4, "SEED": 1, "OUTPUT": str(tmp_path / "train.shp")})
    split = _expected(data.scene, data.polygons, 4, 1, class_field="landcover")
    drawn = _points(result["OUTPUT"], data.scene)
    np.testing.assert_array_equal(drawn, np.where(split.train_mask, split.labels, 0))
    names = {name: int(class_id) for class_id, name in _fields(result["OUTPUT"])}
    assert sorted(names) == sorted(name for *_, name in FIELDS)
    for first, last, name in FIELDS:  # each field's four points inside it, on the scene's valid pixels
        rows, cols = np.nonzero(drawn == names[name])
        assert len(rows) == 4 and rows.min() >= first and rows.max() <= last and cols.min() >= INVALID_COLUMNS
    assert "VALIDATION_OUTPUT" not in result
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.dbf", "train.prj", "train.shp", "train.shx",
                                                           "train_classes.json"]


def test_the_disjoint_split_keeps_validation_out_of_the_training_patches(hypersynth_plugin, data, tmp_path):
    from scipy.ndimage import binary_dilation

    result = _run({"SCENE": data.scene, "REFERENCE": data.reference, "LABELS_PER_CLASS": 5, "SEED": 0,
                   "SPLIT": 1, "OUTPUT": str(tmp_path / "train.fgb"),
                   "VALIDATION_OUTPUT": str(tmp_path / "validation.tif")})
    drawn = _points(result["OUTPUT"], data.scene)
    validation = _raster(result["VALIDATION_OUTPUT"])
    guard = binary_dilation(drawn > 0, structure=np.ones((9, 9), dtype=bool))  # PATCH_SIZE 9: 4 pixels around
    assert (validation > 0).sum() > 100 and not (guard & (validation > 0)).any()
    split = _expected(data.scene, data.reference, 5, 0, kind="disjoint")
    np.testing.assert_array_equal(validation, np.where(split.test_mask, split.labels, 0))
    # the same training pixels as the random split: the split decides only what is left to validate on
    np.testing.assert_array_equal(drawn, np.where(split.train_mask, split.labels, 0))
    narrow = _run({"SCENE": data.scene, "REFERENCE": data.reference, "SPLIT": 1, "PATCH_SIZE": 3,
                   "OUTPUT": str(tmp_path / "narrow.fgb"), "VALIDATION_OUTPUT": str(tmp_path / "narrow.tif")})
    kept = _raster(narrow["VALIDATION_OUTPUT"]) > 0
    assert not (binary_dilation(drawn > 0, structure=np.ones((3, 3), dtype=bool)) & kept).any()
    assert (guard & kept).any()  # a narrower band keeps pixels the 9 × 9 one left out


def test_temporary_outputs_load_named_and_in_the_class_colours(hypersynth_plugin, data, qgis_new_project,
                                                               close_layers):
    from qgis.core import (QgsCategorizedSymbolRenderer, QgsPalettedRasterRenderer, QgsProcessingContext,
                           QgsProject)

    context = QgsProcessingContext()
    context.setProject(qgis_new_project)
    result = processing.runAndLoadResults("hypersynth:drawlabels", {
        "SCENE": data.scene, "REFERENCE": data.reference, "SPLIT": 1, "OUTPUT": "TEMPORARY_OUTPUT",
        "VALIDATION_OUTPUT": "TEMPORARY_OUTPUT"}, context=context)
    assert result["OUTPUT"].endswith(".gpkg") and Path(result["CLASS_FILE"]).name == "OUTPUT_classes.json"
    by_source = {layer.source().split("|")[0]: layer for layer in QgsProject.instance().mapLayers().values()}
    points, validation = by_source[result["OUTPUT"]], by_source[result["VALIDATION_OUTPUT"]]
    assert points.name() == "training labels (5 per class, seed 0)" and points.featureCount() == 15
    assert isinstance(points.renderer(), QgsCategorizedSymbolRenderer)
    categories = {int(c.value()): (c.label(), c.symbol().symbolLayer(1).color().name())  # the dot on its halo
                  for c in points.renderer().categories()}
    assert categories == {1: ("water", "#1f77b4"), 2: ("asphalt road", "#646464"), 3: ("bare soil", "#a6763c")}
    assert validation.name() == "validation labels (spatially disjoint split, seed 0)"
    assert isinstance(validation.renderer(), QgsPalettedRasterRenderer)
    assert {c.value: c.label for c in validation.renderer().classes()} == {1: "water", 2: "asphalt road",
                                                                          3: "bare soil"}


# --- a scene without georeference -------------------------------------------------------------------------------
def test_a_scene_without_georeference_takes_no_geopackage_and_a_temporary_output_is_flatgeobuf(
        hypersynth_plugin, data, tmp_path, qgis_new_project, close_layers):
    from qgis.core import QgsProcessingContext, QgsProject

    parameters = {"SCENE": data.pixel_scene, "REFERENCE": data.pixel_reference, "SEED": 2,
                  "VALIDATION_OUTPUT": str(tmp_path / "validation.tif")}
    with pytest.raises(QgsProcessingException, match=r"^train.gpkg: the scene has no georeference, and a GeoPackage "
                                                     r"always records a CRS, .*write the labels as train.shp or "
                                                     r"train.fgb$"):
        _run({**parameters, "OUTPUT": str(tmp_path / "train.gpkg")})
    assert list(tmp_path.iterdir()) == []  # refused before anything was written
    context = QgsProcessingContext()
    context.setProject(qgis_new_project)
    result = processing.runAndLoadResults("hypersynth:drawlabels", {**parameters, "OUTPUT": "TEMPORARY_OUTPUT"},
                                          context=context)
    assert result["OUTPUT"].endswith(".fgb") and Path(result["CLASS_FILE"]).is_file()
    loaded = {layer.source().split("|")[0]: layer for layer in QgsProject.instance().mapLayers().values()}
    assert loaded[result["OUTPUT"]].name() == "training labels (5 per class, seed 2)"  # the .fgb, not a .gpkg
    split = _expected(data.pixel_scene, data.pixel_reference, 5, 2)
    np.testing.assert_array_equal(_points(result["OUTPUT"], data.pixel_scene),
                                  np.where(split.train_mask, split.labels, 0))
    ds = ogr.Open(result["OUTPUT"])
    assert ds.GetLayer(0).GetSpatialRef() is None  # pixel coordinates, no CRS
    from qgis.core import QgsProcessingUtils

    named = Path(QgsProcessingUtils.tempFolder()) / "mine" / "train.gpkg"  # a file the analyst named there
    with pytest.raises(QgsProcessingException, match=r"^train.gpkg: the scene has no georeference"):
        _run({**parameters, "OUTPUT": str(named)})


# --- outputs all or nothing, and checked first --------------------------------------------------------------------
def test_existing_outputs_are_replaced_but_a_class_file_alone_is_refused(hypersynth_plugin, data, tmp_path):
    """As with every Processing algorithm, the destinations chosen are replaced (the dialog asks first); the class
    file beside them, which nobody was asked about, only with the earlier draw's points it belongs to."""
    parameters = {"SCENE": data.scene, "REFERENCE": data.reference, "OUTPUT": str(tmp_path / "train.gpkg"),
                  "VALIDATION_OUTPUT": str(tmp_path / "validation.tif")}
    first = _points(_run(parameters)["OUTPUT"], data.scene)
    second = _run({**parameters, "SEED": 7, "LABELS_PER_CLASS": 2})
    replaced = _points(second["OUTPUT"], data.scene)
    assert (replaced > 0).sum() == 6 and not np.array_equal(first, replaced)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing set aside is left
    own = tmp_path / "mine_classes.json"
    own.write_text('{"classes": [{"id": 1, "name": "lake"}]}')
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(QgsProcessingException, match=r"mine_classes.json already exists, and the draw writes the "
                                                     r"classes of the training labels mine.gpkg there"):
        _run({**parameters, "OUTPUT": str(tmp_path / "mine.gpkg"),
              "VALIDATION_OUTPUT": str(tmp_path / "mine_validation.tif")})
    assert sorted(p.name for p in tmp_path.iterdir()) == before and "lake" in own.read_text()


def test_destinations_are_checked_before_the_run(hypersynth_plugin, data, tmp_path):
    base = {"SCENE": data.scene, "REFERENCE": data.reference}
    with pytest.raises(QgsProcessingException, match=r"destination .*train.geojson is named as a .geojson file, "
                                                     r"but it is written as a GeoPackage \(.gpkg\), a Shapefile"):
        _run({**base, "OUTPUT": str(tmp_path / "train.geojson")})
    with pytest.raises(QgsProcessingException, match=r"is named as a .img file, but HyperSynth writes GeoTIFF"):
        _run({**base, "OUTPUT": str(tmp_path / "train.gpkg"), "VALIDATION_OUTPUT": str(tmp_path / "v.img")})
    with pytest.raises(QgsProcessingException, match=r"destination is your Reference labels file"):
        _run({**base, "OUTPUT": str(tmp_path / "train.gpkg"), "VALIDATION_OUTPUT": data.reference})
    assert list(tmp_path.iterdir()) == []


def test_inputs_are_checked_before_the_run(hypersynth_plugin, data, tmp_path):
    from scipy.io import savemat

    base = {"SCENE": data.scene, "REFERENCE": data.reference, "OUTPUT": str(tmp_path / "train.gpkg")}
    with pytest.raises(QgsProcessingException, match=r"Class and prompt file \(CLASSES\): there is no file "
                                                     r".*clases.json\. Give an existing file, or leave it empty\.$"):
        _run({**base, "CLASSES": str(data.folder / "clases.json")})
    with pytest.raises(QgsProcessingException, match=r"the reference labels are the hyperspectral scene itself"):
        _run({**base, "REFERENCE": data.scene})
    with pytest.raises(QgsProcessingException, match=r"has no field 'landuse' \(its fields: fid, landcover\)"):
        _run({**base, "REFERENCE": data.polygons, "CLASS_FIELD": "landuse"})
    mat = tmp_path / "reference_gt.mat"
    savemat(str(mat), {"reference_gt": data.ground_truth})
    with pytest.raises(QgsProcessingException, match=r"the Reference labels \(REFERENCE\) is a MATLAB .mat file, "
                                                     r"which QGIS cannot open as a layer"):
        _run({**base, "REFERENCE": str(mat)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reference_gt.mat"]


def test_cancel_leaves_no_output(hypersynth_plugin, data, tmp_path):
    """Cancel pressed while the scene is read (the engine checks it at each window of the pass over the scene; a
    32 × 32 scene has one, so the button is pressed before it)."""
    from qgis.core import QgsProcessingFeedback

    feedback = QgsProcessingFeedback()
    feedback.cancel()
    out = tmp_path / "cancelled"
    with pytest.raises(QgsProcessingException, match="^cancelled by the user; no output was written$"):
        _run({"SCENE": data.scene, "REFERENCE": data.reference, "OUTPUT": str(out / "train.gpkg"),
              "VALIDATION_OUTPUT": str(out / "validation.tif")}, feedback)
    assert not out.exists()  # the folder made for the outputs is removed again


# --- a reference that does not cover the scene -----------------------------------------------------------------------
def test_a_reference_not_covering_the_scene_is_refused_with_what_to_do(hypersynth_plugin, data, tmp_path):
    from hypersynth.core.io.classes import read_classes
    from hypersynth.core.io.write import write_label_raster

    gt = gdal.Open(data.reference)
    grid = {"transform": gt.GetGeoTransform(), "crs_wkt": gt.GetProjection()}
    classes = read_classes(data.classes)
    out = tmp_path / "out"
    parameters = {"SCENE": data.scene, "OUTPUT": str(out / "train.gpkg")}
    away = _write_fields(tmp_path / "away.gpkg", **grid, offset=10_000.0)  # 10 km east of the scene
    with pytest.raises(QgsProcessingException, match=r"away.gpkg.*outside the scene"):
        _run({**parameters, "REFERENCE": away, "CLASS_FIELD": "landcover"})
    x0, dx, rx, y0, ry, dy = grid["transform"]
    corner = write_label_raster(tmp_path / "corner.tif", data.ground_truth[:20, :20], classes,  # half a pixel off
                                transform=(x0 + dx / 2, dx, rx, y0, ry, dy), crs_wkt=grid["crs_wkt"])
    with pytest.raises(QgsProcessingException, match=r"corner.tif is on a different grid \(20×20 px.*resample the "
                                                     r"labels to the scene's grid"):
        _run({**parameters, "REFERENCE": str(corner)})
    no_data = np.zeros_like(data.ground_truth)
    no_data[:, :INVALID_COLUMNS] = data.ground_truth[:, :INVALID_COLUMNS]  # only where the scene has no data
    on_no_data = write_label_raster(tmp_path / "on_no_data.tif", no_data, classes, **grid)
    with pytest.raises(QgsProcessingException, match=r"^the reference labels no valid pixel of the scene; check "
                                                     r"that they cover it$"):
        _run({**parameters, "REFERENCE": str(on_no_data)})
    assert not out.exists() or list(out.iterdir()) == []


def test_a_seed_above_a_cpp_int_is_drawn_with_as_the_command_line_takes_it(hypersynth_plugin, data, tmp_path):
    """The command line takes seeds up to SEED_MAX (2**32 - 1); Processing's parameterAsInt gave 0 for any above
    2**31 - 1 (a C++ int)."""
    from qgis.core import QgsApplication

    from hypersynth.core.bench_inputs import SEED_MAX

    algorithm = QgsApplication.processingRegistry().algorithmById("hypersynth:drawlabels")
    assert algorithm.parameterDefinition("SEED").maximum() == SEED_MAX
    result = _run({"SCENE": data.scene, "REFERENCE": data.reference, "LABELS_PER_CLASS": 2, "SEED": SEED_MAX,
                   "OUTPUT": str(tmp_path / "train.gpkg")})
    split = _expected(data.scene, data.reference, 2, SEED_MAX)
    assert not np.array_equal(split.train_mask, _expected(data.scene, data.reference, 2, 0).train_mask)
    np.testing.assert_array_equal(_points(result["OUTPUT"], data.scene), np.where(split.train_mask, split.labels, 0))
    with pytest.raises(QgsProcessingException):
        _run({"SCENE": data.scene, "REFERENCE": data.reference, "SEED": SEED_MAX + 1,
              "OUTPUT": str(tmp_path / "other.gpkg")})


# --- what the analyst reads ------------------------------------------------------------------------------------------
def test_the_help_says_what_it_draws_and_the_defaults(hypersynth_plugin):
    from qgis.core import QgsApplication

    algorithm = QgsApplication.processingRegistry().algorithmById("hypersynth:drawlabels")
    text = algorithm.shortHelpString()
    for said in ("exactly as the benchmark draws them", "same training pixels as that row",
                 "spatially disjoint split", "PATCH_SIZE // 2", "class_id", "NAME_classes.json",
                 "class file of Augment & Classify", "LABELS_PER_CLASS=5", "SEED=0",
                 "SPLIT=0 (of 0 random, 1 spatially disjoint, 2 no overlap of patches)", "PATCH_SIZE=9",
                 "The optional output VALIDATION_OUTPUT is written only when given", "CLASSES is a JSON file"):
        assert said in text, said
    assert algorithm.group() == "Classification"
    assert algorithm.provider().supportedOutputVectorLayerExtensions() == ["gpkg", "shp", "fgb"]
    assert algorithm.parameterDefinition("PATCH_SIZE").flags() & algorithm.parameterDefinition(
        "PATCH_SIZE").FlagAdvanced
    assert algorithm.parameterDefinition("SPLIT").options() == ["random", "spatially disjoint", "no overlap of patches"]


def test_a_share_of_each_class_instead_of_labels_per_class(hypersynth_plugin, data, tmp_path):
    """SHARE 10 (%): a tenth of each class's reference pixels on the scene's valid pixels, rounded, at least one."""
    from hypersynth.core.evaluation.protocol import share_split
    from hypersynth.core.io.read import read_scene

    log = RecordingFeedback()
    result = _run({"SCENE": data.scene, "REFERENCE": data.reference, "LABELS_PER_CLASS": 5, "SHARE": 10, "SEED": 3,
                   "OUTPUT": str(tmp_path / "train.gpkg")}, log)
    valid = np.asarray(read_scene(data.scene).valid)
    expected = share_split(np.where(valid, data.ground_truth, 0), 0.1, 3, valid=valid)
    drawn = _points(result["OUTPUT"], data.scene)
    np.testing.assert_array_equal(drawn, expected.train_labels())
    for class_id in (1, 2, 3):
        held = int(((data.ground_truth == class_id) & valid).sum())
        assert int((drawn == class_id).sum()) == max(1, round(held / 10))
    assert "(10 % of each class, seed 3) drawn from" in " ".join(log.infos)
    with pytest.raises(QgsProcessingException, match=r"100 % would leave nothing to validate on"):
        _run({"SCENE": data.scene, "REFERENCE": data.reference, "SHARE": 100, "OUTPUT": str(tmp_path / "u.gpkg")})
    assert not (tmp_path / "u.gpkg").exists()
