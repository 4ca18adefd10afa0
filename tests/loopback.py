"""What the model API stubs share: a Starlette app served on 127.0.0.1 in a thread, and a
queue of faults to answer with.

The real model APIs (Gemini, hosted OpenAI-compatible endpoints) are out of reach in tests,
so each stub speaks one API's wire format and is driven through that API's real client.
Every knob is a plain attribute or method, safe to change from the test's thread while the
server runs in its own.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Self

import uvicorn
from starlette.applications import Starlette

_PIECE = re.compile(r"\s*\S+\s*")
_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """The stubs' deterministic token count: words and punctuation marks."""
    return len(_TOKEN.findall(text))


def split_reply(text: str, chunks: int) -> list[str]:
    """``text`` in at most ``chunks`` pieces cut between words; the pieces join to ``text``."""
    words = _PIECE.findall(text)
    if chunks <= 1 or len(words) <= 1:
        return [text]
    count = min(chunks, len(words))
    size, extra = divmod(len(words), count)
    pieces: list[str] = []
    start = 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        pieces.append("".join(words[start:end]))
        start = end
    return pieces


@dataclass
class Fault:
    """A queued misbehaviour; ``times=None`` means on every matching request.

    ``after_chunks=n`` makes a streamed call send ``n`` good chunks (never the last one),
    then the error inside the stream (HTTP 200).
    """

    status: int
    times: int | None = 1
    model: str | None = None
    retry_after: str | None = None
    message: str | None = None
    after_chunks: int | None = None


class LoopbackServer:
    """A Starlette ``app`` on a free loopback port, with a fault queue."""

    name = "stub"

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- faults ----------------------------------------------------------------------------

    def fail_next(
        self,
        status: int = 429,
        *,
        times: int | None = 1,
        model: str | None = None,
        retry_after: str | float | None = None,
        message: str | None = None,
        after_chunks: int | None = None,
    ) -> None:
        """Answer the next ``times`` model calls (of ``model`` only, if given) with an error.

        ``times=None`` keeps failing until ``clear_faults()``; ``retry_after`` sets the
        ``Retry-After`` header (and whatever the API adds for it).
        """
        fault = Fault(
            status=status,
            times=times,
            model=model,
            retry_after=None if retry_after is None else str(retry_after),
            message=message,
            after_chunks=after_chunks,
        )
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, model: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.model is not None and fault.model != model:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit it: without it every keep-alive answer waits ~40 ms on
        # Nagle's algorithm and the client's delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            loop="asyncio",
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._stopping.clear()
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=self.name, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise RuntimeError(f"{type(self).__name__} failed to start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _sleep(self, seconds: float) -> None:
        """Sleep, cut short when the stub stops so shutdown never waits on a slow answer."""
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, 0.05))
