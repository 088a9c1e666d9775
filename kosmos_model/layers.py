"""Decoder building blocks: xPos, Magneto (Sub-LN) attention and FFN, and Magneto's init.

Magneto (Wang et al., 2022, "Foundation Transformers", §2) is a Pre-LN Transformer with one
extra LayerNorm inside each sublayer ("Sub-LN"): before the attention output projection and
before the FFN's second linear. Its initialisation (ibid. §2.2, decoder-only case) is::

    q_proj, k_proj, v_proj: Xavier, gain 1/sqrt(2)        (torchscale's MultiheadAttention)
    out_proj, fc1, fc2:     Xavier, gain 1
    then v_proj, out_proj, fc1, fc2 are multiplied by gamma = sqrt(log(2N)),  N = #layers

(the "subln" branch of torchscale's ``Decoder.__init__``). xPos (Sun et al., 2022, "A
Length-Extrapolatable Transformer", §3.2) rotates queries and keys like RoPE and also scales
them with an exponential decay, so that the score of a query at position n and a key at m
depends only on n - m and decays with |n - m|.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

# --------------------------------------------------------------------------- xPos


class XPosTables(NamedTuple):
    """Per-position rotation and scale tables, computed once per forward for all layers."""

    cos: torch.Tensor  # (T, d/2)
    sin: torch.Tensor  # (T, d/2)
    q_scale: torch.Tensor  # (T, d/2): zeta^(n/512)
    k_scale: torch.Tensor  # (T, d/2): 1 / zeta^(n/512)


def make_xpos(
    positions: torch.Tensor,
    head_dim: int,
    *,
    theta: float,
    gamma: float,
    scale_base: int,
    scale_positions: torch.Tensor | None = None,
) -> XPosTables:
    """xPos tables (Sun et al., 2022, §3.2), computed as torchscale 0.3.0's ``XPOS`` does.

    Pair i of a head (dims 2i, 2i+1) at position n rotates by ``n * theta**(-2i/d)`` and is
    scaled by ``zeta_i ** (n / scale_base)``, ``zeta_i = (2i/d + gamma) / (1 + gamma)``;
    keys use ``1 / zeta_i ** (m / scale_base)``. ``positions`` give the rotation angles,
    ``scale_positions`` (default: the same) the decay exponents.

    Where torchscale departs from the paper's text, this follows torchscale (checked by
    ``tests/model/test_torchscale_parity.py``):

    * the rotation uses positions ``0..T-1`` but the scale uses *centred* positions
      (``XPOS.forward``: ``min_pos = -(length + offset) // 2``), so zeta^(+-n/512) stays
      near 1; the paper writes one position n for both. q.k is the same either way, since
      both shifts cancel in ``n - m``;
    * the tables are computed in float32 (``inv_freq = 1 / 10000 ** (arange(d/2) / (d/2))``,
      ``scale ** (n / 512)``, keys ``1 / scale``), not in exact arithmetic: the angle's
      rounding error grows as ``n * 2**-24`` rad, the same in both implementations.
    """
    half = head_dim // 2
    device = positions.device
    inv_freq = 1.0 / (theta ** (torch.arange(0, half, device=device) / half))  # float32
    # The outer product as a broadcast multiply (bitwise what torchscale's einsum gives in
    # float32): einsum would run in bf16 under autocast, ruining angles of large positions.
    angle = positions.to(torch.float32)[:, None] * inv_freq[None, :]  # (T, d/2)
    zeta = (torch.arange(0, head_dim, 2, device=device) + gamma * head_dim) / (
        (1.0 + gamma) * head_dim
    )  # (d/2,), float32
    sp = positions if scale_positions is None else scale_positions
    q_scale = zeta ** (sp.to(torch.float32) / scale_base)[:, None]  # (T, d/2)
    return XPosTables(angle.cos(), angle.sin(), q_scale, 1.0 / q_scale)


def rotate_and_scale(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, scale: torch.Tensor
) -> torch.Tensor:
    """Rotate each pair (x_2i, x_2i+1) by its angle and multiply it by its scale.

    x: (..., T, d); cos, sin, scale: (T, d/2). Computes in float32, returns x's dtype.
    (torchscale's ``apply_rotary_pos_emb``: ``x * cos*s + rotate_every_two(x) * sin*s``.)
    """
    xf = x.float()
    even, odd = xf[..., 0::2], xf[..., 1::2]  # (..., T, d/2)
    c, s = cos * scale, sin * scale
    out_even = even * c - odd * s
    out_odd = odd * c + even * s
    return torch.stack((out_even, out_odd), dim=-1).flatten(-2).to(x.dtype)


def apply_xpos(
    x: torch.Tensor,
    positions: torch.Tensor,
    *,
    downscale: bool,
    theta: float = 10000.0,
    gamma: float = 0.4,
    scale_base: int = 512,
    scale_positions: torch.Tensor | None = None,
) -> torch.Tensor:
    """xPos on queries (``downscale=False``: times zeta^(n/512)) or keys (zeta^(-n/512)).

    x: (..., T, head_dim); positions: (T,). Pure function: computes in float32 and returns
    x's dtype. ``xpos_positions(T)`` gives torchscale's positions (rotation from 0, scale
    centred); any constant shift of either leaves q.k unchanged (it depends only on n - m).
    """
    t = make_xpos(
        positions,
        x.shape[-1],
        theta=theta,
        gamma=gamma,
        scale_base=scale_base,
        scale_positions=scale_positions,
    )
    return rotate_and_scale(x, t.cos, t.sin, t.k_scale if downscale else t.q_scale)


def centered_positions(length: int, device: torch.device | None = None) -> torch.Tensor:
    """torchscale's ``XPOS`` scale positions: ``-(length // 2 rounded up) ...``, i.e.
    ``arange(-length // 2, length - length // 2)`` with floor division (``-3..1`` for 5)."""
    start = (-length) // 2
    return torch.arange(start, start + length, device=device)


def xpos_positions(
    length: int, device: torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(rotation positions 0..T-1, centred scale positions)``, as torchscale uses them."""
    return torch.arange(length, device=device), centered_positions(length, device)


def xpos_for_length(
    length: int,
    head_dim: int,
    *,
    theta: float,
    gamma: float,
    scale_base: int,
    device: torch.device | None = None,
) -> XPosTables:
    """The tables of a length-T self-attention in training (torchscale's ``offset=0``)."""
    rotation, scale = xpos_positions(length, device)
    return make_xpos(
        rotation, head_dim, theta=theta, gamma=gamma, scale_base=scale_base, scale_positions=scale
    )


# --------------------------------------------------------------------------- Magneto


class MagnetoAttention(nn.Module):
    """Causal multi-head self-attention with xPos and a Sub-LN before ``out_proj``."""

    def __init__(
        self,
        dim: int,
        heads: int,
        *,
        attention_dropout: float,
        eps: float,
    ) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.inner_norm = nn.LayerNorm(dim, eps=eps)  # Magneto Sub-LN
        self.out_proj = nn.Linear(dim, dim)
        self.attention_dropout = attention_dropout

    def forward(self, x: torch.Tensor, xpos: XPosTables) -> torch.Tensor:
        b, t, d = x.shape  # (B, T, D)

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, self.head_dim).transpose(1, 2)  # (B, H, T, Dh)

        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        q = rotate_and_scale(q, xpos.cos, xpos.sin, xpos.q_scale)  # xPos, queries
        k = rotate_and_scale(k, xpos.cos, xpos.sin, xpos.k_scale)  # xPos, keys
        p = self.attention_dropout if self.training else 0.0
        # Flash / memory-efficient kernels on GPU; the math kernel on CPU.
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)  # (B,H,T,Dh)
        y = y.transpose(1, 2).reshape(b, t, d)
        return self.out_proj(self.inner_norm(y))


class MagnetoFFN(nn.Module):
    """fc1 -> GELU -> Sub-LN -> fc2 (torchscale's FeedForwardNetwork with subln=True)."""

    def __init__(self, dim: int, ffn_dim: int, *, eps: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, ffn_dim)
        self.inner_norm = nn.LayerNorm(ffn_dim, eps=eps)  # Magneto Sub-LN
        self.fc2 = nn.Linear(ffn_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.inner_norm(F.gelu(self.fc1(x))))


class DecoderLayer(nn.Module):
    """Pre-LN block: x + Drop(Attn(LN(x))), then x + Drop(FFN(LN(x)))."""

    def __init__(
        self,
        dim: int,
        heads: int,
        ffn_dim: int,
        *,
        dropout: float,
        attention_dropout: float,
        eps: float,
    ) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(dim, eps=eps)
        self.attn = MagnetoAttention(dim, heads, attention_dropout=attention_dropout, eps=eps)
        self.ffn_norm = nn.LayerNorm(dim, eps=eps)
        self.ffn = MagnetoFFN(dim, ffn_dim, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, xpos: XPosTables) -> torch.Tensor:
        x = x + self.dropout(self.attn(self.attn_norm(x), xpos))  # (B, T, D)
        return x + self.dropout(self.ffn(self.ffn_norm(x)))


def magneto_gamma(num_layers: int) -> float:
    """Magneto's decoder-only init scale gamma = sqrt(log(2N)) (Foundation Transformers §2.2)."""
    return math.sqrt(math.log(2 * num_layers))


def magneto_expected_std(linear: nn.Linear, gain: float) -> float:
    """Std of ``nn.init.xavier_uniform_(w, gain)``: gain * sqrt(2 / (fan_in + fan_out))."""
    fan_out, fan_in = linear.weight.shape
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


def magneto_layer_gains(layer: DecoderLayer, num_layers: int) -> list[tuple[str, nn.Linear, float]]:
    """``(role, linear, effective Xavier gain)`` for each linear of a decoder layer.

    Roles come from the module structure (which sublayer, which projection), not names.
    Scaling a Xavier-uniform weight by gamma equals Xavier-uniform with gain * gamma, so the
    effective gain is what the weight statistics test checks against.
    """
    g = magneto_gamma(num_layers)
    a, f = layer.attn, layer.ffn
    qk_gain = 1.0 / math.sqrt(2.0)
    return [
        ("q_proj", a.q_proj, qk_gain),
        ("k_proj", a.k_proj, qk_gain),
        ("v_proj", a.v_proj, qk_gain * g),
        ("out_proj", a.out_proj, 1.0 * g),
        ("fc1", f.fc1, 1.0 * g),
        ("fc2", f.fc2, 1.0 * g),
    ]


def magneto_init_(layer: DecoderLayer, num_layers: int) -> None:
    """Initialise one decoder layer as Magneto prescribes for a decoder-only model.

    Xavier-uniform with gain 1/sqrt(2) for q/k/v and 1 for out_proj/fc1/fc2, then v_proj,
    out_proj, fc1 and fc2 multiplied by gamma = sqrt(log 2N) (Wang et al., 2022, §2.2;
    torchscale ``Decoder``: ``init_scale = math.sqrt(math.log(args.decoder_layers * 2))``).
    Biases start at zero, LayerNorms at (1, 0).
    """
    with torch.no_grad():
        for _, linear, gain in magneto_layer_gains(layer, num_layers):
            nn.init.xavier_uniform_(linear.weight, gain=gain)
            nn.init.zeros_(linear.bias)
        for norm in (layer.attn_norm, layer.ffn_norm, layer.attn.inner_norm, layer.ffn.inner_norm):
            nn.init.ones_(norm.weight)
            nn.init.zeros_(norm.bias)
