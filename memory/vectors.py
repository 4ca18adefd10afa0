"""Vector memory in ChromaDB: the knowledge base, past interactions, project context.

Embedded by default (``PersistentClient`` under the data dir), a Chroma server when a URL
is given. Vectors come from the shared MiniLM embedder, passed in explicitly: Chroma's own
embedding function would download a model. Chroma's client is synchronous, so every call
runs in a worker thread, one at a time: the embedded client is not built for calls from
several threads at once (start-up indexing runs beside the first requests).

Interactions are written behind, in batches: the embedded client holds the GIL while it
writes, and most of a write's cost is per call (about 9 ms of CPU for one row, 2 ms a row
in tens, under 1 ms a row in fifties), which every other request on the event loop waits
out. A finished task is kept in memory for up to ``write_delay_s`` and then written with
the others of that moment. Nothing reads an interaction before it is written:
``interaction`` looks at the pending ones too, ``rate`` and ``count_interactions`` write them
first, and ``similar_interactions`` only returns rated ones, which are written by then.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import chromadb
from chromadb.api import ClientAPI
from chromadb.config import Settings as ChromaSettings

from inference.embeddings import Embedder
from memory.knowledge import KnowledgeEntry

logger = logging.getLogger(__name__)

_R = TypeVar("_R")
_KNOWLEDGE = "ymy-knowledge"
_INTERACTIONS = "ymy-interactions"
_PROJECTS = "ymy-projects"
_SPACE = {"hnsw:space": "cosine"}


@dataclass(frozen=True, slots=True)
class KnowledgeHit:
    id: str
    title: str
    kind: str
    excerpt: str
    similarity: float


@dataclass(frozen=True, slots=True)
class Interaction:
    """One finished task as memory keeps it; ``rating`` 0 means not rated yet."""

    task_id: str
    user_id: str
    query: str
    agent: str
    skill: str
    outcome: str  # completed | failed
    context_id: str = ""
    team: str = ""
    artifacts: str = ""  # a short summary: names and opening lines
    project: str = ""
    rating: int = 0
    comment: str = ""
    created_at: float = field(default_factory=time.time)

    def metadata(self) -> dict[str, str | int | float]:
        values = asdict(self)
        del values["query"]  # kept as the document
        return values


class VectorMemory:
    def __init__(
        self,
        client: ClientAPI,
        embedder: Embedder,
        *,
        write_delay_s: float = 2.0,
        max_batch: int = 64,
        before_write: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._client = client
        self._embedder = embedder
        self._lock = threading.Lock()
        self._write_delay_s = write_delay_s
        self._max_batch = max_batch
        # Called before a batch is written: the server lets new requests answer first.
        self._before_write = before_write
        self._pending: dict[str, tuple[Interaction, Sequence[float]]] = {}
        self._writer: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()
        self._knowledge = client.get_or_create_collection(
            _KNOWLEDGE, embedding_function=None, metadata=_SPACE
        )
        self._interactions = client.get_or_create_collection(
            _INTERACTIONS, embedding_function=None, metadata=_SPACE
        )
        self._projects = client.get_or_create_collection(
            _PROJECTS, embedding_function=None, metadata=_SPACE
        )

    @classmethod
    def open(
        cls,
        embedder: Embedder,
        *,
        path: Path,
        url: str | None = None,
        write_delay_s: float = 2.0,
        before_write: Callable[[], Awaitable[None]] | None = None,
    ) -> VectorMemory:
        settings = ChromaSettings(anonymized_telemetry=False)
        if url:
            parts = urlsplit(url)
            client = chromadb.HttpClient(
                host=parts.hostname or "127.0.0.1",
                port=parts.port or (443 if parts.scheme == "https" else 8000),
                ssl=parts.scheme == "https",
                settings=settings,
            )
        else:
            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(path), settings=settings)
        return cls(client, embedder, write_delay_s=write_delay_s, before_write=before_write)

    # Knowledge ---------------------------------------------------------------------

    async def index_knowledge(self, entries: Sequence[KnowledgeEntry], fingerprint: str) -> bool:
        """(Re-)index the entries unless the index already holds this fingerprint."""
        return await asyncio.to_thread(self.index_knowledge_now, entries, fingerprint)

    def index_knowledge_now(self, entries: Sequence[KnowledgeEntry], fingerprint: str) -> bool:
        """``index_knowledge``, blocking (for start-up warming in a thread)."""
        with self._lock:
            return self._index_knowledge(entries, fingerprint)

    async def _call(self, function: Callable[..., _R], /, **kwargs: Any) -> _R:
        def locked() -> _R:
            with self._lock:
                return function(**kwargs)

        return await asyncio.to_thread(locked)

    def _index_knowledge(self, entries: Sequence[KnowledgeEntry], fingerprint: str) -> bool:
        collection = self._knowledge
        if (collection.metadata or {}).get("fingerprint") == fingerprint:
            return False
        started = time.perf_counter()
        stale = collection.get(include=[])["ids"]
        if stale:
            collection.delete(ids=stale)
        if entries:
            vectors = self._embedder.embed([entry.text for entry in entries])
            collection.add(
                ids=[entry.id for entry in entries],
                embeddings=vectors.tolist(),
                documents=[entry.text for entry in entries],
                metadatas=[_knowledge_metadata(entry) for entry in entries],
            )
        collection.modify(metadata={"fingerprint": fingerprint})
        logger.info(
            "Indexed %d knowledge entries in %.1f s", len(entries), time.perf_counter() - started
        )
        return True

    async def search_knowledge(
        self, vector: Sequence[float], *, agent: str | None = None, limit: int = 5
    ) -> list[KnowledgeHit]:
        where: Any = {f"for_{agent}": True} if agent else None
        result = await self._call(
            self._knowledge.query,
            query_embeddings=_one(vector),
            n_results=limit,
            where=where,
            include=["metadatas", "documents", "distances"],
        )
        hits = []
        for id_, meta, document, distance in _rows(result):
            hits.append(
                KnowledgeHit(
                    id=id_,
                    title=str(meta.get("title", id_)),
                    kind=str(meta.get("kind", "")),
                    excerpt=document,
                    similarity=round(1.0 - float(distance), 4),
                )
            )
        return hits

    # Interactions ------------------------------------------------------------------

    async def add_interaction(self, interaction: Interaction, vector: Sequence[float]) -> None:
        await self.add_interactions([interaction], [vector])

    async def add_interactions(
        self, interactions: Sequence[Interaction], vectors: Sequence[Sequence[float]]
    ) -> None:
        """Keep ``interactions``; they are written within ``write_delay_s`` (see above)."""
        for interaction, vector in zip(interactions, vectors, strict=True):
            self._pending[interaction.task_id] = (interaction, vector)
        if len(self._pending) >= self._max_batch:
            await self.flush()
        elif self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_soon())

    async def _write_soon(self) -> None:
        await asyncio.sleep(self._write_delay_s)
        if self._before_write is not None:
            await self._before_write()
        try:
            await self.flush()
        except Exception:  # no caller to tell: log it; the next write retries them
            logger.exception("could not write %d interactions yet", len(self._pending))

    async def flush(self) -> None:
        """Write the pending interactions now (after any write already under way)."""
        async with self._flushing:
            await self._flush()

    async def _flush(self) -> None:
        if not self._pending:
            return
        batch = list(self._pending.values())
        self._pending = {}
        try:
            await self._call(
                self._interactions.upsert,
                ids=[i.task_id for i, _ in batch],
                embeddings=[_vector(v) for _, v in batch],
                documents=[i.query for i, _ in batch],
                metadatas=[i.metadata() for i, _ in batch],
            )
        except BaseException:
            # Back in line so a later flush retries them; an update kept meanwhile wins.
            self._pending = {i.task_id: (i, v) for i, v in batch} | self._pending
            raise

    async def close(self) -> None:
        """Write what is pending; the server calls this on its way out."""
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
        await self.flush()

    async def interaction(self, task_id: str) -> Interaction | None:
        async with self._flushing:  # a batch being written is in neither place until it is
            pending = self._pending.get(task_id)
            if pending is not None:
                return pending[0]
            found = await self._call(
                self._interactions.get, ids=[task_id], include=["metadatas", "documents"]
            )
        if not found["ids"]:
            return None
        meta = dict((found["metadatas"] or [{}])[0])
        return _interaction(found["ids"][0], (found["documents"] or [""])[0], meta)

    async def rate(self, task_id: str, rating: int, comment: str = "") -> None:
        await self.flush()
        record = await self.interaction(task_id)
        if record is None:
            raise KeyError(task_id)
        updated = {**record.metadata(), "rating": rating, "comment": comment}
        await self._call(self._interactions.update, ids=[task_id], metadatas=[updated])

    async def similar_interactions(
        self,
        vector: Sequence[float],
        *,
        user_id: str,
        limit: int = 5,
        min_rating: int = 4,
    ) -> list[tuple[Interaction, float]]:
        """This user's past interactions like the query that went well, most similar first."""
        where: Any = {"$and": [{"user_id": user_id}, {"rating": {"$gte": min_rating}}]}
        result = await self._call(
            self._interactions.query,
            query_embeddings=_one(vector),
            n_results=limit,
            where=where,
            include=["metadatas", "documents", "distances"],
        )
        return [
            (_interaction(id_, document, meta), round(1.0 - float(distance), 4))
            for id_, meta, document, distance in _rows(result)
        ]

    async def count_interactions(self) -> int:
        await self.flush()
        return await self._call(self._interactions.count)

    # Projects ----------------------------------------------------------------------

    async def set_project(self, user_id: str, project_id: str, text: str) -> None:
        vector = (await self._embedder.aembed([text]))[0]
        await self._call(
            self._projects.upsert,
            ids=[f"{user_id}/{project_id}"],
            embeddings=[vector.tolist()],
            documents=[text],
            metadatas=[{"user_id": user_id, "project": project_id}],
        )


def _one(vector: Sequence[float]) -> list[Sequence[float]]:
    return [_vector(vector)]


def _vector(vector: Sequence[float]) -> Sequence[float]:
    return list(vector)


def _knowledge_metadata(entry: KnowledgeEntry) -> dict[str, str | bool]:
    metadata: dict[str, str | bool] = {
        "title": entry.title,
        "kind": entry.kind,
        "tags": ",".join(entry.tags),
    }
    # Chroma filters on scalar metadata only: one flag per agent the entry serves.
    for agent in entry.agents:
        metadata[f"for_{agent}"] = True
    return metadata


def _rows(result: Any) -> list[tuple[str, dict[str, Any], str, float]]:
    if not result["ids"] or not result["ids"][0]:
        return []
    return list(
        zip(
            result["ids"][0],
            [dict(m) for m in result["metadatas"][0]],
            result["documents"][0],
            result["distances"][0],
            strict=True,
        )
    )


def _interaction(task_id: str, query: str, meta: dict[str, Any]) -> Interaction:
    return Interaction(
        task_id=task_id,
        user_id=str(meta.get("user_id", "")),
        query=query,
        agent=str(meta.get("agent", "")),
        skill=str(meta.get("skill", "")),
        outcome=str(meta.get("outcome", "")),
        context_id=str(meta.get("context_id", "")),
        team=str(meta.get("team", "")),
        artifacts=str(meta.get("artifacts", "")),
        project=str(meta.get("project", "")),
        rating=int(meta.get("rating", 0)),
        comment=str(meta.get("comment", "")),
        created_at=float(meta.get("created_at", 0.0)),
    )
