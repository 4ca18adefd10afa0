"""Run by a2a-sdk 0.3's own interpreter: discover an agent, then one of

- ``stream``: stream a message to its end, then get the task;
- ``cancel``: stream a message, cancel the task once it works, read the stream to its end,
  then get the task;
- ``resubscribe``: stream a message, leave the stream once the task works, resubscribe to
  the task and read that to its end, then get the task.

Usage: ``python a2a_sdk_03.py MODE URL TEXT [AGENT]``. Prints one JSON object: what the old
client saw (states as it names them). The test judges it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx
from a2a.client import A2ACardResolver, Client, ClientConfig, ClientFactory
from a2a.types import (
    Message,
    Part,
    Role,
    Task,
    TaskIdParams,
    TaskQueryParams,
    TaskState,
    TextPart,
)


def texts(task: Task) -> dict[str, str]:
    """The task's artifacts, by name, as the client's task manager put them together."""
    return {
        artifact.name or "": "".join(
            part.root.text for part in artifact.parts if isinstance(part.root, TextPart)
        )
        for artifact in task.artifacts or []
    }


class Seen:
    """What one stream (a send or a resubscribe) delivered."""

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.states: list[str] = []
        self.task: Task | None = None

    async def read(self, events: AsyncIterator[Any], stop_when_working: bool = False) -> None:
        async for item in events:
            task, update = item if isinstance(item, tuple) else (None, item)
            self.kinds.append("task" if update is None else update.kind)
            if task is not None:
                self.task = task
                self.states.append(task.status.state.value)
                if stop_when_working and task.status.state == TaskState.working:
                    return

    def report(self) -> dict[str, Any]:
        artifacts = {} if self.task is None else texts(self.task)
        task_id = None if self.task is None else self.task.id
        return {"task": task_id, "kinds": self.kinds, "states": self.states, "artifacts": artifacts}


async def cancel_when_working(client: Client, events: AsyncIterator[Any]) -> dict[str, Any]:
    sent = Seen()
    await sent.read(events, stop_when_working=True)
    assert sent.task is not None, "the stream ended before the task worked"
    answer = await client.cancel_task(TaskIdParams(id=sent.task.id))
    await sent.read(events)  # the same stream, to its end
    return {**sent.report(), "answered": answer.status.state.value}


async def resubscribe_when_working(
    client: Client, events: AsyncGenerator[Any, None]
) -> dict[str, Any]:
    sent = Seen()
    async with contextlib.aclosing(events):  # leaving the stream closes its connection
        await sent.read(events, stop_when_working=True)
    assert sent.task is not None, "the stream ended before the task worked"
    again = Seen()
    await again.read(client.resubscribe(TaskIdParams(id=sent.task.id)))
    return {**again.report(), "left_at": sent.states}


async def main(mode: str, url: str, text: str, agent: str = "") -> None:
    async with httpx.AsyncClient(timeout=120, headers={"X-User-Id": "legacy-client"}) as http:
        card = await A2ACardResolver(http, url).get_agent_card()
        client = ClientFactory(ClientConfig(streaming=True, httpx_client=http)).create(card)
        message = Message(
            role=Role.user,
            message_id=str(uuid.uuid4()),
            parts=[Part(root=TextPart(text=text))],
            metadata={"agent": agent} if agent else None,
        )
        events = client.send_message(message)
        if mode == "cancel":
            seen = await cancel_when_working(client, events)
        elif mode == "resubscribe":
            seen = await resubscribe_when_working(client, events)
        else:
            sent = Seen()
            await sent.read(events)
            seen = sent.report()
        fetched = await client.get_task(TaskQueryParams(id=seen["task"]))
        card_seen = {
            "url": card.url,
            "transport": card.preferred_transport,
            "version": card.protocol_version,
        }
        print(
            json.dumps(
                {
                    **seen,
                    "card": card_seen,
                    "fetched": {"state": fetched.status.state.value, "artifacts": texts(fetched)},
                }
            )
        )


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
