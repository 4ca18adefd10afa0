"""When two requests ask for the same answer: normalised text and the key-term guard.

An embedding alone cannot tell a paraphrase from a near miss: "add an index for user email"
and "add a unique constraint on user email" are as close as most paraphrases, and
"single-tenant" and "multi-tenant" schemas closer still (measured on the calibration set,
``tests/data/cache_pairs.json``). So a semantic hit needs two things: the embeddings within
the calibrated similarity, and the same *key terms*, the words that carry the intent once
filler, request verbs and known synonyms are set aside (Snowball stems). Paraphrases
reword around their key terms; near misses change one. Numbers are key terms verbatim.
The guard errs on the side of a miss: any key term that differs, however close in meaning,
makes the answer be computed afresh.
"""

from __future__ import annotations

import hashlib
import re

import snowballstemmer

_WORD = re.compile(r"[a-z0-9]+(?:[._][a-z0-9]+)*")
_STEMMER = snowballstemmer.stemmer("english")
# Filler and request words: they shape the sentence, not the answer.
_NEUTRAL = frozenset(
    """a an the of for to with and or in on at by from that this these those is are be should
    would could can do does did what how which my our your me i we us it its have has please
    help need want some any as into about using use via also just then there when after s
    design creat write implement build make develop give show tell set up out code program
    script data model servic system platform layer handl collect architect architectur
    structur you follow""".split()  # noqa: SIM905 (a word list reads better as text)
)
# Stems that name the same thing in this domain, mapped to one term ("" drops the word).
_SYNONYMS = {
    "tabl": "schema",
    "databas": "schema",
    "db": "schema",
    "applic": "app",
    "authent": "auth",
    "e": "",  # the "e" of "e-commerce"
    "commerc": "ecommerc",
    "check": "valid",
    "error": "",
    "bookstor": "book store",
    "sms": "text messag",
    "reserv": "book",
    "sign": "signup",
    "pytest": "test",
    "unit": "",
    "async": "asynchron",
    "secur": "secur",
    "config": "configur",
    "lms": "learn manag",
    "friendship": "friend",
    "pipelin": "",
    "function": "",
    "shopping": "shop",
    "process": "",
    "user": "user",
}


def normalise(text: str) -> str:
    """Lower case, single spaces, no trailing punctuation: the exact cache's key text."""
    return " ".join(text.lower().split()).rstrip(" .!?")


def key_terms(text: str) -> tuple[str, ...]:
    """The stems that carry a request's intent, synonyms folded, in order of first use."""
    terms: dict[str, None] = {}
    for word in _WORD.findall(text.lower().replace("-", " ").replace("'", " ")):
        stem = word if any(ch.isdigit() for ch in word) else _STEMMER.stemWord(word)
        if word in _NEUTRAL or stem in _NEUTRAL:
            continue
        terms.update(dict.fromkeys(_SYNONYMS.get(stem, stem).split()))
    return tuple(terms)


def same_intent(a: str, b: str) -> bool:
    """Whether two requests name the same key terms in the same order.

    Order matters: "merge two sorted lists" and "sort two merged lists" name the same
    terms and sit at a cosine of 0.95. A reworded paraphrase that reorders its terms
    ("a Python class for a cart" / "a cart class in Python") is a miss: a cost, not an error.
    """
    return key_terms(a) == key_terms(b)


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
