"""Reading the code a request quotes: signatures the user wrote and input/output examples.

Every piece is checked by Python's own parser: a signature is whatever ``def NAME(ARGS)``
accepts, an example's arguments and expected value are whatever parses as an expression
(and, for the expected value, as a literal), so no phrasing table decides what counts.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Example",
    "QuotedSignature",
    "find_examples",
    "find_signatures",
    "literal_type",
    "without_code",
]

Comparison = Literal["==", "is"]

_CALL_START = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
# What joins an input to its output in prose: "==", "->", "returns", "should give", "is".
_ARROW = re.compile(
    r"\s*(==|->|=>|→|\bshould\s+(?:return|be|give|yield)\b|\breturns?\b|\bgives?\b"
    r"|\byields?\b|\bbecomes?\b|\bis\b|\bequals?\b|:)\s*",
    re.IGNORECASE,
)
_LITERAL_START = re.compile(r"""['"\[({\-\d]|True\b|False\b|None\b""")
_NOT_NAMES = frozenset({"e", "g", "i", "if", "print", "assert", "return", "is", "and", "or"})


@dataclass(frozen=True, slots=True)
class Example:
    """One input/output pair: ``NAME(arguments) <comparison> expected`` (Python source)."""

    arguments: str
    expected: str
    comparison: Comparison = "=="
    called_as: str | None = None  # the name the user called, when they wrote a call

    def assertion(self, name: str) -> str:
        call = f"{name}({self.arguments})"
        if self.comparison == "is":
            return f"assert {call} is {self.expected}"
        if isinstance(_literal(self.expected), float):
            return f"assert {call} == pytest.approx({self.expected})"
        return f"assert {call} == {self.expected}"


@dataclass(frozen=True, slots=True)
class QuotedSignature:
    """A ``name(params) -> returns`` the user wrote, checked by the parser."""

    name: str
    parameters: str
    returns: str | None
    start: int


def find_signatures(text: str) -> list[QuotedSignature]:
    """Every ``name(params)`` in ``text`` whose parameters parse as a ``def``'s."""
    found = []
    for match in _CALL_START.finditer(text):
        name = match.group(1)
        inner, end = _balanced(text, match.end() - 1)
        if inner is None or name in _NOT_NAMES or name == "def":
            continue
        returns = _return_annotation(text[end:])
        header = f"def {name}({inner})" + (f" -> {returns}" if returns else "")
        tight = match.group(0).endswith(f"{name}(")  # 'slugify(text)', not 'start (asc)'
        if _parses(header + ": pass") and (
            _is_signature(inner, returns) or (tight and _is_bare_names(text, inner, end))
        ):
            found.append(QuotedSignature(name, inner.strip(), returns, match.start()))
    return found


def _is_bare_names(text: str, inner: str, end: int) -> bool:
    """``chunked(items, size)``: plain parameter names, and no expected value after it
    (``f(x) == 3`` would be an example)."""
    call = ast.parse(f"f({inner})", mode="eval").body
    assert isinstance(call, ast.Call)
    names = all(isinstance(a, ast.Name) for a in call.args) and not call.keywords
    return names and _expected_after(text, end) is None


def find_examples(text: str) -> list[Example]:
    """Input/output pairs: ``f("a b") == "a-b"``, ``f(3) returns 9``, ``'A B' -> 'a-b'``."""
    examples: list[Example] = []
    covered: list[tuple[int, int]] = []
    for match in _CALL_START.finditer(text):
        inner, end = _balanced(text, match.end() - 1)
        if inner is None or match.group(1) in _NOT_NAMES or not _is_arguments(inner):
            continue
        pair = _expected_after(text, end)
        if pair is not None:
            comparison, expected, stop = pair
            examples.append(Example(inner.strip(), expected, comparison, match.group(1)))
            covered.append((match.start(), stop))
    examples.extend(_bare_pairs(text, covered))
    return _unique(examples)


_CODE_SPANS = (
    r"`[^`]*`",
    r"\b[A-Za-z_]\w*\([^()]*\)(\s*->\s*[\w\[\], ]+)?",  # 'sorts (ascending)' is prose
    r"""'[^']*'|"[^"]*\"""",
    r"(?:[\w.-]+/)*[\w-]+\.py\b",
    r"==|->|=>|→",
)


def without_code(text: str) -> str:
    """The request with quoted code (calls, literals, paths) blanked out, for spaCy.

    Each span becomes as many spaces, so offsets still point into the original text."""
    for pattern in _CODE_SPANS:
        text = re.sub(pattern, lambda m: " " * len(m.group(0)), text)
    return text


def literal_type(source: str) -> str | None:
    """The annotation for a literal's type ('str', 'int', 'list[int]'...), None if unknown."""
    value = _literal(source)
    if value is _MISSING or value is None:
        return None
    if isinstance(value, list | tuple | set) and value:
        inner = {type(v).__name__ for v in value}
        kind = type(value).__name__
        return f"{kind}[{inner.pop()}]" if len(inner) == 1 and kind != "tuple" else kind
    return type(value).__name__


_MISSING = object()


def _literal(source: str) -> object:
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _MISSING


def _balanced(text: str, open_at: int) -> tuple[str | None, int]:
    """The text inside the parenthesis opening at ``open_at`` and the index after it."""
    depth, quote = 0, ""
    for index in range(open_at, len(text)):
        char = text[index]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : index], index + 1
    return None, len(text)


def _return_annotation(rest: str) -> str | None:
    match = re.match(r"\s*->\s*([A-Za-z_][\w.]*(?:\[[\w\[\], .|]*\])?(?:\s*\|\s*\w+)?)", rest)
    return match.group(1).strip() if match else None


def _parses(source: str, mode: Literal["exec", "eval"] = "exec") -> bool:
    try:
        ast.parse(source, mode=mode)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def _is_signature(inner: str, returns: str | None) -> bool:
    """Parameters, not a call: annotated, or plain names with a return annotation or none
    given at all (``f()``) only when typed some other way."""
    if not inner.strip():
        return returns is not None
    return ":" in inner or returns is not None


def _is_arguments(inner: str) -> bool:
    return _parses(f"f({inner})", "eval")


def _expected_after(text: str, end: int) -> tuple[Comparison, str, int] | None:
    arrow = _ARROW.match(text, end)
    if arrow is None:
        return None
    comparison: Comparison = "is" if arrow.group(1).lower() == "is" else "=="
    found = _literal_at(text, arrow.end())
    if found is None:
        return None
    expected, stop = found
    if comparison == "is" and expected not in {"True", "False", "None"}:
        comparison = "=="
    return comparison, expected, stop


def _literal_at(text: str, start: int) -> tuple[str, int] | None:
    """The longest Python literal starting at ``start`` (and where it ends)."""
    word = re.compile(r"(true|false|none)\b", re.IGNORECASE).match(text, start)
    if word is not None:  # prose writes "is true"; Python spells it True
        return word.group(1).capitalize(), word.end()
    if not _LITERAL_START.match(text, start):
        return None
    for stop in range(min(len(text), start + 400), start, -1):
        source = text[start:stop].strip()
        if source and _literal(source) is not _MISSING and not source.endswith((",", ".")):
            return source, stop
    return None


def _bare_pairs(text: str, covered: list[tuple[int, int]]) -> list[Example]:
    """``'Hello World' -> 'hello-world'``: a literal, an arrow, a literal, outside calls."""
    pairs = []
    pattern = re.compile(r"""('[^']*'|"[^"]*"|-?\d+(?:\.\d+)?)\s*(?:->|=>|→|\bbecomes\b)""")
    for match in pattern.finditer(text):
        if any(start <= match.start() < stop for start, stop in covered):
            continue
        after = match.end()
        found = _literal_at(text, after + len(text[after:]) - len(text[after:].lstrip()))
        if found is not None:
            pairs.append(Example(match.group(1), found[0]))
    return pairs


def _unique(examples: list[Example]) -> list[Example]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for example in examples:
        key = (example.arguments, example.expected)
        if key not in seen:
            seen.add(key)
            kept.append(example)
    return kept
