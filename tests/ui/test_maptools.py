"""Brush and polygon tools write label polygons of the current class; each stroke undoes on its own."""

from __future__ import annotations

import math

import pytest
from qgis.core import QgsCoordinateReferenceSystem, QgsPointXY
from qgis.gui import QgsMapMouseEvent
from qgis.PyQt.QtCore import QEvent, QPoint, Qt

from hypersynth.plugin.label_layer import CLASS_ID_FIELD, CLASS_NAME_FIELD, LabelLayerError
from hypersynth.plugin.maptools import BrushTool, PolygonTool

from .conftest import ORIGIN


def _features(layer):
    return list(layer.getFeatures())


def test_brush_stroke_adds_a_buffered_line_of_the_current_class(canvas, label_layer, classes):
    tool = BrushTool(canvas, label_layer, classes[1], radius=5.0)
    x, y = ORIGIN[0] + 20, ORIGIN[1] - 50
    points = [QgsPointXY(x, y), QgsPointXY(x + 60, y), QgsPointXY(x + 60, y - 40)]
    fid = tool.add_stroke(points)
    features = _features(label_layer)
    assert len(features) == 1 and features[0].id() == fid
    assert features[0][CLASS_ID_FIELD] == 2 and features[0][CLASS_NAME_FIELD] == "water"
    length, r = 100.0, 5.0
    expected = 2 * r * length + math.pi * r * r  # rectangle along the line plus the round caps
    assert features[0].geometry().area() == pytest.approx(expected, rel=0.03)


def test_each_stroke_is_undone_on_its_own(canvas, label_layer, classes):
    tool = BrushTool(canvas, label_layer, classes[0], radius=3.0)
    x, y = ORIGIN[0] + 30, ORIGIN[1] - 30
    tool.add_stroke([QgsPointXY(x, y), QgsPointXY(x + 30, y)])
    tool.add_stroke([QgsPointXY(x, y - 50), QgsPointXY(x + 30, y - 50)], class_id=3, class_name="bare_soil")
    assert sorted(f[CLASS_ID_FIELD] for f in _features(label_layer)) == [1, 3]
    assert tool.undo()
    assert [f[CLASS_ID_FIELD] for f in _features(label_layer)] == [1]
    assert tool.undo()
    assert _features(label_layer) == []
    assert not tool.undo()


def test_mouse_drag_paints_through_the_event_handlers(canvas, label_layer, classes):
    tool = BrushTool(canvas, label_layer, classes[0], radius=4.0)
    canvas.setMapTool(tool)
    added = []
    tool.labelAdded.connect(added.append)
    path = [QPoint(100, 100), QPoint(140, 110), QPoint(180, 120)]
    tool.canvasPressEvent(QgsMapMouseEvent(canvas, QEvent.MouseButtonPress, path[0], Qt.LeftButton, Qt.LeftButton))
    tool.canvasMoveEvent(QgsMapMouseEvent(canvas, QEvent.MouseMove, path[1], Qt.NoButton, Qt.LeftButton))
    tool.canvasReleaseEvent(QgsMapMouseEvent(canvas, QEvent.MouseButtonRelease, path[2], Qt.LeftButton, Qt.NoButton))
    features = _features(label_layer)
    assert len(features) == 1 and added == [features[0].id()]
    start = canvas.getCoordinateTransform().toMapCoordinates(path[0])
    assert features[0].geometry().distance(features[0].geometry().fromPointXY(start)) == 0
    canvas.unsetMapTool(tool)


def test_brush_without_layer_or_class_says_what_to_do(canvas, label_layer):
    tool = BrushTool(canvas, None, None, radius=2.0)
    with pytest.raises(LabelLayerError, match="label layer"):
        tool.add_stroke([QgsPointXY(*ORIGIN)])
    tool.set_label_layer(label_layer)
    with pytest.raises(LabelLayerError, match="select a class"):
        tool.add_stroke([QgsPointXY(*ORIGIN)])
    with pytest.raises(ValueError, match="positive"):
        tool.set_radius(0)


def test_polygon_tool_adds_a_polygon(canvas, label_layer, classes):
    tool = PolygonTool(canvas, label_layer, classes[2])
    x, y = ORIGIN[0] + 10, ORIGIN[1] - 10
    for dx, dy in [(0, 0), (50, 0), (50, -30), (0, -30)]:
        tool.add_vertex(QgsPointXY(x + dx, y + dy))
    assert len(tool.vertices()) == 4
    fid = tool.finish()
    feature = label_layer.getFeature(fid)
    assert feature[CLASS_ID_FIELD] == 3
    assert feature.geometry().area() == pytest.approx(1500.0)
    assert tool.vertices() == []
    with pytest.raises(LabelLayerError, match="at least 3 vertices"):
        tool.add_polygon([QgsPointXY(x, y), QgsPointXY(x + 1, y)])


def test_polygon_clicks_and_right_click_finish(canvas, label_layer, classes):
    tool = PolygonTool(canvas, label_layer, classes[0])
    for p in [QPoint(50, 50), QPoint(150, 50), QPoint(150, 150)]:
        tool.canvasReleaseEvent(QgsMapMouseEvent(canvas, QEvent.MouseButtonRelease, p, Qt.LeftButton))
    tool.canvasReleaseEvent(QgsMapMouseEvent(canvas, QEvent.MouseButtonRelease, QPoint(60, 140), Qt.RightButton))
    features = _features(label_layer)
    assert len(features) == 1 and features[0][CLASS_ID_FIELD] == 1
    upp = canvas.mapUnitsPerPixel()
    assert features[0].geometry().area() == pytest.approx(0.5 * (100 * upp) ** 2, rel=0.02)


def test_strokes_drawn_on_a_canvas_in_another_crs_land_in_the_layer_crs(canvas, label_layer, classes):
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    try:
        tool = BrushTool(canvas, label_layer, classes[0], radius=10.0)
        from qgis.core import QgsCoordinateTransform, QgsProject

        to_canvas = QgsCoordinateTransform(label_layer.crs(), canvas.mapSettings().destinationCrs(),
                                           QgsProject.instance())
        centre = to_canvas.transform(QgsPointXY(ORIGIN[0] + 100, ORIGIN[1] - 100))
        tool.add_stroke([centre])
        geometry = _features(label_layer)[0].geometry()
        assert geometry.centroid().asPoint().distance(QgsPointXY(ORIGIN[0] + 100, ORIGIN[1] - 100)) < 1.0
    finally:
        canvas.setDestinationCrs(label_layer.crs())


def test_labels_render_on_the_map_in_class_colours(canvas, scene_layer, label_layer, classes, tmp_path):
    import os
    from pathlib import Path

    from qgis.core import QgsMapRendererSequentialJob, QgsMapSettings
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    from hypersynth.plugin.rendering import apply_composite

    apply_composite(scene_layer, "false colour")
    brush = BrushTool(canvas, label_layer, classes[1], radius=12.0)
    brush.add_stroke([QgsPointXY(ORIGIN[0] + 30, ORIGIN[1] - 40), QgsPointXY(ORIGIN[0] + 200, ORIGIN[1] - 60)])
    polygon = PolygonTool(canvas, label_layer, classes[0])
    corners = [(40, -110), (150, -100), (170, -180), (60, -190)]
    polygon.add_polygon([QgsPointXY(ORIGIN[0] + dx, ORIGIN[1] + dy) for dx, dy in corners])
    settings = QgsMapSettings()
    settings.setLayers([label_layer, scene_layer])
    settings.setDestinationCrs(scene_layer.crs())
    settings.setExtent(scene_layer.extent())
    settings.setOutputSize(QSize(480, 400))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    image.save(str(tmp_path / "labels_on_map.png"))
    if os.environ.get("HYPERSYNTH_SCREENSHOTS"):
        image.save(str(Path(os.environ["HYPERSYNTH_SCREENSHOTS"]) / "labels_on_map.png"))
    to_pixel = settings.mapToPixel()
    inside = to_pixel.transform(QgsPointXY(ORIGIN[0] + 100, ORIGIN[1] - 145))  # inside the corn polygon
    colour = QColor(image.pixel(int(inside.x()), int(inside.y())))
    corn = QColor(*classes[0].color)
    water = to_pixel.transform(QgsPointXY(ORIGIN[0] + 120, ORIGIN[1] - 50))
    water_colour = QColor(image.pixel(int(water.x()), int(water.y())))
    # half-transparent fills: each label tints the scene towards its class colour
    assert colour.red() > colour.blue() and colour.green() > colour.blue()  # corn is yellow
    assert water_colour.blue() > water_colour.red()  # water is blue
    assert corn.red() > corn.blue()


def test_a_label_layer_without_crs_takes_the_canvas_coordinates_as_they_are(canvas, classes):
    """Labels of a scene without georeference: the layer has no CRS, so nothing is reprojected on the way in."""
    from qgis.core import QgsVectorLayer

    layer = QgsVectorLayer("Polygon?field=class_id:integer&field=class:string", "pixels", "memory")
    layer.setCrs(QgsCoordinateReferenceSystem())
    assert not layer.crs().isValid() and canvas.mapSettings().destinationCrs().isValid()
    tool = PolygonTool(canvas, layer, classes[0])
    square = [QgsPointXY(5, -3), QgsPointXY(8, -3), QgsPointXY(8, -6), QgsPointXY(5, -6)]
    tool.add_polygon(square)
    written = _features(layer)[0].geometry().boundingBox()
    assert (written.xMinimum(), written.yMinimum(), written.xMaximum(), written.yMaximum()) == (5, -6, 8, -3)


@pytest.mark.parametrize("tool_class", [BrushTool, PolygonTool])
def test_esc_drops_the_shape_in_progress_then_stops_the_tool(tool_class, canvas, label_layer, classes):
    """Esc first drops what is being drawn; pressed again (nothing in progress) it stops labelling: the tool lets go
    of the canvas and says so (the dock's button unticks on ``deactivated``)."""
    from qgis.PyQt.QtGui import QKeyEvent

    tool = tool_class(canvas, label_layer, classes[0])
    canvas.setMapTool(tool)
    stopped = []
    tool.deactivated.connect(lambda: stopped.append(True))
    at = QPoint(100, 100)
    if tool_class is BrushTool:
        tool.canvasPressEvent(QgsMapMouseEvent(canvas, QEvent.MouseButtonPress, at, Qt.LeftButton, Qt.LeftButton))
    else:
        tool.add_vertex(canvas.getCoordinateTransform().toMapCoordinates(at))

    def esc():
        event = QKeyEvent(QEvent.KeyPress, Qt.Key_Escape, Qt.NoModifier)
        tool.keyPressEvent(event)
        return event.isAccepted()

    assert esc() and canvas.mapTool() is tool and not stopped  # the stroke or polygon in progress is dropped
    assert esc() and canvas.mapTool() is not tool and stopped == [True]
    assert _features(label_layer) == []
