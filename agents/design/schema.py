"""From a data model to PostgreSQL: tables, typed columns, foreign keys and their indexes,
the DDL, and notes that say why each table and decision is there.

Column types come from the column's name (money is NUMERIC(12,2), instants TIMESTAMPTZ,
ratings 1-5); default columns for well-known entities come from the knowledge base's schema
templates where one has the table, and from the small table below otherwise.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

import inflect
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from agents.design.model import TENANT_OWNED, DataModel, Entity, Reference, known_as
from agents.design.vocabulary import POSTGRES_RESERVED, UNCOUNTABLE
from memory.knowledge import KnowledgeEntry, load_entries, shipped_entries

__all__ = [
    "Column",
    "Index",
    "SchemaDesign",
    "Table",
    "column_for",
    "design_schema",
    "identifier",
    "schema_notes",
    "table_name",
]


def _words(text: str) -> frozenset[str]:
    """A word set written as one string (long vocabularies stay readable)."""
    return frozenset(text.split())


_PRIMARY_KEY = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
_MONEY = "NUMERIC(12,2)"
_MONEY_WORDS = _words(
    "price amount fee fine total cost balance salary subtotal tax discount deposit "
    "wage budget charge payout refund revenue fare premium"
)
_UNIQUE_WORDS = _words("email username isbn sku slug plate handle")
_INTEGER_WORDS = _words(
    "age year position priority level stock capacity count seats number_of duration"
)
_TEXT_REQUIRED = _words("name title status body")
_DATE_WORDS = _words("date birthday deadline dob")
_MAX_DEFAULT_COLUMNS = 6

_PEOPLE = _words(
    "user customer member patient guest student teacher employee owner client author "
    "doctor vet attendee artist instructor trainer reader patron rider driver courier seller "
    "buyer agent waiter staff worker candidate applicant tester developer nurse pupil contact "
    "passenger tenant landlord policyholder carrier supplier"
)
_TITLED = _words("book post article course task movie album track event recipe film")
# Columns for well-known entities the user gave none for (templates may add more).
_DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "user": ("email", "name"),
    "book": ("title", "isbn"),
    "product": ("name", "price", "sku"),
    "order": ("status", "total"),
    "payment": ("amount", "status"),
    "review": ("rating", "body"),
    "loan": ("loaned_at", "due_date", "returned_at"),
    "fine": ("amount", "paid_at"),
    "post": ("title", "body"),
    "article": ("title", "body"),
    "comment": ("body",),
    "appointment": ("starts_at", "status"),
    "booking": ("starts_at", "ends_at", "status"),
    "reservation": ("starts_at", "ends_at", "status"),
    "rental": ("rented_at", "due_date", "returned_at"),
    "enrollment": ("enrolled_at",),
    "attendance": ("attended_at",),
    "invoice": ("amount", "status", "due_date"),
    "order_item": ("quantity", "unit_price"),
    "line_item": ("quantity", "unit_price"),
    "room": ("number", "price"),
    "class": ("name", "starts_at", "capacity"),
    "event": ("title", "starts_at"),
    "screening": ("starts_at",),
    "ticket": ("price",),
    "pet": ("name", "species"),
    "car": ("make", "plate"),
    "task": ("title", "status", "due_date"),
    "subscription": ("status", "starts_at"),
    "trip": ("started_at", "ended_at", "fare"),
    "vehicle": ("make", "model", "plate"),
    "payslip": ("pay_date", "gross_amount", "net_amount"),
    "policy": ("premium", "starts_on", "ends_on"),
    "claim": ("amount", "status", "filed_at"),
    "account": ("balance", "currency"),
    "transaction": ("amount", "occurred_at"),
    "shipment": ("status", "shipped_at", "delivered_at"),
    "package": ("weight", "tracking_code"),
    "deal": ("title", "amount", "status"),
    "company": ("name",),
    "message": ("body", "sent_at"),
    "stock_level": ("quantity",),
    "menu_item": ("name", "price"),
    "maintenance": ("performed_on", "cost", "notes"),
}
_NO_NAME = _words(
    "follow like vote favorite bookmark visit membership purchase application assignment "
    "registration rating"
)


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    not_null: bool = False
    unique: bool = False
    default: str = ""
    check: str = ""
    references: str = ""  # the parent table

    def ddl(self) -> str:
        parts = [identifier(self.name), self.type]
        if self.not_null:
            parts.append("NOT NULL")
        if self.unique:
            parts.append("UNIQUE")
        if self.default:
            parts.append(f"DEFAULT {self.default}")
        if self.check:
            parts.append(f"CHECK ({self.check})")
        if self.references:
            parts.append(f"REFERENCES {identifier(self.references)} (id)")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Index:
    table: str
    columns: tuple[str, ...]
    why: str
    unique: bool = False

    @property
    def name(self) -> str:
        suffix = "key" if self.unique else "idx"
        words = "_".join(re.sub(r"\W+", "_", c).strip("_") for c in self.columns)
        return f"{self.table}_{words}_{suffix}"

    def ddl(self) -> str:
        unique = "UNIQUE " if self.unique else ""
        columns = ", ".join(identifier(c) for c in self.columns)
        return f"CREATE {unique}INDEX {self.name} ON {identifier(self.table)} ({columns});"


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    entity: Entity
    columns: tuple[Column, ...]
    indexes: tuple[Index, ...]
    unique_pair: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    template: str = ""  # the schema template its default columns came from
    late_references: tuple[tuple[str, str], ...] = ()  # (column, parent) created after it

    def ddl(self) -> str:
        lines = [c.ddl() for c in self.columns]
        if self.unique_pair:
            lines.append(f"UNIQUE ({', '.join(identifier(c) for c in self.unique_pair)})")
        body = ",\n    ".join(lines)
        indexes = "".join(f"\n{index.ddl()}" for index in self.indexes)
        return f"CREATE TABLE {identifier(self.name)} (\n    {body}\n);{indexes}\n"

    def late_ddl(self) -> str:
        return "".join(
            f"ALTER TABLE {identifier(self.name)} ADD FOREIGN KEY ({identifier(column)}) "
            f"REFERENCES {identifier(parent)} (id);\n"
            for column, parent in self.late_references
        )

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True, slots=True)
class SchemaDesign:
    tables: tuple[Table, ...]
    domain: str | None = None

    def sql(self) -> str:
        late = "".join(table.late_ddl() for table in self.tables)
        return "\n".join(table.ddl() for table in self.tables) + (f"\n{late}" if late else "")

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)


_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def identifier(name: str) -> str:
    """A name as PostgreSQL reads it: quoted when it is a reserved word ('order', 'user',
    'end') or not a plain lower-case identifier, so the DDL always runs."""
    if name in POSTGRES_RESERVED or not _IDENTIFIER.fullmatch(name):
        return '"' + name.replace('"', '""')[:63] + '"'
    return name


@functools.cache
def _inflector() -> inflect.engine:
    return inflect.engine()


def table_name(entity: str) -> str:
    """'order_item' -> 'order_items', 'class' -> 'classes', 'bonus' -> 'bonuses', 'staff'
    stays: plural snake_case (the entity's name is already singular)."""
    *head, last = entity.split("_")
    if last in UNCOUNTABLE or last.endswith("ics"):
        return entity
    return "_".join([*head, str(_inflector().plural_noun(last))])


def design_schema(model: DataModel) -> SchemaDesign:
    """Tables for every entity of the model, parents before the tables that reference them."""
    tables = [_table(entity, model) for entity in model.entities]
    return SchemaDesign(tuple(_parents_first(tables)), model.domain)


def _table(entity: Entity, model: DataModel) -> Table:
    name = table_name(entity.name)
    references = tuple(r for r in model.references if r.child == entity.name)
    keys = [
        Column(r.column, "BIGINT", not_null=True, references=table_name(r.parent))
        for r in references
    ]
    attributes, template, extra = _attributes(entity, name)
    taken = {"id", "created_at", *(k.name for k in keys)}
    from_template = {
        c.name: c for c in _template_columns().get(name, ("", ()))[1] if c.name in extra
    }
    columns = [_typed(a, entity.name, from_template.get(a)) for a in attributes if a not in taken]
    pair = tuple(k.name for k in keys) if entity.unique_pair and len(keys) == 2 else ()
    all_columns = (
        Column("id", _PRIMARY_KEY),
        *keys,
        *_unique_once(columns),
        Column("created_at", "TIMESTAMPTZ", not_null=True, default="now()"),
    )
    indexes = tuple(
        Index(name, (k.name,), f"{name}.{k.name} is a foreign key")
        for k in keys
        if not pair or k.name != pair[0]  # UNIQUE (a, b) already leads with a
    )
    return Table(name, entity, all_columns, indexes, pair, references, template)


def _unique_once(columns: Iterable[Column]) -> list[Column]:
    seen: set[str] = set()
    kept = []
    for column in columns:
        if column.name not in seen:
            seen.add(column.name)
            kept.append(column)
    return kept


def _attributes(entity: Entity, table: str) -> tuple[tuple[str, ...], str, tuple[str, ...]]:
    """The user's columns; else the defaults for the entity's kind and its template's
    (returned apart too: they keep the template's types)."""
    if entity.attributes and entity.origin != "link":
        return entity.attributes, "", ()
    own = entity.attributes + _DEFAULT_COLUMNS.get(known_as(entity.name), _kind_defaults(entity))
    template_id, required = _template_columns().get(table, ("", ()))
    extra = tuple(c.name for c in required if c.name not in own)
    room = max(0, _MAX_DEFAULT_COLUMNS - len(own))
    kept = extra[:room]
    return own + kept, template_id if kept else "", kept


def _typed(name: str, entity: str, template: Column | None) -> Column:
    """A column typed from its name; a template's column keeps its type where the name
    says nothing more than TEXT, and its NOT NULL."""
    column = column_for(name, entity)
    if template is None:
        return column
    if column.type == "TEXT":  # the template says more: JSONB, BYTEA, CHAR(3)
        column = replace(column, type=template.type)
    # A copied SKU on an order line repeats; only the template knows which columns are keys.
    return replace(column, not_null=True, unique=template.unique)


def _kind_defaults(entity: Entity) -> tuple[str, ...]:
    if entity.name in _PEOPLE:
        return ("name", "email")
    if entity.origin == "link" or entity.name in _NO_NAME:
        return ()
    return ("title",) if entity.name in _TITLED else ("name",)


def column_for(name: str, entity: str = "") -> Column:
    """A column typed from its name: 'price' NUMERIC(12,2), 'paid_at' TIMESTAMPTZ, ..."""
    words = name.split("_")
    last = words[-1]
    if name == "password":
        return Column("password_hash", "TEXT", not_null=True)
    if last in _MONEY_WORDS and not {"rate", "count", "percent"} & set(words):
        check = "" if last == "balance" else f"{identifier(name)} >= 0"
        return Column(name, _MONEY, not_null=True, check=check)
    if last == "rating" or (name in {"stars", "score"} and entity == "review"):
        return Column(name, "SMALLINT", not_null=True, check=f"{identifier(name)} BETWEEN 1 AND 5")
    if last in {"quantity", "qty"}:
        return Column(name, "INTEGER", not_null=True, check=f"{identifier(name)} > 0")
    if last == "at":
        return Column(name, "TIMESTAMPTZ", not_null=name in {"starts_at", "loaned_at", "rented_at"})
    if last in _DATE_WORDS or last == "on":
        return Column(name, "DATE", not_null=name == "due_date")
    if words[0] in {"is", "has"} or name in {"active", "done", "published", "paid"}:
        return Column(name, "BOOLEAN", not_null=True, default="false")
    if last in _INTEGER_WORDS or last in {"minutes", "seconds"}:
        return Column(name, "INTEGER", check=f"{identifier(name)} >= 0")
    if last in {"weight", "height", "size"}:
        return Column(name, "NUMERIC(10,2)", check=f"{identifier(name)} >= 0")
    if last == "currency":
        return Column(name, "CHAR(3)", not_null=True)
    if last == "id":
        return Column(name, "BIGINT", not_null=True)
    if name in _UNIQUE_WORDS:
        return Column(name, "TEXT", not_null=True, unique=True)
    return Column(name, "TEXT", not_null=name in _TEXT_REQUIRED)


@functools.cache
def _template_columns() -> dict[str, tuple[str, tuple[Column, ...]]]:
    """Each schema template's tables: their required data columns (NOT NULL, no default,
    not a key), with integer cents read as the money they hold ('total_cents' -> 'total')."""
    found: dict[str, tuple[str, tuple[Column, ...]]] = {}
    for entry in load_entries():
        if entry.kind == "schema-template":
            for table, columns in _template_tables(entry):
                found.setdefault(table, (entry.id, columns))
    return found


def _template_tables(entry: KnowledgeEntry) -> list[tuple[str, tuple[Column, ...]]]:
    tables = []
    for block in re.findall(r"```sql\n(.*?)```", entry.body, re.DOTALL):
        creates = [s for s in block.split(";") if s.strip().upper().startswith("CREATE TABLE")]
        try:
            statements = [sqlglot.parse_one(s, read="postgres") for s in creates]
        except ParseError:
            continue
        for statement in statements:
            if isinstance(statement, exp.Create) and isinstance(statement.this, exp.Schema):
                target = statement.this.this
                if isinstance(target, exp.Table):
                    tables.append((target.name, _required(statement)))
    return tables


def _required(statement: exp.Create) -> tuple[Column, ...]:
    names = []
    for column in statement.find_all(exp.ColumnDef):
        kinds = [c.args.get("kind") for c in column.constraints]
        required = any(isinstance(k, exp.NotNullColumnConstraint) for k in kinds)
        keyed = any(isinstance(k, exp.DefaultColumnConstraint | exp.Reference) for k in kinds)
        name = column.name.removesuffix("_cents")
        unique = any(isinstance(k, exp.UniqueColumnConstraint) for k in kinds)
        data_type = column.args.get("kind")
        type_name = data_type.sql(dialect="postgres") if data_type is not None else "TEXT"
        if required and not keyed and name != "id" and not name.endswith("_id"):
            names.append(Column(name, type_name, not_null=True, unique=unique))
    return tuple(names)


def _parents_first(tables: list[Table]) -> list[Table]:
    """Order tables so each one's parents are created before it; a cycle keeps its order and
    its forward references become ALTER TABLE statements (see ``_deferred``)."""
    by_name = {t.name: t for t in tables}
    done: list[Table] = []
    visiting: set[str] = set()

    def visit(table: Table) -> None:
        if table in done or table.name in visiting:
            return
        visiting.add(table.name)
        for column in table.columns:
            parent = by_name.get(column.references)
            if parent is not None and parent.name != table.name:
                visit(parent)
        visiting.discard(table.name)
        done.append(table)

    for table in tables:
        visit(table)
    return _deferred(done)


def _deferred(tables: list[Table]) -> list[Table]:
    """A reference to a table not created yet (a cycle) moves from the CREATE TABLE to an
    ALTER TABLE after every table exists."""
    created: set[str] = set()
    kept = []
    for table in tables:
        created.add(table.name)
        late = tuple(
            (c.name, c.references)
            for c in table.columns
            if c.references and c.references not in created
        )
        columns = tuple(
            replace(c, references="") if (c.name, c.references) in late else c
            for c in table.columns
        )
        kept.append(replace(table, columns=columns, late_references=late))
    return kept


# The practices a design follows, cited by id when the schema has what they are about.
_PRACTICES: tuple[tuple[str, str], ...] = (
    ("money-not-float", "money"),
    ("index-foreign-keys", "foreign keys"),
    ("utc-timestamps", "timestamps"),
    ("database-constraints", "constraints"),
)


def schema_notes(design: SchemaDesign, request: str) -> str:
    """schema.md: each table and why it is there, then the practices the design follows."""
    lines = ["# Schema notes", "", f"Designed from the request: “{request.strip()}”.", ""]
    for table in design.tables:
        lines += [f"## `{table.name}`", "", _why_table(table, design), ""]
        lines += [
            f"- `{table.name}.{r.column}` references `{table_name(r.parent)}`: {r.why}."
            for r in table.references
        ]
        if table.unique_pair:
            lines.append(f"- `UNIQUE ({', '.join(table.unique_pair)})`: one row per pair.")
        if table.template:
            lines.append(f"- Default columns follow the `{table.template}` schema template.")
        lines.append("")
    lines += ["## Decisions", ""]
    entries = shipped_entries()
    for entry_id, topic in _PRACTICES:
        if entry_id in entries and _applies(topic, design):
            lines.append(
                f"- **{topic.capitalize()}** (`{entry_id}`): {_first_sentence(entries[entry_id])}"
            )
    if any(r.why.startswith(TENANT_OWNED) for t in design.tables for r in t.references):
        lines.append(
            "- **Tenancy** (`multi-tenant-tables`): every tenant-owned table reaches its "
            "tenant through its foreign keys. Lead their indexes and unique keys with it, "
            "and turn on row-level security, so a query that forgets its filter sees no "
            "other tenant's rows."
        )
    return "\n".join(lines).rstrip() + "\n"


def _why_table(table: Table, design: SchemaDesign) -> str:
    entity = table.entity
    parents = " and ".join(f"`{table_name(r.parent)}`" for r in table.references)
    if entity.origin == "link":
        return f"A table for the relation between {parents}: one row each time it happens."
    if entity.origin == "implied":
        return "Not named in the request, but a table there needs it (see its references)."
    if entity.origin == "domain":
        return f"A core table of a {design.domain} schema, added because the request named few."
    return "Named in the request."


def _applies(topic: str, design: SchemaDesign) -> bool:
    columns = [c for t in design.tables for c in t.columns]
    if topic == "money":
        return any(c.type == _MONEY for c in columns)
    if topic == "foreign keys":
        return any(c.references for c in columns) or any(t.late_references for t in design.tables)
    if topic == "constraints":
        return any(c.check or c.unique for c in columns)
    return True


def _first_sentence(entry: KnowledgeEntry) -> str:
    text = " ".join(line for line in entry.body.split("\n") if line and not line.startswith("```"))
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return (match.group(1) if match else entry.title).replace("**", "")
