"""What the SQL-backed stores share: one metadata, table creation, and dialect upserts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import MetaData, text
from sqlalchemy import exc as sql_errors
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

metadata = MetaData()

# Any fixed 64-bit number, the same for every replica: the key of the schema's advisory lock.
_SCHEMA_LOCK = 0x796D79_5343484D

_UPSERTS: dict[str, Any] = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}


def upsert_for(engine: AsyncEngine) -> Any:
    """The dialect's ``insert`` with ``on_conflict_do_update`` (SQLite and PostgreSQL)."""
    try:
        return _UPSERTS[engine.dialect.name]
    except KeyError:
        raise RuntimeError(
            f"the {engine.dialect.name} dialect is not supported: use SQLite or PostgreSQL"
        ) from None


@contextlib.asynccontextmanager
async def schema_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """One process at a time creates tables in a PostgreSQL database.

    Replicas starting together on a new database would otherwise race in ``CREATE TABLE``
    (PostgreSQL's ``IF NOT EXISTS`` is not safe against a concurrent create: one of them
    fails on ``pg_type``'s unique index and the replica does not start). SQLite is one
    process's file, and needs nothing.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _SCHEMA_LOCK})
        await connection.commit()
        try:
            yield
        finally:
            await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _SCHEMA_LOCK})
            await connection.commit()


async def create_tables(engine: AsyncEngine) -> None:
    async with schema_lock(engine), engine.begin() as connection:
        await connection.run_sync(metadata.create_all)


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be reached now, rather than that a
    statement was wrong: a refused or dropped connection, a pool that timed out."""
    if isinstance(error, BaseExceptionGroup):
        return any(is_outage(inner) for inner in error.exceptions)
    if isinstance(error, sql_errors.DBAPIError) and error.connection_invalidated:
        return True
    outages = (
        sql_errors.OperationalError,
        sql_errors.InterfaceError,
        sql_errors.DisconnectionError,
        sql_errors.TimeoutError,
        ConnectionError,
        TimeoutError,
    )
    return isinstance(error, outages)
