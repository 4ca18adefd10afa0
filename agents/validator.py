"""The validator agent: reads the files to check from the request and reports on them.

The checks themselves live in ``agents.checks`` (real parsers, ruff, a schema review and a
secrets scan; nothing is executed); the report is ``validation.json``.
"""

from __future__ import annotations

import json

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
from agents.kit import REPORT_NAME, Verdict, WorkOrder, material_in
from agents.specialist import SpecialistExecutor, Work

__all__ = ["FileReport", "Report", "ValidatorExecutor", "check", "files_in", "kind_of", "validate"]

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
    own = [
        _named(name, text) for name, text in material_in(order.request, strict=bool(sent)).pieces
    ]
    if own or sent:
        return own + sent
    return [("input", order.request)]


def _named(name: str, text: str) -> tuple[str, str]:
    """A piece whose kind its fence did not say is named for what its text parses as."""
    if "." in name:
        return name, text
    return f"{name}{_KIND_SUFFIX.get(kind_of('', text), '.txt')}", text


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
        text = json.dumps(report.to_dict(), indent=2)
        await work.send(REPORT_NAME, text, "application/json")
        verdict = Verdict.read(text)
        if verdict is not None:
            work.outcome["validation"] = verdict.to_metadata()
        return summary(report)
