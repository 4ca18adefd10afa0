"""Python: the ``ast`` parse, the validator's own security smells, and ruff's findings."""

from __future__ import annotations

import ast

from agents.checks.issues import Issue
from agents.checks.ruff import SAME_AS, ruff_issues
from agents.checks.security import security_smells


def check_python(
    name: str, text: str, ruff: list[Issue] | None = None
) -> tuple[list[Issue], dict[str, list[str]]]:
    """Issues and what the file defines (functions, classes); a syntax error stops there.

    ``ruff`` is ruff's findings when the caller ran it already (asynchronously).
    """
    try:
        tree = ast.parse(text, filename=name)
    except SyntaxError as error:
        issue = Issue(name, error.lineno, error.offset, "error", "python/syntax", error.msg)
        return [issue], {}
    found = {
        "functions": [
            n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        ],
        "classes": [n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)],
    }
    found_by_ruff = ruff if ruff is not None else ruff_issues(name, text)
    return merge_ruff(security_smells(name, tree), found_by_ruff), found


def merge_ruff(own: list[Issue], ruff: list[Issue]) -> list[Issue]:
    """Own findings plus ruff's, a finding both report kept once under the own rule id."""
    merged = list(own)
    for finding in ruff:
        rule = SAME_AS.get(finding.rule)
        line = finding.line
        twin = next(
            (
                i
                for i, issue in enumerate(merged)
                if rule and line is not None and issue.rule == rule and issue.covers(line)
            ),
            None,
        )
        if twin is None:
            merged.append(finding)
        elif merged[twin].ref is None:
            merged[twin] = merged[twin].with_ref(f"ruff:{finding.rule}")
    return merged
