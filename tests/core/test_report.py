"""The run's synthetic summary: counts, agreement, and the class spectra the plugin's dock overlays."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from hypersynth.core.report import read_synthetic_spectra, synthetic_summary
from hypersynth.core.scene import ClassInfo, Scene


def _scene_with_a_bad_band() -> Scene:
    cube = np.zeros((4, 3, 3), np.float32)
    return Scene(cube, np.ones((3, 3), bool), wavelengths=np.array([450.0, 550.0, 1400.0, 2200.0]),
                 good_bands=np.array([True, True, False, True]))


def _synthetic() -> SimpleNamespace:
    """Three patches of class 1 and one of class 2, 3 usable bands, 3 × 3 pixels; centre values chosen."""
    patches = np.zeros((4, 3, 3, 3), np.float32)
    patches[:, :, 1, 1] = [[0.1, 0.2, 0.3], [0.3, 0.2, 0.1], [0.2, 0.2, 0.2], [0.5, 0.5, 0.5]]
    return SimpleNamespace(patches=patches, labels=np.array([1, 1, 1, 2]))


def test_summary_holds_each_class_synthetic_spectra_over_the_scene_bands(tmp_path):
    scene = _scene_with_a_bad_band()
    classes = [ClassInfo(1, "grass", prompt="green grass"), ClassInfo(2, "road"), ClassInfo(3, "water")]
    real = {1: np.array([[0.2, 0.2, 0.2]]), 2: np.array([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]])}
    summary = synthetic_summary(real, _synthetic(), classes, scene)

    assert summary["total"] == 4 and summary["scene_bands"] == 4
    assert summary["wavelengths"] == [450.0, 550.0, 1400.0, 2200.0]
    grass, road = summary["classes"]  # water has neither synthetic nor real spectra: no row
    assert (grass["name"], grass["prompt"], grass["synthetic"], grass["real_labelled"]) == ("grass", "green grass", 3, 1)
    assert grass["synthetic_mean"] == [0.2, 0.2, None, 0.2]  # the unusable band is null
    assert grass["synthetic_std"][2] is None and grass["synthetic_std"][0] == float(f"{np.std([0.1, 0.3, 0.2]):.6g}")
    assert grass["mean_sam_deg"] == 0.0 and road["mean_rmse"] == 0.0

    path = tmp_path / "synthetic_summary.json"
    path.write_text(json.dumps(summary))
    stats, wavelengths = read_synthetic_spectra(path)
    assert sorted(stats) == [1, 2]
    mean, std = stats[1]
    np.testing.assert_allclose(mean, [0.2, 0.2, np.nan, 0.2])
    assert np.isnan(std[2]) and std[1] == 0.0
    np.testing.assert_array_equal(wavelengths, [450.0, 550.0, 1400.0, 2200.0])


def test_summary_written_before_it_held_spectra_reads_as_none(tmp_path):
    path = tmp_path / "synthetic_summary.json"
    path.write_text(json.dumps({"classes": [{"id": 1, "name": "grass", "synthetic": 3}], "total": 3}))
    assert read_synthetic_spectra(path) == ({}, None)


def test_synthetic_bands_that_do_not_match_the_scene_are_refused():
    scene = _scene_with_a_bad_band()
    synthetic = SimpleNamespace(patches=np.zeros((1, 4, 3, 3), np.float32), labels=np.array([1]))
    with pytest.raises(ValueError, match="4 synthetic bands for a scene with 3 usable bands"):
        synthetic_summary({1: np.zeros((1, 4))}, synthetic, [ClassInfo(1, "grass")], scene)
