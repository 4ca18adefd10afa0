"""Remote agents that come and go: their cards are fetched again on a schedule, with backoff.

Real servers on loopback ports: a specialist served alone (the database agent under a card of
its own, the "Seed Bank Archivist", so that one request fits it and nothing else as well),
and the orchestrator with that URL in its remote agents and a short refresh period.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from conftest import make_settings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from support import COMPLETED, FAILED, artifacts, final_state, free_port, serving, statuses, stream

from orchestrator.registry import AgentRegistry
from orchestrator.remote_agents import RemoteAgents, RemoteState
from youmeyou.app import Models, build_agent_app, build_app
from youmeyou.settings import Settings

REMOTE_ID = "seed-bank-archivist"
REQUEST = "Design the tables for a seed bank that tracks germination tests per seed lot"
REFRESH_S = 0.3
BACKOFF_MAX_S = 1.0


def archivist_cards(root: Path, *, skill_name: str = "Seed bank catalogue") -> Path:
    """The shipped cards, the database agent's renamed and given one seed-bank skill."""
    cards = root / "cards"
    shutil.rmtree(cards, ignore_errors=True)
    shutil.copytree(Settings().cards_dir, cards)
    path = cards / "database.json"
    card = json.loads(path.read_text())
    card["name"] = "Seed Bank Archivist"
    card["description"] = "Models the catalogues of seed banks."
    card["skills"] = [
        {
            "id": "seed-bank",
            "name": skill_name,
            "description": "Tables for seed banks: seed lots, accessions, germination tests.",
            "tags": ["seed bank", "germination"],
            "examples": [
                REQUEST,
                "Model the accessions of a seed bank vault",
                "Which tables does a seed bank need for its germination records?",
                "Catalogue the seed lots stored in a seed vault",
            ],
        }
    ]
    path.write_text(json.dumps(card))
    return cards


def remote_app(root: Path, port: int, models: Models, **card: str) -> Starlette:
    settings = make_settings(root, port, cards_dir=archivist_cards(root, **card))
    return build_agent_app(settings, "database", models)


async def health(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    found: dict[str, Any] = (await http.get(f"{url}/health")).json()
    return found


async def route(http: httpx.AsyncClient, url: str, **body: Any) -> dict[str, Any]:
    answer = await http.post(f"{url}/v1/route", json={"query": REQUEST, **body})
    decided: dict[str, Any] = answer.json()
    return decided


async def within(seconds: float, check: Callable[[], Awaitable[bool]]) -> float:
    """How long until ``check`` holds (polled every 50 ms); fails after ``seconds``."""
    start = time.monotonic()
    while not await check():
        assert time.monotonic() - start < seconds, f"not within {seconds} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def routed_team(events: list[Any]) -> list[str]:
    """The team of the routing decision the stream announced."""
    routing = next(meta["routing"] for _, _, meta in statuses(events) if "routing" in meta)
    team: list[str] = routing["team"]
    return team


def remote_entry(found: dict[str, Any], url: str) -> dict[str, Any]:
    entry: dict[str, Any] = next(e for e in found["remote_agents"] if e["url"] == url)
    return entry


async def test_a_remote_agent_that_comes_up_later_is_registered_and_routed_to(
    models: Models, tmp_path: Path
) -> None:
    remote_port, port = free_port(), free_port()
    remote_url = f"http://127.0.0.1:{remote_port}"
    settings = make_settings(
        tmp_path / "main",
        port,
        remote_agents=remote_url,
        remote_card_refresh_s=REFRESH_S,
        remote_card_backoff_max_s=BACKOFF_MAX_S,
    )
    async with (
        serving(build_app(settings, models), port) as live,
        httpx.AsyncClient(timeout=60) as http,
    ):
        # Down at start: listed, unavailable, with the reason; its request goes elsewhere.
        entry = remote_entry(await health(http, live.url), remote_url)
        assert entry["state"] == "unavailable" and entry["agent"] is None
        assert "All connection attempts failed" in entry["last_error"], entry
        assert datetime.fromisoformat(entry["next_try"]).timestamp() > time.time() - 1
        assert remote_url in (await health(http, live.url))["remote_errors"]
        events = await stream(live.url, REQUEST)
        assert final_state(events) == COMPLETED, statuses(events)[-1]
        assert routed_team(events) == ["database"]

        async with serving(remote_app(tmp_path / "remote", remote_port, models), remote_port):

            async def is_available() -> bool:
                return remote_entry(await health(http, live.url), remote_url)["state"] == (
                    "available"
                )

            async def is_routed() -> bool:
                return (await route(http, live.url))["team"] == [REMOTE_ID]

            registered = await within(10 * BACKOFF_MAX_S, is_available)
            routable = registered + await within(5, is_routed)
            print(f"remote up -> /health available {registered:.2f} s, routable {routable:.2f} s")
            entry = remote_entry(await health(http, live.url), remote_url)
            assert entry["agent"] == REMOTE_ID and entry["failures"] == 0
            assert entry["last_error"] is None and entry["last_seen"] is not None
            assert remote_url not in (await health(http, live.url))["remote_errors"]

            events = await stream(live.url, REQUEST)
            assert final_state(events) == COMPLETED, statuses(events)[-1]
            assert routed_team(events) == [REMOTE_ID]
            schema = artifacts(events)["schema.sql"]
            assert schema["metadata"][0]["agent"] == REMOTE_ID
            assert "CREATE TABLE" in schema["text"] and "germination" in schema["text"].lower()


async def test_a_remote_agent_that_goes_away_is_unavailable_until_it_returns(
    models: Models, tmp_path: Path
) -> None:
    remote_port, port = free_port(), free_port()
    remote_url = f"http://127.0.0.1:{remote_port}"
    settings = make_settings(
        tmp_path / "main",
        port,
        remote_agents=remote_url,
        remote_card_refresh_s=REFRESH_S,
        remote_card_backoff_max_s=BACKOFF_MAX_S,
    )
    root = tmp_path / "remote"
    async with (
        serving(remote_app(root, remote_port, models), remote_port) as remote,
        serving(build_app(settings, models), port) as live,
        httpx.AsyncClient(timeout=60) as http,
    ):
        assert (await route(http, live.url))["team"] == [REMOTE_ID], "routed to while it is up"
        remote.server.should_exit = True  # it goes away
        await _while_away(http, live.url, remote_url)
        # Back, with a changed card: the same id, the new card, routed to again.
        app = remote_app(root, remote_port, models, skill_name="Seed vault catalogue")
        async with serving(app, remote_port):

            async def is_back() -> bool:
                return (await route(http, live.url))["team"] == [REMOTE_ID]

            print(f"remote back -> routable {await within(10 * BACKOFF_MAX_S, is_back):.2f} s")
            entry = remote_entry(await health(http, live.url), remote_url)
            assert entry["state"] == "available" and entry["agent"] == REMOTE_ID
            cards = (await http.get(f"{live.url}/v1/cards")).json()["agents"]
            remote_card = next(card for card in cards if card["id"] == REMOTE_ID)
            assert [s["name"] for s in remote_card["skills"]] == ["Seed vault catalogue"]
            assert sum(card["remote"] for card in cards) == 1, "replaced, not added"


async def _while_away(http: httpx.AsyncClient, url: str, remote_url: str) -> None:
    """The remote (registered, then stopped): unavailable, skipped, and a pin is refused."""

    async def is_unavailable() -> bool:
        return remote_entry(await health(http, url), remote_url)["state"] == "unavailable"

    print(f"remote down -> unavailable {await within(15 * REFRESH_S, is_unavailable):.2f} s")
    entry = remote_entry(await health(http, url), remote_url)
    assert entry["agent"] == REMOTE_ID and entry["failures"] >= 2
    assert (
        "All connection attempts failed" in entry["last_error"] and entry["last_seen"] is not None
    )
    decided = await route(http, url)
    assert decided["team"] == ["database"]
    assert REMOTE_ID not in [s["agent"] for s in decided["ranking"]]
    start = time.monotonic()
    events = await asyncio.wait_for(stream(url, REQUEST, metadata={"agent": REMOTE_ID}), 30)
    state, text, _ = statuses(events)[-1]
    assert state == FAILED and "Seed Bank Archivist agent" in text and "unavailable" in text
    assert time.monotonic() - start < 10, "refused at once, not after a timeout"


async def test_failed_fetches_are_spaced_out_growing_up_to_the_cap(
    models: Models, tmp_path: Path
) -> None:
    seen: list[float] = []

    async def refuse(_: Request) -> PlainTextResponse:
        seen.append(time.monotonic())
        return PlainTextResponse("down for maintenance", status_code=503)

    refusing = Starlette(routes=[Route("/{path:path}", refuse)])
    remote_port, port = free_port(), free_port()
    remote_url = f"http://127.0.0.1:{remote_port}"
    # First retry after 0.2 s, then 0.4, 0.8, then every 1.6 s (each ±20%).
    settings = make_settings(
        tmp_path,
        port,
        remote_agents=remote_url,
        remote_card_refresh_s=0.2,
        remote_card_backoff_max_s=1.6,
    )
    async with (
        serving(refusing, remote_port),
        httpx.AsyncClient(timeout=60) as http,
        serving(build_app(settings, models), port) as live,
    ):
        await asyncio.sleep(6.5)
        entry = remote_entry(await health(http, live.url), remote_url)
        count = len(seen)
    gaps = [later - earlier for earlier, later in itertools.pairwise(seen)]
    print("gaps between fetches:", [round(g, 2) for g in gaps])
    assert 6 <= count <= 10, f"{count} fetches in 6.5 s (every 0.2 s would be 32)"
    assert entry["state"] == "unavailable" and entry["failures"] in (count - 1, count)
    assert "503" in entry["last_error"], entry
    assert datetime.fromisoformat(entry["next_try"]).timestamp() > time.time() - 2
    for earlier, later in itertools.pairwise(gaps[:4]):
        assert later > 1.15 * earlier, gaps  # 0.2, 0.4, 0.8, 1.6
    assert len(gaps[3:]) >= 2, gaps
    for gap in gaps[3:]:
        assert 1.6 * 0.8 - 0.05 < gap < 1.6 * 1.2 + 0.4, gaps  # capped


async def test_the_default_schedule_backs_off_from_2_s_to_the_cap() -> None:
    """With the defaults: every 60 s while it answers; after failures 2, 4, 8, ... 300 s."""
    async with httpx.AsyncClient(timeout=60) as http:
        remote = RemoteAgents(AgentRegistry(), http, [])
    answering = RemoteState("http://agents.example.com")
    assert all(48 <= remote.delay(answering) <= 72 for _ in range(200))
    for failures, wait in [(1, 2), (2, 4), (3, 8), (8, 256), (9, 300), (40, 300), (500, 300)]:
        failing = RemoteState("http://agents.example.com", failures=failures)
        delays = [remote.delay(failing) for _ in range(200)]
        assert all(0.8 * wait <= d <= 1.2 * wait for d in delays), (failures, min(delays))
        assert max(delays) - min(delays) > 0.2 * wait, "jittered, not in step"
