"""Engine test set-up: a small labelled scene written to files once per test module."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def scene_files(tmp_path_factory) -> dict[str, Path]:
    """A 32 × 32 × 20 demo scene (GeoTIFF), 4 labels per class of its 3 classes (label raster), its class file, and
    its whole ground truth (label raster)."""
    from hypersynth.core.demo import make_demo_scene, sparse_labels
    from hypersynth.core.io.classes import write_classes
    from hypersynth.core.io.write import write_label_raster, write_scene

    folder = tmp_path_factory.mktemp("inputs")
    data = make_demo_scene(size=32, bands=20, n_classes=3, seed=0)
    kw = dict(transform=data.scene.transform, crs_wkt=data.scene.crs_wkt)
    return {"scene": write_scene(data.scene, folder / "scene.tif"),
            "labels": write_label_raster(folder / "labels.tif", sparse_labels(data.labels, 4, seed=0), data.classes,
                                         **kw),
            "classes": write_classes(folder / "classes.json", data.classes),
            "truth": write_label_raster(folder / "truth.tif", data.labels, data.classes, **kw)}
