"""Document filters: language identification and text quality.

Every filter is a pure callable ``(Document) -> Verdict`` (None keeps, else a stable
snake_case reason) that may annotate ``doc.meta``; each stage has one frozen config dataclass
beside its logic. No Apache Beam imports here: the Beam stages wrap these callables.
"""

from kosmos_data.filters.langid import LangIdConfig, LanguageIdentifier, default_model_path
from kosmos_data.filters.quality import (
    QualityConfig,
    QualityFilter,
    check_document,
    clean_segments,
)

__all__ = [
    "LangIdConfig",
    "LanguageIdentifier",
    "QualityConfig",
    "QualityFilter",
    "check_document",
    "clean_segments",
    "default_model_path",
]
