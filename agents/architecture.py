"""The architecture specialist: a system design as prose and as a canvas diagram."""

from __future__ import annotations

import json

from agents.base import SpecialistExecutor, Work
from agents.components import canvas, system_for

SYSTEM_PROMPT = (
    "You are a senior software architect. Given a request and the components of the "
    "proposed system, explain in short Markdown paragraphs how the components work together, "
    "how the system scales, and the main trade-offs. Be concrete and brief."
)


class ArchitectureExecutor(SpecialistExecutor):
    agent_id = "architecture"
    title = "The architecture agent"

    async def work(self, work: Work) -> str:
        request = work.request.text
        components = system_for(request)
        outline = "\n".join(f"- **{c.name}** ({c.kind}): {c.responsibility}" for c in components)
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
