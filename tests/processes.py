"""A youmeyou server in a process of its own, to stop, kill and start again as an operator would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from support import free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ServerProcess:
    """``youmeyou serve`` on a data dir; ``start`` again after a stop serves the same data."""

    data_dir: Path
    settings: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "YMY_DATA_DIR": str(self.data_dir),
            "YMY_PORT": str(self.port),
            "YMY_CACHE_ENABLED": "false",
            "YMY_LOG_LEVEL": "INFO",
            **self.settings,
        }

    def start(self, timeout_s: float = 240) -> None:
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - it lives as long as the process
        command = [sys.executable, "-m", "youmeyou.cli", "serve"]
        self.proc = subprocess.Popen(
            command, env=self.env(), stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log()}")
            try:
                health = httpx.get(f"{self.url}/health", timeout=1)
                if health.status_code == 200 and not health.json()["warming"]:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"the server did not become ready:\n{self.log()}")

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def wait(self, timeout_s: float = 60) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout_s)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def log(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")
