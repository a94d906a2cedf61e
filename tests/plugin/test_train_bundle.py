"""`hypersynth:trainbundle` through its public id: a tiny synthesis model trained on a small generated scene."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProject

import processing
from hypersynth.plugin.settings import HyperSynthSettings

from .conftest import CancelAfterProgress, RecordingFeedback


@dataclass
class SmallScene:
    scene: str
    labels: str  # sparse label raster
    classes: str  # class and prompt JSON


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> SmallScene:
    from hypersynth.core.demo import make_demo_scene, sparse_labels
    from hypersynth.core.io.classes import write_classes
    from hypersynth.core.io.write import write_label_raster, write_scene

    folder = tmp_path_factory.mktemp("scene")
    data = make_demo_scene(size=32, bands=30, n_classes=3, seed=0)
    sparse = sparse_labels(data.labels, n_per_class=5, seed=0)
    return SmallScene(
        scene=str(write_scene(data.scene, folder / "scene.tif")),
        labels=str(write_label_raster(folder / "labels.tif", sparse, data.classes,
                                      transform=data.scene.transform, crs_wkt=data.scene.crs_wkt)),
        classes=str(write_classes(folder / "classes.json", data.classes)))


@pytest.fixture
def stored_settings(monkeypatch):
    """Make every ``HyperSynthSettings.load()`` of this process return the returned object (no shared ini)."""
    chosen = HyperSynthSettings()
    monkeypatch.setattr(HyperSynthSettings, "load", classmethod(lambda cls, settings=None: chosen))
    return chosen


def _parameters(small: SmallScene, out: Path, **extra) -> dict:
    return {"SCENE": small.scene, "LABELS": small.labels, "CLASSES": small.classes, "PRESET": 0, "DEVICE": 1,
            "SEED": 0, "OUTPUT": str(out), **extra}


def test_tiny_preset_writes_a_bundle_that_loads_with_the_prompts(hypersynth_plugin, small, tmp_path):
    import torch

    from hypersynth.core.io.classes import read_classes
    from hypersynth.core.io.read import read_scene
    from hypersynth.core.ldm.model import SynthesisModel

    torch.set_num_threads(1)
    out = tmp_path / "models" / "synthesis_model"
    result = processing.run("hypersynth:trainbundle", _parameters(small, out))
    assert result["OUTPUT"] == str(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] and manifest["files"]
    model = SynthesisModel.load(out, device="cpu")
    prompts = {c.id: c.prompt for c in read_classes(small.classes)}
    assert all(prompts.values()) and {c.id: c.prompt for c in model.classes} == prompts  # the file's prompts
    assert model.config.preset == "tiny" and model.bands == int(read_scene(small.scene).good_bands.sum())
    assert [p.name for p in out.parent.iterdir()] == ["synthesis_model"]  # no staging folder left


def test_cancel_leaves_no_folder(hypersynth_plugin, small, tmp_path):
    out = tmp_path / "models" / "synthesis_model"
    with pytest.raises(QgsProcessingException, match="^cancelled by the user; no model was written$"):
        processing.run("hypersynth:trainbundle", _parameters(small, out), feedback=CancelAfterProgress(2))
    assert not out.exists()
    assert not (tmp_path / "models").exists() or list((tmp_path / "models").iterdir()) == []


def test_a_folder_with_other_files_is_refused_before_training(hypersynth_plugin, small, tmp_path):
    out = tmp_path / "my_documents"
    out.mkdir()
    (out / "thesis.txt").write_text("keep me")
    with pytest.raises(QgsProcessingException, match="neither empty nor a saved synthesis model"):
        processing.run("hypersynth:trainbundle", _parameters(small, out))
    assert [p.name for p in out.iterdir()] == ["thesis.txt"]


def test_the_settings_clip_weights_reach_the_engine(hypersynth_plugin, small, tmp_path, stored_settings,
                                                    monkeypatch):
    """fast/full presets get the stored CLIP file; the tiny preset's small test tower does not."""
    import hypersynth.core.pipeline as pipeline

    clip = tmp_path / "open_clip_vit_b_32.safetensors"
    clip.write_bytes(b"weights")
    stored_settings.clip_weights = str(clip)
    seen = []

    def spy(scene, labels, bundle_dir, *, classes_path=None, class_field=None, settings=None, reporter=None,
            overwrite=False, leave_out_bands=None):
        seen.append(settings)
        raise ValueError("stopped by the test after the settings were checked")

    monkeypatch.setattr(pipeline, "train_bundle", spy)
    for preset in (1, 0):  # fast, tiny
        with pytest.raises(QgsProcessingException, match="stopped by the test"):
            processing.run("hypersynth:trainbundle", _parameters(small, tmp_path / "model", PRESET=preset))
    assert [(s.preset, s.clip_weights) for s in seen] == [("fast", str(clip)), ("tiny", None)]
    assert not (tmp_path / "model").exists()


def test_augment_and_classify_uses_the_settings_clip_weights(hypersynth_plugin, small, tmp_path, stored_settings,
                                                             monkeypatch):
    """The stored CLIP file and the algorithm's synthesis parameters reach the engine's MethodSettings."""
    import hypersynth.core.pipeline as pipeline

    clip = tmp_path / "clip.bin"
    clip.write_bytes(b"weights")
    stored_settings.clip_weights = str(clip)
    seen = []

    def spy(*args, settings=None, **kwargs):
        seen.append(settings)
        raise ValueError("stopped by the test after the settings were checked")

    monkeypatch.setattr(pipeline, "classify_scene", spy)
    base = {"SCENE": small.scene, "LABELS": small.labels, "PRESET": 2, "DEVICE": 1,
            "OUTPUT": str(tmp_path / "map.tif"), "CONFIDENCE": str(tmp_path / "confidence.tif")}
    said = RecordingFeedback()
    with pytest.raises(QgsProcessingException, match="stopped by the test"):
        processing.run("hypersynth:augmentandclassify", base, feedback=said)
    assert seen[0].preset == "full" and seen[0].clip_weights == str(clip)
    assert f"CLIP weights: {clip} (HyperSynth's settings)" in said.infos  # a profile's setting, said in the log
    given = tmp_path / "given.safetensors"
    given.write_bytes(b"other weights")
    said = RecordingFeedback()
    with pytest.raises(QgsProcessingException, match="stopped by the test"):
        processing.run("hypersynth:augmentandclassify", {**base, "CLIP_WEIGHTS": str(given)}, feedback=said)
    assert seen.pop().clip_weights == str(given) and f"CLIP weights: {given} (given)" in said.infos
    # the synthesis settings reach MethodSettings; left out, they are MethodSettings' defaults
    picked = ("patch_size", "synthetic_per_class", "guidance", "balance_rate", "synthetic_weight", "anchor_strength",
              "pseudo_labels", "spatial_smoothing", "diffusion_features")
    assert tuple(getattr(seen[0], key) for key in picked) == (None, None, None, 0.5, 0.5, 0.5, None, None, False)
    for extra in ({"PATCH_SIZE": 5, "SYNTHETIC_PER_CLASS": 30, "GUIDANCE": 2.0, "BALANCE_RATE": 0.2, "SYNTHETIC_WEIGHT": 2.0,
                   "ANCHOR_STRENGTH": 0.3, "PSEUDO_LABELS": 12, "SPATIAL_SMOOTHING": 2.0, "DIFFUSION_FEATURES": True},
                  {"ANCHOR_STRENGTH": 1.0, "PSEUDO_LABELS": 0, "SPATIAL_SMOOTHING": 0},  # 0 switches them off
                  {"PSEUDO_LABELS": "", "SPATIAL_SMOOTHING": ""}):  # blank: the preset's / cross-validated
        with pytest.raises(QgsProcessingException, match="stopped by the test"):
            processing.run("hypersynth:augmentandclassify", {**base, **extra})
    assert [tuple(getattr(s, key) for key in picked) for s in seen[1:]] == [
        (5, 30, 2.0, 0.2, 2.0, 0.3, 12, 2.0, True), (None, None, None, 0.5, 0.5, 1.0, 0, 0.0, False),
        (None, None, None, 0.5, 0.5, 0.5, None, None, False)]
    with pytest.raises(QgsProcessingException):  # outside (0, 1]: refused before the engine runs
        processing.run("hypersynth:augmentandclassify", {**base, "ANCHOR_STRENGTH": 0.0})
    with pytest.raises(QgsProcessingException):  # no share for the synthetic patches: refused likewise
        processing.run("hypersynth:augmentandclassify", {**base, "SYNTHETIC_WEIGHT": 0.0})
    assert len(seen) == 4


def test_augment_and_classify_reuses_a_trained_model_instead_of_training_one(hypersynth_plugin, small, tmp_path):
    """Train once ('Train synthesis model bundle'), classify with it: the run trains no synthesis model and its report
    says which it reused."""
    import torch

    torch.set_num_threads(1)
    model = tmp_path / "synthesis_model"
    processing.run("hypersynth:trainbundle", _parameters(small, model))
    log, context = RecordingFeedback(), QgsProcessingContext()
    context.setProject(QgsProject.instance())
    result = processing.run("hypersynth:augmentandclassify", {
        "SCENE": small.scene, "LABELS": small.labels, "CLASSES": small.classes, "REUSE_MODEL": str(model),
        "PRESET": 0, "DEVICE": 1, "SEED": 0, "OUTPUT": str(tmp_path / "map.tif"),
        "REPORT": str(tmp_path / "report.html"), "SYNTHETIC_PATCHES": str(tmp_path / "learnt" / "patches.tif")},
        feedback=log, context=context)
    assert Path(result["OUTPUT"]).is_file()
    assert "synthesis model reused from a bundle" in Path(result["REPORT"]).read_text()
    assert any("synthesis" in line for line in log.infos)  # it synthesised from the model it was given
    assert not any("VAE" in line or line.startswith("diffusion") for line in log.infos)  # and trained none
    # the synthetic patches it learnt from, where asked, with their classes, both shown when the run ends
    assert result["SYNTHETIC_PATCHES"] == str(tmp_path / "learnt" / "patches.tif")
    assert sorted(p.name for p in (tmp_path / "learnt").iterdir()) == [
        "patches.tif", "patches_classes.qml", "patches_classes.tif", "patches_classes.tif.aux.xml"]  # names, RAT
    loaded = {Path(p).name for p in context.layersToLoadOnCompletion()}
    assert {"patches.tif", "patches_classes.tif"} <= loaded

    # and Synthesise from the same model: a spectral library, a prompt of one's own
    library = processing.run("hypersynth:synthesize", {
        "BUNDLE": str(model), "PROMPT": "wet sand", "LABEL": 9, "COUNT": 3, "DEVICE": 1,
        "OUTPUT": str(tmp_path / "sand.csv")})["OUTPUT"]
    rows = Path(library).read_text(encoding="utf-8").splitlines()
    assert len(rows) == 4 and rows[1].startswith("1,9,wet sand,wet sand,")
