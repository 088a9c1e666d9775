"""Beam side of the corpus breakdowns (``kosmos_data.breakdowns``): kept documents ->
accounting events for ``WriteFunnel``.

Domains go through ``Count.PerElement`` and a bounded ``Top`` combine, so ``funnel.json``
holds the top domains and the number of distinct ones, not one entry per host.
"""

from __future__ import annotations

import apache_beam as beam

from kosmos_data.breakdowns import (
    BREAKDOWN_STAGE,
    DISTINCT_DOMAINS,
    DOC_DOMAIN,
    TOP_DOMAINS,
    document_events,
    domain_of,
)


class CorpusBreakdowns(beam.PTransform):
    """PCollection[Document] -> ``((kind, stage, reason), n)`` events (language, images per
    document, top domains, distinct domains)."""

    def expand(self, docs):
        per_doc = docs | "PerDocument" >> beam.FlatMap(document_events)
        domains = (
            docs
            | "Domain" >> beam.Map(lambda d: domain_of(d.provenance.url))
            | "CountDomains" >> beam.combiners.Count.PerElement()
        )
        top = (
            domains
            | "TopDomains" >> beam.combiners.Top.Of(TOP_DOMAINS, key=lambda kv: (kv[1], kv[0]))
            | "TopEvents"
            >> beam.FlatMap(lambda kvs: [((DOC_DOMAIN, BREAKDOWN_STAGE, d), n) for d, n in kvs])
        )
        distinct = (
            domains
            | "CountDistinct" >> beam.combiners.Count.Globally()
            | "DistinctEvent" >> beam.Map(lambda n: ((DISTINCT_DOMAINS, BREAKDOWN_STAGE, ""), n))
        )
        return (per_doc, top, distinct) | "Flatten" >> beam.Flatten()
