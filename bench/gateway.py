"""The gateway's figures for ``make bench``: local tokens/s, per-call overhead, model load.

- Local streaming through the gateway against a bare llama.cpp context on the same
  prompt, greedy, the same number of new tokens, in the same run.
- The gateway's own cost per call: a provider that answers at once stands in for Gemini,
  so what is timed is policy, access, quotas, breaker, pricing and the stream plumbing.
- The local model's load time in a fresh process (what a second server start pays).
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from inference.complexity import ComplexityAnalyzer
from inference.costs import Price, PriceTable
from inference.embeddings import Embedder
from inference.gateway import ModelGateway, Policy, Quotas
from inference.generation import GenerationRequest, StreamChunk, Usage
from inference.limits import InProcessLimiter
from inference.local import MODEL_NAME, LocalModel
from youmeyou.settings import DEFAULT_MODEL_POLICY, DEFAULT_PRICES

PROMPT = "Describe a REST API for a library: books, members and loans."
NEW_TOKENS = 96
RUNS = 3
OVERHEAD_CALLS = 2000
TOKENS_RATIO_TARGET = 0.9
OVERHEAD_TARGET_MS = 2.0
LOAD_TARGET_S = 5.0


class InstantProvider:
    """Answers at once with three chunks: what remains to time is the gateway itself."""

    name = "gemini"
    label = "Gemini"
    needs_key = True

    async def check_key(self, api_key: str, *, model: str) -> None:
        return None

    async def stream(
        self, request: GenerationRequest, *, model: str, api_key: str | None
    ) -> AsyncIterator[StreamChunk]:
        for piece in ("Three ", "short ", "chunks."):
            yield StreamChunk(piece)
        yield StreamChunk("", usage=Usage(model, 12, 3, provider=self.name))


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[int(fraction * (len(ordered) - 1))]


def _request() -> GenerationRequest:
    return GenerationRequest.chat(
        "You are a concise engineer.",
        PROMPT,
        max_tokens=NEW_TOKENS,
        temperature=0.0,
        complexity="simple",
        user_id="bench",
    )


def _bare_tokens_per_second(local: LocalModel) -> float:
    """The same prompt and greedy decoding, straight into a llama.cpp context of its own."""
    from llama_cpp import Llama

    bare = Llama(
        model_path=str(local.spec.locate(local.models_dir)),
        n_ctx=2048,
        n_threads=local.threads,
        verbose=False,
    )
    messages: Any = [{"role": m.role, "content": m.content} for m in _request().messages]
    rates = []
    for _ in range(RUNS):
        started = time.perf_counter()
        done: Any = bare.create_chat_completion(
            messages, max_tokens=NEW_TOKENS, temperature=0.0, repeat_penalty=1.15
        )
        rates.append(done["usage"]["completion_tokens"] / (time.perf_counter() - started))
    return float(statistics.median(rates))


async def _gateway_tokens_per_second(gateway: ModelGateway) -> float:
    rates = []
    for _ in range(RUNS):
        started = time.perf_counter()
        tokens_out = 0
        async for chunk in gateway.stream(_request()):
            if chunk.usage is not None:
                tokens_out = chunk.usage.tokens_out
        rates.append(tokens_out / (time.perf_counter() - started))
    return statistics.median(rates)


async def _overhead_ms(gateway: ModelGateway, complexity: Any) -> tuple[float, float]:
    timings = []
    for index in range(OVERHEAD_CALLS):
        # Planning goes to flash whatever the complexity, so the instant provider answers
        # even when the complexity is assessed rather than given.
        request = GenerationRequest.chat(
            "You are terse.",
            f"Design the orders API, variant {index % 50}",
            complexity=complexity,
            step="planning",
            user_id="enterprise-bench",
        )
        started = time.perf_counter()
        async for _ in gateway.stream(request):
            pass
        timings.append((time.perf_counter() - started) * 1000)
    warm = timings[100:]  # the first calls pay for imports and caches
    return statistics.median(warm), _percentile(warm, 0.95)


def _assessment_ms(analyzer: ComplexityAnalyzer, embedder: Embedder) -> tuple[float, float]:
    """Complexity of a query never seen before: features plus one MiniLM embedding."""
    timings = []
    for index in range(120):
        embedder._cache.clear()
        started = time.perf_counter()
        analyzer.assess(f"Build a booking service for clinic number {index} with reminders")
        timings.append((time.perf_counter() - started) * 1000)
    warm = timings[20:]
    return statistics.median(warm), _percentile(warm, 0.95)


def _second_start_load_s(models_dir: Path) -> float:
    """Load time in a fresh process, after a first process has loaded the model."""
    script = (
        "import sys, time; from pathlib import Path; from inference.local import LocalModel; "
        "m = LocalModel(Path(sys.argv[1])); t = time.perf_counter(); m.load(); "
        "print(time.perf_counter() - t)"
    )
    times = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", script, str(models_dir)],
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return times[-1]


async def gateway_figures(models_dir: Path) -> dict[str, Any]:
    local = LocalModel(models_dir, max_new_tokens=NEW_TOKENS)
    embedder = Embedder()
    analyzer = ComplexityAnalyzer(embedder)
    analyzer.warm()
    prices = PriceTable({m: Price(*p) for m, p in DEFAULT_PRICES.items()})
    gateway = ModelGateway(
        local=local,
        hosted=InstantProvider(),
        models={"local": MODEL_NAME, "flash": "gemini-2.5-flash", "pro": "gemini-2.5-pro"},
        policy=Policy(DEFAULT_MODEL_POLICY),
        analyzer=analyzer,
        limiter=InProcessLimiter(),
        prices=prices,
        platform_key="bench-key",
        enterprise_users=["enterprise-bench"],
        # The platform's rate limit is still checked on every call, just never reached.
        quotas=Quotas(platform_requests_per_minute=1e9),
    )
    bare = await asyncio.to_thread(_bare_tokens_per_second, local)
    through = await _gateway_tokens_per_second(gateway)
    given = await _overhead_ms(gateway, "medium")
    assessed = await _overhead_ms(gateway, None)
    new_query = _assessment_ms(analyzer, embedder)
    load_s = await asyncio.to_thread(_second_start_load_s, models_dir)
    local.close()
    return {
        "bare_tokens_per_s": bare,
        "gateway_tokens_per_s": through,
        "overhead_ms": given,
        "overhead_with_assessment_ms": assessed,
        "assessment_of_a_new_query_ms": new_query,
        "second_start_load_s": load_s,
    }
