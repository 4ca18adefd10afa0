"""The validator agent: reads the files to check from the request and reports on them.

The checks themselves live in ``agents.checks`` (real parsers, ruff, a schema review and a
secrets scan; nothing is executed); the report is ``validation.json``.
"""

from __future__ import annotations

import json
import re

from agents.checks import (
    DEFAULT_DIALECT,
    FileReport,
    Kind,
    Report,
    avalidate,
    check,
    is_dialect,
    kind_of,
    validate,
)
from agents.kit import WorkOrder
from agents.specialist import SpecialistExecutor, Work

__all__ = ["FileReport", "Report", "ValidatorExecutor", "check", "files_in", "kind_of", "validate"]

_FENCE = re.compile(r"```([\w+-]*)[ \t]*\n(.*?)```", re.DOTALL)
_FENCE_KIND: dict[str, Kind] = {
    "python": "python",
    "py": "python",
    "sql": "sql",
    "postgresql": "sql",
    "json": "json",
    "yaml": "yaml",
    "yml": "yaml",
}
_KIND_SUFFIX: dict[Kind, str] = {
    "python": ".py",
    "sql": ".sql",
    "json": ".json",
    "yaml": ".yaml",
}


def files_in(order: WorkOrder) -> list[tuple[str, str]]:
    """The files to check: the user's own (fenced blocks, or code written inline after an
    instruction) and those the order carries (a caller's files, a team's output); the whole
    text when there is nothing else."""
    sent = [(f.name, f.text) for f in order.files]
    # Beside files to check, prose is only prose: only clear code counts as the user's own.
    own = _written_in(order.request, strict=bool(sent))
    if own or sent:
        return own + sent
    return [("input", order.request)]


def _written_in(text: str, *, strict: bool) -> list[tuple[str, str]]:
    blocks = _FENCE.findall(text)
    if blocks:
        names = []
        for i, (language, body) in enumerate(blocks, start=1):
            kind = _FENCE_KIND.get(language.lower(), kind_of("", body))
            suffix = _KIND_SUFFIX.get(kind, ".txt")
            names.append((f"snippet-{i}{suffix}", body))
        return names
    embedded = _embedded_code(text, _STRICT if strict else _LOOSE)
    return [embedded] if embedded else []


_Patterns = tuple[tuple[str, re.Pattern[str]], ...]
_LOOSE: _Patterns = (
    ("snippet.json", re.compile(r"[{\[].*", re.DOTALL)),
    (
        "snippet.sql",
        re.compile(r"\b(?:CREATE|SELECT|INSERT|UPDATE|DELETE|ALTER|DROP|WITH)\b.*", re.DOTALL),
    ),
    (
        "snippet.py",
        re.compile(r"(?:^[ \t]*|(?<=: ))(?:def|class|import|from|async def)\s.*", re.DOTALL | re.M),
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


def _embedded_code(text: str, patterns: _Patterns) -> tuple[str, str] | None:
    """Code written inline after an instruction ("Check this JSON: {...}")."""
    found = [
        (m.start(), name, m.group(0)) for name, pattern in patterns if (m := pattern.search(text))
    ]
    if not found:
        return None
    _, name, code = min(found)
    return name, code.strip()


def dialect_in(order: WorkOrder) -> str | None:
    """The SQL dialect the order names, the default if it names none, None if unknown."""
    dialect = order.dialect
    if dialect is None or dialect == "":
        return DEFAULT_DIALECT
    if isinstance(dialect, str) and is_dialect(dialect.lower()):
        return dialect.lower()
    return None


def summary(report: Report) -> str:
    """The closing sentence: score, counts, and where the first error is."""
    errors, warnings = report.count("error"), report.count("warning")
    counts = f"Score {report.score}/100: {errors} error(s), {warnings} warning(s)"
    if report.passed:
        return f"{counts} in {len(report.files)} file(s); nothing blocks it."
    first = next(issue for issue in report.issues if issue.severity == "error")
    where = f"{first.file}:{first.line}" if first.line else first.file
    return f"{counts}; first error at {where}: {first.message}."


class ValidatorExecutor(SpecialistExecutor):
    agent_id = "validator"
    title = "The validator"

    async def work(self, work: Work) -> str:
        files = files_in(work.order)
        dialect = dialect_in(work.order)
        if dialect is None:
            dialect = DEFAULT_DIALECT
            await work.say(f"Unknown SQL dialect; reading SQL as {DEFAULT_DIALECT}.")
        await work.say(f"Checking {len(files)} file(s) with real parsers, ruff and a secrets scan.")
        report = await avalidate(files, dialect)
        document = report.to_dict()
        await work.send("validation.json", json.dumps(document, indent=2), "application/json")
        return summary(report)
