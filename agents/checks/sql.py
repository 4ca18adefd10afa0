"""SQL: the ``sqlglot`` parse for a dialect, then schema review of the DDL.

The review reads CREATE TABLE, ALTER TABLE and CREATE INDEX statements of one file:
tables without a primary key, foreign keys no index leads with (every join and every
ON DELETE on the parent then scans the child table), and money held in binary floating
point. Positions come from the identifiers' ``meta`` that sqlglot records while parsing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from agents.checks.issues import Issue

DEFAULT_DIALECT = "postgres"

# What counts as a SQL statement; a bare expression ("SELEC * FRM x") does not. Commands are
# valid SQL that sqlglot passes through unparsed (CREATE EXTENSION, CREATE POLICY).
STATEMENTS = (
    exp.Query,
    exp.DML,
    exp.DDL,
    exp.Alter,
    exp.Drop,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Set,
    exp.Comment,
    exp.Grant,
    exp.Revoke,
    exp.Use,
    exp.Command,
)
_FLOATS = {exp.DataType.Type.FLOAT, exp.DataType.Type.DOUBLE}
_MONEY_WORDS = {
    "amount",
    "balance",
    "budget",
    "cents",
    "charge",
    "cost",
    "credit",
    "debit",
    "discount",
    "fee",
    "fees",
    "income",
    "money",
    "payment",
    "payout",
    "price",
    "refund",
    "revenue",
    "salary",
    "subtotal",
    "tax",
    "total",
    "wage",
    "wages",
}
# A ratio or a count next to a money word is not money: tax_rate, total_count.
_NOT_MONEY_WORDS = {"count", "percent", "pct", "qty", "quantity", "rate", "ratio", "weight"}


class _NoQuotedSql(logging.Filter):
    """sqlglot logs the SQL it falls back on ('...' contains unsupported syntax); the SQL
    checked here may hold a password (CREATE USER ... PASSWORD), so the log gets no text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "contains unsupported syntax" in record.getMessage():
            record.msg, record.args = "SQL with unsupported syntax read as a command", None
        return True


logging.getLogger("sqlglot").addFilter(_NoQuotedSql())


def is_dialect(name: str) -> bool:
    return sqlglot.Dialect.get(name) is not None


def check_sql(
    name: str, text: str, dialect: str = DEFAULT_DIALECT
) -> tuple[list[Issue], dict[str, list[str]]]:
    """Issues and the tables the file creates; a parse error stops there."""
    try:
        parsed = sqlglot.parse(text, read=dialect)
    except ParseError as error:
        issues = [
            Issue(
                name,
                _opt_int(e.get("line")),
                _opt_int(e.get("col")),
                "error",
                "sql/syntax",
                str(e.get("description") or "syntax error"),
            )
            for e in error.errors
        ] or [Issue(name, None, None, "error", "sql/syntax", "syntax error")]
        return issues, {}
    except TokenError:
        # The error's text quotes the SQL around the failure; it stays out of the message.
        message = "cannot tokenize the SQL (an unterminated string or quoted name?)"
        return [Issue(name, None, None, "error", "sql/syntax", message)], {}
    statements = [s for s in parsed if s is not None]
    if not statements:
        return [Issue(name, None, None, "error", "sql/syntax", "no SQL statement found")], {}
    # sqlglot reads a bare expression ("SELEC * FRM x") as a statement; only real
    # statements count. Commands are syntax sqlglot passes through unparsed (CREATE EXTENSION).
    stray = [s for s in statements if not isinstance(s, STATEMENTS)]
    if stray:
        return [
            Issue(name, *_position(s, text), "error", "sql/syntax", "not a SQL statement")
            for s in stray
        ], {}
    schema = _Schema(name, text, dialect)
    for statement in statements:
        schema.read(statement)
    return schema.issues(), {"tables": [t.name for t in schema.created]}


@dataclass(slots=True)
class _Table:
    name: str
    line: int | None
    column: int | None
    has_primary_key: bool = False
    # Column lists an index starts with: the primary key, UNIQUE constraints, CREATE INDEX.
    indexed: list[tuple[str, ...]] = field(default_factory=list)
    # (columns, referenced table, line, column) for every foreign key.
    foreign_keys: list[tuple[tuple[str, ...], str, int | None, int | None]] = field(
        default_factory=list
    )

    def covers(self, columns: tuple[str, ...]) -> bool:
        return any(index[: len(columns)] == columns for index in self.indexed)


class _Schema:
    def __init__(self, file: str, text: str, dialect: str) -> None:
        self.file = file
        self.text = text
        self.dialect = dialect
        self.tables: dict[str, _Table] = {}
        self.created: list[_Table] = []
        self.money: list[Issue] = []

    def table(self, node: exp.Table) -> _Table:
        key = node.name.lower()
        if key not in self.tables:
            self.tables[key] = _Table(node.name, *_position(node.this, self.text))
        return self.tables[key]

    def read(self, statement: exp.Expr) -> None:
        kind = str(statement.args.get("kind") or "").upper()
        if isinstance(statement, exp.Create) and kind == "TABLE":
            schema = statement.this
            if isinstance(schema, exp.Schema) and isinstance(schema.this, exp.Table):
                table = self.table(schema.this)
                self.created.append(table)
                self.read_definitions(table, statement)
        elif isinstance(statement, exp.Create) and kind == "INDEX":
            index = statement.this
            target = index.args.get("table") if isinstance(index, exp.Index) else None
            params = index.args.get("params") if isinstance(index, exp.Index) else None
            if isinstance(target, exp.Table) and isinstance(params, exp.IndexParameters):
                columns = tuple(
                    c.name.lower() for o in params.args.get("columns") or [] for c in [o.this]
                )
                self.table(target).indexed.append(columns)
        elif isinstance(statement, exp.Alter) and isinstance(statement.this, exp.Table):
            self.read_definitions(self.table(statement.this), statement)

    def read_definitions(self, table: _Table, statement: exp.Expr) -> None:
        for column in statement.find_all(exp.ColumnDef):
            self.read_column(table, column)
        for key in statement.find_all(exp.PrimaryKey):
            table.has_primary_key = True
            table.indexed.append(_names(key.expressions))
        for unique in statement.find_all(exp.UniqueColumnConstraint):
            if isinstance(unique.this, exp.Schema):  # table level; column level is read above
                table.indexed.append(_names(unique.this.expressions))
        for foreign in statement.find_all(exp.ForeignKey):
            reference = foreign.args.get("reference")
            columns = _names(foreign.expressions)
            first = foreign.expressions[0] if foreign.expressions else foreign
            line, col = _position(first, self.text)
            table.foreign_keys.append((columns, _referenced(reference), line, col))

    def read_column(self, table: _Table, column: exp.ColumnDef) -> None:
        name = column.name.lower()
        line, col = _position(column.this, self.text)
        for constraint in column.constraints:
            kind = constraint.args.get("kind")
            if isinstance(kind, exp.PrimaryKeyColumnConstraint):
                table.has_primary_key = True
                table.indexed.append((name,))
            elif isinstance(kind, exp.UniqueColumnConstraint):
                table.indexed.append((name,))
            elif isinstance(kind, exp.Reference):
                table.foreign_keys.append(((name,), _referenced(kind), line, col))
        data_type = column.args.get("kind")
        if not isinstance(data_type, exp.DataType) or data_type.this not in _FLOATS:
            return
        if _is_money(column.name):
            type_name = data_type.sql(dialect=self.dialect).upper()
            self.money.append(
                Issue(
                    self.file,
                    line,
                    col,
                    "error",
                    "sql/money-as-float",
                    f"{table.name}.{column.name} holds money as {type_name}; "
                    "binary floating point cannot store cents exactly: use NUMERIC(12,2) "
                    "or integer cents",
                )
            )

    def issues(self) -> list[Issue]:
        issues = list(self.money)
        for table in self.created:
            if not table.has_primary_key:
                issues.append(
                    Issue(
                        self.file,
                        table.line,
                        table.column,
                        "warning",
                        "sql/no-primary-key",
                        f"table {table.name} has no primary key",
                    )
                )
        for table in self.tables.values():
            for columns, parent, line, col in table.foreign_keys:
                if columns and not table.covers(columns):
                    listed = ", ".join(columns)
                    issues.append(
                        Issue(
                            self.file,
                            line,
                            col,
                            "warning",
                            "sql/unindexed-foreign-key",
                            f"foreign key {table.name}({listed}) -> {parent} has no index; "
                            f"add CREATE INDEX ON {table.name} ({listed}) so joins and "
                            "deletes on the parent do not scan the table",
                        )
                    )
        return issues


def _names(nodes: list[exp.Expr]) -> tuple[str, ...]:
    return tuple(n.name.lower() for n in nodes)


def _referenced(reference: object) -> str:
    if isinstance(reference, exp.Reference):
        target = reference.this
        table = target.this if isinstance(target, exp.Schema) else target
        if isinstance(table, exp.Table):
            return table.name
    return "?"


def _is_money(column: str) -> bool:
    # snake_case and camelCase both split into words: unitPrice -> unit, price.
    words = set(re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", column).lower().split("_"))
    return bool(words & _MONEY_WORDS) and not words & _NOT_MONEY_WORDS


def _position(node: exp.Expr | None, text: str) -> tuple[int | None, int | None]:
    """Line and column (from 1) of the first identifier in a node, from sqlglot's meta."""
    if node is None:
        return None, None
    identifier = node if isinstance(node, exp.Identifier) else node.find(exp.Identifier)
    meta = identifier.meta if identifier is not None else {}
    line, start = meta.get("line"), meta.get("start")
    if not isinstance(line, int):
        return None, None
    if not isinstance(start, int):
        return line, None
    return line, start - (text.rfind("\n", 0, start) + 1) + 1


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) else None
