"""Point label layers (field GPS points) in the dock: adopted, counted as a run burns them, not painted on."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pytest
from osgeo import gdal, ogr, osr
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsGeometry,
    QgsMarkerSymbol,
    QgsPointXY,
    QgsRasterLayer,
    QgsVectorLayer,
)

from hypersynth.core.io.labels import read_labels
from hypersynth.core.io.read import read_scene
from hypersynth.plugin.label_layer import (
    LabelLayerError,
    class_spectra_statistics,
    label_raster,
    labelled_pixel_counts,
    use_label_layer,
)
from hypersynth.ui.classes_panel import ClassesPanel
from hypersynth.ui.label_tools import NEEDS_POLYGON_LAYER, PIXEL_UNITS

from ..plugin.conftest import hypersynth_plugin, wait_until, write_label_points, write_small_scene  # noqa: F401
from .conftest import BANDS, ORIGIN, PIXEL, physical_value, pixel_centre

UTM_GRID = (ORIGIN[0], PIXEL, 0.0, ORIGIN[1], 0.0, -PIXEL)  # the test scene's: exact in binary
# A geographic grid of 30 m pixels at 48° N: the pixel size has no exact binary form, so a point on a pixel edge
# lands on one side or the other by the rounding of the arithmetic, which the dock must do as a run does
DEGREE_GRID = (12.3456, 0.000269494585236, 0.0, 48.1234, 0.0, -0.000269494585236)


def _write_grid(path: Path, transform: tuple[float, ...], epsg: int, rows: int = 10, cols: int = 12) -> str:
    """A 10-band (the fewest a run takes) float32 GeoTIFF on ``transform`` in ``epsg``."""
    ds = gdal.GetDriverByName("GTiff").Create(str(path), cols, rows, 10, gdal.GDT_Float32)
    ds.SetGeoTransform(transform)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    ds.SetProjection(srs.ExportToWkt())
    for b in range(10):
        ds.GetRasterBand(b + 1).WriteArray(np.arange(rows * cols, dtype=np.float32).reshape(rows, cols) + 100 * b)
    ds = None
    return str(path)


def _write_points(path: Path, points: list[tuple[float, float, int]], epsg: Optional[int]) -> str:
    """Points ``(x, y, class id)`` in a GeoPackage layer "labels" with an integer ``class_id``, in feature order."""
    srs = None
    if epsg is not None:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)  # x = easting or longitude, as QGIS writes
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = ds.CreateLayer("labels", srs, ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("class_id", ogr.OFTInteger))
    for x, y, class_id in points:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("class_id", class_id)
        point = ogr.Geometry(ogr.wkbPoint)
        point.AddPoint_2D(x, y)
        feature.SetGeometry(point)
        layer.CreateFeature(feature)
    ds = None
    return str(path)


def _on_scene(window: np.ndarray, origin: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """The dock's label window put on the whole scene grid, to compare with the engine's label map."""
    labels = np.zeros(shape, dtype=np.int64)
    labels[origin[0]:origin[0] + window.shape[0], origin[1]:origin[1] + window.shape[1]] = window
    return labels


def _lattice(transform: tuple[float, ...], rows: int, cols: int, seed: int) -> list[tuple[float, float, int]]:
    """Points on every pixel corner and edge of the grid (its right and bottom edges too, which lie off the scene),
    at pixel centres, at random, and beyond the scene, with class ids 1-3 in turn: several fall in one pixel."""
    x0, dx, _, y0, _, dy = transform
    spots = [(c, r) for r in range(rows + 1) for c in range(cols + 1)]  # corners
    spots += [(c + 0.5, r) for r in range(rows + 1) for c in range(cols)]  # on horizontal edges
    spots += [(c, r + 0.5) for r in range(rows) for c in range(cols + 1)]  # on vertical edges
    spots += [(c + 0.5, r + 0.5) for r in range(0, rows, 3) for c in range(0, cols, 3)]  # centres
    rng = np.random.default_rng(seed)
    spots += [tuple(v) for v in rng.uniform([0, 0], [cols, rows], size=(60, 2))]
    spots += [(-0.5, 2.5), (cols + 2.0, 1.5), (3.5, -1.0), (3.5, rows + 0.25)]  # off the scene: label nothing
    return [(x0 + c * dx, y0 + r * dy, 1 + i % 3) for i, (c, r) in enumerate(spots)]


def test_point_layers_are_label_layers_under_the_polygons_rules(classes):
    for kind in ("Point", "MultiPoint"):
        points = QgsVectorLayer(f"{kind}?crs=EPSG:32633&field=class_id:integer", "gps", "memory")
        assert use_label_layer(points, classes) is points
        symbols = [c.symbol() for c in points.renderer().categories()]
        assert all(isinstance(s, QgsMarkerSymbol) for s in symbols) and len(symbols) == len(classes)
    text_ids = QgsVectorLayer("Point?crs=EPSG:32633&field=class_id:string", "gps", "memory")
    with pytest.raises(LabelLayerError, match="'class_id' field of 'gps' must be an integer field"):
        use_label_layer(text_ids, classes)
    no_field = QgsVectorLayer("Point?crs=EPSG:32633&field=name:string", "gps", "memory")
    with pytest.raises(LabelLayerError, match="no 'class_id' field"):
        use_label_layer(no_field, classes)
    table = QgsVectorLayer("None?field=class_id:integer", "table", "memory")
    with pytest.raises(LabelLayerError, match="must hold polygons or points; 'table' holds no geometry"):
        use_label_layer(table, classes)


@pytest.mark.parametrize("transform, epsg", [(UTM_GRID, 32633), (DEGREE_GRID, 4326)], ids=["utm", "degrees"])
def test_the_dock_burns_points_pixel_for_pixel_as_a_run_reads_them(tmp_path, classes, qgis_new_project, transform,
                                                                  epsg):
    """Points on pixel corners and edges (the scene's own edges too), at centres, at random, off the scene and
    several in one pixel: the dock's label map and counts are the engine's, pixel for pixel."""
    rows, cols = 10, 12
    scene_path = _write_grid(tmp_path / "scene.tif", transform, epsg, rows, cols)
    labels_path = _write_points(tmp_path / "gps.gpkg", _lattice(transform, rows, cols, seed=epsg), epsg)
    scene = QgsRasterLayer(scene_path, "scene")
    layer = use_label_layer(QgsVectorLayer(labels_path, "gps", "ogr"), classes)
    window, origin = label_raster(layer, scene)
    engine, _ = read_labels(labels_path, read_scene(scene_path), class_field="class_id")
    np.testing.assert_array_equal(_on_scene(window, origin, (rows, cols)), engine)
    expected = {int(i): int(n) for i, n in enumerate(np.bincount(engine.ravel())) if i and n}
    assert labelled_pixel_counts(layer, scene) == expected and sum(expected.values()) > rows * cols // 2


def test_a_lone_point_burns_its_pixel_wherever_it_lies(tmp_path, scene_layer, classes, qgis_new_project):
    """One point is a bounding box of no size: the window is the pixel it falls in, on a pixel's edge or corner too
    (the pixel right of and below it, as GDAL floors), and nothing when it lies on the scene's far edge."""
    layer = use_label_layer(QgsVectorLayer("Point?crs=EPSG:32633&field=class_id:integer", "gps", "memory"), classes)
    layer.startEditing()
    x0, y0 = ORIGIN
    cases = [((x0 + 4.5 * PIXEL, y0 - 2.5 * PIXEL), (2, 4)),  # a pixel's centre
             ((x0 + 5 * PIXEL, y0 - 2.5 * PIXEL), (2, 5)),  # the edge between columns 4 and 5
             ((x0 + 7 * PIXEL, y0 - 3 * PIXEL), (3, 7)),  # a corner of four pixels
             ((x0, y0), (0, 0)),  # the scene's upper-left corner
             ((x0 + 24 * PIXEL, y0 - 3.5 * PIXEL), None),  # the scene's right edge: off it
             ((x0 + 2.5 * PIXEL, y0 - 20 * PIXEL), None)]  # its bottom edge
    feature = QgsFeature(layer.fields())
    feature.setAttribute("class_id", 2)
    feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(0, 0)))
    assert layer.addFeature(feature)
    fid = next(layer.getFeatures()).id()
    for (x, y), pixel in cases:
        assert layer.changeGeometry(fid, QgsGeometry.fromPointXY(QgsPointXY(x, y)))
        window, origin = label_raster(layer, scene_layer)
        if pixel is None:
            assert window.shape == (0, 0) and labelled_pixel_counts(layer, scene_layer) == {}
        else:
            assert window.tolist() == [[2]] and origin == pixel, (x, y)
    layer.rollBack()


def test_points_without_crs_burn_on_the_pixel_grid_of_a_scene_without_georeference(tmp_path, classes,
                                                                                   qgis_new_project):
    """A scene without georeference is the grid QGIS shows (x = column, y = -row); points drawn over it without CRS,
    on pixel edges and corners too, burn as the run reads the copy the dock hands it."""
    from hypersynth.plugin.runs import label_file_for

    rows, cols = 9, 11
    ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "pixels.tif"), cols, rows, 10, gdal.GDT_Float32)
    for b in range(10):
        ds.GetRasterBand(b + 1).WriteArray(np.arange(rows * cols, dtype=np.float32).reshape(rows, cols) + b)
    ds = None
    scene = QgsRasterLayer(str(tmp_path / "pixels.tif"), "pixels")
    assert not scene.crs().isValid()
    layer = QgsVectorLayer("Point?field=class_id:integer", "gps", "memory")
    layer.setCrs(QgsCoordinateReferenceSystem())  # a memory layer starts in EPSG:4326
    layer = use_label_layer(layer, classes)
    assert not layer.crs().isValid()
    features = []
    for x, y, class_id in _lattice((0.0, 1.0, 0.0, 0.0, 0.0, -1.0), rows, cols, seed=5):
        feature = QgsFeature(layer.fields())
        feature.setAttribute("class_id", class_id)
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x, y)))
        features.append(feature)
    assert layer.dataProvider().addFeatures(features)
    window, origin = label_raster(layer, scene)
    copy, _ = label_file_for(layer, str(tmp_path / "run"))
    engine, _ = read_labels(copy, read_scene(str(tmp_path / "pixels.tif")), class_field="class_id")
    np.testing.assert_array_equal(_on_scene(window, origin, (rows, cols)), engine)
    assert _on_scene(window, origin, (rows, cols))[3, 5] > 0  # the corner (5, -3) labels column 5, row 3


def test_points_give_the_class_spectra_of_the_pixels_they_fall_in(tmp_path, scene_layer, classes, qgis_new_project):
    pixels = {1: [(0, 0), (3, 7), (3, 7)], 2: [(10, 20), (11, 20), (19, 23)]}  # (3, 7) twice: one pixel
    points = [(*pixel_centre(r, c), class_id) for class_id, spots in pixels.items() for r, c in spots]
    path = _write_points(tmp_path / "gps.gpkg", points, 32633)
    layer = use_label_layer(QgsVectorLayer(path, "gps", "ogr"), classes)
    assert labelled_pixel_counts(layer, scene_layer) == {1: 2, 2: 3}
    stats = class_spectra_statistics(layer, scene_layer)
    for class_id, spots in pixels.items():
        mean, _ = stats[class_id]
        expected = [np.mean([physical_value(b, r, c) for r, c in sorted(set(spots))]) for b in range(BANDS)]
        np.testing.assert_allclose(mean, expected, rtol=1e-6)


# --- the panel ----------------------------------------------------------------------------------------------------
def _gps_layer(tmp_path: Path, project) -> QgsVectorLayer:
    """Field GPS points of the test scene: corn at two pixels, water at three, as QGIS opens a GeoPackage."""
    points = [(*pixel_centre(1, 1), 1), (*pixel_centre(2, 2), 1),
              (*pixel_centre(10, 10), 2), (*pixel_centre(10, 11), 2), (*pixel_centre(11, 10), 2)]
    layer = QgsVectorLayer(_write_points(tmp_path / "gps.gpkg", points, 32633), "demo label points", "ogr")
    assert layer.isValid()
    project.addMapLayer(layer)
    return layer


def test_the_panel_takes_point_labels_counts_them_and_explains_why_it_paints_no_polygons(
        keep, canvas, scene_layer, label_layer, classes, tmp_path, qgis_new_project):
    from qgis.core import QgsMapLayerProxyModel

    gps = _gps_layer(tmp_path, qgis_new_project)
    roads = QgsVectorLayer("LineString?crs=EPSG:32633&field=class_id:integer", "roads", "memory")
    qgis_new_project.addMapLayer(roads)
    panel = keep(ClassesPanel(canvas))
    panel.set_classes(classes)
    panel.set_scene_layer(scene_layer)
    panel.set_label_layer(label_layer)  # the polygon layer first: a tool on
    panel.brush_button.setChecked(True)
    assert canvas.mapTool() is panel.brush
    listed = [panel.layer_box.layer(i) for i in range(panel.layer_box.count())]
    assert gps in listed and label_layer in listed and roads not in listed
    assert panel.layer_box.filters() & QgsMapLayerProxyModel.PointLayer
    panel.layer_box.setLayer(gps)  # as the analyst picks it in the combo
    assert panel.label_layer() is gps and panel.pixel_counts() == {1: 2, 2: 3}
    assert panel.table.item(0, 3).text() == "2" and panel.label_note.isHidden()
    for button in (panel.brush_button, panel.polygon_button):
        assert not button.isEnabled() and not button.isChecked() and f"\n{NEEDS_POLYGON_LAYER}." in button.toolTip()
    assert "Add Point Feature" in NEEDS_POLYGON_LAYER and "New…" in NEEDS_POLYGON_LAYER
    assert canvas.mapTool() is not panel.brush  # the brush let go of the canvas
    with pytest.raises(LabelLayerError, match="holds points"):  # nothing to paint into, even when asked
        panel.brush.add_stroke([QgsPointXY(*pixel_centre(5, 5))])
    assert gps.featureCount() == 5
    panel.select_class(3)
    assert not panel.brush_button.isEnabled()  # a class selected does not make points paintable


def test_points_added_deleted_undone_and_saved_through_the_panel(keep, canvas, scene_layer, classes, tmp_path,
                                                                qgis_new_project):
    gps = _gps_layer(tmp_path, qgis_new_project)
    panel = keep(ClassesPanel(canvas))
    panel.set_classes(classes)
    panel.set_scene_layer(scene_layer)
    panel.set_label_layer(gps)
    gps.startEditing()  # as QGIS's Add Point Feature tool adds one
    feature = QgsFeature(gps.fields())
    feature.setAttribute("class_id", 3)
    feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(*pixel_centre(15, 4))))
    assert gps.addFeature(feature)
    assert panel.refresh_counts() == {1: 2, 2: 3, 3: 1}
    assert panel.delete_class(2, delete_labels=True) == 3
    assert panel.refresh_counts() == {1: 2, 3: 1} and [c.id for c in panel.classes()] == [1, 3]
    assert panel.undo_button.isEnabled()
    panel.undo_button.click()  # the points and the class come back together
    assert panel.refresh_counts() == {1: 2, 2: 3, 3: 1} and [c.id for c in panel.classes()] == [1, 2, 3]
    assert panel.save_labels_button.isEnabled()
    panel.save_labels_button.click()
    saved = QgsVectorLayer(gps.source(), "saved", "ogr")
    assert sorted(f["class_id"] for f in saved.getFeatures()) == [1, 1, 2, 2, 2, 3]
    gps.rollBack()


def test_a_dock_run_learns_from_the_points_the_dock_counts(hypersynth_plugin, qgis_iface, keep, tmp_path,
                                                          qgis_new_project):
    """The demo's label points, one more added and not saved (as QGIS's Add Point Feature leaves it): the file the
    run reads burns to the dock's counts, and the run from the dock classifies with every class of the points."""
    from hypersynth.plugin.runs import label_file_for
    from hypersynth.ui.main_dock import HyperSynthDock

    (tmp_path / "scene").mkdir()
    data, sparse, scene_path, _ = write_small_scene(tmp_path / "scene", seed=2, n_per_class=4)
    path = write_label_points(tmp_path / "gps.gpkg", np.where(sparse == 3, 0, sparse),  # class 3: added below
                              {c.id: c.name for c in data.classes}, data.scene.transform, data.scene.crs_wkt)
    scene, gps = QgsRasterLayer(scene_path, "scene"), QgsVectorLayer(path, "demo label points", "ogr")
    qgis_new_project.addMapLayers([scene, gps])
    dock = keep(HyperSynthDock(qgis_iface), 480, 620)
    dock.set_scene_layer(scene)
    dock.set_classes(data.classes)
    dock.set_label_layer(gps)
    assert dock.label_layer() is gps
    gps.startEditing()
    x0, dx, _, y0, _, dy = data.scene.transform
    for r, c in zip(*np.nonzero(sparse == 3)):
        feature = QgsFeature(gps.fields())
        feature.setAttribute("class_id", 3)
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x0 + (c + 0.5) * dx, y0 + (r + 0.5) * dy)))
        assert gps.addFeature(feature)
    counts = dock.classes_panel.refresh_counts()
    copy, temporary = label_file_for(gps, str(tmp_path / "check"))
    assert temporary == copy  # the unsaved points go to the run in a copy
    engine, _ = read_labels(copy, read_scene(scene_path), class_field="class_id")
    assert counts == {int(i): int(n) for i, n in enumerate(np.bincount(engine.ravel())) if i and n}
    assert set(counts) == {1, 2, 3} and dock.run_problems() == []
    emitted: list[dict] = []
    dock.runRequested.connect(emitted.append)
    values = dock.request_run({"output_folder": str(tmp_path / "run"), "seed": 3})
    assert emitted == [values] and values["label_layer_id"] == gps.id()
    # the dock asks for Augment & Classify; a random forest reads the same label file, in seconds
    task = hypersynth_plugin.run_from_dock({**values, "method": "rf"})
    assert task is not None and wait_until(lambda: not hypersynth_plugin.tasks.running, timeout=120)
    assert task.error is None, task.error_details
    assert {c.id for c in task.result.classes} == {1, 2, 3}
    assert 3 in np.unique(gdal.Open(str(tmp_path / "run" / "classification.tif")).ReadAsArray())
    gps.rollBack()
    dock.cleanup()


# --- the brush radius over a scene without georeference -----------------------------------------------------------
def _scene_without_crs(path, project, transform=None) -> QgsRasterLayer:
    """A 2-band GeoTIFF with no CRS (and no geotransform unless given), added to ``project``."""
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 86, 83, 2, gdal.GDT_Float32)
    if transform is not None:
        ds.SetGeoTransform(transform)
    ds = None
    layer = QgsRasterLayer(str(path), path.stem)
    assert layer.isValid() and not layer.crs().isValid()
    project.addMapLayer(layer)
    return layer


def _panel_on_a_degree_canvas(keep, canvas, classes) -> ClassesPanel:
    """The classes panel over a canvas in EPSG:4326, QGIS's default where a scene has no CRS."""
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:4326"))
    panel = keep(ClassesPanel(canvas))
    panel.set_classes(classes)
    return panel


def test_the_brush_radius_is_in_scene_pixels_over_a_scene_without_georeference(keep, canvas, scene_layer, classes,
                                                                              tmp_path, qgis_new_project):
    """QGIS draws a scene without CRS with x = column, y = -row on a canvas that says EPSG:4326: the radius is in
    the scene's pixels, not "degrees"."""
    pixels = _scene_without_crs(tmp_path / "salinas.tif", qgis_new_project)
    panel = _panel_on_a_degree_canvas(keep, canvas, classes)
    messages: list[str] = []
    panel.message.connect(messages.append)
    assert "deg" in panel.radius.suffix()  # no scene yet: the canvas's units
    panel.set_scene_layer(pixels)
    assert panel.radius.suffix() == f" {PIXEL_UNITS}" and panel.radius.decimals() == 1
    assert "scene pixels" in panel.radius.toolTip() and "no georeference" in panel.radius.toolTip()
    panel.radius.setValue(3)
    assert panel.brush.radius() == 3 and panel.radius.text() == f"3.0 {PIXEL_UNITS}"
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))  # still the scene's pixels on the map
    assert panel.radius.value() == 3 and panel.radius.suffix() == f" {PIXEL_UNITS}"
    canvas.setDestinationCrs(scene_layer.crs())
    panel.set_scene_layer(scene_layer)  # a georeferenced scene: metres, and a radius in pixels is no radius there
    assert panel.radius.suffix() == " m" and panel.radius.value() == 0
    assert "now in meters" in messages[-1] and "back to auto" in messages[-1]


def test_the_brush_radius_is_in_the_grids_units_over_a_scene_with_a_grid_but_no_crs(keep, canvas, classes, tmp_path,
                                                                                   qgis_new_project):
    """A file with a geotransform of 30 units a pixel but no CRS: the map's coordinates are its grid's, so a radius
    said in "scene px" would paint a thirtieth of a pixel."""
    from hypersynth.ui.label_tools import GRID_UNITS

    grid = _scene_without_crs(tmp_path / "grid.tif", qgis_new_project, (500000.0, 30.0, 0.0, 5800000.0, 0.0, -30.0))
    panel = _panel_on_a_degree_canvas(keep, canvas, classes)
    panel.set_scene_layer(grid)
    assert panel.radius.suffix() == f" {GRID_UNITS}" and "30 a pixel" in panel.radius.toolTip()
    panel.radius.setValue(45)
    assert panel.brush.radius() == 45  # a pixel and a half, in the map's units
