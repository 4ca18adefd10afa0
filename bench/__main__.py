"""``make bench``: every section, or those named (``python -m bench streaming routing``).

Each section measures one part and says which of its targets it met; ``docs/benchmarks.md``
describes them and keeps their history.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from agents.code import TEMPERATURES
from bench.caching import SEMANTIC_P95_TARGET_MS, cache_figures
from bench.calibration import HELD_OUT, RECALL_TARGET, cache_curve
from bench.design import DESIGN_TARGET_MS, design_figures
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
from bench.servers import DATA_DIR, serve, serve_env
from bench.streaming import streaming_figures
from inference.embeddings import Embedder
from inference.models import LOCAL_MODELS
from orchestrator.agent_model import load_examples
from orchestrator.routing import Router
from youmeyou.settings import Settings

console = Console(width=120)  # the tables are wider than a default terminal


Verdicts = list[tuple[str, bool]]


async def _streaming() -> Verdicts:
    return await streaming_figures(console)


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
    p50, p95 = design_figures()
    console.print(f"A system design from a new request: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    verdicts.append((f"a design's p95 under {DESIGN_TARGET_MS:.0f} ms", p95 < DESIGN_TARGET_MS))
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
    env = serve_env("ymy-cache-bench-", YMY_CACHE_ENABLED="true", YMY_LOCAL_MAX_NEW_TOKENS="32")
    console.print("Replaying the cache workload (200 requests)...")
    with serve(env) as served:
        return _print_cache(await cache_figures(served.url))


async def _gateway() -> Verdicts:
    return _print_gateway(await gateway_figures(DATA_DIR / "models"))


async def _inference() -> Verdicts:
    console.print("Generating with the local model: 1 stream, then 1, 4 and 8 at once...")
    return print_inference(await inference_figures(DATA_DIR / "models"), console)


async def _memory() -> Verdicts:
    return _print_memory(await memory_figures(DATA_DIR / "models"))


async def _quality() -> Verdicts:
    # Every answer computed (no cache), at a realistic generation length.
    env = serve_env(
        "ymy-quality-bench-",
        YMY_CACHE_ENABLED="false",
        YMY_LOCAL_MAX_NEW_TOKENS=QUALITY_MAX_NEW_TOKENS,
    )
    console.print("Sending the quality cases (tuning and hold-out), one at a time...")
    with serve(env) as served:
        return print_quality(await measure(served.url, console), console)


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
