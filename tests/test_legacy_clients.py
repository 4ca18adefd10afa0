"""v0.3-era clients, from their registries, against this v1.0 server.

a2a-sdk 0.3 (Python, in its own virtualenv) and @a2a-js/sdk 0.3 (node) refused the cards
before they sent anything: the cards declared only v1.0 interfaces, so the served JSON had
no ``url`` / ``preferredTransport`` / ``protocolVersion``. Each client here discovers the
validator through the orchestrator, streams a request with a planted flaw, and gets the task.
The clients are installed once per machine under ~/.cache/youmeyou.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import LiveServer

CLIENTS = Path(__file__).parent / "clients"
CACHE = Path.home() / ".cache" / "youmeyou"
PY_CLIENT = CACHE / "venvs" / "a2a-sdk-0.3.26"
JS_CLIENT = CACHE / "npm" / "a2a-js-sdk-0.3.14"
FLAWED = 'Check this JSON: {"name": "ada", "age": 36,}'


def _installed(what: str, command: list[str], cwd: Path | None = None) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"could not install {what} from its registry:\n{done.stderr[-2000:]}")


@pytest.fixture(scope="session")
def python_client() -> Path:
    python = PY_CLIENT / "bin" / "python"
    if not python.exists():
        _installed("a virtualenv", [sys.executable, "-m", "venv", str(PY_CLIENT)])
        _installed("a2a-sdk 0.3", [str(python), "-m", "pip", "install", "-q", "a2a-sdk==0.3.26"])
    return python


@pytest.fixture(scope="session")
def js_client() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed")
    if not (JS_CLIENT / "node_modules" / "@a2a-js" / "sdk").exists():
        JS_CLIENT.mkdir(parents=True, exist_ok=True)
        (JS_CLIENT / "package.json").write_text('{"private": true, "type": "module"}')
        _installed(
            "@a2a-js/sdk 0.3", ["npm", "install", "--silent", "@a2a-js/sdk@0.3.14"], JS_CLIENT
        )
    script = JS_CLIENT / "client.mjs"  # beside its node_modules, where node resolves imports
    shutil.copyfile(CLIENTS / "a2a_js_03.mjs", script)
    return script


async def _saw(command: list[str]) -> dict[str, Any]:
    """What the client printed; it runs while this loop serves it (the server is in process)."""
    client = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(client.communicate(), 180)
    assert client.returncode == 0, err.decode()[-3000:]
    seen: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return seen


def _found_the_flaw(artifacts: dict[str, str]) -> None:
    report = json.loads(artifacts["validation.json"])
    assert report["passed"] is False
    assert [issue["rule"] for issue in report["issues"]] == ["json/syntax"]


async def test_the_served_card_carries_the_v03_fields_and_the_old_path(
    server: LiveServer,
) -> None:
    for path in ("/.well-known/agent-card.json", "/.well-known/agent.json"):
        async with httpx.AsyncClient(timeout=10) as http:
            card = (await http.get(f"{server.url}/agents/validator{path}")).json()
        assert card["url"] == f"{server.url}/agents/validator/"
        assert (card["preferredTransport"], card["protocolVersion"]) == ("JSONRPC", "0.3")
        versions = {i["protocolVersion"] for i in card["supportedInterfaces"]}
        assert versions == {"1.0", "0.3"}


async def test_a2a_sdk_03_streams_a_task_and_gets_it(
    server: LiveServer, python_client: Path
) -> None:
    seen = await _saw(
        [str(python_client), str(CLIENTS / "a2a_sdk_03.py"), server.url, FLAWED, "validator"]
    )
    assert seen["card"] == {"url": f"{server.url}/", "transport": "JSONRPC", "version": "0.3"}
    assert seen["states"][-1] == "completed" and seen["fetched"] == "completed"
    assert "artifact-update" in seen["kinds"]
    _found_the_flaw(seen["artifacts"])


async def test_a2a_js_03_streams_a_task_and_gets_it(server: LiveServer, js_client: Path) -> None:
    seen = await _saw(["node", str(js_client), server.url, FLAWED, "validator"])
    assert seen["kinds"][0] == "task" and seen["state"] == "completed"
    assert seen["fetched"] == "completed"
    _found_the_flaw(seen["artifacts"])
