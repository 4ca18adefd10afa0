"""The work order: the whole contract between whoever delegates and a specialist.

A specialist always receives the user's request whole, as the user wrote it; what it is
asked to do of it travels beside it (``part``), with the files to check or change, the plan
step, the context block and the user's changes. This module is the only place that knows how
an order is laid out in an A2A message: a text part with the request, and one data part.

A client that calls a specialist directly sends just text, and may add a data part with
``files`` (``[{"name", "text"}]``) and ``dialect``; everything else is the orchestrator's.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from a2a.helpers import new_data_part
from a2a.types import Message, Part, Role

from agents.kit.requests import DEFAULT_MAX_PARTS, DEFAULT_MAX_TEXT_CHARS, UserRequest
from memory.context import BuiltContext

__all__ = ["Complexity", "File", "Finding", "Repair", "StepKind", "StepRef", "WorkOrder"]

StepKind = Literal["answer", "analysis", "planning", "implementation", "validation", "synthesis"]
Complexity = Literal["simple", "medium", "complex"]
_STEP_KINDS: tuple[str, ...] = get_args(StepKind)
_COMPLEXITIES: tuple[str, ...] = get_args(Complexity)


@dataclass(frozen=True, slots=True)
class File:
    """A file to check or change, by its path or artifact name."""

    name: str
    text: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One validator finding a repair is asked to remove."""

    line: int | None
    rule: str
    message: str


@dataclass(frozen=True, slots=True)
class Repair:
    """Rewrite ``file`` so that ``findings`` go away."""

    file: File
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True)
class StepRef:
    """Which step of a plan this order is: its id, kind and component (if any)."""

    id: str
    kind: StepKind = "answer"
    component: str | None = None


@dataclass(frozen=True, slots=True)
class WorkOrder:
    request: str  # the user's words, whole
    part: str = ""  # what this agent is asked to do of it; "" is all of it
    files: tuple[File, ...] = ()
    dialect: str | None = None  # of the SQL in ``files``, when the caller names one
    step: StepRef | None = None
    components: tuple[str, ...] = ()  # the plan's components, as approved
    tech_stack: tuple[str, ...] = ()
    context: BuiltContext | None = None  # what memory knows that bears on this
    complexity: Complexity | None = None
    changes: Mapping[str, str] = field(default_factory=dict)  # the user's changes to the step
    repair: Repair | None = None

    @property
    def kind(self) -> StepKind:
        return self.step.kind if self.step is not None else "answer"

    def to_message(self) -> Message:
        parts = [Part(text=self.request)]
        data = _order_data(self)
        if data:
            parts.append(new_data_part(data))
        return Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()), parts=parts)

    @classmethod
    def from_message(
        cls,
        message: Message | None,
        *,
        max_chars: int = DEFAULT_MAX_TEXT_CHARS,
        max_parts: int = DEFAULT_MAX_PARTS,
    ) -> WorkOrder:
        """Read an order; bad input raises the protocol's InvalidParams error."""
        request = UserRequest.from_message(message, max_chars=max_chars, max_parts=max_parts)
        return cls.from_request(request)

    @classmethod
    def from_request(cls, request: UserRequest) -> WorkOrder:
        data = request.data
        plan = _mapping(data.get("plan"))
        changes = _mapping(data.get("changes"))
        complexity = data.get("complexity")
        return cls(
            request=request.text,
            part=_text(data.get("part")),
            files=_files(data.get("files")),
            dialect=data.get("dialect") if isinstance(data.get("dialect"), str) else None,
            step=_step(data.get("step")),
            components=_strings(plan.get("components")),
            tech_stack=_strings(plan.get("techStack")),
            context=_context(data.get("context")),
            complexity=complexity if complexity in _COMPLEXITIES else None,
            changes={str(k): str(v) for k, v in changes.items()},
            repair=_repair(data.get("repair")),
        )


def _order_data(order: WorkOrder) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if order.part:
        data["part"] = order.part
    if order.files:
        data["files"] = [{"name": f.name, "text": f.text} for f in order.files]
    if order.dialect is not None:
        data["dialect"] = order.dialect
    if order.step is not None:
        step = order.step
        data["step"] = {"id": step.id, "kind": step.kind, "component": step.component}
    if order.components or order.tech_stack:
        data["plan"] = {"components": list(order.components), "techStack": list(order.tech_stack)}
    if order.context is not None:
        data["context"] = order.context.to_dict()
    if order.complexity is not None:
        data["complexity"] = order.complexity
    if order.changes:
        data["changes"] = dict(order.changes)
    if order.repair is not None:
        repair = order.repair
        data["repair"] = {
            "file": repair.file.name,
            "text": repair.file.text,
            "issues": [
                {"line": f.line, "rule": f.rule, "message": f.message} for f in repair.findings
            ],
        }
    return data


def _context(raw: object) -> BuiltContext | None:
    return BuiltContext.from_dict(raw) if isinstance(raw, dict) else None


def _mapping(raw: object) -> dict[str, Any]:
    return raw if isinstance(raw, dict) else {}


def _text(raw: object) -> str:
    return raw if isinstance(raw, str) else ""


def _strings(raw: object) -> tuple[str, ...]:
    return tuple(str(item) for item in raw) if isinstance(raw, list) else ()


def _files(raw: object) -> tuple[File, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        File(str(item.get("name") or f"file-{i}"), str(item.get("text") or ""))
        for i, item in enumerate(raw, start=1)
        if isinstance(item, dict)
    )


def _step(raw: object) -> StepRef | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        return None
    kind = raw.get("kind")
    component = raw.get("component")
    return StepRef(
        raw["id"],
        kind if kind in _STEP_KINDS else "answer",
        component if isinstance(component, str) else None,
    )


def _repair(raw: object) -> Repair | None:
    if not isinstance(raw, dict):
        return None
    issues = raw.get("issues")
    findings = tuple(
        Finding(
            _line(item.get("line")),
            str(item.get("rule", "")),
            str(item.get("message", "")),
        )
        for item in (issues if isinstance(issues, list) else [])
        if isinstance(item, dict)
    )
    return Repair(File(str(raw.get("file", "")), str(raw.get("text", ""))), findings)


def _line(raw: object) -> int | None:
    # JSON numbers that crossed a protobuf Struct are floats.
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    return raw if isinstance(raw, int) and not isinstance(raw, bool) else None
