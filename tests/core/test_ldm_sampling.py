"""Samplers: guidance convention against an exact oracle, determinism, attention, cancel."""

import pytest
import torch
from torch import nn

from hypersynth.core.ldm.config import DenoiserConfig, DiffusionConfig
from hypersynth.core.ldm.denoiser import LatentDiT
from hypersynth.core.ldm.sampling import (
    SamplerStep, pad_condition, sample, sample_steps, sampling_scheduler, training_scheduler, training_target,
)
from hypersynth.core.progress import Cancelled

CFG = DiffusionConfig(num_train_timesteps=100)
SHAPE = (3, 4, 4, 4)


class Oracle(nn.Module):
    """The exact noise predictor when the data is one point: the prompt's first 4 token values, everywhere."""

    def __init__(self, cfg: DiffusionConfig) -> None:
        super().__init__()
        self.register_buffer("alphas", training_scheduler(cfg).alphas_cumprod.float())
        self.calls = 0

    def forward(self, z, t, text, text_mask, *, return_attention=False):
        self.calls += 1
        target = text[:, 0, : z.shape[1], None, None]  # (N, C, 1, 1)
        a = self.alphas[t.long()].view(-1, 1, 1, 1)
        return (z - a.sqrt() * target) / (1 - a).sqrt()


def _cond(value, n=1, length=3, dim=8):
    tokens = torch.full((n, length, dim), float(value))
    return tokens, torch.ones(n, length, dtype=torch.bool)


@pytest.mark.parametrize("method", ["ddim", "ancestral"])
@pytest.mark.parametrize("guidance", [0.0, 1.0, 3.0])
def test_guidance_convention_with_an_exact_oracle(method, guidance):
    # eps = eps_u + ω (eps_c − eps_u): with the oracle the sample lands on u + ω (c − u) (within the ±5 a start from
    # noise clips the clean-latent estimate to: sampling.NOISE_START_CLIP)
    latents, last = sample(Oracle(CFG), _cond(1.0), _cond(-0.5, length=2), SHAPE, steps=5, guidance=guidance,
                           method=method, seed=0, train_cfg=CFG)
    expected = -0.5 + guidance * (1.0 - -0.5)
    torch.testing.assert_close(latents, torch.full(SHAPE, expected), atol=2e-3, rtol=1e-3)
    assert isinstance(last, SamplerStep) and last.index == 4 and last.total == 5


def test_a_start_from_noise_clips_the_clean_latent_estimate_and_a_start_from_latents_does_not():
    """From pure noise a tiny noise error became a latent of std ~500 (review): the estimate is clipped to ±5 there;
    a start from labelled latents (the run's synthesis) is sampled as it was benchmarked."""
    from hypersynth.core.ldm.sampling import NOISE_START_CLIP

    far = _cond(8.0)  # the oracle's clean latent: 8, beyond the clip
    from_noise, _ = sample(Oracle(CFG), far, far, SHAPE, steps=5, guidance=1.0, seed=0, train_cfg=CFG)
    torch.testing.assert_close(from_noise, torch.full(SHAPE, NOISE_START_CLIP), atol=2e-3, rtol=1e-3)
    anchored, _ = sample(Oracle(CFG), far, far, SHAPE, steps=5, guidance=1.0, seed=0, train_cfg=CFG,
                         init_latent=torch.zeros(SHAPE), strength=0.5)
    torch.testing.assert_close(anchored, torch.full(SHAPE, 8.0), atol=2e-3, rtol=1e-3)


@pytest.mark.parametrize("method", ["ddim", "ancestral"])
def test_the_first_step_from_noise_estimates_the_latents_mean_where_its_noise_level_leaves_no_signal(method):
    """At t = T − 1 (ᾱ 2e-9) an ε-model's clean-latent estimate is its error divided by √ᾱ: it was clipped to ±5
    everywhere and carried on (review). It is the latents' mean, 0, there; the next steps follow the model."""
    class Off(Oracle):  # the oracle with a small error, as any trained model has
        def forward(self, z, t, text, text_mask, *, return_attention=False):
            return super().forward(z, t, text, text_mask) + 0.01

    steps = list(sample_steps(Off(CFG), _cond(1.0), _cond(1.0), SHAPE, steps=5, guidance=1.0, method=method,
                              seed=0, train_cfg=CFG))
    assert steps[0].timestep == CFG.num_train_timesteps - 1
    torch.testing.assert_close(steps[0].predicted_x0, torch.zeros(SHAPE), atol=1e-4, rtol=0)
    assert steps[1].predicted_x0.abs().max() < 2.0  # the model's estimate again, near its clean latent 1


def test_one_pass_per_step_when_guidance_is_0_or_1():
    for guidance in (0.0, 1.0, 2.0):
        oracle = Oracle(CFG)
        sample(oracle, _cond(1.0), _cond(0.0), SHAPE, steps=4, guidance=guidance, train_cfg=CFG)
        assert oracle.calls == 4  # batched cond + uncond pass when both are needed


def _tiny_dit(seed=0):
    torch.manual_seed(seed)
    dit = LatentDiT(DenoiserConfig(token_patch=1, hidden_size=16, depth=2, num_heads=2, mlp_ratio=2.0),
                    latent_channels=4, latent_size=4, text_dim=8)
    for p in dit.parameters():  # DiT starts as identity (zeroed gates): give it random weights to see guidance
        nn.init.normal_(p, std=0.2)
    return dit.eval()


def _prompt_tokens(seed, length):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, length, 8, generator=g), torch.ones(1, length, dtype=torch.bool)


def test_real_denoiser_steps_determinism_and_guidance():
    dit = _tiny_dit()
    cond, uncond = _prompt_tokens(1, 5), _prompt_tokens(2, 2)
    steps = list(sample_steps(dit, cond, uncond, SHAPE, steps=6, guidance=2.0, seed=7, train_cfg=CFG))
    assert [s.index for s in steps] == list(range(6)) and all(s.total == 6 for s in steps)
    timesteps = [s.timestep for s in steps]
    assert timesteps == sorted(timesteps, reverse=True) and timesteps[0] == CFG.num_train_timesteps - 1
    assert all(s.latent.shape == SHAPE and s.predicted_x0.shape == SHAPE for s in steps)
    assert all(s.attention is None for s in steps)
    again, _ = sample(dit, cond, uncond, SHAPE, steps=6, guidance=2.0, seed=7, train_cfg=CFG)
    assert torch.equal(again, steps[-1].latent)
    other_seed, _ = sample(dit, cond, uncond, SHAPE, steps=6, guidance=2.0, seed=8, train_cfg=CFG)
    unguided, _ = sample(dit, cond, uncond, SHAPE, steps=6, guidance=0.0, seed=7, train_cfg=CFG)
    assert not torch.allclose(other_seed, again)
    assert not torch.allclose(unguided, again)
    # ω = 0 ignores the prompt entirely.
    unguided_other_prompt, _ = sample(dit, _prompt_tokens(9, 3), uncond, SHAPE, steps=6, guidance=0.0, seed=7,
                                      train_cfg=CFG)
    assert torch.equal(unguided, unguided_other_prompt)


def test_ancestral_sampling_is_seeded():
    dit = _tiny_dit()
    cond, uncond = _prompt_tokens(1, 4), _prompt_tokens(2, 2)
    a, _ = sample(dit, cond, uncond, SHAPE, steps=4, guidance=1.5, method="ancestral", seed=3, train_cfg=CFG)
    b, _ = sample(dit, cond, uncond, SHAPE, steps=4, guidance=1.5, method="ancestral", seed=3, train_cfg=CFG)
    c, _ = sample(dit, cond, uncond, SHAPE, steps=4, guidance=1.5, method="ancestral", seed=4, train_cfg=CFG)
    d, _ = sample(dit, cond, uncond, SHAPE, steps=4, guidance=1.5, method="ddim", seed=3, train_cfg=CFG)
    assert torch.equal(a, b) and not torch.allclose(a, c) and not torch.allclose(a, d)


def test_attention_of_the_prompt_pass():
    dit = _tiny_dit()
    cond, uncond = _prompt_tokens(1, 5), _prompt_tokens(2, 2)
    cond = (cond[0], torch.tensor([[True, True, True, False, False]]))  # two padded tokens
    for guidance in (0.0, 1.0, 2.5):
        _, last = sample(dit, cond, uncond, SHAPE, steps=3, guidance=guidance, seed=0, train_cfg=CFG,
                         return_attention=True)
        assert len(last.attention) == 2  # one per block
        for probs in last.attention:
            assert probs.shape == (3, 2, 16, 5)  # (N, heads, T, L of the prompt)
            torch.testing.assert_close(probs.sum(-1), torch.ones(3, 2, 16))
            assert torch.all(probs[..., 3:] == 0)


def test_callback_can_cancel_mid_run():
    seen = []

    def callback(step):
        seen.append(step.index)
        if step.index == 2:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        sample(_tiny_dit(), *(_prompt_tokens(1, 3), _prompt_tokens(2, 2)), SHAPE, steps=10, guidance=2.0,
               train_cfg=CFG, callback=callback)
    assert seen == [0, 1, 2]


def test_bad_arguments_are_refused():
    cond, uncond = _prompt_tokens(1, 3), _prompt_tokens(2, 2)
    with pytest.raises(ValueError, match="ddim, ancestral"):
        sample(Oracle(CFG), cond, uncond, SHAPE, steps=3, guidance=1.0, method="euler", train_cfg=CFG)
    with pytest.raises(ValueError, match="steps must be in 1..100"):
        sampling_scheduler(CFG, "ddim", 0)
    with pytest.raises(ValueError, match="2 prompts for 3 samples"):
        sample(Oracle(CFG), (cond[0].repeat(2, 1, 1), cond[1].repeat(2, 1)), uncond, SHAPE, steps=2,
               guidance=2.0, train_cfg=CFG)


def test_pad_condition_and_training_targets():
    tokens, mask = pad_condition(_cond(1.0, n=2, length=2), 5)
    assert tokens.shape == (2, 5, 8) and mask.tolist() == [[True, True, False, False, False]] * 2
    assert torch.all(tokens[:, 2:] == 0)
    z0, noise, t = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3), torch.tensor([10, 90])
    assert torch.equal(training_target(training_scheduler(CFG), z0, noise, t), noise)
    v_cfg = DiffusionConfig(num_train_timesteps=100, prediction_type="v_prediction")
    scheduler = training_scheduler(v_cfg)
    a = scheduler.alphas_cumprod[t].view(-1, 1, 1, 1)
    torch.testing.assert_close(training_target(scheduler, z0, noise, t), a.sqrt() * noise - (1 - a).sqrt() * z0)


def test_anchored_sampling_runs_the_last_steps_from_the_noised_start():
    cond, uncond = _prompt_tokens(1, 3), _prompt_tokens(2, 2)
    start = torch.full(SHAPE, 5.0)
    seen = []
    latents, last = sample(Oracle(CFG), cond, uncond, SHAPE, steps=10, guidance=1.0, train_cfg=CFG,
                           init_latent=start, strength=0.3, callback=lambda s: seen.append(s.timestep))
    assert len(seen) == 3 and last.total == 3
    full = sampling_scheduler(CFG, "ddim", 10).timesteps.tolist()
    assert seen == full[-3:]  # the low-noise end of the schedule
    # strength 1 ignores the start: the same as sampling from pure noise
    a, _ = sample(Oracle(CFG), cond, uncond, SHAPE, steps=4, guidance=1.0, train_cfg=CFG, seed=3,
                  init_latent=start, strength=1.0)
    b, _ = sample(Oracle(CFG), cond, uncond, SHAPE, steps=4, guidance=1.0, train_cfg=CFG, seed=3)
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="strength must be in"):
        sample(Oracle(CFG), cond, uncond, SHAPE, steps=4, guidance=1.0, train_cfg=CFG, init_latent=start,
               strength=0.0)
    with pytest.raises(ValueError, match="init_latent has shape"):
        sample(Oracle(CFG), cond, uncond, SHAPE, steps=4, guidance=1.0, train_cfg=CFG,
               init_latent=torch.zeros(1, 4, 4, 4), strength=0.5)
