"""The local models measured on what they are used for: writing Python function bodies.

For each model in ``inference.models.LOCAL_MODELS`` the code agent's own request is sent
through ``LocalModel.stream`` (the product's system prompt, its "complete this code" prompt
over the stub it builds, its three temperatures, its stop-once-complete rule); each answer
is cut down by the product's ``assemble`` and then run against hidden asserts in the
product's sandbox (``sys.executable -I`` in a temporary directory, with a timeout).

pass@1 is the first (greedy) sample passing; pass@3 is any of the three passing, as the
code agent stops at the first that passes. Tuning and held-out tasks are counted apart.
Run it as ``.venv/bin/python -m bench.models [model-key ...]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from agents.code import SYSTEM_PROMPT, TEMPERATURES
from agents.design.code_examples import Example
from agents.design.code_naming import Parameter
from agents.design.code_spec import CodeSpec
from agents.design.codegen import assemble, is_complete, stub_source
from agents.design.sandbox import run_sandboxed
from bench.model_tasks import ALL_TASKS, FunctionTask
from inference.generation import GenerationRequest
from inference.local import LocalModel
from inference.models import LOCAL_MODELS, LocalModelKey, local_model_spec
from youmeyou.settings import Settings

__all__ = [
    "MAX_NEW_TOKENS",
    "ModelFigures",
    "Sample",
    "TaskResult",
    "local_model_figures",
    "print_model_figures",
]

MAX_NEW_TOKENS = 200  # a function body with its signature and docstring fits well within
ASSERT_TIMEOUT_S = 10.0
_PROMPT_HEAD = "Complete this Python code. Reply with the whole definition, code only.\n\n"


@dataclass(frozen=True, slots=True)
class Sample:
    """One answer: whether it passed the hidden asserts, its time and its length."""

    passed: bool
    seconds: float
    tokens: int
    problem: str = ""


@dataclass(frozen=True, slots=True)
class TaskResult:
    task: FunctionTask
    samples: tuple[Sample, ...]  # in the order drawn; drawing stops at the first pass

    @property
    def pass_at_1(self) -> bool:
        return bool(self.samples) and self.samples[0].passed

    @property
    def pass_at_3(self) -> bool:
        return any(sample.passed for sample in self.samples[:3])


@dataclass(frozen=True, slots=True)
class ModelFigures:
    """One model's figures over the task set."""

    key: LocalModelKey
    name: str
    load_s: float  # mapping the GGUF and making a context
    results: tuple[TaskResult, ...]

    def passes(self, *, held_out: bool, at: int) -> tuple[int, int]:
        """(tasks passed at ``at`` samples, tasks) in the held-out or the tuning part."""
        part = [r for r in self.results if r.task.held_out is held_out]
        passed = [r.pass_at_1 if at == 1 else r.pass_at_3 for r in part]
        return sum(passed), len(part)

    @property
    def samples(self) -> list[Sample]:
        return [sample for result in self.results for sample in result.samples]

    @property
    def median_sample_s(self) -> float:
        return statistics.median(s.seconds for s in self.samples) if self.samples else 0.0

    @property
    def tokens_per_second(self) -> float:
        seconds = sum(s.seconds for s in self.samples)
        return sum(s.tokens for s in self.samples) / seconds if seconds else 0.0


def code_spec(task: FunctionTask) -> CodeSpec:
    """The spec the code agent would read from a request naming this function."""
    arguments, expected = task.example
    return CodeSpec(
        kind="function",
        name=task.name,
        parameters=tuple(Parameter(name, annotation) for name, annotation in task.parameters),
        returns=task.returns,
        summary=task.summary,
        path=f"src/{task.name}.py",
        test_path=f"tests/test_{task.name}.py",
        examples=(Example(arguments, expected),),
        named_by_user=True,
    )


async def draw_sample(model: LocalModel, spec: CodeSpec, temperature: float) -> tuple[str, float]:
    """One answer as the code agent draws it (stopping once the definition is complete)."""
    request = GenerationRequest.chat(
        SYSTEM_PROMPT,
        _PROMPT_HEAD + stub_source(spec),
        max_tokens=MAX_NEW_TOKENS,
        temperature=temperature,
        step="implementation",
    )
    started = time.perf_counter()
    text = ""
    chunks = model.stream(request)
    async with contextlib.aclosing(chunks):
        async for chunk in chunks:
            text += chunk.text
            if is_complete(text, spec):
                break
    return text, time.perf_counter() - started


async def judge(task: FunctionTask, spec: CodeSpec, raw: str) -> str:
    """Why the answer fails the task ("" when it passes its hidden asserts)."""
    candidate = assemble(raw, spec)
    if candidate.text is None:
        return candidate.problem
    checks = "\n".join([f"from candidate import {task.name}", *task.asserts])
    result = await run_sandboxed(
        {"candidate.py": candidate.text}, checks, timeout_s=ASSERT_TIMEOUT_S
    )
    return "" if result.ok else result.reason


async def run_task(model: LocalModel, task: FunctionTask, samples_at_most: int) -> TaskResult:
    spec = code_spec(task)
    samples: list[Sample] = []
    for temperature in TEMPERATURES[:samples_at_most]:
        raw, seconds = await draw_sample(model, spec, temperature)
        problem = await judge(task, spec, raw)
        samples.append(Sample(not problem, seconds, model.count_tokens(raw), problem))
        if not problem:
            break
    return TaskResult(task, tuple(samples))


def loaded_model(key: LocalModelKey, models_dir: Path) -> tuple[LocalModel, float]:
    """The model ready to generate, and the seconds its load took."""
    model = LocalModel(models_dir, spec=local_model_spec(key))
    started = time.perf_counter()
    model.load()
    return model, time.perf_counter() - started


async def measure_model(
    key: LocalModelKey, models_dir: Path, samples: int, console: Console | None = None
) -> ModelFigures:
    model, load_s = loaded_model(key, models_dir)
    results: list[TaskResult] = []
    try:
        for task in ALL_TASKS:
            result = await run_task(model, task, samples)
            results.append(result)
            if console is not None:
                verdict = "pass" if result.pass_at_3 else result.samples[-1].problem[:70]
                console.print(f"  {key} {task.name}: {len(result.samples)} sample(s), {verdict}")
    finally:
        model.close()
    return ModelFigures(key, model.model_name, load_s, tuple(results))


def local_model_figures(
    keys: tuple[LocalModelKey, ...] = tuple(LOCAL_MODELS),
    models_dir: Path | None = None,
    console: Console | None = None,
    samples: int = len(TEMPERATURES),
) -> list[ModelFigures]:
    """Each model's quality and speed on the function tasks (minutes per model); with
    ``samples=1`` only pass@1 is measured (pass@3 then equals it)."""
    folder = models_dir or Settings().models_dir
    return [asyncio.run(measure_model(key, folder, samples, console)) for key in keys]


def print_model_figures(figures: list[ModelFigures], console: Console | None = None) -> None:
    table = Table(title=f"Local models writing Python functions ({len(ALL_TASKS)} tasks)")
    for column in (
        "model",
        "tuning pass@1",
        "tuning pass@3",
        "held-out pass@1",
        "held-out pass@3",
        "s / sample (median)",
        "tokens/s",
        "load s",
    ):
        table.add_column(column, justify="left" if column == "model" else "right")
    for figure in figures:
        cells = [
            "{}/{}".format(*figure.passes(held_out=held_out, at=at))
            for held_out in (False, True)
            for at in (1, 3)
        ]
        table.add_row(
            figure.name,
            *cells,
            f"{figure.median_sample_s:.1f}",
            f"{figure.tokens_per_second:.1f}",
            f"{figure.load_s:.1f}",
        )
    (console or Console()).print(table)


def _keys(arguments: list[str]) -> tuple[LocalModelKey, ...]:
    unknown = [a for a in arguments if a not in LOCAL_MODELS and not a.startswith("--")]
    if unknown:
        raise SystemExit(f"unknown model(s) {unknown}; choose from {list(LOCAL_MODELS)}")
    return tuple(key for key in LOCAL_MODELS if key in arguments) or tuple(LOCAL_MODELS)


if __name__ == "__main__":
    console = Console()
    samples = 1 if "--greedy-only" in sys.argv else len(TEMPERATURES)
    figures = local_model_figures(_keys(sys.argv[1:]), console=console, samples=samples)
    print_model_figures(figures, console)
