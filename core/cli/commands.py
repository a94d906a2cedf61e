"""Running a command: `main` parses the options, runs the engine and turns its refusals into one-line errors."""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, ContextManager, Iterator, Optional, Sequence

from ..progress import Cancelled
from .option_values import CLIP_FILES
from .parser import build_parser
from .terminal import TerminalReporter

if TYPE_CHECKING:
    from ..methods import MethodSettings
    from ..pipeline import ClassificationOutputs


def _settings(args: argparse.Namespace) -> "MethodSettings":
    """The run's settings from its options; a command without an option gets the engine's default."""
    from ..methods import MethodSettings

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


def _finish_run(outputs: "ClassificationOutputs", args: argparse.Namespace) -> None:
    """What a finished run wrote, on stdout (:func:`_print_outputs`, or with --json :func:`run_summary`'s object),
    after the --cog copy of its map where asked."""
    try:
        cog = _write_cog(outputs, args.overwrite) if getattr(args, "cog", False) else None  # before what it replaced
    except BaseException:  # the run is in place: where it went, before what stopped the copy
        if not getattr(args, "json", False):
            _print_outputs(outputs)
        raise
    if not getattr(args, "json", False):
        _print_outputs(outputs)
        if cog is not None:
            print(f"COG:            {cog}")
        return
    _accuracy_note(outputs)
    print(json.dumps(run_summary(outputs, cog), indent=2, allow_nan=False))


def run_summary(outputs: "ClassificationOutputs", cog: Optional[Path] = None) -> dict[str, Any]:
    """A finished run as one JSON object (``--json``): its files' paths (null where the run wrote none), the
    accuracy against validation labels (fractions, as in metrics.json), its classes, and what it replaced."""
    from .. import pipeline
    from ..io.patch_files import companion_files

    folder = outputs.class_map.parent
    html, metrics_file = outputs.report.with_name(pipeline.REPORT_HTML), folder / pipeline.METRICS
    patch_classes = [b for b in companion_files(outputs.synthetic_patches)[:1] if b.exists()] \
        if outputs.synthetic_patches else []  # a mosaic's class raster
    m = outputs.metrics
    replaced, removed = _replaced_and_removed(outputs)
    files = {"class_map": outputs.class_map, "confidence": outputs.confidence, "probabilities": outputs.probabilities,
             "report": outputs.report, "report_html": html if html.exists() else None,
             "metrics": metrics_file if m else None, "synthesis_model": outputs.bundle,
             "classifier": outputs.classifier, "synthetic_patches": outputs.synthetic_patches,
             "synthetic_patch_classes": patch_classes[0] if patch_classes else None, "cog": cog}
    return {**{key: str(value) if value else None for key, value in files.items()},
            "accuracy": {"oa": m["oa"], "aa": m["aa"], "kappa": m["kappa"], "validation_pixels": int(m["n_test"])}
            if m else None,
            "classes": [{"id": c.id, "name": c.name} for c in outputs.classes],
            "replaced": replaced, "removed": removed}


def _replaced_and_removed(outputs: "ClassificationOutputs") -> tuple[list[str], list[str]]:
    """The earlier run's outputs a rerun with --overwrite replaced (the run wrote them again) and removed (it wrote
    none of them)."""
    folder = outputs.class_map.parent
    replaced = [name for name in outputs.replaced if (folder / name).exists()]
    return replaced, [name for name in outputs.replaced if name not in replaced]


def _accuracy_note(outputs: "ClassificationOutputs") -> None:
    """On stderr, how far few validation pixels carry the OA (stdout keeps its form for scripts)."""
    if outputs.metrics:
        from ..evaluation.metrics import few_pixels_note, sampled_oa

        if sampled_oa(outputs.metrics):  # a sample: the area-adjusted OA's interval says how far it carries
            return
        note = few_pixels_note(outputs.metrics["oa"], int(outputs.metrics["n_test"]))
        if note:
            print(f"note: {note}", file=sys.stderr)


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
        from ..io.patch_files import companion_files

        print(f"synthetic:      {outputs.synthetic_patches}")
        for beside in companion_files(outputs.synthetic_patches)[:1]:  # a mosaic's class raster
            if beside.exists():
                print(f"their classes:  {beside}")
    if outputs.metrics:
        m = outputs.metrics
        from ..evaluation.metrics import sampled_oa

        kappa = "–" if m["kappa"] is None else f"{m['kappa']:.4f}"  # none where one class alone is validated
        sampled = sampled_oa(m)  # a stratified random sample: its estimate of the map leads
        if sampled:
            print(f"area-adjusted:  {sampled} (the validation points are a stratified random "
                  "sample: the estimate of the map's accuracy; below, the points' own)")
        print(f"accuracy:       OA {m['oa'] * 100:.2f} %  AA {m['aa'] * 100:.2f} %  kappa {kappa} "
              f"({m['n_test']} validation pixels)")  # its form kept for scripts
        _accuracy_note(outputs)
    if outputs.replaced:  # --overwrite: the costly bundles among them, say, go without a word otherwise
        now, gone = _replaced_and_removed(outputs)
        said = ([f"replaced {', '.join(now)}"] if now else []) + (
            [f"removed {', '.join(gone)} (this run writes none)"] if gone else [])
        print(f"in {outputs.class_map.parent}, of what was there before: {'; '.join(said)}", file=sys.stderr)


def _set_aside(folder: Path) -> Optional[Path]:
    """Move ``folder`` (when it is there) into a hidden folder beside it, which is returned: the caller puts it back
    (``os.replace(aside / folder.name, folder)``) or removes it."""
    if not folder.exists():
        return None
    aside = Path(tempfile.mkdtemp(prefix=f".{folder.name}-before-", dir=folder.parent))
    os.replace(folder, aside / folder.name)
    return aside


def _logging_above_the_bar(reporter: TerminalReporter) -> ContextManager[Any]:
    """On a terminal with progress bars, log lines written above the bar (tqdm's write), not glued to its end."""
    if reporter.quiet or not sys.stderr.isatty():
        return nullcontext()
    from tqdm.contrib.logging import logging_redirect_tqdm

    return logging_redirect_tqdm()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (2 for a usage error, which argparse has printed)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    writes_any_text()  # κ, ±, − on a console or a redirect that cannot encode them: never a crash after the work
    try:
        args = _parse(build_parser(), argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): a status to return, not to raise in-process
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    args.argv = argv  # the bench tables quote the command
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    reporter = TerminalReporter(quiet=getattr(args, "quiet", False))
    previous = _stop_on_sigterm()
    try:
        with _logging_above_the_bar(reporter):
            return _dispatch(args, reporter)
    except Cancelled:
        print("cancelled: nothing was written", file=sys.stderr)
        return 130
    except KeyboardInterrupt as stop:
        print(f"interrupted: {getattr(stop, 'kept', 'nothing was written')}", file=sys.stderr)
        return 130
    except Terminated as stop:
        print(f"terminated: {getattr(stop, 'kept', 'nothing was written')}", file=sys.stderr)
        return 143
    except BrokenPipeError:  # `hypersynth assess … | head -1`: the reader had enough; quiet, as other tools are
        _drop_stdout()
        return 141  # 128 + SIGPIPE, as the shell reports a command stopped by a closed pipe
    except FileExistsError as exc:
        print(f"error: {_with_overwrite_option(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 (a full disk, said in a library's own error type too; others re-raised)
        from ..memory import disk_full_message

        full = disk_full_message(exc, getattr(args, "out", None))
        if full is not None:
            print(f"error: {full}", file=sys.stderr)
            return 2
        if isinstance(exc, (ValueError, FileNotFoundError, OSError)):
            if getattr(args, "verbose", False):  # a library's own ValueError may be a bug: where it came from
                traceback.print_exc()
            print(f"error: {exc}", file=sys.stderr)
            return 2
        from ..memory import out_of_memory_message  # the GPU or the computer out of memory: what to do, no traceback

        message = out_of_memory_message(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1
    finally:
        reporter.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """``parser.parse_args``, but an option the command has not is refused with that command's usage line, which
    lists what it takes (argparse refuses it with the top-level usage, which does not)."""
    args, extra = parser.parse_known_args(argv)
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    command = commands.choices[args.command]
    if extra:
        options = [name for action in command._actions for name in action.option_strings]  # noqa: SLF001
        said = []
        for word in extra:  # a typo gets the nearest option's name (argparse of Python < 3.14 suggests none)
            near = difflib.get_close_matches(word.split("=")[0], options, n=1, cutoff=0.7) if word[:1] == "-" else []
            said.append(f"{word} (did you mean {near[0]}?)" if near else word)
        command.error(f"unrecognized arguments: {' '.join(said)}")
    _refuse_empty_values(command, args)
    return args


# what an empty option value is asked to be, by its metavar (others: a file, a field name, a name)
EMPTY_WHAT = {"FOLDER": "a folder", "POINTS": "a file name", "GEOTIFF": "a file name", "FIELD": "a field name"}


def _refuse_empty_values(command: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """An empty value of an option without a type of its own (``--validation ""``, a script's unset variable) is
    refused with the ``command``'s usage; it went on as the folder '.' or a nameless file (review)."""
    for action in command._actions:  # noqa: SLF001
        if action.option_strings and action.type is None and action.nargs is None and not action.choices \
                and getattr(args, action.dest, None) == "":  # choices: argparse refuses "" itself
            what = EMPTY_WHAT.get(str(action.metavar)) or (
                "a field name" if action.dest.endswith("_field") else "a name" if action.dest == "name" else "a file")
            command.error(f"argument {'/'.join(action.option_strings)}: is empty; give {what}"
                          + ("" if action.required else ", or leave the option out"))


def _write_cog(outputs: Any, overwrite: bool) -> Path:
    """The --cog copy of a run's class map beside it: its path."""
    from .. import pipeline
    from ..io.write import export_cog

    return export_cog(outputs.class_map, outputs.class_map.with_name(pipeline.COG_MAP), overwrite=overwrite)


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so Python's flush at exit does not meet the closed pipe again (Python's docs'
    advice for SIGPIPE)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout (a test's capture): nothing to flush into a pipe
        pass


def writes_any_text() -> None:
    """Let stdout and stderr write what their encoding cannot (a Windows console or a cp1252 redirect and κ, −):
    κ becomes kappa, − a hyphen, and so on (:func:`.terminal.plain_text`), anything else a ?; a UTF-8 terminal is
    untouched."""
    from .terminal import PLAIN_ERRORS

    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if encoding and encoding != "utf8" and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors=PLAIN_ERRORS)
            except (ValueError, OSError):  # a stream that cannot be reconfigured now: left as it is
                pass


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
    # an output folder holding saved models: --overwrite removes those this run does not write again (review: a
    # classify into a training run's folder deleted its bundles, said only after)
    models = sorted(set(re.findall(r"\b\w*_bundle\b", what))) if "replaced or removed" in text else []
    if not models:
        return f"{what}; pass --overwrite to replace it, or choose another --out"
    them = "them" if len(models) > 1 else "it"
    return (f"{what}; --overwrite replaces them or, where this run writes no such file, removes them: the saved "
            f"model{'s' if len(models) > 1 else ''} {' and '.join(models)} among them, what a run learnt (copy "
            f"{them} elsewhere first if you need {them}); or choose another --out")


def _check_demo_out(out: Path, overwrite: bool) -> None:
    """Refuse an out folder holding an earlier demo (its scene files or results) unless ``overwrite``, before the
    demo writes its scene there."""
    from ..outputs import earlier_outputs
    from ..pipeline import ALL_OUTPUTS

    if overwrite or not out.is_dir():
        return
    held = earlier_outputs(out, ALL_OUTPUTS) + [f"scene/{p.name}" for p in sorted((out / "scene").glob("demo_*"))]
    if held:
        more = f" and {len(held) - 4} more" if len(held) > 4 else ""
        raise FileExistsError(f"{out} already holds files a demo writes ({', '.join(held[:4])}{more}: an earlier "
                              "run's, or yours by those names); pass --overwrite to replace them, or choose another "
                              "--out")


@contextmanager
def _leave_out_option(given: bool = True) -> Iterator[None]:
    """A refusal of the bands to leave out found once the scene is read (a band it lacks, none left usable), said as
    the option's where it was ``given``, else as those of the saved model's training run."""
    from ..io.band_choice import BandChoiceError

    try:
        yield
    except BandChoiceError as exc:
        raise ValueError(f"--leave-out-bands: {exc}" if given else
                         f"the bands the saved model's training run was told to leave out: {exc}") from None


@contextmanager
def _text_tower_checked(settings: "MethodSettings", method: str, reused: bool) -> Iterator[None]:
    """Around a run: first refuse --clip-weights where it cannot be used and, when the run will train a synthesis
    model without CLIP weights, say so at once, not after minutes of training; then, while the run goes, keep the
    engine's own warning of it off the terminal (it would come again after minutes). A filter on the terminal's
    handlers, not on the engine's logger, so the run's report, which collects from that logger, still lists it.
    Enter it once the output folder is checked, so that a refusal of the folder is not preceded by the note."""
    from ..ldm.text_encoder import MISSING_WEIGHTS

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
    from ..methods import needs_synthesis_model

    if reused and settings.clip_weights:
        raise ValueError("--clip-weights is for training a synthesis model; --synthesis-model reuses one, whose "
                         "text tower is saved in it: leave one of them out")
    if reused or not needs_synthesis_model(method, settings):
        if settings.clip_weights:
            raise ValueError(f"--clip-weights is for runs that train a synthesis model (Augment & Classify); "
                             f"--method {method} trains none: leave --clip-weights out")
        return False
    from ..ldm.config import preset
    from ..ldm.text_encoder import takes_clip_weights

    text = preset(settings.preset).text
    if not takes_clip_weights(text):  # a small test tower: CLIP's weights do not fit it
        if settings.clip_weights:
            raise ValueError(f"--clip-weights is for --preset fast or full: the {settings.preset} preset's text tower "
                             "is a small one that cannot take CLIP ViT-B-32 weights; leave --clip-weights out")
        return False
    if settings.clip_weights:
        return False
    from ..device import check_device
    from ..ldm.text_encoder import MISSING_WEIGHTS, TextEncoder

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


# demo's options that only Augment & Classify reads (its synthesis and its blend): a baseline dropped them unsaid
# (--clip-weights is refused with its own reason: _text_tower_checked)
AUGMENT_ONLY = ("--synthetic-per-class", "--balance-rate", "--anchor-strength", "--synthetic-weight",
                "--guidance", "--steps", "--forest-inputs", "--share-rule", "--cv-synthesis", "--pseudo-labels",
                "--pseudo-labeller", "--pseudo-rule", "--spatial-smoothing", "--diffusion-features",
                "--no-diffusion-features")
# an option that does nothing without another one: (command, option, the one it needs)
NEEDS = (("augment-classify", "--validation-field", "--validation"), ("baseline", "--validation-field", "--validation"),
         ("classify", "--validation-field", "--validation"), ("classify", "--class-field", "--validation"),
         ("assess", "--exclude-field", "--exclude"))


def _given(args: argparse.Namespace, option: str) -> bool:
    """Whether ``option`` was typed (not left at its default): prefixes are refused, so its name as typed."""
    return any(word == option or word.startswith(option + "=") for word in getattr(args, "argv", []))


def _refuse_unused_options(args: argparse.Namespace) -> None:
    """Refuse an option the command would not use, which it accepted and dropped without a word (review)."""
    if args.command == "demo" and args.method != "augment":
        unused = [o for o in (*AUGMENT_ONLY, *(("--patch-size",) if args.method in ("rf", "svm") else ()))
                  if _given(args, o)]
        if unused:
            also = " (and --patch-size to the cnn baseline)" if "--patch-size" in unused else ""
            raise ValueError(f"{', '.join(unused)} {'applies' if len(unused) == 1 else 'apply'} to Augment & "
                             f"Classify (--method augment){also}; the {args.method} baseline does not use "
                             f"{'it' if len(unused) == 1 else 'them'}: leave {'it' if len(unused) == 1 else 'them'} "
                             "out")
    for command, option, needed in NEEDS:
        if args.command == command and _given(args, option) and not _given(args, needed):
            raise ValueError(f"{option} names the class field of {needed}'s labels, and no {needed} was given: "
                             f"give {needed}, or leave out {option}")


def _dispatch(args: argparse.Namespace, reporter: TerminalReporter) -> int:
    from .. import pipeline
    from ..outputs import claim_output_folder

    _refuse_unused_options(args)
    if args.command == "demo":
        from ..demo import write_demo
        from ..device import check_device

        out = Path(args.out)
        settings = _settings(args)  # refuses bad settings before the scene is written
        check_device(settings.device)  # so does classify_scene, but only after the scene is written
        with claim_output_folder(out, "the demo"):  # from the check until the map is in (classify_scene nests)
            _check_demo_out(out, args.overwrite)  # before the note on the text tower, which may follow
            earlier = _set_aside(out / "scene")  # an earlier demo's scene, back in place if this run stops
            try:
                with _text_tower_checked(settings, args.method, reused=False):
                    files = write_demo(out / "scene", seed=args.seed, n_per_class=args.labels_per_class,
                                       overwrite=args.overwrite)
                    outputs = pipeline.classify_scene(files.scene, files.labels, out, method=args.method,
                                                      classes_path=files.classes_json,
                                                      validation_path=files.ground_truth, settings=settings,
                                                      reporter=reporter, overwrite=args.overwrite)
            except BaseException:  # cancelled (Ctrl+C) or failed: the scene this run wrote goes, the earlier is back
                shutil.rmtree(out / "scene", ignore_errors=True)
                if earlier is not None:
                    os.replace(earlier / "scene", out / "scene")
                    shutil.rmtree(earlier, ignore_errors=True)
                raise
            if earlier is not None:
                shutil.rmtree(earlier, ignore_errors=True)
        reporter.close()
        _finish_run(outputs, args)
        return 0
    if args.command in ("augment-classify", "baseline"):
        method = "augment" if args.command == "augment-classify" else args.method
        settings = _settings(args)
        bundle = getattr(args, "synthesis_model", None)
        reused = bundle is not None
        with claim_output_folder(Path(args.out), f"{args.command} of {Path(args.scene).name}"):  # the COG too
            pipeline.check_run_folder(Path(args.out), pipeline.run_inputs(args.scene, args.labels, args.prompts,
                                                                          args.validation, bundle),
                                      args.overwrite, bundle)  # before the note on the text tower, which may follow
            with _text_tower_checked(settings, method, reused), _leave_out_option(args.leave_out_bands is not None):
                outputs = pipeline.classify_scene(args.scene, args.labels, args.out, method=method,
                                                  classes_path=args.prompts, class_field=args.class_field,
                                                  validation_path=args.validation,
                                                  validation_field=args.validation_field, settings=settings,
                                                  bundle_path=bundle, reporter=reporter, overwrite=args.overwrite,
                                                  probabilities=args.probabilities, training_area=args.training_area,
                                                  synthetic_patches=getattr(args, "synthetic_patches", None),
                                                  leave_out_bands=args.leave_out_bands)
            reporter.close()
            _finish_run(outputs, args)
        return 0
    if args.command == "classify":  # the engine checks --classifier (check_model_folder) and --device first
        with _leave_out_option(args.leave_out_bands is not None):
            outputs = pipeline.classify_with_model(args.classifier, args.scene, args.out,
                                                   validation_path=args.validation, class_field=args.class_field,
                                                   device=args.device, reporter=reporter, overwrite=args.overwrite,
                                                   probabilities=args.probabilities,
                                                   leave_out_bands=args.leave_out_bands,
                                                   accept_other_units=args.accept_other_units,
                                                   other_units_option="give --accept-other-units")
        reporter.close()
        _finish_run(outputs, args)
        return 0
    if args.command == "assess":
        from ..evaluation.assess import ACCURACY_FILES, assess_map

        ev = assess_map(args.map, args.validation, class_field=args.class_field, classes_path=args.prompts,
                        out_dir=args.out, overwrite=args.overwrite, exclude_path=args.exclude,
                        exclude_field=args.exclude_field, training_beside=not args.keep_training_pixels,
                        reporter=reporter)
        reporter.close()
        print(ev.to_markdown(), end="")
        if ev.training_pixels == "unknown":  # a map of another tool, or moved away from its run's folder
            print("\nNote: which pixels the map's classifier learnt from is not known (no classifier_bundle folder "
                  "beside the map says): validation pixels among them were scored, which flatters the map; give "
                  "its training labels as --exclude to leave them out", file=sys.stderr)
        if args.out:
            print(f"\nwritten: {', '.join(str(Path(args.out) / name) for name in ACCURACY_FILES)}")
        return 0
    if args.command == "sample-validation":
        from ..evaluation.sampling import sample_validation

        if args.min_per_class is not None and args.total is None and args.target_error is None:
            raise ValueError("--min-per-class applies to --total or --target-error, which share the points by area; "
                             "with --per-class (or neither) every class gets the same number")
        if args.expected_accuracy is not None and args.target_error is None:
            raise ValueError("--expected-accuracy sizes the sample for --target-error; give --target-error too, "
                             "or leave it out")
        given = {key: value for key, value in (("min_per_class", args.min_per_class),
                                               ("expected_accuracy", args.expected_accuracy)) if value is not None}
        design = sample_validation(args.map, args.out, seed=args.seed, per_class=args.per_class, total=args.total,
                                   target_error=args.target_error, overwrite=args.overwrite, reporter=reporter,
                                   **given)  # the rest: the engine's defaults, which the help gives
        reporter.close()
        for note in design.notes:
            print(f"note: {note}", file=sys.stderr)
        from ..evaluation.sampling import design_file

        if args.json:
            facts = design.to_dict()
            print(json.dumps({"points": str(args.out), "design": str(design_file(args.out)),
                              **{key: facts[key] for key in ("sample_sizes", "class_pixels", "class_names", "seed",
                                                             "allocation", "notes")}}))
            return 0
        print(f"drew {design.describe()}\nvalidation points: {args.out}\ntheir design:      {design_file(args.out)}\n"
              "Label each point's class_id by what is on the ground, not by the map, then run "
              f"hypersynth assess --map {args.map} --validation {args.out}")
        return 0
    if args.command == "synthesize":  # the engine checks --out, --synthesis-model and --device first
        if args.class_id is not None and args.label:  # it was dropped without a word
            raise ValueError("--label names the class of --prompt's patches; --class N's patches are of class N: "
                             "leave out --label (or give --prompt with --label)")
        if args.anchor_strength < 1 and args.prompt is not None and not args.label:  # said with the options' names
            raise ValueError("--anchor-strength below 1 starts the patches from labelled patches of their class, and "
                             "--prompt's patches are of no class without --label: add --label N (one of the model's "
                             "classes), use --class N, or leave out --anchor-strength")
        path = pipeline.synthesize_to_file(args.synthesis_model, args.out, class_id=args.class_id, prompt=args.prompt,
                                           label=args.label, n=args.n, settings=_settings(args),
                                           attention=args.attention, reporter=reporter, overwrite=args.overwrite,
                                           anchor_strength=args.anchor_strength)
        reporter.close()
        from ..io.patch_files import companion_files

        print(f"synthetic patches: {path}")
        for beside in companion_files(path)[:1]:  # the mosaic's class raster (its style is QGIS's business)
            if beside.exists():  # not for patches of label 0 (no class)
                print(f"their classes:     {beside}")
        return 0
    if args.command == "bench":
        from ..bench import run_bench_cli

        return run_bench_cli(args, reporter)
    if args.command == "import-scene":
        from ..io.convert import bands_flagged_at_import, import_scene
        from ..io.products import product_facts

        facts = product_facts(args.scene)  # read once: what the product is, for the import and the line below
        with _leave_out_option():
            path = import_scene(args.scene, args.out, overwrite=args.overwrite,
                                quality_masks=not args.keep_flagged_pixels, leave_out_bands=args.leave_out_bands,
                                facts=facts, reporter=reporter)
        reporter.close()
        print(f"imported {f'the {facts.kind} product' if facts else 'the scene'} {args.scene}\n"
              f"GeoTIFF: {path}")
        flagged = bands_flagged_at_import(path)
        if flagged:
            print(f"flagged bad: {flagged}")  # every band the GeoTIFF flags, the scene's own too
        from ..io.band_metadata import read_band_facts

        facts_written = read_band_facts(path)
        if facts_written is not None and facts_written.wavelengths is None:  # a .mat cube names no wavelength
            print("wavelengths: none in the source, so the bands are numbered only (composites and a classifier "
                  "saved from it go by band numbers)")
        return 0
    if args.command == "draw-labels":
        from ..label_draw import DEFAULT_PATCH_SIDE, draw_labels_from_files

        if args.share is not None and args.labels_per_class is not None:
            raise ValueError("give --labels-per-class or --share, not both: N labels a class, or a share of each")
        if args.patch_size is not None and args.split == "random":
            raise ValueError("--patch-size sets how far the disjoint and no-overlap splits keep validation pixels "
                             "from the labels; the random split keeps none apart: give --split disjoint (or "
                             "no-overlap), or leave out --patch-size")
        per_class = 5 if args.labels_per_class is None else args.labels_per_class
        draw = draw_labels_from_files(args.scene, args.truth, args.out, labels_per_class=per_class,
                                      seed=args.seed, split=args.split,
                                      patch_side=DEFAULT_PATCH_SIDE if args.patch_size is None else args.patch_size,
                                      validation=args.validation_out, classes_path=args.prompts,
                                      class_field=args.class_field, share=args.share, overwrite=args.overwrite,
                                      reporter=reporter)
        reporter.close()
        for warning in draw.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(draw.summary(), file=sys.stderr)
        print(f"training labels: {draw.points}\nclasses:         {draw.class_file}")
        if draw.validation is not None:
            print(f"validation:      {draw.validation}")
        return 0
    if args.command == "bands":
        from .bands import run_bands

        return run_bands(args, reporter)
    if args.command == "datasets":
        from ..datasets import available_datasets, list_datasets, search_dirs
        from ..datasets.fetch import DATA_DIR_ENV

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
        given = os.environ.get(DATA_DIR_ENV)
        if given and not Path(given).expanduser().is_dir():  # a typo there read as "every dataset missing"
            print(f"warning: {DATA_DIR_ENV} is {given}, which is not a folder; check the path", file=sys.stderr)
        return 0
    raise AssertionError(args.command)
