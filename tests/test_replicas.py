"""Two replicas on one PostgreSQL and one Redis, as behind a load balancer.

A task runs on replica A; a client that lands on replica B reads it and subscribes to it
there, and must see what A's own client sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import A2AClientError, ClientCallContext, ClientConfig, create_client
from a2a.types import (
    GetTaskRequest,
    SendMessageRequest,
    StreamResponse,
    SubscribeToTaskRequest,
)
from a2a.utils.constants import TransportProtocol
from cryptography.fernet import Fernet
from processes import ServerProcess
from support import COMPLETED, FAILED, WORKING, statuses, user_message
from test_restarts import CODE_REQUEST, USER


@pytest.fixture
def replicas(database: str, tmp_path: Path) -> Iterator[Callable[..., list[ServerProcess]]]:
    settings = {
        "YMY_TASK_STORE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}",
        "YMY_REDIS_URL": "redis://127.0.0.1:6379/0",
        "YMY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "YMY_CACHE_PREFIX": f"ymy-test-{uuid.uuid4().hex[:8]}:",
    }
    started: list[ServerProcess] = []

    def start(**extra: str) -> list[ServerProcess]:
        for name in ("a", "b"):
            started.append(ServerProcess(tmp_path / name, settings={**settings, **extra}))
            started[-1].start()
        return started

    yield start
    for process in started:
        process.stop()


async def _client(http: httpx.AsyncClient, url: str) -> Any:
    config = ClientConfig(
        streaming=True,
        httpx_client=http,
        supported_protocol_bindings=[TransportProtocol.JSONRPC.value],
    )
    return await create_client(url, config)


async def subscribe(url: str, task_id: str) -> list[StreamResponse]:
    """Everything SubscribeToTask on ``url`` sends for the task, to its end."""
    async with httpx.AsyncClient(timeout=120) as http:
        client = await _client(http, url)
        context = ClientCallContext(service_parameters={"X-User-Id": USER})
        request = SubscribeToTaskRequest(id=task_id)
        return [event async for event in client.subscribe(request, context=context)]


async def get_task(url: str, task_id: str) -> Any:
    async with httpx.AsyncClient(timeout=30) as http:
        client = await _client(http, url)
        context = ClientCallContext(service_parameters={"X-User-Id": USER})
        return await client.get_task(GetTaskRequest(id=task_id), context=context)


def folded(events: list[StreamResponse]) -> dict[str, str]:
    """The artifacts a client ends up with: a snapshot's, then every update applied."""
    texts: dict[str, str] = {}
    names: dict[str, str] = {}
    for event in events:
        kind = event.WhichOneof("payload")
        if kind == "task":
            for artifact in event.task.artifacts:
                names[artifact.artifact_id] = artifact.name
                texts[artifact.name] = "".join(p.text for p in artifact.parts)
        elif kind == "artifact_update":
            update = event.artifact_update
            artifact = update.artifact
            name = artifact.name or names.get(artifact.artifact_id, artifact.artifact_id)
            names[artifact.artifact_id] = name
            chunk = "".join(p.text for p in artifact.parts)
            texts[name] = texts.get(name, "") + chunk if update.append else chunk
    return texts


def final_state(events: list[StreamResponse]) -> int:
    for event in reversed(events):
        kind = event.WhichOneof("payload")
        if kind == "status_update":
            return int(event.status_update.status.state)
        if kind == "task":
            return int(event.task.status.state)
    return 0


async def run_on(url: str, on_working: Callable[[str], Awaitable[None]]) -> list[StreamResponse]:
    """Stream the code request at ``url``; await ``on_working(task id)`` once it works.

    The stream may break (the replica is killed): the events until then are returned.
    """
    events: list[StreamResponse] = []
    async with httpx.AsyncClient(timeout=120) as http:
        client = await _client(http, url)
        message = user_message(CODE_REQUEST, metadata={"agent": "code"})
        context = ClientCallContext(service_parameters={"X-User-Id": USER})
        called = False
        with contextlib.suppress(A2AClientError):
            request = SendMessageRequest(message=message)
            async for event in client.send_message(request, context=context):
                events.append(event)
                if not called and any(s == WORKING for s, _, _ in statuses(events)):
                    called = True
                    await on_working(events[0].task.id)
    return events


async def test_a_task_running_on_one_replica_streams_live_on_the_other(
    replicas: Callable[..., list[ServerProcess]],
) -> None:
    # Task writes reach the database 2 s behind: B can only know the task through Redis.
    a, b = replicas(YMY_TASK_WRITE_DELAY_S="2")
    found: list[Any] = []
    watching: list[asyncio.Task[list[StreamResponse]]] = []

    async def join_from_b(task_id: str) -> None:
        found.append(await get_task(b.url, task_id))  # at once: no write-behind lag
        watching.append(asyncio.create_task(subscribe(b.url, task_id)))

    from_a = await run_on(a.url, join_from_b)
    from_b = await asyncio.wait_for(watching[0], 120)

    assert found[0].id == from_a[0].task.id
    assert final_state(from_a) == COMPLETED and final_state(from_b) == COMPLETED
    code = [text for name, text in folded(from_a).items() if name.endswith(".py")]
    assert code and "def " in code[0]
    assert folded(from_b) == folded(from_a)  # every chunk reached B, once, in order


async def test_a_subscriber_on_b_learns_that_the_replica_running_the_task_died(
    replicas: Callable[..., list[ServerProcess]],
) -> None:
    a, b = replicas()
    watching: list[asyncio.Task[list[StreamResponse]]] = []

    async def watch_from_b_then_kill_a(task_id: str) -> None:
        watching.append(asyncio.create_task(subscribe(b.url, task_id)))
        await asyncio.sleep(1.0)  # B has subscribed
        a.signal(signal.SIGKILL)

    from_a = await run_on(a.url, watch_from_b_then_kill_a)
    task_id = from_a[0].task.id
    # B's recovery sees A's heartbeat age, ends the task, and tells B's subscriber.
    watched = await asyncio.wait_for(watching[0], 90)
    assert final_state(watched) == FAILED
    last = next(e for e in reversed(watched) if e.WhichOneof("payload") == "status_update")
    assert "Interrupted by a restart" in " ".join(
        p.text for p in last.status_update.status.message.parts
    )
    assert (await get_task(b.url, task_id)).status.state == FAILED
