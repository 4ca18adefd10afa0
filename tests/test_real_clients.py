"""Real A2A clients, from their registries, against this v1.0 server.

Each client is installed once per machine under ~/.cache/youmeyou, at test set-up, from its
registry (an install that fails fails the test with the registry's error; without node the
node clients are skipped), and runs in a process of its own while the in-process server
serves it. The scripts in tests/clients/ make the calls; the tests judge what they print.

What each client is checked on:

- **a2a-sdk 0.3.26** (PyPI, its own virtualenv; ``A2ACardResolver`` and ``ClientFactory``,
  v0.3 JSON-RPC): discover, stream, get, cancel, resubscribe.
- **@a2a-js/sdk 0.3.14** (npm; ``ClientFactory.createFromUrl``, v0.3 JSON-RPC): discover,
  stream, get, cancel, resubscribe.
- **@a2a-js/sdk 1.3.0** (npm, the canvas's version; ``DefaultAgentCardResolver`` and a
  ``ClientFactory`` with its ``JsonRpcTransportFactory``, v1.0 JSON-RPC): discover, stream,
  get, cancel, resubscribe.
- **Google ADK 2.13.0** ``RemoteA2aAgent`` (PyPI ``google-adk[a2a]``, with a2a-sdk 1.3.0, its
  own virtualenv), run by an ADK ``Runner`` with an in-memory session service: discover and
  stream only. ADK has no call that cancels a remote task or resubscribes to one (a
  ``Runner``'s ``abort_signal`` only stops the local invocation), nor one that gets it; what
  it does expose is checked too: the A2A task and its state on every event, the artifacts
  of the task it saw, and the session the ``Runner`` kept. No model is involved.

The checks:

- discover: the client reads the card and picks the interface it speaks (v0.3 clients the
  card's v0.3 fields, the v1.x client its v1.0 JSON-RPC interface).
- stream and get: JSON with a planted flaw, to the validator through the orchestrator (ADK:
  the validator's own card); ``validation.json`` names the ``json/syntax`` flaw, and a get
  afterwards finds the task completed with the same artifacts.
- cancel and resubscribe need a task still running when the client acts: a code request to
  the code agent (the local model writes three short samples, a few seconds; the request
  the restart and replica tests hold a task with). Cancel: once the task works the client
  cancels it; the cancel's answer, the rest of the same stream and a get afterwards all say
  ``canceled``. Resubscribe: once the task works the client leaves the stream (closes its
  connection) and resubscribes; that stream starts with the task still working, brings the
  code artifact, and ends ``completed``, its artifacts those a get returns.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import LiveServer

CLIENTS = Path(__file__).parent / "clients"
CACHE = Path.home() / ".cache" / "youmeyou"
VENVS, NPM = CACHE / "venvs", CACHE / "npm"
A2A_SDK_03 = ("a2a-sdk==0.3.26",)
ADK = ("google-adk[a2a]==2.13.0", "a2a-sdk==1.3.0")
A2A_JS_03, A2A_JS_1 = "0.3.14", "1.3.0"
FLAWED = 'Check this JSON: {"name": "ada", "age": 36,}'
# Runs a few seconds (three samples of the local model), long past a client's next call.
CODE = "Write a Python function that reverses a string"
CODE_FILE = "src/reverse_string.py"


@dataclass(frozen=True)
class RealClient:
    """A client script and the interpreter that runs it."""

    command: tuple[str, ...]
    version: str  # the A2A version it speaks to this server

    def run(self, mode: str, url: str, text: str, agent: str = "") -> list[str]:
        return [*self.command, mode, url, text, agent]


def _installed(what: str, command: list[str], cwd: Path | None = None) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"could not install {what} from its registry:\n{done.stderr[-2000:]}")


def _venv(name: str, requirements: tuple[str, ...]) -> Path:
    """The python of a virtualenv of its own holding ``requirements``, installed once."""
    home = VENVS / name
    python, stamp = home / "bin" / "python", home / "youmeyou-installed.txt"
    wanted = "\n".join(requirements)
    if not stamp.exists() or stamp.read_text() != wanted:
        if not python.exists():
            _installed(f"a virtualenv for {name}", [sys.executable, "-m", "venv", str(home)])
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        _installed(" and ".join(requirements), [*pip, *requirements])
        stamp.write_text(wanted)
    return python


def _node_client(version: str, script: str) -> Path:
    """``script`` beside its own @a2a-js/sdk ``version``, where node resolves its imports."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed")
    home = NPM / f"a2a-js-sdk-{version}"
    package = home / "node_modules" / "@a2a-js" / "sdk" / "package.json"
    if not package.exists() or json.loads(package.read_text())["version"] != version:
        home.mkdir(parents=True, exist_ok=True)
        (home / "package.json").write_text('{"private": true, "type": "module"}')
        spec = f"@a2a-js/sdk@{version}"
        _installed(spec, ["npm", "install", "--silent", "--no-audit", "--no-fund", spec], home)
    copied = home / "client.mjs"
    shutil.copyfile(CLIENTS / script, copied)
    return copied


@pytest.fixture(scope="session")
def a2a_sdk_03() -> RealClient:
    python = _venv("a2a-sdk-0.3.26", A2A_SDK_03)
    return RealClient((str(python), str(CLIENTS / "a2a_sdk_03.py")), "0.3")


@pytest.fixture(scope="session")
def a2a_js_03() -> RealClient:
    return RealClient(("node", str(_node_client(A2A_JS_03, "a2a_js_03.mjs"))), "0.3")


@pytest.fixture(scope="session")
def a2a_js_1() -> RealClient:
    return RealClient(("node", str(_node_client(A2A_JS_1, "a2a_js_1.mjs"))), "1.0")


@pytest.fixture(scope="session")
def adk_python() -> Path:
    return _venv("google-adk-2.13.0", ADK)


@pytest.fixture(params=["a2a_sdk_03", "a2a_js_03", "a2a_js_1"])
def client(request: pytest.FixtureRequest) -> RealClient:
    """Each client that makes every call: discover, stream, get, cancel, resubscribe."""
    chosen: RealClient = request.getfixturevalue(request.param)
    return chosen


async def _saw(command: list[str]) -> dict[str, Any]:
    """What the client printed; it runs while this loop serves it (the server is in process)."""
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode == 0, err.decode()[-3000:]
    seen: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return seen


def _state(name: str) -> str:
    """A state as v0.3 names it: ``TASK_STATE_INPUT_REQUIRED`` is ``input-required``."""
    return name.lower().removeprefix("task_state_").replace("_", "-")


def _states(names: list[str]) -> list[str]:
    return [_state(name) for name in names]


def _kinds(seen: dict[str, Any]) -> list[str]:
    """Event kinds, however the client spells them: ``artifact-update``, ``artifactUpdate``."""
    return [kind.lower().replace("-", "") for kind in seen["kinds"]]


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


async def test_a_client_discovers_streams_and_gets_a_task(
    server: LiveServer, client: RealClient
) -> None:
    seen = await _saw(client.run("stream", server.url, FLAWED, "validator"))
    chosen = {"url": f"{server.url}/", "transport": "JSONRPC", "version": client.version}
    assert seen["card"] == chosen
    kinds, states = _kinds(seen), _states(seen["states"])
    assert kinds[0] == "task" and "artifactupdate" in kinds
    assert states[0] == "submitted" and states[-1] == "completed", states
    _found_the_flaw(seen["artifacts"])
    assert _state(seen["fetched"]["state"]) == "completed"
    assert seen["fetched"]["artifacts"] == seen["artifacts"]


async def test_a_client_cancels_a_running_task(server: LiveServer, client: RealClient) -> None:
    code_agent = f"{server.url}/agents/code/"
    seen = await _saw(client.run("cancel", code_agent, CODE))
    assert seen["card"] == {"url": code_agent, "transport": "JSONRPC", "version": client.version}
    states = _states(seen["states"])
    assert states[-2:] == ["working", "canceled"], states  # the same stream, to its end
    assert "completed" not in states
    assert _state(seen["answered"]) == "canceled"
    assert _state(seen["fetched"]["state"]) == "canceled"


async def test_a_client_resubscribes_to_a_running_task(
    server: LiveServer, client: RealClient
) -> None:
    code_agent = f"{server.url}/agents/code/"
    seen = await _saw(client.run("resubscribe", code_agent, CODE))
    assert seen["card"] == {"url": code_agent, "transport": "JSONRPC", "version": client.version}
    assert _states(seen["left_at"])[-1] == "working"
    kinds, states = _kinds(seen), _states(seen["states"])
    assert kinds[0] == "task" and states[0] == "working", (kinds, states)  # the task as it is
    assert "artifactupdate" in kinds and states[-1] == "completed", (kinds, states)
    assert "def reverse_string(" in seen["artifacts"][CODE_FILE]
    assert _state(seen["fetched"]["state"]) == "completed"
    assert seen["fetched"]["artifacts"] == seen["artifacts"]


async def test_an_adk_remote_agent_discovers_the_validator_and_streams_its_review(
    server: LiveServer, adk_python: Path
) -> None:
    card_url = f"{server.url}/agents/validator/.well-known/agent-card.json"
    async with httpx.AsyncClient(timeout=10) as http:
        card = (await http.get(card_url)).json()
    seen = await _saw([str(adk_python), str(CLIENTS / "adk_remote_agent.py"), card_url, FLAWED])
    assert card["description"] in seen["description"]  # adopted from the card it resolved
    events = seen["events"]
    assert [e["error"] for e in events if e["error"]] == []
    assert len({e["task"] for e in events}) == 1 and None not in {e["task"] for e in events}
    assert _states([e["state"] for e in events])[-1] == "completed"
    assert any(e["thought"] and e["text"] for e in events)  # the working statuses
    streamed = [e["text"] for e in events if e["partial"] is False]  # the artifact's chunks
    _found_the_flaw({"validation.json": "".join(streamed)})
    _found_the_flaw(seen["artifacts"])
    assert events[-1]["text"] and not events[-1]["thought"]  # the closing reply
    kept = seen["session"]
    assert kept[0]["author"] == "user" and kept[-1]["text"] == events[-1]["text"]
