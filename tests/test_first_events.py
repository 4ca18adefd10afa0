"""The first-event gate: heavy work waits while a new request has not answered yet."""

from __future__ import annotations

import asyncio
import time

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from agents.first_events import HOLD_S, FirstEventGate, FirstEventPriority, gate, not_a_stream


async def test_heavy_work_waits_until_new_requests_have_answered() -> None:
    requests = FirstEventGate()
    requests.opened()
    order: list[str] = []

    async def heavy() -> None:
        await requests.clear(max_wait_s=5)
        order.append("heavy")

    waiting = asyncio.create_task(heavy())
    await asyncio.sleep(0.01)
    assert order == []  # held back while the request has not answered
    order.append("answered")
    requests.answered()
    await waiting
    assert order == ["answered", "heavy"]


async def test_heavy_work_is_never_held_longer_than_the_cap() -> None:
    requests = FirstEventGate()
    requests.opened()  # a request that never answers
    started = time.perf_counter()
    await requests.clear(max_wait_s=0.05)
    assert 0.04 <= time.perf_counter() - started < 1.0
    assert requests.waiting == 1


async def test_with_no_new_request_heavy_work_goes_at_once() -> None:
    requests = FirstEventGate()
    started = time.perf_counter()
    await requests.clear(max_wait_s=5)
    assert time.perf_counter() - started < 0.01


async def test_a_request_waits_from_arrival_to_its_first_bytes() -> None:
    seen: list[int] = []
    release, both_seen = asyncio.Event(), asyncio.Event()

    async def stream(_: Request) -> StreamingResponse:
        seen.append(gate().waiting)  # counted while it has sent nothing

        async def body() -> object:
            yield b"first"
            seen.append(gate().waiting)  # answered once the first bytes are out
            both_seen.set()
            await release.wait()
            yield b"second"

        return StreamingResponse(body())

    app = FirstEventPriority(Starlette(routes=[Route("/", stream)]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        task = asyncio.create_task(client.get("/"))
        await asyncio.wait_for(both_seen.wait(), 10)
        release.set()
        response = await task
    assert response.text == "firstsecond"
    assert seen == [1, 0]
    assert gate().waiting == 0


async def test_a_stream_that_says_nothing_stops_counting_after_the_hold() -> None:
    silent = asyncio.Event()
    counted: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        counted.append(gate().waiting)
        await asyncio.sleep(HOLD_S + 0.05)  # sends nothing for longer than the hold
        counted.append(gate().waiting)
        silent.set()

    await FirstEventPriority(app)({"type": "http"}, _no_receive, _no_send)
    assert silent.is_set()
    assert counted == [1, 0]


async def test_a_request_found_not_to_be_a_stream_stops_counting_at_once() -> None:
    counted: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        counted.append(gate().waiting)
        not_a_stream(scope)  # what the request guard says of a blocking SendMessage
        counted.append(gate().waiting)
        await gate().clear(max_wait_s=5)  # its own work is not held back by itself

    await asyncio.wait_for(FirstEventPriority(app)({"type": "http"}, _no_receive, _no_send), 1)
    assert counted == [1, 0]


async def _no_receive() -> dict[str, object]:
    return {"type": "http.disconnect"}


async def _no_send(message: object) -> None:
    return None
