"""What the gateway's tests share: key stores, requests and reading a stream."""

from __future__ import annotations

from typing import Any

from inference.gateway import ModelGateway
from inference.generation import GenerationRequest, StreamChunk


class Keys:
    """A user's stored keys, in memory; ``asked`` records which provider each lookup named."""

    def __init__(self, keys: dict[str, str] | None = None) -> None:
        self.keys = keys or {}
        self.asked: list[str] = []

    async def get(self, user_id: str, provider: str) -> str | None:
        self.asked.append(provider)
        return self.keys.get(user_id)


def ask(text: str, user: str = "corp", **kwargs: Any) -> GenerationRequest:
    kwargs.setdefault("max_tokens", 16)
    return GenerationRequest.chat("You are terse.", text, user_id=user, **kwargs)


async def chunks_of(gateway: ModelGateway, request: GenerationRequest) -> list[StreamChunk]:
    return [chunk async for chunk in gateway.stream(request)]


async def answered_by(gateway: ModelGateway, request: GenerationRequest) -> str:
    """The model that answered, as the stream's closing usage says."""
    usage = (await chunks_of(gateway, request))[-1].usage
    assert usage is not None
    return usage.model


def notices(chunks: list[StreamChunk]) -> list[str]:
    return [c.notice for c in chunks if c.notice]
