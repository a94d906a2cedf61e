"""A ground-truth map saved by MATLAB (``Indian_pines_gt.mat``) written as a label raster that QGIS shows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Optional, Sequence

import numpy as np

from ..datasets.registry import dataset_of_label_array
from ..outputs import OutputExistsError
from ..scene import ClassInfo, default_color
from .classes import CLASS_FILE_END, class_file_beside
from .convert import IMPORTED_FROM_TAG, ImportDestination, destination_beside, is_import_of
from .labels import LabelReadError

GROUND_TRUTH_TAG = "HYPERSYNTH_GROUND_TRUTH_OF"  # GDAL metadata item of a label import: the benchmark's title


@dataclass(frozen=True)
class ImportedLabels:
    """What :func:`import_label_map` wrote."""

    raster: Path  # the label raster (0 = unlabelled)
    class_file: Path  # beside it (CLASS_FILE_END): its classes, names and prompts, for the dock's Load classes…
    classes: list[ClassInfo]  # the classes it holds, named as the benchmark names them where it is one
    labelled: int  # pixels with a class
    dataset: Optional[str]  # the benchmark the map is the ground truth of ("Indian Pines (AVIRIS, …)"), or None


def import_label_map(path: str | Path, out: str | Path, shape: tuple[int, int], *, transform: Sequence[float],
                     crs_wkt: Optional[str], overwrite: bool = False) -> ImportedLabels:
    """Write the 2-D label map of the MATLAB file ``path`` whose size is the scene's ``shape`` (rows, cols) as a
    label raster on the scene's grid (``transform``, ``crs_wkt``: a .mat has none of its own), so that QGIS shows it
    in class colours and a run takes it as validation labels. The classes of a standard benchmark's ground truth
    (found by the array's name, e.g. ``indian_pines_gt``) get the benchmark's names, colours and prompts; others
    are "class 1", "class 2"…

    Raises:
        LabelReadError: no 2-D label map of ``shape`` in the file (the message gives the arrays it holds).
        OutputExistsError: ``out`` exists and ``overwrite`` is False.
    """
    from .classes import write_classes
    from .read import SceneReadError, find_label_key, read_mat_arrays
    from .write import write_label_raster

    path = Path(path)
    try:
        arrays = read_mat_arrays(path)
    except SceneReadError as exc:
        raise LabelReadError(str(exc)) from exc
    key = find_label_key(arrays, shape)
    if key is None:
        _refuse(path, arrays, shape)
    labels = np.asarray(arrays[key]).astype(np.int64)
    if (labels < 0).any():
        raise LabelReadError(f"{path.name}'s {key} holds negative values (down to {labels.min()}): a label map holds "
                             f"class ids from 1, and 0 where a pixel is unlabelled; save it so")
    ids = [int(i) for i in np.unique(labels) if i > 0]
    spec = dataset_of_label_array(key)
    names = spec.class_names if spec is not None else {}
    classes = [ClassInfo(i, names.get(i, f"class {i}"), default_color(n),
                         spec.prompts.get(i, "") if spec is not None else "") for n, i in enumerate(ids)]
    class_file = class_file_beside(out)
    if class_file.exists() and not overwrite:  # checked before the raster is written: nothing is left half done
        raise OutputExistsError(f"{class_file} already exists; choose another name for the label raster")
    raster = write_label_raster(out, labels, classes, transform=transform, crs_wkt=crs_wkt, overwrite=overwrite)
    dataset = spec.title if spec is not None else None
    _record_source(raster, path, dataset)
    write_classes(class_file, classes)
    return ImportedLabels(raster, class_file, classes, int((labels > 0).sum()), dataset)


def earlier_label_import(raster: str | Path) -> ImportedLabels:
    """What :func:`import_label_map` wrote into ``raster`` earlier (its class file beside it), to open it again."""
    from .classes import read_classes
    from .read import opened_quietly

    raster = Path(raster)
    class_file = class_file_beside(raster)
    classes = read_classes(class_file)
    with opened_quietly(raster) as ds:
        labelled = int((ds.read(1) > 0).sum())
        dataset = ds.tags().get(GROUND_TRUTH_TAG)
    return ImportedLabels(raster, class_file, classes, labelled, dataset)


def _refuse(path: Path, arrays: dict[str, np.ndarray], shape: tuple[int, int]) -> None:
    """Say why ``path`` holds no label map of the scene's ``shape``: a map of that size with values that are no
    class ids (NaN, fractions), or which 2-D arrays it holds instead."""
    for key, array in arrays.items():
        if array.ndim == 2 and tuple(array.shape) == tuple(shape) and array.dtype.kind == "f":
            raise LabelReadError(f"{path.name}'s {key} has the scene's size but holds values that are no class ids "
                                 f"(NaN or fractions): a label map holds whole class ids, 0 where unlabelled")
    flat = ", ".join(f"{k} {tuple(a.shape)}" for k, a in arrays.items() if a.ndim == 2) or "none"
    raise LabelReadError(f"{path.name} holds no 2-D label map of the scene's size {shape[0]} × {shape[1]} (2-D "
                         f"arrays: {flat}); open the scene these labels belong to first")


def _record_source(raster: Path, source: Path, dataset: Optional[str]) -> None:
    """Write the .mat's name into the label raster's metadata (:data:`~.convert.IMPORTED_FROM_TAG`), so that opening
    the .mat again finds this import (:func:`label_import_destination`), and the benchmark it is the ground truth
    of (:data:`GROUND_TRUTH_TAG`)."""
    from osgeo import gdal

    ds = gdal.Open(str(raster), gdal.GA_Update)
    ds.SetMetadataItem(IMPORTED_FROM_TAG, source.name)
    if dataset:
        ds.SetMetadataItem(GROUND_TRUTH_TAG, dataset)
    ds = None  # written at the close


def label_import_destination(path: str | Path, taken: Collection[Path] = ()) -> ImportDestination:
    """Where the dock writes the label raster of the MATLAB map ``path``: ``<stem>.tif`` beside it (with its class
    file ``<stem>_classes.json``), or the first ``<stem>_1.tif``… free with its class file, or an earlier import of
    this map (its name recorded, written after the map last changed, its class file beside it) to open again; no path
    when the folder cannot be written; ``taken``: files being written now."""
    path = Path(path)

    def earlier(tif: Path) -> bool:
        return is_import_of(tif, path, float32=False) and class_file_beside(tif).is_file()

    return destination_beside(path, path.stem, earlier, taken, beside=(CLASS_FILE_END,))
