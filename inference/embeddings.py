"""Sentence embeddings with all-MiniLM-L6-v2, loaded once, cached per text."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from cachetools import LRUCache

from inference.caching import EMBEDDING_TTL_S, CacheCounter, SharedBytes, text_digest
from inference.models import minilm_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

Vector = np.ndarray
_KEY_MODEL = "all-MiniLM-L6-v2"


class Embedder:
    """Unit-length MiniLM vectors (so a dot product is the cosine similarity).

    Encoding is CPU-bound: async callers go through ``aembed``, which runs it in a thread.
    Repeated texts (skill examples, common queries) come from an LRU cache in process, then
    from ``shared`` (Redis, so every process reuses a vector any of them computed).
    """

    dimension = 384

    def __init__(
        self,
        cache_size: int = 4096,
        *,
        shared: SharedBytes | None = None,
        counter: CacheCounter | None = None,
    ) -> None:
        self._model: SentenceTransformer | None = None
        self._load_lock = threading.Lock()
        self._cache: LRUCache[str, Vector] = LRUCache(maxsize=cache_size)
        self._cache_lock = threading.Lock()
        self._shared = shared
        self._counter = counter

    def share(self, shared: SharedBytes | None, counter: CacheCounter | None) -> None:
        """Attach the shared second level and the hit counter (the app wires them)."""
        self._shared = shared
        self._counter = counter

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> SentenceTransformer:
        with self._load_lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                started = time.perf_counter()
                self._model = SentenceTransformer(
                    str(minilm_dir()), device="cpu", local_files_only=True
                )
                logger.info("Embedding model loaded in %.1f s", time.perf_counter() - started)
            return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """A (len(texts), 384) float32 matrix of unit vectors."""
        with self._cache_lock:
            cached = {t: self._cache[t] for t in texts if t in self._cache}
        missing = list(dict.fromkeys(t for t in texts if t not in cached))
        if missing and self._shared is not None:
            missing = self._from_shared(missing, cached)
        if self._counter is not None:
            self._counter.hit("embedding", len(texts) - len(missing))
            self._counter.miss("embedding", len(missing))
        if missing:
            vectors = self.load().encode(
                missing,
                normalize_embeddings=True,
                convert_to_numpy=True,
                batch_size=64,
                show_progress_bar=False,
            )
            with self._cache_lock:
                for text, vector in zip(missing, vectors, strict=True):
                    self._cache[text] = vector
                    cached[text] = vector
            self._to_shared({t: cached[t] for t in missing})
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([cached[t] for t in texts]).astype(np.float32, copy=False)

    def _from_shared(self, texts: list[str], found: dict[str, Vector]) -> list[str]:
        """Fill ``found`` from the shared level; returns the texts still missing."""
        assert self._shared is not None
        try:
            values = self._shared.get_many([text_digest(_KEY_MODEL, t) for t in texts])
        except Exception:  # the shared level is an optimisation: without it, encode
            logger.warning("shared embedding cache unavailable", exc_info=True)
            return texts
        still = []
        with self._cache_lock:
            for text, value in zip(texts, values, strict=True):
                if value is None or len(value) != self.dimension * 4:
                    still.append(text)
                    continue
                vector = np.frombuffer(value, dtype=np.float32)
                self._cache[text] = found[text] = vector
        return still

    def _to_shared(self, vectors: dict[str, Vector]) -> None:
        if self._shared is None or not vectors:
            return
        items = {
            text_digest(_KEY_MODEL, t): np.asarray(v, dtype=np.float32).tobytes()
            for t, v in vectors.items()
        }
        try:
            self._shared.set_many(items, EMBEDDING_TTL_S)
        except Exception:
            logger.warning("could not share embeddings", exc_info=True)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed, texts)
