"""Memory's figures for ``make bench``: building a context, and routing with history.

The interaction collection holds 10,000 records of 100 users. Their vectors are random
unit vectors rather than embedded texts: a search costs the same whatever the vectors
mean, and embedding 10,000 texts would only make the bench slower.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import create_async_engine

from bench.routing import card_registry
from inference.embeddings import Embedder
from inference.local import LocalModel
from memory.context import ContextBuilder
from memory.knowledge import fingerprint, load_entries
from memory.profiles import Profile, SqlProfileStore
from memory.sessions import InProcessSessionStore, Turn
from memory.sql import create_tables
from memory.vectors import Interaction, VectorMemory
from orchestrator.agent_model import load_examples
from orchestrator.learning import Learner
from orchestrator.routing import Router

INTERACTIONS = 10_000
USERS = 100
QUERIES = 120
CONTEXT_TARGET_MS = 40.0
ROUTING_TARGET_MS = 30.0
_SKILLS = [
    ("architecture", "system-design"),
    ("database", "schema-design"),
    ("code", "code-generation"),
]
# Room for everything the target names (5 knowledge hits, 5 past interactions); the
# server's default budget is smaller, to keep local prompts short.
_BUDGET_TOKENS = 2000
_USER = "user-7"


def _percentiles(timings: list[float]) -> tuple[float, float]:
    warm = sorted(timings[20:])
    return statistics.median(warm), warm[int(0.95 * (len(warm) - 1))]


async def _vector_memory(embedder: Embedder, root: Path) -> VectorMemory:
    """The knowledge base and 10,000 interactions, added 1,000 at a time."""
    vectors = VectorMemory.open(embedder, path=root / "chroma")
    await vectors.index_knowledge(load_entries(), fingerprint())
    rng = np.random.default_rng(7)
    random = rng.standard_normal((INTERACTIONS, embedder.dimension)).astype(np.float32)
    random /= np.linalg.norm(random, axis=1, keepdims=True)
    for start in range(0, INTERACTIONS, 1000):
        records = [
            Interaction(
                task_id=f"task-{i}",
                user_id=f"user-{i % USERS}",
                query=f"request number {i}",
                agent=_SKILLS[i % 3][0],
                skill=_SKILLS[i % 3][1],
                outcome="completed",
                artifacts="architecture.md: a design",
                rating=int(rng.integers(1, 6)),
            )
            for i in range(start, start + 1000)
        ]
        await vectors.add_interactions(records, random[start : start + 1000].tolist())
    return vectors


async def _seed_user(profiles: SqlProfileStore, sessions: InProcessSessionStore) -> None:
    """The measured user: an expert with 40 ratings and a 20-turn conversation."""
    await profiles.put(Profile(user_id=_USER, skill_level="expert"))
    for i in range(40):
        agent, skill = _SKILLS[i % 3]
        await profiles.record_rating(_USER, agent, skill, 5 if i % 2 else 2)
    for i in range(20):
        text = f"turn {i}: design the orders service"
        await sessions.append(_USER, "ctx", Turn("user" if i % 2 == 0 else "agent", text))


async def _context_ms(contexts: ContextBuilder) -> tuple[tuple[float, float], Any]:
    """p50 and p95 (ms) of building a context, and the last context built."""
    timings = []
    built: Any = None
    for i in range(QUERIES):
        started = time.perf_counter()
        built = await contexts.build(
            user_id=_USER,
            context_id="ctx",
            query=f"Design the payments schema for shop {i} with refunds",
            agent="database",
        )
        timings.append((time.perf_counter() - started) * 1000)
    return _percentiles(timings), built


async def _routing_ms(profiles: SqlProfileStore, embedder: Embedder) -> tuple[float, float]:
    """p50 and p95 (ms) of routing with the user's learned signals, read fresh each time."""
    router = Router(card_registry(), embedder, examples=load_examples())
    router.warm()
    learner = Learner(profiles)
    timings = []
    for i in range(QUERIES):
        started = time.perf_counter()
        signals = await learner.signals(_USER)
        router.route(f"Which indexes should the orders table {i} have?", signals=signals)
        timings.append((time.perf_counter() - started) * 1000)
    return _percentiles(timings)


async def memory_figures(models_dir: Path) -> dict[str, Any]:
    embedder = Embedder()
    embedder.load()
    local = LocalModel(models_dir)
    local.load()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        vectors = await _vector_memory(embedder, root)
        engine = create_async_engine(f"sqlite+aiosqlite:///{root / 'profiles.db'}")
        await create_tables(engine)
        profiles = SqlProfileStore(engine)
        sessions = InProcessSessionStore()
        await _seed_user(profiles, sessions)
        contexts = ContextBuilder(
            profiles=profiles,
            sessions=sessions,
            vectors=vectors,
            embedder=embedder,
            count_tokens=local.count_tokens,
            budget_tokens=_BUDGET_TOKENS,
        )
        context_ms, built = await _context_ms(contexts)
        routing_ms = await _routing_ms(profiles, embedder)
        await engine.dispose()
        local.close()
        return {
            "context_ms": context_ms,
            "context_parts": {
                "conversation": len(built.conversation),
                "examples": len(built.examples),
                "knowledge": len(built.knowledge),
                "tokens": built.tokens,
            },
            "routing_with_history_ms": routing_ms,
            "interactions": await vectors.count_interactions(),
        }
