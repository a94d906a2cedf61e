"""The "HyperSynth" Processing provider: its id, icon and algorithms."""

from __future__ import annotations

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms import ALGORITHMS
from .algorithms.accuracy_assessment import AccuracyAssessmentAlgorithm
from .algorithms.base import ICON
from .algorithms.draw_labels import POINT_ENDINGS, DrawLabelsAlgorithm
from .algorithms.import_labels import ImportLabelsAlgorithm
from .algorithms.import_scene import ImportSceneAlgorithm
from .algorithms.sample_validation import SampleValidationAlgorithm
from .algorithms.train_bundle import TrainBundleAlgorithm

PROVIDER_ID = "hypersynth"
# dict.fromkeys: each class once, in order, even when ALGORITHMS lists these as well
PROVIDED = tuple(dict.fromkeys((*ALGORITHMS, TrainBundleAlgorithm, AccuracyAssessmentAlgorithm, ImportSceneAlgorithm,
                                ImportLabelsAlgorithm, DrawLabelsAlgorithm, SampleValidationAlgorithm)))


class HyperSynthProvider(QgsProcessingProvider):
    """Registers one instance of each HyperSynth algorithm under the id prefix ``hypersynth:``."""

    def id(self) -> str:
        return PROVIDER_ID

    def name(self) -> str:
        return "HyperSynth"

    def longName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr("HyperSynth: hyperspectral augmentation and classification")

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def loadAlgorithms(self) -> None:  # noqa: N802 (QGIS API)
        for algorithm in PROVIDED:
            self.addAlgorithm(algorithm())

    def supportedOutputRasterLayerExtensions(self) -> list[str]:  # noqa: N802 (QGIS API)
        return ["tif"]  # the engine writes GeoTIFF (with colour table, category names and a .qml style)

    def supportedOutputVectorLayerExtensions(self) -> list[str]:  # noqa: N802 (QGIS API)
        return list(POINT_ENDINGS)  # the training labels drawn: GeoPackage, Shapefile or FlatGeobuf, GeoPackage first
