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

The server's lifecycle and fault queue are ``loopback.LoopbackServer``'s.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, NamedTuple

from loopback import Fault, LoopbackServer, count_tokens, split_reply
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


def fault_response(fault: Fault) -> JSONResponse:
    """Gemini's answer for a fault: its error JSON, and a RetryInfo detail for Retry-After."""
    details: list[dict[str, Any]] = []
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = fault.retry_after
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": f"{fault.retry_after}s",
            }
        )
    return JSONResponse(
        error_body(fault.status, fault.message, details),
        status_code=fault.status,
        headers=headers,
        media_type=JSON_TYPE,
    )


class GeminiStub(LoopbackServer):
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

    name = "gemini-stub"

    def __init__(
        self,
        reply: Reply | None = None,
        *,
        chunks: int = 3,
        delay_s: float = 0.0,
        invalid_keys: Iterable[str] = (),
        known_models: Iterable[str] | None = None,
    ) -> None:
        super().__init__(
            Starlette(
                routes=[
                    Route("/{version}/models/{target}", self._models, methods=["POST"]),
                    Route("/{rest:path}", self._not_found, methods=["GET", "POST", "DELETE"]),
                ]
            )
        )
        known = None if known_models is None else frozenset(known_models)
        self._initial = (reply, chunks, delay_s, frozenset(invalid_keys), known)
        self.requests: list[RecordedRequest] = []
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

    # -- control ---------------------------------------------------------------------------

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

    # -- server side -----------------------------------------------------------------------

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
            return fault_response(fault)
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
