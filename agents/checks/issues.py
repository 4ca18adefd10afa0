"""One finding of a check, in the shape every check and the report share."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Issue:
    """A problem at a place in a file. Lines and columns count from 1.

    ``rule`` is a stable id (``security/eval``, ``sql/no-primary-key``, or a ruff code such as
    ``F401``); ``ref`` names the same finding in another tool that also reported it
    (``ruff:S307``), so a duplicate is kept once without losing the cross-reference.
    """

    file: str
    line: int | None
    column: int | None
    severity: Severity
    rule: str
    message: str
    ref: str | None = None
    # The last line the finding covers; only used to match a tool's duplicate, never reported.
    end_line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "rule": self.rule,
            "message": self.message,
            "ref": self.ref,
        }

    def covers(self, line: int) -> bool:
        if self.line is None:
            return False
        return self.line <= line <= (self.end_line or self.line)

    def with_message(self, message: str) -> Issue:
        return replace(self, message=message)

    def with_ref(self, ref: str) -> Issue:
        return replace(self, ref=ref)


def sort_key(issue: Issue) -> tuple[str, int, int, str]:
    return (issue.file, issue.line or 0, issue.column or 0, issue.rule)
