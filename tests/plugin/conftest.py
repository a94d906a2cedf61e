"""The real plugin loaded the way QGIS loads it (classFactory + initProcessing), and small test helpers."""

from __future__ import annotations

import time
from typing import Callable

import pytest
from qgis.core import QgsProcessingFeedback
from qgis.PyQt.QtCore import QCoreApplication


@pytest.fixture
def hypersynth_plugin(qgis_iface, qgis_processing):
    """The plugin as QGIS creates it, with its Processing provider registered; unloaded at the end."""
    from hypersynth import classFactory

    plugin = classFactory(qgis_iface)
    plugin.initProcessing()
    yield plugin
    plugin.unload()


@pytest.fixture
def plugin(qgis_iface, qgis_processing, qgis_new_project):
    """The plugin with its GUI (action, dock) in a new project, as QGIS starts it; unloaded at the end."""
    from hypersynth import classFactory

    plugin = classFactory(qgis_iface)
    plugin.initGui()
    yield plugin
    plugin.unload()


@pytest.fixture
def close_layers():
    """Close every layer a test added while QGIS still runs: one the collector frees at the interpreter's exit, after
    QGIS and GDAL's netCDF library have shut down, crashes the process (rc 139)."""
    import gc

    from qgis.core import QgsProject

    yield
    QgsProject.instance().removeAllMapLayers()
    gc.collect()


@pytest.fixture
def panel(qtbot):
    """A Scene panel, its imports stopped and the panel deleted through Qt at the end (not by Python's collector
    while Qt still holds it)."""
    from qgis.PyQt.QtCore import QEvent

    from hypersynth.ui.scene_panel import ScenePanel

    widget = ScenePanel()
    qtbot.addWidget(widget)
    yield widget
    widget.cleanup()
    assert wait_until(lambda: not widget.imports.running)
    widget.close()
    widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Run the Qt event loop until ``condition()`` holds or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        QCoreApplication.processEvents()
        if condition():
            return True
        time.sleep(0.01)
    QCoreApplication.processEvents()
    return condition()


class CancelAfterProgress(QgsProcessingFeedback):
    """Presses Cancel after ``n`` progress updates, as an analyst would mid-run."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.updates = n, 0

    def setProgress(self, progress: float) -> None:  # noqa: N802 (QGIS API)
        super().setProgress(progress)
        self.updates += 1
        if self.updates >= self.n:
            self.cancel()


class RecordingFeedback(QgsProcessingFeedback):
    """Keeps every warning and info line the algorithm pushes to the Processing log, and its progress."""

    def __init__(self) -> None:
        super().__init__()
        self.warnings: list[str] = []
        self.infos: list[str] = []
        self.progresses: list[float] = []

    def pushWarning(self, warning: str) -> None:  # noqa: N802 (QGIS API)
        self.warnings.append(warning)
        super().pushWarning(warning)

    def pushInfo(self, info: str) -> None:  # noqa: N802 (QGIS API)
        self.infos.append(info)
        super().pushInfo(info)

    def setProgress(self, progress: float) -> None:  # noqa: N802 (QGIS API)
        self.progresses.append(progress)
        super().setProgress(progress)


def write_small_scene(folder, *, seed: int, n_per_class: int):
    """A 32 × 32 × 30 demo scene of three classes and sparse labels, written as GeoTIFFs into ``folder``:
    ``(demo data, sparse labels, scene path, label raster path)``."""
    from hypersynth.core.demo import make_demo_scene, sparse_labels
    from hypersynth.core.io.write import write_label_raster, write_scene

    data = make_demo_scene(size=32, bands=30, n_classes=3, seed=seed)
    sparse = sparse_labels(data.labels, n_per_class=n_per_class, seed=seed)
    scene = write_scene(data.scene, folder / "scene.tif")
    labels = write_label_raster(folder / "labels.tif", sparse, data.classes, transform=data.scene.transform,
                                crs_wkt=data.scene.crs_wkt)
    return data, sparse, str(scene), str(labels)


def write_label_points(path, labels, names: dict, transform, crs_wkt: str) -> str:
    """Each labelled pixel of ``labels`` as a point at its centre in a GeoPackage layer "labels", with fields
    ``class`` (its name from ``names``) and ``class_id``."""
    import numpy as np
    from osgeo import ogr, osr

    srs = osr.SpatialReference()
    srs.ImportFromWkt(crs_wkt)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = ds.CreateLayer("labels", srs, ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("class", ogr.OFTString))
    layer.CreateField(ogr.FieldDefn("class_id", ogr.OFTInteger))
    x0, dx, _, y0, _, dy = transform
    for r, c in zip(*np.nonzero(labels)):
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("class", names[int(labels[r, c])])
        feature.SetField("class_id", int(labels[r, c]))
        point = ogr.Geometry(ogr.wkbPoint)
        point.AddPoint_2D(x0 + (c + 0.5) * dx, y0 + (r + 0.5) * dy)
        feature.SetGeometry(point)
        layer.CreateFeature(feature)
    ds = None
    return str(path)
