"""``GET /v1/ops``: the operations view's data, against a live server's own stores.

A user's cost there must be what ``/v1/usage`` adds up for them; tasks, routing and the
local model must show what the requests did; with authentication on, only an admin's token
may read it. The usage store's days are checked on their own too: written with the months,
reported before they are written, and carried through a spill to the next start.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from conftest import make_settings
from gemini_stub import GeminiStub
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import create_async_engine
from support import COMPLETED, LiveServer, final_state, free_port, serving, stream

from inference.generation import Usage
from memory.spill import SpillFile
from memory.sql import create_tables
from memory.usage import SqlUsageRecorder, current_day, current_month
from youmeyou.app import Models, build_app

PLATFORM_KEY = "platform-key-ops-0123456789abcdef"
PRO = "gemini-2.5-pro"
SECRET = f"ops-secret-{uuid.uuid4().hex}{uuid.uuid4().hex}"
DATABASE_QUESTION = "Design a database schema for users, products, orders and payments"
CODE_COMPLEX = (
    "Write the checkout function `checkout(cart: dict) -> dict` of a scalable ecommerce "
    "platform with user authentication, product catalog, shopping cart, and payment processing"
)
CHECKOUT = "def checkout(cart: dict) -> dict:\n    return {**cart, 'paid': True}\n"


@pytest.fixture(scope="module")
def stub() -> Iterator[GeminiStub]:
    with GeminiStub(reply=CHECKOUT) as running:
        yield running


@pytest.fixture(scope="module")
async def ops_server(
    models: Models, stub: GeminiStub, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    port = free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("ops-var"),
        port,
        gemini_api_key=PLATFORM_KEY,
        gemini_base_url=stub.base_url,
    )
    async with serving(build_app(settings, models), port) as live:
        yield live


def token(sub: str, **claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "exp": now + 600, **claims}, SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
async def auth_server(
    models: Models, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    port = free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("ops-auth-var"), port, auth="jwt", jwt_secret=SECRET
    )
    async with serving(build_app(settings, models), port) as live:
        yield live


async def test_ops_shows_each_users_cost_as_their_usage_reports_it(
    ops_server: LiveServer,
) -> None:
    user = f"ops-{uuid.uuid4().hex[:8]}"
    for _ in range(2):
        events = await stream(f"{ops_server.url}/agents/code/", CODE_COMPLEX, user=user)
        assert final_state(events) == COMPLETED
    async with httpx.AsyncClient(base_url=ops_server.url) as http:
        usage = (await http.get("/v1/usage", headers={"X-User-Id": user})).json()
        ops = (await http.get("/v1/ops")).json()
    totals = usage["totals"]
    assert totals["calls"] >= 2 and totals["usd"] > 0
    mine = [row for row in ops["cost"]["byUser"] if row["user"] == user]
    assert mine == [
        {
            "user": user,
            "usd": pytest.approx(totals["usd"]),
            "calls": totals["calls"],
            "tokensIn": totals["tokens_in"],
            "tokensOut": totals["tokens_out"],
        }
    ]
    assert ops["cost"]["month"] == current_month()
    pro = next(row for row in ops["cost"]["byModel"] if row["model"] == PRO)
    my_pro = next(row for row in usage["models"] if row["model"] == PRO)
    assert pro["tier"] == "pro" and pro["calls"] >= my_pro["calls"] >= 2
    days = ops["cost"]["byDay"]
    assert len(days) == 30 and days[-1]["day"] == current_day()
    assert days[-1]["usd"] >= totals["usd"] - 1e-9 and days[-1]["tokensIn"] >= totals["tokens_in"]
    assert all(day["calls"] == 0 for day in days[:-1])  # this server's database is new today
    at = dt.datetime.fromisoformat(ops["generatedAt"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.UTC) - at).total_seconds()) < 60


async def test_ops_counts_tasks_routing_and_the_local_model(ops_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=ops_server.url) as http:
        before = (await http.get("/v1/ops")).json()
        events = await stream(ops_server.url, DATABASE_QUESTION, user="ops-db")
        assert final_state(events) == COMPLETED
        after = (await http.get("/v1/ops")).json()
    done = "TASK_STATE_COMPLETED"

    def completed(report: dict[str, Any], agent: str) -> int:
        return int(report["tasks"]["byAgent"].get(agent, {}).get(done, 0))

    assert completed(after, "orchestrator") == completed(before, "orchestrator") + 1
    assert completed(after, "database") == completed(before, "database") + 1
    assert completed(after, "code") == completed(before, "code")
    assert after["tasks"]["byState"][done] == before["tasks"]["byState"].get(done, 0) + 2
    recent = after["routing"]["recent"]
    assert len(recent) == len(before["routing"]["recent"]) + 1
    decision = recent[-1]
    assert decision["agent"] == "database" and decision["team"] is False
    assert 0.3 <= decision["total"] <= 2 and 0 <= decision["margin"] <= decision["total"]
    assert set(after["cache"]) == {"hits", "misses", "savedUsd", "savedTokens"}
    assert after["localModel"]["queueDepth"] == 0
    assert after["breakers"] == [{"provider": "gemini", "state": "closed"}]


async def test_ops_refuses_bad_parameters(ops_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=ops_server.url) as http:
        bad_month = await http.get("/v1/ops?month=2026-13")
        bad_days = await http.get("/v1/ops?days=0")
        week = await http.get("/v1/ops?days=7")
    assert bad_month.status_code == 400 and bad_month.json()["error"]["code"] == 400
    assert bad_days.status_code == 400
    assert week.status_code == 200 and len(week.json()["cost"]["byDay"]) == 7


async def test_with_auth_on_ops_is_for_admins_only(auth_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=auth_server.url) as http:
        anonymous = await http.get("/v1/ops")
        user = await http.get("/v1/ops", headers=bearer(token("carol")))
        other = await http.get("/v1/ops", headers=bearer(token("dave", roles=["ops"])))
        admin = await http.get("/v1/ops", headers=bearer(token("root", roles=["admin"])))
        metrics = await http.get("/metrics")
    assert anonymous.status_code == 401
    assert user.status_code == 403 and other.status_code == 403
    assert user.json() == {
        "error": {
            "code": 403,
            "message": "The operations view needs a token with the 'admin' role.",
        }
    }
    assert admin.status_code == 200
    assert {"cost", "cache", "fallbacks", "breakers", "tasks", "localModel", "routing"} <= set(
        admin.json()
    )
    assert metrics.status_code == 401


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


# The usage store's days --------------------------------------------------------------------


def usage(model: str, tokens_in: int, tokens_out: int, usd: float) -> Usage:
    return Usage(model, tokens_in, tokens_out, provider="gemini", cost_usd=usd)


async def test_days_are_reported_before_and_after_they_are_written(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'usage.db'}")
    await create_tables(engine)
    recorder = SqlUsageRecorder(engine, delay_s=60)  # nothing written unless flushed
    await recorder.record("ann", usage(PRO, 100, 50, 0.25))
    await recorder.record("ann", usage(PRO, 10, 5, 0.5))
    await recorder.record("bob", usage("gemini-2.5-flash", 7, 3, 0.125))
    today = current_day()
    pending = await recorder.by_day(today)
    assert [(d.key, d.calls, d.tokens_in, d.tokens_out, d.usd) for d in pending] == [
        (today, 3, 117, 58, 0.875)
    ]
    assert await recorder.flush()
    written = await recorder.by_day(today)
    assert written == pending  # counted once, whether written or not
    users = {row.key: row for row in await recorder.by_user(current_month())}
    assert (users["ann"].calls, users["ann"].usd) == (2, 0.75)
    models = {row.key: row for row in await recorder.by_model(current_month())}
    assert (models[PRO].calls, models[PRO].provider) == (2, "gemini")
    tomorrow = (dt.date.fromisoformat(today) + dt.timedelta(days=1)).isoformat()
    assert await recorder.by_day(tomorrow) == []
    await recorder.close()
    await engine.dispose()


async def test_unwritten_days_are_spilled_and_written_at_the_next_start(tmp_path: Path) -> None:
    spill = SpillFile(tmp_path / "unwritten" / "usage.jsonl")
    away = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'usage.db'}")
    recorder = SqlUsageRecorder(away, spill=spill, delay_s=60)
    await recorder.record("ann", usage(PRO, 100, 50, 0.25))
    await recorder.close(patience_s=0.1)  # the database cannot be opened: spilled
    await away.dispose()
    rows = spill.read()
    assert [(row["day"], row["month"], row["calls"]) for row in rows] == [
        (current_day(), current_month(), 1)
    ]
    # A row a server from before days spilled: it has a month only.
    legacy = {**rows[0], "month": "2000-01", "calls": 4}
    del legacy["day"]
    spill.write([*rows, legacy])

    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'usage.db'}")
    await create_tables(engine)
    restarted = SqlUsageRecorder(engine, spill=spill)
    await restarted.start()
    async with engine.connect() as connection:
        daily = (await connection.execute(sql("SELECT day, calls FROM usage_daily"))).all()
        monthly = (
            await connection.execute(sql("SELECT month, calls FROM usage_monthly ORDER BY month"))
        ).all()
    assert [tuple(row) for row in daily] == [(current_day(), 1)]
    assert [tuple(row) for row in monthly] == [("2000-01", 4), (current_month(), 1)]
    assert not spill.path.exists()
    await restarted.close()
    await engine.dispose()
