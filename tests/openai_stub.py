"""An OpenAI-compatible HTTP server on loopback, for driving the real ``openai`` client.

It speaks the part of OpenAI's API the gateway uses, as OpenAI, vLLM, Ollama and llama.cpp's
server do:

* ``POST /v1/chat/completions``: one ``chat.completion``, or with ``"stream": true`` server-sent
  ``chat.completion.chunk`` events, a usage chunk when ``stream_options.include_usage`` asks
  for one, then ``data: [DONE]``;
* ``GET /v1/models``: the model list (what checking a key calls).

Errors use OpenAI's JSON shape (``{"error": {"message", "type", "code"}}``).

    with OpenAIStub() as stub:
        client = openai.AsyncOpenAI(api_key="k", base_url=f"{stub.base_url}/v1")
        stub.fail_next(status=429, retry_after="2")
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any, NamedTuple

from loopback import Fault, LoopbackServer, count_tokens, split_reply
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    429: "insufficient_quota",
    500: "server_error",
    503: "server_error",
}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    words = message or {429: "Rate limit reached.", 401: "Incorrect API key provided."}.get(
        status, "The server had an error while processing your request."
    )
    return {"error": {"message": words, "type": _TYPES.get(status, "api_error"), "code": None}}


def prompt_tokens(body: dict[str, Any]) -> int:
    return sum(count_tokens(str(m.get("content", ""))) for m in body.get("messages") or [])


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return ""


class RecordedRequest(NamedTuple):
    """One request as the stub received it; headers have lower-case names."""

    path: str
    headers: dict[str, str]
    body: Any

    @property
    def model(self) -> str:
        return str(self.body.get("model", "")) if isinstance(self.body, dict) else ""

    @property
    def api_key(self) -> str | None:
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" else None


class OpenAIStub(LoopbackServer):
    """An OpenAI-compatible server on 127.0.0.1, run in a background thread.

    * ``requests``: every request received, oldest first;
    * ``reply``: the answer (``None``: ``"[<model>] " + the last user text``);
    * ``chunks``: how many pieces a streamed answer is cut into;
    * ``usage``: whether streamed answers end with a usage chunk when asked (some servers
      never send one);
    * ``keys``: when not ``None``, the only keys accepted (others get 401), as a hosted
      endpoint; ``None`` accepts any key or none, as a local server does.
    """

    name = "openai-stub"

    def __init__(self, *, keys: Iterable[str] | None = None, chunks: int = 3) -> None:
        super().__init__(
            Starlette(
                routes=[
                    Route("/v1/chat/completions", self._completions, methods=["POST"]),
                    Route("/v1/models", self._models, methods=["GET"]),
                ]
            )
        )
        self._initial = (None if keys is None else frozenset(keys), chunks)
        self.requests: list[RecordedRequest] = []
        self.reply: str | None = None
        self.chunks = chunks
        self.usage = True
        self.keys: set[str] | None = None
        self._ids = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        keys, chunks = self._initial
        self.clear_faults()
        self.requests.clear()
        self.reply = None
        self.chunks = chunks
        self.usage = True
        self.keys = None if keys is None else set(keys)

    def calls(self, model: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in list(self.requests)
            if r.path == "/v1/chat/completions" and (model is None or r.model == model)
        ]

    # -- server side -----------------------------------------------------------------------

    def _refused(self, request: Request) -> JSONResponse | None:
        if self.keys is None:
            return None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token in self.keys:
            return None
        return JSONResponse(error_body(401), status_code=401)

    async def _models(self, request: Request) -> Response:
        self.requests.append(RecordedRequest(request.url.path, dict(request.headers), None))
        if (refused := self._refused(request)) is not None:
            return refused
        listing = [{"id": "stub-model", "object": "model", "created": 0, "owned_by": "stub"}]
        return JSONResponse({"object": "list", "data": listing})

    async def _completions(self, request: Request) -> Response:
        try:
            body: Any = json.loads(await request.body())
        except ValueError:
            return JSONResponse(error_body(400, "Invalid JSON."), status_code=400)
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(RecordedRequest(request.url.path, headers, body))
        if (refused := self._refused(request)) is not None:
            return refused
        model = str(body.get("model", ""))
        fault = self._take_fault(model)
        if fault is not None and (not body.get("stream") or fault.after_chunks is None):
            retry = {} if fault.retry_after is None else {"Retry-After": fault.retry_after}
            return JSONResponse(
                error_body(fault.status, fault.message), status_code=fault.status, headers=retry
            )
        text = self.reply if self.reply is not None else f"[{model}] {last_user_text(body)}"
        completion_id = f"chatcmpl-{next(self._ids)}"
        if not body.get("stream"):
            return JSONResponse(self._completion(completion_id, model, body, text))
        return StreamingResponse(
            self._events(completion_id, model, body, text, fault), media_type="text/event-stream"
        )

    async def _events(
        self, completion_id: str, model: str, body: dict[str, Any], text: str, fault: Fault | None
    ) -> AsyncIterator[str]:
        pieces = split_reply(text, self.chunks)
        for index, piece in enumerate(pieces):
            if fault is not None and index == min(fault.after_chunks or 0, len(pieces) - 1):
                yield f"data: {json.dumps(error_body(fault.status, fault.message))}\n\n"
                return
            last = index == len(pieces) - 1
            delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
            choice = {"index": 0, "delta": delta, "finish_reason": "stop" if last else None}
            yield f"data: {json.dumps(self._chunk(completion_id, model, [choice]))}\n\n"
        if self.usage and (body.get("stream_options") or {}).get("include_usage"):
            usage_chunk = self._chunk(completion_id, model, [])
            usage_chunk["usage"] = self._usage(body, text)
            yield f"data: {json.dumps(usage_chunk)}\n\n"
        yield "data: [DONE]\n\n"

    def _chunk(self, completion_id: str, model: str, choices: list[Any]) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": choices,
        }

    def _usage(self, body: dict[str, Any], text: str) -> dict[str, int]:
        prompt, answer = prompt_tokens(body), count_tokens(text)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": answer,
            "total_tokens": prompt + answer,
        }

    def _completion(
        self, completion_id: str, model: str, body: dict[str, Any], text: str
    ) -> dict[str, Any]:
        message = {"role": "assistant", "content": text}
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": self._usage(body, text),
        }
