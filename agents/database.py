"""The database specialist: the PostgreSQL schema the request describes, and why it is so.

It reads the entities, attributes and relations from the request itself
(``agents.design.entities``), designs the tables (``agents.design.schema``) and explains them
from the request and the knowledge base; a question about the user's own tables gets index
advice instead (``agents.design.indexes``). No model writes any of it: a 135M model's DDL
does not parse and its prose about a schema is not reliable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from agents.components import schema_sql
from agents.design import (
    DataModel,
    Entity,
    Index,
    SchemaDesign,
    Table,
    advise,
    asks_about_indexes,
    asks_for_explanation,
    column_for,
    design_schema,
    indexes_notes,
    indexes_sql,
    read_model,
    schema_notes,
    table_name,
    user_tables,
)
from agents.explanations import entry_section, explanation_markdown, relevant_knowledge
from agents.specialist import SpecialistExecutor, Work
from inference.language import singular, snake
from memory.catalogue import SERVICES, Component

__all__ = ["DatabaseExecutor", "apply_changes", "design_for"]

_ADD_COLUMN = re.compile(
    r"\badd\s+(?:an?\s+|the\s+)?([\w ]+?)\s+(?:column|field)s?"
    r"(?:\s+(?:to|on|in)\s+(?:the\s+)?(\w+))?",
    re.IGNORECASE,
)
_DROP_COLUMN = re.compile(
    r"\b(?:drop|remove|delete)\s+(?:the\s+)?([\w ]+?)\s+(?:column|field)s?"
    r"(?:\s+(?:from|on|in)\s+(?:the\s+)?(\w+))?",
    re.IGNORECASE,
)
_ADD_TABLE = re.compile(
    r"\badd\s+(?:an?\s+|the\s+)?(?:(?:table|entity)\s+(?:for\s+)?(\w+)|(\w+)\s+(?:table|entity))",
    re.IGNORECASE,
)
_GENERIC_COMPONENTS = frozenset({"app", "app_service", "application"})


_WHAT_IT_DOES = (
    "The database agent designs schemas from the entities a request names, and advises "
    "indexes for the tables you describe."
)


class DatabaseExecutor(SpecialistExecutor):
    agent_id = "database"
    title = "The database agent"

    async def work(self, work: Work) -> str:
        order = work.order
        step = order.step
        if step is not None and _catalogued(step.component):
            return await self._component(work, str(step.component))
        files = tuple((f.name, f.text) for f in order.files)
        if asks_about_indexes(order.request, files) or re.search(
            r"create\s+table", order.request, re.IGNORECASE
        ):
            return await self._indexes(work, files)
        if asks_for_explanation(order.request):
            return await self._explain(work)
        return await self._design(work)

    async def _explain(self, work: Work) -> str:
        """A comparison or an explanation: what the knowledge base has on it."""
        relevant = relevant_knowledge(work.context, work.order.request)
        sections = [s for s in map(entry_section, relevant) if s]
        document = explanation_markdown(work.order.request, _WHAT_IT_DOES, sections)
        await work.send("answer.md", document, "text/markdown")
        if not sections:
            return "No entry of the knowledge base answers this question; see answer.md."
        return f"Answered from {len(sections)} knowledge-base entries in answer.md."

    async def _design(self, work: Work) -> str:
        design = design_for(work.order.request, work.order.changes)
        names = [t.name for t in design.tables]
        await work.say(f"Modelling {len(names)} tables: {', '.join(names)}.")
        writer = work.writer("schema.sql", "application/sql")
        for statement in design.sql().split("\n\n"):  # one chunk a table, as a canvas redraws
            await writer.write(statement + "\n\n")
        await writer.close()
        notes = schema_notes(design, work.order.request) + work.references
        await work.send("schema.md", notes, "text/markdown")
        return f"Schema ready: {len(names)} tables in schema.sql, with notes in schema.md."

    async def _indexes(self, work: Work, files: tuple[tuple[str, str], ...]) -> str:
        tables = user_tables(work.order.request, files)
        if not tables:
            raise ValueError("no table could be read from the request (name it with its columns)")
        advice = advise(tables, work.order.request)
        names = ", ".join(t.name for t in tables)
        await work.say(f"Reading your tables ({names}) for the indexes they need.")
        await work.send("indexes.sql", indexes_sql(advice), "application/sql")
        await work.send("indexes.md", indexes_notes(tables, advice), "text/markdown")
        return f"Index advice ready: {len(advice)} indexes in indexes.sql, reasons in indexes.md."

    async def _component(self, work: Work, module: str) -> str:
        """One component's tables, as one file of the progressive plan."""
        instructions = work.order.changes.get("instructions", "")
        services = [_changed(c, instructions) for c in SERVICES if c.module == module]
        schema = schema_sql(services)
        name = f"db/{module}.sql"
        await work.say(f"Modelling the {services[0].name}'s tables in {name}.")
        writer = work.writer(name, "application/sql")
        for statement in schema.split("\n\n"):
            await writer.write(statement + "\n\n")
        await writer.close()
        return f"Schema ready: {name}."


def _changed(component: Component, instructions: str) -> Component:
    """A catalogue component's tables with a step change's columns added and dropped."""
    tables = list(component.tables)
    names = [t.name for t in tables]
    for match in _ADD_COLUMN.finditer(instructions):
        name, table = snake(match.group(1)), tables[_table_index(names, match.group(2))]
        if name and not any(c.split()[0] == name for c in table.columns):
            ddl = column_for(name, singular(table.name)).ddl()
            tables[names.index(table.name)] = replace(table, columns=(*table.columns, ddl))
    for match in _DROP_COLUMN.finditer(instructions):
        name = snake(match.group(1))
        for at in _targets(names, match.group(2)):
            kept = tuple(c for c in tables[at].columns if c.split()[0] != name or name == "id")
            tables[at] = replace(tables[at], columns=kept)
    return replace(component, tables=tuple(tables))


def _catalogued(component: str | None) -> bool:
    """A catalogue module with tables of its own; the generic one is designed from the request."""
    if component is None or component in _GENERIC_COMPONENTS:
        return False
    return any(c.module == component and c.tables for c in SERVICES)


def design_for(request: str, changes: Mapping[str, str]) -> SchemaDesign:
    """The schema for a request, with a step modification's changes applied."""
    requirements = changes.get("requirements", "")
    text = f"{request}. {requirements}" if requirements else request
    instructions = changes.get("instructions", "")
    model = _with_new_tables(read_model(text), instructions)
    return apply_changes(design_schema(model), instructions)


def _with_new_tables(model: DataModel, instructions: str) -> DataModel:
    added = [
        Entity(singular(snake(m.group(1) or m.group(2)))) for m in _ADD_TABLE.finditer(instructions)
    ]
    fresh = [e for e in added if model.entity(e.name) is None]
    return replace(model, entities=model.entities + tuple(fresh))


def apply_changes(design: SchemaDesign, instructions: str) -> SchemaDesign:
    """'add a last_login_at column to users', 'drop the isbn column from books'."""
    tables = list(design.tables)
    names = [t.name for t in tables]
    for match in _ADD_COLUMN.finditer(instructions):
        at = _table_index(names, match.group(2))
        tables[at] = _add_column(tables[at], snake(match.group(1)), tables)
    for match in _DROP_COLUMN.finditer(instructions):
        for at in _targets(names, match.group(2)):
            tables[at] = _drop_column(tables[at], snake(match.group(1)))
    return replace(design, tables=tuple(tables))


def _table_index(names: list[str], named: str | None) -> int:
    """The table a change names ('users', 'user'); the first table when it names none."""
    if named:
        wanted = {named.lower(), table_name(singular(snake(named)))}
        for at, name in enumerate(names):
            if name in wanted:
                return at
    return 0


def _targets(names: list[str], named: str | None) -> list[int]:
    """The tables a dropped column goes from: the one named, else every one."""
    return [_table_index(names, named)] if named else list(range(len(names)))


def _add_column(table: Table, name: str, tables: list[Table]) -> Table:
    if not name or table.column(name) is not None:
        return table
    column = column_for(name, table.entity.name)
    parent = table_name(name.removesuffix("_id")) if name.endswith("_id") else ""
    indexes = table.indexes
    if parent and any(t.name == parent for t in tables):
        column = replace(column, references=parent)
        indexes += (Index(table.name, (name,), f"{table.name}.{name} is a foreign key"),)
    *head, created = table.columns
    return replace(table, columns=(*head, column, created), indexes=indexes)


def _drop_column(table: Table, name: str) -> Table:
    if name in {"id"} or table.column(name) is None:
        return table
    columns = tuple(c for c in table.columns if c.name != name)
    indexes = tuple(i for i in table.indexes if name not in i.columns)
    pair = () if name in table.unique_pair else table.unique_pair
    references = tuple(r for r in table.references if r.column != name)
    return replace(table, columns=columns, indexes=indexes, unique_pair=pair, references=references)
