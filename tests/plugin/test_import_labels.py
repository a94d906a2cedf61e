"""`hypersynth:importlabels`: a MATLAB ground-truth map written as a label raster on its imported scene's grid, with
its class file, ready for Draw training labels in a model (QGIS opens no .mat as a layer)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from osgeo import gdal
from qgis.core import QgsProcessingException

import processing

SHARED = Path(os.environ.get("HYPERSYNTH_DATA_DIR", "/nonexistent"))


def _raster(path: str) -> np.ndarray:
    ds = gdal.Open(path)  # held while its band is read
    return ds.GetRasterBand(1).ReadAsArray()


def test_a_ground_truth_map_lands_on_its_scenes_grid_with_its_classes(hypersynth_plugin, tmp_path):
    from hypersynth.core.demo import make_demo_scene
    from hypersynth.core.io.write import write_scene
    from hypersynth.core.scene import PIXEL_GRID

    data = make_demo_scene(size=32, bands=12, n_classes=3, seed=0)
    scene = write_scene(replace(data.scene, transform=PIXEL_GRID, crs_wkt=None), tmp_path / "field.tif")
    scipy.io.savemat(tmp_path / "field_gt.mat", {"field_gt": data.labels.astype(np.uint8)})
    result = processing.run("hypersynth:importlabels", {"INPUT": str(tmp_path / "field_gt.mat"), "SCENE": str(scene),
                                                        "OUTPUT": str(tmp_path / "field_gt.tif")})
    assert np.array_equal(_raster(result["OUTPUT"]), data.labels)
    classes = json.loads(Path(result["CLASS_FILE"]).read_text())["classes"]
    assert [c["id"] for c in classes] == sorted(int(i) for i in np.unique(data.labels) if i)
    drawn = processing.run("hypersynth:drawlabels", {  # the map as a draw's reference, as a model would chain it
        "SCENE": str(scene), "REFERENCE": result["OUTPUT"], "CLASSES": result["CLASS_FILE"], "LABELS_PER_CLASS": 3,
        "SEED": 0, "OUTPUT": str(tmp_path / "train.fgb")})
    assert Path(drawn["OUTPUT"]).is_file()


def test_a_map_of_another_size_or_no_mat_file_is_refused(hypersynth_plugin, tmp_path):
    from hypersynth.core.demo import make_demo_scene
    from hypersynth.core.io.write import write_scene

    data = make_demo_scene(size=32, bands=12, n_classes=3, seed=0)
    scene = write_scene(data.scene, tmp_path / "field.tif")
    scipy.io.savemat(tmp_path / "other_gt.mat", {"other_gt": np.ones((10, 10), np.uint8)})
    with pytest.raises(QgsProcessingException, match=r"other_gt.mat"):
        processing.run("hypersynth:importlabels", {"INPUT": str(tmp_path / "other_gt.mat"), "SCENE": str(scene),
                                                   "OUTPUT": str(tmp_path / "other.tif")})
    with pytest.raises(QgsProcessingException, match=r"must be a MATLAB .mat file"):
        processing.run("hypersynth:importlabels", {"INPUT": str(scene), "SCENE": str(scene),
                                                   "OUTPUT": str(tmp_path / "same.tif")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["field.tif", "other_gt.mat"]


@pytest.mark.skipif(not (SHARED / "salinasA" / "SalinasA_gt.mat").is_file(), reason="salinasA is not here")
def test_salinas_a_ground_truth_takes_the_benchmarks_names(hypersynth_plugin, tmp_path):
    scene = processing.run("hypersynth:importscene", {"INPUT": str(SHARED / "salinasA" / "salinasA.mat"),
                                                      "OUTPUT": str(tmp_path / "salinasA.tif")})["OUTPUT"]
    result = processing.run("hypersynth:importlabels", {"INPUT": str(SHARED / "salinasA" / "SalinasA_gt.mat"),
                                                        "SCENE": scene, "OUTPUT": str(tmp_path / "gt.tif")})
    labels = _raster(result["OUTPUT"])
    assert labels.shape == (83, 86) and int((labels > 0).sum()) == 5348
    names = [c["name"] for c in json.loads(Path(result["CLASS_FILE"]).read_text())["classes"]]
    assert len(names) == 6 and not any(name.startswith("class ") for name in names)
