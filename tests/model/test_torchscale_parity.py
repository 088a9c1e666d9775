"""Parity with Microsoft's torchscale 0.3.0, the KOSMOS/Magneto/xPos reference (MIT).

torchscale is a dev/test dependency only (``pip install --no-deps torchscale==0.3.0``; see
the Makefile): shipped code never imports it. Only its component modules are imported
(``component/xpos_relative_position.py``, ``multihead_attention.py``,
``feedforward_network.py``) and ``architecture/config.py`` for the ``args`` object; they
need only torch (``architecture/decoder.py`` would import fairscale).

Each test copies our weights into torchscale's module, runs the same fp32 inputs forward and
backward, and reports the max absolute difference of outputs and of every gradient.
"""

from __future__ import annotations

import pytest
import torch

from kosmos_model.layers import (
    MagnetoAttention,
    MagnetoFFN,
    apply_xpos,
    rotate_and_scale,
    xpos_for_length,
    xpos_positions,
)


def _ts():
    """torchscale's component modules; a missing install is a failure, never a skip."""
    try:
        from torchscale.architecture.config import DecoderConfig
        from torchscale.component.feedforward_network import FeedForwardNetwork
        from torchscale.component.multihead_attention import MultiheadAttention
        from torchscale.component.xpos_relative_position import XPOS
    except ModuleNotFoundError as e:  # pragma: no cover - exercised on a bare machine
        pytest.fail(f"torchscale is not installed ({e}): pip install --no-deps torchscale==0.3.0")
    return DecoderConfig, FeedForwardNetwork, MultiheadAttention, XPOS


TOL = 1e-5


def _maxdiff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach() - b.detach()).abs().max())


def _reldiff(a: torch.Tensor, b: torch.Tensor) -> float:
    """Max abs difference over the reference's max magnitude (fp32 sums of many terms)."""
    return _maxdiff(a, b) / max(float(b.detach().abs().max()), 1e-30)


@pytest.mark.parametrize("length", [7, 64, 255])
def test_xpos_matches_torchscale_xpos(length):
    *_, XPOS = _ts()
    torch.manual_seed(0)
    head_dim = 64
    ref = XPOS(head_dim, scale_base=512)
    rotation, scale = xpos_positions(length)
    worst = {}
    for downscale in (False, True):
        x1 = torch.randn(6, length, head_dim, requires_grad=True)  # (B*H, T, d) as torchscale
        x2 = x1.detach().clone().requires_grad_(True)
        got = apply_xpos(x1, rotation, downscale=downscale, scale_positions=scale)
        want = ref(x2, offset=0, downscale=downscale)
        g = torch.randn_like(want)
        (got * g).sum().backward()
        (want * g).sum().backward()
        worst["keys" if downscale else "queries"] = (
            _maxdiff(got, want),
            _maxdiff(x1.grad, x2.grad),
        )
    # The model's tables (xpos_for_length) are the same ones.
    t = xpos_for_length(length, head_dim, theta=10000.0, gamma=0.4, scale_base=512)
    x = torch.randn(6, length, head_dim)
    model_diff = _maxdiff(rotate_and_scale(x, t.cos, t.sin, t.q_scale), ref(x, downscale=False))
    print(
        f"xPos vs torchscale XPOS, T={length}, d={head_dim}: "
        + ", ".join(f"{k} output {o:.2e} grad {gr:.2e}" for k, (o, gr) in worst.items())
        + f"; model tables {model_diff:.2e}"
    )
    assert max(max(v) for v in worst.values()) <= TOL and model_diff <= TOL


def _copy_linear(dst, src) -> None:
    with torch.no_grad():
        dst.weight.copy_(src.weight)
        dst.bias.copy_(src.bias)


def _randomise(module: torch.nn.Module) -> None:
    """Non-trivial weights everywhere (LayerNorms too), so every parameter is checked."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.copy_(1.0 + 0.2 * torch.randn_like(m.weight))
                m.bias.copy_(0.2 * torch.randn_like(m.bias))
            elif isinstance(m, torch.nn.Linear):
                m.weight.copy_(torch.randn_like(m.weight) * m.in_features**-0.5)
                m.bias.copy_(0.1 * torch.randn_like(m.bias))


def _param_grad_diffs(ours, ref, pairs) -> dict[str, tuple[float, float, float]]:
    """``{name: (abs diff, reference max |grad|, relative diff)}`` per parameter gradient."""
    out = {}
    for a, b in pairs:
        for p in ("weight", "bias"):
            ga, gb = getattr(getattr(ours, a), p).grad, getattr(getattr(ref, b), p).grad
            out[f"{a}.{p}"] = (_maxdiff(ga, gb), float(gb.abs().max()), _reldiff(ga, gb))
    return out


def _report_and_check(what, out_diff, out_max, in_diff, param) -> None:
    """Outputs and input gradients (magnitudes ~1-10) must agree to 1e-5 absolute. Parameter
    gradients are sums over B*T positions (magnitudes up to ~100 here, so fp32 rounding alone
    is ~1e-5 absolute): they must agree to 1e-5 *relative* to their largest entry."""
    worst_abs = max(param, key=lambda k: param[k][0])
    worst_rel = max(param, key=lambda k: param[k][2])
    print(
        f"{what}: output max diff {out_diff:.2e} (max |y| {out_max:.2f}); input grad max diff "
        f"{in_diff:.2e}; parameter grads ({len(param)} tensors) max abs diff "
        f"{param[worst_abs][0]:.2e} ({worst_abs}, max |grad| {param[worst_abs][1]:.1f}), max "
        f"relative diff {param[worst_rel][2]:.2e} ({worst_rel})"
    )
    assert out_diff <= TOL and in_diff <= TOL
    assert param[worst_rel][2] <= TOL


@pytest.mark.parametrize("length", [9, 128])
def test_magneto_attention_matches_torchscale(length):
    DecoderConfig, _, MultiheadAttention, _ = _ts()
    torch.manual_seed(1)
    dim, heads = 128, 4
    ours = MagnetoAttention(dim, heads, attention_dropout=0.0, eps=1e-5)
    _randomise(ours)
    args = DecoderConfig(subln=True, xpos_rel_pos=True, xpos_scale_base=512, multiway=False)
    assert args.layernorm_eps == 1e-5
    ref = MultiheadAttention(args, dim, heads, dropout=0.0, self_attention=True, subln=True)
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        _copy_linear(getattr(ref, name), getattr(ours, name))
    _copy_linear(ref.inner_attn_ln, ours.inner_norm)
    x1 = torch.randn(2, length, dim, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    xpos = xpos_for_length(length, dim // heads, theta=10000.0, gamma=0.4, scale_base=512)
    got = ours(x1, xpos)
    causal = torch.triu(torch.full((length, length), float("-inf")), 1)
    want, _ = ref(x2, x2, x2, attn_mask=causal)
    g = torch.randn_like(want)
    (got * g).sum().backward()
    (want * g).sum().backward()
    out_diff, in_diff = _maxdiff(got, want), _maxdiff(x1.grad, x2.grad)
    pairs = [(n, n) for n in ("q_proj", "k_proj", "v_proj", "out_proj")]
    pairs.append(("inner_norm", "inner_attn_ln"))
    param = _param_grad_diffs(ours, ref, pairs)
    _report_and_check(
        f"attention vs torchscale MultiheadAttention (subln, xpos), B=2 T={length} D={dim} "
        f"H={heads}",
        out_diff,
        float(want.detach().abs().max()),
        in_diff,
        param,
    )


def test_magneto_ffn_matches_torchscale():
    _, FeedForwardNetwork, _, _ = _ts()
    torch.manual_seed(2)
    dim, ffn_dim = 96, 384
    ours = MagnetoFFN(dim, ffn_dim, eps=1e-5)
    _randomise(ours)
    # The positional args of torchscale's Decoder.build_ffn: activation_fn "gelu", dropout,
    # activation_dropout, layernorm_eps, subln.
    ref = FeedForwardNetwork(dim, ffn_dim, "gelu", 0.0, 0.0, 1e-5, subln=True)
    _copy_linear(ref.fc1, ours.fc1)
    _copy_linear(ref.fc2, ours.fc2)
    _copy_linear(ref.ffn_layernorm, ours.inner_norm)
    x1 = torch.randn(3, 17, dim, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    got, want = ours(x1), ref(x2)
    g = torch.randn_like(want)
    (got * g).sum().backward()
    (want * g).sum().backward()
    param = _param_grad_diffs(
        ours, ref, [("fc1", "fc1"), ("fc2", "fc2"), ("inner_norm", "ffn_layernorm")]
    )
    _report_and_check(
        f"FFN vs torchscale FeedForwardNetwork (subln, gelu), B=3 T=17 D={dim} F={ffn_dim}",
        _maxdiff(got, want),
        float(want.detach().abs().max()),
        _maxdiff(x1.grad, x2.grad),
        param,
    )


def test_shipped_code_never_imports_torchscale():
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    offenders = [
        str(p.relative_to(root))
        for pkg in ("kosmos_model", "kosmos_data", "pipelines")
        for p in (root / pkg).rglob("*.py")
        for line in p.read_text(encoding="utf-8").splitlines()
        if line.lstrip().startswith(("import torchscale", "from torchscale"))
    ]
    assert offenders == []
