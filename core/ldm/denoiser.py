"""The latent denoiser: a DiT (adaLN-Zero transformer) with cross-attention from latent tokens to text tokens."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .config import DenoiserConfig


@dataclass
class DenoiserExtras:
    """What :meth:`LatentDiT.forward` returns besides the prediction when asked."""

    attention: list[torch.Tensor] = field(default_factory=list)  # per block: (N, heads, T, L) cross-attention
    features: list[torch.Tensor] = field(default_factory=list)  # per block: (N, T, hidden) token features


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: ``x · (1 + scale) + shift`` with per-sample ``(N, D)`` shift/scale over ``(N, T, D)`` tokens."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def sincos_2d(embed_dim: int, grid_size: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine position embedding ``(grid_size², embed_dim)`` in row-major token order (as in DiT)."""
    if embed_dim % 4:
        raise ValueError(f"the denoiser hidden_size must be divisible by 4 for 2-D positions, got {embed_dim}")
    coords = torch.arange(grid_size, dtype=torch.float64)
    rows, cols = torch.meshgrid(coords, coords, indexing="ij")  # (g, g) each
    omega = 1.0 / 10000 ** (torch.arange(embed_dim // 4, dtype=torch.float64) / (embed_dim / 4))  # (D/4,)

    def one_axis(pos: torch.Tensor) -> torch.Tensor:
        angles = pos.reshape(-1, 1) * omega[None]  # (g², D/4)
        return torch.cat([angles.sin(), angles.cos()], dim=1)  # (g², D/2)

    return torch.cat([one_axis(rows), one_axis(cols)], dim=1).float()  # (g², D)


class TimestepEmbedder(nn.Module):
    """Embeds diffusion timesteps (integer or fractional) as vectors: sinusoids, then an MLP."""

    def __init__(self, hidden_size: int, frequency_size: int = 256) -> None:
        super().__init__()
        self.frequency_size = frequency_size
        self.mlp = nn.Sequential(
            nn.Linear(frequency_size, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size))

    @staticmethod
    def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
        """Sinusoidal embedding ``(N, dim)`` of ``(N,)`` timesteps (the transformer position encoding)."""
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
        args = t.float()[:, None] * freqs[None]  # (N, dim/2)
        embedding = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # (N, dim - dim % 2)
        if dim % 2:
            embedding = torch.cat([embedding, torch.zeros_like(embedding[:, :1])], dim=-1)  # (N, dim)
        return embedding

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        freq = self.timestep_embedding(t, self.frequency_size)  # (N, 256)
        return self.mlp(freq.to(self.mlp[0].weight.dtype))  # (N, D)


class SelfAttention(nn.Module):
    """Multi-head self-attention over latent tokens (PyTorch's fused kernel: no probabilities needed)."""

    def __init__(self, hidden_size: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.proj = nn.Linear(hidden_size, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, self.num_heads, d // self.num_heads)  # (N, T, 3, H, D/H)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # (N, H, T, D/H) each
        out = F.scaled_dot_product_attention(q, k, v)  # (N, H, T, D/H)
        return self.proj(out.transpose(1, 2).reshape(n, t, d))  # (N, T, D)


class CrossAttention(nn.Module):
    """Latent tokens (queries) attend to text tokens (keys/values).

    Hand-written rather than ``F.scaled_dot_product_attention`` because we must return the attention
    probabilities: they become the per-word attention maps an analyst looks at.
    """

    def __init__(self, hidden_size: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.q = nn.Linear(hidden_size, hidden_size)
        self.kv = nn.Linear(hidden_size, 2 * hidden_size)
        self.proj = nn.Linear(hidden_size, hidden_size)

    def forward(self, x: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            x: ``(N, T, D)`` latent tokens.
            text: ``(N, L, D)`` text tokens, already projected to the denoiser width.
            text_mask: ``(N, L)`` bool, True for real tokens; padded tokens get probability 0.

        Returns:
            ``(out (N, T, D), probabilities (N, heads, T, L))``; probabilities sum to 1 over L.
        """
        n, t, d = x.shape
        length = text.shape[1]
        q = self.q(x).reshape(n, t, self.num_heads, self.head_dim).transpose(1, 2)  # (N, H, T, D/H)
        kv = self.kv(text).reshape(n, length, 2, self.num_heads, self.head_dim)  # (N, L, 2, H, D/H)
        k, v = kv.permute(2, 0, 3, 1, 4)  # (N, H, L, D/H) each
        logits = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (N, H, T, L)
        logits = logits.masked_fill(~text_mask[:, None, None, :], float("-inf"))  # (N, H, T, L)
        probs = logits.softmax(dim=-1)  # (N, H, T, L)
        out = (probs @ v).transpose(1, 2).reshape(n, t, d)  # (N, T, D)
        return self.proj(out), probs


class Mlp(nn.Module):
    """Two linear layers with a tanh-approximated GELU (as in DiT)."""

    def __init__(self, hidden_size: int, mlp_ratio: float) -> None:
        super().__init__()
        inner = int(hidden_size * mlp_ratio)
        self.fc1 = nn.Linear(hidden_size, inner)
        self.fc2 = nn.Linear(inner, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))  # (N, T, D)


class DiTBlock(nn.Module):
    """adaLN-Zero block: modulated self-attention, cross-attention to the prompt, MLP; each gated, gates start at 0."""

    def __init__(self, hidden_size: int, num_heads: int, mlp_ratio: float, cross_attention: bool) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(hidden_size, num_heads)
        self.cross: Optional[CrossAttention] = CrossAttention(hidden_size, num_heads) if cross_attention else None
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.norm3 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden_size, mlp_ratio)
        self.chunks = 9 if cross_attention else 6  # (shift, scale, gate) per sub-layer
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, self.chunks * hidden_size))

    def forward(self, x: torch.Tensor, c: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor
                ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """``x (N, T, D)``, ``c (N, D)``, ``text (N, L, D)``, ``text_mask (N, L)`` → ``(x, probs or None)``."""
        mods = self.adaLN_modulation(c).chunk(self.chunks, dim=1)  # chunks × (N, D)
        shift_sa, scale_sa, gate_sa, shift_mlp, scale_mlp, gate_mlp = mods[:6]
        x = x + gate_sa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_sa, scale_sa))  # (N, T, D)
        probs = None
        if self.cross is not None:
            shift_ca, scale_ca, gate_ca = mods[6:]
            attended, probs = self.cross(modulate(self.norm2(x), shift_ca, scale_ca), text, text_mask)
            x = x + gate_ca.unsqueeze(1) * attended  # (N, T, D)
        x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm3(x), shift_mlp, scale_mlp))  # (N, T, D)
        return x, probs


class FinalLayer(nn.Module):
    """adaLN-modulated LayerNorm, then a linear map from each token to its ``token_patch² × C`` latent values."""

    def __init__(self, hidden_size: int, token_patch: int, out_channels: int) -> None:
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden_size, token_patch * token_patch * out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)  # (N, D) each
        return self.linear(modulate(self.norm_final(x), shift, scale))  # (N, T, P² · C)


class LatentDiT(nn.Module):
    """Predicts the noise in a ``(N, C, h, w)`` latent at timestep ``t`` given a prompt's text tokens.

    Conditioning: the timestep embedding plus the masked mean of the projected text tokens drive
    adaLN-Zero in every block; with ``cfg.cross_attention`` each block also attends from every latent
    token to the text tokens (the visual-linguistic cross-attention of Txt2HSI-LDM).
    """

    def __init__(self, cfg: DenoiserConfig, latent_channels: int, latent_size: int, text_dim: int) -> None:
        super().__init__()
        if cfg.hidden_size % cfg.num_heads:
            raise ValueError(f"DenoiserConfig.hidden_size ({cfg.hidden_size}) must be divisible by "
                             f"num_heads ({cfg.num_heads})")
        if latent_size % cfg.token_patch:
            raise ValueError(f"latent side {latent_size} must be divisible by DenoiserConfig.token_patch "
                             f"({cfg.token_patch})")
        self.cfg = cfg
        self.latent_channels = latent_channels
        self.latent_size = latent_size
        self.text_dim = text_dim
        self.grid = latent_size // cfg.token_patch  # tokens per side
        d, p = cfg.hidden_size, cfg.token_patch
        self.x_embedder = nn.Conv2d(latent_channels, d, kernel_size=p, stride=p)
        self.register_buffer("pos_embed", sincos_2d(d, self.grid)[None], persistent=False)  # (1, T, D)
        self.t_embedder = TimestepEmbedder(d)
        self.text_proj = nn.Sequential(nn.LayerNorm(text_dim), nn.Linear(text_dim, d))
        self.pooled_proj = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.blocks = nn.ModuleList(
            [DiTBlock(d, cfg.num_heads, cfg.mlp_ratio, cfg.cross_attention) for _ in range(cfg.depth)])
        self.final_layer = FinalLayer(d, p, latent_channels)
        self.initialize_weights()

    @property
    def num_tokens(self) -> int:
        """T, the number of latent tokens."""
        return self.grid * self.grid

    def initialize_weights(self) -> None:
        """DiT's initialisation: Xavier linears, zeroed adaLN modulation and output (each block starts as identity)."""
        def _basic_init(module: nn.Module) -> None:
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        self.apply(_basic_init)
        w = self.x_embedder.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.x_embedder.bias)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        for block in self.blocks:
            nn.init.zeros_(block.adaLN_modulation[-1].weight)
            nn.init.zeros_(block.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].weight)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.linear.weight)
        nn.init.zeros_(self.final_layer.linear.bias)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, T, P² · C)`` token outputs → ``(N, C, h, w)`` latents (tokens in row-major order)."""
        n, g, p, c = x.shape[0], self.grid, self.cfg.token_patch, self.latent_channels
        x = x.reshape(n, g, g, p, p, c)  # (N, g, g, P, P, C)
        x = x.permute(0, 5, 1, 3, 2, 4)  # (N, C, g, P, g, P)
        return x.reshape(n, c, g * p, g * p)  # (N, C, h, w)

    def forward(self, z: torch.Tensor, t: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor, *,
                return_attention: bool = False, return_features: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, DenoiserExtras]:
        """Predict the noise (or v) for noisy latents.

        Args:
            z: ``(N, C, h, w)`` noisy latents.
            t: ``(N,)`` timesteps, integer or float (a 0-d tensor or a Python number is broadcast).
            text: ``(N, L, text_dim)`` per-token prompt embeddings.
            text_mask: ``(N, L)`` bool, True for real tokens; every row needs at least one.
            return_attention: also return each block's cross-attention ``(N, heads, T, L)``
                (an empty list when the denoiser has no cross-attention).
            return_features: also return each block's output tokens ``(N, T, hidden)``.

        Returns:
            ``(N, C, h, w)`` prediction, or ``(prediction, DenoiserExtras)`` when either flag is set.
        """
        n = z.shape[0]
        if z.ndim != 4 or tuple(z.shape[1:]) != (self.latent_channels, self.latent_size, self.latent_size):
            raise ValueError(f"LatentDiT expects (N, {self.latent_channels}, {self.latent_size}, "
                             f"{self.latent_size}) latents, got {tuple(z.shape)}")
        if text.ndim != 3 or text.shape[0] != n or text.shape[2] != self.text_dim:
            raise ValueError(f"text must be (N={n}, L, {self.text_dim}), got {tuple(text.shape)}")
        if text_mask.shape != text.shape[:2]:
            raise ValueError(f"text_mask must be {tuple(text.shape[:2])}, got {tuple(text_mask.shape)}")
        text_mask = text_mask.to(device=z.device, dtype=torch.bool)
        if not bool(text_mask.any(dim=1).all()):
            raise ValueError("every prompt needs at least one unmasked text token (the start token counts)")
        t = torch.as_tensor(t, device=z.device)
        t = t.expand(n) if t.ndim == 0 else t.reshape(n)  # (N,)

        x = self.x_embedder(z).flatten(2).transpose(1, 2) + self.pos_embed  # (N, T, D)
        context = self.text_proj(text.to(x.dtype))  # (N, L, D)
        weights = text_mask.to(x.dtype).unsqueeze(-1)  # (N, L, 1)
        pooled = (context * weights).sum(dim=1) / weights.sum(dim=1)  # (N, D)
        c = self.t_embedder(t) + self.pooled_proj(pooled)  # (N, D)
        extras = DenoiserExtras()
        for block in self.blocks:
            x, probs = block(x, c, context, text_mask)  # (N, T, D), (N, H, T, L) or None
            if return_attention and probs is not None:
                extras.attention.append(probs)
            if return_features:
                extras.features.append(x)
        out = self.unpatchify(self.final_layer(x, c))  # (N, C, h, w)
        if return_attention or return_features:
            return out, extras
        return out
