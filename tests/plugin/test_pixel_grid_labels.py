"""Labels for a scene without georeference (a pixel grid), through Processing: which files can hold them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from osgeo import gdal, ogr
from qgis.core import QgsProcessingException

import processing


def _pixel_points(path, driver: str, labels: np.ndarray) -> str:
    """Each labelled pixel as a point at its centre in the pixel coordinates QGIS shows for a scene without
    georeference (x = column + 0.5, y = -(row + 0.5)), written by OGR with no spatial reference given."""
    ds = ogr.GetDriverByName(driver).CreateDataSource(str(path))
    layer = ds.CreateLayer("labels", None, ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("class_id", ogr.OFTInteger))
    for r, c in zip(*np.nonzero(labels)):
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("class_id", int(labels[r, c]))
        point = ogr.Geometry(ogr.wkbPoint)
        point.AddPoint_2D(c + 0.5, -(r + 0.5))
        feature.SetGeometry(point)
        layer.CreateFeature(feature)
    ds = None
    return str(path)


@pytest.fixture(scope="module")
def pixel_grid(tmp_path_factory):
    """A 32 × 32 scene without georeference (as a .mat cube imported) and its sparse labels."""
    from hypersynth.core.demo import make_demo_scene, sparse_labels
    from hypersynth.core.io.write import write_scene
    from hypersynth.core.scene import PIXEL_GRID

    folder = tmp_path_factory.mktemp("pixel_grid")
    data = make_demo_scene(size=32, bands=30, n_classes=3, seed=0)
    scene = write_scene(dataclasses.replace(data.scene, transform=PIXEL_GRID, crs_wkt=None), folder / "scene.tif")
    assert not gdal.Open(str(scene)).GetProjection()  # the premise: no CRS
    return folder, str(scene), sparse_labels(data.labels, n_per_class=5, seed=0)


@pytest.mark.parametrize("name, driver", [("labels.gpkg", "GPKG"), ("labels.geojson", "GeoJSON")])
def test_a_format_that_always_records_a_crs_is_refused_with_the_formats_that_do_not(
        hypersynth_plugin, pixel_grid, tmp_path, name, driver):
    folder, scene, sparse = pixel_grid
    labels = _pixel_points(tmp_path / name, driver, sparse)
    assert ogr.Open(labels).GetLayer(0).GetSpatialRef() is not None  # GDAL reads a CRS although none was given
    with pytest.raises(QgsProcessingException) as refused:
        processing.run("hypersynth:classifybaseline", {"SCENE": scene, "LABELS": labels, "METHOD": 0,
                                                       "OUTPUT": str(tmp_path / "map.tif")})
    message = str(refused.value)
    assert f"{name} is georeferenced" in message and "the scene has no georeference" in message
    assert "save them as a Shapefile or FlatGeobuf without a CRS" in message
    assert not (tmp_path / "map.tif").exists()


@pytest.mark.parametrize("name, driver", [("labels.shp", "ESRI Shapefile"), ("labels.fgb", "FlatGeobuf")])
def test_the_formats_the_refusal_names_are_read_on_the_pixel_grid(hypersynth_plugin, pixel_grid, tmp_path, name,
                                                                   driver):
    folder, scene, sparse = pixel_grid
    labels = _pixel_points(tmp_path / name, driver, sparse)
    assert ogr.Open(labels).GetLayer(0).GetSpatialRef() is None
    result = processing.run("hypersynth:classifybaseline", {"SCENE": scene, "LABELS": labels, "METHOD": 0,
                                                            "OUTPUT": str(tmp_path / "map.tif")})
    class_map = gdal.Open(result["OUTPUT"]).ReadAsArray()
    assert class_map.shape == (32, 32)
    labelled = sparse > 0
    assert (class_map[labelled] == sparse[labelled]).mean() > 0.9  # the points landed on their own pixels
