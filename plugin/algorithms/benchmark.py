"""Processing algorithm `hypersynth:benchmark`: the few-label protocol on a scene with reference labels."""

from __future__ import annotations

import json
from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ...core.bench_inputs import parse_counts, parse_seeds
from ...core.evaluation.protocol import SPLIT_KINDS
from ...core.methods import METHOD_TITLES, MethodSettings, needs_synthesis_model
from ..settings import DEVICES, PRESETS, HyperSynthSettings
from .base import FeedbackReporter, HyperSynthAlgorithm, engine_errors, engine_warnings
from .inputs import (CLASS_FIELD_TITLE, class_field_parameter, existing_layer_file, labels_file, raster_file,
                     refuse_the_scene_as_labels, scene_parameter)
from .band_parameters import RUN_LEAVE_OUT_TITLE, band_choice_refused, bands_to_leave_out, leave_out_bands_parameter
from .clip_weights import clip_weights_chosen, clip_weights_parameter
from .destinations import OutputMoves, discard_staging, staging_folder

# The METHODS options in their order, frozen: saved models and scripts give them by index, so a method core adds
# goes at the end (a test checks the list against core's methods)
METHOD_KEYS = ("rf", "svm", "cnn", "cnn-pseudo", "dfeat", "dfeat-augment", "augment")
DEFAULT_METHODS = ("rf", "svm", "cnn-pseudo", "augment")  # the baselines, the ablation and the product
DEFAULT_COUNTS, DEFAULT_SEEDS = "2,5", "0-4"  # labels per class and seeds the parameters start from
# each method's option in the list; what it does is in the help (METHOD_HELP) and in core's METHOD_TITLES
METHOD_LABELS = {"rf": "Random forest", "svm": "SVM", "cnn": "CNN", "cnn-pseudo": "CNN + forest blend (no synthesis)",
                 "dfeat": "Diffusion-feature SVM", "dfeat-augment": "Diffusion-feature SVM + synthesis",
                 "augment": "Augment & Classify"}
METHOD_HELP = {"rf": "a random forest on the labelled spectra",
               "svm": "an SVM (RBF) on the labelled spectra",
               "cnn": "the spectral-spatial CNN on the real labels alone",
               "cnn-pseudo": "Augment & Classify without synthesis (the ablation): the CNN and spectral forest blend "
                             "with its spatial smoothing, on the real labels alone",
               "dfeat": "an SVM on the features the scene's diffusion model computes for each patch, real labels "
                        "only",
               "dfeat-augment": "the same SVM on real and synthetic patches",
               "augment": "the CNN and spectral forest blend on real and synthetic patches"}
SPLIT_LABELS = {"random": "random", "disjoint": "spatially disjoint", "no-overlap": "no overlap of patches"}  # options


class BenchmarkAlgorithm(HyperSynthAlgorithm):
    """Which method classifies this scene best from a handful of labels, measured on its reference labels."""

    SCENE = "SCENE"
    REFERENCE = "REFERENCE"
    CLASS_FIELD = "CLASS_FIELD"
    CLASSES = "CLASSES"
    NAME = "NAME"
    LABELS_PER_CLASS = "LABELS_PER_CLASS"
    SHARES = "SHARES"
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

    def help_text(self) -> str:
        counts, seeds = len(parse_counts(DEFAULT_COUNTS)), len(parse_seeds(DEFAULT_SEEDS))
        methods = "; ".join(f"{METHOD_LABELS[m]}: {METHOD_HELP[m]}" for m in METHOD_KEYS)
        return self.tr(
            "Runs the few-label protocol of HyperSynth's benchmarks on a scene for which you have full reference "
            "labels: for each seed, N labelled pixels per class are drawn from the reference, every chosen method "
            "learns from them, and the other reference pixels score it (overall and average accuracy, kappa; mean "
            "± standard deviation over the seeds). The 'spatially disjoint' split keeps test pixels out of the "
            "training pixels' patches (their own patches may still share pixels); 'no overlap of patches' keeps them "
            "twice as far, so that no test pixel's patch shares a pixel with a training pixel's; the 'random' split "
            "does not keep them apart. Shares of each class (SHARES, in %: 10, or 5,10) "
            "draw that share of each class's reference pixels instead of N, the protocol of papers that train on 10 % "
            "of Indian Pines; leave the labels per class empty to run the shares alone. At such shares a spatially "
            "disjoint split leaves few test pixels (the log and the tables say how many; a draw that leaves none is "
            "not run).\n\n"
            "Methods: {methods}.\n\n"
            "Each label count × seed × method × split is one run: the defaults make {runs} runs ({counts} label "
            "counts × {seeds} seeds × {n_methods} methods × 1 split). Random forest and SVM runs take seconds. "
            "Augment & Classify and the diffusion-feature SVMs train the scene's synthesis model for each label "
            "count and seed ({models} with the defaults, shared between them). With the fast preset on a 2-core "
            "CPU, on scenes of about 100 × 100 pixels, an Augment & Classify run took 1–3 minutes and a CNN + "
            "forest blend run under a minute, so the defaults take about 20–40 minutes there; the tiny preset is "
            "a quick trial. The log gives each run's accuracy as it ends.\n\n"
            "Use it on a development scene of your sensor to choose the method and settings such as the synthetic "
            "weight before mapping scenes that have no reference data; choosing them on the test pixels of the "
            "scene you report would flatter them.").format(
            methods=methods, runs=counts * seeds * len(DEFAULT_METHODS), counts=counts, seeds=seeds,
            n_methods=len(DEFAULT_METHODS), models=counts * seeds)

    TAGS = ("classification", "few labels", "benchmark", "accuracy", "random forest", "SVM", "CNN", "diffusion",
            "comparison")
    HELP_ANCHOR = "what-the-numbers-say"
    LEAVE_OUT_EFFECT = "Every run on the scene leaves them out; the tables' command line names them."

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 (QGIS API)
        defaults = HyperSynthSettings.load()
        self.addParameter(scene_parameter(self))
        self.addParameter(QgsProcessingParameterMapLayer(
            self.REFERENCE, self.tr("Reference labels (points, polygons or a label raster)"),
            types=[QgsProcessing.TypeVectorAnyGeometry, QgsProcessing.TypeRaster]))
        self.addParameter(class_field_parameter(self.CLASS_FIELD, self.tr(CLASS_FIELD_TITLE)))
        self.addParameter(QgsProcessingParameterFile(
            self.CLASSES, self.tr("Class and prompt file (names, colours, prompts)"), extension="json", optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.LABELS_PER_CLASS, self.tr("Labels per class (comma list; empty: the shares alone)"),
            defaultValue=DEFAULT_COUNTS, optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.SHARES, self.tr("Shares of each class (%, comma list, e.g. 10 or 5,10; with or instead of labels "
                                 "per class)"), optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.SEEDS, self.tr("Seeds (e.g. 0-4 or 0,2)"), defaultValue=DEFAULT_SEEDS))
        self.addParameter(QgsProcessingParameterEnum(
            self.METHODS, self.tr("Methods"), options=[self.tr(METHOD_LABELS.get(m, METHOD_TITLES[m]))
                                                       for m in METHOD_KEYS], allowMultiple=True,
            defaultValue=[METHOD_KEYS.index(m) for m in DEFAULT_METHODS]))
        self.addParameter(QgsProcessingParameterEnum(
            self.SPLITS, self.tr("Splits"), options=[self.tr(SPLIT_LABELS[k]) for k in SPLIT_KINDS],
            allowMultiple=True,
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
        self.addParameter(clip_weights_parameter(self))
        self.addParameter(leave_out_bands_parameter(self, RUN_LEAVE_OUT_TITLE, advanced=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT, self.tr("Benchmark tables (Markdown)"), fileFilter=self.tr("Markdown files (*.md)")))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.JSON, self.tr("Every run and the mean rows (JSON)"), fileFilter=self.tr("JSON files (*.json)"),
            optional=True, createByDefault=False))

    def check_parameters(self, parameters: dict[str, Any], context: QgsProcessingContext) -> None:
        """The destinations' names, the label counts and seeds, a method and a split at least, the device and the
        scene's name in the tables."""
        super().check_parameters(parameters, context)
        self.runs(parameters, context)
        self.check_device_parameter(parameters, context)
        layer = self.parameterAsRasterLayer(parameters, self.SCENE, context)
        if layer is not None:  # a layer named as a dataset here (salinasA), refused before the run
            self.scene_name(layer.source(), self.parameterAsString(parameters, self.NAME, context) or layer.name())

    def runs(self, parameters: dict[str, Any], context: QgsProcessingContext
             ) -> tuple[list[int], list[float], list[int], list[str], list[str]]:
        """(label counts, shares, seeds, methods, splits) as chosen, or a refusal that names the parameter."""
        from ...core.bench_inputs import parse_shares

        methods = [METHOD_KEYS[i] for i in self.parameterAsEnums(parameters, self.METHODS, context)]
        splits = [SPLIT_KINDS[i] for i in self.parameterAsEnums(parameters, self.SPLITS, context)]
        if not methods or not splits:
            raise QgsProcessingException("choose at least one method and one split")
        counts_text = self.parameterAsString(parameters, self.LABELS_PER_CLASS, context).strip()
        shares_text = self.parameterAsString(parameters, self.SHARES, context).strip()
        if not counts_text and not shares_text:
            raise QgsProcessingException(f"give {self.title(self.LABELS_PER_CLASS)} ({self.LABELS_PER_CLASS}, e.g. "
                                         f"2,5), {self.title(self.SHARES)} ({self.SHARES}, e.g. 10) or both")
        try:
            counts = parse_counts(counts_text) if counts_text else []
            seeds = parse_seeds(self.parameterAsString(parameters, self.SEEDS, context))
        except ValueError as exc:
            raise QgsProcessingException(str(exc)) from exc
        try:  # in percent here, as drawlabels' SHARE: "10" is 10 % (the command line's 0.1 would be 0.1 %)
            shares = parse_shares(",".join(part.strip().rstrip("%") + "%" for part in shares_text.split(",")
                                           if part.strip())) if shares_text else []
        except ValueError:
            raise QgsProcessingException(f"{self.title(self.SHARES)} ({self.SHARES}) are percents of each class, "
                                         f"above 0 and below 100, e.g. 10 or 5,10; got {shares_text!r}") from None
        return counts, shares, seeds, methods, splits

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from ...core.bench import load_own_scene, run_bench
        from ...core.bench_tables import bench_documents
        from ...core.label_draw import share_percent

        self.check_parameters(parameters, context)
        layer = self.parameterAsRasterLayer(parameters, self.SCENE, context)
        reference_layer = self.parameterAsLayer(parameters, self.REFERENCE, context)
        classes_path = self.parameterAsFile(parameters, self.CLASSES, context) or None
        out_md = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        out_json = self.parameterAsFileOutput(parameters, self.JSON, context)
        refuse_the_scene_as_labels(layer, reference_layer, "reference labels")
        self.check_destinations({self.SCENE: existing_layer_file(layer),
                                 self.REFERENCE: existing_layer_file(reference_layer), self.CLASSES: classes_path},
                                {self.OUTPUT: out_md, self.JSON: out_json})
        scene = raster_file(layer, "scene", subdatasets=True)
        class_field = self.parameterAsString(parameters, self.CLASS_FIELD, context).strip() or None
        reference = labels_file(reference_layer, "reference", context, feedback, check_field=True,
                                class_field=class_field)
        counts, shares, seeds, methods, splits = self.runs(parameters, context)
        leave_out = bands_to_leave_out(self, parameters, context)
        name = self.scene_name(scene, self.parameterAsString(parameters, self.NAME, context) or layer.name())
        feedback.pushInfo(self.tr("{} runs: {} label draw{} (labels per class or shares) × {} seed{} × {} method{} × "
                                  "{} split{}").format(
            (len(counts) + len(shares)) * len(seeds) * len(methods) * len(splits),
            *_count(counts + shares), *_count(seeds), *_count(methods), *_count(splits)))
        not_scored: list[str] = []  # label draws that left no pixel to test on
        for share in shares:
            if share < 0.01:  # the command line's 0.1 for 10 % typed here is 0.1 %
                feedback.pushWarning(self.tr("{} % of each class is under 1 % (a few pixels a class); for 10 % give "
                                             "10").format(share_percent(share)))
        with engine_errors():
            preset = PRESETS[self.parameterAsEnum(parameters, self.PRESET, context)]
            settings = MethodSettings(
                preset=preset, clip_weights=clip_weights_chosen(self, parameters, context, preset, feedback if any(
                    needs_synthesis_model(m, MethodSettings()) for m in methods) else None),
                device=DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
                synthetic_weight=self.parameterAsDouble(parameters, self.SYNTHETIC_WEIGHT, context))
            with engine_warnings(feedback):
                with band_choice_refused(self):
                    data = load_own_scene(scene, reference, classes_path=classes_path, class_field=class_field,
                                          leave_out_bands=leave_out)
                runs = run_bench([], counts, seeds, methods, splits, settings, reporter=FeedbackReporter(feedback),
                                 on_result=lambda run: feedback.pushInfo(_run_line(run)), own_scenes=[(name, data)],
                                 shares=shares, on_skip=not_scored.append)
            if not runs:
                raise QgsProcessingException("no label draw left a pixel to test on: " + "; ".join(not_scored))
            amounts = ", ".join(([f"N = {counts}"] if counts else [])
                                + ([f"shares {', '.join(share_percent(s) + ' %' for s in shares)}"] if shares else []))
            command = (f"Processing hypersynth:benchmark on {scene} (reference {reference}), {amounts}, seeds "
                       f"{seeds}, methods {', '.join(methods)}, splits {', '.join(splits)}, preset {preset}, "
                       f"synthetic weight {settings.synthetic_weight:g}"
                       + (f", bands left out as told {leave_out}" if leave_out else "")
                       + (f", CLIP weights {settings.clip_weights}" if settings.clip_weights else ""))
            document, text = bench_documents(runs, command, preset, not_scored=not_scored)
            staging = staging_folder(out_md)
            try:
                results = {}
                with OutputMoves() as moves:  # both files or neither
                    results[self.OUTPUT] = moves.put_text(text, staging, out_md)
                    if out_json:
                        results[self.JSON] = moves.put_text(json.dumps(document, indent=1), staging, out_json)
            finally:
                discard_staging(staging)
        feedback.setProgress(100.0)
        return results

    def scene_name(self, scene: str, name: str) -> str:
        """The scene's name in the tables, or a refusal that points at this algorithm's parameter."""
        from ...core.bench import own_scene_name

        try:
            return own_scene_name(scene, name)
        except ValueError as exc:  # the engine's message lists every reason and names the command line's option
            raise QgsProcessingException(self.name_refusal(name.strip())) from exc

    def name_refusal(self, name: str) -> str:
        """Why ``name`` (refused by the engine's ``own_scene_name``) cannot name the scene: the one reason that
        applies, and the parameter to set, by its title and its key for scripts."""
        from ...core.bench import scene_name_problem

        reason = scene_name_problem(name)
        return (f"{name!r} cannot name your scene in the benchmark tables: {reason}; type another name in "
                f"'{self.title(self.NAME)}' (under Advanced parameters; {self.NAME} in scripts)")


def _run_line(run: Any) -> str:
    """One finished run as the log shows it, so a long benchmark can be followed while it runs."""
    from ...core.bench_tables import column_amount

    return (f"{run.method}, {column_amount(run.labels_per_class, run.share)}, {run.split} split, seed {run.seed}: "
            f"OA {100 * run.oa:.2f} %, "
            f"AA {100 * run.aa:.2f} %, kappa {run.kappa:.3f} ({run.seconds:.0f} s)")


def _count(items: list) -> tuple[int, str]:
    """How many, and the plural's "s" (for the log's line on the number of runs)."""
    return len(items), "" if len(items) == 1 else "s"
