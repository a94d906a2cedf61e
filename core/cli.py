"""The command line: `python -m hypersynth …` (or `bin/hypersynth …`) drives the same engine as the plugin."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from .progress import Cancelled, Reporter

EPILOG = """examples:
  hypersynth demo                                   # embedded demo scene -> out/demo/
  hypersynth augment-classify --scene cube.tif --labels labels.gpkg --prompts classes.json --out results/
  hypersynth classify --model results/classifier_bundle --scene other_cube.tif --out results_other/
  hypersynth synthesize --bundle results/model_bundle --class 3 --n 16 --out patches.npz
  hypersynth bench --datasets salinasA,enmap_potsdam,demo --labels-per-class 2,5 --seeds 0-4 \\
      --methods rf,svm,cnn,augment --preset fast --json bench.json
"""


class TerminalReporter(Reporter):
    """A tqdm progress bar per stage on stderr; Ctrl+C cancels cleanly."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._bar = None
        self._stage = ""

    def progress(self, fraction: float, stage: str) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(total=1000, file=sys.stderr, bar_format="{l_bar}{bar}| {elapsed}<{remaining}")
        if stage != self._stage:
            self._stage = stage
            self._bar.set_description(stage[:28].ljust(28))
        self._bar.n = int(1000 * min(max(fraction, 0.0), 1.0))
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _common_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="fast", choices=["tiny", "fast", "full"],
                   help="model size: tiny (seconds, for tests), fast (minutes on a laptop CPU), full (GPU)")
    p.add_argument("--seed", type=int, default=0, help="seed for every random choice (default 0)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to train (auto: CUDA when available)")
    p.add_argument("--overwrite", action="store_true", help="replace outputs already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _synthesis_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--patch-size", type=int,
                   help="patch side in pixels (default: read from the scene's spatial homogeneity, at most the preset's)")
    p.add_argument("--synthetic-per-class", type=int, help="synthetic patches for an average class")
    p.add_argument("--balance-rate", type=float, default=0.5, help="λ: 0 equal per class, 1 rare classes get most (default 0.5)")
    p.add_argument("--guidance", type=float, help="classifier-free guidance ω (default: the preset's)")
    p.add_argument("--steps", type=int, help="DDIM sampling steps (default: the preset's)")
    p.add_argument("--anchor-strength", type=float, default=0.5,
                   help="synthesis starts from real labelled patches noised this far: 0.3-0.6 = variations of "
                        "them, 1 = from pure noise (default 0.5)")
    _pseudo_arg(p)


def _blend_args(p: argparse.ArgumentParser) -> None:
    from .classify.base import CV_SYNTHESIS, SHARE_RULES
    from .methods import MethodSettings  # numpy only: --help stays fast

    p.add_argument("--synthetic-weight", type=float, default=MethodSettings.synthetic_weight,
                   help="how much all synthetic patches together count in the classifier's training, relative to "
                        "your labels (default 0.5; 1 = as much as your labels). In the benchmarks they add most "
                        "with 2 labels per class on a hard scene and cost a little where the labels alone already "
                        "classify well (BENCHMARKS section 4, session 14)")
    p.add_argument("--forest-inputs", default=MethodSettings.forest_inputs,
                   help="what the blend's random forest splits on: spectrum+shape+slope (default: the spectrum, its "
                        "brightness-free shape and its band-to-band slope) or spectrum (the design before session 16, "
                        "for comparison; the rf baseline always uses the spectrum)")
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

    p.add_argument("--pseudo-labels", type=int,
                   help="confident unlabelled pixels added per class to Augment & Classify and its no-synthesis "
                        "blend (default: none; picked from 2-5 labels per class they cost accuracy, BENCHMARKS "
                        "section 4, session 13; 40 was the fast preset's before)")
    p.add_argument("--pseudo-labeller", choices=PSEUDO_LABELLERS, default=MethodSettings.pseudo_labeller,
                   help="who picks the pseudo-labels: blend (default) the CNN, forest and diffusion-feature SVM at "
                        "the shares cross-validation on your labels chose, so the members your labels trust pick "
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
                        "chosen by cross-validation on your labels (off by default since session 18: that "
                        "cross-validation overrates it, the model having learnt your labels with their prompts; "
                        "BENCHMARKS section 4). Its features cost about as much per pixel as the CNN")


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
    if value < 0:
        raise argparse.ArgumentTypeError(f"the smoothing width must be 0 or positive; got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hypersynth", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Classify a hyperspectral scene from a handful of labels: text-prompted synthetic "
                    "training patches (latent diffusion) + a spectral-spatial classifier.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="run Augment & Classify on the embedded demo scene",
                       description="Writes the procedural demo scene (GeoTIFF + sparse labels + prompts) and "
                                   "classifies it; the full ground truth is used for the accuracy report.")
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--method", default="augment", choices=["rf", "svm", "cnn", "augment"])
    p.add_argument("--labels-per-class", type=int, default=5, help="sparse labels drawn per class (default 5)")
    _common_run_args(p)
    _synthesis_args(p)
    _blend_args(p)

    for name, helptext in (("augment-classify", "synthesise labelled patches from prompts and classify the scene"),
                           ("baseline", "classify with a spectral baseline (random forest or SVM)")):
        p = sub.add_parser(name, help=helptext, description=helptext)
        p.add_argument("--scene", required=True, help="hyperspectral raster: GeoTIFF, ENVI (.hdr/.img) or MATLAB .mat")
        p.add_argument("--labels", required=True, help="labels: vector (GeoPackage/Shapefile/GeoJSON), label raster or MATLAB ground-truth map")
        p.add_argument("--prompts", help="class file (JSON: id, name, colour, prompt per class)")
        p.add_argument("--class-field", help="attribute holding the class in a vector label layer (default: guessed)")
        p.add_argument("--validation", help="independent validation labels for the accuracy report")
        p.add_argument("--out", required=True, help="output folder")
        p.add_argument("--cog", action="store_true", help="also write the class map as a Cloud-Optimised GeoTIFF")
        if name == "augment-classify":
            p.add_argument("--bundle", help="reuse a synthesis model bundle instead of training one")
            _synthesis_args(p)
            _blend_args(p)
        else:
            p.add_argument("--method", default="rf", choices=["rf", "svm", "cnn"])
        _common_run_args(p)

    p = sub.add_parser("classify", help="classify a scene with a saved classifier bundle (no labels needed)")
    p.add_argument("--model", required=True, help="classifier bundle folder (an Augment & Classify output's classifier_bundle)")
    p.add_argument("--scene", required=True, help="hyperspectral raster of the same sensor / band set")
    p.add_argument("--validation", help="validation labels for an accuracy report")
    p.add_argument("--class-field", help="attribute holding the class in a vector validation layer")
    p.add_argument("--out", required=True, help="output folder")
    _common_run_args(p)

    p = sub.add_parser("synthesize", help="synthesise labelled patches from a model bundle and a prompt")
    p.add_argument("--bundle", required=True, help="synthesis model bundle folder")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--class", dest="class_id", type=int, help="class id whose stored prompt to use")
    g.add_argument("--prompt", help="free text prompt (label 0 unless --label is given)")
    p.add_argument("--label", type=int, default=0, help="label id for --prompt samples")
    p.add_argument("--n", type=int, default=16, help="number of patches")
    p.add_argument("--out", required=True, help=".npz file with patches, labels, masks, prompts")
    p.add_argument("--attention", action="store_true", help="also store cross-attention maps")
    _common_run_args(p)
    _synthesis_args(p)

    p = sub.add_parser("bench", help="benchmark methods on the datasets available here or on your own labelled scene "
                                      "(writes BENCHMARKS tables)",
                       description="Few-label protocol: each seed draws N labelled pixels per class, every method "
                                   "learns from them, and the other labelled pixels score it (OA, AA, kappa; mean ± "
                                   "std over seeds). Run it on the datasets here, or on a scene of your own with full "
                                   "reference labels (--scene, --truth): e.g. a development scene of your sensor, to "
                                   "choose settings such as --synthetic-weight before classifying scenes that have "
                                   "no reference data.")
    p.add_argument("--datasets", default=None,
                   help="comma list of dataset keys (see 'hypersynth datasets'; default salinasA,enmap_potsdam,demo, "
                        "or none when --scene is given)")
    p.add_argument("--scene", help="your own hyperspectral raster to benchmark (GeoTIFF, ENVI .hdr/.img or MATLAB .mat)")
    p.add_argument("--truth", help="reference labels of --scene: a label raster on its grid (0 = unlabelled), a "
                                   "MATLAB ground-truth map or a vector layer; the training labels are drawn from "
                                   "them and the rest test")
    p.add_argument("--prompts", help="class file of --scene (JSON: id, name, colour, prompt per class)")
    p.add_argument("--class-field", help="attribute holding the class in a vector --truth (default: guessed)")
    p.add_argument("--name", help="what --scene is called in the tables (default: its file name)")
    p.add_argument("--labels-per-class", default="2,5", help="comma list of N (default 2,5)")
    p.add_argument("--seeds", default="0-4", help="seeds, e.g. 0-4 or 0,3 (default 0-4)")
    p.add_argument("--methods", default="rf,svm,cnn,augment",
                   help="comma list of rf, svm, cnn, cnn-pseudo (Augment & Classify's blend without synthesis; "
                        "the name is historical), "
                        "dfeat (SVM on the scene diffusion model's features, MTMSD-style), dfeat-augment (the same on real + "
                        "synthetic patches), augment")
    p.add_argument("--splits", default="random,disjoint", help="random and/or disjoint (default both)")
    p.add_argument("--preset", default="fast", choices=["tiny", "fast", "full"])
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    _pseudo_arg(p)
    _blend_args(p)
    p.add_argument("--merge", nargs="+", metavar="JSON",
                   help="instead of running: merge the runs of earlier --json files into one set of tables")
    p.add_argument("--json", help="write the result rows as JSON here")
    p.add_argument("--markdown", help="write the Markdown tables here")
    p.add_argument("--quiet", action="store_true")

    sub.add_parser("datasets", help="list the benchmark datasets and whether they are available here")
    return parser


def _settings(args: argparse.Namespace):
    from .methods import MethodSettings

    return MethodSettings(preset=args.preset, seed=args.seed, device=args.device,
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
                          diffusion_features=getattr(args, "diffusion_features", MethodSettings.diffusion_features))


def _print_outputs(outputs) -> None:
    print(f"classified map: {outputs.class_map}")
    print(f"confidence:     {outputs.confidence}")
    print(f"report:         {outputs.report}")
    if outputs.bundle:
        print(f"model bundle:   {outputs.bundle}")
    if outputs.metrics:
        m = outputs.metrics
        print(f"accuracy:       OA {m['oa'] * 100:.2f} %  AA {m['aa'] * 100:.2f} %  kappa {m['kappa']:.4f} "
              f"({m['n_test']} validation pixels)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    reporter = TerminalReporter(quiet=getattr(args, "quiet", False))
    try:
        return _dispatch(args, reporter)
    except Cancelled:
        print("cancelled: nothing was written", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130
    except (ValueError, FileExistsError, FileNotFoundError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        reporter.close()


def _dispatch(args: argparse.Namespace, reporter: TerminalReporter) -> int:
    from . import pipeline

    if args.command == "demo":
        from .demo import write_demo

        out = Path(args.out)
        files = write_demo(out / "scene", seed=args.seed, n_per_class=args.labels_per_class, overwrite=True)
        outputs = pipeline.classify_scene(files.scene, files.labels, out, method=args.method,
                                          classes_path=files.classes_json, validation_path=files.ground_truth,
                                          settings=_settings(args), reporter=reporter, overwrite=True)
        reporter.close()
        _print_outputs(outputs)
        return 0
    if args.command in ("augment-classify", "baseline"):
        method = "augment" if args.command == "augment-classify" else args.method
        outputs = pipeline.classify_scene(args.scene, args.labels, args.out, method=method,
                                          classes_path=args.prompts, class_field=args.class_field,
                                          validation_path=args.validation,
                                          bundle_path=getattr(args, "bundle", None), settings=_settings(args),
                                          reporter=reporter, overwrite=args.overwrite)
        reporter.close()
        _print_outputs(outputs)
        if args.cog:
            from .io.write import export_cog

            cog = export_cog(outputs.class_map, outputs.class_map.with_name("classification_cog.tif"),
                             overwrite=args.overwrite)
            print(f"COG:            {cog}")
        return 0
    if args.command == "classify":
        outputs = pipeline.classify_with_model(args.model, args.scene, args.out, validation_path=args.validation,
                                               class_field=args.class_field, device=args.device,
                                               reporter=reporter, overwrite=args.overwrite)
        reporter.close()
        _print_outputs(outputs)
        return 0
    if args.command == "synthesize":
        path = pipeline.synthesize_to_file(args.bundle, args.out, class_id=args.class_id, prompt=args.prompt,
                                           label=args.label, n=args.n, settings=_settings(args),
                                           attention=args.attention, reporter=reporter, overwrite=args.overwrite)
        reporter.close()
        print(f"synthetic patches: {path}")
        return 0
    if args.command == "bench":
        from .bench import run_bench_cli

        return run_bench_cli(args, reporter)
    if args.command == "datasets":
        from .datasets import available_datasets, list_datasets

        here = set(available_datasets())
        for spec in list_datasets():
            print(f"{spec.key:18s} {'available' if spec.key in here else 'missing  '}  {spec.title}")
        return 0
    raise AssertionError(args.command)
