"""A MATLAB ground-truth map written as a label raster: a benchmark's class names, or plain ones, on the scene grid."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
import scipy.io

from hypersynth.core.io.labels import LabelReadError
from hypersynth.core.io.mat_labels import import_label_map
from hypersynth.core.io.read import holds_a_cube, mat_array_shapes, opened_quietly
from hypersynth.core.scene import PIXEL_GRID

SHARED = Path(os.environ.get("HYPERSYNTH_DATA_DIR", "/nonexistent"))
UTM = (500000.0, 10.0, 0.0, 4000000.0, 0.0, -10.0)


@pytest.mark.skipif(not (SHARED / "indian_pines" / "Indian_pines_gt.mat").is_file(), reason="no Indian Pines GT here")
def test_the_indian_pines_ground_truth_gets_its_16_class_names(tmp_path):
    gt = SHARED / "indian_pines" / "Indian_pines_gt.mat"
    assert mat_array_shapes(gt) == {"indian_pines_gt": (145, 145)} and not holds_a_cube(gt)
    imported = import_label_map(gt, tmp_path / "gt.tif", (145, 145), transform=PIXEL_GRID, crs_wkt=None)
    assert imported.labelled == 10249 and imported.dataset.startswith("Indian Pines (AVIRIS")
    assert [c.name for c in imported.classes][:3] == ["Alfalfa", "Corn-notill", "Corn-mintill"]
    assert len(imported.classes) == 16 and all(c.prompt for c in imported.classes)
    with opened_quietly(imported.raster) as ds:  # on the pixel grid: no georeference
        assert ds.read(1).sum() == scipy.io.loadmat(gt)["indian_pines_gt"].astype(np.int64).sum()


def test_a_map_of_no_benchmark_gets_plain_names_on_the_grid_given(tmp_path):
    labels = np.zeros((12, 10), np.float64)  # MATLAB saves many maps as double
    labels[1:4, 1:4], labels[6:9, 5:9] = 3, 7
    scipy.io.savemat(tmp_path / "map.mat", {"my_labels": labels, "cube": np.zeros((12, 10, 20))})
    assert holds_a_cube(tmp_path / "map.mat")  # a cube beside it: the file is opened as a scene
    imported = import_label_map(tmp_path / "map.mat", tmp_path / "map.tif", (12, 10), transform=UTM, crs_wkt=None)
    assert [(c.id, c.name) for c in imported.classes] == [(3, "class 3"), (7, "class 7")] and imported.dataset is None
    with rasterio.open(imported.raster) as ds:
        assert np.array_equal(ds.read(1), labels.astype(np.uint8)) and ds.transform.to_gdal() == UTM
    with pytest.raises(LabelReadError, match=r"map.mat holds no 2-D label map of the scene's size 10 × 12"):
        import_label_map(tmp_path / "map.mat", tmp_path / "other.tif", (10, 12), transform=UTM, crs_wkt=None)
    assert not (tmp_path / "other.tif").exists()
