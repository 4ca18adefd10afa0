"""The deployment topology as ``make cluster`` runs it: two replicas behind nginx.

A client streams through the load balancer, another subscribes to the same task through
it, and the replica running the task is stopped (SIGTERM) mid-task: both streams must end
with the whole answer, and new requests meanwhile go to the other replica.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from a2a.types import StreamResponse
from processes import ROOT
from support import COMPLETED, free_port
from test_replicas import final_state, folded, run_on, subscribe
from test_restarts import USER

pytestmark = pytest.mark.skipif(
    shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
    reason="nginx is not installed (make install adds it as root: apt-get install nginx-light)",
)


def _ports_free(base: int) -> bool:
    return all(_free(port) for port in (base, base + 1, base + 2, base + 100))


def _free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def cluster(database: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    base = free_port()
    while not _ports_free(base) or base + 100 > 65535:
        base = free_port()
    env = {
        **os.environ,
        "YMY_CLUSTER_PORT": str(base),
        "YMY_CLUSTER_DIR": str(tmp_path / "cluster"),
        "YMY_TASK_STORE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}",
        "YMY_CACHE_ENABLED": "false",
        "HF_HUB_OFFLINE": "1",
    }
    script = subprocess.Popen(
        ["bash", str(ROOT / "deploy" / "cluster.sh")], env=env, cwd=ROOT, start_new_session=True
    )
    url = f"http://127.0.0.1:{base}"
    try:
        _wait_ready([f"http://127.0.0.1:{base + i}" for i in (1, 2)], script)
        yield url, tmp_path / "cluster"
    finally:
        script.send_signal(signal.SIGTERM)
        try:
            script.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(script.pid, signal.SIGKILL)


def _wait_ready(replicas: list[str], script: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 300
    waiting = set(replicas)
    while waiting and time.monotonic() < deadline:
        assert script.poll() is None, "the cluster script exited"
        for url in list(waiting):
            try:
                if not httpx.get(f"{url}/health", timeout=1).json()["warming"]:
                    waiting.discard(url)
            except (httpx.HTTPError, ValueError):
                pass
        time.sleep(0.5)
    assert not waiting, f"replicas not ready: {waiting}"


async def test_a_replica_stopped_mid_task_behind_the_load_balancer_loses_no_stream(
    cluster: tuple[str, Path],
) -> None:
    url, cluster_dir = cluster
    base = int(url.rsplit(":", 1)[1])
    watching: list[asyncio.Task[list[StreamResponse]]] = []
    stopped: list[int] = []
    during: list[int] = []

    async def subscribe_then_stop_its_replica(task_id: str) -> None:
        watching.append(asyncio.create_task(subscribe(url, task_id)))
        await asyncio.sleep(0.5)
        for index in (1, 2):
            async with httpx.AsyncClient(timeout=5) as http:
                health = (await http.get(f"http://127.0.0.1:{base + index}/health")).json()
            if health["running_tasks"]:
                pid = int((cluster_dir / f"replica-{index}.pid").read_text())
                os.kill(pid, signal.SIGTERM)  # a rolling deploy stops this replica
                stopped.append(index)
                break
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:  # new work meanwhile
            for _ in range(3):
                answer = await http.get("/health", headers={"X-User-Id": USER})
                during.append(answer.status_code)

    through_lb = await run_on(url, subscribe_then_stop_its_replica)
    subscribed = await asyncio.wait_for(watching[0], 120)

    assert stopped, "no replica was found running the task"
    assert during == [200, 200, 200]  # the load balancer sent them to the other replica
    assert final_state(through_lb) == COMPLETED
    assert final_state(subscribed) == COMPLETED
    code = [text for name, text in folded(through_lb).items() if name.endswith(".py")]
    assert code and "def " in code[0]
    assert folded(subscribed) == folded(through_lb)
