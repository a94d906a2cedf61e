"""The Scene panel's Leave out bands…: a copy of the scene with the named bands flagged bad becomes the scene."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
from qgis.core import QgsMultiBandColorRenderer

from hypersynth.core.demo import make_demo_scene
from hypersynth.core.io.convert import LEFT_OUT_TAG
from hypersynth.core.io.read import opened_quietly, read_scene
from hypersynth.core.io.write import write_scene
from hypersynth.plugin.rendering import show_bands

from .conftest import wait_until


def _written(panel) -> None:
    assert wait_until(lambda: not panel.imports.running, timeout=60.0), panel.note.text()


def _rgb(layer) -> tuple[int, int, int]:
    renderer = layer.renderer()
    assert isinstance(renderer, QgsMultiBandColorRenderer)
    return renderer.redBand(), renderer.greenBand(), renderer.blueBand()


def _visible(project, layer) -> bool:
    return project.layerTreeRoot().findLayer(layer.id()).isVisible()


def test_leave_out_writes_a_flagged_copy_that_becomes_the_scene_looking_as_it_did(qgis_new_project, tmp_path, panel):
    scene = make_demo_scene(size=32, bands=40, n_classes=3, seed=0).scene
    scene = replace(scene, good_bands=np.ones(scene.bands, dtype=bool))  # a file that flags no band
    path = write_scene(scene, tmp_path / "cube.tif")
    original = path.read_bytes()
    layer = panel.open_file(str(path), qgis_new_project)
    assert panel.fact_labels["bands"].text() == "40"
    show_bands(layer, (1, 2, 30))  # the analyst's composite, two of whose bands are left out below
    low, high = scene.wavelengths[[20, 22]]
    asked = f"1-2, {low - 0.1:.1f}-{high + 0.1:.1f}nm"
    assert panel.leave_out_bands(asked, project=qgis_new_project)
    target = tmp_path / "cube_bands_left_out.tif"
    assert panel.note.text().startswith(f"Writing {target} with bands 1–2 (")
    _written(panel)
    copy = panel.scene_layer()
    assert copy is not None and copy.source() == str(target) and copy.name() == "cube (35 of 40 bands)"
    assert _rgb(copy) == (3, 4, 30)  # each flagged band of the composite moved to the nearest usable one not shown
    assert not _visible(qgis_new_project, layer) and _visible(qgis_new_project, copy)
    assert panel.fact_labels["bands"].text() == "40 (35 usable; 5 flagged bad in the metadata)"
    assert panel.note.text().startswith("Bands 1–2 (") and panel.note.text().endswith(
        "flagged bad in cube_bands_left_out.tif, now the scene 'cube (35 of 40 bands)': runs leave them out. "
        "cube.tif is unchanged (hidden).")
    flagged = read_scene(target)
    assert np.flatnonzero(~flagged.good_bands).tolist() == [0, 1, 20, 21, 22]
    assert np.array_equal(flagged.cube, read_scene(path).cube) and path.read_bytes() == original

    assert panel.leave_out_bands("2-3, 30", project=qgis_new_project)  # from the copy: band 2 is flagged already
    assert panel.note.text().startswith(f"Writing {tmp_path / 'cube_bands_left_out_1.tif'} with bands 3 (")
    _written(panel)
    again = panel.scene_layer()
    assert again.source() == str(tmp_path / "cube_bands_left_out_1.tif") and again.name() == "cube (33 of 40 bands)"
    assert np.flatnonzero(~read_scene(again.source()).good_bands).tolist() == [0, 1, 2, 20, 21, 22, 29]
    with opened_quietly(again.source()) as ds:  # the file's record holds every band it flags, not the last round
        assert ds.tags()[LEFT_OUT_TAG].startswith("bands 1–3 (") and " and 30 (" in ds.tags()[LEFT_OUT_TAG]
    assert _rgb(again) == (5, 4, 29)  # 4 stays; 3 and 30, flagged now, move to the nearest bands not shown


def test_leave_out_says_what_to_fix_and_writes_nothing(qgis_new_project, tmp_path, panel):
    scene = make_demo_scene(size=32, bands=40, n_classes=3, seed=0).scene
    path = write_scene(replace(scene, good_bands=np.arange(40) != 5), tmp_path / "cube.tif")
    assert not panel.leave_out_bands("1-3")
    assert panel.note.text().startswith("No band was left out: choose a scene read from a raster file first")
    panel.open_file(str(path), qgis_new_project)
    for text, said in (("41", "No band was left out: band 41 is not in the scene: its bands are numbered 1 to 40."),
                       ("9-3", "No band was left out: '9-3' runs from high to low; give the lower end first (3-9)."),
                       ("6", "No band was left out: band 6 ("),  # flagged already
                       ("1-5, 7-40", "No band was left out: leaving out bands 1–5 ("),  # band 6 is flagged already
                       ("3000-3100nm", "No band was left out: '3000-3100nm' holds no band of the scene")):
        assert not panel.leave_out_bands(text, project=qgis_new_project)
        assert panel.note.text().startswith(said), panel.note.text()
    assert panel.leave_out_problem("6").endswith("is flagged bad already; name bands still usable")
    assert panel.leave_out_problem("1-5, 7-40").endswith("would leave the scene no usable band; name fewer")
    assert not panel.imports.running and sorted(p.name for p in tmp_path.iterdir()) == ["cube.tif"]


def test_the_button_asks_again_after_a_mistake_then_for_the_file(qgis_new_project, tmp_path, panel, monkeypatch):
    from qgis.PyQt.QtWidgets import QFileDialog

    from hypersynth.ui import leave_out_dialog

    assert not panel.leave_out_button.isEnabled()  # no scene yet
    scene = make_demo_scene(size=32, bands=40, n_classes=3, seed=0).scene
    panel.open_file(str(write_scene(scene, tmp_path / "cube.tif")), qgis_new_project)
    assert panel.leave_out_button.isEnabled()
    answers, asked = iter([("3-4, 50, abc", True), ("3-4", True)]), []

    def get_text(parent, title, label, text):
        asked.append((label, text))
        return next(answers)

    def get_save_file_name(parent, title, suggested, filters):
        asked.append(suggested)
        return str(tmp_path / "mine"), filters

    monkeypatch.setattr(leave_out_dialog, "get_text", get_text)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", get_save_file_name)
    panel.leave_out_button.click()
    _written(panel)
    (first, typed_first), (second, typed_again), suggested = asked
    assert first.startswith("Bands of cube to flag bad (40 bands, numbered from 1). It flags bands ")  # the demo's
    assert "1340-1450nm, 1790-1960nm (the water-vapour windows), or 1-3" in first and typed_first == ""
    assert max(len(line) for line in first.splitlines()) <= leave_out_dialog.WIDTH
    problem = second.split("\n\n")[0].replace("\n", " ")  # both mistakes at once, wrapped to the dialog's width
    assert problem.startswith("Not left out: band 50 is not in the scene: its bands are numbered 1 to 40; 'abc' is "
                              "neither a band number (224)")
    assert max(len(line) for line in second.splitlines()) <= leave_out_dialog.WIDTH
    assert typed_again == "3-4, 50, abc"  # kept for the analyst to fix
    assert suggested == str(tmp_path / "cube_bands_left_out.tif")
    assert panel.scene_layer().source() == str(tmp_path / "mine.tif")  # named as a GeoTIFF
    assert not read_scene(tmp_path / "mine.tif").good_bands[[2, 3]].any()


def test_the_dialog_keeps_the_text_unselected_to_be_fixed(qtbot):
    from qgis.PyQt.QtCore import QTimer
    from qgis.PyQt.QtWidgets import QApplication, QLineEdit

    from hypersynth.ui.leave_out_dialog import get_text, leave_out_prompt

    seen = {}

    deadline = time.monotonic() + 10.0

    def look_then_accept() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            if time.monotonic() < deadline:  # the dialog not shown yet; past the deadline exec_ never began
                QTimer.singleShot(20, look_then_accept)
            return
        edit = dialog.findChild(QLineEdit)
        seen.update(selected=edit.hasSelectedText(), cursor=edit.cursorPosition(), text=edit.text())
        edit.insert("0")  # the analyst's first key
        dialog.accept()

    QTimer.singleShot(50, look_then_accept)
    text, ok = get_text(None, "Leave out bands", leave_out_prompt("cube", np.zeros(40, bool), None), "3-4, 5")
    assert seen == {"selected": False, "cursor": 6, "text": "3-4, 5"} and (text, ok) == ("3-4, 50", True)
    prompt = leave_out_prompt("cube", np.arange(40) >= 37, None)  # bands 38-40 flagged: the example avoids them
    assert "Give band numbers or ranges of them (the scene has no wavelengths), separated by commas, e.g. 1-3, " \
           "35-37." in prompt.replace("\n", " ")


def test_a_second_copy_written_meanwhile_gets_its_own_file(qgis_new_project, tmp_path, panel):
    """Two rounds started before the first is written: each its own file, neither lost."""
    scene = make_demo_scene(size=32, bands=40, n_classes=3, seed=0).scene
    panel.open_file(str(write_scene(replace(scene, good_bands=np.ones(40, bool)), tmp_path / "cube.tif")),
                    qgis_new_project)
    assert panel.leave_out_bands("1-2", project=qgis_new_project)
    assert panel.leave_out_bands("30", project=qgis_new_project)  # the first still being written
    assert not panel.leave_out_bands("31", tmp_path / "cube_bands_left_out.tif", project=qgis_new_project)
    assert panel.note.text() == ("No band was left out: cube_bands_left_out.tif is being written already; choose "
                                 "another file.")
    _written(panel)
    flags = {name: np.flatnonzero(~read_scene(tmp_path / name).good_bands).tolist()
             for name in ("cube_bands_left_out.tif", "cube_bands_left_out_1.tif")}
    assert flags == {"cube_bands_left_out.tif": [0, 1], "cube_bands_left_out_1.tif": [29]}


def test_every_band_flagged_already_asks_nothing(qgis_new_project, tmp_path, panel, monkeypatch):
    from hypersynth.ui import leave_out_dialog

    scene = make_demo_scene(size=32, bands=40, n_classes=3, seed=0).scene
    path = write_scene(replace(scene, good_bands=np.zeros(40, bool)), tmp_path / "cube.tif")
    panel.open_file(str(path), qgis_new_project)
    monkeypatch.setattr(leave_out_dialog, "get_text", lambda *args: pytest.fail("asked with no band to leave out"))
    panel.leave_out_button.click()
    assert panel.note.text() == "Every band of cube is flagged bad already: there is none left to leave out."


def test_a_file_the_analyst_agreed_to_replace_is_replaced(qgis_new_project, tmp_path, panel, monkeypatch):
    from qgis.PyQt.QtWidgets import QFileDialog

    from hypersynth.ui import leave_out_dialog

    scene = make_demo_scene(size=32, bands=40, n_classes=3, seed=0).scene
    panel.open_file(str(write_scene(scene, tmp_path / "cube.tif")), qgis_new_project)
    (tmp_path / "old.tif").write_bytes(b"an earlier copy")
    (tmp_path / "other.tif").write_bytes(b"not asked about")
    bands = iter([("1", True), ("2", True)])
    monkeypatch.setattr(leave_out_dialog, "get_text", lambda *args: next(bands))
    chosen = iter([str(tmp_path / "old.tif"), str(tmp_path / "other")])  # the dialog asked for old.tif only
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (next(chosen), ""))
    panel.leave_out_button.click()
    _written(panel)
    assert panel.scene_layer().source() == str(tmp_path / "old.tif")
    assert not read_scene(tmp_path / "old.tif").good_bands[0]
    panel.leave_out_button.click()  # "other" + .tif: a name the dialog did not ask about, never replaced
    assert panel.note.text() == f"No band was left out: {tmp_path / 'other.tif'} exists; choose another name."
    assert (tmp_path / "other.tif").read_bytes() == b"not asked about" and not panel.imports.running


def test_the_example_keeps_to_what_the_scene_has():
    from hypersynth.ui.leave_out_dialog import leave_out_prompt

    vnir = leave_out_prompt("pavia", np.zeros(103, bool), np.linspace(430.0, 860.0, 103)).replace("\n", " ")
    assert "water-vapour" not in vnir and "e.g. 1-3, 101-103, or 430-460nm." in vnir  # a VNIR sensor's own range
    assert "none: every band is flagged already" in leave_out_prompt("x", np.ones(12, bool), None).replace("\n", " ")


def test_an_rgb_image_gets_no_composite_buttons_and_says_why(qgis_new_project, tmp_path, panel):
    """An RGB image is refused as a scene: the composites, which pick bands by wavelength, are off, and say why."""
    from osgeo import gdal

    path = tmp_path / "photo.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 16, 16, 3, gdal.GDT_Byte)
    ds.SetGeoTransform((0.0, 1.0, 0.0, 16.0, 0.0, -1.0))
    ds = None
    layer = panel.open_file(str(path), qgis_new_project)
    panel.layer_box.setLayer(layer)
    assert layer.bandCount() == 3 and "has 3 bands" in panel.note.text()
    buttons = panel.composite_buttons.values()
    assert buttons and not any(b.isEnabled() for b in buttons) and not panel.leave_out_button.isEnabled()
    assert all(b.toolTip().endswith("Needs a hyperspectral scene of at least 10 bands read from a raster file")
               for b in buttons)
    scene = make_demo_scene(size=32, bands=40, n_classes=3, seed=0).scene
    panel.layer_box.setLayer(panel.open_file(str(write_scene(scene, tmp_path / "cube.tif")), qgis_new_project))
    assert all(b.isEnabled() for b in buttons) and panel.leave_out_button.isEnabled()


def test_the_dialog_fills_in_the_bands_the_data_suggest_and_says_why(qgis_new_project, tmp_path, panel, monkeypatch):
    """A cube whose bands 11–13 hold next to no light, which its file does not flag: the dialog names them from the
    data and fills them in; Cancel writes nothing."""
    from qgis.PyQt.QtWidgets import QApplication

    from hypersynth.ui import leave_out_dialog

    screened = []
    screen_file = leave_out_dialog.screen_file
    monkeypatch.setattr(leave_out_dialog, "screen_file", lambda *a: screened.append(
        QApplication.overrideCursor().shape()) or screen_file(*a))
    scene = make_demo_scene(size=32, bands=40, n_classes=3, seed=0).scene
    scene.cube[10:13] *= 0.01
    panel.open_file(str(write_scene(scene, tmp_path / "cube.tif")), qgis_new_project)
    asked = []

    def get_text(parent, title, label, text):
        asked.append((label, text, QApplication.overrideCursor()))
        return text, False  # Cancel

    monkeypatch.setattr(leave_out_dialog, "get_text", get_text)
    panel.leave_out_button.click()
    ((label, text, cursor),) = asked
    assert text == "11-13" and cursor is None  # busy while the file is screened, not while the analyst types
    said = label.replace("\n", " ")
    assert "From the data (1,024 pixels read): bands 11–13 (938–1046 nm) are under 2 % of the median band's" in said
    assert "the spectrum's edge). Filled in below: check them in the spectral profile." in said
    assert max(len(line) for line in label.splitlines()) <= leave_out_dialog.WIDTH
    from qgis.PyQt.QtCore import Qt

    assert screened == [Qt.WaitCursor]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cube.tif"]
