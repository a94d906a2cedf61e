"""RPSC polygon masks and mixes, and LF-UE latent statistics perturbation."""

import numpy as np
import pytest
import torch

from hypersynth.core.ldm.augment import (
    lf_ue, random_polygon_mask, rpsc_mix, rpsc_mix_batch, rpsc_prompt,
)


@pytest.mark.parametrize("size", [2, 5, 8, 9, 16])
def test_polygon_mask_is_never_empty_nor_full(size):
    rng = np.random.default_rng(0)
    for _ in range(40):
        mask = random_polygon_mask(size, rng)
        assert mask.shape == (size, size) and mask.dtype == bool
        assert 0 < mask.sum() < size * size


def test_polygon_mask_is_reproducible_and_varies():
    a = [random_polygon_mask(9, np.random.default_rng(3)) for _ in range(2)]
    np.testing.assert_array_equal(a[0], a[1])
    rng = np.random.default_rng(3)
    masks = {random_polygon_mask(9, rng).tobytes() for _ in range(20)}
    assert len(masks) > 10


def test_polygon_mask_bad_size():
    with pytest.raises(ValueError, match="at least 2"):
        random_polygon_mask(1, np.random.default_rng(0))


def test_rpsc_mask_pixels_come_from_class_b_and_the_rest_from_a():
    rng = np.random.default_rng(1)
    a = np.full((6, 9, 9), 1.0, np.float32) + rng.normal(0, 0.01, (6, 9, 9)).astype(np.float32)
    b = np.full((6, 9, 9), 5.0, np.float32)
    mixed, mask_b = rpsc_mix(a, b, rng)
    assert mixed.shape == a.shape and mixed.dtype == np.float32
    np.testing.assert_array_equal(mixed[:, mask_b], b[:, mask_b])
    np.testing.assert_array_equal(mixed[:, ~mask_b], a[:, ~mask_b])


def test_rpsc_batch_masks_match_and_shapes_are_checked():
    rng = np.random.default_rng(2)
    a = rng.normal(0, 1, (5, 4, 8, 8)).astype(np.float32)
    b = rng.normal(10, 1, (5, 4, 8, 8)).astype(np.float32)
    mixed, masks = rpsc_mix_batch(a, b, rng)
    assert mixed.shape == a.shape and masks.shape == (5, 8, 8)
    for i in range(5):
        np.testing.assert_array_equal(mixed[i][:, masks[i]], b[i][:, masks[i]])
        np.testing.assert_array_equal(mixed[i][:, ~masks[i]], a[i][:, ~masks[i]])
    with pytest.raises(ValueError, match="same shape"):
        rpsc_mix_batch(a, b[:, :, :7, :7], rng)
    with pytest.raises(ValueError, match="same shape"):
        rpsc_mix(a[0], b[1, :3], rng)


def test_rpsc_prompt_names_both_classes():
    prompt = rpsc_prompt("corn field", " lettuce ")
    assert "corn field" in prompt and "lettuce" in prompt
    assert prompt.index("corn field") < prompt.index("lettuce")
    with pytest.raises(ValueError):
        rpsc_prompt("corn", "  ")


def test_lf_ue_identity_at_zero_and_shape_preserved():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(8, 4, 5, 5, generator=g) * 2 + 1
    assert torch.equal(lf_ue(z, 0.0, g), z)
    out = lf_ue(z, 0.5, g)
    assert out.shape == z.shape and torch.isfinite(out).all()
    assert not torch.allclose(out, z)


def test_lf_ue_keeps_each_latents_normalised_pattern():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(16, 3, 4, 4, generator=g) + torch.arange(16.0).view(16, 1, 1, 1)
    out = lf_ue(z, 1.0, torch.Generator().manual_seed(2))

    def standardise(x):
        return (x - x.mean(dim=(2, 3), keepdim=True)) / x.std(dim=(2, 3), keepdim=True)
    # Only the channel statistics change: the standardised spatial pattern is the same.
    torch.testing.assert_close(standardise(out), standardise(z), atol=1e-4, rtol=1e-4)
    # The spread of the new means follows the batch spread of the old ones (scaled by strength).
    shift = (out.mean(dim=(2, 3)) - z.mean(dim=(2, 3))).std()
    assert 0.5 * z.mean(dim=(2, 3)).std() < shift < 2.0 * z.mean(dim=(2, 3)).std()


def test_lf_ue_is_reproducible_and_checks_input():
    z = torch.randn(6, 4, 3, 3, generator=torch.Generator().manual_seed(0))
    a = lf_ue(z, 0.3, torch.Generator().manual_seed(5))
    b = lf_ue(z, 0.3, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match=">= 0"):
        lf_ue(z, -0.1)
    with pytest.raises(ValueError, match="N, C, h, w"):
        lf_ue(z[0], 0.3)
