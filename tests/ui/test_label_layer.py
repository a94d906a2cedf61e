"""The label layer: created as a styled GeoPackage, checked when adopted, merged and counted per class."""

from __future__ import annotations

import numpy as np
import pytest
from qgis.core import QgsCategorizedSymbolRenderer, QgsGeometry, QgsPointXY, QgsVectorLayer

from hypersynth.plugin.label_layer import (
    CLASS_ID_FIELD,
    CLASS_NAME_FIELD,
    LabelLayerError,
    add_label_polygon,
    class_ids_in_layer,
    class_spectra_statistics,
    create_label_layer,
    delete_class_features,
    invalid_class_ids,
    label_raster,
    labelled_pixel_counts,
    merge_class_features,
    save_labels,
    use_label_layer,
)

from .conftest import BANDS, PIXEL, physical_value, pixel_centre


def _square(row: int, col: int, size: int) -> QgsGeometry:
    """A polygon covering ``size`` x ``size`` pixels from (row, col)."""
    x0, y0 = pixel_centre(row, col)
    x0, y0 = x0 - PIXEL / 2, y0 + PIXEL / 2
    ring = [QgsPointXY(x0, y0), QgsPointXY(x0 + size * PIXEL, y0), QgsPointXY(x0 + size * PIXEL, y0 - size * PIXEL),
            QgsPointXY(x0, y0 - size * PIXEL), QgsPointXY(x0, y0)]
    return QgsGeometry.fromPolygonXY([ring])


def test_create_label_layer(tmp_path, scene_layer, classes, qgis_new_project):
    layer = create_label_layer(str(tmp_path / "new_labels.gpkg"), scene_layer.crs(), classes)
    assert layer.isValid() and (tmp_path / "new_labels.gpkg").exists()
    assert layer.id() in qgis_new_project.mapLayers()
    assert layer.fields().indexOf(CLASS_ID_FIELD) >= 0 and layer.fields().indexOf(CLASS_NAME_FIELD) >= 0
    assert layer.crs() == scene_layer.crs()
    renderer = layer.renderer()
    assert isinstance(renderer, QgsCategorizedSymbolRenderer) and renderer.classAttribute() == CLASS_ID_FIELD
    colours = {int(c.value()): c.symbol().color().getRgb()[:3] for c in renderer.categories()}
    assert colours == {c.id: c.color for c in classes}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".labels-")]  # no temp file left
    with pytest.raises(LabelLayerError, match="already exists"):
        create_label_layer(str(tmp_path / "new_labels.gpkg"), scene_layer.crs(), classes)


def test_an_unsuitable_layer_is_refused_with_a_reason(classes):
    lines = QgsVectorLayer("LineString?crs=EPSG:32633&field=class_id:integer", "roads", "memory")
    with pytest.raises(LabelLayerError, match="must hold polygons or points; 'roads' holds lines"):
        use_label_layer(lines, classes)
    no_field = QgsVectorLayer("Polygon?crs=EPSG:32633&field=name:string", "areas", "memory")
    with pytest.raises(LabelLayerError, match="no 'class_id' field"):
        use_label_layer(no_field, classes)
    good = QgsVectorLayer("Polygon?crs=EPSG:32633&field=class_id:integer", "areas", "memory")
    assert use_label_layer(good, classes) is good


def test_merge_rewrites_classes_and_undo_restores(label_layer, classes):
    add_label_polygon(label_layer, _square(0, 0, 2), 1, "corn")
    add_label_polygon(label_layer, _square(5, 5, 2), 2, "water")
    add_label_polygon(label_layer, _square(10, 10, 1), 2, "water")
    changed = merge_class_features(label_layer, 2, classes[0])
    assert changed == 2
    assert class_ids_in_layer(label_layer) == {1: "corn"}
    label_layer.undoStack().undo()  # the whole merge is one command
    assert class_ids_in_layer(label_layer) == {1: "corn", 2: "water"}
    label_layer.undoStack().redo()
    save_labels(label_layer)
    reopened = QgsVectorLayer(label_layer.source(), "again", "ogr")
    assert sorted(f[CLASS_ID_FIELD] for f in reopened.getFeatures()) == [1, 1, 1]
    assert delete_class_features(label_layer, 1) == 3 and label_layer.featureCount() == 0


def test_labelled_pixel_counts_and_class_statistics(label_layer, scene_layer):
    add_label_polygon(label_layer, _square(0, 0, 2), 1, "corn")  # 4 pixels
    add_label_polygon(label_layer, _square(6, 8, 3), 2, "water")  # 9 pixels
    assert labelled_pixel_counts(label_layer, scene_layer) == {1: 4, 2: 9}
    labels, (r0, c0) = label_raster(label_layer, scene_layer)
    assert (r0, c0) == (0, 0) and labels.shape == (9, 11)
    stats = class_spectra_statistics(label_layer, scene_layer)
    mean, std = stats[2]
    assert mean.shape == (BANDS,)
    expected = [np.mean([physical_value(b, r, c) for r in range(6, 9) for c in range(8, 11)]) for b in range(BANDS)]
    np.testing.assert_allclose(mean, expected, rtol=1e-6)
    assert np.all(std > 0)


def test_class_spectra_read_only_the_blocks_under_the_labels(tmp_path, gdal_reads):
    """Labels at two corners of a tiled scene: each band is read in the two tiles that hold them, never the labels'
    bounding box (on a full-size scene that box is the whole cube: gigabytes, and seconds in the dock)."""
    from osgeo import gdal

    from hypersynth.plugin.label_layer import labelled_spectra_statistics

    bands, side, tile = 3, 64, 16
    path = str(tmp_path / "tiled.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, side, side, bands, gdal.GDT_Float32,
                                              ["TILED=YES", f"BLOCKXSIZE={tile}", f"BLOCKYSIZE={tile}"])
    values = np.arange(bands * side * side, dtype=np.float32).reshape(bands, side, side)
    for b in range(bands):
        ds.GetRasterBand(b + 1).WriteArray(values[b])
    ds = None
    labels = np.zeros((side, side), dtype=np.int32)
    labels[1:3, 2:4] = 1  # 4 pixels in the upper-left tile
    labels[60:63, 61] = 2  # 3 pixels in the lower-right tile
    stats = labelled_spectra_statistics(path, labels[1:, 2:], (1, 2))  # the window label_raster gives
    windows = [window for window, _ in gdal_reads]
    assert sorted(set(windows)) == [(2, 1, 2, 2), (61, 60, 1, 3)] and len(windows) == 2 * bands
    for class_id, (rows, cols) in {1: (slice(1, 3), slice(2, 4)), 2: (slice(60, 63), slice(61, 62))}.items():
        mean, std = stats[class_id]
        np.testing.assert_allclose(mean, values[:, rows, cols].reshape(bands, -1).mean(axis=1))
        np.testing.assert_allclose(std, values[:, rows, cols].reshape(bands, -1).std(axis=1))


def test_ids_of_zero_or_below_label_nothing_and_are_counted_apart(label_layer, scene_layer):
    add_label_polygon(label_layer, _square(0, 0, 2), 1, "corn")
    add_label_polygon(label_layer, _square(5, 5, 3), -1, "ignore")
    add_label_polygon(label_layer, _square(10, 10, 2), 0, "")
    add_label_polygon(label_layer, _square(0, 1, 1), 0, "")  # drawn later over corn: still corn, as the engine reads it
    assert labelled_pixel_counts(label_layer, scene_layer) == {1: 4}
    assert class_ids_in_layer(label_layer) == {1: "corn"}
    assert invalid_class_ids(label_layer) == {-1: 1, 0: 2}
    assert class_spectra_statistics(label_layer, scene_layer).keys() == {1}


def test_a_scene_without_georeference_is_the_pixel_grid_qgis_shows(tmp_path, classes, qgis_new_project):
    from osgeo import gdal
    from qgis.core import QgsCoordinateReferenceSystem, QgsRasterLayer

    ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "pixels.tif"), 24, 20, 2, gdal.GDT_Int16)
    ds.GetRasterBand(1).WriteArray(np.arange(480, dtype=np.int16).reshape(20, 24))
    ds = None
    scene = QgsRasterLayer(str(tmp_path / "pixels.tif"), "pixels")
    assert not scene.crs().isValid() and scene.extent().yMaximum() == 0 and scene.extent().yMinimum() == -20
    layer = create_label_layer(str(tmp_path / "labels.gpkg"), QgsCoordinateReferenceSystem(), classes)
    assert layer.source() == str(tmp_path / "labels.shp") and not layer.crs().isValid()
    with pytest.raises(LabelLayerError, match="already exists"):
        create_label_layer(str(tmp_path / "labels.shp"), QgsCoordinateReferenceSystem(), classes)
    ring = [QgsPointXY(5, -3), QgsPointXY(8, -3), QgsPointXY(8, -5), QgsPointXY(5, -5), QgsPointXY(5, -3)]
    add_label_polygon(layer, QgsGeometry.fromPolygonXY([ring]), 2, "water")  # columns 5-7, rows 3-4
    labels, (row0, col0) = label_raster(layer, scene)
    assert (row0, col0) == (3, 5) and labels.shape == (2, 3) and (labels == 2).all()
    assert labelled_pixel_counts(layer, scene) == {2: 6}
