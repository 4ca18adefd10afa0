"""Cancelling an orchestrator task cancels what it delegated, and the local model stops.

Real servers on loopback ports, the a2a-sdk client, and a local model allowed to write
thousands of tokens, so a code step is still generating when the client cancels. After the
cancel: the orchestrator task and every task it delegated are ``canceled`` (read back with
GetTask / ListTasks on the agent, as the same user), the local model has no generation
running, a plan's ledger has no step ``running``, and the client's stream has ended.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import Client, ClientCallContext, ClientConfig, create_client
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
)
from a2a.utils.constants import TransportProtocol
from conftest import make_settings
from support import free_port, serving, statuses, user_message

from inference.local import LocalModel
from youmeyou.app import Models, build_agent_app, build_app

CANCELED = TaskState.TASK_STATE_CANCELED
WORKING = TaskState.TASK_STATE_WORKING
# Room for a long answer: the code step would go on generating for far longer than the test.
LONG_ANSWER_TOKENS = 4096
PLAN = (
    "Design a platform with user authentication, product catalog, shopping cart and "
    "payment processing"
)
FUNCTION = "Write a Python function that reverses a string"
# How soon a cancel must reach the delegated task and stop the model: well under a second
# alone, more on a loaded 2-core machine. A cancel that never reached them (as when a plan
# was canceled before a step's agent had named its task: tests/test_delegation.py) leaves
# the model writing its long answer for minutes, far past this bound.
CANCEL_WITHIN_S = 10.0


@pytest.fixture(scope="module")
async def slow(models: Models, models_dir: Path) -> AsyncIterator[Models]:
    """The session's embedder, and a local model of its own that writes long answers."""
    local = LocalModel(models_dir, max_new_tokens=LONG_ANSWER_TOKENS)
    await asyncio.to_thread(local.load)
    yield Models(local_model=local, embedder=models.embedder, analyzer=models.analyzer)
    local.close()


class Session:
    """One user's a2a-sdk client to one agent."""

    def __init__(self, client: Client, user: str) -> None:
        self.client = client
        self.context = ClientCallContext(service_parameters={"X-User-Id": user})

    async def task(self, task_id: str) -> Task:
        return await self.client.get_task(GetTaskRequest(id=task_id), context=self.context)

    async def tasks(self) -> list[Task]:
        page = await self.client.list_tasks(ListTasksRequest(), context=self.context)
        return list(page.tasks)


async def session(http: httpx.AsyncClient, url: str, user: str) -> Session:
    config = ClientConfig(
        streaming=True,
        httpx_client=http,
        supported_protocol_bindings=[TransportProtocol.JSONRPC.value],
    )
    return Session(await create_client(url, config), user)


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> float:
    """Seconds until ``check`` holds; fails after ``timeout_s``."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout_s, f"not within {timeout_s} s: {what}"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def generating(local: LocalModel) -> bool:
    return local.generating > 0


async def idle(local: LocalModel) -> bool:
    return local.generating == 0


async def start(
    orchestrator: Session, text: str, metadata: dict[str, Any]
) -> tuple[asyncio.Task[list[StreamResponse]], list[StreamResponse]]:
    """The streamed request, read in a task of its own; its events as they come."""
    seen: list[StreamResponse] = []

    async def read() -> list[StreamResponse]:
        request = SendMessageRequest(message=user_message(text, metadata=metadata))
        async for event in orchestrator.client.send_message(request, context=orchestrator.context):
            seen.append(event)
        return seen

    return asyncio.create_task(read()), seen


async def cancel_when_generating(
    orchestrator: Session, local: LocalModel, text: str, metadata: dict[str, Any]
) -> tuple[str, list[StreamResponse], asyncio.Task[list[StreamResponse]]]:
    """Start the request, wait until a specialist's status is relayed and the local model
    generates for it, then cancel the orchestrator task; its id, events and reader."""
    reader, seen = await start(orchestrator, text, metadata)
    await until(lambda: generating(local), 240, "the local model generating for the task")
    assert not reader.done(), "the task is still running when it is canceled"
    relayed = [meta.get("agent") for state, _, meta in statuses(seen) if state == WORKING]
    assert any(agent and agent != "orchestrator" for agent in relayed), relayed
    task_id = seen[0].task.id
    answer = await orchestrator.client.cancel_task(
        CancelTaskRequest(id=task_id), context=orchestrator.context
    )
    assert answer.status.state == CANCELED, answer.status
    return task_id, seen, reader


async def test_canceling_a_plan_cancels_its_running_step_and_stops_the_model(
    slow: Models, tmp_path: Path
) -> None:
    port, user = free_port(), "canceler"
    local = slow.local_model
    async with (
        serving(build_app(make_settings(tmp_path, port), slow), port) as live,
        httpx.AsyncClient(timeout=300) as http,
    ):
        orchestrator = await session(http, live.url, user)
        code = await session(http, f"{live.url}/agents/code/", user)
        asked = {"progressive": True, "autoApprove": True}
        task_id, _, reader = await cancel_when_generating(orchestrator, local, PLAN, asked)

        async def code_canceled() -> bool:
            states = [t.status.state for t in await code.tasks()]
            return bool(states) and all(s == CANCELED for s in states)

        took = await until(code_canceled, CANCEL_WITHIN_S, "every code task canceled")
        stopped = await until(lambda: idle(local), CANCEL_WITHIN_S, "no local generation running")
        events = await asyncio.wait_for(reader, 5.0)  # the client's stream has ended
        print(f"\ncancel -> code task canceled {took:.2f} s, model idle {stopped:.2f} s")

        task = await orchestrator.task(task_id)
        assert task.status.state == CANCELED
        ledger_text = next(
            "".join(p.text for p in a.parts) for a in task.artifacts if a.name == "steps.json"
        )
        steps = json.loads(ledger_text)["steps"]
        assert not [s for s, step in steps.items() if step["status"] == "running"], steps
        assert any(step["status"] == "canceled" for step in steps.values()), steps
        for agent in ("architecture", "database", "validator"):
            specialist = await session(http, f"{live.url}/agents/{agent}/", user)
            working = [t.id for t in await specialist.tasks() if t.status.state == WORKING]
            assert not working, (agent, working)
        assert statuses(events)[-1][0] == CANCELED, statuses(events)[-3:]


async def test_canceling_a_task_cancels_the_remote_agents_task(
    slow: Models, tmp_path: Path
) -> None:
    remote_port, port, user = free_port(), free_port(), "remote-canceler"
    local = slow.local_model
    remote_settings = make_settings(tmp_path / "remote", remote_port)
    async with serving(build_agent_app(remote_settings, "code", slow), remote_port) as remote:
        settings = make_settings(tmp_path / "main", port, remote_agents=remote.url)
        async with (
            serving(build_app(settings, slow), port) as live,
            httpx.AsyncClient(timeout=300) as http,
        ):
            listed = (await http.get(f"{live.url}/v1/cards")).json()["agents"]
            remote_id = next(a["id"] for a in listed if a["remote"])
            orchestrator = await session(http, live.url, user)
            agent = await session(http, remote.url, user)
            task_id, _, reader = await cancel_when_generating(
                orchestrator, local, FUNCTION, {"agent": remote_id}
            )

            async def remote_canceled() -> bool:
                states = [t.status.state for t in await agent.tasks()]
                return bool(states) and all(s == CANCELED for s in states)

            took = await until(remote_canceled, CANCEL_WITHIN_S, "the remote agent's task canceled")
            stopped = await until(
                lambda: idle(local), CANCEL_WITHIN_S, "no local generation running"
            )
            await asyncio.wait_for(reader, 5.0)
            print(f"\ncancel -> remote task canceled {took:.2f} s, model idle {stopped:.2f} s")
            assert (await orchestrator.task(task_id)).status.state == CANCELED
