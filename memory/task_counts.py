"""How many stored tasks are in each state, per task table (for the operations view).

One ``GROUP BY`` over the state in the task's JSON status: a scan of the table, fine for
an admin's page, not for a hot path.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["count_states", "v1_state_name"]


async def count_states(engine: AsyncEngine, task_model: Any) -> dict[str, int]:
    """Stored tasks of ``task_model``'s table by state (``TASK_STATE_COMPLETED``: n)."""
    state = task_model.status["state"].as_string()
    query = select(state, func.count()).group_by(state)
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    counts: dict[str, int] = {}
    for name, count in rows:
        key = v1_state_name(str(name))
        counts[key] = counts.get(key, 0) + int(count)
    return counts


def v1_state_name(stored: str) -> str:
    """A state as v1.0 names it; rows written by v0.3 clients hold ``input-required``."""
    if stored.startswith("TASK_STATE_"):
        return stored
    return "TASK_STATE_" + stored.upper().replace("-", "_")
