"""Running untrusted Python (a model's candidate, a generated test file) out of harm's way.

A fresh interpreter in isolated mode (``-I``: no user site, no PYTHON* variables, no
current directory on the path), in a temporary directory that holds only the given files,
with an empty environment, CPU and memory limits set in the child before anything runs,
and a wall-clock timeout. Nothing here needs the network; the limits do not forbid it.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SandboxResult", "run_sandboxed"]

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_MEMORY_MB = 1024
_OUTPUT_LIMIT = 4000

# Runs first in the child: limits, the import path, then the code (given on stdin).
_BOOTSTRAP = """
import resource, sys
cpu, memory = int(sys.argv[1]), int(sys.argv[2]) * 1024 * 1024
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_FSIZE, (10_000_000, 10_000_000))
sys.path[:0] = sys.argv[3:]
sys.argv = ["sandbox"]
exec(compile(sys.stdin.read(), "<sandbox>", "exec"), {"__name__": "__main__"})
"""


@dataclass(frozen=True, slots=True)
class SandboxResult:
    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    @property
    def reason(self) -> str:
        """The last line of the error output: what a user reads as why it failed."""
        if self.timed_out:
            return "timed out"
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1].strip() if lines else f"exit status {self.returncode}"


async def run_sandboxed(
    files: Mapping[str, str],
    code: str,
    *,
    path: Sequence[str] = ("",),
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> SandboxResult:
    """Run ``code`` in a temporary directory holding ``files`` (relative path -> text).

    ``path`` lists directories (relative to that one) put first on ``sys.path``."""
    with tempfile.TemporaryDirectory(prefix="sandbox-") as root:
        _write_files(root, files)
        entries = [str(Path(root, entry)) for entry in path]
        cpu = max(1, int(timeout_s) + 1)
        return await _run(root, [str(cpu), str(memory_mb), *entries], code, timeout_s)


def _write_files(root: str, files: Mapping[str, str]) -> None:
    """A few small files on a local disk: quick enough to write from the event loop."""
    for name, text in files.items():
        target = Path(root, name)
        if not target.resolve().is_relative_to(Path(root).resolve()):
            raise ValueError(f"file {name!r} is outside the sandbox")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


async def _run(root: str, arguments: list[str], code: str, timeout_s: float) -> SandboxResult:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-I",
        "-c",
        _BOOTSTRAP,
        *arguments,
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "HOME": root, "PYTHONHASHSEED": "0"},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(code.encode()), timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        return SandboxResult(None, "", "")
    return SandboxResult(
        process.returncode,
        stdout.decode(errors="replace")[-_OUTPUT_LIMIT:],
        stderr.decode(errors="replace")[-_OUTPUT_LIMIT:],
    )
