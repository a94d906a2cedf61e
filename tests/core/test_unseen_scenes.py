"""scripts/unseen_scenes.py on the real EnMAP Potsdam tiles: the training scene hides the validation tiles, and a
CNN classifier bundle trained on it (preset tiny) is applied to the validation tile files and judged there."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
ENMAP = Path(os.environ.get("HYPERSYNTH_DATA_DIR", REPO.parent / "shared" / "data")) / "enmap_potsdam"

pytestmark = pytest.mark.skipif(
    not (ENMAP / "train_files.csv").is_file() or not (ENMAP / "validation_files.csv").is_file(),
    reason=f"the EnMAP Potsdam tiles are not in {ENMAP} (set HYPERSYNTH_DATA_DIR to the folder holding "
           "enmap_potsdam/ with images/, labels/, train_files.csv and validation_files.csv)")


@pytest.fixture(scope="module")
def script() -> ModuleType:
    """scripts/unseen_scenes.py, imported by path: scripts/ is not a package."""
    spec = importlib.util.spec_from_file_location("hypersynth_unseen_scenes_script",
                                                  REPO / "scripts" / "unseen_scenes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def training(script: ModuleType, tmp_path_factory: pytest.TempPathFactory):
    return script.build_training_scene(ENMAP, tmp_path_factory.mktemp("unseen"), labels_per_class=3, seed=1)


def test_training_scene_holds_only_the_train_tiles(script: ModuleType, training) -> None:
    from hypersynth.core.io.classes import read_classes
    from hypersynth.core.io.labels import read_labels
    from hypersynth.core.io.read import read_scene

    scene = read_scene(training.scene)
    train_tiles = script.read_tile_list(ENMAP, "train_files.csv")
    held_out = script.read_tile_list(ENMAP, "validation_files.csv")
    assert scene.shape == script.GRID and scene.bands == 224
    assert int(scene.good_bands.sum()) == training.usable_bands == 218  # bands 130-135 are no-data everywhere
    assert scene.wavelengths is not None and 415 < scene.wavelengths[0] < 420
    # two train tiles hold a defective pixel each (0 in every band with data): no data
    assert int(scene.valid.sum()) == training.valid_pixels == 32 * 32 * len(train_tiles) - 2
    for tile in held_out:
        window = (slice(tile.row, tile.row + 32), slice(tile.col, tile.col + 32))
        assert not scene.valid[window].any() and not np.any(scene.cube[:, window[0], window[1]])
    # Every training pixel's spectrum is the train tile's, as read_scene reads the tile itself.
    tile = train_tiles[0]
    alone = read_scene(tile.image)
    np.testing.assert_allclose(scene.cube[:, tile.row:tile.row + 32, tile.col:tile.col + 32], alone.cube)

    classes = read_classes(training.classes)
    assert [c.name for c in classes] == ["roof", "pavement", "low vegetation", "tree", "soil", "water"]
    assert all(c.prompt for c in classes)
    labels, _ = read_labels(training.labels, scene, classes=classes)
    truth, _ = read_labels(training.truth, scene, classes=classes)
    assert training.labels_per_class == {c: 3 for c in range(1, 7)}
    assert np.all(scene.valid[labels > 0]) and np.all(truth[labels > 0] == labels[labels > 0])
    # 5012 minus 1206 held out, minus the one on a defective pixel
    assert int((truth > 0).sum()) == sum(training.truth_per_class.values()) == 3805


def test_cnn_bundle_round_trip_on_the_unseen_tiles(script: ModuleType, training, tmp_path: Path) -> None:
    tiles = script.read_tile_list(ENMAP, "validation_files.csv")
    result = script.run_method("cnn", training, tiles, tmp_path, preset="tiny", seed=0, device="cpu")
    assert result["via"] == "classifier bundle"
    assert (tmp_path / "cnn" / "train" / "classifier_bundle").is_dir()
    # the truth's labels but the train tiles' ones used for training
    assert result["training_scene"]["n_test"] == 3805 - 18
    assert {k: v["metrics"]["n_test"] for k, v in result["unseen_tiles"].items()} == {
        "enmap_potsdam_tile_96_0": 807, "enmap_potsdam_tile_128_128": 399}
    pooled = result["unseen_pooled"]
    assert pooled["n_test"] == 1206 and 0.0 <= pooled["oa"] <= 1.0
    correct = sum(c["correct"] for v in result["unseen_tiles"].values() for c in v["metrics"]["classes"])
    assert pooled["oa"] == pytest.approx(correct / 1206)  # pooled = predictions and truths of both tiles together
    meta = {"train_tiles": training.tiles, "valid_pixels": training.valid_pixels,
            "usable_bands": training.usable_bands, "labels_per_class": 3, "seed": 1,
            "labels_drawn": training.labels_per_class, "preset": "tiny", "device": "cpu", "machine": "test",
            "command": "test"}
    text = script.markdown([result], meta)
    assert "both unseen tiles pooled" in text and "| cnn | bundle | unseen tile_96_0 | 807 |" in text


def test_several_seeds_give_mean_and_spread_of_each_method(script: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert script.main(["--methods", "rf", "--preset", "tiny", "--labels-per-class", "2", "--seeds", "0,1",
                        "--data", str(ENMAP), "--work", str(tmp_path / "work"), "--out", str(out),
                        "--device", "cpu", "--synthetic-weight", "1"]) == 0
    body = json.loads((out / "unseen_scenes.json").read_text())
    assert body["meta"]["synthetic_weight"] == 1.0  # recorded, and said in the Markdown (below)
    runs = body["results_per_seed"]
    assert set(runs) == {"0", "1"} and (tmp_path / "work" / "seed_1" / "rf" / "train").is_dir()
    pooled = [runs[s][0]["unseen_pooled"]["oa"] for s in ("0", "1")]
    assert pooled[0] != pooled[1]  # each seed draws its own labels
    summary = body["summary"][0]
    assert summary["method"] == "rf" and summary["unseen_pooled"]["oa"]["values"] == pooled
    assert summary["unseen_pooled"]["oa"]["mean"] == pytest.approx(np.mean(pooled))
    assert summary["unseen_pooled"]["oa"]["std"] == pytest.approx(np.std(pooled))
    text = (out / "unseen_scenes.md").read_text()
    mean, std = 100 * np.mean(pooled), 100 * np.std(pooled)
    assert "synthetic weight 1," in text
    assert f"**{mean:.1f} ± {std:.1f}**" in text and "| rf | " + " | ".join(f"{100 * v:.1f}" for v in pooled) in text
    with pytest.raises(ValueError, match="same methods"):
        script.seed_summary({0: runs["0"], 1: []})


def test_a_blend_records_every_cv_blend_judged_on_the_unseen_tiles(script: ModuleType, tmp_path: Path) -> None:
    from hypersynth.core.classify.ensemble import candidate_blends

    # 5 labels per class, seed 0: every class has labels in two or more places, so the CV runs
    training = script.build_training_scene(ENMAP, tmp_path / "scene", labels_per_class=5, seed=0)
    tiles = script.read_tile_list(ENMAP, "validation_files.csv")
    result = script.run_method("cnn-pseudo", training, tiles, tmp_path, preset="tiny", seed=0, device="cpu",
                               share_rule="log-loss")
    blends = result["blends"]
    with_dfeat = any(b["dfeat_weight"] > 0 for b in blends)
    assert sorted((b["cnn_weight"], b["dfeat_weight"]) for b in blends) == sorted(candidate_blends(with_dfeat))
    for b in blends:
        assert 0.0 <= b["oa"] <= 1.0 and 0.0 <= b["cv_balanced_accuracy"] <= 1.0 and b["cv_log_loss"] > 0.0
    # the bundle chose by the rule asked for: its blend has the lowest CV log-loss of all
    bundle = json.loads((tmp_path / "cnn-pseudo" / "train" / "classifier_bundle" / "config.json").read_text())
    assert bundle["share_rule"] == "log-loss"
    chosen = next(b for b in blends if (b["cnn_weight"], b["dfeat_weight"]) ==
                  (bundle["cnn_weight"], bundle["dfeat_weight"]))
    assert chosen["cv_log_loss"] == min(b["cv_log_loss"] for b in blends)
    # the chosen blend's record is the run's own map on the unseen tiles when the run did not smooth
    if bundle["smoothing"] == 0:
        assert chosen["oa"] == pytest.approx(result["unseen_pooled"]["oa"])
