"""Tests of the synthesis engine's models: configs, band normaliser, spectral VAE and latent DiT."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from hypersynth.core.ldm.config import (
    DenoiserConfig,
    LDMConfig,
    VAEConfig,
    preset,
    resolve_device,
)
from hypersynth.core.ldm.denoiser import DenoiserExtras, LatentDiT
from hypersynth.core.ldm.normalize import BandNormalizer
from hypersynth.core.ldm.vae import (
    PatchDiscriminator,
    SpectralVAE,
    spectral_angle_degrees,
    train_vae,
    vae_loss,
)
from hypersynth.core.progress import CancelAfter, Cancelled

torch.set_num_threads(1)


def toy_patches(n: int = 48, bands: int = 6, p: int = 8, seed: int = 0) -> np.ndarray:
    """Smooth toy patches: two endmember spectra mixed by a per-patch spatial gradient, plus noise."""
    rng = np.random.default_rng(seed)
    wl = np.linspace(0.0, 1.0, bands)
    a, b = np.sin(3 * wl) + 1.5, np.cos(2 * wl) + 1.0  # (B,) each
    yy, xx = np.mgrid[0:p, 0:p] / max(p - 1, 1)
    out = np.empty((n, bands, p, p), dtype=np.float32)
    for i in range(n):
        angle = rng.uniform(0, 2 * np.pi)
        share = 0.5 + 0.5 * np.clip(np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5), -1, 1)  # (p, p)
        out[i] = a[:, None, None] * share + b[:, None, None] * (1 - share)
    out += rng.normal(0, 0.02, out.shape).astype(np.float32)
    return (out - out.mean(axis=(0, 2, 3), keepdims=True)) / out.std(axis=(0, 2, 3), keepdims=True)


# ---------------------------------------------------------------- config

@pytest.mark.parametrize("name", ["tiny", "fast", "full"])
def test_presets_round_trip_through_json(name):
    cfg = preset(name)
    assert cfg.preset == name
    again = LDMConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


def test_tiny_preset_matches_the_contract():
    cfg = preset("tiny")
    assert cfg.vae.patch_size == 8 and cfg.denoiser.hidden_size == 16 and cfg.denoiser.depth == 2
    assert cfg.text.model == "tiny"
    assert cfg.vae.latent_size == 4


def test_preset_overrides_and_errors():
    cfg = preset("tiny", seed=7, vae__epochs=5, diffusion={"guidance": 1.5}, device="cpu")
    assert (cfg.seed, cfg.vae.epochs, cfg.diffusion.guidance, cfg.device) == (7, 5, 1.5, "cpu")
    assert cfg.vae.patch_size == 8  # untouched fields keep the preset's values
    with pytest.raises(ValueError, match="unknown preset"):
        preset("huge")
    with pytest.raises(ValueError, match="unknown keys"):
        preset("tiny", vae__colour=1)
    with pytest.raises(ValueError, match="divisible by denoiser.num_heads"):
        preset("tiny", denoiser={"hidden_size": 20, "num_heads": 3})
    with pytest.raises(ValueError, match="token_patch"):
        preset("tiny", vae={"patch_size": 9}, denoiser={"token_patch": 2})  # latent 5 is not a multiple of 2


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("abacus")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU is available"):  # core.device.check_device's words
            resolve_device("cuda")


# ---------------------------------------------------------------- normaliser

def test_band_normalizer_round_trip_and_state():
    rng = np.random.default_rng(1)
    x = rng.normal([[10.0], [200.0], [-3.0]], [[2.0], [50.0], [0.1]], size=(3, 500)).T[:, :, None, None]
    x = np.repeat(x, 2, axis=2).astype(np.float32)  # (500, 3, 2, 1)
    x[:, 2] = 5.0  # a constant band
    norm = BandNormalizer(3).fit(x)
    z = norm.normalize(torch.from_numpy(x))
    assert torch.allclose(z[:, :2].mean(dim=(0, 2, 3)), torch.zeros(2), atol=1e-4)
    assert torch.allclose(z[:, :2].std(dim=(0, 2, 3), unbiased=False), torch.ones(2), atol=1e-4)
    assert torch.all(z[:, 2] == 0) and norm.std[2] == 1.0  # constant band: std 1, stays finite
    assert torch.allclose(norm.denormalize(z), torch.from_numpy(x), atol=1e-3)
    assert np.allclose(norm.denormalize_array(norm.normalize_array(x)), x, atol=1e-3)

    loaded = BandNormalizer(3)
    loaded.load_state_dict(norm.state_dict())
    assert torch.equal(loaded.mean, norm.mean) and torch.equal(loaded.std, norm.std) and bool(loaded.fitted)


def test_band_normalizer_matches_numpy_on_many_chunks():
    spectra = np.random.default_rng(2).normal(3000.0, 40.0, size=(9000, 5)).astype(np.float32)  # (N, B)
    norm = BandNormalizer(5).fit(spectra)
    assert np.allclose(norm.mean.numpy(), spectra.astype(np.float64).mean(axis=0), rtol=1e-6)
    assert np.allclose(norm.std.numpy(), spectra.astype(np.float64).std(axis=0), rtol=1e-5)


def test_band_normalizer_rejects_bad_input():
    norm = BandNormalizer(4)
    with pytest.raises(RuntimeError, match="not fitted"):
        norm.normalize(torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"\(N, 4, \.\.\.\)"):
        norm.fit(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        norm.fit(np.full((5, 4), np.nan))


# ---------------------------------------------------------------- VAE

@pytest.mark.parametrize("p,downsample,latent", [(9, 2, 5), (8, 2, 4), (11, 2, 6), (9, 4, 3), (8, 1, 8)])
def test_vae_shapes_for_odd_and_even_patches(p, downsample, latent):
    torch.manual_seed(0)
    cfg = VAEConfig(patch_size=p, hidden_channels=8, latent_channels=3, downsample=downsample)
    vae = SpectralVAE(cfg, bands=5)
    x = torch.randn(2, 5, p, p)
    mean, logvar = vae.encode(x)
    assert mean.shape == logvar.shape == (2, 3, latent, latent)
    assert vae.latent_shape == (3, latent, latent)
    assert vae.decode(vae.sample_latent(mean, logvar)).shape == (2, 5, p, p)
    x_hat, m2, _ = vae(x)
    assert x_hat.shape == x.shape and torch.equal(m2, mean)
    with pytest.raises(ValueError, match="patches"):
        vae.encode(torch.randn(2, 5, p + 1, p + 1))
    with pytest.raises(ValueError, match="latents"):
        vae.decode(torch.randn(2, 3, latent + 1, latent + 1))


def test_sample_latent_is_reproducible_with_a_generator():
    vae = SpectralVAE(VAEConfig(patch_size=8, hidden_channels=8), bands=4)
    mean, logvar = torch.zeros(3, 4, 4, 4), torch.zeros(3, 4, 4, 4)
    a = vae.sample_latent(mean, logvar, torch.Generator().manual_seed(5))
    b = vae.sample_latent(mean, logvar, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and not torch.equal(a, mean)
    assert torch.allclose(vae.sample_latent(mean, torch.full_like(logvar, -30.0)), mean, atol=1e-5)


def test_patch_discriminator_scores_neighbourhoods():
    assert PatchDiscriminator(bands=5, hidden=8)(torch.randn(2, 5, 9, 9)).shape == (2, 1, 5, 5)


def test_spectral_angle_on_known_vectors():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [2.0, 3.0], [1.0, 0.0]])
    b = np.array([[0.0, 1.0], [1.0, 0.0], [4.0, 6.0], [-1.0, 0.0]])
    got = spectral_angle_degrees(a, b)
    assert isinstance(got, np.ndarray)
    assert np.allclose(got, [90.0, 45.0, 0.0, 180.0], atol=1e-3)  # scale-invariant, 180° for opposite
    patches = torch.rand(3, 7, 5, 5) + 0.1
    angles = spectral_angle_degrees(patches, 3.0 * patches)  # (N, p, p)
    assert isinstance(angles, torch.Tensor) and angles.shape == (3, 5, 5)
    assert torch.allclose(angles, torch.zeros(3, 5, 5), atol=1e-2)
    with pytest.raises(ValueError, match="same-shape"):
        spectral_angle_degrees(np.ones((2, 3)), np.ones((2, 4)))


def test_vae_loss_parts():
    cfg = VAEConfig(patch_size=4, kl_weight=0.5, sam_weight=0.0)
    x = torch.ones(2, 3, 4, 4)
    total, parts = vae_loss(x, x + 1.0, torch.zeros(2, 4, 2, 2), torch.zeros(2, 4, 2, 2), cfg)
    assert parts["reconstruction"] == pytest.approx(1.0) and parts["kl"] == pytest.approx(0.0)
    assert parts["sam_degrees"] == pytest.approx(0.0, abs=0.1)  # x + 1 is parallel to x
    assert float(total) == pytest.approx(parts["total"]) == pytest.approx(1.0)
    _, parts = vae_loss(x, x, torch.ones(2, 4, 2, 2), torch.zeros(2, 4, 2, 2), cfg)
    assert parts["kl"] == pytest.approx(0.5 * 16)  # 0.5 · Σ μ² over 16 latent elements


def test_train_vae_reduces_reconstruction_and_is_deterministic():
    patches = toy_patches(n=48)
    cfg = VAEConfig(patch_size=8, hidden_channels=16, latent_channels=4, downsample=2, epochs=12,
                    batch_size=16, lr=3e-3, adversarial_weight=0.05, adversarial_warmup_epochs=10,
                    holdout_fraction=0.25)
    reporter = CancelAfter(10 ** 6)
    vae, history = train_vae(patches, cfg, seed=3, device="cpu", reporter=reporter)
    assert not vae.training
    assert history["n_train"] == 36 and history["n_holdout"] == 12
    rec = history["reconstruction"]
    assert len(rec) == 12 and rec[-1] < 0.5 * rec[0]
    assert history["holdout_rmse"][-1] < history["holdout_rmse"][0]
    assert all(np.isfinite(history["holdout_sam_degrees"]))
    assert history["adversarial"][:10] == [0.0] * 10 and history["discriminator"][10] > 0  # critic after warm-up
    assert reporter.stages == [f"VAE {e}/12" for e in range(1, 13)]

    again, history2 = train_vae(patches, cfg, seed=3, device="cpu")
    for (k, v), (_, w) in zip(vae.state_dict().items(), again.state_dict().items()):
        assert torch.equal(v, w), k
    assert history2["loss"] == history["loss"]
    other, _ = train_vae(patches, dataclasses.replace(cfg, epochs=1), seed=4, device="cpu")
    assert not torch.equal(other.encoder[0].weight, vae.encoder[0].weight)


def test_train_vae_cancels_and_rejects_bad_patches():
    cfg = VAEConfig(patch_size=8, hidden_channels=8, epochs=3, batch_size=8)
    with pytest.raises(Cancelled):
        train_vae(toy_patches(n=16), cfg, seed=0, device="cpu", reporter=CancelAfter(2))
    with pytest.raises(ValueError, match="patch_size=8"):
        train_vae(toy_patches(n=16, p=9), cfg, device="cpu")
    bad = toy_patches(n=16)
    bad[3, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        train_vae(bad, cfg, device="cpu")


# ---------------------------------------------------------------- denoiser

def make_dit(cross_attention: bool = True, token_patch: int = 1, seed: int = 0, randomize: bool = True
             ) -> LatentDiT:
    torch.manual_seed(seed)
    cfg = DenoiserConfig(token_patch=token_patch, hidden_size=16, depth=2, num_heads=2, mlp_ratio=2.0,
                         cross_attention=cross_attention)
    dit = LatentDiT(cfg, latent_channels=4, latent_size=4, text_dim=8)
    if randomize:  # adaLN-Zero starts every block as identity; give it non-zero weights to see attention at work
        with torch.no_grad():
            for param in dit.parameters():
                param.add_(0.2 * torch.randn_like(param))
    return dit.eval()


def text_batch(n: int = 3, length: int = 5, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    text = torch.randn(n, length, 8, generator=g)  # (N, L, D)
    lengths = torch.tensor([5, 2, 3])[:n]
    mask = torch.arange(length)[None] < lengths[:, None]  # (N, L)
    return text, mask


def test_dit_starts_as_zero_prediction():
    dit = make_dit(randomize=False)
    text, mask = text_batch()
    out = dit(torch.randn(3, 4, 4, 4), torch.tensor([0, 10, 99]), text, mask)
    assert out.shape == (3, 4, 4, 4) and torch.all(out == 0)  # DiT's zero-initialised output layer


def test_dit_attention_sums_to_one_and_respects_the_text_mask():
    dit = make_dit()
    text, mask = text_batch()
    z = torch.randn(3, 4, 4, 4)
    out, extras = dit(z, torch.tensor([3, 50, 97]), text, mask, return_attention=True, return_features=True)
    assert isinstance(extras, DenoiserExtras) and out.shape == z.shape
    assert len(extras.attention) == len(extras.features) == 2
    for probs, feats in zip(extras.attention, extras.features):
        assert probs.shape == (3, 2, 16, 5)  # (N, heads, T, L)
        assert feats.shape == (3, 16, 16)  # (N, T, hidden)
        assert torch.allclose(probs.sum(dim=-1), torch.ones(3, 2, 16), atol=1e-5)
        assert torch.all(probs.masked_select(~mask[:, None, None, :].expand_as(probs)) == 0)
        assert torch.all(probs.masked_select(mask[:, None, None, :].expand_as(probs)) > 0)
    # values behind the mask never reach the prediction
    noisy_text = text.clone()
    noisy_text[~mask] = 1e3
    assert torch.allclose(dit(z, torch.tensor([3, 50, 97]), noisy_text, mask), out, atol=1e-5)
    other_text, _ = text_batch(seed=2)
    assert not torch.allclose(dit(z, torch.tensor([3, 50, 97]), other_text, mask), out, atol=1e-3)


def test_dit_flags_and_timestep_types():
    dit = make_dit()
    text, mask = text_batch()
    z = torch.randn(3, 4, 4, 4)
    plain = dit(z, torch.tensor([5, 5, 5]), text, mask)
    assert isinstance(plain, torch.Tensor)
    assert torch.allclose(dit(z, torch.tensor([5.0, 5.0, 5.0]), text, mask), plain)
    assert torch.allclose(dit(z, torch.tensor(5), text, mask), plain)
    _, only_features = dit(z, torch.tensor([5, 5, 5]), text, mask, return_features=True)
    assert only_features.attention == [] and len(only_features.features) == 2
    with pytest.raises(ValueError, match="at least one unmasked"):
        dit(z, torch.tensor([5, 5, 5]), text, torch.zeros_like(mask))
    with pytest.raises(ValueError, match="latents"):
        dit(torch.randn(3, 4, 5, 5), torch.tensor([5, 5, 5]), text, mask)


def test_dit_without_cross_attention_and_with_token_patches():
    text, mask = text_batch()
    z = torch.randn(3, 4, 4, 4)
    pooled_only = make_dit(cross_attention=False)
    out, extras = pooled_only(z, torch.tensor([1, 2, 3]), text, mask, return_attention=True)
    assert out.shape == z.shape and extras.attention == []
    patched = make_dit(token_patch=2)
    assert patched.num_tokens == 4
    out, extras = patched(z, torch.tensor([1, 2, 3]), text, mask, return_attention=True, return_features=True)
    assert out.shape == z.shape
    assert extras.attention[0].shape == (3, 2, 4, 5) and extras.features[0].shape == (3, 4, 16)


def test_unpatchify_is_row_major():
    dit = make_dit(token_patch=2)
    z = torch.arange(2 * 4 * 4 * 4, dtype=torch.float32).reshape(2, 4, 4, 4)  # (N, C, h, w)
    # patchify by hand: tokens in row-major order, each token's values ordered (row in patch, col in patch, C)
    tokens = z.reshape(2, 4, 2, 2, 2, 2).permute(0, 2, 4, 3, 5, 1).reshape(2, 4, 16)  # (N, T, P²·C)
    assert torch.equal(dit.unpatchify(tokens), z)


def test_dit_is_deterministic_by_seed_and_trains():
    a, b = make_dit(seed=3, randomize=False), make_dit(seed=3, randomize=False)
    for (k, v), (_, w) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(v, w), k
    dit = make_dit(randomize=False).train()
    text, mask = text_batch()
    z, noise = torch.randn(3, 4, 4, 4), torch.randn(3, 4, 4, 4)
    opt = torch.optim.Adam(dit.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.mse_loss(dit(z, torch.tensor([1, 2, 3]), text, mask), noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


def test_vae_on_principal_components_decodes_inside_the_spectral_subspace():
    rng = np.random.default_rng(0)
    bands, k = 12, 3
    directions = np.linalg.qr(rng.normal(size=(bands, k)))[0].T  # (k, B) orthonormal
    coef = rng.normal(size=(40, k, 5, 5)).astype(np.float32)
    patches = (np.einsum("nkhw,kb->nbhw", coef, directions) + 0.5).astype(np.float32)  # rank-k spectra
    cfg = VAEConfig(patch_size=5, hidden_channels=8, latent_channels=2, spectral_components=k)
    vae = SpectralVAE(cfg, bands).fit_spectral_basis(patches)
    x = torch.from_numpy(patches)
    # the projection is exact on rank-k data, and whatever the decoder says lies in the same subspace
    assert torch.allclose(vae._from_components(vae._to_components(x)), x, atol=1e-4)
    out = vae.decode(torch.randn(3, 2, 3, 3)).detach().numpy() - 0.5  # (3, B, 5, 5)
    residual = out - np.einsum("nbhw,kb,kc->nchw", out, directions, directions)
    assert np.abs(residual).max() < 1e-4
    # the basis travels in the state dict
    again = SpectralVAE(cfg, bands)
    again.load_state_dict(vae.state_dict())
    assert torch.equal(again.basis, vae.basis) and torch.equal(again.basis_scale, vae.basis_scale)
