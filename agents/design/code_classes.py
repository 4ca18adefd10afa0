"""Reading a class request: the class's name, its methods (with the signatures the user
wrote) and what its constructor takes.

A class is named after the word "class" ("class LRUCache", "a class called Queue") or
before it ("a Stack class", "an LRU cache class", "a `TokenBucket` class"); its methods
are the calls written after it ("get(key) and put(key, value)") or, when none is written,
the words of a "with push and pop" list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agents.design.code_examples import find_signatures

__all__ = ["ClassRequest", "Method", "find_class", "human_name"]

_NAMED_AFTER = re.compile(r"\bclass\s+(?:called|named)\s+`?([A-Za-z_]\w*)`?", re.IGNORECASE)
_CAMEL_AFTER = re.compile(r"\bclass\s+`?([A-Z]\w*)`?")
_QUOTED_BEFORE = re.compile(r"`([A-Za-z_]\w*)`\s+class\b", re.IGNORECASE)
_WORDS_BEFORE = re.compile(r"((?:[A-Za-z][\w-]*\s+){1,5})class\b(?!\s+(?:called|named)\b)")
_STARTS = frozenset(["a", "an", "the", "my", "this", "one", "new", "write", "implement"])
_QUALIFIERS = frozenset(
    [
        "python",
        "py",
        "simple",
        "small",
        "basic",
        "little",
        "tiny",
        "generic",
        "reusable",
        "typed",
        "thread-safe",
        "immutable",
        "custom",
        "dataclass",
        "helper",
        "utility",
    ]
)
_FOR_THING = re.compile(
    r"\bclass\s+(?:for|representing|modell?ing|that\s+represents|to\s+represent)\s+"
    r"(?:an?\s+|the\s+)?([A-Za-z]+)(?:\s+([a-z]+))?"
)
_NOT_NAME_WORDS = frozenset(["that", "which", "with", "and", "in", "to", "for", "of", "who"])
_METHOD_LIST = re.compile(r"\b(?:with|supporting|supports|having|has)\b|:", re.IGNORECASE)
_NOT_METHODS = frozenset(
    ["and", "or", "methods", "method", "operations", "functions", "plus", "also", "both"]
)
_CONSTRUCTOR = re.compile(
    r"\b(?:an?|the)\s+([a-z_]\w*)\s+(?:given|passed)\s+(?:to|in)\s+the\s+"
    r"(?:constructor|initializer|__init__)"
    r"|\b(?:constructor|initializer|__init__)\s+(?:that\s+)?(?:takes|taking|accepts|with)\s+"
    r"(?:an?\s+|the\s+)?([a-z_]\w*)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Method:
    """One method: its name and the parameters after ``self`` ('' when none given)."""

    name: str
    parameters: str = ""
    given: bool = False  # the user wrote its signature, so ``parameters`` are theirs


@dataclass(frozen=True, slots=True)
class ClassRequest:
    name: str
    methods: tuple[Method, ...]
    init_parameters: str  # the constructor's parameters after ``self``, '' when not said
    rest: str  # the request after the class is named: what it should be, in their words


def find_class(request: str) -> ClassRequest | None:
    """The class ``request`` asks for, or None when it asks for no named class."""
    found = _class_name(request)
    if found is None:
        return None
    name, end = found
    rest = request[end:]
    methods, init = _methods(name, rest)
    constructor = _CONSTRUCTOR.search(rest)
    if not init and constructor is not None:
        init = constructor.group(1) or constructor.group(2) or ""
    return ClassRequest(name, methods, init, rest)


def human_name(name: str) -> str:
    """'LRUCache' -> 'LRU cache', 'TokenBucket' -> 'token bucket'."""
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z]|\b|\d|_)|[A-Z]?[a-z0-9]+", name)
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words) or name


def _class_name(request: str) -> tuple[str, int] | None:
    """The class name and where the request goes on after naming it."""
    for pattern in (_NAMED_AFTER, _CAMEL_AFTER, _QUOTED_BEFORE):
        match = pattern.search(request)
        if match is not None:
            return _camel(match.group(1)), match.end()
    match = _WORDS_BEFORE.search(request)
    if match is None:
        return _thing(request)
    words = match.group(1).split()
    starts = [i for i, w in enumerate(words) if w.lower() in _STARTS]
    words = words[starts[-1] + 1 :] if starts else words[-1:]
    words = [w for w in words if w.lower() not in _QUALIFIERS]
    if not words or not all(re.fullmatch(r"[A-Za-z][\w-]*", w) for w in words):
        return _thing(request)
    return "".join(_camel(w) for w in words), match.end()


def _thing(request: str) -> tuple[str, int] | None:
    """'a class for a bank account' -> BankAccount."""
    match = _FOR_THING.search(request)
    if match is None:
        return None
    words = [w for w in match.groups() if w and w.lower() not in _NOT_NAME_WORDS]
    return "".join(_camel(w) for w in words), match.end()


def _camel(word: str) -> str:
    """A word as part of a class name: 'heap' -> 'Heap', 'LRU' and 'TokenBucket' as is."""
    if any(c.isupper() for c in word):
        return word[0].upper() + word[1:]
    return "".join(part.capitalize() for part in re.split(r"[_-]", word))


def _methods(name: str, rest: str) -> tuple[tuple[Method, ...], str]:
    """The methods written after the class's name, and the constructor's parameters when
    the user wrote ``Name(params)``."""
    signatures = find_signatures(rest)
    init = next((s.parameters for s in signatures if s.name in {name, "__init__"}), "")
    written = tuple(
        Method(s.name, s.parameters, given=True)
        for s in signatures
        if s.name not in {name, "__init__"}
    )
    if written:
        return tuple({m.name: m for m in written}.values())[:10], init
    return _word_methods(rest), init


def _word_methods(rest: str) -> tuple[Method, ...]:
    """'with push and pop', 'with get and put methods', ': add, remove and total'."""
    marker = _METHOD_LIST.search(re.split(r"[.;]", rest)[0])
    if marker is None:
        return ()
    listed = re.split(r"[.;]", rest[marker.end() :])[0]
    names = []
    for phrase in re.split(r",|\band\b|\bor\b", listed):
        words = [w for w in re.findall(r"[A-Za-z_]\w*", phrase) if w.lower() not in _NOT_METHODS]
        if words and words[0].lower() not in _STARTS:  # 'a capacity' names no method
            names.append(words[0])
    return tuple(Method(n) for n in dict.fromkeys(names))[:10]
