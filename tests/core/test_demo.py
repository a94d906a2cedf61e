"""The procedural demo scene: deterministic, physically plausible, not trivial, and written as QGIS-ready files."""

import json

import numpy as np
import pytest
from scipy import ndimage

from hypersynth.core.demo import (
    DEMO_CLASSES, DemoFiles, demo_classes, make_demo_scene, sparse_labels, write_demo,
)


@pytest.fixture(scope="module")
def demo():
    return make_demo_scene(seed=0)


def band(scene, nm: float) -> int:
    return int(np.argmin(np.abs(scene.wavelengths - nm)))


def class_mean(demo, name: str) -> np.ndarray:
    class_id = next(c.id for c in demo.classes if c.name == name)
    return demo.scene.cube[:, demo.labels == class_id].mean(axis=1)  # (B,)


def nearest_mean_accuracy(demo) -> float:
    x = demo.scene.usable_cube().reshape(demo.scene.usable_cube().shape[0], -1).T  # (N, B)
    y = demo.labels.ravel()
    ids = np.unique(y)
    means = np.stack([x[y == i].mean(axis=0) for i in ids])  # (K, B)
    distances = ((x[:, None, :] - means[None]) ** 2).sum(axis=-1)  # (N, K)
    return float((ids[distances.argmin(axis=1)] == y).mean())


def test_same_seed_same_scene_other_seed_other_scene(demo):
    again = make_demo_scene(seed=0)
    other = make_demo_scene(seed=1)
    assert np.array_equal(demo.scene.cube, again.scene.cube) and np.array_equal(demo.labels, again.labels)
    assert not np.array_equal(demo.labels, other.labels)
    assert not np.allclose(demo.scene.cube, other.scene.cube)


def test_shape_grid_and_classes(demo):
    s = demo.scene
    assert s.cube.shape == (120, 96, 96) and s.cube.dtype == np.float32 and s.valid.all()
    assert s.wavelengths[0] == 400 and s.wavelengths[-1] == 2500 and s.fwhm.shape == (120,)
    assert s.transform == (368_000.0, 10.0, 0.0, 5_810_000.0, 0.0, -10.0) and "32633" in s.crs_wkt
    bad = s.wavelengths[~s.good_bands]
    assert bad.size > 0 and np.all(((bad > 1300) & (bad < 1500)) | ((bad > 1750) & (bad < 2000)))
    assert [c.name for c in demo.classes] == [c.name for c in DEMO_CLASSES[:6]]
    assert all(c.prompt and c.prompt != c.name for c in demo.classes if c.name != "asphalt road")
    counts = np.bincount(demo.labels.ravel(), minlength=7)
    assert counts[0] == 0 and np.all(counts[1:] >= 100)  # full ground truth, every class present
    assert -0.1 < s.usable_cube().min() and s.usable_cube().max() < 1.0


def test_spectra_look_physical(demo):
    s = demo.scene
    crop, forest = class_mean(demo, "green crop"), class_mean(demo, "deciduous forest")
    water, soil = class_mean(demo, "water"), class_mean(demo, "bare soil")
    for veg in (crop, forest):  # red edge: bright NIR, dark red, green peak above red
        assert veg[band(s, 850)] > 4 * veg[band(s, 670)]
        assert veg[band(s, 550)] > veg[band(s, 670)]
    assert water[band(s, 850)] < 0.05 and water[band(s, 500)] > water[band(s, 850)]
    assert soil[band(s, 500)] < soil[band(s, 1000)] < soil[band(s, 1650)]  # soil brightens with wavelength
    assert crop[band(s, 1650)] > crop[band(s, 1450)] and crop[band(s, 1650)] > crop[band(s, 2000)]


def test_scene_is_separable_but_not_trivial():
    for seed in (0, 1, 2):
        accuracy = nearest_mean_accuracy(make_demo_scene(seed=seed))
        assert 0.7 < accuracy < 0.99, f"seed {seed}: nearest-mean accuracy {accuracy:.3f}"


def test_boundary_pixels_are_mixed(demo):
    """Water is black in the NIR; its shore pixels borrow brightness from the land next to them."""
    water = demo.labels == 1
    interior = ndimage.binary_erosion(water, np.ones((5, 5), bool))
    shore = water & ~ndimage.binary_erosion(water, np.ones((3, 3), bool))
    nir = demo.scene.cube[band(demo.scene, 850)]
    assert interior.sum() > 100 and shore.sum() > 50
    assert nir[shore].mean() > 3 * nir[interior].mean()


def test_more_or_fewer_classes_and_bad_arguments():
    eight = make_demo_scene(size=64, bands=60, n_classes=8, seed=3)
    assert set(np.unique(eight.labels)) == set(range(1, 9)) and eight.scene.cube.shape == (60, 64, 64)
    two = make_demo_scene(size=40, bands=20, n_classes=2, seed=0)
    assert set(np.unique(two.labels)) == {1, 2}
    with pytest.raises(ValueError, match="n_classes"):
        make_demo_scene(n_classes=9)
    with pytest.raises(ValueError, match="size"):
        make_demo_scene(size=8)
    with pytest.raises(ValueError, match="bands"):
        make_demo_scene(bands=3)


def test_sparse_labels_pick_a_few_interior_pixels_per_class(demo):
    sparse = sparse_labels(demo.labels, n_per_class=5, seed=2)
    assert sparse.dtype == np.int32 and sparse.shape == demo.labels.shape
    assert np.bincount(sparse.ravel(), minlength=7)[1:].tolist() == [5] * 6
    assert np.all(sparse[sparse > 0] == demo.labels[sparse > 0])
    for r, c in zip(*np.nonzero(sparse)):  # every pick sits in a pure 3x3 neighbourhood
        assert np.all(demo.labels[max(r - 1, 0):r + 2, max(c - 1, 0):c + 2] == demo.labels[r, c])
    assert np.array_equal(sparse, sparse_labels(demo.labels, 5, seed=2))
    assert not np.array_equal(sparse, sparse_labels(demo.labels, 5, seed=3))


def test_sparse_labels_with_small_classes_and_bad_input():
    labels = np.zeros((10, 10), dtype=np.int32)
    labels[2, 2] = 3  # a single pixel: no interior, kept anyway
    labels[5:10, 5:10] = 4  # interior 3x3 = 9 pixels, 16 on the edge
    sparse = sparse_labels(labels, n_per_class=12, seed=0)
    assert (sparse == 3).sum() == 1 and (sparse == 4).sum() == 12
    inner = np.zeros_like(labels, dtype=bool)
    inner[6:9, 6:9] = True
    assert np.all(sparse[inner] == 4)  # all 9 interior pixels are taken before any edge pixel
    with pytest.raises(ValueError, match="n_per_class"):
        sparse_labels(labels, 0)
    with pytest.raises(ValueError, match="2-D"):
        sparse_labels(labels[None], 5)


def test_write_demo_files_read_back(tmp_path):
    import rasterio
    from osgeo import ogr

    from hypersynth.core.io.classes import read_classes
    from hypersynth.core.io.read import read_scene

    files = write_demo(tmp_path / "demo", seed=0, n_per_class=4)
    assert isinstance(files, DemoFiles)
    demo = make_demo_scene(seed=0)
    scene = read_scene(files.scene)
    assert np.allclose(scene.cube, demo.scene.cube) and np.allclose(scene.wavelengths, demo.scene.wavelengths)
    assert np.array_equal(scene.good_bands, demo.scene.good_bands)
    assert scene.transform == demo.scene.transform and "UTM zone 33N" in scene.crs_wkt
    with rasterio.open(files.scene) as ds:
        assert set(ds.units) == {"reflectance"}  # what its values are, for the plugin's value axis
    with rasterio.open(files.ground_truth) as ds:
        assert np.array_equal(ds.read(1), demo.labels)
    with rasterio.open(files.labels) as ds:
        sparse = ds.read(1).astype(np.int32)
    assert np.array_equal(sparse, sparse_labels(demo.labels, 4, seed=0))

    source = ogr.Open(str(files.labels_gpkg))
    layer = source.GetLayer(0)
    assert layer.GetFeatureCount() == 6 * 4
    names = {c.id: c.name for c in demo.classes}
    x0, dx, _, y0, _, dy = demo.scene.transform
    for feature in layer:
        point = feature.GetGeometryRef()
        col, row = int((point.GetX() - x0) / dx), int((point.GetY() - y0) / dy)
        assert sparse[row, col] == feature.GetField("class_id")
        assert feature.GetField("class") == names[feature.GetField("class_id")]
    source = None

    classes = read_classes(files.classes_json)
    assert [(c.id, c.name, c.prompt) for c in classes] == [(c.id, c.name, c.prompt) for c in demo_classes(6)]
    assert json.loads(files.classes_json.read_text())["classes"][0]["name"] == "water"

    with pytest.raises(FileExistsError):
        write_demo(tmp_path / "demo")
    again = write_demo(tmp_path / "demo", seed=1, overwrite=True)
    with rasterio.open(again.ground_truth) as ds:
        assert np.array_equal(ds.read(1), make_demo_scene(seed=1).labels)
    assert not [p for p in (tmp_path / "demo").iterdir() if p.name.startswith(".")]  # no temp files left


def test_an_interrupted_demo_takes_the_scene_it_wrote_with_it(tmp_path, monkeypatch, capsys):
    """Ctrl+C during the classification: "nothing was written" is true, and the next demo into the folder runs."""
    from hypersynth.core import pipeline
    from hypersynth.core.cli import main as cli_main

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "classify_scene", interrupted)
    out = tmp_path / "demo"
    assert cli_main(["demo", "--out", str(out), "--method", "rf", "--quiet"]) == 130
    assert "interrupted: nothing was written" in capsys.readouterr().err
    assert not out.exists()


def test_the_usable_cube_is_the_scene_itself_when_every_band_is_good(demo):
    """A run holds one cube, not two, when no band is flagged bad (a full-size scene fills memory)."""
    import dataclasses

    s = demo.scene
    kept = s.usable_cube()
    assert kept.shape[0] == int(s.good_bands.sum()) < s.bands and not np.shares_memory(kept, s.cube)
    all_good = dataclasses.replace(s, good_bands=np.ones(s.bands, dtype=bool))
    assert all_good.usable_cube() is all_good.cube
