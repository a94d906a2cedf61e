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
