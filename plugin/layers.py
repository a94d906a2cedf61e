"""Result layers in the project: the class map in class colours and names; confidence on a colour ramp,
probabilities in grey; scene and label layers kept out of result groups."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

from qgis.core import (
    QgsColorRampShader,
    QgsContrastEnhancement,
    QgsLayerTreeGroup,
    QgsLayerTreeLayer,
    QgsLayerTreeNode,
    QgsMapLayerLegendUtils,
    QgsPalettedRasterRenderer,
    QgsSimpleLegendNode,
    QgsMapLayer,
    QgsProject,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsRasterShader,
    QgsSingleBandGrayRenderer,
    QgsSingleBandPseudoColorRenderer,
    QgsStyle,
)
from qgis.PyQt.QtGui import QColor

from ..core.scene import ClassInfo

PathLike = Union[str, Path]
PATCH_MOSAIC = "hypersynth/patch_mosaic"  # custom property, True on a layer add_patch_mosaic added
RESULT_GROUP = "hypersynth/result_group"  # custom property, True on a group add_result_layers made (saved in projects)
# The result layers' names in their group (the group names the run): short, so a narrow Layers panel tells them apart
CLASSES_NAME, CONFIDENCE_NAME, PROBABILITIES_NAME = "classes", "confidence", "class probabilities"
# The legend's title over the class colours and the confidence ramp, instead of QGIS's "Band 1: class (Palette)"
CLASSES_TITLE, CONFIDENCE_TITLE = "Predicted class", "Max class probability"


class LayerLoadError(ValueError):
    """A result file could not be opened as a QGIS layer."""


def _open_raster(path: PathLike, name: str) -> QgsRasterLayer:
    layer = QgsRasterLayer(str(path), name, "gdal")
    if not layer.isValid():
        raise LayerLoadError(f"QGIS could not open {path} as a raster layer; check that the file exists "
                             "and is a complete GeoTIFF")
    return layer


def class_renderer(layer: QgsRasterLayer, classes: Sequence[ClassInfo]) -> QgsPalettedRasterRenderer:
    """A paletted renderer showing each class id in its colour, labelled with its name (0 stays empty)."""
    entries = [QgsPalettedRasterRenderer.Class(int(c.id), QColor(*c.color), c.name) for c in classes]
    return QgsPalettedRasterRenderer(layer.dataProvider(), 1, entries)


CONFIDENCE_RAMP = "Magma"  # QGIS's perceptually even ramp: dark unsure to pale sure, readable by colour-blind eyes


def confidence_renderer(layer: QgsRasterLayer, n_classes: Optional[int] = None
                        ) -> QgsSingleBandPseudoColorRenderer | QgsSingleBandGrayRenderer:
    """The winning class's probability on a colour ramp from 1/K (dark: every class alike, the least it can be) to 1
    (pale: sure), whatever the raster's own statistics: a grey 0–1 stretch showed a 6-class map's 0.2–0.9 as
    mid-grey (a desktop review). Without ``n_classes`` (K), or without the ramp, grey from 0 to 1."""
    ramp = QgsStyle.defaultStyle().colorRamp(CONFIDENCE_RAMP)
    if ramp is None or not n_classes or n_classes < 2:
        return probability_renderer(layer)
    floor = 1.0 / n_classes  # every class alike: the least the winning class's probability can be
    shader = QgsColorRampShader(floor, 1.0, ramp, QgsColorRampShader.Interpolated)
    # five stops of the ramp, interpolated between: the legend lists these five (classifyColorRamp gave every stop
    # of Magma, about 50 legend lines), at two decimals with the ends said in words (not 0.166667)
    stops = [floor + (1.0 - floor) * k / 4 for k in range(5)]
    labels = [f"{floor:.2f} (1/{n_classes}: every class alike)", *(f"{v:.2f}" for v in stops[1:4]), "1.00 (sure)"]
    shader.setColorRampItemList([QgsColorRampShader.ColorRampItem(value, ramp.color(k / 4), label)
                                 for k, (value, label) in enumerate(zip(stops, labels))])
    shader.setClip(False)  # values beyond the ends take the end colours
    raster_shader = QgsRasterShader(floor, 1.0)
    raster_shader.setRasterShaderFunction(shader)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, raster_shader)
    renderer.setClassificationMin(floor)
    renderer.setClassificationMax(1.0)
    return renderer


def probability_renderer(layer: QgsRasterLayer) -> QgsSingleBandGrayRenderer:
    """Greyscale from 0 (black) to 1 (white), whatever the raster's own statistics: a class's probability."""
    renderer = QgsSingleBandGrayRenderer(layer.dataProvider(), 1)
    stretch = QgsContrastEnhancement(layer.dataProvider().dataType(1))
    stretch.setContrastEnhancementAlgorithm(QgsContrastEnhancement.StretchToMinimumMaximum)
    stretch.setMinimumValue(0.0)
    stretch.setMaximumValue(1.0)
    renderer.setContrastEnhancement(stretch)
    return renderer


def class_map_layer(path: PathLike, classes: Sequence[ClassInfo], name: Optional[str] = None) -> QgsRasterLayer:
    """Open a class map raster styled with the classes' colours and names (not yet in a project)."""
    layer = _open_raster(path, name or Path(path).stem)
    layer.setRenderer(class_renderer(layer, classes))
    return layer


def confidence_layer(path: PathLike, name: Optional[str] = None, n_classes: Optional[int] = None) -> QgsRasterLayer:
    """Open a confidence raster (max class probability, 1/K..1) on its colour ramp (:func:`confidence_renderer`; not
    yet in a project)."""
    layer = _open_raster(path, name or Path(path).stem)
    layer.setRenderer(confidence_renderer(layer, n_classes))
    return layer


def probabilities_layer(path: PathLike, name: Optional[str] = None) -> QgsRasterLayer:
    """Open a class-probabilities raster (a band a class, 0..1) in greyscale, its first class shown."""
    layer = _open_raster(path, name or Path(path).stem)
    layer.setRenderer(probability_renderer(layer))
    return layer


def source_file(source: str, provider: str = "ogr") -> Optional[str]:
    """The file a layer source reads, as the source names it; None when it reads no local file.

    The one rule for "the file a layer reads" (which layers show a run's outputs, whether the project still holds a
    run's scene, which inputs an output folder must spare):

    - the provider decodes its source, so QGIS's options after ``|`` (``/x/labels.gpkg|layername=labels``,
      ``|subset=…``, ``|option:…``) and a delimited-text layer's options (``file:///x/points.csv?type=csv&…``)
      are not part of the file; a file in an archive (``/vsizip//x/a.zip/a.tif``) reads the archive;
    - a GDAL subdataset (``NETCDF:"/x/scene.nc":radiance``, ``HDF5:"/x/a.h5"://grp/cube``) reads its container;
    - a memory layer, a database table, a web service or a remote ``/vsicurl/`` file reads none.

    Args:
        source: a layer's ``source()``, or a plain file path.
        provider: the layer's ``providerType()``; ``ogr`` (the default) also takes a plain path or a GDAL name.
    """
    from ..core.io.read import gdal_subdataset_file

    path = QgsProviderRegistry.instance().decodeUri(provider, source).get("path") if provider else None
    if not isinstance(path, str) or not path:
        return None
    container = gdal_subdataset_file(path)
    if container is not None:
        return str(container)
    if path.startswith("/vsi") or "://" in path:  # GDAL's memory or network files, a URL: nothing on this disk
        return None
    return path


def gdal_name(source: str) -> str:
    """A QGIS raster source as GDAL opens it: QGIS-only ``|option`` suffixes dropped (a NetCDF or HDF subdataset name
    stays whole, ``NETCDF:"/x/scene.nc":radiance``). Where :func:`source_file` gives the file, this gives what to
    open."""
    return source.split("|")[0]


def scene_georeferenced(scene: str) -> bool:
    """Whether the engine reads the raster ``scene`` (what GDAL opens: :func:`gdal_name`) with a CRS
    (:func:`~hypersynth.core.io.read.dataset_grid`), from its header; True when it cannot tell, leaving the engine to
    say so once it reads the scene. Not a layer's ``crs()``: QGIS may give a raster without CRS the project's."""
    from rasterio.errors import RasterioError

    from ..core.io.read import dataset_grid, opened_quietly

    try:
        with opened_quietly(scene) as ds:
            return dataset_grid(ds)[1] is not None
    except (RasterioError, OSError, ValueError):
        return True


def layer_file(layer: Optional[QgsMapLayer]) -> Optional[str]:
    """The file ``layer`` reads (:func:`source_file` of its source and provider), or None."""
    if layer is None:
        return None
    return source_file(layer.source(), layer.providerType())


def same_file(a: Optional[str], b: Optional[str]) -> bool:
    """Whether two paths from :func:`source_file` name one file (links resolved); None is no file."""
    return a is not None and b is not None and os.path.realpath(a) == os.path.realpath(b)


def remove_layers_reading(files: Iterable[PathLike], project: QgsProject) -> Optional[tuple[QgsLayerTreeGroup, int]]:
    """Remove from ``project`` every layer that reads one of ``files``, and each group that leaves empty.

    Returns:
        Where the first group removed was (its parent and position), so what replaces it can go there; None when
        no group was left empty.
    """
    wanted = {os.path.realpath(path) for path in (source_file(str(f)) for f in files) if path is not None}
    stale = [layer for layer in project.mapLayers().values()
             if (path := layer_file(layer)) is not None and os.path.realpath(path) in wanted]
    root = project.layerTreeRoot()
    groups = []
    for layer in stale:
        node = root.findLayer(layer.id())
        parent = node.parent() if node is not None else None
        if isinstance(parent, QgsLayerTreeGroup) and parent is not root and parent not in groups:
            groups.append(parent)
    if stale:
        project.removeMapLayers([layer.id() for layer in stale])
    place = None
    for group in groups:
        parent = group.parent()
        if group.children() or not isinstance(parent, QgsLayerTreeGroup):
            continue  # the analyst's own layers are still in it
        if place is None:
            place = (parent, parent.children().index(group))
        parent.removeChildNode(group)
    return place


def result_group_name(title: str, folder: PathLike, project: QgsProject) -> str:
    """The name of a run's result group: the output folder's name, then ``title`` (``"run_2: Augment & Classify
    scene"``), so two runs on one scene differ in the first characters a narrow Layers panel shows; numbered
    (``"run_2 (2): …"``) while another group in ``project`` has that name."""
    taken = {group.name() for group in project.layerTreeRoot().findGroups(True)}  # at any depth
    label = Path(folder).name
    name, number = (f"{label}: {title}" if label else title), 2
    while name in taken:
        name, number = (f"{label} ({number}): {title}" if label else f"({number}) {title}"), number + 1
    return name


def set_legend_title(node: Optional[QgsLayerTreeLayer], title: str) -> bool:
    """Show ``title`` over a raster layer's legend where QGIS puts its band header (``Band 1: class (Palette)``),
    as the Layers panel's own renaming of a legend item does (saved with the project). Returns whether the legend
    had such a header."""
    layer = node.layer() if node is not None else None
    if layer is None or layer.legend() is None:
        return False
    nodes = layer.legend().createLayerTreeModelLegendNodes(node)
    if not nodes or not isinstance(nodes[0], QgsSimpleLegendNode):
        return False
    QgsMapLayerLegendUtils.setLegendNodeUserLabel(node, 0, title)
    layer.legend().itemsChanged.emit()  # a Layers panel already showing the layer rebuilds its legend with the title
    return True


def _band_description(path: PathLike) -> str:
    """The first band's description in the file (the engine names a probability band by its class), or ""."""
    from osgeo import gdal

    ds = gdal.Open(str(path))
    return ds.GetRasterBand(1).GetDescription() if ds is not None and ds.RasterCount else ""


def add_result_layers(class_map: PathLike, confidence: Optional[PathLike], classes: Sequence[ClassInfo], *,
                      title: str, project: Optional[QgsProject] = None,
                      probabilities: Optional[PathLike] = None,
                      replaced: Iterable[PathLike] = ()) -> list[QgsRasterLayer]:
    """Add the class map, its confidence and (when written) its class probabilities to ``project`` in a group that
    names the run (:func:`result_group_name`: the output folder and ``title``), marked as a result group
    (:data:`RESULT_GROUP`). The layers have short names (:data:`CLASSES_NAME`…) and plain legend titles; the
    confidence and probabilities lie above the opaque class map, hidden, so ticking one shows it.

    A run into a folder that held an earlier run's outputs replaces their files, so the layers that read them
    (the earlier run's group, or a result the analyst moved or restyled) would show the new files under the old
    run's style and classes, or a stale render: every layer reading one of the new files or of ``replaced`` (the
    earlier outputs the run removed) is removed, with a group it leaves empty, and the new group takes that group's
    place (and name). A restyled layer goes too (its classes may not be the new run's): to keep a result, write the
    next run to another folder, or save the layer's style and load it on the new layer.

    Call on the main thread only (from a task's ``finished()`` or an algorithm's post-processing).

    Returns:
        The layers added, class map first.
    """
    project = project or QgsProject.instance()
    layers = [class_map_layer(class_map, classes, name=CLASSES_NAME)]
    titles = [CLASSES_TITLE]
    if confidence is not None:
        layers.append(confidence_layer(confidence, name=CONFIDENCE_NAME, n_classes=len(classes)))
        titles.append(CONFIDENCE_TITLE)
    if probabilities is not None:
        layers.append(probabilities_layer(probabilities, name=PROBABILITIES_NAME))  # class 1 in grey
        described = _band_description(probabilities)
        titles.append(described[:1].upper() + described[1:] if described else "Probability of the first class")
    written = [class_map, *(f for f in (confidence, probabilities) if f is not None)]
    parent, index = remove_layers_reading([*written, *replaced], project) or (project.layerTreeRoot(), 0)
    group = QgsLayerTreeGroup(result_group_name(title, Path(class_map).parent, project))  # filled, then inserted
    group.setCustomProperty(RESULT_GROUP, True)
    for layer in layers:
        project.addMapLayer(layer, False)
    # top to bottom: what is there to inspect (hidden) over the class map, which is opaque and would hide it
    for layer in [*layers[1:], layers[0]]:
        group.addLayer(layer)
    for layer in layers[1:]:
        hidden = group.findLayer(layer.id())
        hidden.setItemVisibilityChecked(False)  # the map shows; the others are there to inspect
        hidden.setExpanded(False)  # their legends folded: the class legend is what a Layers panel shows first
    parent.insertChildNode(index, group)
    open_in_layers_panel(group)
    for layer, legend_title in zip(layers, titles):
        set_legend_title(group.findLayer(layer.id()), legend_title)
    return layers


def files_the_project_needs(paths: Iterable[PathLike], project: Optional[QgsProject] = None) -> list[str]:
    """The names of the layers of ``project`` that read one of ``paths``, other than a patch mosaic an earlier save
    added (:func:`add_patch_mosaic`): files a save must not replace (the scene, a label raster…). Main thread."""
    project = project or QgsProject.instance()
    return [layer.name() for layer in project.mapLayers().values()
            if not layer.customProperty(PATCH_MOSAIC, False)
            and any(same_file(layer_file(layer), str(path)) for path in paths)]


def add_patch_mosaic(mosaic: PathLike, project: Optional[QgsProject] = None) -> list[QgsRasterLayer]:
    """Add a mosaic of synthetic patches (:mod:`..core.io.patch_files`) to ``project`` as Processing's *Synthesise*
    loads one: the mosaic in false colour, its class raster (when written) above it in the class colours of the .qml
    beside it, hidden, since it would cover the mosaic. Layers reading these files already (an earlier save to the
    same name) are removed first: they would show the new files under the old style. Main thread only.

    Returns:
        The layers added, the mosaic first.
    """
    from ..core.io.patch_files import companion_files

    project = project or QgsProject.instance()
    mosaic = Path(mosaic)
    classes = companion_files(mosaic)[0]
    remove_layers_reading([mosaic, classes], project)
    layers = [_open_raster(mosaic, mosaic.stem)]
    if classes.exists():  # none for patches of label 0
        layers.append(_open_raster(classes, classes.stem))
    for layer, is_classes in zip(layers, (False, True)):
        layer.setCustomProperty(PATCH_MOSAIC, True)  # a later save to its name may replace it (nothing else)
        add_input_layer(layer, project)
        show_patch_mosaic(layer, is_classes, project)
    return layers


def show_patch_mosaic(layer: QgsRasterLayer, classes: bool, project: QgsProject) -> None:
    """Style a patch mosaic in ``project`` as the dock shows a preview: the mosaic in false colour; its class raster
    (``classes``) in the class colours of the .qml beside it, and hidden: above the mosaic, it would cover it. Shared
    by the dock's Save and Processing's loading of a mosaic. Main thread only."""
    from .rendering import apply_composite

    if not classes:
        apply_composite(layer, "false colour")
        return
    layer.loadDefaultStyle()
    node = project.layerTreeRoot().findLayer(layer.id())
    if node is not None:
        node.setItemVisibilityChecked(False)


def open_in_layers_panel(node: Optional[QgsLayerTreeNode]) -> None:
    """Open ``node`` (a group, or a layer's legend) in QGIS's Layers panel. The panel showed a new result group, and
    a label layer's legend once restyled, closed though their nodes said open; told again, it opens them."""
    if node is not None:
        node.setExpanded(False)
        node.setExpanded(True)


def is_result_group(node: Optional[QgsLayerTreeNode]) -> bool:
    """Whether ``node`` is a group of a run's results that :func:`add_result_layers` made (and a rerun replaces)."""
    return isinstance(node, QgsLayerTreeGroup) and node.customProperty(RESULT_GROUP, False) is True


def outermost_result_group(node: Optional[QgsLayerTreeNode]) -> Optional[QgsLayerTreeGroup]:
    """The result group nearest the root among ``node`` and the groups above it; None when none is one."""
    outermost = None
    while node is not None and node.parent() is not None:  # the root holds everything: never a result group
        if is_result_group(node):
            outermost = node
        node = node.parent()
    return outermost


def add_input_layer(layer: QgsMapLayer, project: Optional[QgsProject] = None) -> QgsMapLayer:
    """Add a scene or label layer to ``project`` where QGIS puts a new layer (the Layers panel's selection), but
    never inside a run's result group: a layer QGIS puts there goes just above the outermost such group, beside it.

    A rerun into the same folder replaces its result group, and a scene or label layer in it would be mixed with the
    results. Call on the main thread only.

    Returns:
        ``layer``.
    """
    project = project or QgsProject.instance()
    # QGIS 3.22's registry bridge has no getter for its insertion point (layerInsertionPoint() came later), so QGIS
    # places the layer and it is moved out of a result group afterwards; newer insertion methods are honoured too.
    project.addMapLayer(layer)
    keep_out_of_result_groups(layer, project)
    return layer


def keep_out_of_result_groups(layer: QgsMapLayer, project: QgsProject) -> None:
    """Move ``layer``, already in ``project``'s layer tree, just above the outermost run's result group it is in (if
    any): for a layer QGIS placed itself (:func:`add_input_layer`, a Processing output it loads). Main thread only."""
    node = project.layerTreeRoot().findLayer(layer.id())
    outermost = outermost_result_group(node)
    if node is None or outermost is None:
        return
    parent, old_parent = outermost.parent(), node.parent()
    parent.insertChildNode(parent.children().index(outermost), node.clone())
    old_parent.removeChildNode(node)  # after the copy is in: a layer that leaves the tree leaves the project
