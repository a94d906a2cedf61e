"""How labels look: each class in its colour with a white halo and a darker edge, seen through the layer's opacity,
and the legend in the class colours."""

from __future__ import annotations

import numpy as np
from qgis.core import QgsGeometry, QgsPointXY, QgsVectorLayer

from hypersynth.core.scene import ClassInfo
from hypersynth.plugin.label_layer import LAYER_OPACITY, add_label_polygon, use_label_layer

ROAD_GREY = (112, 108, 116)  # the demo scene's road in true colour, about
ASPHALT = ClassInfo(2, "asphalt road", (100, 100, 100))
CLASSES = [ClassInfo(1, "water", (31, 119, 180)), ASPHALT, ClassInfo(6, "deciduous forest", (27, 110, 45))]


def _labels(project) -> QgsVectorLayer:
    layer = QgsVectorLayer("Polygon?crs=EPSG:32633&field=class_id:integer&field=class:string", "labels", "memory")
    project.addMapLayer(layer)
    return use_label_layer(layer, CLASSES)


def _render(layer, background: tuple[int, int, int], size: int = 100) -> np.ndarray:
    """``layer`` drawn over a plain ``background`` colour on a 100 m square, one pixel a metre: ``(size, size, 3)``."""
    from qgis.core import QgsMapRendererSequentialJob, QgsMapSettings, QgsRectangle
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(QgsRectangle(0, 0, size, size))
    settings.setOutputSize(QSize(size, size))
    settings.setOutputDpi(96)
    settings.setBackgroundColor(QColor(*background))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    return np.array([[image.pixelColor(x, y).getRgb()[:3] for x in range(size)] for y in range(size)], dtype=float)


def _assert_legend_in_class_colours(project, layer: QgsVectorLayer) -> None:
    """The Layers panel's legend of ``layer``: one entry a class, named by it, its icon in the class colour."""
    from qgis.core import QgsLayerTreeModel
    from qgis.PyQt.QtCore import Qt
    from qgis.PyQt.QtGui import QColor

    model = QgsLayerTreeModel(project.layerTreeRoot())
    items = model.layerLegendNodes(project.layerTreeRoot().findLayer(layer.id()))
    assert [item.data(Qt.DisplayRole) for item in items] == [c.name for c in CLASSES]
    for item, c in zip(items, CLASSES):
        icon = item.data(Qt.DecorationRole)
        image = (icon.toImage() if hasattr(icon, "toImage") else icon.pixmap(16, 16).toImage())
        centre = QColor(image.pixel(image.width() // 2, image.height() // 2)).getRgb()[:3]
        assert np.abs(np.subtract(centre, c.color)).max() <= 2, (c.name, centre)  # the class colour, not washed out


def test_a_grey_label_on_a_grey_road_shows_its_outline(qgis_new_project):
    layer = _labels(qgis_new_project)
    ring = [QgsPointXY(30, 30), QgsPointXY(70, 30), QgsPointXY(70, 70), QgsPointXY(30, 70), QgsPointXY(30, 30)]
    add_label_polygon(layer, QgsGeometry.fromPolygonXY([ring]), ASPHALT.id, ASPHALT.name)
    pixels = _render(layer, ROAD_GREY)
    road = np.array(ROAD_GREY, dtype=float)
    inside, outside = pixels[50, 50], pixels[10, 10]
    assert np.abs(outside - road).max() <= 1
    assert np.abs(inside - road).max() < 15  # the fill alone would be lost on the road: grey on grey
    edge = pixels[25:36, 50]  # across the top edge (y = 70 m is row 30)
    assert edge.mean(axis=1).max() - road.mean() > 60  # the white halo shows
    assert road.mean() - edge.mean(axis=1).min() > 25  # and the darker edge inside it


def test_the_symbols_and_the_legend_show_the_class_colours(qgis_new_project):
    from qgis.PyQt.QtGui import QColor

    layer = _labels(qgis_new_project)
    assert layer.opacity() == LAYER_OPACITY  # the scene shows through the layer, not through each symbol
    for category, c in zip(layer.renderer().categories(), CLASSES):
        fill, halo, edge = (category.symbol().symbolLayer(i) for i in range(3))
        assert fill.color().getRgb() == (*c.color, 255)
        assert halo.color().getRgb() == (255, 255, 255, 255)
        assert edge.color().getRgb()[:3] == QColor(*c.color).darker(160).getRgb()[:3]
        assert edge.color().lightness() < QColor(*c.color).lightness()
    _assert_legend_in_class_colours(qgis_new_project, layer)


def test_an_opacity_the_analyst_chose_stays_when_the_layer_is_adopted(qgis_new_project):
    layer = QgsVectorLayer("Polygon?crs=EPSG:32633&field=class_id:integer", "mine", "memory")
    layer.setOpacity(0.3)
    qgis_new_project.addMapLayer(layer)
    assert use_label_layer(layer, CLASSES).opacity() == 0.3


def _point_labels(project) -> QgsVectorLayer:
    layer = QgsVectorLayer("Point?crs=EPSG:32633&field=class_id:integer&field=class:string", "gps", "memory")
    project.addMapLayer(layer)
    return use_label_layer(layer, CLASSES)


def test_a_grey_point_on_a_grey_road_shows_its_halo(qgis_new_project):
    from qgis.core import QgsFeature

    layer = _point_labels(qgis_new_project)
    feature = QgsFeature(layer.fields())
    feature.setAttribute("class_id", ASPHALT.id)
    feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(50, 50)))
    assert layer.dataProvider().addFeatures([feature])
    pixels = _render(layer, ROAD_GREY)
    road = np.array(ROAD_GREY, dtype=float)
    assert np.abs(pixels[10, 10] - road).max() <= 1 and np.abs(pixels[50, 50] - road).max() < 15  # grey on grey
    across = pixels[50, 35:66].mean(axis=1)  # through the dot (a 2.4 mm dot: about 9 screen pixels at 96 dpi)
    assert across.max() - road.mean() > 60  # the white halo shows around it
    assert road.mean() - across.min() > 25  # and the darker edge inside it
    assert np.abs(pixels[50, 35] - road).max() <= 1  # a dot, not a blot: the road shows a few pixels off


def test_point_symbols_and_their_legend_show_the_class_colours(qgis_new_project):
    from qgis.core import QgsMarkerSymbol
    from qgis.PyQt.QtGui import QColor

    layer = _point_labels(qgis_new_project)
    assert layer.opacity() == LAYER_OPACITY
    for category, c in zip(layer.renderer().categories(), CLASSES):
        symbol = category.symbol()
        assert isinstance(symbol, QgsMarkerSymbol) and symbol.symbolLayerCount() == 2
        halo, dot = symbol.symbolLayer(0), symbol.symbolLayer(1)
        assert halo.color().getRgb() == (255, 255, 255, 255) and halo.size() > dot.size()
        assert dot.color().getRgb() == (*c.color, 255)
        assert dot.strokeColor().getRgb()[:3] == QColor(*c.color).darker(160).getRgb()[:3]
    _assert_legend_in_class_colours(qgis_new_project, layer)
