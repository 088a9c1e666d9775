"""Hand-written sample texts (written for this project; no external source) and a Document
builder, for the tests and the filter benchmarks."""

from __future__ import annotations

from kosmos_data.records import Document, ImageRef, Provenance, Segment

#: A clean English article in five paragraphs (~390 words), the kind of page we want to keep.
CLEAN_ARTICLE: tuple[str, ...] = (
    "The old botanical garden on the east side of the river reopened to visitors last week "
    "after a restoration that took almost four years. When the city bought the site in 2019, "
    "most of the glasshouses had lost their roofs, and the pond at the centre of the garden "
    "had silted up so badly that it was little more than a marsh.",
    "The restoration team decided early on that they would not simply rebuild what had been "
    "there before. Instead, they studied the original planting plans, which had been kept in "
    "the municipal archive, and compared them with photographs taken by visitors over the "
    "past century. Where the records were clear, the beds were replanted as they had been; "
    "where they were not, the gardeners chose species that can cope with the hotter, drier "
    "summers the region now has.",
    "The largest glasshouse, a Victorian structure of iron and glass, was the most difficult "
    "part of the project. Every pane had to be removed, numbered and checked, and about a "
    "third of the iron frame was replaced with new castings made from the old patterns. The "
    "heating system, which once burned coal, now runs on a heat pump that draws warmth from "
    "the river.",
    "Volunteers played a large part in the work. On weekends, groups of local residents "
    "cleared brambles, repaired paths and helped to propagate thousands of seedlings in a "
    "temporary nursery behind the main gate. Many of them have stayed on as guides, and they "
    "say that the questions children ask are often the hardest to answer.",
    "The garden is open every day except Mondays, and entry is free for residents of the "
    "city. Guided walks start at eleven in the morning and at three in the afternoon. The "
    "curators hope that the garden will become a place where people can learn how plants "
    "adapt to a changing climate, and they plan to publish a short report each year on which "
    "species have thrived and which have struggled with the new conditions.",
)


def make_doc(
    segments: list[Segment] | None = None,
    *,
    url: str = "https://example.org/garden",
    texts: tuple[str, ...] | list[str] | None = None,
    images: int = 0,
) -> Document:
    """A document from explicit segments, or from ``texts`` with ``images`` images after text 1."""
    if segments is None:
        segments = [Segment(text=t) for t in (CLEAN_ARTICLE if texts is None else texts)]
        for i in range(images):
            segments.insert(1 + i, Segment(image=ImageRef(url=f"https://example.org/{i}.jpg")))
    prov = Provenance(
        warc_file="test.warc.gz",
        record_id="<urn:uuid:0>",
        offset=0,
        url=url,
        fetch_date="2023-01-01T00:00:00Z",
    )
    return Document(id=url, provenance=prov, segments=segments, extractor="test")
