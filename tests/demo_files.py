"""A generated demo scene written as a run's input files (scene GeoTIFF, sparse labels, full truth, class file)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np

from hypersynth.core.demo import make_demo_scene, sparse_labels
from hypersynth.core.io.classes import write_classes
from hypersynth.core.io.write import write_label_raster, write_scene


def write_demo_files(folder: Path, *, size: int = 32, bands: int = 30, seed: int = 0, labels_per_class: int = 4,
                     draw: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> tuple[Path, Path, Path, Path]:
    """``(scene, labels, truth, classes)`` files of a ``size`` × ``size`` × ``bands`` demo scene with 3 classes in
    ``folder``; the labels: ``labels_per_class`` drawn per class, or what ``draw(truth)`` draws from the ``(H, W)``
    truth."""
    data = make_demo_scene(size=size, bands=bands, n_classes=3, seed=seed)
    scene = write_scene(data.scene, folder / "scene.tif")
    sparse = draw(data.labels) if draw else sparse_labels(data.labels, labels_per_class, seed=seed)
    kw = dict(transform=data.scene.transform, crs_wkt=data.scene.crs_wkt)
    labels = write_label_raster(folder / "labels.tif", sparse, data.classes, **kw)
    truth = write_label_raster(folder / "truth.tif", data.labels, data.classes, **kw)
    classes = folder / "classes.json"
    write_classes(classes, data.classes)
    return scene, labels, truth, classes
