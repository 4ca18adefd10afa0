"""ListTasks as the A2A specification words it, on top of the SDK's request handler.

The SDK parses request parameters with ``ignore_unknown_fields=True``, which also turns an
unknown enum value into 0: ``{"status": "INVALID_STATUS"}`` arrives as "no status filter" and
lists every task. The handler below reads the status the client actually sent from the HTTP
request (``HTTP_REQUEST_KEY`` in the call context, put there by the serving context builder)
and answers an unknown one with InvalidParams (-32602 on JSON-RPC, 400 on REST). It also
accepts the short form the HTTP+JSON binding's own example uses (``GET /tasks?status=working``,
spec section 11.5) and reports ``pageSize`` as the size of the page it returns.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

from a2a.server.context import ServerCallContext
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    ListTasksResponse,
    Message,
    SendMessageRequest,
    Task,
    TaskState,
)
from a2a.utils.errors import InvalidParamsError
from starlette.requests import Request

from memory.sql import is_outage

# Where the serving context builder keeps the Starlette request of the current call.
HTTP_REQUEST_KEY = "http_request"
# Set in the request's scope state when the call failed because the database is away: the
# SDK answers any exception as an internal error, the route then answers 503 instead.
DATABASE_OUTAGE_STATE = "database_outage"


@contextmanager
def noting_outage(context: ServerCallContext) -> Iterator[None]:
    """Mark the call's HTTP request when what it raises is a database outage."""
    try:
        yield
    except Exception as error:
        request = context.state.get(HTTP_REQUEST_KEY)
        if isinstance(request, Request) and is_outage(error):
            request.scope.setdefault("state", {})[DATABASE_OUTAGE_STATE] = True
        raise


_PREFIX = "TASK_STATE_"
_STATES: dict[str, int] = dict(TaskState.items())
_NUMBERS = frozenset(_STATES.values())


def parse_task_state(raw: object) -> TaskState | None:
    """The task state a client named, or ``None`` when it names none.

    Accepts the ProtoJSON name (``TASK_STATE_WORKING``), its number, and the short form
    (``working``, ``input-required``) in any case. Raises ``InvalidParamsError`` otherwise.
    """
    if raw is None or raw == "":
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        if raw in _NUMBERS:
            return cast("TaskState", raw)
    elif isinstance(raw, str):
        text = raw.strip()
        if text.isdigit():
            return parse_task_state(int(text))
        name = text.upper().replace("-", "_")
        if not name.startswith(_PREFIX):
            name = _PREFIX + name
        if name in _STATES:
            return cast("TaskState", _STATES[name])
    states = ", ".join(n for n in _STATES if n != "TASK_STATE_UNSPECIFIED")
    raise InvalidParamsError(message=f"Invalid status {raw!r}; expected one of: {states}")


async def sent_params(context: ServerCallContext) -> Mapping[str, Any]:
    """The parameters of this call as the client sent them, before protobuf parsing.

    The JSON-RPC ``params`` object for a POST, the query string for a REST GET, and an empty
    mapping when the call did not come over HTTP (or its body is not a JSON object).
    """
    request = context.state.get(HTTP_REQUEST_KEY)
    if not isinstance(request, Request):
        return {}
    if request.method == "GET":
        return request.query_params
    try:
        body = await request.json()  # Starlette caches the body the dispatcher already read
    except ValueError:
        return {}
    params = body.get("params") if isinstance(body, dict) else None
    return params if isinstance(params, dict) else {}


class TaskListingHandler(DefaultRequestHandler):
    """The SDK's request handler with ListTasks' status and pageSize handled per the spec."""

    async def on_list_tasks(
        self, params: ListTasksRequest, context: ServerCallContext
    ) -> ListTasksResponse:
        state = parse_task_state((await sent_params(context)).get("status"))
        if state is not None and state != params.status:
            request = ListTasksRequest()
            request.CopyFrom(params)
            request.status = state
            params = request
        with noting_outage(context):
            page: ListTasksResponse = await super().on_list_tasks(params, context)
        # "The page size used for this response": the tasks on this page, 0 when none match.
        page.page_size = len(page.tasks)
        return page

    async def on_get_task(self, params: GetTaskRequest, context: ServerCallContext) -> Task | None:
        with noting_outage(context):
            task: Task | None = await super().on_get_task(params, context)
        return task

    async def on_cancel_task(
        self, params: CancelTaskRequest, context: ServerCallContext
    ) -> Task | None:
        with noting_outage(context):
            task: Task | None = await super().on_cancel_task(params, context)
        return task

    async def on_message_send(
        self, params: SendMessageRequest, context: ServerCallContext
    ) -> Message | Task:
        with noting_outage(context):
            answer: Message | Task = await super().on_message_send(params, context)
        return answer
