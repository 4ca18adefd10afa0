"""PostgreSQL cut off under a running server, through a loopback proxy, and brought back.

A real server process keeps its tasks in a database of its own on the machine's
PostgreSQL, reached only through the proxy, so cutting the proxy is losing the database.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from processes import ServerProcess
from tcp_proxy import TcpProxy

USER = "db-fault-test"
# A trailing comma: the validator must find it whether or not the database is there.
BROKEN_JSON = 'Check this JSON: {"name": "ada", "age": 36,}'


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    with TcpProxy(5432) as running:
        yield running


def server_on(database: str, proxy: TcpProxy, data_dir: Path) -> ServerProcess:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/{database}"
    return ServerProcess(data_dir, settings={"YMY_TASK_STORE_URL": url})


def send(url: str, text: str, agent: str = "validator") -> dict[str, Any]:
    """A blocking SendMessage to ``agent``; the task it answers with."""
    message = {
        "messageId": str(uuid.uuid4()),
        "role": "ROLE_USER",
        "parts": [{"text": text}],
        "metadata": {"agent": agent},
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}
    answer = httpx.post(url, json=body, headers={"X-User-Id": USER}, timeout=60)
    task: dict[str, Any] = answer.json()["result"]["task"]
    return task


def findings(task: dict[str, Any]) -> str:
    report = next(a for a in task["artifacts"] if a["name"] == "validation.json")
    return json.dumps(report)


async def stored_state(database: str, task_id: str) -> str | None:
    """The task's state as PostgreSQL itself holds it, bypassing the server."""
    connection = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}")
    try:
        status = await connection.fetchval(
            "SELECT status FROM tasks_orchestrator WHERE id = $1", task_id
        )
    finally:
        await connection.close()
    return None if status is None else str(json.loads(status)["state"])


async def eventually_stored(database: str, task_id: str, timeout_s: float = 40) -> str | None:
    """The task's stored state once it is final (or whatever it is after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    state = await stored_state(database, task_id)
    while state != "TASK_STATE_COMPLETED" and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        state = await stored_state(database, task_id)
    return state


async def test_while_the_database_is_away_reads_get_503_and_work_goes_on(
    database: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    server = server_on(database, proxy, tmp_path / "var")
    server.start()
    try:
        before = send(server.url, BROKEN_JSON)
        assert await eventually_stored(database, before["id"]) == "TASK_STATE_COMPLETED"
        proxy.cut()  # from here a read of it must ask the database: it is in no memory
        http = httpx.AsyncClient(base_url=server.url, headers={"X-User-Id": USER}, timeout=30)
        for path in ("/v1/usage", "/v1/profile", f"/tasks/{before['id']}", "/tasks"):
            answer = await http.get(path)
            assert answer.status_code == 503, (path, answer.status_code, answer.text)
            assert answer.headers["retry-after"] == "5"
            assert "database is unavailable" in answer.text
        during = send(server.url, BROKEN_JSON)  # a new task still gets its answer
        assert during["status"]["state"] == "TASK_STATE_COMPLETED"
        assert "json/syntax" in findings(during)  # the flaw planted in the request was found
        assert await stored_state(database, during["id"]) is None  # not written: no database
        # The local model answers, and what it used is counted, database or not.
        code = send(server.url, "Write a Python function that reverses a string", "code")
        assert code["status"]["state"] == "TASK_STATE_COMPLETED"
        proxy.restore()
        assert await eventually_stored(database, during["id"]) == "TASK_STATE_COMPLETED"
        answer = await http.get(f"/tasks/{during['id']}")
        assert answer.status_code == 200
        usage = (await http.get("/v1/usage")).json()
        await http.aclose()
        assert sum(row["calls"] for row in usage["models"]) >= 1, usage
    finally:
        server.stop()


async def test_writes_the_database_refused_survive_a_stop_and_land_at_the_next_start(
    database: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    server = server_on(database, proxy, tmp_path / "var")
    server.start()
    try:
        send(server.url, BROKEN_JSON)
        proxy.cut()
        during = send(server.url, BROKEN_JSON)
        code = send(server.url, "Write a Python function that reverses a string", "code")
        assert code["status"]["state"] == "TASK_STATE_COMPLETED"  # its usage is unwritten
        server.signal(signal.SIGTERM)
        server.wait(90)
    finally:
        server.stop()
    spilled = list((tmp_path / "var" / "unwritten").glob("*.jsonl"))
    assert spilled and during["id"] in "".join(p.read_text() for p in spilled)
    assert (tmp_path / "var" / "unwritten" / "usage.jsonl").exists()
    assert await stored_state(database, during["id"]) is None

    proxy.restore()
    again = server_on(database, proxy, tmp_path / "var")
    again.start()
    try:
        assert await stored_state(database, during["id"]) == "TASK_STATE_COMPLETED"
        assert not list((tmp_path / "var" / "unwritten").glob("*.jsonl"))
        async with httpx.AsyncClient(base_url=again.url, timeout=30) as http:
            usage = (await http.get("/v1/usage", headers={"X-User-Id": USER})).json()
        assert sum(row["calls"] for row in usage["models"]) >= 1, usage  # the spilled usage
    finally:
        again.stop()
