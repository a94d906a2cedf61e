"""Accuracy assessment of any classified map (HyperSynth's or another tool's) against validation labels."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence

import numpy as np

from ..markdown_text import md_text
from ..progress import NULL_REPORTER, Reporter
from ..scene import ClassInfo, Scene, default_color
from .area import pixel_area_unit
from .metrics import TRAINING_PIXELS, Evaluation, NearTraining, confusion_figure, evaluate
from .reliability import ConfidenceReliability

if TYPE_CHECKING:
    from ..pixel_mask import PixelMask
    from .sampling import SampleDesign
    from ..scene_maps import MappedScene

log = logging.getLogger("hypersynth")
ACCURACY_FILES = ("metrics.json", "accuracy.md", "confusion.png")  # what write_accuracy puts in its folder


def evaluate_map(class_map_path: str | os.PathLike, validation_path: str | os.PathLike, *,
                 class_field: Optional[str] = None, classes_path: Optional[str | os.PathLike] = None,
                 exclude_path: Optional[str | os.PathLike] = None, exclude_field: Optional[str] = None,
                 training_beside: bool = True, validation_name: Optional[str] = None,
                 reporter: Reporter = NULL_REPORTER) -> Evaluation:
    """The map's accuracy on the validation pixels it classifies, with the area-adjusted figures; ``exclude_path``:
    labels (e.g. the map's training labels) whose pixels are left out, as a run leaves its training pixels out;
    ``exclude_field``: the attribute holding their class in a vector layer (default: ``class_field`` where that
    layer has it, else guessed; only which pixels they label matters). ``training_beside``: leave out the pixels
    that the classifier saved beside the map (its run's ``classifier_bundle``) learnt from, as that run's own
    report did, saying so (:func:`~..classifier_bundle.training_pixels_beside`).

    Class names come from the class file when given, else from the map's category names (or raster attribute
    table). The map's no-data value and 0 count as unclassified. The map is read a strip of rows at a time, twice
    (its pixels per class, then its classes at the validation pixels): a map of any size is assessed in the
    validation labels' map (a byte a pixel for up to 255 classes) and a strip's arrays.

    Raises:
        ValueError: an unreadable or multi-band map, a map of fractional values (:func:`check_class_ids`),
            validation labels that miss every classified pixel or share no class id with the map
            (:func:`check_shared_classes`).
    """
    import rasterio

    from ..io.classes import read_classes
    from ..io.labels import labels_onto, read_labels
    from ..io.read import dataset_grid, opened_quietly
    from .sampling import labelled_sample_design

    try:
        with opened_quietly(class_map_path) as src:  # a map without georeference: on the pixel grid, no warning
            if src.count != 1:
                raise ValueError(f"{Path(class_map_path).name} has {src.count} bands; a class map has one")
            shape = (src.height, src.width)
            transform, crs_wkt = dataset_grid(src)  # a map without georeference: the pixel grid, as the scene's
            counts = class_counts(src, class_map_path, reporter.sub(0.0, 0.45))
    except rasterio.errors.RasterioIOError as exc:
        raise ValueError(f"cannot read the class map {class_map_path}: {exc}") from exc
    if classes_path:
        classes = read_classes(classes_path)
    else:
        categories = class_names_of_map(class_map_path)  # the map's own names, read only when needed
        ids = sorted(i for i in counts if i > 0)
        classes = [ClassInfo(i, categories.get(i, f"class {i}"), default_color(k)) for k, i in enumerate(ids)]
    grid = Scene(cube=np.broadcast_to(np.float32(0), (1, *shape)), valid=np.broadcast_to(True, shape),
                 transform=transform, crs_wkt=crs_wkt, name=Path(class_map_path).stem)  # the grid alone
    name = validation_name or Path(validation_path).name  # a layer copied for the assessment: the layer's
    design = labelled_sample_design(validation_path, class_field, grid, name)  # a sample drawn on a map of this grid
    with labels_onto("class map"):  # what does not fit is said of the map, not of a scene
        validation, validated = read_labels(validation_path, grid, class_field=class_field, classes=classes,
                                            min_classes=1)  # one class's accuracy may be checked on its own
        excluded = None if exclude_path is None else _excluded_pixels(exclude_path, grid, exclude_field, class_field)
    beside = training_pixels_beside(class_map_path, grid) if training_beside else None
    learnt = None  # (H, W) 1 where the classifier beside the map learnt from the pixel
    if beside is not None:
        folder, pixels = beside
        learnt = np.zeros(shape, np.uint8)
        learnt[pixels[:, 0], pixels[:, 1]] = 1
    named = {c.id: c for c in classes if counts.get(c.id, 0) > 0} | {c.id: c for c in validated}
    unnamed = sorted(i for i in counts if i > 0 and i not in named)  # mapped, but the class file names it not: a
    if unnamed:  # stratum all the same (said if it has no point), by the map's own name where it has one
        categories = class_names_of_map(class_map_path)
        named |= {i: ClassInfo(i, categories.get(i, f"class {i}"), default_color(len(named) + k))
                  for k, i in enumerate(unnamed)}
    classes = [named[i] for i in sorted(named)]  # the map's classes keep their names, sampled or not
    truth, mapped, at, dropped, unclassified, told = [], [], [], 0, 0, 0
    with opened_quietly(class_map_path) as src:
        for rows, class_ids in map_strips(src, class_map_path):
            reporter.check()
            reporter.progress(0.5 + 0.5 * rows.stop / src.height, "scoring the map")
            labelled = validation[rows]  # (h, W)
            test = labelled > 0
            if excluded is not None:
                told += int((test & (excluded[rows] != 0)).sum())
                test &= excluded[rows] == 0
            if learnt is not None:  # counted where nothing else left them out: the pixels this rule drops
                dropped += int((test & (learnt[rows] == 1)).sum())
                test &= learnt[rows] == 0
            unclassified += int((test & (class_ids == 0)).sum())  # no data or 0 on the map: not scored, but said
            test &= class_ids > 0
            truth.append(labelled[test])
            mapped.append(class_ids[test])
            if design is not None:  # where the sample's points are
                at.append(np.flatnonzero(test) + rows.start * shape[1])
    truth_all, mapped_all = np.concatenate(truth), np.concatenate(mapped)  # row by row
    if dropped:
        log.warning("%d validation pixels of %s lie on pixels the classifier saved beside the map (%s) learnt from: "
                    "they are left out of the accuracy, as its run's report leaves them out", dropped,
                    Path(validation_path).name, folder)
    if not truth_all.size:
        if dropped:
            raise ValueError(f"every validation pixel of {Path(validation_path).name} on the map lies on a pixel the "
                             f"classifier saved beside it ({folder}) learnt from: give validation labels beyond the "
                             "training ones")
        raise ValueError("no validation pixel falls on a classified pixel" + (
            " outside the excluded labels" if excluded is not None else "") + "; check that the validation layer "
            "covers the classified map")
    check_shared_classes(truth_all, mapped_all)
    ev = evaluate(truth_all, mapped_all, classes, mapped_pixels=counts,
                  area_unit=pixel_area_unit(transform, crs_wkt, shape))
    ev.validation_unclassified, ev.validation_left_out = unclassified, told + dropped
    if design is not None:
        _estimate_as_sampled(ev, design, name, Path(class_map_path).name, shape, transform,
                             counts, np.divmod(np.concatenate(at), shape[1]), truth_all, mapped_all, told + dropped,
                             unclassified)
    ev.training_pixels = ("left_out_beside" if learnt is not None else "left_out_given" if excluded is not None
                          else "kept" if not training_beside else "unknown")
    return ev


def _estimate_as_sampled(ev: Evaluation, design: SampleDesign, name: str, map_name: Optional[str],
                         shape: tuple[int, int],
                         transform: Sequence[float], counts: dict[int, int], at: tuple[np.ndarray, np.ndarray],
                         truth: np.ndarray, mapped: np.ndarray, left_out: int = 0, unclassified: int = 0) -> None:
    """Validation points ``name`` drawn as the stratified random sample ``design`` (:func:`.sampling.read_design`)
    on this map's grid: say so in the area-adjusted figures, which then hold: this map's own (Olofsson et al. 2014,
    its classes the strata) or, drawn from another map of the grid, Stehman's (2014) for strata other than the map
    classes. Otherwise they stay Olofsson's, with why they only indicate. ``map_name``: this map's file name (a
    sampled map of the same name is called by its path). ``at``: the scored pixels' rows and
    columns; ``truth``, ``mapped``: their reference and map classes; ``counts``: this map's pixels per class;
    ``left_out``: labelled points left out as training pixels; ``unclassified``: labelled points on no class."""
    from .area import sample_strata_estimate

    if ev.area is None:
        return
    problem = design.grid_problem(shape, transform) or design.displaced()
    strata = design.strata_at(*at) if problem is None else np.zeros(0, np.int64)
    same = problem is None and design.same_strata(counts, strata, mapped)
    classified = sum(n for c, n in counts.items() if c > 0)
    if problem is None and (strata == 0).any():
        extra = int((strata == 0).sum())
        problem = (f"{name} also labels {extra} pixel{'s that are' if extra > 1 else ' that is'} none of its points "
                   "(labels added to the sample)")
    elif problem is None and not same and classified != sum(design.class_pixels.values()):
        problem = (f"{design.map_name}, which they were drawn from, classifies {sum(design.class_pixels.values()):,} "
                   f"pixels and this map {classified:,}, so its classes, the strata, do not cover this map")
    elif problem is None and not same and unclassified:
        problem = (f"{unclassified} of its labelled points lie on pixels this map leaves unclassified, which the "
                   "sample's strata count")
    if problem is not None:
        ev.area.sample_problem = problem
        log.warning("%s was drawn as a stratified random sample, but %s: its area figures only indicate", name,
                    problem)
        return
    if not same:  # another map of the grid: the strata are the sampled map's classes
        area = ev.area
        ev.area = sample_strata_estimate(strata, mapped, truth, design.class_pixels, area.class_ids,
                                         area.class_names, area.mapped_pixels, area.unit, area.unit_per_pixel,
                                         stratum_names=design.class_names)
        ev.area.strata_map = design.map_label(map_name)
    ev.area.sample, ev.area.sample_points = design.describe(None if same else map_name), design.points
    ev.area.sample_left_out = left_out


def class_counts(src: Any, path: str | os.PathLike, reporter: Optional[Reporter] = None) -> dict[int, int]:
    """The pixels of each class id of an open class map (0: unclassified), read a strip at a time
    (:func:`map_strips`); ``reporter``: told the share read, and asked whether to stop."""
    counts: dict[int, int] = {}
    for rows, class_ids in map_strips(src, path):
        for value, n in zip(*np.unique(class_ids, return_counts=True)):
            counts[int(value)] = counts.get(int(value), 0) + int(n)
        if reporter is not None:
            reporter.check()
            reporter.progress(rows.stop / src.height, "counting the map's classes")
    return counts


def map_strips(src: Any, path: str | os.PathLike) -> Iterator[tuple[slice, np.ndarray]]:
    """``(rows, (h, W) int64 class ids)`` of an open class map, a strip of whole block rows at a time: its no-data
    and NaN 0 (unclassified), a map of fractional values refused (:func:`check_class_ids`)."""
    from rasterio.windows import Window

    from ..io.labels import row_strips
    from ..io.read import invalid_values

    for rows in row_strips(src.height, src.width, src.block_shapes[0][0]):
        values = src.read(1, window=Window(0, rows.start, src.width, rows.stop - rows.start))  # (h, W)
        check_class_ids(values, src.nodata, path)
        unclassified = invalid_values(values[None], [src.nodata], None)[0]  # NaN and no-data
        yield rows, np.where(unclassified, 0, values).astype(np.int64)


def check_class_ids(values: np.ndarray, nodata: Optional[float], path: str | os.PathLike) -> None:
    """Refuse a raster of fractional values given as the class map (a run's confidence or probabilities layer):
    scored as class ids, it would give an accuracy that means nothing. Whole numbers stored as floats pass;
    the no-data value and NaN are not looked at.

    Raises:
        ValueError: naming the file, a fractional value it holds, and the file to pick instead.
    """
    if values.dtype.kind != "f":
        return
    held = values[np.isfinite(values) & (values != nodata if nodata is not None else True)]
    fractional = held[held != np.round(held)]
    if fractional.size:
        raise ValueError(f"{Path(path).name} holds fractional values (e.g. {float(fractional[0]):.3g}), not class "
                         "ids: it looks like a confidence or probability layer; pick the class map instead (a "
                         "HyperSynth run's classification.tif, not its confidence.tif or probabilities.tif)")


def check_shared_classes(truth: np.ndarray, mapped: np.ndarray) -> None:
    """Refuse a comparison in which the map and the validation labels share no class id on the pixels compared:
    the accuracy would be 0 because the two number their classes differently, not because the map is wrong.

    Raises:
        ValueError: listing both sets of ids and how to make them agree.
    """
    validated, in_map = sorted({int(v) for v in np.unique(truth)}), sorted({int(v) for v in np.unique(mapped)})
    if not set(validated) & set(in_map):
        raise ValueError(f"the classified map and the validation labels share no class id (map: "
                         f"{', '.join(map(str, in_map))}; validation labels: {', '.join(map(str, validated))}): give "
                         "validation labels with the map's class ids, or a class file that gives each class name its "
                         "id in the map")


def check_accuracy_folder(out: Path, inputs: list[Optional[str | os.PathLike]], overwrite: bool) -> None:
    """Refuse, before any work, a folder :func:`write_accuracy` cannot use (the engine's output-folder rules for
    its three files); creates nothing."""
    from ..outputs import check_output_folder

    check_not_a_run_folder(out)
    check_output_folder(out, ACCURACY_FILES, inputs, overwrite)


def check_not_a_run_folder(out: Path) -> None:
    """Refuse a run's output folder for an assessment's files: its metrics.json and confusion.png go with the
    report.md there, which the assessment would leave contradicting them.

    Raises:
        OutputFolderError: naming a folder of its own to use instead.
    """
    from ..outputs import OutputFolderError

    if (out / "report.md").is_file() and (out / "classification.tif").exists():
        raise OutputFolderError(f"{out} is a run's output folder: its metrics.json and confusion.png go with the "
                                "report.md there, which an assessment would leave contradicting them; write the "
                                f"assessment into a folder of its own (e.g. {out / 'assessment'})")


@dataclass
class ValidationPixels:
    """The validation labels a run scores, kept as their pixels and classes: not the ``(H, W)`` label map, whose
    4 bytes a pixel would stay through the prediction of a scene of any size."""

    flat: np.ndarray  # (N,) int64 flat indices (row * W + col) of the scored pixels, ascending (row by row)
    truth: np.ndarray  # (N,) their validation class ids
    design: Optional[SampleDesign] = None  # where the labels are a drawn sample: its design (read once)
    name: Optional[str] = None  # what messages call them (a layer copied for a run: the layer, not the copy)
    left_out: int = 0  # labelled pixels left out as training pixels (a sample's points there are said apart)
    no_data: int = 0  # labelled pixels on the scene's no-data pixels: not scored, the map leaves them unclassified


def validation_pixels(validation: np.ndarray, valid: "np.ndarray | PixelMask", labels: Optional[np.ndarray] = None
                      ) -> ValidationPixels:
    """The pixels of ``validation`` (``(H, W)`` class ids, 0 unlabelled) a run scores: labelled, valid (``(H, W)``
    bool array or :class:`~..pixel_mask.PixelMask`) and, given the run's training ``labels``, not one of them (a
    training pixel is not scored). Found a strip of rows at a time: no whole-grid mask is made."""
    from ..io.labels import row_strips

    flat, truth, no_data = [], [], 0
    for rows in row_strips(*validation.shape):
        labelled = validation[rows] > 0  # (h, W)
        scored = labelled & valid[rows]
        no_data += int(labelled.sum() - scored.sum())
        if labels is not None:
            scored &= labels[rows] == 0
        flat.append(np.flatnonzero(scored) + rows.start * validation.shape[1])
        truth.append(validation[rows][scored])
    return ValidationPixels(np.concatenate(flat).astype(np.int64), np.concatenate(truth), no_data=no_data)


def evaluate_scored(validation: ValidationPixels, maps: "MappedScene", classes: list[ClassInfo], scene: Scene,
                    training: Optional[np.ndarray] = None, reach: int = 1,
                    reach_means: str = "the neighbouring pixels", map_name: Optional[str] = None) -> Evaluation:
    """A run's map against its validation pixels; ``maps``: what the run kept of the map it wrote
    (:func:`~..scene_maps.predict_and_write_maps`, asked to keep the classes at ``validation.flat``), the classes at
    those pixels and the pixels of each class, for the area figures (in the scene's units). ``training``: ``(M, 2)``
    rows and columns of the training pixels, to tell the accuracy within ``reach`` pixels of them from the rest
    (:func:`near_training`; ``reach_means``: what that distance is, for the report). Validation points drawn as a
    sample of an earlier map of the scene (:func:`_estimate_as_sampled`; ``map_name``: what the run's map file is
    called) give the sample's area estimates."""
    truth, predicted = validation.truth, maps.scored  # (N,) each, row by row
    classified = predicted > 0
    ev = evaluate(truth[classified], predicted[classified], classes, mapped_pixels=maps.pixels,
                  area_unit=pixel_area_unit(scene.transform, scene.crs_wkt, scene.shape))
    ev.validation_unclassified, ev.validation_no_data = int((~classified).sum()), validation.no_data
    if maps.scored_confidence is not None and classified.any():
        ev.by_confidence = ConfidenceReliability.from_pixels(maps.scored_confidence[classified],
                                                             truth[classified] == predicted[classified])
    at = np.divmod(validation.flat[classified], scene.shape[1])  # (N,) rows, (N,) cols of the scored pixels
    if training is not None and len(training):
        ev.near_training = near_training(np.stack(at, axis=1), truth[classified] == predicted[classified], training,
                                         reach, reach_means)
    if validation.design is not None:  # a sample drawn from an earlier map of the scene: its estimators
        _estimate_as_sampled(ev, validation.design, validation.name or validation.design.points_file, map_name,
                             scene.shape, scene.transform, maps.pixels, at, truth[classified],
                             predicted[classified], validation.left_out,
                             ev.validation_unclassified + validation.no_data)  # the strata count both
    return ev


def near_training(at: np.ndarray, right: np.ndarray, training: np.ndarray, reach: int,
                  reach_means: str = "the neighbouring pixels") -> NearTraining:
    """The accuracy of the validation pixels at ``at`` (``(N, 2)`` rows, columns; ``right``: ``(N,)`` whether each
    is mapped right) within ``reach`` pixels (Chebyshev distance) of a ``training`` pixel and further away."""
    from scipy.spatial import cKDTree  # nearest training pixel of each: memory follows the pixels, not the grid

    distance, _ = cKDTree(np.asarray(training, dtype=float)).query(np.asarray(at, dtype=float), k=1, p=np.inf,
                                                                  distance_upper_bound=reach + 0.5)
    near = np.isfinite(distance)
    with np.errstate(invalid="ignore"):
        return NearTraining(int(reach), int(near.sum()), int((~near).sum()),
                            float(right[near].mean()) if near.any() else math.nan,
                            float(right[~near].mean()) if (~near).any() else math.nan, reach_means)


def write_evaluation(ev: Evaluation, folder: Path, warnings: Optional[Sequence[str]] = None,
                     run: Optional[dict] = None) -> None:
    """``metrics.json`` (:func:`write_metrics`) and ``confusion.png`` into ``folder`` (a run's staging folder, or an
    assessment's)."""
    write_metrics(ev, folder, warnings, run)
    confusion_figure(ev, folder / "confusion.png")


def write_metrics(ev: Evaluation, folder: Path, warnings: Optional[Sequence[str]] = None,
                  run: Optional[dict] = None) -> None:
    """``metrics.json``: the figures, and for a run what it warned of (``warnings``, as its report lists them, an
    empty list when nothing), so a script reading the figures also reads what may qualify them, and what the run
    was (``run``: :func:`~..run_record.run_record`'s method, settings, inputs, engine version and time), so figures
    gathered from many runs can be told apart; an assessment of a map has no run's warnings (None): its figures
    alone, as Processing's accuracy output."""
    figures = ev.to_dict() if warnings is None else {**ev.to_dict(), "warnings": list(warnings)}
    if run is not None:
        figures["run"] = run
    (folder / "metrics.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")


def accuracy_document(ev: Evaluation, class_map_path: str | os.PathLike, validation_path: str | os.PathLike,
                      exclude_path: Optional[str | os.PathLike] = None, said: Sequence[str] = (),
                      validation_name: Optional[str] = None) -> str:
    """``accuracy.md``: what was assessed against what, and when (``said``: what the assessment warned of;
    ``validation_name``: the validation labels' name where they were a copy, which is gone after), then the figures
    and the confusion matrix."""
    from datetime import datetime

    left_out = f"- Left out: the pixels of {Path(exclude_path).resolve()}\n" if exclude_path is not None else ""
    if ev.training_pixels is not None:
        left_out += f"- The map's training pixels: {TRAINING_PIXELS[ev.training_pixels]}\n"
    if ev.validation_left_out:
        left_out += f"- Validation pixels left out as training pixels: {ev.validation_left_out}\n"
    left_out += "".join(f"- Note: {md_text(line)}\n" for line in said)
    return (f"# Accuracy of {md_text(Path(class_map_path).name)}\n\n"
            f"- Class map: {Path(class_map_path).resolve()}\n"  # as typed: assessments_of finds it by this line
            f"- Validation labels: {md_text(validation_name or Path(validation_path).resolve())}\n"
            f"{left_out}"
            f"- Assessed {datetime.now().astimezone().isoformat(timespec='seconds')} by HyperSynth\n\n"
            f"{ev.to_markdown()}\n![confusion matrix](confusion.png)\n")


def assessments_of(class_map_path: str | os.PathLike) -> list[Path]:
    """The folders beside ``class_map_path`` (its folder's sub-folders) holding an accuracy assessment of it: an
    ``accuracy.md`` of :func:`accuracy_document` that names it as its class map. A run replacing the map leaves
    them scoring a map that is gone."""
    folder = Path(class_map_path).parent
    named = f"- Class map: {Path(class_map_path).resolve()}\n"
    found = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and (p / "accuracy.md").is_file()):
        try:
            with open(sub / "accuracy.md", encoding="utf-8", errors="replace") as fh:
                head = fh.read(8192)  # the header lines come first
        except OSError:
            continue
        if named in head:
            found.append(sub)
    return found


def write_accuracy(ev: Evaluation, out: Path, *, overwrite: bool, inputs: list[Optional[str | os.PathLike]] = (),
                   what: str = "accuracy assessment", document: Optional[str] = None) -> list[Path]:
    """Write ``metrics.json``, ``accuracy.md`` (``document``: :func:`accuracy_document`'s, else the figures alone)
    and ``confusion.png`` into ``out``: all three or none, and none of them replaced unless ``overwrite``
    (:func:`check_accuracy_folder`, again under the folder's claim).
    """
    from ..outputs import ACCURACY_STAGING, claim_output_folder, move_outputs

    with claim_output_folder(out, what):
        check_accuracy_folder(out, list(inputs), overwrite)
        staging = Path(tempfile.mkdtemp(prefix=ACCURACY_STAGING, dir=out))
        try:
            write_evaluation(ev, staging)
            text = document if document is not None else ev.to_markdown()
            (staging / "accuracy.md").write_text(text, encoding="utf-8")
            move_outputs(staging, out, ACCURACY_FILES, inputs)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return [out / name for name in ACCURACY_FILES]


def assess_map(class_map_path: str | os.PathLike, validation_path: str | os.PathLike, *,
               class_field: Optional[str] = None, classes_path: Optional[str | os.PathLike] = None,
               out_dir: Optional[str | os.PathLike] = None, overwrite: bool = False,
               exclude_path: Optional[str | os.PathLike] = None, exclude_field: Optional[str] = None,
               training_beside: bool = True, validation_name: Optional[str] = None,
               reporter: Reporter = NULL_REPORTER) -> Evaluation:
    """:func:`evaluate_map`, and with ``out_dir`` :func:`write_accuracy` there, its folder checked before the work
    (what ``hypersynth assess`` and the Accuracy assessment algorithm run); ``validation_name``: what the messages
    and ``accuracy.md`` call the validation labels, where they are a copy."""
    inputs = [class_map_path, validation_path, classes_path, exclude_path]
    if out_dir is not None:
        check_accuracy_folder(Path(out_dir), inputs, overwrite)  # said at once, not after reading the map
    from ..report import warnings_of_this_run

    with warnings_of_this_run() as said:  # the training pixels left out, say: said in accuracy.md too
        ev = evaluate_map(class_map_path, validation_path, class_field=class_field, classes_path=classes_path,
                          exclude_path=exclude_path, exclude_field=exclude_field, training_beside=training_beside,
                          validation_name=validation_name, reporter=reporter)
    if out_dir is not None:
        write_accuracy(ev, Path(out_dir), overwrite=overwrite, inputs=inputs,
                       what=f"accuracy assessment of {Path(class_map_path).name}",
                       document=accuracy_document(ev, class_map_path, validation_path, exclude_path, said,
                                                  validation_name))
    return ev


def training_folder_beside(class_map_path: str | os.PathLike) -> Optional[Path]:
    """The classifier folder a run saved beside its class map, which knows the pixels it learnt from
    (:func:`training_pixels_beside`); None where there is none."""
    from ..classifier_bundle import CLASSIFIER_KIND
    from ..ldm.bundle import read_bundle_meta
    from ..model_folders import CLASSIFIER_FOLDER

    folder = Path(class_map_path).parent / CLASSIFIER_FOLDER
    return folder if read_bundle_meta(folder).get("kind") == CLASSIFIER_KIND else None


def training_pixels_beside(class_map_path: str | os.PathLike, grid: Scene) -> Optional[tuple[Path, np.ndarray]]:
    """``(folder, (M, 2) rows and cols)``: the pixels of ``grid`` that the classifier saved beside a run's class
    map learnt from (the run's ``classifier_bundle``: an output folder holds one run, so it made the map); None
    without one, or when it kept no training pixels on this grid's lattice."""
    from ..classifier_bundle import TRAINING_PART, own_training_pixels
    from ..ldm.bundle import read_bundle_meta, read_bundle_part

    folder = training_folder_beside(class_map_path)
    if folder is None:
        return None
    pixels = read_bundle_part(folder, TRAINING_PART).get("pixels")
    if pixels is None:
        return None
    own = own_training_pixels({**read_bundle_meta(folder), "training_pixels": np.asarray(pixels, np.int64)}, grid)
    return None if own is None else (folder, own)


def _excluded_pixels(path: str | os.PathLike, grid: Scene, field: Optional[str],
                     validation_field: Optional[str]) -> np.ndarray:
    """The pixels the labels at ``path`` label (their classes do not matter), for leaving them out. Without
    ``field``, the validation labels' field is tried first: training and validation layers often share one."""
    from ..io.labels import LabelReadError, read_labels

    if field is None and validation_field is not None:
        try:
            return read_labels(path, grid, class_field=validation_field, min_classes=1)[0]
        except LabelReadError:  # no such field there, say: the guess below says what is wrong, if anything
            pass
    return read_labels(path, grid, class_field=field, min_classes=1, field_option="--exclude-field")[0]


def class_names_of_map(path: str | os.PathLike) -> dict[int, str]:
    """Class names stored with a class map: its raster attribute table, else GDAL category names."""
    from osgeo import gdal

    try:
        ds = gdal.Open(str(path))
    except RuntimeError:
        return {}
    if ds is None:
        return {}
    band = ds.GetRasterBand(1)
    rat = band.GetDefaultRAT()
    if rat is not None and rat.GetRowCount():
        cols = {rat.GetNameOfCol(i).lower(): i for i in range(rat.GetColumnCount())}
        value = cols.get("value")
        name = cols.get("class_name", cols.get("class"))
        if value is not None and name is not None:
            return {rat.GetValueAsInt(r, value): rat.GetValueAsString(r, name) for r in range(rat.GetRowCount())}
    names = band.GetCategoryNames() or []
    return {i: n for i, n in enumerate(names) if n}


def classes_of_map(path: str | os.PathLike, ids: Sequence[int]) -> list[ClassInfo]:
    """The classes ``ids`` of a class map as it stores them: names as :func:`class_names_of_map` reads them and
    colours from its colour table, else ``class N`` in the palette's colours (for points labelled against it)."""
    from osgeo import gdal

    names = class_names_of_map(path)
    try:
        ds = gdal.Open(str(path))
    except RuntimeError:
        ds = None
    table = ds.GetRasterBand(1).GetColorTable() if ds is not None else None
    out = []
    for k, class_id in enumerate(sorted(int(i) for i in ids)):
        entry = table.GetColorEntry(class_id) if table is not None and class_id < table.GetCount() else None
        colour = tuple(int(v) for v in entry[:3]) if entry is not None else default_color(k)
        out.append(ClassInfo(class_id, names.get(class_id, f"class {class_id}"), colour))
    return out

