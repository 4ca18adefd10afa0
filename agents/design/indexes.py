"""Index advice on the user's own tables: 'which indexes for orders(id, customer_id, status,
created_at)?', 'my users table (id, email, created_at), login by email', a pasted CREATE TABLE.

Each advice is a CREATE INDEX statement and the reason for it, read from the columns'
names and from what the request says it looks rows up by.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

__all__ = [
    "IndexAdvice",
    "UserTable",
    "advise",
    "asks_about_indexes",
    "indexes_notes",
    "indexes_sql",
    "user_tables",
]

_LISTED = re.compile(r"\b([A-Za-z_]\w*)(?:\s+table)?\s*\(([^()]*)\)")
_CREATE = re.compile(r"CREATE\s+TABLE\b.*?\)\s*;", re.IGNORECASE | re.DOTALL)
# The index the user asks for: 'a composite index on orders(user_id, created_at)'.
# ('which indexes for orders(id, status)?' lists a table's columns instead.)
_ASKED = re.compile(
    r"(?:\bindex\s+(?:on|over)|\b(?:composite|compound|multi-?column|covering)\s+index\s+for)"
    r"\s+(?:the\s+|my\s+)?([A-Za-z_]\w*)(?:\s+table)?\s*\(([^()]*)\)",
    re.IGNORECASE,
)
_RANGE_COLUMN = re.compile(r"(?:_at|_on|date|time|timestamp)$")
_LOOKUP = re.compile(r"\b(?:by|on|filter(?:ing)?\s+(?:by|on)|search(?:ing)?\s+by)\s+(\w+)")
_STATUS_WORDS = ("status", "state")
_UNIQUE_WORDS = ("email", "username", "slug", "sku", "isbn")


@dataclass(frozen=True, slots=True)
class UserTable:
    """A table the user has: its columns, and which of them are already keys."""

    name: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...] = ("id",)
    unique: tuple[str, ...] = ()
    references: tuple[str, ...] = ()  # columns declared REFERENCES


@dataclass(frozen=True, slots=True)
class IndexAdvice:
    table: str
    columns: tuple[str, ...]  # may hold an expression: 'lower(email)', 'created_at DESC'
    why: str
    unique: bool = False

    @property
    def name(self) -> str:
        words = "_".join(
            re.sub(r"\W+", "_", c.replace(" DESC", "")).strip("_") for c in self.columns
        )
        return f"{self.table}_{words}_{'key' if self.unique else 'idx'}"

    def ddl(self) -> str:
        unique = "UNIQUE " if self.unique else ""
        listed = ", ".join(self.columns)
        return f"CREATE {unique}INDEX IF NOT EXISTS {self.name} ON {self.table} ({listed});"


def asks_about_indexes(request: str, files: tuple[tuple[str, str], ...] = ()) -> bool:
    """A question about indexes on tables the user describes or pastes."""
    mentions = re.search(r"\bindex(es|ed|ing)?\b|\bindices\b", request, re.IGNORECASE)
    return bool(mentions) and bool(user_tables(request, files))


def user_tables(request: str, files: tuple[tuple[str, str], ...] = ()) -> tuple[UserTable, ...]:
    """The tables a request pastes (CREATE TABLE) or lists ('orders(id, status)'), and
    those in SQL files sent with it."""
    sources = [request, *(text for name, text in files if name.endswith(".sql"))]
    found: dict[str, UserTable] = {}
    for source in sources:
        for table in _created(source):
            found.setdefault(table.name, table)
        without_ddl = _CREATE.sub(" ", source)
        for match in _LISTED.finditer(without_ddl):
            columns = tuple(_words(match.group(2)))
            name = match.group(1).lower()
            if columns and name not in {"on", "index", "key"}:
                # An unlisted id is not assumed to be there: the columns may be only the
                # ones an index is asked for.
                primary = ("id",) if "id" in columns else ()
                found.setdefault(name, UserTable(name, columns, primary))
    return tuple(found.values())


def _words(listed: str) -> list[str]:
    return [w.strip().split()[0].lower() for w in listed.split(",") if w.strip()]


def _created(text: str) -> list[UserTable]:
    tables = []
    for statement in _CREATE.findall(text):
        try:
            parsed = sqlglot.parse_one(statement, read="postgres")
        except (ParseError, TokenError):
            continue
        schema = parsed.this if isinstance(parsed, exp.Create) else None
        if isinstance(schema, exp.Schema) and isinstance(schema.this, exp.Table):
            tables.append(_read_create(schema.this.name.lower(), parsed))
    return tables


def _read_create(name: str, create: exp.Expr) -> UserTable:
    columns, primary, unique, references = [], [], [], []
    for column in create.find_all(exp.ColumnDef):
        columns.append(column.name.lower())
        for constraint in column.constraints:
            kind = constraint.args.get("kind")
            if isinstance(kind, exp.PrimaryKeyColumnConstraint):
                primary.append(column.name.lower())
            elif isinstance(kind, exp.UniqueColumnConstraint):
                unique.append(column.name.lower())
            elif isinstance(kind, exp.Reference):
                references.append(column.name.lower())
    for key in create.find_all(exp.PrimaryKey):
        primary += [e.name.lower() for e in key.expressions]
    for foreign in create.find_all(exp.ForeignKey):
        references += [e.name.lower() for e in foreign.expressions]
    return UserTable(name, tuple(columns), tuple(primary), tuple(unique), tuple(references))


def advise(tables: tuple[UserTable, ...], request: str) -> tuple[IndexAdvice, ...]:
    """The indexes each table needs and why, those the request asks for first; none on the
    primary key (it has one), none that an asked-for index already serves."""
    looked_up = {m.group(1).lower() for m in _LOOKUP.finditer(request)}
    asked = _asked(request)
    advice: list[IndexAdvice] = []
    for table in tables:
        wanted = [_asked_advice(table, columns) for name, columns in asked if name == table.name]
        served = [a.columns for a in wanted]
        advice += wanted
        advice += [
            a for a in _table_advice(table, looked_up) if not any(_leads(a, s) for s in served)
        ]
    return tuple(advice)


def _asked(request: str) -> list[tuple[str, tuple[str, ...]]]:
    """The indexes the request asks for by their columns: (table, columns in its order)."""
    return [
        (m.group(1).lower(), columns)
        for m in _ASKED.finditer(request)
        if (columns := tuple(_words(m.group(2))))
    ]


def _asked_advice(table: UserTable, columns: tuple[str, ...]) -> IndexAdvice:
    first = columns[0]
    if len(columns) == 1:
        why = f"the index asked for: lookups by `{first}` read it instead of the table"
    else:
        rest = ", ".join(f"`{c}`" for c in columns[1:])
        why = (
            f"the index asked for, in its order: `{first}` first, then {rest}. It serves "
            f"lookups by `{first}`, and by `{first}` with a condition or an order on {rest}; "
            f"not lookups by {rest} alone (an index is read from its first column)"
        )
    if first in table.references or (first.endswith("_id") and first != "id"):
        why += f"; as its first column, `{first}` (a foreign key) needs no index of its own"
    equal = next((c for c in columns[1:] if not _RANGE_COLUMN.search(c)), None)
    if _RANGE_COLUMN.search(first) and equal is not None:
        why += (
            f". If queries match `{equal}` exactly and take a range of `{first}`, put "
            f"`{equal}` first: the rows wanted then lie in one stretch of the index"
        )
    return IndexAdvice(table.name, columns, why)


def _leads(advice: IndexAdvice, served: tuple[str, ...]) -> bool:
    """Whether an index on ``served`` already does what ``advice`` would: its leading
    columns are the advice's (a B-tree reads as well backwards, so DESC alone is no other)."""
    wanted = tuple(c.removesuffix(" DESC") for c in advice.columns)
    return not advice.unique and served[: len(wanted)] == wanted


def _table_advice(table: UserTable, looked_up: set[str]) -> list[IndexAdvice]:
    keyed = {*table.primary_key[:1], *table.unique}
    found: list[IndexAdvice] = []
    for column in table.columns:
        if column in keyed:
            continue
        if column in table.references or (column.endswith("_id") and column != "id"):
            why = (
                f"`{column}` is a foreign key: PostgreSQL does not index it, and every join "
                f"to its parent and every delete of a parent row would scan `{table.name}`"
            )
            found.append(IndexAdvice(table.name, (column,), why))
        elif column in _UNIQUE_WORDS:
            lookup = column if column != "email" else "lower(email)"
            why = (
                f"lookups by `{column}` (login) find one row; UNIQUE also stops two accounts "
                "with the same one" + (", whatever its case" if column == "email" else "")
            )
            found.append(IndexAdvice(table.name, (lookup,), why, unique=True))
    status = next((c for c in table.columns if c in _STATUS_WORDS), None)
    if status is not None and "created_at" in table.columns:
        why = (
            f"lists filtered by `{status}` and ordered by newest first read one index range "
            f"in order: `{status}` first (equality), then `created_at` (the sort)"
        )
        found.append(IndexAdvice(table.name, (status, "created_at DESC"), why))
    covered = {w for a in found for c in a.columns for w in re.findall(r"\w+", c)}
    for column in table.columns:
        if column in looked_up and column not in keyed and column not in covered:
            why = f"the request looks rows up by `{column}`"
            found.append(IndexAdvice(table.name, (column,), why))
    return found


def indexes_sql(advice: tuple[IndexAdvice, ...]) -> str:
    return "".join(f"-- {a.why.split(':')[0]}\n{a.ddl()}\n" for a in advice)


def indexes_notes(tables: tuple[UserTable, ...], advice: tuple[IndexAdvice, ...]) -> str:
    """indexes.md: per table, each index and its reason, and what needs none."""
    lines = ["# Index advice", ""]
    for table in tables:
        lines += [f"## `{table.name}` ({', '.join(table.columns)})", ""]
        for item in (a for a in advice if a.table == table.name):
            lines.append(f"- `{item.ddl()}`: {item.why}.")
        if table.primary_key:
            key = ", ".join(table.primary_key)
            lines.append(f"- No index on `{key}`: the primary key already has one.")
        for column in table.unique:
            lines.append(f"- No index on `{column}`: its UNIQUE constraint already has one.")
        lines.append("")
    lines.append(
        "Each index costs writes and space: add the ones your queries use, and check with "
        "`EXPLAIN ANALYZE` on real data (`index-foreign-keys`)."
    )
    return "\n".join(lines) + "\n"
