"""Stopping and killing a real server mid-task, and starting it again on the same data.

Each test runs ``youmeyou serve`` in its own process and signals it while a task streams,
as an operator's deploy or a crash would.
"""

from __future__ import annotations

import ast
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import ClientCallContext, ClientConfig, create_client
from a2a.types import SendMessageRequest, StreamResponse
from a2a.utils.constants import TransportProtocol
from processes import ServerProcess
from support import COMPLETED, FAILED, WORKING, artifacts, statuses, user_message

CODE_REQUEST = "Write a Python function that reverses a string"
PLAN_REQUEST = (
    "Help me design a scalable ecommerce platform with user authentication, product catalog, "
    "shopping cart, and payment processing"
)
USER = "operator-test"
RUNNING = ("TASK_STATE_SUBMITTED", "TASK_STATE_WORKING")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(**settings: str) -> ServerProcess:
        process = ServerProcess(tmp_path / "var", settings=settings)
        process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


async def stream_until_working(
    url: str,
    then: Callable[[], None],
    *,
    may_break: bool = False,
    text: str = CODE_REQUEST,
    metadata: dict[str, Any] | None = None,
) -> tuple[str, list[StreamResponse]]:
    """Stream ``text`` (the code request); call ``then`` once the task is working; return
    all events.

    ``may_break``: ``then`` kills the server, so the stream may end without an answer.
    """
    events: list[StreamResponse] = []
    async with httpx.AsyncClient(timeout=120) as http:
        config = ClientConfig(
            streaming=True,
            httpx_client=http,
            supported_protocol_bindings=[TransportProtocol.JSONRPC.value],
        )
        client = await create_client(url, config)
        context = ClientCallContext(service_parameters={"X-User-Id": USER})
        message = user_message(text, metadata=metadata or {"agent": "code"})
        request = SendMessageRequest(message=message)
        signalled = False
        try:
            async for event in client.send_message(request, context=context):
                events.append(event)
                if not signalled and any(state == WORKING for state, _, _ in statuses(events)):
                    signalled = True
                    then()
        except Exception:
            if not may_break:
                raise
    task_id = next(e.task.id for e in events if e.WhichOneof("payload") == "task")
    return task_id, events


def jsonrpc(url: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    answer = httpx.post(url, json=body, headers={"X-User-Id": USER}, timeout=10)
    result: dict[str, Any] = answer.json()
    return result


def running_tasks(data_dir: Path) -> list[tuple[str, str, str]]:
    """(table, task id, state) of every task stored as submitted or working."""
    found = []
    with sqlite3.connect(data_dir / "tasks.db") as db:
        tables = [
            r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'tasks_%'")
        ]
        for table in tables:
            rows = db.execute(f"SELECT id, json_extract(status, '$.state') FROM {table}")
            found += [(table, task_id, state) for task_id, state in rows if state in RUNNING]
    return found


def refuses_connections(url: str) -> bool:
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/health", timeout=1)
        except httpx.ConnectError:
            return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return False


def said(task: dict[str, Any]) -> str:
    return " ".join(p.get("text", "") for p in task["status"].get("message", {}).get("parts", []))


async def test_sigterm_lets_a_running_task_finish_and_refuses_new_work(
    server: Callable[..., ServerProcess],
) -> None:
    process = server(YMY_SHUTDOWN_GRACE_S="90")
    refused: list[bool] = []

    def terminate() -> None:
        process.signal(signal.SIGTERM)
        refused.append(refuses_connections(process.url))  # while the task still runs

    _, events = await stream_until_working(process.url, terminate)
    assert refused == [True]
    assert process.wait(60) in (0, -signal.SIGTERM), process.log()  # uvicorn re-raises it
    assert statuses(events)[-1][0] == COMPLETED, statuses(events)
    code = next(a["text"] for name, a in artifacts(events).items() if name.endswith(".py"))
    tree = ast.parse(code)  # the answer the user waited for arrived whole
    assert any(isinstance(node, ast.FunctionDef) for node in ast.walk(tree))
    assert not running_tasks(process.data_dir)


async def test_sigterm_past_the_grace_period_ends_the_task_with_an_interrupted_event(
    server: Callable[..., ServerProcess],
) -> None:
    process = server(YMY_SHUTDOWN_GRACE_S="0")

    def terminate() -> None:
        process.signal(signal.SIGTERM)

    task_id, events = await stream_until_working(process.url, terminate)
    assert process.wait(60) in (0, -signal.SIGTERM), process.log()  # uvicorn re-raises it
    state, text, _ = statuses(events)[-1]
    assert state == FAILED and "Interrupted: the server was stopped" in text, statuses(events)
    # Every task is stored ended: the orchestrator's and the code agent's it delegated to.
    assert not running_tasks(process.data_dir)

    again = server()
    task = jsonrpc(again.url, "GetTask", {"id": task_id})["result"]
    assert task["status"]["state"] == "TASK_STATE_FAILED"
    assert "Interrupted: the server was stopped" in said(task)


async def test_kill_9_mid_task_then_restart_ends_the_orphaned_tasks(
    server: Callable[..., ServerProcess],
) -> None:
    process = server()

    def kill() -> None:
        deadline = time.monotonic() + 10
        while not running_tasks(process.data_dir) and time.monotonic() < deadline:
            time.sleep(0.02)  # until the task's working state is written, as it soon is
        process.signal(signal.SIGKILL)

    task_id, _ = await stream_until_working(process.url, kill, may_break=True)
    process.wait(30)
    left = running_tasks(process.data_dir)
    assert any(task == task_id for _, task, _ in left), "the kill left the task working"

    again = server()  # same data dir
    assert not running_tasks(again.data_dir)
    task = jsonrpc(again.url, "GetTask", {"id": task_id})["result"]
    assert task["status"]["state"] == "TASK_STATE_FAILED"
    assert "Interrupted by a restart" in said(task)
    # Subscribing to it answers at once (the task is over) instead of hanging.
    with httpx.stream(
        "POST",
        again.url,
        json={"jsonrpc": "2.0", "id": 2, "method": "SubscribeToTask", "params": {"id": task_id}},
        headers={"X-User-Id": USER},
        timeout=10,
    ) as answer:
        body = answer.read().decode()
    assert "terminal state" in body, body


async def test_kill_9_mid_plan_then_restart_ends_the_plan_and_its_steps(
    server: Callable[..., ServerProcess],
) -> None:
    process = server()

    def kill_once_a_step_runs() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the plan's task and a delegated step's task
            if len({table for table, _, _ in running_tasks(process.data_dir)}) >= 2:
                break
            time.sleep(0.05)
        process.signal(signal.SIGKILL)

    task_id, _ = await stream_until_working(
        process.url,
        kill_once_a_step_runs,
        may_break=True,
        text=PLAN_REQUEST,
        metadata={"autoApprove": True},
    )
    process.wait(30)
    left = running_tasks(process.data_dir)
    assert len({table for table, _, _ in left}) >= 2, left  # the kill left a plan mid-step

    again = server()
    assert not running_tasks(again.data_dir)
    task = jsonrpc(again.url, "GetTask", {"id": task_id})["result"]
    assert task["status"]["state"] == "TASK_STATE_FAILED"
    assert "Interrupted by a restart" in said(task)
