"""Interactions are written behind, in batches, and never read stale."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from memory.vectors import Interaction, VectorMemory
from youmeyou.app import Models

# Counting needs no embeddings.
_EMBEDDER_UNUSED: Any = None


async def written(path: Path) -> int:
    """Interactions in the store on disk, as another client of it sees them."""
    return await VectorMemory.open(_EMBEDDER_UNUSED, path=path / "chroma").count_interactions()


def _interaction(n: int, user: str = "u1") -> Interaction:
    return Interaction(
        task_id=f"t{n}",
        user_id=user,
        query=f"design a schema {n}",
        agent="database",
        skill="schema-design",
        outcome="completed",
    )


async def test_pending_interactions_are_read_rated_and_written_in_one_batch(
    models: Models, tmp_path: Path
) -> None:
    vectors = VectorMemory.open(models.embedder, path=tmp_path / "chroma")
    vectors_of = await models.embedder.aembed([f"design a schema {n}" for n in range(3)])
    vectors._write_delay_s = 60  # nothing is written by the timer in this test
    await vectors.add_interactions(
        [_interaction(n) for n in range(3)], [v.tolist() for v in vectors_of]
    )
    assert await written(tmp_path) == 0  # not yet written
    found = await vectors.interaction("t1")
    assert found is not None and found.query == "design a schema 1"

    await vectors.rate("t2", 5, "good")  # writes the batch first, then rates
    assert await written(tmp_path) == 3
    similar = await vectors.similar_interactions(vectors_of[2].tolist(), user_id="u1")
    assert [(i.task_id, i.rating) for i, _ in similar] == [("t2", 5)]

    await vectors.add_interaction(_interaction(3), vectors_of[0].tolist())
    await vectors.close()  # the server's way out writes what is pending
    assert await written(tmp_path) == 4


async def test_the_timer_writes_pending_interactions(models: Models, tmp_path: Path) -> None:
    calls: list[str] = []

    async def before_write() -> None:
        calls.append("yielded")

    vectors = VectorMemory.open(
        models.embedder, path=tmp_path / "chroma", before_write=before_write
    )
    vectors._write_delay_s = 0.01
    vector = (await models.embedder.aembed(["design a schema 0"]))[0].tolist()
    await vectors.add_interaction(_interaction(0), vector)
    for _ in range(200):
        if calls and await written(tmp_path) == 1:
            break
        await asyncio.sleep(0.01)
    assert calls == ["yielded"]
    assert await written(tmp_path) == 1
