"""``make bench``: streaming latency and throughput against a bare a2a-sdk server, and routing.

Both servers run as their own processes on loopback; this process is the client. The
youmeyou request routes to the validator (no model generation), so the figures measure
the server's own path: the orchestrator, A2A delegation to a specialist, and the relay.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from agents.code import TEMPERATURES
from bench.caching import SEMANTIC_P95_TARGET_MS, cache_figures
from bench.calibration import HELD_OUT, RECALL_TARGET, cache_curve
from bench.gateway import (
    LOAD_TARGET_S,
    OVERHEAD_TARGET_MS,
    TOKENS_RATIO_TARGET,
    gateway_figures,
)
from bench.inference import inference_figures, print_inference
from bench.memory import CONTEXT_TARGET_MS, ROUTING_TARGET_MS, memory_figures
from bench.models import measure_model, print_model_figures
from bench.quality import QUALITY_MAX_NEW_TOKENS, measure, print_quality
from bench.routing import ROUTE_TARGET_MS, card_registry, routing_figures
from bench.routing_accuracy import (
    TOP1_TARGET,
    labelled,
    print_cache_curve,
    print_routing_accuracy,
)
from bench.routing_accuracy import measure as measure_routing
from bench.wire import streaming_message
from inference.embeddings import Embedder
from inference.models import LOCAL_MODELS
from orchestrator.agent_model import load_examples
from orchestrator.routing import Router
from youmeyou.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
console = Console(width=120)  # the tables are wider than a default terminal

LEVELS = (1, 10, 100)
ROUNDS = 5
STREAMS_PER_ROUND = {1: 40, 10: 100, 100: 200}
YOUMEYOU_QUERY = 'Check this JSON: {"order": 42, "items": [1, 2, 3]}'
TTFE_TARGET_RATIO = 1.25


def _fresh_data_dir(models: Path, prefix: str) -> str:
    """An empty data dir sharing the converted models: every run starts from the same state
    (memory, tasks and caches left by an earlier run would slow this one down)."""
    models.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=prefix))
    (fresh / "models").symlink_to(models.resolve(), target_is_directory=True)
    return str(fresh)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _process(args: list[str], port: int, env: dict[str, str], ready: str) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            _wait_ready(proc, log, url + ready, args[0])
            yield url
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
    failures: Counter[str] = field(default_factory=Counter)

    def figures(self) -> dict[str, float]:
        firsts = sorted(self.firsts)
        return {
            "p50": statistics.median(firsts) * 1000,
            "p95": firsts[int(0.95 * (len(firsts) - 1))] * 1000,
            "events_per_s": self.events / self.wall_s,
            "failed": sum(self.failures.values()),
        }


async def _round(url: str, text: str, concurrency: int, into: _Samples) -> None:
    limits = httpx.Limits(max_connections=concurrency + 10)
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=300, limits=limits) as http:
        await _one_stream(http, url, text)  # warm the connection and the path

        async def bounded() -> tuple[float, int, str]:
            async with semaphore:
                return await _one_stream(http, url, text)

        started = time.perf_counter()
        results = await asyncio.gather(*(bounded() for _ in range(STREAMS_PER_ROUND[concurrency])))
        into.wall_s += time.perf_counter() - started
    into.firsts += [first for first, _, _ in results]
    into.events += sum(events for _, events, _ in results)
    into.failures.update(failure for _, _, failure in results if failure)


async def _compare(servers: dict[str, tuple[str, str]], concurrency: int) -> dict[str, _Samples]:
    """Each server's figures at ``concurrency``, from rounds that alternate between them.

    On a shared 2-core machine the speed drifts over seconds; alternating short rounds
    exposes both servers to the same drift, so their ratio is steadier than one long run each.
    """
    pooled = {name: _Samples() for name in servers}
    for _ in range(ROUNDS):
        for name, (url, text) in servers.items():
            await _round(url, text, concurrency, pooled[name])
    return pooled


Verdicts = list[tuple[str, bool]]
DATA_DIR = ROOT / "var" / "bench"
# Both servers run the SDK with its OpenTelemetry spans off, as youmeyou does by default,
# so the comparison measures what youmeyou adds, not a tracing difference.
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "OTEL_INSTRUMENTATION_A2A_SDK_ENABLED": "false",
}


def _serve_env(prefix: str, **settings: str) -> dict[str, str]:
    """A youmeyou server's environment: a fresh data dir, a free port, quiet logs."""
    return {
        **ENV,
        "YMY_DATA_DIR": _fresh_data_dir(DATA_DIR / "models", prefix),
        "YMY_PORT": str(_free_port()),
        "YMY_LOG_LEVEL": "WARNING",
        **settings,
    }


def _serve(env: dict[str, str]) -> AbstractContextManager[str]:
    command = [sys.executable, "-m", "youmeyou.cli", "serve"]
    return _process(command, int(env["YMY_PORT"]), env, "/health")


async def _streaming() -> Verdicts:
    # The figures are of the computed path: the bench repeats one request, which the
    # answer cache would serve. The cache has its own figures.
    ours_env = _serve_env("ymy-bench-", YMY_CACHE_ENABLED="false")
    bare_port = _free_port()
    bare_command = [sys.executable, "-m", "bench.bare_server", "--port", str(bare_port)]
    console.print("Starting youmeyou and the bare a2a-sdk reference server...")
    with (
        _serve(ours_env) as ours,
        _process(bare_command, bare_port, ENV, "/.well-known/agent-card.json") as bare,
    ):
        table = Table(
            title=f"Streaming: time to first event (ms) and events/s, {ROUNDS} alternating rounds"
        )
        for column in (
            "concurrent",
            "server",
            "TTFE p50",
            "TTFE p95",
            "events/s",
            "failed",
            "p50 ratio",
            "p95 ratio",
        ):
            table.add_column(column, justify="right")
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
                    str(int(row["failed"])),
                    *ratios,
                )
            verdicts.append(
                (
                    f"TTFE p50 at {level} within {TTFE_TARGET_RATIO}x of bare",
                    r50 <= TTFE_TARGET_RATIO,
                )
            )
        console.print(table)
        for failure in failures:  # why, so that a rare failure can be followed up
            console.print(f"[red]failed[/]: {failure}")
    return verdicts


async def _routing() -> Verdicts:
    routing = routing_figures()
    table = Table(title="Routing decision, warm (ms)")
    for column in ("registry", "p50", "p95", "target p95"):
        table.add_column(column, justify="right")
    verdicts = []
    for name, (p50, p95) in routing.items():
        table.add_row(name, f"{p50:.1f}", f"{p95:.1f}", f"< {ROUTE_TARGET_MS[name]:.0f}")
        verdicts.append(
            (
                f"routing p95 with {name} under {ROUTE_TARGET_MS[name]:.0f} ms",
                p95 < ROUTE_TARGET_MS[name],
            )
        )
    console.print(table)
    return verdicts


async def _accuracy() -> Verdicts:
    """Routing, teams and the cache's guard on requests nobody tuned them on."""
    embedder = Embedder()
    router = Router(card_registry(), embedder, examples=load_examples())
    accuracy = measure_routing(router, labelled("dev"))
    print_routing_accuracy(accuracy, console)
    threshold = Settings().cache_semantic_threshold
    verdicts = [
        (
            f"routing top-1 on the dev split at least {TOP1_TARGET:.2f}",
            accuracy.top1 >= TOP1_TARGET,
        ),
        ("small talk in the dev split is not placed", accuracy.small_talk_unplaced == 1.0),
    ]
    for split in ("tuning", *HELD_OUT):
        points = cache_curve(embedder, split)
        print_cache_curve(points, split, threshold, console)
        at = next(p for p in points if abs(p.threshold - threshold) < 1e-9)
        if split in HELD_OUT:
            verdicts += [
                (
                    f"{split}: paraphrases served at least {RECALL_TARGET:.0%}",
                    at.recall >= RECALL_TARGET,
                ),
                (f"{split}: no near miss served", at.false_hits == 0),
            ]
    return verdicts


async def _cache() -> Verdicts:
    env = _serve_env("ymy-cache-bench-", YMY_CACHE_ENABLED="true", YMY_LOCAL_MAX_NEW_TOKENS="32")
    console.print("Replaying the cache workload (200 requests)...")
    with _serve(env) as url:
        return _print_cache(await cache_figures(url))


async def _gateway() -> Verdicts:
    return _print_gateway(await gateway_figures(DATA_DIR / "models"))


async def _inference() -> Verdicts:
    console.print("Generating with the local model: 1 stream, then 1, 4 and 8 at once...")
    return print_inference(await inference_figures(DATA_DIR / "models"), console)


async def _memory() -> Verdicts:
    return _print_memory(await memory_figures(DATA_DIR / "models"))


async def _quality() -> Verdicts:
    # Every answer computed (no cache), at a realistic generation length.
    env = _serve_env(
        "ymy-quality-bench-",
        YMY_CACHE_ENABLED="false",
        YMY_LOCAL_MAX_NEW_TOKENS=QUALITY_MAX_NEW_TOKENS,
    )
    console.print("Sending the quality cases (tuning and hold-out), one at a time...")
    with _serve(env) as url:
        return print_quality(await measure(url, console), console)


async def _models() -> Verdicts:
    # Minutes per model: run on demand (`python -m bench models`), not in every bench run.
    figures = [
        await measure_model(key, Settings().models_dir, len(TEMPERATURES), console)
        for key in LOCAL_MODELS
    ]
    print_model_figures(figures, console)
    return []


SECTIONS: dict[str, Callable[[], Awaitable[Verdicts]]] = {
    "accuracy": _accuracy,
    "streaming": _streaming,
    "routing": _routing,
    "cache": _cache,
    "gateway": _gateway,
    "inference": _inference,
    "memory": _memory,
    "quality": _quality,
    "models": _models,
}
ON_DEMAND = frozenset({"models"})


async def _main(sections: list[str]) -> int:
    """Run the named sections (all by default): ``python -m bench streaming routing``."""
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        console.print(f"unknown section {unknown[0]!r}; choose from {', '.join(SECTIONS)}")
        return 2
    verdicts: Verdicts = []
    for section in sections or [s for s in SECTIONS if s not in ON_DEMAND]:
        verdicts += await SECTIONS[section]()
    for text, ok in verdicts:
        console.print(f"[{'green' if ok else 'red'}]{'met' if ok else 'missed'}[/]: {text}")
    return 0


def _print_cache(figures: dict[str, Any]) -> Verdicts:
    table = Table(
        title=f"Answer cache: {figures['requests']} requests, 60% repeats and paraphrases"
    )
    for column in ("level", "hits", "misses", "hit rate"):
        table.add_column(column, justify="right")
    for level, counts in figures["levels"].items():
        total = counts["hits"] + counts["misses"]
        rate = f"{counts['hits'] / total:.0%}" if total else "-"
        table.add_row(level, str(counts["hits"]), str(counts["misses"]), rate)
    console.print(table)
    latency = Table(title="Time to the completed event (ms)")
    for column in ("served by", "requests", "p50", "p95"):
        latency.add_column(column, justify="right")
    for level, (p50, p95, count) in figures["latency_ms"].items():
        latency.add_row(level, str(count), f"{p50:.1f}", f"{p95:.1f}")
    console.print(latency)
    console.print(
        f"repeats served: {figures['repeat_hit_rate']:.0%}, paraphrases served: "
        f"{figures['paraphrase_hit_rate']:.0%}, tokens saved: {figures['saved_tokens']}, "
        f"failed: {figures['failed']}"
    )
    semantic_p95 = figures["latency_ms"]["semantic"][1]
    false_hits = figures["false_hits_workload"] + figures["false_hits_near_misses"]
    return [
        ("no false cache hits (workload and near-miss set)", false_hits == 0),
        (
            f"semantic hit p95 under {SEMANTIC_P95_TARGET_MS:.0f} ms",
            semantic_p95 < SEMANTIC_P95_TARGET_MS,
        ),
    ]


def _print_gateway(figures: dict[str, Any]) -> Verdicts:
    table = Table(title="LLM gateway")
    for column in ("measure", "figure", "target"):
        table.add_column(column, justify="right")
    bare, through = figures["bare_tokens_per_s"], figures["gateway_tokens_per_s"]
    ratio = through / bare
    table.add_row("local tokens/s, bare llama.cpp", f"{bare:.1f}", "")
    table.add_row(
        "local tokens/s, streamed through the gateway",
        f"{through:.1f} ({ratio:.2f}x)",
        f">= {TOKENS_RATIO_TARGET}x",
    )
    p50, p95 = figures["overhead_ms"]
    table.add_row("gateway overhead per call p50 / p95 (ms)", f"{p50:.3f} / {p95:.3f}", "< 2 p95")
    a50, a95 = figures["overhead_with_assessment_ms"]
    table.add_row("  ... assessing complexity, embedding cached", f"{a50:.3f} / {a95:.3f}", "")
    n50, n95 = figures["assessment_of_a_new_query_ms"]
    table.add_row("complexity of a new query p50 / p95 (ms)", f"{n50:.2f} / {n95:.2f}", "")
    load = figures["second_start_load_s"]
    table.add_row("local model load on a second start (s)", f"{load:.2f}", f"< {LOAD_TARGET_S}")
    console.print(table)
    return [
        (f"local tokens/s through the gateway >= {TOKENS_RATIO_TARGET}x bare", ratio >= 0.9),
        (f"gateway overhead p95 under {OVERHEAD_TARGET_MS} ms", p95 < OVERHEAD_TARGET_MS),
        (f"second-start model load under {LOAD_TARGET_S} s", load < LOAD_TARGET_S),
    ]


def _print_memory(figures: dict[str, Any]) -> Verdicts:
    table = Table(title=f"Memory ({figures['interactions']:,} stored interactions)")
    for column in ("measure", "p50 (ms)", "p95 (ms)", "target p95"):
        table.add_column(column, justify="right")
    c50, c95 = figures["context_ms"]
    parts = figures["context_parts"]
    table.add_row(
        f"context: profile + {parts['conversation']} turns + {parts['examples']} past "
        f"interactions + {parts['knowledge']} knowledge hits ({parts['tokens']} tokens)",
        f"{c50:.1f}",
        f"{c95:.1f}",
        f"< {CONTEXT_TARGET_MS:.0f}",
    )
    r50, r95 = figures["routing_with_history_ms"]
    table.add_row(
        "routing with the user's history", f"{r50:.1f}", f"{r95:.1f}", f"< {ROUTING_TARGET_MS:.0f}"
    )
    console.print(table)
    return [
        (f"context building p95 under {CONTEXT_TARGET_MS:.0f} ms", c95 < CONTEXT_TARGET_MS),
        (f"routing with history p95 under {ROUTING_TARGET_MS:.0f} ms", r95 < ROUTING_TARGET_MS),
    ]


if __name__ == "__main__":
    raise SystemExit(asyncio.run(_main(sys.argv[1:])))
