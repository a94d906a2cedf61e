"""The Scene panel's Leave out…: a copy of the scene with the named bands flagged bad becomes the scene."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hypersynth.core.demo import make_demo_scene
from hypersynth.core.io.read import read_scene
from hypersynth.core.io.write import write_scene

from .conftest import wait_until


def _written(panel) -> None:
    assert wait_until(lambda: not panel.imports.running, timeout=60.0), panel.note.text()


def test_leave_out_writes_a_flagged_copy_that_becomes_the_scene(qgis_new_project, tmp_path, panel):
    scene = make_demo_scene(size=32, bands=40, n_classes=3, seed=0).scene
    scene = replace(scene, good_bands=np.ones(scene.bands, dtype=bool))  # a file that flags no band
    path = write_scene(scene, tmp_path / "cube.tif")
    original = path.read_bytes()
    layer = panel.open_file(str(path), qgis_new_project)
    assert panel.fact_labels["bands"].text() == "40"
    low, high = scene.wavelengths[[20, 22]]
    asked = f"1-2, {low - 0.1:.1f}-{high + 0.1:.1f}nm"
    assert panel.leave_out_bands(asked, project=qgis_new_project)
    target = tmp_path / "cube_bands_left_out.tif"
    assert panel.note.text().startswith(f"Writing {target} with bands 1–2 (")
    _written(panel)
    copy = panel.scene_layer()
    assert copy is not None and copy.source() == str(target) and copy.name() == f"{layer.name()} (bands left out)"
    assert panel.fact_labels["bands"].text() == "40 (35 usable; 5 flagged bad in the metadata)"
    assert panel.note.text().startswith("Bands 1–2 (") and panel.note.text().endswith(
        f"flagged bad in {target}, now the scene: runs leave them out. cube.tif is unchanged.")
    flagged = read_scene(target)
    assert np.flatnonzero(~flagged.good_bands).tolist() == [0, 1, 20, 21, 22]
    assert np.array_equal(flagged.cube, read_scene(path).cube) and path.read_bytes() == original

    assert panel.leave_out_bands("30", project=qgis_new_project)  # from the copy: more bands, the next free name
    _written(panel)
    assert panel.scene_layer().source() == str(tmp_path / "cube_bands_left_out_1.tif")
    assert panel.scene_layer().name() == f"{layer.name()} (bands left out)"  # not "… (bands left out) (bands …"
    assert np.flatnonzero(~read_scene(tmp_path / "cube_bands_left_out_1.tif").good_bands).tolist() == [0, 1, 20, 21,
                                                                                                       22, 29]


def test_leave_out_says_what_to_fix_and_writes_nothing(qgis_new_project, tmp_path, panel):
    scene = make_demo_scene(size=32, bands=40, n_classes=3, seed=0).scene
    path = write_scene(replace(scene, good_bands=np.arange(40) != 5), tmp_path / "cube.tif")
    assert not panel.leave_out_bands("1-3")
    assert panel.note.text().startswith("Choose a scene read from a raster file first")
    panel.open_file(str(path), qgis_new_project)
    for text, said in (("41", "No band was left out: band 41 (in '41') is not in the scene: its bands are numbered "
                              "1 to 40."),
                       ("9-3", "No band was left out: '9-3' runs from high to low; give the lower end first (3-9)."),
                       ("1-5, 7-40", "No band was left out: leaving out bands 1–5 ("),  # band 6 is flagged already
                       ("3000-3100nm", "No band was left out: '3000-3100nm' holds no band of the scene")):
        assert not panel.leave_out_bands(text, project=qgis_new_project)
        assert panel.note.text().startswith(said), panel.note.text()
    assert "would leave the scene no usable band; name fewer." in (panel.leave_out_bands("1-5, 7-40")
                                                                   or panel.note.text())
    assert not panel.imports.running and sorted(p.name for p in tmp_path.iterdir()) == ["cube.tif"]


def test_the_button_asks_for_the_bands_and_the_file(qgis_new_project, tmp_path, panel, monkeypatch):
    from qgis.PyQt.QtWidgets import QFileDialog, QInputDialog

    assert not panel.leave_out_button.isEnabled()  # no scene yet
    scene = make_demo_scene(size=32, bands=40, n_classes=3, seed=0).scene
    panel.open_file(str(write_scene(scene, tmp_path / "cube.tif")), qgis_new_project)
    assert panel.leave_out_button.isEnabled()
    asked = {}

    def get_text(parent, title, label):
        asked["label"] = label
        return "3-4", True

    def get_save_file_name(parent, title, suggested, filters):
        asked["suggested"] = suggested
        return str(tmp_path / "mine"), filters

    monkeypatch.setattr(QInputDialog, "getText", get_text)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", get_save_file_name)
    panel.leave_out_button.click()
    _written(panel)
    assert "104-108, 150-163, 220" in asked["label"] and asked["suggested"] == str(tmp_path / "cube_bands_left_out.tif")
    assert panel.scene_layer().source() == str(tmp_path / "mine.tif")  # named as a GeoTIFF
    assert not read_scene(tmp_path / "mine.tif").good_bands[[2, 3]].any()
