"""Result layers: the class map in class colours with names, the confidence in grey, grouped in the project."""

from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal, osr
from qgis.core import QgsPalettedRasterRenderer, QgsSingleBandGrayRenderer

from hypersynth.core.scene import ClassInfo
from hypersynth.plugin.layers import LayerLoadError, add_result_layers, class_map_layer

CLASSES = [ClassInfo(1, "water", (31, 119, 180)), ClassInfo(3, "green crop", (44, 160, 44)),
           ClassInfo(7, "bare soil", (140, 86, 75))]


def _write(path, array: np.ndarray, data_type: int) -> str:
    driver = gdal.GetDriverByName("GTiff")
    ds = driver.Create(str(path), array.shape[1], array.shape[0], 1, data_type)
    ds.SetGeoTransform((500000.0, 10.0, 0.0, 5800000.0, 0.0, -10.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    ds.GetRasterBand(1).WriteArray(array)
    ds = None
    return str(path)


@pytest.fixture
def rasters(tmp_path):
    rng = np.random.default_rng(0)
    class_map = rng.choice([0, 1, 3, 7], size=(12, 10)).astype(np.uint8)
    confidence = rng.uniform(0.2, 1.0, size=(12, 10)).astype(np.float32)
    return (_write(tmp_path / "classes.tif", class_map, gdal.GDT_Byte),
            _write(tmp_path / "confidence.tif", confidence, gdal.GDT_Float32))


def test_class_map_layer_uses_class_colours_and_names(rasters):
    layer = class_map_layer(rasters[0], CLASSES)
    renderer = layer.renderer()
    assert isinstance(renderer, QgsPalettedRasterRenderer)
    entries = {c.value: (c.label, c.color.getRgb()[:3]) for c in renderer.classes()}
    assert entries == {1: ("water", (31, 119, 180)), 3: ("green crop", (44, 160, 44)),
                       7: ("bare soil", (140, 86, 75))}


def test_add_result_layers_groups_map_and_confidence(qgis_new_project, rasters):
    layers = add_result_layers(rasters[0], rasters[1], CLASSES, title="demo run", project=qgis_new_project)
    assert [layer.name() for layer in layers] == ["demo run: classes", "demo run: confidence"]
    group = qgis_new_project.layerTreeRoot().findGroup("demo run")
    assert group is not None and [n.layerId() for n in group.findLayers()] == [lyr.id() for lyr in layers]
    assert qgis_new_project.mapLayer(layers[0].id()) is layers[0]
    grey = layers[1].renderer()
    assert isinstance(grey, QgsSingleBandGrayRenderer)
    stretch = grey.contrastEnhancement()
    assert (stretch.minimumValue(), stretch.maximumValue()) == (0.0, 1.0)
    assert not group.findLayer(layers[1].id()).itemVisibilityChecked()
    assert group.findLayer(layers[0].id()).itemVisibilityChecked()


def test_missing_file_gives_a_clear_error(tmp_path):
    with pytest.raises(LayerLoadError, match="could not open"):
        class_map_layer(tmp_path / "nothing.tif", CLASSES)


def test_a_run_into_the_same_files_replaces_the_earlier_group_in_its_place(qgis_new_project, rasters, tmp_path):
    from qgis.core import QgsRasterLayer

    earlier_probabilities = _write(tmp_path / "probabilities.tif", np.zeros((12, 10), np.float32), gdal.GDT_Float32)
    first = add_result_layers(rasters[0], rasters[1], CLASSES, title="run", project=qgis_new_project,
                              probabilities=earlier_probabilities)
    root = qgis_new_project.layerTreeRoot()
    root.insertGroup(0, "the analyst's group")  # above the run's group
    moved = QgsRasterLayer(rasters[1], "my restyled confidence")  # a copy the analyst put elsewhere
    qgis_new_project.addMapLayer(moved)
    kept = _write(tmp_path / "other.tif", np.zeros((12, 10), np.uint8), gdal.GDT_Byte)  # a file the run did not write
    other = QgsRasterLayer(kept, "other")
    qgis_new_project.addMapLayer(other)
    stale = {layer.id() for layer in first} | {moved.id()}

    second = add_result_layers(rasters[0], rasters[1], CLASSES, title="run", project=qgis_new_project,
                               replaced=[earlier_probabilities])  # the rerun removed the earlier probabilities
    groups = [node.name() for node in root.children() if node.nodeType() == node.NodeGroup]
    assert groups == ["the analyst's group", "run"]  # one group for the folder's files, where the earlier one was
    assert [n.layerId() for n in root.findGroup("run").findLayers()] == [layer.id() for layer in second]
    current = set(qgis_new_project.mapLayers())
    assert not stale & current  # every layer reading a replaced file left the project
    assert other.id() in current


def test_a_group_holding_the_analysts_own_layers_is_kept(qgis_new_project, rasters, tmp_path):
    from qgis.core import QgsRasterLayer

    add_result_layers(rasters[0], rasters[1], CLASSES, title="run", project=qgis_new_project)
    own = QgsRasterLayer(_write(tmp_path / "notes.tif", np.zeros((12, 10), np.uint8), gdal.GDT_Byte), "notes")
    qgis_new_project.addMapLayer(own, False)
    qgis_new_project.layerTreeRoot().findGroup("run").addLayer(own)
    second = add_result_layers(rasters[0], rasters[1], CLASSES, title="run", project=qgis_new_project)
    groups = [g for g in qgis_new_project.layerTreeRoot().children() if g.nodeType() == g.NodeGroup]
    assert [[n.layerId() for n in g.findLayers()] for g in groups] == [[layer.id() for layer in second], [own.id()]]
