"""When two requests ask for the same answer: normalised text, pasted material, key terms.

An embedding alone cannot tell a paraphrase from a near miss: "add an index for user email"
and "add a unique constraint on user email" are as close as most paraphrases, and
"single-tenant" and "multi-tenant" schemas closer still (measured on the calibration set,
``bench/cache_cases``). So a semantic hit needs the embeddings within the calibrated
similarity and two more things:

- the same pasted material (SQL, JSON, YAML, code), character for character but for
  spacing: one quote or comma decides whether a document is valid;
- the same *key terms* in the words around it: the stems that carry the intent once
  filler, request verbs, the default language and known synonyms are set aside (the kind
  of answer, "architecture", "schema" or "code", may be named on one side only: the agent
  the request is routed to decides it, and answers are cached per agent). They are
  compared as a set, so "by category and price" is "by price and category"; numbers are
  terms verbatim ("three" is "3"); the destination of a conversion ("to Go", "into JSON")
  and an operation used as an attribute ("sorted lists") are marked, so "merge two sorted
  lists" is not "sort two merged lists" and "Celsius to Fahrenheit" not the reverse.

The guard errs on the side of a miss: any key term that differs, however close in meaning,
makes the answer be computed afresh.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import snowballstemmer

from memory.cache.vocabulary import (
    DESTINATIONS,
    EXTENSIONS,
    KINDS,
    NEUTRAL,
    NUMBER_WORDS,
    OPERATIONS,
    PHRASES,
    SYNONYMS,
)

__all__ = [
    "TermComparison",
    "compare",
    "digest",
    "key_terms",
    "normalise",
    "same_intent",
    "split_material",
]

_WORD = re.compile(r"[a-z0-9]+(?:[._+#][a-z0-9]+)*[+#]*")
_STEMMER = snowballstemmer.stemmer("english")
# Where pasted material begins: a fence, a document, a statement, a definition.
_MATERIAL = re.compile(
    r"```|[{\[=<>;`\"]|[\w.]+\(|(?<!\w)'|(?:^|\n)\s*(?:def|class|import|from|async def)\s"
)
# An SQL keyword in capitals begins a statement, unless the request is all in capitals.
_SQL_WORD = re.compile(
    r"\b(?:SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|WITH|EXPLAIN|WHERE|FROM|JOIN"
    r"|ORDER BY|GROUP BY)\s"
)
_CODE_MARK = re.compile(r"[{}\[\]()=;<>\"'`\n]")
_DIRECTION = frozenset({"to", "into"})
_FORMAT = re.compile(r"\b[A-Z0-9]+(?:-[A-Z0-9]+){2,}\b")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_SCALED = re.compile(r"\b(\d+(?:\.\d+)?)\s*(k|m|b|thousand|million|billion)\b")
_SCALES = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "b": 1e9, "billion": 1e9}
# "Go" the language, written as a name inside a sentence (lower-case "go" is the verb).
_GO = re.compile(r"(?<=[a-z,;:] )Go\b")
# A plural in an enumeration ("users, posts, comments and likes") names an entity even
# where the word is otherwise filler ("like", "file", "page"): each listed thing is a term.
_LISTED = re.compile(r"(?<=, )[a-z]+s\b|(?<=\band )[a-z]+s\b|\b[a-z]+s(?=,)")


def normalise(text: str) -> str:
    """The exact cache's key text: the words in lower case, single spaces, no trailing
    punctuation; pasted material as ``split_material`` lays it out, since its case and
    indentation decide what a document says (a YAML list indented once more is not valid)."""
    words, material = split_material(text)
    key = " ".join(words.lower().split())
    return f"{key}\n{material}" if material else key.rstrip(" .!?")


def split_material(text: str) -> tuple[str, str]:
    """(the words of the request, the material pasted into it, spacing collapsed)."""
    starts = [m.start() for m in _MATERIAL.finditer(text)][:1]
    keyword = _SQL_WORD.search(text)
    if keyword is not None and _has_lower_case(text[: keyword.start()]):
        starts.append(keyword.start())
    colon = text.find(":")
    if colon >= 0 and _CODE_MARK.search(text[colon + 1 :]):
        starts.append(colon + 1)
    if not starts:
        return text, ""
    start = min(starts)
    return text[:start], _layout(text[start:])


def _has_lower_case(words: str) -> bool:
    """Whether ``words`` hold a lower-case letter, or no letter at all."""
    return any(c.islower() for c in words) or not any(c.isalpha() for c in words)


def _layout(material: str) -> str:
    """Material with spacing inside lines collapsed and blank lines dropped; indentation,
    which YAML and Python read, is kept."""
    lines = []
    for line in material.expandtabs(4).splitlines():
        if line.strip():
            indent = len(line) - len(line.lstrip())
            lines.append(" " * indent + " ".join(line.split()))
    # A question mark or full stop after the material ends the sentence, not the material.
    return "\n".join(lines).strip().rstrip("?!.").rstrip()


def key_terms(text: str) -> frozenset[str]:
    """The terms that carry a request's intent, synonyms folded, material left out."""
    return _prose_terms(split_material(text)[0])


def _prose_terms(words: str) -> frozenset[str]:
    # A format such as YYYY-MM-DD is one term, its parts in order; 10,000 is 10000.
    words = _FORMAT.sub(lambda m: m.group(0).replace("-", "_"), _THOUSANDS.sub("", words))
    lowered = _SCALED.sub(_scaled, _GO.sub("golang", words).lower()).replace("'", " ")
    for phrase, replacement in PHRASES:
        lowered = lowered.replace(phrase, replacement)
    listed = frozenset(_LISTED.findall(lowered))
    tokens = _WORD.findall(lowered.replace("-", " ").replace("/", " "))
    terms: set[str] = set()
    for n, word in enumerate(tokens):
        for term in _terms(word, listed=word in listed):
            if n > 0 and tokens[n - 1] in _DIRECTION and _is_destination(tokens, n, term):
                terms.add(f"to:{term}")
            elif term in OPERATIONS and word.endswith(("ed", "ing")) and _attribute(tokens, n):
                terms.add(f"{term}:ed")
            elif term not in NEUTRAL or word in listed:
                terms.add(term)
    return frozenset(terms)


def _scaled(match: re.Match[str]) -> str:
    return str(round(float(match.group(1)) * _SCALES[match.group(2)]))


def _terms(word: str, *, listed: bool = False) -> list[str]:
    stem, dot, extension = word.rpartition(".")
    if dot and stem and extension in EXTENSIONS and not any(ch.isdigit() for ch in word):
        return [*_terms(stem.rsplit(".", 1)[-1]), *_terms(extension)]
    if word in NUMBER_WORDS:
        return [NUMBER_WORDS[word]]
    if any(ch.isdigit() for ch in word):
        return [SYNONYMS.get(word, word)]
    stem = _STEMMER.stemWord(word)
    if (word in NEUTRAL or stem in NEUTRAL) and not listed:
        return [stem] if stem in DESTINATIONS else []
    return [t for t in SYNONYMS.get(stem, stem).split() if t]


def _is_destination(tokens: list[str], n: int, term: str) -> bool:
    """Whether "to"/"into" before ``tokens[n]`` names where something goes ("Celsius to
    Fahrenheit", "to Go") rather than an infinitive ("a function to validate")."""
    if term in DESTINATIONS:
        return True
    before = tokens[n - 2] if n >= 2 else ""
    stem = _STEMMER.stemWord(before)
    return bool(before) and before not in NEUTRAL and stem not in NEUTRAL and stem not in KINDS


def _attribute(tokens: list[str], n: int) -> bool:
    """Whether an operation word is used of a thing ("sorted lists", "merged lists")."""
    return n + 1 < len(tokens) and tokens[n + 1] not in NEUTRAL


def same_intent(a: str, b: str) -> bool:
    """Whether two requests paste the same material and name the same key terms."""
    return compare(a, b).same


@dataclass(frozen=True, slots=True)
class TermComparison:
    same: bool
    only_in_first: tuple[str, ...]
    only_in_second: tuple[str, ...]
    same_material: bool


def compare(a: str, b: str) -> TermComparison:
    """Whether two requests ask for the same thing, and the key terms they differ in."""
    (words_a, material_a), (words_b, material_b) = split_material(a), split_material(b)
    first, second = _prose_terms(words_a), _prose_terms(words_b)
    kinds_first, kinds_second = first & KINDS, second & KINDS
    same_kind = kinds_first == kinds_second or not kinds_first or not kinds_second
    has_content = bool(first) or bool(material_a)
    same_material = material_a == material_b
    return TermComparison(
        same=same_material and first - KINDS == second - KINDS and same_kind and has_content,
        only_in_first=tuple(sorted(first - second)),
        only_in_second=tuple(sorted(second - first)),
        same_material=same_material,
    )


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
