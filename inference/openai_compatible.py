"""Any server that speaks OpenAI's chat API, through the official ``openai`` async client.

OpenAI itself, a hosted compatible endpoint, or a model server a user runs (Ollama, vLLM,
llama.cpp's server, LM Studio): the base URL says which. As for Gemini, there is one client
per API key, the client's own retries are off (the gateway falls back at once instead), and
failures are mapped to the gateway's ``ProviderError`` kinds with messages that never hold a
key. A server on a base URL of its own may need no key at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import openai
from cachetools import LRUCache
from openai.types.chat import ChatCompletionMessageParam

from inference.generation import GenerationRequest, StreamChunk
from inference.providers import (
    InvalidKey,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    estimate_tokens,
    reported_usage,
)

__all__ = ["OpenAICompatibleProvider"]

logger = logging.getLogger(__name__)

_MAX_CLIENTS = 256
# What the client sends as a bearer token to a server that wants none: it insists on one.
_NO_KEY = "no-key"


class OpenAICompatibleProvider:
    name = "openai"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        needs_key: bool | None = None,
        timeout_s: float = 60.0,
        count_tokens: Callable[[str], int] | None = None,
    ) -> None:
        self._base_url = base_url
        # OpenAI's own API wants a key; a server of one's own (a base URL) usually does not.
        self.needs_key = base_url is None if needs_key is None else needs_key
        self.label = "OpenAI" if base_url is None else "OpenAI-compatible server"
        self._timeout_s = timeout_s
        self._count_tokens = count_tokens or estimate_tokens
        self._clients: LRUCache[str, openai.AsyncOpenAI] = LRUCache(maxsize=_MAX_CLIENTS)

    async def _client(self, api_key: str | None) -> openai.AsyncOpenAI:
        key = api_key or _NO_KEY
        client = self._clients.get(key)
        if client is None:
            # Building a client loads SSL contexts: keep it off the event loop.
            client = await asyncio.to_thread(
                openai.AsyncOpenAI,
                api_key=key,
                base_url=self._base_url,
                timeout=self._timeout_s,
                max_retries=0,
            )
            self._clients[key] = client
        return client

    async def stream(
        self, request: GenerationRequest, *, model: str, api_key: str | None
    ) -> AsyncIterator[StreamChunk]:
        if self.needs_key and not api_key:
            raise InvalidKey(f"no {self.label} API key")
        started = time.perf_counter()
        emitted: list[str] = []
        usage: Any = None
        try:
            client = await self._client(api_key)
            stream = await client.chat.completions.create(
                model=model,
                messages=_messages(request),
                stream=True,
                stream_options={"include_usage": True},
                **_options(request),
            )
            async for chunk in stream:
                usage = chunk.usage or usage
                text = "".join(choice.delta.content or "" for choice in chunk.choices[:1])
                if text:
                    emitted.append(text)
                    yield StreamChunk(text)
        except Exception as error:
            raise self._mapped(error, model) from None
        yield StreamChunk(
            "",
            usage=reported_usage(
                request,
                "".join(emitted),
                model=model,
                provider=self.name,
                seconds=time.perf_counter() - started,
                tokens_in=getattr(usage, "prompt_tokens", None),
                tokens_out=getattr(usage, "completion_tokens", None),
                count_tokens=self._count_tokens,
            ),
        )

    async def check_key(self, api_key: str, *, model: str) -> None:
        """Listing the models costs nothing and fails if the key is refused."""
        try:
            client = await self._client(api_key)
            await client.models.list()
        except Exception as error:
            self._clients.pop(api_key, None)  # a refused key's client is of no further use
            raise self._mapped(error, model) from None

    def _mapped(self, error: Exception, model: str) -> ProviderError:
        """The gateway's view of a client failure; the text names the model, never a key."""
        if isinstance(error, ProviderError):
            return error
        if isinstance(error, openai.RateLimitError):
            quota = f"{self.label} quota reached ({model} answered 429)"
            return RateLimited(quota, _retry_after(error))
        if isinstance(error, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return InvalidKey(f"{self.label} refused the API key ({error.status_code})")
        if isinstance(error, openai.APIStatusError):
            reason = f"{model} answered {error.status_code}"
            if error.status_code >= 500:
                return ProviderUnavailable(reason)
            return ProviderError(f"{reason}: {_message(error)}".rstrip(": "))
        if isinstance(error, openai.APITimeoutError):
            return ProviderUnavailable(f"{model} timed out")
        if isinstance(error, openai.APIConnectionError):
            return ProviderUnavailable(f"{model} unreachable")
        if isinstance(error, openai.APIError):  # an error event in the middle of a stream
            return ProviderUnavailable(f"{model} failed mid-answer: {_message(error)}")
        if isinstance(error, (ValueError, KeyError, TypeError)):  # JSON or schema errors
            return ProviderUnavailable(f"{model} sent an answer that is not OpenAI's format")
        logger.warning("Unexpected OpenAI client error: %s", type(error).__name__)
        return ProviderUnavailable(f"{model} failed ({type(error).__name__})")


def _messages(request: GenerationRequest) -> list[ChatCompletionMessageParam]:
    messages: list[ChatCompletionMessageParam] = []
    for message in request.messages:
        if message.role == "assistant":
            messages.append({"role": "assistant", "content": message.content})
        elif message.role == "system":
            messages.append({"role": "system", "content": message.content})
        else:
            messages.append({"role": "user", "content": message.content})
    return messages


def _options(request: GenerationRequest) -> dict[str, Any]:
    """The sampling options the request sets. Unset ones are left out, not sent as null:
    servers such as llama.cpp's refuse a null temperature."""
    options: dict[str, Any] = {
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stop": list(request.stop) or None,
    }
    return {name: value for name, value in options.items() if value is not None}


def _message(error: openai.APIError) -> str:
    """The server's own words, cut short: they are shown to the user."""
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        text = inner.get("message") if isinstance(inner, dict) else None
        if isinstance(text, str):
            return text[:200]
    return str(error.message)[:200]


def _retry_after(error: openai.APIStatusError) -> float | None:
    value = error.response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
