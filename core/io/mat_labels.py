"""A ground-truth map saved by MATLAB (``Indian_pines_gt.mat``) written as a label raster that QGIS shows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..scene import ClassInfo, default_color
from .labels import LabelReadError


@dataclass(frozen=True)
class ImportedLabels:
    """What :func:`import_label_map` wrote."""

    raster: Path  # the label raster (0 = unlabelled)
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
    from ..datasets.registry import list_datasets
    from .read import SceneReadError, find_label_key, read_mat_arrays
    from .write import write_label_raster

    path = Path(path)
    try:
        arrays = read_mat_arrays(path)
    except SceneReadError as exc:
        raise LabelReadError(str(exc)) from exc
    key = find_label_key(arrays, shape)
    if key is None:
        flat = ", ".join(f"{k} {tuple(a.shape)}" for k, a in arrays.items() if a.ndim == 2) or "none"
        raise LabelReadError(f"{path.name} holds no 2-D label map of the scene's size {shape[0]} × {shape[1]} (2-D "
                             f"arrays: {flat}); open the scene these labels belong to first")
    labels = np.asarray(arrays[key]).astype(np.int64)
    ids = [int(i) for i in np.unique(labels) if i > 0]
    spec = next((d for d in list_datasets() if key in (d.gt_key, d.test_gt_key)), None)
    names = spec.class_names if spec is not None else {}
    classes = [ClassInfo(i, names.get(i, f"class {i}"), default_color(n),
                         spec.prompts.get(i, "") if spec is not None else "") for n, i in enumerate(ids)]
    raster = write_label_raster(out, labels, classes, transform=transform, crs_wkt=crs_wkt, overwrite=overwrite)
    return ImportedLabels(raster, classes, int((labels > 0).sum()), spec.title if spec is not None else None)
