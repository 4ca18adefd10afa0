from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from support import LiveServer, free_port, serving

from youmeyou.app import Models, build_app
from youmeyou.settings import Settings

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
# Short generations keep the suite fast; the streaming path is the same at any length.
TEST_MAX_TOKENS = 24


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models-home")


@pytest.fixture(scope="session")
def models(models_dir: Path) -> Models:
    """The embedding and local models, loaded once for the whole session."""
    settings = Settings(data_dir=models_dir, local_max_new_tokens=TEST_MAX_TOKENS)
    loaded = Models.create(settings)
    loaded.embedder.load()
    loaded.local_model.load()
    return loaded


def make_settings(data_dir: Path, port: int, **overrides: object) -> Settings:
    # The answer cache is off unless a test turns it on: most tests send the same request
    # many times to watch delegation, routing and learning happen, which a cache would
    # (rightly) answer instead. tests/test_cache*.py run the server with it on.
    options: dict[str, object] = {"cache_enabled": False, **overrides}
    return Settings(
        host="127.0.0.1",
        port=port,
        data_dir=data_dir,
        local_max_new_tokens=TEST_MAX_TOKENS,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
async def server(
    models: Models, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    port = free_port()
    settings = make_settings(tmp_path_factory.mktemp("var"), port)
    async with serving(build_app(settings, models), port) as live:
        yield live


@pytest.fixture
async def pg() -> AsyncIterator[asyncpg.Connection]:
    """A PostgreSQL connection whose search path is a throwaway schema, dropped afterwards."""
    connection = await asyncpg.connect(POSTGRES)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    await connection.execute(f"CREATE SCHEMA {schema}; SET search_path TO {schema}")
    try:
        yield connection
    finally:
        await connection.execute(f"DROP SCHEMA {schema} CASCADE")
        await connection.close()


@pytest.fixture
async def database() -> AsyncIterator[str]:
    """The name of a new, empty PostgreSQL database, for servers in other processes; dropped
    afterwards (a schema would not do: a server's URL cannot choose its search path)."""
    name = f"ymy_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES)
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    yield name
    admin = await asyncpg.connect(POSTGRES)
    await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await admin.close()
