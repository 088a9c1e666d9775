"""kosmos_model: the KOSMOS-1 trainer (Huang et al., 2023, "Language Is Not All You Need").

A decoder-only Magneto Transformer (Wang et al., 2022, "Foundation Transformers") with xPos
relative positions (Sun et al., 2022, "A Length-Extrapolatable Transformer"), a CLIP ViT-L/14
image encoder and a 64-query attention-pooling resampler, trained on the shards kosmos-data
writes (read only through :mod:`kosmos_data.shards`).

torch is an optional dependency (the ``model`` extra); ``kosmos_data`` never imports this
package, and this package never imports ``apache_beam``.
"""

from kosmos_model.config import CONFIGS, ModelConfig, VisionConfig, get_config

__all__ = ["CONFIGS", "ModelConfig", "VisionConfig", "get_config"]
