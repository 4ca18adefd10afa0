"""The gateway's public surface: what a caller asks for and what it gets back.

Specialists and the orchestrator depend on ``Gateway`` only; which model answers
(the local SmolLM2 today, Gemini tiers later) is the gateway's business.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    messages: tuple[ChatMessage, ...]
    max_tokens: int | None = None
    temperature: float | None = None
    stop: tuple[str, ...] = ()

    @classmethod
    def chat(
        cls,
        system: str,
        user: str,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: tuple[str, ...] = (),
    ) -> GenerationRequest:
        messages = (ChatMessage("system", system), ChatMessage("user", user))
        return cls(messages, max_tokens, temperature, stop)


@dataclass(frozen=True, slots=True)
class Usage:
    model: str
    tokens_in: int
    tokens_out: int
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_out / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """A piece of generated text; the last chunk of a stream carries the usage."""

    text: str
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class Generation:
    text: str
    usage: Usage
    chunks: int = field(default=1)


class Gateway(Protocol):
    """Generates text for a request, whole or streamed."""

    def stream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]: ...

    async def generate(self, request: GenerationRequest) -> Generation: ...


async def collect(stream: AsyncIterator[StreamChunk]) -> Generation:
    """Drain a stream into one ``Generation``."""
    parts: list[str] = []
    usage: Usage | None = None
    count = 0
    async for chunk in stream:
        parts.append(chunk.text)
        usage = chunk.usage or usage
        count += 1
    if usage is None:
        raise RuntimeError("the stream ended without reporting usage")
    return Generation(text="".join(parts), usage=usage, chunks=count)
