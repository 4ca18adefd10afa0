"""The validator: parses code, SQL and JSON with real parsers and reports every problem.

Nothing is executed. Python goes through ``ast``, SQL through ``sqlglot``, JSON through
``json``; the report is ``validation.json``.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import sqlglot
from sqlglot.errors import ParseError, TokenError

from agents.base import SpecialistExecutor, Work

Kind = Literal["python", "sql", "json", "text"]

_FENCE = re.compile(r"```([\w+-]*)[ \t]*\n(.*?)```", re.DOTALL)
_SUFFIX_KIND: dict[str, Kind] = {".py": "python", ".sql": "sql", ".json": "json"}
_FENCE_KIND: dict[str, Kind] = {
    "python": "python",
    "py": "python",
    "sql": "sql",
    "postgresql": "sql",
    "json": "json",
}
_STATEMENTS = (
    sqlglot.exp.Query,
    sqlglot.exp.DML,
    sqlglot.exp.DDL,
    sqlglot.exp.Alter,
    sqlglot.exp.Drop,
    sqlglot.exp.Transaction,
    sqlglot.exp.Commit,
    sqlglot.exp.Rollback,
    sqlglot.exp.Set,
    sqlglot.exp.Comment,
    sqlglot.exp.Grant,
    sqlglot.exp.Revoke,
    sqlglot.exp.Use,
    sqlglot.exp.Command,
)
_SQL_START = re.compile(r"^\s*(create|select|insert|update|delete|alter|drop|with)\b", re.I)


@dataclass(slots=True)
class Problem:
    message: str
    line: int | None = None
    column: int | None = None


@dataclass(slots=True)
class FileReport:
    name: str
    kind: Kind
    valid: bool
    errors: list[Problem] = field(default_factory=list)
    found: dict[str, list[str]] = field(default_factory=dict)


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


def check_python(name: str, text: str) -> FileReport:
    try:
        tree = ast.parse(text, filename=name)
    except SyntaxError as error:
        problem = Problem(error.msg, error.lineno, error.offset)
        return FileReport(name, "python", False, [problem])
    found = {
        "functions": [
            n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        ],
        "classes": [n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)],
    }
    return FileReport(name, "python", True, found=found)


def check_sql(name: str, text: str) -> FileReport:
    try:
        statements = [s for s in sqlglot.parse(text, read="postgres") if s is not None]
    except ParseError as error:
        problems = [
            Problem(str(e.get("description") or "syntax error"), e.get("line"), e.get("col"))
            for e in error.errors
        ] or [Problem(str(error))]
        return FileReport(name, "sql", False, problems)
    except TokenError as error:
        return FileReport(name, "sql", False, [Problem(str(error))])
    if not statements:
        return FileReport(name, "sql", False, [Problem("no SQL statement found")])
    # sqlglot reads a bare expression ("SELEC * FRM x") as a statement; only real
    # statements count. Commands are syntax sqlglot passes through unparsed (CREATE EXTENSION).
    stray = [s for s in statements if not isinstance(s, _STATEMENTS)]
    if stray:
        problems = [Problem(f"not a SQL statement: {s.sql()[:60]}") for s in stray]
        return FileReport(name, "sql", False, problems)
    tables = [
        table.name
        for s in statements
        if isinstance(s, sqlglot.exp.Create) and (table := s.find(sqlglot.exp.Table)) is not None
    ]
    return FileReport(name, "sql", True, found={"tables": tables})


def check_json(name: str, text: str) -> FileReport:
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return FileReport(name, "json", False, [Problem(error.msg, error.lineno, error.colno)])
    return FileReport(name, "json", True)


CHECKS = {"python": check_python, "sql": check_sql, "json": check_json}


def check(name: str, text: str) -> FileReport:
    kind = kind_of(name, text)
    if kind == "text":
        return FileReport(name, "text", True, found={"note": ["not code; nothing to parse"]})
    return CHECKS[kind](name, text)


def files_in(request_text: str, data: dict[str, Any]) -> list[tuple[str, str]]:
    """The files to check: a data part's ``files``, else fenced blocks, else the whole text."""
    files = data.get("files")
    if isinstance(files, list):
        named = [
            (str(f.get("name") or f"file-{i + 1}"), str(f.get("text") or ""))
            for i, f in enumerate(files)
            if isinstance(f, dict)
        ]
        if named:
            return named
    blocks = _FENCE.findall(request_text)
    if blocks:
        names = []
        for i, (language, body) in enumerate(blocks, start=1):
            kind = _FENCE_KIND.get(language.lower(), kind_of("", body))
            suffix = {"python": ".py", "sql": ".sql", "json": ".json"}.get(kind, ".txt")
            names.append((f"snippet-{i}{suffix}", body))
        return names
    embedded = _embedded_code(request_text)
    return [embedded] if embedded else [("input", request_text)]


_EMBEDDED = (
    ("snippet.json", re.compile(r"[{\[].*", re.DOTALL)),
    (
        "snippet.sql",
        re.compile(r"\b(?:CREATE|SELECT|INSERT|UPDATE|DELETE|ALTER|DROP|WITH)\b.*", re.DOTALL),
    ),
    ("snippet.py", re.compile(r"^[ \t]*(?:def|class|import|from|async def)\s.*", re.DOTALL | re.M)),
)


def _embedded_code(text: str) -> tuple[str, str] | None:
    """Code written inline after an instruction ("Check this JSON: {...}")."""
    found = [
        (m.start(), name, m.group(0)) for name, pattern in _EMBEDDED if (m := pattern.search(text))
    ]
    if not found:
        return None
    _, name, code = min(found)
    return name, code.strip()


class ValidatorExecutor(SpecialistExecutor):
    agent_id = "validator"
    title = "The validator"

    async def work(self, work: Work) -> str:
        files = files_in(work.request.text, work.request.data)
        await work.say(f"Checking {len(files)} file(s) with real parsers.")
        reports = [check(name, text) for name, text in files]
        invalid = [r for r in reports if not r.valid]
        document = {
            "valid": not invalid,
            "checked": len(reports),
            "invalid": len(invalid),
            "files": [asdict(r) for r in reports],
        }
        await work.send("validation.json", json.dumps(document, indent=2), "application/json")
        if not invalid:
            return f"All {len(reports)} file(s) parse cleanly."
        first = invalid[0].errors[0]
        where = f" (line {first.line})" if first.line else ""
        return (
            f"{len(invalid)} of {len(reports)} file(s) have problems; "
            f"first in {invalid[0].name}{where}: {first.message}."
        )
