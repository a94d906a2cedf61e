"""Tests of the CLIP text tower wrapper: token embeddings, masks, cache, offline weight loading and fallback."""

import dataclasses
import logging

import huggingface_hub.constants
import pytest
import torch
from safetensors.torch import save_file

from hypersynth.core.ldm.config import TextConfig
from hypersynth.core.ldm.text_encoder import TextEncoder
from hypersynth.core.tokens import word_tokens

torch.set_num_threads(1)

TINY = TextConfig(model="tiny", use_pretrained=False, context_length=16, tiny_width=32, tiny_layers=2, tiny_heads=2)


@pytest.fixture
def empty_hf_cache(tmp_path, monkeypatch):
    """Point the Hugging Face cache at an empty folder so no real weights are found."""
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_encode_shapes_mask_and_tokens():
    enc = TextEncoder(TINY, seed=0)
    prompts = ["corn", "", "lettuce romaine, 4 weeks", "corn"]
    tokens, mask = enc.encode(prompts)
    lengths = [len(enc.tokens(p)) for p in prompts]
    assert lengths == [3, 2, 8, 3]
    assert tokens.shape == (4, 8, 32) and tokens.dtype == torch.float32 and enc.width == 32
    assert mask.dtype == torch.bool and mask.sum(dim=1).tolist() == lengths
    assert torch.all(tokens[~mask] == 0)  # padding is zeros
    assert torch.equal(tokens[0], tokens[3])
    assert enc.tokens("corn") == ["<start>", "corn", "<end>"]
    assert enc.tokens("lettuce romaine, 4 weeks")[1:-1] == ["lettuce", "ro", "maine", ",", "4", "weeks"]
    # the attention panels are the words: no start/end marker, no punctuation
    assert [w for _, w in word_tokens(enc.tokens("lettuce romaine, 4 weeks"))] == ["lettuce", "ro", "maine", "4", "weeks"]
    with pytest.raises(ValueError, match="list of prompt strings"):
        enc.encode("corn")
    with pytest.raises(ValueError, match="at least one"):
        enc.encode([])


def test_truncated_encoding_equals_the_full_context_tower():
    enc = TextEncoder(TINY, seed=0)
    tokens, mask = enc.encode(["a field of corn", "corn"])
    # open_clip's own path: every prompt padded to the whole context, causal mask over all positions
    ids = enc.tokenizer(["a field of corn", "corn"])  # (2, 16)
    x = enc.tower.token_embedding(ids) + enc.tower.positional_embedding  # (2, 16, D)
    full = enc.tower.ln_final(enc.tower.transformer(x, attn_mask=enc.tower.attn_mask))  # (2, 16, D)
    assert torch.allclose(tokens[mask], full[:, :tokens.shape[1]][mask], atol=1e-5)


def test_long_prompts_are_cut_at_the_context_length(caplog):
    """Cut without a word before: the prompt's files and the report kept the whole text the tower never read."""
    enc = TextEncoder(TINY, seed=0)
    long = " ".join(["corn"] * 40)
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        pieces = enc.tokens(long)
        assert len(pieces) == 16 and pieces[0] == "<start>" and pieces[-1] == "<end>"
        assert enc.encode([long])[0].shape == (1, 16, 32)
        assert caplog.records == []  # encoding says nothing: a prompt made inside (RPSC's) is no analyst's to shorten
        for prompt in (long, long, "corn field"):  # synthesis asks of the analyst's: said once, and only when cut
            enc.say_if_cut(prompt)
    said = [r.getMessage() for r in caplog.records]
    assert said == [f"the prompt '{long}' is 42 word pieces, more than the 16 this text encoder reads (start and end "
                    f"included): it reads '{' '.join(['corn'] * 14)}' and not the rest; shorten the prompt to what "
                    "tells the class apart"]  # once, however often the prompt is encoded


def test_frozen_tower_caches_identical_embeddings():
    enc = TextEncoder(dataclasses.replace(TINY, train_random_tower=False), seed=0)
    assert not enc.trainable and not any(p.requires_grad for p in enc.parameters())
    first, mask1 = enc.encode(["corn", "soil"])
    assert set(enc._cache) == {"corn", "soil"}
    again, mask2 = enc.encode(["corn", "soil"])
    assert torch.equal(first, again) and torch.equal(mask1, mask2)
    with torch.no_grad():
        enc.tower.ln_final.bias.add_(1.0)
    assert torch.equal(enc.encode(["corn", "soil"])[0], first)  # served from the cache
    enc.clear_cache()
    assert not torch.equal(enc.encode(["corn", "soil"])[0], first)  # recomputed with the new weights


def test_a_frozen_embedding_does_not_depend_on_the_prompts_encoded_with_it():
    # float rounding varies with the batch: the null prompt encoded alone (as the diffusion features do) and with
    # the class prompts (as synthesis does) must give the same bits, or a run depends on which step came first
    together = TextEncoder(dataclasses.replace(TINY, train_random_tower=False), seed=0)
    alone = TextEncoder(dataclasses.replace(TINY, train_random_tower=False), seed=0)
    tokens, mask = together.encode(["corn field, minimum tillage, early growth", "soil", ""])
    null, null_mask = alone.encode([""])
    n = int(null_mask[0].sum())
    assert torch.equal(tokens[2, :n], null[0, :n]) and int(mask[2].sum()) == n


def test_trainable_tower_gets_gradients_and_is_not_cached():
    enc = TextEncoder(TINY, seed=0)
    assert enc.trainable and enc.source.startswith("random-init")
    tokens, mask = enc.encode(["corn", "soil", "corn"])
    tokens[mask].sum().backward()
    assert enc.tower.token_embedding.weight.grad is not None
    assert enc._cache == {}


def test_same_seed_same_tower():
    a, b = TextEncoder(TINY, seed=4), TextEncoder(TINY, seed=4)
    assert torch.equal(a.encode(["corn"])[0], b.encode(["corn"])[0])
    assert not torch.equal(a.encode(["corn"])[0], TextEncoder(TINY, seed=5).encode(["corn"])[0])


@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_a_local_weights_file_is_used(tmp_path, fmt):
    donor = TextEncoder(TINY, seed=11)
    state = {k: v.clone().contiguous() for k, v in donor.tower.state_dict().items()}
    # a whole-CLIP checkpoint also holds the vision tower and the heads: they must be skipped
    state.update({"visual.conv1.weight": torch.ones(4, 3, 2, 2), "text_projection": torch.ones(32, 8),
                  "logit_scale": torch.ones(())})
    path = tmp_path / f"clip.{fmt}"
    if fmt == "safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, str(path))
    enc = TextEncoder(dataclasses.replace(TINY, weights_path=str(path)), seed=99)
    assert enc.source == f"pretrained:{path}"
    assert not enc.trainable  # a pretrained tower is frozen unless finetune is set
    for key, value in donor.tower.state_dict().items():
        assert torch.equal(enc.tower.state_dict()[key], value), key
    assert torch.equal(enc.encode(["corn"])[0], donor.encode(["corn"])[0])
    assert TextEncoder(dataclasses.replace(TINY, weights_path=str(path), finetune=True)).trainable


def test_bad_weights_files_give_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        TextEncoder(dataclasses.replace(TINY, weights_path=str(tmp_path / "nothing.safetensors")))
    partial = tmp_path / "partial.safetensors"
    save_file({"token_embedding.weight": torch.zeros(49408, 32)}, str(partial))
    with pytest.raises(ValueError, match="missing text-tower tensors"):
        TextEncoder(dataclasses.replace(TINY, weights_path=str(partial)))
    wrong = tmp_path / "wrong.safetensors"
    state = {k: v.contiguous() for k, v in TextEncoder(dataclasses.replace(TINY, tiny_width=16)).tower.state_dict()
             .items()}
    save_file(state, str(wrong))
    with pytest.raises(ValueError, match="does not match"):
        TextEncoder(dataclasses.replace(TINY, weights_path=str(wrong)))


def test_missing_clip_weights_log_one_warning_and_fall_back(empty_hf_cache, caplog):
    cfg = TextConfig(model="ViT-B-32", context_length=16)
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        enc = TextEncoder(cfg, seed=0)
        tokens, mask = enc.encode(["corn", "bare soil"])
    warnings = [r for r in caplog.records if r.name == "hypersynth" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "timm/vit_base_patch32_clip_224.openai" in message and "trained jointly" in message
    assert enc.source.startswith("random-init compact tower trained jointly (no CLIP weights found")
    assert enc.trainable and enc.width == cfg.compact_width
    assert tokens.shape == (2, 4, cfg.compact_width) and mask.sum(dim=1).tolist() == [3, 4]
    # The config now describes the tower actually built, so a saved bundle rebuilds the same one.
    assert cfg.model == "tiny" and cfg.tiny_width == cfg.compact_width


def test_full_random_fallback_keeps_the_vit_b32_shape(empty_hf_cache, caplog):
    cfg = TextConfig(model="ViT-B-32", context_length=16, fallback="random-full")
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        enc = TextEncoder(cfg, seed=0)
    assert enc.source.startswith("random-init (no CLIP weights found")
    assert enc.trainable and enc.width == 512 and len(caplog.records) == 1


def test_opting_out_of_pretrained_weights_is_silent(empty_hf_cache, caplog):
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        enc = TextEncoder(dataclasses.replace(TINY, model="ViT-B-32", use_pretrained=False))
    assert not caplog.records and enc.source == "random-init (use_pretrained is off)"


def test_cached_openai_checkpoint_is_found(empty_hf_cache):
    repo = empty_hf_cache / "models--timm--vit_base_patch32_clip_224.openai"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_model.safetensors").write_bytes(b"stand-in")
    path, looked = TextEncoder.find_cached_weights("ViT-B-32")
    assert path == snapshot / "open_clip_model.safetensors"
    assert looked == "timm/vit_base_patch32_clip_224.openai/open_clip_model.safetensors"


def test_architecture_only_for_bundles():
    enc = TextEncoder(TINY, load_weights=False, seed=0)
    assert enc.source.startswith("architecture only") and not enc.trainable
    donor = TextEncoder(TINY, seed=3)
    enc.load_state_dict(donor.state_dict())
    enc.source = "bundle"
    assert torch.equal(enc.encode(["corn"])[0], donor.encode(["corn"])[0]) and enc.source == "bundle"


def test_tower_matches_the_keys_of_a_real_open_clip_checkpoint():
    """Every text-tower tensor has the name and shape it has in open_clip's ViT-B-32 CLIP state dict."""
    import open_clip
    from open_clip.transformer import QuickGELU

    with torch.device("meta"):  # shapes only: no memory, no weights
        clip = open_clip.model.CLIP(**open_clip.get_model_config("ViT-B-32"))
        tower = TextEncoder._build_tower(TextConfig(model="ViT-B-32"))
    clip_state = clip.state_dict()
    for key, value in tower.state_dict().items():
        assert key in clip_state and clip_state[key].shape == value.shape, key
    assert isinstance(tower.transformer.resblocks[0].mlp.gelu, QuickGELU)  # the 'openai' weights need QuickGELU
