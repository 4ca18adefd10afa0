"""Streaming against a bare a2a-sdk server: time to first event, events/s, and the CPU
each server spends per stream, at 1, 10 and 100 streams at once.

Both servers run as their own processes on loopback; this process is the client. The
youmeyou request routes to the validator (no model generation), so the figures measure
the server's own path: the orchestrator, A2A delegation to a specialist, and the relay.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
from rich.console import Console
from rich.table import Table

from bench.servers import ENV, Served, free_port, process, serve, serve_env
from bench.wire import streaming_message

__all__ = ["CPU_TARGET_MS", "streaming_figures"]

Verdicts = list[tuple[str, bool]]
LEVELS = (1, 10, 100)
ROUNDS = 5
STREAMS_PER_ROUND = {1: 40, 10: 100, 100: 200}
YOUMEYOU_QUERY = 'Check this JSON: {"order": 42, "items": [1, 2, 3]}'
TTFE_TARGET_RATIO = 1.25
CPU_TARGET_MS = 20.0  # the server's CPU per orchestrated stream
EVENTS_TARGET_RATIO = 0.5  # youmeyou's events/s against the bare server's


async def _one_stream(http: httpx.AsyncClient, url: str, text: str) -> tuple[float, int, str]:
    body = streaming_message(text)
    started = time.perf_counter()
    first = 0.0
    events = 0
    last = ""
    async with http.stream(
        "POST",
        url + "/",
        json=body,
        # One user per stream: a server may cap the open streams of one user.
        headers={"A2A-Version": "1.0", "X-User-Id": f"bench-{uuid.uuid4().hex[:8]}"},
    ) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            if not events:
                first = time.perf_counter() - started
            events += 1
            last = line
    return first, events, _failure(last)


def _failure(last_event: str) -> str:
    """Why a stream did not complete, from its last event ('' when it completed)."""
    try:
        payload = json.loads(last_event[5:])
    except ValueError:
        return f"no final event ({last_event[:80]!r})"
    if "error" in payload:
        return f"error: {payload['error'].get('message', payload['error'])}"
    status = payload.get("result", {}).get("statusUpdate", {}).get("status", {})
    state = str(status.get("state", "no status"))
    if state == "TASK_STATE_COMPLETED":
        return ""
    words = " ".join(p.get("text", "") for p in status.get("message", {}).get("parts", []))
    return f"{state}: {words}".strip(": ")


@dataclass
class _Samples:
    """One server's streams at one concurrency, pooled over the rounds."""

    firsts: list[float] = field(default_factory=list)
    events: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0  # the server's CPU over the measured streams, all its threads
    failures: Counter[str] = field(default_factory=Counter)

    def figures(self) -> dict[str, float]:
        firsts = sorted(self.firsts)
        return {
            "p50": statistics.median(firsts) * 1000,
            "p95": firsts[int(0.95 * (len(firsts) - 1))] * 1000,
            "events_per_s": self.events / self.wall_s,
            "cpu_ms_per_stream": self.cpu_s * 1000 / len(firsts),
            "failed": sum(self.failures.values()),
        }


async def _round(server: Served, text: str, concurrency: int, into: _Samples) -> None:
    url = server.url
    limits = httpx.Limits(max_connections=concurrency + 10)
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=300, limits=limits) as http:
        await _one_stream(http, url, text)  # warm the connection and the path

        async def bounded() -> tuple[float, int, str]:
            async with semaphore:
                return await _one_stream(http, url, text)

        started, cpu = time.perf_counter(), server.cpu_seconds()
        results = await asyncio.gather(*(bounded() for _ in range(STREAMS_PER_ROUND[concurrency])))
        into.wall_s += time.perf_counter() - started
        into.cpu_s += server.cpu_seconds() - cpu
    into.firsts += [first for first, _, _ in results]
    into.events += sum(events for _, events, _ in results)
    into.failures.update(failure for _, _, failure in results if failure)


async def _compare(servers: dict[str, tuple[Served, str]], concurrency: int) -> dict[str, _Samples]:
    """Each server's figures at ``concurrency``, from rounds that alternate between them.

    On a shared 2-core machine the speed drifts over seconds; alternating short rounds
    exposes both servers to the same drift, so their ratio is steadier than one long run each.
    """
    pooled = {name: _Samples() for name in servers}
    for _ in range(ROUNDS):
        for name, (server, text) in servers.items():
            await _round(server, text, concurrency, pooled[name])
    return pooled


async def streaming_figures(console: Console) -> Verdicts:
    # The figures are of the computed path: the bench repeats one request, which the
    # answer cache would serve. The cache has its own figures.
    ours_env = serve_env("ymy-bench-", YMY_CACHE_ENABLED="false")
    bare_port = free_port()
    bare_command = [sys.executable, "-m", "bench.bare_server", "--port", str(bare_port)]
    console.print("Starting youmeyou and the bare a2a-sdk reference server...")
    with (
        serve(ours_env) as ours,
        process(bare_command, bare_port, ENV, "/.well-known/agent-card.json") as bare,
    ):
        table = _table()
        verdicts = []
        failures: list[str] = []
        for level in LEVELS:
            pooled = await _compare(
                {"bare": (bare, "hello"), "youmeyou": (ours, YOUMEYOU_QUERY)}, level
            )
            reference, measured = pooled["bare"].figures(), pooled["youmeyou"].figures()
            failures += [
                f"{count} x at {level} streams, {name}: {reason}"
                for name, samples in pooled.items()
                for reason, count in samples.failures.most_common()
            ]
            r50, r95 = measured["p50"] / reference["p50"], measured["p95"] / reference["p95"]
            for name, row in (("bare a2a-sdk", reference), ("youmeyou", measured)):
                ratios = ("", "") if row is reference else (f"{r50:.2f}x", f"{r95:.2f}x")
                table.add_row(
                    str(level),
                    name,
                    f"{row['p50']:.1f}",
                    f"{row['p95']:.1f}",
                    f"{row['events_per_s']:.0f}",
                    f"{row['cpu_ms_per_stream']:.1f}",
                    str(int(row["failed"])),
                    *ratios,
                )
            verdicts.append(
                (
                    f"TTFE p50 at {level} within {TTFE_TARGET_RATIO}x of bare",
                    r50 <= TTFE_TARGET_RATIO,
                )
            )
            verdicts += _work_verdicts(level, measured, reference)
        console.print(table)
        for failure in failures:  # why, so that a rare failure can be followed up
            console.print(f"[red]failed[/]: {failure}")
    return verdicts


def _work_verdicts(level: int, measured: dict[str, float], reference: dict[str, float]) -> Verdicts:
    """The server's own cost at 10 streams (CPU per stream, events/s against the bare)."""
    if level != 10:
        return []
    cpu = measured["cpu_ms_per_stream"]
    ratio = measured["events_per_s"] / reference["events_per_s"]
    return [
        (
            f"server CPU per stream at most {CPU_TARGET_MS:.0f} ms ({cpu:.0f} ms)",
            cpu <= CPU_TARGET_MS,
        ),
        (
            f"events/s at least {EVENTS_TARGET_RATIO}x the bare server's ({ratio:.2f}x)",
            ratio >= EVENTS_TARGET_RATIO,
        ),
    ]


def _table() -> Table:
    table = Table(
        title=f"Streaming: time to first event (ms) and events/s, {ROUNDS} alternating rounds"
    )
    for column in (
        "concurrent",
        "server",
        "TTFE p50",
        "TTFE p95",
        "events/s",
        "CPU ms / stream",
        "failed",
        "p50 ratio",
        "p95 ratio",
    ):
        table.add_column(column, justify="right")
    return table
