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
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.scene import DEFAULT_COLORS, ClassInfo
from ..plugin.rendering import read_band_info

SOURCES = ("labels", "synthetic")  # where class statistics come from
SOURCE_TITLES = {"labels": "labelled", "synthetic": "synthetic"}
SYNTHETIC_KEY_COLOR = (90, 90, 90)  # the legend's sample line for "dashed: synthetic"
STD_ALPHA = 45  # opacity (0..255) of the ± std bands
CURRENT_COLOUR = (20, 20, 20)  # the last clicked pixel, before it is pinned
EMPTY_STATUS = "Choose “Identify spectrum”, then click a pixel of the scene."  # before any click


@dataclass
class Curve:
    """One plotted spectrum."""

    name: str  # legend entry and CSV column header
    x: np.ndarray  # (B,) wavelengths in nm, or band numbers when the scene has no wavelengths
    y: np.ndarray  # (B,) values; NaN for nodata and bad bands (drawn as gaps)
    color: tuple[int, int, int]  # RGB 0..255


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
        self._facts: dict[str, tuple[Optional[np.ndarray], Optional[np.ndarray]]] = {}  # by layer source

        body = QWidget()
        layout = QVBoxLayout(body)
        bar = QHBoxLayout()
        self.identify_button = QToolButton(text="Identify spectrum", checkable=True)
        self.identify_button.setToolTip("Click a pixel on the map to show its spectrum")
        self.identify_button.toggled.connect(self._toggle_tool)
        self.pin_button = QToolButton(text="Pin")
        self.pin_button.setToolTip("Keep the current spectrum to compare with the next ones")
        self.pin_button.clicked.connect(self.pin_current)
        self.clear_button = QToolButton(text="Clear")
        self.clear_button.clicked.connect(self.clear)
        self.export_button = QToolButton(text="Export CSV…")
        self.export_button.clicked.connect(self._ask_export)
        for w in (self.identify_button, self.pin_button, self.clear_button, self.export_button):
            bar.addWidget(w)
        bar.addStretch(1)
        layout.addLayout(bar)
        toggles = QHBoxLayout()
        self.show_source: dict[str, QCheckBox] = {}
        for source in SOURCES:
            box = QCheckBox(f"{SOURCE_TITLES[source].capitalize()} class mean ± std", checked=True)
            box.toggled.connect(self._redraw)
            box.setEnabled(False)
            self.show_source[source] = box
            toggles.addWidget(box)
        toggles.addStretch(1)
        layout.addLayout(toggles)

        self.plot = pg.PlotWidget(background="w")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("left", "Value")
        self.plot.setLabel("bottom", self._x_title)
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextColor=(30, 30, 30))
        self.legend.setBrush(pg.mkBrush(255, 255, 255, 200))
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

    # --- the scene --------------------------------------------------------------------------------
    def set_scene_layer(self, layer: Optional[QgsRasterLayer]) -> None:
        """The raster whose spectra clicks read (default: the active raster layer)."""
        self._layer = layer if isinstance(layer, QgsRasterLayer) else None

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
        y = np.array([np.nan if values.get(b) is None else float(values[b])
                      for b in range(1, layer.bandCount() + 1)])
        bad = self._band_facts(layer)[1]
        if bad is not None and len(bad) == len(y):
            y[bad] = np.nan
        x = self._x_for(layer, len(y))
        col = int((point.x() - layer.extent().xMinimum()) / layer.rasterUnitsPerPixelX())
        row = int((layer.extent().yMaximum() - point.y()) / layer.rasterUnitsPerPixelY())
        self._current = Curve(f"{layer.name()} pixel ({col}, {row})", x, y, CURRENT_COLOUR)
        self.status.setText(f"{layer.name()}: column {col}, row {row}; {int(np.isfinite(y).sum())} of {len(y)} "
                            "bands have data.")
        self._redraw()
        return y

    def _band_facts(self, layer: QgsRasterLayer) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        """(wavelengths, bad-band flags) of a layer, read once per file rather than at every click."""
        source = layer.source()
        if source not in self._facts:
            self._facts[source] = read_band_info(source)  # one read of the file's metadata
        return self._facts[source]

    def _x_for(self, layer: QgsRasterLayer, bands: int) -> np.ndarray:
        wavelengths = self._band_facts(layer)[0]
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
        color = DEFAULT_COLORS[len(self._pinned) % len(DEFAULT_COLORS)]
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
        self._stats = {s: [] for s in SOURCES}
        for box in self.show_source.values():
            box.setEnabled(False)
        self.status.setText(EMPTY_STATUS)
        self._redraw()

    def set_class_statistics(self, stats: dict[int, tuple[np.ndarray, np.ndarray]], classes: Sequence[ClassInfo],
                             source: str = "labels", wavelengths: Optional[Sequence[float]] = None) -> None:
        """Overlay per-class mean ± std spectra.

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
            info = by_id.get(class_id, ClassInfo(class_id, f"class {class_id}"))
            x = self._stats_x(len(mean), wavelengths)
            bands.append(ClassBand(f"{info.name} ({SOURCE_TITLES[source]})", x, mean, std, info.color, source,
                                   int(class_id), info.name))
        self._stats[source] = bands
        self.show_source[source].setEnabled(bool(bands))
        self._redraw()

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
            for run in _finite_runs(band.mean, band.std):
                upper = pg.PlotCurveItem(band.x[run], band.mean[run] + band.std[run], pen=pg.mkPen(None))
                lower = pg.PlotCurveItem(band.x[run], band.mean[run] - band.std[run], pen=pg.mkPen(None))
                self.plot.addItem(pg.FillBetweenItem(upper, lower, brush=pg.mkBrush(*color, STD_ALPHA)))
            self.plot.plot(band.x, band.mean, pen=pg.mkPen(color, width=2, style=style), connect="finite",
                           name=_legend_name(band, both, labelled))
        if both:
            self.legend.addItem(pg.PlotDataItem(pen=pg.mkPen(SYNTHETIC_KEY_COLOR, width=2, style=Qt.DashLine)),
                                f"{SOURCE_TITLES['synthetic']} (dashed)")
        for curve in self._pinned:
            self.plot.plot(curve.x, curve.y, pen=pg.mkPen(curve.color, width=2), connect="finite", name=curve.name)
        if self._current is not None:
            c = self._current
            self.plot.plot(c.x, c.y, pen=pg.mkPen(c.color, width=2, style=Qt.DashLine), connect="finite",
                           symbol="o", symbolSize=4, symbolBrush=c.color, name=c.name)
        self.plot.setLabel("bottom", self._x_title)

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
            with os.fdopen(fd, "w", newline="") as handle:
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
