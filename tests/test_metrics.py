"""``/metrics``: what real requests move, read back through Prometheus' own parser.

One server with a Gemini-compatible stub behind its hosted tiers. Each test scrapes before
and after what it does and checks the difference is what the request did: a request under
its route's template, a task ended in its state for its agent, a model call with the tokens
the task reported, a stream's first event timed, the breaker's state.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from a2a.types import StreamResponse
from conftest import make_settings
from gemini_stub import GeminiStub
from prometheus_client.parser import text_string_to_metric_families
from support import COMPLETED, LiveServer, final_state, free_port, serving, statuses, stream

from inference.local import MODEL_NAME
from youmeyou.app import Models, build_app

PLATFORM_KEY = "platform-key-metrics-0123456789"
PRO, FLASH = "gemini-2.5-pro", "gemini-2.5-flash"
DATABASE_QUESTION = "Design a database schema for users, products, orders and payments"
# The code agent asks a model for the body; this one is complex enough for the pro tier.
CODE_COMPLEX = (
    "Write the checkout function `checkout(cart: dict) -> dict` of a scalable ecommerce "
    "platform with user authentication, product catalog, shopping cart, and payment processing"
)
CHECKOUT = "def checkout(cart: dict) -> dict:\n    return {**cart, 'paid': True}\n"
SIMPLE_CODE = "Write a Python function that reverses a string"

Figures = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def stub() -> Iterator[GeminiStub]:
    with GeminiStub() as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_stub(stub: GeminiStub) -> None:
    stub.reset()


@pytest.fixture(scope="module")
async def metered(
    models: Models, stub: GeminiStub, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    port = free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("metrics-var"),
        port,
        gemini_api_key=PLATFORM_KEY,
        gemini_base_url=stub.base_url,
        enterprise_users=["corp"],  # no free-tier quota in the way
        breaker_failures=2,
        breaker_reset_s=600.0,  # once open, it stays open for the rest of the module
    )
    async with serving(build_app(settings, models), port) as live:
        yield live


async def scrape(url: str) -> Figures:
    async with httpx.AsyncClient(base_url=url) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(figures: Figures, name: str, **labels: str) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Figures, after: Figures, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def cost_of(events: list[StreamResponse], model: str) -> tuple[int, int, int, float]:
    """Calls, tokens in, tokens out and dollars of ``model`` in a task's final cost."""
    calls = [c for c in statuses(events)[-1][2]["cost"]["calls"] if c["model"] == model]
    return (
        len(calls),
        sum(int(c["tokens_in"]) for c in calls),
        sum(int(c["tokens_out"]) for c in calls),
        sum(float(c["usd"]) for c in calls),
    )


async def warmed(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(600):
            if not (await http.get("/health")).json()["warming"]:
                return
            await asyncio.sleep(0.1)
    raise AssertionError("the server never finished warming")


async def test_a_streamed_task_is_counted_under_its_route_agent_and_state(
    metered: LiveServer,
) -> None:
    before = await scrape(metered.url)
    events = await stream(metered.url, DATABASE_QUESTION, user="metrics-db")
    assert final_state(events) == COMPLETED
    after = await scrape(metered.url)

    requests = "youmeyou_http_requests_total"
    assert moved(before, after, requests, route="/", method="POST", status="2xx") == 1
    card = "/.well-known/agent-card.json"
    assert moved(before, after, requests, route=card, method="GET", status="2xx") == 1
    latency = "youmeyou_http_request_duration_seconds_count"
    assert moved(before, after, latency, route="/", method="POST", status="2xx") == 1
    first_event = "youmeyou_a2a_time_to_first_event_seconds"
    assert moved(before, after, f"{first_event}_count", route="/") == 1
    # Timed to the first event, not the whole stream: under the streams' own latency bound.
    assert 0 < moved(before, after, f"{first_event}_sum", route="/") < 5.0
    tasks = "youmeyou_tasks_total"
    done = "TASK_STATE_COMPLETED"
    assert moved(before, after, tasks, agent="orchestrator", state=done) == 1
    assert moved(before, after, tasks, agent="database", state=done) == 1
    assert moved(before, after, tasks, agent="code", state=done) == 0


async def test_routes_are_labelled_by_template_never_by_raw_path(metered: LiveServer) -> None:
    before = await scrape(metered.url)
    async with httpx.AsyncClient(base_url=metered.url) as http:
        missing = await http.get("/page-4711")  # no route takes it
        task = await http.get("/agents/database/tasks/task-4711", headers={"A2A-Version": "1.0"})
    assert missing.status_code in (307, 404)  # Starlette may first try it with a slash
    after = await scrape(metered.url)
    requests = "youmeyou_http_requests_total"
    refused = f"{missing.status_code // 100}xx"
    assert moved(before, after, requests, route="unmatched", method="GET", status=refused) == 1
    routes = {dict(labels).get("route", "") for name, labels in after if name == requests}
    assert not any("4711" in route for route in routes)
    template = f"{task.status_code // 100}xx"
    counted = [
        dict(labels)["route"]
        for (name, labels), count in after.items()
        if name == requests
        and dict(labels)["route"].startswith("/agents/database/")
        and dict(labels)["status"] == template
        and count > value(before, name, **dict(labels))
    ]
    assert counted == ["/agents/database/tasks/{id}"]


async def test_a_hosted_model_call_is_counted_with_the_tokens_and_cost_it_reported(
    metered: LiveServer, stub: GeminiStub
) -> None:
    stub.reply = CHECKOUT
    before = await scrape(metered.url)
    events = await stream(f"{metered.url}/agents/code/", CODE_COMPLEX, user="corp")
    assert final_state(events) == COMPLETED
    after = await scrape(metered.url)
    calls, tokens_in, tokens_out, usd = cost_of(events, PRO)
    assert calls >= 1 and tokens_in > 0 and tokens_out > 0
    pro = {"model": PRO, "tier": "pro"}
    assert moved(before, after, "youmeyou_model_calls_total", **pro, provider="gemini") == calls
    tokens = "youmeyou_model_tokens_total"
    assert moved(before, after, tokens, **pro, direction="in") == tokens_in
    assert moved(before, after, tokens, **pro, direction="out") == tokens_out
    assert moved(before, after, "youmeyou_model_cost_usd_total", **pro) == pytest.approx(usd)
    assert usd > 0
    assert moved(before, after, "youmeyou_tasks_total", agent="code", state="TASK_STATE_COMPLETED")
    assert value(after, "youmeyou_breaker_state", provider="gemini") == 0  # closed


async def test_the_local_model_reports_its_speed_and_the_server_its_warmth(
    metered: LiveServer,
) -> None:
    await warmed(metered.url)
    before = await scrape(metered.url)
    events = await stream(f"{metered.url}/agents/code/", SIMPLE_CODE, user="corp")
    assert final_state(events) == COMPLETED
    after = await scrape(metered.url)
    calls, _, tokens_out, _ = cost_of(events, MODEL_NAME)
    assert calls >= 1 and tokens_out > 0
    local = {"model": MODEL_NAME, "tier": "local"}
    assert moved(before, after, "youmeyou_model_calls_total", **local, provider="local") == calls
    assert moved(before, after, "youmeyou_model_tokens_total", **local, direction="out") > 0
    assert value(after, "youmeyou_local_model_tokens_per_second") > 1.0
    assert value(after, "youmeyou_local_model_queue_depth") == 0  # nothing waits now
    assert value(after, "youmeyou_local_model_loaded") == 1
    assert value(after, "youmeyou_warm") == 1
    assert value(after, "youmeyou_running_tasks") == 0


async def test_a_failing_provider_opens_its_breaker_and_the_fallbacks_are_counted(
    metered: LiveServer, stub: GeminiStub
) -> None:
    stub.fail_next(500, times=None)
    before = await scrape(metered.url)
    events = await stream(f"{metered.url}/agents/code/", CODE_COMPLEX, user="corp")
    assert final_state(events) == COMPLETED  # on the local model
    after = await scrape(metered.url)
    assert value(after, "youmeyou_breaker_state", provider="gemini") == 2  # open
    hops = "youmeyou_model_fallbacks_total"
    assert moved(before, after, hops, **{"from": PRO, "to": FLASH, "reason": "unavailable"}) == 1
    flash_failed = {"from": FLASH, "to": MODEL_NAME, "reason": "unavailable"}
    assert moved(before, after, hops, **flash_failed) == 1
    # Once open, the hosted tiers are skipped without a call: the reason says so.
    calls = len(stub.calls())
    await stream(f"{metered.url}/agents/code/", CODE_COMPLEX, user="corp")
    later = await scrape(metered.url)
    assert len(stub.calls()) == calls
    skipped = {"from": PRO, "to": FLASH, "reason": "circuit_open"}
    assert moved(after, later, hops, **skipped) >= 1
    assert moved(after, later, hops, **{"from": PRO, "to": FLASH, "reason": "unavailable"}) == 0
    async with httpx.AsyncClient(base_url=metered.url) as http:
        ops = (await http.get("/v1/ops")).json()
    assert ops["breakers"] == [{"provider": "gemini", "state": "open"}]
    counted = {(f["from"], f["to"], f["reason"]): f["count"] for f in ops["fallbacks"]}
    assert counted[(PRO, FLASH, "unavailable")] == value(
        later, hops, **{"from": PRO, "to": FLASH, "reason": "unavailable"}
    )
