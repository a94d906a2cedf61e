"""A CLIP weights file that is no checkpoint of the text tower is refused before anything trains, on every path that
trains a synthesis model (it was found only when the text encoder was built, after the VAE had trained)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from hypersynth.core import pipeline
from hypersynth.core.bench import run_bench
from hypersynth.core.ldm.config import TextConfig
from hypersynth.core.ldm.text_encoder import TextEncoder, check_clip_weights
from hypersynth.core.methods import MethodSettings, check_text_weights


def test_a_checkpoint_of_the_text_tower_passes_and_others_are_refused_saying_why(tmp_path):
    tower = TextEncoder(TextConfig(model="ViT-B-32", use_pretrained=False), seed=0).tower
    good = tmp_path / "clip.safetensors"
    save_file({f"module.{k}": v.contiguous() for k, v in tower.state_dict().items()}, str(good))
    check_clip_weights(good)  # names and shapes only: nothing is loaded
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"junk.safetensors is not a CLIP checkpoint HyperSynth can read"):
        check_clip_weights(junk)
    other = tmp_path / "other.bin"
    torch.save({"token_embedding.weight": torch.zeros(10, 512)}, other)
    with pytest.raises(ValueError, match=r"other.bin is not a ViT-B-32 CLIP checkpoint: missing text-tower tensors "
                                         r"\['ln_final.bias'"):
        check_clip_weights(other)
    shapes = {k: (torch.zeros(3) if k == "ln_final.bias" else v.contiguous()) for k, v in tower.state_dict().items()}
    save_file(shapes, str(tmp_path / "wrong.safetensors"))
    with pytest.raises(ValueError, match=r"does not match the ViT-B-32 text tower: ln_final.bias \(3,\) ≠ \(512,\)"):
        check_clip_weights(tmp_path / "wrong.safetensors")
    with pytest.raises(ValueError, match=r"the CLIP weights file .*none.bin does not exist"):
        check_clip_weights(tmp_path / "none.bin")
    with pytest.raises(ValueError, match=r"the CLIP weights file .* is a folder; give the open_clip ViT-B-32 "
                                         r"checkpoint \(open_clip_model.safetensors or open_clip_pytorch_model.bin\) "
                                         r"in it"):
        check_clip_weights(tmp_path)
    pickle_junk = tmp_path / "junk.bin"
    pickle_junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError) as refused:  # the kind of file, not torch's advice to unpickle it anyway
        check_clip_weights(pickle_junk)
    assert "not a PyTorch state-dict archive" in str(refused.value) and "weights_only" not in str(refused.value)


def test_every_run_that_trains_a_synthesis_model_checks_the_file_first(scene_files, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a checkpoint")
    fast = MethodSettings(preset="fast", clip_weights=str(junk))
    with pytest.raises(ValueError, match="is not a CLIP checkpoint HyperSynth can read"):
        pipeline.classify_scene(scene_files["scene"], scene_files["labels"], tmp_path / "run", settings=fast)
    with pytest.raises(ValueError, match="is not a CLIP checkpoint HyperSynth can read"):
        pipeline.train_bundle(scene_files["scene"], scene_files["labels"], tmp_path / "model", settings=fast)
    with pytest.raises(ValueError, match="is not a CLIP checkpoint HyperSynth can read"):
        run_bench(["demo"], [2], [0], ["augment"], ["random"], fast)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.bin"]  # refused before any folder was made
    check_text_weights(MethodSettings(preset="tiny", clip_weights=str(junk)))  # its test tower loads none
    # the blend without synthesis loads no text encoder (unless its diffusion-feature member is asked for)
    with pytest.raises(Exception) as refused:  # refused for its labels, read after the check: it passed the check
        pipeline.classify_scene(scene_files["scene"], tmp_path / "no_labels.tif", tmp_path / "ablation",
                                method="cnn-pseudo", settings=fast)
    assert "no_labels.tif" in str(refused.value) and "CLIP" not in str(refused.value)
    with pytest.raises(ValueError, match="is not a CLIP checkpoint HyperSynth can read"):
        pipeline.classify_scene(scene_files["scene"], scene_files["labels"], tmp_path / "member", method="cnn-pseudo",
                                settings=MethodSettings(preset="fast", clip_weights=str(junk), diffusion_features=True))
