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

from inference.models import minilm_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

Vector = np.ndarray


class Embedder:
    """Unit-length MiniLM vectors (so a dot product is the cosine similarity).

    Encoding is CPU-bound: async callers go through ``aembed``, which runs it in a thread.
    Repeated texts (skill examples, common queries) come from an LRU cache.
    """

    dimension = 384

    def __init__(self, cache_size: int = 4096) -> None:
        self._model: SentenceTransformer | None = None
        self._load_lock = threading.Lock()
        self._cache: LRUCache[str, Vector] = LRUCache(maxsize=cache_size)
        self._cache_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> SentenceTransformer:
        with self._load_lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                started = time.perf_counter()
                self._model = SentenceTransformer(str(minilm_dir()), device="cpu")
                logger.info("Embedding model loaded in %.1f s", time.perf_counter() - started)
            return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """A (len(texts), 384) float32 matrix of unit vectors."""
        with self._cache_lock:
            cached = {t: self._cache[t] for t in texts if t in self._cache}
        missing = list(dict.fromkeys(t for t in texts if t not in cached))
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
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([cached[t] for t in texts]).astype(np.float32, copy=False)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed, texts)
