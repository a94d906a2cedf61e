"""Spectral profile dock: a click plots the pixel's B values, pins compare, class stats overlay, CSV export."""

from __future__ import annotations

import csv

import numpy as np
import pyqtgraph as pg
from qgis.core import QgsPointXY
from qgis.PyQt.QtCore import Qt

from hypersynth.ui.spectral_dock import SpectralProfileDock

from .conftest import (BAD_BAND, BANDS, COLS, NODATA_PIXEL, ORIGIN, PIXEL, ROWS, WAVELENGTHS, physical_value,
                       pixel_centre)


def _plotted_items(dock):
    return [i for i in dock.plot.getPlotItem().items if isinstance(i, pg.PlotDataItem)]


def test_click_plots_the_pixel_spectrum(keep, qgis_iface, canvas, scene_layer):
    dock = SpectralProfileDock(qgis_iface)
    keep(dock)
    dock.set_scene_layer(scene_layer)
    dock.identify_button.setChecked(True)
    assert canvas.mapTool() is dock.identify_tool()
    dock.identify_tool().canvasClicked.emit(QgsPointXY(*pixel_centre(7, 9)), Qt.LeftButton)
    curve = dock.current_curve()
    assert curve is not None and len(curve.y) == BANDS
    np.testing.assert_allclose(curve.x, WAVELENGTHS, atol=0.05)
    expected = np.array([physical_value(b, 7, 9) for b in range(BANDS)])
    expected[BAD_BAND - 1] = np.nan  # flagged bad: a gap
    np.testing.assert_allclose(curve.y, expected, rtol=1e-6)
    items = _plotted_items(dock)
    assert len(items) == 1
    x, y = items[0].getData()
    assert len(x) == BANDS and np.isnan(y[BAD_BAND - 1])
    dock.identify_button.setChecked(False)
    assert canvas.mapTool() is not dock.identify_tool()


def test_nodata_is_a_gap_and_outside_is_refused(keep, scene_layer):
    dock = SpectralProfileDock()
    keep(dock)
    y = dock.show_pixel(scene_layer, QgsPointXY(*pixel_centre(*NODATA_PIXEL)))
    assert np.isnan(y[2]) and np.isfinite(y[3])
    assert dock.show_pixel(scene_layer, QgsPointXY(0.0, 0.0)) is None
    assert "outside" in dock.status.text()


def test_the_right_and_bottom_edges_are_outside_the_scene(keep, scene_layer):
    """A pixel covers [left, right) x (bottom, top]: the scene's own right and bottom edges belong to no pixel."""
    dock = SpectralProfileDock()
    keep(dock)
    right, bottom = ORIGIN[0] + COLS * PIXEL, ORIGIN[1] - ROWS * PIXEL
    for point in (QgsPointXY(right, pixel_centre(3, 0)[1]), QgsPointXY(pixel_centre(0, 3)[0], bottom),
                  QgsPointXY(right, bottom)):
        assert dock.show_pixel(scene_layer, point) is None
        assert dock.status.text() == "That point lies outside the scene."
    y = dock.show_pixel(scene_layer, QgsPointXY(ORIGIN[0], ORIGIN[1]))  # the top-left corner is pixel (0, 0)
    assert y is not None and "column 0, row 0" in dock.status.text()
    y = dock.show_pixel(scene_layer, QgsPointXY(right - 0.01, bottom + 0.01))
    assert y is not None and f"column {COLS - 1}, row {ROWS - 1}; {BANDS - 1} of {BANDS}" in dock.status.text()


def test_pin_two_and_export_csv(keep, tmp_path, scene_layer, screenshot):
    dock = SpectralProfileDock()
    keep(dock)
    dock.resize(520, 380)
    dock.show_pixel(scene_layer, QgsPointXY(*pixel_centre(1, 1)))
    first = dock.pin_current()
    dock.show_pixel(scene_layer, QgsPointXY(*pixel_centre(15, 20)))
    second = dock.pin_current()
    assert first.color != second.color and len(dock.pinned_curves()) == 2
    dock.show_pixel(scene_layer, QgsPointXY(*pixel_centre(10, 3)))
    path = dock.export_csv(tmp_path / "spectra.csv")
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["wavelength_nm", "scene pixel (3, 10)", "scene pixel (1, 1)", "scene pixel (20, 15)"]
    assert len(rows) == BANDS + 1
    assert float(rows[1][0]) == WAVELENGTHS[0]
    assert float(rows[1][2]) == np.float32(physical_value(0, 1, 1)).item() or \
        abs(float(rows[1][2]) - physical_value(0, 1, 1)) < 1e-6
    assert rows[BAD_BAND][1] == ""  # bad band: empty cell
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".spectra-")]
    pixels = screenshot(dock, "spectral_profile_dock")
    assert pixels.std() > 0


def test_class_statistics_overlay(keep, scene_layer, classes, screenshot):
    dock = SpectralProfileDock()
    keep(dock)
    dock.resize(520, 380)
    dock.set_scene_layer(scene_layer)
    rng = np.random.default_rng(0)
    mean = np.linspace(0.1, 0.5, BANDS)
    mean_gap = mean.copy()
    mean_gap[BAD_BAND - 1] = np.nan
    dock.set_class_statistics({1: (mean, np.full(BANDS, 0.02)), 2: (mean_gap * 0.5, np.full(BANDS, 0.01))},
                              classes, source="labels")
    dock.set_class_statistics({1: (mean + rng.normal(0, 0.01, BANDS), np.full(BANDS, 0.03))}, classes,
                              source="synthetic")
    assert [b.name for b in dock.class_bands()] == ["corn (labelled)", "water (labelled)", "corn (synthetic)"]
    np.testing.assert_allclose(dock.class_bands("labels")[0].x, WAVELENGTHS, atol=0.05)
    fills = [i for i in dock.plot.getPlotItem().items if isinstance(i, pg.FillBetweenItem)]
    assert len(fills) == 4  # corn, water split by the gap into 2, synthetic corn
    assert len(_plotted_items(dock)) == 3
    assert dock.legend_entries() == ["corn", "water", "synthetic (dashed)"]  # a class once; the dashes explained
    dock.show_source["synthetic"].setChecked(False)
    assert len(_plotted_items(dock)) == 2
    assert dock.legend_entries() == ["corn (labelled)", "water (labelled)"]
    dock.show_source["synthetic"].setChecked(True)
    dock.show_pixel(scene_layer, QgsPointXY(*pixel_centre(3, 3)))
    pixels = screenshot(dock, "spectral_profile_class_statistics")
    assert pixels.std() > 0
