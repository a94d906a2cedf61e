"""Map tools that draw labels into the label layer: a freehand brush and a click-the-vertices polygon."""

from __future__ import annotations

from typing import Optional, Sequence

from qgis.core import QgsCoordinateTransform, QgsGeometry, QgsPointXY, QgsProject, QgsVectorLayer, QgsWkbTypes
from qgis.gui import QgsMapCanvas, QgsMapMouseEvent, QgsMapTool, QgsRubberBand
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor, QKeyEvent

from ..core.scene import ClassInfo
from .label_layer import LabelLayerError, add_label_polygon, check_class_id, check_label_layer, save_labels

BUFFER_SEGMENTS = 8  # segments per quarter circle of the brush's round ends
DEFAULT_BRUSH_PIXELS = 8  # brush radius in screen pixels until the analyst sets one in map units


class LabelTool(QgsMapTool):
    """What both label tools share: the label layer, the current class, undo and save.

    Geometries arrive in the canvas CRS and are transformed to the label layer's CRS on write.
    """

    labelAdded = pyqtSignal(int)  # feature id of the new label polygon (negative until saved)
    message = pyqtSignal(str)  # a problem the analyst should see (no label layer, no class, …)

    def __init__(self, canvas: QgsMapCanvas, label_layer: Optional[QgsVectorLayer] = None,
                 current_class: Optional[ClassInfo] = None) -> None:
        super().__init__(canvas)
        self._layer: Optional[QgsVectorLayer] = None
        self._class = current_class
        self._band = QgsRubberBand(canvas, QgsWkbTypes.PolygonGeometry)
        if label_layer is not None:
            self.set_label_layer(label_layer)
        self._style_band()

    def set_label_layer(self, layer: Optional[QgsVectorLayer]) -> None:
        """Where new labels go (checked: a polygon or point layer with a ``class_id`` field; into points nothing is
        drawn, and the message says why)."""
        self._layer = check_label_layer(layer) if layer is not None else None

    def label_layer(self) -> Optional[QgsVectorLayer]:
        return self._layer

    def set_class(self, current: Optional[ClassInfo]) -> None:
        """The class that new labels get."""
        self._class = current
        self._style_band()

    def current_class(self) -> Optional[ClassInfo]:
        return self._class

    def _style_band(self) -> None:
        colour = QColor(*(self._class.color if self._class else (255, 0, 0)))
        self._band.setStrokeColor(colour)
        colour.setAlpha(90)
        self._band.setFillColor(colour)
        self._band.setWidth(1)

    def _target(self, class_id: Optional[int], class_name: Optional[str]) -> tuple[QgsVectorLayer, int, str]:
        """Where a label goes and its class; an id the engine refuses draws nothing (the message says the range)."""
        if self._layer is None:
            raise LabelLayerError("choose or create a label layer before drawing labels")
        if class_id is None:
            if self._class is None:
                raise LabelLayerError("select a class before drawing labels")
            class_id, class_name = self._class.id, self._class.name
        try:
            check_class_id(class_id)
        except ValueError as error:
            raise LabelLayerError(f"no label drawn: {error}") from None
        if class_name is None:
            class_name = self._class.name if self._class is not None and self._class.id == class_id else ""
        return self._layer, int(class_id), class_name

    def _write(self, geometry: QgsGeometry, class_id: Optional[int], class_name: Optional[str],
               title: str) -> int:
        layer, cid, name = self._target(class_id, class_name)
        source_crs = self.canvas().mapSettings().destinationCrs()
        if source_crs.isValid() and source_crs != layer.crs():
            geometry.transform(QgsCoordinateTransform(source_crs, layer.crs(), QgsProject.instance()))
        fid = add_label_polygon(layer, geometry, cid, name, title)
        self.labelAdded.emit(fid)
        return fid

    def undo(self) -> bool:
        """Undo the last edit of the label layer (a stroke, a polygon, a merge…); False when nothing to undo."""
        if self._layer is None or not self._layer.undoStack().canUndo():
            return False
        self._layer.undoStack().undo()
        self._layer.triggerRepaint()
        return True

    def save(self) -> None:
        """Write the pending labels to the label file."""
        if self._layer is not None:
            save_labels(self._layer)

    def _report(self, error: Exception) -> None:
        self.message.emit(str(error))

    def keyPressEvent(self, e: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        if e.key() == Qt.Key_Z and e.modifiers() & Qt.ControlModifier:
            self.undo()
            e.accept()
        elif e.key() == Qt.Key_Escape:  # nothing drawn in progress (the tools drop a stroke first): stop labelling
            self.canvas().unsetMapTool(self)  # deactivated: the dock's button follows
            e.accept()
        else:
            e.ignore()

    def deactivate(self) -> None:
        self._band.reset(QgsWkbTypes.PolygonGeometry)
        super().deactivate()

    def flags(self) -> QgsMapTool.Flags:
        return super().flags() | QgsMapTool.EditTool


class BrushTool(LabelTool):
    """Paint labels with a round brush: each stroke becomes one polygon (the buffered stroke line).

    One stroke is one edit command, so Ctrl+Z (or :meth:`undo`) removes it again.
    """

    def __init__(self, canvas: QgsMapCanvas, label_layer: Optional[QgsVectorLayer] = None,
                 current_class: Optional[ClassInfo] = None, radius: Optional[float] = None) -> None:
        super().__init__(canvas, label_layer, current_class)
        self._radius = radius
        self._stroke: list[QgsPointXY] = []
        self.setCursor(Qt.CrossCursor)

    def set_radius(self, radius: Optional[float]) -> None:
        """Brush radius in map units (None: a few screen pixels at the current zoom)."""
        if radius is not None and radius <= 0:
            raise ValueError(f"the brush radius must be positive; got {radius}")
        self._radius = radius

    def radius(self) -> float:
        """The brush radius in map units now."""
        if self._radius is not None:
            return float(self._radius)
        return DEFAULT_BRUSH_PIXELS * self.canvas().mapUnitsPerPixel()

    def stroke_geometry(self, points: Sequence[QgsPointXY]) -> QgsGeometry:
        """The area a stroke through ``points`` (canvas CRS) covers: the line buffered by the radius."""
        if not points:
            raise LabelLayerError("a brush stroke needs at least one point")
        distinct = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
        line = (QgsGeometry.fromPolylineXY(distinct) if len(distinct) > 1
                else QgsGeometry.fromPointXY(distinct[0]))
        return line.buffer(self.radius(), BUFFER_SEGMENTS)

    def add_stroke(self, points: Sequence[QgsPointXY], class_id: Optional[int] = None,
                   class_name: Optional[str] = None) -> int:
        """Add the stroke through ``points`` (canvas CRS) as one label polygon; returns its feature id.

        Args:
            points: the stroke's points in the canvas CRS, in drawing order.
            class_id: the class to label; default the tool's current class.
            class_name: stored in the ``class`` field; default the current class's name.
        """
        return self._write(self.stroke_geometry(points), class_id, class_name, "Brush stroke")

    def canvasPressEvent(self, e: QgsMapMouseEvent) -> None:  # noqa: N802 (QGIS's name)
        if e.button() != Qt.LeftButton:
            return
        self._stroke = [e.mapPoint()]
        self._preview()

    def canvasMoveEvent(self, e: QgsMapMouseEvent) -> None:  # noqa: N802 (QGIS's name)
        if not self._stroke:
            return
        point = e.mapPoint()
        if point.distance(self._stroke[-1]) >= self.radius() / 4:  # fewer vertices, same painted area
            self._stroke.append(point)
            self._preview()

    def canvasReleaseEvent(self, e: QgsMapMouseEvent) -> None:  # noqa: N802 (QGIS's name)
        if e.button() != Qt.LeftButton or not self._stroke:
            return
        self._stroke.append(e.mapPoint())
        points, self._stroke = self._stroke, []
        self._band.reset(QgsWkbTypes.PolygonGeometry)
        try:
            self.add_stroke(points)
        except LabelLayerError as error:
            self._report(error)

    def _preview(self) -> None:
        self._band.setToGeometry(self.stroke_geometry(self._stroke), None)

    def keyPressEvent(self, e: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        if e.key() == Qt.Key_Escape and self._stroke:
            self._stroke = []
            self._band.reset(QgsWkbTypes.PolygonGeometry)
            e.accept()
        else:
            super().keyPressEvent(e)


class PolygonTool(LabelTool):
    """Click the vertices of a label polygon; right-click or double-click finishes it, Esc cancels,
    Backspace removes the last vertex."""

    def __init__(self, canvas: QgsMapCanvas, label_layer: Optional[QgsVectorLayer] = None,
                 current_class: Optional[ClassInfo] = None) -> None:
        super().__init__(canvas, label_layer, current_class)
        self._vertices: list[QgsPointXY] = []
        self._after_double_click = False  # Qt sends one more release after a double-click
        self.setCursor(Qt.CrossCursor)

    def vertices(self) -> list[QgsPointXY]:
        """The vertices clicked so far (canvas CRS)."""
        return list(self._vertices)

    def add_vertex(self, point: QgsPointXY) -> None:
        """Add a vertex (canvas CRS) to the polygon being drawn."""
        if not self._vertices or point != self._vertices[-1]:
            self._vertices.append(QgsPointXY(point))
        self._preview()

    def cancel(self) -> None:
        """Forget the polygon being drawn."""
        self._vertices = []
        self._band.reset(QgsWkbTypes.PolygonGeometry)

    def finish(self, class_id: Optional[int] = None) -> Optional[int]:
        """Close the polygon drawn so far and add it as a label; returns its feature id."""
        points, self._vertices = self._vertices, []
        self._band.reset(QgsWkbTypes.PolygonGeometry)
        return self.add_polygon(points, class_id)

    def add_polygon(self, points: Sequence[QgsPointXY], class_id: Optional[int] = None,
                    class_name: Optional[str] = None) -> int:
        """Add the polygon with these vertices (canvas CRS) as one label; returns its feature id."""
        distinct = [QgsPointXY(p) for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
        if len(distinct) > 1 and distinct[0] == distinct[-1]:
            distinct.pop()
        if len(distinct) < 3:
            raise LabelLayerError(f"a label polygon needs at least 3 vertices; got {len(distinct)}")
        geometry = QgsGeometry.fromPolygonXY([distinct + [distinct[0]]])
        if not geometry.isGeosValid():
            geometry = geometry.makeValid()  # a self-crossing outline becomes its valid parts
        return self._write(geometry, class_id, class_name, "Label polygon")

    def _preview(self, hover: Optional[QgsPointXY] = None) -> None:
        points = self._vertices + ([hover] if hover is not None else [])
        self._band.reset(QgsWkbTypes.PolygonGeometry)
        for i, p in enumerate(points):
            self._band.addPoint(p, i == len(points) - 1)

    def canvasMoveEvent(self, e: QgsMapMouseEvent) -> None:  # noqa: N802 (QGIS's name)
        if self._vertices:
            self._preview(e.mapPoint())

    def canvasReleaseEvent(self, e: QgsMapMouseEvent) -> None:  # noqa: N802 (QGIS's name)
        if self._after_double_click:
            self._after_double_click = False
            return
        if e.button() == Qt.LeftButton:
            self.add_vertex(e.mapPoint())
        elif e.button() == Qt.RightButton and self._vertices:
            self._finish_reporting()

    def canvasDoubleClickEvent(self, e: QgsMapMouseEvent) -> None:  # noqa: N802 (QGIS's name)
        if e.button() == Qt.LeftButton and self._vertices:
            self.add_vertex(e.mapPoint())
            self._after_double_click = True
            self._finish_reporting()

    def _finish_reporting(self) -> None:
        try:
            self.finish()
        except LabelLayerError as error:
            self._report(error)

    def keyPressEvent(self, e: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        if e.key() == Qt.Key_Escape and self._vertices:
            self.cancel()
            e.accept()
        elif e.key() == Qt.Key_Backspace and self._vertices:
            self._vertices.pop()
            self._preview()
            e.accept()
        else:
            super().keyPressEvent(e)
