"""Each user's model usage, added up per month (and per day) and model, in the server's SQL
database.

A call's usage is added in memory and written behind, many calls in one transaction: a
model's answer never waits on the database, nor fails with it. What the database refuses
is kept and tried again with backoff, spilled to a file at a stop if it still refuses,
and written at the next start. Reports add what is not written yet.

Days were added after months: a database from before has months only, and so do rows
spilled by a server from before; both are still read and written (months only).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Float, Integer, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from inference.generation import Usage
from memory.spill import SpillFile
from memory.sql import metadata, upsert_for

logger = logging.getLogger(__name__)

_Key = tuple[str, str, str, str]  # (user, month, model, day); day "" when not known
_MAX_BACKOFF_S = 30.0


def _sums_table(name: str, period: str, width: int) -> Table:
    """Usage sums per user, period and model: ``month`` (``YYYY-MM``) or ``day``."""
    return Table(
        name,
        metadata,
        Column("user_id", String(128), primary_key=True),
        Column(period, String(width), primary_key=True),
        Column("model", String(128), primary_key=True),
        Column("provider", String(32), nullable=False),
        Column("calls", Integer, nullable=False),
        Column("tokens_in", Integer, nullable=False),
        Column("tokens_out", Integer, nullable=False),
        Column("cost_usd", Float, nullable=False),
    )


usage_table = _sums_table("usage_monthly", "month", 7)
# The same sums per day, written with the month's in one transaction (for the ops view).
usage_daily_table = _sums_table("usage_daily", "day", 10)


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """Usage of every user added up under one key: a day, a user or a model."""

    key: str
    calls: int
    tokens_in: int
    tokens_out: int
    usd: float
    provider: str = ""  # for a model; "" for a day or a user (many providers)


@dataclass(slots=True)
class _Sum:
    provider: str
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0

    def add(self, other: _Sum) -> None:
        self.calls += other.calls
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out
        self.cost_usd += other.cost_usd


class SqlUsageRecorder:
    def __init__(
        self, engine: AsyncEngine, *, spill: SpillFile | None = None, delay_s: float = 0.5
    ) -> None:
        self._engine = engine
        self._insert = upsert_for(engine)
        self._spill = spill
        self._delay_s = delay_s
        self._pending: dict[_Key, _Sum] = {}
        self._failures = 0
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def record(self, user_id: str, usage: Usage) -> None:
        call = _Sum(usage.provider, 1, usage.tokens_in, usage.tokens_out, usage.cost_usd)
        day = current_day()
        self._add((user_id, day[:7], usage.model, day), call)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_forever(), name="usage-writer")
        self._wake.set()

    async def start(self) -> None:
        """Take back what the last stop spilled; it is written with the next write."""
        if self._spill is None:
            return
        for row in self._spill.read():
            key = (row["user_id"], row["month"], row["model"], row.get("day", ""))
            self._add(
                key,
                _Sum(
                    row["provider"],
                    row["calls"],
                    row["tokens_in"],
                    row["tokens_out"],
                    row["cost_usd"],
                ),
            )
        if self._pending and await self.flush():
            logger.info("wrote usage spilled by the last stop")

    async def flush(self) -> bool:
        """Write what is pending; whether it was written."""
        async with self._lock:
            batch, self._pending = self._pending, {}
            if not batch:
                return True
            try:
                async with self._engine.begin() as connection:
                    for key, total in batch.items():
                        await connection.execute(self._upsert(key, total))
                        if key[3]:
                            await connection.execute(self._upsert_day(key, total))
            except Exception as error:
                for key, total in batch.items():  # back in front of what came meanwhile
                    self._add(key, total)
                self._failures += 1
                logger.warning(
                    "writing usage failed (%d in a row): %s; kept, will retry",
                    self._failures,
                    error,
                )
                return False
            self._failures = 0
            if self._spill is not None:
                self._spill.remove()
            return True

    async def close(self, *, patience_s: float = 5.0) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        deadline = asyncio.get_running_loop().time() + patience_s
        while not await self.flush():
            wait = min(1.0, self._backoff_s())
            if asyncio.get_running_loop().time() + wait > deadline:
                break
            await asyncio.sleep(wait)
        if self._pending and self._spill is not None:
            rows = [_row(key, total) for key, total in self._pending.items()]
            logger.warning("%d unwritten usage row(s) spilled", self._spill.write(rows))

    async def month(self, user_id: str, month: str) -> list[dict[str, Any]]:
        query = (
            select(usage_table)
            .where(usage_table.c.user_id == user_id, usage_table.c.month == month)
            .order_by(usage_table.c.model)
        )
        # Not during a flush: its batch is neither pending any more nor written yet.
        async with self._lock:
            async with self._engine.connect() as connection:
                rows = (await connection.execute(query)).mappings().all()
            totals = {
                row["model"]: _Sum(
                    row["provider"],
                    row["calls"],
                    row["tokens_in"],
                    row["tokens_out"],
                    row["cost_usd"],
                )
                for row in rows
            }
            for (user, in_month, model, _), pending in self._pending.items():
                if (user, in_month) == (user_id, month):
                    totals.setdefault(model, _Sum(pending.provider)).add(pending)
        return [
            {
                "model": model,
                "provider": total.provider,
                "calls": total.calls,
                "tokens_in": total.tokens_in,
                "tokens_out": total.tokens_out,
                "usd": round(total.cost_usd, 8),
            }
            for model, total in sorted(totals.items())
        ]

    async def by_day(self, since_day: str) -> list[UsageTotals]:
        """Every user's usage per day from ``since_day`` (``YYYY-MM-DD``) on, oldest first."""
        table = usage_daily_table
        found = await self._grouped(
            (table.c.day,),
            table.c.day >= since_day,
            lambda key: key[3] if key[3] >= since_day else None,
        )
        return sorted(found.values(), key=lambda totals: totals.key)

    async def by_user(self, month: str) -> list[UsageTotals]:
        """Each user's usage in ``month`` (``YYYY-MM``)."""
        table = usage_table
        found = await self._grouped(
            (table.c.user_id,),
            table.c.month == month,
            lambda key: key[0] if key[1] == month else None,
        )
        return sorted(found.values(), key=lambda totals: totals.key)

    async def by_model(self, month: str) -> list[UsageTotals]:
        """Each model's usage in ``month``, all users together."""
        table = usage_table
        columns = (table.c.model, table.c.provider)
        found = await self._grouped(
            columns, table.c.month == month, lambda key: key[2] if key[1] == month else None
        )
        return sorted(found.values(), key=lambda totals: totals.key)

    async def _grouped(
        self, columns: tuple[Any, ...], where: Any, key_of: Callable[[_Key], str | None]
    ) -> dict[str, UsageTotals]:
        """Written sums grouped by ``columns`` (the first is the key; a second, the
        provider), plus what is pending under the key ``key_of`` gives it."""
        table = columns[0].table
        query = (
            select(
                *columns,
                func.sum(table.c.calls),
                func.sum(table.c.tokens_in),
                func.sum(table.c.tokens_out),
                func.sum(table.c.cost_usd),
            )
            .where(where)
            .group_by(*columns)
        )
        async with self._lock:  # not during a flush (see ``month``)
            async with self._engine.connect() as connection:
                rows = (await connection.execute(query)).all()
            pending = dict(self._pending)
        found: dict[str, UsageTotals] = {}
        for row in rows:
            key, provider = str(row[0]), str(row[1]) if len(columns) > 1 else ""
            calls, tokens_in, tokens_out, usd = row[len(columns) :]
            found[key] = UsageTotals(
                key, int(calls), int(tokens_in), int(tokens_out), float(usd), provider
            )
        _add_pending(found, pending, key_of, provider=len(columns) > 1)
        return found

    def _add(self, key: _Key, amount: _Sum) -> None:
        total = self._pending.get(key)
        if total is None:
            self._pending[key] = _Sum(amount.provider)
            total = self._pending[key]
        total.add(amount)

    def _upsert(self, key: _Key, total: _Sum) -> Any:
        row = _row(key, total)
        del row["day"]
        return self._adding(usage_table, row, ["user_id", "month", "model"])

    def _upsert_day(self, key: _Key, total: _Sum) -> Any:
        row = _row(key, total)
        del row["month"]
        return self._adding(usage_daily_table, row, ["user_id", "day", "model"])

    def _adding(self, table: Table, row: dict[str, Any], index: list[str]) -> Any:
        """An insert of ``row`` that adds it to the row already under its key, if any."""
        statement = self._insert(table).values(row)
        excluded = statement.excluded
        return statement.on_conflict_do_update(
            index_elements=index,
            set_={
                "calls": table.c.calls + excluded.calls,
                "tokens_in": table.c.tokens_in + excluded.tokens_in,
                "tokens_out": table.c.tokens_out + excluded.tokens_out,
                "cost_usd": table.c.cost_usd + excluded.cost_usd,
            },
        )

    def _backoff_s(self) -> float:
        return float(min(_MAX_BACKOFF_S, 0.25 * 2 ** min(self._failures, 10)))

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self._delay_s)  # calls close together share a transaction
            if not await self.flush():
                await asyncio.sleep(self._backoff_s())
                self._wake.set()


def _add_pending(
    found: dict[str, UsageTotals],
    pending: dict[_Key, _Sum],
    key_of: Callable[[_Key], str | None],
    *,
    provider: bool,
) -> None:
    """Add what is not written yet under the key ``key_of`` gives (None: not counted)."""
    for key, amount in pending.items():
        name = key_of(key)
        if name is None:
            continue
        was = found.get(name) or UsageTotals(
            name, 0, 0, 0, 0.0, amount.provider if provider else ""
        )
        found[name] = UsageTotals(
            name,
            was.calls + amount.calls,
            was.tokens_in + amount.tokens_in,
            was.tokens_out + amount.tokens_out,
            was.usd + amount.cost_usd,
            was.provider,
        )


def _row(key: _Key, total: _Sum) -> dict[str, Any]:
    """A row of the usage table (and of the spill file)."""
    user_id, month, model, day = key
    return {
        "user_id": user_id,
        "month": month,
        "day": day,
        "model": model,
        "provider": total.provider,
        "calls": total.calls,
        "tokens_in": total.tokens_in,
        "tokens_out": total.tokens_out,
        "cost_usd": total.cost_usd,
    }


def current_month() -> str:
    return f"{dt.datetime.now(dt.UTC):%Y-%m}"


def current_day() -> str:
    return f"{dt.datetime.now(dt.UTC):%Y-%m-%d}"
