"""The LLM gateway against the real google-genai client and a Gemini-compatible stub.

The gateway is exercised directly (routing, fallbacks, quotas, the breaker) and through a
live server (artifacts streamed from Gemini, BYOK, usage and cost figures).
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import make_settings
from gateway_support import Keys, answered_by, ask, chunks_of, notices
from gemini_stub import GeminiStub
from redis.asyncio import Redis
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import create_async_engine
from support import COMPLETED, LiveServer, artifacts, final_state, free_port, serving, statuses
from support import stream as stream_task

from inference.costs import Price, PriceTable
from inference.gateway import ModelGateway, Policy, Quotas
from inference.gemini import GeminiProvider
from inference.limits import InProcessLimiter
from inference.local import MODEL_NAME
from memory.quotas import RedisLimiter
from memory.sql import create_tables
from memory.usage import SqlUsageRecorder
from youmeyou.app import Models, build_app
from youmeyou.settings import DEFAULT_MODEL_POLICY, DEFAULT_PRICES

PLATFORM_KEY = "platform-key-0123456789abcdef"
FLASH, PRO = "gemini-2.5-flash", "gemini-2.5-pro"
SIMPLE = "Write a Python function that reverses a string"
MEDIUM = "Build an API for a recipe app with user favourites"
COMPLEX = (
    "Help me design a scalable ecommerce platform with user authentication, product "
    "catalog, shopping cart, and payment processing"
)
# Requests to the code agent, the one specialist that asks a model (for function bodies).
CODE_COMPLEX = (
    "Write the checkout function `checkout(cart: dict) -> dict` of a scalable ecommerce "
    "platform with user authentication, product catalog, shopping cart, and payment processing"
)
CODE_MEDIUM = (
    "Write `favourites(user: str) -> list` for the API of a recipe app with user favourites"
)
# What the stub model answers them: bodies the code agent keeps at the first sample.
CHECKOUT = "def checkout(cart: dict) -> dict:\n    return {**cart, 'paid': True}\n"
FAVOURITES = "def favourites(user: str) -> list:\n    return [user]\n"
REDIS_URL = "redis://127.0.0.1:6379/0"
PRICES = PriceTable({model: Price(*price) for model, price in DEFAULT_PRICES.items()})


@pytest.fixture(scope="module")
def stub() -> Iterator[GeminiStub]:
    with GeminiStub() as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_stub(stub: GeminiStub) -> None:
    stub.reset()


class MemoryUsage:
    """A recorder that keeps calls in a list, to check what the gateway reports."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def record(self, user_id: str, usage: Any) -> None:
        self.calls.append((user_id, usage))

    async def month(self, user_id: str, month: str) -> list[dict[str, Any]]:
        return []


def make_gateway(models: Models, stub: GeminiStub, **overrides: Any) -> ModelGateway:
    options: dict[str, Any] = {
        "local": models.local_model,
        "hosted": GeminiProvider(base_url=stub.base_url, timeout_s=5),
        "models": {"local": MODEL_NAME, "flash": FLASH, "pro": PRO},
        "policy": Policy(DEFAULT_MODEL_POLICY),
        "analyzer": models.analyzer,
        "limiter": InProcessLimiter(),
        "prices": PRICES,
        "usage": MemoryUsage(),
        "keys": Keys(),
        "platform_key": PLATFORM_KEY,
        "enterprise_users": ["corp"],
    }
    options.update(overrides)
    return ModelGateway(**options)


async def test_requests_go_to_the_model_their_complexity_calls_for(
    models: Models, stub: GeminiStub
) -> None:
    gateway = make_gateway(models, stub)
    answered = {}
    for text in (SIMPLE, MEDIUM, COMPLEX):
        answered[text] = await answered_by(gateway, ask(text))
    assert answered == {SIMPLE: MODEL_NAME, MEDIUM: FLASH, COMPLEX: PRO}
    assert [call.model for call in stub.requests] == [FLASH, PRO]
    assert all(call.api_key == PLATFORM_KEY for call in stub.requests)


async def test_a_step_kind_overrides_complexity_as_the_policy_says(
    models: Models, stub: GeminiStub
) -> None:
    gateway = make_gateway(models, stub)
    planning = await answered_by(gateway, ask(SIMPLE, step="planning"))
    synthesis = await answered_by(gateway, ask(COMPLEX, step="synthesis"))
    assert (planning, synthesis) == (FLASH, MODEL_NAME)


async def test_gemini_text_streams_in_pieces_and_is_priced(
    models: Models, stub: GeminiStub
) -> None:
    gateway = make_gateway(models, stub)
    chunks = await chunks_of(gateway, ask(COMPLEX))
    texts = [c.text for c in chunks if c.text]
    assert len(texts) == stub.chunks
    usage = chunks[-1].usage
    assert usage is not None and usage.provider == "gemini" and usage.model == PRO
    body = stub.requests[0].body
    assert usage.tokens_in > 0 and usage.tokens_out > 0
    assert usage.cost_usd == pytest.approx(PRICES.cost(PRO, usage.tokens_in, usage.tokens_out))
    assert body["generationConfig"]["maxOutputTokens"] == 16
    assert "".join(texts).startswith(f"[{PRO}]")


async def test_a_429_falls_back_down_the_chain_to_the_local_model(
    models: Models, stub: GeminiStub, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = make_gateway(models, stub)
    stub.fail_next(429, times=None, retry_after="60")  # outlasts a slow local answer
    caplog.set_level(logging.INFO)
    chunks = await chunks_of(gateway, ask(COMPLEX))
    usage = chunks[-1].usage
    assert usage is not None and usage.model == MODEL_NAME
    assert [c.model for c in stub.requests] == [PRO, FLASH]  # each tried once, no retries
    assert len(usage.fallbacks) == 2 and all("429" in hop for hop in usage.fallbacks)
    assert notices(chunks) == [
        f"Using {FLASH}: Gemini quota reached ({PRO} answered 429).",
        f"Using the local model: Gemini quota reached ({PRO} answered 429).",
    ]
    assert any("Falling back from gemini-2.5-pro" in r.getMessage() for r in caplog.records)
    # Retry-After is honoured: until it passes, Gemini is not called again.
    stub.clear_faults()
    again = await chunks_of(gateway, ask(COMPLEX))
    assert again[-1].usage is not None and again[-1].usage.model == MODEL_NAME
    assert len(stub.requests) == 2
    waiting = re.fullmatch(
        r"Using the local model: Gemini quota reached \(retry in (\d+) s\)\.", notices(again)[0]
    )
    assert waiting is not None and 20 <= int(waiting.group(1)) <= 60


async def test_pro_failing_falls_back_to_flash(models: Models, stub: GeminiStub) -> None:
    gateway = make_gateway(models, stub)
    stub.fail_next(503, model=PRO)
    chunks = await chunks_of(gateway, ask(COMPLEX))
    usage = chunks[-1].usage
    assert usage is not None and usage.model == FLASH
    assert notices(chunks) == [f"Using {FLASH}: {PRO} answered 503 UNAVAILABLE."]


async def test_a_failure_mid_stream_restarts_the_answer_on_the_next_model(
    models: Models, stub: GeminiStub
) -> None:
    gateway = make_gateway(models, stub)
    stub.fail_next(500, model=PRO, after_chunks=1)
    chunks = await chunks_of(gateway, ask(COMPLEX))
    restart_at = next(i for i, c in enumerate(chunks) if c.restart)
    assert any(c.text for c in chunks[:restart_at])  # pro had begun to answer
    assert not any(c.restart for c in chunks[restart_at + 1 :])
    answer = "".join(c.text for c in chunks[restart_at:])  # a restart voids what came before
    assert answer.startswith(f"[{FLASH}]")  # only flash's answer survives
    assert chunks[-1].usage is not None and chunks[-1].usage.model == FLASH


async def test_free_tier_over_its_monthly_tokens_degrades_to_local_and_says_so(
    models: Models, stub: GeminiStub
) -> None:
    gateway = make_gateway(models, stub, quotas=Quotas(free_tokens_per_month=300))
    first = await chunks_of(gateway, ask(COMPLEX, user="freebie"))
    assert first[-1].usage is not None and first[-1].usage.model == PRO
    report = await gateway.quota("freebie")
    assert report["tier"] == "free"
    assert (
        report["tokens_used_this_month"] == first[-1].usage.tokens_in + first[-1].usage.tokens_out
    )  # the reservation settled to the real count
    stub.requests.clear()
    spend = 300 - int(report["tokens_used_this_month"])  # type: ignore[call-overload]
    second = await chunks_of(gateway, ask(COMPLEX * 4, user="freebie", max_tokens=spend))
    assert second[-1].usage is not None and second[-1].usage.model == MODEL_NAME
    assert notices(second) == [
        "Using the local model: Gemini quota reached (free tier: tokens this month)."
    ]
    assert stub.requests == []
    # Another free user still has their own month.
    other = await chunks_of(gateway, ask(COMPLEX, user="newcomer"))
    assert other[-1].usage is not None and other[-1].usage.model == PRO


async def test_free_tier_requests_per_minute(models: Models, stub: GeminiStub) -> None:
    gateway = make_gateway(models, stub, quotas=Quotas(free_requests_per_minute=2))
    answered = [await answered_by(gateway, ask(MEDIUM, user="quick")) for _ in range(3)]
    assert answered == [FLASH, FLASH, MODEL_NAME]


async def test_without_any_key_gemini_work_runs_locally_and_says_why(
    models: Models, stub: GeminiStub
) -> None:
    gateway = make_gateway(models, stub, platform_key=None)
    chunks = await chunks_of(gateway, ask(COMPLEX))
    assert chunks[-1].usage is not None and chunks[-1].usage.model == MODEL_NAME
    assert notices(chunks) == ["Using the local model: no Gemini API key is configured."]
    assert stub.requests == []


async def test_the_breaker_opens_on_failures_and_closes_after_a_good_probe(
    models: Models, stub: GeminiStub
) -> None:
    gateway = make_gateway(models, stub, breaker_failures=2, breaker_reset_s=2.0)
    stub.fail_next(500, times=None)
    await chunks_of(gateway, ask(MEDIUM, max_tokens=2))  # flash fails: one failure
    await chunks_of(gateway, ask(MEDIUM, max_tokens=2))  # two: the breaker opens
    assert gateway.breaker.state == "open"
    calls = len(stub.requests)
    skipped = await chunks_of(gateway, ask(MEDIUM, max_tokens=2))
    assert len(stub.requests) == calls  # Gemini is not called while open
    assert notices(skipped) == ["Using the local model: Gemini is unavailable (circuit open)."]
    stub.clear_faults()
    await asyncio.sleep(2.05)
    assert gateway.breaker.state == "half-open"
    assert await answered_by(gateway, ask(MEDIUM)) == FLASH  # the probe
    assert gateway.breaker.state == "closed"


async def test_a_users_own_key_is_used_for_that_user_only(models: Models, stub: GeminiStub) -> None:
    gateway = make_gateway(models, stub, keys=Keys({"alice": "alice-own-key-42"}))
    await chunks_of(gateway, ask(MEDIUM, user="alice"))
    await chunks_of(gateway, ask(MEDIUM, user="bob"))
    assert [call.api_key for call in stub.requests] == ["alice-own-key-42", PLATFORM_KEY]
    assert (await gateway.quota("alice"))["tier"] == "premium"


async def test_usage_is_recorded_per_call_with_its_cost(models: Models, stub: GeminiStub) -> None:
    recorder = MemoryUsage()
    gateway = make_gateway(models, stub, usage=recorder)
    await chunks_of(gateway, ask(SIMPLE, user="corp"))
    await chunks_of(gateway, ask(COMPLEX, user="corp"))
    models_used = [(user, usage.model) for user, usage in recorder.calls]
    assert models_used == [("corp", MODEL_NAME), ("corp", PRO)]
    local, pro = (usage for _, usage in recorder.calls)
    assert local.cost_usd == 0.0
    assert pro.cost_usd == pytest.approx(PRICES.cost(PRO, pro.tokens_in, pro.tokens_out))


# Through a live server --------------------------------------------------------------


@pytest.fixture(scope="module")
async def gemini_server(
    models: Models, stub: GeminiStub, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    port = free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("gemini-var"),
        port,
        gemini_api_key=PLATFORM_KEY,
        gemini_base_url=stub.base_url,
        enterprise_users=["corp"],
    )
    async with serving(build_app(settings, models), port) as live:
        live.data_dir = settings.data_dir  # type: ignore[attr-defined]
        yield live


async def test_gemini_writes_the_code_and_the_final_status_carries_its_cost(
    gemini_server: LiveServer, stub: GeminiStub
) -> None:
    stub.reply = CHECKOUT
    events = await stream_task(f"{gemini_server.url}/agents/code/", CODE_COMPLEX, user="corp")
    assert final_state(events) == COMPLETED
    assert "paid" in artifacts(events)["src/checkout.py"]["text"]  # Pro's body was kept
    cost = statuses(events)[-1][2]["cost"]
    assert [call["model"] for call in cost["calls"]] == [PRO]
    assert cost["usd"] > 0
    assert cost["usd"] == pytest.approx(PRICES.cost(PRO, cost["tokens_in"], cost["tokens_out"]))


async def test_the_orchestrator_adds_up_its_agents_costs(
    gemini_server: LiveServer, stub: GeminiStub
) -> None:
    # The team path (a plan's costs are checked in test_progressive_e2e.py).
    team = {"progressive": False}
    stub.reply = CHECKOUT
    request = f"Design the architecture of a shop and write {CODE_COMPLEX[10:]}"
    events = await stream_task(gemini_server.url, request, user="corp", metadata=team)
    assert final_state(events) == COMPLETED
    cost = statuses(events)[-1][2]["cost"]
    routing = next(meta["routing"] for _, _, meta in statuses(events) if "routing" in meta)
    assert {"architecture", "code"} <= set(routing["team"])
    agents = {call["agent"] for call in cost["calls"]}
    assert agents == {"code"}  # the others build their answers without a model
    assert cost["usd"] == pytest.approx(sum(call["usd"] for call in cost["calls"]))
    assert cost["tokens_in"] == sum(call["tokens_in"] for call in cost["calls"])


async def test_a_429_mid_task_still_completes_on_the_local_model(
    gemini_server: LiveServer, stub: GeminiStub
) -> None:
    stub.fail_next(429, times=None, retry_after="0")
    events = await stream_task(f"{gemini_server.url}/agents/code/", CODE_COMPLEX, user="corp")
    assert final_state(events) == COMPLETED
    said = [text for _, text, _ in statuses(events)]
    assert any(text.startswith("Using the local model: Gemini") for text in said)
    cost = statuses(events)[-1][2]["cost"]
    assert {call["model"] for call in cost["calls"]} == {MODEL_NAME}
    assert cost["calls"][0]["fallbacks"]


async def test_usage_endpoint_adds_up_the_callers_tasks(
    gemini_server: LiveServer, stub: GeminiStub
) -> None:
    user = "ledger-user"
    stub.reply = FAVOURITES
    totals = {"usd": 0.0, "tokens_in": 0, "tokens_out": 0}
    calls = 0
    for query in (CODE_MEDIUM, SIMPLE):
        events = await stream_task(f"{gemini_server.url}/agents/code/", query, user=user)
        cost = statuses(events)[-1][2]["cost"]
        calls += len(cost["calls"])
        for field in totals:
            totals[field] += cost[field]
    async with httpx.AsyncClient(base_url=gemini_server.url) as http:
        mine = (await http.get("/v1/usage", headers={"X-User-Id": user})).json()
        other = (await http.get("/v1/usage", headers={"X-User-Id": "nobody"})).json()
        bad = await http.get("/v1/usage?month=2026-13", headers={"X-User-Id": user})
    assert mine["totals"]["calls"] == calls >= 2
    assert mine["totals"]["usd"] == pytest.approx(totals["usd"])
    assert mine["totals"]["tokens_in"] == totals["tokens_in"]
    assert mine["totals"]["tokens_out"] == totals["tokens_out"]
    assert {row["model"] for row in mine["models"]} == {FLASH, MODEL_NAME}
    assert mine["quota"]["tier"] == "free"
    assert other["totals"]["calls"] == 0 and other["models"] == []
    assert bad.status_code == 400


async def test_byok_is_checked_encrypted_used_for_its_owner_and_never_shown(
    gemini_server: LiveServer, stub: GeminiStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "AIzaSy-carol-very-secret-key-000111"
    stub.invalid_keys.add("AIzaSy-wrong-key")
    stub.reply = FAVOURITES
    responses: list[httpx.Response] = []
    async with httpx.AsyncClient(base_url=gemini_server.url) as http:
        carol = {"X-User-Id": "carol"}
        refused = await http.put("/v1/keys/gemini", json={"key": "AIzaSy-wrong-key"}, headers=carol)
        assert refused.status_code == 400 and "refused" in refused.json()["error"]["message"]
        assert (await http.put("/v1/keys/gemini", content=b"{", headers=carol)).status_code == 400
        stored = await http.put("/v1/keys/gemini", json={"key": secret}, headers=carol)
        assert stored.status_code == 200 and stored.json()["tier"] == "premium"
        responses += [refused, stored]
        events = await stream_task(f"{gemini_server.url}/agents/code/", CODE_MEDIUM, user="carol")
        dave = await stream_task(f"{gemini_server.url}/agents/code/", CODE_MEDIUM, user="dave")
        task_id = events[0].task.id
        task = await http.post(
            "/agents/code/",
            json={"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": task_id}},
            headers={**carol, "A2A-Version": "1.0"},
        )
        responses += [task, await http.get("/v1/usage", headers=carol)]
        responses.append(await http.get("/health"))
        deleted = await http.delete("/v1/keys/gemini", headers=carol)
        assert deleted.json() == {"provider": "gemini", "deleted": True}
        after = await stream_task(f"{gemini_server.url}/agents/code/", CODE_MEDIUM, user="carol")
    keys_used = [call.api_key for call in stub.requests if call.action != "countTokens"]
    assert keys_used == [secret, PLATFORM_KEY, PLATFORM_KEY]  # carol, dave, carol after delete
    assert final_state(events) == final_state(dave) == final_state(after) == COMPLETED
    # Nowhere to be seen: responses, events, task history, logs, the database.
    shown = [r.text for r in responses] + [str(e) for e in events + dave + after]
    shown += [record.getMessage() for record in caplog.records]
    assert all(secret not in text for text in shown)
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{gemini_server.data_dir}/tasks.db"  # type: ignore[attr-defined]
    )
    async with engine.connect() as connection:
        listing = sql("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = (await connection.execute(listing)).scalars()
        dump = []
        for table in [t for t in tables if not t.startswith("sqlite_")]:
            rows = (await connection.execute(sql(f'SELECT * FROM "{table}"'))).all()
            dump += [repr(row) for row in rows]
    await engine.dispose()
    assert dump and all(secret not in row for row in dump)


def test_platform_key_is_read_from_google_genais_own_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from youmeyou.settings import Settings

    monkeypatch.delenv("YMY_GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", "from-gemini-var")
    assert Settings(data_dir=tmp_path).gemini_api_key.get_secret_value() == "from-gemini-var"  # type: ignore[union-attr]
    monkeypatch.setenv("YMY_GEMINI_API_KEY", "from-ymy-var")
    assert Settings(data_dir=tmp_path).gemini_api_key.get_secret_value() == "from-ymy-var"  # type: ignore[union-attr]
    assert "from-ymy-var" not in repr(Settings(data_dir=tmp_path))


async def test_a_monthly_budget_lost_with_redis_is_rebuilt_from_recorded_usage(
    models: Models, stub: GeminiStub, tmp_path: Path
) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/usage.db")
    await create_tables(engine)
    namespace = f"ymy:test-budgets:{uuid.uuid4().hex}:"
    redis = RedisLimiter.from_url(REDIS_URL, namespace=namespace)
    options = {"usage": SqlUsageRecorder(engine), "quotas": Quotas(free_tokens_per_month=300)}
    try:
        first = make_gateway(models, stub, limiter=redis, **options)
        answer = await chunks_of(first, ask(COMPLEX, user="thrifty"))
        assert answer[-1].usage is not None and answer[-1].usage.model == PRO
        spent = answer[-1].usage.tokens_in + answer[-1].usage.tokens_out
        # Redis comes back empty (flushed, or a new server), and this server restarts.
        client = Redis.from_url(REDIS_URL)
        lost = [key async for key in client.scan_iter(f"{namespace}*")]
        assert lost and await client.delete(*lost) == len(lost)
        await client.aclose()
        again = make_gateway(models, stub, limiter=redis, **options)
        report = await again.quota("thrifty")
        assert report["tokens_used_this_month"] == spent  # not 0
        stub.requests.clear()
        over = await chunks_of(again, ask(COMPLEX * 4, user="thrifty", max_tokens=300 - spent))
        assert over[-1].usage is not None and over[-1].usage.model == MODEL_NAME
        assert stub.requests == []  # the rebuilt budget still holds
    finally:
        await redis.close()
        await engine.dispose()
