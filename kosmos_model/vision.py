"""The CLIP ViT image encoder, its preprocessing, and loading real CLIP weights from disk.

KOSMOS-1 §3.2: "we employ a pretrained CLIP ViT-L/14 model to obtain image representations
... we freeze the parameters of the CLIP model except for the last layer during training."
The module tree mirrors Hugging Face's ``CLIPVisionModel`` (``vision_model.*`` keys) so a
checkpoint loads by stripping that prefix; open_clip / OpenAI checkpoints (``visual.*``, fused
``in_proj``) are converted. Without weights the encoder is randomly initialised from its
config with CLIP's own scheme. No torchvision: preprocessing is Pillow + numpy + torch.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from kosmos_model.config import VisionConfig

#: CLIP's normalisation constants (OpenAI CLIP ``_transform``; HF ``CLIPImageProcessor``).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


# --------------------------------------------------------------------------- preprocessing


def crop_array(image: Image.Image | bytes, size: int) -> np.ndarray:
    """CLIP's geometric transform: RGB, bicubic resize of the short side to ``size``, centre
    crop. Returns (3, size, size) uint8 (a quarter of float32's bytes to batch and copy to
    the GPU; ``normalize_pixels`` finishes the transform, on the device).

    Loader workers call this on encoded bytes. An image already ``size`` px on its short side
    (what the image stage writes: 224 px centre crops) is only decoded; a JPEG at least twice
    too big is decoded at reduced scale (libjpeg's DCT scaling, ``Image.draft``, the largest
    1/2, 1/4 or 1/8 that keeps both sides >= ``size``) before the bicubic resize.
    """
    if isinstance(image, (bytes, bytearray, memoryview)):
        image = Image.open(io.BytesIO(image))
        if image.format == "JPEG" and min(image.size) >= 2 * size:
            image.draft("RGB", (size, size))
    image = image.convert("RGB")
    w, h = image.size
    if min(w, h) != size:
        scale = size / min(w, h)
        new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
        image = image.resize((new_w, new_h), resample=Image.Resampling.BICUBIC)
        w, h = new_w, new_h
    if (w, h) != (size, size):
        left, top = (w - size) // 2, (h - size) // 2
        image = image.crop((left, top, left + size, top + size))
    arr = np.asarray(image, dtype=np.uint8)  # (H, W, 3)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def crop_image(image: Image.Image | bytes, size: int) -> torch.Tensor:
    """``crop_array`` as a (3, size, size) uint8 tensor."""
    return torch.from_numpy(crop_array(image, size))


def normalize_pixels(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 (..., 3, S, S) -> float32 scaled to [0, 1] and normalised with CLIP's mean/std."""
    mean = torch.tensor(CLIP_MEAN, device=pixels.device).view(3, 1, 1)
    std = torch.tensor(CLIP_STD, device=pixels.device).view(3, 1, 1)
    return (pixels.float() / 255.0 - mean) / std


def preprocess_image(image: Image.Image | bytes, size: int) -> torch.Tensor:
    """CLIP preprocessing (OpenAI CLIP ``_transform``): ``crop_image`` then
    ``normalize_pixels``. Returns (3, size, size) float32."""
    return normalize_pixels(crop_image(image, size))


# --------------------------------------------------------------------------- modules


class CLIPEmbeddings(nn.Module):
    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.class_embedding = nn.Parameter(torch.zeros(cfg.width))
        self.patch_embedding = nn.Conv2d(
            3, cfg.width, kernel_size=cfg.patch_size, stride=cfg.patch_size, bias=False
        )
        self.position_embedding = nn.Embedding(cfg.num_patches + 1, cfg.width)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.patch_embedding(pixels)  # (N, W, g, g)
        x = x.flatten(2).transpose(1, 2)  # (N, P, W)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)  # (N, 1, W)
        return torch.cat([cls, x], dim=1) + self.position_embedding.weight.to(x.dtype)


class CLIPAttention(nn.Module):
    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.heads = cfg.heads
        self.q_proj = nn.Linear(cfg.width, cfg.width)
        self.k_proj = nn.Linear(cfg.width, cfg.width)
        self.v_proj = nn.Linear(cfg.width, cfg.width)
        self.out_proj = nn.Linear(cfg.width, cfg.width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, s, w = x.shape  # (N, S, W)

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(n, s, self.heads, w // self.heads).transpose(1, 2)  # (N, H, S, Dh)

        y = F.scaled_dot_product_attention(
            split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        )
        return self.out_proj(y.transpose(1, 2).reshape(n, s, w))


class CLIPMLP(nn.Module):
    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.fc1 = nn.Linear(cfg.width, cfg.mlp_dim)
        self.fc2 = nn.Linear(cfg.mlp_dim, cfg.width)
        self.quick = cfg.activation == "quick_gelu"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x)
        h = h * torch.sigmoid(1.702 * h) if self.quick else F.gelu(h)
        return self.fc2(h)


class CLIPEncoderLayer(nn.Module):
    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(cfg.width, eps=cfg.layer_norm_eps)
        self.self_attn = CLIPAttention(cfg)
        self.layer_norm2 = nn.LayerNorm(cfg.width, eps=cfg.layer_norm_eps)
        self.mlp = CLIPMLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class CLIPEncoder(nn.Module):
    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(CLIPEncoderLayer(cfg) for _ in range(cfg.layers))


class CLIPVisionEncoder(nn.Module):
    """CLIP ViT: (N, 3, S, S) pixels -> (N, 1 + patches, width) features (all tokens).

    KOSMOS-1 resamples every output token of the last layer (class token and patches),
    after CLIP's final LayerNorm, as unilm's ``kosmos-1`` does with open_clip's ``ln_post``.
    """

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.config = cfg
        self.embeddings = CLIPEmbeddings(cfg)
        self.pre_layrnorm = nn.LayerNorm(cfg.width, eps=cfg.layer_norm_eps)  # HF's spelling
        self.encoder = CLIPEncoder(cfg)
        self.post_layernorm = nn.LayerNorm(cfg.width, eps=cfg.layer_norm_eps)
        self.init_weights()
        self.freeze()

    def init_weights(self) -> None:
        """CLIP's random init (OpenAI ``VisionTransformer``; HF ``CLIPPreTrainedModel``):
        attention/MLP input std width^-0.5 * (2L)^-0.5, outputs width^-0.5, fc1 (2w)^-0.5."""
        w, n = self.config.width, self.config.layers
        proj_std, attn_std, fc_std = w**-0.5 * (2 * n) ** -0.5, w**-0.5, (2 * w) ** -0.5
        with torch.no_grad():
            nn.init.normal_(self.embeddings.class_embedding, std=w**-0.5)
            nn.init.normal_(self.embeddings.patch_embedding.weight, std=0.02)
            nn.init.normal_(self.embeddings.position_embedding.weight, std=0.02)
            for layer in self.encoder.layers:
                a, m = layer.self_attn, layer.mlp
                for lin in (a.q_proj, a.k_proj, a.v_proj):
                    nn.init.normal_(lin.weight, std=attn_std)
                nn.init.normal_(a.out_proj.weight, std=proj_std)
                nn.init.normal_(m.fc1.weight, std=fc_std)
                nn.init.normal_(m.fc2.weight, std=proj_std)
                for lin in (a.q_proj, a.k_proj, a.v_proj, a.out_proj, m.fc1, m.fc2):
                    nn.init.zeros_(lin.bias)
            for mod in self.modules():
                if isinstance(mod, nn.LayerNorm):
                    nn.init.ones_(mod.weight)
                    nn.init.zeros_(mod.bias)

    def trainable_modules(self) -> list[nn.Module]:
        k = self.config.trainable_last_layers
        return [*list(self.encoder.layers)[-k:], self.post_layernorm] if k else []

    def freeze(self) -> None:
        """Freeze CLIP except its last ``trainable_last_layers`` layers (KOSMOS-1 §3.2)."""
        for p in self.parameters():
            p.requires_grad_(False)
        for mod in self.trainable_modules():
            for p in mod.parameters():
                p.requires_grad_(True)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """pixels: (N, 3, S, S), uint8 from ``crop_image`` (normalised here, on the device)
        or float already normalised by ``preprocess_image``."""
        if pixels.dtype == torch.uint8:
            pixels = normalize_pixels(pixels)
        pixels = pixels.to(self.embeddings.patch_embedding.weight.dtype)
        layers = list(self.encoder.layers)
        first_trainable = len(layers) - self.config.trainable_last_layers
        # The frozen prefix runs without autograd: no activations kept for it.
        with torch.no_grad():
            x = self.pre_layrnorm(self.embeddings(pixels))  # (N, 1+P, W)
            for layer in layers[:first_trainable]:
                x = layer(x)
        for layer in layers[first_trainable:]:
            x = layer(x)
        return self.post_layernorm(x)  # (N, 1+P, W)


# --------------------------------------------------------------------------- weights


def _read_safetensors(path: str) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` file (8-byte little-endian header size, JSON header, raw data;
    https://github.com/huggingface/safetensors#format) without the safetensors package."""
    dtypes = {
        "F32": torch.float32,
        "F16": torch.float16,
        "BF16": torch.bfloat16,
        "F64": torch.float64,
        "I64": torch.int64,
        "I32": torch.int32,
        "I16": torch.int16,
        "I8": torch.int8,
        "U8": torch.uint8,
        "BOOL": torch.bool,
    }
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = bytearray(f.read())
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = dtypes[info["dtype"]]
        buf = data[begin:end]
        t = torch.frombuffer(buf, dtype=dtype) if buf else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def _load_state(path: str) -> dict[str, torch.Tensor]:
    if path.endswith(".safetensors"):
        return _read_safetensors(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except RuntimeError:
        obj = torch.jit.load(path, map_location="cpu").state_dict()  # OpenAI's JIT archives
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _hf_config(d: dict, activation: str | None, trainable: int) -> VisionConfig:
    d = d.get("vision_config", d)
    return VisionConfig(
        image_size=d.get("image_size", 224),
        patch_size=d.get("patch_size", 14),
        width=d["hidden_size"],
        layers=d["num_hidden_layers"],
        heads=d["num_attention_heads"],
        mlp_dim=d["intermediate_size"],
        activation=activation or d.get("hidden_act", "quick_gelu"),
        layer_norm_eps=d.get("layer_norm_eps", 1e-5),
        trainable_last_layers=trainable,
    )


def _from_open_clip(sd: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict]:
    """open_clip / OpenAI ``visual.*`` keys -> HF ``CLIPVisionModel`` keys, plus shapes."""
    v = {k.removeprefix("visual."): t for k, t in sd.items() if k.startswith("visual.")}
    width, _, patch, _ = v["conv1.weight"].shape
    grid = math.isqrt(v["positional_embedding"].shape[0] - 1)
    layers = 1 + max(int(k.split(".")[2]) for k in v if k.startswith("transformer.resblocks."))
    out = {
        "embeddings.class_embedding": v["class_embedding"],
        "embeddings.patch_embedding.weight": v["conv1.weight"],
        "embeddings.position_embedding.weight": v["positional_embedding"],
        "pre_layrnorm.weight": v["ln_pre.weight"],
        "pre_layrnorm.bias": v["ln_pre.bias"],
        "post_layernorm.weight": v["ln_post.weight"],
        "post_layernorm.bias": v["ln_post.bias"],
    }
    for i in range(layers):
        src, dst = f"transformer.resblocks.{i}.", f"encoder.layers.{i}."
        qw, kw, vw = v[src + "attn.in_proj_weight"].chunk(3)
        qb, kb, vb = v[src + "attn.in_proj_bias"].chunk(3)
        for name, wt, bs in (("q_proj", qw, qb), ("k_proj", kw, kb), ("v_proj", vw, vb)):
            out[f"{dst}self_attn.{name}.weight"], out[f"{dst}self_attn.{name}.bias"] = wt, bs
        pairs = {
            "attn.out_proj": "self_attn.out_proj",
            "ln_1": "layer_norm1",
            "ln_2": "layer_norm2",
            "mlp.c_fc": "mlp.fc1",
            "mlp.c_proj": "mlp.fc2",
        }
        for a, b in pairs.items():
            for p in ("weight", "bias"):
                out[f"{dst}{b}.{p}"] = v[f"{src}{a}.{p}"]
    shapes = {
        "image_size": grid * patch,
        "patch_size": patch,
        "hidden_size": width,
        "num_hidden_layers": layers,
        "num_attention_heads": width // 64,
        "intermediate_size": v["transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
    }
    return out, shapes


def load_clip_vision(
    path: str, *, activation: str | None = None, trainable_last_layers: int = 1
) -> tuple[VisionConfig, dict[str, torch.Tensor]]:
    """Real CLIP weights from ``path``: ``(VisionConfig, state dict for CLIPVisionEncoder)``.

    ``path`` is a Hugging Face ``CLIPVisionModel``/``CLIPModel`` directory (``config.json`` and
    ``model.safetensors`` or ``pytorch_model.bin``) or an open_clip / OpenAI checkpoint file
    (``visual.*`` keys; ViT heads are width/64 and the activation defaults to QuickGELU as in
    OpenAI's models — pass ``activation="gelu"`` for open_clip's LAION-trained ViTs).
    """
    if os.path.isdir(path):
        with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
            hf = json.load(f)
        for name in ("model.safetensors", "pytorch_model.bin"):
            if os.path.exists(os.path.join(path, name)):
                sd = _load_state(os.path.join(path, name))
                break
        else:
            raise FileNotFoundError(f"{path}: no model.safetensors or pytorch_model.bin")
        sd = {
            k.removeprefix("vision_model."): t
            for k, t in sd.items()
            if k.startswith("vision_model.") and not k.endswith("position_ids")
        }
        return _hf_config(hf, activation, trainable_last_layers), sd
    sd, shapes = _from_open_clip(_load_state(path))
    return _hf_config(shapes, activation or "quick_gelu", trainable_last_layers), sd
