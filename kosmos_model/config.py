"""Frozen model configurations: ``kosmos1`` (the paper's) and small ones for tests and demos.

KOSMOS-1 §3.2: "The MLLM component has 24 layers with 2,048 hidden dimensions, 8,192 FFN
intermediate size, and 32 attention heads, resulting in about 1.3B parameters. We use
Magneto's initialization ... we employ a pretrained CLIP ViT-L/14 model to obtain image
representations ... we freeze the parameters of the CLIP model except for the last layer
during training. The total number of parameters of KOSMOS-1 is about 1.6B." Images are
224x224 and resampled to 64 embeddings (§2.1, §3.2).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class VisionConfig:
    """A CLIP ViT image encoder (Radford et al., 2021). Defaults are ViT-L/14 at 224 px."""

    image_size: int = 224
    patch_size: int = 14
    width: int = 1024
    layers: int = 24
    heads: int = 16
    mlp_dim: int = 4096
    #: OpenAI's CLIP uses QuickGELU (x * sigmoid(1.702 x)); open_clip's LAION models use GELU.
    activation: str = "quick_gelu"
    layer_norm_eps: float = 1e-5
    #: KOSMOS-1 §3.2: CLIP is frozen except its last layer.
    trainable_last_layers: int = 1

    def __post_init__(self) -> None:
        if self.image_size % self.patch_size:
            raise ValueError(
                f"VisionConfig.image_size ({self.image_size}) must be a multiple of "
                f"patch_size ({self.patch_size})"
            )
        if self.width % self.heads:
            raise ValueError(f"VisionConfig.width ({self.width}) must divide by heads")
        if self.activation not in ("quick_gelu", "gelu"):
            raise ValueError(
                f"VisionConfig.activation must be quick_gelu or gelu, got {self.activation!r}"
            )
        if not 0 <= self.trainable_last_layers <= self.layers:
            raise ValueError("VisionConfig.trainable_last_layers must be in [0, layers]")

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """The whole KOSMOS-1 model: language decoder, image encoder and resampler."""

    name: str
    vocab_size: int
    dim: int
    layers: int
    heads: int
    ffn_dim: int
    max_seq_len: int = 2048
    #: KOSMOS-1 §3.2 / Appendix A: dropout 0.1 (residual and FFN activations).
    dropout: float = 0.1
    attention_dropout: float = 0.0
    layer_norm_eps: float = 1e-5
    #: xPos (Sun et al., 2022 §3.2): zeta_i = (2i/d + gamma) / (1 + gamma), gamma = 0.4.
    xpos_gamma: float = 0.4
    xpos_scale_base: int = 512
    rope_theta: float = 10000.0
    #: torchscale's decoder shares input and output embeddings for KOSMOS-1.
    tie_embeddings: bool = True
    vision: VisionConfig = field(default_factory=VisionConfig)
    #: KOSMOS-1 §2.1: "the Resampler [is] an attentive pooling mechanism" giving 64 embeddings.
    num_latents: int = 64
    resampler_layers: int = 1
    resampler_heads: int = 16

    def __post_init__(self) -> None:
        for f in ("vocab_size", "dim", "layers", "heads", "ffn_dim", "max_seq_len"):
            if getattr(self, f) < 1:
                raise ValueError(f"ModelConfig.{f} must be >= 1, got {getattr(self, f)}")
        if self.dim % self.heads:
            raise ValueError(f"ModelConfig.dim ({self.dim}) must divide by heads ({self.heads})")
        if (self.dim // self.heads) % 2:
            raise ValueError("ModelConfig head dim (dim // heads) must be even for xPos")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ModelConfig.dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.attention_dropout < 1.0:
            raise ValueError("ModelConfig.attention_dropout must be in [0, 1)")
        if self.xpos_gamma <= 0:
            raise ValueError(f"ModelConfig.xpos_gamma must be > 0, got {self.xpos_gamma}")
        if self.xpos_scale_base < 1:
            raise ValueError("ModelConfig.xpos_scale_base must be >= 1")
        if self.num_latents < 1 or self.resampler_layers < 1:
            raise ValueError("ModelConfig.num_latents and resampler_layers must be >= 1")
        if self.vision.width % self.resampler_heads:
            raise ValueError("ModelConfig.resampler_heads must divide vision.width")

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    def replace(self, **changes) -> ModelConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        d = dict(d)
        d["vision"] = VisionConfig(**d["vision"])
        return cls(**d)


TINY_VISION = VisionConfig(
    image_size=28, patch_size=14, width=32, layers=2, heads=2, mlp_dim=64, trainable_last_layers=1
)
SMALL_VISION = VisionConfig(
    image_size=112, patch_size=14, width=256, layers=4, heads=4, mlp_dim=1024
)

CONFIGS: dict[str, ModelConfig] = {
    # The paper's model (§3.2). vocab_size is the paper's 64k SentencePiece vocabulary (§3.1);
    # training replaces it with the loaded tokenizer's size (``get_config(name, vocab_size)``).
    "kosmos1": ModelConfig(
        name="kosmos1",
        vocab_size=64000,
        dim=2048,
        layers=24,
        heads=32,
        ffn_dim=8192,
        vision=VisionConfig(),
        num_latents=64,
        resampler_layers=1,
        resampler_heads=16,
    ),
    # A mid-size model for CPU benchmarks and short real runs.
    "small": ModelConfig(
        name="small",
        vocab_size=8000,
        dim=512,
        layers=8,
        heads=8,
        ffn_dim=2048,
        max_seq_len=1024,
        vision=SMALL_VISION,
        num_latents=64,
        resampler_layers=1,
        resampler_heads=4,
    ),
    # Tests and the demo: seconds per step on one CPU core.
    "tiny": ModelConfig(
        name="tiny",
        vocab_size=512,
        dim=64,
        layers=2,
        heads=4,
        ffn_dim=256,
        max_seq_len=512,
        vision=TINY_VISION,
        num_latents=64,
        resampler_layers=1,
        resampler_heads=2,
    ),
}


def get_config(name: str, vocab_size: int | None = None) -> ModelConfig:
    """A named config, with the vocabulary size replaced by the tokenizer's when given."""
    if name not in CONFIGS:
        raise ValueError(f"unknown model config {name!r}; known: {sorted(CONFIGS)}")
    cfg = CONFIGS[name]
    return cfg.replace(vocab_size=vocab_size) if vocab_size else cfg
