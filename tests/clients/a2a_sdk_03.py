"""Run by a2a-sdk 0.3's own interpreter: discover an agent, stream a message, get and list.

Prints one JSON object: what the old client saw. The test judges it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid

import httpx
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types import Message, Part, Role, TaskQueryParams, TextPart


async def main(url: str, text: str, agent: str) -> None:
    async with httpx.AsyncClient(timeout=120, headers={"X-User-Id": "legacy-client"}) as http:
        card = await A2ACardResolver(http, url).get_agent_card()
        client = ClientFactory(ClientConfig(streaming=True, httpx_client=http)).create(card)
        message = Message(
            role=Role.user,
            message_id=str(uuid.uuid4()),
            parts=[Part(root=TextPart(text=text))],
            metadata={"agent": agent},
        )
        kinds, states, artifacts, task_id = [], [], {}, None
        async for item in client.send_message(message):
            task, update = item if isinstance(item, tuple) else (None, item)
            if task is not None:
                task_id = task.id
                states.append(task.status.state.value)
                for artifact in task.artifacts or []:
                    artifacts[artifact.name] = "".join(
                        p.root.text for p in artifact.parts if hasattr(p.root, "text")
                    )
            if update is not None:
                kinds.append(update.kind)
        fetched = await client.get_task(TaskQueryParams(id=task_id)) if task_id else None
        print(
            json.dumps(
                {
                    "card": {
                        "url": card.url,
                        "transport": card.preferred_transport,
                        "version": card.protocol_version,
                    },
                    "kinds": kinds,
                    "states": states,
                    "artifacts": artifacts,
                    "fetched": None if fetched is None else fetched.status.state.value,
                }
            )
        )


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
