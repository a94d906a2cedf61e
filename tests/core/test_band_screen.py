"""The band screen: bands with next to no light or mostly noise are suggested for leaving out, from the data alone."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from hypersynth.core.band_screen import SAMPLE_VALUES, BandScreen, sample_windows, screen_cube, screen_file
from hypersynth.core.demo import make_demo_scene
from hypersynth.core.io.write import write_scene

SHARED = Path(os.environ.get("HYPERSYNTH_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))


def _cube_with_bad_bands(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 40-band demo cube ``(B, H, W)`` whose bands 11–13 hold 1 % of their light (a window the file does not flag)
    and band 31 only noise around its level (a dead detector row); and the demo's flagged-good bands (it flags its
    own water-vapour bands, 19–20 and 27–29)."""
    scene = make_demo_scene(size=48, bands=40, n_classes=3, seed=seed).scene
    cube = scene.cube.astype(np.float64)
    rng = np.random.default_rng(seed)
    cube[10:13] *= 0.01
    cube[30] = 2 * np.median(cube) + rng.normal(0, 10 * np.median(cube), cube.shape[1:])
    return cube, scene.good_bands


def test_bands_with_next_to_no_light_and_bands_of_noise_are_suggested_with_their_reasons():
    screen = screen_cube(*_cube_with_bad_bands())
    assert screen.option_text() == "11-13,31"
    assert np.flatnonzero(screen.low_level).tolist() == [10, 11, 12] and np.flatnonzero(screen.low_snr).tolist() == [30]
    said = screen.describe(np.linspace(400, 2500, 40))
    assert said.startswith("in 2,304 pixels read, bands 11–13 (938–1046 nm) are under 2 % of the median band's "
                           "level (next to no light")
    assert said.endswith("; band 31 (2015 nm) is under 5 % of the median band's signal-to-noise ratio (mostly noise)")
    assert not screen.screened[[18, 19, 26, 27, 28]].any()  # flagged by the file: not screened again


def test_a_clean_scene_gets_no_suggestion_and_says_so():
    scene = make_demo_scene(size=48, bands=40, n_classes=3, seed=0).scene
    screen = screen_cube(scene.cube, scene.good_bands)
    assert not screen.suggested.any() and screen.option_text() == ""
    assert screen.describe() == ("in 2,304 pixels read, every band looked at has at least 2 % of the median band's "
                                 "level and 5 % of its signal-to-noise ratio: the data suggest leaving out no band")


def test_bands_the_file_flags_and_bands_without_data_are_not_screened_again():
    cube, good = _cube_with_bad_bands()
    cube[5] = np.nan  # no data anywhere
    good = good.copy()
    good[10:13] = False  # flagged bad by the file already
    screen = screen_cube(cube, good)
    assert screen.option_text() == "31" and not screen.screened[[5, 10, 11, 12]].any()
    assert screen.pixels == 48 * 48  # band 6's missing data does not take every pixel away


def test_an_infinite_pixel_a_band_with_data_at_one_pixel_and_a_constant_band():
    """±inf is no data, not a band's noise; a band with data at a pixel or two is not judged and does not stop the
    screen; a band of one value throughout (saturated, a fill) is suggested for what it is."""
    cube, good = _cube_with_bad_bands()
    cube[4, 3, 3] = np.inf
    cube[5, :, :] = np.nan
    cube[5, 0, 0] = 0.3  # data at one pixel
    cube[7] = 4095.0  # saturated everywhere
    screen = screen_cube(cube, good)
    assert screen.option_text() == "8,11-13,31" and not screen.suggested[4] and not screen.screened[5]
    assert np.flatnonzero(screen.constant).tolist() == [7] and np.isnan(screen.snr[7])
    assert screen.describe().endswith("; band 8 is one value throughout (a saturated or dead detector, a fill value)")
    assert screen.pixels == 48 * 48


def test_a_scene_whose_bands_are_all_flagged_says_so():
    cube, _ = _cube_with_bad_bands()
    screen = screen_cube(cube, np.zeros(40, dtype=bool))
    assert not screen.suggested.any()
    assert screen.describe() == ("no band can be suggested from the data: 0 bands with data at 16 pixels or more and "
                                 "not flagged bad by the file: too few to compare")


def test_a_strip_a_row_high_is_sampled_along_its_length():
    windows = sample_windows(1, 100_000, 224)
    assert len(windows) == 4 and all(r0 == 0 and r1 == 1 for r0, r1, _, _ in windows)
    assert sum(c1 - c0 for _, _, c0, c1 in windows) * 224 <= SAMPLE_VALUES
    assert sum(c1 - c0 for _, _, c0, c1 in windows) >= 17_000  # as many pixels as a square scene gets
    tall = sample_windows(50_000, 3, 224)
    assert len(tall) == 4 and all(c0 == 0 and c1 == 3 and 0 <= r0 < r1 <= 50_000 for r0, r1, c0, c1 in tall)
    cube = np.random.default_rng(0).uniform(0.2, 0.3, (12, 1, 5000)).astype(np.float32)
    cube[3] *= 0.005
    assert screen_cube(cube).option_text() == "4"  # one row: the differences across alone give the noise


def test_values_centred_on_zero_give_no_suggestion_and_say_why():
    cube = make_demo_scene(size=32, bands=20, n_classes=3, seed=0).scene.cube.astype(np.float64)
    standardised = (cube - cube.mean(axis=(1, 2), keepdims=True)) / cube.std(axis=(1, 2), keepdims=True)
    screen = screen_cube(standardised)
    assert not screen.suggested.any() and "mostly at or below zero (standardised" in screen.describe()
    assert isinstance(screen, BandScreen) and screen.why_none


def test_a_file_is_screened_from_squares_spread_over_it_within_the_value_budget(tmp_path):
    data = make_demo_scene(size=48, bands=40, n_classes=3, seed=0)
    data.scene.cube[:] = _cube_with_bad_bands()[0].astype(np.float32)
    path = write_scene(data.scene, tmp_path / "scene.tif")  # with the demo's bad-band flags
    assert screen_file(path).option_text() == "11-13,31"
    assert sample_windows(48, 48, 40) == [(0, 48, 0, 48)]  # small: read whole
    windows = sample_windows(4000, 3000, 224)
    assert len(windows) == 4 and sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in windows) * 224 <= SAMPLE_VALUES
    assert len({(r0, c0) for r0, _, c0, _ in windows}) == 4  # four places, not one square four times
    assert all(0 <= r0 < r1 <= 4000 and 0 <= c0 < c1 <= 3000 for r0, r1, c0, c1 in windows)


@pytest.mark.skipif(not (SHARED / "salinasA" / "salinasA.mat").is_file(), reason="salinasA is not in the data folder")
def test_salinas_a_uncorrected_cube_gets_ehus_water_bands_and_one_more():
    """EHU's corrected cube leaves out 108–112, 154–167 and 224; the screen names those 20 and band 153, whose SNR is
    3 % of the median band's."""
    from hypersynth.core.io.read import read_scene

    scene = read_scene(SHARED / "salinasA" / "salinasA.mat")
    screen = screen_cube(scene.cube, scene.good_bands)
    assert screen.option_text() == "108-112,153-167,224"


@pytest.mark.skipif(not (SHARED / "enmap_potsdam").is_dir(), reason="the EnMAP tiles are not in the data folder")
def test_an_enmap_tile_whose_product_left_the_windows_out_gets_no_suggestion():
    tile = sorted((SHARED / "enmap_potsdam" / "images").glob("*.tif"))[0]
    screen = screen_file(tile)
    assert not screen.suggested.any() and screen.screened.sum() == 218  # bands 130–135 hold no data


def test_an_import_warns_of_the_bands_the_data_suggest_and_not_once_they_are_left_out(tmp_path, caplog):
    """The import reads the whole scene anyway: it screens it and says what to name; leaving those out says nothing
    more (the threshold is the median band's among all with data, so leaving bands out moves no threshold)."""
    import logging
    from dataclasses import replace

    from hypersynth.core.io.convert import import_scene

    data = make_demo_scene(size=48, bands=40, n_classes=3, seed=0)
    cube, good = _cube_with_bad_bands()
    source = write_scene(replace(data.scene, cube=cube.astype(np.float32), good_bands=good), tmp_path / "raw.tif")
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        import_scene(source, tmp_path / "imported.tif")
    said = [r.getMessage() for r in caplog.records if "bands to leave out" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("In 2,304 pixels read, bands 11–13 (938–1046 nm) are under 2 % of")
    assert said[0].endswith("If they are unusable, leave them out: name 11-13,31 as the bands to leave out "
                            "(--leave-out-bands on the command line, 'Bands this run leaves out' in Processing, Leave "
                            "out bands… in the dock; bands the file flags bad are left out already)")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        import_scene(source, tmp_path / "left_out.tif", leave_out_bands="11-13,31")
    assert not [r for r in caplog.records if "bands to leave out" in r.getMessage()]


def test_a_run_names_the_bands_in_its_report_and_a_scene_in_memory_is_screened_as_its_file(tmp_path, caplog):
    """A run on the raw cube warns (its report too) and a run told to leave them out does not; the in-memory screen
    (Augment & Classify's) and the file's (a forest's, which streams the file) agree."""
    import logging
    from dataclasses import replace

    from hypersynth.core.band_screen import screen_scene
    from hypersynth.core.demo import sparse_labels
    from hypersynth.core.io.read import read_scene
    from hypersynth.core.io.write import write_label_raster
    from hypersynth.core.pipeline import classify_scene

    data = make_demo_scene(size=48, bands=40, n_classes=3, seed=0)
    cube, good = _cube_with_bad_bands()
    scene = write_scene(replace(data.scene, cube=cube.astype(np.float32), good_bands=good), tmp_path / "raw.tif")
    labels = write_label_raster(tmp_path / "labels.tif", sparse_labels(data.labels, 4, seed=0), data.classes,
                                transform=data.scene.transform, crs_wkt=data.scene.crs_wkt)
    assert screen_scene(read_scene(scene)).option_text() == screen_file(scene).option_text() == "11-13,31"
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        outputs = classify_scene(scene, labels, tmp_path / "run", method="rf")
    said = [r.getMessage() for r in caplog.records if "bands to leave out" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("raw: in 2,304 pixels read, bands 11–13 (938–1046 nm) are under")
    assert "name 11-13,31 as the bands to leave out" in outputs.report.read_text()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        told = classify_scene(scene, labels, tmp_path / "told", method="rf", leave_out_bands="11-13,31")
    assert not [r for r in caplog.records if "bands to leave out" in r.getMessage()]
    from hypersynth.core.pipeline import classify_with_model

    again = classify_with_model(outputs.classifier, scene, tmp_path / "again")  # it learnt from them: said so again
    assert ("The classifier learnt from them too; if they are unusable, a classifier trained leaving out 11-13,31 "
            "(--leave-out-bands on the command line, 'Bands this run leaves out' in Processing, Leave out bands… in "
            "the dock) may map this sensor better") in again.report.read_text()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        classify_with_model(told.classifier, scene, tmp_path / "told_again")  # it leaves them out as it was told
    assert not [r for r in caplog.records if "learnt from" in r.getMessage()]
    partly = classify_scene(scene, labels, tmp_path / "partly", method="rf", leave_out_bands="11-13")
    again = classify_with_model(partly.classifier, scene, tmp_path / "partly_again")  # band 31 found: 11-13 kept out
    assert "The classifier learnt from it too; if it is unusable, a classifier trained leaving out 11-13,31 (" in \
        again.report.read_text()
