"""Level 2 caches: what inference can reuse without a model run.

Embeddings are cached per text (in process, then shared), and the local model's output per
identical prompt and parameters. Storage is the caller's to choose: these protocols are
met by ``memory.cache`` (in process or Redis), wired by the app, so ``inference`` never
depends on ``memory``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Protocol

from inference.generation import GenerationRequest, StreamChunk, Usage, closing
from inference.providers import Provider

logger = logging.getLogger(__name__)

EMBEDDING_TTL_S = 7 * 24 * 3600  # the design's figure; a text's vector never changes


class CacheCounter(Protocol):
    def hit(self, level: str, count: int = 1) -> None: ...

    def miss(self, level: str, count: int = 1) -> None: ...


class SharedBytes(Protocol):
    """A blocking shared store (the embedder runs in worker threads)."""

    def get_many(self, keys: list[str]) -> list[bytes | None]: ...

    def set_many(self, items: dict[str, bytes], ttl_s: float) -> None: ...


class AsyncBytes(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes, ttl_s: float) -> None: ...


class CachedOutputs:
    """A provider whose answers to identical requests are replayed, not regenerated.

    The key is everything that shapes the output: model, messages, token limit,
    temperature, stop sequences. A replay streams the same text with zero tokens used.
    """

    def __init__(
        self,
        provider: Provider,
        store: AsyncBytes,
        *,
        ttl_s: float,
        counter: CacheCounter | None = None,
    ) -> None:
        self._provider = provider
        self._store = store
        self._ttl_s = ttl_s
        self._counter = counter
        self.name = provider.name

    async def stream(
        self,
        request: GenerationRequest,
        *,
        model: str | None = None,
        api_key: str | None = None,
    ) -> AsyncIterator[StreamChunk]:
        model = model or self.name
        key = "model-output:" + _request_digest(request, model)
        cached = await self._get(key)
        if cached is not None:
            text, model_name = cached
            yield StreamChunk(text)
            yield StreamChunk("", usage=Usage(model_name, 0, 0, provider=self.name, cached=True))
            return
        parts: list[str] = []
        chunks = self._provider.stream(request, model=model, api_key=api_key)
        async with closing(chunks):
            async for chunk in chunks:
                if chunk.restart:
                    parts.clear()
                parts.append(chunk.text)
                if chunk.usage is not None:
                    await self._set(key, "".join(parts), chunk.usage.model)
                yield chunk

    async def _get(self, key: str) -> tuple[str, str] | None:
        try:
            raw = await self._store.get(key)
        except Exception:
            logger.warning("model output cache unavailable", exc_info=True)
            raw = None
        if self._counter is not None:
            (self._counter.hit if raw is not None else self._counter.miss)("local_model")
        if raw is None:
            return None
        found = json.loads(raw)
        return str(found["text"]), str(found["model"])

    async def _set(self, key: str, text: str, model: str) -> None:
        try:
            value = json.dumps({"text": text, "model": model}).encode()
            await self._store.put(key, value, self._ttl_s)
        except Exception:
            logger.warning("could not cache a model output", exc_info=True)


def _request_digest(request: GenerationRequest, model: str) -> str:
    shape = {
        "model": model,
        "messages": [(m.role, m.content) for m in request.messages],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stop": list(request.stop),
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def text_digest(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\x1f{text}".encode()).hexdigest()
