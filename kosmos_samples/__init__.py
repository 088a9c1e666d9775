"""Sample data and test servers: the generated crawl (WARC with planted cases and a
manifest), the caption table and text corpus, procedural photos and the loopback image
server. Used by the demo, the tests and the benches; the pipeline never imports it."""
