"""KOSMOS-1: a Magneto decoder over text tokens with resampled CLIP image embeddings spliced in.

Input format (KOSMOS-1 §2.1, Table 21): ``<s> text <image> [64 image embeddings] </image>
text </s>``. The token sequence carries a placeholder id at each of the 64 image slots;
``image_mask`` marks them and the resampler's outputs replace their embeddings in order. The
language-model loss is next-token cross-entropy over text targets only (the data layer sets
targets to ``IGNORE`` at image slots, image markers, padding and instruction prompts).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from kosmos_model.config import ModelConfig
from kosmos_model.layers import DecoderLayer, magneto_init_, xpos_for_length
from kosmos_model.resampler import Resampler
from kosmos_model.vision import CLIPVisionEncoder

IGNORE = -100


class Kosmos(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.dim)
        self.embed_dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(
            DecoderLayer(
                config.dim,
                config.heads,
                config.ffn_dim,
                dropout=config.dropout,
                attention_dropout=config.attention_dropout,
                eps=config.layer_norm_eps,
            )
            for _ in range(config.layers)
        )
        self.norm = nn.LayerNorm(config.dim, eps=config.layer_norm_eps)
        self.output = (
            None if config.tie_embeddings else nn.Linear(config.dim, config.vocab_size, bias=False)
        )
        self.vision = CLIPVisionEncoder(config.vision)
        self.resampler = Resampler(
            config.vision.width,
            config.dim,
            config.num_latents,
            config.resampler_layers,
            config.resampler_heads,
        )
        #: Training-time memory/compute trade, set by the trainer (``--activation-checkpointing``).
        self.activation_checkpointing = False
        self.init_weights()

    def init_weights(self) -> None:
        """Magneto initialisation of the decoder (Wang et al., 2022, §2.2), decoder-only:

            W_q, W_k, W_v ~ Xavier(gain = 1/sqrt 2);  W_out, W_fc1, W_fc2 ~ Xavier(gain = 1)
            W_v, W_out, W_fc1, W_fc2 *= gamma,  gamma = sqrt(log(2N)),  N = config.layers

        selected by each linear's role in its ``DecoderLayer`` (``layers.magneto_init_``).
        Token embeddings ~ N(0, dim^-1/2) as torchscale's ``Decoder``; the CLIP encoder keeps
        its own init (or loaded weights) and the resampler its default.
        """
        with torch.no_grad():
            nn.init.normal_(self.embed_tokens.weight, std=self.config.dim**-0.5)
            if self.output is not None:
                nn.init.normal_(self.output.weight, std=self.config.dim**-0.5)
            nn.init.ones_(self.norm.weight)
            nn.init.zeros_(self.norm.bias)
        for layer in self.layers:
            magneto_init_(layer, self.config.layers)

    # ----------------------------------------------------------------------- parts

    def xpos_tables(self, length: int, device: torch.device):
        """xPos tables (torchscale's positions: rotation from 0, scale centred), shared by
        every layer of one forward."""
        c = self.config
        return xpos_for_length(
            length,
            c.head_dim,
            theta=c.rope_theta,
            gamma=c.xpos_gamma,
            scale_base=c.xpos_scale_base,
            device=device,
        )

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) -> (N, num_latents, dim)."""
        return self.resampler(self.vision(pixels))

    def embed(
        self, input_ids: torch.Tensor, image_mask: torch.Tensor, pixels: torch.Tensor | None
    ) -> torch.Tensor:
        x = self.embed_tokens(input_ids)  # (B, T, D)
        n_slots = int(image_mask.sum())
        if n_slots:
            if pixels is None or pixels.shape[0] * self.config.num_latents != n_slots:
                got = 0 if pixels is None else pixels.shape[0]
                raise ValueError(
                    f"{n_slots} image slots need {n_slots / self.config.num_latents:g} images "
                    f"of {self.config.num_latents} embeddings, got {got} images"
                )
            img = self.encode_images(pixels).to(x.dtype)  # (N, L, D)
            x = x.masked_scatter(image_mask.unsqueeze(-1), img.reshape(-1, x.shape[-1]))
        return x

    def forward(
        self,
        input_ids: torch.Tensor,
        image_mask: torch.Tensor,
        pixels: torch.Tensor | None = None,
        targets: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (B, T, V), or the mean cross-entropy over non-``IGNORE`` targets."""
        x = self.embed_dropout(self.embed(input_ids, image_mask, pixels))
        xpos = self.xpos_tables(x.shape[1], x.device)
        for layer in self.layers:
            if self.activation_checkpointing and self.training:
                # Recompute the layer in backward instead of storing its activations.
                x = checkpoint(layer, x, xpos, use_reentrant=False)
            else:
                x = layer(x, xpos)
        x = self.norm(x)
        weight = self.embed_tokens.weight if self.output is None else self.output.weight
        logits = F.linear(x, weight)  # (B, T, V)
        if targets is None:
            return logits
        return F.cross_entropy(
            logits.float().view(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE
        )


def count_parameters(model: Kosmos) -> dict[str, int]:
    """Parameter counts of the language model, the vision encoder and the resampler."""

    def n(m: nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    lm = n(model.embed_tokens) + n(model.layers) + n(model.norm)
    lm += 0 if model.output is None else n(model.output)
    vision, res = n(model.vision), n(model.resampler)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        "lm": lm,
        "vision": vision,
        "resampler": res,
        "total": lm + vision + res,
        "trainable": trainable,
    }


def flops_per_token(config: ModelConfig, seq_len: int) -> float:
    """Training FLOPs per token of the decoder: 6 * N_dense + 12 * L * d * T (attention).

    The standard estimate (Kaplan et al., 2020; PaLM appendix B MFU definition); N_dense
    counts the decoder's matmul weights, including the tied output projection.
    """
    d, f, n = config.dim, config.ffn_dim, config.layers
    dense = n * (4 * d * d + 2 * d * f) + config.vocab_size * d
    return 6.0 * dense + 12.0 * n * d * seq_len


def init_std_table(model: Kosmos) -> list[tuple[int, str, float, float]]:
    """``(layer, role, measured std, expected std)`` for every decoder linear (Magneto)."""
    from kosmos_model.layers import magneto_expected_std, magneto_layer_gains

    rows = []
    for i, layer in enumerate(model.layers):
        for role, lin, gain in magneto_layer_gains(layer, model.config.layers):
            rows.append(
                (i, role, float(lin.weight.detach().std()), magneto_expected_std(lin, gain))
            )
    return rows


__all__ = ["IGNORE", "Kosmos", "count_parameters", "flops_per_token", "init_std_table"]
