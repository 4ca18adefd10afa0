"""Hard-coded secrets, in every kind of file.

Two sources, merged to at most one finding per line:

* ``detect-secrets``: its pattern plugins (AWS keys, private keys, GitHub/Stripe/Slack
  tokens, credentials in URLs...), its keyword detector, and its high-entropy detectors.
* the validator's own rule: a credential-named target (``password``, ``api_key``,
  ``SECRET_KEY``, ``client_secret``...) given a literal value, read from the ``ast`` for Python
  (assignments, keyword arguments, dict keys, defaults, comparisons) and from
  ``key: value`` / ``key = value`` lines for everything else.

The value policy: a reference (``${DB_PASSWORD}``, ``{{ token }}``) or no value is fine; an
obvious placeholder (``changeme``, ``<your-key>``, ``xxx``) is reported as info, since it is
not a leak but still has to be replaced; anything else is a hard-coded secret (error).
High-entropy strings alone are a warning: hashes and test vectors look the same.

A secret's value never goes into a message. ``SecretScan.values`` holds the values found,
so the report can scrub them from every other check's messages too.
"""

from __future__ import annotations

import ast
import atexit
import functools
import logging
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agents.checks.issues import Issue

logger = logging.getLogger(__name__)

Verdict = Literal["secret", "placeholder"]

_ENTROPY = {"Base64 High Entropy String", "Hex High Entropy String"}
_KEYWORD = "Secret Keyword"
# A public IP address is not a secret.
_DISABLED_PLUGINS = ("IPPublicDetector",)
# detect-secrets keeps its settings in process-wide state; one scan at a time.
_SCAN_LOCK = threading.Lock()

# Names whose value is a credential: the whole name, or its last words (db_password).
_SECRET_SUFFIXES = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "secret_key",
    "client_secret",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
    "auth_key",
    "signing_key",
    "encryption_key",
    "access_token",
    "auth_token",
    "api_token",
    "refresh_token",
    "bearer_token",
    "session_token",
    "credentials",
)
# Only as the whole name: eos_token, max_tokens and token_type are not credentials.
_SECRET_NAMES = {"token"}

_REFERENCE = re.compile(r"^(\$\{[^}]+\}|\$[A-Za-z_]\w*|\$\d+|\{\{.*\}\}|%\(\w+\)s|env:.+)$")
_NO_VALUE = {"null", "none", "nil", "~", "undefined", "false", "true"}
_PLACEHOLDER = re.compile(
    r"^(x+|\*+|\.+|-+|_+|<[^>]*>|\[[^\]]*\]|todo|tbd|fixme|change[-_ ]?me|change[-_ ]?this"
    r"|replace[-_ ]?me|placeholder|example|sample|dummy|fake|test|testing|redacted|secret"
    r"|password|token|your[-_ ].*|.*[-_ ]here|my[-_ ]?(password|secret|token|api[-_ ]?key))$",
    re.I,
)
# key = value / key: value, the key maybe quoted; the value quoted, or bare (YAML, .env).
_KEY_VALUE = re.compile(
    r"""["']?(?P<key>[A-Za-z_][\w.-]*)["']?\s*[:=]\s*"""
    r"""(?:"(?P<double>[^"\\]*(?:\\.[^"\\]*)*)"|'(?P<single>[^'\\]*)'"""
    r"""|(?P<bare>\$\{[^}]*\}|\{\{[^}]*\}\}|[^\s"'#,{}\[\]]+))"""
)


def is_secret_name(name: str) -> bool:
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    snake = re.sub(r"[^a-z0-9]+", "_", snake).strip("_")
    return snake in _SECRET_NAMES or any(
        snake == suffix or snake.endswith(f"_{suffix}") for suffix in _SECRET_SUFFIXES
    )


def verdict(value: str) -> Verdict | None:
    """What a literal credential value is: a real-looking secret, a placeholder, or nothing."""
    value = value.strip()
    if not value or value.lower() in _NO_VALUE or _REFERENCE.match(value):
        return None
    if len(value) < 4 or _PLACEHOLDER.match(value):
        return "placeholder"
    if len(value.split()) >= 3:
        return None  # prose (a prompt or a label), not a credential
    return "secret"


@dataclass(frozen=True, slots=True)
class _Literal:
    line: int
    column: int | None
    target: str
    value: str


@dataclass(slots=True)
class SecretScan:
    issues: list[Issue] = field(default_factory=list)
    values: set[str] = field(default_factory=set)


def scan_secrets(name: str, text: str, kind: str) -> SecretScan:
    literals = [
        literal
        for literal in _literals(text, kind)
        if is_secret_name(literal.target) and verdict(literal.value)
    ]
    found = _detect_secrets(name, text)
    scan = SecretScan()
    scan.values = {lit.value for lit in literals if verdict(lit.value) == "secret"}
    scan.values |= {value for _, _, value in found if len(value) >= 4}
    lines = sorted({lit.line for lit in literals} | {line for line, _, _ in found})
    for line in lines:
        own = [lit for lit in literals if lit.line == line]
        types = [t for n, t, _ in found if n == line]
        keyword_values = [v for n, t, v in found if n == line and t == _KEYWORD]
        issue = _line_issue(name, line, own, types, keyword_values)
        if issue is not None:
            scan.issues.append(issue)
    return scan


def _line_issue(
    file: str, line: int, own: list[_Literal], types: list[str], keyword_values: list[str]
) -> Issue | None:
    """One finding for a line from what both sources saw on it."""
    specific = sorted({t for t in types if t not in _ENTROPY and t != _KEYWORD})
    secret = next((lit for lit in own if verdict(lit.value) == "secret"), None)
    placeholder = next((lit for lit in own if verdict(lit.value) == "placeholder"), None)
    first = secret or placeholder
    column = first.column if first else None
    target = f" in assignment to {first.target}" if first else ""
    advice = "; load it from configuration or a secret store"
    if specific or secret:
        detail = f" ({', '.join(specific)})" if specific else ""
        message = f"hard-coded secret{detail}{target}{advice}"
        return Issue(file, line, column, "error", "secrets/hardcoded", message)
    if placeholder:
        message = f"placeholder credential{target}; load the real value from configuration"
        return Issue(file, line, column, "info", "secrets/placeholder", message)
    # The keyword detector's names are looser than the own rule's (password_label): only a
    # value that passes the same value policy counts, and its placeholders are not reported.
    if any(verdict(value) == "secret" for value in keyword_values):
        message = f"hard-coded secret (password-like keyword){advice}"
        return Issue(file, line, None, "error", "secrets/hardcoded", message)
    if set(types) & _ENTROPY:
        message = (
            "high-entropy string (possibly a key or token); if it is a credential, "
            "load it from configuration"
        )
        return Issue(file, line, None, "warning", "secrets/high-entropy", message)
    return None


def _literals(text: str, kind: str) -> list[_Literal]:
    if kind == "python":
        try:
            return list(_python_literals(ast.parse(text)))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass  # unparseable: read it line by line like any other text
    # Unquoted values are YAML's and .env files'; in SQL "password = $1" is a parameter.
    return list(_line_literals(text, bare=kind in ("yaml", "text")))


def _python_literals(tree: ast.Module) -> Iterator[_Literal]:
    """(target, literal string) pairs: assignments, keywords, dict entries, defaults, ==."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                yield from _pair(_target_name(target), node.value)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            yield from _pair(_target_name(node.target), node.value)
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                yield from _pair(keyword.arg, keyword.value)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    yield from _pair(key.value, value)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            positional = [*node.args.posonlyargs, *node.args.args]
            with_default = positional[len(positional) - len(node.args.defaults) :]
            pairs = zip(with_default, node.args.defaults, strict=True)
            kw_pairs = zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True)
            for arg, default in [*pairs, *kw_pairs]:
                if default is not None:
                    yield from _pair(arg.arg, default)
        elif isinstance(node, ast.Compare) and len(node.comparators) == 1:
            yield from _pair(_target_name(node.left), node.comparators[0])


def _target_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return key.value
    return None


def _pair(target: str | None, value: ast.expr) -> Iterator[_Literal]:
    if target and isinstance(value, ast.Constant) and isinstance(value.value, str):
        yield _Literal(value.lineno, value.col_offset + 1, target, value.value)


def _line_literals(text: str, *, bare: bool) -> Iterator[_Literal]:
    for number, line in enumerate(text.splitlines(), start=1):
        for match in _KEY_VALUE.finditer(line):
            value = match.group("double")
            if value is None:
                value = match.group("single")
            if value is None and bare:
                value = match.group("bare")
            if value is not None:
                yield _Literal(number, match.start("key") + 1, match.group("key"), value)


@functools.cache
def _configure_detect_secrets() -> None:
    """Every plugin but the disabled ones, set once in detect-secrets' process-wide settings
    (nothing else here uses them). Its ``default_settings()`` would rebuild and then restore
    them around every scan, which cost more than the scan of a short file."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.settings import cache_bust, configure_settings_from_baseline

    plugins: list[type] = list(get_mapping_from_secret_type_to_class().values())
    cache_bust()
    settings = configure_settings_from_baseline(
        {"plugins_used": [{"name": plugin.__name__} for plugin in plugins]}
    )
    settings.disable_plugins(*_DISABLED_PLUGINS)


@functools.cache
def _scratch() -> Path:
    """This process's private directory for the files detect-secrets scans (mode 0700;
    made once: a directory per scan cost more than the scan's own line checks)."""
    directory = tempfile.mkdtemp(prefix="ymy-secrets-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return Path(directory)


def _detect_secrets(name: str, text: str) -> list[tuple[int, str, str]]:
    """(line, secret type, value) from detect-secrets; empty (with a warning) if it fails."""
    # detect-secrets scans files: the text goes to a private temporary file whose name keeps
    # the suffix, which picks the right transformer (YAML, INI) for the scan.
    suffix = Path(name).suffix if re.fullmatch(r"\.\w{1,10}", Path(name).suffix) else ".txt"
    try:
        from detect_secrets.core.scan import scan_file

        with _SCAN_LOCK:  # one scan at a time: one file name per suffix is enough
            path = _scratch() / f"checked{suffix}"
            path.write_text(text, encoding="utf-8")
            try:
                _configure_detect_secrets()
                return [(s.line_number, s.type, s.secret_value or "") for s in scan_file(str(path))]
            finally:
                path.unlink(missing_ok=True)
    except Exception as error:  # a scanner failure must not fail the validation
        logger.warning("detect-secrets could not scan %s (%s); own rule only", name, error)
        return []
