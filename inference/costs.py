"""What calls cost: the price table, a task's running account, and where usage is kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from inference.generation import Usage

_PER_MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million tokens, in and out."""

    input: float
    output: float


class PriceTable:
    """Prices by model name; a model not in the table (the local one) costs nothing."""

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._prices = dict(prices)

    def cost(self, model: str, tokens_in: int, tokens_out: int) -> float:
        price = self._prices.get(model)
        if price is None:
            return 0.0
        return (tokens_in * price.input + tokens_out * price.output) / _PER_MILLION


@dataclass
class CostSummary:
    """Tokens and dollars of a task (or several): what ``metadata.cost`` reports."""

    usd: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)

    def add(self, usage: Usage, **labels: str) -> None:
        self.usd += usage.cost_usd
        self.tokens_in += usage.tokens_in
        self.tokens_out += usage.tokens_out
        call: dict[str, Any] = {
            "model": usage.model,
            "provider": usage.provider,
            "tokens_in": usage.tokens_in,
            "tokens_out": usage.tokens_out,
            "usd": round(usage.cost_usd, 8),
            **labels,
        }
        if usage.fallbacks:
            call["fallbacks"] = list(usage.fallbacks)
        if usage.cached:
            call["cached"] = True
        self.calls.append(call)

    def merge(self, other: Mapping[str, Any], **labels: str) -> None:
        """Fold in a summary another agent reported (as ``to_dict`` wrote it)."""
        self.usd += float(other.get("usd", 0.0))
        self.tokens_in += int(other.get("tokens_in", 0))
        self.tokens_out += int(other.get("tokens_out", 0))
        self.calls += [{**_counts_as_ints(call), **labels} for call in other.get("calls", [])]

    def to_dict(self) -> dict[str, Any]:
        return {
            "usd": round(self.usd, 8),
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "calls": self.calls,
        }


def _counts_as_ints(call: Mapping[str, Any]) -> dict[str, Any]:
    # A summary that crossed A2A metadata (a protobuf Struct) has every number as a float.
    return {k: int(v) if k in ("tokens_in", "tokens_out") else v for k, v in call.items()}


class UsageRecorder(Protocol):
    """Where each user's calls are added up, per month."""

    async def record(self, user_id: str, usage: Usage) -> None: ...

    async def month(self, user_id: str, month: str) -> list[dict[str, Any]]:
        """Per model: calls, tokens in and out, cost, for ``month`` (``YYYY-MM``)."""
        ...
