"""The dataset registry, file lookup and checked downloads, and loading every dataset available here."""

import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from hypersynth.core.datasets import (
    DatasetDownloadError, DatasetFile, DatasetFormatError, DatasetNotFoundError, DatasetSpec, UnknownDatasetError,
    available_datasets, fetch_files, get_spec, list_datasets, load_dataset, load_enmap_tiles, load_scene_only,
)
from hypersynth.core.datasets.fetch import cache_dir, file_sha256
from hypersynth.core.datasets.loaders import _load_mat_benchmark, dominant_endmember_labels
from hypersynth.core.datasets.registry import UNLABELLED_SCENES, enmap_tile_name
from hypersynth.core.demo import DEMO_CLASSES
from hypersynth.core.progress import NULL_REPORTER, CancelAfter, Cancelled

SHARED = Path(os.environ.get("HYPERSYNTH_DATA_DIR", "/nonexistent"))
HERE = set(available_datasets()) if SHARED.is_dir() else {"demo"}


def needs(key: str):
    return pytest.mark.skipif(key not in HERE, reason=f"{key} is not in HYPERSYNTH_DATA_DIR")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test gets an empty user cache, so nothing from the developer's own cache leaks in."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def tiny_spec(*files: DatasetFile) -> DatasetSpec:
    return DatasetSpec(key="tiny", title="Tiny test set", sensor="none", files=files, cube_key=None, gt_key=None,
                       class_names={1: "a"}, prompts={1: "a"}, shape=(1, 1, 1))


# --- registry -----------------------------------------------------------------------------------------

def test_registry_entries_are_consistent():
    specs = list_datasets()
    keys = [s.key for s in specs]
    assert keys == ["indian_pines", "pavia_university", "salinas", "salinasA", "ksc", "botswana", "houston2013",
                    "enmap_potsdam", "jasper_ridge", "samson", "demo"]
    assert "moffett_field" not in keys and "moffett_field" in UNLABELLED_SCENES
    for spec in specs + list(UNLABELLED_SCENES.values()):
        assert get_spec(spec.key) is spec
        ids = spec.class_ids()
        assert all(isinstance(i, int) and 1 <= i <= 255 for i in ids), spec.key
        assert set(spec.prompts) == set(ids), f"{spec.key}: every class needs a prompt"
        assert all(spec.class_names[i].strip() and spec.prompts[i].strip() for i in ids)
        assert len(set(spec.class_names.values())) == len(ids), f"{spec.key}: duplicate class names"
        names = [f.name for f in spec.files]
        assert len(set(names)) == len(names), f"{spec.key}: duplicate file names"
        for f in spec.files:
            assert f.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", f.sha256), f"{spec.key}/{f.name}"
            assert f.size is None or f.size > 0
            assert all(u.startswith("https://") for u in f.urls), f"{spec.key}/{f.name}"
        if spec.files:
            assert any(f.role in ("cube", "image_tile") for f in spec.files), spec.key
        rows, cols, bands = spec.shape
        assert rows > 0 and cols > 0 and bands > 0
        nominal = spec.nominal_wavelengths()
        if nominal is not None:
            assert np.all(np.diff(nominal) > 0)
            assert nominal.size == bands + len(spec.drop_bands), f"{spec.key}: one wavelength per file band"
    # Class counts as published.
    counts = {s.key: len(s.class_names) for s in specs}
    assert counts == {"indian_pines": 16, "pavia_university": 9, "salinas": 16, "salinasA": 6, "ksc": 13,
                      "botswana": 14, "houston2013": 15, "enmap_potsdam": 6, "jasper_ridge": 4, "samson": 3,
                      "demo": 6}
    assert get_spec("salinasA").class_ids() == [1, 10, 11, 12, 13, 14]
    assert get_spec("salinasA").class_names[10] == get_spec("salinas").class_names[10] == "Corn_senesced_green_weeds"
    assert len(get_spec("salinasA").drop_bands) == 20
    assert [get_spec("demo").class_names[i + 1] for i in range(6)] == [c.name for c in DEMO_CLASSES[:6]]
    assert len([f for f in get_spec("enmap_potsdam").files if f.role == "image_tile"]) == 16


def test_unknown_key_lists_the_known_ones():
    with pytest.raises(UnknownDatasetError) as err:
        get_spec("indian_pine")
    assert "indian_pine'" in str(err.value) and "indian_pines" in str(err.value) and "salinasA" in str(err.value)
    with pytest.raises(ValueError):
        load_dataset("nope")


@pytest.mark.skipif(not SHARED.is_dir(), reason="HYPERSYNTH_DATA_DIR is not set")
def test_registry_checksums_match_the_shared_files():
    checked = 0
    for spec in list_datasets() + list(UNLABELLED_SCENES.values()):
        for f in spec.files:
            path = SHARED / spec.key / f.name
            if f.sha256 and path.is_file():
                assert file_sha256(path) == f.sha256, f"{spec.key}/{f.name}"
                assert path.stat().st_size == f.size, f"{spec.key}/{f.name}"
                checked += 1
    assert checked >= 40  # 32 EnMAP tiles, the GT files, salinasA, Jasper, Samson, Moffett


# --- lookup and download ------------------------------------------------------------------------------

def test_lookup_prefers_the_data_dir_then_the_cache(tmp_path):
    data = tmp_path / "data"
    spec = tiny_spec(DatasetFile("x.bin", "cube", "0" * 64, 3))
    (cache_dir() / "tiny").mkdir(parents=True)
    (cache_dir() / "tiny" / "x.bin").write_bytes(b"abc")
    assert fetch_files(spec, data_dir=data)["x.bin"] == cache_dir() / "tiny" / "x.bin"
    (data / "tiny").mkdir(parents=True)
    (data / "tiny" / "x.bin").write_bytes(b"abc")
    assert fetch_files(spec, data_dir=data)["x.bin"] == data / "tiny" / "x.bin"


def test_missing_file_error_says_what_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPERSYNTH_DATA_DIR", str(tmp_path / "shared"))
    sha = "ab" * 32
    spec = tiny_spec(DatasetFile("cube.mat", "cube", sha, 1234, ("https://example.org/cube.mat",)),
                     DatasetFile("extra.img", "cube", None, None, (), required=False))
    with pytest.raises(DatasetNotFoundError) as err:
        fetch_files(spec)
    text = str(err.value)
    assert "cube.mat" in text and sha in text and "1234 bytes" in text
    assert str(tmp_path / "shared" / "tiny" / "cube.mat") in text  # the data folder searched
    assert str(cache_dir() / "tiny" / "cube.mat") in text  # and the cache
    assert "Put the file(s) in" in text and "allow_download=True" in text
    assert "extra.img" not in text  # optional files are not demanded
    assert err.value.missing == ["cube.mat"] and isinstance(err.value, FileNotFoundError)


def test_download_from_file_url_checks_the_sha256(tmp_path):
    source = tmp_path / "remote" / "cube.mat"
    source.parent.mkdir()
    payload = np.random.default_rng(0).bytes(3 * 1024 * 1024 + 17)  # several download blocks
    source.write_bytes(payload)
    good = tiny_spec(DatasetFile("sub/cube.mat", "cube", file_sha256(source), len(payload), (source.as_uri(),)))
    with pytest.raises(DatasetNotFoundError):
        fetch_files(good, data_dir=tmp_path / "empty")  # no download unless allowed
    paths = fetch_files(good, data_dir=tmp_path / "empty", allow_download=True)
    assert paths["sub/cube.mat"] == cache_dir() / "tiny" / "sub" / "cube.mat"
    assert paths["sub/cube.mat"].read_bytes() == payload
    assert sorted(p.name for p in (cache_dir() / "tiny" / "sub").iterdir()) == ["cube.mat"]  # no temp left


def test_download_with_wrong_sha256_is_refused_and_leaves_nothing(tmp_path):
    source = tmp_path / "cube.mat"
    source.write_bytes(b"not the real cube")
    bad = tiny_spec(DatasetFile("cube.mat", "cube", "0" * 64, None, (source.as_uri(),)))
    with pytest.raises(DatasetDownloadError) as err:
        fetch_files(bad, data_dir=tmp_path / "empty", allow_download=True)
    assert "sha256 mismatch" in str(err.value) and source.as_uri() in str(err.value)
    leftovers = [p for p in cache_dir().rglob("*") if p.is_file()] if cache_dir().exists() else []
    assert leftovers == []


def test_download_falls_back_to_the_next_address_and_cancel_leaves_nothing(tmp_path):
    source = tmp_path / "b.bin"
    payload = np.random.default_rng(1).bytes(4 * 1024 * 1024)
    source.write_bytes(payload)
    spec = tiny_spec(DatasetFile("b.bin", "cube", file_sha256(source), len(payload),
                                 ((tmp_path / "absent.bin").as_uri(), source.as_uri())))
    assert fetch_files(spec, data_dir=tmp_path, allow_download=True)["b.bin"].read_bytes() == payload
    shutil.rmtree(cache_dir())
    with pytest.raises(Cancelled):
        fetch_files(spec, data_dir=tmp_path, allow_download=True, reporter=CancelAfter(5))
    assert [p for p in cache_dir().rglob("*") if p.is_file()] == []


# --- loading ------------------------------------------------------------------------------------------

def test_available_datasets_reflects_the_files(tmp_path):
    assert available_datasets(tmp_path) == ["demo"]
    if SHARED.is_dir():
        here = available_datasets(SHARED)
        assert {"salinasA", "enmap_potsdam", "jasper_ridge", "samson", "demo"} <= set(here)
        assert "indian_pines" not in here or (SHARED / "indian_pines" / "Indian_pines_corrected.mat").is_file()


def test_the_datasets_command_says_what_is_here_where_it_looked_and_what_can_be_fetched(tmp_path, monkeypatch,
                                                                                          capsys):
    from hypersynth.core.cli import main as cli_main

    (tmp_path / "data").mkdir()
    monkeypatch.setenv("HYPERSYNTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert cli_main(["datasets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["dataset", "here", "--download", "description"]
    rows = {line.split()[0]: line.split()[1:3] for line in lines[1:] if line.strip() and not line.startswith("Looked")}
    assert rows["demo"] == ["available", "-"] and rows["salinasA"] == ["missing", "yes"]
    assert rows["houston2013"] == ["missing", "no"]  # no public address known: fetched by hand
    assert lines[-1].startswith(f"Looked in {tmp_path / 'data'}, {tmp_path / 'cache' / 'hypersynth' / 'data'}, ")
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("HYPERSYNTH_DATA_DIR", str(tmp_path / "dta"))  # a typo: every dataset missing, and why
    assert cli_main(["datasets"]) == 0
    assert capsys.readouterr().err == f"warning: HYPERSYNTH_DATA_DIR is {tmp_path / 'dta'}, which is not a folder; " \
                                      "check the path\n"


@pytest.mark.skipif(not SHARED.is_dir(), reason="HYPERSYNTH_DATA_DIR is not set")
@pytest.mark.parametrize("key, cube, gt", [
    ("indian_pines", "Indian_pines_corrected.mat", "Indian_pines_gt.mat"),
    ("pavia_university", "PaviaU.mat", "PaviaU_gt.mat"),
    ("houston2013", "houston.mat", "houston_gt.mat"),
])
def test_a_missing_cube_is_named_in_the_error(key, cube, gt):
    if (SHARED / key / cube).is_file():
        pytest.skip(f"{cube} is present here")
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset(key)
    assert err.value.missing == [cube]
    assert cube in str(err.value) and f"{gt} (" not in str(err.value)


@pytest.mark.skipif(not (SHARED / "indian_pines" / "Indian_pines_gt.mat").is_file(), reason="no Indian Pines GT")
def test_mat_benchmark_loader_on_a_stand_in_cube(tmp_path):
    """The generic .mat path, with the real GT and a random cube of the real shape in place of the absent one."""
    folder = tmp_path / "indian_pines"
    folder.mkdir()
    shutil.copy(SHARED / "indian_pines" / "Indian_pines_gt.mat", folder)
    cube = np.random.default_rng(0).integers(900, 9000, (145, 145, 200), dtype=np.int16)
    scipy.io.savemat(folder / "Indian_pines_corrected.mat", {"indian_pines_corrected": cube})
    data = load_dataset("indian_pines", data_dir=tmp_path)
    assert data.scene.cube.shape == (200, 145, 145)
    assert np.array_equal(data.scene.cube[:, 7, 9], cube[7, 9].astype(np.float32))
    assert (data.labels > 0).sum() == 10_249 and [c.id for c in data.classes] == list(range(1, 17))
    assert data.classes[10].name == "Soybean-mintill" and data.classes[10].prompt
    w = data.scene.wavelengths
    assert w is not None and w.size == 200 and 400 <= w[0] < w[-1] <= 2500
    assert data.test_labels is None


@pytest.mark.skipif(not (SHARED / "houston2013" / "houston_gt.mat").is_file(), reason="no Houston GT")
def test_houston_gives_the_official_train_and_test_maps(tmp_path):
    cube = tmp_path / "houston.mat"
    spectra = np.broadcast_to(np.arange(1, 11, dtype=np.uint8), (349, 1905, 10))  # not flat: a flat one is a fill
    scipy.io.savemat(cube, {"Houston": np.ascontiguousarray(spectra)})  # another variable name
    spec = replace(get_spec("houston2013"), shape=(349, 1905, 10))
    data = _load_mat_benchmark(spec, {"houston.mat": cube, "houston_gt.mat": SHARED / "houston2013" /
                                      "houston_gt.mat"}, NULL_REPORTER)
    assert (data.labels > 0).sum() == 2832 and (data.test_labels > 0).sum() == 12_197
    assert not np.any((data.labels > 0) & (data.test_labels > 0))
    assert [c.name for c in data.classes][-1] == "Running Track"


@needs("salinasA")
def test_salinas_a_drops_the_water_bands_and_keeps_salinas_ids():
    data = load_dataset("salinasA")
    s = data.scene
    assert s.shape == (83, 86) and s.bands == 204 and s.cube.dtype == np.float32
    assert (data.labels > 0).sum() == 5348
    assert set(np.unique(data.labels)) == {0, 1, 10, 11, 12, 13, 14}
    assert [c.id for c in data.classes] == [1, 10, 11, 12, 13, 14]
    assert data.classes[1].name == "Corn_senesced_green_weeds"
    assert "204" in s.name and s.wavelengths is not None and s.wavelengths.size == 204
    raw = scipy.io.loadmat(SHARED / "salinasA" / "salinasA.mat")["salinasA"]  # (83, 86, 224)
    assert np.array_equal(s.cube[106], raw[:, :, 106])  # band 107 kept
    assert np.array_equal(s.cube[107], raw[:, :, 112])  # bands 108-112 gone: 113 follows 107
    assert np.array_equal(s.cube[-1], raw[:, :, 222])  # band 224 gone


@needs("enmap_potsdam")
def test_enmap_tiles_are_placed_in_the_potsdam_grid():
    import rasterio

    data = load_dataset("enmap_potsdam")
    s = data.scene
    assert s.shape == (200, 330) and s.bands == 224
    # 3 tiles hold a defective pixel each (0 in every band with data): no data, one of them labelled (water)
    assert (data.labels > 0).sum() == 5012 and s.valid.sum() == 16 * 32 * 32 - 3
    assert not s.good_bands[129:135].any() and s.good_bands.sum() == 218
    assert s.transform[0] == pytest.approx(362_175.0) and s.transform[3] == pytest.approx(5_809_965.0)
    assert "UTM zone 33N" in s.crs_wkt and 418 < s.wavelengths[0] < 419 and s.fwhm is not None
    assert not s.valid[:, :64].any()  # no tile left of column 64
    tiles = dict(load_enmap_tiles())
    assert len(tiles) == 16
    tile = tiles["enmap_potsdam_tile_160_64"]  # column 160, row 64
    assert np.array_equal(s.cube[:, 64:96, 160:192], tile.scene.cube)
    assert np.array_equal(data.labels[64:96, 160:192], tile.labels)
    with rasterio.open(SHARED / "enmap_potsdam" / "enmap_landcover_unstyled.tif") as ds:
        full = ds.read(1).astype(np.int32)  # (200, 330), the scene's own label raster
    assert np.array_equal(np.where(s.valid, full, 0), np.where(s.valid, data.labels, 0))
    assert ((data.labels > 0) & ~s.valid).sum() == 1  # the defective pixel labelled water: no data, so never scored
    with rasterio.open(SHARED / "enmap_potsdam" / "images" / enmap_tile_name(96, 128)) as ds:
        band = ds.read(1).astype(np.float32) * np.float32(ds.scales[0])  # reflectance
    assert np.allclose(s.cube[0, 128:160, 96:128], band)


@needs("jasper_ridge")
def test_jasper_ridge_classes_are_the_dominant_endmembers():
    data = load_dataset("jasper_ridge")
    s = data.scene
    assert s.shape == (100, 100) and s.bands == 198
    assert np.bincount(data.labels.ravel(), minlength=5).tolist() == [4147, 1830, 3070, 626, 327]
    cood = scipy.io.loadmat(SHARED / "jasper_ridge" / "end4.mat")["cood"]
    assert [str(c[0][0]).split("-", 1)[1] for c in cood] == [c.name for c in data.classes]
    # Orientation: water (id 2) is dark in the near infrared, trees (id 1) bright.
    nir = s.cube[np.argmin(np.abs(s.wavelengths - 860))]
    assert nir[data.labels == 2].mean() < 0.3 * nir[data.labels == 1].mean()


@needs("samson")
def test_samson_from_envi_or_from_the_mat_copy(tmp_path):
    data = load_dataset("samson")
    assert data.scene.shape == (95, 95) and data.scene.bands == 156
    assert np.bincount(data.labels.ravel(), minlength=4).tolist() == [3455, 2008, 1947, 1615]
    assert [c.name for c in data.classes] == ["rock", "tree", "water"]
    nir = data.scene.cube[np.argmin(np.abs(data.scene.wavelengths - 860))]
    assert nir[data.labels == 3].mean() < 0.3 * nir[data.labels == 2].mean()
    # Only Samson.mat: the same labels and (up to the clipped negatives) the same cube.
    (tmp_path / "samson").mkdir()
    shutil.copy(SHARED / "samson" / "Samson.mat", tmp_path / "samson")
    mat = load_dataset("samson", data_dir=tmp_path)
    assert np.array_equal(mat.labels, data.labels)
    assert np.allclose(mat.scene.cube, np.maximum(data.scene.cube, 0), atol=0.01)
    assert np.allclose(mat.scene.wavelengths, data.scene.wavelengths, atol=1e-3)


@needs("demo")
def test_demo_through_the_registry():
    data = load_dataset("demo")
    assert data.scene.shape == (96, 96) and data.scene.bands == 120
    assert [c.name for c in data.classes] == list(get_spec("demo").class_names.values())
    assert (data.labels > 0).all()


@pytest.mark.skipif(not (SHARED / "moffett_field" / "Moffett_vca.mat").is_file(), reason="no Moffett Field")
def test_moffett_field_is_a_scene_without_labels():
    scene = load_scene_only("moffett_field")
    assert scene.cube.shape == (189, 50, 50) and 0 <= scene.cube.min() and scene.cube.max() <= 1
    with pytest.raises(DatasetFormatError, match="load_scene_only"):
        load_dataset("moffett_field")


@needs("salinasA")
def test_loading_can_be_cancelled():
    with pytest.raises(Cancelled):
        load_dataset("salinasA", reporter=CancelAfter(1))


def test_dominant_endmember_rule():
    a = np.array([[[0.9, 0.5]], [[0.1, 0.45]], [[0.0, 0.05]]])  # (K=3, H=1, W=2)
    assert dominant_endmember_labels(a, 0.8).tolist() == [[1, 0]]
    assert dominant_endmember_labels(a, 0.5).tolist() == [[1, 1]]
