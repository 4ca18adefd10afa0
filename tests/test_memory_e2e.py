"""Memory and learning through a live server: ratings change routing, context carries over,
profiles and feedback are the caller's own, and all of it survives a restart."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import make_settings
from gemini_stub import GeminiStub
from support import COMPLETED, LiveServer, artifacts, final_state, free_port, serving
from support import stream as stream_task
from typer.testing import CliRunner

from youmeyou.app import Models, build_app
from youmeyou.cli import app as cli

REDIS_URL = "redis://127.0.0.1:6379/0"
PLATFORM_KEY = "platform-key-memory-tests"
# Fits the validator and the database agent about equally (the validator a little better).
AMBIGUOUS = "Is this schema any good?"
OBVIOUS_VALIDATOR = 'Check this JSON for syntax errors: {"order": 42, "items": [1, 2]}'
CLEARLY_VALIDATION = "Validate this SQL: SELECT * FROM users WHERE id = 1"


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def stub() -> Iterator[GeminiStub]:
    with GeminiStub() as running:
        yield running


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("memory-var")


def memory_settings(data_dir: Path, port: int, stub: GeminiStub, **overrides: Any) -> Any:
    options: dict[str, Any] = {
        "redis_url": REDIS_URL,
        "gemini_api_key": PLATFORM_KEY,
        "gemini_base_url": stub.base_url,
        "enterprise_users": ["mem-corp"],
    }
    options.update(overrides)
    return make_settings(data_dir, port, **options)


@pytest.fixture(scope="module")
async def memory_server(
    models: Models, stub: GeminiStub, data_dir: Path
) -> AsyncIterator[LiveServer]:
    port = free_port()
    async with serving(build_app(memory_settings(data_dir, port, stub), models), port) as live:
        await _wait_ready(live.url)
        yield live


async def _wait_ready(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(400):
            health = (await http.get("/health")).json()
            if not health.get("warming"):
                return
            import asyncio

            await asyncio.sleep(0.05)


async def route(url: str, user: str, query: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url) as http:
        response = await http.post("/v1/route", json={"query": query}, headers={"X-User-Id": user})
    assert response.status_code == 200
    decision: dict[str, Any] = response.json()
    return decision


async def feedback(url: str, user: str, body: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url) as http:
        return await http.post("/v1/feedback", json=body, headers={"X-User-Id": user})


async def run_pinned(url: str, user: str, agent: str, query: str = AMBIGUOUS) -> str:
    events = await stream_task(url, query, user=user, metadata={"agent": agent})
    assert final_state(events) == COMPLETED
    return events[0].task.id


async def test_ratings_flip_this_users_routing_and_no_one_elses(
    memory_server: LiveServer,
) -> None:
    url = memory_server.url
    fan, bystander = unique("fan"), unique("bystander")
    before = await route(url, fan, AMBIGUOUS)
    assert before["ranking"][0]["agent"] == "validator"
    assert {s["agent"] for s in before["ranking"][:2]} == {"validator", "database"}

    flipped_after = None
    plan = ["validator", "database", "validator", "database", "database"]
    for count, agent in enumerate(plan, start=1):
        task_id = await run_pinned(url, fan, agent)
        rating = 5 if agent == "database" else 1
        answer = await feedback(url, fan, {"taskId": task_id, "rating": rating})
        assert answer.status_code == 200, answer.text
        if (await route(url, fan, AMBIGUOUS))["ranking"][0]["agent"] == "database":
            flipped_after = flipped_after or count
    assert flipped_after is not None and flipped_after <= 5

    mine = await route(url, fan, AMBIGUOUS)
    database = next(s for s in mine["ranking"] if s["agent"] == "database")
    validator = next(s for s in mine["ranking"] if s["agent"] == "validator")
    assert database["breakdown"]["history"] > 0 > validator["breakdown"]["history"]
    # Someone else's routing has not moved.
    theirs = await route(url, bystander, AMBIGUOUS)
    assert theirs["ranking"][0]["agent"] == "validator"
    assert all(s["breakdown"]["history"] == 0 for s in theirs["ranking"])
    assert theirs["ranking"] == before["ranking"]
    # A clearly single-domain request still goes to its obvious agent.
    assert (await route(url, fan, CLEARLY_VALIDATION))["team"] == ["validator"]


async def test_the_cli_ranks_for_the_user_named(memory_server: LiveServer) -> None:
    url, critic = memory_server.url, unique("critic")
    for agent, rating in (("validator", 1), ("database", 5)):
        task_id = await run_pinned(url, critic, agent)
        assert (await feedback(url, critic, {"taskId": task_id, "rating": rating})).is_success

    def ranked_first(user: str) -> tuple[str, str]:
        args = ["route", AMBIGUOUS, "--user", user, "--url", url]
        result = CliRunner().invoke(cli, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        rows = [line for line in result.output.splitlines() if " * " in line or "*  " in line]
        return rows[0].split()[1], result.output

    first, output = await asyncio.to_thread(ranked_first, critic)
    assert first == "database" and "history" in output
    assert (await asyncio.to_thread(ranked_first, unique("newcomer")))[0] == "validator"


async def test_feedback_refuses_bad_ratings_and_other_users_tasks(
    memory_server: LiveServer,
) -> None:
    url = memory_server.url
    owner, stranger = unique("owner"), unique("stranger")
    task_id = await run_pinned(url, owner, "validator", OBVIOUS_VALIDATOR)
    for bad in (0, 6, 4.5, "5", None, True):
        answer = await feedback(url, owner, {"taskId": task_id, "rating": bad})
        assert answer.status_code == 400 and "rating" in answer.json()["error"]["message"]
    assert (await feedback(url, owner, {"rating": 5})).status_code == 400
    assert (
        await feedback(url, owner, {"taskId": task_id, "rating": 5, "comment": "x" * 3000})
    ).status_code == 400
    unknown = await feedback(url, owner, {"taskId": str(uuid.uuid4()), "rating": 5})
    theirs = await feedback(url, stranger, {"taskId": task_id, "rating": 5})
    assert unknown.status_code == theirs.status_code == 404
    assert unknown.json()["error"]["message"].startswith("No finished task")
    # Nothing was stored by any of that: the owner can still rate, once.
    assert (await feedback(url, owner, {"taskId": task_id, "rating": 4})).status_code == 200
    assert (await feedback(url, owner, {"taskId": task_id, "rating": 5})).status_code == 409


async def test_feedback_as_an_a2a_data_part(memory_server: LiveServer) -> None:
    url = memory_server.url
    user = unique("a2a-rater")
    task_id = await run_pinned(url, user, "validator", OBVIOUS_VALIDATOR)

    async def send(body: dict[str, Any], who: str) -> dict[str, Any]:
        payload = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "SendMessage",
            "params": {
                "message": {
                    "role": "ROLE_USER",
                    "messageId": str(uuid.uuid4()),
                    "parts": [{"data": {"feedback": body}}],
                }
            },
        }
        async with httpx.AsyncClient(base_url=url) as http:
            response = await http.post("/", json=payload, headers={"X-User-Id": who})
        assert response.status_code == 200
        answer: dict[str, Any] = response.json()
        return answer

    stranger = await send({"taskId": task_id, "rating": 5}, unique("stranger"))
    assert stranger["error"]["code"] == -32001
    bad = await send({"taskId": task_id, "rating": 9}, user)
    assert bad["error"]["code"] == -32602
    good = await send({"taskId": task_id, "rating": 5, "comment": "spot on"}, user)
    text = good["result"]["message"]["parts"][0]["text"]
    assert "5/5" in text and "validator" in text


async def test_profile_round_trip_and_limits(memory_server: LiveServer) -> None:
    user = unique("profiled")
    headers = {"X-User-Id": user}
    async with httpx.AsyncClient(base_url=memory_server.url) as http:
        default = (await http.get("/v1/profile", headers=headers)).json()
        assert default["skill_level"] == "intermediate" and default["projects"] == {}
        body = {
            "skill_level": "beginner",
            "preferences": {"languages": ["Python"], "databases": ["PostgreSQL"]},
            "projects": {
                "shop": {"name": "Shop", "description": "A web shop", "tech_stack": ["FastAPI"]}
            },
        }
        stored = await http.put("/v1/profile", json=body, headers=headers)
        assert stored.status_code == 200, stored.text
        assert stored.json()["preferences"]["languages"] == ["python"]
        oversized = await http.put(
            "/v1/profile",
            json={"preferences": {"languages": ["x" * 500]}},
            headers=headers,
        )
        assert oversized.status_code == 400
        assert "preferences.languages" in oversized.json()["error"]["message"]
        unknown_field = await http.put("/v1/profile", json={"role": "admin"}, headers=headers)
        assert unknown_field.status_code == 400
        after = (await http.get("/v1/profile", headers=headers)).json()
        assert after["skill_level"] == "beginner"
        assert after["preferences"]["languages"] == ["python"]
        other = (await http.get("/v1/profile", headers={"X-User-Id": unique("other")})).json()
        assert other["skill_level"] == "intermediate"


async def test_a_follow_up_sees_the_earlier_turns_and_the_users_persona(
    memory_server: LiveServer, stub: GeminiStub
) -> None:
    user = "mem-corp"
    context_id = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=memory_server.url) as http:
        await http.put("/v1/profile", json={"skill_level": "expert"}, headers={"X-User-Id": user})
    first = "Build an API for a recipe app with user favourites and ratings"
    events = await stream_task(
        memory_server.url, first, user=user, metadata={"agent": "code"}, context_id=context_id
    )
    assert final_state(events) == COMPLETED
    stub.requests.clear()
    follow_up = "Now add an endpoint that lists the most favourited recipes"
    events = await stream_task(
        memory_server.url, follow_up, user=user, metadata={"agent": "code"}, context_id=context_id
    )
    assert final_state(events) == COMPLETED
    prompts = [str(call.body) for call in stub.requests]
    assert prompts, "the follow-up went to Gemini through the gateway"
    assert all(first in prompt for prompt in prompts)  # the earlier turn is in the prompt
    assert all("senior code specialist" in prompt for prompt in prompts)  # expert persona
    assert all("<<<CONTEXT" in prompt for prompt in prompts)
    # Another conversation of the same user starts without those turns.
    stub.requests.clear()
    await stream_task(memory_server.url, follow_up, user=user, metadata={"agent": "code"})
    assert all(first not in str(call.body) for call in stub.requests)


async def test_specialists_cite_the_knowledge_base(memory_server: LiveServer) -> None:
    events = await stream_task(
        memory_server.url,
        "Design a scalable ecommerce platform with a product catalog and payments",
        user=unique("reader"),
        metadata={"agent": "architecture"},
    )
    assert final_state(events) == COMPLETED
    document = artifacts(events)["architecture.md"]["text"]
    assert "## References" in document
    assert document.split("## References")[1].count("- [") >= 1


async def test_restart_keeps_profiles_history_and_the_knowledge_index(
    models: Models, stub: GeminiStub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    user = unique("returning")
    port = free_port()
    settings = memory_settings(tmp_path, port, stub)
    async with serving(build_app(settings, models), port) as live:
        await _wait_ready(live.url)
        async with httpx.AsyncClient(base_url=live.url) as http:
            await http.put(
                "/v1/profile", json={"skill_level": "expert"}, headers={"X-User-Id": user}
            )
        task_id = await run_pinned(live.url, user, "database")
        assert (await feedback(live.url, user, {"taskId": task_id, "rating": 5})).status_code == 200
    assert sum("knowledge entries" in r.getMessage() for r in caplog.records) == 1
    caplog.clear()
    port = free_port()
    settings = memory_settings(tmp_path, port, stub)
    async with serving(build_app(settings, models), port) as live:
        await _wait_ready(live.url)
        async with httpx.AsyncClient(base_url=live.url) as http:
            profile = (await http.get("/v1/profile", headers={"X-User-Id": user})).json()
        decision = await route(live.url, user, AMBIGUOUS)
        again = await feedback(live.url, user, {"taskId": task_id, "rating": 5})
    assert profile["skill_level"] == "expert"
    database = next(s for s in decision["ranking"] if s["agent"] == "database")
    assert database["breakdown"]["history"] > 0  # the rating survived
    assert again.status_code == 409  # and so did the interaction record
    assert not any("knowledge entries" in r.getMessage() for r in caplog.records)  # no re-index


async def test_an_unreachable_redis_falls_back_to_in_process_sessions(
    models: Models, stub: GeminiStub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    port = free_port()
    settings = memory_settings(tmp_path, port, stub, redis_url="redis://127.0.0.1:1/0")
    async with serving(build_app(settings, models), port) as live:
        user = unique("offline")
        task_id = await run_pinned(live.url, user, "validator", OBVIOUS_VALIDATOR)
        assert (await feedback(live.url, user, {"taskId": task_id, "rating": 5})).status_code == 200
    warnings = [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == 1 and "in-process" in warnings[0]
