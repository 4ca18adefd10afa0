"""Streaming artifacts in chunks under one stable ``artifactId``.

The contract the canvas UI relies on: the first chunk has ``append=false``, the following
ones ``append=true``, and the last one ``lastChunk=true``. A regenerated artifact reuses
its id (derived from task and name) and starts again with ``append=false``.
"""

from __future__ import annotations

import uuid
from typing import Any

from a2a.server.tasks import TaskUpdater
from a2a.types import Part

_ARTIFACT_NAMESPACE = uuid.UUID("5b0f6f1c-52b9-4b35-9d5e-0e4c2b8f6a11")
# Token-sized events would cost more to frame than they carry; a line or a few words is a
# chunk the eye can follow and the wire can afford.
DEFAULT_FLUSH_CHARS = 48


def artifact_id_for(task_id: str, name: str) -> str:
    return str(uuid.uuid5(_ARTIFACT_NAMESPACE, f"{task_id}/{name}"))


class ArtifactWriter:
    """Writes one artifact as a sequence of chunk events."""

    def __init__(
        self,
        updater: TaskUpdater,
        name: str,
        *,
        media_type: str = "text/plain",
        metadata: dict[str, Any] | None = None,
        flush_chars: int | None = DEFAULT_FLUSH_CHARS,
        artifact_id: str | None = None,
    ) -> None:
        self._updater = updater
        self.name = name
        self.artifact_id = artifact_id or artifact_id_for(updater.task_id, name)
        self._media_type = media_type
        self._metadata = metadata or {}
        self._flush_chars = flush_chars
        self._buffer = ""
        self._held: str | None = None  # kept back so the final chunk can say lastChunk
        self._sent = 0
        self.text = ""

    async def write(self, text: str) -> None:
        self.text += text
        self._buffer += text
        if self._flush_chars is not None and (
            len(self._buffer) >= self._flush_chars or "\n" in text
        ):
            await self._push(self._buffer)
            self._buffer = ""

    def restart(self) -> None:
        """Forget what was written: the next chunk starts the artifact over (append=false)."""
        self.text = ""
        self._buffer = ""
        self._held = None
        self._sent = 0

    async def close(self) -> None:
        if self._buffer:
            await self._push(self._buffer)
            self._buffer = ""
        await self._send(self._held or "", last=True)
        self._held = None

    async def _push(self, text: str) -> None:
        if self._held is not None:
            await self._send(self._held, last=False)
        self._held = text

    async def _send(self, text: str, *, last: bool) -> None:
        await self._updater.add_artifact(
            [Part(text=text, media_type=self._media_type)],
            artifact_id=self.artifact_id,
            name=self.name,
            metadata=self._metadata,
            append=self._sent > 0,
            last_chunk=last,
        )
        self._sent += 1


async def send_artifact(
    updater: TaskUpdater,
    name: str,
    text: str,
    *,
    media_type: str = "text/plain",
    metadata: dict[str, Any] | None = None,
    artifact_id: str | None = None,
) -> None:
    """Send a small artifact whole, as a single first-and-last chunk."""
    writer = ArtifactWriter(
        updater,
        name,
        media_type=media_type,
        metadata=metadata,
        flush_chars=None,
        artifact_id=artifact_id,
    )
    await writer.write(text)
    await writer.close()
