"""GUI test data made on the spot: a small georeferenced hyperspectral GeoTIFF, classes, a label layer."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from osgeo import gdal, osr

from hypersynth.core.scene import ClassInfo

BANDS = 16
ROWS, COLS = 20, 24
PIXEL = 10.0  # metres
ORIGIN = (500000.0, 5800000.0)  # upper-left corner, UTM 33N
WAVELENGTHS = np.linspace(420.0, 2220.0, BANDS)  # nm: 420, 540, ..., 2220
SCALE, OFFSET, NODATA = 0.0001, 0.0, -32768
BAD_BAND = 13  # 1-based band flagged bbl=0 (a water-absorption band)
NODATA_PIXEL = (4, 5)  # (row, col) that is nodata in band 3


def map_box(col: int, row: int, size: int) -> list:
    """The map corners (QgsPointXY) of a ``size`` × ``size`` pixel square whose upper-left pixel is (col, row)."""
    from qgis.core import QgsPointXY

    x0, y0 = ORIGIN[0] + col * PIXEL, ORIGIN[1] - row * PIXEL
    return [QgsPointXY(x0, y0), QgsPointXY(x0 + size * PIXEL, y0), QgsPointXY(x0 + size * PIXEL, y0 - size * PIXEL),
            QgsPointXY(x0, y0 - size * PIXEL)]


def raw_value(band: int, row: int, col: int) -> int:
    """The stored int16 value of the test scene at a 0-based band, row, col."""
    return 1000 + 200 * band + 10 * row + col


def physical_value(band: int, row: int, col: int) -> float:
    return raw_value(band, row, col) * SCALE + OFFSET


def write_scene(path: Path, wavelengths: bool = True) -> Path:
    """Write the test scene: int16, scale 0.0001, nodata -32768, wavelengths and a bad band in metadata."""
    ds = gdal.GetDriverByName("GTiff").Create(str(path), COLS, ROWS, BANDS, gdal.GDT_Int16)
    ds.SetGeoTransform((ORIGIN[0], PIXEL, 0.0, ORIGIN[1], 0.0, -PIXEL))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    rows, cols = np.mgrid[0:ROWS, 0:COLS]
    for b in range(BANDS):
        band = ds.GetRasterBand(b + 1)
        data = raw_value(b, rows, cols).astype(np.int16)
        if b == 2:
            data[NODATA_PIXEL] = NODATA
        band.WriteArray(data)
        band.SetNoDataValue(NODATA)
        band.SetScale(SCALE)
        band.SetOffset(OFFSET)
        if wavelengths:
            band.SetMetadata({"wavelength": f"{WAVELENGTHS[b]:.1f}", "wavelength_units": "Nanometers",
                              "bbl": "0" if b + 1 == BAD_BAND else "1"})
    ds.FlushCache()
    ds = None
    return path


def write_byte_raster(path: Path, bands: list[np.ndarray]) -> Path:
    """A Byte GeoTIFF on the test scene's grid (UTM 33N, 10 m pixels), one ``(ROWS, COLS)`` array a band."""
    ds = gdal.GetDriverByName("GTiff").Create(str(path), COLS, ROWS, len(bands), gdal.GDT_Byte)
    ds.SetGeoTransform((ORIGIN[0], PIXEL, 0.0, ORIGIN[1], 0.0, -PIXEL))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    for b, values in enumerate(bands):
        ds.GetRasterBand(b + 1).WriteArray(np.asarray(values, dtype=np.uint8))
    ds = None
    return path


def pixel_centre(row: int, col: int) -> tuple[float, float]:
    """Map coordinates of a pixel's centre."""
    return ORIGIN[0] + (col + 0.5) * PIXEL, ORIGIN[1] - (row + 0.5) * PIXEL


def type_over(box, text: str) -> str:
    """Type ``text`` key by key over what a spin box shows, as the analyst would; returns what it shows then (a key
    its validator refuses is dropped)."""
    from qgis.PyQt.QtTest import QTest

    box.lineEdit().selectAll()
    QTest.keyClicks(box, text)
    return box.text()


@pytest.fixture
def scene_path(tmp_path: Path) -> Path:
    return write_scene(tmp_path / "scene.tif")


@pytest.fixture
def scene_layer(scene_path: Path, qgis_new_project):
    from qgis.core import QgsRasterLayer

    layer = QgsRasterLayer(str(scene_path), "scene")
    assert layer.isValid()
    qgis_new_project.addMapLayer(layer)
    return layer


@pytest.fixture
def classes() -> list[ClassInfo]:
    return [ClassInfo(1, "corn", (230, 190, 40), "corn field"), ClassInfo(2, "water", (30, 90, 200)),
            ClassInfo(3, "bare_soil", (150, 95, 50))]


@pytest.fixture
def label_layer(tmp_path: Path, scene_layer, classes):
    from hypersynth.plugin.label_layer import create_label_layer

    return create_label_layer(str(tmp_path / "labels.gpkg"), scene_layer.crs(), classes)


@pytest.fixture
def canvas(qgis_canvas, scene_layer):
    """The session canvas showing the test scene in its CRS."""
    qgis_canvas.resize(400, 340)
    qgis_canvas.setDestinationCrs(scene_layer.crs())
    qgis_canvas.setLayers([scene_layer])
    qgis_canvas.setExtent(scene_layer.extent())
    qgis_canvas.refresh()
    return qgis_canvas


@pytest.fixture
def keep(qtbot) -> Callable:
    """Keep widgets alive for the whole test, then close and delete them through Qt.

    qtbot only holds weak references: a widget dropped at the end of a test would be deleted by
    Python's garbage collector while Qt still has events queued for its plot items (a crash).
    """
    from qgis.PyQt import sip
    from qgis.PyQt.QtCore import QCoreApplication, QEvent

    kept: list = []

    def hold(widget, width: int = 0, height: int = 0):
        qtbot.addWidget(widget)
        kept.append(widget)
        if width and height:
            widget.resize(width, height)
        return widget

    yield hold
    for widget in kept:
        if not sip.isdeleted(widget):
            widget.close()
            widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    QCoreApplication.processEvents()


class _Recording:
    """Stands in for a GDAL object (the osgeo.gdal module, a dataset, a band): what it is not told of, it passes on.
    Opened datasets and their bands are wrapped in turn, and each band read is noted with its window and thread."""

    def __init__(self, wrapped, reads: list) -> None:
        self._wrapped, self._reads = wrapped, reads

    def __getattr__(self, name: str):
        return getattr(self._wrapped, name)

    def Open(self, *args, **kwargs):  # noqa: N802 (GDAL's name)
        opened = self._wrapped.Open(*args, **kwargs)
        return None if opened is None else _Recording(opened, self._reads)

    def GetRasterBand(self, number: int):  # noqa: N802
        return _Recording(self._wrapped.GetRasterBand(number), self._reads)

    def ReadAsArray(self, xoff=0, yoff=0, xsize=None, ysize=None, *args, **kwargs):  # noqa: N802
        import threading

        self._reads.append(((xoff, yoff, xsize, ysize), threading.current_thread()))
        return self._wrapped.ReadAsArray(xoff, yoff, xsize, ysize, *args, **kwargs)


@pytest.fixture
def gdal_reads(monkeypatch) -> list:
    """Every band read of the label layer module's GDAL (the class spectra's pixels): ``((xoff, yoff, xsize,
    ysize), thread)``. The module's ``gdal`` is wrapped, not GDAL's classes: patching a SWIG class's method does not
    always take at once."""
    from hypersynth.plugin import label_layer

    reads: list = []
    monkeypatch.setattr(label_layer, "gdal", _Recording(label_layer.gdal, reads))
    return reads


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable:
    """Save a widget's picture into tmp_path (and $HYPERSYNTH_SCREENSHOTS when set); returns the pixels."""
    from qgis.PyQt.QtGui import QImage

    def save(widget, name: str) -> np.ndarray:
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from qgis.PyQt.QtCore import QCoreApplication

        QCoreApplication.processEvents()  # pending resizes first, as the desktop's event loop would
        for canvas in widget.findChildren(FigureCanvasQTAgg):  # a figure drawn at the size it is shown
            canvas.draw()
        widget.repaint()
        image = widget.grab().toImage().convertToFormat(QImage.Format_RGB32)
        path = tmp_path / f"{name}.png"
        assert image.save(str(path)), f"could not save {path}"
        extra = os.environ.get("HYPERSYNTH_SCREENSHOTS")
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            image.save(str(Path(extra) / f"{name}.png"))
        width, height = image.width(), image.height()
        buffer = image.constBits().asstring(image.bytesPerLine() * height)
        pixels = np.frombuffer(buffer, dtype=np.uint8).reshape(height, image.bytesPerLine() // 4, 4)[:, :width, :3]
        return pixels

    return save
