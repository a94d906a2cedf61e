"""The commands and their options: `build_parser` and the help text `hypersynth --help` prints."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any, Optional, Sequence

from .option_values import (CLIP_FILES, _accuracies, _bands_to_leave_out, _bench_list, _clip_weights_file, _device,
                            _folder, _number, _patches_file, _prompt, _share, _smoothing_width, _tif_file, _whole)

HELP_WIDTH = 100  # the width of the help's own paragraphs (argparse wraps the options to the terminal)
EPILOG = """examples:
  hypersynth demo                                   # embedded demo scene -> out/demo/ (again: --overwrite)
  hypersynth import-scene --scene PRS_L2D_STD_20200524103704_20200524103708_0001.he5 --out prisma.tif
  hypersynth augment-classify --scene cube.tif --labels labels.gpkg --prompts classes.json --out results/
  hypersynth classify --classifier results/classifier_bundle --scene other_cube.tif --out results_other/
  hypersynth synthesize --synthesis-model results/model_bundle --class 3 --n 16 --out patches.npz
  hypersynth augment-classify --synthesis-model results/model_bundle --scene cube2.tif --labels labels2.gpkg \\
      --prompts classes.json --out results2/    # reuses the synthesis model instead of training one
  hypersynth draw-labels --scene cube.tif --truth reference.tif --labels-per-class 5 --seed 0 --out train.gpkg
  hypersynth sample-validation --map results/classification.tif --out validation.gpkg   # then label the points
  hypersynth assess --map results/classification.tif --validation validation.gpkg --out results/accuracy/
  hypersynth bench --datasets salinasA,enmap_potsdam,demo --labels-per-class 2,5 --seeds 0-4 \\
      --methods rf,svm,cnn,augment --preset fast --json bench.json

exit status: 0 done; 2 a usage error or a refused input (the message says what to fix; a full disk
too; -v adds where it was raised, for a bug report); 1 out of memory (or a bug, with its traceback);
130 Ctrl+C; 141 stdout closed (| head);
143 SIGTERM; 3 bench ran, but datasets named with --datasets were not available. Nothing
half-written in any case; a stopped bench keeps its finished runs.
"""


DRAW_DESCRIPTION = """\
Draws N training labels per class from a scene's reference labels (a benchmark's ground
truth, field reference polygons) with a seed, exactly as 'bench' draws them: the same
scene, reference and seed give bench's training pixels, so a row of a benchmark table can
be run again by hand, looked at in QGIS, or run with other settings. Writes them as points
at the pixel centres (fields class_id and class) and the classes beside them as
NAME_classes.json (names, colours and prompts), which augment-classify takes as --labels
and --prompts; --validation-out writes the reference pixels left over as validation labels.

examples:
  hypersynth draw-labels --scene Indian_pines_corrected.mat --truth Indian_pines_gt.mat \\
      --labels-per-class 5 --seed 0 --out ip_5.shp --validation-out ip_5_validation.tif
  hypersynth augment-classify --scene Indian_pines_corrected.mat --labels ip_5.shp \\
      --prompts ip_5_classes.json --validation ip_5_validation.tif --out ip_5_run/
"""

SAMPLE_DESCRIPTION = """\
Draws validation points from a classified map at random, stratified by its classes: the
design under which the area-adjusted accuracy and class areas that 'assess' reports hold
(Olofsson et al. 2014). Writes the points at pixel centres, in random order, with an empty
class_id field and a point_id; label each by what is on the ground (field visits, finer
imagery), not by looking at the map. NAME.design.json beside them records the map and
the draw, and 'assess' reads it: on this map its figures hold; on another map of the same
grid (another method's) it estimates with this map's classes as strata (Stehman 2014), so
one labelled sample compares several maps. Points left unlabelled are left out; points
moved from their pixel unmake the sample (assess names them). On a map without
georeference the points are in pixel coordinates as QGIS shows such a raster: x = column
+ 0.5, y = -(row + 0.5) (GDAL's own tools count y downwards there).

examples:
  hypersynth sample-validation --map results/classification.tif --out check.gpkg
  hypersynth sample-validation --map results/classification.tif --total 600 --min-per-class 50 --out check.gpkg
  hypersynth sample-validation --map results/classification.tif --target-error 0.01 \\
      --expected-accuracy 0.85 --out check.gpkg
  (label the points in QGIS, then)
  hypersynth assess --map results/classification.tif --validation check.gpkg --out results/accuracy/
  hypersynth assess --map rf_run/classification.tif --validation check.gpkg   # the same points, another map
"""

RUN_OUTPUTS = ("writes into --out: classification.tif (+ .qml style), confidence.tif (band 1 the winning class's "
               "probability, band 2 the uncertainty), report.md and report.html (with its figures), run_classes.json, "
               "classifier_bundle/ (for classify){synthesis}, and with --validation metrics.json; "
               "--probabilities{extra} add their files.")
RUN_EPILOG = """\
{outputs}

the class file (--prompts), a JSON object with a list of classes:
  {{"classes": [{{"id": 1, "name": "water", "colour": "#1f77b4", "prompt": "calm open water"}},
               {{"id": 2, "name": "asphalt road", "prompt": "dark asphalt road"}}]}}
  (colour and prompt may be left out: a palette colour, and the class name as the prompt)

example:
  hypersynth {name} --scene cube.tif --labels labels.gpkg --prompts classes.json \\
      --validation validation.gpkg --out results/{method}
"""

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

Noisy bands: a cube whose file flags none of its bad bands (an uncorrected AVIRIS cube's
water-vapour windows, a detector's noisy edge) gets them flagged with --leave-out-bands, by
number (1 = the first band) or wavelength. They are written with their values and flagged
bad (bbl 0), so QGIS still shows them and every HyperSynth run on the GeoTIFF leaves them out.
Which to name, the data suggest: the import warns of bands with next to no light, mostly
noise or one value throughout, with the --leave-out-bands text (hypersynth bands lists them).

examples:
  hypersynth import-scene --scene EMIT_L2A_RFL_001_20230801T180000_2321312_004.nc --out emit.tif
  hypersynth import-scene --scene salinasA.mat --out salinasA.tif --leave-out-bands 108-112,154-167,224
"""
CLASS_KEYS = "id, name, colour (or color), prompt"  # a class file entry's keys (io.classes.ALLOWED_KEYS)
PRESET_HELP = ("model size: tiny (under a minute on a small scene, for tests), fast (default, minutes on a laptop CPU) "
               "or full (for a GPU)")


def _run_args(p: argparse.ArgumentParser, *, does: str, overwrite: str, preset: bool = True,
              seed: bool = True, networks_only: str = "") -> None:
    """The options every running command shares; ``does`` says what the device is used for, ``overwrite`` what
    --overwrite replaces. ``preset``/``seed``: only for commands that train or draw random numbers;
    ``networks_only``: said after --preset and --device where only some methods train a network."""
    from ..bench_inputs import SEED_MAX  # numpy only: --help stays fast

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


def _json_arg(p: argparse.ArgumentParser) -> None:
    """--json, for the commands that classify a scene (core.cli.commands.run_summary says what it holds)."""
    p.add_argument("--json", action="store_true",
                   help="print what the run wrote as one JSON object on stdout instead of a line per file: the "
                        "paths (null where not written), the accuracy against validation labels, the classes, and "
                        "the earlier run's files replaced or removed")


def _sampling_args(p: argparse.ArgumentParser) -> None:
    """How the diffusion model samples: used wherever patches are synthesised."""
    p.add_argument("--guidance", type=_number(0.0),
                   help="classifier-free guidance ω, at least 0: 0 ignores the prompt, 1 follows it, more follows "
                        "it more strongly (default: the model's preset's, 3 for fast and full, 2 for tiny)")
    p.add_argument("--steps", type=_whole(1), help="DDIM sampling steps, at least 1 (default: the model's preset's, "
                                                   "20 for fast, 50 for full, 4 for tiny)")


def _synthesis_args(p: argparse.ArgumentParser) -> None:
    """Training on a scene with synthetic patches (demo, augment-classify)."""
    p.add_argument("--patch-size", type=_whole(3, note=" (leave --patch-size out to choose it from the scene)"),
                   help="patch side in pixels, at least 3 (default: chosen from the scene's spatial homogeneity, at "
                        "most the preset's)")
    p.add_argument("--synthetic-per-class", type=_whole(1),
                   help="synthetic patches for an average class, at least 1 (default: the preset's, 60 for fast, "
                        "300 for full, 8 for tiny)")
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
    from ..classify.base import CV_SYNTHESIS, FOREST_INPUT_NAMES, SHARE_RULES
    from ..methods import MethodSettings  # numpy only: --help stays fast

    p.add_argument("--synthetic-weight", type=_number(0.0, 10.0, low_open=True),
                   default=MethodSettings.synthetic_weight,
                   help="in (0, 10]: how much all synthetic patches together count in the classifier's training, "
                        "relative to your labels (default 0.5; 1 = as much as your labels). In the benchmarks they "
                        "helped most with 2 labels per class on a hard scene and cost a little where the labels alone "
                        "already classified well. Without synthesis: `hypersynth baseline` (rf, svm or cnn), or "
                        "this blend in `bench --methods cnn-pseudo`")
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
    from ..methods import PSEUDO_LABELLERS, MethodSettings  # numpy only: --help stays fast
    from ..pseudo_labels import PSEUDO_RULES

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
        from ..version import ENGINE_VERSION, code_revision

        revision = code_revision()
        print(f"hypersynth {ENGINE_VERSION}" + (f" (code {revision})" if revision else ""))
        parser.exit()


def _run_leave_out_arg(p: argparse.ArgumentParser, who: str, saved: bool = False) -> None:
    """--leave-out-bands of a run: bands it leaves out besides those the scene's file flags bad (import-scene's
    flags them in a copy instead); ``saved``: a saved classifier's run, which by default leaves out what its training
    run was told to."""
    p.add_argument("--leave-out-bands", type=_bands_to_leave_out, metavar="BANDS",
                   help=f"bands {who} leaves out besides those the scene flags bad (noisy bands the file does not "
                        f"flag): numbers (1 = the first band), ranges of them and wavelength ranges, separated by "
                        f"commas, e.g. 108-112,154-167,224 or 1340-1450nm,1790-1960nm; the scene's file is not "
                        f"changed (import-scene --leave-out-bands writes a copy that flags them)"
                        + ("; default: those the classifier's training run was told to leave out, where the scene "
                           "has as many bands as its scene had" if saved else ""))


def build_parser() -> argparse.ArgumentParser:
    from ..bench_inputs import SEED_MAX
    from ..training_area import TRAINING_AREAS

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
    _json_arg(p)
    _synthesis_args(p)
    _blend_args(p)

    for name, helptext in (("augment-classify", "synthesise labelled patches from prompts and classify the scene"),
                           ("baseline", "classify with a baseline trained on your labels alone: random forest, SVM "
                                        "or CNN (no synthesis)")):
        augment = name == "augment-classify"
        p = sub.add_parser(name, help=helptext, formatter_class=argparse.RawDescriptionHelpFormatter,
                           description=textwrap.fill(helptext[0].upper() + helptext[1:] + (
                               "." if augment else ". rf and svm learn from the labelled pixels' spectra alone, so "
                               "a GeoTIFF or ENVI scene is then read a tile at a time, never whole: it may be larger "
                               "than memory."), HELP_WIDTH),
                           epilog=RUN_EPILOG.format(
                               name=name, method="" if augment else " --method svm",
                               outputs=textwrap.fill(RUN_OUTPUTS.format(
                                   synthesis=", model_bundle/ (the synthesis model), attention.png and attention.npz"
                                   if augment else "",
                                   extra=", --cog and --synthetic-patches" if augment else " and --cog"),
                                   HELP_WIDTH)))
        p.add_argument("--scene", required=True, help=f"hyperspectral raster: {SCENE_FORMATS}")
        p.add_argument("--labels", required=True, help="labels: vector (GeoPackage/Shapefile/GeoJSON; one layer of "
                       "a GeoPackage of several as QGIS names it, 'labels.gpkg|layername=points'), label raster or "
                       "MATLAB ground-truth map")
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
        _run_leave_out_arg(p, "the run")
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
        _json_arg(p)

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
                   help=f"hyperspectral raster of the same sensor and band set (its bands matched by wavelength "
                        f"where it flags fewer bad than the training scene): {SCENE_FORMATS}")
    p.add_argument("--validation", help="validation labels for an accuracy report")
    # the validation layer's field: --validation-field as in augment-classify and baseline, or --class-field
    p.add_argument("--validation-field", "--class-field", dest="class_field", metavar="FIELD",
                   help="attribute holding the class in a vector --validation layer (default: guessed; "
                        "--class-field: the same option's other name)")
    p.add_argument("--out", type=_folder, required=True, help="output folder (created when missing)")
    p.add_argument("--cog", action="store_true", help="also write the class map as a Cloud-Optimised GeoTIFF")
    p.add_argument("--accept-other-units", action="store_true",
                   help="map a scene whose values are 1000 times those the classifier learnt from or more (or a "
                        "thousandth or less: other units, e.g. reflectance 0-10 000 against 0-1), or 30 times with "
                        "its bright values 30 times too (percent reflectance), which is refused otherwise since its "
                        "map would be wrong")
    _run_leave_out_arg(p, "the run", saved=True)
    _run_args(p, does="predict", overwrite="replace an earlier run's outputs in --out", preset=False, seed=False)
    _json_arg(p)

    helptext = "compare any classified map with validation labels (accuracy and class areas)"
    p = sub.add_parser("assess", help=helptext,
                       description=helptext[0].upper() + helptext[1:] + ": OA, AA, kappa, each class's producer's "
                                   "and user's accuracy and F1, and the area-adjusted accuracy and class areas "
                                   "with 95 % confidence intervals (Olofsson et al. 2014; they hold when the "
                                   "validation pixels are a random sample of the map, as sample-validation draws). "
                                   "Any tool's map will do.")
    p.add_argument("--map", required=True, help="the classified map: a one-band raster of class ids")
    p.add_argument("--validation", required=True,
                   help="validation labels: vector (GeoPackage/Shapefile/GeoJSON; 'file.gpkg|layername=NAME' for "
                   "one layer of several) or a label raster on the map's grid")
    p.add_argument("--validation-field", "--class-field", dest="class_field", metavar="FIELD",
                   help="attribute holding the class in a vector --validation layer (default: guessed; "
                        "--class-field: the same option's other name)")
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
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    helptext = "draw validation points from a classified map, stratified by its classes, for you to label"
    p = sub.add_parser("sample-validation", help=helptext, description=SAMPLE_DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--map", required=True, help="the classified map: a one-band raster of class ids (0 and no data "
                                                "are unclassified, never drawn)")
    p.add_argument("--out", required=True, metavar="POINTS",
                   help="the points to write: .gpkg, .shp or .fgb (.shp or .fgb for a map without georeference); "
                        "NAME.design.json is written beside it")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--per-class", type=_whole(2), metavar="N",
                      help="N points on every map class (default 50, the least Olofsson et al. 2014 advise)")
    size.add_argument("--total", type=_whole(1), metavar="N",
                      help="N points in all, shared by mapped area, each class given at least --min-per-class")
    size.add_argument("--target-error", type=_number(0, 1, low_open=True), metavar="SE",
                      help="about as many points as give the overall accuracy this standard error (0.01: one "
                           "percentage point), given --expected-accuracy (Olofsson et al. 2014, eq. 13), shared by "
                           "area as --total shares them; a note gives the error that sharing reaches")
    p.add_argument("--min-per-class", type=_whole(2), metavar="N",  # None: 50, and told apart from given
                   help="with --total or --target-error: the least points on any map class, at least 2 (default 50)")
    p.add_argument("--expected-accuracy", type=_accuracies, metavar="U",  # None: 0.8, and told apart from given
                   help="with --target-error: the user's accuracy you expect of the map's classes, one fraction for "
                        "all (default 0.8) or per class id, e.g. 1:0.95,4:0.6")
    p.add_argument("--seed", type=_whole(0, SEED_MAX), default=0, help=f"seed of the draw, 0 to {SEED_MAX} "
                                                                       "(default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files (never the map)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object on stdout instead of the lines: points, design (the two files' paths), "
                        "sample_sizes and class_pixels (by map class id), class_names, seed, allocation, notes")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    helptext = "synthesise labelled patches from a model bundle and a prompt"
    p = sub.add_parser("synthesize", help=helptext,
                       description=helptext[0].upper() + helptext[1:] + ": the model_bundle folder an earlier "
                                   "Augment & Classify run saved, a class's stored prompt or a prompt of your own. "
                                   "--out's ending says what is written: .npz, everything (patches, labels, per-pixel "
                                   "class masks, prompts, wavelengths, FWHM); .csv, a spectral library of the "
                                   "patches' centre spectra (one row a patch, one column a band); .tif, the patches "
                                   "side by side as a GeoTIFF with wavelengths and FWHM that QGIS opens, with "
                                   "NAME_classes.tif beside it (each patch's class on its pixels). The patches are "
                                   "sampled from noise with the prompt alone, or with --anchor-strength below 1 "
                                   "from the class's labelled patches kept with the model, as a run starts its "
                                   "training patches from the labelled ones (it also drops those nearer another "
                                   "class); for a class the "
                                   "model learnt, the command says how they compare with its labelled mean spectrum "
                                   "(-v) and warns when they do not look like it.")
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
    p.add_argument("--anchor-strength", type=_number(0.0, 1.0, low_open=True), default=1.0,
                   help="in (0, 1]: below 1 the patches start, as a run's do, from labelled patches of the class "
                        "(the model keeps 4 of each class) noised this far along the diffusion schedule, then "
                        "denoised with the prompt: 0.05 gives near copies of them, 0.5 variations (a run's default); "
                        "1 (default) = from noise with the prompt alone. Needs --class, or --prompt with --label of "
                        "one of the model's classes")
    _run_args(p, does="sample", overwrite="replace an existing --out file", preset=False)

    p = sub.add_parser("bench", help="benchmark methods on the datasets available here or on your own labelled scene "
                                      "(writes BENCHMARKS tables)",
                       description="Few-label protocol: each seed draws N labelled pixels per class (or, with "
                                   "--share, a share of each class's labelled pixels, the papers' protocol), every "
                                   "method learns from them, and the other labelled pixels score it (OA, AA, kappa; "
                                   "mean ± std over seeds). Run it on the datasets here, or on a scene of your own "
                                   "with full reference labels (--scene, --truth): e.g. a development scene of your "
                                   "sensor, to choose settings such as --synthetic-weight before classifying scenes "
                                   "that have no reference data. --json and --markdown are checked before anything "
                                   "runs.")
    p.add_argument("--datasets", type=_bench_list("parse_datasets"), default=None,
                   help="comma list of dataset keys, in any case (see 'hypersynth datasets'; default "
                        "salinasA,enmap_potsdam,demo, or none when --scene is given); those not available here "
                        "are skipped with a note, and a dataset named here but skipped makes the exit status 3")
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
    _run_leave_out_arg(p, "every run on --scene")
    p.add_argument("--labels-per-class", type=_bench_list("parse_counts"), default=None,
                   help="comma list of N, each at least 1 (default 2,5; none when --share is given alone)")
    p.add_argument("--share", type=_bench_list("parse_shares"), metavar="PERCENT",
                   help="comma list of shares of each class's labelled pixels to train on (rounded, at least one), "
                        "e.g. 10%% or 5%%,10%% or 0.1: the protocol of papers that train on 10%% of Indian Pines or "
                        "5%% of Pavia University, drawn as draw-labels --share draws it. Alone it replaces the "
                        "default N; with --labels-per-class both run. A share's rows in --json have "
                        "labels_per_class null and share, the fraction (0.1); its tables read 10 %% where N would "
                        "be. On the disjoint splits nearly every test pixel lies inside a training patch: the run and "
                        "the table say how many are left")
    p.add_argument("--seeds", "--seed", type=_bench_list("parse_seeds"), default="0-4",
                   help="seeds, e.g. 0-4 or 0,3 (default 0-4); each runs once")
    p.add_argument("--methods", type=_bench_list("parse_methods"), default="rf,svm,cnn,augment",
                   help="comma list of methods (default rf,svm,cnn,augment): rf, svm, cnn, cnn-pseudo (Augment & "
                        "Classify's blend without synthesis), dfeat (SVM on the scene diffusion model's features, "
                        "MTMSD-style), dfeat-augment (the same on real + synthetic patches), augment")
    p.add_argument("--splits", type=_bench_list("parse_splits"), default="random,disjoint",
                   help="random, disjoint and/or no-overlap (default random,disjoint). disjoint: no test pixel "
                        "within half a patch side of a training pixel, so none lies inside a training patch (their "
                        "patches may share pixels); no-overlap: none within a whole patch side less one, so no test "
                        "pixel's patch shares a pixel with a training pixel's. A map smoothed at sigma reaches "
                        "3 sigma further: the report's near/far accuracy counts that")
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
                                  "benchmark keeps what it measured): a row per dataset, N, split and method "
                                  "(dataset, labels_per_class, split, method, oa_mean, oa_std, aa_mean, kappa_mean, "
                                  "seconds_mean, seeds, …) and each seed's run; a --share row has labels_per_class "
                                  "null and share, the fraction (0.1 for 10 %%)")
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
    p.add_argument("--leave-out-bands", type=_bands_to_leave_out, metavar="BANDS",
                   help="bands to flag bad: numbers (1 = the first band), ranges of them and wavelength ranges, "
                        "separated by commas, e.g. 108-112,154-167,224 or 1340-1450nm,1790-1960nm")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    helptext = "draw N training labels per class from reference labels, as bench draws them, for a run of your own"
    p = sub.add_parser("draw-labels", help=helptext, description=DRAW_DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scene", required=True, help=f"the scene the labels are for: {SCENE_FORMATS}")
    p.add_argument("--truth", required=True,
                   help="reference labels of --scene: a label raster on its grid (0 = unlabelled), a MATLAB "
                        "ground-truth map or a vector layer with a class field")
    p.add_argument("--prompts", help=f"class file of the reference's classes (JSON: {CLASS_KEYS} per class); their "
                                     "names, colours and prompts go into the class file written beside --out")
    p.add_argument("--class-field", help="attribute holding the class in a vector --truth (default: guessed)")
    p.add_argument("--labels-per-class", type=_whole(1),
                   help="N, training labels drawn per class, at least 1 (default 5); a class with N pixels or "
                        "fewer keeps one to validate on")
    p.add_argument("--share", type=_share, metavar="PERCENT",
                   help="instead of N a class, this share of each class's reference pixels (rounded, at least one), "
                        "e.g. 10%% or 0.1: the protocol of papers that train on 10%% of Indian Pines or 5%% of Pavia "
                        "University, to compare with their figures (--split disjoint keeps their neighbours apart)")
    p.add_argument("--seed", type=_whole(0, SEED_MAX), default=0,
                   help=f"seed of the draw, 0 to {SEED_MAX} (default 0): bench's seed gives bench's pixels")
    p.add_argument("--split", choices=["random", "disjoint", "no-overlap"], default="random",  # SPLIT_KINDS
                   help="random: every other reference pixel validates (default); disjoint: none within "
                        "--patch-size // 2 pixels of a training label, so none lies inside a training patch; "
                        "no-overlap: none within twice that, so no validation pixel's patch shares a pixel with a "
                        "training label's")
    p.add_argument("--patch-size", type=_whole(1),  # None: 9, and told apart from given
                   help="the classifier's patch side the disjoint splits keep validation pixels out of (default 9: "
                        "bench's with the fast and full presets; 8 with tiny)")
    p.add_argument("--out", required=True, metavar="POINTS",
                   help="the training labels to write: .gpkg, .shp or .fgb (.shp or .fgb for a scene without "
                        "georeference); NAME_classes.json is written beside it")
    p.add_argument("--validation-out", metavar="GEOTIFF",
                   help="also write the reference pixels left to validate on as a label raster (.tif)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files (never an input)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    helptext = "list a scene's bands and the ones its data suggest leaving out"
    p = sub.add_parser("bands", help=helptext,
                       description=helptext[0].upper() + helptext[1:] + ": each band's wavelength and FWHM, how the "
                                   "file flags it, its median and noise (from neighbouring pixels' differences, the "
                                   "scene's texture in them: its SNR is a lower bound) over four squares spread over "
                                   "the scene (32,768 pixels and 4 million values at most: 17,424 pixels for 224 "
                                   "bands), and whether it has next to no light (median under 2 %% of the median "
                                   "band's), is mostly noise (SNR under 5 %% of the median band's) or holds one value "
                                   "throughout; then the --leave-out-bands text that leaves those out. Nothing is "
                                   "written.")
    p.add_argument("--scene", required=True, help=f"hyperspectral raster: {SCENE_FORMATS}")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object instead of the table: bands (band, wavelength, fwhm, file, median, "
                        "noise, snr, suggested), pixels_read, leave_out, said")
    p.add_argument("--quiet", action="store_true", help="no progress bar (a sensor product is read whole)")

    helptext = "list the benchmark datasets and whether they are available here"
    sub.add_parser("datasets", help=helptext,
                   description=helptext[0].upper() + helptext[1:] + " (in $HYPERSYNTH_DATA_DIR or the download "
                               "cache); 'bench --datasets' takes their keys.")
    parser.allow_abbrev = False
    for command in sub.choices.values():  # -v after the command too; SUPPRESS keeps one given before it
        # a prefix was taken for the option it starts (augment-classify --class: --class-field), and an option added
        # later could change what an existing script means
        command.allow_abbrev = False
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
        if not any("--quiet" in action.option_strings for action in command._actions):  # a script passes it to all
            command.add_argument("--quiet", action="store_true",
                                 help="no progress bars (this command shows none: taken, so a script may pass it to "
                                      "every command)")
    return parser

