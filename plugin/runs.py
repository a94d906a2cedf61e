"""A dock run's worker side and its checks: the request resolved to files, the jobs, the output folder and labels."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from qgis.core import QgsProject, QgsProviderRegistry, QgsRasterLayer, QgsVectorFileWriter, QgsVectorLayer

from ..core.evaluation.metrics import few_pixels_note, sampled_oa
from ..core.methods import MethodSettings
from ..core.progress import Reporter
from ..core.scene import ClassInfo
from .layers import gdal_name, layer_file, same_file, source_file


COPY_SUFFIX = ".fgb"  # a label layer copied for a run (write_layer_copy) is a FlatGeobuf file


@dataclass
class RunRequest:
    """One Augment & Classify run, resolved on the main thread into files and plain values for the worker."""

    scene_path: str  # the scene raster file
    labels_path: str  # a label file the engine reads (vector file or label raster)
    out_dir: str  # output folder (created if needed)
    classes: list[ClassInfo]  # the classes with the prompts and colours to use
    method: str = "augment"  # engine method: augment, cnn, cnn-pseudo, rf, svm
    preset: str = MethodSettings.preset  # tiny, fast or full
    device: str = MethodSettings.device  # auto, cpu or cuda
    seed: int = MethodSettings.seed  # seeds every random choice
    patch_size: Optional[int] = None  # None: chosen from the scene (at most the preset's)
    synthetic_per_class: Optional[int] = None  # None: the preset's
    guidance: Optional[float] = None  # classifier-free guidance ω; None: the preset's
    balance_rate: float = MethodSettings.balance_rate  # λ: 0 = equal per class, 1 = inverse to class frequency
    synthetic_weight: float = MethodSettings.synthetic_weight  # synthetic patches together weigh this much
    anchor_strength: float = MethodSettings.anchor_strength  # synthesis starts from labelled patches noised this far
    pseudo_labels: Optional[int] = None  # most pseudo-labels per class; None or 0: none
    spatial_smoothing: Optional[float] = None  # σ (px) of the probability smoothing; None: cross-validated; 0: off
    diffusion_features: bool = MethodSettings.diffusion_features  # the diffusion-feature SVM may join the blend
    bundle_path: Optional[str] = None  # reuse a trained synthesis model
    class_field: Optional[str] = None  # label field; None: guessed by the engine
    overwrite: bool = False  # replace outputs already in out_dir
    probabilities: bool = False  # also write probabilities.tif, a band per class
    synthetic_patches: bool = False  # also write synthetic_patches.tif (+ its classes): an augment run's patches
    approved_outputs: Optional[tuple[str, ...]] = None  # the earlier outputs the analyst agreed to replace; None: any
    clip_weights: Optional[str] = None  # CLIP ViT-B-32 weights file from the settings; None: caches or random
    title: str = "Augment & Classify"  # task and layer-group name
    temporary_labels: Optional[str] = None  # a label file written for this run, deleted afterwards
    validation_path: Optional[str] = None  # labels kept apart from training: the report's accuracy section
    validation_field: Optional[str] = None  # their class field; None: class_field (a label raster has none)
    labels_name: Optional[str] = None  # what messages and the report call a copied label layer; None: its file
    validation_name: Optional[str] = None  # the same for copied validation labels
    temporary_validation: Optional[str] = None  # a validation file written for this run, deleted afterwards
    made_folders: list[str] = field(default_factory=list)  # out_dir and the folders on its way that the run makes:
    # removed again, as far up as they are empty, when it fails or is cancelled

    @property
    def scratch_files(self) -> tuple[Optional[str], ...]:
        """The files written for this run alone (copied label layers), to delete when it ends however it ends."""
        return self.temporary_labels, self.temporary_validation


def classify_job(request: RunRequest) -> Callable[[Reporter], Any]:
    """The worker side of a run: files and values in, ``ClassificationOutputs`` out (no Qt objects)."""

    def job(reporter: Reporter) -> Any:
        from ..core.io.classes import write_classes
        from ..core.methods import MethodSettings
        from ..core.pipeline import classify_scene
        from .algorithms.clip_weights import clip_weights_for

        settings = MethodSettings(preset=request.preset, seed=request.seed, device=request.device,
                                  patch_size=request.patch_size, synthetic_per_class=request.synthetic_per_class,
                                  guidance=request.guidance, balance_rate=request.balance_rate,
                                  synthetic_weight=request.synthetic_weight,
                                  anchor_strength=request.anchor_strength, pseudo_labels=request.pseudo_labels,
                                  spatial_smoothing=request.spatial_smoothing,
                                  diffusion_features=request.diffusion_features,
                                  clip_weights=clip_weights_for(request.preset, request.clip_weights))
        Path(request.out_dir).mkdir(parents=True, exist_ok=True)
        handle, classes_path = tempfile.mkstemp(prefix=".hypersynth-classes-", suffix=".json", dir=request.out_dir)
        os.close(handle)
        try:
            write_classes(classes_path, request.classes, overwrite=True)
            return classify_scene(request.scene_path, request.labels_path, request.out_dir, method=request.method,
                                  classes_path=classes_path, class_field=request.class_field,
                                  preset=request.preset, seed=request.seed, bundle_path=request.bundle_path,
                                  settings=settings, reporter=reporter, overwrite=request.overwrite,
                                  probabilities=request.probabilities,
                                  synthetic_patches=".tif" if request.synthetic_patches else None,
                                  approved=request.approved_outputs,  # checked under the run's folder claim
                                  validation_path=request.validation_path,
                                  validation_field=request.validation_field, labels_name=request.labels_name,
                                  validation_name=request.validation_name)
        finally:
            for scratch in (classes_path, *request.scratch_files):
                remove_scratch(scratch)

    return job


def preview_job(bundle: str, class_id: int, prompt: str, *, device: str = "auto", n: int = 4, seed: int = 0,
                anchor_strength: float = MethodSettings.anchor_strength, guidance: Optional[float] = None
                ) -> Callable[[Reporter], dict]:
    """The worker side of a prompt preview: a few patches (and the first one's attention) from a saved model, the
    class's labelled mean spectrum the model learnt, and what the prompt does (``core.prompt_preview``).

    The patches start as a run's do: from the class's labelled patches kept with the model, noised to
    ``anchor_strength`` (the run dialog's), then denoised with the prompt and ``guidance`` (None: the model's).
    Where the model kept none for the class (a bundle saved before they were kept, a class it did not learn) or
    ``anchor_strength`` is 1, they start from noise; ``start`` says which (a clause of the preview's title).

    The job returns keyword arguments for ``HyperSynthDock.show_preview``; ``patch_file`` holds what
    ``core.io.patch_files.write_patches`` needs to save them as the analyst asks (in the engine's units).
    """

    def job(reporter: Reporter) -> dict:
        import math

        from ..core.ldm.model import SynthesisModel
        from ..core.prompt_preview import preview_prompt

        model = SynthesisModel.load(bundle, device=device)
        preview = preview_prompt(model, class_id, prompt, n=n, seed=seed, guidance=guidance,
                                 anchor_strength=anchor_strength, reporter=reporter)
        synthetic = preview.synthetic
        attention = None
        if synthetic.attention is not None and synthetic.tokens:
            tokens = list(synthetic.tokens[0])
            maps = synthetic.attention[0][:, :, :len(tokens)]  # (layers, latent tokens, words of this prompt)
            grid = math.isqrt(maps.shape[1])  # latents are square: T = grid * grid
            attention = {"attention": maps, "tokens": tokens, "latent_hw": (grid, grid)}
        anchored = preview.examples > 0
        patch_file = {"patches": synthetic.patches, "labels": synthetic.labels, "masks": synthetic.masks,
                      "prompts": synthetic.prompts, "classes": model.classes, **model.band_facts(),
                      "started_from": (preview.strength, synthetic.anchor_index) if anchored else None,
                      }  # write_patches's keywords, for the dock's Save
        ids = [c.id for c in model.classes]  # the class's labelled mean the model learnt, drawn beside the preview
        labelled = model.class_spectra[ids.index(int(class_id))] if int(class_id) in ids else None
        name = model.class_info(class_id).name if int(class_id) in ids else ""
        start = (preview_start(preview.examples, preview.strength, class_name=name) if anchored else
                 preview_start(0, 1.0, _why_from_noise(model, anchor_strength)))
        return {"patches": synthetic.patches, "wavelengths": model.wavelengths, "title": prompt,
                "attention": attention, "patch_file": patch_file, "clipped_share": synthetic.clipped_share(),
                "labelled_mean": labelled, "start": start, "anchored": anchored, "class_name": name,
                "prompt_effect_deg": preview.prompt_effect_deg, "noise_effect_deg": preview.noise_effect_deg,
                "prompt_alone_mean": preview.from_noise_mean, "without_prompt_mean": preview.without_prompt_mean,
                "unlike": preview.unlike}

    return job


def preview_start(examples: int, strength: float, why_noise: str = "", class_name: str = "") -> str:
    """What a prompt preview's patches started from, as a clause of the preview's title: ``examples`` labelled
    patches of ``class_name`` noised to ``strength``, or (0) noise, ``why_noise`` said in brackets."""
    if examples:
        kind = f"labelled {class_name.replace('_', ' ')}".rstrip()
        which = f"{examples} of your {kind} patches" if examples > 1 else f"your one {kind} patch"
        return (f"as a run makes them: from {which}, noised to {strength:g} (your anchor strength), then denoised "
                "with the prompt")
    return f"from noise with the prompt{f' ({why_noise})' if why_noise else ''}"


def _why_from_noise(model: Any, strength: float) -> str:
    if strength >= 1:
        return "the run settings' anchor strength is 1: a run starts from noise too"
    if model.example_patches is None:
        return ("the last run's model was saved before HyperSynth kept labelled patches with its models; a run starts "
                "from your labelled patches")
    return "the model kept no labelled patch of this class; a run starts from your labelled patches"


def remove_scratch(path: Optional[str]) -> None:
    """Delete a scratch file of a run (a copied label layer, with a validation sample's design copied beside it; a
    class file) when it is still there."""
    from ..core.evaluation.sampling import design_file

    beside = str(design_file(path)) if path and path.endswith(COPY_SUFFIX) else None
    for scratch in (path, beside):
        if scratch and os.path.exists(scratch):
            os.remove(scratch)


def problem_text(exc: BaseException) -> str:
    """One readable line for a refused request (an OSError's own text is "[Errno 13] ...: 'path'")."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc).strip("'\"") or type(exc).__name__


def scene_in_project(scene_path: str) -> bool:
    """Whether a layer of the current project reads the file of ``scene_path`` (a file, or a NetCDF/HDF subdataset
    as GDAL names it) (main thread): a run's results belong there. The file is :func:`.layers.source_file`'s."""
    target = source_file(scene_path, "gdal")
    return any(same_file(layer_file(layer), target) for layer in QgsProject.instance().mapLayers().values())


def check_output_folder(out_dir: str, inputs: Sequence[Optional[str]], overwrite: bool, reused: Optional[str] = None,
                        approved: Optional[Sequence[str]] = None) -> None:
    """Refuse, before anything is written, an output folder the run cannot use (main thread).

    The same checks as the run dialog's (a file, not writable, an input where an output goes) and the engine's
    refusal of an earlier run's outputs unless ``overwrite``, so a request not made through the dialog is refused
    up front too, not late in the task. ``reused``: a model bundle the run reuses (it may be an earlier output).
    ``approved``: the earlier outputs the analyst agreed to replace (the run dialog asked); any other found now was
    written since they were asked, and is refused. None: ``overwrite`` alone decides (requests not from the dialog).

    Raises:
        ValueError: with what to change.
    """
    from ..ui.run_dialog import folder_problem, inputs_in_the_way

    problem = folder_problem(out_dir, clause=True)  # the dialog's checks, said as a clause with what to do
    if problem:
        raise ValueError(problem)
    in_the_way = inputs_in_the_way(out_dir, [p for p in inputs if p], clause=True)
    if in_the_way:
        raise ValueError(in_the_way[0])
    earlier = _earlier_run_outputs(out_dir, reused)
    if earlier and not overwrite:
        raise ValueError(f"{out_dir} already holds {', '.join(earlier)}, files a run writes there (an earlier run's, "
                         "or yours by those names); choose another output folder, or allow replacing them (Augment & "
                         "Classify asks)")
    check_still_approved(out_dir, approved, reused)


def _earlier_run_outputs(out_dir: str, reused: Optional[str]) -> list[str]:
    from ..core.outputs import earlier_outputs
    from ..core.pipeline import ALL_OUTPUTS, kept_outputs

    folder = Path(out_dir).expanduser()
    return earlier_outputs(folder, ALL_OUTPUTS, kept=kept_outputs(folder, reused or None))


def check_still_approved(out_dir: str, approved: Optional[Sequence[str]], reused: Optional[str] = None) -> None:
    """Refuse when ``out_dir`` holds an earlier output the analyst was not asked about (main thread, before the
    task; the engine checks again when the run starts, under its folder claim). ``approved`` None: nothing to check.

    Raises:
        ValueError: naming the outputs written since the analyst was asked.
    """
    from ..core.outputs import check_approved

    check_approved(Path(out_dir).expanduser(), _earlier_run_outputs(out_dir, reused), approved)


def reads_own_file(layer: QgsVectorLayer) -> bool:
    """Whether a run reads the label layer's own file: a plain single-layer file as saved, in the CRS its file says
    (a layer inside a GeoPackage, a filtered or edited one, one in memory, or one given another CRS in QGIS, e.g. a
    shapefile without .prj set by Layer ▸ Set CRS, is copied for the run: :func:`label_file_for`)."""
    source = layer.source()
    return (layer.providerType() == "ogr" and "|" not in source and os.path.isfile(source)
            and not layer.subsetString() and not has_unsaved_edits(layer)
            and layer.crs() == layer.dataProvider().crs())


def has_unsaved_edits(layer: Any) -> bool:
    """Whether a vector layer holds edits not yet saved to its file."""
    return isinstance(layer, QgsVectorLayer) and layer.isEditable() and layer.isModified()


def label_file_for(layer: Any, out_dir: str, what: str = "label layer") -> tuple[str, Optional[str]]:
    """A file the engine can read for ``layer`` (main thread): its own file, or a temporary copy
    (:func:`write_layer_copy`); ``what`` names it in a refusal ("validation layer").

    A layer with unsaved edits is copied as it stands, edits included: the run uses the labels the analyst sees
    without saving them to their file behind their back (whether to keep them stays their choice).

    Returns:
        (path, temporary path to delete after the run or None).
    """
    if isinstance(layer, QgsRasterLayer):
        from ..core.io.read import gdal_subdataset_file
        from .algorithms.inputs import subdataset_refusal

        source = gdal_name(layer.source())
        container = gdal_subdataset_file(source)
        if container is not None:  # the engine reads a scene inside a NetCDF/HDF file, but labels from their own
            raise ValueError(subdataset_refusal(f"the {what} '{layer.name()}'", source, container))
        return source, None
    if not isinstance(layer, QgsVectorLayer):
        raise ValueError("choose a label layer (points, polygons or a label raster) before running")
    if reads_own_file(layer):
        return layer.source(), None
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=".hypersynth-labels-", suffix=COPY_SUFFIX, dir=out_dir)
    os.close(handle)
    os.remove(tmp)  # the writer creates the file itself
    try:
        write_layer_copy(layer, tmp, QgsProject.instance().transformContext(), validation=what.startswith("validation"))
    except ValueError as exc:
        remove_scratch(tmp)
        raise ValueError(f"could not copy the label layer '{layer.name()}' to a file: {exc}") from None
    return tmp, tmp


def copied_layer_name(layer: Any) -> str:
    """What a run's messages and report call a layer it reads from a copy: "the layer 'labels' (labels.gpkg)", the
    file it was opened from, or "in memory", and whether unsaved edits went with it (main thread)."""
    source = layer.source().split("|")[0]
    where = Path(source).name if os.path.isfile(source) else "in memory" if layer.providerType() == "memory" else ""
    edits = ", unsaved edits included" if has_unsaved_edits(layer) else ""
    return f"the layer '{layer.name()}'" + (f" ({where}{edits})" if where or edits else "")


def write_layer_copy(layer: QgsVectorLayer, path: str, transform_context: Any, validation: bool = False) -> None:
    """Write ``layer`` as it stands (unsaved edits included) to a new FlatGeobuf file at ``path`` (``.fgb``).

    FlatGeobuf, because the copy must say what the layer says: a layer without CRS (labels drawn over a scene
    without georeference, in its pixel coordinates) gets a file without CRS, which the engine places on the pixel
    grid; a GeoPackage always records one ("Undefined geographic SRS" for none), which the engine refuses for such
    a scene, and a Shapefile would cut field names to 10 characters (a class field named by the analyst). It is
    written without spatial index, which would reorder the features: where labels overlap the later one wins, as
    in the layer. Features without geometry are left out (they label nothing).

    The layer's own feature-id column (a GeoPackage's ``fid``) is left out: a feature added since the last save
    has none yet, and the copy numbers its features itself.

    Raises:
        ValueError: with the writer's message.
    """
    keys = set(layer.dataProvider().pkAttributeIndexes()) if layer.dataProvider() is not None else set()
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "FlatGeobuf"
    options.layerName = "labels"
    options.layerOptions = ["SPATIAL_INDEX=NO"]
    options.attributes = [i for i in range(layer.fields().count()) if i not in keys]
    error, message, _, _ = QgsVectorFileWriter.writeAsVectorFormatV3(layer, path, transform_context, options)
    if error != QgsVectorFileWriter.NoError:
        raise ValueError(message)
    _copy_sample_design(layer, path, validation)


def _copy_sample_design(layer: QgsVectorLayer, copy: str, validation: bool) -> None:
    """Put the design of a validation sample (``NAME.design.json`` beside the layer's file) beside the layer's
    copy, so labels still being edited are assessed as the sample they are; ``validation``: the copy is to be
    scored, so a design beside the file that names another one is said (:func:`~..core.evaluation.sampling.
    read_design`)."""
    from ..core.evaluation.sampling import copy_design

    own = layer_file(layer)
    if own is not None:
        copy_design(own, copy, scored=validation)


def validation_field_for(layer: Any, typed: Optional[str]) -> Optional[str]:
    """The field of a vector validation layer the engine reads the class from: the one ``typed`` (any case, as the
    engine matches it), else the engine's own guess (class_id, class, label, …); None for a label raster, or where
    the layer has no such field (:func:`validation_problem` says so)."""
    from ..core.io.labels import pick_class_field

    if not isinstance(layer, QgsVectorLayer):
        return None
    return pick_class_field(layer.fields().names(), (typed or "").strip() or None)


def validation_problem(validation: Any, labels: Any, scene: Any, typed_field: Optional[str] = None) -> Optional[str]:
    """Why ``validation`` cannot measure a run's accuracy, as a clause that says what to do; None when it can (main
    thread: it looks at the layers, never at their pixels, so the run dialog can ask it on every OK).

    ``labels``: the training label layer; ``scene``: the scene layer; ``typed_field``: the class field the analyst
    typed (empty: the engine's guess). The engine would refuse most of these too, but only once the run has read the
    scene; one it would not refuse is said here alone: the training labels themselves, which it scores not at all.
    """
    if validation is None:
        return None
    name = validation.name()
    if labels is not None and reads_the_same_labels(validation, labels):
        # the engine leaves training pixels out of the score, so none would be left; and were they scored, the
        # classifier was fitted to them: their agreement with the map measures the fit, not the map
        return (f"the validation labels '{name}' are the training label layer: accuracy on the labels the classifier "
                "learnt from is not the map's accuracy; choose labels kept apart from training (or none)")
    if scene is not None and validation.id() == scene.id():
        return f"'{name}' is the scene, not validation labels; choose points, polygons or a label raster (or none)"
    if isinstance(validation, QgsRasterLayer):
        if validation.bandCount() != 1:
            return (f"the validation raster '{name}' has {validation.bandCount()} bands; a label raster has one band "
                    "of class ids (0 = unlabelled)")
        return None
    if not isinstance(validation, QgsVectorLayer):
        return f"'{name}' is neither a vector layer nor a label raster; choose points, polygons or a label raster"
    if validation.featureCount() == 0:
        return f"the validation layer '{name}' has no features; label some pixels in it first (or choose none)"
    field = validation_field_for(validation, typed_field)
    if field is None:
        fields = ", ".join(validation.fields().names()) or "none"
        typed = (typed_field or "").strip()
        if typed:
            return f"the validation layer '{name}' has no field '{typed}' (its fields: {fields}); type the class field"
        return (f"the validation layer '{name}' has no field named like a class (class_id, class, label, …; its "
                f"fields: {fields}); type the field that holds the class")
    return _unlabelled_sample(validation, field)


def _unlabelled_sample(layer: QgsVectorLayer, field: str) -> Optional[str]:
    """What to do when ``layer`` is a validation sample (its design beside its file) of which no point has a class
    in ``field`` yet, unsaved edits included; None otherwise."""
    from qgis.core import QgsExpression, QgsFeatureRequest

    from ..core.evaluation.sampling import read_design

    own = layer_file(layer)
    design = read_design(own) if own is not None else None
    if design is None:
        return None
    request = QgsFeatureRequest().setFilterExpression(f"{QgsExpression.quotedColumnRef(field)} IS NOT NULL")
    request.setLimit(1).setFlags(QgsFeatureRequest.NoGeometry)
    if any(True for _ in layer.getFeatures(request)):
        return None
    return (f"none of the {design.points} points of the validation sample '{layer.name()}' has a class in {field} "
            "yet; label them (the class on the ground, not the map's) or choose none")


def reads_the_same_labels(a: Any, b: Any) -> bool:
    """Whether two layers give the same labels: one layer, or the same file's same layer under the same filter (a
    GeoPackage's other layer, or the same file filtered otherwise, gives other labels)."""
    if a.id() == b.id():
        return True
    if type(a) is not type(b) or not same_file(layer_file(a), layer_file(b)):
        return False
    if not isinstance(a, QgsVectorLayer):
        return True  # one label raster's file

    def layer_name(layer: QgsVectorLayer) -> Optional[str]:
        parts = QgsProviderRegistry.instance().decodeUri(layer.providerType(), layer.source())
        return parts.get("layerName") or None

    first, second = layer_name(a), layer_name(b)
    same_layer = first is None or second is None or first == second  # a single-layer file may name it or not
    return same_layer and a.subsetString() == b.subsetString()


def accuracy_line(metrics: Optional[dict], short: bool = False, labels_cv: Optional[float] = None) -> str:
    """The run's accuracy in a few words for the dock and the message bar: on its validation labels ("OA 91.3 %, AA
    88.0 %, κ 0.872 on 412 validation pixels"; on a stratified random sample, "area-adjusted OA 90.7 ± 6.2 % from a
    stratified random sample; its points' own OA …"); without validation labels, ``labels_cv`` (the cross-validated
    balanced accuracy on the labels of the blend smoothed as the map is: ``ClassificationOutputs.labels_cv_accuracy``),
    said to be optimistic; empty without either. ``short``: the leading figure only, for the message bar's one line
    ("area-adjusted OA 90.7 ± 6.2 %", "OA 91.3 % on 412 validation pixels"). The report has the rest."""
    if not metrics or metrics.get("oa") is None:
        if labels_cv is None:
            return ""
        if short:  # the message bar's one line
            return f"CV {100 * labels_cv:.1f} % (optimistic)"  # the dock's status says whose
        return (f"your labels' cross-validated balanced accuracy {100 * labels_cv:.1f} % (optimistic with few labels: "
                "a validation sample gives the map's)")
    pixels = int(metrics.get("n_test") or 0)
    counted = f"{pixels} validation pixel{'s' if pixels != 1 else ''}"
    sampled = sampled_oa(metrics, 1)  # a stratified random sample: its estimate of the map, with its interval, leads
    if short:
        return f"area-adjusted {sampled}" if sampled else f"OA {100 * metrics['oa']:.1f} % on {counted}"
    parts = [f"OA {100 * metrics['oa']:.1f} %"]
    if metrics.get("aa") is not None:
        parts.append(f"AA {100 * metrics['aa']:.1f} %")
    if metrics.get("kappa") is not None:  # None where κ is undefined (one class validated)
        parts.append(f"κ {metrics['kappa']:.3f}")
    line = f"{', '.join(parts)} on {counted}"
    if sampled:
        return f"area-adjusted {sampled} from a stratified random sample; its points' own {line}"
    note = few_pixels_note(metrics["oa"], pixels)  # 10 pixels: an OA of 50 % may be anything from 24 to 76 %
    return line + (f" ({note})" if note else "")
