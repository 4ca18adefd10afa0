"""Protocol conformance the A2A TCK checks, over real HTTP on both bindings.

ListTasks validates ``status`` and ``pageSize`` (InvalidParams: -32602 on JSON-RPC, 400 on
REST), filters by status and reports the size of the page it returns; v1.0 REST paths also
answer at an agent's root; a streaming call that fails up front still answers with SSE.
Raw requests carry no ``A2A-Version`` header, as the TCK sends none.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import make_settings
from starlette.applications import Starlette
from support import LiveServer, free_port, serving
from tck_harness import ReturnImmediately, holding

from youmeyou.app import Models, build_agent_app, build_app
from youmeyou.settings import Settings

VALIDATOR = "/agents/validator"
INVALID_PARAMS = -32602


async def rpc(
    server: LiveServer, base: str, method: str, params: dict[str, Any], user: str = "tck"
) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(f"{server.url}{base}/", json=body, headers={"X-User-Id": user})
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


async def rest_list(
    server: LiveServer, path: str, user: str = "tck", **query: str | int
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as http:
        return await http.get(f"{server.url}{path}", params=query, headers={"X-User-Id": user})


async def send(server: LiveServer, base: str, text: str, user: str) -> dict[str, Any]:
    """One blocking SendMessage; the task it returns."""
    message = {"role": "ROLE_USER", "messageId": str(uuid.uuid4()), "parts": [{"text": text}]}
    answer = await rpc(server, base, "SendMessage", {"message": message}, user=user)
    assert "result" in answer, answer
    task: dict[str, Any] = answer["result"]["task"]
    return task


def fresh_user() -> str:
    return f"tck-{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize("page_size", [0, -1, 101])
@pytest.mark.parametrize("base", ["", VALIDATOR])
async def test_list_tasks_page_size_out_of_range_is_invalid_params(
    server: LiveServer, base: str, page_size: int
) -> None:
    answer = await rpc(server, base, "ListTasks", {"pageSize": page_size})
    assert answer["error"]["code"] == INVALID_PARAMS
    response = await rest_list(server, f"{base}/rest/tasks", pageSize=page_size)
    assert response.status_code == 400


@pytest.mark.parametrize("status", ["INVALID_STATUS", "running", 99, True])
async def test_list_tasks_unknown_status_is_invalid_params_on_json_rpc(
    server: LiveServer, status: object
) -> None:
    answer = await rpc(server, VALIDATOR, "ListTasks", {"status": status})
    assert answer["error"]["code"] == INVALID_PARAMS
    assert "status" in answer["error"]["message"]


@pytest.mark.parametrize("base", ["", VALIDATOR])
async def test_list_tasks_unknown_status_is_400_on_rest(server: LiveServer, base: str) -> None:
    response = await rest_list(server, f"{base}/rest/tasks", status="INVALID_STATUS")
    assert response.status_code == 400
    assert "status" in response.json()["error"]["message"]


async def test_list_tasks_with_no_match_reports_an_empty_page(server: LiveServer) -> None:
    answer = await rpc(server, VALIDATOR, "ListTasks", {"contextId": "no-such-context"})
    assert answer["result"] == {"tasks": [], "nextPageToken": "", "pageSize": 0, "totalSize": 0}


async def test_list_tasks_filters_by_status_on_both_bindings(server: LiveServer) -> None:
    user = fresh_user()
    # The orchestrator cannot place small talk: the task waits for input.
    waiting = await send(server, "", "hello", user)
    assert waiting["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"

    async def listed(status: str) -> list[str]:
        answer = await rpc(server, "", "ListTasks", {"status": status}, user=user)
        return [task["id"] for task in answer["result"]["tasks"]]

    assert await listed("TASK_STATE_INPUT_REQUIRED") == [waiting["id"]]
    assert await listed("TASK_STATE_COMPLETED") == []
    # The HTTP+JSON binding's own example spells the state short: ?status=working (spec 11.5).
    for spelled in ("TASK_STATE_INPUT_REQUIRED", "input-required"):
        response = await rest_list(server, "/rest/tasks", user=user, status=spelled)
        assert response.status_code == 200
        assert [task["id"] for task in response.json()["tasks"]] == [waiting["id"]]
    response = await rest_list(server, "/rest/tasks", user=user, status="completed")
    assert response.json()["tasks"] == []


async def test_list_tasks_page_size_is_the_size_of_the_page(server: LiveServer) -> None:
    user = fresh_user()
    created = [
        (await send(server, VALIDATOR, f"Validate this SQL: SELECT {n}", user))["id"]
        for n in range(3)
    ]
    first = (await rpc(server, VALIDATOR, "ListTasks", {"pageSize": 2}, user=user))["result"]
    assert (first["pageSize"], first["totalSize"], len(first["tasks"])) == (2, 3, 2)
    assert first["nextPageToken"]
    params = {"pageSize": 2, "pageToken": first["nextPageToken"]}
    second = (await rpc(server, VALIDATOR, "ListTasks", params, user=user))["result"]
    assert (second["pageSize"], second["totalSize"], len(second["tasks"])) == (1, 3, 1)
    assert second["nextPageToken"] == ""
    listed = [task["id"] for task in first["tasks"] + second["tasks"]]
    assert sorted(listed) == sorted(created)
    whole = (await rpc(server, VALIDATOR, "ListTasks", {}, user=user))["result"]
    assert whole["pageSize"] == whole["totalSize"] == 3


async def test_v10_rest_paths_answer_at_the_agent_root_too(server: LiveServer) -> None:
    user = fresh_user()
    body = {
        "message": {
            "role": "ROLE_USER",
            "messageId": str(uuid.uuid4()),
            "parts": [{"text": "Validate this SQL: SELECT 1"}],
        }
    }
    async with httpx.AsyncClient(timeout=60) as http:
        sent = await http.post(
            f"{server.url}{VALIDATOR}/message:send", json=body, headers={"X-User-Id": user}
        )
        assert sent.status_code == 200, sent.text
        task_id = sent.json()["task"]["id"]
        got = await http.get(
            f"{server.url}{VALIDATOR}/tasks/{task_id}", headers={"X-User-Id": user}
        )
    assert got.status_code == 200
    assert got.json()["status"]["state"] == "TASK_STATE_COMPLETED"
    listed = await rest_list(server, f"{VALIDATOR}/tasks", user=user)
    assert [task["id"] for task in listed.json()["tasks"]] == [task_id]


@pytest.mark.parametrize("base", ["", VALIDATOR])
async def test_subscribe_to_unknown_task_answers_with_an_sse_error_event(
    server: LiveServer, base: str
) -> None:
    body = {"jsonrpc": "2.0", "id": 5, "method": "SubscribeToTask", "params": {"id": "nope"}}
    async with (
        httpx.AsyncClient(timeout=60) as http,
        http.stream("POST", f"{server.url}{base}/", json=body) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [
            json.loads(line[5:])
            async for line in response.aiter_lines()
            if line.startswith("data:")
        ]
    assert [event["error"]["code"] for event in events] == [-32001]  # TaskNotFoundError
    assert events[0]["id"] == 5


async def test_failed_non_streaming_call_stays_plain_json(server: LiveServer) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(
            f"{server.url}/",
            json={"jsonrpc": "2.0", "id": 2, "method": "GetTask", "params": {"id": "nope"}},
        )
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == -32001


@pytest.mark.parametrize("prefix", ["", "/rest"])
async def test_rest_errors_carry_the_spec_http_status(server: LiveServer, prefix: str) -> None:
    """Spec 5.4: a task that cannot be canceled is 409 (the SDK says 400); a message to a
    finished task is UnsupportedOperation, 400 with google.rpc code UNIMPLEMENTED."""
    user = fresh_user()
    task = await send(server, VALIDATOR, "Validate this SQL: SELECT 1", user)
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    base = f"{server.url}{VALIDATOR}{prefix}"
    headers = {"X-User-Id": user}
    follow_up = {
        "message": {
            "role": "ROLE_USER",
            "messageId": str(uuid.uuid4()),
            "taskId": task["id"],
            "parts": [{"text": "and again"}],
        }
    }
    async with httpx.AsyncClient(timeout=60) as http:
        cancel = await http.post(f"{base}/tasks/{task['id']}:cancel", headers=headers)
        again = await http.post(f"{base}/message:send", json=follow_up, headers=headers)
        missing = await http.get(f"{base}/tasks/nope", headers=headers)
    assert cancel.status_code == 409, cancel.text
    assert cancel.json()["error"]["code"] == 409
    assert cancel.json()["error"]["status"] == "FAILED_PRECONDITION"
    assert again.status_code == 400, again.text
    assert again.json()["error"]["status"] == "UNIMPLEMENTED"
    assert missing.status_code == 404
    assert missing.json()["error"]["status"] == "NOT_FOUND"


async def test_a_file_part_is_refused_as_an_unsupported_content_type(server: LiveServer) -> None:
    """Spec 3.1.1: a media type the agent does not take is ContentTypeNotSupportedError
    (REST 415); the agents read text and JSON data, and would otherwise drop a file unread."""
    message = {
        "role": "ROLE_USER",
        "messageId": str(uuid.uuid4()),
        "parts": [{"raw": "dGNr", "mediaType": "application/x-unsupported"}],
    }
    rpc_answer = await rpc(server, VALIDATOR, "SendMessage", {"message": message})
    async with httpx.AsyncClient(timeout=60) as http:
        rest_answer = await http.post(
            f"{server.url}{VALIDATOR}/message:send", json={"message": message}
        )
    assert rpc_answer["error"]["code"] == -32005
    assert "not application/x-unsupported" in rpc_answer["error"]["message"]
    assert rest_answer.status_code == 415, rest_answer.text


@pytest.mark.parametrize("path", ["/.well-known/agent-card.json", "/.well-known/agent.json"])
async def test_the_card_says_how_long_it_may_be_cached(server: LiveServer, path: str) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        first = await http.get(f"{server.url}{VALIDATOR}{path}")
        again = await http.get(f"{server.url}{VALIDATOR}{path}")
    assert first.headers["cache-control"] == "public, max-age=300"
    assert first.headers["etag"] == again.headers["etag"]
    assert first.headers["last-modified"].endswith(" GMT")


@contextlib.asynccontextmanager
async def _in_tck_mode(
    directory: Path, build: Callable[[Settings], Starlette]
) -> AsyncIterator[LiveServer]:
    """Served as ``make tck`` serves it: through the harness, composed from public parts."""
    port = free_port()
    settings = make_settings(directory, port)
    async with serving(ReturnImmediately(build(settings)), port) as live:
        yield live


@pytest.fixture(scope="module")
async def tck_server(
    models: Models, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    """``youmeyou serve`` in TCK mode: the orchestrator at the root holds its tasks."""
    async with _in_tck_mode(
        tmp_path_factory.mktemp("tck"),
        lambda settings: build_app(settings, models, decorate_root=holding(3.0)),
    ) as live:
        yield live


@pytest.fixture(scope="module")
async def tck_validator(
    models: Models, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    """``youmeyou agent validator`` in TCK mode, as ``make tck`` runs it."""
    async with _in_tck_mode(
        tmp_path_factory.mktemp("tck-v"),
        lambda settings: build_agent_app(settings, "validator", models, decorate_root=holding(3.0)),
    ) as live:
        yield live


@pytest.mark.parametrize("standalone", [False, True], ids=["orchestrator", "validator"])
async def test_tck_mode_sends_return_a_running_task_that_can_be_cancelled(
    tck_server: LiveServer, tck_validator: LiveServer, standalone: bool
) -> None:
    """The TCK's assumption: a plain SendMessage returns while its task still runs."""
    server = tck_validator if standalone else tck_server
    user = fresh_user()
    task = await send(server, "", "Validate this SQL: SELECT 1", user)
    assert task["status"]["state"] in {"TASK_STATE_SUBMITTED", "TASK_STATE_WORKING"}
    for _ in range(50):
        got = (await rpc(server, "", "GetTask", {"id": task["id"]}, user=user))["result"]
        if got["status"]["state"] == "TASK_STATE_WORKING":
            break
        await asyncio.sleep(0.05)
    assert got["status"]["state"] == "TASK_STATE_WORKING"
    listed = await rpc(server, "", "ListTasks", {"status": "TASK_STATE_WORKING"}, user=user)
    assert [t["id"] for t in listed["result"]["tasks"]] == [task["id"]]
    cancelled = await rpc(server, "", "CancelTask", {"id": task["id"]}, user=user)
    assert cancelled["result"]["status"]["state"] == "TASK_STATE_CANCELED"


async def test_tck_mode_leaves_the_mounted_specialists_alone(tck_server: LiveServer) -> None:
    """Only the agent at the root (the one the TCK reads) is in test mode."""
    task = await send(tck_server, VALIDATOR, "Validate this SQL: SELECT 1", fresh_user())
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"


async def test_tck_mode_runs_the_real_work_after_the_hold(tck_validator: LiveServer) -> None:
    user = fresh_user()
    task = await send(tck_validator, "", "Validate this SQL: SELECT 1", user)
    for _ in range(100):
        got = await rpc(tck_validator, "", "GetTask", {"id": task["id"]}, user=user)
        if got["result"]["status"]["state"] == "TASK_STATE_COMPLETED":
            break
        await asyncio.sleep(0.1)
    assert got["result"]["status"]["state"] == "TASK_STATE_COMPLETED"
    names = [artifact["name"] for artifact in got["result"].get("artifacts", [])]
    assert "validation.json" in names


async def test_without_tck_mode_a_send_waits_for_the_task_to_finish(server: LiveServer) -> None:
    task = await send(server, VALIDATOR, "Validate this SQL: SELECT 1", fresh_user())
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"


async def test_a_follow_up_naming_only_the_task_joins_its_context(
    tck_validator: LiveServer,
) -> None:
    """Spec 3.4.3: the agent infers contextId from the task when only taskId is given."""
    user = fresh_user()
    task = await send(tck_validator, "", "Validate this SQL: SELECT 1", user)
    follow_up = {
        "role": "ROLE_USER",
        "messageId": str(uuid.uuid4()),
        "taskId": task["id"],
        "parts": [{"text": "Validate this SQL: SELECT 2"}],
    }
    answer = await rpc(tck_validator, "", "SendMessage", {"message": follow_up}, user=user)
    assert answer["result"]["task"]["contextId"] == task["contextId"], answer
    for _ in range(150):
        got = await rpc(tck_validator, "", "GetTask", {"id": task["id"]}, user=user)
        if got["result"]["status"]["state"] == "TASK_STATE_COMPLETED":
            break
        await asyncio.sleep(0.1)
    assert got["result"]["status"]["state"] == "TASK_STATE_COMPLETED"
    history = got["result"]["history"]
    assert {m["contextId"] for m in history} == {task["contextId"]}
    assert follow_up["messageId"] in {m["messageId"] for m in history}
