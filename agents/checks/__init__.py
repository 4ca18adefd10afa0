"""Checks for generated code: parse it with real parsers, then review it. Nothing is executed.

``validate(files)`` is the whole pass, a pure function the validator agent and the
orchestrator can both call: Python (``ast``, own security smells, ruff), SQL (``sqlglot`` and
a schema review), JSON and YAML (their parsers), and hard-coded secrets in every file.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from agents.checks.data import check_json, check_yaml
from agents.checks.issues import Issue, Severity, sort_key
from agents.checks.python import check_python
from agents.checks.ruff import aruff_issues
from agents.checks.secrets import scan_secrets
from agents.checks.sql import DEFAULT_DIALECT, check_sql, is_dialect

__all__ = [
    "DEFAULT_DIALECT",
    "FileReport",
    "Issue",
    "Kind",
    "Report",
    "Severity",
    "check",
    "is_dialect",
    "kind_of",
    "score",
    "validate",
]

Kind = Literal["python", "sql", "json", "yaml", "text"]

_SUFFIX_KIND: dict[str, Kind] = {
    ".py": "python",
    ".sql": "sql",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
}
_SQL_START = re.compile(r"^\s*(create|select|insert|update|delete|alter|drop|with)\b", re.I)
_PENALTY: dict[Severity, int] = {"error": 25, "warning": 8, "info": 2}


def kind_of(name: str, text: str) -> Kind:
    for suffix, kind in _SUFFIX_KIND.items():
        if name.endswith(suffix):
            return kind
    stripped = text.lstrip()
    if stripped[:1] in "{[":
        return "json"
    if _SQL_START.match(stripped):
        return "sql"
    if re.search(r"^\s*(def|class|import|from)\s", text, re.M):
        return "python"
    return "text"


def score(issues: list[Issue]) -> int:
    """0-100: start at 100, take 25 per error, 8 per warning and 2 per info; never below 0."""
    return max(0, 100 - sum(_PENALTY[issue.severity] for issue in issues))


@dataclass(slots=True)
class FileReport:
    """One file's findings. It is ``valid`` when none of them is an error."""

    name: str
    kind: Kind
    issues: list[Issue] = field(default_factory=list)
    found: dict[str, list[str]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity == "error"]

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "valid": self.valid,
            "errors": [
                {"message": e.message, "line": e.line, "column": e.column} for e in self.errors
            ],
            "found": self.found,
        }


@dataclass(slots=True)
class Report:
    files: list[FileReport]

    @property
    def issues(self) -> list[Issue]:
        return sorted((issue for f in self.files for issue in f.issues), key=sort_key)

    @property
    def passed(self) -> bool:
        """No error anywhere; warnings and infos lower the score but do not fail."""
        return all(f.valid for f in self.files)

    @property
    def score(self) -> int:
        return score(self.issues)

    def count(self, severity: Severity) -> int:
        return sum(1 for issue in self.issues if issue.severity == severity)

    def to_dict(self) -> dict[str, Any]:
        """The ``validation.json`` document. ``valid`` is ``passed``, kept for older readers."""
        return {
            "valid": self.passed,
            "passed": self.passed,
            "score": self.score,
            "checked": len(self.files),
            "invalid": sum(1 for f in self.files if not f.valid),
            "files": [f.to_dict() for f in self.files],
            "issues": [issue.to_dict() for issue in self.issues],
        }


def check(
    name: str, text: str, dialect: str = DEFAULT_DIALECT, ruff: list[Issue] | None = None
) -> FileReport:
    """Every check that applies to one file; secrets are looked for in every kind."""
    kind = kind_of(name, text)
    issues: list[Issue] = []
    found: dict[str, list[str]] = {}
    try:
        if kind == "python":
            issues, found = check_python(name, text, ruff)
        elif kind == "sql":
            issues, found = check_sql(name, text, dialect)
        elif kind == "json":
            issues = check_json(name, text)
        elif kind == "yaml":
            issues = check_yaml(name, text)
        else:
            found = {"note": ["not code; nothing to parse"]}
    except (RecursionError, MemoryError):
        # Absurdly deep nesting overflows the recursive parsers (CPython's own parser reports
        # it as MemoryError); the file is unreadable, the validation goes on.
        issues = [Issue(name, None, None, "error", f"{kind}/syntax", "nested too deeply to parse")]
    secrets = scan_secrets(name, text, kind)
    issues = [_scrub(issue, secrets.values) for issue in [*issues, *secrets.issues]]
    return FileReport(name, kind, sorted(issues, key=sort_key), found)


def validate(
    files: list[tuple[str, str]],
    dialect: str = DEFAULT_DIALECT,
    ruff: Mapping[str, list[Issue]] | None = None,
) -> Report:
    """Check every (name, text) file. Raises ValueError for a dialect sqlglot does not know.

    ``ruff`` holds ruff's findings by file name when the caller ran it (``avalidate``).
    """
    if not is_dialect(dialect):
        raise ValueError(f"unknown SQL dialect: {dialect!r}")
    found = ruff or {}
    return Report([check(name, text, dialect, found.get(name)) for name, text in files])


async def avalidate(files: list[tuple[str, str]], dialect: str = DEFAULT_DIALECT) -> Report:
    """``validate`` for the event loop: ruff runs as asynchronous subprocesses, the rest
    (parsers, a few milliseconds a file) in line.

    Not in a worker thread: a garbage collection there runs finalizers of the server's
    abandoned coroutines on that thread, which deadlocked the SDK's queue at shutdown.
    """
    python = [(n, t) for n, t in files if kind_of(n, t) == "python"]
    found = await asyncio.gather(*(aruff_issues(n, t) for n, t in python))
    return validate(files, dialect, dict(zip([n for n, _ in python], found, strict=True)))


def _scrub(issue: Issue, secrets: set[str]) -> Issue:
    """A message without any secret value (a tool's message may quote the code)."""
    message = issue.message
    for value in secrets:
        message = message.replace(value, "***")
    return issue if message == issue.message else issue.with_message(message)
