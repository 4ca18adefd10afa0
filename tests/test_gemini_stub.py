"""The real google-genai client against the Gemini stub: answers, streams, and every failure.

These tests double as the record of how google-genai 3.4 reports each failure, which is what a
gateway in front of it must catch. Each runs on both async transports the client can use:
aiohttp (its default whenever aiohttp is installed, as it is here) and httpx2 (used when an
``httpx_async_client`` is given, or when aiohttp is absent).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import httpx2
import pytest
from gemini_stub import GeminiStub, count_tokens, split_reply
from google import genai
from google.genai import errors, types

KEY = "test-key"
FLASH = "gemini-2.5-flash"
PRO = "gemini-2.5-pro"
TRANSPORTS = ["aiohttp", "httpx2"]
# What a gateway that retries by itself should pass: one attempt, and no hidden reconnect.
NO_RETRY = types.HttpRetryOptions(attempts=1)


@pytest.fixture(scope="module")
def running_stub() -> Iterator[GeminiStub]:
    # One server for the module: a uvicorn stop costs ~0.2 s, a reset() nothing.
    with GeminiStub() as running:
        yield running


@pytest.fixture
def stub(running_stub: GeminiStub) -> GeminiStub:
    running_stub.reset()
    return running_stub


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextlib.asynccontextmanager
async def gemini(
    base_url: str,
    transport: str = "aiohttp",
    *,
    api_key: str = KEY,
    timeout_ms: int | None = None,
    retry_options: types.HttpRetryOptions | None = None,
    api_version: str | None = None,
) -> AsyncIterator[genai.Client]:
    """A real client aimed at ``base_url``; ``retry_options=None`` keeps the client's default."""
    http = httpx2.AsyncClient() if transport == "httpx2" else None
    options = types.HttpOptions(
        base_url=base_url,
        timeout=timeout_ms,
        retry_options=retry_options,
        api_version=api_version,
        httpx_async_client=http,
    )
    client = genai.Client(api_key=api_key, http_options=options)
    try:
        yield client
    finally:
        await client.aio.aclose()
        if http is not None:
            await http.aclose()


async def collect(client: genai.Client, model: str, text: str) -> list[Any]:
    stream = await client.aio.models.generate_content_stream(model=model, contents=text)
    return [chunk async for chunk in stream]


# -- answers ---------------------------------------------------------------------------------


async def test_generate_answers_in_gemini_shape(stub: GeminiStub, transport: str) -> None:
    async with gemini(stub.base_url, transport) as client:
        response = await client.aio.models.generate_content(model=FLASH, contents="hello there")

    assert response.text == f"[{FLASH}] hello there"
    assert response.model_version == FLASH
    assert response.candidates is not None
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.candidates[0].content is not None
    assert response.candidates[0].content.role == "model"
    usage = response.usage_metadata
    assert usage is not None
    assert usage.prompt_token_count == 2
    assert usage.candidates_token_count == count_tokens(f"[{FLASH}] hello there")
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count

    [call] = stub.requests
    assert call.model == FLASH
    assert call.path == f"/v1/models/{FLASH}:generateContent"
    assert call.action == "generateContent"
    assert call.api_key == KEY
    assert call.headers["user-agent"].startswith("google-genai-sdk/")
    assert call.body["contents"] == [{"parts": [{"text": "hello there"}], "role": "user"}]


async def test_stream_yields_chunks_with_usage_last(stub: GeminiStub, transport: str) -> None:
    stub.chunks = 4
    async with gemini(stub.base_url, transport) as client:
        chunks = await collect(client, PRO, "one two three four five")

    reply = f"[{PRO}] one two three four five"
    assert len(chunks) == 4
    assert [c.text for c in chunks] == split_reply(reply, 4)
    assert "".join(c.text for c in chunks) == reply
    assert all(c.usage_metadata is None for c in chunks[:-1])
    last = chunks[-1]
    assert last.usage_metadata is not None
    assert last.usage_metadata.prompt_token_count == 5
    assert last.usage_metadata.candidates_token_count == count_tokens(reply)
    assert last.candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[0].candidates[0].finish_reason is None
    assert {c.model_version for c in chunks} == {PRO}

    [call] = stub.requests
    assert call.path == f"/v1/models/{PRO}:streamGenerateContent?alt=sse"
    assert call.action == "streamGenerateContent"


async def test_reply_override_count_tokens_and_api_version(stub: GeminiStub) -> None:
    stub.reply = lambda body: body["contents"][-1]["parts"][0]["text"].upper()
    async with gemini(stub.base_url, api_version="v1beta") as client:
        response = await client.aio.models.generate_content(model=FLASH, contents="shout this")
        stub.reply = "fixed answer"
        chunks = await collect(client, FLASH, "anything")
        counted = await client.aio.models.count_tokens(model=FLASH, contents="a b, c")

    assert response.text == "SHOUT THIS"
    assert "".join(c.text for c in chunks) == "fixed answer"
    assert counted.total_tokens == 4
    assert [r.path for r in stub.requests] == [
        f"/v1beta/models/{FLASH}:generateContent",
        f"/v1beta/models/{FLASH}:streamGenerateContent?alt=sse",
        f"/v1beta/models/{FLASH}:countTokens",
    ]


# -- failures --------------------------------------------------------------------------------


async def test_429_is_a_client_error_with_retry_after(stub: GeminiStub, transport: str) -> None:
    stub.fail_next(status=429, retry_after="2")
    async with gemini(stub.base_url, transport) as client:
        with pytest.raises(errors.ClientError) as caught:
            await client.aio.models.generate_content(model=FLASH, contents="hi")
        # The fault was used up: the next call succeeds.
        assert (await client.aio.models.generate_content(model=FLASH, contents="hi")).text

    error = caught.value
    assert error.code == 429
    assert error.status == "RESOURCE_EXHAUSTED"
    # The raw HTTP response (aiohttp.ClientResponse or httpx2.Response) keeps the headers.
    assert error.response.headers.get("retry-after") == "2"
    # The body's google.rpc.RetryInfo, which is how Gemini itself says when to come back.
    [retry_info] = error.details["error"]["details"]
    assert retry_info["retryDelay"] == "2s"
    # No retry by default: one request for the failed call, one for the good one.
    assert len(stub.requests) == 2


async def test_stream_429_raises_on_first_iteration(stub: GeminiStub, transport: str) -> None:
    stub.fail_next(status=429, retry_after=7)
    async with gemini(stub.base_url, transport) as client:
        stream = await client.aio.models.generate_content_stream(model=FLASH, contents="hi")
        assert stub.requests == []  # the request is only sent when iteration starts
        with pytest.raises(errors.ClientError) as caught:
            await anext(stream)
    assert caught.value.code == 429
    assert caught.value.response.headers.get("Retry-After") == "7"


@pytest.mark.parametrize(("status", "name"), [(500, "INTERNAL"), (503, "UNAVAILABLE")])
async def test_5xx_is_a_server_error_without_retry(
    stub: GeminiStub, transport: str, status: int, name: str
) -> None:
    stub.fail_next(status=status)
    async with gemini(stub.base_url, transport) as client:
        with pytest.raises(errors.ServerError) as caught:
            await client.aio.models.generate_content(model=FLASH, contents="hi")
    assert (caught.value.code, caught.value.status) == (status, name)
    assert isinstance(caught.value, errors.APIError)
    assert len(stub.requests) == 1


async def test_error_event_mid_stream(stub: GeminiStub, transport: str) -> None:
    stub.fail_next(status=503, after_chunks=1)
    async with gemini(stub.base_url, transport) as client:
        stream = await client.aio.models.generate_content_stream(model=FLASH, contents="a b c d")
        first = await anext(stream)
        with pytest.raises(errors.ServerError) as caught:
            await anext(stream)
    assert first.text == split_reply(f"[{FLASH}] a b c d", stub.chunks)[0]
    assert caught.value.code == 503


async def test_fault_for_one_model_only(stub: GeminiStub) -> None:
    stub.fail_next(status=503, model=PRO, times=None)
    async with gemini(stub.base_url) as client:
        for _ in range(2):
            with pytest.raises(errors.ServerError):
                await client.aio.models.generate_content(model=PRO, contents="hi")
        response = await client.aio.models.generate_content(model=FLASH, contents="hi")
        stub.clear_faults()
        recovered = await client.aio.models.generate_content(model=PRO, contents="hi")
    assert response.text == f"[{FLASH}] hi"
    assert recovered.text == f"[{PRO}] hi"
    assert [r.model for r in stub.calls()] == [PRO, PRO, FLASH, PRO]
    assert len(stub.calls(PRO)) == 3


async def test_retry_options_turn_client_retries_on(stub: GeminiStub) -> None:
    stub.fail_next(status=503, times=2)
    retry = types.HttpRetryOptions(attempts=3, initial_delay=0, max_delay=0, jitter=0)
    async with gemini(stub.base_url, retry_options=retry) as client:
        response = await client.aio.models.generate_content(model=FLASH, contents="hi")
    assert response.text == f"[{FLASH}] hi"
    assert len(stub.requests) == 3


async def test_slow_answer_times_out(stub: GeminiStub, transport: str) -> None:
    stub.delay_s = 3.0
    timeout = TimeoutError if transport == "aiohttp" else httpx2.TimeoutException
    async with gemini(stub.base_url, transport, timeout_ms=300) as client:
        started = time.monotonic()
        with pytest.raises(timeout):
            await client.aio.models.generate_content(model=FLASH, contents="hi")
        with pytest.raises(timeout):
            await collect(client, FLASH, "hi")
        assert time.monotonic() - started < 2
    # The client tells the server its deadline, in whole seconds.
    assert stub.requests[0].headers["x-server-timeout"] == "1"


async def test_stream_timeout_is_total_on_aiohttp_per_read_on_httpx2(
    stub: GeminiStub, transport: str
) -> None:
    """0.5 s of stream in 0.1 s gaps, under a 300 ms timeout."""
    stub.model_delay_s[FLASH] = 0.1
    stub.chunks = 5
    async with gemini(stub.base_url, transport, timeout_ms=300) as client:
        if transport == "aiohttp":
            with pytest.raises(TimeoutError):
                await collect(client, FLASH, "a b c d e")
        else:
            assert len(await collect(client, FLASH, "a b c d e")) == 5


async def test_malformed_json_raises_value_error(stub: GeminiStub, transport: str) -> None:
    stub.malformed = True
    async with gemini(stub.base_url, transport) as client:
        # Unary: the SDK's own json.loads fails, so a bare json.JSONDecodeError.
        with pytest.raises(ValueError) as unary:
            await client.aio.models.generate_content(model=FLASH, contents="hi")
        stream = await client.aio.models.generate_content_stream(model=FLASH, contents="a b c")
        first = await anext(stream)
        with pytest.raises(errors.UnknownApiResponseError):
            await anext(stream)
    assert type(unary.value).__name__ == "JSONDecodeError"
    assert first.text == split_reply(f"[{FLASH}] a b c", stub.chunks)[0]


async def test_invalid_key_is_400_api_key_invalid(stub: GeminiStub, transport: str) -> None:
    stub.invalid_keys.add("revoked")
    async with gemini(stub.base_url, transport, api_key="revoked") as client:
        with pytest.raises(errors.ClientError) as caught:
            await client.aio.models.generate_content(model=FLASH, contents="hi")
    error = caught.value
    assert (error.code, error.status) == (400, "INVALID_ARGUMENT")
    assert error.message == "API key not valid. Please pass a valid API key."
    reasons = [d.get("reason") for d in error.details["error"]["details"]]
    assert "API_KEY_INVALID" in reasons
    assert stub.requests[0].api_key == "revoked"


async def test_unknown_model_is_404(stub: GeminiStub) -> None:
    stub.known_models = {FLASH}
    async with gemini(stub.base_url) as client:
        with pytest.raises(errors.ClientError) as caught:
            await client.aio.models.generate_content(model="gemini-0-nope", contents="hi")
    assert (caught.value.code, caught.value.status) == (404, "NOT_FOUND")


async def test_no_retry_options_also_stops_the_silent_reconnect(transport: str) -> None:
    """With aiohttp and no retry_options, a refused connection is retried after 1-10 s."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    refused = aiohttp.ClientConnectorError if transport == "aiohttp" else httpx2.ConnectError
    url = f"http://127.0.0.1:{closed_port}"
    async with gemini(url, transport, retry_options=NO_RETRY) as client:
        started = time.monotonic()
        with pytest.raises(refused):
            await client.aio.models.generate_content(model=FLASH, contents="hi")
        assert time.monotonic() - started < 0.5


def test_stub_starts_and_stops_fast() -> None:
    started = time.monotonic()
    stub = GeminiStub(delay_s=30)
    with stub:
        assert stub.base_url.startswith("http://127.0.0.1:")
    assert time.monotonic() - started < 1
    configured = GeminiStub("fixed", chunks=2, invalid_keys=["bad"])
    configured.reply, configured.chunks, configured.malformed = None, 9, True
    configured.invalid_keys.clear()
    configured.reset()
    assert (configured.reply, configured.chunks, configured.malformed) == ("fixed", 2, False)
    assert configured.invalid_keys == {"bad"}
    assert split_reply("a b c d e", 2) == ["a b c ", "d e"]
    assert split_reply("", 3) == [""]
