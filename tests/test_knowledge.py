"""The shipped knowledge base: its entries are well-formed, their code parses, and the loader
rejects malformed files. Fast: no models, no network."""

from __future__ import annotations

import ast
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from agents.checks.sql import STATEMENTS
from memory.knowledge import (
    AGENTS,
    KINDS,
    KNOWLEDGE_DIR,
    KnowledgeEntry,
    KnowledgeError,
    fingerprint,
    load_entries,
)

ENTRIES = load_entries()
BY_ID = {entry.id: entry for entry in ENTRIES}
FENCE = re.compile(r"^```([A-Za-z0-9_+-]*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)

# sqlglot reads REAL and FLOAT4 as FLOAT, FLOAT8 and DOUBLE PRECISION as DOUBLE.
INEXACT_TYPES = {exp.DataType.Type.FLOAT, exp.DataType.Type.DOUBLE, exp.DataType.Type.MONEY}
MONEY_NAME = re.compile(
    r"price|amount|cost|total|balance|cents|fee|tax|money|subtotal|discount|refund|charge",
    re.IGNORECASE,
)
MONEY_AS_FLOAT = re.compile(
    rf"\b\w*(?:{MONEY_NAME.pattern})\w*\s+(?:float\d*|real|double(?:\s+precision)?|money)\b",
    re.IGNORECASE,
)


def blocks(entry: KnowledgeEntry, language: str) -> list[str]:
    return [code for lang, code in FENCE.findall(entry.body) if lang.lower() == language]


def entry_params(language: str | None = None) -> list[object]:
    chosen = [e for e in ENTRIES if language is None or blocks(e, language)]
    return [pytest.param(entry, id=entry.id) for entry in chosen]


# The shipped entries -------------------------------------------------------------------------


def test_at_least_forty_entries() -> None:
    assert len(ENTRIES) >= 40


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_at_least_eight_entries(kind: str) -> None:
    assert sum(entry.kind == kind for entry in ENTRIES) >= 8


def test_kinds_and_agents_are_the_documented_ones() -> None:
    assert KINDS == ("architecture-pattern", "schema-template", "code-template", "best-practice")
    assert AGENTS == ("architecture", "database", "code", "validator")


def test_ids_are_unique_equal_file_stems_and_sorted() -> None:
    ids = [entry.id for entry in ENTRIES]
    assert len(ids) == len(set(ids))
    assert ids == sorted(ids)
    files = sorted(KNOWLEDGE_DIR.rglob("*.md"))
    assert len(files) == len(ENTRIES)
    for entry in ENTRIES:
        assert entry.id == entry.path.stem
        assert entry.path.parent.name == entry.kind
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", entry.id)


def test_titles_are_unique() -> None:
    titles = Counter(entry.title.lower() for entry in ENTRIES)
    assert [title for title, count in titles.items() if count > 1] == []


def test_every_agent_is_known_and_well_served() -> None:
    served: Counter[str] = Counter()
    for entry in ENTRIES:
        assert entry.agents, entry.id
        assert set(entry.agents) <= set(AGENTS), entry.id
        served.update(entry.agents)
    # Retrieval filters by agent: every specialist must have enough to draw on.
    for agent in AGENTS:
        assert served[agent] >= 10, (agent, served[agent])


@pytest.mark.parametrize("entry", entry_params())
def test_entry_is_substantial_and_concise(entry: KnowledgeEntry) -> None:
    words = len(entry.body.split())
    assert 80 <= words <= 400, f"{entry.id}: {words} words"
    assert entry.tags and all(tag == tag.lower() for tag in entry.tags)
    assert entry.body.count("```") % 2 == 0, "an unclosed code fence"


@pytest.mark.parametrize(
    ("kind", "language"), [("schema-template", "sql"), ("code-template", "python")]
)
def test_templates_carry_code(kind: str, language: str) -> None:
    missing = [e.id for e in ENTRIES if e.kind == kind and not blocks(e, language)]
    assert missing == []


def test_code_blocks_are_labelled() -> None:
    for entry in ENTRIES:
        for language, _ in FENCE.findall(entry.body):
            assert language in {"python", "sql"}, (entry.id, language)


@pytest.mark.parametrize("entry", entry_params("python"))
def test_python_blocks_parse(entry: KnowledgeEntry) -> None:
    for code in blocks(entry, "python"):
        ast.parse(code, filename=f"{entry.id}.md")


@pytest.mark.parametrize("entry", entry_params("sql"))
def test_sql_blocks_parse_as_postgres(entry: KnowledgeEntry) -> None:
    for code in blocks(entry, "sql"):
        statements = [s for s in sqlglot.parse(code, read="postgres") if s is not None]
        assert statements, entry.id
        stray = [s.sql()[:60] for s in statements if not isinstance(s, STATEMENTS)]
        assert stray == [], entry.id


@pytest.mark.parametrize("entry", entry_params("sql"))
def test_sql_never_stores_money_in_floats(entry: KnowledgeEntry) -> None:
    for code in blocks(entry, "sql"):
        assert not MONEY_AS_FLOAT.search(code), entry.id
        for statement in sqlglot.parse(code, read="postgres"):
            if statement is None:
                continue
            for column in statement.find_all(exp.ColumnDef):
                kind = column.args.get("kind")
                if isinstance(kind, exp.DataType) and kind.this in INEXACT_TYPES:
                    assert not MONEY_NAME.search(column.name), (entry.id, column.name)


def test_money_check_catches_a_float_price() -> None:
    bad = "CREATE TABLE items (id INT PRIMARY KEY, unit_price DOUBLE PRECISION NOT NULL);"
    assert MONEY_AS_FLOAT.search(bad)
    [create] = sqlglot.parse(bad, read="postgres")
    assert create is not None
    kinds = {c.name: c.args["kind"].this for c in create.find_all(exp.ColumnDef)}
    assert kinds["unit_price"] in INEXACT_TYPES


def test_text_and_excerpt() -> None:
    entry = BY_ID["saga-pattern"]
    assert entry.text.startswith(entry.title)
    assert entry.body in entry.text
    short = entry.excerpt(120)
    assert len(short) <= 120
    assert short.startswith(entry.title)
    assert short.endswith("…")
    assert "\n" not in short
    assert entry.excerpt(100_000) == " ".join(entry.text.split())
    assert entry.excerpt(0) == ""


# Fingerprint ---------------------------------------------------------------------------------


def test_fingerprint_is_a_stable_sha256() -> None:
    first = fingerprint()
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert fingerprint() == first
    assert fingerprint(KNOWLEDGE_DIR) == first


def test_fingerprint_follows_the_files(tmp_path: Path) -> None:
    copy = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, copy)
    original = fingerprint(KNOWLEDGE_DIR)
    assert fingerprint(copy) == original  # relative paths, not absolute ones

    (copy / "notes.txt").write_text("not an entry")
    assert fingerprint(copy) == original

    target = copy / "architecture-pattern" / "saga-pattern.md"
    text = target.read_text(encoding="utf-8")
    target.write_text(text + "\nOne more line.\n", encoding="utf-8")
    edited = fingerprint(copy)
    assert edited != original
    assert fingerprint(copy) == edited

    target.write_text(text, encoding="utf-8")
    assert fingerprint(copy) == original

    target.rename(copy / "best-practice" / "saga-pattern.md")
    assert fingerprint(copy) != original


def test_empty_or_missing_directory(tmp_path: Path) -> None:
    assert load_entries(tmp_path) == []
    assert load_entries(tmp_path / "absent") == []
    assert fingerprint(tmp_path) == fingerprint(tmp_path / "absent")


# Malformed entries ---------------------------------------------------------------------------

GOOD = """---
id: {id}
title: A good entry
kind: {kind}
tags: [testing]
agents: [{agents}]
---
Body text.
"""


def write(root: Path, kind: str, stem: str, text: str) -> Path:
    path = root / kind / f"{stem}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def good(id_: str = "good-entry", kind: str = "best-practice", agents: str = "code") -> str:
    return GOOD.format(id=id_, kind=kind, agents=agents)


def test_a_well_formed_entry_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "best-practice", "good-entry", good())
    [entry] = load_entries(tmp_path)
    assert entry == KnowledgeEntry(
        id="good-entry",
        title="A good entry",
        kind="best-practice",
        tags=("testing",),
        agents=("code",),
        body="Body text.",
        path=path,
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(good().replace("title: A good entry\n", ""), "'title'", id="missing-title"),
        pytest.param(good().replace("tags: [testing]\n", ""), "'tags'", id="missing-tags"),
        pytest.param(good().replace("agents: [code]", "agents: []"), "'agents'", id="no-agents"),
        pytest.param(good(kind="recipe"), "'kind'", id="bad-kind"),
        pytest.param(good(id_="other-name"), "file stem", id="id-not-stem"),
        pytest.param(good(agents="code, frontend"), "'frontend'", id="unknown-agent"),
        pytest.param(
            good().replace("kind: best-practice", "kind: code-template"),
            "directory",
            id="kind-not-directory",
        ),
        pytest.param(good(id_="Good_Entry"), "kebab-case", id="not-kebab"),
        pytest.param("Just a body, no front matter.\n", "front matter", id="no-front-matter"),
        pytest.param(good().replace("tags: [testing]", "tags: [unclosed"), "YAML", id="bad-yaml"),
        pytest.param(good().replace("Body text.\n", ""), "body", id="empty-body"),
        pytest.param(
            good().replace("title: A good entry", "title: [a, b]"), "'title'", id="title-not-string"
        ),
    ],
)
def test_malformed_entry_names_file_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    stem = "Good_Entry" if "Good_Entry" in text else "good-entry"
    path = write(tmp_path, "best-practice", stem, text)
    with pytest.raises(KnowledgeError) as caught:
        load_entries(tmp_path)
    message = str(caught.value)
    assert str(path) in message
    assert problem in message
    assert caught.value.path == path
    assert isinstance(caught.value, ValueError)


def test_duplicate_id_is_rejected(tmp_path: Path) -> None:
    write(tmp_path, "best-practice", "twin", good(id_="twin"))
    write(tmp_path, "code-template", "twin", good(id_="twin", kind="code-template"))
    with pytest.raises(KnowledgeError, match="duplicate id 'twin'") as caught:
        load_entries(tmp_path)
    assert caught.value.path.name == "twin.md"
