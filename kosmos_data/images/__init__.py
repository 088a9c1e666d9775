"""The image stage: fetch, opt-outs, SSRF guard, filters, dedup, decontamination, status.

Beam-free core; ``kosmos_data.beam.images.FetchImages`` wires it into pipelines.

``ImageFetcher`` is imported on first use (PEP 562 ``__getattr__``): the fetcher imports the
safety modules, and they import this package's ``config``, ``phash`` and ``robots``, so an
eager import here made ``import kosmos_data.safety.images`` (or ``.tdmrep``, ``.decisions``)
fail with a circular ImportError when it was the first kosmos_data import of a process.
"""

from kosmos_data.images.config import ImageConfig

__all__ = ["ImageConfig", "ImageFetcher"]


def __getattr__(name: str):
    if name == "ImageFetcher":
        from kosmos_data.images.fetch import ImageFetcher

        return ImageFetcher
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
