"""The architecture specialist: a system design as prose and as a canvas diagram."""

from __future__ import annotations

import json

from agents.components import canvas
from agents.specialist import SpecialistExecutor, Work
from memory.catalogue import SERVICES, Component, services_for, system_for

DEFAULT_STACK = ["Python 3.11", "FastAPI", "PostgreSQL", "Redis"]

SYSTEM_PROMPT = (
    "You are a senior software architect. Given a request and the components of the "
    "proposed system, explain in short Markdown paragraphs how the components work together, "
    "how the system scales, and the main trade-offs. Be concrete and brief."
)


ANALYSIS_PROMPT = (
    "You are a senior software architect. Given a request and the components it needs, list "
    "in short Markdown bullets the functional requirements, the non-functional ones "
    "(scale, security, consistency) and the main risks. Be concrete and brief."
)
PLANNING_PROMPT = (
    "You are a senior software architect. Given a request and the plan's components, write "
    "a short Markdown paragraph on the approach: in which order to build them, how they talk "
    "to each other, and what to watch out for. Be concrete and brief."
)


class ArchitectureExecutor(SpecialistExecutor):
    agent_id = "architecture"
    title = "The architecture agent"

    async def work(self, work: Work) -> str:
        kind = work.order.kind
        if kind == "analysis":
            return await self._analysis(work)
        if kind == "planning":
            return await self._planning(work)
        return await self._design(work)

    async def _analysis(self, work: Work) -> str:
        request = work.order.request
        components = services_for(request)
        outline = _outline(components)
        await work.say(f"Analysing the request: {len(components)} components in scope.")
        header = f"# Analysis\n\n> {request}\n\n## In scope\n\n{outline}\n\n## Requirements\n\n"
        prompt = f"Request: {request}\n\nComponents:\n{outline}\n\nRequirements and risks:"
        await work.stream(
            "analysis.md", "text/markdown", work.generate(ANALYSIS_PROMPT, prompt), prefix=header
        )
        return f"Analysis ready: {len(components)} components in scope."

    async def _planning(self, work: Work) -> str:
        request = work.order.request
        wanted = work.order.components
        components = [c for c in services_for(request, limit=len(SERVICES)) if c.module in wanted]
        components = components or services_for(request)
        stack = list(work.order.tech_stack) or DEFAULT_STACK
        tasks = "\n".join(
            f"{n}. **{c.name}** (`{c.module}`): {c.responsibility}"
            + (f" Tables: {', '.join(t.name for t in c.tables)}." if c.tables else "")
            for n, c in enumerate(components, start=1)
        )
        header = (
            f"# Plan\n\n> {request}\n\n## Tech stack\n\n{', '.join(stack)}\n\n"
            f"## Components to build\n\n{tasks}\n\n## Approach\n\n"
        )
        prompt = f"Request: {request}\n\nComponents:\n{_outline(components)}\n\nApproach:"
        await work.say(f"Planning {len(components)} components.")
        await work.stream(
            "plan.md", "text/markdown", work.generate(PLANNING_PROMPT, prompt), prefix=header
        )
        return f"Plan ready: {len(components)} components."

    async def _design(self, work: Work) -> str:
        request = work.order.request
        components = system_for(request)
        outline = _outline(components)
        await work.say(f"Designing a system of {len(components)} components.")
        header = (
            f"# Architecture\n\n> {request}\n\n## Components\n\n{outline}\n\n## Design notes\n\n"
        )
        prompt = f"Request: {request}\n\nComponents:\n{outline}\n\nDesign notes:"
        await work.stream(
            "architecture.md",
            "text/markdown",
            work.generate(SYSTEM_PROMPT, prompt),
            prefix=header,
            suffix=work.references,
        )
        diagram = canvas(components)
        await work.send(
            "architecture.canvas.json", json.dumps(diagram, indent=2), "application/json"
        )
        return (
            f"Architecture ready: {len(diagram['nodes'])} components, "  # type: ignore[arg-type]
            f"{len(diagram['edges'])} connections."  # type: ignore[arg-type]
        )


def _outline(components: list[Component]) -> str:
    return "\n".join(f"- **{c.name}** ({c.kind}): {c.responsibility}" for c in components)
