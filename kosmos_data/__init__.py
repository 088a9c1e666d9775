"""kosmos-data: Common Crawl WARCs to a KOSMOS-1-style multimodal corpus.

The core package never imports ``apache_beam``; Beam wiring lives in ``kosmos_data.beam``.
"""

__version__ = "0.1.0"
