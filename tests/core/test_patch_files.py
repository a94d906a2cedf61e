"""Synthetic patches written for other tools: the .npz keeps everything, the CSV spectral library the centre
spectra, the GeoTIFF mosaic every pixel with wavelengths and a class raster beside it; whole or not at all."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from hypersynth.core.io import patch_files
from hypersynth.core.io.patch_files import MOSAIC_GAP, companion_files, patch_format, write_patches
from hypersynth.core.io.read import opened_quietly, read_scene
from hypersynth.core.outputs import OutputExistsError
from hypersynth.core.scene import ClassInfo

BANDS, SIDE, N = 12, 5, 5
WAVELENGTHS = np.linspace(450.0, 950.0, BANDS)
CLASSES = [ClassInfo(3, "wheat", (220, 200, 40), "a wheat field"), ClassInfo(7, "road", (90, 90, 90), "asphalt")]


def _patches(seed: int = 0) -> dict:
    """N patches of class 3 whose corners are road (7), as an anchored synthesis gives them."""
    rng = np.random.default_rng(seed)
    masks = np.full((N, SIDE, SIDE), 3, np.int32)
    masks[:, 0, 0] = 7
    return dict(patches=rng.uniform(0.0, 0.6, (N, BANDS, SIDE, SIDE)).astype(np.float32),
                labels=np.full(N, 3, np.int32), masks=masks, prompts=["a wheat field"] * N)


def test_npz_keeps_everything(tmp_path):
    data = _patches()
    written = write_patches(tmp_path / "p.npz", **data, wavelengths=WAVELENGTHS, classes=CLASSES)
    assert written == [tmp_path / "p.npz"]
    with np.load(tmp_path / "p.npz") as saved:
        np.testing.assert_array_equal(saved["patches"], data["patches"])
        np.testing.assert_array_equal(saved["masks"], data["masks"])
        np.testing.assert_allclose(saved["wavelengths"], WAVELENGTHS, rtol=1e-6)
        assert list(saved["prompts"]) == data["prompts"]


def test_a_npz_stopped_while_written_leaves_no_file_and_no_late_error(tmp_path, monkeypatch):
    """Stopped (SIGTERM) while saving, numpy's archive stayed open and raised "Exception ignored in ZipFile.__del__:
    seek of closed file" on the terminal after "nothing was written" (review)."""
    import gc
    import sys

    write_array, written = np.lib.format.write_array, []

    def stopped(member, array, **kwargs):
        if written:
            raise KeyboardInterrupt
        written.append(True)
        write_array(member, array, **kwargs)

    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    monkeypatch.setattr(np.lib.format, "write_array", stopped)
    with pytest.raises(KeyboardInterrupt):
        write_patches(tmp_path / "p.npz", **_patches(), wavelengths=WAVELENGTHS, classes=CLASSES)
    gc.collect()
    assert unraisable == [] and list(tmp_path.iterdir()) == []


def test_csv_spectral_library_holds_each_patch_centre_spectrum(tmp_path):
    data = _patches()
    write_patches(tmp_path / "library.csv", **data, wavelengths=WAVELENGTHS, classes=CLASSES, values="Reflectance")
    with open(tmp_path / "library.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["patch", "class_id", "class_name", "prompt", "values"] + [f"{w:.6g} nm" for w in WAVELENGTHS]
    assert rows[0][5] == "450 nm" and rows[0][6] == "495.455 nm"  # to the thousandth of a nanometre
    assert len(rows) == N + 1
    centre = data["patches"][:, :, SIDE // 2, SIDE // 2]
    for i, row in enumerate(rows[1:]):
        assert row[:5] == [str(i + 1), "3", "wheat", "a wheat field", "Reflectance"]
        np.testing.assert_allclose([float(v) for v in row[5:]], centre[i], rtol=1e-5)
    write_patches(tmp_path / "numbered.csv", **data, wavelengths=None, classes=CLASSES)
    assert (tmp_path / "numbered.csv").read_text().splitlines()[0].endswith(f"band {BANDS}")
    with open(tmp_path / "numbered.csv", newline="", encoding="utf-8") as fh:  # a scene that did not say what its
        assert list(csv.reader(fh))[1][4] == "pixel values, units unknown"  # values are: said so, not an empty cell


def test_geotiff_mosaic_reads_back_as_a_scene_with_its_classes(tmp_path):
    data = _patches()
    written = write_patches(tmp_path / "mosaic.tif", **data, wavelengths=WAVELENGTHS, classes=CLASSES)
    assert tmp_path / "mosaic.tif" in written and tmp_path / "mosaic_classes.tif" in written
    scene = read_scene(tmp_path / "mosaic.tif")
    np.testing.assert_allclose(scene.wavelengths, WAVELENGTHS, rtol=1e-6)
    with opened_quietly(tmp_path / "mosaic.tif") as ds:  # named by wavelength: the model's bands are not the scene's
        assert ds.descriptions[:2] == ("450.0 nm", "495.5 nm")
    step = SIDE + MOSAIC_GAP
    cols = 3  # ceil(sqrt(5))
    assert scene.cube.shape == (BANDS, 2 * step - MOSAIC_GAP, cols * step - MOSAIC_GAP)
    for i in range(N):
        r, c = divmod(i, cols)
        np.testing.assert_allclose(scene.cube[:, r * step:r * step + SIDE, c * step:c * step + SIDE],
                                   data["patches"][i], rtol=1e-6)
    assert not scene.valid[:, SIDE].any() and not scene.valid[SIDE, :].any()  # the gaps are no-data
    assert not scene.valid[step:, 2 * step:].any()  # the sixth slot is empty
    assert scene.valid.sum() == N * SIDE * SIDE
    with opened_quietly(tmp_path / "mosaic_classes.tif") as ds:
        ids = ds.read(1)
        assert ds.transform.e < 0 and ds.transform.f == scene.cube.shape[1]  # north-up, the lower left at (0, 0)
    assert ids[0, 0] == 7 and ids[1, 1] == 3 and ids[0, SIDE] == 0
    assert np.count_nonzero(ids) == N * SIDE * SIDE


def test_a_free_prompts_label_is_named_by_its_prompt_and_label_0_has_no_class_raster(tmp_path, caplog):
    data = _patches()
    data["masks"][:], data["labels"][:], data["prompts"] = 9, 9, ["bare soil"] * N  # a label the model lacks
    write_patches(tmp_path / "soil.tif", **data, wavelengths=WAVELENGTHS, classes=CLASSES)
    write_patches(tmp_path / "soil.csv", **data, wavelengths=WAVELENGTHS, classes=CLASSES)
    with opened_quietly(tmp_path / "soil_classes.tif") as ds:
        assert set(np.unique(ds.read(1)).tolist()) == {0, 9}
    legend = (tmp_path / "soil_classes.qml").read_text()
    assert 'label="bare soil"' in legend and "wheat" not in legend  # the classes in the mosaic alone
    assert (tmp_path / "soil.csv").read_text().splitlines()[1].startswith(  # values: not said by the model's scene
        '1,9,bare soil,bare soil,"pixel values, units unknown",')
    data["masks"][:], data["labels"][:] = 0, 0
    with caplog.at_level("WARNING", logger="hypersynth"):
        written = write_patches(tmp_path / "free.tif", **data, wavelengths=WAVELENGTHS, classes=CLASSES)
    assert written == [tmp_path / "free.tif"] and not (tmp_path / "free_classes.tif").exists()
    assert "the patches' label is 0, which a class raster leaves unlabelled, so no free_classes.tif is written; " \
           "give them a label id of 1 or more to have it" in caplog.text


def test_other_endings_and_existing_files_are_refused_before_writing(tmp_path):
    with pytest.raises(ValueError, match=r"\.npz.*\.csv.*\.tif.*got 'p\.json' \(e\.g\. p\.npz\)"):
        patch_format(tmp_path / "p.json")
    assert patch_format("p.TIFF") == ".tif" and companion_files("p.csv") == []
    (tmp_path / "m_classes.tif").write_bytes(b"the analyst's")
    with pytest.raises(OutputExistsError, match="m_classes.tif already exists"):
        write_patches(tmp_path / "m.tif", **_patches(), wavelengths=WAVELENGTHS, classes=CLASSES)
    assert not (tmp_path / "m.tif").exists() and (tmp_path / "m_classes.tif").read_bytes() == b"the analyst's"
    write_patches(tmp_path / "m.tif", **_patches(), wavelengths=WAVELENGTHS, classes=CLASSES, overwrite=True)
    assert (tmp_path / "m_classes.tif").read_bytes()[:2] in (b"II", b"MM")


def test_a_failed_mosaic_leaves_nothing(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(patch_files, "write_label_raster", broken)
    with pytest.raises(OSError, match="disk full"):
        write_patches(tmp_path / "m.tif", **_patches(), wavelengths=WAVELENGTHS, classes=CLASSES)
    assert list(tmp_path.iterdir()) == []


def test_a_mosaic_without_classes_replaces_an_earlier_ones_class_raster_too(tmp_path):
    """Overwritten with patches of label 0, an earlier mosaic's class raster would pass for the new one's."""
    write_patches(tmp_path / "m.tif", **_patches(), wavelengths=WAVELENGTHS, classes=CLASSES)
    assert (tmp_path / "m_classes.tif").exists() and (tmp_path / "m_classes.qml").exists()
    free = _patches(seed=1)
    free["masks"][:], free["labels"][:] = 0, 0
    written = write_patches(tmp_path / "m.tif", **free, wavelengths=WAVELENGTHS, classes=CLASSES, overwrite=True)
    assert written == [tmp_path / "m.tif"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tif"]


def test_no_patches_and_labels_a_class_raster_cannot_hold_are_refused(tmp_path):
    from hypersynth.core.io.patch_files import check_label

    empty = {k: v[:0] for k, v in _patches().items()}
    with pytest.raises(ValueError, match="no synthetic patches to write to p.tif"):
        write_patches(tmp_path / "p.tif", **empty, wavelengths=WAVELENGTHS, classes=CLASSES)
    for wrong in (-3, 70000):
        with pytest.raises(ValueError, match=f"label {wrong} is out of range: give the patches a label from 1 to "
                                             "65535 \\(0: no class\\)"):
            check_label(wrong)
    check_label(0)
    check_label(65535)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match=r"got '\.npz' \(e\.g\. patches\.npz\)"):
        patch_format(".npz")


def test_what_the_values_are_goes_with_the_patches(tmp_path):
    """A model trained on a reflectance scene says so; its mosaic is then "Reflectance" to QGIS and the engine."""
    from hypersynth.core.io.pixel_values import read_pixel_values

    for values, quantity, units in (("Reflectance", "Reflectance", ""), ("Radiance (W/(m2 sr um))", "Radiance",
                                                                         "W/(m2 sr um)"), ("", None, ""),
                                    ("Pixel value (DN)", None, "DN"),
                                    ("Pixel value (scale 0.0001 applied)", None, "")):  # a scale is not a unit
        path = tmp_path / f"m{len(values)}.tif"
        write_patches(path, **_patches(), wavelengths=WAVELENGTHS, classes=CLASSES, values=values)
        read = read_pixel_values(path)
        assert (read.quantity, read.units) == (quantity, units), values
    write_patches(tmp_path / "p.npz", **_patches(), wavelengths=WAVELENGTHS, classes=CLASSES, values="Reflectance")
    with np.load(tmp_path / "p.npz") as saved:
        assert str(saved["values"]) == "Reflectance"


def test_band_widths_travel_with_the_npz_and_the_mosaic(tmp_path):
    """The model's FWHM go into the .npz and the mosaic's band metadata, which reads back as a scene's; a CSV
    library has a row a patch, so it keeps the wavelengths alone and is unchanged by them."""
    widths = np.linspace(6.0, 11.5, BANDS)
    write_patches(tmp_path / "p.npz", **_patches(), wavelengths=WAVELENGTHS, classes=CLASSES, fwhm=widths)
    with np.load(tmp_path / "p.npz") as saved:
        np.testing.assert_allclose(saved["fwhm"], widths, rtol=1e-6)
    write_patches(tmp_path / "m.tif", **_patches(), wavelengths=WAVELENGTHS, classes=CLASSES, fwhm=widths)
    np.testing.assert_allclose(read_scene(tmp_path / "m.tif").fwhm, widths, rtol=1e-9)
    write_patches(tmp_path / "with.csv", **_patches(), wavelengths=WAVELENGTHS, classes=CLASSES, fwhm=widths)
    write_patches(tmp_path / "without.csv", **_patches(), wavelengths=WAVELENGTHS, classes=CLASSES)
    assert (tmp_path / "with.csv").read_bytes() == (tmp_path / "without.csv").read_bytes()
    write_patches(tmp_path / "none.npz", **_patches(), wavelengths=WAVELENGTHS, classes=CLASSES)
    with np.load(tmp_path / "none.npz") as saved:
        assert "fwhm" not in saved.files


@pytest.mark.parametrize("name", ["wavelengths", "fwhm"])
def test_band_values_of_another_length_are_refused_before_writing(tmp_path, name):
    per_band = {"wavelengths": WAVELENGTHS, "fwhm": None, name: np.ones(BANDS - 1)}
    with pytest.raises(ValueError, match=f"{name} must hold one value per band of the patches \\({BANDS}\\)"):
        write_patches(tmp_path / "m.tif", **_patches(), classes=CLASSES, **per_band)
    assert list(tmp_path.iterdir()) == []
