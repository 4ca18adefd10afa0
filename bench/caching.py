"""The cache's figures for ``make bench``: a replayed workload through a live server.

200 requests from five users: 80 first-time requests, then (interleaved, always after their
original) 60 exact repeats (the words' case and spacing changed; pasted SQL and JSON kept as
they are, since their case is part of what they say) and 60 paraphrases. Every request
belongs to a family (an original and its rewordings); a hit whose artifacts are not an
answer computed for its own family is a false hit. The calibration set's near misses are
replayed through the same lookup as the server's (``ResponseCache`` with the server's
threshold and the real embedder) to count false hits there too. Latency is to the completed
event, client side.
"""

from __future__ import annotations

import json
import random
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.wire import streaming_message
from inference.embeddings import Embedder
from memory.cache import (
    AnswerKey,
    CachedAnswer,
    InProcessCacheStore,
    ResponseCache,
    split_material,
)
from youmeyou.settings import Settings

SEMANTIC_P95_TARGET_MS = 50.0
REQUESTS = 200
ORIGINALS = 80
PAIRS_FILE = Path(__file__).resolve().parent / "cache_cases" / "holdout.json"

_TABLES = ["users", "orders", "products", "invoices", "payments", "carts", "reviews", "stock"]
_DOMAINS = ["bookstore", "clinic", "gym", "library", "bakery", "garage", "school", "hotel"]
_ENTITIES = ["members", "bookings", "staff", "invoices", "rooms", "courses", "suppliers"]


@dataclass(frozen=True)
class Request:
    family: int
    text: str
    kind: str  # original | repeat | paraphrase
    user: str


def _families(rng: random.Random) -> list[tuple[str, str]]:
    """(original, paraphrase) of each family: SQL and JSON checks, and schema designs."""
    families: list[tuple[str, str]] = []
    for i in range(30):
        sql = f"SELECT id, total FROM {_TABLES[i % 8]} WHERE id = {100 + i}"
        families.append(
            (f"Validate this SQL: {sql}", f"Could you validate the following SQL for me: {sql}")
        )
    for i in range(25):
        doc = json.dumps({"order": 1000 + i, "items": [i, i + 1]})
        families.append((f"Check this JSON for errors: {doc}", f"Please check this JSON: {doc}"))
    for i in range(25):
        domain = _DOMAINS[i % 8]
        a, b = rng.sample(_ENTITIES, 2)
        families.append(
            (
                f"Design a database schema for a {domain} with {a} and {b}",
                f"Design the database tables for a {domain} with {a} and {b}",
            )
        )
    return families


def workload(seed: int = 7) -> list[Request]:
    rng = random.Random(seed)
    families = _families(rng)
    users = [f"cache-bench-{uuid.uuid4().hex[:6]}-{n}" for n in range(5)]
    sequence = [
        Request(i, original, "original", rng.choice(users))
        for i, (original, _) in enumerate(families)
    ]
    followers = rng.sample(range(ORIGINALS), 60)
    for n, family in enumerate(followers):
        original, paraphrase = families[family]
        if n % 2:
            text, kind = f"  {_recased(original, str.upper)}  ", "repeat"
        else:
            text, kind = paraphrase, "paraphrase"
        follower = Request(family, text, kind, rng.choice(users))
        after = next(i for i, r in enumerate(sequence) if r.family == family)
        sequence.insert(rng.randint(after + 1, len(sequence)), follower)
    # The other 30 requests re-ask 30 more families, half repeats, half paraphrases.
    for n, family in enumerate(rng.sample(range(ORIGINALS), REQUESTS - len(sequence))):
        original, paraphrase = families[family]
        kind = "repeat" if n % 2 else "paraphrase"
        text = _recased(original, str.lower) if kind == "repeat" else paraphrase
        sequence.append(Request(family, text, kind, rng.choice(users)))
    return sequence


def _recased(text: str, case: Callable[[str], str]) -> str:
    """``text`` with its words in another case and spacing, its pasted material unchanged."""
    words, material = split_material(text)
    return "  ".join(case(words).split()) + " " + material if material else case(text)


async def _ask(
    http: httpx.AsyncClient, request: Request
) -> tuple[float, dict[str, Any], dict[str, str]]:
    """Time to the completed event, that event, and the artifacts by name."""
    body = streaming_message(request.text)
    started = time.perf_counter()
    last: dict[str, Any] = {}
    built: dict[str, str] = {}
    async with http.stream(
        "POST", "/", json=body, headers={"A2A-Version": "1.0", "X-User-Id": request.user}
    ) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            last = json.loads(line[5:]).get("result", {})
            update = last.get("artifactUpdate")
            if update:
                artifact = update["artifact"]
                text = "".join(p.get("text", "") for p in artifact.get("parts", []))
                name = artifact.get("name", "")
                built[name] = (built.get(name, "") if update.get("append") else "") + text
    elapsed = time.perf_counter() - started
    return elapsed, last.get("statusUpdate", {}), built


async def cache_figures(url: str) -> dict[str, Any]:
    requests = workload()
    # Every answer computed for a family (the local model samples: a family computed twice,
    # after a missed paraphrase, has two). A hit serving anything else is a false hit.
    computed: dict[int, list[dict[str, str]]] = {}
    latencies: dict[str, list[float]] = {"miss": [], "exact": [], "semantic": []}
    false_hits = failed = 0
    by_kind: dict[str, list[bool]] = {"repeat": [], "paraphrase": []}
    async with httpx.AsyncClient(base_url=url, timeout=300) as http:
        before = (await http.get("/v1/cache")).json()
        for request in requests:
            elapsed, final, built = await _ask(http, request)
            if final.get("status", {}).get("state") != "TASK_STATE_COMPLETED":
                failed += 1
                continue
            cached = (final.get("metadata") or {}).get("cached")
            level = cached["level"] if cached else "miss"
            latencies[level].append(elapsed * 1000)
            if request.kind in by_kind:
                by_kind[request.kind].append(cached is not None)
            if cached is None:
                computed.setdefault(request.family, []).append(built)
            elif built not in computed.get(request.family, []):
                false_hits += 1
        after = (await http.get("/v1/cache")).json()
    levels = {
        level: {
            "hits": after["levels"][level]["hits"] - before["levels"][level]["hits"],
            "misses": after["levels"][level]["misses"] - before["levels"][level]["misses"],
        }
        for level in after["levels"]
    }
    return {
        "requests": len(requests),
        "failed": failed,
        "levels": levels,
        "repeat_hit_rate": _share(by_kind["repeat"]),
        "paraphrase_hit_rate": _share(by_kind["paraphrase"]),
        "false_hits_workload": false_hits,
        "false_hits_near_misses": await near_miss_false_hits(),
        "latency_ms": {level: _percentiles(times) for level, times in latencies.items()},
        "saved_tokens": after["saved_tokens"] - before["saved_tokens"],
    }


async def near_miss_false_hits() -> int:
    """Each near miss of the calibration set asked after its partner: how many are served."""
    pairs = json.loads(PAIRS_FILE.read_text())["near_miss"]
    settings = Settings()
    cache = ResponseCache(
        InProcessCacheStore(), threshold=settings.cache_semantic_threshold, ttl_s={"answer": 60}
    )
    embedder = Embedder()
    served = 0
    for n, (first, second) in enumerate(pairs):
        user = f"near-{n}"
        vectors = await embedder.aembed([first, second])
        answer = CachedAnswer(first, [], "Done.", f"task-{n}", user)
        await cache.store(AnswerKey(first, "any"), vectors[0], answer, shared=False)
        served += await cache.lookup(user, AnswerKey(second, "any"), vectors[1]) is not None
    return served


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def _percentiles(times: list[float]) -> tuple[float, float, int]:
    if not times:
        return (float("nan"), float("nan"), 0)
    ordered = sorted(times)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))], len(ordered)
