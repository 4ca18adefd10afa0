"""Each user's model usage, added up per month and model, in the server's SQL database."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Column, Float, Integer, String, Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from inference.generation import Usage
from memory.sql import metadata, upsert_for

usage_table = Table(
    "usage_monthly",
    metadata,
    Column("user_id", String(128), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("model", String(128), primary_key=True),
    Column("provider", String(32), nullable=False),
    Column("calls", Integer, nullable=False),
    Column("tokens_in", Integer, nullable=False),
    Column("tokens_out", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
)


class SqlUsageRecorder:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = upsert_for(engine)

    async def record(self, user_id: str, usage: Usage) -> None:
        row = {
            "user_id": user_id,
            "month": current_month(),
            "model": usage.model,
            "provider": usage.provider,
            "calls": 1,
            "tokens_in": usage.tokens_in,
            "tokens_out": usage.tokens_out,
            "cost_usd": usage.cost_usd,
        }
        statement = self._insert(usage_table).values(row)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["user_id", "month", "model"],
            set_={
                "calls": usage_table.c.calls + 1,
                "tokens_in": usage_table.c.tokens_in + excluded.tokens_in,
                "tokens_out": usage_table.c.tokens_out + excluded.tokens_out,
                "cost_usd": usage_table.c.cost_usd + excluded.cost_usd,
            },
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def month(self, user_id: str, month: str) -> list[dict[str, Any]]:
        query = (
            select(usage_table)
            .where(usage_table.c.user_id == user_id, usage_table.c.month == month)
            .order_by(usage_table.c.model)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [
            {
                "model": row["model"],
                "provider": row["provider"],
                "calls": row["calls"],
                "tokens_in": row["tokens_in"],
                "tokens_out": row["tokens_out"],
                "usd": round(row["cost_usd"], 8),
            }
            for row in rows
        ]


def current_month() -> str:
    return f"{dt.datetime.now(dt.UTC):%Y-%m}"
