"""Model bundles: bit-exact round trip, atomic overwrite, and clear refusals of bad folders."""

import json

import pytest
import torch

from hypersynth.core.ldm.bundle import (
    BUNDLE_FORMAT, BUNDLE_KIND, MANIFEST, BundleError, load_bundle, save_bundle,
)
from hypersynth.core.version import ENGINE_VERSION


def _parts(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "vae": {"enc.weight": torch.randn(4, 3, 3, 3, generator=g), "enc.bias": torch.randn(4, generator=g)},
        "normalizer": {"mean": torch.randn(30, generator=g), "fitted": torch.tensor(True),
                       "steps": torch.tensor([1, 2, 3], dtype=torch.int64)},
    }


def _save(folder, seed=0, **kw):
    return save_bundle(folder, _parts(seed), {"preset": "tiny", "seed": seed}, {"bands": 30, "classes": ["a"]}, **kw)


def test_round_trip_is_bit_exact(tmp_path):
    parts = _parts()
    parts["vae"]["view"] = torch.arange(12.0).view(3, 4).t()  # non-contiguous views are saved too
    save_bundle(tmp_path / "b", parts, {"preset": "tiny"}, {"bands": 30, "nan": float("nan")})
    bundle = load_bundle(tmp_path / "b")
    assert set(bundle.tensors_by_part) == {"vae", "normalizer"}
    for part, tensors in parts.items():
        assert set(bundle.tensors_by_part[part]) == set(tensors)
        for key, t in tensors.items():
            loaded = bundle.tensors_by_part[part][key]
            assert loaded.dtype == t.dtype and torch.equal(loaded, t)
    assert bundle.config == {"preset": "tiny"}
    assert bundle.meta["bands"] == 30
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "b").iterdir()} == {0o644}  # shared, like the report
    manifest = bundle.manifest
    assert manifest["kind"] == BUNDLE_KIND and manifest["format_version"] == BUNDLE_FORMAT
    assert manifest["engine_version"] == ENGINE_VERSION
    assert set(manifest["files"]) == {"vae.safetensors", "normalizer.safetensors", "config.json", "meta.json"}
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_existing_folder_needs_overwrite_and_is_replaced_whole(tmp_path):
    _save(tmp_path / "b", seed=0)
    with pytest.raises(FileExistsError, match="overwrite"):
        _save(tmp_path / "b", seed=1)
    _save(tmp_path / "b", seed=1, overwrite=True)
    bundle = load_bundle(tmp_path / "b")
    assert bundle.config["seed"] == 1
    assert torch.equal(bundle.tensors_by_part["vae"]["enc.bias"], _parts(1)["vae"]["enc.bias"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_failed_save_leaves_the_old_bundle_intact(tmp_path):
    _save(tmp_path / "b", seed=0)
    with pytest.raises(BundleError, match="JSON"):
        save_bundle(tmp_path / "b", _parts(1), {"bad": object()}, {}, overwrite=True)
    assert load_bundle(tmp_path / "b").config["seed"] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_a_folder_that_is_not_a_bundle_is_never_replaced(tmp_path):
    user = tmp_path / "my_results"
    user.mkdir()
    (user / "precious.txt").write_text("keep me")
    with pytest.raises(BundleError, match="not a HyperSynth model bundle"):
        _save(user, overwrite=True)
    assert (user / "precious.txt").read_text() == "keep me"


def test_a_bundle_holding_the_analysts_own_files_is_never_replaced(tmp_path):
    """A model saved over an earlier one replaced its folder whole, and the notes and a map the analyst had put
    there went with it (review)."""
    _save(tmp_path / "b", seed=0)
    (tmp_path / "b" / "my_notes.txt").write_text("keep me")
    (tmp_path / "b" / "map.tif").write_bytes(b"a map")
    with pytest.raises(BundleError, match=r"holds a saved model and also map\.tif, my_notes\.txt, which replacing"):
        _save(tmp_path / "b", seed=1, overwrite=True)
    assert (tmp_path / "b" / "my_notes.txt").read_text() == "keep me"
    assert load_bundle(tmp_path / "b").config["seed"] == 0
    for name in ("my_notes.txt", "map.tif"):
        (tmp_path / "b" / name).unlink()
    (tmp_path / "b" / ".DS_Store").write_bytes(b"a file browser's")  # no analyst's: replaced with the folder
    _save(tmp_path / "b", seed=1, overwrite=True)
    assert load_bundle(tmp_path / "b").config["seed"] == 1


def test_bad_part_name_is_refused(tmp_path):
    with pytest.raises(BundleError, match="part name"):
        save_bundle(tmp_path / "b", {"../evil": {"w": torch.zeros(1)}}, {}, {})
    assert not (tmp_path / "b").exists()


def test_tampered_file_is_refused(tmp_path):
    _save(tmp_path / "b")
    path = tmp_path / "b" / "vae.safetensors"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256"):
        load_bundle(tmp_path / "b")


def test_edited_json_is_refused(tmp_path):
    _save(tmp_path / "b")
    (tmp_path / "b" / "config.json").write_text(json.dumps({"preset": "full"}))
    with pytest.raises(BundleError, match="config.json"):
        load_bundle(tmp_path / "b")


def test_not_a_bundle_and_wrong_kind(tmp_path):
    with pytest.raises(BundleError, match="no such folder"):
        load_bundle(tmp_path / "nothing")
    (tmp_path / "scene.tif").write_bytes(b"II*\x00")
    with pytest.raises(BundleError, match="scene.tif is a file, not a HyperSynth model bundle: a bundle is a folder"):
        load_bundle(tmp_path / "scene.tif")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="no manifest.json"):
        load_bundle(tmp_path / "empty")
    _save(tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / MANIFEST).read_text())
    manifest["kind"] = "some-other-tool"
    (tmp_path / "b" / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="'some-other-tool'"):
        load_bundle(tmp_path / "b")
    (tmp_path / "b" / MANIFEST).write_text("{not json")
    with pytest.raises(BundleError, match="damaged"):
        load_bundle(tmp_path / "b")


def test_newer_format_and_missing_file(tmp_path):
    _save(tmp_path / "b")
    manifest_path = tmp_path / "b" / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "format_version": BUNDLE_FORMAT + 1}))
    with pytest.raises(BundleError, match="newer HyperSynth"):
        load_bundle(tmp_path / "b")
    manifest_path.write_text(json.dumps(manifest))
    (tmp_path / "b" / "normalizer.safetensors").unlink()
    with pytest.raises(BundleError, match="normalizer.safetensors is missing"):
        load_bundle(tmp_path / "b")


def test_numpy_parts_are_written_and_read_without_torch_as_the_same_file(tmp_path):
    import numpy as np

    arrays = {"left": np.arange(7, dtype=np.int32), "threshold": np.linspace(0, 1, 7, dtype=np.float32)[::-1],
              "skops": np.frombuffer(b"bytes of a model", dtype=np.uint8)}
    save_bundle(tmp_path / "numpy", {"classifier": arrays}, {"format": "f"}, {"kind": "k"})
    save_bundle(tmp_path / "torch", {"classifier": {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}},
                {"format": "f"}, {"kind": "k"})
    for written in ("numpy", "torch"):  # one file format, whichever arrays wrote it, read either way
        as_numpy = load_bundle(tmp_path / written, arrays="numpy").tensors_by_part["classifier"]
        as_torch = load_bundle(tmp_path / written).tensors_by_part["classifier"]
        assert set(as_numpy) == set(as_torch) == set(arrays)
        for key, value in arrays.items():
            assert isinstance(as_numpy[key], np.ndarray) and as_numpy[key].dtype == value.dtype
            assert np.array_equal(as_numpy[key], value) and np.array_equal(as_torch[key].numpy(), value)
    mixed = {"classifier": {"cnn.w": torch.ones(2), "forest.left": np.arange(3, dtype=np.int64)}}  # a blend's
    save_bundle(tmp_path / "mixed", mixed, {}, {})
    assert torch.equal(load_bundle(tmp_path / "mixed").tensors_by_part["classifier"]["forest.left"], torch.arange(3))
    with pytest.raises(ValueError, match="arrays must be one of torch, numpy"):
        load_bundle(tmp_path / "numpy", arrays="jax")


def test_a_forest_run_and_its_bundle_on_another_scene_never_import_torch(tmp_path):
    import subprocess
    import sys

    code = f"""
import sys
from pathlib import Path
from hypersynth.core.demo import make_demo_scene, sparse_labels
from hypersynth.core.io.classes import write_classes
from hypersynth.core.io.write import write_label_raster, write_scene
from hypersynth.core.methods import MethodSettings
from hypersynth.core.pipeline import CLASSIFIER_BUNDLE, classify_scene, classify_with_model
out = Path({str(tmp_path)!r})
data = make_demo_scene(size=32, bands=20, n_classes=3, seed=0)
scene = write_scene(data.scene, out / "scene.tif")
labels = write_label_raster(out / "labels.tif", sparse_labels(data.labels, 4, seed=0), data.classes,
                            transform=data.scene.transform, crs_wkt=data.scene.crs_wkt)
write_classes(out / "classes.json", data.classes)
classify_scene(scene, labels, out / "rf", method="rf", classes_path=out / "classes.json",
               settings=MethodSettings(preset="tiny", seed=0))
classify_with_model(out / "rf" / CLASSIFIER_BUNDLE, scene, out / "again")
print("torch" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_a_bundles_meta_is_read_without_its_weights(tmp_path):
    """Dialogs ask a bundle's band count and text source at once: meta.json alone; {} where there is none to read."""
    from hypersynth.core.ldm.bundle import read_bundle_meta

    (tmp_path / "meta.json").write_text('{"bands": 7, "text_source": "random-init (tiny test tower)"}')
    assert read_bundle_meta(tmp_path) == {"bands": 7, "text_source": "random-init (tiny test tower)"}
    (tmp_path / "meta.json").write_text("[1, 2]")
    assert read_bundle_meta(tmp_path) == {}
    (tmp_path / "meta.json").write_text("{not json")
    assert read_bundle_meta(tmp_path) == read_bundle_meta(tmp_path / "absent") == {}
