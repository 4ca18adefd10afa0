"""What the gateway needs from a model provider, and the failures it tells apart.

A provider streams one request with one model and one credential; choosing the model,
the credential and what to do on failure is the gateway's job (``inference.gateway``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Protocol

from inference.generation import GenerationRequest, StreamChunk, Usage


class Provider(Protocol):
    name: str

    def stream(
        self, request: GenerationRequest, *, model: str, api_key: str | None
    ) -> AsyncIterator[StreamChunk]:
        """Text as it is generated; the last chunk carries the usage (cost not yet priced)."""
        ...


class HostedProvider(Provider, Protocol):
    """A provider behind the gateway's hosted tiers (flash, pro): Gemini, or any server
    that speaks OpenAI's API. Users may store their own key for it (BYOK)."""

    #: How messages name it to users ("Gemini", "OpenAI-compatible server").
    label: str
    #: Whether a call needs a key (a local Ollama or llama.cpp server needs none).
    needs_key: bool

    async def check_key(self, api_key: str, *, model: str) -> None:
        """A cheap call that raises ``InvalidKey`` if the provider refuses ``api_key``."""
        ...


class ProviderError(Exception):
    """A provider could not answer. The message is safe to show: it never holds a key."""

    #: Whether the failure says the provider is unwell (it counts towards its breaker).
    trips_breaker = False


class RateLimited(ProviderError):
    """429: the provider's quota for this credential is spent for now."""

    def __init__(self, message: str, retry_after_s: float | None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ProviderUnavailable(ProviderError):
    """5xx, a timeout, a dropped connection or an answer that is not the provider's format."""

    trips_breaker = True


class InvalidKey(ProviderError):
    """The credential was refused."""


def estimate_tokens(text: str) -> int:
    """About four characters a token: the count when no tokenizer is given."""
    return max(1, len(text) // 4) if text else 0


def reported_usage(
    request: GenerationRequest,
    answer: str,
    *,
    model: str,
    provider: str,
    seconds: float,
    tokens_in: int | None,
    tokens_out: int | None,
    count_tokens: Callable[[str], int],
) -> Usage:
    """A call's usage: the provider's own counts where it gave them, counted here if not."""
    if tokens_in is None:
        tokens_in = sum(count_tokens(m.content) for m in request.messages)
    if tokens_out is None:
        tokens_out = count_tokens(answer)
    return Usage(model, tokens_in, tokens_out, seconds, provider)
