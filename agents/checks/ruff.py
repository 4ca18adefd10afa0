"""Ruff's findings on one Python file: pyflakes (F), bugbear (B), bandit security rules (S).

Ruff runs as a subprocess on the text (stdin), in isolated mode so no project configuration
changes what it reports. If it is missing, times out or answers nonsense, the validator goes
on without it: a warning in the log, never a failed task.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
from typing import Any

from agents.checks.issues import Issue, Severity

logger = logging.getLogger(__name__)

TIMEOUT_S = 10.0
SELECT = "E9,F,B,S"

# The validator's own checks own these concerns; their duplicates fold into its rule ids.
SAME_AS: dict[str, str] = {
    "S102": "security/eval",
    "S307": "security/eval",
    "S602": "security/shell-injection",
    "S604": "security/shell-injection",
    "S605": "security/shell-injection",
    "S608": "security/sql-injection",
    "S324": "security/weak-hash",
    "S301": "security/pickle",
    "S506": "security/yaml-load",
}
# Hard-coded passwords are the secrets check's, with its placeholder policy; ruff's copy goes.
_DROPPED = {"S105", "S106", "S107"}
# Findings that break at run time, or open a hole an attacker can use.
_ERRORS = {"F821", "F822", "F823", "F701", "F702", "F704", "F706", "F707"} | {
    "S102",
    "S307",
    "S506",
    "S602",
    "S604",
    "S605",
    "S608",
    "S324",
}
_ERROR_PREFIXES = ("E9",)
# Noise in short generated modules: asserts, subprocess without a shell, suspicious imports.
_INFOS = {"S101", "S603", "S607"}
_INFO_PREFIXES = ("S4",)


def find_ruff_bin() -> str:
    """The ruff executable installed with the ``ruff`` package (FileNotFoundError if none)."""
    from ruff.__main__ import find_ruff_bin as find

    return str(find())


def severity_of(code: str) -> Severity:
    if code in _ERRORS or code.startswith(_ERROR_PREFIXES):
        return "error"
    if code in _INFOS or code.startswith(_INFO_PREFIXES):
        return "info"
    return "warning"


def ruff_issues(name: str, text: str) -> list[Issue]:
    """Ruff's findings as issues; an empty list (and a logged warning) if ruff cannot run."""
    try:
        done = subprocess.run(
            _command(name),
            input=text,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except (ImportError, OSError, subprocess.SubprocessError) as error:
        logger.warning("ruff could not run on %s (%s); using the ast checks only", name, error)
        return []
    return _issues(name, done.returncode, done.stdout)


async def aruff_issues(name: str, text: str) -> list[Issue]:
    """``ruff_issues`` without blocking the event loop (nor a worker thread) while ruff runs."""
    try:
        process = await asyncio.create_subprocess_exec(
            *_command(name),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except (ImportError, OSError) as error:
        logger.warning("ruff could not run on %s (%s); using the ast checks only", name, error)
        return []
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(text.encode()), TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        logger.warning("ruff timed out on %s; using the ast checks only", name)
        return []
    return _issues(name, process.returncode, stdout.decode(errors="replace"))


def _command(name: str) -> list[str]:
    # Ruff picks the parser from the name's suffix; a file named by content is Python here.
    stdin_name = name if name.endswith(".py") else "snippet.py"
    return [
        find_ruff_bin(),
        "check",
        "--output-format",
        "json",
        "--no-cache",
        "--isolated",
        "--select",
        SELECT,
        "--stdin-filename",
        stdin_name,
        "-",
    ]


def _issues(name: str, returncode: int | None, stdout: str) -> list[Issue]:
    issues = []
    for finding in _findings(name, returncode, stdout):
        code = finding.get("code")
        if not isinstance(code, str) or code in _DROPPED:
            continue  # no code: a syntax error, which ast already reports
        location = finding.get("location") or {}
        end = finding.get("end_location") or {}
        issues.append(
            Issue(
                name,
                _int(location.get("row")),
                _int(location.get("column")),
                severity_of(code),
                code,
                str(finding.get("message") or code),
                end_line=_int(end.get("row")),
            )
        )
    return issues


def _findings(name: str, returncode: int | None, stdout: str) -> list[dict[str, Any]]:
    if returncode not in (0, 1):  # 1 means "found something"; anything else failed
        logger.warning("ruff failed on %s (exit %s); using the ast checks only", name, returncode)
        return []
    try:
        findings = json.loads(stdout or "[]")
    except json.JSONDecodeError:
        logger.warning("ruff answered unreadable output on %s; using the ast checks only", name)
        return []
    return [f for f in findings if isinstance(f, dict)] if isinstance(findings, list) else []


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None
