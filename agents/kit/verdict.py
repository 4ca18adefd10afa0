"""A ``validation.json`` read back: did it pass, its score, and what failed.

Whoever receives a validator's report (the orchestrator's final status, a plan's summary,
the CLI) reads it through ``Verdict`` rather than by its keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["REPORT_NAME", "Verdict"]

REPORT_NAME = "validation.json"


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    score: int | None
    errors: tuple[str, ...]  # "file:line: message", in the report's order
    warnings: int

    @classmethod
    def read(cls, text: str) -> Verdict | None:
        """The verdict of one report's text; None when it is not a report."""
        try:
            document = json.loads(text)
        except (json.JSONDecodeError, TypeError):
            return None
        if not isinstance(document, dict) or not ({"passed", "valid"} & set(document)):
            return None
        issues = [i for i in document.get("issues", []) if isinstance(i, dict)]
        score = document.get("score")
        return cls(
            passed=bool(document.get("passed", document.get("valid"))),
            score=score if isinstance(score, int) else None,
            errors=tuple(_where(i) for i in issues if i.get("severity") == "error"),
            warnings=sum(1 for i in issues if i.get("severity") == "warning"),
        )

    @classmethod
    def of(cls, artifacts: Mapping[str, str]) -> Verdict | None:
        """The verdict among a task's artifacts (by name), if a report is there."""
        text = artifacts.get(REPORT_NAME)
        return cls.read(text) if text is not None else None

    def to_metadata(self) -> dict[str, Any]:
        return {"passed": self.passed, "score": self.score, "errors": len(self.errors)}

    def sentence(self) -> str:
        """One sentence for a final status: what a user must know about the check."""
        score = f"score {self.score}/100" if self.score is not None else "no score"
        if self.passed:
            return f"Validation passed ({score}, {self.warnings} warning(s))."
        first = f"; first: {self.errors[0]}" if self.errors else ""
        return f"Validation did not pass ({score}, {len(self.errors)} error(s){first})."


def _where(issue: Mapping[str, Any]) -> str:
    line = issue.get("line")
    where = f"{issue.get('file', '?')}:{line}" if line else str(issue.get("file", "?"))
    return f"{where}: {issue.get('message', issue.get('rule', 'error'))}"
