"""The code specialist: the function (or class) the request asks for, checked before it is
sent, or a skeleton that says it is one.

The request is read into a spec first (``agents.design.code_spec``). The model is asked
only for the body under that signature, a few times at rising temperatures; each answer is
cut down to the asked definition and checked (parses, ruff's error rules, the request's
examples run in a sandbox). The first that passes is sent as one artifact; when none does,
the skeleton is, and the status and closing sentence say so. Tests come from the user's
own examples, not from the model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from agents.design import (
    CodeCheck,
    CodeSpec,
    accept_module,
    assemble,
    check_module,
    component_skeleton,
    is_complete,
    read_spec,
    ruff_errors,
    skeleton,
    write_tests,
)
from agents.design import stub_source as stub
from agents.kit import Repair
from agents.specialist import SpecialistExecutor, Work
from memory.catalogue import SERVICES, Component

__all__ = ["CodeExecutor"]

SYSTEM_PROMPT = (
    "You are a senior Python engineer. Write only Python code, no explanations and no "
    "Markdown fences. Use type hints and short docstrings."
)
PYTHON = "text/x-python"
# Greedy first (the model's best guess), then samples that wander further from it.
TEMPERATURES = (0.0, 0.5, 0.8)

Done = Callable[[str], bool]


class CodeExecutor(SpecialistExecutor):
    agent_id = "code"
    title = "The code agent"

    async def work(self, work: Work) -> str:
        if work.order.repair is not None:
            return await self._repair(work, work.order.repair)
        step = work.order.step
        if step is not None and isinstance(step.component, str):
            return await self._component(work, step.component)
        spec = read_spec(work.order.request)
        if spec.tests_only:
            return await self._tests(work, spec)
        return await self._function(work, spec)

    async def _function(self, work: Work, spec: CodeSpec) -> str:
        """The asked definition: the first sample that passes, else the skeleton."""
        await work.say(f"Writing {spec.signature} in {spec.path}.")
        prompt = (
            "Complete this Python code. Reply with the whole definition, code only.\n\n"
            + stub(spec)
        )
        problems: list[str] = []
        for number, temperature in enumerate(TEMPERATURES, start=1):
            await work.say(f"Trying sample {number}/{len(TEMPERATURES)}...")
            raw = await _sample(
                work, prompt, temperature, spec.path, lambda t: is_complete(t, spec)
            )
            candidate = assemble(raw, spec)
            verdict = (
                await check_module(spec, candidate.text)
                if candidate.text is not None
                else CodeCheck(candidate.problem, "")
            )
            if not verdict.problem and candidate.text is not None:
                await work.send(spec.path, candidate.text, PYTHON)
                await work.say(f"Sample {number} passed: it {verdict.verified}.")
                ready = f"{spec.path} defines {spec.name} and is ready; it {verdict.verified}."
                return await self._closing(work, spec, ready)
            problems.append(f"sample {number}: {verdict.problem}")
            await work.say(f"Sample {number} did not pass: {verdict.problem}.")
        await work.send(spec.path, skeleton(spec, problems), PYTHON)
        what = "passes the examples" if spec.examples else "passes the checks"
        status = f"I could not write a body that {what}; {spec.path} is a skeleton."
        await work.say(status)
        return await self._closing(work, spec, status)

    async def _closing(self, work: Work, spec: CodeSpec, sentence: str) -> str:
        if not spec.wants_tests:
            return sentence
        return f"{sentence} {await self._send_tests(work, spec)}"

    async def _tests(self, work: Work, spec: CodeSpec) -> str:
        await work.say(f"Writing tests for {spec.name} in {spec.test_path}.")
        return await self._send_tests(work, spec)

    async def _send_tests(self, work: Work, spec: CodeSpec) -> str:
        tests = write_tests(spec)
        errors = await ruff_errors(tests.path, tests.text)
        if errors:  # cannot happen with examples the parser accepted; never send it broken
            raise ValueError(f"the generated tests fail ruff: {errors[0]}")
        await work.send(tests.path, tests.text, PYTHON)
        if tests.minimal:
            return (
                f"{tests.path} holds minimal tests (the request gave no examples): {tests.covers}."
            )
        return f"{tests.path} tests {tests.covers}."

    async def _component(self, work: Work, module: str) -> str:
        """A plan step's component module, ``src/<module>/service.py``."""
        component = next((c for c in SERVICES if c.module == module), None)
        if component is None:
            raise ValueError(f"no component {module!r} is known")
        path = f"src/{component.module}/service.py"
        await work.say(f"Writing 1 file(s): {path}.")
        prompt = (
            f"Request: {work.order.request}\n\nWrite the module {path} for the "
            f"{component.name}: {component.responsibility}"
        )
        raw = await _sample(work, prompt, None, path, lambda _: False)
        text = _component_text(component, _without_fences(raw))
        problem = await accept_module(path, text)
        if problem:
            await work.say(f"The model's {path} did not pass: {problem}; sending a skeleton.")
            await work.send(path, component_skeleton(component, path, problem), PYTHON)
            return f"I could not write {path} that passes the checks; it is a skeleton."
        await work.send(path, text, PYTHON)
        return f"Code ready: {path}."

    async def _repair(self, work: Work, repair: Repair) -> str:
        """Rewrite one file so that the validator's findings go away; never send worse."""
        path, text = repair.file.name, repair.file.text
        findings = "\n".join(f"- line {f.line}: {f.rule}: {f.message}" for f in repair.findings)
        if not path.endswith(".py"):
            raise ValueError(f"the code agent repairs Python files, not {path!r}")
        await work.say(f"Repairing {path}: {len(findings.splitlines())} finding(s).")
        prompt = (
            f"Fix these findings in {path} and return the whole corrected module.\n\n"
            f"Findings:\n{findings}\n\nModule:\n{text}"
        )
        repaired = _without_fences(await _sample(work, prompt, None, path, lambda _: False))
        problem = await accept_module(path, repaired)
        if problem:
            await work.say(f"The repair of {path} failed ({problem}); the original stands.")
            await work.send(path, text, PYTHON)
            return f"I could not repair {path}: the rewrite failed the checks ({problem})."
        await work.send(path, repaired, PYTHON)
        return f"Repaired {path}."


async def _sample(
    work: Work, prompt: str, temperature: float | None, artifact: str, done: Done
) -> str:
    """One answer, whole, without streaming it to the user: notices become status lines,
    a restart voids the text so far, and the stream stops once ``done`` says so."""
    text = ""
    told: set[str] = set()
    chunks = work.generate(SYSTEM_PROMPT, prompt, temperature=temperature)
    async with contextlib.aclosing(chunks):  # type: ignore[type-var]
        async for chunk in chunks:
            if chunk.notice and chunk.notice not in told:
                told.add(chunk.notice)
                await work.say(chunk.notice)
            if chunk.restart:
                text = ""
            if chunk.usage is not None:
                work.cost.add(chunk.usage, agent=work.agent_id, artifact=artifact)
            text += chunk.text
            if done(text):
                break
    return text


def _without_fences(text: str) -> str:
    """Drop Markdown code-fence lines the model sometimes writes despite being told not to."""
    kept = [line for line in text.splitlines() if not line.lstrip().startswith("```")]
    return "\n".join(kept).strip("\n") + "\n"


def _component_text(component: Component, body: str) -> str:
    header = f'"""{component.name}: {component.responsibility}"""\n\n'
    return header + body
