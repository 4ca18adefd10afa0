"""The user's own material in a request: fenced blocks, or code written inline after an
instruction ("Check this JSON: {...}"). The validator checks it; the router sees that a
request carries it, and routes on the words around it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Material", "material_in"]


@dataclass(frozen=True, slots=True)
class Material:
    """What the user wrote in: the instruction around it, and the pieces, named by kind."""

    instruction: str
    pieces: tuple[tuple[str, str], ...]  # (name, text), e.g. ("snippet-1.py", "def f(): ...")


def material_in(text: str, *, strict: bool = False) -> Material:
    """The material in ``text``; ``strict`` counts only clear code (beside files already
    sent, prose is only prose)."""
    blocks = list(_FENCE.finditer(text))
    if blocks:
        pieces = []
        for i, block in enumerate(blocks, start=1):
            language, body = block.group(1), block.group(2)
            # An unlabelled block keeps no suffix: its reader decides what it is.
            pieces.append((f"snippet-{i}{_FENCE_KIND.get(language.lower(), '')}", body))
        instruction = _FENCE.sub(" ", text)
        return Material(" ".join(instruction.split()), tuple(pieces))
    embedded = _embedded_code(text, _STRICT if strict else _LOOSE)
    if embedded is None:
        return Material(text, ())
    start, name, code = embedded
    return Material(text[:start].strip(), ((name, code),))


_FENCE = re.compile(r"```([\w+-]*)[ \t]*\n(.*?)```", re.DOTALL)
_FENCE_KIND: dict[str, str] = {
    "python": ".py",
    "py": ".py",
    "sql": ".sql",
    "postgresql": ".sql",
    "json": ".json",
    "yaml": ".yaml",
    "yml": ".yaml",
}

_Patterns = tuple[tuple[str, re.Pattern[str]], ...]
_LOOSE: _Patterns = (
    ("snippet.json", re.compile(r"[{\[].*", re.DOTALL)),
    (
        "snippet.sql",
        re.compile(r"\b(?:CREATE|SELECT|INSERT|UPDATE|DELETE|ALTER|DROP|WITH)\b.*", re.DOTALL),
    ),
    # SQL typed in lower case, as people often do: "select", "update" and "with" are English
    # words too, so only a statement's shape counts, at a line's start or after a colon.
    (
        "snippet.sql",
        re.compile(
            r"(?:^[ \t]*|(?<=: ))(?:select\s+(?:\*|[\w.()*]+(?:\s*,\s*[\w.()*]+)*)\s+from\s+\w"
            r"|insert\s+into\s+\w|update\s+\w+\s+set\s+\w+\s*=|delete\s+from\s+\w"
            r"|create\s+(?:unique\s+)?(?:table|index|view)\s+[\w.]+\s*(?:\(|on\b|as\b)"
            r"|alter\s+table\s+\w|drop\s+table\s+\w|with\s+\w+\s+as\s*\().*",
            re.DOTALL | re.M | re.I,
        ),
    ),
    (
        "snippet.py",
        re.compile(r"(?:^[ \t]*|(?<=: ))(?:def|class|import|from|async def)\s.*", re.DOTALL | re.M),
    ),
    # Two or more lines of "key: value" or "- item": YAML written in after its instruction.
    (
        "snippet.yaml",
        re.compile(
            r"(?:^[ \t]*|(?<=[:?] ))[A-Za-z_][\w.-]*:(?:[ \t][^\n]*)?\n[ \t]*(?:[\w.-]+:|-[ \t]).*",
            re.DOTALL | re.M,
        ),
    ),
)
_STRICT: _Patterns = (
    ("snippet.json", re.compile(r"(?:\{\s*[\"}]|\[\s*[\"\[{\d\]-]).*", re.DOTALL)),
    (
        "snippet.sql",
        re.compile(
            r"\b(?:CREATE\s+(?:TABLE|(?:UNIQUE\s+)?INDEX|VIEW)|SELECT\s.+?\sFROM|INSERT\s+INTO"
            r"|UPDATE\s+\w+\s+SET|DELETE\s+FROM|ALTER\s+TABLE|DROP\s+TABLE)\b.*",
            re.DOTALL | re.I,
        ),
    ),
    (
        "snippet.py",
        re.compile(
            r"(?:^[ \t]*|(?<=: ))(?:(?:async\s+)?def\s+\w+\s*\(|class\s+\w+\s*[:(]|import\s+\w"
            r"|from\s+[\w.]+\s+import\s).*",
            re.DOTALL | re.M,
        ),
    ),
)


def _embedded_code(text: str, patterns: _Patterns) -> tuple[int, str, str] | None:
    """Where code written inline after an instruction starts, its name, and the code."""
    found = [
        (m.start(), name, m.group(0)) for name, pattern in patterns if (m := pattern.search(text))
    ]
    if not found:
        return None
    start, name, code = min(found)
    return start, name, code.strip()
