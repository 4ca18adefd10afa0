"""User profiles and routing outcomes: one contract, run against every store backend."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from memory.profiles import (
    MongoProfileStore,
    Outcome,
    Profile,
    ProfileError,
    ProfileStore,
    ProfileUpdate,
    SqlProfileStore,
    parse_update,
)
from memory.sql import create_tables

POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
MONGO_URL = os.environ.get("YMY_TEST_MONGO_URL")
MONGO_SKIP = "no MongoDB server: set YMY_TEST_MONGO_URL to run"


class Backend:
    """Opens stores on one isolated database, as often as a test likes, and cleans up."""

    def __init__(self, open_store: Callable[[Backend], Awaitable[ProfileStore]]) -> None:
        self._open_store = open_store
        self.stores: list[ProfileStore] = []
        self.engines: list[AsyncEngine] = []

    async def open(self) -> ProfileStore:
        store = await self._open_store(self)
        self.stores.append(store)
        return store

    async def reopen(self, store: ProfileStore) -> ProfileStore:
        """Close the store (and its engine) and open a fresh one on the same data."""
        await store.close()
        self.stores.remove(store)
        for engine in self.engines:
            await engine.dispose()
        self.engines.clear()
        return await self.open()

    async def close(self) -> None:
        for store in self.stores:
            await store.close()
        for engine in self.engines:
            await engine.dispose()


def _sqlite(tmp_path: Path) -> Backend:
    async def open_store(backend: Backend) -> ProfileStore:
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'profiles.db'}")
        backend.engines.append(engine)
        await create_tables(engine)
        return SqlProfileStore(engine)

    return Backend(open_store)


def _postgresql(schema: str) -> Backend:
    async def open_store(backend: Backend) -> ProfileStore:
        engine = create_async_engine(
            POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}}
        )
        backend.engines.append(engine)
        await create_tables(engine)
        return SqlProfileStore(engine)

    return Backend(open_store)


def _mongodb(url: str, database: str) -> Backend:
    async def open_store(backend: Backend) -> ProfileStore:
        return MongoProfileStore(url, database)

    return Backend(open_store)


@pytest.fixture(
    params=[
        "sqlite",
        "postgresql",
        pytest.param("mongodb", marks=pytest.mark.skipif(MONGO_URL is None, reason=MONGO_SKIP)),
    ]
)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    name = request.param
    unique = f"ymy_profiles_{uuid.uuid4().hex[:12]}"
    if name == "sqlite":
        backend = _sqlite(tmp_path)
        yield backend
        await backend.close()
    elif name == "postgresql":
        # A schema of its own per test: no other test's rows, nothing shared is dropped.
        admin = create_async_engine(POSTGRES_URL)
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{unique}"'))
        backend = _postgresql(unique)
        try:
            yield backend
        finally:
            await backend.close()
            async with admin.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA "{unique}" CASCADE'))
            await admin.dispose()
    else:
        assert MONGO_URL is not None
        backend = _mongodb(MONGO_URL, unique)
        try:
            yield backend
        finally:
            await backend.close()
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO_URL)
            await client.drop_database(unique)
            await client.close()


@pytest.fixture
async def store(backend: Backend) -> ProfileStore:
    return await backend.open()


def _profile(user_id: str = "alice") -> Profile:
    return Profile.model_validate(
        {
            "user_id": user_id,
            "skill_level": "expert",
            "preferences": {
                "languages": ["Python", " python ", "Go", "RUST", "go"],
                "frameworks": ["FastAPI"],
                "databases": ["PostgreSQL", "Redis"],
            },
            "projects": {
                "shop-api.v2": {
                    "name": "Shop API",
                    "description": "Orders and payments.",
                    "tech_stack": ["Python", "PostgreSQL", "python"],
                },
                "blog": {"name": "Blog"},
            },
        }
    )


def _same(a: Profile, b: Profile) -> bool:
    return a.model_dump(exclude={"updated_at"}) == b.model_dump(exclude={"updated_at"})


async def _put_request(store: ProfileStore, user_id: str, body: object) -> Profile:
    """What ``PUT /v1/profile`` does: validate, merge into the stored profile, store."""
    update = parse_update(body)
    profile = (await store.get(user_id)).updated(update)
    await store.put(profile)
    return profile


# The model, without a store.


def test_preferences_are_lower_cased_deduplicated_and_keep_their_order() -> None:
    profile = _profile()
    assert profile.preferences.languages == ["python", "go", "rust"]
    assert profile.projects["shop-api.v2"].tech_stack == ["python", "postgresql"]
    assert profile.projects["blog"].description == ""


def test_an_update_replaces_only_the_fields_it_gives() -> None:
    before = _profile()
    after = before.updated(parse_update({"skill_level": "beginner"}))
    assert after.skill_level == "beginner"
    assert after.preferences == before.preferences and after.projects == before.projects
    after = before.updated(ProfileUpdate.model_validate({"projects": {}}))
    assert after.projects == {} and after.skill_level == "expert"
    assert before.projects, "the original is left alone"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (
            {"preferences": {"languages": ["a", "b", "c", "x" * 41]}},
            "preferences.languages[3]",
            "40",
        ),
        (
            {"preferences": {"databases": [f"db{i}" for i in range(21)]}},
            "preferences.databases",
            "20",
        ),
        ({"preferences": {"frameworks": [""]}}, "preferences.frameworks[0]", "empty"),
        ({"preferences": {"languages": "python"}}, "preferences.languages", "list"),
        ({"skill_level": "guru"}, "skill_level", "expert"),
        (
            {"projects": {"p": {"name": "P", "description": "d" * 2001}}},
            "projects.p.description",
            "2000",
        ),
        ({"projects": {"p": {"name": "n" * 65}}}, "projects.p.name", "64"),
        ({"projects": {"p": {"description": "no name"}}}, "projects.p.name", "required"),
        ({"projects": {"has space": {"name": "P"}}}, 'projects["has space"]', "key"),
        ({"projects": {"k" * 65: {"name": "P"}}}, "projects", "key: at most 64"),
        ({"projects": {f"p{i}": {"name": "P"} for i in range(21)}}, "projects", "20"),
        ({"projects": {"p": {"name": "P", "owner": "x"}}}, "projects.p.owner", "unknown"),
        ({"user_id": "mallory"}, "user_id", "unknown"),
        ({"updated_at": "2020-01-01T00:00:00Z"}, "updated_at", "unknown"),
        (["skill_level"], "body", "object"),
        ('{"skill_level": ', "body", "JSON"),
    ],
)
def test_a_bad_update_names_its_field(body: object, field: str, words: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_update(body)
    assert caught.value.field.startswith(field)
    assert words in caught.value.message
    assert str(caught.value).startswith(f"{caught.value.field}: ")


def test_a_profile_refuses_unknown_fields() -> None:
    with pytest.raises(ValueError, match="extra"):
        Profile.model_validate({"user_id": "u", "admin": True})


# The contract every store keeps.


async def test_an_unknown_user_gets_a_default_profile_that_is_not_stored(
    store: ProfileStore,
) -> None:
    profile = await store.get("nobody")
    assert profile == Profile(user_id="nobody")
    assert profile.skill_level == "intermediate" and profile.updated_at is None
    assert profile.preferences.languages == [] and profile.projects == {}
    assert await store.outcomes("nobody") == []
    assert await store.population() == []


async def test_put_then_get_returns_the_profile_with_its_update_time(store: ProfileStore) -> None:
    before = dt.datetime.now(dt.UTC)
    profile = _profile()
    await store.put(profile)
    got = await store.get("alice")
    assert _same(got, profile)
    assert got.preferences.languages == ["python", "go", "rust"]
    assert got.projects["shop-api.v2"].description == "Orders and payments."
    assert got.updated_at is not None and before <= got.updated_at <= dt.datetime.now(dt.UTC)
    assert profile.updated_at is None, "the caller's object is not changed"
    assert (await store.get("bob")).updated_at is None


async def test_put_replaces_and_an_update_merges(store: ProfileStore) -> None:
    await store.put(_profile())
    merged = await _put_request(store, "alice", {"skill_level": "beginner"})
    got = await store.get("alice")
    assert got.skill_level == "beginner" and _same(got, merged)
    assert got.preferences == _profile().preferences and got.projects == _profile().projects

    await _put_request(store, "alice", {"preferences": {"languages": ["TypeScript"]}})
    got = await store.get("alice")
    assert got.preferences.languages == ["typescript"] and got.preferences.databases == []
    assert got.skill_level == "beginner" and set(got.projects) == {"shop-api.v2", "blog"}

    await _put_request(store, "alice", {"projects": {"new": {"name": "New"}}})
    assert set((await store.get("alice")).projects) == {"new"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"preferences": {"languages": ["ok", "y" * 41]}}, "preferences.languages[1]"),
        ({"projects": {"p": {"name": "P", "description": "d" * 5000}}}, "projects.p.description"),
        ({"projects": {f"p{i}": {"name": "P"} for i in range(21)}}, "projects"),
        ({"skill_level": "guru"}, "skill_level"),
    ],
)
async def test_a_refused_update_stores_nothing(
    store: ProfileStore, body: object, field: str
) -> None:
    await store.put(_profile())
    before = await store.get("alice")
    with pytest.raises(ProfileError) as caught:
        await _put_request(store, "alice", body)
    assert caught.value.field == field
    assert await store.get("alice") == before


async def test_a_profile_changed_in_place_past_its_limits_is_refused(store: ProfileStore) -> None:
    await store.put(_profile())
    before = await store.get("alice")
    changed = before.model_copy(deep=True)
    changed.preferences.languages.append("z" * 41)
    with pytest.raises(ProfileError) as caught:
        await store.put(changed)
    assert caught.value.field == "preferences.languages[3]"
    assert await store.get("alice") == before


@pytest.mark.parametrize("rating", [0, 6, -1, 100, True])
async def test_ratings_outside_one_to_five_are_refused(store: ProfileStore, rating: int) -> None:
    with pytest.raises(ProfileError) as caught:
        await store.record_rating("alice", "code", "python", rating)
    assert caught.value.field == "rating"
    assert await store.outcomes("alice") == []


async def test_oversized_names_are_refused(store: ProfileStore) -> None:
    for user, agent, skill, field in [
        ("alice", "a" * 65, "python", "agent"),
        ("alice", "code", "", "skill"),
        ("u" * 129, "code", "python", "user_id"),
    ]:
        with pytest.raises(ProfileError) as caught:
            await store.record_rating(user, agent, skill, 5)
        assert caught.value.field == field
    assert await store.population() == []


async def test_ratings_of_four_and_five_succeed_and_the_rest_fail(store: ProfileStore) -> None:
    for rating in (5, 4, 3, 1, 2):
        await store.record_rating("alice", "code", "python", rating)
    await store.record_rating("alice", "architecture", "design", 4)
    assert await store.outcomes("alice") == [
        Outcome("architecture", "design", successes=1, failures=0),
        Outcome("code", "python", successes=2, failures=3),
    ]


async def test_concurrent_ratings_lose_nothing(store: ProfileStore) -> None:
    await asyncio.gather(
        *(store.record_rating("alice", "database", "sql", i % 5 + 1) for i in range(50))
    )
    assert await store.outcomes("alice") == [Outcome("database", "sql", 20, 30)]


async def test_outcomes_are_kept_per_user_and_summed_over_the_population(
    store: ProfileStore,
) -> None:
    await store.record_rating("alice", "code", "python", 5)
    await store.record_rating("alice", "code", "python", 2)
    await store.record_rating("bob", "code", "python", 4)
    await store.record_rating("bob", "validator", "json", 1)
    await store.record_rating("carol", "code", "python", 5)
    assert await store.outcomes("alice") == [Outcome("code", "python", 1, 1)]
    assert await store.outcomes("bob") == [
        Outcome("code", "python", 1, 0),
        Outcome("validator", "json", 0, 1),
    ]
    assert await store.outcomes("dave") == []
    assert await store.population() == [
        Outcome("code", "python", 3, 1),
        Outcome("validator", "json", 0, 1),
    ]


async def test_everything_survives_closing_and_reopening(
    backend: Backend, store: ProfileStore
) -> None:
    await store.put(_profile())
    await store.record_rating("alice", "code", "python", 5)
    await store.record_rating("bob", "code", "python", 1)
    saved = await store.get("alice")
    reopened = await backend.reopen(store)
    assert await reopened.get("alice") == saved
    assert await reopened.outcomes("alice") == [Outcome("code", "python", 1, 0)]
    assert await reopened.population() == [Outcome("code", "python", 1, 1)]
    await reopened.record_rating("alice", "code", "python", 4)
    assert await reopened.outcomes("alice") == [Outcome("code", "python", 2, 0)]
