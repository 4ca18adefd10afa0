"""``GET /v1/ops``: the figures behind the operations view, from the server's own data.

What each figure is read from:

- ``cost``: the SQL usage store (``memory.usage``), every user: ``byDay`` from its daily
  sums (the last ``days`` days, zeros included), ``byUser`` and ``byModel`` from its
  monthly sums (``month``, the current one by default: what ``/v1/usage`` adds up);
- ``cache``: the caches' counters (``CacheStats``), since this process started;
- ``fallbacks``, ``breakers``, ``localModel``: the gateway's tally, its breaker, the local
  model, the warm-up (``LiveFigures``, as ``/metrics`` reads them), this process;
- ``tasks``: the task store, every stored task by state (written first, so it is current);
- ``routing``: the last routing decisions made for tasks (``RoutingLog``), oldest first.

With authentication on, it takes a token with the ``admin`` role; off, it is open like the
rest of ``/v1/`` (a loopback server by default).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agents.kit import authenticated_user
from memory.cache import CacheStats
from memory.task_counts import count_states
from memory.tasks import WriteBehindTaskStore
from memory.usage import SqlUsageRecorder, UsageTotals, current_month
from orchestrator.routing_log import RoutingLog
from youmeyou.api import MONTH_PATTERN, problem
from youmeyou.metrics import LiveFigures

__all__ = ["DEFAULT_DAYS", "OpsSources", "ops_routes"]

DEFAULT_DAYS = 30
MAX_DAYS = 366
_TABLE_PREFIX = "tasks_"


@dataclass(frozen=True)
class OpsSources:
    """Where the operations view reads from."""

    usage: SqlUsageRecorder
    cache: CacheStats
    live: Callable[[], LiveFigures]
    engine: AsyncEngine  # the task database
    task_stores: Sequence[WriteBehindTaskStore]
    tiers: Mapping[str, str]  # model name -> the tier that calls it
    routing: RoutingLog | None = None  # None: this app routes nothing
    admin_only: bool = False  # authentication is on


def ops_routes(sources: OpsSources) -> list[Route]:
    async def ops(request: Request) -> JSONResponse:
        if sources.admin_only:
            user = authenticated_user(request)
            if user is None or not user.is_admin:
                return problem(403, "The operations view needs a token with the 'admin' role.")
        month = request.query_params.get("month", current_month())
        if not MONTH_PATTERN.match(month):
            return problem(400, "'month' must be YYYY-MM.")
        days = request.query_params.get("days", str(DEFAULT_DAYS))
        if not days.isdigit() or not 1 <= int(days) <= MAX_DAYS:
            return problem(400, f"'days' must be a whole number from 1 to {MAX_DAYS}.")
        return JSONResponse(await ops_report(sources, month=month, days=int(days)))

    return [Route("/v1/ops", ops, methods=["GET"])]


async def ops_report(sources: OpsSources, *, month: str, days: int) -> dict[str, Any]:
    live = sources.live()
    local = live.local_model
    return {
        "generatedAt": _iso(dt.datetime.now(dt.UTC)),
        "cost": await _cost(sources, month, days),
        "cache": _cache(sources.cache),
        "fallbacks": [
            {"from": hop.from_model, "to": hop.to_model, "reason": hop.reason, "count": count}
            for hop, count in sorted(live.fallbacks.items(), key=lambda item: -item[1])
        ],
        "breakers": [{"provider": b.provider, "state": b.state} for b in live.breakers],
        "tasks": await _tasks(sources),
        "localModel": {
            "queueDepth": local.queue_depth,
            "tokensPerSecond": _rounded(local.tokens_per_second),
            "warm": live.warm,
            "loaded": local.loaded,
        },
        "routing": {"recent": _routing(sources.routing)},
    }


async def _cost(sources: OpsSources, month: str, days: int) -> dict[str, Any]:
    today = dt.datetime.now(dt.UTC).date()
    first = today - dt.timedelta(days=days - 1)
    found = {row.key: row for row in await sources.usage.by_day(first.isoformat())}
    by_day = []
    for offset in range(days):
        day = (first + dt.timedelta(days=offset)).isoformat()
        by_day.append({"day": day, **_sums(found.get(day))})
    by_user = [{"user": row.key, **_sums(row)} for row in await sources.usage.by_user(month)]
    by_model = [
        {"model": row.key, "tier": _tier(sources.tiers, row), **_sums(row)}
        for row in await sources.usage.by_model(month)
    ]
    return {"month": month, "byDay": by_day, "byUser": by_user, "byModel": by_model}


def _sums(row: UsageTotals | None) -> dict[str, Any]:
    if row is None:
        return {"usd": 0.0, "calls": 0, "tokensIn": 0, "tokensOut": 0}
    return {
        "usd": round(row.usd, 8),
        "calls": row.calls,
        "tokensIn": row.tokens_in,
        "tokensOut": row.tokens_out,
    }


def _tier(tiers: Mapping[str, str], row: UsageTotals) -> str:
    # A model the settings no longer name (changed since): local, or some hosted tier.
    return tiers.get(row.key) or ("local" if row.provider == "local" else "hosted")


def _cache(stats: CacheStats) -> dict[str, Any]:
    counts = stats.to_dict()
    levels: dict[str, dict[str, Any]] = counts["levels"]  # type: ignore[assignment]
    return {
        "hits": {level: figures["hits"] for level, figures in levels.items()},
        "misses": {level: figures["misses"] for level, figures in levels.items()},
        "savedUsd": counts["saved_usd"],
        "savedTokens": counts["saved_tokens"],
    }


async def _tasks(sources: OpsSources) -> dict[str, Any]:
    by_agent: dict[str, dict[str, int]] = {}
    by_state: dict[str, int] = {}
    for store in sources.task_stores:
        model = store.task_model
        if model is None:
            continue
        await store.flush()  # what the write-behind holds counts too
        table = str(model.__tablename__)
        counts = await count_states(sources.engine, model)
        by_agent[table.removeprefix(_TABLE_PREFIX)] = counts
        for state, count in counts.items():
            by_state[state] = by_state.get(state, 0) + count
    return {"byState": by_state, "byAgent": by_agent}


def _routing(log: RoutingLog | None) -> list[dict[str, Any]]:
    if log is None:
        return []
    return [
        {
            "at": _iso(routed.at),
            "agent": routed.agent,
            "total": routed.total,
            "margin": routed.margin,
            "team": routed.team,
        }
        for routed in log.recent()
    ]


def _iso(at: dt.datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _rounded(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None
