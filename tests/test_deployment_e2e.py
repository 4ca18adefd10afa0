"""Running the server as users deploy it: restarts, remote agents, timeouts, the CLI."""

from __future__ import annotations

import ast
import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest
from a2a.client import ClientCallContext, ClientConfig, create_client
from a2a.types import GetTaskRequest, SendMessageRequest, StreamResponse
from conftest import make_settings
from support import (
    COMPLETED,
    FAILED,
    LiveServer,
    artifacts,
    final_state,
    free_port,
    serving,
    statuses,
    stream,
    user_message,
)
from typer.testing import CliRunner

from youmeyou.app import Models, build_agent_app, build_app
from youmeyou.cli import app as cli

POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
async def test_tasks_survive_a_restart(models: Models, tmp_path: Path, store: str) -> None:
    port = free_port()
    url = POSTGRES_URL if store == "postgresql" else None
    settings = make_settings(tmp_path, port, task_store_url=url)
    async with serving(build_app(settings, models), port) as live:
        events = await stream(live.url, 'Check this JSON: {"kept": true}', user="carol")
        task_id = events[0].task.id
    assert (tmp_path / "tasks.db").is_file() == (store == "sqlite")
    async with serving(build_app(settings, models), port) as live, httpx.AsyncClient() as http:
        client = await create_client(live.url, ClientConfig(httpx_client=http))
        context = ClientCallContext(service_parameters={"X-User-Id": "carol"})
        task = await client.get_task(GetTaskRequest(id=task_id), context=context)
    assert task.status.state == COMPLETED
    assert json.loads(task.artifacts[0].parts[0].text)["valid"] is True


async def test_remote_agent_is_registered_routed_to_and_its_failure_is_reported(
    models: Models, tmp_path: Path
) -> None:
    remote_port, port = free_port(), free_port()
    remote_settings = make_settings(tmp_path / "remote", remote_port)
    unreachable = f"http://127.0.0.1:{free_port()}"
    async with serving(
        build_agent_app(remote_settings, "validator", models), remote_port
    ) as remote:
        settings = make_settings(
            tmp_path / "main", port, remote_agents=f"{remote.url},{unreachable}"
        )
        async with serving(build_app(settings, models), port) as live:
            async with httpx.AsyncClient() as http:
                health = (await http.get(f"{live.url}/health")).json()
                listed = (await http.get(f"{live.url}/v1/cards")).json()["agents"]
            assert unreachable in health["remote_errors"], (
                "an unreachable agent is reported, not fatal"
            )
            remote_entry = next(a for a in listed if a["remote"])
            assert remote_entry["url"] == f"{remote.url}/"
            remote_id = remote_entry["id"]

            events = await stream(
                live.url, "Validate this SQL: SELECT 1", metadata={"agent": remote_id}
            )
            assert final_state(events) == COMPLETED
            built = artifacts(events)
            assert built["validation.json"]["metadata"][0]["agent"] == remote_id

            remote.server.should_exit = True  # the remote agent goes away mid-life
            await asyncio.sleep(0.5)
            events = await stream(
                live.url, "Validate this SQL: SELECT 1", metadata={"agent": remote_id}
            )
            state, text, _ = statuses(events)[-1]
            assert state == FAILED
            assert "could not reach" in text and remote.url in text


async def test_a_slow_specialist_fails_the_task_with_the_reason(
    models: Models, tmp_path: Path
) -> None:
    port = free_port()
    settings = make_settings(tmp_path, port, specialist_timeout_s=0.05)
    async with serving(build_app(settings, models), port) as live:
        events = await asyncio.wait_for(
            stream(
                live.url,
                "Write a Python function that reverses a string",
                metadata={"agent": "code"},  # the model-backed path, which takes longest
            ),
            timeout=60,
        )
    state, text, _ = statuses(events)[-1]
    assert state == FAILED, statuses(events)
    assert "did not finish within" in text


async def test_standalone_agent_serves_its_card_at_the_root(models: Models, tmp_path: Path) -> None:
    port = free_port()
    async with serving(
        build_agent_app(make_settings(tmp_path, port), "architecture", models), port
    ) as live:
        async with httpx.AsyncClient() as http:
            card = (await http.get(f"{live.url}/.well-known/agent-card.json")).json()
        assert card["name"] == "Architecture Agent"
        events = await stream(live.url, "Design a chat application with notifications")
        built = artifacts(events)
        diagram = json.loads(built["architecture.canvas.json"]["text"])
        ids = {node["id"] for node in diagram["nodes"]}
        assert {"messaging-service", "notification-service", "api-gateway"} <= ids
        assert all(e["source"] in ids and e["target"] in ids for e in diagram["edges"])
        assert built["architecture.md"]["text"].startswith("# Architecture")
        assert final_state(events) == COMPLETED


def test_unknown_standalone_agent_is_refused() -> None:
    result = CliRunner().invoke(cli, ["agent", "astrology", "--port", "1"])
    assert result.exit_code != 0
    assert "unknown agent 'astrology'" in result.output


async def test_cli_route_cards_and_ask_against_a_running_server(server: LiveServer) -> None:
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, [*args, "--url", server.url], env={"COLUMNS": "200"})
        return result.exit_code, result.output

    code, output = await asyncio.to_thread(
        run, "route", "Which indexes should I add to my orders table?"
    )
    assert code == 0 and "database *" in output and "query-optimization" in output
    code, output = await asyncio.to_thread(run, "cards")
    assert code == 0 and all(a in output for a in ("architecture", "database", "code", "validator"))
    code, output = await asyncio.to_thread(run, "ask", 'Check this JSON: {"a": [1, 2]}')
    assert code == 0, output
    assert "validation.json" in output and "completed" in output


def test_cli_reports_an_unreachable_server() -> None:
    result = CliRunner().invoke(cli, ["route", "x", "--url", f"http://127.0.0.1:{free_port()}"])
    assert result.exit_code == 2
    assert "Cannot reach" in result.output


SHOP = "An online shop with user accounts, a product catalog and payments"


async def test_each_served_specialist_answers_the_request_it_was_sent(server: LiveServer) -> None:
    design = artifacts(await stream(f"{server.url}/agents/architecture", SHOP))
    labels = [n["label"] for n in json.loads(design["architecture.canvas.json"]["text"])["nodes"]]
    assert all(any(word in label for label in labels) for word in ("Catalog", "Payment"))
    assert all(label in design["architecture.md"]["text"] for label in labels)
    schema = artifacts(await stream(f"{server.url}/agents/database", SHOP))["schema.sql"]
    assert len(schema["chunks"]) > 2  # one chunk per table, as a canvas redraws
    for table in ("user", "product", "payment"):  # "user accounts" may be user_accounts
        assert re.search(rf"CREATE TABLE {table}\w*s \(", schema["text"]), table
    code = artifacts(await stream(f"{server.url}/agents/code", "Write slugify(text: str) -> str"))
    module = code["src/slugify.py"]["text"]
    assert "def slugify(text: str) -> str" in module
    ast.parse(module)


async def test_one_work_slot_lends_itself_while_a_model_generates(
    models: Models, tmp_path: Path
) -> None:
    """With a single work slot, a task whose specialist is generating (seconds of model
    time) lends the slot, so quick requests sent meanwhile finish first; all complete."""
    port = free_port()
    settings = make_settings(tmp_path, port, work_slots=1)
    async with (
        serving(build_app(settings, models), port) as live,
        httpx.AsyncClient(timeout=300) as http,
    ):
        config = ClientConfig(streaming=True, httpx_client=http)
        client = await create_client(live.url, config)
        request = SendMessageRequest(
            message=user_message("Write a Python function that merges two sorted lists")
        )
        context = ClientCallContext(service_parameters={"X-User-Id": "writer"})
        finished: list[str] = []

        async def generating() -> list[StreamResponse]:
            events = []
            async for event in client.send_message(request, context=context):
                events.append(event)
                if "step" in str(event.status_update.metadata) and not delegated.is_set():
                    delegated.set()  # the code agent has the step: its model is generating
            finished.append("generated")
            return events

        async def quick(n: int) -> list[StreamResponse]:
            events = await stream(live.url, f'Check this JSON: {{"n": {n}}}', user=f"q{n}")
            finished.append("quick")
            return events

        delegated = asyncio.Event()
        writer = asyncio.create_task(generating())
        await asyncio.wait_for(delegated.wait(), 120)
        quick_events = await asyncio.gather(*(quick(n) for n in range(3)))
        written = await writer
    assert final_state(written) == COMPLETED
    assert "code" in {meta.get("agent") for _, _, meta in statuses(written)}
    assert all(final_state(events) == COMPLETED for events in quick_events)
    assert finished == ["quick", "quick", "quick", "generated"]


async def test_a_remote_agent_takes_a_plan_step(models: Models, tmp_path: Path) -> None:
    """The plan's crew is data: a registered remote validator checks the plan's files."""
    remote_port, port = free_port(), free_port()
    remote_settings = make_settings(tmp_path / "remote", remote_port)
    async with serving(
        build_agent_app(remote_settings, "validator", models), remote_port
    ) as remote:
        settings = make_settings(
            tmp_path / "main",
            port,
            remote_agents=remote.url,
            plan_agents={"validation": "validator-agent"},
        )
        async with serving(build_app(settings, models), port) as live:
            events = await stream(
                live.url,
                "Build the user authentication and the shopping cart services",
                metadata={"progressive": True, "autoApprove": True},
            )
    assert final_state(events) == COMPLETED, statuses(events)[-3:]
    built = artifacts(events)
    validation = built["validation.json"]
    assert {m["agent"] for m in validation["metadata"]} == {"validator-agent"}
    checked = {f["name"] for f in json.loads(validation["text"])["files"]}
    assert {"src/auth/service.py", "src/cart/service.py"} <= checked, checked
