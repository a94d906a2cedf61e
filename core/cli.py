"""The command line: `python -m hypersynth …` (or `bin/hypersynth …`) drives the same engine as the plugin."""

from __future__ import annotations

import argparse
import logging
import math
import re
import shutil
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence

from .progress import Cancelled, Reporter

if TYPE_CHECKING:
    from .methods import MethodSettings
    from .pipeline import ClassificationOutputs

EPILOG = """examples:
  hypersynth demo                                   # embedded demo scene -> out/demo/ (again: --overwrite)
  hypersynth import-scene --scene PRS_L2D_STD_20200524103704_20200524103708_0001.he5 --out prisma.tif
  hypersynth augment-classify --scene cube.tif --labels labels.gpkg --prompts classes.json --out results/
  hypersynth classify --classifier results/classifier_bundle --scene other_cube.tif --out results_other/
  hypersynth synthesize --synthesis-model results/model_bundle --class 3 --n 16 --out patches.npz
  hypersynth augment-classify --synthesis-model results/model_bundle --scene cube2.tif --labels labels2.gpkg \\
      --prompts classes.json --out results2/    # reuses the synthesis model instead of training one
  hypersynth assess --map results/classification.tif --validation validation.gpkg --out results/accuracy/
  hypersynth bench --datasets salinasA,enmap_potsdam,demo --labels-per-class 2,5 --seeds 0-4 \\
      --methods rf,svm,cnn,augment --preset fast --json bench.json
"""


CLIP_FILES = "open_clip's open_clip_model.safetensors or open_clip_pytorch_model.bin"  # text_encoder.CHECKPOINT_FILES
LOG_INTERVAL = 30.0  # seconds: when stderr is a log file, the fewest between two progress lines of one step


def _elapsed(seconds: float) -> str:
    """A run's elapsed time as a person reads it: "42 s", "5 min 42 s", "2 h 05 min"."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


class TerminalReporter(Reporter):
    """A tqdm progress bar per stage on stderr (a log file: a line now and then instead); Ctrl+C cancels cleanly."""

    def __init__(self, quiet: bool = False, clock: Callable[[], float] = time.monotonic,
                 log_interval: float = LOG_INTERVAL) -> None:
        """
        Args:
            quiet: report nothing.
            clock: seconds from any start (tests pass a fake one, so nothing waits).
            log_interval: in a log file, the fewest seconds between two lines of one step.
        """
        self.quiet = quiet
        self._bar = None
        self._stage = ""
        self._clock = clock
        self._log_interval = log_interval
        self._started: Optional[float] = None  # when the first progress came: the run's elapsed time counts from it
        self._logged = ("", -1, -math.inf)  # the last log line's (stage, percent, time)

    def progress(self, fraction: float, stage: str) -> None:
        if self.quiet:
            return
        if not sys.stderr.isatty():  # a log file: a line per step and as it moves on, not a redrawn bar
            self._log_line(min(max(fraction, 0.0), 1.0), stage)
            return
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(total=1000, file=sys.stderr, bar_format="{l_bar}{bar}| {elapsed}<{remaining}")
        if stage != self._stage:
            self._stage = stage
            self._bar.set_description(stage[:28].ljust(28))
        self._bar.n = int(1000 * min(max(fraction, 0.0), 1.0))
        self._bar.refresh()

    def _log_line(self, fraction: float, stage: str) -> None:
        """Print "[ 18 %] 5 min 42 s  latents" at a new step's first progress, then as the step moves on (its
        counter or percentage), at most once every ``log_interval`` seconds: a cluster job's log shows it is alive
        without a line for each of a benchmark's hundreds of sub-steps."""
        now = self._clock()
        if self._started is None:
            self._started = now
        step = re.split(r"\s*\d", stage)[0]  # "cross-validation 3/15: classifier 4/8" is "cross-validation"
        percent = round(100 * fraction)
        last_stage, last_percent, last_time = self._logged
        if step == self._stage and ((stage, percent) == (last_stage, last_percent)
                                    or now - last_time < self._log_interval):
            return
        self._stage = step
        self._logged = (stage, percent, now)
        print(f"[{percent:3d} %] {_elapsed(now - self._started)}  {stage}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


# ----------------------------------------------------------------------------------------- argument types
# Each raises argparse.ArgumentTypeError, which argparse prints after the option's name ("argument --seed: …").


def _whole(minimum: int, maximum: Optional[int] = None, note: str = "") -> Callable[[str], int]:
    """A type: a whole number in [minimum, maximum]; ``note`` tells what else the user can do."""
    def parse(text: str) -> int:
        try:
            value: Optional[int] = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            bound = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
            raise argparse.ArgumentTypeError(f"expected a whole number {bound}{note}; got {text!r}")
        return value
    return parse


def _number(low: float, high: float = math.inf, *, low_open: bool = False) -> Callable[[str], float]:
    """A type: a number in [low, high] (``low_open``: in (low, high]); NaN is refused."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not ((low < value if low_open else low <= value) and value <= high):  # NaN fails every comparison
            span = (f"in {'(' if low_open else '['}{low:g}, {high:g}]" if high < math.inf
                    else f"{'above' if low_open else 'of at least'} {low:g}")
            raise argparse.ArgumentTypeError(f"expected a number {span}; got {text!r}")
        return value
    return parse


def _prompt(text: str) -> str:
    """A type: a prompt with words in it (an empty one tells the text encoder nothing)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected words describing the patches, e.g. 'asphalt road'; got an empty "
                                         "prompt")
    return text


def _folder(text: str) -> str:
    """A type: an output folder's name, not empty."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a folder, e.g. --out results/")
    return text


def _patches_file(text: str) -> str:
    """A type: the name of the file synthesize writes, whose ending says its format (.npz, .csv or .tif)."""
    from .io.patch_files import patch_format

    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a .npz, .csv or .tif file name, e.g. --out patches.npz")
    try:
        patch_format(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _tif_file(text: str) -> str:
    """A type: the name of the GeoTIFF import-scene writes."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a GeoTIFF file name, e.g. --out scene.tif")
    if Path(text).suffix.lower() not in (".tif", ".tiff"):
        raise argparse.ArgumentTypeError(f"the scene is written as GeoTIFF; name it {Path(text).stem or 'scene'}.tif "
                                         f"(got {text!r})")
    return text


def _clip_weights_file(text: str) -> str:
    """A type: an existing file of CLIP weights, checked before anything runs (the engine would find it missing only
    when the synthesis model's training starts)."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give the checkpoint file in it ({CLIP_FILES})")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}; give the CLIP ViT-B-32 checkpoint ({CLIP_FILES})")
    return str(path)


def _bench_list(name: str) -> Callable[[str], list]:
    """bench_inputs.py's list parser ``name`` (parse_seeds, parse_methods, …) as a type; its ValueError says what is
    wrong. Imported when used, so --help stays fast."""
    def parse(text: str) -> list:
        from . import bench_inputs

        try:
            return getattr(bench_inputs, name)(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def _smoothing_width(text: str) -> Optional[float]:
    """'auto' -> None (cross-validated), 'off' -> 0, a number -> that width in pixels."""
    if text.strip().lower() == "auto":
        return None
    if text.strip().lower() == "off":
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, off or a width in pixels; got {text!r}") from None
    if not value >= 0:  # NaN too
        raise argparse.ArgumentTypeError(f"the smoothing width must be 0 or positive; got {value}")
    return value


# ----------------------------------------------------------------------------------------- option groups
SCENE_FORMATS = ("GeoTIFF, ENVI (.hdr/.img), a NetCDF/HDF variable or MATLAB .mat; EnMAP L2A, EMIT L2A/L1B and PRISMA "
                 "L2 products open directly as downloaded (see import-scene)")  # what every --scene takes
IMPORT_DESCRIPTION = """\
Reads a hyperspectral scene as the other commands read it and writes it as one float32
GeoTIFF that QGIS, EnMAP-Box and HyperSynth open with its wavelengths: each band's centre
wavelength, FWHM and bad-band flag in its metadata (GDAL and ENVI domains), no-data -9999,
and the georeference. Use it for a sensor product QGIS cannot show as downloaded, to label
on it in QGIS; the other commands read these products directly.

--scene takes a product as downloaded, any of its files:
  EnMAP L2A (DLR)            ...-SPECTRAL_IMAGE.TIF or ...-METADATA.XML of the product folder:
                             wavelengths, FWHM and reflectance scale from the XML
  EMIT L2A / L1B (NASA)      the granule .nc (reflectance or radiance), orthorectified
                             through its geometry lookup table (GLT)
  PRISMA L2B/L2C/L2D (ASI)   the .he5 file: VNIR and SWIR merged by wavelength, in reflectance
  any of them in its ZIP     as ordered, or in EnMAP's order .tar.gz: unpacked beside it while
                             it is read, then removed; one of an order of several products
                             as ORDER.tar.gz/PRODUCT_NAME (the names are listed when refused)
or any scene HyperSynth reads: GeoTIFF, ENVI .hdr/.img, MATLAB .mat, a NetCDF/HDF variable
(NETCDF:"scene.nc":radiance). An existing --out is kept unless --overwrite is given.

Clouds: the pixels a product's own quality masks flag are written as no-data, so they are
neither labelled on, learnt from nor classified: EnMAP's QL_QUALITY_CLOUD, _CLOUDSHADOW and
_CIRRUS (medium or thick) layers in the product folder; EMIT's L2A MASK granule of the same
acquisition beside the .nc (cloud, cirrus, cloud buffer and spacecraft flags; water is kept).
The output says how many; --keep-flagged-pixels keeps them all. The other commands apply the
same masks when their --scene is a product. PRISMA's L2 products carry no cloud mask.

example:
  hypersynth import-scene --scene EMIT_L2A_RFL_001_20230801T180000_2321312_004.nc --out emit.tif
"""
CLASS_KEYS = "id, name, colour (or color), prompt"  # a class file entry's keys (io.classes.ALLOWED_KEYS)
PRESET_HELP = ("model size: tiny (under a minute on a small scene, for tests), fast (default, minutes on a laptop CPU) "
               "or full (for a GPU)")


def _run_args(p: argparse.ArgumentParser, *, does: str, overwrite: str, preset: bool = True,
              seed: bool = True, networks_only: str = "") -> None:
    """The options every running command shares; ``does`` says what the device is used for, ``overwrite`` what
    --overwrite replaces. ``preset``/``seed``: only for commands that train or draw random numbers;
    ``networks_only``: said after --preset and --device where only some methods train a network."""
    from .bench_inputs import SEED_MAX  # numpy only: --help stays fast

    if preset:
        p.add_argument("--preset", default="fast", choices=["tiny", "fast", "full"], help=PRESET_HELP + networks_only)
    if seed:
        p.add_argument("--seed", type=_whole(0, SEED_MAX), default=0,
                       help=f"seed for every random choice, 0 to {SEED_MAX} (default 0)")
    p.add_argument("--device", default="auto", type=_device, metavar="{auto,cpu,cuda,cuda:N}",
                   help=f"where to {does} (default auto: CUDA when available, else the CPU; cuda:N: the GPU of "
                        f"index N){networks_only}")
    p.add_argument("--overwrite", action="store_true", help=overwrite)
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _device(text: str) -> str:
    """--device's spelling (whether this machine has that GPU is the engine's check, before any work)."""
    from .device import DEVICE_NAME

    if not DEVICE_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device; use auto, cpu, cuda or cuda:N (N: the GPU's "
                                         "index)")
    return text


def _sampling_args(p: argparse.ArgumentParser) -> None:
    """How the diffusion model samples: used wherever patches are synthesised."""
    p.add_argument("--guidance", type=_number(0.0),
                   help="classifier-free guidance ω, at least 0: 0 ignores the prompt, 1 follows it, more follows "
                        "it more strongly (default: the model's preset)")
    p.add_argument("--steps", type=_whole(1), help="DDIM sampling steps, at least 1 (default: the model's preset)")


def _synthesis_args(p: argparse.ArgumentParser) -> None:
    """Training on a scene with synthetic patches (demo, augment-classify)."""
    p.add_argument("--patch-size", type=_whole(3, note=" (leave --patch-size out to choose it from the scene)"),
                   help="patch side in pixels, at least 3 (default: chosen from the scene's spatial homogeneity, at "
                        "most the preset's)")
    p.add_argument("--synthetic-per-class", type=_whole(1),
                   help="synthetic patches for an average class, at least 1 (default: the preset's)")
    p.add_argument("--balance-rate", type=_number(0.0, 1.0), default=0.5,
                   help="λ in [0, 1]: how the synthetic patches are shared among the classes: 0 equally, 1 mostly "
                        "to the classes with fewest labels (default 0.5)")
    _sampling_args(p)
    p.add_argument("--anchor-strength", type=_number(0.0, 1.0, low_open=True), default=0.5,
                   help="in (0, 1]: synthesis starts from real labelled patches noised this far: 0.3-0.6 = "
                        "variations of them, 1 = from pure noise (default 0.5)")
    _clip_weights_arg(p)
    _pseudo_arg(p)


def _clip_weights_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clip-weights", type=_clip_weights_file, metavar="FILE",
                   help=f"CLIP ViT-B-32 weights file ({CLIP_FILES}) whose pretrained text tower reads the prompts "
                        "when a synthesis model is trained, with --preset fast or full (default: the Hugging Face "
                        "cache; without them the model learns a small text tower of its own, which knows no words "
                        "beforehand). Nothing is downloaded")


def _blend_args(p: argparse.ArgumentParser) -> None:
    from .classify.base import CV_SYNTHESIS, FOREST_INPUT_NAMES, SHARE_RULES
    from .methods import MethodSettings  # numpy only: --help stays fast

    p.add_argument("--synthetic-weight", type=_number(0.0, 10.0, low_open=True),
                   default=MethodSettings.synthetic_weight,
                   help="in (0, 10]: how much all synthetic patches together count in the classifier's training, "
                        "relative to your labels (default 0.5; 1 = as much as your labels). In the benchmarks they "
                        "helped most with 2 labels per class on a hard scene and cost a little where the labels alone "
                        "already classified well. For none, classify with `hypersynth baseline`")
    p.add_argument("--forest-inputs", default=MethodSettings.forest_inputs, choices=FOREST_INPUT_NAMES,
                   help="what the blend's random forest splits on: spectrum+shape+slope (default: the spectrum, its "
                        "brightness-free shape and its band-to-band slope) or spectrum (the spectrum alone, as the "
                        "rf baseline)")
    p.add_argument("--share-rule", default=MethodSettings.share_rule, choices=SHARE_RULES,
                   help="how the cross-validation on your labels picks each member's share of the blend: the highest "
                        "held-out balanced accuracy (default) or the lowest held-out log-loss")
    p.add_argument("--cv-synthesis", default=MethodSettings.cv_synthesis, choices=CV_SYNTHESIS,
                   help="augment: what the folds of that cross-validation learn of the synthetic patches: none (your "
                        "labels only, default), anchored (also the synthetic patches started from the fold's own "
                        "labels, as the final blend learns them all) or choose (both ways, and the synthetic patches "
                        "are left out of the final blend when your labels score it better without them)")


def _pseudo_arg(p: argparse.ArgumentParser) -> None:
    from .methods import PSEUDO_LABELLERS, MethodSettings  # numpy only: --help stays fast
    from .pseudo_labels import PSEUDO_RULES

    p.add_argument("--pseudo-labels", type=_whole(1, note=" (leave --pseudo-labels out for none)"),
                   help="confident unlabelled pixels added per class, at least 1, to the training of Augment & "
                        "Classify and of its blend without synthesis (default: none; with 2-5 labels per class they "
                        "lowered accuracy in the benchmarks)")
    p.add_argument("--pseudo-labeller", choices=PSEUDO_LABELLERS, default=MethodSettings.pseudo_labeller,
                   help="who picks the pseudo-labels: blend (default) the CNN and spectral forest (and the "
                        "diffusion-feature SVM with --diffusion-features) at the shares cross-validation on your "
                        "labels chose, so the members your labels trust pick "
                        "them; cnn a first CNN alone (faster: only the CNN is trained once more to pick them)")
    p.add_argument("--pseudo-rule", choices=PSEUDO_RULES, default=MethodSettings.pseudo_rule,
                   help="what makes a pixel confident enough to be pseudo-labelled: rank (default) the more confident "
                        "half of the pixels given each class (does not depend on how the classifier's probabilities "
                        "are scaled, so every class gets its share); threshold a class probability of at least 0.9")
    p.add_argument("--spatial-smoothing", type=_smoothing_width, default=None, metavar="auto|off|SIGMA",
                   help="Gaussian smoothing of the class probabilities before the class is taken (removes speckle): "
                        "auto (default) lets cross-validation on your labels choose its width, off disables it, a "
                        "number fixes the width in pixels")
    p.add_argument("--diffusion-features", action=argparse.BooleanOptionalAction,
                   default=MethodSettings.diffusion_features,
                   help="let an SVM on the scene diffusion model's features join the classifier blend, its share "
                        "chosen by cross-validation on your labels (default: off, as that cross-validation "
                        "overrates it: the model has learnt your labels with their prompts). Its features cost "
                        "about as much time per pixel as the CNN")


PROBABILITIES_HELP = ("also write probabilities.tif: each class's probability as a float32 band (named by the "
                      "class; -1 where unclassified), for your own thresholds or fusion")


VERBOSE_HELP = "log details"


class _Version(argparse.Action):
    """--version: looks the commit up only when asked (git runs for it), so building the parser stays fast."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, help: Optional[str] = None) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        from .version import ENGINE_VERSION, code_revision

        revision = code_revision()
        print(f"hypersynth {ENGINE_VERSION}" + (f" (code {revision})" if revision else ""))
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    from .training_area import TRAINING_AREAS

    parser = argparse.ArgumentParser(
        prog="hypersynth", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Classify a hyperspectral scene from a handful of labels: text-prompted synthetic "
                    "training patches (latent diffusion) + a spectral-spatial classifier.")
    parser.add_argument("--version", action=_Version, help="print the engine version (and the code's commit) and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="run Augment & Classify (or a baseline) on the embedded demo scene",
                       description="Writes the procedural demo scene (GeoTIFF + sparse labels + prompts) into "
                                   "OUT/scene and classifies it; the full ground truth is used for the accuracy "
                                   "report. An OUT holding an earlier demo is refused unless --overwrite is given.")
    p.add_argument("--out", type=_folder, default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--method", default="augment", choices=["rf", "svm", "cnn", "augment"],
                   help="augment (Augment & Classify, default) or a baseline without synthesis: rf (random "
                        "forest), svm or cnn (spectral-spatial CNN)")
    p.add_argument("--labels-per-class", type=_whole(1), default=5,
                   help="sparse labels drawn per class, at least 1 (default 5)")
    _run_args(p, does="train and classify", overwrite="replace an earlier demo's scene and results in --out")
    _synthesis_args(p)
    _blend_args(p)

    for name, helptext in (("augment-classify", "synthesise labelled patches from prompts and classify the scene"),
                           ("baseline", "classify with a baseline trained on your labels alone: random forest, SVM "
                                        "or CNN (no synthesis)")):
        p = sub.add_parser(name, help=helptext, description=helptext + (
            "" if name == "augment-classify" else ". rf and svm learn from the labelled pixels' spectra alone, so "
            "a GeoTIFF or ENVI scene is then read a tile at a time, never whole: it may be larger than memory."))
        p.add_argument("--scene", required=True, help=f"hyperspectral raster: {SCENE_FORMATS}")
        p.add_argument("--labels", required=True, help="labels: vector (GeoPackage/Shapefile/GeoJSON), label raster or MATLAB ground-truth map")
        p.add_argument("--prompts", help=f"class file (JSON: {CLASS_KEYS} per class)")
        p.add_argument("--class-field", help="attribute holding the class in a vector label layer (default: guessed)")
        p.add_argument("--validation", help="independent validation labels for the accuracy report")
        p.add_argument("--validation-field", help="attribute holding the class in vector --validation labels "
                                                  "(default: --class-field, else guessed)")
        p.add_argument("--out", type=_folder, required=True, help="output folder (created when missing)")
        p.add_argument("--cog", action="store_true", help="also write the class map as a Cloud-Optimised GeoTIFF")
        p.add_argument("--probabilities", action="store_true", help=PROBABILITIES_HELP)
        p.add_argument("--training-area", default="auto", choices=TRAINING_AREAS,
                       help="what the models learn from: the whole scene, or a GeoTIFF or ENVI scene's area around "
                            "the labels (at least 512 × 512 pixels), whose map is then predicted tile by tile from "
                            "the file, so the scene may be larger than memory; auto (default): the labelled area "
                            "when the scene would take over half of the memory available (rf and svm always learn "
                            "from the labelled pixels alone)")
        if name == "augment-classify":
            # --bundle is the option's first name, kept so that existing scripts go on working
            p.add_argument("--synthesis-model", "--bundle", dest="synthesis_model", metavar="FOLDER",
                           help="reuse a synthesis model (the model_bundle folder of an earlier run) instead of "
                                "training one (--bundle: the same option's older name)")
            p.add_argument("--synthetic-patches", choices=("tif", "csv", "npz"),
                           help="also write the synthetic patches the classifier learnt from into --out: tif, a "
                                "GeoTIFF mosaic with wavelengths that QGIS shows, and its classes beside it; csv, a "
                                "spectral library of their centre spectra; npz, everything (NumPy)")
            _synthesis_args(p)
            _blend_args(p)
        else:
            p.add_argument("--method", default="rf", choices=["rf", "svm", "cnn"],
                           help="rf (random forest on the spectra, default), svm (SVM on the spectra) or cnn "
                                "(spectral-spatial CNN on patches)")
        _run_args(p, does="train and classify", overwrite="replace an earlier run's outputs in --out",
                  networks_only="" if name == "augment-classify" else "; for the cnn only: rf and svm are "
                  "scikit-learn's, on the CPU")

    helptext = "classify a scene with a saved classifier bundle (no labels, no training)"
    p = sub.add_parser("classify", help=helptext,
                       description=helptext[0].upper() + helptext[1:] + ": the classifier_bundle folder an earlier "
                                   "run saved, applied to a scene of the same sensor and band set. A GeoTIFF or ENVI "
                                   "scene is read a tile at a time, never whole, so it may be larger than memory.")
    # --model is the option's first name, kept so that existing scripts go on working; it is no synthesis model
    p.add_argument("--classifier", "--model", dest="classifier", metavar="FOLDER", required=True,
                   help="saved classifier: an earlier run's classifier_bundle folder (--model: the same option's "
                        "older name)")
    p.add_argument("--probabilities", action="store_true", help=PROBABILITIES_HELP)
    p.add_argument("--scene", required=True,
                   help=f"hyperspectral raster of the same sensor and band set: {SCENE_FORMATS}")
    p.add_argument("--validation", help="validation labels for an accuracy report")
    p.add_argument("--class-field", help="attribute holding the class in a vector validation layer")
    p.add_argument("--out", type=_folder, required=True, help="output folder (created when missing)")
    _run_args(p, does="predict", overwrite="replace an earlier run's outputs in --out", preset=False, seed=False)

    helptext = "compare any classified map with validation labels (accuracy and class areas)"
    p = sub.add_parser("assess", help=helptext,
                       description=helptext[0].upper() + helptext[1:] + ": OA, AA, kappa, each class's producer's "
                                   "and user's accuracy and F1, and the area-adjusted accuracy and class areas "
                                   "with 95 % confidence intervals (Olofsson et al. 2014; they hold when the "
                                   "validation pixels are a random sample of the map). Any tool's map will do.")
    p.add_argument("--map", required=True, help="the classified map: a one-band raster of class ids")
    p.add_argument("--validation", required=True,
                   help="validation labels: vector (GeoPackage/Shapefile/GeoJSON) or a label raster on the map's grid")
    p.add_argument("--class-field", help="attribute holding the class in a vector validation layer (default: guessed)")
    p.add_argument("--exclude", help="labels whose pixels are left out of the assessment, e.g. the map's training "
                                     "labels (a run leaves its own out; scored, they make the map look better). "
                                     "A run's own map is assessed without the pixels its classifier_bundle beside "
                                     "it learnt from, as its report was (--keep-training-pixels scores them)")
    p.add_argument("--keep-training-pixels", action="store_true",
                   help="score the pixels the classifier saved beside the map learnt from too (its accuracy on its "
                        "own training labels, which flatters it)")
    p.add_argument("--exclude-field", help="attribute holding the class in a vector --exclude layer (default: "
                                           "--class-field where that layer has it, else guessed; only which pixels "
                                           "it labels matters)")
    p.add_argument("--prompts", help="class file (JSON) for the class names (default: the map's category names)")
    p.add_argument("--out", type=_folder,
                   help="folder for metrics.json, accuracy.md and confusion.png (default: print only)")
    p.add_argument("--overwrite", action="store_true", help="replace those files when --out holds them")

    helptext = "synthesise labelled patches from a model bundle and a prompt"
    p = sub.add_parser("synthesize", help=helptext,
                       description=helptext[0].upper() + helptext[1:] + ": the model_bundle folder an earlier "
                                   "Augment & Classify run saved, a class's stored prompt or a prompt of your own. "
                                   "--out's ending says what is written: .npz, everything (patches, labels, per-pixel "
                                   "class masks, prompts, wavelengths, FWHM); .csv, a spectral library of the "
                                   "patches' centre spectra (one row a patch, one column a band); .tif, the patches "
                                   "side by side as a GeoTIFF with wavelengths and FWHM that QGIS opens, with "
                                   "NAME_classes.tif beside it (each pixel's class).")
    # --bundle is the option's first name, kept so that existing scripts go on working
    p.add_argument("--synthesis-model", "--bundle", dest="synthesis_model", metavar="FOLDER", required=True,
                   help="saved synthesis model: an earlier run's model_bundle folder (--bundle: the same option's "
                        "older name)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--class", dest="class_id", type=int, help="class id whose stored prompt to use")
    g.add_argument("--prompt", type=_prompt, help="free text prompt (label 0 unless --label is given)")
    p.add_argument("--label", type=int, default=0,
                   help="the class id the --prompt patches are labelled with: one of the model's classes, a new "
                        "id for a class the model was not trained on (the patch files then name it by the prompt), "
                        "or 0 (default) for patches of no class")
    p.add_argument("--n", type=_whole(1), default=16, help="number of patches, at least 1 (default 16)")
    p.add_argument("--out", type=_patches_file, required=True,
                   help="file to write: .npz (everything), .csv (spectral library) or .tif (GeoTIFF mosaic)")
    p.add_argument("--attention", action="store_true", help="also store cross-attention maps (in a .npz --out)")
    _sampling_args(p)
    _run_args(p, does="sample", overwrite="replace an existing --out file", preset=False)

    p = sub.add_parser("bench", help="benchmark methods on the datasets available here or on your own labelled scene "
                                      "(writes BENCHMARKS tables)",
                       description="Few-label protocol: each seed draws N labelled pixels per class, every method "
                                   "learns from them, and the other labelled pixels score it (OA, AA, kappa; mean ± "
                                   "std over seeds). Run it on the datasets here, or on a scene of your own with full "
                                   "reference labels (--scene, --truth): e.g. a development scene of your sensor, to "
                                   "choose settings such as --synthetic-weight before classifying scenes that have "
                                   "no reference data. --json and --markdown are checked before anything runs.")
    p.add_argument("--datasets", type=_bench_list("parse_datasets"), default=None,
                   help="comma list of dataset keys, in any case (see 'hypersynth datasets'; default "
                        "salinasA,enmap_potsdam,demo, or none when --scene is given)")
    p.add_argument("--download", action="store_true",
                   help="fetch the files of datasets missing here from their public addresses into the cache "
                        "(checked by sha256); without it they are looked for in $HYPERSYNTH_DATA_DIR and the cache")
    p.add_argument("--scene", help=f"your own hyperspectral raster to benchmark: {SCENE_FORMATS}")
    p.add_argument("--truth", help="reference labels of --scene: a label raster on its grid (0 = unlabelled), a "
                                   "MATLAB ground-truth map or a vector layer; the training labels are drawn from "
                                   "them and the rest test")
    p.add_argument("--prompts", help=f"class file of --scene (JSON: {CLASS_KEYS} per class)")
    p.add_argument("--class-field", help="attribute holding the class in a vector --truth (default: guessed)")
    p.add_argument("--name", help="what --scene is called in the tables (default: its file name)")
    p.add_argument("--labels-per-class", type=_bench_list("parse_counts"), default="2,5",
                   help="comma list of N, each at least 1 (default 2,5)")
    p.add_argument("--seeds", type=_bench_list("parse_seeds"), default="0-4",
                   help="seeds, e.g. 0-4 or 0,3 (default 0-4); each runs once")
    p.add_argument("--methods", type=_bench_list("parse_methods"), default="rf,svm,cnn,augment",
                   help="comma list of methods (default rf,svm,cnn,augment): rf, svm, cnn, cnn-pseudo (Augment & "
                        "Classify's blend without synthesis), dfeat (SVM on the scene diffusion model's features, "
                        "MTMSD-style), dfeat-augment (the same on real + synthetic patches), augment")
    p.add_argument("--splits", type=_bench_list("parse_splits"), default="random,disjoint",
                   help="random and/or disjoint (spatially apart training and test pixels; default both)")
    p.add_argument("--preset", default="fast", choices=["tiny", "fast", "full"], help=PRESET_HELP)
    p.add_argument("--device", default="auto", type=_device, metavar="{auto,cpu,cuda,cuda:N}",
                   help="where to train and predict (default auto: CUDA when available, else the CPU; cuda:N: the "
                        "GPU of index N)")
    _clip_weights_arg(p)
    _pseudo_arg(p)
    _blend_args(p)
    p.add_argument("--merge", nargs="+", metavar="JSON",
                   help="instead of running: merge the runs of earlier --json files into one set of tables")
    p.add_argument("--json", help="write the result rows as JSON here (rewritten after every run, so a stopped "
                                  "benchmark keeps what it measured)")
    p.add_argument("--markdown", help="write the Markdown tables here (rewritten after every run)")
    p.add_argument("--overwrite", action="store_true", help="replace existing --json and --markdown files")
    p.add_argument("--quiet", action="store_true", help="no progress bars; one line per finished run instead")

    helptext = "write a sensor product (EnMAP, EMIT, PRISMA) or any scene as a GeoTIFF that QGIS shows with wavelengths"
    p = sub.add_parser("import-scene", help=helptext, description=IMPORT_DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scene", required=True, metavar="PRODUCT",
                   help="the product's file (EnMAP ...-SPECTRAL_IMAGE.TIF or ...-METADATA.XML, EMIT .nc, PRISMA "
                        ".he5, its .zip or EnMAP's order .tar.gz; one of several in an order as "
                        "ORDER.tar.gz/PRODUCT_NAME) or any scene HyperSynth reads")
    p.add_argument("--out", type=_tif_file, required=True, metavar="GEOTIFF", help="the file to write, e.g. scene.tif")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file (never the --scene file)")
    p.add_argument("--keep-flagged-pixels", action="store_true",
                   help="keep the pixels the product's quality masks flag as cloud, cloud shadow or cirrus (by "
                        "default they are written as no-data)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    helptext = "list the benchmark datasets and whether they are available here"
    sub.add_parser("datasets", help=helptext,
                   description=helptext[0].upper() + helptext[1:] + " (in $HYPERSYNTH_DATA_DIR or the download "
                               "cache); 'bench --datasets' takes their keys.")
    for command in sub.choices.values():  # -v after the command too; SUPPRESS keeps one given before it
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    return parser


def _settings(args: argparse.Namespace) -> "MethodSettings":
    """The run's settings from its options; a command without an option gets the engine's default."""
    from .methods import MethodSettings

    return MethodSettings(preset=getattr(args, "preset", "fast"), seed=getattr(args, "seed", 0),
                          device=args.device,
                          patch_size=getattr(args, "patch_size", None),
                          synthetic_per_class=getattr(args, "synthetic_per_class", None),
                          balance_rate=getattr(args, "balance_rate", 0.5),
                          synthetic_weight=getattr(args, "synthetic_weight", MethodSettings.synthetic_weight),
                          forest_inputs=getattr(args, "forest_inputs", MethodSettings.forest_inputs),
                          share_rule=getattr(args, "share_rule", MethodSettings.share_rule),
                          cv_synthesis=getattr(args, "cv_synthesis", MethodSettings.cv_synthesis),
                          guidance=getattr(args, "guidance", None),
                          steps=getattr(args, "steps", None), anchor_strength=getattr(args, "anchor_strength", 0.5),
                          pseudo_labels=getattr(args, "pseudo_labels", None),
                          pseudo_labeller=getattr(args, "pseudo_labeller", MethodSettings.pseudo_labeller),
                          pseudo_rule=getattr(args, "pseudo_rule", MethodSettings.pseudo_rule),
                          spatial_smoothing=getattr(args, "spatial_smoothing", None),
                          diffusion_features=getattr(args, "diffusion_features", MethodSettings.diffusion_features),
                          clip_weights=getattr(args, "clip_weights", None))


def _print_outputs(outputs: "ClassificationOutputs") -> None:
    """What a finished run wrote, a file a line, for the analyst and for a script that chains commands (stdout);
    an earlier run's files it replaced (overwrite) are said on stderr."""
    print(f"classified map: {outputs.class_map}")
    print(f"confidence:     {outputs.confidence}")
    if outputs.probabilities:
        print(f"probabilities:  {outputs.probabilities}")
    print(f"report:         {outputs.report}")
    if outputs.bundle:
        print(f"model bundle:   {outputs.bundle}")
    if outputs.classifier:  # what `classify --classifier` takes (classify writes none)
        print(f"classifier:     {outputs.classifier}")
    if outputs.synthetic_patches:
        from .io.patch_files import companion_files

        print(f"synthetic:      {outputs.synthetic_patches}")
        for beside in companion_files(outputs.synthetic_patches)[:1]:  # a mosaic's class raster
            if beside.exists():
                print(f"their classes:  {beside}")
    if outputs.metrics:
        m = outputs.metrics
        print(f"accuracy:       OA {m['oa'] * 100:.2f} %  AA {m['aa'] * 100:.2f} %  kappa {m['kappa']:.4f} "
              f"({m['n_test']} validation pixels)")
    if outputs.replaced:  # --overwrite: the costly bundles among them, say, go without a word otherwise
        print(f"replaced the earlier run's {', '.join(outputs.replaced)} in {outputs.class_map.parent}",
              file=sys.stderr)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (2 for a usage error, which argparse has printed)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): a status to return, not to raise in-process
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    args.argv = argv  # the bench tables quote the command
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    reporter = TerminalReporter(quiet=getattr(args, "quiet", False))
    previous = _stop_on_sigterm()
    try:
        return _dispatch(args, reporter)
    except Cancelled:
        print("cancelled: nothing was written", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated: nothing was written", file=sys.stderr)
        return 143
    except FileExistsError as exc:
        print(f"error: {_with_overwrite_option(exc)}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, MemoryError) as exc:  # the GPU or the computer out of memory: what to do, no traceback
        from .memory import out_of_memory_message

        message = out_of_memory_message(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1
    finally:
        reporter.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class Terminated(BaseException):
    """SIGTERM (a batch system's stop, ``kill``): unwinds like Ctrl+C, so staging folders are removed."""


def _stop_on_sigterm() -> Any:
    """Make SIGTERM raise :class:`Terminated` while a command runs; returns the handler to restore (None when
    this is not the main thread, where Python cannot set one)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum: int, frame: Any) -> None:
        raise Terminated()

    return signal.signal(signal.SIGTERM, stop)


def _with_overwrite_option(exc: FileExistsError) -> str:
    """The engine's refusal to replace an output, worded for the command line: the engine's own message names
    its Python argument (``overwrite=True``, "allow overwriting"); here it is --overwrite."""
    text = str(exc)
    if "overwrit" not in text or "--overwrite" in text:
        return text  # not a refusal to replace (e.g. a file where a folder belongs), or worded here already
    what = re.split(r";|\s\(", text, maxsplit=1)[0]  # "X already holds a, b" / "X already exists"
    return f"{what}; pass --overwrite to replace it, or choose another --out"


def _check_demo_out(out: Path, overwrite: bool) -> None:
    """Refuse an out folder holding an earlier demo (its scene files or results) unless ``overwrite``, before the
    demo writes its scene there."""
    from .outputs import earlier_outputs
    from .pipeline import ALL_OUTPUTS

    if overwrite or not out.is_dir():
        return
    held = earlier_outputs(out, ALL_OUTPUTS) + [f"scene/{p.name}" for p in sorted((out / "scene").glob("demo_*"))]
    if held:
        more = f" and {len(held) - 4} more" if len(held) > 4 else ""
        raise FileExistsError(f"{out} already holds an earlier demo ({', '.join(held[:4])}{more}); pass "
                              "--overwrite to replace it, or choose another --out")


@contextmanager
def _text_tower_checked(settings: "MethodSettings", method: str, reused: bool) -> Iterator[None]:
    """Around a run: first refuse --clip-weights where it cannot be used and, when the run will train a synthesis
    model without CLIP weights, say so at once, not after minutes of training; then, while the run goes, keep the
    engine's own warning of it off the terminal (it would come again after minutes). A filter on the terminal's
    handlers, not on the engine's logger, so the run's report, which collects from that logger, still lists it."""
    from .ldm.text_encoder import MISSING_WEIGHTS

    if not _say_missing_clip_weights(settings, method, reused):
        yield
        return

    class SaidAlready(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return not (record.name == "hypersynth" and record.getMessage().startswith(MISSING_WEIGHTS))

    installed = [(handler, SaidAlready()) for handler in logging.getLogger().handlers]
    for handler, said in installed:
        handler.addFilter(said)
    try:
        yield
    finally:
        for handler, said in installed:
            handler.removeFilter(said)


def _say_missing_clip_weights(settings: "MethodSettings", method: str, reused: bool) -> bool:
    """Refuse --clip-weights where the run cannot use it; warn when the run will train a synthesis model whose text
    tower could take CLIP weights and none were given or found. Returns whether it warned."""
    from .methods import needs_synthesis_model

    if reused and settings.clip_weights:
        raise ValueError("--clip-weights is for training a synthesis model; --synthesis-model reuses one, whose "
                         "text tower is saved in it: leave one of them out")
    if reused or not needs_synthesis_model(method, settings):
        if settings.clip_weights:
            raise ValueError(f"--clip-weights is for runs that train a synthesis model (Augment & Classify); "
                             f"--method {method} trains none: leave --clip-weights out")
        return False
    from .ldm.config import preset
    from .ldm.text_encoder import takes_clip_weights

    text = preset(settings.preset).text
    if not takes_clip_weights(text):  # a small test tower: CLIP's weights do not fit it
        if settings.clip_weights:
            raise ValueError(f"--clip-weights is for --preset fast or full: the {settings.preset} preset's text tower "
                             "is a small one that cannot take CLIP ViT-B-32 weights; leave --clip-weights out")
        return False
    if settings.clip_weights:
        return False
    from .device import check_device
    from .ldm.text_encoder import MISSING_WEIGHTS, TextEncoder

    check_device(settings.device)  # a GPU that is not here is the first thing to say (the engine checks it first)
    found, looked = TextEncoder.find_cached_weights(text.model)  # the engine's own look-up (a cache look-up only)
    if found is not None:
        return False
    instead = ("a small text tower of its own, trained with the diffusion model" if text.fallback == "compact"
               else "a randomly initialised text tower")
    logging.getLogger("hypersynth").warning(
        MISSING_WEIGHTS + "%s text-tower weights found (looked for %s; nothing is downloaded): the synthesis model "
        "will use %s, so the prompts carry no prior language knowledge. Give --clip-weights FILE (%s) or put the "
        "checkpoint in the Hugging Face cache to use the pretrained tower.", text.model, looked, instead, CLIP_FILES)
    return True


def _dispatch(args: argparse.Namespace, reporter: TerminalReporter) -> int:
    from . import pipeline
    from .outputs import claim_output_folder

    if args.command == "demo":
        from .demo import write_demo
        from .device import check_device

        out = Path(args.out)
        settings = _settings(args)  # refuses bad settings before the scene is written
        check_device(settings.device)  # so does classify_scene, but only after the scene is written
        with _text_tower_checked(settings, args.method, reused=False), \
                claim_output_folder(out, "the demo"):  # from the check until the map is in (classify_scene nests)
            _check_demo_out(out, args.overwrite)
            scene_was_there = (out / "scene").exists()
            try:
                files = write_demo(out / "scene", seed=args.seed, n_per_class=args.labels_per_class,
                                   overwrite=args.overwrite)
                outputs = pipeline.classify_scene(files.scene, files.labels, out, method=args.method,
                                                  classes_path=files.classes_json,
                                                  validation_path=files.ground_truth, settings=settings,
                                                  reporter=reporter, overwrite=args.overwrite)
            except BaseException:  # cancelled (Ctrl+C) or failed: a scene this run wrote goes with it
                if not scene_was_there:
                    shutil.rmtree(out / "scene", ignore_errors=True)
                raise
        reporter.close()
        _print_outputs(outputs)
        return 0
    if args.command in ("augment-classify", "baseline"):
        method = "augment" if args.command == "augment-classify" else args.method
        settings = _settings(args)
        reused = getattr(args, "synthesis_model", None) is not None
        with _text_tower_checked(settings, method, reused), \
                claim_output_folder(Path(args.out), f"{args.command} of {Path(args.scene).name}"):  # the COG too
            outputs = pipeline.classify_scene(args.scene, args.labels, args.out, method=method,
                                              classes_path=args.prompts, class_field=args.class_field,
                                              validation_path=args.validation,
                                              validation_field=args.validation_field, settings=settings,
                                              bundle_path=getattr(args, "synthesis_model", None),
                                              reporter=reporter, overwrite=args.overwrite,
                                              probabilities=args.probabilities, training_area=args.training_area,
                                              synthetic_patches=getattr(args, "synthetic_patches", None))
            reporter.close()
            _print_outputs(outputs)
            if args.cog:
                from .io.write import export_cog

                cog = export_cog(outputs.class_map, outputs.class_map.with_name(pipeline.COG_MAP),
                                 overwrite=args.overwrite)
                print(f"COG:            {cog}")
        return 0
    if args.command == "classify":  # the engine checks --classifier (check_model_folder) and --device first
        outputs = pipeline.classify_with_model(args.classifier, args.scene, args.out, validation_path=args.validation,
                                               class_field=args.class_field, device=args.device,
                                               reporter=reporter, overwrite=args.overwrite,
                                               probabilities=args.probabilities)
        reporter.close()
        _print_outputs(outputs)
        return 0
    if args.command == "assess":
        from .evaluation.assess import ACCURACY_FILES, assess_map

        ev = assess_map(args.map, args.validation, class_field=args.class_field, classes_path=args.prompts,
                        out_dir=args.out, overwrite=args.overwrite, exclude_path=args.exclude,
                        exclude_field=args.exclude_field, training_beside=not args.keep_training_pixels)
        print(ev.to_markdown(), end="")
        if args.out:
            print(f"\nwritten: {', '.join(str(Path(args.out) / name) for name in ACCURACY_FILES)}")
        return 0
    if args.command == "synthesize":  # the engine checks --out, --synthesis-model and --device first
        path = pipeline.synthesize_to_file(args.synthesis_model, args.out, class_id=args.class_id, prompt=args.prompt,
                                           label=args.label, n=args.n, settings=_settings(args),
                                           attention=args.attention, reporter=reporter, overwrite=args.overwrite)
        reporter.close()
        from .io.patch_files import companion_files

        print(f"synthetic patches: {path}")
        for beside in companion_files(path)[:1]:  # the mosaic's class raster (its style is QGIS's business)
            if beside.exists():  # not for patches of label 0 (no class)
                print(f"their classes:     {beside}")
        return 0
    if args.command == "bench":
        from .bench import run_bench_cli

        return run_bench_cli(args, reporter)
    if args.command == "import-scene":
        from .io.convert import import_scene
        from .io.products import product_facts

        facts = product_facts(args.scene)  # read once: what the product is, for the import and the line below
        path = import_scene(args.scene, args.out, overwrite=args.overwrite,
                            quality_masks=not args.keep_flagged_pixels, facts=facts, reporter=reporter)
        reporter.close()
        print(f"imported {f'the {facts.kind} product' if facts else 'the scene'} {args.scene}\n"
              f"GeoTIFF: {path}")
        return 0
    if args.command == "datasets":
        from .datasets import available_datasets, list_datasets, search_dirs

        here = set(available_datasets())
        print(f"{'dataset':18s} {'here':9s}  {'--download':10s}  description")
        for spec in list_datasets():
            needed = [f for f in spec.files if f.required]
            fetchable = "-" if spec.key in here or not needed else "yes" if all(f.urls for f in needed) else "no"
            print(f"{spec.key:18s} {'available' if spec.key in here else 'missing':9s}  {fetchable:10s}  "
                  f"{spec.title}")
        print(f"\nLooked in {', '.join(str(d) for d in search_dirs())}, each laid out as <dataset>/<file>; set "
              "HYPERSYNTH_DATA_DIR to your folder of them (make bench uses ../shared/data beside the checkout). "
              "'bench --download' fetches the missing ones marked yes.")
        return 0
    raise AssertionError(args.command)
