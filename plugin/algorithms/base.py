"""What every HyperSynth Processing algorithm shares: feedback as a Reporter, inputs as files, outputs moved in."""

from __future__ import annotations

import base64
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingUtils,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ...core.progress import Reporter

ICON = Path(__file__).resolve().parents[2] / "resources" / "icon.svg"
GROUP_TITLES = {"classification": "Classification", "synthesis": "Synthesis"}  # toolbox group id -> its title


class FeedbackReporter(Reporter):
    """An engine Reporter bound to a Processing feedback: progress bar, stage lines, cancel button."""

    def __init__(self, feedback: Optional[QgsProcessingFeedback]) -> None:
        self.feedback = feedback
        self.stage = ""

    def progress(self, fraction: float, stage: str) -> None:
        if self.feedback is None:
            return
        self.feedback.setProgress(100.0 * min(max(float(fraction), 0.0), 1.0))
        if stage and stage != self.stage:
            self.stage = stage
            self.feedback.pushInfo(stage)

    def is_cancelled(self) -> bool:
        return self.feedback is not None and self.feedback.isCanceled()


class HyperSynthAlgorithm(QgsProcessingAlgorithm):
    """Common identity of the provider's algorithms; subclasses define name, parameters and processing."""

    GROUP = "classification"  # the toolbox group: "classification" or "synthesis" (GROUP_TITLES)

    def group(self) -> str:
        return self.tr(GROUP_TITLES[self.GROUP])

    def groupId(self) -> str:  # noqa: N802 (QGIS API)
        return self.GROUP

    def tr(self, text: str) -> str:
        return QCoreApplication.translate(type(self).__name__, text)

    def createInstance(self) -> "HyperSynthAlgorithm":  # noqa: N802 (QGIS API)
        return type(self)()

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def flags(self) -> QgsProcessingAlgorithm.Flags:
        return super().flags() | QgsProcessingAlgorithm.FlagCanCancel

    def add_training_label_parameters(self) -> None:
        """Scene, training labels, class field and class/prompt file: the inputs every trainer takes."""
        from qgis.core import (QgsProcessing, QgsProcessingParameterField, QgsProcessingParameterFile,
                               QgsProcessingParameterMapLayer, QgsProcessingParameterRasterLayer)

        self.addParameter(QgsProcessingParameterRasterLayer("SCENE", self.tr("Hyperspectral scene")))
        self.addParameter(QgsProcessingParameterMapLayer(
            "LABELS", self.tr("Training labels (points, polygons or a label raster)"),
            types=[QgsProcessing.TypeVectorAnyGeometry, QgsProcessing.TypeRaster]))
        self.addParameter(QgsProcessingParameterField(
            "CLASS_FIELD", self.tr("Class field (empty: a field named class, class_id, label, …)"),
            parentLayerParameterName="LABELS", optional=True))
        self.addParameter(QgsProcessingParameterFile(
            "CLASSES", self.tr("Class and prompt file (names, colours, prompts)"), extension="json", optional=True))


def accuracy_results(metrics: Optional[dict]) -> dict[str, float]:
    """The engine's metrics as the algorithms' numeric outputs OVERALL_ACCURACY, AVERAGE_ACCURACY, KAPPA."""
    if not metrics:
        return {}
    pairs = (("OVERALL_ACCURACY", "oa"), ("AVERAGE_ACCURACY", "aa"), ("KAPPA", "kappa"))
    return {key: float(metrics[name]) for key, name in pairs if name in metrics}


def raster_file(layer: Optional[QgsRasterLayer], what: str) -> str:
    """The file behind a raster layer, or a clear error when there is none (e.g. a WMS layer)."""
    if layer is None:
        raise QgsProcessingException(f"no {what} raster layer was given")
    if layer.providerType() != "gdal":
        raise QgsProcessingException(f"the {what} layer '{layer.name()}' is not a file raster "
                                     f"(provider {layer.providerType()}); save it as a GeoTIFF first")
    path = layer.source().split("|")[0]
    if not os.path.exists(path):
        raise QgsProcessingException(f"the {what} layer '{layer.name()}' points at {path}, which does not exist")
    return path


def labels_file(layer: Any, what: str, context: QgsProcessingContext,
                feedback: Optional[QgsProcessingFeedback]) -> str:
    """A file the engine can read for a label layer: a raster's file, or a vector as a single-layer file.

    Vector layers held in memory, in a database or inside a multi-layer GeoPackage are written to a
    temporary GeoPackage first, because the engine reads one file with one layer.
    """
    if isinstance(layer, QgsRasterLayer):
        return raster_file(layer, what)
    if isinstance(layer, QgsVectorLayer):
        if layer.featureCount() == 0:
            raise QgsProcessingException(f"the {what} layer '{layer.name()}' has no features; label a few "
                                         "pixels or polygons first")
        path = QgsProcessingUtils.convertToCompatibleFormat(layer, False, what, ["gpkg", "shp", "geojson"],
                                                            "gpkg", context, feedback)
        if not path or not os.path.exists(path.split("|")[0]):
            raise QgsProcessingException(f"could not write the {what} layer '{layer.name()}' to a file")
        return path.split("|")[0]
    raise QgsProcessingException(f"the {what} input must be a vector or raster layer")


def staging_folder(next_to: str) -> Path:
    """A temporary folder in the same folder as ``next_to``, so that finished files move in atomically."""
    folder = Path(next_to).resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".hypersynth-", dir=folder))


def move_into_place(src: Path, dst: str) -> str:
    """Replace ``dst`` with ``src`` atomically (a copy first when they are on different disks)."""
    target = Path(dst)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(src, target)
    except OSError:  # another file system: copy beside the target, then rename
        tmp = target.with_name(f".{target.name}.part")
        shutil.copy2(src, tmp)
        os.replace(tmp, target)
    return str(target)


def self_contained_html(report_html: Path) -> str:
    """The report's HTML with its PNG figures embedded, so the single file can be put anywhere."""
    text = report_html.read_text(encoding="utf-8")

    def embed(match: re.Match) -> str:
        image = report_html.parent / match.group(2)
        if not image.is_file():
            return match.group(0)
        data = base64.b64encode(image.read_bytes()).decode("ascii")
        return f'{match.group(1)}data:image/png;base64,{data}"'

    return re.sub(r'(src=")([^"/:]+\.png)"', embed, text)


def write_report(report_html: Path, destination: str) -> str:
    """Write a run's HTML report to ``destination`` as one self-contained file (written, then renamed)."""
    from ...core.io.write import write_text

    return str(write_text(destination, self_contained_html(report_html)))


def move_raster(staged: Path, destination: str) -> str:
    """Move a staged raster and its sidecars (``.qml`` style, ``.tif.aux.xml``) to ``destination``.

    Sidecars move first, the raster last, so a raster that exists is always complete and styled.
    """
    target = Path(destination)
    for sidecar in sorted(staged.parent.glob(staged.stem + ".*")):
        if sidecar == staged:
            continue
        rest = sidecar.name[len(staged.stem):]  # ".qml" or ".tif.aux.xml"
        if rest.startswith(staged.suffix + "."):
            move_into_place(sidecar, str(target) + rest[len(staged.suffix):])
        else:
            move_into_place(sidecar, str(target.with_suffix(rest)))
    return move_into_place(staged, str(target))


def check_folder_destination(dst: str) -> None:
    """Refuse a model folder destination that holds something other than an earlier HyperSynth bundle."""
    target = Path(dst)
    if target.exists() and (not target.is_dir() or (any(target.iterdir())
                                                    and not (target / "manifest.json").is_file())):
        raise QgsProcessingException(f"{target} already exists and is not an empty folder or a HyperSynth bundle; "
                                     "choose a new folder for the model")


def move_folder_into_place(src: Path, dst: str) -> str:
    """Move a staged folder (a model bundle) to ``dst``; an earlier bundle there is replaced whole.

    Raises:
        QgsProcessingException: ``dst`` is a folder with other files in it (nothing is touched).
    """
    target = Path(dst)
    check_folder_destination(dst)
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    shutil.rmtree(incoming)
    try:
        os.replace(src, incoming)
    except OSError:  # another file system: copy beside the target first
        shutil.copytree(src, incoming)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(incoming, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return str(target)
