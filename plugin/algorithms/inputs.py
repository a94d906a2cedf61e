"""The inputs of HyperSynth's Processing algorithms: parameters they share, and the files behind their layers."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, NamedTuple, Optional

from qgis.core import (
    QgsMapLayer,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingUtils,
    QgsRasterLayer,
    QgsVectorLayer,
)

from ..layers import gdal_name

if TYPE_CHECKING:
    from .base import HyperSynthAlgorithm


IMPORT_FIRST = ("import it first with 'Import a hyperspectral scene or sensor product' (hypersynth:importscene), which "
                "writes it as a GeoTIFF, and give that")  # the Processing route for a MATLAB .mat scene


def scene_parameter(algorithm: "HyperSynthAlgorithm") -> Any:
    """The SCENE parameter: a raster layer, whose help (the dialog's tooltip) says where a .mat scene goes."""
    from qgis.core import QgsProcessingParameterRasterLayer

    scene = QgsProcessingParameterRasterLayer("SCENE", algorithm.tr("Hyperspectral scene"))
    scene.setHelp(algorithm.tr("A raster layer or file QGIS opens (GeoTIFF, ENVI, a NetCDF variable, …). A MATLAB "
                               f".mat scene: {IMPORT_FIRST}."))
    return scene


def matlab_file_message(algorithm: QgsProcessingAlgorithm, parameters: Mapping[str, Any]) -> Optional[str]:
    """Why a MATLAB .mat file given as a layer parameter cannot be read, and the way there is (QGIS itself says
    only "not found": it cannot open a .mat as a layer); None when no layer parameter names a .mat file."""
    for definition in algorithm.parameterDefinitions():
        value = parameters.get(definition.name())
        if (definition.isDestination() or definition.type() not in ("raster", "layer") or not isinstance(value, str)
                or not value.strip().lower().endswith(".mat")):
            continue
        what = f"{definition.description().split(' (')[0]} ({definition.name()})"
        if definition.name() == "SCENE":
            return f"the {what} is a MATLAB .mat file, which QGIS cannot open as a layer: {IMPORT_FIRST}"
        return (f"the {what} is a MATLAB .mat file, which QGIS cannot open as a layer; Processing cannot read "
                "labels from it: save them as a GeoTIFF label raster of the scene's size, or use the hypersynth "
                "command line, which reads a .mat ground truth as it is")
    return None


# The class field's title for labels that are points, polygons or a label raster (which needs none)
CLASS_FIELD_TITLE = "Class field of the labels (its name; empty: a field named class_id, class, label, …)"


def seed_parameter(algorithm: "HyperSynthAlgorithm", name: str = "SEED") -> Any:
    """The random seed: 0 to SEED_MAX, as the command line's --seed takes (read it with :func:`seed_value`). A
    whole-number Double: QGIS 3.22's Integer widget holds a C++ int, so with SEED_MAX as its maximum the dialog's box
    took no value at all and the Modeler dropped the seed without a word; a double holds every seed exactly, and the
    widget shows it without decimals."""
    from qgis.core import QgsProcessingParameterNumber

    from ...core.bench_inputs import SEED_MAX

    parameter = QgsProcessingParameterNumber(name, algorithm.tr(f"Random seed (0 to {SEED_MAX})"),
                                             QgsProcessingParameterNumber.Double, defaultValue=0, minValue=0,
                                             maxValue=SEED_MAX)
    parameter.setMetadata({"widget_wrapper": {"decimals": 0}})
    return parameter


def seed_value(algorithm: QgsProcessingAlgorithm, parameters: Mapping[str, Any], context: QgsProcessingContext,
               name: str = "SEED") -> int:
    """The seed given, refused unless whole (a script may pass 3.5; the dialog rounds). Read as a double: QGIS 3.22's
    parameterAsInt gives 0 for one above 2**31 - 1 (a C++ int) without a word."""
    from ...core.bench_inputs import SEED_MAX

    definition = algorithm.parameterDefinition(name)
    title = definition.description().split(" (")[0]
    given = parameters.get(name, definition.defaultValue())
    if not definition.checkValueIsAcceptable(given):  # QGIS says only "Incorrect parameter value for SEED"
        raise QgsProcessingException(f"{title} ({name}) takes whole numbers 0 to {SEED_MAX}; got {given!r}")
    value = algorithm.parameterAsDouble(parameters, name, context)
    if not math.isfinite(value):  # NaN passes the range check (it compares false with both ends)
        raise QgsProcessingException(f"{title} ({name}) takes whole numbers 0 to {SEED_MAX}; got {given!r}")
    if value != int(value):
        raise QgsProcessingException(f"{title} ({name}) must be a whole number; got {value:g}")
    return int(value)


def class_field_parameter(name: str, description: str) -> Any:
    """An optional text parameter naming the class field of a labels parameter that takes vector layers and label
    rasters alike; the engine names the layer's fields when the name is not one of them.

    Not a QgsProcessingParameterField with that parameter as parent: QGIS (3.22, and 3.44 still) crashes building the
    dialog when the parent holds a raster (QgsProcessingFieldWidgetWrapper::setParentLayerWrapperValue takes it for
    a vector layer and uses the null pointer), and it does as the dialog opens with the scene the project's active
    layer, the usual case.
    """
    from qgis.core import QgsProcessingParameterString

    return QgsProcessingParameterString(name, description, optional=True)


def refuse_the_scene_as_labels(scene: Any, labels: Any, what: str = "training labels",
                               scene_what: str = "the hyperspectral scene") -> None:
    """Refuse a raster given as its own labels (a dialog with the scene, or the class map, alone in the project fills
    both with it); the engine would say so only once it has read the scene's bands, and a class map scored against
    itself is 100 % right. ``scene_what``: what the raster is, for the message."""
    from ..layers import layer_file, same_file

    if scene is None or labels is None:
        return
    same = labels.id() == scene.id() or (
        isinstance(labels, QgsRasterLayer) and isinstance(scene, QgsRasterLayer)  # a GeoPackage's vector is not
        and same_file(layer_file(labels), layer_file(scene))
        and gdal_name(labels.source()) == gdal_name(scene.source()))  # a NetCDF's mask beside its radiance is not
    if same:
        raise QgsProcessingException(f"the {what} are {scene_what} itself; choose the layer of your labels: points, "
                                     "polygons or a label raster of class ids")


def _check_class_field(layer: QgsVectorLayer, what: str, typed: Optional[str]) -> None:
    """Refuse a vector label layer without the class field ``typed`` (any case, as the engine matches it), or, none
    typed, without a field the engine would take for the class."""
    from ...core.io.labels import pick_class_field

    names = layer.fields().names()
    if pick_class_field(names, typed) is not None:
        return
    fields = ", ".join(names) or "none"
    if typed:
        raise QgsProcessingException(f"the {what} layer '{layer.name()}' has no field '{typed}' (its fields: "
                                     f"{fields}); type the name of the field that holds the class, or leave it empty")
    raise QgsProcessingException(f"the {what} layer '{layer.name()}' has no field named like a class (class_id, "
                                 f"class, label, …; its fields: {fields}); type the name of the field that holds the "
                                 "class")


def copy_name(layer: Optional[QgsMapLayer], path: Optional[str]) -> Optional[str]:
    """What the engine's messages and report call labels :func:`labels_file` copied (``path`` is not the layer's
    own file): the layer and its file (:func:`..runs.copied_layer_name`); None for a file read as it is."""
    from ..runs import copied_layer_name

    if isinstance(layer, QgsVectorLayer) and path is not None and path != layer.source():
        return copied_layer_name(layer)
    return None


def _layer_copy_file(layer: QgsVectorLayer, what: str, context: QgsProcessingContext) -> str:
    """``layer`` as it stands, unsaved edits included, written to a file in Processing's temporary folder (a layer
    without CRS keeps none: :func:`..runs.write_layer_copy`)."""
    from ..runs import COPY_SUFFIX, has_unsaved_edits, write_layer_copy

    path = QgsProcessingUtils.generateTempFilename(f"{what.replace(' ', '_')}{COPY_SUFFIX}")
    try:
        write_layer_copy(layer, path, context.transformContext(), validation=what == "validation")
    except ValueError as exc:
        edits = " with its unsaved edits" if has_unsaved_edits(layer) else ""
        raise QgsProcessingException(f"could not write the {what} layer '{layer.name()}'{edits} to a file: {exc}; "
                                     "save the layer as a file of its own and run again") from None
    return path


def raster_file(layer: Optional[QgsRasterLayer], what: str, subdatasets: bool = False) -> str:
    """The file behind a raster layer, or a clear error when there is none (e.g. a WMS layer).

    ``subdatasets``: the engine reads this input as a scene, so a NetCDF variable or HDF array
    (``NETCDF:"scene.nc":radiance``) is returned as GDAL names it; otherwise such a layer is refused with how to
    convert it (label rasters and class maps are read from a file of their own).
    """
    from ...core.io.read import gdal_subdataset_file

    if layer is None:
        raise QgsProcessingException(f"no {what} raster layer was given")
    if layer.providerType() != "gdal":
        raise QgsProcessingException(f"the {what} layer '{layer.name()}' is not a file raster "
                                     f"(provider {layer.providerType()}); save it as a GeoTIFF first")
    path = gdal_name(layer.source())
    container = gdal_subdataset_file(path)
    if container is not None:
        if not container.is_file():
            raise QgsProcessingException(f"the {what} layer '{layer.name()}' reads {path}, whose file {container} "
                                         "does not exist")
        if not subdatasets:
            raise QgsProcessingException(subdataset_refusal(f"the {what} layer '{layer.name()}'", path, container))
        return path
    if path.startswith("/vsi"):  # GDAL's virtual files: the engine reads files of their own
        inside = "inside an archive" if path.startswith(("/vsizip", "/vsitar", "/vsigzip", "/vsi7z")) else \
            "not a file on this disk"
        raise QgsProcessingException(f"the {what} layer '{layer.name()}' reads {path}, {inside}; HyperSynth reads a "
                                     "raster from a file of its own: extract it, or save it as a GeoTIFF (Raster ▸ "
                                     "Conversion ▸ Translate), and give that")
    if not os.path.exists(path):
        raise QgsProcessingException(f"the {what} layer '{layer.name()}' points at {path}, which does not exist")
    return path


def subdataset_refusal(subject: str, source: str, container: Path) -> str:
    """Why a NetCDF/HDF subdataset cannot be ``subject`` (a label raster, a class map) and how to convert it."""
    return (f"{subject} is a dataset inside {container.name} ({source}); HyperSynth reads it only from a raster file "
            f"of its own: convert it first (Raster ▸ Conversion ▸ Translate, or gdal_translate -of GTiff "
            f"'{source}' {container.with_suffix('.tif').name})")


def labels_file(layer: Any, what: str, context: QgsProcessingContext,
                feedback: Optional[QgsProcessingFeedback], *, check_field: bool = False,
                class_field: Optional[str] = None) -> str:
    """A file the engine can read for a label layer: a raster's file, or a vector as a single-layer file. With
    ``check_field`` (labels whose classes are read), a vector's ``class_field`` (typed; None: the engine's guess,
    class_id, class, label, …) is looked for among its fields first, so a mistyped name is said before the scene
    is read, not after.

    The rule is the dock's (:func:`..runs.reads_own_file`): a plain single-layer file as saved is read as it is;
    any other vector layer (held in memory or a database, inside a multi-layer GeoPackage, filtered, or in edit mode
    with unsaved edits) is copied as it stands to a temporary file (:func:`..runs.write_layer_copy`, which keeps a
    layer without CRS without one). The run uses the labels as the analyst sees them, and the Processing log says
    when they are still unsaved.
    """
    from ..runs import has_unsaved_edits, reads_own_file

    if isinstance(layer, QgsRasterLayer):
        return raster_file(layer, what)
    if isinstance(layer, QgsVectorLayer):
        if layer.featureCount() == 0:
            raise QgsProcessingException(f"the {what} layer '{layer.name()}' has no features; label a few "
                                         "pixels or polygons first")
        if check_field:
            _check_class_field(layer, what, class_field)
        if reads_own_file(layer):
            return layer.source()
        path = _layer_copy_file(layer, what, context)
        if feedback is not None and has_unsaved_edits(layer):
            feedback.pushWarning(f"the {what} layer '{layer.name()}' has unsaved edits: this run uses them as "
                                 "they stand, but they are not saved to its file (save the layer to keep them)")
        return path
    raise QgsProcessingException(f"the {what} input must be a vector or raster layer")


def existing_layer_file(layer: Any) -> Optional[str]:
    """The file behind a map layer when it exists (None for a layer held in memory or a database, or a file gone):
    :func:`..layers.layer_file`, for the destination checks."""
    from ..layers import layer_file

    path = layer_file(layer)
    return path if path is not None and os.path.exists(path) else None


class _ModelWords(NamedTuple):
    """How messages name one kind of saved model for a Processing user."""

    noun: str  # "classifier"
    article: str  # "a classifier": what the folder should have been
    given: str  # "a saved classifier": what the folder is, when it is this kind where the other belongs
    where: str  # the Processing output that saves it
    other_goes: str  # where the other kind goes instead
    none_note: str  # said of a run that saved none


_MODEL_WORDS = {
    "classifier": _ModelWords("classifier", "a classifier", "a saved classifier",
                              "the folder Augment & Classify saved as its 'Trained classifier' output",
                              "a synthesis model goes to 'Synthesise labelled patches'", ""),
    "synthesis": _ModelWords("synthesis model", "a synthesis model", "a synthesis model",
                             "the folder saved as 'Trained synthesis model' by Augment & Classify or by 'Train "
                             "synthesis model bundle'", "a classifier goes to 'Classify with a saved classifier'",
                             " (a baseline saves none)"),
}


def check_model_kind(folder: str, wanted: str) -> None:
    """Refuse, naming the Processing outputs that save each model, the other kind of saved model or a run's output
    folder where a ``wanted`` ("classifier" or "synthesis") model belongs (the engine refuses them too, in the
    command line's words)."""
    from ...core.model_folders import CLASSIFIER_FOLDER, SYNTHESIS_BUNDLE, model_folder_kind

    words = _MODEL_WORDS[wanted]
    kind = model_folder_kind(folder)
    if kind in _MODEL_WORDS and kind != wanted:
        raise QgsProcessingException(f"{folder} is {_MODEL_WORDS[kind].given}, not {words.article}: give "
                                     f"{words.where} ({words.other_goes})")
    if kind == "run":
        inside = Path(folder) / (CLASSIFIER_FOLDER if wanted == "classifier" else SYNTHESIS_BUNDLE)
        if (inside / "manifest.json").is_file():
            raise QgsProcessingException(f"{folder} is the output folder of a run from the HyperSynth panel or the "
                                         f"command line; give the {words.noun} it saved: {inside}")
        raise QgsProcessingException(f"{folder} is the output folder of a run that saved no {words.noun}"
                                     f"{words.none_note}; give {words.where}")
