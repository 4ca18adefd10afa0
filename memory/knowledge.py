"""The curated knowledge base shipped in the repo: patterns, schema and code templates, practices.

One Markdown file per entry under ``knowledge/<kind>/<id>.md``, with a YAML front matter block
(``id``, ``title``, ``kind``, ``tags``, ``agents``) and a Markdown body. The specialists retrieve
entries by similarity (see ``memory.vectors``) and cite them by id; ``fingerprint`` lets callers
re-index only when the files change.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

KNOWLEDGE_DIR = Path(__file__).parent / "knowledge"

KINDS: tuple[str, ...] = (
    "architecture-pattern",
    "schema-template",
    "code-template",
    "best-practice",
)
AGENTS: tuple[str, ...] = ("architecture", "database", "code", "validator")

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL)
_ID = re.compile(r"\A[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_REQUIRED = ("id", "title", "kind", "tags", "agents")


class KnowledgeError(ValueError):
    """A malformed knowledge entry; the message names the file and the problem."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True, slots=True)
class KnowledgeEntry:
    id: str
    title: str
    kind: str
    tags: tuple[str, ...]
    agents: tuple[str, ...]
    body: str
    path: Path

    @property
    def text(self) -> str:
        """The title and the body: what is embedded and what is cited."""
        return f"{self.title}\n\n{self.body}"

    def excerpt(self, max_chars: int) -> str:
        """The text cut to at most ``max_chars`` characters, at a word boundary when it is cut."""
        text = " ".join(self.text.split())
        if max_chars <= 0:
            return ""
        if len(text) <= max_chars:
            return text
        if max_chars == 1:
            return "…"
        cut = text[: max_chars - 1]
        space = cut.rfind(" ")
        if space > max_chars // 2:
            cut = cut[:space]
        return cut.rstrip() + "…"


def load_entries(directory: Path = KNOWLEDGE_DIR) -> list[KnowledgeEntry]:
    """Every entry under ``directory``, validated and sorted by id."""
    entries: list[KnowledgeEntry] = []
    seen: dict[str, Path] = {}
    for path in _entry_files(directory):
        entry = _parse(path)
        if entry.id in seen:
            raise KnowledgeError(path, f"duplicate id {entry.id!r} (also in {seen[entry.id]})")
        seen[entry.id] = path
        entries.append(entry)
    return sorted(entries, key=lambda entry: entry.id)


@functools.cache
def shipped_entries() -> Mapping[str, KnowledgeEntry]:
    """The entries shipped in the repo, by id: read once a process (they ship with it)."""
    return {entry.id: entry for entry in load_entries()}


def fingerprint(directory: Path = KNOWLEDGE_DIR) -> str:
    """A sha256 hex digest over the relative paths and contents of every entry file."""
    digest = hashlib.sha256()
    for path in _entry_files(directory):
        relative = path.relative_to(directory).as_posix().encode()
        content = path.read_bytes()
        for part in (relative, content):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()


def _entry_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        (path for path in directory.rglob("*.md") if path.is_file()),
        key=lambda path: path.relative_to(directory).as_posix(),
    )


def _parse(path: Path) -> KnowledgeEntry:
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KnowledgeError(path, f"cannot read the file: {exc}") from exc
    match = _FRONT_MATTER.match(raw)
    if match is None:
        raise KnowledgeError(path, "no front matter block (a '---' line, YAML, a '---' line)")
    try:
        meta: Any = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise KnowledgeError(path, f"front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise KnowledgeError(path, "front matter is not a mapping")
    for field in _REQUIRED:
        if meta.get(field) in (None, "", []):
            raise KnowledgeError(path, f"missing field {field!r}")

    id_ = _string(path, meta, "id")
    if not _ID.match(id_):
        raise KnowledgeError(path, f"field 'id' {id_!r} is not kebab-case")
    if id_ != path.stem:
        raise KnowledgeError(path, f"field 'id' {id_!r} does not equal the file stem {path.stem!r}")
    kind = _string(path, meta, "kind")
    if kind not in KINDS:
        raise KnowledgeError(path, f"field 'kind' {kind!r} is not one of {', '.join(KINDS)}")
    if path.parent.name != kind:
        raise KnowledgeError(
            path, f"field 'kind' {kind!r} does not match the directory {path.parent.name!r}"
        )
    agents = _strings(path, meta, "agents")
    unknown = [agent for agent in agents if agent not in AGENTS]
    if unknown:
        raise KnowledgeError(
            path, f"field 'agents' names unknown agent(s) {', '.join(map(repr, unknown))}"
        )
    body = match.group(2).strip()
    if not body:
        raise KnowledgeError(path, "the body is empty")
    return KnowledgeEntry(
        id=id_,
        title=_string(path, meta, "title"),
        kind=kind,
        tags=_strings(path, meta, "tags"),
        agents=agents,
        body=body,
        path=path,
    )


def _string(path: Path, meta: dict[str, Any], field: str) -> str:
    value = meta[field]
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeError(path, f"field {field!r} must be a non-empty string")
    return value.strip()


def _strings(path: Path, meta: dict[str, Any], field: str) -> tuple[str, ...]:
    value = meta[field]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise KnowledgeError(path, f"field {field!r} must be a list of non-empty strings")
    items = tuple(v.strip() for v in value)
    if len(set(items)) != len(items):
        raise KnowledgeError(path, f"field {field!r} lists an item twice")
    return items
