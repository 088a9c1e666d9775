"""The image resampler: 64 learned latent queries attend to CLIP's tokens (attention pooling).

KOSMOS-1 §2.1 / §3.2: image embeddings come from CLIP ViT-L/14 and "the Resampler [Flamingo,
Alayrac et al., 2022] as an attentive pooling mechanism to reduce the number of image
embeddings" to 64. As in Flamingo's Perceiver Resampler (§2.1, Fig. 5), the latents attend to
the concatenation of the image tokens and themselves, followed by an FFN, each with a
residual; a final LayerNorm and a linear map to the language model's width follow (unilm's
connector).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PerceiverBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm_media = nn.LayerNorm(width)
        self.norm_latents = nn.LayerNorm(width)
        self.q_proj = nn.Linear(width, width, bias=False)
        self.kv_proj = nn.Linear(width, 2 * width, bias=False)
        self.out_proj = nn.Linear(width, width, bias=False)
        self.ffn = nn.Sequential(
            nn.LayerNorm(width),
            nn.Linear(width, 4 * width, bias=False),
            nn.GELU(),
            nn.Linear(4 * width, width, bias=False),
        )

    def forward(self, media: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        n, _, w = media.shape  # media (N, S, W); latents (N, L, W)
        lat = self.norm_latents(latents)
        kv_in = torch.cat([self.norm_media(media), lat], dim=1)  # (N, S+L, W)
        k, v = self.kv_proj(kv_in).chunk(2, dim=-1)

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(n, y.shape[1], self.heads, w // self.heads).transpose(1, 2)

        y = F.scaled_dot_product_attention(split(self.q_proj(lat)), split(k), split(v))
        latents = latents + self.out_proj(y.transpose(1, 2).reshape(n, -1, w))  # (N, L, W)
        return latents + self.ffn(latents)


class Resampler(nn.Module):
    """(N, S, vision_width) image tokens -> (N, num_latents, dim) language-model embeddings."""

    def __init__(self, vision_width: int, dim: int, num_latents: int, layers: int, heads: int):
        super().__init__()
        self.latents = nn.Parameter(torch.randn(num_latents, vision_width) * 0.02)
        self.blocks = nn.ModuleList(PerceiverBlock(vision_width, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(vision_width)
        self.proj = nn.Linear(vision_width, dim)

    def forward(self, media: torch.Tensor) -> torch.Tensor:
        latents = self.latents.to(media.dtype).expand(media.shape[0], -1, -1)  # (N, L, W)
        for block in self.blocks:
            latents = block(media, latents)
        return self.proj(self.norm(latents))  # (N, L, D)
