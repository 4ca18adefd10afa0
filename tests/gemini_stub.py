"""A Gemini-compatible HTTP server on loopback, for driving the real ``google-genai`` client.

The real Gemini API is out of reach in tests, so this stub speaks its wire format:

* ``POST /{version}/models/{model}:generateContent`` answers one ``GenerateContentResponse``;
* ``POST /{version}/models/{model}:streamGenerateContent?alt=sse`` answers the same reply as
  server-sent events, ``data: {...}`` per chunk, the last one carrying ``finishReason`` and
  ``usageMetadata``;
* ``POST /{version}/models/{model}:countTokens`` answers ``{"totalTokens": n}``.

google-genai 3.x calls ``/v1/...`` by default (``/v1beta/...`` with ``api_version="v1beta"``);
any version segment is accepted. Errors use Gemini's JSON shape
(``{"error": {"code", "message", "status", "details"}}``).

    with GeminiStub() as stub:
        client = genai.Client(api_key="k", http_options=HttpOptions(base_url=stub.base_url))
        stub.fail_next(status=429, retry_after="2")
        ...
        assert stub.requests[-1].model == "gemini-2.5-flash"

Every knob is a plain attribute or method, safe to change from the test's thread while the
server runs in its own.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

Reply = str | Callable[[dict[str, Any]], str]
"""A fixed answer, or a function of the request's JSON body that returns the answer."""

JSON_TYPE = "application/json; charset=UTF-8"
SSE_TYPE = "text/event-stream"
# Gemini ends each server-sent event with a blank CRLF line.
SSE_END = "\r\n\r\n"

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGES = {
    400: "Request contains an invalid argument.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    429: (
        "You exceeded your current quota, please check your plan and billing details. "
        "For more information on this error, head to: https://ai.google.dev/gemini-api/docs/"
        "rate-limits."
    ),
    500: (
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting"
    ),
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}
_ACTIONS = ("generateContent", "streamGenerateContent", "countTokens")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_PIECE = re.compile(r"\s*\S+\s*")


def count_tokens(text: str) -> int:
    """The stub's deterministic token count: words and punctuation marks."""
    return len(_TOKEN.findall(text))


def split_reply(text: str, chunks: int) -> list[str]:
    """``text`` in at most ``chunks`` pieces cut between words; the pieces join to ``text``."""
    words = _PIECE.findall(text)
    if chunks <= 1 or len(words) <= 1:
        return [text]
    count = min(chunks, len(words))
    size, extra = divmod(len(words), count)
    pieces: list[str] = []
    start = 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        pieces.append("".join(words[start:end]))
        start = end
    return pieces


def error_body(
    status: int, message: str | None = None, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Gemini's error JSON for an HTTP status."""
    error: dict[str, Any] = {
        "code": status,
        "message": message or _MESSAGES.get(status, "Unknown error."),
        "status": _STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return {"error": error}


def _texts(content: Any) -> list[str]:
    if not isinstance(content, dict):
        return []
    parts = content.get("parts") or []
    return [str(p["text"]) for p in parts if isinstance(p, dict) and "text" in p]


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user turn of a request body ("" when there is none)."""
    for content in reversed(body.get("contents") or []):
        if isinstance(content, dict) and content.get("role", "user") == "user":
            return "".join(_texts(content))
    return ""


def prompt_tokens(body: dict[str, Any]) -> int:
    """Tokens of every text in the request: system instruction and all turns."""
    texts = _texts(body.get("systemInstruction"))
    for content in body.get("contents") or []:
        texts.extend(_texts(content))
    return sum(count_tokens(text) for text in texts)


class RecordedRequest(NamedTuple):
    """One request as the stub received it; headers have lower-case names."""

    model: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def action(self) -> str:
        """``generateContent``, ``streamGenerateContent`` or ``countTokens``."""
        return self.path.partition("?")[0].rpartition(":")[2]

    @property
    def api_key(self) -> str | None:
        return self.headers.get("x-goog-api-key")


@dataclass
class Fault:
    """A queued misbehaviour; ``times=None`` means on every matching request."""

    status: int
    times: int | None = 1
    model: str | None = None
    retry_after: str | None = None
    message: str | None = None
    after_chunks: int | None = None

    def response(self) -> JSONResponse:
        details: list[dict[str, Any]] = []
        headers: dict[str, str] = {}
        if self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{self.retry_after}s",
                }
            )
        return JSONResponse(
            error_body(self.status, self.message, details),
            status_code=self.status,
            headers=headers,
            media_type=JSON_TYPE,
        )


class GeminiStub:
    """A Gemini-compatible server on 127.0.0.1, run in a background thread.

    Attributes the tests may read or set at any time:

    * ``base_url``: ``http://127.0.0.1:<port>`` (valid once started);
    * ``requests``: every request received, as ``RecordedRequest`` tuples, oldest first;
    * ``reply``: the answer (``None``: ``"[<model>] " + the last user text``);
    * ``chunks``: how many pieces a streamed answer is cut into (fewer if it has fewer words);
    * ``finish_reason``: ``finishReason`` of the answer (``"STOP"``);
    * ``delay_s`` / ``model_delay_s[model]``: seconds to wait before answering, and before each
      streamed chunk (the per-model value wins);
    * ``malformed`` / ``malformed_models``: answer 200 with invalid JSON, or a stream whose
      second chunk (the only one, for a one-chunk reply) is broken;
    * ``invalid_keys``: API keys answered with Gemini's 400 ``API_KEY_INVALID``;
    * ``known_models``: when not ``None``, other models get 404 ``NOT_FOUND``.
    """

    def __init__(
        self,
        reply: Reply | None = None,
        *,
        chunks: int = 3,
        delay_s: float = 0.0,
        invalid_keys: Iterable[str] = (),
        known_models: Iterable[str] | None = None,
    ) -> None:
        known = None if known_models is None else frozenset(known_models)
        self._initial = (reply, chunks, delay_s, frozenset(invalid_keys), known)
        self.requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.reply: Reply | None
        self.chunks: int
        self.finish_reason: str
        self.delay_s: float
        self.model_delay_s: dict[str, float] = {}
        self.malformed: bool
        self.malformed_models: set[str] = set()
        self.invalid_keys: set[str]
        self.known_models: set[str] | None
        self.reset()
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.app = Starlette(
            routes=[
                Route("/{version}/models/{target}", self._models, methods=["POST"]),
                Route("/{rest:path}", self._not_found, methods=["GET", "POST", "DELETE"]),
            ]
        )

    # -- control ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(
        self,
        status: int = 429,
        *,
        times: int | None = 1,
        model: str | None = None,
        retry_after: str | float | None = None,
        message: str | None = None,
        after_chunks: int | None = None,
    ) -> None:
        """Answer the next ``times`` model calls (of ``model`` only, if given) with an error.

        ``times=None`` keeps failing until ``clear_faults()``. ``retry_after`` sets the
        ``Retry-After`` header and a ``google.rpc.RetryInfo`` detail. ``after_chunks=n`` makes a
        streamed call send ``n`` good chunks (never the last one), then the error as a
        ``data:`` event (HTTP 200); a non-streamed call just gets the error.
        """
        fault = Fault(
            status=status,
            times=times,
            model=model,
            retry_after=None if retry_after is None else str(retry_after),
            message=message,
            after_chunks=after_chunks,
        )
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """Forget recorded requests and faults; every knob goes back to its constructed value."""
        reply, chunks, delay_s, invalid_keys, known_models = self._initial
        self.clear_faults()
        self.requests.clear()
        self.reply = reply
        self.chunks = chunks
        self.finish_reason = "STOP"
        self.delay_s = delay_s
        self.model_delay_s.clear()
        self.malformed = False
        self.malformed_models.clear()
        self.invalid_keys = set(invalid_keys)
        self.known_models = None if known_models is None else set(known_models)

    def calls(self, model: str | None = None) -> list[RecordedRequest]:
        """Recorded model calls (generate, stream, count), of ``model`` only if given."""
        return [
            r
            for r in list(self.requests)
            if r.action in _ACTIONS and (model is None or r.model == model)
        ]

    def answer_for(self, model: str, body: dict[str, Any]) -> str:
        """The text the stub answers ``body`` sent to ``model`` with."""
        reply = self.reply
        if reply is None:
            return f"[{model}] {last_user_text(body)}"
        if isinstance(reply, str):
            return reply
        return reply(body)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> GeminiStub:
        if self._thread is not None:
            raise RuntimeError("GeminiStub already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit it: without it every keep-alive answer waits ~40 ms on
        # Nagle's algorithm and the client's delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            loop="asyncio",
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._stopping.clear()
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="gemini-stub", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise RuntimeError("GeminiStub failed to start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> GeminiStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- server side -----------------------------------------------------------------------

    async def _sleep(self, seconds: float) -> None:
        """Sleep, cut short when the stub stops so shutdown never waits on a slow answer."""
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, 0.05))

    def _take_fault(self, model: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.model is not None and fault.model != model:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _record(self, request: Request, model: str, body: Any) -> None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(RecordedRequest(model, path, headers, body))

    async def _not_found(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self._record(request, "", body)
        message = f"Method not found: {request.method} {request.url.path}"
        return JSONResponse(error_body(404, message), status_code=404, media_type=JSON_TYPE)

    async def _models(self, request: Request) -> Response:
        target = request.path_params["target"]
        model, _, action = target.rpartition(":")
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else {}
        except ValueError:
            self._record(request, model, raw.decode(errors="replace"))
            return self._error(400, "Invalid JSON payload received.")
        self._record(request, model, body)
        if action not in _ACTIONS or not model:
            return self._error(404, f"Method not found: {target}")

        await self._sleep(self.model_delay_s.get(model, self.delay_s))

        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            return self._error(
                403,
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API.",
            )
        if key in self.invalid_keys:
            return self._invalid_key()
        if self.known_models is not None and model not in self.known_models:
            version = request.path_params["version"]
            return self._error(
                404,
                f"models/{model} is not found for API version {version}, or is not supported "
                f"for {action}. Call ListModels to see the list of available models and their "
                "supported methods.",
            )
        if not isinstance(body, dict):
            return self._error(400, "Invalid JSON payload received. Expected an object.")

        fault = self._take_fault(model)
        if fault is not None and (action != "streamGenerateContent" or fault.after_chunks is None):
            return fault.response()
        if action == "countTokens":
            return JSONResponse({"totalTokens": prompt_tokens(body)}, media_type=JSON_TYPE)

        text = self.answer_for(model, body)
        malformed = self.malformed or model in self.malformed_models
        response_id = f"stub-{next(self._ids)}"
        if action == "generateContent":
            if malformed:
                return Response('{"candidates": [{"content": {"parts": [{"te', media_type=JSON_TYPE)
            return JSONResponse(
                self._chunk(model, body, text, response_id, last=True, full_text=text),
                media_type=JSON_TYPE,
            )
        events = self._events(model, body, text, response_id, malformed, fault)
        return StreamingResponse(events, media_type=SSE_TYPE)

    async def _events(
        self,
        model: str,
        body: dict[str, Any],
        text: str,
        response_id: str,
        malformed: bool,
        fault: Fault | None,
    ) -> AsyncIterator[str]:
        pieces = split_reply(text, self.chunks)
        broken_at = min(1, len(pieces) - 1) if malformed else None
        for index, piece in enumerate(pieces):
            if index:
                await self._sleep(self.model_delay_s.get(model, self.delay_s))
            if fault is not None and index == min(fault.after_chunks or 0, len(pieces) - 1):
                yield "data: " + json.dumps(error_body(fault.status, fault.message)) + SSE_END
                return
            if index == broken_at:
                yield 'data: {"candidates": [{"content": {"parts": [{"text": "bro' + SSE_END
                return
            last = index == len(pieces) - 1
            chunk = self._chunk(model, body, piece, response_id, last=last, full_text=text)
            yield "data: " + json.dumps(chunk) + SSE_END

    def _chunk(
        self,
        model: str,
        body: dict[str, Any],
        text: str,
        response_id: str,
        *,
        last: bool,
        full_text: str,
    ) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}}
        if last:
            candidate["finishReason"] = self.finish_reason
        candidate["index"] = 0
        chunk: dict[str, Any] = {"candidates": [candidate]}
        if last:
            prompt = prompt_tokens(body)
            answer = count_tokens(full_text)
            chunk["usageMetadata"] = {
                "promptTokenCount": prompt,
                "candidatesTokenCount": answer,
                "totalTokenCount": prompt + answer,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
            }
        chunk["modelVersion"] = model
        chunk["responseId"] = response_id
        return chunk

    def _error(self, status: int, message: str) -> JSONResponse:
        return JSONResponse(error_body(status, message), status_code=status, media_type=JSON_TYPE)

    def _invalid_key(self) -> JSONResponse:
        message = "API key not valid. Please pass a valid API key."
        details: list[dict[str, Any]] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": message,
            },
        ]
        return JSONResponse(
            error_body(400, message, details), status_code=400, media_type=JSON_TYPE
        )
