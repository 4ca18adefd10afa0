"""What the orchestrator remembers and learns: one place over the memory package.

Before routing it asks for the user's ``RoutingSignals``; before each step, for the context
the specialist should see; after the task, it records the interaction and the turns of the
conversation; when the user rates a task, it updates the record and the statistics that
routing learns from.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from inference.embeddings import Embedder
from memory.cache import ResponseCache
from memory.context import BuiltContext, ContextBuilder
from memory.profiles import Profile, ProfileStore
from memory.sessions import SessionStore, Turn
from memory.vectors import Interaction, VectorMemory
from orchestrator.learning import Learner
from orchestrator.routing import RoutingSignals

logger = logging.getLogger(__name__)

MAX_COMMENT_CHARS = 2000
POOR_RATING = 2  # a rating at or below this evicts the answer from the cache


class FeedbackError(Exception):
    """Feedback that cannot be taken; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Feedback:
    task_id: str
    rating: int
    comment: str = ""

    @classmethod
    def parse(cls, raw: object) -> Feedback:
        """Read ``{"taskId", "rating", "comment"?}``; a bad field raises a 400 naming it."""
        if not isinstance(raw, dict):
            raise FeedbackError(400, 'Feedback is an object: {"taskId": "...", "rating": 1-5}.')
        task_id = raw.get("taskId", raw.get("task_id"))
        if not isinstance(task_id, str) or not task_id.strip():
            raise FeedbackError(400, "'taskId' is required: the id of a finished task.")
        rating = raw.get("rating")
        if isinstance(rating, float) and rating.is_integer():
            rating = int(rating)  # JSON numbers that crossed a protobuf Struct are floats
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise FeedbackError(400, "'rating' must be a whole number from 1 to 5.")
        comment = raw.get("comment", "")
        if not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS:
            raise FeedbackError(
                400, f"'comment' must be text of at most {MAX_COMMENT_CHARS} characters."
            )
        return cls(task_id.strip(), rating, comment)


class Experience:
    def __init__(
        self,
        *,
        profiles: ProfileStore,
        sessions: SessionStore,
        vectors: VectorMemory,
        embedder: Embedder,
        contexts: ContextBuilder,
        learner: Learner,
        answers: ResponseCache | None = None,
    ) -> None:
        self.profiles = profiles
        self.sessions = sessions
        self.vectors = vectors
        self._embedder = embedder
        self._contexts = contexts
        self._learner = learner
        self.answers = answers

    async def signals(self, user_id: str, project: str | None) -> RoutingSignals:
        return await self._learner.signals(user_id, project)

    async def context(
        self,
        *,
        user_id: str,
        context_id: str,
        query: str,
        agent: str,
        project: str | None,
    ) -> BuiltContext:
        return await self._contexts.build(
            user_id=user_id, context_id=context_id, query=query, agent=agent, project=project
        )

    async def remember(self, interaction: Interaction, *, answer: str) -> None:
        """Keep a finished task: the turns of its conversation and the interaction record."""
        user, context = interaction.user_id, interaction.context_id
        now = time.time()
        await self.sessions.append(
            user, context, Turn("user", interaction.query, interaction.task_id, None, now)
        )
        await self.sessions.append(
            user, context, Turn("agent", answer, interaction.task_id, interaction.agent, now)
        )
        vector = (await self._embedder.aembed([interaction.query]))[0].tolist()
        await self.vectors.add_interaction(interaction, vector)

    async def keep(self, interaction: Interaction, *, answer: str, timeout_s: float) -> None:
        """``remember``, bounded in time; a memory failure is logged and never fails the task."""
        try:
            await asyncio.wait_for(self.remember(interaction, answer=answer), timeout_s)
        except Exception:
            logger.exception("could not remember task %s", interaction.task_id)

    async def profile_changed(self, before: Profile, after: Profile) -> None:
        """Forget what was built on the old profile: contexts, and cached answers about
        every project whose description changed."""
        await self._contexts.forget(after.user_id)
        if self.answers is None:
            return
        for project_id, project in before.projects.items():
            if after.projects.get(project_id) != project:
                await self.answers.evict_project(after.user_id, project_id)

    async def rate(self, user_id: str, feedback: Feedback) -> Interaction:
        """Record a rating for the caller's own finished task."""
        record = await self.vectors.interaction(feedback.task_id)
        if record is None or record.user_id != user_id:
            # Another user's task is as unknown as a task that never was.
            raise FeedbackError(404, f"No finished task {feedback.task_id} of yours to rate.")
        if record.rating:
            raise FeedbackError(409, f"Task {feedback.task_id} has already been rated.")
        await self.vectors.rate(feedback.task_id, feedback.rating, feedback.comment)
        await self.profiles.record_rating(user_id, record.agent, record.skill, feedback.rating)
        self._learner.forget_population()
        await self._contexts.forget(user_id)  # its rated examples changed
        if feedback.rating <= POOR_RATING and self.answers is not None:
            evicted = await self.answers.evict_task(user_id, feedback.task_id)
            logger.info("Rating %d evicted %d cached answer(s)", feedback.rating, evicted)
        logger.info(
            "Rating %d for %s/%s from %s", feedback.rating, record.agent, record.skill, user_id
        )
        return record


def artifacts_summary(artifacts: Mapping[str, str], max_chars: int = 400) -> str:
    """Names and opening lines of a task's artifacts, as memory keeps them."""
    parts = []
    for name, text in artifacts.items():
        opening = " ".join(text.split())[:80]
        parts.append(f"{name}: {opening}")
    return "; ".join(parts)[:max_chars]
