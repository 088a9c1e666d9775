"""The image stage: fetch, opt-outs, SSRF guard, filters, dedup, decontamination, status.

Beam-free core; ``kosmos_data.beam.images.FetchImages`` wires it into pipelines.
"""

from kosmos_data.images.config import ImageConfig
from kosmos_data.images.fetch import ImageFetcher

__all__ = ["ImageConfig", "ImageFetcher"]
