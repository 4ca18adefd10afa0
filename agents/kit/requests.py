"""Reading an incoming A2A message, and publishing its task as the first event."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from a2a.helpers import get_data_parts, get_text_parts, new_task_from_user_message
from a2a.server.agent_execution import RequestContext
from a2a.server.events import EventQueue
from a2a.server.tasks import TaskUpdater
from a2a.types import Message
from a2a.utils.errors import ContentTypeNotSupportedError, InvalidParamsError
from google.protobuf.json_format import MessageToDict

__all__ = ["DEFAULT_MAX_PARTS", "DEFAULT_MAX_TEXT_CHARS", "UserRequest", "data_item", "open_task"]

DEFAULT_MAX_TEXT_CHARS = 20_000
DEFAULT_MAX_PARTS = 20


@dataclass(frozen=True, slots=True)
class UserRequest:
    """The parts of an incoming A2A message an agent works from."""

    text: str
    data: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_message(
        cls,
        message: Message | None,
        *,
        max_chars: int = DEFAULT_MAX_TEXT_CHARS,
        max_parts: int = DEFAULT_MAX_PARTS,
        require_text: bool = True,
    ) -> UserRequest:
        """Validate and read a message; bad input raises the protocol's InvalidParams error.

        Control messages (a plan's approval, a step modification) may carry only data.
        """
        if message is None or not message.parts:
            raise InvalidParamsError(message="The message has no parts; send a text part.")
        if len(message.parts) > max_parts:
            raise InvalidParamsError(
                message=f"The message has {len(message.parts)} parts; the limit is {max_parts}."
            )
        _refuse_files(message)
        text = "\n".join(t for t in get_text_parts(message.parts) if t.strip()).strip()
        data: dict[str, Any] = {}
        for item in get_data_parts(message.parts):
            if isinstance(item, dict):
                data.update(item)
        if not text and require_text:
            raise InvalidParamsError(
                message="The message has no text: send a text part describing the task."
            )
        if len(text) > max_chars:
            raise InvalidParamsError(
                message=f"The text is {len(text)} characters long; the limit is {max_chars}."
            )
        metadata = MessageToDict(message.metadata) if message.HasField("metadata") else {}
        return cls(text=text, data=data, metadata=metadata)


def _refuse_files(message: Message) -> None:
    """Every agent here reads text and JSON data parts; a file (raw bytes or a URL) would be
    ignored without a word, so it is refused with the protocol's error (spec 3.1.1)."""
    for part in message.parts:
        if part.HasField("raw") or part.HasField("url"):
            media_type = part.media_type or "a file"
            raise ContentTypeNotSupportedError(
                message=f"This agent reads text and JSON data parts, not {media_type}: "
                "send the content as text."
            )


async def open_task(context: RequestContext, event_queue: EventQueue) -> TaskUpdater:
    """Publish the task as the first event, or continue the one the message belongs to.

    Callers validate the request before this, so bad input gets the protocol's error and
    no task at all.
    """
    task = context.current_task
    if task is None:
        assert context.message is not None
        task = new_task_from_user_message(context.message)
        await event_queue.enqueue_event(task)
    return TaskUpdater(event_queue, task.id, task.context_id)


def data_item(message: Message | None, key: str) -> object | None:
    """``key`` of the first data part that has it."""
    if message is None:
        return None
    for item in get_data_parts(message.parts):
        if isinstance(item, dict) and key in item:
            value: object = item[key]
            return value
    return None
