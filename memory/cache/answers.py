"""What the answer cache keeps and what a lookup finds: cached answers and hits."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["CacheHit", "CachedAnswer", "CachedArtifact", "HitLevel"]

HitLevel = Literal["exact", "semantic"]


@dataclass(slots=True)
class CachedArtifact:
    name: str
    text: str
    media_type: str = "text/plain"
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class CachedAnswer:
    """A finished task's answer, as it is replayed."""

    query: str
    artifacts: list[CachedArtifact]
    closing: str
    task_id: str
    user_id: str
    project: str = ""
    cost_usd: float = 0.0  # what computing it cost: what each hit saves
    tokens: int = 0
    created: float = field(default_factory=time.time)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> CachedAnswer:
        data = json.loads(raw)
        data["artifacts"] = [CachedArtifact(**a) for a in data["artifacts"]]
        return cls(**data)


@dataclass(frozen=True, slots=True)
class CacheHit:
    answer: CachedAnswer
    level: HitLevel
    similarity: float
    scope: str
    answer_id: str

    def to_metadata(self, viewer: str) -> dict[str, Any]:
        """``metadata.cached`` for ``viewer``: the computing task only if it is theirs."""
        shown: dict[str, Any] = {"level": self.level, "similarity": round(self.similarity, 4)}
        if self.answer.user_id == viewer:
            shown["task"] = self.answer.task_id
        return shown
