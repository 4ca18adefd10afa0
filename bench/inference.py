"""Local generation against the machine's limits, for ``make bench``: tokens/s for one stream
and for 4 and 8 at once, first-token latency, the weights each token reads, and the memory
bandwidth a plain copy reaches, so the achieved rate can be set against the possible one.

One stream decoding greedily reads every weight once per token; if reading were the limit,
tokens/s could reach bandwidth / weight bytes. The ratio says how close it gets (on two
cores the 4-bit model is bound by arithmetic first: ``docs/benchmarks.md``).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from inference.generation import GenerationRequest
from inference.local import LocalModel

__all__ = ["InferenceFigures", "inference_figures", "print_inference"]

NEW_TOKENS = 128
CONCURRENCY = (1, 4, 8)
SPEEDUP_TARGET = 2.0  # single-stream tokens/s against the float32 transformers path
_COPY_BYTES = 256 * 2**20
PROMPT = "Write a Python function that checks whether a string is a palindrome, with a docstring."


@dataclass(frozen=True, slots=True)
class Concurrent:
    streams: int
    aggregate_tokens_per_s: float
    first_token_p50_s: float
    first_token_p95_s: float


@dataclass(frozen=True, slots=True)
class InferenceFigures:
    single_tokens_per_s: float
    reference_tokens_per_s: float  # the GGUF de-quantized to float32 by transformers
    concurrent: list[Concurrent]
    weight_bytes_per_token: int
    bandwidth_bytes_per_s: float

    @property
    def possible_tokens_per_s(self) -> float:
        return self.bandwidth_bytes_per_s / self.weight_bytes_per_token

    @property
    def achieved_ratio(self) -> float:
        return self.single_tokens_per_s / self.possible_tokens_per_s


def copy_bandwidth() -> float:
    """Bytes per second a large array copy moves (read plus write), best of five."""
    source = np.ones(_COPY_BYTES // 8)
    target = np.empty_like(source)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        np.copyto(target, source)
        best = min(best, time.perf_counter() - started)
    return 2 * _COPY_BYTES / best


def _request() -> GenerationRequest:
    return GenerationRequest.chat(
        "You are a concise senior engineer.", PROMPT, max_tokens=NEW_TOKENS, temperature=0.0
    )


async def _one(model: LocalModel) -> tuple[int, float, float]:
    """(tokens out, seconds to the first text, seconds in all) of one greedy stream."""
    started = time.perf_counter()
    first = None
    tokens = 0
    async for chunk in model.stream(_request()):
        if chunk.text and first is None:
            first = time.perf_counter() - started
        if chunk.usage is not None:
            tokens = chunk.usage.tokens_out
    return tokens, first or 0.0, time.perf_counter() - started


async def _concurrent(model: LocalModel, streams: int) -> Concurrent:
    started = time.perf_counter()
    results = await asyncio.gather(*(_one(model) for _ in range(streams)))
    wall = time.perf_counter() - started
    firsts = sorted(first for _, first, _ in results)
    p95 = firsts[min(len(firsts) - 1, int(0.95 * len(firsts)))]
    return Concurrent(streams, sum(t for t, _, _ in results) / wall, statistics.median(firsts), p95)


def reference_tokens_per_second(gguf: Path) -> float:
    """The path this project ran before: transformers de-quantizes the GGUF to float32 and
    generates with the same prompt, greedily (same repetition penalty)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # transformers' annotations are too loose for mypy to follow: held as Any.
    model: Any = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.eval()
    inputs: Any = tokenizer.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in _request().messages],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    rates = []
    for _ in range(2):
        started = time.perf_counter()
        with torch.inference_mode():
            output = model.generate(
                **inputs, max_new_tokens=NEW_TOKENS, do_sample=False, repetition_penalty=1.15
            )
        produced = output.shape[1] - inputs["input_ids"].shape[1]
        rates.append(produced / (time.perf_counter() - started))
    return float(max(rates))


async def inference_figures(models_dir: Path) -> InferenceFigures:
    model = LocalModel(models_dir, max_new_tokens=NEW_TOKENS)
    await asyncio.to_thread(model.load)
    try:
        await _one(model)  # warm: the first call pays for allocating the context
        singles = [await _one(model) for _ in range(3)]
        single = statistics.median(t / seconds for t, _, seconds in singles)
        concurrent = [await _concurrent(model, n) for n in CONCURRENCY]
    finally:
        model.close()
    gguf = model.spec.locate(models_dir)
    reference = await asyncio.to_thread(reference_tokens_per_second, gguf)
    bandwidth = await asyncio.to_thread(copy_bandwidth)
    return InferenceFigures(single, reference, concurrent, gguf.stat().st_size, bandwidth)


def print_inference(figures: InferenceFigures, console: Console) -> list[tuple[str, bool]]:
    table = Table(title="Local generation (SmolLM2-135M Q4_1 through llama.cpp, greedy)")
    for column in ("measure", "figure"):
        table.add_column(column, justify="right")
    single, reference = figures.single_tokens_per_s, figures.reference_tokens_per_s
    table.add_row("tokens/s, one stream", f"{single:.1f}")
    table.add_row("  the float32 transformers path, same prompt", f"{reference:.1f}")
    for row in figures.concurrent:
        table.add_row(
            f"{row.streams} at once: tokens/s in all, first token p50 / p95 (s)",
            f"{row.aggregate_tokens_per_s:.1f}, {row.first_token_p50_s:.2f} / "
            f"{row.first_token_p95_s:.2f}",
        )
    table.add_row("weights read per token (MB)", f"{figures.weight_bytes_per_token / 1e6:.0f}")
    table.add_row(
        "memory bandwidth, array copy (GB/s)", f"{figures.bandwidth_bytes_per_s / 1e9:.1f}"
    )
    table.add_row(
        "tokens/s if reading weights were the limit", f"{figures.possible_tokens_per_s:.0f}"
    )
    table.add_row("achieved / possible", f"{figures.achieved_ratio:.0%}")
    console.print(table)
    eight = next(row for row in figures.concurrent if row.streams == 8)
    return [
        (
            f"one stream at least {SPEEDUP_TARGET:.0f}x the float32 path "
            f"({single / reference:.1f}x)",
            single >= SPEEDUP_TARGET * reference,
        ),
        (
            "8 at once at least 4x one stream in all "
            f"({eight.aggregate_tokens_per_s / single:.1f}x)",
            eight.aggregate_tokens_per_s >= 4 * single,
        ),
        (
            f"first token p95 under 1 s at 8 at once ({eight.first_token_p95_s:.1f} s)",
            eight.first_token_p95_s < 1.0,
        ),
    ]
