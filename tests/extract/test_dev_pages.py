"""Real dev-set pages (../shared/data/extraction-dev) whose boilerplate must go and whose
content must stay. Every ``absent`` string below was in the output of the fast extractor
before the block classifier (commit 50e562e), checked by running that version's
``fast.py`` on these pages; every ``present`` string is in the page's gold text."""

from __future__ import annotations

import pytest

from kosmos_data.extract import ExtractConfig, make_extractor
from kosmos_data.extract.devset import load_dev_set, token_prf

CASES = {
    ("scrapinghub", "2c46804d9db4a85e8f8d31128ce0e11d02f25c7120c2faa5ec0664c604a47717"): (
        # CBS News: "more world" teaser rail under the article
        [
            "Why farmers may want to paint their cows with zebra stripes",
            "Two U.S. troops killed in helicopter crash in Afghanistan",
        ],
        ["Police released dramatic video showing the rescue of a 8-year-old Fort Worth"],
    ),
    ("scrapinghub", "e4c6a3b482403a8f60190ba27248cd52b250b86f5d4a8a10edcf7062c64fc3f5"): (
        # Washington Examiner: related stories and "More Washington Examiner"
        [
            "Carlos Ghosn and the dark side of Japanese justice",
            "What made Joker so popular?",
            "More Washington Examiner",
        ],
        ["With Hong Kong protests exploding to new levels"],
    ),
    ("readability", "bug-1255978"): (
        # The Independent: a 50-slide business gallery and a live-updates promo
        ["Star Wars boosts economy", "Click here to receive live updates on the US election"],
        ["Here are some of the secrets that the receptionist will never tell you"],
    ),
    ("readability", "msn"): (
        # MSN: Taboola "promoted links" and "more for you" teasers
        ["Promoted Links", "My Snoring Solution", "The Motley Fool on MSN"],
        ['"Super Mario Run" is essentially a regular'],
    ),
}


@pytest.fixture(scope="module")
def dev_pages():
    pages = load_dev_set()
    return {(p.source, p.key): p for p in pages}


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda c: f"{c[0]}-{c[1][:12]}")
def test_boilerplate_goes_content_stays(dev_pages, case):
    absent, present = CASES[case]
    dp = dev_pages[case]
    text = make_extractor(ExtractConfig()).extract(dp.page).text
    for s in present:
        assert s in dp.gold, s  # the fixture itself is right
        assert s in text, s
    for s in absent:
        assert s not in text, s
    score = token_prf(text, dp.gold)
    assert score.precision >= 0.8 and score.recall >= 0.9, score


def test_every_dev_page_has_a_confidence_in_unit_range(dev_pages):
    ex = make_extractor(ExtractConfig())
    confs = [ex.extract(p.page).meta["extraction_confidence"] for p in dev_pages.values()]
    assert len(confs) == 311
    assert all(0.0 <= c <= 1.0 for c in confs)
    # it is a real signal, not a constant
    assert min(confs) < 0.8 < max(confs)
