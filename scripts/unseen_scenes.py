"""Judge a trained classifier bundle on EnMAP scenes it has never seen (not even unlabelled).

Acceptance item "A trained bundle is also judged on scenes it has never seen", measured on real data:

1. A *training scene* is built from the EnMAP Potsdam tiles listed in ``train_files.csv`` only: the 14
   tiles are placed at their pixel offsets in the full 200 x 330 Potsdam grid and written as one float32
   GeoTIFF (wavelengths, FWHM, bad-band list and no-data as :func:`hypersynth.core.io.write.write_scene`
   writes them). Every other pixel — in particular the 2 tiles of ``validation_files.csv`` — is no-data,
   so training never sees the held-out tiles. Beside it: a class file (JSON), a sparse label raster with
   ``--labels-per-class`` labels per class drawn with ``--seed`` from the train tiles' labels
   (:func:`hypersynth.core.evaluation.protocol.few_label_split`), and the train tiles' full label raster.
2. For each method, :func:`hypersynth.core.pipeline.classify_scene` trains on the training scene and
   classifies it (judged on the train tiles' labelled pixels not used for training); the saved
   ``classifier_bundle`` is then applied with :func:`hypersynth.core.pipeline.classify_with_model` to each
   validation tile GeoTIFF exactly as it is on disk (``images/enmap_potsdam_tile_96_0.tif``, ...), with its
   label tile as validation labels (every method saves one; runs before session 9 refitted the SVM in-process,
   when it had no bundle format, and their JSON says so).
3. Per method: OA/AA/kappa on each unseen tile and pooled over both tiles (predictions and truths pooled,
   :func:`hypersynth.core.evaluation.metrics.evaluate`), OA/AA/kappa on the training scene's own
   non-training labelled pixels, and wall seconds. ``unseen_scenes.json`` and ``unseen_scenes.md`` go to
   ``--out``; the Markdown is printed.

Run (from the repository root; results in ``docs/unseen/unseen_scenes.md``; rf and cnn take under a minute,
the fast ``augment`` run took 39 min at ``nice -n 10`` on the 2-core CPU shared with a benchmark):

    HYPERSYNTH_DATA_DIR=/work/shared/data nice -n 10 .venv/bin/python scripts/unseen_scenes.py \\
        --preset fast --methods rf,cnn,augment --labels-per-class 5 --seed 0

Several seeds (``--seeds 0-4``): each seed draws its own labels and trains every method again (its files in
``--work``/seed_<k>); the Markdown then gives each method's mean ± std over the seeds and the pooled unseen OA
of every seed, the JSON every seed's full results.

Options: ``--data DIR`` (the ``enmap_potsdam`` folder; default ``$HYPERSYNTH_DATA_DIR/enmap_potsdam``),
``--work DIR`` (keep the training scene, labels and every run's outputs there; default a temporary
folder removed at the end), ``--out DIR`` (default ``docs/unseen``), ``--device auto|cpu|cuda``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from hypersynth.core.bench_inputs import parse_seeds
from hypersynth.core.classify.base import SHARE_RULES
from hypersynth.core.evaluation.metrics import evaluate
from hypersynth.core.evaluation.protocol import few_label_split
from hypersynth.core.io.classes import read_classes, write_classes
from hypersynth.core.io.read import read_scene
from hypersynth.core.io.write import write_label_raster, write_scene
from hypersynth.core.methods import METHODS, MethodSettings
from hypersynth.core.pipeline import CLASS_MAP, CLASSIFIER_BUNDLE, classify_scene, classify_with_model, load_classifier
from hypersynth.core.scene import ClassInfo, Scene

REPO = Path(__file__).resolve().parents[1]
GRID = (200, 330)  # rows, cols of the full EnMAP Potsdam scene the tiles were cut from
TILE_NAME = re.compile(r"enmap_potsdam_tile_(\d+)_(\d+)\.tif$")  # <col>_<row> pixel offset in GRID
SCENE_FILE = "train_scene.tif"  # training scene (train tiles only, no-data elsewhere)
LABELS_FILE = "train_labels.tif"  # sparse training labels
TRUTH_FILE = "train_truth.tif"  # every labelled pixel of the train tiles (judges the training scene)
CLASSES_FILE = "classes.json"
# EnMAP-Box level-3 classes (ids as in the label tiles), short prompts and map colours.
CLASSES = (
    ClassInfo(1, "roof", (220, 60, 50), "building roofs"),
    ClassInfo(2, "pavement", (150, 150, 150), "paved roads and squares"),
    ClassInfo(3, "low vegetation", (160, 220, 90), "grass and low vegetation"),
    ClassInfo(4, "tree", (30, 120, 40), "trees"),
    ClassInfo(5, "soil", (170, 120, 60), "bare soil"),
    ClassInfo(6, "water", (40, 110, 200), "water"),
)


@dataclass
class Tile:
    """One EnMAP Potsdam tile as it is on disk."""

    image: Path  # 32 x 32 x 224 GeoTIFF
    labels: Path  # 32 x 32 label GeoTIFF (0 = unlabelled)
    col: int  # pixel offset of the tile in GRID
    row: int

    @property
    def key(self) -> str:
        return self.image.stem


@dataclass
class TrainingScene:
    """The files of the training scene and what they hold."""

    scene: Path
    labels: Path  # sparse, N per class
    truth: Path  # all labelled pixels of the train tiles
    classes: Path
    tiles: list[str]  # names of the train tiles placed in it
    valid_pixels: int
    usable_bands: int
    labels_per_class: dict[int, int]  # class id -> training labels drawn
    truth_per_class: dict[int, int]  # class id -> labelled pixels of the train tiles
    warnings: list[str] = field(default_factory=list)


def data_folder(given: Optional[str | os.PathLike] = None) -> Path:
    """The ``enmap_potsdam`` folder: ``given``, else ``$HYPERSYNTH_DATA_DIR/enmap_potsdam``."""
    if given is not None:
        return Path(given)
    root = os.environ.get("HYPERSYNTH_DATA_DIR")
    if not root:
        raise SystemExit("set HYPERSYNTH_DATA_DIR (the folder holding enmap_potsdam/) or pass --data")
    return Path(root) / "enmap_potsdam"


def read_tile_list(data: Path, csv_name: str) -> list[Tile]:
    """The tiles listed in one of EnMAP-Box's split files (``image,mask`` rows, paths relative to ``data``)."""
    tiles = []
    with open(data / csv_name, newline="") as fh:
        for row in csv.DictReader(fh):
            image, labels = data / row["image"], data / row["mask"]
            match = TILE_NAME.search(image.name)
            if match is None:
                raise ValueError(f"{csv_name}: {image.name} is not named enmap_potsdam_tile_<col>_<row>.tif")
            for path in (image, labels):
                if not path.is_file():
                    raise FileNotFoundError(f"{csv_name} lists {path}, which is missing")
            tiles.append(Tile(image, labels, col=int(match.group(1)), row=int(match.group(2))))
    if not tiles:
        raise ValueError(f"{data / csv_name} lists no tile")
    return tiles


def read_label_tile(path: Path) -> np.ndarray:
    """A label tile as ``(H, W)`` int32 class ids (0 = unlabelled)."""
    import rasterio

    with rasterio.open(path) as ds:
        values = ds.read(1)
    if not np.array_equal(values, np.round(values)):
        raise ValueError(f"{path.name}: label values must be whole class ids")
    return values.astype(np.int32)


def build_training_scene(data: Path, work: Path, *, labels_per_class: int = 5, seed: int = 0) -> TrainingScene:
    """Write the training scene (train tiles only), its sparse labels, its full labels and the class file.

    The scene covers the full 200 x 330 grid; pixels outside the train tiles are no-data (invalid), so
    a method trained on it sees neither the spectra nor the labels of the validation tiles. Read back
    with :func:`read_scene` to check that the held-out tiles are invalid and the bands match the tiles'.
    """
    train = read_tile_list(data, "train_files.csv")
    held_out = read_tile_list(data, "validation_files.csv")
    if {t.key for t in train} & {t.key for t in held_out}:
        raise ValueError("train_files.csv and validation_files.csv share tiles")
    rows, cols = GRID
    first = read_scene(train[0].image)
    x0, dx, rx, y0, ry, dy = first.transform
    if rx or ry:
        raise ValueError(f"{train[0].image.name} is rotated; the mosaic needs north-up tiles")
    transform = (x0 - train[0].col * dx, dx, 0.0, y0 - train[0].row * dy, 0.0, dy)  # GRID's upper-left corner
    cube = np.zeros((first.bands, rows, cols), dtype=np.float32)  # (B, H, W)
    valid = np.zeros((rows, cols), dtype=bool)
    truth = np.zeros((rows, cols), dtype=np.int32)
    good = np.ones(first.bands, dtype=bool)
    for tile in train:
        t = first if tile is train[0] else read_scene(tile.image)
        expected = (transform[0] + tile.col * dx, transform[3] + tile.row * dy)
        if not np.allclose((t.transform[0], t.transform[3]), expected, atol=abs(dx) * 1e-3):
            raise ValueError(f"{tile.image.name}: its origin is not at pixel ({tile.row}, {tile.col}) of the grid")
        if t.bands != first.bands or t.crs_wkt != first.crs_wkt:
            raise ValueError(f"{tile.image.name}: bands or CRS differ from {train[0].image.name}")
        h, w = t.shape
        window = (slice(tile.row, tile.row + h), slice(tile.col, tile.col + w))
        cube[:, window[0], window[1]] = t.cube
        valid[window] = t.valid
        truth[window] = np.where(t.valid, read_label_tile(tile.labels), 0)
        assert t.good_bands is not None
        good &= t.good_bands
    scene = Scene(cube=cube, valid=valid, wavelengths=first.wavelengths, fwhm=first.fwhm, good_bands=good,
                  transform=transform, crs_wkt=first.crs_wkt, name="enmap_potsdam_train_tiles",
                  band_names=list(first.band_names))
    split = few_label_split(truth, labels_per_class, seed, valid=valid)
    sparse = split.train_labels().astype(np.int32)

    work.mkdir(parents=True, exist_ok=True)
    files = TrainingScene(scene=work / SCENE_FILE, labels=work / LABELS_FILE, truth=work / TRUTH_FILE,
                          classes=work / CLASSES_FILE, tiles=[t.key for t in train], valid_pixels=int(valid.sum()),
                          usable_bands=int(good.sum()),
                          labels_per_class={int(c): int((sparse == c).sum()) for c in np.unique(sparse) if c},
                          truth_per_class={int(c): int((truth == c).sum()) for c in np.unique(truth) if c},
                          warnings=list(split.warnings))
    write_scene(scene, files.scene, overwrite=True)
    write_label_raster(files.labels, sparse, list(CLASSES), transform=transform, crs_wkt=first.crs_wkt,
                       overwrite=True)
    write_label_raster(files.truth, truth, list(CLASSES), transform=transform, crs_wkt=first.crs_wkt,
                       overwrite=True)
    write_classes(files.classes, list(CLASSES), overwrite=True)
    _check_training_scene(files, scene, held_out)
    return files


def development_scene(data: Optional[Path] = None) -> tuple[Scene, np.ndarray]:
    """The training scene (train tiles only) read back, with its full ground truth ``(H, W)`` (0 = unlabelled): the
    development scene that the prototype scripts (``dev_*.py``) judge ideas on."""
    import rasterio

    with tempfile.TemporaryDirectory() as work:
        files = build_training_scene(data or data_folder(), Path(work))
        scene = read_scene(files.scene)
        with rasterio.open(files.truth) as ds:
            truth = ds.read(1)
    return scene, truth


def development_cube(data: Optional[Path] = None) -> tuple[Scene, np.ndarray, np.ndarray]:
    """:func:`development_scene` and its usable bands' ``(B, H, W)`` contiguous cube: what the prototypes learn from."""
    scene, truth = development_scene(data)
    return scene, truth, np.ascontiguousarray(scene.cube[scene.good_bands])


def development_draws(scene: Scene, truth: np.ndarray, sizes: Sequence[int] = (2, 5), seeds: int = 5
                      ) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """``(N, seed, train, test)`` for each label draw the prototypes score: ``train`` ``(H, W)`` class ids of the N
    labels per class ``few_label_split`` draws with that seed, ``test`` ``(H, W)`` bool every other labelled pixel."""
    for n in sizes:
        for seed in range(seeds):
            train = few_label_split(truth, n, seed, valid=scene.valid).train_labels()
            yield n, seed, train, (truth > 0) & (train == 0) & scene.valid


def score_forest_inputs(features: dict[str, np.ndarray], scene: Scene, truth: np.ndarray, started: float) -> None:
    """Score each ``(H*W, F)`` input set of a 500-tree forest (seeded with the draw's seed, as the product seeds it)
    on every development draw, paired, and print the prototypes' table (the forest-input prototypes' loop)."""
    from sklearn.ensemble import RandomForestClassifier

    flat_truth = truth.ravel()
    scores: dict[tuple[int, str], list[float]] = {}
    for n, seed, train, test in development_draws(scene, truth):
        train, test = train.ravel(), test.ravel()
        fit = train > 0
        for name, x in features.items():
            forest = RandomForestClassifier(500, n_jobs=2, random_state=seed).fit(x[fit], train[fit])
            scores.setdefault((n, name), []).append(100 * float(np.mean(forest.predict(x[test]) == flat_truth[test])))
        print(f"N {n} seed {seed} done ({time.time() - started:.0f} s)", flush=True)
    print_development_table(scores, first="forest inputs")


def print_development_table(rows: dict[tuple[int, str], list[float]], first: str = "prediction",
                            digits: int = 2) -> None:
    """Print the prototypes' Markdown table: per row name (in order of first appearance), the mean of the 5 draws
    and each draw's figure at N = 2 and N = 5; ``rows``: ``{(N, name): [figure per seed]}``."""
    print(f"| {first} | N = 2 | per seed | N = 5 | per seed |\n|---|---|---|---|---|")
    for name in dict.fromkeys(name for _, name in rows):
        cells = [f"{np.mean(rows[n, name]):.2f} | {', '.join(f'{v:.{digits}f}' for v in rows[n, name])}"
                 for n in (2, 5)]
        print(f"| {name} | " + " | ".join(cells) + " |")


def _check_training_scene(files: TrainingScene, written: Scene, held_out: list[Tile]) -> None:
    """Read the written scene back as the pipeline will and check what it must (and must not) hold."""
    back = read_scene(files.scene)
    if back.shape != written.shape or back.bands != written.bands:
        raise AssertionError(f"{files.scene.name} reads back as {back.shape} x {back.bands}")
    if not np.array_equal(back.valid, written.valid):
        raise AssertionError(f"{files.scene.name}: the valid mask does not survive the round trip")
    if not np.array_equal(back.good_bands, written.good_bands):
        raise AssertionError(f"{files.scene.name}: the usable bands do not survive the round trip")
    if written.wavelengths is None or back.wavelengths is None or not np.allclose(back.wavelengths,
                                                                                   written.wavelengths):
        raise AssertionError(f"{files.scene.name}: wavelengths are lost or changed")
    if not np.allclose(back.cube[:, back.valid], written.cube[:, written.valid]):
        raise AssertionError(f"{files.scene.name}: spectra change in the round trip")
    for tile in held_out:
        unseen = read_scene(tile.image)
        h, w = unseen.shape
        window = (slice(tile.row, tile.row + h), slice(tile.col, tile.col + w))
        if back.valid[window].any() or np.any(back.cube[:, window[0], window[1]]):
            raise AssertionError(f"held-out {tile.image.name} is not no-data in {files.scene.name}")
        if int(unseen.good_bands.sum()) != files.usable_bands:
            raise AssertionError(f"{tile.image.name} has {int(unseen.good_bands.sum())} usable bands, the "
                                 f"training scene {files.usable_bands}")
    if read_classes(files.classes) != list(CLASSES):
        raise AssertionError(f"{files.classes.name} does not read back as written")


def _class_map(path: Path) -> np.ndarray:
    import rasterio

    with rasterio.open(path) as ds:
        values = ds.read(1).astype(np.int64)
        if ds.nodata is not None:
            values[values == int(ds.nodata)] = 0
    return values


def unseen_blends(bundle: Path, tiles: Sequence[Tile], device: str = "auto") -> Optional[list[dict[str, float]]]:
    """Every blend the bundle's CV scored, with its OA on the unseen tiles' labelled pixels pooled (each member's
    probabilities blended at the blend's shares, before smoothing: :func:`hypersynth.core.bench.every_blend`);
    None for a bundle that is not a CV-chosen blend. These records let share-choice rules be compared on scenes
    the labels never saw (``scripts/blend_rules.py``)."""
    from hypersynth.core.bench import every_blend
    from hypersynth.core.classify.predict import predict_pixels

    clf, class_ids, _, _ = load_classifier(bundle, device=device)
    choice = getattr(clf, "choice", None)
    if choice is None or not choice.scores:
        return None
    probabilities: dict[str, list[np.ndarray]] = {m: [] for m in clf.members}
    truths = []
    for tile in tiles:
        scene = read_scene(tile.image)
        truth = read_label_tile(tile.labels)
        rows, cols = np.nonzero((truth > 0) & scene.valid)
        cube = scene.usable_cube()
        for name, member in clf.members.items():
            probabilities[name].append(predict_pixels(member, cube, rows, cols, batch_size=1024,
                                                      valid=scene.valid))  # (n, K)
        truths.append(truth[rows, cols])
    return every_blend(choice, {m: np.concatenate(p) for m, p in probabilities.items()}, np.concatenate(truths),
                       class_ids)


def run_method(method: str, train: TrainingScene, tiles: Sequence[Tile], work: Path, *, preset: str, seed: int,
               device: str = "auto", synthetic_weight: float = MethodSettings.synthetic_weight,
               share_rule: str = MethodSettings.share_rule) -> dict[str, Any]:
    """Train ``method`` on the training scene, apply it to every unseen tile, judge each tile and both pooled;
    a blend also records every blend its CV scored, judged on the unseen tiles (:func:`unseen_blends`)."""
    settings = MethodSettings(preset=preset, seed=seed, device=device, synthetic_weight=synthetic_weight,
                              share_rule=share_rule)
    folder = work / method
    t0 = time.perf_counter()
    outputs = classify_scene(train.scene, train.labels, folder / "train", method=method, classes_path=train.classes,
                             validation_path=train.truth, settings=settings, overwrite=True)
    t_train = time.perf_counter() - t0
    bundle = folder / "train" / CLASSIFIER_BUNDLE
    t1 = time.perf_counter()
    truths, preds, per_tile = [], [], {}
    for tile in tiles:
        out = folder / tile.key
        result = classify_with_model(bundle, tile.image, out, validation_path=tile.labels, device=device,
                                     overwrite=True)
        pipeline_metrics = result.metrics
        class_map = _class_map(out / CLASS_MAP)
        truth = read_label_tile(tile.labels)
        test = (truth > 0) & (class_map > 0)
        ev = evaluate(truth[test], class_map[test], list(CLASSES))
        if abs(pipeline_metrics["oa"] - ev.oa) > 1e-9:
            raise AssertionError(f"{tile.key}: classify_with_model reports OA {pipeline_metrics['oa']}, "
                                 f"its class map gives {ev.oa}")
        per_tile[tile.key] = {"metrics": ev.to_dict(),
                              "labelled_but_unclassified": int(((truth > 0) & (class_map == 0)).sum())}
        truths.append(truth[test])
        preds.append(class_map[test])
    t_apply = time.perf_counter() - t1
    pooled = evaluate(np.concatenate(truths), np.concatenate(preds), list(CLASSES))
    result = {"method": method, "via": "classifier bundle", "seconds_train": t_train, "seconds_apply": t_apply,
              "seconds": t_train + t_apply, "training_scene": outputs.metrics, "unseen_tiles": per_tile,
              "unseen_pooled": pooled.to_dict()}
    blends = unseen_blends(bundle, tiles, device)
    if blends is not None:
        result["blends"] = blends
    return result


def _pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _kappa(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.3f}"


def _setting(meta: dict[str, Any], draw: str) -> str:
    """The sentence saying what was trained on and judged on; ``draw`` says how the labels were drawn."""
    return (f"Training scene: the {len(meta['train_tiles'])} EnMAP Potsdam tiles of `train_files.csv` in the "
            f"200 x 330 grid, every other pixel no-data ({meta['valid_pixels']} valid pixels, "
            f"{meta['usable_bands']} usable bands); {meta['labels_per_class']} labels per class {draw}. Unseen "
            "scenes: the tile GeoTIFFs of `validation_files.csv` as they are on disk, judged on their label tiles. "
            f"Preset `{meta['preset']}`, synthetic weight {meta.get('synthetic_weight', 0.5):g}, device "
            f"{meta['device']}.")


def markdown(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The results as a Markdown section: one row per method and evaluation set, then the timings."""
    lines = [
        "# Trained classifiers on EnMAP scenes they have never seen",
        "",
        _setting(meta, f"drawn with seed {meta['seed']} from their labels "
                       f"({sum(meta['labels_drawn'].values())} in all)"),
        "",
        "| method | applied via | judged on | pixels | OA % | AA % | κ |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        via = "bundle" if r["via"] == "classifier bundle" else "in-process refit"
        own = r["training_scene"] or {}
        lines.append(f"| {r['method']} | — | training scene, its other labelled pixels | "
                     f"{own.get('n_test', '–')} | {_pct(own.get('oa'))} | {_pct(own.get('aa'))} | "
                     f"{_kappa(own.get('kappa'))} |")
        for key, tile in r["unseen_tiles"].items():
            m = tile["metrics"]
            lines.append(f"| {r['method']} | {via} | unseen {key.replace('enmap_potsdam_', '')} | {m['n_test']} | "
                         f"{_pct(m['oa'])} | {_pct(m['aa'])} | {_kappa(m['kappa'])} |")
        m = r["unseen_pooled"]
        lines.append(f"| **{r['method']}** | {via} | **both unseen tiles pooled** | {m['n_test']} | "
                     f"**{_pct(m['oa'])}** | {_pct(m['aa'])} | {_kappa(m['kappa'])} |")
    lines += ["", "| method | train + classify training scene (s) | apply to unseen tiles (s) | total (s) |",
              "|---|---:|---:|---:|"]
    lines += [f"| {r['method']} | {r['seconds_train']:.1f} | {r['seconds_apply']:.1f} | {r['seconds']:.1f} |"
              for r in results]
    for r in results:
        if r.get("refit_agrees_with_pipeline_map") is not None:  # runs before session 9 (no SVM bundle then)
            lines += ["", f"{r['method']}: `classify_scene` saves no classifier bundle for it (the SVM has no "
                      "bundle format), so the same classifier was refitted in-process from the same "
                      "files and seed and applied to the tile files with `predict_scene`; its map of the training "
                      f"scene agrees with the pipeline's on {100 * r['refit_agrees_with_pipeline_map']:.2f} % of "
                      f"the valid pixels (refit {r['seconds_refit']:.1f} s, not counted above)."]
    lines += ["", f"Per-class accuracy and confusion matrices: `unseen_scenes.json`. Machine: {meta['machine']}. "
              f"Command: `{meta['command']}`.", ""]
    return "\n".join(lines)


def seed_summary(per_seed: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per method, mean and standard deviation over the seeds of OA on the training scene, on each unseen tile
    and on both pooled (AA and κ pooled too), and mean seconds; the runs of every seed must hold the same methods."""
    seeds = sorted(per_seed)
    methods = [r["method"] for r in per_seed[seeds[0]]]
    if any([r["method"] for r in per_seed[s]] != methods for s in seeds):
        raise ValueError("every seed must have run the same methods, in the same order")

    def spread(values: list[float]) -> dict[str, float]:
        return {"mean": float(np.mean(values)), "std": float(np.std(values)), "values": [float(v) for v in values]}

    summary = []
    for i, method in enumerate(methods):
        runs = [per_seed[s][i] for s in seeds]
        tiles = list(runs[0]["unseen_tiles"])
        summary.append({
            "method": method, "seeds": seeds,
            "training_scene_oa": spread([(r["training_scene"] or {}).get("oa", np.nan) for r in runs]),
            "unseen_tile_oa": {t: spread([r["unseen_tiles"][t]["metrics"]["oa"] for r in runs]) for t in tiles},
            "unseen_pooled": {k: spread([r["unseen_pooled"][k] for r in runs]) for k in ("oa", "aa", "kappa")},
            "seconds": float(np.mean([r["seconds"] for r in runs]))})
    return summary


def markdown_seeds(summary: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The seed summary as a Markdown section: mean ± std per method, then pooled unseen OA per seed."""
    seeds = summary[0]["seeds"]
    tiles = list(summary[0]["unseen_tile_oa"])

    def ms(d: dict[str, float]) -> str:
        return f"{100 * d['mean']:.1f} ± {100 * d['std']:.1f}"

    lines = [
        "# Trained classifiers on EnMAP scenes they have never seen, over seeds",
        "",
        _setting(meta, f"drawn from their labels with each seed ({', '.join(map(str, seeds))})")
        + " OA, AA in %, mean ± standard deviation over the seeds.",
        "",
        "| method | training scene OA | " + " | ".join(f"unseen {t.replace('enmap_potsdam_', '')} OA" for t in tiles)
        + " | **both unseen pooled OA** | pooled AA | pooled κ | s per seed |",
        "|---|---:|" + "---:|" * len(tiles) + "---:|---:|---:|---:|",
    ]
    for r in summary:
        pooled = r["unseen_pooled"]
        lines.append(f"| {r['method']} | {ms(r['training_scene_oa'])} | "
                     + " | ".join(ms(r["unseen_tile_oa"][t]) for t in tiles)
                     + f" | **{ms(pooled['oa'])}** | {ms(pooled['aa'])} | {pooled['kappa']['mean']:.3f} | "
                     f"{r['seconds']:.1f} |")
    lines += ["", "Pooled unseen OA (%) per seed:", "",
              "| method | " + " | ".join(f"seed {s}" for s in seeds) + " |", "|---|" + "---:|" * len(seeds)]
    lines += [f"| {r['method']} | " + " | ".join(f"{100 * v:.1f}" for v in r["unseen_pooled"]["oa"]["values"]) + " |"
              for r in summary]
    lines += ["", f"Per-seed, per-tile metrics and confusion matrices: `unseen_scenes.json`. Machine: "
              f"{meta['machine']}. Command: `{meta['command']}`.", ""]
    return "\n".join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", default="rf,cnn,augment", help="comma-separated methods (default rf,cnn,augment)")
    p.add_argument("--preset", default="fast", choices=("tiny", "fast", "full"))
    p.add_argument("--labels-per-class", type=int, default=5)
    p.add_argument("--seed", type=int, default=0, help="seed of the label draw and the models (default 0)")
    p.add_argument("--seeds", help="several seeds, e.g. 0-4 or 0,2: each draws its own labels, and the Markdown "
                                   "gives mean ± std over them (overrides --seed)")
    p.add_argument("--data", help="the enmap_potsdam folder (default $HYPERSYNTH_DATA_DIR/enmap_potsdam)")
    p.add_argument("--work", help="keep the training scene and every output here (default: a temporary folder)")
    p.add_argument("--out", default=str(REPO / "docs" / "unseen"), help="where the JSON and Markdown go")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--synthetic-weight", type=float, default=MethodSettings.synthetic_weight,
                   help="share of the synthetic patches in Augment & Classify's training, relative to the labels "
                        "(default %(default)s)")
    p.add_argument("--share-rule", default=MethodSettings.share_rule, choices=SHARE_RULES,
                   help="which CV score picks the blend's shares (default %(default)s)")
    args = p.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    args.seeds = parse_seeds(args.seeds) if args.seeds else [args.seed]
    if not args.seeds:
        p.error("--seeds names no seed; give e.g. 0-4")
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        p.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    data = data_folder(args.data)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="hypersynth-unseen-"))
    try:
        tiles = read_tile_list(data, "validation_files.csv")
        per_seed: dict[int, list[dict[str, Any]]] = {}
        warnings: list[str] = []
        for seed in args.seeds:
            seed_work = work if len(args.seeds) == 1 else work / f"seed_{seed}"
            t0 = time.perf_counter()
            train = build_training_scene(data, seed_work, labels_per_class=args.labels_per_class, seed=seed)
            print(f"seed {seed}: training scene {train.scene} ({train.valid_pixels} valid pixels, "
                  f"{train.usable_bands} usable bands, labels {train.labels_per_class}) in "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
            for w in train.warnings:
                print(f"warning: {w}", file=sys.stderr)
                warnings.append(w if len(args.seeds) == 1 else f"seed {seed}: {w}")
            per_seed[seed] = []
            for method in args.methods:
                print(f"seed {seed}, {method}: training on the training scene, then the {len(tiles)} unseen tiles ...",
                      file=sys.stderr)
                r = run_method(method, train, tiles, seed_work, preset=args.preset, seed=seed, device=args.device,
                               synthetic_weight=args.synthetic_weight, share_rule=args.share_rule)
                print(f"seed {seed}, {method}: pooled unseen OA {_pct(r['unseen_pooled']['oa'])} %, training scene "
                      f"OA {_pct((r['training_scene'] or {}).get('oa'))} %, {r['seconds']:.1f} s", file=sys.stderr)
                per_seed[seed].append(r)
        import torch

        meta = {"preset": args.preset, "synthetic_weight": args.synthetic_weight, "share_rule": args.share_rule,
                "seed": args.seeds[0],
                "seeds": args.seeds,
                "labels_per_class": args.labels_per_class,
                "methods": args.methods, "device": args.device if args.device != "auto" else
                ("cuda" if torch.cuda.is_available() else "cpu"),
                "train_tiles": train.tiles, "unseen_tiles": [t.key for t in tiles],
                "valid_pixels": train.valid_pixels, "usable_bands": train.usable_bands,
                "labels_drawn": train.labels_per_class, "train_tile_labels": train.truth_per_class,
                "split_warnings": warnings, "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
                "torch_threads": torch.get_num_threads(),
                "command": "python scripts/unseen_scenes.py " + " ".join(sys.argv[1:] if argv is None else argv)}
        if len(args.seeds) == 1:
            body: dict[str, Any] = {"meta": meta, "results": per_seed[args.seeds[0]]}
            text = markdown(per_seed[args.seeds[0]], meta)
        else:
            summary = seed_summary(per_seed)
            body = {"meta": meta, "summary": summary, "results_per_seed": {str(s): r for s, r in per_seed.items()}}
            text = markdown_seeds(summary, meta)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "unseen_scenes.json").write_text(json.dumps(body, indent=2) + "\n")
        (out / "unseen_scenes.md").write_text(text)
        print(text)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
