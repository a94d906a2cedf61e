"""A dock run's worker side and its checks: the request resolved to files, the jobs, the output folder and labels."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from qgis.core import QgsProject, QgsRasterLayer, QgsVectorFileWriter, QgsVectorLayer

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


def classify_job(request: RunRequest) -> Callable[[Reporter], Any]:
    """The worker side of a run: files and values in, ``ClassificationOutputs`` out (no Qt objects)."""

    def job(reporter: Reporter) -> Any:
        from ..core.io.classes import write_classes
        from ..core.methods import MethodSettings
        from ..core.pipeline import classify_scene
        from .algorithms.train_bundle import clip_weights_for

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
                                  approved=request.approved_outputs)  # checked under the run's folder claim
        finally:
            for scratch in (classes_path, request.temporary_labels):
                remove_scratch(scratch)

    return job


def preview_job(bundle: str, class_id: int, prompt: str, *, device: str = "auto", n: int = 4,
                seed: int = 0) -> Callable[[Reporter], dict]:
    """The worker side of a prompt preview: a few patches (and the first one's attention) from a saved model.

    The job returns keyword arguments for ``HyperSynthDock.show_preview``; ``patch_file`` holds what
    ``core.io.patch_files.write_patches`` needs to save them as the analyst asks (in the engine's units).
    """

    def job(reporter: Reporter) -> dict:
        import math

        from ..core.ldm.model import SynthesisModel
        from ..core.ldm.synthesize import synthesize

        model = SynthesisModel.load(bundle, device=device)
        synthetic = synthesize(model, {int(class_id): prompt}, n, seed=seed, return_attention=True, reporter=reporter)
        attention = None
        if synthetic.attention is not None and synthetic.tokens:
            tokens = list(synthetic.tokens[0])
            maps = synthetic.attention[0][:, :, :len(tokens)]  # (layers, latent tokens, words of this prompt)
            side = math.isqrt(maps.shape[1])  # latents are square: T = side * side
            attention = {"attention": maps, "tokens": tokens, "latent_hw": (side, side)}
        patch_file = {"patches": synthetic.patches, "labels": synthetic.labels, "masks": synthetic.masks,
                      "prompts": synthetic.prompts, "wavelengths": model.wavelengths, "fwhm": model.fwhm,
                      "classes": model.classes, "values": model.values}  # write_patches's, for the dock's Save
        return {"patches": synthetic.patches, "wavelengths": model.wavelengths, "title": prompt,
                "attention": attention, "patch_file": patch_file}

    return job


def remove_scratch(path: Optional[str]) -> None:
    """Delete a scratch file of a run (a copied label layer, a class file) when it is still there."""
    if path and os.path.exists(path):
        os.remove(path)


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
        raise ValueError(f"{out_dir} already holds {', '.join(earlier)} from an earlier run; choose another output "
                         "folder, or allow replacing them (Augment & Classify asks)")
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
    """Whether a run reads the label layer's own file: a plain single-layer file as saved (a layer inside a
    GeoPackage, a filtered or edited one, or one in memory is copied for the run: :func:`label_file_for`)."""
    source = layer.source()
    return (layer.providerType() == "ogr" and "|" not in source and os.path.isfile(source)
            and not layer.subsetString() and not has_unsaved_edits(layer))


def has_unsaved_edits(layer: Any) -> bool:
    """Whether a vector layer holds edits not yet saved to its file."""
    return isinstance(layer, QgsVectorLayer) and layer.isEditable() and layer.isModified()


def label_file_for(layer: Any, out_dir: str) -> tuple[str, Optional[str]]:
    """A file the engine can read for ``layer`` (main thread): its own file, or a temporary copy
    (:func:`write_layer_copy`).

    A layer with unsaved edits is copied as it stands, edits included: the run uses the labels the analyst sees
    without saving them to their file behind their back (whether to keep them stays their choice).

    Returns:
        (path, temporary path to delete after the run or None).
    """
    if isinstance(layer, QgsRasterLayer):
        from ..core.io.read import gdal_subdataset_file
        from .algorithms.base import subdataset_refusal

        source = gdal_name(layer.source())
        container = gdal_subdataset_file(source)
        if container is not None:  # the engine reads a scene inside a NetCDF/HDF file, but labels from their own
            raise ValueError(subdataset_refusal(f"the label layer '{layer.name()}'", source, container))
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
        write_layer_copy(layer, tmp, QgsProject.instance().transformContext())
    except ValueError as exc:
        remove_scratch(tmp)
        raise ValueError(f"could not copy the label layer '{layer.name()}' to a file: {exc}") from None
    return tmp, tmp


def write_layer_copy(layer: QgsVectorLayer, path: str, transform_context: Any) -> None:
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
