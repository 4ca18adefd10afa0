"""A ``validation.json`` read back: did it pass, its score, and what failed.

Whoever receives a validator's report (the orchestrator's final status, a plan's summary
and repair round, the CLI) reads it through ``Verdict`` rather than by its keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agents.kit.work_order import Finding

__all__ = ["REPORT_NAME", "Verdict"]

REPORT_NAME = "validation.json"


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    score: int | None
    failures: tuple[tuple[str, Finding], ...]  # (file, error), in the report's order
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
            failures=tuple(
                (str(i.get("file", "?")), _finding(i))
                for i in issues
                if i.get("severity") == "error"
            ),
            warnings=sum(1 for i in issues if i.get("severity") == "warning"),
        )

    @classmethod
    def of(cls, artifacts: Mapping[str, str]) -> Verdict | None:
        """The verdict among a task's artifacts (by name), if a report is there."""
        text = artifacts.get(REPORT_NAME)
        return cls.read(text) if text is not None else None

    @property
    def errors(self) -> tuple[str, ...]:
        """Each error as "file:line: message"."""
        return tuple(
            f"{file}:{f.line}: {f.message}" if f.line else f"{file}: {f.message}"
            for file, f in self.failures
        )

    def by_file(self, suffix: str = "") -> dict[str, tuple[Finding, ...]]:
        """The errors of each file whose name ends with ``suffix``."""
        found: dict[str, list[Finding]] = {}
        for file, finding in self.failures:
            if file.endswith(suffix):
                found.setdefault(file, []).append(finding)
        return {file: tuple(findings) for file, findings in found.items()}

    def to_metadata(self) -> dict[str, Any]:
        return {"passed": self.passed, "score": self.score, "errors": len(self.failures)}

    def sentence(self) -> str:
        """One sentence for a final status: what a user must know about the check."""
        score = f"score {self.score}/100" if self.score is not None else "no score"
        if self.passed:
            return f"Validation passed ({score}, {self.warnings} warning(s))."
        first = f"; first: {self.errors[0]}" if self.errors else ""
        return f"Validation did not pass ({score}, {len(self.failures)} error(s){first})."


def _finding(issue: Mapping[str, Any]) -> Finding:
    line = issue.get("line")
    message = issue.get("message") or issue.get("rule") or "error"
    return Finding(
        line if isinstance(line, int) else None, str(issue.get("rule", "")), str(message)
    )
