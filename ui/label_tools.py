"""The class panel's labelling row: Brush and Polygon tools, the brush radius, Undo, Save labels, and the tool hint."""

from __future__ import annotations

import html
from typing import Callable, Optional

from qgis.core import QgsRasterLayer, QgsUnitTypes, QgsVectorLayer
from qgis.gui import QgsMapCanvas
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QObject, Qt, pyqtSignal
from qgis.PyQt.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QToolButton

from ..core.scene import ClassInfo
from ..plugin.label_layer import POINT_LAYER_PAINTS_NOT, holds_points
from ..plugin.maptools import DEFAULT_BRUSH_PIXELS, BrushTool, LabelTool, PolygonTool
from .widget_helpers import enable_unless

AUTO_RADIUS = f"auto: {DEFAULT_BRUSH_PIXELS} screen px"  # the radius box at 0: a brush as wide on screen at any zoom
BRUSH_TIP = "Paint labels of the selected class; each stroke is one polygon"
POLYGON_TIP = "Click vertices; right-click or double-click to finish, Esc to cancel"
UNDO_TIP = "Undo the last label edit (Ctrl+Z while a label tool is active)"
SAVE_LABELS_TIP = "Write the label edits to the label layer's file"
NEEDS_LABEL_LAYER = "Needs a label layer: choose one above, or New… makes one"
NEEDS_CLASS = "Needs a class: Add one or Load classes…, then select it in the table"
NEEDS_POLYGON_LAYER = POINT_LAYER_PAINTS_NOT[0].upper() + POINT_LAYER_PAINTS_NOT[1:]  # the tools paint polygons
PIXEL_UNITS = "scene px"  # the radius's unit over a scene without georeference: the map's units are its pixels
GRID_UNITS = "map units"  # over a scene with a grid but no CRS: the map's units are its grid's, some per pixel
CHECKED_TOOL_STYLE = ("QToolButton:checked { background-color: #2f6fb3; color: white; font-weight: bold; "
                      "border: 1px solid #1d4f85; border-radius: 3px; padding: 2px 6px; }")  # which tool is on


class LabelTools(QObject):
    """The Brush and Polygon map tools that draw labels of the selected class into the label layer, and the widgets
    that drive them: ``row`` (Brush, Polygon, radius, Undo, Save labels) and ``tool_hint`` (which class a tool on
    draws), for the panel to lay out. Undo and Save labels are enabled here; what they do is the panel's.

    Args:
        canvas: the map canvas the tools draw on; None: no tools (the buttons stay disabled).
        current_class: the class the tools draw now (the class table's selection), or None.
    """

    message = pyqtSignal(str)  # something the analyst should read

    def __init__(self, canvas: Optional[QgsMapCanvas], current_class: Callable[[], Optional[ClassInfo]],
                 parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._canvas = canvas
        self._current_class = current_class
        self._label_layer: Optional[QgsVectorLayer] = None
        self._scene: Optional[QgsRasterLayer] = None  # the scene labelled: without georeference, radii are in pixels
        self._radius_units: object = None  # the units the radius is in: a QgsUnitTypes.DistanceUnit or PIXEL_UNITS

        self.row = QHBoxLayout()
        self.brush_button = QToolButton(text="Brush", checkable=True)
        self.polygon_button = QToolButton(text="Polygon", checkable=True)
        for button in (self.brush_button, self.polygon_button):
            button.setStyleSheet(CHECKED_TOOL_STYLE)
        self.row.addWidget(self.brush_button)
        self.row.addWidget(self.polygon_button)
        self.row.addWidget(QLabel("radius"))
        self.radius = QDoubleSpinBox()
        self.radius.setRange(0.0, 1e6)
        self.radius.setDecimals(1)
        self.radius.setSpecialValueText(AUTO_RADIUS)  # a suffix is not shown with it: the unit is in the text
        self.radius.setToolTip(f"Brush radius in map units; {AUTO_RADIUS} is as wide on screen at any zoom")
        self.row.addWidget(self.radius)
        self.undo_button = QToolButton(text="Undo")
        self.save_labels_button = QToolButton(text="Save labels")
        self.row.addWidget(self.undo_button)
        self.row.addWidget(self.save_labels_button)
        self.row.addStretch(1)
        self.tool_hint = QLabel("")  # while a label tool is on: which class it draws and how to stop it
        self.tool_hint.setTextFormat(Qt.RichText)  # the class in bold after a swatch of its colour
        self.tool_hint.setWordWrap(True)
        self.tool_hint.setVisible(False)

        self.brush: Optional[BrushTool] = None
        self.polygon: Optional[PolygonTool] = None
        if canvas is not None:
            self.brush = BrushTool(canvas)
            self.polygon = PolygonTool(canvas)
            for tool, button in ((self.brush, self.brush_button), (self.polygon, self.polygon_button)):
                tool.message.connect(self.message)
                tool.deactivated.connect(lambda b=button: b.setChecked(False))
                button.toggled.connect(lambda on, t=tool: self._toggle_tool(t, on))
            self.radius.valueChanged.connect(lambda r: self.brush.set_radius(r or None))
            canvas.destinationCrsChanged.connect(self._follow_canvas_units)
            self._follow_canvas_units()
        else:
            self.radius.setEnabled(False)

    def set_label_layer(self, layer: Optional[QgsVectorLayer]) -> None:
        """The layer the tools draw into (None: none)."""
        self._label_layer = layer
        for tool in (self.brush, self.polygon):
            if tool is not None:
                tool.set_label_layer(layer)

    def set_scene(self, scene: Optional[QgsRasterLayer]) -> None:
        """The scene labelled (None: none); over one without georeference the radius is in its pixels."""
        self._scene = scene
        if self._canvas is not None:
            self._follow_canvas_units()

    def follow_class(self, current: Optional[ClassInfo]) -> None:
        """The tools draw labels of ``current`` from now on."""
        for tool in (self.brush, self.polygon):
            if tool is not None:
                tool.set_class(current)

    def update_buttons(self, current: Optional[ClassInfo]) -> None:
        """Enable the tools, Undo and Save labels when they can act, each disabled one's tooltip saying what it needs;
        a tool that is on but has nothing to draw into, or no class, lets go of the canvas."""
        layer = self._label_layer
        if layer is not None and sip.isdeleted(layer):
            layer = None
        draw_needs = ("Needs the QGIS map canvas" if self._canvas is None else
                      NEEDS_LABEL_LAYER if layer is None else NEEDS_POLYGON_LAYER if holds_points(layer) else
                      NEEDS_CLASS if current is None else "")
        for button, tip in ((self.brush_button, BRUSH_TIP), (self.polygon_button, POLYGON_TIP)):
            if draw_needs and button.isChecked():
                button.setChecked(False)  # its tool lets go of the canvas (nothing to draw into, or no class)
            enable_unless(button, tip, draw_needs)
        unsaved = layer is not None and layer.isEditable() and layer.isModified()
        enable_unless(self.undo_button, UNDO_TIP, NEEDS_LABEL_LAYER if layer is None else
                      "" if layer.undoStack().canUndo() else "No label edit to undo")
        enable_unless(self.save_labels_button, SAVE_LABELS_TIP, NEEDS_LABEL_LAYER if layer is None else
                      "" if unsaved else "No unsaved label edits")

    def show_hint(self, current: Optional[ClassInfo]) -> None:
        """While the Brush or Polygon tool is on: the class it draws (in its colour) and how to stop."""
        on = "Brush" if self.brush_button.isChecked() else "Polygon" if self.polygon_button.isChecked() else ""
        if not on or current is None:
            self.tool_hint.setVisible(False)
            self.tool_hint.setText("")
            return
        swatch = "<span style='color: rgb({}, {}, {});'>&#9632;</span>".format(*current.color)
        doing = "Painting" if on == "Brush" else "Drawing polygons of"
        how = ("" if on == "Brush" else "right-click or double-click ends a polygon; ")
        self.tool_hint.setText(f"{doing}: {swatch} <b>{html.escape(current.name)}</b> — {how}Esc drops what is "
                               f"being drawn, and stops the tool when nothing is (or click {on} again).")
        self.tool_hint.setVisible(True)

    def _follow_canvas_units(self) -> None:
        """The brush radius is in the map's units: its unit, decimals and step follow them (0.0002 degrees is a brush
        of about 20 m), and a radius set in other units goes back to auto.

        Over a scene without CRS the map's coordinates are the scene's own, whatever the canvas's CRS says (EPSG:4326
        by default, whose "degrees" would be a lie): its pixels where it has no georeference (QGIS draws it with
        x = column and y = -row), so the radius is in scene pixels there; its grid's units where the file has a grid
        but no CRS (30 a pixel, say), so the radius is in those map units.
        """
        assert self._canvas is not None
        scene = self._scene
        no_crs = scene is not None and not sip.isdeleted(scene) and not scene.crs().isValid()
        pixel_size = scene.rasterUnitsPerPixelX() if no_crs else 0.0
        pixels = no_crs and abs(pixel_size - 1.0) < 1e-12
        map_units = self._canvas.mapUnits()
        units: object = PIXEL_UNITS if pixels else GRID_UNITS if no_crs else map_units
        if units == self._radius_units:
            return
        before, self._radius_units = self._radius_units, units
        degrees = units == QgsUnitTypes.DistanceDegrees
        self.radius.setDecimals(6 if degrees else 1 if pixels else 2)  # a grid without CRS: 2, as metres
        self.radius.setSingleStep(0.0001 if degrees else 0.5 if pixels else 1.0)
        if pixels:
            suffix, unit_name = PIXEL_UNITS, "scene pixels"
            why = " (the scene has no georeference: the map's coordinates are its columns and rows)"
        elif no_crs:
            suffix, unit_name = GRID_UNITS, "the scene's map units"
            why = f" (the scene has no CRS: the map's coordinates are its grid's, {pixel_size:g} a pixel)"
        elif map_units == QgsUnitTypes.DistanceUnknownUnit:
            suffix, unit_name, why = "map units", "map units", " (the map has no CRS)"
        else:
            suffix, unit_name, why = QgsUnitTypes.toAbbreviatedString(map_units), QgsUnitTypes.toString(map_units), ""
        self.radius.setSuffix(f" {suffix}")
        self.radius.setToolTip(f"Brush radius in {unit_name}{why}; {AUTO_RADIUS} is as wide on screen at any zoom")
        if before is not None and self.radius.value() > 0:
            self.radius.setValue(0.0)
            self.message.emit(f"The brush radius is now in {unit_name}: it is back to auto; set it again in the new "
                              "units.")

    def _toggle_tool(self, tool: LabelTool, on: bool) -> None:
        assert self._canvas is not None
        if on:
            if self._label_layer is None:
                self.message.emit("Choose or create a label layer first.")
            elif self._current_class() is None:
                self.message.emit("Select the class to label in the table first.")
            self._canvas.setMapTool(tool)
        elif self._canvas.mapTool() is tool:
            self._canvas.unsetMapTool(tool)
