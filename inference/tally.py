"""What the gateway has done since the process started: calls per model, and fallbacks.

Kept in process and read when asked (``/metrics``, ``/v1/ops``), so the hot path pays one
dictionary update per call. Per-user figures are the usage store's business
(``UsageRecorder``); these are the server's own, by model, tier and fallback hop.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from inference.generation import Usage

# Why a tier did not answer: no key for it, its quota or rate spent here, the provider's
# own 429, its breaker open, or the provider failing (unavailable: 5xx, timeout) or
# refusing otherwise.
FallbackReason = Literal["no_key", "quota", "rate_limited", "circuit_open", "unavailable", "error"]


@dataclass(frozen=True, slots=True)
class ModelKey:
    model: str
    tier: str
    provider: str


@dataclass(slots=True)
class CallTotals:
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    usd: float = 0.0


@dataclass(frozen=True, slots=True)
class Fallback:
    """One hop down the chain: ``from_model`` did not answer, ``to_model`` was tried next."""

    from_model: str
    to_model: str
    reason: FallbackReason


class GatewayTally:
    """Calls, tokens and dollars by model and tier, and fallbacks by hop and reason.

    Updated and read on the event loop only (the gateway and the endpoints run there).
    """

    def __init__(self) -> None:
        self._calls: dict[ModelKey, CallTotals] = {}
        self._fallbacks: Counter[Fallback] = Counter()

    def call(self, tier: str, usage: Usage) -> None:
        if usage.cached:  # a replay: no model ran (the cache counts it)
            return
        key = ModelKey(usage.model, tier, usage.provider)
        totals = self._calls.get(key)
        if totals is None:
            totals = self._calls[key] = CallTotals()
        totals.calls += 1
        totals.tokens_in += usage.tokens_in
        totals.tokens_out += usage.tokens_out
        totals.usd += usage.cost_usd

    def fallback(self, from_model: str, to_model: str, reason: FallbackReason) -> None:
        self._fallbacks[Fallback(from_model, to_model, reason)] += 1

    def calls(self) -> dict[ModelKey, CallTotals]:
        """A copy: the caller may read it while calls go on."""
        return {
            key: CallTotals(t.calls, t.tokens_in, t.tokens_out, t.usd)
            for key, t in self._calls.items()
        }

    def fallbacks(self) -> dict[Fallback, int]:
        return dict(self._fallbacks)
