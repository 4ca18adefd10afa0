"""The answer cache through a live server (Redis-backed): repeats and paraphrases are served
through the same events at no cost, near misses are computed, no user gets another's
private answer, and ratings, project changes and DELETE /v1/cache evict."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from a2a.types import StreamResponse
from conftest import make_settings
from support import COMPLETED, LiveServer, artifacts, free_port, serving, statuses
from support import stream as stream_task

from youmeyou.app import Models, build_app

REDIS_URL = "redis://127.0.0.1:6379/0"
SQL = "SELECT * FROM users WHERE id = 1"


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def cached_server(
    models: Models, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    port = free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("cache-var"),
        port,
        cache_enabled=True,
        redis_url=REDIS_URL,
        cache_prefix=f"ymy-test:{uuid.uuid4().hex[:8]}:",  # no run sees another run's entries
    )
    async with serving(build_app(settings, models), port) as live:
        yield live


def cached_of(events: list[StreamResponse]) -> dict[str, Any] | None:
    """``metadata.cached`` of the final status, if the task was served from the cache."""
    state, _, metadata = statuses(events)[-1]
    assert state == COMPLETED
    found = metadata.get("cached")
    return found if isinstance(found, dict) else None


def delegated(events: list[StreamResponse]) -> bool:
    return any(text.startswith("Step ") for _, text, _ in statuses(events))


async def ask(url: str, text: str, user: str, **metadata: Any) -> list[StreamResponse]:
    return await stream_task(url, text, user=user, metadata=metadata or None)


async def test_a_repeat_is_an_exact_hit_with_the_same_events_at_no_cost(
    cached_server: LiveServer,
) -> None:
    url, user = cached_server.url, unique("repeat")
    query = f"Validate this SQL: {SQL}"
    first = await ask(url, query, user)
    assert cached_of(first) is None and delegated(first)

    # The words' case and spacing do not matter; the SQL is the user's, as written.
    again = await ask(url, f"  validate   THIS sql: {SQL}  ", user)
    cached = cached_of(again)
    assert cached is not None and cached["level"] == "exact" and cached["similarity"] == 1.0
    assert cached["task"] == first[0].task.id
    assert not delegated(again)
    # The same contract: the task, working, artifacts, completed; artifacts in place.
    kinds = [e.WhichOneof("payload") for e in again]
    assert kinds[0] == "task" and "artifact_update" in kinds and kinds[-1] == "status_update"
    before, after = artifacts(first), artifacts(again)
    assert after.keys() == before.keys()
    report = after["validation.json"]
    assert report["text"] == before["validation.json"]["text"]
    assert report["chunks"] == [(False, True)]
    assert report["metadata"][0]["cached"]["level"] == "exact"
    assert report["metadata"][0]["agent"] == "validator"
    assert report["id"] != before["validation.json"]["id"]  # a new task, its own artifact id
    cost = statuses(again)[-1][2]["cost"]
    assert cost["tokens_in"] == cost["tokens_out"] == 0 and cost["usd"] == 0


async def test_a_paraphrase_is_a_semantic_hit_and_a_near_miss_is_computed(
    cached_server: LiveServer,
) -> None:
    url, user = cached_server.url, unique("paraphrase")
    first = await ask(url, f"Validate this SQL: {SQL.replace('1', '7')}", user)
    assert cached_of(first) is None

    paraphrase = f"Could you validate the following SQL for me: {SQL.replace('1', '7')}"
    served = await ask(url, paraphrase, user)
    cached = cached_of(served)
    assert cached is not None and cached["level"] == "semantic"
    assert 0.8 <= cached["similarity"] < 1.0
    assert any("Answered from the cache" in text for _, text, _ in statuses(served))

    near_miss = f"Validate this SQL: {SQL.replace('users', 'orders').replace('1', '7')}"
    computed = await ask(url, near_miss, user)
    assert cached_of(computed) is None and delegated(computed)


async def test_private_answers_are_never_served_to_another_user(
    cached_server: LiveServer,
) -> None:
    url = cached_server.url
    ann, bob, cy = unique("ann"), unique("bob"), unique("cy")
    async with httpx.AsyncClient(base_url=url) as http:
        profile = {"preferences": {"databases": ["postgresql"], "languages": ["python"]}}
        put = await http.put("/v1/profile", json=profile, headers={"X-User-Id": ann})
        assert put.status_code == 200
    # A schema the database agent designed with ann's preferences in its context: private.
    private_query = f"Design the database schema for a {unique('bakery')} with cakes and orders"
    mine = await ask(url, private_query, ann)
    assert cached_of(mine) is None
    assert cached_of(await ask(url, private_query, ann)) is not None  # ann's own repeat
    theirs = await ask(url, private_query, bob)
    assert cached_of(theirs) is None and delegated(theirs)

    # A check is built from the material alone (a checking step gets no memory), so even
    # ann's is shared; and so is any answer built without private context.
    for asker, query in (
        (ann, f"Validate this SQL: {SQL.replace('1', '11')}"),
        (bob, f"Validate this SQL: {SQL.replace('1', '12')}"),
    ):
        assert cached_of(await ask(url, query, asker)) is None
        shared = cached_of(await ask(url, query, cy))
        assert shared is not None and shared["level"] == "exact"
        assert "task" not in shared  # another user's task id is not shown


async def test_a_poor_rating_evicts_and_a_good_one_does_not(cached_server: LiveServer) -> None:
    url, user = cached_server.url, unique("rater")
    liked, disliked = (f"Validate this SQL: {SQL.replace('1', n)}" for n in ("21", "22"))
    for query in (liked, disliked):
        await ask(url, query, user)
    served_liked = await ask(url, liked, user)
    served_disliked = await ask(url, disliked, user)
    assert cached_of(served_liked) is not None and cached_of(served_disliked) is not None
    async with httpx.AsyncClient(base_url=url, headers={"X-User-Id": user}) as http:
        for events, rating in ((served_liked, 4), (served_disliked, 2)):
            body = {"taskId": events[0].task.id, "rating": rating}
            assert (await http.post("/v1/feedback", json=body)).status_code == 200
    assert cached_of(await ask(url, liked, user)) is not None
    recomputed = await ask(url, disliked, user)
    assert cached_of(recomputed) is None and delegated(recomputed)


async def test_project_changes_and_delete_evict_and_a_caller_may_opt_out(
    cached_server: LiveServer,
) -> None:
    url, user = cached_server.url, unique("builder")
    headers = {"X-User-Id": user}
    shop = {"name": "Shop", "description": "A small web shop", "tech_stack": ["postgresql"]}
    async with httpx.AsyncClient(base_url=url, headers=headers) as http:
        assert (await http.put("/v1/profile", json={"projects": {"shop": shop}})).status_code == 200
        query = f"Validate this SQL: {SQL.replace('1', '31')}"
        await ask(url, query, user, project="shop")
        assert cached_of(await ask(url, query, user, project="shop")) is not None
        assert cached_of(await ask(url, query, user, project="shop", cache=False)) is None

        changed = {**shop, "description": "A web shop that now sells subscriptions"}
        put = await http.put("/v1/profile", json={"projects": {"shop": changed}})
        assert put.status_code == 200
        assert cached_of(await ask(url, query, user, project="shop")) is None
        assert cached_of(await ask(url, query, user, project="shop")) is not None

        deleted = await http.delete("/v1/cache")
        assert deleted.status_code == 200 and deleted.json()["deleted"] >= 1
        assert cached_of(await ask(url, query, user, project="shop")) is None


async def test_hits_and_misses_per_level_are_reported(cached_server: LiveServer) -> None:
    url, user = cached_server.url, unique("counted")
    # A design builds a context for its agent (a check would not), so every level counts.
    query = f"Design the database schema for a {unique('florist')} with bouquets and orders"
    async with httpx.AsyncClient(base_url=url, headers={"X-User-Id": user}) as http:
        before = (await http.get("/v1/cache")).json()
        await ask(url, query, user)
        await ask(url, query, user)
        after = (await http.get("/v1/cache")).json()
        metrics = (await http.get("/metrics")).text
    levels, earlier = after["levels"], before["levels"]
    assert levels["exact"]["hits"] == earlier["exact"]["hits"] + 1
    assert levels["exact"]["misses"] == earlier["exact"]["misses"] + 1
    assert levels["semantic"]["misses"] == earlier["semantic"]["misses"] + 1
    assert levels["context"]["misses"] > earlier["context"]["misses"]
    assert levels["embedding"]["hits"] > earlier["embedding"]["hits"]
    assert 'ymy_cache_hits_total{level="exact"}' in metrics
    assert "ymy_cache_saved_usd_total" in metrics


async def test_a_cache_hit_keeps_secrets_and_other_users_out(cached_server: LiveServer) -> None:
    """A cached answer carries its own artifacts only: never the first user's id."""
    url, ann, bob = cached_server.url, unique("first"), unique("second")
    query = f"Validate this SQL: {SQL.replace('1', '51')}"
    await ask(url, query, ann)
    served = await ask(url, query, bob)
    assert cached_of(served) is not None
    everything = json.dumps([str(e) for e in served])
    assert ann not in everything


async def lookup(url: str, user: str, body: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url) as http:
        return await http.post("/v1/cache/lookup", json=body, headers={"X-User-Id": user})


async def test_a_lookup_says_whether_and_why_a_request_would_be_served(
    cached_server: LiveServer,
) -> None:
    url, user = cached_server.url, unique("operator")
    original = "Design a database schema for a veterinary clinic with pets, owners and visits"
    await ask(url, original, user, cache=True)

    reordered = "Create the database tables for a veterinary clinic with owners, visits and pets"
    found = (await lookup(url, user, {"query": reordered})).json()
    assert found["served"] is True and found["level"] == "semantic", found
    assert found["entry"]["query"] == original and found["entry"]["scope"] == "yours"
    assert found["agent"] == "database" and "similarity" in found["reason"]

    changed = "Design a database schema for a veterinary clinic with pets, owners and invoices"
    missed = (await lookup(url, user, {"query": changed})).json()
    assert missed["served"] is False and missed["entry"] is None
    near = missed["candidates"][0]
    assert near["query"] == original and near["aboveThreshold"] is True
    assert near["onlyInRequest"] == ["invoic"] and near["onlyInEntry"] == ["visit"]
    assert "invoic here, visit there" in missed["reason"]

    # Nothing ran, and the lookup served nothing: the same lookup answers the same.
    assert (await lookup(url, user, {"query": changed})).json() == missed

    # Someone else sees the shared entry's words only where it could be served to them.
    stranger = (await lookup(url, unique("stranger"), {"query": "schema for a bakery"})).json()
    assert stranger["candidates"], stranger
    for candidate in stranger["candidates"]:
        assert candidate["scope"] == "shared"
        if not candidate["aboveThreshold"]:
            assert candidate["query"] is None and candidate["onlyInEntry"] == []


async def test_a_lookup_refuses_bad_input_clearly(cached_server: LiveServer) -> None:
    url, user = cached_server.url, unique("careless")
    assert (await lookup(url, user, ["not", "an", "object"])).status_code == 400
    assert (await lookup(url, user, {"query": ""})).status_code == 400
    assert (await lookup(url, user, {"query": "hi", "agent": 3})).status_code == 400
    unknown = await lookup(url, user, {"query": "check this", "agent": "nobody"})
    assert unknown.status_code == 404 and "validator" in unknown.json()["error"]["message"]
    small_talk = await lookup(url, user, {"query": "thanks, have a nice day"})
    assert small_talk.status_code == 422
