"""The gateway's OpenAI-compatible provider, through the real ``openai`` client.

Against a loopback server that speaks OpenAI's chat API (``openai_stub``): streaming, costs,
429 / 5xx / mid-stream fallbacks, a local server that wants no key, a hosted one that does,
and through a live server a user's own key (BYOK) and the code agent writing with it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from conftest import make_settings
from gateway_support import Keys, ask, chunks_of, notices
from loopback import count_tokens
from openai_stub import OpenAIStub
from support import COMPLETED, LiveServer, artifacts, final_state, free_port, serving, statuses
from support import stream as stream_task

from inference.costs import Price, PriceTable
from inference.gateway import ModelGateway, Policy
from inference.limits import InProcessLimiter
from inference.local import MODEL_NAME
from inference.openai_compatible import OpenAICompatibleProvider
from youmeyou.app import Models, build_app
from youmeyou.settings import DEFAULT_MODEL_POLICY, DEFAULT_PRICES

PLATFORM_KEY = "sk-platform-0123456789abcdef"
FLASH, PRO = "gpt-4o-mini", "gpt-4o"
MEDIUM = "Build an API for a recipe app with user favourites"
COMPLEX = (
    "Help me design a scalable ecommerce platform with user authentication, product "
    "catalog, shopping cart, and payment processing"
)
CODE_MEDIUM = (
    "Write `favourites(user: str) -> list` for the API of a recipe app with user favourites"
)
FAVOURITES = "def favourites(user: str) -> list:\n    return [user, 'pancakes']\n"
PRICES = PriceTable({model: Price(*price) for model, price in DEFAULT_PRICES.items()})


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_stub(stub: OpenAIStub) -> None:
    stub.reset()


def make_gateway(
    models: Models, stub: OpenAIStub, *, needs_key: bool | None = None, **overrides: Any
) -> ModelGateway:
    provider = OpenAICompatibleProvider(
        base_url=f"{stub.base_url}/v1", needs_key=needs_key, timeout_s=5
    )
    options: dict[str, Any] = {
        "local": models.local_model,
        "hosted": provider,
        "models": {"local": MODEL_NAME, "flash": FLASH, "pro": PRO},
        "policy": Policy(DEFAULT_MODEL_POLICY),
        "analyzer": models.analyzer,
        "limiter": InProcessLimiter(),
        "prices": PRICES,
        "keys": Keys(),
        "platform_key": PLATFORM_KEY,
        "enterprise_users": ["corp"],
    }
    options.update(overrides)
    return ModelGateway(**options)


async def test_the_answer_streams_in_pieces_and_is_priced_from_the_servers_usage(
    models: Models, stub: OpenAIStub
) -> None:
    gateway = make_gateway(models, stub)
    chunks = await chunks_of(gateway, ask(COMPLEX))
    texts = [c.text for c in chunks if c.text]
    assert len(texts) == stub.chunks and "".join(texts) == f"[{PRO}] {COMPLEX}"
    usage = chunks[-1].usage
    assert usage is not None and usage.provider == "openai" and usage.model == PRO
    body = stub.calls()[0].body
    assert body["stream"] is True and body["max_tokens"] == 16
    assert "temperature" not in body and "stop" not in body  # unset: left out, never null
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": COMPLEX},
    ]
    assert stub.calls()[0].api_key == PLATFORM_KEY
    tokens_in = count_tokens("You are terse.") + count_tokens(COMPLEX)
    tokens_out = count_tokens(f"[{PRO}] {COMPLEX}")
    assert (usage.tokens_in, usage.tokens_out) == (tokens_in, tokens_out)  # the server's counts
    assert usage.cost_usd == pytest.approx(PRICES.cost(PRO, tokens_in, tokens_out))


async def test_without_usage_in_the_stream_tokens_are_counted_here(
    models: Models, stub: OpenAIStub
) -> None:
    stub.usage = False  # some servers never send a usage chunk
    chunks = await chunks_of(make_gateway(models, stub), ask(MEDIUM))
    usage = chunks[-1].usage
    assert usage is not None and usage.model == FLASH
    assert usage.tokens_in > 0 and usage.tokens_out > 0
    assert usage.cost_usd == pytest.approx(PRICES.cost(FLASH, usage.tokens_in, usage.tokens_out))


async def test_a_429_falls_back_to_the_local_model_and_its_retry_after_holds(
    models: Models, stub: OpenAIStub, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = make_gateway(models, stub)
    stub.fail_next(429, times=None, retry_after="120")  # outlasts a slow local answer
    caplog.set_level(logging.INFO)
    chunks = await chunks_of(gateway, ask(COMPLEX))
    usage = chunks[-1].usage
    assert usage is not None and usage.model == MODEL_NAME
    assert [c.model for c in stub.calls()] == [PRO, FLASH]  # each tried once, no retries
    quota = f"OpenAI-compatible server quota reached ({PRO} answered 429)"
    assert notices(chunks) == [f"Using {FLASH}: {quota}.", f"Using the local model: {quota}."]
    stub.clear_faults()
    again = await chunks_of(gateway, ask(COMPLEX))
    assert again[-1].usage is not None and again[-1].usage.model == MODEL_NAME
    assert len(stub.calls()) == 2  # still cooling: not called
    assert "retry in" in notices(again)[0]


async def test_a_5xx_on_pro_falls_back_to_flash(models: Models, stub: OpenAIStub) -> None:
    stub.fail_next(503, model=PRO)
    chunks = await chunks_of(make_gateway(models, stub), ask(COMPLEX))
    assert chunks[-1].usage is not None and chunks[-1].usage.model == FLASH
    assert notices(chunks) == [f"Using {FLASH}: {PRO} answered 503."]


async def test_a_failure_mid_stream_restarts_the_answer_on_the_next_model(
    models: Models, stub: OpenAIStub
) -> None:
    stub.fail_next(500, model=PRO, after_chunks=1)
    chunks = await chunks_of(make_gateway(models, stub), ask(COMPLEX))
    restart_at = next(i for i, c in enumerate(chunks) if c.restart)
    assert any(c.text for c in chunks[:restart_at])  # pro had begun to answer
    answer = "".join(c.text for c in chunks[restart_at:])
    assert answer.startswith(f"[{FLASH}]")
    assert chunks[-1].usage is not None and chunks[-1].usage.model == FLASH


async def test_a_local_server_wants_no_key_and_a_hosted_one_without_a_key_is_skipped(
    models: Models, stub: OpenAIStub
) -> None:
    local_server = make_gateway(models, stub, platform_key=None)
    chunks = await chunks_of(local_server, ask(MEDIUM))
    assert chunks[-1].usage is not None and chunks[-1].usage.model == FLASH
    assert stub.calls()[0].api_key == "no-key"  # the placeholder the client insists on
    stub.requests.clear()
    hosted = make_gateway(models, stub, platform_key=None, needs_key=True)
    chunks = await chunks_of(hosted, ask(MEDIUM))
    assert chunks[-1].usage is not None and chunks[-1].usage.model == MODEL_NAME
    assert notices(chunks) == [
        "Using the local model: no OpenAI-compatible server API key is configured."
    ]
    assert stub.calls() == []


async def test_a_refused_key_falls_back_and_a_users_own_key_is_theirs_alone(
    models: Models, stub: OpenAIStub
) -> None:
    stub.keys = {PLATFORM_KEY, "sk-alice"}
    keys = Keys({"alice": "sk-alice", "mallory": "sk-stolen"})
    gateway = make_gateway(models, stub, keys=keys)
    answered = {}
    for user in ("alice", "bob", "mallory"):
        answered[user] = (await chunks_of(gateway, ask(MEDIUM, user=user)))[-1].usage
    assert [c.api_key for c in stub.calls()] == ["sk-alice", PLATFORM_KEY, "sk-stolen"]
    assert answered["alice"].model == answered["bob"].model == FLASH  # type: ignore[union-attr]
    assert answered["mallory"].model == MODEL_NAME  # type: ignore[union-attr]
    assert set(keys.asked) == {"openai"}  # keys are stored per provider
    assert (await gateway.quota("alice"))["tier"] == "premium"


# Through a live server --------------------------------------------------------------


@pytest.fixture(scope="module")
async def openai_server(
    models: Models, stub: OpenAIStub, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    port = free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("openai-var"),
        port,
        hosted_provider="openai",
        openai_base_url=f"{stub.base_url}/v1",
        openai_needs_key=True,
        openai_api_key=PLATFORM_KEY,
    )
    async with serving(build_app(settings, models), port) as live:
        yield live


async def test_the_code_agent_writes_with_the_servers_model_and_reports_its_cost(
    openai_server: LiveServer, stub: OpenAIStub
) -> None:
    stub.reply = FAVOURITES
    events = await stream_task(f"{openai_server.url}/agents/code/", CODE_MEDIUM, user="erin")
    assert final_state(events) == COMPLETED
    code = next(a["text"] for name, a in artifacts(events).items() if name.endswith(".py"))
    assert "pancakes" in code  # the server's body was kept
    cost = statuses(events)[-1][2]["cost"]
    assert [call["model"] for call in cost["calls"]] == [FLASH]
    assert cost["usd"] == pytest.approx(PRICES.cost(FLASH, cost["tokens_in"], cost["tokens_out"]))
    async with httpx.AsyncClient(base_url=openai_server.url) as http:
        health = (await http.get("/health")).json()
    assert health["hosted"] == {"provider": "openai", "platform_key": True, "breaker": "closed"}


async def test_byok_for_the_openai_provider_is_checked_used_and_never_shown(
    openai_server: LiveServer, stub: OpenAIStub
) -> None:
    secret = "sk-frank-very-secret-000111"
    stub.keys = {PLATFORM_KEY, secret}
    stub.reply = FAVOURITES
    frank = {"X-User-Id": "frank"}
    async with httpx.AsyncClient(base_url=openai_server.url) as http:
        wrong = await http.put("/v1/keys/openai", json={"key": "sk-wrong"}, headers=frank)
        other = await http.put("/v1/keys/gemini", json={"key": secret}, headers=frank)
        stored = await http.put("/v1/keys/openai", json={"key": secret}, headers=frank)
        usage = await http.get("/v1/usage", headers=frank)
        events = await stream_task(f"{openai_server.url}/agents/code/", CODE_MEDIUM, user="frank")
        deleted = await http.delete("/v1/keys/openai", headers=frank)
    assert wrong.status_code == 400 and "refused" in wrong.json()["error"]["message"]
    assert other.status_code == 404 and "openai" in other.json()["error"]["message"]
    assert stored.status_code == 200 and stored.json()["tier"] == "premium"
    assert usage.json()["quota"]["tier"] == "premium"
    assert final_state(events) == COMPLETED
    assert stub.calls()[-1].api_key == secret
    assert deleted.json() == {"provider": "openai", "deleted": True}
    shown = [r.text for r in (wrong, other, stored, usage, deleted)] + [str(e) for e in events]
    assert all(secret not in text for text in shown)
