"""What every HyperSynth Processing algorithm shares: feedback as a Reporter, checks, errors, warnings, help."""

from __future__ import annotations

import configparser
import os
import re
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

from qgis.core import (
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsRasterLayer,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ...core.memory import disk_full_message, out_of_memory_message
from ...core.progress import Cancelled, Reporter
from ..tasks import engine_warnings_to
from .band_parameters import LEAVE_OUT_BANDS, check_bands_to_leave_out
from .inputs import (CLASS_FIELD_TITLE, IMPORT_FIRST, class_field_parameter, existing_layer_file,
                     matlab_file_message, scene_parameter, seed_value)

PLUGIN_FOLDER = Path(__file__).resolve().parents[2]  # the plugin's root: metadata.txt, resources/
ICON = PLUGIN_FOLDER / "resources" / "icon.svg"
GROUP_TITLES = {"classification": "Classification", "synthesis": "Synthesis", "scenes": "Scenes"}  # id -> title
CANCELLED = "cancelled by the user; no output was written"  # what Processing shows when Cancel stopped a run
TAGS = ("hyperspectral", "remote sensing", "HyperSynth")  # every algorithm's search words
# Processing calls post-processors after processAlgorithm returned; they must outlive the algorithm object.
_POST_PROCESSORS: dict[str, QgsProcessingLayerPostProcessorInterface] = {}


def _homepage() -> str:
    """metadata.txt's homepage: the README, whose headings are the algorithms' help anchors (one place for the
    address, the one the Plugin Manager shows)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(PLUGIN_FOLDER / "metadata.txt", encoding="utf-8")
    return parser.get("general", "homepage", fallback="").strip()


README = _homepage()  # the algorithms' help pages: its headings are the anchors
_COUNTER = re.compile(r"\s+(?:\d[\d+/]*|done)$")  # a stage's trailing count: "VAE 3/5", "class 2", "classifier done"


class FeedbackReporter(Reporter):
    """An engine Reporter bound to a Processing feedback: progress bar, stage lines, cancel button.

    The progress bar follows every report. The log gets a line when the stage's leading words change: "VAE 1/5"
    is logged, "VAE 2/5" is not (the same words, counted on); "cross-validation 3/12" is logged, the loop counted
    inside it ("cross-validation 3/12: classifier 5/8") is not; a step that is not counted ("reading the product:
    unpacking") is, and so are a benchmark run's stages ("rf N=2 seed 0: VAE 1/5"); a stage already logged that the
    run comes back to ("report" after the attention maps) is not.
    """

    def __init__(self, feedback: Optional[QgsProcessingFeedback]) -> None:
        self.feedback = feedback
        self.stage = ""  # the last stage reported
        self.key = ""  # its leading words: the stage without its trailing count
        self.last_logged = ""  # the last stage logged
        self.logged: set[str] = set()  # every stage logged

    def progress(self, fraction: float, stage: str) -> None:
        if self.feedback is None:
            return
        self.feedback.setProgress(100.0 * min(max(float(fraction), 0.0), 1.0))
        if not stage or stage == self.stage:
            return
        self.stage = stage
        key = _COUNTER.sub("", stage)
        parent, sep, step = stage.rpartition(": ")
        # a counted loop inside the counted stage just logged: the classifiers of a cross-validation fold
        counted_step = (bool(sep) and parent == self.last_logged and _COUNTER.search(parent) is not None
                        and _COUNTER.search(step) is not None)
        new = key != self.key and not counted_step and stage not in self.logged
        self.key = key
        if new:
            self.last_logged = stage
            self.logged.add(stage)
            self.feedback.pushInfo(stage)

    def is_cancelled(self) -> bool:
        return self.feedback is not None and self.feedback.isCanceled()


class HyperSynthAlgorithm(QgsProcessingAlgorithm):
    """Common identity of the provider's algorithms; subclasses define name, parameters and processing."""

    GROUP = "classification"  # the toolbox group: "classification", "synthesis" or "scenes" (GROUP_TITLES)

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

    TAGS: tuple[str, ...] = ()  # this algorithm's search words beyond TAGS
    HELP_ANCHOR = "in-qgis"  # the README heading that explains this algorithm

    def tags(self) -> list[str]:
        return [self.tr(tag) for tag in dict.fromkeys((*TAGS, *self.TAGS))]

    def helpUrl(self) -> str:  # noqa: N802 (QGIS API)
        return f"{README}#{self.HELP_ANCHOR}"

    def help_text(self) -> str:
        """What the algorithm does, for the dialog's help panel and ``qgis_process help``."""
        raise NotImplementedError(f"{type(self).__name__} must say what it does")

    # What the bands LEAVE_OUT_BANDS names do in this algorithm's run, after what they are (LEAVE_OUT_HELP); None: the
    # algorithm's own help says it (importscene's, whose bands are flagged in its copy)
    LEAVE_OUT_EFFECT: Optional[str] = None

    def shortHelpString(self) -> str:  # noqa: N802 (QGIS API)
        shared = []
        if self.parameterDefinition("LEAVE_OUT_BANDS") is not None and self.LEAVE_OUT_EFFECT is not None:
            shared.append(self.tr(f"{LEAVE_OUT_HELP} {self.LEAVE_OUT_EFFECT}"))
        if self.parameterDefinition("CLIP_WEIGHTS") is not None:
            shared.append(self.tr(CLIP_WEIGHTS_HELP))
        return "\n\n".join([self.help_text(), *shared, script_notes(self)])

    # --- checks before the run --------------------------------------------------------------------
    def check_parameters(self, parameters: dict[str, Any], context: QgsProcessingContext) -> None:
        """Refuse, with a QgsProcessingException, a combination of parameters this algorithm cannot run, from the
        parameters alone (no data read). Called before the run (checkParameterValues: the dialog says it and keeps
        the parameters) and again at its start (a model or a script may skip the first call). Here: the
        destinations' names, the input files given, the seed and the bands to leave out; subclasses add their own
        checks to these."""
        self.check_known_names(parameters)
        self.check_file_names(parameters, context)
        self.check_input_files(parameters, context)
        if self.parameterDefinition("SEED") is not None:
            seed_value(self, parameters, context)  # a seed that is not whole, refused before the run
        if self.parameterDefinition(LEAVE_OUT_BANDS) is not None:
            check_bands_to_leave_out(self, parameters, context)

    def check_known_names(self, parameters: Mapping[str, Any]) -> None:
        """Refuse a parameter this algorithm has not (a script's or qgis_process's typo, or another algorithm's name
        for a like parameter: SEEDS for SEED), naming the likeliest meant: QGIS passes it on without a word, and the
        run would go on with the default instead."""
        import difflib

        known = [definition.name() for definition in self.parameterDefinitions()]
        unknown = [name for name in parameters if name not in known]
        if not unknown:
            return
        said = []
        for name in unknown:
            near = difflib.get_close_matches(str(name).upper(), known, n=1, cutoff=0.6)
            said.append(f"{name}" + (f" (did you mean {near[0]}?)" if near else ""))
        raise QgsProcessingException(f"{self.id()} has no parameter {', '.join(said)}; its parameters are "
                                     f"{', '.join(known)}")

    def checkParameterValues(self, parameters: dict[str, Any],  # noqa: N802 (QGIS API)
                             context: QgsProcessingContext) -> tuple[bool, str]:
        try:  # first: a misspelt name would be said as its parameter missing, or not at all; a seed out of range
            self.check_known_names(parameters)  # as QGIS's bare "Incorrect parameter value"
            if self.parameterDefinition("SEED") is not None:
                seed_value(self, parameters, context)
        except QgsProcessingException as exc:
            return False, str(exc)
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, matlab_file_message(self, parameters) or self.missing_input_file(parameters, context) or message
        try:
            self.check_parameters(parameters, context)
        except QgsProcessingException as exc:
            return False, str(exc)
        return True, ""

    def check_file_names(self, parameters: dict[str, Any], context: QgsProcessingContext) -> None:
        """Refuse a file destination (report, JSON, Markdown, .npz) or raster destination named for another format
        (:func:`.destinations.check_file_name`, :func:`.destinations.check_raster_name`). A folder, or one of the
        inputs, is left to :meth:`check_destinations`, which says which input it is, or that a file name is needed."""
        from qgis.core import QgsProcessingParameterFileDestination, QgsProcessingParameterRasterDestination

        from .destinations import check_file_name, check_raster_name

        inputs: Optional[set[str]] = None
        for definition in self.destinationParameterDefinitions():
            name = definition.name()
            if isinstance(definition, QgsProcessingParameterRasterDestination):
                # not parameterAsOutputLayer: it would add a temporary output's name, new at each call, to the
                # layers Processing loads after the run, and the run's own name would be another
                path, check = self.parameterAsFileOutput(parameters, name, context), check_raster_name
            elif isinstance(definition, QgsProcessingParameterFileDestination):
                path = self.parameterAsFileOutput(parameters, name, context)
                check = partial(check_file_name, extension=definition.defaultFileExtension(),
                                others=re.findall(r"\*\.(\w+)", definition.fileFilter()))
            else:
                continue
            if not path or os.path.isdir(path):
                continue
            if os.path.exists(path):
                inputs = self.input_files(parameters, context) if inputs is None else inputs
                if os.path.realpath(path) in inputs:
                    continue
            check(self.title(name), path)

    def check_input_files(self, parameters: dict[str, Any], context: QgsProcessingContext) -> None:
        """Refuse an input file (a class file, a product to import) that is given but not there, before the run
        (:meth:`missing_input_file`)."""
        message = self.missing_input_file(parameters, context)
        if message:
            raise QgsProcessingException(message)

    def missing_input_file(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str:
        """What to fix where an input file is given but not there, or "": QGIS's file parameter takes any path
        (and says only "Incorrect parameter value" of a folder), and the engine would refuse it only once the run
        had started. Folder inputs (saved models) are checked by the algorithms, which also say what kind of folder
        they need; a GDAL subdataset name (``NETCDF:"scene.nc":radiance``) or a product in an order's archive
        (``order.tar.gz/PRODUCT``) is left to the import, which says which file it reads."""
        from qgis.core import QgsProcessingParameterFile

        from ...core.io.product_archives import product_in_archive
        from ...core.io.read import gdal_subdataset_file

        for definition in self.parameterDefinitions():
            if (not isinstance(definition, QgsProcessingParameterFile) or definition.isDestination()
                    or definition.behavior() == QgsProcessingParameterFile.Folder):
                continue
            path = self.parameterAsFile(parameters, definition.name(), context)
            if (not path or os.path.isfile(path) or path.startswith("/vsi") or gdal_subdataset_file(path) is not None
                    or product_in_archive(Path(path)) is not None):  # /vsizip/, /vsicurl/: GDAL's to open
                continue
            wrong = f"{path} is a folder" if os.path.isdir(path) else f"there is no file {path}"
            empty = ", or leave it empty" if definition.flags() & definition.FlagOptional else ""
            return (f"{self.title(definition.name())} ({definition.name()}): {wrong}. "
                    f"Give an existing file{empty}.")
        return ""

    def input_files(self, parameters: dict[str, Any], context: QgsProcessingContext) -> set[str]:
        """The files of the input layers and files given (real paths)."""
        files = set()
        for definition in self.parameterDefinitions():
            if definition.isDestination() or parameters.get(definition.name()) in (None, ""):
                continue
            if definition.type() in ("raster", "layer", "vector", "source"):
                path = existing_layer_file(self.parameterAsLayer(parameters, definition.name(), context))
            elif definition.type() == "file":
                path = self.parameterAsFile(parameters, definition.name(), context)
            else:
                continue
            if path:
                files.add(os.path.realpath(path))
        return files

    def check_device_parameter(self, parameters: dict[str, Any], context: QgsProcessingContext,
                               name: str = "DEVICE") -> str:
        """The Device parameter's choice, refused where this machine lacks it (:func:`check_device`)."""
        from ..settings import DEVICES

        device = DEVICES[self.parameterAsEnum(parameters, name, context)]
        check_device(device)
        return device

    def title(self, name: str) -> str:
        """A parameter's title for messages: its label without the explanation in brackets."""
        definition = self.parameterDefinition(name)
        return definition.description().split(" (")[0] if definition is not None else name

    def check_destinations(self, inputs: Mapping[str, Optional[str]], outputs: Mapping[str, Optional[str]],
                           folders: Optional[Mapping[str, str]] = None) -> None:
        """`check_destinations` with parameter names: {input name: file}, {output name: destination},
        {model folder output name: "classifier" or "synthesis"}; the messages give the parameters' titles."""
        from qgis.core import QgsProcessingParameterRasterDestination

        from .destinations import check_destinations

        raster = QgsProcessingParameterRasterDestination.typeName()
        rasters = [self.title(k) for k in outputs
                   if self.parameterDefinition(k) is not None and self.parameterDefinition(k).type() == raster]
        check_destinations({self.title(k): v for k, v in inputs.items()},
                           {self.title(k): v for k, v in outputs.items()},
                           {self.title(k): v for k, v in (folders or {}).items()}, rasters)

    def add_training_label_parameters(self) -> None:
        """Scene, training labels, class field and class/prompt file: the inputs every trainer takes."""
        from qgis.core import QgsProcessing, QgsProcessingParameterFile, QgsProcessingParameterMapLayer

        self.addParameter(scene_parameter(self))
        self.addParameter(QgsProcessingParameterMapLayer(
            "LABELS", self.tr("Training labels (points, polygons or a label raster)"),
            types=[QgsProcessing.TypeVectorAnyGeometry, QgsProcessing.TypeRaster]))
        self.addParameter(class_field_parameter("CLASS_FIELD", self.tr(CLASS_FIELD_TITLE)))
        self.addParameter(QgsProcessingParameterFile(
            "CLASSES", self.tr("Class and prompt file (names, colours, prompts)"), extension="json", optional=True))


# What the parameters several algorithms share are, for the help of each algorithm that has them
LEAVE_OUT_HELP = ("Bands this run leaves out (LEAVE_OUT_BANDS, under Advanced): noisy bands the scene's file does not "
                  "flag, by number (1 = the first band) or wavelength: 108-112, 154-167, 224 or 1340-1450nm. The "
                  "scene's file is not changed.")
CLIP_WEIGHTS_HELP = ("CLIP weights (CLIP_WEIGHTS, under Advanced): the open_clip ViT-B-32 checkpoint the text encoder "
                     "loads; empty: the file HyperSynth's settings name, if any. The log says which file a run used "
                     "and where it came from. The tiny preset's small test text tower loads none.")
# How a script gives the preset, and what each costs (the dialog's list shows the names alone)
PRESET_NOTES = {"tiny": "a quick trial, under a minute on a small scene", "fast": "minutes on a laptop CPU",
                "full": "for a GPU"}
# The class file's format, for the help of every algorithm with a CLASSES parameter (core.io.classes reads it)
CLASS_FILE_HELP = ('CLASSES is a JSON file: {"classes": [{"id": 1, "name": "water", "colour": "#1f77b4", "prompt": '
                   '"calm dark water"}, …]}; ids run from 1 (0 is unlabelled), colour (or color, #RRGGBB) and '
                   'prompt may be left out.')


def _value_text(definition: Any, value: Any) -> str:
    """A parameter's value as a script gives it: an enum's index with its option, true/false, a number as typed."""
    if definition.type() == "enum":
        options = definition.options()
        indexes = value if isinstance(value, list) else [value]
        chosen = ",".join(str(i) for i in indexes)
        if definition.name() == "PRESET":
            return f"{chosen} ({'; '.join(f'{i} {o}: {PRESET_NOTES.get(o, o)}' for i, o in enumerate(options))})"
        if len(indexes) == 1 and len(", ".join(options)) > 120:  # long options: the default's own, shortened
            short = [option.split(" (")[0] for option in options]
            said = short[indexes[0]].split(", or")[0]
            # never shortened into another option ("The whole scene, or the area around…" is not "The whole scene")
            others = short[:indexes[0]] + short[indexes[0] + 1:]
            return f"{chosen} ({said if said not in others else short[indexes[0]]})"
        return f"{chosen} (of {', '.join(f'{i} {o}' for i, o in enumerate(options))})"
    if definition.type() == "boolean":
        return "true" if value else "false"
    text = f"{value:g}" if isinstance(value, float) else str(value)
    zero = re.search(r"\b(0: [^;)]*)", definition.description()) if text == "0" else None
    return f"{text} ({zero.group(1)})" if zero else text  # what 0 means: "0: the preset's"


def script_notes(algorithm: "HyperSynthAlgorithm") -> str:
    """The help's paragraph for scripts (processing.run, qgis_process, whose help in QGIS 3.22 shows no default):
    what each parameter left out is, which optional outputs are written only when given, the class file's format,
    and where a MATLAB .mat scene goes; read from the parameters themselves, so it stays true."""
    if not algorithm.parameterDefinitions():  # a bare instance (QGIS asks an initialised one)
        algorithm = algorithm.createInstance()
        algorithm.initAlgorithm()
    definitions = algorithm.parameterDefinitions()
    defaults = [f"{d.name()}={_value_text(d, d.defaultValue())}" for d in definitions
                if not d.isDestination() and d.defaultValue() not in (None, "", [])]
    optional = [d for d in definitions if d.isDestination() and d.flags() & d.FlagOptional]
    lines = []
    if defaults:
        lines.append("In scripts (processing.run, qgis_process), a parameter left out is: " + "; ".join(defaults) + ".")
    if optional:
        made = [d.name() for d in optional if d.createByDefault()]
        dialog = (f" (the dialog makes {' and '.join(made)} unless you skip {'them' if len(made) > 1 else 'it'})"
                  if made else "")
        keys = ", ".join(d.name() for d in optional)
        lines.append((f"The optional outputs {keys} are" if len(optional) > 1 else f"The optional output {keys} is")
                     + f" written only when given a path or TEMPORARY_OUTPUT{dialog}.")
    names = {d.name() for d in definitions}
    if "CLASSES" in names:
        lines.append(CLASS_FILE_HELP)
    if "SCENE" in names:
        lines.append(f"A MATLAB .mat scene cannot be given as SCENE: {IMPORT_FIRST}.")
    return "\n".join(lines)


def when_loaded(context: QgsProcessingContext, output: str, post: QgsProcessingLayerPostProcessorInterface) -> None:
    """Run ``post`` on ``output``'s layer if Processing is going to load it into the project (after it adds it)."""
    if context.willLoadLayerOnCompletion(output):
        _POST_PROCESSORS[output] = post
        context.layerToLoadOnCompletionDetails(output).setPostProcessor(post)


def accuracy_results(metrics: Optional[dict]) -> dict[str, float]:
    """The engine's metrics as the algorithms' numeric outputs OVERALL_ACCURACY, AVERAGE_ACCURACY, KAPPA."""
    if not metrics:
        return {}
    pairs = (("OVERALL_ACCURACY", "oa"), ("AVERAGE_ACCURACY", "aa"), ("KAPPA", "kappa"))
    return {key: float(metrics[name]) for key, name in pairs if metrics.get(name) is not None}  # κ None: undefined


def accuracy_lines(metrics: Optional[dict]) -> list[str]:
    """What the log says of a map's accuracy, as the report words it: where the validation points are a stratified
    random sample, the area-adjusted OA first (the estimate of the map's, with the strata and how many points were
    labelled) and the points' own figures after; else the validation pixels' figures, with the area-adjusted OA as
    an indication only (and what it covers). Validation labels of one class are said to make AA and κ say nothing."""
    from ...core.evaluation.metrics import sampled_oa

    if not metrics or metrics.get("oa") is None:
        return []
    kappa = "–" if metrics.get("kappa") is None else f"{metrics['kappa']:.4f}"  # undefined with one class
    aa = "–" if metrics.get("aa") is None else f"{100 * metrics['aa']:.2f}"
    pixels = int(metrics.get("n_test") or 0)
    own = f"OA {100 * metrics['oa']:.2f} %, AA {aa} %, kappa {kappa} on {pixels} validation pixel" + (
        "s" if pixels != 1 else "")
    held = [c for c in metrics.get("classes", []) if c.get("test_pixels")]
    one_class = ([f"The validation labels hold one class ({held[0]['name']}): AA repeats its accuracy and kappa "
                  "says nothing; give validation labels of every class to judge the map"] if len(held) == 1 else [])
    area = metrics.get("area_adjusted") or {}
    sampled = sampled_oa(metrics)
    if sampled:
        drawn = area.get("sample_points")
        labelled = f"; {pixels} of its {drawn} points labelled and scored" if drawn else ""
        return [f"Area-adjusted {sampled}: the estimate of the map's accuracy (the validation points are a "
                f"stratified random sample; {area.get('method', '')}{labelled})",
                f"The points' own {own} (they over-represent small classes)", *one_class]
    if area.get("oa") is None:
        return [own, *one_class]
    ci = area.get("oa_ci95")
    unsampled = area.get("unsampled_map_classes") or []
    covers = (f"; it covers only the map classes with validation pixels, not {', '.join(unsampled)}" if unsampled
              else "")
    return [own, f"Area-adjusted OA {100 * area['oa']:.2f} %{'' if ci is None else f' ± {100 * ci:.2f}'}: an "
                 "indication only (these figures hold for a random sample of the map, which nothing here says the "
                 f"validation pixels are{covers})", *one_class]


def check_device(device: str) -> None:
    """Refuse a device this machine lacks before any file is read (the engine's own check, as a Processing error)."""
    from ...core.device import check_device as engine_check

    try:
        engine_check(device)
    except ValueError as exc:
        raise QgsProcessingException(f"{exc} as the Device") from exc


def check_patch_size(size: int, scene: Optional[QgsRasterLayer], title: str, key: str = "PATCH_SIZE") -> None:
    """Refuse a patch size the models cannot use: 0 is chosen from the scene, else 3 (the command line's least) to
    the scene's smaller side. Odd and even sizes alike: the models centre a patch on its pixel p // 2 (the tiny
    preset's own size is 8)."""
    if size == 0:
        return
    side = min(scene.width(), scene.height()) if scene is not None else None
    if size < 3 or (side is not None and size > side):
        most = f"{side} (the scene's smaller side)" if side is not None else "the scene's smaller side"
        raise QgsProcessingException(f"the {title} ({key}) is {size}: give 0 to have it chosen from the scene, or a "
                                     f"size from 3 to {most}")


def error_message(exc: BaseException) -> str:
    """What an engine refusal or a file error tells the user: the engine's sentence, or which file failed and why."""
    if isinstance(exc, OSError) and exc.strerror and not isinstance(exc, ValueError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"could not write or read{where}: {exc.strerror}; check the destination folders and free disk space"
    return str(exc)


@contextmanager
def engine_errors(cancelled: str = CANCELLED) -> Iterator[None]:
    """Turn what the engine raises in the block into the QgsProcessingException Processing shows.

    The engine's ``Cancelled`` (the Cancel button) becomes ``cancelled``; a bad input or a file error
    (``ValueError``, ``OSError``) becomes the engine's own sentence (:func:`error_message`); the GPU or the computer
    running out of memory, what to do (:func:`~hypersynth.core.memory.out_of_memory_message`); a full disk, said as such
    (:func:`~hypersynth.core.memory.disk_full_message`, whatever error type the writing library raised). A
    QgsProcessingException raised in the block passes unchanged.
    """
    try:
        yield
    except Cancelled as exc:
        raise QgsProcessingException(cancelled) from exc
    except QgsProcessingException:
        raise
    except Exception as exc:  # noqa: BLE001 (a full disk, said in a library's own error type too; others re-raised)
        full = disk_full_message(exc)
        if full is not None:
            raise QgsProcessingException(full) from exc
        if isinstance(exc, (ValueError, OSError)):  # bad input: the engine's message says what to fix
            raise QgsProcessingException(error_message(exc)) from exc
        message = out_of_memory_message(exc)  # the GPU or the computer out of memory: what to do
        if message is None:
            raise
        raise QgsProcessingException(message) from exc


@contextmanager
def engine_warnings(feedback: Optional[QgsProcessingFeedback]) -> Iterator[None]:
    """While the block runs, the engine's warnings (logger "hypersynth") logged in this algorithm's thread appear
    in the Processing log (a dock task running at the same time logs in its own thread)."""
    if feedback is None:
        yield
        return
    with engine_warnings_to(feedback.pushWarning):
        yield


