"""The database agent: designs the schema the request describes, applies a step's changes,
answers index questions about the user's own tables, keeps the plan's catalogue path."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import cast

import asyncpg
from conftest import POSTGRES
from support import COMPLETED, LiveServer, artifacts, final_state, stream

from agents.checks import validate
from agents.database import DatabaseExecutor, design_for
from agents.kit import WorkOrder
from agents.kit.work_order import StepRef
from agents.specialist import Work


@dataclass
class _Writer:
    texts: dict[str, str]
    name: str

    async def write(self, text: str) -> None:
        self.texts[self.name] = self.texts.get(self.name, "") + text

    async def close(self) -> None:
        return None


@dataclass
class _Work:
    """What the agent uses of a ``Work``; it records what is sent instead of streaming it."""

    order: WorkOrder
    sent: dict[str, str] = field(default_factory=dict)
    said: list[str] = field(default_factory=list)
    references: str = ""

    async def say(self, text: str) -> None:
        self.said.append(text)

    def writer(self, name: str, media_type: str) -> _Writer:
        return _Writer(self.sent, name)

    async def send(self, name: str, text: str, media_type: str) -> None:
        self.sent[name] = text

    def generate(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the database agent never asks the model")


async def _run(order: WorkOrder) -> dict[str, str]:
    work = _Work(order)
    await DatabaseExecutor(gateway=None).work(cast(Work, work))  # type: ignore[arg-type]
    return work.sent


async def _runs_on_postgres(sql: str) -> None:
    connection = await asyncpg.connect(POSTGRES)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        await connection.execute(f"CREATE SCHEMA {schema}; SET search_path TO {schema}")
        await connection.execute(sql)
    finally:
        await connection.execute(f"DROP SCHEMA {schema} CASCADE")
        await connection.close()


async def test_instructions_add_and_drop_columns() -> None:
    changes = {
        "instructions": "add a last_login_at column to members; drop the isbn column from books"
    }
    design = design_for("members borrow books", changes)
    members, books = design.table("members"), design.table("books")
    assert members is not None and books is not None
    assert "last_login_at TIMESTAMPTZ" in members.ddl()
    assert books.column("isbn") is None and books.column("title") is not None
    await _runs_on_postgres(design.sql())


async def test_a_column_named_for_a_table_becomes_a_foreign_key() -> None:
    design = design_for("members borrow books", {"instructions": "add a member_id column to books"})
    books = design.table("books")
    assert books is not None
    assert "member_id BIGINT NOT NULL REFERENCES members (id)" in books.ddl()
    assert "CREATE INDEX books_member_id_idx ON books (member_id);" in books.ddl()


async def test_requirements_and_new_tables_change_the_design() -> None:
    design = design_for(
        "members borrow books",
        {"requirements": "fines for loans", "instructions": "add a table for reviews"},
    )
    names = {t.name for t in design.tables}
    assert {"members", "books", "loans", "fines", "reviews"} <= names
    reviews = design.table("reviews")
    assert reviews is not None and "rating SMALLINT" in reviews.ddl()
    assert validate([("schema.sql", design.sql())], "postgres").passed
    await _runs_on_postgres(design.sql())


async def test_the_agent_writes_schema_and_notes_without_the_model() -> None:
    sent = await _run(WorkOrder("a SQL schema for a library with loans and fines"))
    assert set(sent) == {"schema.sql", "schema.md"}
    assert "CREATE TABLE loans" in sent["schema.sql"]
    assert "`money-not-float`" in sent["schema.md"]
    await _runs_on_postgres(sent["schema.sql"])


async def test_a_catalogue_component_step_keeps_its_file() -> None:
    order = WorkOrder("build a shop", step=StepRef("step-2", "implementation", "auth"))
    sent = await _run(order)
    assert list(sent) == ["db/auth.sql"] and "CREATE TABLE users" in sent["db/auth.sql"]


async def test_a_step_change_changes_a_plan_components_schema() -> None:
    step = StepRef("auth-schema", "implementation", "auth")
    changes = {"instructions": "add a last_login_at column to users"}
    sql = (await _run(WorkOrder("build a shop", step=step, changes=changes)))["db/auth.sql"]
    users = sql.split("CREATE TABLE users (", 1)[1].split(");", 1)[0]
    assert "last_login_at TIMESTAMPTZ" in users
    await _runs_on_postgres(sql)
    dropped = {"instructions": "drop the display_name column from users"}
    sql = (await _run(WorkOrder("build a shop", step=step, changes=dropped)))["db/auth.sql"]
    assert "display_name" not in sql and "CREATE TABLE users (" in sql


async def test_the_generic_component_is_designed_from_the_request() -> None:
    order = WorkOrder("members borrow books", step=StepRef("step-1", "implementation", "app"))
    sent = await _run(order)
    assert "CREATE TABLE loans" in sent["schema.sql"]


async def test_an_index_question_gets_index_advice() -> None:
    sent = await _run(WorkOrder("which indexes for orders(id, customer_id, status, created_at)?"))
    assert set(sent) == {"indexes.sql", "indexes.md"}
    sql = sent["indexes.sql"]
    assert "ON orders (customer_id)" in sql and "ON orders (status, created_at DESC)" in sql
    assert not re.search(r"ON orders \(id\)", sql)
    assert "No index on `id`" in sent["indexes.md"]


async def test_the_served_agent_streams_a_library_schema(server: LiveServer) -> None:
    events = await stream(
        f"{server.url}/agents/database", "a SQL schema for a library with loans and fines"
    )
    built = artifacts(events)
    schema = built["schema.sql"]["text"]
    loans = re.search(r"CREATE TABLE loans \((.*?)\);", schema, re.DOTALL)
    assert loans is not None
    assert "REFERENCES members (id)" in loans.group(1)
    assert "REFERENCES books (id)" in loans.group(1)
    assert "CREATE INDEX loans_member_id_idx" in schema
    notes = built["schema.md"]["text"]
    assert "`fines.loan_id` references `loans`" in notes
    assert final_state(events) == COMPLETED
    await _runs_on_postgres(schema)
