"""Helpers shared by the tests: a live server on a loopback port and a streaming client."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from a2a.client import ClientCallContext, ClientConfig, create_client
from a2a.types import Message, Part, Role, SendMessageRequest, StreamResponse, TaskState
from a2a.utils.constants import TransportProtocol
from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Struct
from starlette.types import ASGIApp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server


class _QuietServer(uvicorn.Server):
    """A server that leaves the process's signal handlers alone.

    Several servers share the test process and its event loop. uvicorn installs its own
    SIGTERM handler for the time it serves and restores the previous one when it stops;
    servers that stop in another order than they started leave the handler of a stopped
    server installed, and sse-starlette, which finds "the" server through that handler,
    then ends every new stream of the servers still running at once.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, port: int) -> AsyncIterator[LiveServer]:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    for _ in range(400):
        if server.started or task.done():
            break
        await asyncio.sleep(0.025)
    if task.done():
        task.result()  # surfaces the start-up error
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", server)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


def user_message(
    text: str, *, metadata: dict[str, Any] | None = None, task_id: str = "", context_id: str = ""
) -> Message:
    message = Message(
        role=Role.ROLE_USER,
        message_id=str(uuid.uuid4()),
        parts=[Part(text=text)],
        task_id=task_id,
        context_id=context_id,
    )
    if metadata:
        struct = Struct()
        struct.update(metadata)
        message.metadata.CopyFrom(struct)
    return message


async def stream(
    url: str,
    text: str,
    *,
    user: str = "tester",
    metadata: dict[str, Any] | None = None,
    binding: str = TransportProtocol.JSONRPC.value,
    context_id: str = "",
) -> list[StreamResponse]:
    """Every event of one streamed task, through the a2a-sdk client."""
    async with httpx.AsyncClient(timeout=300) as http:
        config = ClientConfig(
            streaming=True,
            httpx_client=http,
            supported_protocol_bindings=[binding],
            use_client_preference=True,
        )
        client = await create_client(url, config)
        context = ClientCallContext(service_parameters={"X-User-Id": user})
        message = user_message(text, metadata=metadata, context_id=context_id)
        request = SendMessageRequest(message=message)
        return [event async for event in client.send_message(request, context=context)]


def kinds(events: list[StreamResponse]) -> list[str]:
    return [str(e.WhichOneof("payload")) for e in events]


def statuses(events: list[StreamResponse]) -> list[tuple[int, str, dict[str, Any]]]:
    """(state, text, metadata) of every status update."""
    found = []
    for event in events:
        if event.WhichOneof("payload") == "status_update":
            update = event.status_update
            text = " ".join(p.text for p in update.status.message.parts if p.HasField("text"))
            found.append((update.status.state, text, MessageToDict(update.metadata)))
    return found


def final_state(events: list[StreamResponse]) -> int:
    return statuses(events)[-1][0]


def artifacts(events: list[StreamResponse]) -> dict[str, dict[str, Any]]:
    """Artifacts rebuilt from their chunks, by name, with the chunk flags seen."""
    built: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.WhichOneof("payload") != "artifact_update":
            continue
        update = event.artifact_update
        artifact = update.artifact
        entry = built.setdefault(
            artifact.name, {"id": artifact.artifact_id, "text": "", "chunks": [], "metadata": []}
        )
        assert entry["id"] == artifact.artifact_id, "one artifact name, one stable artifactId"
        chunk = "".join(p.text for p in artifact.parts if p.HasField("text"))
        entry["text"] = entry["text"] + chunk if update.append else chunk
        entry["chunks"].append((update.append, update.last_chunk))
        entry["metadata"].append(MessageToDict(artifact.metadata))
    return built


COMPLETED = TaskState.TASK_STATE_COMPLETED
FAILED = TaskState.TASK_STATE_FAILED
INPUT_REQUIRED = TaskState.TASK_STATE_INPUT_REQUIRED
WORKING = TaskState.TASK_STATE_WORKING
