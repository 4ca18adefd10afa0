"""What is checked before a server starts, each failure one line that names its setting.

Without it an unreachable database surfaced as a hundred-line traceback from inside the
app's start-up, naming no setting; and a replica whose encryption key differed from the
one the others stored keys with served every user who had stored a key as ``free``.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from memory.keys import EncryptedKeyStore
from memory.redis import redact, redact_url
from memory.sql import create_tables
from youmeyou.parts import fernet_key
from youmeyou.settings import Settings

__all__ = ["StartupError", "preflight"]

_REACH_TIMEOUT_S = 10.0


class StartupError(RuntimeError):
    """A setting keeps the server from starting; the message names it."""


async def preflight(settings: Settings) -> None:
    """Refuse to start on a task store that cannot be reached, or a key that opens nothing."""
    url = settings.resolved_task_store_url
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # where SQLite's file goes
    try:
        engine = create_async_engine(url)
    except Exception as error:  # a malformed URL, or a driver that is not installed
        raise StartupError(f"YMY_TASK_STORE_URL: {redact_url(url)} is unusable: {error}") from None
    try:
        await _reach(engine, url)
        await _check_encryption_key(engine, settings)
    finally:
        await engine.dispose()


async def _reach(engine: AsyncEngine, url: str) -> None:
    try:
        async with asyncio.timeout(_REACH_TIMEOUT_S):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            await create_tables(engine)
    except TimeoutError:
        reason = f"no answer within {_REACH_TIMEOUT_S:.0f} s"
    except Exception as error:
        reason = _reason(error)
    else:
        return
    raise StartupError(
        f"YMY_TASK_STORE_URL: cannot reach the task store at {redact_url(url)}: {reason}"
    )


async def _check_encryption_key(engine: AsyncEngine, settings: Settings) -> None:
    stored, opened = await EncryptedKeyStore(engine, fernet_key(settings)).opens()
    if stored and not opened:
        source = (
            "YMY_ENCRYPTION_KEY" if settings.encryption_key else str(settings.encryption_key_file)
        )
        raise StartupError(
            f"YMY_ENCRYPTION_KEY: the key in use (from {source}) opens none of the users' API "
            f"keys stored in the task store; servers that share a task store must share one "
            f"key: set YMY_ENCRYPTION_KEY on each to the key the first one used"
        )


def _reason(error: Exception) -> str:
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    first_line = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return redact(first_line)
