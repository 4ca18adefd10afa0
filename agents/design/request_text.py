"""A request's text made readable before it is parsed: chat words and typos read as what
they mean, the kind of business it names, and relations stated by their cardinality
('authors and books (many-to-many)') taken out of the sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agents.design.vocabulary import ARTIFACT_WORDS, DOMAIN_PHRASES, SPELLING

__all__ = [
    "Cardinality",
    "artifact_typo",
    "asks_for_explanation",
    "domain_of",
    "domain_words",
    "normalize",
    "stated_cardinalities",
]


@dataclass(frozen=True, slots=True)
class Cardinality:
    """'X and Y (many-to-many)': ``many`` both ways, else one ``left`` has many ``right``."""

    left: str
    right: str
    many: bool


_CHAT = re.compile(r"(?<![\w/])(" + "|".join(map(re.escape, SPELLING)) + r")(?![\w/])", re.I)
_MANY = r"(?:many[\s-]*to[\s-]*many|m\s*:\s*n|n\s*:\s*m|m2m)"
_ONE = r"(?:one[\s-]*to[\s-]*many|1\s*:\s*n|1\s*:\s*many|1-n)"
_PAIR = r"(?P<left>[a-z_]+)\s+(?:and|to|&|<->|-)\s+(?P<right>[a-z_]+)"
_STATED = (
    re.compile(rf"{_PAIR}\s*[(:,]?\s*(?:are\s+|is\s+)?(?P<kind>{_MANY}|{_ONE})\s*\)?", re.I),
    re.compile(
        rf"\(?(?P<kind>{_MANY}|{_ONE})\s*\)?\s*(?:relation(?:ship)?\s+)?between\s+"
        rf"(?:the\s+)?{_PAIR}",
        re.I,
    ),
)


def normalize(request: str) -> str:
    """Chat words spelled out ('u' -> 'you'), 'w/' -> 'with', '+' -> 'and', dashes as
    colons; stated cardinalities removed (``stated_cardinalities`` reads them)."""
    text = _CHAT.sub(lambda m: SPELLING[m.group(1).lower()], request)
    text = re.sub(r"\bw/\s*", "with ", text)
    text = re.sub(r"\s[+&]\s", " and ", text)
    text = re.sub(r"\be-?commerce\b", "ecommerce", text, flags=re.IGNORECASE)
    for pattern in _STATED:
        text = pattern.sub(lambda m: f"{m.group('left')} and {m.group('right')}", text)
    return re.sub(r"\s*[-\u2013\u2014]\s+", ": ", text)


def stated_cardinalities(request: str) -> tuple[Cardinality, ...]:
    """'authors and books (many-to-many)', 'one-to-many between teams and players'."""
    text = _CHAT.sub(lambda m: SPELLING[m.group(1).lower()], request)
    found = []
    for pattern in _STATED:
        for match in pattern.finditer(text):
            many = re.fullmatch(_MANY, match.group("kind"), re.I) is not None
            found.append(Cardinality(match.group("left"), match.group("right"), many))
    return tuple(found)


def domain_of(request: str) -> str | None:
    """The kind of business a request names ('a ride-sharing app' -> 'ride_sharing'): the
    longest, then first, phrase of ``DOMAIN_PHRASES`` it holds."""
    text = " " + re.sub(r"[^a-z]+", " ", request.lower()) + " "
    found = [(len(p), -text.find(f" {p} "), p) for p in DOMAIN_PHRASES if f" {p} " in text]
    found += [(len(p), -text.find(f" {p}s "), p) for p in DOMAIN_PHRASES if f" {p}s " in text]
    return DOMAIN_PHRASES[max(found)[2]] if found else None


def domain_words(request: str) -> frozenset[str]:
    """The words of the domain phrase a request holds ('ride', 'sharing')."""
    text = " " + re.sub(r"[^a-z]+", " ", request.lower()) + " "
    return frozenset(w for p in DOMAIN_PHRASES if f" {p} " in text for w in p.split())


def artifact_typo(word: str) -> bool:
    """A misspelt artifact word ('databse', 'tabels', 'shcema'): one letter missing, extra
    or swapped with its neighbour, never the first or the last one."""
    word = word.lower()
    if len(word) < 5 or word in ARTIFACT_WORDS:
        return False
    return any(_one_slip(word, target) for target in ARTIFACT_WORDS if len(target) >= 5)


def _one_slip(word: str, target: str) -> bool:
    if word[0] != target[0] or word[-1] != target[-1]:
        return False
    if len(word) == len(target):
        diff = [i for i, (a, b) in enumerate(zip(word, target, strict=True)) if a != b]
        return len(diff) == 2 and diff[1] == diff[0] + 1 and word[diff[0]] == target[diff[1]]
    shorter, longer = sorted((word, target), key=len)
    if len(longer) - len(shorter) != 1:
        return False
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(1, len(longer) - 1))


# A comparison or an explanation asked for ('kafka vs rabbitmq', 'what is an outbox'), and
# the words of a request to make something, which win over it ('design ... vs ...').
_EXPLAIN = re.compile(
    r"\b(?:differences? between|vs\.?|versus|pros and cons|trade-?offs? (?:of|between)|explain"
    r"|what(?:'s| is| are)|whats|when (?:should|to|do) (?:i |we |you )?use|which is better"
    r"|should i use|why (?:is|does|do|would|should))\b",
    re.IGNORECASE,
)
_MAKE = re.compile(
    r"\b(?:design|schema for|tables? for|tables|model (?:the|a|my)|erd|ddl|create table|indexes for"
    r"|index on|write|build|implement|generate|draw|sketch)\b",
    re.IGNORECASE,
)


def asks_for_explanation(request: str) -> bool:
    """Whether a request asks to compare or explain rather than to design something."""
    return bool(_EXPLAIN.search(request)) and not _MAKE.search(request)
