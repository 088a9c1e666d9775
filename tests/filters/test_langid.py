"""Language ID: labels on short texts, threshold behaviour, reasons, pickling before setup."""

from __future__ import annotations

import pickle

import pytest

from kosmos_data.filters.langid import LangIdConfig, LanguageIdentifier, default_model_path
from kosmos_data.records import ImageRef, Segment
from kosmos_samples.texts import CLEAN_ARTICLE, make_doc

GERMAN = (
    "Der alte botanische Garten am Ostufer des Flusses wurde nach einer vierjährigen "
    "Restaurierung wieder für Besucher geöffnet. Die Gewächshäuser hatten ihre Dächer verloren."
)
FRENCH = (
    "L'ancien jardin botanique sur la rive est du fleuve a rouvert ses portes après une "
    "restauration qui a duré presque quatre ans. Les serres avaient perdu leurs toits."
)
JAPANESE = "川の東側にある古い植物園は、約四年にわたる修復工事を終えて先週再開しました。"


@pytest.fixture(scope="module")
def lid() -> LanguageIdentifier:
    ident = LanguageIdentifier()
    ident.setup()
    return ident


@pytest.mark.parametrize(
    ("text", "lang"),
    [(CLEAN_ARTICLE[0], "en"), (GERMAN, "de"), (FRENCH, "fr"), (JAPANESE, "ja")],
)
def test_identify_short_texts(lid: LanguageIdentifier, text: str, lang: str) -> None:
    got, score = lid.identify(text)
    assert got == lang
    assert 0.65 <= score <= 1.0


def test_newlines_are_accepted(lid: LanguageIdentifier) -> None:
    # fastText's predict raises on "\n"; the identifier must flatten the text first.
    got, _ = lid.identify("\n\n".join(CLEAN_ARTICLE[:2]))
    assert got == "en"


def test_keeps_english_and_annotates(lid: LanguageIdentifier) -> None:
    doc = make_doc(images=1)
    assert lid(doc) is None
    assert doc.meta["language"] == "en"
    assert doc.meta["language_score"] >= 0.9


def test_wrong_language(lid: LanguageIdentifier) -> None:
    doc = make_doc(texts=[GERMAN])
    assert lid(doc) == "wrong_language"
    assert doc.meta["language"] == "de"


def test_other_languages_can_be_wanted() -> None:
    ident = LanguageIdentifier(LangIdConfig(languages=("de", "fr")))
    assert ident(make_doc(texts=[GERMAN])) is None
    assert ident(make_doc(texts=[FRENCH])) is None
    assert ident(make_doc()) == "wrong_language"


def test_threshold_behaviour(lid: LanguageIdentifier) -> None:
    text = "Home | About | Contact"  # navigation crumbs: English, but a weak score
    lang, score = lid.identify(text)
    assert lang == "en" and score < 0.65
    assert lid(make_doc(texts=[text])) == "low_language_score"
    lenient = LanguageIdentifier(LangIdConfig(threshold=score - 0.01))
    assert lenient(make_doc(texts=[text])) is None
    strict = LanguageIdentifier(LangIdConfig(threshold=1.0))
    assert strict(make_doc()) == "low_language_score"


def test_no_text(lid: LanguageIdentifier) -> None:
    doc = make_doc([Segment(image=ImageRef(url="https://example.org/a.jpg")), Segment(text=" \n")])
    assert lid(doc) == "no_text"
    assert "language" not in doc.meta


def test_max_chars_truncates() -> None:
    # German text after a long English prefix is never seen with a small max_chars.
    text = " ".join(CLEAN_ARTICLE) + " " + GERMAN * 20
    short = LanguageIdentifier(LangIdConfig(max_chars=500))
    assert short.identify(text)[0] == "en"
    assert LanguageIdentifier(LangIdConfig(max_chars=100_000)).identify(text)[0] == "de"


def test_picklable_before_and_after_setup() -> None:
    ident = LanguageIdentifier(LangIdConfig(threshold=0.7))
    clone = pickle.loads(pickle.dumps(ident))  # before setup: what Beam does with DoFns
    assert clone._model is None and clone.config.threshold == 0.7
    assert clone(make_doc()) is None  # loads lazily on first call
    again = pickle.loads(pickle.dumps(clone))  # after setup: the model is dropped, not pickled
    assert again._model is None
    assert again.identify(GERMAN)[0] == "de"


def test_missing_model_file_is_a_clear_error(tmp_path) -> None:
    ident = LanguageIdentifier(LangIdConfig(model_path=str(tmp_path / "nope.ftz")))
    with pytest.raises(FileNotFoundError, match="kosmos_data/assets"):
        ident.setup()


def test_default_model_path_exists() -> None:
    assert default_model_path().endswith("lid.176.ftz")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"threshold": 1.5}, "threshold"),
        ({"languages": "en"}, "languages"),
        ({"languages": ()}, "languages"),
        ({"max_chars": 0}, "max_chars"),
    ],
)
def test_config_validation_names_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"LangIdConfig.{field}"):
        LangIdConfig(**kwargs)
