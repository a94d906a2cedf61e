"""Processing algorithm `hypersynth:benchmark`: the few-label protocol on a scene with reference labels."""

from __future__ import annotations

import json
import shutil
from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ...core.evaluation.protocol import SPLIT_KINDS
from ...core.methods import METHOD_TITLES, MethodSettings
from ...core.methods import METHODS as METHOD_KEYS
from ..settings import DEVICES, PRESETS, HyperSynthSettings
from .base import (
    FeedbackReporter,
    HyperSynthAlgorithm,
    engine_errors,
    engine_warnings,
    labels_file,
    existing_layer_file,
    raster_file,
)
from .destinations import OutputMoves, staging_folder
from .train_bundle import clip_weights_for

DEFAULT_METHODS = ("rf", "svm", "cnn-pseudo", "augment")  # the baselines, the ablation and the product


class BenchmarkAlgorithm(HyperSynthAlgorithm):
    """Which method classifies this scene best from a handful of labels, measured on its reference labels."""

    SCENE = "SCENE"
    REFERENCE = "REFERENCE"
    CLASS_FIELD = "CLASS_FIELD"
    CLASSES = "CLASSES"
    NAME = "NAME"
    LABELS_PER_CLASS = "LABELS_PER_CLASS"
    SEEDS = "SEEDS"
    METHODS = "METHODS"
    SPLITS = "SPLITS"
    PRESET = "PRESET"
    DEVICE = "DEVICE"
    SYNTHETIC_WEIGHT = "SYNTHETIC_WEIGHT"
    OUTPUT = "OUTPUT"
    JSON = "JSON"

    def name(self) -> str:
        return "benchmark"

    def displayName(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr("Benchmark methods on a labelled scene")

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API)
        return self.tr(
            "Runs the few-label protocol of HyperSynth's benchmarks on a scene for which you have full reference "
            "labels: for each seed, N labelled pixels per class are drawn from the reference, every chosen method "
            "learns from them, and the other reference pixels score it (overall and average accuracy, kappa; mean "
            "± standard deviation over the seeds). The 'disjoint' split keeps test pixels away from the training "
            "pixels' patches.\n\n"
            "Use it on a development scene of your sensor to choose the method and settings such as the synthetic "
            "weight before mapping scenes that have no reference data; choosing them on the test pixels of the "
            "scene you report would flatter them. Augment & Classify trains a synthesis model per seed and N: "
            "minutes each with the fast preset on a CPU.")

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 (QGIS API)
        defaults = HyperSynthSettings.load()
        self.addParameter(QgsProcessingParameterRasterLayer(self.SCENE, self.tr("Hyperspectral scene")))
        self.addParameter(QgsProcessingParameterMapLayer(
            self.REFERENCE, self.tr("Reference labels (points, polygons or a label raster)"),
            types=[QgsProcessing.TypeVectorAnyGeometry, QgsProcessing.TypeRaster]))
        self.addParameter(QgsProcessingParameterField(
            self.CLASS_FIELD, self.tr("Class field (empty: a field named class, class_id, label, …)"),
            parentLayerParameterName=self.REFERENCE, optional=True))
        self.addParameter(QgsProcessingParameterFile(
            self.CLASSES, self.tr("Class and prompt file (names, colours, prompts)"), extension="json", optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.LABELS_PER_CLASS, self.tr("Labels per class (comma list)"), defaultValue="2,5"))
        self.addParameter(QgsProcessingParameterString(
            self.SEEDS, self.tr("Seeds (e.g. 0-4 or 0,2)"), defaultValue="0-4"))
        self.addParameter(QgsProcessingParameterEnum(
            self.METHODS, self.tr("Methods"), options=[METHOD_TITLES[m] for m in METHOD_KEYS], allowMultiple=True,
            defaultValue=[METHOD_KEYS.index(m) for m in DEFAULT_METHODS]))
        self.addParameter(QgsProcessingParameterEnum(
            self.SPLITS, self.tr("Splits"), options=["random", "spatially disjoint"], allowMultiple=True,
            defaultValue=[0]))
        self.addParameter(QgsProcessingParameterEnum(
            self.PRESET, self.tr("Preset"), options=list(PRESETS), defaultValue=PRESETS.index(defaults.preset)))
        advanced = [
            QgsProcessingParameterString(self.NAME, self.tr("Name of the scene in the tables (empty: the layer's)"),
                                         optional=True),
            QgsProcessingParameterEnum(self.DEVICE, self.tr("Device"), options=list(DEVICES),
                                       defaultValue=DEVICES.index(defaults.device)),
            QgsProcessingParameterNumber(self.SYNTHETIC_WEIGHT,
                                         self.tr("Synthetic weight (all synthetic patches together count this "
                                                 "much relative to your labels; 1: as much)"),
                                         QgsProcessingParameterNumber.Double,
                                         defaultValue=MethodSettings.synthetic_weight, minValue=0.01, maxValue=10.0),
        ]
        for parameter in advanced:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT, self.tr("Benchmark tables (Markdown)"), fileFilter=self.tr("Markdown files (*.md)")))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.JSON, self.tr("Every run and the mean rows (JSON)"), fileFilter=self.tr("JSON files (*.json)"),
            optional=True, createByDefault=False))

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from ...core.bench import bench_documents, load_own_scene, run_bench
        from ...core.bench_inputs import parse_counts, parse_seeds

        layer = self.parameterAsRasterLayer(parameters, self.SCENE, context)
        reference_layer = self.parameterAsLayer(parameters, self.REFERENCE, context)
        classes_path = self.parameterAsFile(parameters, self.CLASSES, context) or None
        out_md = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        out_json = self.parameterAsFileOutput(parameters, self.JSON, context)
        self.check_destinations({self.SCENE: existing_layer_file(layer),
                                 self.REFERENCE: existing_layer_file(reference_layer), self.CLASSES: classes_path},
                                {self.OUTPUT: out_md, self.JSON: out_json})
        scene = raster_file(layer, "scene", subdatasets=True)
        reference = labels_file(reference_layer, "reference", context, feedback)
        methods = [METHOD_KEYS[i] for i in self.parameterAsEnums(parameters, self.METHODS, context)]
        splits = [SPLIT_KINDS[i] for i in self.parameterAsEnums(parameters, self.SPLITS, context)]
        if not methods or not splits:
            raise QgsProcessingException("choose at least one method and one split")
        name = self.scene_name(scene, self.parameterAsString(parameters, self.NAME, context) or layer.name())
        with engine_errors():
            counts = parse_counts(self.parameterAsString(parameters, self.LABELS_PER_CLASS, context))
            seeds = parse_seeds(self.parameterAsString(parameters, self.SEEDS, context))
            preset = PRESETS[self.parameterAsEnum(parameters, self.PRESET, context)]
            settings = MethodSettings(
                preset=preset, clip_weights=clip_weights_for(preset, HyperSynthSettings.load().clip_weights),
                device=DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
                synthetic_weight=self.parameterAsDouble(parameters, self.SYNTHETIC_WEIGHT, context))
            with engine_warnings(feedback):
                data = load_own_scene(scene, reference, classes_path=classes_path,
                                      class_field=self.parameterAsString(parameters, self.CLASS_FIELD, context) or None)
                runs = run_bench([], counts, seeds, methods, splits, settings, reporter=FeedbackReporter(feedback),
                                 on_result=lambda run: feedback.pushInfo(_run_line(run)), own_scenes=[(name, data)])
            command = (f"Processing hypersynth:benchmark on {scene} (reference {reference}), N = {counts}, seeds "
                       f"{seeds}, methods {', '.join(methods)}, splits {', '.join(splits)}, preset {preset}, "
                       f"synthetic weight {settings.synthetic_weight:g}")
            document, text = bench_documents(runs, command, preset)
            staging = staging_folder(out_md)
            try:
                results = {}
                with OutputMoves() as moves:  # both files or neither
                    results[self.OUTPUT] = moves.put_text(text, staging, out_md)
                    if out_json:
                        results[self.JSON] = moves.put_text(json.dumps(document, indent=1), staging, out_json)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        feedback.setProgress(100.0)
        return results

    def scene_name(self, scene: str, name: str) -> str:
        """The scene's name in the tables, or a refusal that points at this algorithm's parameter."""
        from ...core.bench import own_scene_name

        try:
            return own_scene_name(scene, name)
        except ValueError as exc:  # the engine's message ends with the command line's option
            where = f"(the '{self.title(self.NAME)}' parameter, under Advanced parameters)"
            raise QgsProcessingException(str(exc).replace("(--name on the command line)", where)) from exc


def _run_line(run: Any) -> str:
    """One finished run as the log shows it, so a long benchmark can be followed while it runs."""
    return (f"{run.method}, N = {run.labels_per_class}, {run.split} split, seed {run.seed}: OA {100 * run.oa:.2f} %, "
            f"AA {100 * run.aa:.2f} %, kappa {run.kappa:.3f} ({run.seconds:.0f} s)")
