"""Users' own provider keys (BYOK), encrypted at rest with Fernet.

Only ciphertext reaches the database. Decrypted keys are held in memory for a short
while so a call does not pay a query and a decryption; storing or deleting a key in this
process drops its cached copy at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

from cachetools import TTLCache
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Column, DateTime, LargeBinary, String, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.sql import metadata, upsert_for

logger = logging.getLogger(__name__)

keys_table = Table(
    "api_keys",
    metadata,
    Column("user_id", String(128), primary_key=True),
    Column("provider", String(32), primary_key=True),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


def load_or_create_fernet_key(path: Path) -> bytes:
    """The key in ``path``, created (readable by the owner only) if there is none yet."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    key = Fernet.generate_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key)
    logger.info("Created an encryption key for stored API keys at %s", path)
    return key


class EncryptedKeyStore:
    def __init__(self, engine: AsyncEngine, fernet_key: bytes, *, cache_ttl_s: float = 60.0):
        self._engine = engine
        self._fernet = Fernet(fernet_key)
        self._insert = upsert_for(engine)
        self._cache: TTLCache[tuple[str, str], str | None] = TTLCache(10_000, cache_ttl_s)

    async def get(self, user_id: str, provider: str) -> str | None:
        cached = self._cache.get((user_id, provider), ...)
        if cached is not ...:
            return cached
        query = select(keys_table.c.ciphertext).where(
            keys_table.c.user_id == user_id, keys_table.c.provider == provider
        )
        async with self._engine.connect() as connection:
            ciphertext = (await connection.execute(query)).scalar_one_or_none()
        key: str | None = None
        if ciphertext is not None:
            try:
                key = self._fernet.decrypt(ciphertext).decode()
            except InvalidToken:
                # Encrypted under another key (the encryption key was changed): unusable.
                logger.warning("A stored %s key of user %s cannot be decrypted", provider, user_id)
        self._cache[(user_id, provider)] = key
        return key

    async def opens(self, sample: int = 20) -> tuple[int, int]:
        """Of up to ``sample`` stored keys: how many there were, and how many this key opens."""
        query = select(keys_table.c.ciphertext).limit(sample)
        async with self._engine.connect() as connection:
            stored = (await connection.execute(query)).scalars().all()
        opened = 0
        for ciphertext in stored:
            try:
                self._fernet.decrypt(ciphertext)
                opened += 1
            except InvalidToken:
                pass
        return len(stored), opened

    async def put(self, user_id: str, provider: str, key: str) -> None:
        row = {
            "user_id": user_id,
            "provider": provider,
            "ciphertext": self._fernet.encrypt(key.encode()),
            "updated_at": dt.datetime.now(dt.UTC),
        }
        statement = self._insert(keys_table).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["user_id", "provider"],
            set_={"ciphertext": statement.excluded.ciphertext, "updated_at": row["updated_at"]},
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)
        self._cache[(user_id, provider)] = key

    async def delete(self, user_id: str, provider: str) -> bool:
        statement = delete(keys_table).where(
            keys_table.c.user_id == user_id, keys_table.c.provider == provider
        )
        async with self._engine.begin() as connection:
            deleted = (await connection.execute(statement)).rowcount
        self._cache[(user_id, provider)] = None
        return bool(deleted)
