"""The servers ``make bench`` measures, each in a process of its own on loopback.

A ``Served`` process says where it listens and how much CPU it has used, so a section can
put the server's own work per request beside its latency.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

__all__ = ["DATA_DIR", "ENV", "ROOT", "Served", "free_port", "process", "serve", "serve_env"]

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "var" / "bench"
# Both servers run the SDK with its OpenTelemetry spans off, as youmeyou does by default,
# so the comparison measures what youmeyou adds, not a tracing difference.
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "OTEL_INSTRUMENTATION_A2A_SDK_ENABLED": "false",
}


@dataclass(frozen=True, slots=True)
class Served:
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """User and system CPU the server process has used so far, all its threads."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fresh_data_dir(models: Path, prefix: str) -> str:
    """An empty data dir sharing the models folder: every run starts from the same state
    (memory, tasks and caches left by an earlier run would slow this one down)."""
    models.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=prefix))
    (fresh / "models").symlink_to(models.resolve(), target_is_directory=True)
    return str(fresh)


def serve_env(prefix: str, **settings: str) -> dict[str, str]:
    """A youmeyou server's environment: a fresh data dir, a free port, quiet logs."""
    return {
        **ENV,
        "YMY_DATA_DIR": _fresh_data_dir(DATA_DIR / "models", prefix),
        "YMY_PORT": str(free_port()),
        "YMY_LOG_LEVEL": "WARNING",
        **settings,
    }


def serve(env: dict[str, str]) -> AbstractContextManager[Served]:
    command = [sys.executable, "-m", "youmeyou.cli", "serve"]
    return process(command, int(env["YMY_PORT"]), env, "/health")


@contextmanager
def process(args: list[str], port: int, env: dict[str, str], ready: str) -> Iterator[Served]:
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            _wait_ready(proc, log, url + ready, args[0])
            yield Served(url, proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)


def _wait_ready(proc: subprocess.Popen[bytes], log: Any, ready_url: str, name: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"{name} exited:\n{log.read().decode()[-2000:]}")
        try:
            response = httpx.get(ready_url, timeout=1)
            if response.status_code == 200 and "loading" not in response.text:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{name} did not become ready")
