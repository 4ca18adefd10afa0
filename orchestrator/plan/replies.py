"""Replies to a plan: an approval (of all or some components), a change, a step modification."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from agents.kit import UserRequest
from memory.catalogue import SERVICES
from orchestrator.plan.ledger import Ledger

__all__ = ["CHANGE_KEYS", "MODES", "Approval", "Mode", "Modification", "ModificationError"]

Mode = Literal["preview", "only", "cascade"]
MODES: tuple[Mode, ...] = ("preview", "only", "cascade")
CHANGE_KEYS = frozenset({"requirements", "techStack", "complexity", "instructions"})
_PROCEED = re.compile(
    r"^\s*(yes|ok|okay|go|go ahead|proceed|approve|approved|continue|lgtm)\b", re.I
)


class ModificationError(ValueError):
    """A ``modifyStep`` that cannot be applied; the message says why."""


@dataclass(frozen=True, slots=True)
class Modification:
    step: str
    changes: dict[str, Any]
    mode: Mode

    @classmethod
    def parse(cls, raw: object, ledger: Ledger) -> Modification:
        if not isinstance(raw, dict):
            raise ModificationError(
                'modifyStep is an object: {"step": "<id>", "changes": {...}, "mode": "preview"}.'
            )
        step = raw.get("step")
        if not isinstance(step, str) or step not in ledger.steps:
            known = ", ".join(ledger.steps)
            raise ModificationError(f"Unknown step {step!r}; this plan's steps are: {known}.")
        mode = raw.get("mode", "preview")
        if mode not in MODES:
            raise ModificationError(f"'mode' must be one of {', '.join(MODES)}.")
        changes = raw.get("changes", {})
        if not isinstance(changes, dict) or not set(changes) <= CHANGE_KEYS:
            raise ModificationError(
                f"'changes' may hold {', '.join(sorted(CHANGE_KEYS))}; got {changes!r}."[:300]
            )
        if ledger.steps[step].agent == "orchestrator" and mode != "preview":
            raise ModificationError(f"The {step} step is written from the others; change those.")
        return cls(step, dict(changes), mode)


@dataclass(frozen=True, slots=True)
class Approval:
    """A reply to the plan: proceed (with all or some components) or change the plan."""

    components: list[str] | None = None  # None: all of them
    change: str | None = None  # free text or a changed plan: plan again first

    @classmethod
    def parse(cls, request: UserRequest, ledger: Ledger) -> Approval:
        data = request.data
        if "plan" in data:
            return cls(change=json.dumps(data["plan"])[:2000])
        approve = data.get("approve")
        if isinstance(approve, dict):
            wanted = approve.get("components")
            if isinstance(wanted, list):
                return cls(components=_known(ledger, [str(c) for c in wanted]))
            return cls()
        if approve is True:
            return cls()
        text = request.text
        named = _named_components(ledger, text)
        if _PROCEED.match(text) or re.match(r"^\s*only\b", text, re.I):
            return cls(components=named or None)
        return cls(change=text)


def _known(ledger: Ledger, wanted: list[str]) -> list[str]:
    unknown = [c for c in wanted if c not in ledger.components]
    if unknown or not wanted:
        raise ModificationError(
            f"Unknown component(s) {', '.join(unknown) or '(none given)'}; "
            f"the plan has: {', '.join(ledger.components)}."
        )
    return wanted


def _named_components(ledger: Ledger, text: str) -> list[str]:
    lowered = text.lower()
    named = []
    for component in SERVICES:
        if component.module not in ledger.components:
            continue
        words = (component.module, component.name.lower(), *component.triggers)
        if any(re.search(rf"\b{re.escape(w)}", lowered) for w in words):
            named.append(component.module)
    return named
