"""The code specialist: one Python module per component, streamed as it is written."""

from __future__ import annotations

from collections.abc import AsyncIterator

from agents.kit import Repair
from agents.specialist import SpecialistExecutor, Work
from inference.generation import StreamChunk
from memory.catalogue import SERVICES, services_for

SYSTEM_PROMPT = (
    "You are a senior Python engineer. Write only Python code, no explanations and no "
    "Markdown fences. Use type hints and short docstrings."
)
MAX_FILES = 3


class CodeExecutor(SpecialistExecutor):
    agent_id = "code"
    title = "The code agent"

    async def work(self, work: Work) -> str:
        if work.order.repair is not None:
            return await self._repair(work, work.order.repair)
        step = work.order.step
        component = step.component if step is not None else None
        request = work.order.request
        services = services_for(request)[:MAX_FILES]
        if isinstance(component, str):
            services = [c for c in SERVICES if c.module == component]
            if not services:
                raise ValueError(f"no component {component!r} is known")
        paths = [f"src/{service.module}/service.py" for service in services]
        await work.say(f"Writing {len(paths)} file(s): {', '.join(paths)}.")
        for service, path in zip(services, paths, strict=True):
            prompt = (
                f"Request: {request}\n\nWrite the module {path} for the {service.name}: "
                f"{service.responsibility}"
            )
            header = f'"""{service.name}: {service.responsibility}"""\n\n'
            await work.stream(
                path,
                "text/x-python",
                _without_fences(work.generate(SYSTEM_PROMPT, prompt)),
                prefix=header,
            )
        return f"Code ready: {', '.join(paths)}."

    async def _repair(self, work: Work, repair: Repair) -> str:
        """Rewrite one file so that the validator's findings go away."""
        path, text = repair.file.name, repair.file.text
        findings = "\n".join(f"- line {f.line}: {f.rule}: {f.message}" for f in repair.findings)
        if not path.endswith(".py"):
            raise ValueError(f"the code agent repairs Python files, not {path!r}")
        await work.say(f"Repairing {path}: {len(findings.splitlines())} finding(s).")
        prompt = (
            f"Fix these findings in {path} and return the whole corrected module.\n\n"
            f"Findings:\n{findings}\n\nModule:\n{text}"
        )
        await work.stream(
            path, "text/x-python", _without_fences(work.generate(SYSTEM_PROMPT, prompt))
        )
        return f"Repaired {path}."


async def _without_fences(chunks: AsyncIterator[StreamChunk]) -> AsyncIterator[StreamChunk]:
    """Drop Markdown code-fence lines the model sometimes writes despite being told not to."""
    pending = ""
    async for chunk in chunks:
        if chunk.notice or chunk.restart:
            pending = "" if chunk.restart else pending
            yield StreamChunk("", notice=chunk.notice, restart=chunk.restart)
        pending += chunk.text
        *lines, pending = pending.split("\n")
        if chunk.usage is not None:  # the stream's end: nothing more will complete the line
            lines, pending = [*lines, pending], ""
        kept = [line for line in lines if not line.lstrip().startswith("```")]
        text = "\n".join(kept) + ("\n" if kept and chunk.usage is None else "")
        if text or chunk.usage is not None:
            yield StreamChunk(text, chunk.usage)
