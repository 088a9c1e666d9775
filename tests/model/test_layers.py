"""xPos against a direct implementation of its formula, SDPA attention, Magneto init."""

from __future__ import annotations

import cmath
import math

import torch

from kosmos_model.config import get_config
from kosmos_model.layers import (
    DecoderLayer,
    MagnetoAttention,
    apply_xpos,
    magneto_expected_std,
    magneto_gamma,
    magneto_layer_gains,
    make_xpos,
)
from kosmos_model.model import Kosmos, init_std_table

GAMMA, BASE, THETA = 0.4, 512, 10000.0


def reference_scores(q, k, qpos, kpos):
    """score[n, m] from the xPos definition (Sun et al., 2022, §3.2), with complex numbers:
    pair i of q at n is (q_2i + j q_2i+1) e^{j n theta_i} zeta_i^{n/512}, of k at m the same
    with zeta_i^{-m/512}; the dot product of two 2-vectors is Re(a * conj(b))."""
    d = q.shape[-1]
    out = torch.zeros(len(qpos), len(kpos), dtype=torch.float64)
    for a, n in enumerate(qpos):
        for b, m in enumerate(kpos):
            s = 0.0
            for i in range(d // 2):
                theta = THETA ** (-2 * i / d)
                zeta = (2 * i / d + GAMMA) / (1 + GAMMA)
                qi = complex(q[a, 2 * i], q[a, 2 * i + 1]) * cmath.exp(1j * n * theta)
                ki = complex(k[b, 2 * i], k[b, 2 * i + 1]) * cmath.exp(1j * m * theta)
                s += (zeta ** (n / BASE)) * (zeta ** (-m / BASE)) * (qi * ki.conjugate()).real
            out[a, b] = s
    return out


def test_xpos_matches_formula():
    torch.manual_seed(0)
    d, t = 16, 24
    q, k = torch.randn(t, d, dtype=torch.float64), torch.randn(t, d, dtype=torch.float64)
    pos = torch.arange(t) * 37 - 300  # spread positions: large angles and decays
    qx = apply_xpos(q.float(), pos, downscale=False)
    kx = apply_xpos(k.float(), pos, downscale=True)
    ours = qx.double() @ kx.double().T
    ref = reference_scores(q, k, pos.tolist(), pos.tolist())
    diff = (ours - ref).abs().max().item()
    print(f"xPos scores vs formula: max abs diff {diff:.3e} (max |score| {ref.abs().max():.2f})")
    assert diff < 1e-4


def test_xpos_scores_depend_only_on_offset():
    torch.manual_seed(1)
    d, t = 32, 64
    q, k = torch.randn(d), torch.randn(d)
    pos = torch.arange(t)
    qx = apply_xpos(q.expand(t, d), pos, downscale=False)
    kx = apply_xpos(k.expand(t, d), pos, downscale=True)
    s = qx @ kx.T  # s[n, m] must be a function of n - m only
    worst = 0.0
    for off in range(-t + 1, t):
        diag = torch.diagonal(s, off)
        worst = max(worst, float(diag.max() - diag.min()))
    # Shifting every position by a constant changes nothing either.
    shifted = (
        apply_xpos(q.expand(t, d), pos + 1000, downscale=False)
        @ apply_xpos(k.expand(t, d), pos + 1000, downscale=True).T
    )
    shift = float((shifted - s).abs().max())
    print(
        f"xPos relative property: max spread along a diagonal {worst:.3e}; "
        f"shift by 1000: max diff {shift:.3e}"
    )
    assert worst < 1e-4 and shift < 1e-3
    # The decay: with q = k the score of a far offset is below the near one's bound.
    z = (
        apply_xpos(q.expand(t, d), pos, downscale=False)
        @ apply_xpos(q.expand(t, d), pos, downscale=True).T
    )
    assert z[0, 0] > 0 and abs(float(z[t - 1, 0])) < float(z[0, 0])


def test_attention_is_causal_softmax_attention():
    torch.manual_seed(2)
    attn = MagnetoAttention(32, 4, attention_dropout=0.0, eps=1e-5).eval()
    x = torch.randn(2, 10, 32)
    pos = torch.arange(10) - 5
    with torch.no_grad():
        got = attn(x, make_xpos(pos, 8, theta=THETA, gamma=GAMMA, scale_base=BASE))
        q = attn.q_proj(x).view(2, 10, 4, 8).transpose(1, 2)
        k = attn.k_proj(x).view(2, 10, 4, 8).transpose(1, 2)
        v = attn.v_proj(x).view(2, 10, 4, 8).transpose(1, 2)
        q, k = apply_xpos(q, pos, downscale=False), apply_xpos(k, pos, downscale=True)
        scores = q @ k.transpose(-1, -2) / math.sqrt(8)
        scores = scores.masked_fill(torch.triu(torch.ones(10, 10, dtype=torch.bool), 1), -1e30)
        y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(2, 10, 32)
        want = attn.out_proj(attn.inner_norm(y))  # Sub-LN before the output projection
        diff = float((got - want).abs().max())
    print(f"SDPA attention vs explicit causal softmax: max abs diff {diff:.3e}")
    assert diff < 1e-5


def test_magneto_init_statistics_per_layer():
    torch.manual_seed(3)
    cfg = get_config("tiny").replace(dim=256, heads=4, ffn_dim=1024, layers=6)
    model = Kosmos(cfg)
    g = magneto_gamma(6)
    assert abs(g - math.sqrt(math.log(12))) < 1e-12
    worst = 0.0
    for layer_idx, role, measured, expected in init_std_table(model):
        rel = abs(measured - expected) / expected
        worst = max(worst, rel)
        assert rel < 0.03, (layer_idx, role, measured, expected)
    # The roles scaled by gamma are v_proj, out_proj, fc1, fc2 (and only those).
    gains = {role: gain for role, _, gain in magneto_layer_gains(model.layers[0], 6)}
    assert gains["q_proj"] == gains["k_proj"] == 1 / math.sqrt(2)
    assert abs(gains["v_proj"] - g / math.sqrt(2)) < 1e-12
    assert gains["out_proj"] == gains["fc1"] == gains["fc2"] == g
    lin = model.layers[0].ffn.fc1
    assert abs(magneto_expected_std(lin, 1.0) - math.sqrt(2 / (256 + 1024))) < 1e-12
    assert all(float(layer.attn.q_proj.bias.detach().abs().max()) == 0 for layer in model.layers)
    print(
        f"Magneto init: {len(init_std_table(model))} weights over 6 layers, gamma={g:.4f}, "
        f"max relative std error {worst:.4f}"
    )


def test_decoder_layer_has_sub_ln_in_both_sublayers():
    layer = DecoderLayer(16, 2, 32, dropout=0.0, attention_dropout=0.0, eps=1e-5)
    seen = []
    layer.attn.inner_norm.register_forward_hook(lambda m, i, o: seen.append(("attn", i[0].shape)))
    layer.ffn.inner_norm.register_forward_hook(lambda m, i, o: seen.append(("ffn", i[0].shape)))
    layer(
        torch.randn(1, 5, 16),
        make_xpos(torch.arange(5), 8, theta=THETA, gamma=GAMMA, scale_base=BASE),
    )
    assert seen == [("attn", (1, 5, 16)), ("ffn", (1, 5, 32))]
