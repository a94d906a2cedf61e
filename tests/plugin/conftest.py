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
    """Keeps every warning the algorithm pushes to the Processing log."""

    def __init__(self) -> None:
        super().__init__()
        self.warnings: list[str] = []

    def pushWarning(self, warning: str) -> None:  # noqa: N802 (QGIS API)
        self.warnings.append(warning)
        super().pushWarning(warning)
