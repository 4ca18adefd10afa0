"""The quality bench's checks: each answer judged by machine the way its user would judge it.

A schema runs on the real PostgreSQL and is read back from the catalogue; a canvas is parsed
and compared with its markdown; code is parsed, linted and run against hidden tests in a
separate interpreter; a review must name the flaws planted in its input and pass clean input.
Every check returns a ``CheckResult`` with one short reason per problem found.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import asyncpg

from inference.language import singular

__all__ = [
    "CHATBOT_TELLTALES",
    "KINDS",
    "Alternatives",
    "Answer",
    "Case",
    "CheckResult",
    "Kind",
    "Link",
    "check_answer",
    "check_architecture",
    "check_code",
    "check_prose",
    "check_review",
    "check_schema",
]

Kind = Literal["schema", "architecture", "code", "review"]
KINDS: tuple[Kind, ...] = ("schema", "architecture", "code", "review")
POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
# What gives a chat bot away in a file: nothing a user asked for ever reads like this.
CHATBOT_TELLTALES = (
    "I'm ready to",
    "As an AI",
    "I'm sorry",
    "I cannot",
    "Sure!",
    "Here is",
    "Certainly",
    "happy to help",
    "assist you",
)
MONEY_WORDS = frozenset({"price", "amount", "cost", "total", "fee", "fine", "balance", "salary"})
FLOAT_TYPES = frozenset({"real", "double precision"})
HIDDEN_TEST_TIMEOUT_S = 10
# Words of a final status that admit the code is not finished: an honest skeleton.
_ADMISSION = re.compile(
    r"not implemented|skeleton|stub|could not|couldn't|cannot|unable|todo|left to you", re.I
)

Alternatives = tuple[str, ...]  # any one of them satisfies the check


@dataclass(frozen=True)
class Link:
    """A table that must hold a foreign key to each of ``references``."""

    table: Alternatives
    references: tuple[Alternatives, ...]


@dataclass(frozen=True)
class Case:
    """One request and what its user checks in the answer (only its kind's fields are set)."""

    id: str
    split: str
    kind: Kind
    request: str
    entities: tuple[Alternatives, ...] = ()
    links: tuple[Link, ...] = ()
    components: tuple[Alternatives, ...] = ()
    name: str = ""
    path: str = ""
    hidden_tests: str = ""
    flaws: tuple[Alternatives, ...] = ()
    clean: bool = False


@dataclass(frozen=True)
class Answer:
    """A streamed answer: artifacts by name, rebuilt from their chunks, and the final status."""

    artifacts: Mapping[str, str]
    state: str
    status_text: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class CheckResult:
    """``category`` sorts a failed code answer that parses: ``skeleton`` (honest: it says it
    is unfinished) or ``wrong`` (it lacks the name or fails the tests, and the final status
    does not say so)."""

    reasons: tuple[str, ...] = ()
    category: Literal["", "skeleton", "wrong"] = ""

    @property
    def passed(self) -> bool:
        return not self.reasons

    def __add__(self, other: CheckResult) -> CheckResult:
        return CheckResult(self.reasons + other.reasons, self.category or other.category)


# --- every kind -----------------------------------------------------------------------------


def _telltale(phrase: str) -> re.Pattern[str]:
    """A whole-word match ("the API cannot" is not "I cannot"); a phrase written with a
    capital ("Here is") opens a chat bot's sentence, so only a capital counts there ("the
    flow here is simple" is prose a design may hold)."""
    return re.compile(rf"\b{re.escape(phrase)}", 0 if phrase[0].isupper() else re.IGNORECASE)


_TELLTALES = tuple((phrase, _telltale(phrase)) for phrase in CHATBOT_TELLTALES)


def check_prose(artifacts: Mapping[str, str]) -> CheckResult:
    """No artifact talks like a chat bot."""
    reasons = tuple(
        f"chat-bot prose in {name}: {phrase!r}"
        for name, text in artifacts.items()
        for phrase, pattern in _TELLTALES
        if pattern.search(text)
    )
    return CheckResult(reasons)


async def check_answer(answer: Answer, case: Case, dsn: str = POSTGRES_DSN) -> CheckResult:
    """The answer judged by its case's kind, and for chat-bot prose."""
    files = answer.artifacts
    prose = check_prose(files)
    if case.kind == "schema":
        if "schema.sql" not in files:
            return _missing("schema.sql", answer) + prose
        return await check_schema(files["schema.sql"], case, dsn) + prose
    if case.kind == "architecture":
        canvas, markdown = files.get("architecture.canvas.json"), files.get("architecture.md")
        if canvas is None or markdown is None:
            return _missing("architecture.canvas.json and architecture.md", answer) + prose
        return check_architecture(canvas, markdown, case) + prose
    if case.kind == "code":
        return check_code(files, case, answer.status_text) + prose
    if "validation.json" not in files:
        return _missing("validation.json", answer) + prose
    return check_review(files["validation.json"], case) + prose


def _missing(what: str, answer: Answer) -> CheckResult:
    status = f"{answer.state}: {answer.status_text}".strip(": ")[:120]
    return CheckResult((f"no {what} came back ({status}; got {sorted(answer.artifacts)})",))


# --- schema ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalogue:
    """What PostgreSQL holds after a schema ran: tables, columns, keys and indexes."""

    columns: Mapping[str, Mapping[int, tuple[str, str]]]  # table -> attnum -> (name, type)
    primary_keys: frozenset[str]
    foreign_keys: Sequence[tuple[str, tuple[int, ...], str]]  # (table, columns, referenced)
    indexes: Mapping[str, Sequence[tuple[int, ...]]] = field(default_factory=dict)


_COLUMNS = """
SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped"""
_CONSTRAINTS = """
SELECT t.relname, con.contype::text, con.conkey, coalesce(r.relname, '')
FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid
LEFT JOIN pg_class r ON r.oid = con.confrelid
WHERE t.relnamespace = $1::regnamespace AND con.contype IN ('p', 'f')"""
_INDEXES = """
SELECT t.relname, i.indkey::int2[]
FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
WHERE t.relnamespace = $1::regnamespace"""


async def _catalogue(sql: str, dsn: str) -> Catalogue:
    """Run ``sql`` in a throwaway schema and read back what it created."""
    schema = f"quality_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        await connection.execute(f'CREATE SCHEMA "{schema}"')
        await connection.execute(f"SET search_path TO \"{schema}\"; SET statement_timeout = '10s'")
        await connection.execute(sql)
        columns: dict[str, dict[int, tuple[str, str]]] = {}
        for table, number, name, type_ in await connection.fetch(_COLUMNS, schema):
            columns.setdefault(table, {})[number] = (name, type_)
        constraints = await connection.fetch(_CONSTRAINTS, schema)
        indexes: dict[str, list[tuple[int, ...]]] = {}
        for table, keys in await connection.fetch(_INDEXES, schema):
            indexes.setdefault(table, []).append(tuple(keys))
        return Catalogue(
            columns=columns,
            primary_keys=frozenset(t for t, kind, _, _ in constraints if kind == "p"),
            foreign_keys=[(t, tuple(k), r) for t, kind, k, r in constraints if kind == "f"],
            indexes=indexes,
        )
    finally:
        if connection.is_in_transaction():  # the schema's own BEGIN, left open by its error
            await connection.execute("ROLLBACK")
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await connection.close()


def _same_entity(table: str, wanted: Alternatives) -> bool:
    """``loans`` is ``loan``: singular or plural either way, case and spacing aside."""
    key = singular(table.lower())
    return any(singular(w.lower().replace(" ", "_")) == key for w in wanted)


def _tables_named(catalogue: Catalogue, wanted: Alternatives) -> list[str]:
    return [table for table in catalogue.columns if _same_entity(table, wanted)]


async def check_schema(sql: str, case: Case, dsn: str = POSTGRES_DSN) -> CheckResult:
    """The schema runs on PostgreSQL and has what its user asked for, soundly keyed."""
    try:
        catalogue = await _catalogue(sql, dsn)
    except asyncpg.PostgresError as error:
        return CheckResult((f"schema.sql does not run on PostgreSQL: {_first_line(error)}",))
    if not catalogue.columns:
        return CheckResult(("schema.sql creates no table",))
    reasons = [
        f"no table for {'/'.join(wanted)}"
        for wanted in case.entities
        if not _tables_named(catalogue, wanted)
    ]
    reasons += _missing_links(catalogue, case.links)
    reasons += _unsound_tables(catalogue)
    return CheckResult(tuple(reasons))


def _missing_links(catalogue: Catalogue, links: Sequence[Link]) -> list[str]:
    reasons = []
    for link in links:
        tables = _tables_named(catalogue, link.table)
        if not tables:
            continue  # already reported as a missing entity
        referenced = [r for t, _, r in catalogue.foreign_keys if t in tables]
        reasons += [
            f"{tables[0]} has no foreign key to {'/'.join(wanted)}"
            for wanted in link.references
            if not any(_same_entity(r, wanted) for r in referenced)
        ]
    return reasons


def _unsound_tables(catalogue: Catalogue) -> list[str]:
    """Keys, indexes and types a reviewer would send back."""
    reasons = [
        f"{t} has no primary key" for t in catalogue.columns if t not in catalogue.primary_keys
    ]
    for table, keys, _ in catalogue.foreign_keys:
        indexed = any(
            set(index[: len(keys)]) == set(keys) for index in catalogue.indexes.get(table, [])
        )
        if not indexed:
            names = ", ".join(catalogue.columns[table][k][0] for k in keys)
            reasons.append(f"foreign key {table}({names}) has no index")
    for table, columns in catalogue.columns.items():
        for name, type_ in columns.values():
            if type_ in FLOAT_TYPES and MONEY_WORDS & {singular(w) for w in name.split("_")}:
                reasons.append(f"money column {table}.{name} is {type_}")
            if type_ == "timestamp without time zone":
                reasons.append(f"{table}.{name} is a timestamp without time zone")
    return reasons


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0][:160]


# --- architecture ---------------------------------------------------------------------------


def _label(node: Mapping[str, Any]) -> str:
    """A node's label; a JSON Canvas text node's first line, its Markdown marks dropped."""
    text = str(node.get("label") or node.get("name") or node.get("text") or "")
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first.strip("#*_ `").strip()


def check_architecture(canvas: str, markdown: str, case: Case) -> CheckResult:
    """The canvas is a sound graph, names the asked-for components and agrees with the prose."""
    try:
        document = json.loads(canvas)
        nodes, edges = list(document["nodes"]), list(document.get("edges", []))
    except (ValueError, KeyError, TypeError) as error:
        return CheckResult((f"architecture.canvas.json does not parse: {_first_line(error)}",))
    ids = [str(node.get("id")) for node in nodes]
    reasons = [f"node id {i!r} is used twice" for i in sorted(set(ids)) if ids.count(i) > 1]
    for edge in edges:
        ends = (edge.get("source", edge.get("fromNode")), edge.get("target", edge.get("toNode")))
        reasons += [
            f"edge {edge.get('id')!r} joins no node {end!r}" for end in ends if str(end) not in ids
        ]
    labels = [_label(node) for node in nodes]
    folded = [label.lower() for label in labels]
    reasons += [
        f"no component for {'/'.join(wanted)}"
        for wanted in case.components
        if not any(w.lower() in label for w in wanted for label in folded)
    ]
    prose = " ".join(markdown.lower().split())
    reasons += [
        f"node {label!r} is not in architecture.md"
        for label in labels
        if " ".join(label.lower().split()) not in prose
    ]
    if not nodes:
        reasons.append("the canvas has no node")
    return CheckResult(tuple(reasons))


# --- code -----------------------------------------------------------------------------------


def _safe_path(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name)
    return None if path.is_absolute() or ".." in path.parts else path


def _defines(tree: ast.Module, name: str) -> bool:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                return True
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
    return False


def check_code(files: Mapping[str, str], case: Case, status_text: str = "") -> CheckResult:
    """Every Python file parses and lints clean; the asked-for name is defined and passes the
    hidden tests."""
    sources = {name: text for name, text in files.items() if name.endswith(".py")}
    if not sources:
        return CheckResult((f"no Python file came back (got {sorted(files)})",))
    reasons = []
    if case.path and not any(name.endswith(case.path) for name in sources):
        reasons.append(f"no file at {case.path} (got {sorted(sources)})")
    definer = ""
    for name, text in sources.items():
        try:
            tree = ast.parse(text, filename=name)
        except SyntaxError as error:
            reasons.append(f"{name} does not parse: line {error.lineno}: {error.msg}")
            continue
        if not definer and _defines(tree, case.name):
            definer = name
    if reasons:
        return CheckResult(tuple(reasons))
    with tempfile.TemporaryDirectory(prefix="quality-code-") as folder:
        root = Path(folder)
        for name, text in sources.items():
            relative = _safe_path(name)
            if relative is None:
                return CheckResult((f"unsafe artifact path {name!r}",))
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(text)
        lint = _ruff(root)
        if lint:
            return CheckResult((lint,))
        if not definer:
            # A skeleton under another name is still honest: it says it is unfinished.
            unfinished = any("NotImplementedError" in text for text in sources.values())
            honest = unfinished or bool(_ADMISSION.search(status_text))
            missing = f"{case.name} is not defined in {sorted(sources)}"
            return CheckResult((missing,), "skeleton" if honest else "wrong")
        return _hidden_tests(root, root / definer, case, status_text)


def _ruff(root: Path) -> str:
    """The first of ruff's error findings (syntax, undefined names), '' when there is none."""
    ruff = Path(sys.executable).with_name("ruff")
    command = [str(ruff), "check", "--no-cache", "--isolated", "--select", "E9,F63,F7,F82"]
    done = subprocess.run(
        [*command, "--output-format", "concise", "."],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode == 0:
        return ""
    findings = [line for line in done.stdout.splitlines() if ": " in line and ":" in line[:200]]
    return f"ruff: {(findings or [done.stdout.strip() or done.stderr.strip()])[0][:160]}"


_RUNNER = """\
import importlib.util, sys
sys.path[:0] = [{root!r}, {folder!r}]
spec = importlib.util.spec_from_file_location("answer", {path!r})
module = importlib.util.module_from_spec(spec)
sys.modules["answer"] = module
spec.loader.exec_module(module)
globals().update({{k: v for k, v in vars(module).items() if not k.startswith("__")}})
"""


def _hidden_tests(root: Path, module: Path, case: Case, status_text: str) -> CheckResult:
    """Run the case's asserts in a fresh isolated interpreter, the answer imported."""
    runner = root / f"_hidden_{uuid.uuid4().hex[:8]}.py"
    prelude = _RUNNER.format(root=str(root), folder=str(module.parent), path=str(module))
    runner.write_text(prelude + case.hidden_tests)
    try:
        done = subprocess.run(
            [sys.executable, "-I", str(runner)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=HIDDEN_TEST_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return CheckResult((f"hidden tests ran past {HIDDEN_TEST_TIMEOUT_S} s",), "wrong")
    if done.returncode == 0:
        return CheckResult()
    last = (done.stderr.strip().splitlines() or ["no output"])[-1][:160]
    honest = "NotImplementedError" in done.stderr or bool(_ADMISSION.search(status_text))
    return CheckResult((f"hidden tests fail: {last}",), "skeleton" if honest else "wrong")


# --- review ---------------------------------------------------------------------------------


def check_review(report: str, case: Case) -> CheckResult:
    """``validation.json`` names every planted flaw, or passes clean input."""
    try:
        document = json.loads(report)
        issues = [i for i in document.get("issues", []) if isinstance(i, dict)]
    except (ValueError, AttributeError) as error:
        return CheckResult((f"validation.json does not parse: {_first_line(error)}",))
    if case.clean:
        errors = [i for i in issues if i.get("severity") == "error"]
        if document.get("passed", document.get("valid")) is True and not errors:
            return CheckResult()
        first = errors[0] if errors else {}
        finding = f"{first.get('rule', '')} {first.get('message', '')}".strip()
        return CheckResult((f"clean input failed review: {finding or 'not passed'}"[:200],))
    found = [f"{i.get('rule', '')} {i.get('message', '')}".lower() for i in issues]
    return CheckResult(
        tuple(
            f"planted flaw not reported: {'/'.join(wanted)}"
            for wanted in case.flaws
            if not any(w.lower() in text for w in wanted for text in found)
        )
    )
