"""Gemini through the official ``google-genai`` async client.

One client per API key (the platform's and each BYOK user's), kept for reuse. The
client's own retries are off: on a 429 or a 5xx the gateway falls back to the next model
at once instead of retrying behind the user's back. Failures are mapped to the gateway's
``ProviderError`` kinds; their messages never hold a key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from cachetools import LRUCache
from google import genai
from google.genai import errors, types

from inference.generation import GenerationRequest, StreamChunk
from inference.providers import (
    InvalidKey,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    estimate_tokens,
    reported_usage,
)

logger = logging.getLogger(__name__)

_MAX_CLIENTS = 256
_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
_TRANSPORTS = frozenset({"aiohttp", "httpx", "httpx2", "httpcore"})


class GeminiProvider:
    name = "gemini"
    label = "Gemini"
    needs_key = True

    def __init__(
        self,
        *,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        count_tokens: Callable[[str], int] | None = None,
    ) -> None:
        self._base_url = base_url
        self._timeout_ms = int(timeout_s * 1000)
        self._count_tokens = count_tokens or estimate_tokens
        self._clients: LRUCache[str, genai.Client] = LRUCache(maxsize=_MAX_CLIENTS)

    async def _client(self, api_key: str) -> genai.Client:
        client = self._clients.get(api_key)
        if client is None:
            options = types.HttpOptions(
                base_url=self._base_url,
                timeout=self._timeout_ms,
                # One attempt: without this the client retries a refused connection once,
                # seconds later, where the gateway should fall back at once.
                retry_options=types.HttpRetryOptions(attempts=1),
            )
            # Building a client loads SSL contexts (~75 ms): keep it off the event loop.
            client = await asyncio.to_thread(genai.Client, api_key=api_key, http_options=options)
            self._clients[api_key] = client
        return client

    async def stream(
        self, request: GenerationRequest, *, model: str, api_key: str | None
    ) -> AsyncIterator[StreamChunk]:
        if not api_key:
            raise InvalidKey("no Gemini API key")
        started = time.perf_counter()
        contents, config = _request_parts(request)
        emitted: list[str] = []
        metadata: Any = None
        try:
            client = await self._client(api_key)
            stream = await client.aio.models.generate_content_stream(
                model=model, contents=contents, config=config
            )
            async for response in stream:
                metadata = response.usage_metadata or metadata
                text = _text_of(response)
                if text:
                    emitted.append(text)
                    yield StreamChunk(text)
        except Exception as error:
            raise _mapped(error, model) from None
        usage = reported_usage(
            request,
            "".join(emitted),
            model=model,
            provider=self.name,
            seconds=time.perf_counter() - started,
            tokens_in=_count(metadata, "prompt_token_count"),
            tokens_out=_count(metadata, "candidates_token_count"),
            count_tokens=self._count_tokens,
        )
        yield StreamChunk("", usage=usage)

    async def check_key(self, api_key: str, *, model: str) -> None:
        """A cheap call (token counting costs nothing) that fails if the key is refused."""
        try:
            client = await self._client(api_key)
            await client.aio.models.count_tokens(model=model, contents="ping")
        except Exception as error:
            self._clients.pop(api_key, None)  # a refused key's client is of no further use
            raise _mapped(error, model) from None


def _request_parts(
    request: GenerationRequest,
) -> tuple[list[types.Content], types.GenerateContentConfig]:
    contents = [
        types.Content(
            role="model" if m.role == "assistant" else "user", parts=[types.Part(text=m.content)]
        )
        for m in request.messages
        if m.role != "system"
    ]
    config = types.GenerateContentConfig(
        system_instruction=request.system or None,
        max_output_tokens=request.max_tokens,
        temperature=request.temperature,
        stop_sequences=list(request.stop) or None,
        # No tools are passed; this also stops the client logging about them on every call.
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    return contents, config


def _text_of(response: types.GenerateContentResponse) -> str:
    # ``response.text`` warns when a candidate holds non-text parts; read the parts directly.
    if not response.candidates:
        return ""
    content = response.candidates[0].content
    if content is None or not content.parts:
        return ""
    return "".join(part.text for part in content.parts if part.text and not part.thought)


def _count(metadata: Any, field: str) -> int | None:
    value = getattr(metadata, field, None) if metadata is not None else None
    return int(value) if value is not None else None


def _mapped(error: Exception, model: str) -> ProviderError:
    """The gateway's view of a client failure; the text names the model, never a key."""
    if isinstance(error, ProviderError):
        return error
    if isinstance(error, errors.APIError):
        code = error.code
        reason = f"{model} answered {code} {error.status or ''}".rstrip()
        if code == 429:
            return RateLimited(f"Gemini quota reached ({model} answered 429)", _retry_after(error))
        if code >= 500:
            return ProviderUnavailable(reason)
        if code in (401, 403) or "API_KEY_INVALID" in json.dumps(error.details, default=str):
            return InvalidKey(f"Gemini refused the API key ({code})")
        return ProviderError(f"{reason}: {error.message or ''}".rstrip(": "))
    if isinstance(error, TimeoutError) or "Timeout" in type(error).__name__:
        return ProviderUnavailable(f"{model} timed out")
    # The client's transport is aiohttp when installed, else an httpx fork: match by origin.
    if isinstance(error, OSError) or type(error).__module__.split(".")[0] in _TRANSPORTS:
        return ProviderUnavailable(f"{model} unreachable ({type(error).__name__})")
    if isinstance(error, (ValueError, KeyError, TypeError)):  # JSON or schema errors
        return ProviderUnavailable(f"{model} sent an answer that is not Gemini's format")
    logger.warning("Unexpected Gemini client error: %s", type(error).__name__)
    return ProviderUnavailable(f"{model} failed ({type(error).__name__})")


def _retry_after(error: errors.APIError) -> float | None:
    """Seconds to wait, from the Retry-After header or Gemini's RetryInfo detail."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    if headers is not None:
        value = headers.get("retry-after")
        if value is not None:
            try:
                return max(0.0, float(value))
            except ValueError:
                pass
    details = error.details if isinstance(error.details, dict) else {}
    inner = details.get("error", details)
    for detail in inner.get("details", []) if isinstance(inner, dict) else []:
        if isinstance(detail, dict) and isinstance(detail.get("retryDelay"), str):
            match = _DELAY.match(detail["retryDelay"])
            if match:
                return float(match.group(1))
    return None
