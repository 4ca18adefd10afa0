"""A real OpenAI-compatible model server behind the hosted tiers: llama.cpp's, from
``llama-cpp-python[server]``, on the packaged SmolLM2 GGUF, in a process of its own.

The loopback stub (``test_openai_provider.py``) covers faults; this checks that the provider
speaks the API as a real server reads it (it found that a null temperature is refused).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import make_settings
from gateway_support import ask, chunks_of
from support import COMPLETED, LiveServer, artifacts, final_state, free_port, serving, statuses
from support import stream as stream_task

from inference.costs import PriceTable
from inference.gateway import ModelGateway, Policy
from inference.limits import InProcessLimiter
from inference.local import MODEL_NAME
from inference.models import smollm2_gguf
from inference.openai_compatible import OpenAICompatibleProvider
from youmeyou.app import Models, build_app
from youmeyou.settings import DEFAULT_MODEL_POLICY

# A one-model server answers whatever model is named; the names say which tier asked.
FLASH, PRO = "server-flash", "server-pro"
MEDIUM = "Build an API for a recipe app with user favourites"
CODE_MEDIUM = (
    "Write `favourites(user: str) -> list` for the API of a recipe app with user favourites"
)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf())]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_up(base_url, process, log)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama.cpp's server exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("llama.cpp's server did not come up in 120 s")


async def test_the_gateway_streams_a_real_servers_answer_with_its_token_counts(
    models: Models, llama_server: str
) -> None:
    gateway = ModelGateway(
        local=models.local_model,
        hosted=OpenAICompatibleProvider(
            base_url=llama_server, timeout_s=60, count_tokens=models.local_model.count_tokens
        ),
        models={"local": MODEL_NAME, "flash": FLASH, "pro": PRO},
        policy=Policy(DEFAULT_MODEL_POLICY),
        analyzer=models.analyzer,
        limiter=InProcessLimiter(),
        prices=PriceTable({}),
        platform_key=None,  # a local server wants no key
        enterprise_users=["corp"],
    )
    chunks = await chunks_of(gateway, ask(MEDIUM, max_tokens=48))
    texts = [c.text for c in chunks if c.text]
    usage = chunks[-1].usage
    assert usage is not None and (usage.model, usage.provider) == (FLASH, "openai")
    assert len(texts) > 3, "the answer streams token by token"
    assert len("".join(texts).split()) >= 5, "an answer in words, not template markers"
    assert "<|im_" not in "".join(texts)
    # This server sends no usage in a stream: the same model's tokenizer counts here (its
    # count of the text may differ from the server's by a token or two at the joins).
    assert usage.tokens_in > 10 and 0 < usage.tokens_out <= 50
    assert usage.cost_usd == 0.0 and not usage.fallbacks  # one's own server costs nothing


@pytest.fixture(scope="module")
async def served(
    models: Models, llama_server: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    port = free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("llama-var"),
        port,
        hosted_provider="openai",
        openai_base_url=llama_server,
        openai_flash_model=FLASH,
        openai_pro_model=PRO,
        enterprise_users=["corp"],
    )
    async with serving(build_app(settings, models), port) as live:
        yield live


async def test_the_code_agent_asks_the_real_server_and_says_what_it_cost(
    served: LiveServer,
) -> None:
    events = await stream_task(f"{served.url}/agents/code/", CODE_MEDIUM, user="corp")
    assert final_state(events) == COMPLETED
    code = next(a["text"] for name, a in artifacts(events).items() if name.endswith(".py"))
    tree = ast.parse(code)  # kept or not, what the agent sends parses
    names = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert "favourites" in names
    cost = statuses(events)[-1][2]["cost"]
    # The agent samples again when a body fails its checks: every sample went to the server.
    assert cost["calls"] and {(c["model"], c["usd"]) for c in cost["calls"]} == {(FLASH, 0.0)}
    assert cost["tokens_in"] > 0 and cost["tokens_out"] > 0
