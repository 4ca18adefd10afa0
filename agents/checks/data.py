"""JSON and YAML: does the document parse, and where does it stop if not."""

from __future__ import annotations

import json

import yaml

from agents.checks.issues import Issue


def check_json(name: str, text: str) -> list[Issue]:
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return [Issue(name, error.lineno, error.colno, "error", "json/syntax", error.msg)]
    return []


def check_yaml(name: str, text: str) -> list[Issue]:
    try:
        for _ in yaml.safe_load_all(text):
            pass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        # The problem text names the construct ("mapping values are not allowed here"); the
        # error's str() would quote the document, so it stays out.
        message = error.problem or error.context or "syntax error"
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        return [Issue(name, line, column, "error", "yaml/syntax", message)]
    except yaml.YAMLError:
        return [Issue(name, None, None, "error", "yaml/syntax", "not a YAML document")]
    return []
