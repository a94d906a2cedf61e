"""Benchmark harness: the few-label protocol over datasets × N (or share) × seeds × splits × methods.

What it writes of the runs (the JSON document and the Markdown tables) is :mod:`.bench_tables`'.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from .methods import (METHODS, MethodSettings, check_text_weights, fit_method, method_title, needs_synthesis_model,
                      preset_patch_size, scene_model)
from .bench_inputs import check_output_files, parse_datasets
from .bench_tables import RunResult, bench_documents, column_amount, merge_bench_files
from .device import CPU_ONLY_METHODS, check_device, note_cpu_only
from .evaluation.protocol import Split
from .progress import NULL_REPORTER, Reporter
from .scene import LabelledScene

log = logging.getLogger("hypersynth")


class NoTestPixel(ValueError):
    """A label draw left no labelled pixel to test on (a share's disjoint split on a small scene): nothing to score."""


DEFAULT_DATASETS = "salinasA,enmap_potsdam,demo"  # what `hypersynth bench` runs when given no dataset or scene
PARTIAL = 3  # bench's exit status when datasets named with --datasets were not available (the others ran)
DEFAULT_LABELS_PER_CLASS = (2, 5)  # the N `hypersynth bench` runs when given neither --labels-per-class nor --share


def load_bench_dataset(key: str, *, allow_download: bool = False) -> LabelledScene:
    """A dataset for benchmarking; 'demo' is the embedded generator with its full ground truth. ``allow_download``:
    fetch missing files from their public addresses into the cache (checked by sha256)."""
    if key == "demo":
        from .demo import make_demo_scene

        return make_demo_scene(seed=0)
    from .datasets import load_dataset

    return load_dataset(key, allow_download=allow_download)


def load_own_scene(scene_path: str | os.PathLike, truth_path: str | os.PathLike, *,
                   classes_path: Optional[str | os.PathLike] = None,
                   class_field: Optional[str] = None, leave_out_bands: Optional[str] = None) -> LabelledScene:
    """An analyst's own scene and its reference labels, benchmarked like the datasets here: each seed draws N
    labels per class from the reference and tests on the rest. A development scene of one's sensor with full
    reference data is where settings such as the synthetic weight can be chosen without touching the scenes
    they will then classify (choosing them on a scene's own test pixels would flatter them). ``leave_out_bands``:
    bands every run leaves out besides those the file flags bad, as a run told so does
    (:func:`.run_checks.leave_out_told`)."""
    from .io.read import read_scene
    from .run_checks import leave_out_told, read_labels_and_classes

    scene = read_scene(scene_path)
    if leave_out_bands is not None:
        leave_out_told(scene, leave_out_bands)
    labels, classes = read_labels_and_classes(truth_path, scene, classes_path, class_field)
    return LabelledScene(scene, labels, classes)


def scene_name_problem(name: str) -> Optional[str]:
    """Why ``name`` cannot name an own scene in the tables (the one reason that applies), or None."""
    from .datasets import list_datasets

    reserved = {"demo"} | {spec.key for spec in list_datasets()}
    if not name:
        return "it is empty"
    if name in reserved:  # salinasA.tif is named salinasA, the key of the dataset
        return (f"it is the key of a dataset HyperSynth benchmarks ({', '.join(sorted(reserved))}), and its rows would "
                "mix with that dataset's when tables are merged")
    if any(ch in name for ch in ",;\n"):
        return "a comma, semicolon or line break would split its rows in the tables"
    return None


def own_scene_name(scene_path: str | os.PathLike, name: Optional[str]) -> str:
    """The name an own scene has in the tables: ``name``, else the scene's own name (its file name without extension,
    as :func:`.io.read.source_name` names a scene: a NetCDF variable's or an order's product's too); refused when it
    is a dataset key here, so its rows never mix with that dataset's when files are merged."""
    from .io.read import source_name

    chosen = (name or source_name(scene_path)).strip()
    why = scene_name_problem(chosen)
    if why:
        taken = "" if name else f" (taken from the scene's file name, {Path(str(scene_path)).name})"
        raise ValueError(f"{chosen!r}{taken} cannot name your scene in the benchmark tables: {why}; choose another "
                         "name (--name on the command line)")
    return chosen


def run_one(data: LabelledScene, dataset: str, n: Optional[int], seed: int, split_kind: str, method: str,
            settings: MethodSettings, reporter: Reporter = NULL_REPORTER,
            models: Optional[dict[tuple, tuple[Any, float]]] = None, *, share: Optional[float] = None
            ) -> list[RunResult]:
    """Train ``method`` on N labels per class (drawn with ``seed``) and test on the other labelled pixels; with
    ``share`` (0.1: 10 %, ``n`` None), on that share of each class's labelled pixels (:func:`bench_split`).

    Raises :class:`NoTestPixel` when the draw leaves no pixel to test on.

    Returns the method's result, then, for a blend, one per member (``"augment:cnn"``, ``"augment:forest"``,
    ``"augment:dfeat"``): the same trained members scored alone, an ablation of the blend at no training cost;
    and ``"augment:blend"``, the blend before spatial smoothing (equal to the method when the labels chose σ = 0).

    ``models``: the scene synthesis model already trained on this label draw, with its training seconds, by
    ``(dataset, N, share, seed, split)``; a method that needs it reuses it (its seconds include the training all the
    same, so each method's time is what it costs alone) and a method that trains one leaves it there.
    """
    from .classify.predict import predict_pixels
    from .evaluation.metrics import evaluate

    scene = data.scene
    cube = scene.usable_cube()
    labels = np.where(scene.valid, data.labels, 0)
    p = preset_patch_size(settings)
    split = bench_split(labels, scene.valid, n, share, seed, split_kind, p)
    notes = list(split.warnings)
    if share is not None and split_kind != "random":
        notes.append(pixels_left_to_test(split))
    if not split.test_mask.any():  # before any training: there is nothing to score it on
        raise NoTestPixel(pixels_left_to_test(split) if split_kind != "random" else
                          "every labelled pixel was drawn for training")
    train_labels = np.where(split.train_mask, labels, 0)
    run_settings = replace(settings, seed=seed)
    model_seconds = 0.0
    if models is not None and needs_synthesis_model(method, settings) and settings.synthesis_model is None:
        key = (dataset, n, share, seed, split_kind)
        if key not in models:
            models.clear()  # one label draw at a time: the previous draw's model is not needed again
            t0 = time.perf_counter()
            model = scene_model(cube, scene.valid, train_labels, data.classes, run_settings,
                                wavelengths=scene.usable_wavelengths(), reporter=reporter.sub(0.0, 0.5))
            models[key] = (model, time.perf_counter() - t0)
        run_settings.synthesis_model, model_seconds = models[key]
    t0 = time.perf_counter()
    fitted = fit_method(method, cube, scene.valid, train_labels, data.classes, run_settings, reporter=reporter)
    rows, cols = np.nonzero(split.test_mask)
    clf = fitted.classifier
    members = getattr(clf, "members", {})
    sigma = float(getattr(clf, "smoothing", 0.0) or 0.0)
    choices: dict[str, float] = {}
    if members or sigma > 0:
        choices = {**({"cnn_weight": float(clf.cnn_weight)} if members else {}),
                   **({"dfeat_weight": float(clf.dfeat_weight)} if "dfeat" in members else {}), "smoothing": sigma}
        # Every valid pixel is predicted (smoothing needs the test pixels' neighbours), each member once;
        # their blend, smoothed, is the method's prediction, the same as predict_scene gives.
        from .classify.spatial import smooth_probabilities

        every = np.nonzero(scene.valid)
        scored_maps = {name: _probability_map(member, cube, scene.valid, every) for name, member in members.items()}
        blended = (clf.blend(**scored_maps) if members else
                   _probability_map(clf, cube, scene.valid, every))  # (K, H, W)
        final = smooth_probabilities(blended, scene.valid, sigma)
        maps = [(method, final)] + [(f"{method}:{name}", m) for name, m in scored_maps.items()]
        if members:
            maps.append((f"{method}:blend", blended))  # the blend before smoothing (σ = 0: the same): what it adds
        scored = [(name, m[:, rows, cols].T) for name, m in maps]  # (n, K) at the test pixels
    else:
        scored = [(method, predict_pixels(clf, cube, rows, cols, batch_size=1024, reporter=NULL_REPORTER,
                                          valid=scene.valid))]
    choice = getattr(clf, "choice", None)
    if choice is not None and choice.cv_synthesis == "choose":  # whether the labels kept the synthetic patches
        choices = {**choices, "learn_synthetic": float(choice.learn_synthetic),
                   **{f"cv_{arm}": score for arm, score in choice.arm_scores.items()}}
    if fitted.pseudo_per_class is not None:  # how many pseudo-labels, over how many classes (0: none were drawn)
        choices = {**choices, "pseudo_labels": float(fitted.pseudo_per_class.sum()),
                   "pseudo_classes": float((fitted.pseudo_per_class > 0).sum())}
    seconds = time.perf_counter() - t0 + model_seconds
    truth = labels[rows, cols]
    results = []
    for name, p_ in scored:
        ev = evaluate(truth, fitted.class_ids[np.argmax(p_, axis=1)], data.classes)
        results.append(RunResult(dataset, n, split_kind, name, seed, ev.oa, ev.aa, ev.kappa, seconds,
                                 int(split.train_mask.sum()), int(len(rows)), choices, notes=list(notes), share=share))
    if members:
        at_test = dict(scored)  # each member's (n, K) probabilities at the test pixels, sliced once above
        results[0].blends = every_blend(clf.choice, {m: at_test[f"{method}:{m}"] for m in members},
                                        truth, fitted.class_ids)
    return results


def bench_split(labels: np.ndarray, valid: np.ndarray, n: Optional[int], share: Optional[float], seed: int,
                kind: str, patch_size: int) -> Split:
    """One label draw of the benchmark: N training pixels per class, or ``share`` of each class's labelled pixels
    (``n`` None), the rest of ``labels`` to test on; the split ``draw-labels`` draws for the same seed and split."""
    from .evaluation.protocol import few_label_split, share_split

    if share is not None:
        return share_split(labels, share, seed, kind=kind, patch_size=patch_size, valid=valid)
    if n is None:
        raise ValueError("a benchmark's label draw needs N labels per class or a share of each class")
    return few_label_split(labels, n, seed, kind=kind, patch_size=patch_size, valid=valid)


def pixels_left_to_test(split: Split) -> str:
    """How many test pixels a disjoint (or no-overlap) split left of the labelled pixels not drawn for training: with a
    share of each class, nearly all of them lie inside a training patch."""
    from .evaluation.protocol import guard_words

    untrained = int(((split.labels > 0) & ~split.train_mask).sum())
    tested = int(split.test_mask.sum())
    return (f"{tested:,} of the {untrained:,} labelled pixels not drawn for training are left to test on; the other "
            f"{untrained - tested:,} lie {'inside' if split.kind == 'disjoint' else 'within'} {guard_words(split)}")


def every_blend(choice: Any, member_probs: dict[str, np.ndarray], truth: np.ndarray, class_ids: np.ndarray
                 ) -> list[dict[str, float]]:
    """Each blend the CV scored: its shares, CV balanced accuracy and log-loss, and the OA on the test pixels of
    the members' ``(n, K)`` probabilities blended at those shares (before smoothing)."""
    from .classify.ensemble import blend_probabilities, member_weights

    rows = []
    for (c, d), score in sorted(choice.scores.items(), key=lambda item: (item[0][1], item[0][0])):
        blend = blend_probabilities(member_weights(c, d), member_probs)  # (n, K), as the ensemble blends
        rows.append({"cnn_weight": c, "dfeat_weight": d, "cv_balanced_accuracy": score,
                     "cv_log_loss": choice.log_losses.get((c, d), float("nan")),
                     "oa": float((class_ids[np.argmax(blend, axis=1)] == truth).mean())})
    return rows


def _probability_map(classifier: Any, cube: np.ndarray, valid: np.ndarray,
                     every: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``(K, H, W)`` probabilities of every valid pixel (``every`` = its coordinates), 0 elsewhere."""
    from .classify.predict import predict_pixels

    proba = predict_pixels(classifier, cube, every[0], every[1], batch_size=1024, reporter=NULL_REPORTER,
                           valid=valid)  # (N, K)
    out = np.zeros((proba.shape[1],) + valid.shape, dtype=np.float32)
    out[:, every[0], every[1]] = proba.T
    return out


def run_bench(datasets: list[str], labels_per_class: list[int], seeds: list[int], methods: list[str],
              splits: list[str], settings: MethodSettings, *, reporter: Reporter = NULL_REPORTER,
              on_result: Optional[Any] = None, own_scenes: Sequence[tuple[str, LabelledScene]] = (),
              shares: Sequence[float] = (), on_skip: Optional[Any] = None) -> list[RunResult]:
    """Run every combination on ``datasets`` (keys of the datasets here; one not available here is skipped with
    a warning that says where its files go) and ``own_scenes`` (``(name, scene with reference labels)`` pairs,
    :func:`load_own_scene`), after them. The command line and the Processing algorithm load their scenes
    themselves and pass them as ``own_scenes`` (the command line words its notes for its --download option).

    ``shares``: after the N of ``labels_per_class``, each seed also draws each of these shares of each class's
    labelled pixels (0.1: 10 %, the papers' protocol), as ``draw-labels --share`` does; their runs have
    ``labels_per_class`` None and ``share`` set. A draw that leaves no pixel to test on (a share's disjoint split on
    a small scene) is not run: a warning says so, and ``on_skip`` gets its line.

    Raises:
        ValueError: an unknown method or device, a share outside (0, 1), no N nor share, or nothing to run (no
            dataset available and no own scene).
    """
    from .datasets.fetch import DatasetNotFoundError

    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ValueError(f"unknown method(s) {bad}; choose from {', '.join(METHODS)}")
    amounts = [(int(n), None) for n in labels_per_class] + [(None, float(s)) for s in shares]
    if not amounts:
        raise ValueError("no label draw to run: give N labels per class or a share of each class")
    outside = [s for s in shares if not 0.0 < float(s) < 1.0]
    if outside:
        raise ValueError(f"a share of each class must lie between 0 and 1 (0.1 for 10 %); got {outside}")
    check_device(settings.device)
    if any(needs_synthesis_model(m, settings) for m in methods) and settings.synthesis_model is None:
        check_text_weights(settings)  # before a benchmark of hours, not after its first VAE
    for method in methods:
        if method in CPU_ONLY_METHODS:
            note_cpu_only(settings.device, method_title(method))
    runs: list[RunResult] = []
    loaded, skipped = [], []
    for key in datasets:
        try:
            loaded.append((key, load_bench_dataset(key)))
        except DatasetNotFoundError as exc:
            log.warning("skipping %s: %s", key, exc)
            skipped.append(key)
    loaded += list(own_scenes)
    if not loaded:
        raise ValueError(f"nothing was run: {', '.join(skipped) or 'no dataset nor own scene was given'}"
                         f"{' (not available here: see the warnings above)' if skipped else ''}")
    total = max(1, len(loaded) * len(amounts) * len(seeds) * len(methods) * len(splits))
    done = 0
    models: dict[tuple, tuple[Any, float]] = {}  # one synthesis model per label draw, shared by the methods needing it
    warned: set[tuple] = set()
    not_scored: set[tuple] = set()
    for key, data in loaded:
        for split in splits:
            for n, share in amounts:
                amount = column_amount(n, share)
                for seed in seeds:
                    for method in methods:
                        reporter.check()
                        stage = f"{key} {column_amount(n, share, 'N={}')} {split} seed {seed} {method}"
                        reporter.progress(done / total, stage)
                        try:
                            results = run_one(data, key, n, seed, split, method, settings,
                                              reporter=reporter.sub(done / total, (done + 1) / total, stage + ": "),
                                              models=models, share=share)
                        except NoTestPixel as exc:
                            done += 1
                            if (key, split, amount, seed) not in not_scored:  # once per label draw
                                not_scored.add((key, split, amount, seed))
                                line = f"{key}, {split} split, {amount}, seed {seed}: no pixel to test on: {exc}"
                                log.warning("%s", line)
                                if on_skip is not None:
                                    on_skip(line)
                            continue
                        for r in results:
                            for note in r.notes:
                                if (key, split, amount, seed, note) not in warned:  # once per label draw
                                    warned.add((key, split, amount, seed, note))
                                    log.warning("%s, %s split, %s, seed %d: %s", key, split, amount, seed, note)
                            runs.append(r)
                            if on_result is not None:
                                on_result(r)
                        done += 1
    reporter.progress(1.0, "done")
    return runs


def _own_scenes_of(args: Any) -> list[tuple[str, LabelledScene]]:
    """The analyst's scene of ``--scene``/``--truth`` (both or neither), read before any run starts."""
    scene, truth = getattr(args, "scene", None), getattr(args, "truth", None)
    if not scene and not truth:
        if getattr(args, "leave_out_bands", None):
            raise ValueError("--leave-out-bands applies to your own --scene; the datasets here come corrected")
        given = [option for option, key in (("--prompts", "prompts"), ("--class-field", "class_field"),
                                            ("--name", "name")) if getattr(args, key, None)]
        if given:  # they were accepted and never read
            raise ValueError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to your own --scene "
                             "and --truth; the datasets here bring their own classes and names")
        return []
    if not (scene and truth):
        raise ValueError("benchmarking your own scene needs both --scene (the hyperspectral raster) and --truth "
                         "(its reference labels: a label raster on its grid or a vector layer)")
    from .io.band_choice import BandChoiceError

    name = own_scene_name(scene, getattr(args, "name", None))
    try:
        return [(name, load_own_scene(scene, truth, classes_path=getattr(args, "prompts", None),
                                      class_field=getattr(args, "class_field", None),
                                      leave_out_bands=getattr(args, "leave_out_bands", None)))]
    except BandChoiceError as exc:  # a band the scene lacks, none left usable: said as the option's
        raise ValueError(f"--leave-out-bands: {exc}") from None


def run_bench_cli(args: Any, reporter: Reporter) -> int:
    """`hypersynth bench …`: check the output files, run, print the tables, write JSON/Markdown when asked.

    ``args`` comes from the command line's parser: the lists (datasets, N, shares, seeds, methods, splits) are
    parsed already, ``args.argv`` is the command's arguments (for the "Command:" line of the tables). N is
    ``DEFAULT_LABELS_PER_CLASS`` unless given, or none when only ``--share`` is given.
    """
    import shlex
    import sys

    from .io.write import write_text  # whole files: a benchmark stopped mid-write keeps the previous one

    check_output_files(args.json, args.markdown, args.overwrite)  # before anything runs, which may take hours
    command = shlex.join(["bin/hypersynth", *getattr(args, "argv", ["bench"])])
    if args.merge:
        document, text = bench_documents(merge_bench_files(args.merge), command, preset=None)
        if args.json:
            write_text(args.json, json.dumps(document, indent=1))
        if args.markdown:
            write_text(args.markdown, text)
        print(text)
        return 0
    check_device(args.device)  # before the datasets load (or download); run_bench checks it for its other callers
    settings = MethodSettings(preset=args.preset, device=args.device, pseudo_labels=args.pseudo_labels,
                              synthetic_weight=getattr(args, "synthetic_weight", MethodSettings.synthetic_weight),
                              forest_inputs=getattr(args, "forest_inputs", MethodSettings.forest_inputs),
                              share_rule=getattr(args, "share_rule", MethodSettings.share_rule),
                              cv_synthesis=getattr(args, "cv_synthesis", MethodSettings.cv_synthesis),
                              spatial_smoothing=getattr(args, "spatial_smoothing", None),
                              diffusion_features=getattr(args, "diffusion_features",
                                                         MethodSettings.diffusion_features),
                              pseudo_labeller=getattr(args, "pseudo_labeller", MethodSettings.pseudo_labeller),
                              pseudo_rule=getattr(args, "pseudo_rule", MethodSettings.pseudo_rule),
                              clip_weights=getattr(args, "clip_weights", None))
    own = _own_scenes_of(args)
    keys = args.datasets if args.datasets is not None else ([] if own else parse_datasets(DEFAULT_DATASETS))
    scenes, skipped = _load_datasets(keys, allow_download=args.download)
    scenes += own
    if not scenes:
        print(f"error: nothing was run: {', '.join(skipped)} {'is' if len(skipped) == 1 else 'are'} not available "
              "here (see the note above)", file=sys.stderr)
        return 2
    runs: list[RunResult] = []
    not_scored: list[str] = []  # label draws that left no pixel to test on

    def save() -> None:  # after every run, so a long benchmark that is stopped keeps what it measured
        document, text = bench_documents(runs, command, args.preset, skipped, not_scored)
        if args.json:
            write_text(args.json, json.dumps(document, indent=1))
        if args.markdown:
            write_text(args.markdown, text)

    def on_result(r: RunResult) -> None:
        runs.append(r)
        save()
        if args.quiet:  # a line a run on stderr, as a log: stdout holds the tables alone
            amount = column_amount(r.labels_per_class, r.share, "N={}")
            print(f"{r.dataset} {amount} {r.split} seed {r.seed} {r.method}: "
                  f"OA {r.oa * 100:.2f} AA {r.aa * 100:.2f} kappa {r.kappa:.3f} {r.seconds:.1f}s", file=sys.stderr,
                  flush=True)

    def on_skip(line: str) -> None:
        not_scored.append(line)
        save()

    shares = getattr(args, "share", None) or []
    counts = args.labels_per_class if args.labels_per_class is not None else (
        [] if shares else list(DEFAULT_LABELS_PER_CLASS))
    try:
        run_bench([], counts, args.seeds, args.methods, args.splits, settings, reporter=reporter,
                  on_result=on_result, own_scenes=scenes, shares=shares, on_skip=on_skip)
    except BaseException as stop:  # Ctrl+C or SIGTERM: the command line says what the files keep
        files = " and ".join(str(p) for p in (args.json, args.markdown) if p)
        finished = f"the {len(runs)} runs that finished are" if len(runs) != 1 else "the run that finished is"
        stop.kept = (f"{finished} kept in {files}; the one under way is not" if runs and files else
                     "no run had finished; nothing was written")
        raise
    if hasattr(reporter, "close"):
        reporter.close()
    print(bench_documents(runs, command, args.preset, skipped, not_scored)[1])
    if not runs and not_scored:
        print("error: nothing was scored: every label draw left no pixel to test on (see the warnings above); "
              "choose a smaller share or the random split", file=sys.stderr)
        return 2
    if skipped:  # last, where a terminal's reader looks: the tables above lack these datasets
        named = args.datasets is not None  # asked for by name: a script must not take the tables as whole
        print(f"{'error' if named else 'note'}: {', '.join(skipped)} {'was' if len(skipped) == 1 else 'were'} not "
              "run (not available here; see the notes above)"
              + ("; the tables and files hold the others (exit status 3)" if named else ""), file=sys.stderr)
        return PARTIAL if named else 0
    return 0


def _load_datasets(keys: list[str], *, allow_download: bool) -> tuple[list[tuple[str, LabelledScene]], list[str]]:
    """The datasets that can be loaded here (``(key, scene)``) and the keys skipped, each with a note on stderr
    that says where to put its files or that ``--download`` fetches them."""
    import sys

    from .datasets import DatasetDownloadError, DatasetNotFoundError, get_spec

    loaded, skipped = [], []
    for key in keys:
        try:
            loaded.append((key, load_bench_dataset(key, allow_download=allow_download)))
        except DatasetNotFoundError as exc:
            # The engine's note speaks of the Python API's allow_download; on the command line it is --download.
            lines = [line for line in str(exc).splitlines() if "allow_download" not in line]
            fetchable = [f for f in get_spec(key).files if f.name in exc.missing and f.urls]
            if fetchable and not allow_download:
                which = "them" if len(fetchable) == len(exc.missing) else ", ".join(f.name for f in fetchable)
                lines.append(f"Or add --download to fetch {which} into the cache (checked by sha256).")
            print(f"skipping {key}: " + "\n".join(lines), file=sys.stderr)
            skipped.append(key)
        except DatasetDownloadError as exc:
            print(f"skipping {key}: {exc}", file=sys.stderr)
            skipped.append(key)
    return loaded, skipped
