"""The orchestrator agent: a thin dispatch of what a message is.

- a rating of an earlier task (a ``feedback`` data part) is recorded and thanked for;
- a reply to a plan (an approval, a change, a ``modifyStep``) goes to the plan's driver;
- anything else is a new request (``orchestrator.answer``): routed, then answered.

Event order on a new request: the task (``submitted``) at once, ``working``, the routing
decision with its scores, then per step a status line and the relayed artifact chunks, and
finally ``completed``, ``failed`` with the reason, or ``input-required`` when no agent fits.
"""

from __future__ import annotations

from typing import Any

from a2a.helpers import new_text_message
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.tasks import TaskUpdater
from a2a.types import Task, TaskState
from a2a.utils.errors import InvalidParamsError, TaskNotFoundError
from google.protobuf.json_format import MessageToDict

from agents.kit import (
    DEFAULT_MAX_PARTS,
    DEFAULT_MAX_TEXT_CHARS,
    UserRequest,
    bearer_token,
    data_item,
    open_task,
)
from orchestrator.answer import Asked, NewRequests
from orchestrator.experience import Experience, Feedback, FeedbackError
from orchestrator.plan import PlanDriver, read_ledger
from orchestrator.registry import AgentRegistry, UnknownAgentError
from orchestrator.relay import AWAITING_KEY, Awaiting, agent_text

__all__ = ["OrchestratorExecutor"]


class OrchestratorExecutor(AgentExecutor):
    def __init__(
        self,
        registry: AgentRegistry,
        requests: NewRequests,
        *,
        experience: Experience | None = None,
        plans: PlanDriver | None = None,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
        max_parts: int = DEFAULT_MAX_PARTS,
    ) -> None:
        self._registry = registry
        self._requests = requests
        self._experience = experience
        self._plans = plans
        self._max_text_chars = max_text_chars
        self._max_parts = max_parts

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        user_id = context.call_context.user.user_name or "anonymous"
        token = bearer_token(context.call_context)
        feedback = data_item(context.message, "feedback")
        if feedback is not None:
            await self._take_feedback(user_id, feedback, event_queue)
            return
        if await self._agent_answer(context, event_queue, user_id, token):
            return
        if await self._plan_message(context, event_queue, user_id, token):
            return
        request = UserRequest.from_message(
            context.message, max_chars=self._max_text_chars, max_parts=self._max_parts
        )
        pinned = _pinned_agents(request.metadata)
        unknown = [a for a in pinned or () if a not in self._registry.ids()]
        if unknown:  # refused before any event, like any other bad input
            raise InvalidParamsError(
                message=str(UnknownAgentError(unknown[0], self._registry.ids()))
            )
        updater = await open_task(context, event_queue)
        await updater.start_work(agent_text("Reading your request and choosing an agent."))
        await self._requests.handle(Asked(updater, request, pinned, user_id, token))

    async def _plan_message(
        self,
        context: RequestContext,
        event_queue: EventQueue,
        user_id: str,
        token: str | None,
    ) -> bool:
        """Handle a message about a plan (approval, modification); False if it is not one."""
        current = context.current_task
        ledger = read_ledger(current.artifacts) if current is not None else None
        modification = data_item(context.message, "modifyStep")
        if self._plans is not None and ledger is not None:
            if ledger.phase != "awaiting-approval":
                raise InvalidParamsError(message="This task's plan is not waiting for a reply.")
            await self._plans.resume(context, event_queue, ledger, user_id, token)
            return True
        if self._plans is not None and modification is not None:
            await self._plans.modify_in_new_task(context, event_queue, modification, user_id, token)
            return True
        if data_item(context.message, "approve") is not None:
            raise InvalidParamsError(message="There is no plan waiting for approval here.")
        if modification is not None:
            raise InvalidParamsError(message="There is no plan to modify here.")
        return False

    async def _agent_answer(
        self,
        context: RequestContext,
        event_queue: EventQueue,
        user_id: str,
        token: str | None,
    ) -> bool:
        """Pass the user's answer to the delegated agent waiting for it; False if none is."""
        task, message = context.current_task, context.message
        awaiting = _awaiting(task)
        if task is None or awaiting is None or message is None:
            return False
        # The answer is held to the limits of any request.
        UserRequest.from_message(message, max_chars=self._max_text_chars, max_parts=self._max_parts)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        journal = read_ledger(task.artifacts)  # a plan's; a direct answer keeps its own
        await self._requests.questions.answer(
            updater, message, awaiting, journal=journal, user_id=user_id, token=token
        )
        return True

    async def _take_feedback(self, user_id: str, raw: object, event_queue: EventQueue) -> None:
        if self._experience is None:
            raise InvalidParamsError(message="This server keeps no feedback.")
        try:
            feedback = Feedback.parse(raw)
            record = await self._experience.rate(user_id, feedback)
        except FeedbackError as error:
            if error.status == 404:
                raise TaskNotFoundError(message=str(error)) from None
            raise InvalidParamsError(message=str(error)) from None
        reply = new_text_message(
            f"Thank you: {feedback.rating}/5 recorded for the {record.agent} agent's work."
        )
        await event_queue.enqueue_event(reply)

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        # A run in flight is ended by RunningTasks (agents.kit.runs), which wraps this
        # executor: its delegations are canceled, then it ends canceled. What comes here is
        # a task with no run in flight (a plan waiting for approval): it only needs the end.
        awaiting = _awaiting(context.current_task)
        if awaiting is not None:  # the agent waiting for the user's answer is told too
            user_id = context.call_context.user.user_name or "anonymous"
            token = bearer_token(context.call_context)
            await self._requests.questions.cancel(awaiting, user_id=user_id, token=token)
        if context.task_id and context.context_id:
            await TaskUpdater(event_queue, context.task_id, context.context_id).cancel()


def _awaiting(task: Task | None) -> Awaiting | None:
    """The delegated agent's task waiting for the user's answer, if ``task`` waits for one."""
    if task is None or task.status.state != TaskState.TASK_STATE_INPUT_REQUIRED:
        return None
    if AWAITING_KEY not in task.metadata:
        return None
    return Awaiting.from_metadata(MessageToDict(task.metadata).get(AWAITING_KEY))


def _pinned_agents(metadata: dict[str, Any]) -> list[str] | None:
    pinned = metadata.get("agent") or metadata.get("agents")
    if pinned is None:
        return None
    return [pinned] if isinstance(pinned, str) else [str(a) for a in pinned]
