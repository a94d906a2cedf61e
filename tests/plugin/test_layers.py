"""Result layers: the class map in class colours with names, the confidence on a colour ramp from 1/K, grouped in the
project."""

from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal, osr
from qgis.core import QgsPalettedRasterRenderer, QgsSingleBandGrayRenderer, QgsSingleBandPseudoColorRenderer

from hypersynth.core.scene import ClassInfo
from hypersynth.plugin.layers import LayerLoadError, add_result_layers, class_map_layer

CLASSES = [ClassInfo(1, "water", (31, 119, 180)), ClassInfo(3, "green crop", (44, 160, 44)),
           ClassInfo(7, "bare soil", (140, 86, 75))]
RUN = "out: run"  # the result group of a run titled "run" into the folder "out" (the rasters fixture's)


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


def _outputs(folder):
    """A run's class map and confidence in ``folder`` (made)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    class_map = rng.choice([0, 1, 3, 7], size=(12, 10)).astype(np.uint8)
    confidence = rng.uniform(0.2, 1.0, size=(12, 10)).astype(np.float32)
    return (_write(folder / "classes.tif", class_map, gdal.GDT_Byte),
            _write(folder / "confidence.tif", confidence, gdal.GDT_Float32))


@pytest.fixture
def rasters(tmp_path):
    return _outputs(tmp_path / "out")


def test_class_map_layer_uses_class_colours_and_names(rasters):
    layer = class_map_layer(rasters[0], CLASSES)
    renderer = layer.renderer()
    assert isinstance(renderer, QgsPalettedRasterRenderer)
    entries = {c.value: (c.label, c.color.getRgb()[:3]) for c in renderer.classes()}
    assert entries == {1: ("water", (31, 119, 180)), 3: ("green crop", (44, 160, 44)),
                       7: ("bare soil", (140, 86, 75))}


def test_add_result_layers_groups_map_and_confidence(qgis_new_project, rasters):
    layers = add_result_layers(rasters[0], rasters[1], CLASSES, title="demo run", project=qgis_new_project)
    assert [layer.name() for layer in layers] == ["classes", "confidence"]  # the group names the run
    group = qgis_new_project.layerTreeRoot().findGroup("out: demo run")
    assert group is not None and {n.layerId() for n in group.findLayers()} == {lyr.id() for lyr in layers}
    assert qgis_new_project.mapLayer(layers[0].id()) is layers[0]
    ramp = layers[1].renderer()  # from 1/K, the least a winning class's probability can be, to 1
    assert isinstance(ramp, QgsSingleBandPseudoColorRenderer)
    assert (ramp.classificationMin(), ramp.classificationMax()) == (pytest.approx(1 / 3), 1.0)
    items = ramp.shader().rasterShaderFunction().colorRampItemList()
    assert items[0].color.lightness() < 40 and items[-1].color.lightness() > 200  # dark unsure, pale sure
    legend = [label for label, _ in ramp.legendSymbologyItems()]  # the layer panel's, not 0.333333
    assert legend == ["0.33 (1/3: every class alike)", "0.50", "0.67", "0.83", "1.00 (sure)"]
    assert not group.findLayer(layers[1].id()).itemVisibilityChecked()
    assert group.findLayer(layers[0].id()).itemVisibilityChecked()


def test_the_confidence_lies_over_the_class_map_so_ticking_it_shows_it(qgis_new_project, rasters, tmp_path):
    """The class map is opaque: a layer under it shows nothing when ticked. Rendered as the canvas renders the
    group's ticked layers, top first."""
    from qgis.core import QgsMapRendererSequentialJob, QgsMapSettings
    from qgis.PyQt.QtCore import QSize

    probabilities = _write(tmp_path / "out" / "probabilities.tif", np.full((12, 10), 0.5, np.float32),
                           gdal.GDT_Float32)
    layers = add_result_layers(rasters[0], rasters[1], CLASSES, title="run", project=qgis_new_project,
                               probabilities=probabilities)
    group = qgis_new_project.layerTreeRoot().findGroup(RUN)
    assert [n.name() for n in group.findLayers()] == ["confidence", "class probabilities", "classes"]
    assert [n.itemVisibilityChecked() for n in group.findLayers()] == [False, False, True]
    assert isinstance(layers[2].renderer(), QgsSingleBandGrayRenderer)  # a class's probability: grey, 0 to 1

    def render():
        settings = QgsMapSettings()
        settings.setLayers([n.layer() for n in group.findLayers() if n.isVisible()])  # top first, as the canvas
        settings.setDestinationCrs(layers[0].crs())
        settings.setExtent(layers[0].extent())
        settings.setOutputSize(QSize(10, 12))
        job = QgsMapRendererSequentialJob(settings)
        job.start()
        job.waitForFinished()
        image = job.renderedImage()
        return np.array([[image.pixelColor(x, y).getRgb()[:3] for x in range(10)] for y in range(12)])

    classes_only = render()
    assert (classes_only[..., 0] != classes_only[..., 1]).any()  # class colours
    group.findLayers()[0].setItemVisibilityChecked(True)  # the analyst ticks the confidence
    shown = render()
    ds = gdal.Open(rasters[1])
    confidence = ds.GetRasterBand(1).ReadAsArray()  # the dataset kept while its band is read
    ds = None
    shader = layers[1].renderer().shader()
    expected = np.array([[shader.shade(float(v))[1:4] for v in row] for row in confidence])
    assert np.abs(shown - expected).max() <= 2  # the confidence's ramp colours: it shows, over the class map


def test_the_legends_have_plain_titles(qgis_new_project, rasters, tmp_path):
    from qgis.core import QgsLayerTreeModel
    from qgis.PyQt.QtCore import Qt

    probabilities = tmp_path / "out" / "probabilities.tif"
    _write(probabilities, np.full((12, 10), 0.5, np.float32), gdal.GDT_Float32)
    ds = gdal.Open(str(probabilities), gdal.GA_Update)
    ds.GetRasterBand(1).SetDescription("probability of water (class 1)")  # as the engine names the band
    ds = None
    model = QgsLayerTreeModel(qgis_new_project.layerTreeRoot())  # the Layers panel, open before the layers arrive
    add_result_layers(rasters[0], rasters[1], CLASSES, title="run", project=qgis_new_project,
                      probabilities=probabilities)
    legends = {node.name(): [item.data(Qt.DisplayRole) for item in model.layerLegendNodes(node)]
               for node in qgis_new_project.layerTreeRoot().findGroup(RUN).findLayers()}
    assert legends["classes"] == ["Predicted class", "water", "green crop", "bare soil"]
    assert legends["confidence"][0] == "Max class probability"
    assert legends["class probabilities"][0] == "Probability of water (class 1)"
    assert not any("Band 1" in str(text) for texts in legends.values() for text in texts)
    path = str(tmp_path / "project.qgz")  # kept in a saved project
    assert qgis_new_project.write(path)
    qgis_new_project.clear()
    assert qgis_new_project.read(path)
    model = QgsLayerTreeModel(qgis_new_project.layerTreeRoot())
    node = qgis_new_project.layerTreeRoot().findGroup(RUN).findLayers()[-1]
    assert model.layerLegendNodes(node)[0].data(Qt.DisplayRole) == "Predicted class"


def test_two_runs_on_one_scene_get_groups_told_apart_by_their_first_characters(qgis_new_project, tmp_path):
    first = _outputs(tmp_path / "run_1")
    second = _outputs(tmp_path / "run_2")
    title = "Augment & Classify demo_scene"
    add_result_layers(*first, CLASSES, title=title, project=qgis_new_project)
    add_result_layers(*second, CLASSES, title=title, project=qgis_new_project)
    elsewhere = _outputs(tmp_path / "other" / "run_2")  # another folder of the same name
    add_result_layers(*elsewhere, CLASSES, title=title, project=qgis_new_project)
    names = [g.name() for g in qgis_new_project.layerTreeRoot().findGroups()]
    assert names == [f"run_2 (2): {title}", f"run_2: {title}", f"run_1: {title}"]  # the newest on top
    assert len({name[:8] for name in names}) == 3  # a narrow Layers panel cuts the end, not the start
    add_result_layers(*second, CLASSES, title=title, project=qgis_new_project)  # a rerun into run_2: replaced
    assert sorted(g.name() for g in qgis_new_project.layerTreeRoot().findGroups()) == sorted(names)


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
    assert groups == ["the analyst's group", RUN]  # one group for the folder's files, where the earlier one was
    assert [n.layerId() for n in root.findGroup(RUN).findLayers()] == [layer.id() for layer in [*second[1:], second[0]]]
    current = set(qgis_new_project.mapLayers())
    assert not stale & current  # every layer reading a replaced file left the project
    assert other.id() in current


def test_a_group_holding_the_analysts_own_layers_is_kept(qgis_new_project, rasters, tmp_path):
    from qgis.core import QgsRasterLayer

    add_result_layers(rasters[0], rasters[1], CLASSES, title="run", project=qgis_new_project)
    own = QgsRasterLayer(_write(tmp_path / "notes.tif", np.zeros((12, 10), np.uint8), gdal.GDT_Byte), "notes")
    qgis_new_project.addMapLayer(own, False)
    qgis_new_project.layerTreeRoot().findGroup(RUN).addLayer(own)
    second = add_result_layers(rasters[0], rasters[1], CLASSES, title="run", project=qgis_new_project)
    groups = [g for g in qgis_new_project.layerTreeRoot().children() if g.nodeType() == g.NodeGroup]
    in_tree = [layer.id() for layer in [*second[1:], second[0]]]  # the class map at the bottom
    assert [[n.layerId() for n in g.findLayers()] for g in groups] == [in_tree, [own.id()]]


# --- the file a layer reads: one rule for the runs, the result layers and Processing -------------------------------
@pytest.mark.parametrize("source, provider, expected", [
    ('NETCDF:"/data/scene.nc":radiance', "gdal", "/data/scene.nc"),  # a NetCDF variable: its container
    ('HDF5:"/data/prisma.h5"://HDFEOS/SWATHS/VNIR_Cube', "gdal", "/data/prisma.h5"),
    ("NETCDF:/data/scene.nc:radiance", "gdal", "/data/scene.nc"),  # GDAL leaves the quotes out of a plain path
    ("/data/labels.gpkg|layername=labels", "ogr", "/data/labels.gpkg"),  # QGIS's options are not the file's name
    ('/data/labels.shp|layerid=0|subset="class_id" = 1', "ogr", "/data/labels.shp"),
    ("/data/scene.tif|option:NUM_THREADS=2", "gdal", "/data/scene.tif"),
    ("file:///data/points.csv?type=csv&xField=x&yField=y&crs=EPSG:32633", "delimitedtext", "/data/points.csv"),
    ("/data/what?.tif", "gdal", "/data/what?.tif"),  # a "?" in a file's own name stays
    ("/vsizip//data/labels.zip/labels.shp", "ogr", "/data/labels.zip"),  # a file in an archive: the archive
    ("/data/classification.tif", "ogr", "/data/classification.tif"),  # a plain path, as outputs are named
    ("Polygon?crs=EPSG:32633&field=class_id:integer", "memory", None),
    ("/vsicurl/https://example.org/scene.tif", "gdal", None),
    ("crs=EPSG:3857&type=xyz&url=https://tile.example.org/{z}/{x}/{y}.png", "wms", None),
])
def test_the_file_a_layer_source_reads(source, provider, expected):
    from hypersynth.plugin.layers import source_file

    assert source_file(source, provider) == expected


def _netcdf(path) -> str:
    """A NetCDF file of two 2-D variables, Band1 and Band2: QGIS reads each as a subdataset layer."""
    ds = gdal.GetDriverByName("netCDF").Create(str(path), 4, 3, 2, gdal.GDT_Float32)
    ds = None
    return str(path)


def test_a_scene_inside_a_netcdf_file_is_in_the_project_while_a_layer_reads_that_file(qgis_new_project, tmp_path):
    from qgis.core import QgsRasterLayer

    from hypersynth.plugin.layers import layer_file
    from hypersynth.plugin.runs import scene_in_project

    path = _netcdf(tmp_path / "scene.nc")
    (tmp_path / "linked").symlink_to(tmp_path)
    band = QgsRasterLayer(f'NETCDF:"{path}":Band1', "radiance", "gdal")
    assert band.isValid() and layer_file(band) == path
    assert not scene_in_project(f'NETCDF:"{path}":Band1')
    qgis_new_project.addMapLayer(band)
    assert scene_in_project(f'NETCDF:"{path}":Band1')
    assert scene_in_project(f'NETCDF:"{tmp_path / "linked" / "scene.nc"}":Band1')  # the same file by another way
    assert scene_in_project(path)
    assert not scene_in_project(f'NETCDF:"{tmp_path / "other.nc"}":Band1')
    qgis_new_project.removeMapLayer(band.id())
    assert not scene_in_project(f'NETCDF:"{path}":Band1')


def test_layers_reading_an_output_go_whatever_their_source_options(qgis_new_project, rasters, tmp_path):
    """A layer reads a replaced file through a GeoPackage layer name, a filter, a CSV's options or a subdataset:
    each is a layer of that file."""
    from osgeo import ogr
    from qgis.core import QgsRasterLayer, QgsVectorLayer

    from hypersynth.plugin.layers import remove_layers_reading

    package = tmp_path / "outputs.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(package))
    ds.CreateLayer("points", None, ogr.wkbPoint)
    ds = None
    (tmp_path / "points.csv").write_text("x,y\n1,2\n")
    netcdf = _netcdf(tmp_path / "cube.nc")
    readers = [QgsVectorLayer(f"{package}|layername=points", "in the package", "ogr"),
               QgsVectorLayer(f"{package}|layername=points|subset=fid > 0", "filtered", "ogr"),
               QgsVectorLayer(f"{(tmp_path / 'points.csv').as_uri()}?type=csv&xField=x&yField=y", "csv",
                              "delimitedtext"),
               QgsRasterLayer(f'NETCDF:"{netcdf}":Band2', "variable", "gdal")]
    kept = QgsRasterLayer(rasters[0], "classes")
    assert all(layer.isValid() for layer in [*readers, kept])
    qgis_new_project.addMapLayers([*readers, kept])
    remove_layers_reading([package, tmp_path / "points.csv", netcdf], qgis_new_project)
    assert list(qgis_new_project.mapLayers()) == [kept.id()]


# --- scenes and label layers never land inside a run's result group ------------------------------------------------
@pytest.fixture
def insert_at(qgis_new_project):
    """Sets where QGIS puts a new layer, as selecting a node in the Layers panel does; back at the root's top after
    the test (the bridge keeps a bare pointer to the group)."""
    from qgis.core import QgsLayerTreeRegistryBridge

    bridge = qgis_new_project.layerTreeRegistryBridge()

    def insert_at(group, position: int = 0) -> None:
        bridge.setLayerInsertionPoint(QgsLayerTreeRegistryBridge.InsertionPoint(group, position))

    yield insert_at
    insert_at(qgis_new_project.layerTreeRoot())


def _where(project, layer) -> tuple[str, int]:
    """The name of the group holding ``layer``'s one node (the root: "") and the node's place in it."""
    nodes = [node for node in project.layerTreeRoot().findLayers() if node.layerId() == layer.id()]
    assert len(nodes) == 1 and project.mapLayer(layer.id()) is layer
    parent = nodes[0].parent()
    return ("" if parent is project.layerTreeRoot() else parent.name()), parent.children().index(nodes[0])


def test_a_scene_opened_with_a_result_group_selected_goes_above_the_group(qgis_new_project, rasters, tmp_path,
                                                                         panel, insert_at):
    from hypersynth.plugin.layers import is_result_group

    from .conftest import write_small_scene

    root = qgis_new_project.layerTreeRoot()
    field = root.addGroup("field work")  # the analyst's group, holding a run's results
    add_result_layers(rasters[0], rasters[1], CLASSES, title="run", project=qgis_new_project)
    run = root.findGroup(RUN)
    field.insertChildNode(0, run.clone())
    root.removeChildNode(run)
    run = root.findGroup(RUN)
    assert is_result_group(run) and not is_result_group(field)
    results = [node.layerId() for node in run.findLayers()]
    scene = write_small_scene(tmp_path, seed=0, n_per_class=2)[2]

    insert_at(run, 1)  # the result group selected in the Layers panel
    layer = panel.open_file(scene, qgis_new_project)
    assert _where(qgis_new_project, layer) == ("field work", 0)  # beside the run's group, above it
    insert_at(run.addGroup("inner"), 0)  # a group inside the result group: still the run's
    again = panel.open_file(scene, qgis_new_project)
    assert _where(qgis_new_project, again) == ("field work", 1)
    assert [node.layerId() for node in run.findLayers()] == results


def test_a_label_layer_created_in_a_result_group_goes_above_it(qgis_new_project, rasters, tmp_path, insert_at):
    from qgis.core import QgsCoordinateReferenceSystem

    from hypersynth.plugin.label_layer import create_label_layer

    add_result_layers(rasters[0], rasters[1], CLASSES, title="run", project=qgis_new_project)
    insert_at(qgis_new_project.layerTreeRoot().findGroup(RUN), 0)
    layer = create_label_layer(str(tmp_path / "labels.gpkg"), QgsCoordinateReferenceSystem("EPSG:32633"), CLASSES,
                               project=qgis_new_project)
    assert _where(qgis_new_project, layer) == ("", 0)


def test_an_ordinary_group_selected_takes_the_new_layer_as_qgis_would(qgis_new_project, rasters, insert_at):
    from qgis.core import QgsRasterLayer

    from hypersynth.plugin.layers import add_input_layer

    root = qgis_new_project.layerTreeRoot()
    mine = root.addGroup("mine")
    first = add_input_layer(QgsRasterLayer(rasters[1], "first"), qgis_new_project)
    mine.insertChildNode(0, root.findLayer(first.id()).clone())
    root.removeChildNode(root.findLayer(first.id()))
    insert_at(mine, 1)
    layer = add_input_layer(QgsRasterLayer(rasters[0], "scene"), qgis_new_project)
    assert _where(qgis_new_project, layer) == ("mine", 1)
    insert_at(root, 0)
    assert _where(qgis_new_project, add_input_layer(QgsRasterLayer(rasters[0], "top"), qgis_new_project)) == ("", 0)


def test_a_result_group_stays_one_in_a_saved_project(qgis_new_project, rasters, tmp_path):
    from hypersynth.plugin.layers import is_result_group

    add_result_layers(rasters[0], rasters[1], CLASSES, title="run", project=qgis_new_project)
    qgis_new_project.layerTreeRoot().addGroup("mine")
    path = str(tmp_path / "project.qgz")
    assert qgis_new_project.write(path)
    qgis_new_project.clear()
    assert qgis_new_project.read(path)
    root = qgis_new_project.layerTreeRoot()
    assert is_result_group(root.findGroup(RUN)) and not is_result_group(root.findGroup("mine"))


def test_a_scene_processing_imports_goes_above_a_selected_result_group(hypersynth_plugin, qgis_new_project, rasters,
                                                                       tmp_path, insert_at):
    import processing

    from ..sensor_products import PRISMA_NAME, write_product

    add_result_layers(rasters[0], rasters[1], CLASSES, title="run", project=qgis_new_project)
    run = qgis_new_project.layerTreeRoot().findGroup(RUN)
    results = [node.layerId() for node in run.findLayers()]
    insert_at(run, 0)  # the result group selected in the Layers panel: where Processing adds what it loads
    product = write_product("PRISMA L2D", tmp_path / "product")
    out = tmp_path / "imported.tif"
    processing.runAndLoadResults("hypersynth:importscene", {"INPUT": str(product), "OUTPUT": str(out)})
    layer = next(l for l in qgis_new_project.mapLayers().values() if l.source() == str(out))
    assert layer.name() == PRISMA_NAME and _where(qgis_new_project, layer) == ("", 0)  # above the run's group
    assert [node.layerId() for node in run.findLayers()] == results
    renderer = layer.renderer()  # in true colour, as Open file… shows a scene: not QGIS's bands 1-3
    assert (renderer.redBand(), renderer.greenBand(), renderer.blueBand()) != (1, 2, 3)
