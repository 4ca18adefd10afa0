"""The gateway's public surface: what a caller asks for and what it gets back.

Specialists and the orchestrator depend on ``Gateway`` only; which model answers (the
local SmolLM2 or a Gemini tier, chosen by step, complexity, the user's tier and quotas)
is the gateway's business.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

_T = TypeVar("_T")
Role = Literal["system", "user", "assistant"]
Complexity = Literal["simple", "medium", "complex"]
# "answer" is the short path (one agent, no plan); the others are the progressive
# protocol's steps.
Step = Literal["answer", "analysis", "planning", "implementation", "validation", "synthesis"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """What to generate, and for whom: the user and step decide which model may answer."""

    messages: tuple[ChatMessage, ...]
    max_tokens: int | None = None
    temperature: float | None = None
    stop: tuple[str, ...] = ()
    user_id: str = "anonymous"
    step: Step = "answer"
    complexity: Complexity | None = None  # None: the gateway analyses ``query``
    query: str | None = None  # the user's own words; defaults to the last user message

    @classmethod
    def chat(
        cls,
        system: str,
        user: str,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: tuple[str, ...] = (),
        user_id: str = "anonymous",
        step: Step = "answer",
        complexity: Complexity | None = None,
        query: str | None = None,
    ) -> GenerationRequest:
        messages = (ChatMessage("system", system), ChatMessage("user", user))
        return cls(messages, max_tokens, temperature, stop, user_id, step, complexity, query)

    @property
    def system(self) -> str:
        return "\n\n".join(m.content for m in self.messages if m.role == "system")

    @property
    def subject(self) -> str:
        """The text whose complexity decides the model."""
        if self.query is not None:
            return self.query
        users = [m.content for m in self.messages if m.role == "user"]
        return users[-1] if users else ""


@dataclass(frozen=True, slots=True)
class Usage:
    """One call's account: which model answered, tokens both ways, time and cost."""

    model: str
    tokens_in: int
    tokens_out: int
    seconds: float = 0.0
    provider: str = "local"
    cost_usd: float = 0.0
    fallbacks: tuple[str, ...] = ()  # each hop taken before this model answered, and why
    cached: bool = False  # replayed from a cache: no model ran, no tokens were spent

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_out / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """A piece of generated text; the last chunk of a stream carries the usage.

    ``notice`` is a sentence for the user about how the request is served ("using the
    local model: Gemini quota reached"); ``restart`` says the text streamed so far is void
    (a provider failed mid-stream and the next one starts over).
    """

    text: str
    usage: Usage | None = None
    notice: str | None = None
    restart: bool = False


class Gateway(Protocol):
    """Streams text for a request; the last chunk carries the usage.

    Whoever leaves a stream before its end closes it (``closing``): a stream left suspended
    keeps its model generating until garbage collection finds it.
    """

    def stream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]: ...


@asynccontextmanager
async def closing(stream: AsyncIterator[_T]) -> AsyncIterator[AsyncIterator[_T]]:
    """``stream`` for the body, closed when the body leaves, however it leaves: a break, an
    error, a cancellation (the local model's generation stops when its stream closes)."""
    try:
        yield stream
    finally:
        aclose = getattr(stream, "aclose", None)  # an async generator's; an iterator may lack it
        if aclose is not None:
            await aclose()
