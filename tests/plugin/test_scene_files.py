"""Scenes that are not one plain raster file: an ENVI header, NetCDF variables (as PRISMA/EnMAP HDF give), opened in
the Scene panel, classified by the dock and by Processing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException, QgsRasterLayer

import processing

from .conftest import wait_until

pytestmark = pytest.mark.usefixtures("close_layers")  # NetCDF layers closed while QGIS runs


def write_netcdf(path: Path, variables: dict[str, np.ndarray]) -> Path:
    """A NetCDF-4 file written by GDAL's multidimensional API, one variable per array (3-D: band, y, x)."""
    ds = gdal.GetDriverByName("netCDF").CreateMultiDimensional(str(path))
    root = ds.GetRootGroup()
    dims = {}
    for name, array in variables.items():
        axes = ("band", "y", "x")[-array.ndim:]
        for axis, size in zip(axes, array.shape):
            key = f"{axis}{size}"
            if key not in dims:
                dims[key] = root.CreateDimension(key, None, None, size)
        kind = gdal.ExtendedDataType.Create(gdal.GDT_Float32 if array.dtype.kind == "f" else gdal.GDT_Byte)
        variable = root.CreateMDArray(name, [dims[f"{a}{s}"] for a, s in zip(axes, array.shape)], kind)
        assert variable.Write(np.ascontiguousarray(array)) == gdal.CE_None
        del variable
    del root, dims
    ds = None  # closes the file
    return path


@dataclass
class NetcdfScene:
    path: Path  # scene.nc: a 30-band "radiance" cube and a 2-D "mask"
    source: str  # NETCDF:"…/scene.nc":radiance, the layer source QGIS gives the cube
    labels: str  # a sparse label raster on the same pixel grid
    data: object  # the demo scene


@pytest.fixture(scope="module")
def netcdf_scene(tmp_path_factory) -> NetcdfScene:
    from hypersynth.core.demo import make_demo_scene, sparse_labels
    from hypersynth.core.io.write import write_label_raster
    from hypersynth.core.scene import PIXEL_GRID

    folder = tmp_path_factory.mktemp("netcdf")
    data = make_demo_scene(size=32, bands=30, n_classes=3, seed=1)
    cube = data.scene.cube[:, ::-1]  # GDAL reads a NetCDF variable without coordinates bottom-up
    path = write_netcdf(folder / "scene.nc", {"radiance": cube, "mask": np.ones((32, 32), dtype=np.uint8)})
    labels = write_label_raster(folder / "labels.tif", sparse_labels(data.labels, n_per_class=5, seed=1),
                                data.classes, transform=PIXEL_GRID, crs_wkt=None)
    return NetcdfScene(path, f'NETCDF:"{path}":radiance', str(labels), data)


# --- the Scene panel's Open file… ----------------------------------------------------------------------------


def test_open_file_takes_an_envi_header_for_its_data_file(qgis_new_project, tmp_path, panel):
    ds = gdal.GetDriverByName("ENVI").Create(str(tmp_path / "scene.bsq"), 6, 5, 12, gdal.GDT_Float32)
    ds.GetRasterBand(1).Fill(1.0)
    ds = None
    assert (tmp_path / "scene.hdr").is_file()
    layer = panel.open_file(str(tmp_path / "scene.hdr"), qgis_new_project)
    assert layer.isValid() and layer.source() == str(tmp_path / "scene.bsq") and layer.bandCount() == 12
    assert panel.scene_layer() is layer and qgis_new_project.mapLayer(layer.id()) is layer
    (tmp_path / "alone.hdr").write_text("ENVI\nsamples = 6\nlines = 5\nbands = 12\n")
    with pytest.raises(ValueError, match=r"the ENVI header .*alone.hdr has no data file beside it"):
        panel.open_file(str(tmp_path / "alone.hdr"), qgis_new_project)


def test_open_file_opens_the_one_cube_of_a_netcdf_and_asks_among_several(qgis_new_project, netcdf_scene, tmp_path,
                                                                         monkeypatch, panel):
    import hypersynth.ui.scene_panel as scene_panel

    layer = panel.open_file(str(netcdf_scene.path), qgis_new_project)  # a cube and a 2-D mask: the cube
    assert layer.source() == netcdf_scene.source and layer.bandCount() == 30 and layer.name() == "scene radiance"
    assert panel.scene_layer() is layer

    two = write_netcdf(tmp_path / "two.nc", {"radiance": np.ones((12, 4, 5), dtype=np.float32),
                                             "reflectance": np.ones((12, 4, 5), dtype=np.float32),
                                             "mask": np.ones((4, 5), dtype=np.uint8)})
    with pytest.raises(scene_panel.SeveralDatasets, match=r"two.nc holds several rasters \(\[12x4x5\] radiance .*"
                                                          r"\[12x4x5\] reflectance .*\): choose the one that is "
                                                          r"the scene") as refused:
        panel.open_file(str(two), qgis_new_project)
    assert [name for name, _ in refused.value.datasets][:2] == [f'NETCDF:"{two}":radiance',
                                                                f'NETCDF:"{two}":reflectance']

    asked = []  # Open file… asks which one, and opens it

    def pick(parent, title, label, items, current, editable):
        asked.append(items)
        return items[1], True

    monkeypatch.setattr(scene_panel.QFileDialog, "getOpenFileName", lambda *a, **k: (str(two), ""))
    monkeypatch.setattr(scene_panel.QInputDialog, "getItem", pick)
    panel._ask_open()
    assert len(asked[0]) == 3 and asked[0][2].endswith("mask (8-bit unsigned integer)")  # the cubes first
    assert panel.scene_layer().source() == f'NETCDF:"{two}":reflectance' and panel.note.text() == ""


# --- classified by the dock and by Processing ------------------------------------------------------------------
def test_a_netcdf_scene_is_classified_by_the_dock(hypersynth_plugin, qgis_new_project, netcdf_scene, tmp_path):
    from hypersynth.ui.scene_panel import scene_problem

    scene = QgsRasterLayer(netcdf_scene.source, "scene radiance")
    labels = QgsRasterLayer(netcdf_scene.labels, "labels")
    qgis_new_project.addMapLayers([scene, labels])
    assert scene.isValid() and scene_problem(scene) is None
    task = hypersynth_plugin.run_from_dock({
        "scene_layer_id": scene.id(), "label_layer_id": labels.id(), "classes": netcdf_scene.data.classes,
        "output_folder": str(tmp_path / "run"), "method": "rf"})
    assert task is not None and wait_until(lambda: not hypersynth_plugin.tasks.running, timeout=120)
    assert task.error is None, task.error_details
    assert task.callback_error is None, task.callback_error
    group = qgis_new_project.layerTreeRoot().findGroup("run: Random forest scene radiance")
    assert group is not None and group.findLayers()[-1].layer().source() == str(tmp_path / "run" / "classification.tif")
    classes = gdal.Open(str(tmp_path / "run" / "classification.tif")).ReadAsArray()
    assert classes.shape == (32, 32) and (classes == netcdf_scene.data.labels).mean() > 0.8


def test_a_netcdf_scene_is_classified_by_processing(hypersynth_plugin, netcdf_scene, tmp_path):
    scene = QgsRasterLayer(netcdf_scene.source, "scene radiance")
    result = processing.run("hypersynth:classifybaseline", {
        "SCENE": scene, "LABELS": netcdf_scene.labels, "METHOD": 0,
        "OUTPUT": str(tmp_path / "map.tif"), "CONFIDENCE": str(tmp_path / "confidence.tif")})
    classes = gdal.Open(result["OUTPUT"]).ReadAsArray()
    assert classes.shape == (32, 32) and (classes == netcdf_scene.data.labels).mean() > 0.8
    from hypersynth.plugin.algorithms.inputs import raster_file

    gone = QgsRasterLayer(f'NETCDF:"{tmp_path / "gone.nc"}":radiance', "gone")  # its file was moved since
    with pytest.raises(QgsProcessingException, match=r"reads NETCDF:.*gone.nc.*, whose file .*gone.nc does not exist"):
        raster_file(gone, "scene", subdatasets=True)


def test_a_scene_inside_a_zip_is_refused_with_how_to_read_it(hypersynth_plugin, netcdf_scene, tmp_path):
    """A scene dragged into QGIS from a zip was refused as a file that does not exist (review)."""
    import zipfile

    from hypersynth.plugin.algorithms.inputs import raster_file

    gdal.Translate(str(tmp_path / "scene.tif"), netcdf_scene.source)
    with zipfile.ZipFile(tmp_path / "scene.zip", "w") as archive:
        archive.write(tmp_path / "scene.tif", "scene.tif")
    zipped = QgsRasterLayer(f"/vsizip/{tmp_path / 'scene.zip'}/scene.tif", "zipped scene", "gdal")
    assert zipped.isValid()
    with pytest.raises(QgsProcessingException, match=r"reads /vsizip/.*scene\.zip/scene\.tif, inside an archive; "
                                                     r"HyperSynth reads a raster from a file of its own: extract it"):
        raster_file(zipped, "scene", subdatasets=True)


def test_a_label_raster_inside_a_netcdf_is_refused_with_how_to_convert_it(hypersynth_plugin, qgis_new_project,
                                                                          netcdf_scene, tmp_path):
    from hypersynth.plugin.runs import label_file_for

    mask = QgsRasterLayer(f'NETCDF:"{netcdf_scene.path}":mask', "mask")
    scene = QgsRasterLayer(netcdf_scene.source, "scene")
    assert mask.isValid() and scene.isValid()
    qgis_new_project.addMapLayers([mask, scene])  # the project owns them: closed while QGIS runs (see above)
    convert = r"convert it first \(Raster ▸ Conversion ▸ Translate, or gdal_translate -of GTiff .*scene.tif\)"
    with pytest.raises(QgsProcessingException, match=r"the labels layer 'mask' is a dataset inside scene.nc .*"
                                                     + convert):
        processing.run("hypersynth:classifybaseline", {
            "SCENE": scene, "LABELS": mask, "METHOD": 0,
            "OUTPUT": str(tmp_path / "map.tif"), "CONFIDENCE": str(tmp_path / "confidence.tif")})
    with pytest.raises(ValueError, match=r"the label layer 'mask' is a dataset inside scene.nc .*" + convert):
        label_file_for(mask, str(tmp_path / "run"))
    assert not (tmp_path / "map.tif").exists()
