"""Bands left out by the analyst: the list's forms and errors, and an import that flags them bad in the GeoTIFF."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio

from hypersynth.core.demo import make_demo_scene
from hypersynth.core.io.band_choice import (BandChoiceError, bands_left_out, describe_bands, newly_left_out,
                                            parse_bands_to_leave_out)
from hypersynth.core.io.convert import LEFT_OUT_TAG, import_scene
from hypersynth.core.io.read import read_scene
from hypersynth.core.io.write import write_scene

AVIRIS = np.linspace(400.0, 2500.0, 224)  # nm, as the registry spreads AVIRIS' bands
SHARED = Path(os.environ.get("HYPERSYNTH_DATA_DIR", "/nonexistent"))


def test_band_numbers_ranges_and_wavelength_ranges_are_found_in_the_scene():
    chosen = bands_left_out("104-108, 150–163; 220", 224, AVIRIS)
    assert np.flatnonzero(chosen).tolist() == [*range(103, 108), *range(149, 163), 219]
    assert describe_bands(chosen, AVIRIS) == "bands 104–108 (1370–1408 nm), 150–163 (1803–1926 nm) and 220 (2462 nm)"
    by_wavelength = bands_left_out("1340-1450nm, 1.79-1.96 um", 224, AVIRIS)
    inside = ((AVIRIS >= 1340) & (AVIRIS <= 1450)) | ((AVIRIS >= 1790) & (AVIRIS <= 1960))
    assert np.array_equal(by_wavelength, inside) and by_wavelength.sum() == 30
    assert describe_bands(bands_left_out("7", 224, None)) == "band 7"
    assert describe_bands(np.zeros(5, dtype=bool)) == "no band"


@pytest.mark.parametrize("text, message", [
    ("", r"no bands given to leave out; give band numbers \(1 = the first band\)"),
    (" , ", r"no bands given to leave out"),
    ("water", r"'water' is neither a band number \(224\), a range of them \(108-112\) nor a wavelength range"),
    ("108-104", r"'108-104' runs from high to low; give the lower end first \(104-108\)"),
    ("1450-1340nm", r"give the lower end first \(1340-1450nm\)"),
    ("1400nm", r"'1400nm' is one wavelength; give a range of them \(e.g. 1350-1450nm\) or the band's number"),
    ("0", r"^band 0 is not in the scene: its bands are numbered 1 to 224$"),
    ("220-230", r"band 230 \(in '220-230'\) is not in the scene: its bands are numbered 1 to 224"),
    ("2501-2600nm", r"'2501-2600nm' holds no band of the scene \(the nearest: 2500.0 nm \(band 224\)\)"),
])
def test_a_list_that_cannot_be_meant_says_what_to_give(text, message):
    with pytest.raises(ValueError, match=message):
        bands_left_out(text, 224, AVIRIS)


def test_only_bands_still_usable_are_newly_left_out_and_one_at_least_stays():
    good = np.ones(10, dtype=bool)
    good[[2, 3]] = False
    left_out = newly_left_out("2-4, 9", good)
    assert np.flatnonzero(left_out.new).tolist() == [1, 8] and np.flatnonzero(left_out.already).tolist() == [2, 3]
    assert left_out.describe() == "bands 2 and 9 (not bands 3–4, flagged bad already)"
    with pytest.raises(BandChoiceError, match=r"^bands 3–4 are flagged bad already; name bands still usable$"):
        newly_left_out("3-4", good)
    with pytest.raises(BandChoiceError, match=r"^leaving out bands 1–2 and 5–10 would leave the scene no usable "
                                              r"band"):
        newly_left_out("1-10", good)


def test_every_mistake_is_said_at_once():
    with pytest.raises(BandChoiceError, match=r"^band 300 is not in the scene: its bands are numbered 1 to 224; "
                                              r"'x' is neither a band number .*; '9-3' runs from high to low"):
        bands_left_out("300, x, 9-3, 1-2", 224, None)
    with pytest.raises(BandChoiceError, match=r"^'x' is neither .*; '9-3' runs from high to low; give the lower end "
                                              r"first \(3-9\)$"):
        parse_bands_to_leave_out("x, 1, 9-3")  # the form alone: no scene yet


def test_units_on_both_ends_and_a_forgotten_unit():
    assert np.array_equal(bands_left_out("1340nm-1450nm", 224, AVIRIS), bands_left_out("1340-1450nm", 224, AVIRIS))
    assert np.array_equal(bands_left_out("1.34um-1.45um", 224, AVIRIS), bands_left_out("1340-1450nm", 224, AVIRIS))
    with pytest.raises(BandChoiceError, match=r"gives its ends in different units; give both in nm or both in µm"):
        bands_left_out("1340nm-1.45um", 224, AVIRIS)
    with pytest.raises(BandChoiceError, match=r"band 1340 \(in '1340-1450'\) is not in the scene: its bands are "
                                              r"numbered 1 to 224 \(a wavelength range\? give its unit: 1340-1450nm\)"):
        bands_left_out("1340-1450", 224, AVIRIS)


def test_a_wavelength_range_needs_the_scenes_wavelengths():
    parse_bands_to_leave_out("1340-1450nm")  # the form alone is fine
    with pytest.raises(ValueError, match=r"'1340-1450nm' is a wavelength range, but the scene has no wavelengths; "
                                         r"give band numbers instead"):
        bands_left_out("1340-1450nm", 224, None)


@pytest.fixture
def scene_file(tmp_path):
    """A 40-band demo scene with its wavelengths, band 3 already flagged bad, as a GeoTIFF."""
    scene = make_demo_scene(size=32, bands=40, n_classes=3, seed=0).scene
    good = np.ones(scene.bands, dtype=bool)
    good[2] = False
    return write_scene(replace(scene, good_bands=good), tmp_path / "scene.tif"), scene


def test_import_flags_the_bands_bad_keeps_their_values_and_says_which(scene_file, tmp_path):
    path, scene = scene_file
    stages = []

    class Heard:
        def progress(self, fraction, stage=""):
            stages.append(stage)

        def check(self):
            pass

        def sub(self, *args, **kwargs):
            return self

    low, high = scene.wavelengths[10], scene.wavelengths[12]
    out = import_scene(path, tmp_path / "imported.tif", leave_out_bands=f"1-2, {low - 0.1:.1f}-{high + 0.1:.1f}nm",
                       reporter=Heard())
    again = read_scene(out)
    assert again.good_bands.tolist() == [i not in (0, 1, 2, 10, 11, 12) for i in range(40)]
    assert np.array_equal(again.cube, read_scene(path).cube)  # every band's values written as they were
    assert np.array_equal(again.valid, read_scene(path).valid)
    said = describe_bands(np.isin(np.arange(40), [0, 1, 10, 11, 12]), scene.wavelengths)
    with rasterio.open(out) as ds:  # every band it flags: band 3, which the scene flagged, too
        assert ds.tags()[LEFT_OUT_TAG] == describe_bands(np.isin(np.arange(40), [0, 1, 2, 10, 11, 12]),
                                                         scene.wavelengths)
        assert ds.tags(1)["bbl"] == "0" and ds.tags(4)["bbl"] == "1"
    assert stages[-1] == f"written imported.tif; {said} flagged bad"  # those this import flagged


def test_import_refuses_a_bad_list_before_reading_and_a_list_that_leaves_no_band(scene_file, tmp_path):
    path, _ = scene_file
    with pytest.raises(ValueError, match="runs from high to low"):
        import_scene(tmp_path / "not_read.tif", tmp_path / "a.tif", leave_out_bands="9-3")  # no such scene: not read
    with pytest.raises(BandChoiceError, match=r"leaving out bands 1–2 \(.*\) and 4–40 \(.*\) would leave the scene no "
                                              r"usable band; name fewer"):  # band 3 is flagged already
        import_scene(path, tmp_path / "b.tif", leave_out_bands="1-40")
    with pytest.raises(BandChoiceError, match=r"band 3 \(.*\) is flagged bad already"):
        import_scene(path, tmp_path / "b.tif", leave_out_bands="3")
    with pytest.raises(BandChoiceError, match=r"band 41 is not in the scene: its bands are numbered 1 to 40"):
        import_scene(path, tmp_path / "c.tif", leave_out_bands="41")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.tif"]  # nothing written, the scene untouched


@pytest.mark.skipif(not (SHARED / "salinasA" / "salinasA.mat").is_file(), reason="salinasA is not in the data folder")
def test_importing_the_uncorrected_salinas_a_cube_without_the_water_bands_gives_the_corrected_one(tmp_path):
    """EHU's corrected Salinas cubes leave out bands 108-112, 154-167 and 224; the benchmark's loader does the same."""
    from hypersynth.core.datasets import load_dataset

    out = import_scene(SHARED / "salinasA" / "salinasA.mat", tmp_path / "salinasA.tif",
                       leave_out_bands="108-112, 154-167, 224")
    imported = read_scene(out)
    assert imported.bands == 224 and imported.good_bands.sum() == 204
    corrected = load_dataset("salinasA").scene
    assert np.array_equal(imported.usable_cube(), corrected.cube)


def test_a_copy_says_what_its_values_are_as_the_scene_did(tmp_path):
    """The demo scene's GeoTIFF names its values reflectance; its copy with bands left out does too."""
    from hypersynth.core.demo import write_demo
    from hypersynth.core.io.pixel_values import engine_value_title

    files = write_demo(tmp_path / "demo")
    out = import_scene(files.scene, tmp_path / "copy.tif", leave_out_bands="1")
    assert engine_value_title(files.scene) == engine_value_title(out) == "Reflectance"


def test_a_list_as_a_report_writes_it_is_read_back():
    """The report says "left out: bands 108–112 (…), 154–167 (…) and 224 (…)": pasted back, it names the same bands."""
    said = describe_bands(bands_left_out("108-112, 154-167, 224", 224, AVIRIS), AVIRIS)
    assert said.startswith("bands 108–112 (") and " and 224 (" in said
    assert np.array_equal(bands_left_out(said, 224, AVIRIS), bands_left_out("108-112,154-167,224", 224, AVIRIS))
    assert np.flatnonzero(bands_left_out("band 7 and 9", 224)).tolist() == [6, 8]
    with pytest.raises(BandChoiceError, match=r"'\(1340-1450nm\)' is neither a band number"):  # not dropped unseen
        bands_left_out("224, (1340-1450nm)", 224, AVIRIS)
