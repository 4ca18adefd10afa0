"""Start-up refusals: one line naming the setting, and no server left half started."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from memory.keys import EncryptedKeyStore
from memory.sql import create_tables
from youmeyou.cli import app as cli
from youmeyou.parts import fernet_key
from youmeyou.preflight import StartupError, preflight
from youmeyou.settings import Settings


def test_an_unreachable_database_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://postgres:hunter2@127.0.0.1:1/test"  # nothing listens on 1
    result = CliRunner().invoke(
        cli, ["serve", "--data-dir", str(tmp_path)], env={"YMY_TASK_STORE_URL": url}
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Cannot start: YMY_TASK_STORE_URL: cannot reach the task store")
    assert "127.0.0.1:1" in lines[0] and "hunter2" not in lines[0]


def test_a_database_that_does_not_exist_says_so(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, task_store_url="postgresql+asyncpg://postgres@127.0.0.1:5432/no_such_db"
    )
    with pytest.raises(StartupError, match=r'YMY_TASK_STORE_URL: .*"no_such_db" does not exist'):
        asyncio.run(preflight(settings))


async def _store_a_key(url: str, key: bytes) -> None:
    engine = create_async_engine(url)
    await create_tables(engine)
    await EncryptedKeyStore(engine, key).put("alice", "gemini", "AIza-alice-own-key")
    await engine.dispose()


def test_a_replica_whose_key_opens_no_stored_key_refuses_to_start(tmp_path: Path) -> None:
    shared = f"sqlite+aiosqlite:///{tmp_path}/shared.db"  # the replicas' one task store
    first = Settings(data_dir=tmp_path / "a", task_store_url=shared)
    asyncio.run(_store_a_key(shared, fernet_key(first)))
    asyncio.run(preflight(first))  # the first replica's own key opens it

    second = Settings(data_dir=tmp_path / "b", task_store_url=shared)  # made a key of its own
    with pytest.raises(StartupError, match=r"YMY_ENCRYPTION_KEY: the key in use .* opens none"):
        asyncio.run(preflight(second))

    sharing = Settings(
        data_dir=tmp_path / "b",
        task_store_url=shared,
        encryption_key=SecretStr(fernet_key(first).decode()),
    )
    asyncio.run(preflight(sharing))  # given the first one's key, it starts
