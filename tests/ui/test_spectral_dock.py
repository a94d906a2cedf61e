"""Spectral profile dock: a click plots the pixel's B values, pins compare, class stats overlay, CSV export."""

from __future__ import annotations

import csv
import shutil

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
    # nothing plotted: the buttons that act on curves wait, saying what to do first; so do the class statistics
    for button, needs in ((dock.pin_button, "Click a pixel with Identify spectrum first"),
                          (dock.clear_button, "No clicked or pinned spectrum to clear"),
                          (dock.export_button, "Nothing plotted: click a pixel or show class spectra first"),
                          (dock.show_source["labels"], "press Class spectra in the HyperSynth dock"),
                          (dock.show_source["synthetic"], "a run of Augment & Classify shows")):
        assert not button.isEnabled() and needs in button.toolTip(), button.text()
    dock.show_pixel(scene_layer, QgsPointXY(*pixel_centre(1, 1)))
    assert dock.pin_button.isEnabled() and dock.clear_button.isEnabled() and dock.export_button.isEnabled()
    first = dock.pin_current()
    assert not dock.pin_button.isEnabled() and dock.clear_button.isEnabled()  # pinned: no current one to pin
    dock.show_pixel(scene_layer, QgsPointXY(*pixel_centre(15, 20)))
    second = dock.pin_current()
    assert first.color != second.color and len(dock.pinned_curves()) == 2
    from hypersynth.core.scene import DEFAULT_COLORS
    from hypersynth.ui.spectral_dock import PIN_STYLE

    assert not {first.color, second.color} & set(DEFAULT_COLORS)  # not read as a class mean's colour
    styles = {item.name(): item.opts["pen"].style() for item in _plotted_items(dock)}
    assert styles[first.name] == PIN_STYLE  # dash-dot: neither a class mean (solid) nor a synthetic one (dashed)
    dock.show_pixel(scene_layer, QgsPointXY(*pixel_centre(10, 3)))
    path = dock.export_csv(tmp_path / "spectra.csv")
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["wavelength_nm", "scene: column 3, row 10", "scene: column 1, row 1", "scene: column 20, row 15"]
    assert len(rows) == BANDS + 1
    assert float(rows[1][0]) == WAVELENGTHS[0]
    assert float(rows[1][2]) == np.float32(physical_value(0, 1, 1)).item() or \
        abs(float(rows[1][2]) - physical_value(0, 1, 1)) < 1e-6
    assert rows[BAD_BAND][1] == ""  # bad band: empty cell
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".spectra-")]
    pixels = screenshot(dock, "spectral_profile_dock")
    assert pixels.std() > 0
    dock.clear()
    assert not dock.clear_button.isEnabled() and not dock.export_button.isEnabled()


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
    assert len(fills) == 6  # each curve's std band split in 2 by the scene's bad band
    assert len(_plotted_items(dock)) == 3
    assert dock.legend_entries() == ["corn", "water", "synthetic (dashed)"]  # a class once; the dashes explained
    dock.show_source["synthetic"].setChecked(False)
    assert len(_plotted_items(dock)) == 2
    assert dock.legend_entries() == ["corn (labelled)", "water (labelled)"]
    dock.show_source["synthetic"].setChecked(True)
    dock.show_pixel(scene_layer, QgsPointXY(*pixel_centre(3, 3)))
    pixels = screenshot(dock, "spectral_profile_class_statistics")
    assert pixels.std() > 0


def _fill_x_ranges(dock) -> list[tuple[float, float]]:
    """The wavelength span of each ± std band drawn."""
    spans = []
    for fill in (i for i in dock.plot.getPlotItem().items if isinstance(i, pg.FillBetweenItem)):
        x = fill.curves[0].getData()[0]
        spans.append((float(x.min()), float(x.max())))
    return spans


def test_class_means_leave_gaps_at_the_scenes_bad_bands(keep, tmp_path, scene_layer, classes):
    """Labelled class statistics hold the real (near zero) values of water-absorption bands: they were drawn as flat
    segments joined by cliffs while the clicked pixel left a gap. Every curve leaves the gap now, and so does the
    CSV."""
    dock = keep(SpectralProfileDock(), 520, 380)
    dock.set_scene_layer(scene_layer)
    mean = np.linspace(0.1, 0.5, BANDS)
    mean[BAD_BAND - 1] = 0.01  # what a water-absorption band holds
    dock.set_class_statistics({1: (mean, np.full(BANDS, 0.02))}, classes, source="labels")
    band = dock.class_bands("labels")[0]
    assert np.isnan(band.mean[BAD_BAND - 1]) and np.isnan(band.std[BAD_BAND - 1])
    assert np.isfinite(np.delete(band.mean, BAD_BAND - 1)).all()
    (line,) = _plotted_items(dock)
    x, y = line.getData()
    assert len(x) == BANDS and np.isnan(y[BAD_BAND - 1]) and np.isfinite(np.delete(y, BAD_BAND - 1)).all()
    bad_nm = WAVELENGTHS[BAD_BAND - 1]
    assert not any(low <= bad_nm <= high for low, high in _fill_x_ranges(dock))  # no std band across the gap
    dock.show_pixel(scene_layer, QgsPointXY(*pixel_centre(3, 3)))
    with open(dock.export_csv(tmp_path / "spectra.csv"), newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[BAD_BAND][rows[0].index("corn (labelled) mean")] == ""


def test_spectra_of_the_usable_bands_alone_break_where_bands_are_missing(keep, classes):
    """Statistics over the usable bands only (their own wavelengths, no NaN) are not drawn across the missing bands."""
    dock = keep(SpectralProfileDock(), 520, 380)
    usable = np.r_[np.linspace(400, 1340, 50), np.linspace(1460, 1790, 20), np.linspace(1960, 2500, 30)]
    mean = np.linspace(0.1, 0.4, len(usable))
    dock.set_class_statistics({1: (mean, np.full(len(usable), 0.02))}, classes, source="synthetic",
                              wavelengths=usable)
    (line,) = _plotted_items(dock)
    x, y = line.getData()
    assert len(x) == len(usable) + 2 and np.isnan(y).sum() == 2  # one break in each absorption window
    breaks = x[np.isnan(y)]
    assert 1340 < breaks[0] < 1460 and 1790 < breaks[1] < 1960
    assert len(_fill_x_ranges(dock)) == 3  # the std band too: one per stretch of bands


def test_the_clicked_pixel_is_a_solid_curve_named_by_column_and_row(keep, scene_layer, classes):
    dock = keep(SpectralProfileDock(), 520, 380)
    dock.set_scene_layer(scene_layer)
    dock.set_class_statistics({1: (np.linspace(0.1, 0.5, BANDS), np.full(BANDS, 0.02))}, classes, source="synthetic")
    dock.show_pixel(scene_layer, QgsPointXY(*pixel_centre(4, 7)))  # row 4, column 7
    pixel = _plotted_items(dock)[-1]
    synthetic = _plotted_items(dock)[0]
    assert synthetic.opts["pen"].style() == Qt.DashLine
    assert pixel.opts["pen"].style() == Qt.SolidLine and pixel.opts["symbol"] is None  # not the synthetic dashes
    assert pixel.opts["pen"].widthF() > synthetic.opts["pen"].widthF()
    assert dock.legend_entries()[-1] == "scene: column 7, row 4"
    assert dock.status.text().startswith("scene: column 7, row 4;")  # the status line says it the same way


def test_the_legend_sits_above_the_plot_area(keep, scene_layer, classes, screenshot):
    """pyqtgraph's floating legend covered the SWIR half of the docked plot; the legend now takes a row above the
    plot area, in as many columns as fit, and can be hidden to give the curves its room."""
    from qgis.PyQt.QtCore import QCoreApplication

    dock = keep(SpectralProfileDock(), 520, 380)
    dock.set_scene_layer(scene_layer)
    mean = np.linspace(0.1, 0.5, BANDS)
    stats = {c.id: (mean * (0.5 + 0.2 * c.id), np.full(BANDS, 0.02)) for c in classes}
    dock.set_class_statistics(stats, classes, source="labels")
    dock.set_class_statistics(stats, classes, source="synthetic")
    dock.show_pixel(scene_layer, QgsPointXY(*pixel_centre(3, 3)))
    dock.show()
    QCoreApplication.processEvents()
    plot_item = dock.plot.getPlotItem()
    legend, view_box = dock.legend.sceneBoundingRect(), plot_item.vb.sceneBoundingRect()
    assert dock.legend_entries() == ["corn", "water", "bare_soil", "synthetic (dashed)", "scene: column 3, row 3"]
    assert legend.bottom() <= view_box.top() + 1 and not legend.intersects(view_box.adjusted(0, 1, 0, 0))
    assert dock.legend.columnCount >= 2  # at the docked width, not one tall column
    for sample, label in dock.legend.items:  # every entry inside the plot widget, none cut off
        assert label.sceneBoundingRect().right() <= dock.plot.width() and sample.isVisible()
    assert plot_item.width() <= dock.plot.width()  # the legend never widens the plot beyond its view
    screenshot(dock, "spectral_profile_legend_above")
    shown_height = view_box.height()
    dock.legend_button.setChecked(False)
    QCoreApplication.processEvents()
    assert not dock.legend.isVisible()
    assert plot_item.vb.sceneBoundingRect().height() >= shown_height + legend.height() - 1
    dock.legend_button.setChecked(True)
    QCoreApplication.processEvents()
    assert dock.legend.isVisible()
    assert plot_item.vb.sceneBoundingRect().top() >= dock.legend.sceneBoundingRect().bottom() - 1


def test_a_legend_that_would_leave_the_curves_no_room_waits_for_a_taller_dock(keep, scene_layer, classes, screenshot):
    """With QGIS's Processing results beside it the docked plot was so short that the legend's rows filled it and no
    curve could be seen (a desktop review): the legend is hidden while it would take over 40 % of the plot's height."""
    from qgis.PyQt.QtCore import QCoreApplication

    dock = keep(SpectralProfileDock(), 260, 170)
    dock.set_scene_layer(scene_layer)
    mean = np.linspace(0.1, 0.5, BANDS)
    stats = {c.id: (mean * (0.5 + 0.2 * c.id), np.full(BANDS, 0.02)) for c in classes}
    dock.set_class_statistics(stats, classes, source="labels")
    dock.set_class_statistics(stats, classes, source="synthetic")
    dock.show()
    QCoreApplication.processEvents()
    plot_item = dock.plot.getPlotItem()
    assert not dock.legend.isVisible() and dock.legend_button.isChecked()  # the analyst's choice stands
    assert plot_item.vb.sceneBoundingRect().height() > 0.5 * dock.plot.height()  # the curves keep the room
    screenshot(dock, "spectral_profile_short_dock")
    dock.resize(260, 700)
    QCoreApplication.processEvents()
    assert dock.legend.isVisible()  # back once there is room
    assert plot_item.vb.sceneBoundingRect().top() >= dock.legend.sceneBoundingRect().bottom() - 1
    dock.legend_button.setChecked(False)
    QCoreApplication.processEvents()
    assert not dock.legend.isVisible()


def test_class_spectra_of_an_earlier_scene_go_when_another_becomes_the_scene(keep, scene_layer, classes, tmp_path):
    """A run's synthetic class spectra stayed drawn after the scene became another image (a desktop review)."""
    from qgis.core import QgsRasterLayer

    dock = keep(SpectralProfileDock(), 520, 380)
    dock.set_scene_layer(scene_layer)
    mean = np.linspace(0.1, 0.5, BANDS)
    stats = {c.id: (mean, np.full(BANDS, 0.02)) for c in classes}
    dock.set_class_statistics(stats, classes, source="synthetic")
    dock.set_scene_layer(QgsRasterLayer(scene_layer.source(), "the same file again"))
    assert dock.legend_entries()  # the same file: kept
    shutil.copy(scene_layer.source(), tmp_path / "other.tif")
    dock.set_scene_layer(QgsRasterLayer(str(tmp_path / "other.tif"), "other"))
    assert dock.legend_entries() == [] and not dock.show_source["synthetic"].isEnabled()
    assert dock.status.text() == "The class spectra of the same file again were cleared: other is the scene now."


def test_a_legend_entry_hides_its_curve_and_std_band(keep, scene_layer, classes):
    dock = keep(SpectralProfileDock(), 520, 380)
    dock.set_scene_layer(scene_layer)
    dock.set_class_statistics({1: (np.linspace(0.1, 0.5, BANDS), np.full(BANDS, 0.02))}, classes)
    (line,) = _plotted_items(dock)
    line.setVisible(False)  # what a click on its legend entry does
    fills = [i for i in dock.plot.getPlotItem().items if isinstance(i, pg.FillBetweenItem)]
    assert fills and not any(f.isVisible() for f in fills)


def _left_title(dock) -> str:
    return dock.plot.getPlotItem().getAxis("left").labelText


def test_the_value_axis_says_what_the_values_are(keep, tmp_path, scene_layer, classes, qgis_new_project):
    """"Value" told nothing: the axis names reflectance where the file says so, else the pixel values and the scale
    QGIS applied to them."""
    from osgeo import gdal
    from qgis.core import QgsRasterLayer

    from .conftest import write_scene

    from qgis.PyQt.QtCore import QCoreApplication

    dock = keep(SpectralProfileDock(), 900, 700)
    dock.show()
    assert _left_title(dock) == "Pixel value"
    dock.show_pixel(scene_layer, QgsPointXY(*pixel_centre(3, 3)))
    assert _left_title(dock) == "Pixel value (scale 0.0001 applied)"  # int16 × 0.0001, units not said
    dock.resize(520, 360)  # docked, the whole title would run past the plot area: its short form, whole in a tooltip
    QCoreApplication.processEvents()
    axis = dock.plot.getPlotItem().getAxis("left")
    assert _left_title(dock) == "Pixel value" and axis.toolTip() == "Pixel value (scale 0.0001 applied)"
    assert axis.label.boundingRect().width() <= dock.plot.getPlotItem().vb.height()
    path = write_scene(tmp_path / "reflectance.tif")
    ds = gdal.Open(str(path), gdal.GA_Update)
    for b in range(BANDS):
        ds.GetRasterBand(b + 1).SetUnitType("reflectance")
    ds = None
    layer = QgsRasterLayer(str(path), "reflectance")
    qgis_new_project.addMapLayer(layer)
    dock.set_scene_layer(layer)
    dock.set_class_statistics({1: (np.linspace(0.1, 0.5, BANDS), np.full(BANDS, 0.02))}, classes)
    assert _left_title(dock) == "Reflectance"  # statistics over the scene's bands are in its units
    dock.forget_project()
    assert _left_title(dock) == "Pixel value"


def test_synthetic_spectra_are_shown_in_the_units_qgis_shows_the_scene_in(keep, tmp_path, classes, qgis_new_project):
    """An ENVI scene of integer reflectance × 10000: QGIS and the labelled statistics show the stored values, the
    engine divides by the header's reflectance scale factor. The run's synthetic spectra (the engine's) are brought
    into the plot's units, so a synthetic class mean of 0.3 lies beside labelled values near 3000."""
    from osgeo import gdal
    from qgis.core import QgsRasterLayer

    ds = gdal.GetDriverByName("ENVI").Create(str(tmp_path / "scene.img"), COLS, ROWS, BANDS, gdal.GDT_Int16)
    for b in range(BANDS):
        ds.GetRasterBand(b + 1).WriteArray(np.full((ROWS, COLS), 3000, np.int16))
    ds.SetMetadataItem("reflectance scale factor", "10000", "ENVI")
    ds.SetMetadataItem("wavelength", "{" + ", ".join(f"{w:.1f}" for w in WAVELENGTHS) + "}", "ENVI")
    ds = None
    layer = QgsRasterLayer(str(tmp_path / "scene.img"), "envi")
    assert layer.isValid()
    qgis_new_project.addMapLayer(layer)
    dock = keep(SpectralProfileDock(), 900, 700)
    dock.set_scene_layer(layer)
    dock.set_class_statistics({1: (np.full(BANDS, 0.3), np.full(BANDS, 0.01))}, classes, source="synthetic")
    dock.set_class_statistics({1: (np.full(BANDS, 3000.0), np.full(BANDS, 100.0))}, classes, source="labels")
    synthetic, labelled = dock.class_bands("synthetic")[0], dock.class_bands("labels")[0]
    assert np.allclose(synthetic.mean, 3000.0) and np.allclose(synthetic.std, 100.0)
    assert np.allclose(labelled.mean, 3000.0)  # the stored values, as QGIS reads them: unchanged
    assert _left_title(dock) == "Reflectance × 10000"
