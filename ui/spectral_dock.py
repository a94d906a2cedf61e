"""Spectral profile dock: click a pixel, see its spectrum against wavelength, pin and compare, export CSV."""

from __future__ import annotations

import csv
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pyqtgraph as pg
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsPointXY,
    QgsProject,
    QgsRaster,
    QgsRasterLayer,
)
from qgis.gui import QgsDockWidget, QgsMapToolEmitPoint
from qgis.PyQt.QtCore import Qt, QVariant
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QGraphicsItem,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.io.pixel_values import PixelValues
from ..core.scene import ClassInfo
from ..plugin.rendering import blank_bad_bands, break_at_missing_bands, read_band_info, read_pixel_values
from .widget_helpers import enable_unless

SOURCES = ("labels", "synthetic")  # where class statistics come from
SOURCE_TITLES = {"labels": "labelled", "synthetic": "synthetic"}
SOURCE_NEEDS = {"labels": "None yet: press Class spectra in the HyperSynth dock",  # a disabled box's tooltip
                "synthetic": "None yet: a run of Augment & Classify shows its synthetic patches' spectra here"}
SYNTHETIC_KEY_COLOR = (90, 90, 90)  # the legend's sample line for "dashed: synthetic"
STD_ALPHA = 45  # opacity (0..255) of the ± std bands
CURRENT_COLOUR = (20, 20, 20)  # the last clicked pixel, before it is pinned: solid black, over everything else
CURRENT_WIDTH = 2.5  # its line width (class means and pinned spectra are 2)
# Pinned pixels: dash-dot lines (class means are solid, synthetic ones dashed) in colours of their own, dark and
# saturated where the default class palette is mid-toned, so a pinned pixel is not read as a class mean
PIN_COLOURS = [(117, 60, 170), (200, 80, 0), (0, 120, 110), (190, 30, 120), (90, 90, 0), (40, 70, 160)]
PIN_STYLE = Qt.DashDotLine
LEGEND_TEXT_COLOUR = (30, 30, 30)
LEGEND_TEXT_SIZE = "8pt"  # a legend row above the plot takes about 18 px
LEGEND_ENTRY_GAP = 14  # pixels between one legend entry and the next in its row
LEGEND_MAX_HEIGHT = 10_000.0  # no limit on the legend's row: it is as tall as its entries need
LEGEND_MAX_SHARE = 0.4  # a legend that would take more of the plot's height is hidden until the dock is taller
UNKNOWN_VALUES = PixelValues()  # "Pixel value": no scene, or statistics of another band count
EMPTY_STATUS = "Choose “Identify spectrum”, then click a pixel of the scene."  # before any click


@dataclass
class Curve:
    """One plotted spectrum."""

    name: str  # legend entry and CSV column header
    x: np.ndarray  # (B,) wavelengths in nm, or band numbers when the scene has no wavelengths
    y: np.ndarray  # (B,) values; NaN for nodata and bad bands (drawn as gaps)
    color: tuple[int, int, int]  # RGB 0..255


@dataclass
class SceneFacts:
    """What a scene file's metadata says of its bands, read once per file rather than at every click."""

    wavelengths: Optional[np.ndarray]  # (B,) nm, None when the file does not say
    bad: Optional[np.ndarray]  # (B,) bool, True for bands flagged bad; None when none is
    values: PixelValues  # what its values are: the value axis's title


@dataclass
class ClassBand:
    """A class's mean spectrum with its ± std band."""

    name: str  # e.g. "corn (labelled)": CSV column, and legend entry unless both sources are shown
    x: np.ndarray  # (B,) as for Curve
    mean: np.ndarray  # (B,)
    std: np.ndarray  # (B,)
    color: tuple[int, int, int]
    source: str  # "labels" or "synthetic"
    class_id: int = 0  # the class's label value
    class_name: str = ""  # the class's name, without the source


def pixel_name(layer: str, column: int, row: int) -> str:
    """How a clicked pixel is named: in the legend, the CSV header and the status line alike."""
    return f"{layer}: column {column}, row {row}"


def _legend_name(band: ClassBand, both: bool, labelled: set[int]) -> Optional[str]:
    """With labelled and synthetic statistics shown, a class is named once (by its labelled curve, ``labelled`` holds
    their class ids) and the dashed curves share one entry: twelve entries for six classes would cover the plot."""
    if not both:
        return band.name
    if band.source == "labels":
        return band.class_name
    return None if band.class_id in labelled else band.name


def patch_pyqtgraph_for_qgis() -> None:
    """Let pyqtgraph items leave a plot inside QGIS without "unable to convert a QVariant" errors.

    Under QgsApplication, the null scene/parent that Qt passes to ``itemChange`` when an item is removed
    reaches Python as an opaque QVariant that sip cannot convert back, so every ``plot.clear()`` raised
    (pyqtgraph issue 774; PyQt aborts on exceptions in virtual methods). Real scenes and parents arrive
    converted, so an unconverted value means removal: pyqtgraph's bookkeeping runs with None and None
    (no scene, no parent) goes back to Qt. Idempotent.
    """
    from pyqtgraph.graphicsItems.GraphicsObject import GraphicsObject
    from pyqtgraph.graphicsItems.ViewBox.ViewBox import ViewBox

    removal = (QGraphicsItem.ItemParentChange, QGraphicsItem.ItemSceneChange)
    for cls in (GraphicsObject, ViewBox):
        method = cls.__dict__["itemChange"]
        if getattr(method, "_hypersynth_patched", False):
            continue

        def item_change(self, change, value, _method=method):
            if change in removal and isinstance(value, QVariant):
                return _method(self, change, None)
            return _method(self, change, value)

        item_change._hypersynth_patched = True  # type: ignore[attr-defined]
        cls.itemChange = item_change


patch_pyqtgraph_for_qgis()


def fit_value_title(plot: pg.PlotWidget, title: str, short: Optional[str] = None) -> None:
    """Title ``plot``'s value axis ``title`` where it fits along the plot area, else ``short`` (default: ``title``
    without its parenthesis, the units or the scale applied); the axis's tooltip always says it whole."""
    axis = plot.getPlotItem().getAxis("left")
    axis.setToolTip(title)
    if axis.labelText != title:
        axis.setLabel(title)
    if axis.label.boundingRect().width() > plot.getPlotItem().vb.height():  # the label runs along the axis
        axis.setLabel(short if short is not None else title.split(" (")[0])


def plot_spectrum(plot: pg.PlotWidget, x: np.ndarray, y: np.ndarray, **options) -> pg.PlotDataItem:
    """Draw a spectrum as a line with gaps: at NaN values (bad bands, no data) and where bands are missing from
    ``x`` (:func:`~hypersynth.plugin.rendering.break_at_missing_bands`). ``options``: ``PlotWidget.plot``'s."""
    xs, (ys,) = break_at_missing_bands(x, y)
    return plot.plot(xs, ys, connect="finite", **options)


class LegendSample(pg.ItemSample):
    """A legend entry's line sample at its drawn size (pyqtgraph's has no size hint, so a layout made it 50 px)."""

    def __init__(self, item: pg.GraphicsObject) -> None:
        super().__init__(item)
        self.setMinimumSize(20, 20)
        self.setMaximumSize(20, 20)


class LegendAbovePlot(pg.LegendItem):
    """A legend laid out above the plot area, in as many columns as fit its width: it never covers a curve.

    pyqtgraph's own legend floats over the view box; in a docked plot it covered the SWIR half of the spectra. This
    one takes the place of the (unused) plot title in the PlotItem's layout, so the view box shrinks to make room, and
    the legend is part of the plot's scene (pyqtgraph's image export includes it). Clicking an entry's line hides its
    curve, as in pyqtgraph.
    """

    def __init__(self, plot: pg.PlotItem) -> None:
        super().__init__(offset=None, frame=False, labelTextColor=LEGEND_TEXT_COLOUR, labelTextSize=LEGEND_TEXT_SIZE,
                         horSpacing=6, verSpacing=-6, sampleType=LegendSample)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
        self.setMinimumWidth(0)  # never widens the plot beyond its view: a name longer than the plot is clipped
        self._plot = plot
        plot.layout.removeItem(plot.titleLabel)
        plot.titleLabel.hide()
        plot.legend = self  # PlotItem.plot(name=...) adds its entries here
        self.wanted = True  # the analyst's choice (the Legend button); shown when it also leaves the curves room
        self.crowded = False  # hidden now because the plot is too short for it
        self.set_shown(True)
        plot.vb.sigResized.connect(self.fit_columns)

    def set_wanted(self, wanted: bool) -> None:
        """The analyst shows or hides the legend; it is shown only while it leaves the curves room."""
        self.wanted = wanted
        self.fit_columns()
        self.set_shown(wanted and not self.crowded)

    def set_shown(self, shown: bool) -> None:
        """Show the legend above the plot, or hide it and give its room back to the curves."""
        layout = self._plot.layout
        placed = layout.itemAt(0, 1) is self
        if shown and not placed:
            layout.addItem(self, 0, 1)
        elif placed and not shown:
            layout.removeItem(self)  # a hidden item would keep its room in a QGraphicsGridLayout
        layout.setRowMinimumHeight(0, 0)
        layout.setRowMaximumHeight(0, LEGEND_MAX_HEIGHT if shown else 0)  # the hidden title had fixed it at 0
        self.setVisible(shown)

    def fit_columns(self) -> int:
        """Lay the entries out in as many columns as fit the plot area's width; returns the count."""
        view = self._plot.getViewWidget()  # the PlotWidget, None before the plot is in one
        axes = self._plot.width() - self._plot.vb.width()  # the value axis and margins beside the plot area
        width = self._plot.vb.width() if view is None else view.width() - axes
        entries = [sample.minimumWidth() + self.layout.horizontalSpacing() + label.itemRect().width()
                   + LEGEND_ENTRY_GAP for sample, label in self.items]
        columns = 1
        for n in range(len(entries), 1, -1):
            widths = [max(entries[c::n]) for c in range(n)]
            if sum(widths) <= width:
                columns = n
                break
        for c in range(columns):
            self.layout.setColumnSpacing(2 * c + 1, LEGEND_ENTRY_GAP)  # after each label, before the next sample
        if columns != self.columnCount:
            self.setColumnCount(columns)
        # in a short dock (QGIS's Processing results beside it, say) the rows would leave the curves no room: hidden
        # then, judged on the whole plot's height, which showing or hiding the legend does not change
        needed = self.layout.effectiveSizeHint(Qt.PreferredSize).height()
        crowded = view is not None and needed > LEGEND_MAX_SHARE * view.height()
        if crowded != self.crowded:
            self.crowded = crowded
            self.set_shown(self.wanted and not crowded)
        return columns

    def updateSize(self) -> None:  # noqa: N802 (pyqtgraph's name)
        """The plot's layout sizes the legend (pyqtgraph's moved it to the plot's corner)."""
        self.updateGeometry()

    def mouseDragEvent(self, ev) -> None:  # noqa: N802
        ev.ignore()  # it stays where the layout puts it

    def hoverEvent(self, ev) -> None:  # noqa: N802
        pass


def _std_follows_mean(mean: pg.PlotDataItem, fills: list[pg.FillBetweenItem]) -> None:
    """Hide a class's ± std band with its mean curve (a click on the curve's legend entry hides the curve)."""

    def follow() -> None:
        for fill in fills:
            fill.setVisible(mean.isVisible())

    mean.visibleChanged.connect(follow)


def _finite_runs(*arrays: np.ndarray) -> list[slice]:
    """Slices of consecutive indices where every array is finite (one fill per run, gaps stay empty)."""
    finite = np.logical_and.reduce([np.isfinite(a) for a in arrays])
    runs, start = [], None
    for i, ok in enumerate(finite):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            runs.append(slice(start, i))
            start = None
    if start is not None:
        runs.append(slice(start, len(finite)))
    return runs


class SpectralProfileDock(QgsDockWidget):
    """Spectra of clicked pixels against wavelength, with pinned curves and per-class mean ± std.

    Args:
        iface: the QGIS interface (for the map canvas and the active layer); None in plain widgets.
    """

    def __init__(self, iface=None, parent: Optional[QWidget] = None) -> None:
        super().__init__("HyperSynth spectral profile", parent)
        self.setObjectName("HyperSynthSpectralProfileDock")
        self.iface = iface
        self._layer: Optional[QgsRasterLayer] = None
        self._current: Optional[Curve] = None
        self._pinned: list[Curve] = []
        self._stats: dict[str, list[ClassBand]] = {s: [] for s in SOURCES}
        self._x_title = "Wavelength (nm)"
        self._values = UNKNOWN_VALUES  # what the plotted values are: the value axis's title
        self._facts: dict[str, SceneFacts] = {}  # by layer source

        body = QWidget()
        layout = QVBoxLayout(body)
        bar = QHBoxLayout()
        self.identify_button = QToolButton(text="Identify spectrum", checkable=True)
        self.identify_button.setToolTip("Click a pixel on the map to show its spectrum")
        self.identify_button.toggled.connect(self._toggle_tool)
        self.pin_button = QToolButton(text="Pin")
        self.pin_button.clicked.connect(self.pin_current)
        self.clear_button = QToolButton(text="Clear")
        self.clear_button.clicked.connect(self.clear)
        self.export_button = QToolButton(text="Export CSV…")
        self.export_button.clicked.connect(self._ask_export)
        self.legend_button = QToolButton(text="Legend", checkable=True, checked=True)
        self.legend_button.setToolTip("Show the legend above the plot (hidden while the dock is too short to leave "
                                      "the curves room); click an entry's line to hide that curve")
        self.legend_button.toggled.connect(self._legend_toggled)
        for w in (self.identify_button, self.pin_button, self.clear_button, self.export_button, self.legend_button):
            bar.addWidget(w)
        bar.addStretch(1)
        layout.addLayout(bar)
        toggles = QHBoxLayout()
        self.show_source: dict[str, QCheckBox] = {}
        for source in SOURCES:
            box = QCheckBox(f"{SOURCE_TITLES[source].capitalize()} class mean ± std", checked=True)
            box.toggled.connect(self._redraw)
            self.show_source[source] = box
            self._enable_source(source, False)
            toggles.addWidget(box)
        toggles.addStretch(1)
        layout.addLayout(toggles)

        self.plot = pg.PlotWidget(background="w")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("left", self._values.axis_title())
        self.plot.setLabel("bottom", self._x_title)
        self.legend = LegendAbovePlot(self.plot.getPlotItem())
        self.plot.getPlotItem().vb.sigResized.connect(self._show_value_title)
        layout.addWidget(self.plot, 1)
        self.status = QLabel(EMPTY_STATUS)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.setWidget(body)

        self._tool: Optional[QgsMapToolEmitPoint] = None
        if iface is not None:
            self._tool = QgsMapToolEmitPoint(iface.mapCanvas())
            self._tool.canvasClicked.connect(self._clicked)
            self._tool.deactivated.connect(lambda: self.identify_button.setChecked(False))
        self._redraw()  # the buttons' states: nothing plotted yet

    # --- the scene --------------------------------------------------------------------------------
    def set_scene_layer(self, layer: Optional[QgsRasterLayer]) -> None:
        """The raster whose spectra clicks read (default: the active raster layer). Another scene's file drops the
        class statistics shown (its labelled pixels', a run's synthetic patches'): they were the earlier scene's;
        clicked and pinned spectra stay, named by their own pixels."""
        layer = layer if isinstance(layer, QgsRasterLayer) else None
        before = self._layer
        self._layer = layer
        if before is None or layer is None or before.source() == layer.source():
            return
        if any(self._stats.values()):
            self._stats = {s: [] for s in SOURCES}
            for source in SOURCES:
                self._enable_source(source, False)
            self.status.setText(f"The class spectra of {before.name()} were cleared: {layer.name()} is the scene now.")
            self._redraw()

    def identify_tool(self) -> Optional[QgsMapToolEmitPoint]:
        """The map tool that emits clicked points (None without an iface)."""
        return self._tool

    def _scene(self) -> Optional[QgsRasterLayer]:
        if self._layer is not None:
            return self._layer
        active = self.iface.activeLayer() if self.iface is not None else None
        return active if isinstance(active, QgsRasterLayer) else None

    def _toggle_tool(self, on: bool) -> None:
        if self._tool is None:
            return
        canvas = self.iface.mapCanvas()
        if on:
            canvas.setMapTool(self._tool)
        elif canvas.mapTool() is self._tool:
            canvas.unsetMapTool(self._tool)

    def _clicked(self, point: QgsPointXY, button: Qt.MouseButton) -> None:
        if button != Qt.LeftButton:
            return
        layer = self._scene()
        if layer is None:
            self.status.setText("No scene: choose a raster layer in the HyperSynth dock.")
            return
        self.show_pixel(layer, point, self.iface.mapCanvas().mapSettings().destinationCrs())

    def show_pixel(self, layer: QgsRasterLayer, point: QgsPointXY,
                   crs: Optional[QgsCoordinateReferenceSystem] = None) -> Optional[np.ndarray]:
        """Read and plot the spectrum of the pixel under ``point``.

        Args:
            layer: the scene raster.
            point: where to read; in ``crs`` (default: the layer's CRS).
            crs: the CRS of ``point``, e.g. the map canvas's.

        Returns:
            ``(B,)`` values with scale/offset applied (NaN for nodata and bad bands), or None when the
            point lies outside the scene.
        """
        if crs is not None and crs.isValid() and crs != layer.crs():
            point = QgsCoordinateTransform(crs, layer.crs(), QgsProject.instance()).transform(point)
        extent = layer.extent()  # pixels are half open: the right and bottom edges belong to no pixel of the scene
        if not (extent.xMinimum() <= point.x() < extent.xMaximum()
                and extent.yMinimum() < point.y() <= extent.yMaximum()):
            self.status.setText("That point lies outside the scene.")
            return None
        result = layer.dataProvider().identify(point, QgsRaster.IdentifyFormatValue)
        if not result.isValid():
            self.status.setText(f"Could not read the pixel: {result.error().message()}")
            return None
        values = result.results()  # band number -> value (scale/offset applied), None for nodata
        y = blank_bad_bands([np.nan if values.get(b) is None else float(values[b])
                             for b in range(1, layer.bandCount() + 1)], self._band_facts(layer).bad)
        x = self._x_for(layer, len(y))
        self._values = self._band_facts(layer).values
        col = int((point.x() - layer.extent().xMinimum()) / layer.rasterUnitsPerPixelX())
        row = int((layer.extent().yMaximum() - point.y()) / layer.rasterUnitsPerPixelY())
        where = pixel_name(layer.name(), col, row)
        self._current = Curve(where, x, y, CURRENT_COLOUR)
        self.status.setText(f"{where}; {int(np.isfinite(y).sum())} of {len(y)} bands have data.")
        self._redraw()
        return y

    def _band_facts(self, layer: QgsRasterLayer) -> SceneFacts:
        """What a layer's file says of its bands and values, read once per file rather than at every click."""
        source = layer.source()
        if source not in self._facts:
            self._facts[source] = SceneFacts(*read_band_info(source), read_pixel_values(source))
        return self._facts[source]

    def value_title(self) -> str:
        """What the plotted values are ("Reflectance", "Pixel value (scale 0.0001 applied)", …): the value axis's
        title where the axis is long enough, else its short form; the axis's tooltip always."""
        return self._values.axis_title()

    def _show_value_title(self) -> None:
        """The value axis's title: whole where it fits beside the plot area, else without units or scale."""
        fit_value_title(self.plot, self.value_title(), self._values.axis_title(short=True))

    def _x_for(self, layer: QgsRasterLayer, bands: int) -> np.ndarray:
        wavelengths = self._band_facts(layer).wavelengths
        if wavelengths is not None and len(wavelengths) == bands:
            self._x_title = "Wavelength (nm)"
            return wavelengths
        self._x_title = "Band"
        return np.arange(1, bands + 1, dtype=float)

    # --- curves -----------------------------------------------------------------------------------
    def current_curve(self) -> Optional[Curve]:
        return self._current

    def pinned_curves(self) -> list[Curve]:
        return list(self._pinned)

    def pin_current(self) -> Optional[Curve]:
        """Keep the current spectrum in its own colour; the next click shows beside it."""
        if self._current is None:
            return None
        color = PIN_COLOURS[len(self._pinned) % len(PIN_COLOURS)]
        pinned = Curve(self._current.name, self._current.x, self._current.y, color)
        self._pinned.append(pinned)
        self._current = None
        self._redraw()
        return pinned

    def clear(self) -> None:
        """Remove the current and pinned spectra (class statistics stay)."""
        self._current = None
        self._pinned = []
        self._redraw()

    def forget_project(self) -> None:
        """Back to the empty dock: no scene, clicked or pinned spectra, nor class statistics (they belonged to a
        project that was closed)."""
        self._layer, self._current, self._pinned, self._facts = None, None, [], {}
        self._values = UNKNOWN_VALUES
        self._stats = {s: [] for s in SOURCES}
        for source in SOURCES:
            self._enable_source(source, False)
        self.status.setText(EMPTY_STATUS)
        self._redraw()

    def set_class_statistics(self, stats: dict[int, tuple[np.ndarray, np.ndarray]], classes: Sequence[ClassInfo],
                             source: str = "labels", wavelengths: Optional[Sequence[float]] = None) -> None:
        """Overlay per-class mean ± std spectra.

        Statistics over the scene's bands leave gaps at the bands its metadata flags bad, as a clicked pixel's
        spectrum does: a labelled class's mean there is the real (near zero) value of a water-absorption band.

        Args:
            stats: class id -> ``(mean (B,), std (B,))``; NaN entries become gaps.
            classes: names and colours of the classes.
            source: ``"labels"`` (real labelled pixels) or ``"synthetic"`` (drawn dashed).
            wavelengths: ``(B,)`` nm; default the scene's wavelengths, else band numbers.
        """
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
        by_id = {c.id: c for c in classes}
        bands: list[ClassBand] = []
        for class_id, (mean, std) in sorted(stats.items()):
            mean = np.asarray(mean, dtype=float)
            std = np.asarray(std, dtype=float)
            if mean.shape != std.shape or mean.ndim != 1:
                raise ValueError(f"class {class_id}: mean {mean.shape} and std {std.shape} must be equal (B,) arrays")
            facts = self._scene_facts(len(mean))
            if facts is not None:
                if source == "synthetic":  # the engine's units: ENVI's reflectance factor applied, QGIS's not
                    mean, std = facts.values.from_engine(mean), facts.values.from_engine(std)
                mean, std = blank_bad_bands(mean, facts.bad), blank_bad_bands(std, facts.bad)
                self._values = facts.values
            info = by_id.get(class_id, ClassInfo(class_id, f"class {class_id}"))
            x = self._stats_x(len(mean), wavelengths)
            bands.append(ClassBand(f"{info.name} ({SOURCE_TITLES[source]})", x, mean, std, info.color, source,
                                   int(class_id), info.name))
        self._stats[source] = bands
        self._enable_source(source, bool(bands))
        self._redraw()

    def _enable_source(self, source: str, shown: bool) -> None:
        """A class-statistics box acts while there are statistics of its source; disabled, its tooltip says how to
        get some."""
        enable_unless(self.show_source[source], f"Show or hide the {SOURCE_TITLES[source]} class means ± std",
                      "" if shown else SOURCE_NEEDS[source])

    def _scene_facts(self, bands: int) -> Optional[SceneFacts]:
        """The scene's :class:`SceneFacts` when it has ``bands`` bands (statistics over its bands), else None."""
        layer = self._scene()
        return self._band_facts(layer) if layer is not None and layer.bandCount() == bands else None

    def _stats_x(self, bands: int, wavelengths: Optional[Sequence[float]]) -> np.ndarray:
        if wavelengths is not None:
            if len(wavelengths) != bands:
                raise ValueError(f"{len(wavelengths)} wavelengths for {bands}-band class statistics")
            self._x_title = "Wavelength (nm)"
            return np.asarray(wavelengths, dtype=float)
        layer = self._scene()
        if layer is not None and layer.bandCount() == bands:
            return self._x_for(layer, bands)
        return np.arange(1, bands + 1, dtype=float)

    def class_bands(self, source: Optional[str] = None) -> list[ClassBand]:
        """The class statistics shown (of one source, or all)."""
        sources = SOURCES if source is None else (source,)
        return [b for s in sources for b in self._stats[s]]

    def _visible_bands(self) -> list[ClassBand]:
        return [b for s in SOURCES if self.show_source[s].isChecked() for b in self._stats[s]]

    def _redraw(self) -> None:
        self.plot.clear()
        self.legend.clear()
        bands = self._visible_bands()
        both = {b.source for b in bands} == set(SOURCES)  # then one legend entry per class, and one for the dashes
        labelled = {b.class_id for b in self._stats["labels"]} if both else set()
        for band in bands:
            color = band.color
            style = Qt.SolidLine if band.source == "labels" else Qt.DashLine
            x, (mean, std) = break_at_missing_bands(band.x, band.mean, band.std)
            fills = []
            for run in _finite_runs(mean, std):
                upper = pg.PlotCurveItem(x[run], mean[run] + std[run], pen=pg.mkPen(None))
                lower = pg.PlotCurveItem(x[run], mean[run] - std[run], pen=pg.mkPen(None))
                fills.append(pg.FillBetweenItem(upper, lower, brush=pg.mkBrush(*color, STD_ALPHA)))
                self.plot.addItem(fills[-1])
            line = plot_spectrum(self.plot, band.x, band.mean, pen=pg.mkPen(color, width=2, style=style),
                                 name=_legend_name(band, both, labelled))
            _std_follows_mean(line, fills)
        if both:
            self.legend.addItem(pg.PlotDataItem(pen=pg.mkPen(SYNTHETIC_KEY_COLOR, width=2, style=Qt.DashLine)),
                                f"{SOURCE_TITLES['synthetic']} (dashed)")
        for curve in self._pinned:
            plot_spectrum(self.plot, curve.x, curve.y, pen=pg.mkPen(curve.color, width=2, style=PIN_STYLE),
                          name=curve.name)
        if self._current is not None:
            c = self._current
            plot_spectrum(self.plot, c.x, c.y, pen=pg.mkPen(c.color, width=CURRENT_WIDTH), name=c.name)  # last: on top
        self.plot.setLabel("bottom", self._x_title)
        self._show_value_title()
        self.legend.fit_columns()
        # the buttons act on what is plotted: with nothing there, disabled, their tooltips say what to do first
        enable_unless(self.pin_button, "Keep the current spectrum to compare with the next ones",
                      "" if self._current is not None else "Click a pixel with Identify spectrum first")
        enable_unless(self.clear_button, "Remove the clicked and pinned spectra",
                      "" if self._current is not None or self._pinned else "No clicked or pinned spectrum to clear")
        enable_unless(self.export_button, "Write every curve on the plot to a CSV file (a column a curve)",
                      "" if self.plotted_curves() else "Nothing plotted: click a pixel or show class spectra first")

    def _legend_toggled(self, shown: bool) -> None:
        self.legend.set_wanted(shown)

    def legend_entries(self) -> list[str]:
        """The legend's texts, top to bottom."""
        return [label.text for _, label in self.legend.items]

    def plotted_curves(self) -> list[Curve]:
        """Every curve on the plot, as exported: current, pinned, then class means and stds."""
        curves = ([self._current] if self._current is not None else []) + list(self._pinned)
        for band in self._visible_bands():
            curves.append(Curve(f"{band.name} mean", band.x, band.mean, band.color))
            curves.append(Curve(f"{band.name} std", band.x, band.std, band.color))
        return curves

    # --- export -----------------------------------------------------------------------------------
    def export_csv(self, path: str | os.PathLike) -> Path:
        """Write the plotted curves to CSV: the x column first, one column per curve, empty for gaps.

        Raises:
            ValueError: when nothing is plotted.
        """
        curves = self.plotted_curves()
        if not curves:
            raise ValueError("nothing to export: click a pixel or pin a spectrum first")
        xs = np.unique(np.concatenate([c.x for c in curves]))
        header = ["wavelength_nm" if self._x_title.startswith("Wavelength") else "band"] + [c.name for c in curves]
        columns = []
        for c in curves:
            lookup = {float(x): float(y) for x, y in zip(c.x, c.y)}
            columns.append([lookup.get(float(x), np.nan) for x in xs])
        target = Path(path)
        fd, tmp = tempfile.mkstemp(suffix=".csv", prefix=".spectra-", dir=str(target.parent))
        try:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(header)
                for i, x in enumerate(xs):
                    row = [f"{x:g}"] + ["" if not np.isfinite(col[i]) else f"{col[i]:.6g}" for col in columns]
                    writer.writerow(row)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return target

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export spectra", "spectra.csv", "CSV (*.csv)")
        if path:
            try:
                self.export_csv(path)
                self.status.setText(f"Spectra written to {path}")
            except (ValueError, OSError) as error:
                self.status.setText(str(error))

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.identify_button.setChecked(False)
        super().closeEvent(event)
