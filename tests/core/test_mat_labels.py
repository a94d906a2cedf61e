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
    assert mat_array_shapes(gt) == {"indian_pines_gt": (145, 145)} and not holds_a_cube(mat_array_shapes(gt))
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
    assert holds_a_cube(mat_array_shapes(tmp_path / "map.mat"))  # a cube beside it: the file is opened as a scene
    imported = import_label_map(tmp_path / "map.mat", tmp_path / "map.tif", (12, 10), transform=UTM, crs_wkt=None)
    assert [(c.id, c.name) for c in imported.classes] == [(3, "class 3"), (7, "class 7")] and imported.dataset is None
    with rasterio.open(imported.raster) as ds:
        assert np.array_equal(ds.read(1), labels.astype(np.uint8)) and ds.transform.to_gdal() == UTM
    with pytest.raises(LabelReadError, match=r"map.mat holds no 2-D label map of the scene's size 10 × 12"):
        import_label_map(tmp_path / "map.mat", tmp_path / "other.tif", (10, 12), transform=UTM, crs_wkt=None)
    assert not (tmp_path / "other.tif").exists()


def test_maps_that_are_no_class_ids_are_refused_saying_why(tmp_path):
    nan = np.zeros((6, 5))
    nan[0, 0] = np.nan
    scipy.io.savemat(tmp_path / "nan.mat", {"gt": nan})
    with pytest.raises(LabelReadError, match=r"nan.mat's gt has the scene's size but holds values that are no class "
                                             r"ids \(NaN or fractions\)"):
        import_label_map(tmp_path / "nan.mat", tmp_path / "nan.tif", (6, 5), transform=UTM, crs_wkt=None)
    scipy.io.savemat(tmp_path / "minus.mat", {"gt": np.full((6, 5), -1, np.int16)})
    with pytest.raises(LabelReadError, match=r"minus.mat's gt holds negative values \(down to -1\): a label map holds "
                                             r"class ids from 1, and 0 where a pixel is unlabelled"):
        import_label_map(tmp_path / "minus.mat", tmp_path / "minus.tif", (6, 5), transform=UTM, crs_wkt=None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["minus.mat", "nan.mat"]  # nothing written


def test_a_v73_map_and_an_earlier_import_opened_again(tmp_path):
    """MATLAB v7.3 files are HDF5 with the axes reversed; a map imported once is found again, not written twice."""
    import h5py

    from hypersynth.core.io.mat_labels import earlier_label_import, label_import_destination

    labels = np.zeros((7, 9), np.uint8)
    labels[1:3, 2:6] = 2
    with h5py.File(tmp_path / "gt73.mat", "w") as f:  # as MATLAB -v7.3 writes a (7, 9) uint8 array
        f.create_dataset("gt", data=labels.T).attrs["MATLAB_class"] = np.bytes_("uint8")
    assert mat_array_shapes(tmp_path / "gt73.mat") == {"gt": (7, 9)}
    first = label_import_destination(tmp_path / "gt73.mat")
    assert first.path == tmp_path / "gt73.tif" and not first.earlier
    imported = import_label_map(tmp_path / "gt73.mat", first.path, (7, 9), transform=UTM, crs_wkt=None)
    assert imported.labelled == 8 and imported.class_file == tmp_path / "gt73_classes.json"
    again = label_import_destination(tmp_path / "gt73.mat")
    assert again.path == first.path and again.earlier
    assert earlier_label_import(again.path).classes == imported.classes
    assert label_import_destination(tmp_path / "gt73.mat", taken={first.path}).path == tmp_path / "gt73_1.tif"
    (tmp_path / "gt73_1_classes.json").write_text("{}")  # a class file in the way: that name is passed over too
    assert label_import_destination(tmp_path / "gt73.mat", taken={first.path}).path == tmp_path / "gt73_2.tif"
