"""Serving an app over HTTP: a stop that lets tasks finish, and connections kept in bounds.

uvicorn stops by closing its sockets, waiting for open connections, and only then telling
the app (the lifespan's shutdown). Tasks run detached from connections, so the app is told
at the start instead (``GracefulServer``): running tasks get the grace period to finish,
those left are interrupted with a last event, and uvicorn's own wait outlasts all of that.

uvicorn limits neither how long a client may take to send its headers (a connection that
sends nothing is held for ever) nor, with httptools, their size; ``GuardedHttpProtocol``
does both.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import uvicorn
from sse_starlette.sse import AppStatus
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from agents.kit import INTERRUPTED_BY_STOP, RunningTasks

__all__ = ["GracefulServer", "GuardedHttpProtocol", "Stopping"]

logger = logging.getLogger(__name__)

# After the grace period: time for interrupted tasks to send their last event, and then
# for their streams to reach the clients, before uvicorn cancels what is still open.
_INTERRUPT_S = 5.0
_SETTLE_S = 0.5


class Stopping:
    """A server's stop: running tasks get ``grace_s`` to finish, then are interrupted."""

    def __init__(self, running: RunningTasks, grace_s: float) -> None:
        self.running = running
        self.grace_s = grace_s
        self._stop: asyncio.Task[None] | None = None

    @property
    def begun(self) -> bool:
        return self._stop is not None

    @property
    def connection_wait_s(self) -> float:
        """How long the HTTP server should wait for open connections once a stop begins."""
        return self.grace_s + 2 * _INTERRUPT_S

    def begin(self) -> None:
        """Start the stop (once); new work is refused by the HTTP server meanwhile."""
        if self._stop is None:
            self._stop = asyncio.get_running_loop().create_task(self._run(), name="stopping")

    async def finished(self) -> None:
        """Begin the stop if nothing has, and wait until no task runs."""
        self.begin()
        assert self._stop is not None
        await self._stop

    async def _run(self) -> None:
        if self.running and not await self.running.wait_idle(self.grace_s):
            await self.running.interrupt(INTERRUPTED_BY_STOP, timeout_s=_INTERRUPT_S)
            # The SDK stores a task's events after the executor has sent them: let it
            # store the last ones before the stores are flushed and closed.
            await asyncio.sleep(_SETTLE_S)


class GracefulServer(uvicorn.Server):
    """uvicorn's server, telling ``stopping`` as soon as a stop begins.

    sse-starlette ends every open stream the moment uvicorn is told to stop (a client sees
    a truncated response); here its streams end when their tasks do, and the rest once
    ``stopping`` is over. It is one server per process, so the switch is process-wide.
    """

    def __init__(self, config: uvicorn.Config, stopping: Stopping) -> None:
        super().__init__(config)
        self._stopping = stopping
        AppStatus.disable_automatic_graceful_drain()  # type: ignore[no-untyped-call]

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._stopping.begin()
        if self._stopping.running:
            logger.info(
                "stopping: %d task(s) running, %.0f s to finish",
                len(self._stopping.running),
                self._stopping.grace_s,
            )
        ending = asyncio.create_task(self._end_streams())
        await super().shutdown(sockets)
        await ending

    async def _end_streams(self) -> None:
        await self._stopping.finished()
        AppStatus.should_exit = True  # streams of no running task (none should be left)


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a size and a time limit on a request's headers.

    The time runs from the connection's opening, or from the first byte of a request
    after the first, to the end of its headers; the keep-alive timeout covers the gaps.
    """

    max_header_bytes = 16_384
    header_timeout_s = 15.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_bytes = 0
        self._tail = b""  # the last bytes read, where a blank line may have begun
        self._reading_headers = True
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading_headers:
            # Only the bytes up to the blank line count: a body may follow in the same read.
            seen = self._tail + data
            end = seen.find(b"\r\n\r\n")
            self._header_bytes += len(data) if end < 0 else max(0, end - len(self._tail))
            self._tail = seen[-3:]
            if self._header_bytes > self.max_header_bytes:
                self._refuse(431, "Request Header Fields Too Large")
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:  # a request after the first: its headers' time starts
            self._start_header_timer()

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._header_bytes, self._tail = 0, b""
        self._stop_header_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_headers = True  # whatever comes next is the next request's headers
        self._header_bytes, self._tail = 0, b""

    def _start_header_timer(self) -> None:
        self._stop_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._reading_headers and not self.transport.is_closing():
            self._refuse(408, "Request Timeout")

    def _refuse(self, status: int, reason: str) -> None:
        self._stop_header_timer()
        body = f"{reason}\n".encode()
        self.transport.write(
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
            + body
        )
        self.transport.close()


def guarded_protocol(max_header_bytes: int, header_timeout_s: float) -> type[HttpToolsProtocol]:
    """``GuardedHttpProtocol`` with these limits."""
    return type(
        "GuardedHttpProtocol",
        (GuardedHttpProtocol,),
        {"max_header_bytes": max_header_bytes, "header_timeout_s": header_timeout_s},
    )
