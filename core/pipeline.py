"""Scene + sparse labels + prompts in, classified map out: the product's main job, files at the edges."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection, Optional, Sequence

import numpy as np

from .attention import ATTENTION_ARRAYS, ATTENTION_FIGURE
from .device import CPU_ONLY_METHODS, check_device, note_cpu_only
from .evaluation.assess import assessments_of
from .evaluation.sampling import labelled_sample_design
from .methods import (METHOD_TITLES, MODEL_METHODS, SYNTHESISING_METHODS, FittedMethod, MethodSettings,
                      check_text_weights, clipped_note, fit_method, needs_synthesis_model, resolve_patch_size,
                      run_title, synthesis_config)
from .classifier_bundle import (_load_classifier, _patch_side, _reach, _training_pixels, own_training_pixels,
                                _without_training_pixels, load_classifier, save_classifier)  # noqa: F401 (load_…)
from .model_folders import CLASSIFIER_FOLDER, SYNTHESIS_BUNDLE, check_model_folder
from .outputs import (RUN_STAGING, OutputExistsError, check_output_folder, claim_output_folder,  # noqa: F401
                      earlier_outputs, move_outputs)
from .io.band_choice import band_numbers_text, describe_bands, parse_bands_to_leave_out
from .io.patch_files import MOSAIC_CLASSES, PATCH_FORMATS, companion_files
from .label_checks import check_labels
from .run_checks import (bands_beyond_trained, check_model_fits, check_patch_fits, check_same_wavelengths,
                         describe_model_bands, leave_out_as_trained, leave_out_told, read_labels_and_classes,
                         scored_validation, warn_of_empty_prompts, warn_of_unusable_bands)
from .progress import NULL_REPORTER, Reporter
from .markdown_text import md_text
from .report import MAP_FIGURE, SYNTHETIC_SUMMARY, warnings_of_this_run
from .run_record import RUN_CLASSES, RUN_RECORD, input_said, run_record, write_run_record
from .version import engine_description
from .scale_check import GatheringReader, refuse_other_units, typical_levels, typical_value, warn_of_scale
from .scene import ClassInfo, Scene
from .training_area import TrainingArea, labelled_area, learns_from_labelled_area

if TYPE_CHECKING:
    from .evaluation.assess import ValidationPixels
    from .io.windows import PixelSpectra
    from .scene_maps import MappedScene

log = logging.getLogger("hypersynth")
CLASSIFY_READ_SHARE = 0.1  # of classify's progress bar: reading the scene (a plain raster: finding its valid pixels)
# methods that learn from the labelled pixels' spectra alone: on a plain raster their runs stream the scene
STREAMED_METHODS = ("rf", "svm")

# Output file names inside the output folder; a run writes all of them or none.
CLASS_MAP = "classification.tif"
CONFIDENCE = "confidence.tif"
PROBABILITIES = "probabilities.tif"  # on request: one band per class
COG_MAP = "classification_cog.tif"  # the command line's --cog: the class map as a Cloud-Optimised GeoTIFF
REPORT = "report.md"
REPORT_HTML = "report.html"
METRICS = "metrics.json"
SYNTHETIC = SYNTHETIC_SUMMARY
CLIPPED_WARNING = 0.01  # a share of synthetic values clipped into the scene's range worth a warning, not a note
SYNTHETIC_PATCHES = "synthetic_patches"  # + .tif, .csv or .npz: the synthetic patches learnt from, on request
BUNDLE = SYNTHESIS_BUNDLE
CLASSIFIER_BUNDLE = CLASSIFIER_FOLDER
# what each of a run's main files holds, for the report's "Files" section (an analyst opening report.html)
FILE_NOTES = {
    CLASS_MAP: "the class map: class ids with their colours and names (0: unclassified); QGIS styles it from the "
               ".qml beside it",
    CLASS_MAP.replace(".tif", ".qml"): "the class map's QGIS style: its classes' colours and names",
    CONFIDENCE: "band 1: the winning class's probability (0..1); band 2: the uncertainty, the probabilities' "
                "entropy over its maximum (0 sure, 1 every class alike); -1 where unclassified",
    PROBABILITIES: "each class's probability, a float32 band per class named by it; -1 where unclassified",
    METRICS: "the accuracy figures of this report, as JSON",
    RUN_RECORD: "what the run was, as JSON: its method and settings, the classifier's and the synthesis's, its input "
                "files, what it warned of, engine and time, and its labels' cross-validated accuracy",
    RUN_CLASSES: "the labels' classes with the names, prompts and colours this run used, a class file (the dock's "
                 "Load classes… and the command line's --prompts read it)",
    BUNDLE: "the trained synthesis model (reuse it with --synthesis-model, or for prompt previews in QGIS)",
    CLASSIFIER_BUNDLE: "the trained classifier (apply it to another scene of the same sensor with `classify`)",
    # the run's synthetic patches: the classifier's training data beside the labels, unless the notes say that the
    # labels' CV left them out ("choose")
    SYNTHETIC_PATCHES + ".tif": "the run's synthetic patches (the notes say whether the classifier learnt from "
                                "them), side by side, with wavelengths (their classes in "
                                f"{SYNTHETIC_PATCHES}{MOSAIC_CLASSES}.tif)",
    SYNTHETIC_PATCHES + ".csv": "the centre spectra of the run's synthetic patches (the notes say whether the "
                                "classifier learnt from them), a spectral library (one row a patch)",
    SYNTHETIC_PATCHES + ".npz": "the run's synthetic patches (the notes say whether the classifier learnt from them), "
                                "with their labels, per-pixel classes and prompts (NumPy)",
}


@dataclass
class ClassificationOutputs:
    """Where a finished run put its results."""

    class_map: Path  # classified GeoTIFF (colour table, class names, 0 = unclassified) + .qml style
    confidence: Path  # float32 GeoTIFF: band 1 max class probability, band 2 normalised entropy; -1 unclassified
    report: Path  # Markdown report (report.html beside it)
    metrics: Optional[dict]  # accuracy against validation labels, when given
    classes: list[ClassInfo]  # classes in the map, with colours and prompts
    bundle: Optional[Path] = None  # the saved synthesis model (Augment & Classify)
    classifier: Optional[Path] = None  # the saved classifier (what `classify --classifier` applies elsewhere)
    synthetic_summary: Optional[Path] = None  # per-class counts and spectral agreement of synthetic data
    attention: Optional[Path] = None  # one synthetic patch per class with its prompt words' cross-attention (.npz)
    probabilities: Optional[Path] = None  # float32 GeoTIFF, a band per class (asked for), -1 where unclassified
    synthetic_patches: Optional[Path] = None  # the synthetic patches learnt from (asked for): .tif, .csv or .npz
    files: list[Path] = field(default_factory=list)  # every file written
    replaced: list[str] = field(default_factory=list)  # an earlier run's outputs there, replaced or removed (overwrite)
    # the cross-validated balanced accuracy on the labels of the blend smoothed as the map is (optimistic: few labels,
    # its shares and width picked on the same folds), the one figure a run without validation labels has; None where
    # the labels were not cross-validated
    labels_cv_accuracy: Optional[float] = None


# GDAL's statistics beside a raster (QGIS writes them when it shows one): an earlier run's would describe the old
# values, so they go with the rasters
RASTER_SIDECARS = [CLASS_MAP + ".aux.xml", CONFIDENCE + ".aux.xml", PROBABILITIES + ".aux.xml"]


def _outputs_for(method: str) -> list[str]:
    names = [CLASS_MAP, CLASS_MAP.replace(".tif", ".qml"), *RASTER_SIDECARS, CONFIDENCE, PROBABILITIES, REPORT,
             REPORT_HTML, METRICS, RUN_RECORD, "confusion.png", "spectra.png", MAP_FIGURE]
    names.append(CLASSIFIER_BUNDLE)  # every method's classifier saves as tensors
    names.append(RUN_CLASSES)
    if method in MODEL_METHODS:  # the run saves the synthesis model
        names.append(BUNDLE)
    if method in SYNTHESISING_METHODS:  # the report summarises and plots the synthetic patches
        names += [SYNTHETIC, ATTENTION_FIGURE, ATTENTION_ARRAYS, "pca.png"]
        names += [SYNTHETIC_PATCHES + end for end in PATCH_FORMATS]  # on request; the mosaic's class raster too
        names += [SYNTHETIC_PATCHES + ".tif.aux.xml", *(n.name for n in companion_files(SYNTHETIC_PATCHES + ".tif"))]
        names += [SYNTHETIC_PATCHES + MOSAIC_CLASSES + ".tif.aux.xml"]
    return names


# what a saved classifier writes when it classifies a scene (classify_with_model)
MODEL_RUN_OUTPUTS = [CLASS_MAP, CLASS_MAP.replace(".tif", ".qml"), *RASTER_SIDECARS, CONFIDENCE, PROBABILITIES,
                     METRICS, RUN_RECORD, REPORT, REPORT_HTML, "confusion.png", MAP_FIGURE]
# the --cog copy of the class map with its style and statistics, written after a run into its folder
COG_OUTPUTS = [COG_MAP, COG_MAP.replace(".tif", ".qml"), COG_MAP + ".aux.xml"]
# every name any run writes: an output folder holds one run's files, never a mix of two (an earlier run's COG
# goes with its map)
ALL_OUTPUTS = sorted(set(MODEL_RUN_OUTPUTS + COG_OUTPUTS).union(*(_outputs_for(m) for m in METHOD_TITLES)))


def classify_scene(scene_path: str | os.PathLike, labels_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                   method: str = "augment", classes_path: Optional[str | os.PathLike] = None,
                   class_field: Optional[str] = None, validation_path: Optional[str | os.PathLike] = None,
                   preset: str = "fast", seed: int = 0, bundle_path: Optional[str | os.PathLike] = None,
                   settings: Optional[MethodSettings] = None, reporter: Reporter = NULL_REPORTER,
                   overwrite: bool = False, probabilities: bool = False,
                   approved: Optional[Collection[str]] = None, training_area: str = "auto",
                   synthetic_patches: Optional[str] = None,
                   validation_field: Optional[str] = None, labels_name: Optional[str] = None,
                   validation_name: Optional[str] = None,
                   leave_out_bands: Optional[str] = None) -> ClassificationOutputs:
    """Read a scene and its labels, train ``method``, classify every pixel, write maps and a report
    (``probabilities``: also each class's probability, a band per class; ``approved``: with ``overwrite``, the
    earlier outputs the analyst agreed to replace when asked: any other found when the run starts is refused;
    ``synthetic_patches``: ".tif", ".csv" or ".npz", also the synthetic patches the classifier learnt from, as
    ``synthetic_patches.tif`` etc. (:mod:`.io.patch_files`), for a method that synthesises; ``validation_field``: the
    validation labels' class field where it is not ``class_field``'s name, as the plugin's dock gives it;
    ``labels_name``, ``validation_name``: what the run's messages and report call the labels where their file is a
    copy made for the run, as the plugin's of a QGIS layer ("the layer 'labels' (labels.gpkg)"); None: the file;
    ``leave_out_bands``: bands of the scene this run leaves out besides those its file flags bad (the analyst's
    noisy bands, :data:`.io.band_choice.LEAVE_OUT_FORMAT`), as a run on the scene imported without them would
    (:func:`.io.band_choice.leave_out_in_run`); the scene's file is not touched).

    A random forest or an SVM learns from the labelled pixels' spectra alone: a plain raster's pixels are streamed.
    The other methods learn from the scene (``training_area`` "scene") or, a plain raster's, from the area around its
    labels ("labelled-area"; :mod:`.training_area`), whose map is then predicted tile by tile from the file; "auto":
    the labelled area when the whole scene would take over half of the memory available.

    Everything is written into a staging folder inside ``out_dir`` and moved into place only when the
    whole run succeeded, so a cancelled or failed run leaves nothing half-written behind.
    """
    from .io.read import plain_raster_shape

    out = Path(out_dir)
    inputs = run_inputs(scene_path, labels_path, classes_path, validation_path, bundle_path)
    settings = settings or MethodSettings(preset=preset, seed=seed)
    check_device(settings.device)  # these before the output folder is claimed
    if bundle_path is not None and method in MODEL_METHODS:
        check_model_folder(bundle_path, "synthesis")
    elif needs_synthesis_model(method, settings):  # one trained here: its text tower's weights, before the VAE
        check_text_weights(settings)
    if method in CPU_ONLY_METHODS:
        note_cpu_only(settings.device, METHOD_TITLES[method])
    if synthetic_patches is not None:
        synthetic_patches = check_synthetic_patches(synthetic_patches, method)
    if leave_out_bands is not None:
        parse_bands_to_leave_out(leave_out_bands)  # its form, before the output folder is claimed
    by_area = method not in STREAMED_METHODS and learns_from_labelled_area(
        training_area, plain_raster_shape(scene_path) if training_area != "scene" else None)  # the header alone
    # held from the check for an earlier run's outputs until this run's have moved in, so no other run passes
    # the check meanwhile; a folder the claim made is removed when a failed run leaves it empty
    with claim_output_folder(out, f"{METHOD_TITLES.get(method, method)} of {Path(scene_path).name}"):
        kept = check_run_folder(out, inputs, overwrite, bundle_path, approved)
        replaced = earlier_outputs(out, ALL_OUTPUTS, kept=kept)  # which this run replaces
        warn_of_stale_assessments(out, replaced)
        outputs = _classify_scene(out, scene_path, labels_path, inputs, method=method, classes_path=classes_path,
                                  class_field=class_field, validation_path=validation_path,
                                  validation_field=validation_field or class_field,
                                  settings=settings, bundle_path=bundle_path, reporter=reporter,
                                  probabilities=probabilities, by_area=by_area,
                                  area_chosen=by_area and training_area == "auto",
                                  synthetic_patches=synthetic_patches, leave_out_bands=leave_out_bands,
                                  names={"label file": labels_name, "validation labels": validation_name})
        outputs.replaced = replaced
        return outputs


def warn_of_stale_assessments(out: Path, replaced: Sequence[str]) -> None:
    """Warn of accuracy assessments in ``out``'s sub-folders (``hypersynth assess --out run/accuracy``) of the class
    map, or its --cog copy, that this run replaces or removes: they are the user's, so they stay, but their figures
    are the earlier map's."""
    for name in (CLASS_MAP, COG_MAP):
        if name not in replaced:
            continue
        for folder in assessments_of(out / name):
            log.warning("%s holds an accuracy assessment of the class map this run replaces (%s): its figures are "
                        "the earlier map's; assess the new map again, into that folder with overwriting allowed",
                        folder, name)


def run_inputs(scene_path: Any, labels_path: Any, classes_path: Any = None, validation_path: Any = None,
               bundle_path: Any = None) -> list[Optional[str | os.PathLike]]:
    """The files a :func:`classify_scene` run reads, in its order, which no output may replace
    (:func:`check_run_folder`)."""
    return [scene_path, labels_path, classes_path, validation_path, bundle_path]


def check_run_folder(out: Path, inputs: Sequence[Optional[str | os.PathLike]], overwrite: bool,
                     bundle_path: Optional[str | os.PathLike], approved: Optional[Sequence[str]] = None) -> list[str]:
    """Refuse an output folder :func:`classify_scene` may not write (:func:`~.outputs.check_output_folder`: an
    earlier run's outputs without ``overwrite``, an input where an output goes); the earlier outputs it keeps
    (:func:`kept_outputs`). A caller that says something before the run calls it first, so that a refusal comes
    before the note."""
    kept = kept_outputs(Path(out), bundle_path)
    check_output_folder(Path(out), ALL_OUTPUTS, inputs, overwrite, kept=kept, approved=approved)
    return kept


def kept_outputs(out: Path, bundle_path: Optional[str | os.PathLike]) -> list[str]:
    """The earlier outputs in ``out`` a run may keep: the model bundle it reuses (saved again unchanged)."""
    reused = bundle_path is not None and Path(bundle_path).expanduser().resolve() == (Path(out) / BUNDLE).resolve()
    return [BUNDLE] if reused else []


def _classify_scene(out: Path, scene_path: str | os.PathLike, labels_path: str | os.PathLike, inputs: list, *,
                    method: str, classes_path: Optional[str | os.PathLike], class_field: Optional[str],
                    validation_path: Optional[str | os.PathLike], settings: MethodSettings,
                    bundle_path: Optional[str | os.PathLike], reporter: Reporter,
                    probabilities: bool = False, by_area: bool = False, area_chosen: bool = False,
                    synthetic_patches: Optional[str] = None, validation_field: Optional[str] = None,
                    names: Optional[dict[str, Optional[str]]] = None,
                    leave_out_bands: Optional[str] = None) -> ClassificationOutputs:
    """:func:`classify_scene` once its output folder is ready; ``by_area``: the models learn from the labelled area
    (``area_chosen``: chosen for the scene's size, which the run then warns of); ``names``: what the messages and
    the report call an input, by the report's word for it ("label file"), where not its file's name."""
    from .io.labels import read_labels
    from .io.read import read_scene, read_scene_layout

    names = {what: name for what, name in (names or {}).items() if name}

    if bundle_path is not None and method in MODEL_METHODS:
        from .ldm.model import SynthesisModel

        settings.synthesis_model = SynthesisModel.load(bundle_path, device=settings.device)

    with warnings_of_this_run() as said:  # what the run warns of goes into its report too
        reporter.progress(0.0, "reading scene")
        reading = reporter.sub(0.0, 0.01, "reading scene: ")
        # a spectral classifier learns from its labelled pixels alone: a plain raster's pixels are then streamed
        layout = read_scene_layout(scene_path, reading) if method in STREAMED_METHODS or by_area else None
        if layout is not None:  # a run that learns holds its labels whole (a byte a pixel): its valid mask too
            layout.valid = np.asarray(layout.valid)
        scene = layout or read_scene(scene_path, reporter=reading)  # a product's unpacking too
        reused = settings.synthesis_model
        leave_out_as_trained(scene, leave_out_bands, reused.named_left_out if reused is not None else None,
                             reused.scene_bands if reused is not None else None, "synthesis model")
        warn_of_unusable_bands(scene, scene_path, streamed=layout is not None)
        labels_name = names.get("label file", Path(labels_path).name)
        labels, classes = read_labels_and_classes(labels_path, scene, classes_path, class_field, labels_name)
        check_labels(labels, scene.valid, classes, labels_name, method, settings)
        validation = None
        if validation_path is not None:
            design = labelled_sample_design(validation_path, validation_field, scene,  # unlabelled: said
                                            names.get("validation labels"))
            label_map, _ = read_labels(validation_path, scene, class_field=validation_field, classes=classes,
                                       min_classes=1)
            validation = scored_validation(label_map, labels, scene, classes, validation_path,
                                           names.get("validation labels"), design)  # not the map
            del label_map
        check_patch_fits(settings, scene)
        check_model_fits(settings, scene)
        if method in SYNTHESISING_METHODS:
            warn_of_empty_prompts(classes)

        streamed, area = None, None
        if layout is not None:  # what the models learn from read now; the rest window by window as prediction goes
            streamed, cube, area = _streamed_inputs(layout, labels, by_area, area_chosen,
                                                    reporter.sub(0.01, 0.02, "reading scene: "))
        else:
            scene, cube = scene.split_usable()  # from here on the run needs the usable bands' pixels only
        staging = Path(tempfile.mkdtemp(prefix=RUN_STAGING, dir=out))
        try:
            result = run_on_scene(scene, cube, labels, classes, method, settings, staging, validation=validation,
                                  reporter=reporter, probabilities=probabilities, warnings=said, streamed=streamed,
                                  area=area, synthetic_patches=synthetic_patches,
                                  inputs=[("scene file", scene_path), ("label file", labels_path),
                                          ("class file", classes_path), ("validation labels", validation_path),
                                          ("reused synthesis model", bundle_path)], names=names)
            reporter.check()
            moved = move_outputs(staging, out, ALL_OUTPUTS, inputs)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    written = set(moved)
    return ClassificationOutputs(
        class_map=out / CLASS_MAP, confidence=out / CONFIDENCE, report=out / REPORT,
        metrics=result.get("metrics"), classes=classes, labels_cv_accuracy=result.get("labels_cv_accuracy"),
        bundle=(out / BUNDLE) if (out / BUNDLE) in written else None,
        classifier=(out / CLASSIFIER_BUNDLE) if (out / CLASSIFIER_BUNDLE) in written else None,
        synthetic_summary=(out / SYNTHETIC) if (out / SYNTHETIC) in written else None,
        attention=(out / ATTENTION_ARRAYS) if (out / ATTENTION_ARRAYS) in written else None,
        probabilities=(out / PROBABILITIES) if (out / PROBABILITIES) in written else None,
        synthetic_patches=next((out / (SYNTHETIC_PATCHES + end) for end in PATCH_FORMATS
                                if out / (SYNTHETIC_PATCHES + end) in written), None), files=moved)


def check_synthetic_patches(kind: str, method: str) -> str:
    """``kind`` (".tif", ".csv" or ".npz"; "tif" will do) as :func:`classify_scene` takes it, for a ``method`` that
    synthesises patches; a clear error for another format or method."""
    from .io.patch_files import patch_format

    if method not in SYNTHESISING_METHODS:
        raise ValueError(f"{METHOD_TITLES[method]} synthesises no patches to write; the synthetic patches come with "
                         "Augment & Classify")
    return patch_format(SYNTHETIC_PATCHES + "." + kind.lstrip("."))


def _streamed_inputs(layout: Scene, labels: np.ndarray, by_area: bool, area_chosen: bool, reporter: Reporter
                     ) -> tuple[GatheringReader, "np.ndarray | PixelSpectra", Optional[TrainingArea]]:
    """What a run on a plain raster's ``layout`` reads before it trains: ``(the scene's usable bands window by window,
    for the prediction; what the models learn from; the labelled area or None)``. ``by_area``: the usable cube of the
    area around the labels (``area_chosen``: chosen for the scene's size, which is warned of); else the labelled
    pixels' spectra only."""
    from .io.windows import read_pixel_spectra

    streamed = _streamed_scene(layout)
    labelled = (labels > 0) & layout.valid
    if not by_area:
        return streamed, read_pixel_spectra(streamed, labelled, reporter), None
    area = labelled_area(labelled, streamed.shape[0], layout.name)
    if area_chosen:
        log.warning("%s takes over half of the memory available read whole: the models learn from the area around "
                    "the labels (%s), and the whole scene is mapped tile by tile", layout.name, area.describe())
    return streamed, area.read(streamed, layout.valid, reporter), area


def _streamed_scene(layout: Scene) -> GatheringReader:
    """A plain raster's usable bands read window by window, its scale check's pixels gathered as they pass."""
    from .io.windows import raster_window_reader

    return GatheringReader(raster_window_reader(layout.source, np.flatnonzero(layout.good_bands) + 1), layout.valid)


def run_on_scene(scene: Scene, cube: "np.ndarray | PixelSpectra", labels: np.ndarray, classes: list[ClassInfo],
                 method: str, settings: MethodSettings, out: Path, *, validation: Optional[ValidationPixels] = None,
                 reporter: Reporter = NULL_REPORTER, probabilities: bool = False,
                 warnings: Sequence[str] = (), inputs: Sequence[tuple[str, Any]] = (),
                 streamed: Optional[GatheringReader] = None, area: Optional[TrainingArea] = None,
                 synthetic_patches: Optional[str] = None, names: Optional[dict[str, str]] = None) -> dict:
    """Train, predict the whole scene and write every output into ``out`` (a staging folder); ``scene`` and ``cube``:
    :meth:`Scene.split_usable`'s; ``warnings``: what the run warned of, for the report (a list still filled as the
    run goes); ``inputs``: ``(what, path)`` of the run's input files, for the report. ``streamed``: the scene's usable
    bands read window by window (a plain raster's), predicted from; ``scene`` is then its layout and ``cube`` either
    the labelled pixels' spectra only (:class:`~.io.windows.PixelSpectra`, a :data:`STREAMED_METHODS` run), or the
    usable cube of ``area`` alone, the part of the scene the models learn from, laid out as its grid
    (:class:`~.training_area.TrainingArea`). ``synthetic_patches``: ".tif", ".csv" or ".npz", the format to write
    the synthetic patches learnt from in, when asked for; ``names``: what the report calls an input whose file is a
    copy made for the run, by its word in ``inputs``."""
    from .io.classes import write_classes
    from .report import write_report

    t0 = time.perf_counter()
    learnt_valid, learnt_labels = (scene.valid, labels) if area is None else (area.take(scene.valid), area.take(labels))
    fitted = fit_method(method, cube, learnt_valid, learnt_labels, classes, settings,
                        wavelengths=scene.usable_wavelengths(), reporter=reporter.sub(0.02, 0.8))
    t_fit = time.perf_counter() - t0
    used = [c for c in classes if c.id in set(fitted.class_ids.tolist())]
    maps = write_maps(fitted.classifier, fitted.class_ids, classes, used, scene,
                      cube if streamed is None else streamed, out, probabilities=probabilities,
                      scored=None if validation is None else validation.flat, reporter=reporter.sub(0.8, 0.95))
    reporter.progress(0.96, "report")
    ev = None
    training = _training_pixels(labels, scene.valid)  # (M, 2): what the models learnt from, on the scene's grid
    if validation is not None:
        from .evaluation.assess import evaluate_scored, write_evaluation

        reach, reach_means = _reach(fitted.classifier)
        ev = evaluate_scored(validation, maps, used, scene, training=training, reach=reach, reach_means=reach_means,
                             map_name=CLASS_MAP)
        write_evaluation(ev, out, warnings)
    attention_rows: list = []  # one synthetic patch per class with its prompt words' maps, when the run made them
    if fitted.synthesis_model is not None:
        describe_model_bands(fitted.synthesis_model, scene)  # a reused one passed check_model_fits: same bands
        fitted.synthesis_model.save(out / BUNDLE)
        if fitted.synthetic is not None:  # the report and the attention dock show what it reads in each prompt
            from .attention import class_attention, per_class, write_class_attention

            attention = class_attention(fitted.synthesis_model, used, settings.seed,  # started as the run's were
                                        reporter.sub(0.96, 0.98, "attention "),
                                        anchor_strength=settings.anchor_strength, guidance=settings.guidance,
                                        steps=settings.steps or None)
            if len(attention):
                attention_rows = per_class(attention, used)
                write_class_attention(out, attention_rows, fitted.synthesis_model.wavelengths)
            reporter.progress(0.98, "report")  # the attention's stage name ends with its sampling
        if fitted.synthetic is not None and synthetic_patches is not None:
            from .io.patch_files import write_patches

            syn = fitted.synthetic
            if len(syn):
                write_patches(out / (SYNTHETIC_PATCHES + synthetic_patches), syn.patches, syn.labels, syn.masks,
                              syn.prompts, classes=used, **fitted.synthesis_model.band_facts())
            else:  # every one dropped by the check against the labelled spectra (the report's notes say so)
                log.warning("no synthetic patch was kept, so no %s%s is written", SYNTHETIC_PATCHES,
                            synthetic_patches)
    write_classes(out / RUN_CLASSES, classes)  # the analyst's prompts outlive the project: Load classes… reads them
    if hasattr(fitted.classifier, "to_tensors"):
        median, high = typical_levels(cube, scene.valid) if streamed is None else streamed.typical_levels()
        save_classifier(out / CLASSIFIER_BUNDLE, fitted, used, scene, median, training=training, high_value=high)
    device = network_device(fitted.method, settings.device)  # None: scikit-learn's, which no preset shapes
    record = run_record(METHOD_TITLES.get(method, method), inputs, names, method=method, seed=settings.seed,
                        preset=settings.preset if device else None, device=device,
                        classifier=classifier_record(fitted, settings), synthesis=synthesis_record(fitted, settings))
    write_report(out, scene=scene, labels=labels, classes=used, fitted=fitted, method_title=run_title(method, settings),
                 evaluation=ev, seconds_training=t_fit, cube=cube, mapped=maps.pixels, attention=attention_rows,
                 files=files_in(out, coming=[RUN_RECORD]), warnings=warnings, class_map=out / CLASS_MAP,
                 learnt=(learnt_labels, learnt_valid), run_facts=run_facts(settings, fitted, inputs, names)
                 + ([area.fact()] if area is not None else []) + named_left_out_fact(scene))
    write_run_record(out, record, warnings, labels_cv_accuracy(fitted))  # after the report: every warning it lists
    if ev is not None:  # written before the report for its figure; now with every warning the report lists
        from .evaluation.assess import write_metrics

        write_metrics(ev, out, warnings, record)
    reporter.progress(1.0, "done")
    return {"metrics": None if ev is None else ev.to_dict(), "fitted": fitted,
            "labels_cv_accuracy": labels_cv_accuracy(fitted)}


def classify_with_model(model_path: str | os.PathLike, scene_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                        validation_path: Optional[str | os.PathLike] = None, class_field: Optional[str] = None,
                        device: str = "auto", reporter: Reporter = NULL_REPORTER,
                        overwrite: bool = False, probabilities: bool = False,
                        leave_out_bands: Optional[str] = None,
                        validation_name: Optional[str] = None, accept_other_units: bool = False,
                        other_units_option: str = "pass accept_other_units=True") -> ClassificationOutputs:
    """Classify a scene with a saved classifier bundle (e.g. a scene the model has never seen); ``probabilities``:
    also each class's probability, a band per class; ``leave_out_bands``: bands of the scene to leave out besides
    those its file flags bad (:func:`classify_scene`'s); None: those the classifier's training run was told to leave
    out, where the scene has as many bands as its scene had; ``validation_name``: what the messages and the report
    call the validation labels where they are a copy of a layer (the layer, not the copy). A scene whose values are
    in other units than the classifier learnt (:func:`.scale_check.refuse_other_units`: 1000 times theirs, or 30
    times with its bright values too, either way) is refused before the prediction unless ``accept_other_units``;
    ``other_units_option``: how the refusal tells
    the caller to map it anyway."""
    out = Path(out_dir)
    inputs = [model_path, scene_path, validation_path]
    check_model_folder(model_path, "classifier")  # these three before the output folder is claimed
    check_device(device)
    if leave_out_bands is not None:
        parse_bands_to_leave_out(leave_out_bands)
    with claim_output_folder(out, f"classifying {Path(scene_path).name} with {Path(model_path).name}"):
        check_output_folder(out, ALL_OUTPUTS, inputs, overwrite,  # under the claim (which made the folder)
                            writes=MODEL_RUN_OUTPUTS)
        replaced = earlier_outputs(out, ALL_OUTPUTS)  # an earlier run's, which this run replaces or removes
        warn_of_stale_assessments(out, replaced)
        with warnings_of_this_run() as said:  # what the run warns of goes into its report too
            outputs = _classify_with_model(out, model_path, scene_path, inputs, validation_path=validation_path,
                                           class_field=class_field, device=device, reporter=reporter,
                                           probabilities=probabilities, said=said, leave_out_bands=leave_out_bands,
                                           validation_name=validation_name,
                                           other_units=None if accept_other_units else other_units_option)
        outputs.replaced = replaced
        return outputs


def _classify_with_model(out: Path, model_path: str | os.PathLike, scene_path: str | os.PathLike, inputs: list, *,
                         validation_path: Optional[str | os.PathLike], class_field: Optional[str], device: str,
                         reporter: Reporter, probabilities: bool, said: Sequence[str],
                         leave_out_bands: Optional[str] = None, validation_name: Optional[str] = None,
                         other_units: Optional[str] = None) -> ClassificationOutputs:
    """:func:`classify_with_model` once its output folder is ready; ``said``: the run's warnings, for its report
    (a list still filled as the run goes); ``other_units``: a scene in other units is refused, saying this to map it
    anyway (None: mapped, with a warning)."""
    from .evaluation.assess import evaluate_scored, write_evaluation
    from .io.labels import read_labels
    from .io.read import read_scene, read_scene_layout
    from .report import (bands_left_out_fact, class_map_figure, files_section, mapped_area_columns, warnings_section,
                         write_markdown_and_html)

    clf, class_ids, classes, meta = _load_classifier(model_path, device)
    reading = reporter.sub(0.0, CLASSIFY_READ_SHARE, "reading scene: ")
    layout = read_scene_layout(scene_path, reading)  # a plain raster's pixels are streamed, never held whole
    scene = layout or read_scene(scene_path, reporter=reading)  # a product's unpacking too
    trained_without = meta.get("named_left_out")  # the bands its training run was told to leave out, or None
    leave_out_as_trained(scene, leave_out_bands, trained_without, meta.get("scene_bands"), "classifier")
    bands = int(scene.good_bands.sum())
    beyond = bands_beyond_trained(scene, meta.get("wavelengths"), meta.get("scene_bands")) if bands != meta["bands"] \
        else None
    if beyond is not None:  # the sensor's bands and more (fewer flagged bad): those it learnt from, by wavelength
        n = int(beyond.sum())
        log.warning("%s: %d of its usable bands %s at none of the %d wavelengths the classifier learnt from (%s): "
                    "%s left out, and it maps with the %d it knows", Path(scene_path).name, n,
                    "lies" if n == 1 else "lie", meta["bands"], describe_bands(beyond, scene.wavelengths),
                    "it is" if n == 1 else "they are", meta["bands"])
        leave_out_told(scene, band_numbers_text(beyond), "as the classifier did not learn from them")
        bands = int(scene.good_bands.sum())
    if bands != meta["bands"]:
        hint = (f"; its training run left out bands {trained_without} of its scene's {meta.get('scene_bands')} as "
                f"told: leave out this scene's bands that are not among those it learnt from"
                if trained_without else "")
        unusable = ~np.asarray(scene.good_bands, dtype=bool)
        where = (f" (of its {scene.bands}, left out as flagged bad, without data or as told: "
                 f"{describe_bands(unusable, scene.wavelengths)})" if unusable.any() else "")
        name = Path(scene_path).name
        raise ValueError(f"the classifier was trained on {meta['bands']} bands but {name} has {bands} usable "
                         f"bands{where}; it only applies to scenes of the same sensor and band set{hint}; to map "
                         f"{name} otherwise, train a classifier on it (Augment & Classify or a baseline, with labels "
                         "on it)")
    check_same_wavelengths(meta.get("wavelengths"), scene, "the classifier", "train one on this scene")
    screen = warn_of_unusable_bands(scene, scene_path, streamed=layout is not None, saved_classifier=True)
    if other_units is not None:  # before the validation labels and the prediction, from the pixels the screen read
        refuse_other_units(scene, screen.median, meta.get("median_value"), other_units, screen.high,
                           meta.get("high_value"))
    validation = None
    if validation_path is not None:  # checked before the prediction, which can take long on a large scene
        design = labelled_sample_design(validation_path, class_field, scene, validation_name)  # unlabelled: said
        label_map, _ = read_labels(validation_path, scene, class_field=class_field, classes=classes, min_classes=1)
        validation = scored_validation(label_map, None, scene, classes, validation_path, validation_name,
                                       design)  # not the map
        del label_map
        own = own_training_pixels(meta, scene)  # the pixels it learnt from, where this scene holds them, or None
        validation = _without_training_pixels(validation, own, scene.shape[1], validation_path)
    if layout is not None:  # its usable bands read window by window; the scale check's pixels gathered as they pass
        cube: Any = _streamed_scene(layout)
    else:
        scene, cube = scene.split_usable()
        warn_of_scale(scene, typical_value(cube, scene.valid), meta.get("median_value"))
    staging = Path(tempfile.mkdtemp(prefix=RUN_STAGING, dir=out))
    ev = None
    try:
        maps = write_maps(clf, class_ids, classes, classes, scene, cube, staging, probabilities=probabilities,
                          scored=None if validation is None else validation.flat,
                          reporter=reporter.sub(CLASSIFY_READ_SHARE, 1.0))
        if layout is not None:
            warn_of_scale(scene, cube.typical_value(), meta.get("median_value"))
        if validation is not None:
            reach, reach_means = _reach(clf)
            ev = evaluate_scored(validation, maps, classes, scene, training=own, reach=reach, reach_means=reach_means,
                                 map_name=CLASS_MAP)
        read = [("saved classifier", model_path), ("scene file", scene_path), ("validation labels", validation_path)]
        names = {"validation labels": validation_name} if validation_name else None  # a copy: the layer's name
        record = run_record("classified with a saved model", read, names, method=meta.get("method"),
                            device=network_device(meta.get("method"), device))
        write_run_record(staging, record, said, None)  # with or without validation labels
        if ev is not None:  # what the run warned of so far (the scale check's, say), and what the run was
            write_evaluation(ev, staging, said, run=record)
        lines = [f"# HyperSynth: {md_text(scene.name)} classified with a saved model", "",
                 f"- Model: {md_text(Path(model_path).resolve())} ({meta.get('method', '?')}, {meta['bands']} bands)",
                 f"- Scene: {scene.shape[0]} × {scene.shape[1]} pixels, {int(scene.good_bands.sum())} usable bands"
                 + bands_left_out_fact(scene),
                 f"- Run {datetime.now().astimezone().isoformat(timespec='seconds')}, engine {engine_description()}",
                 *(f"- {what.capitalize()}: {md_text(input_said(what, path, names))}" for what, path in read[1:]
                   if path), ""]
        trained = meta.get("training_notes") or []  # a bundle saved before session 33 has none
        if trained:
            lines += ["## How the model was trained", "", *(f"- {md_text(note)}" for note in trained), ""]
        lines += warnings_section(said)
        head, align, cells = mapped_area_columns(scene)
        lines += [f"| id | class | {head} |", f"|---|---|{align}|"]
        lines += [f"| {c.id} | {md_text(c.name)} | {cells(maps.mapped(c.id))} |" for c in classes]
        class_map_figure(staging / MAP_FIGURE, staging / CLASS_MAP, classes)
        lines += ["", "![class map](map.png)"]
        if ev is not None:
            lines += ["", "## Accuracy against the validation labels", "", ev.to_markdown(), "",
                      "![confusion matrix](confusion.png)"]
        lines += ["", *files_section(files_in(staging))]
        write_markdown_and_html(staging, lines)
        reporter.check()
        moved = move_outputs(staging, out, ALL_OUTPUTS, inputs)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ClassificationOutputs(class_map=out / CLASS_MAP, confidence=out / CONFIDENCE, report=out / REPORT,
                                 metrics=None if ev is None else ev.to_dict(), classes=classes, files=moved,
                                 probabilities=(out / PROBABILITIES) if (out / PROBABILITIES) in moved else None)


def files_in(folder: Path, coming: Collection[str] = ()) -> list[tuple[str, str]]:
    """The run's main files in ``folder`` and what each holds (:data:`FILE_NOTES`), for the report; ``coming``:
    files written after the report, listed as if there."""
    return [(name, note) for name, note in FILE_NOTES.items() if name in coming or (folder / name).exists()]


def network_device(method: Optional[str], device: str) -> Optional[str]:
    """The device a method's networks ran on ("cpu", "cuda:0"; "auto" resolved), or None for a scikit-learn method,
    which runs on the CPU whatever was asked: what a run's report and metrics.json say of it."""
    if method in CPU_ONLY_METHODS:
        return None
    from .device import resolve_device  # torch is loaded already: a network was trained or loaded

    return str(resolve_device(device))


def run_facts(settings: MethodSettings, fitted: FittedMethod, inputs: Sequence[tuple[str, Any]],
              names: Optional[dict[str, str]] = None) -> list[str]:
    """What a reader needs to run it again: when, the settings that shape the result, the patch side, the text
    encoder the prompts went through, and the input files."""
    patch = _patch_side(fitted.classifier)
    when = datetime.now().astimezone().isoformat(timespec='seconds')
    used = network_device(fitted.method, settings.device)
    if used is None:  # scikit-learn's: no network, so neither preset nor device shapes it
        facts = [f"Run {when}: seed {settings.seed}, on the CPU (scikit-learn)"]
    else:
        facts = [f"Run {when}: preset {settings.preset}, seed {settings.seed}, device {used}"
                 + (f" (from {settings.device})" if settings.device == "auto" else "")
                 + (f", patches {patch} × {patch} px "
                    f"({'as given' if settings.patch_size else 'chosen from the scene'})" if patch else "")]
    synthesis = synthesis_record(fitted, settings)
    if synthesis is not None:
        facts.append(synthesis_fact(synthesis))
    model = fitted.synthesis_model
    if model is not None:
        facts.append(f"Text encoder: {model.text_source}")
    facts += [f"{what.capitalize()}: {input_said(what, path, names)}" for what, path in inputs if path]
    return facts


def classifier_record(fitted: FittedMethod, settings: MethodSettings) -> Optional[dict[str, Any]]:
    """The classifier's settings for metrics.json's ``run`` (a script comparing runs reads them there, not in the
    report's prose): the blend's member shares and the cross-validation that chose them, the smoothing width and the
    patch side, each with whether the analyst gave it; None for a classifier without any of them."""
    classifier = fitted.classifier
    record: dict[str, Any] = {}
    choice = getattr(classifier, "choice", None)  # a blend's
    if choice is not None:
        record["blend_shares"] = {m: round(float(w), 4) for m, w in choice.weights().items()
                                  if m != "dfeat" or choice.with_dfeat}
        record.update({"blend_cv_folds": choice.folds, "blend_cv_repeats": choice.repeats,
                       "blend_share_rule": choice.rule} if choice.folds else {"blend_shares_default": True})
        record["forest_inputs"] = settings.forest_inputs  # what the blend's forest split on
        chosen, as_made = blend_cv_accuracy(fitted), map_cv_accuracy(fitted)
        if chosen is not None:
            record["blend_cv_balanced_accuracy"] = round(chosen, 4)  # before smoothing
        if as_made is not None:
            record["map_cv_balanced_accuracy"] = round(as_made, 4)  # as the map was made: the dock's figure
    if hasattr(classifier, "smoothing"):
        record["smoothing_sigma_px"] = float(classifier.smoothing)
        record["smoothing_given"] = settings.spatial_smoothing is not None  # else chosen by the labels' CV
    patch = _patch_side(classifier)
    if patch:
        record["patch_size_px"] = int(patch)
        record["patch_size_given"] = bool(settings.patch_size)  # else chosen from the scene
    return record or None


def synthesis_record(fitted: FittedMethod, settings: MethodSettings) -> Optional[dict[str, Any]]:
    """How the run made and weighed its synthetic patches, for metrics.json's ``run`` and the report's run facts:
    the preset's defaults resolved (guidance and steps are the model's); None for a method without synthesis."""
    model = fitted.synthesis_model
    if fitted.method not in SYNTHESISING_METHODS or model is None:
        return None
    from .methods import default_synthetic_per_class

    diffusion = model.config.diffusion
    return {"synthetic_per_class": settings.synthetic_per_class or default_synthetic_per_class(settings.preset),
            "synthetic_per_class_given": bool(settings.synthetic_per_class),
            "balance_rate": settings.balance_rate, "synthetic_weight": settings.synthetic_weight,
            "anchor_strength": settings.anchor_strength,
            "guidance": float(diffusion.guidance if settings.guidance is None else settings.guidance),
            "steps": int(settings.steps or diffusion.sample_steps), "filter_synthetic": settings.filter_synthetic,
            "cv_synthesis": settings.cv_synthesis}


def synthesis_fact(record: dict[str, Any]) -> str:
    """:func:`synthesis_record` as the report's run fact."""
    return (f"Synthesis: {record['synthetic_per_class']} patches for the average class "
            f"({'as given' if record['synthetic_per_class_given'] else 'the preset'}; balance rate λ "
            f"{record['balance_rate']:g}), anchor strength {record['anchor_strength']:g}, guidance ω "
            f"{record['guidance']:g}, {record['steps']} steps, synthetic weight {record['synthetic_weight']:g}"
            + (", patches nearer another class's labelled mean dropped" if record["filter_synthetic"] else ""))


def blend_cv_accuracy(fitted: FittedMethod) -> Optional[float]:
    """The chosen blend's cross-validated balanced accuracy on the real labels, before any smoothing (optimistic:
    few labels, and its shares were picked on the same folds); None for a classifier without a cross-validated
    blend."""
    choice = getattr(fitted.classifier, "choice", None)
    if choice is None or not choice.folds:
        return None
    chosen = choice.scores.get((choice.cnn_weight, choice.dfeat_weight))
    return None if chosen is None else float(chosen)


def map_cv_accuracy(fitted: FittedMethod) -> Optional[float]:
    """The cross-validated balanced accuracy on the real labels of the classifier as it made the map: the blend's
    (:func:`blend_cv_accuracy`) where the map is not smoothed, the chosen width's score where the width was
    cross-validated on the same folds; None where neither (no blend CV, or a width the analyst gave)."""
    blend = blend_cv_accuracy(fitted)
    sigma = getattr(fitted.classifier, "smoothing", 0)
    if blend is None or not sigma:  # σ 0: the blend as scored on every labelled pixel (the widths' sample them)
        return blend
    scores = getattr(fitted.classifier, "smoothing_scores", None) or {}
    return float(scores[sigma]) if sigma in scores else None


def labels_cv_accuracy(fitted: FittedMethod) -> Optional[float]:
    """The run's one figure without validation labels: :func:`map_cv_accuracy`, else the blend's before smoothing
    (the dock had always shown that one); optimistic, as both are."""
    as_made = map_cv_accuracy(fitted)
    return as_made if as_made is not None else blend_cv_accuracy(fitted)


def named_left_out_fact(scene: Scene) -> list[str]:
    """The run-facts line of the bands a run was told to leave out, as they are given again ("Bands left out as the run
    was told: 108-112,224"); none where it was told none."""
    from .io.band_choice import told_bands_text

    told = told_bands_text(scene)
    return [f"Bands left out {scene.told_by}: {told}"] if told else []


def write_maps(classifier: Any, class_ids: np.ndarray, classes: list[ClassInfo], mapped: list[ClassInfo],
               scene: Scene, cube: Any, folder: Path, *, probabilities: bool, scored: Optional[np.ndarray],
               reporter: Reporter) -> "MappedScene":
    """Predict every valid pixel and write the class map (styled with ``mapped``), the confidence and, asked for,
    the probabilities into ``folder``, tile by tile (:func:`.scene_maps.predict_and_write_maps`); returns the
    pixels mapped to each class and the classes at the ``scored`` pixels (ascending flat indices)."""
    from .scene_maps import predict_and_write_maps

    return predict_and_write_maps(classifier, class_ids, classes, mapped, scene, cube, class_map=folder / CLASS_MAP,
                                  confidence=folder / CONFIDENCE,
                                  probabilities=folder / PROBABILITIES if probabilities else None, scored=scored,
                                  reporter=reporter)


def synthesize_to_file(bundle_path: str | os.PathLike, out_path: str | os.PathLike, *, class_id: Optional[int] = None,
                       prompt: Optional[str] = None, label: int = 0, n: int = 16,
                       settings: Optional[MethodSettings] = None, attention: bool = False,
                       reporter: Reporter = NULL_REPORTER, overwrite: bool = False,
                       anchor_strength: float = 1.0) -> Path:
    """Synthesise ``n`` patches for a class (its stored prompt) or a free prompt into the file ``out_path`` names:
    a .npz (everything), a .csv spectral library of their centre spectra or a .tif mosaic with its class raster
    (:mod:`.io.patch_files`; checked before any work: :func:`~.io.patch_files.check_patches_file`).

    With ``anchor_strength`` 1 the patches are sampled from noise with the prompt alone; below 1 they start, as a
    run's, from the labelled patches of their class (``class_id``, or ``label``) kept with the model, noised this
    far. For a class the model learnt, how they compare with its labelled mean is logged (:mod:`.synthetic_check`;
    a warning when they do not look like it)."""
    from .io.patch_files import check_label, check_patches_file, write_patches
    from .ldm.model import SynthesisModel
    from .ldm.synthesize import synthesize
    from .synthetic_check import compare_to_labelled

    out = check_patches_file(out_path, overwrite, attention)
    if not 0.0 < anchor_strength <= 1.0:
        raise ValueError(f"the anchor strength must be in (0, 1] (1: from noise with the prompt); got "
                         f"{anchor_strength}")
    if prompt is not None:
        check_label(label)
    settings = settings or MethodSettings()
    check_model_folder(bundle_path, "synthesis")
    check_device(settings.device)
    model = SynthesisModel.load(bundle_path, device=settings.device)
    if prompt is None:
        by_id = {c.id: c for c in model.classes}
        if class_id not in by_id:
            raise ValueError(f"class {class_id} is not in this bundle; it knows "
                             + ", ".join(f"{c.id} ({c.name})" for c in model.classes))
        prompt, label = by_id[class_id].text, int(class_id)
    else:  # the engine names the stage by the label id the patches get ("sampling class 0"): say the prompt
        said, instead = f"sampling class {label}", f"sampling '{prompt}' (label {label})"
        reporter = reporter.renamed(lambda stage: stage.replace(said, instead))
    anchors = _kept_examples(model, label, bundle_path) if anchor_strength < 1 else None
    cfg = model.config.diffusion
    syn = synthesize(model, {label: prompt}, {label: n},
                     guidance=settings.guidance if settings.guidance is not None else cfg.guidance,
                     steps=settings.steps or cfg.sample_steps, seed=settings.seed,
                     return_attention=attention, anchors=anchors, strength=anchor_strength if anchors else 1.0,
                     reporter=reporter)
    if anchors:
        log.info("'%s': the %d patches started from the %d labelled patches of class %d kept with the model, noised "
                 "to %g", prompt, n, len(anchors[label]), label, anchor_strength)
    if syn.clipped is not None and syn.clipped.any():  # values beyond the scene's range, at the edge of it now
        share = syn.clipped_share()
        advice = "" if share < CLIPPED_WARNING or anchors else (  # anchored: the labelled patches' own edge values
            "; the model knows little of what the prompt asks for: a prompt nearer the scene's classes, or a "
            "longer-trained model, gives patches nearer the scene")
        log.log(logging.WARNING if share >= CLIPPED_WARNING else logging.INFO, "'%s': %s%s", prompt,
                clipped_note(syn), advice)
    # a class the model learnt: how like its labels they are
    check = compare_to_labelled(model, syn.patches, label, starts=anchors[label] if anchors else None)
    if check is not None:
        log.log(logging.WARNING if check.unlike else logging.INFO, "'%s': %s", prompt, check.sentence())
    # checks again as it writes: another program may have made the file meanwhile
    write_patches(out, syn.patches, syn.labels, syn.masks, syn.prompts, classes=model.classes,
                  attention=syn.attention if attention else None, overwrite=overwrite,
                  tokens=syn.tokens if attention else None, **model.band_facts(),
                  started_from=(anchor_strength, syn.anchor_index) if anchors else None)
    reporter.progress(1.0, "done")
    return out


def _kept_examples(model: Any, label: int, bundle_path: str | os.PathLike) -> dict[int, np.ndarray]:
    """``{label: (m, B, p, p)}`` the labelled patches of class ``label`` kept with ``model``, for synthesis that starts
    from them; ValueError saying what to do where it kept none."""
    examples = model.examples_of(label)
    if examples is not None:
        return {int(label): examples}
    if model.example_patches is None:
        raise ValueError(f"{bundle_path} was saved before HyperSynth kept labelled patches with its synthesis models, "
                         "so its patches cannot start from them: use anchor strength 1 (patches from noise with the "
                         "prompt alone), or train the model again (augment-classify or train)")
    known = ", ".join(f"{c.id} ({c.name})" for c in model.classes)
    raise ValueError(f"an anchor strength below 1 starts the patches from labelled ones of their class, and label "
                     f"{label} is none of the model's classes ({known}): synthesise for one of them, or use anchor "
                     "strength 1 (patches from noise with the prompt alone)")


def assess_accuracy(class_map_path: str | os.PathLike, validation_path: str | os.PathLike, *,
                    class_field: Optional[str] = None, classes_path: Optional[str | os.PathLike] = None,
                    out_dir: Optional[str | os.PathLike] = None, overwrite: bool = False,
                    exclude_path: Optional[str | os.PathLike] = None, exclude_field: Optional[str] = None,
                    training_beside: bool = True, validation_name: Optional[str] = None,
                    reporter: Reporter = NULL_REPORTER) -> dict:
    """Compare a classified map with validation labels (vector or raster): OA, AA, κ, per-class and area-adjusted
    accuracy, confusion matrix (:func:`.evaluation.assess.assess_map`); ``exclude_path``: labels whose pixels are
    left out (the map's training labels; ``exclude_field``: their class field); ``training_beside``: leave out the
    pixels the classifier saved beside a run's map learnt from; ``validation_name``: what messages and
    ``accuracy.md`` call the validation labels (a layer copied for the assessment: the layer, not the copy). When
    ``out_dir`` is given, ``metrics.json``, ``accuracy.md`` and ``confusion.png`` are written there; returns the
    metrics."""
    from .evaluation.assess import assess_map

    return assess_map(class_map_path, validation_path, class_field=class_field, classes_path=classes_path,
                      out_dir=out_dir, overwrite=overwrite, exclude_path=exclude_path, exclude_field=exclude_field,
                      training_beside=training_beside, validation_name=validation_name,
                      reporter=reporter).to_dict()


def train_bundle(scene_path: str | os.PathLike, labels_path: str | os.PathLike, bundle_dir: str | os.PathLike, *,
                 classes_path: Optional[str | os.PathLike] = None, class_field: Optional[str] = None,
                 settings: Optional[MethodSettings] = None, reporter: Reporter = NULL_REPORTER,
                 overwrite: bool = False, leave_out_bands: Optional[str] = None) -> Path:
    """Train a synthesis model (VAE + text encoder + denoiser) on a scene and its labels; save the bundle;
    ``leave_out_bands``: bands of the scene to leave out besides those its file flags bad (:func:`classify_scene`'s);
    the model keeps them, and a run reusing it on a scene of as many bands leaves them out again unless told
    others."""
    target = Path(bundle_dir)
    settings = settings or MethodSettings()
    check_device(settings.device)
    check_text_weights(settings)
    if leave_out_bands is not None:
        parse_bands_to_leave_out(leave_out_bands)  # its form, before the folder is claimed
    # the bundle is staged beside it and renamed into place: its parent folder is where the run writes
    with claim_output_folder(target.parent, f"training a synthesis model into {target.name}"):
        if target.exists() and not overwrite:
            raise OutputExistsError(f"{target} already exists; choose another folder or allow overwriting")
        return _train_bundle(scene_path, labels_path, target, classes_path=classes_path, class_field=class_field,
                             settings=settings, reporter=reporter, overwrite=overwrite,
                             leave_out_bands=leave_out_bands)


def _train_bundle(scene_path: str | os.PathLike, labels_path: str | os.PathLike, target: Path, *,
                  classes_path: Optional[str | os.PathLike], class_field: Optional[str], settings: MethodSettings,
                  reporter: Reporter, overwrite: bool, leave_out_bands: Optional[str] = None) -> Path:
    """:func:`train_bundle` once its folder is claimed."""
    from .io.read import read_scene
    from .ldm.training import train_synthesis_model

    scene = read_scene(scene_path)
    if leave_out_bands is not None:
        leave_out_told(scene, leave_out_bands)
    labels, classes = read_labels_and_classes(labels_path, scene, classes_path, class_field)
    scene, cube = scene.split_usable()
    cfg = synthesis_config(settings, patch_size=resolve_patch_size(settings, cube, scene.valid))
    model = train_synthesis_model(cube, scene.valid, labels, classes, cfg, reporter=reporter,
                                  wavelengths=scene.usable_wavelengths())
    describe_model_bands(model, scene)
    reporter.check()
    return model.save(target, overwrite=overwrite)
