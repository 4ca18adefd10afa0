"""The quality section of ``make bench``: realistic requests, each answer judged by machine.

The cases (``quality_cases/tuning.yaml`` and the never-tuned-on ``holdout.yaml``) go one at
a time to a live server through the a2a-sdk streaming client, as any A2A client sends them:
schemas to the database agent, designs to the architecture agent, code to the code agent,
and reviews to the orchestrator, so that its routing to the validator is measured too. The
artifacts are rebuilt from their chunks and judged by ``bench.quality_checks``.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import yaml
from a2a.client import A2AClientError, ClientCallContext, ClientConfig, create_client
from a2a.types import Message, Part, Role, SendMessageRequest, StreamResponse, TaskState
from a2a.utils.constants import TransportProtocol
from rich.console import Console
from rich.table import Table

from bench.quality_checks import (
    KINDS,
    Alternatives,
    Answer,
    Case,
    CheckResult,
    Kind,
    Link,
    check_answer,
)

__all__ = [
    "ANSWER_TIMEOUT_S",
    "QUALITY_MAX_NEW_TOKENS",
    "Outcome",
    "QualityFigures",
    "answer_from",
    "ask",
    "load_cases",
    "measure",
    "print_quality",
    "quality_figures",
    "run_cases",
    "save_answer",
]

CASES_DIR = Path(__file__).resolve().parent / "quality_cases"
# Every answer of the last run, to read what a failure looked like (var/ is not committed).
ANSWERS_DIR = Path(__file__).resolve().parent.parent / "var" / "bench" / "quality-answers"
SPLITS = ("tuning", "holdout")
# A realistic answer length: enough for a schema, a module or a design's prose.
QUALITY_MAX_NEW_TOKENS = "256"
ANSWER_TIMEOUT_S = 600
PASS_TARGET = 0.8
GENERALIZATION_GAP = 0.15
# Who answers each kind: a specialist's own A2A URL under the server, or the orchestrator.
AGENT_PATHS: Mapping[Kind, str] = {
    "schema": "/agents/database",
    "architecture": "/agents/architecture",
    "code": "/agents/code",
    "review": "",
}

Verdicts = list[tuple[str, bool]]


# --- the cases ------------------------------------------------------------------------------


def _alternatives(value: object) -> Alternatives:
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


def _case(raw: Mapping[str, Any], split: str) -> Case:
    kind = next((k for k in KINDS if k == raw["kind"]), None)
    if kind is None:
        raise ValueError(f"case {raw.get('id')!r}: unknown kind {raw['kind']!r}")
    links = tuple(
        Link(_alternatives(link["table"]), tuple(_alternatives(r) for r in link["references"]))
        for link in raw.get("links", [])
    )
    return Case(
        id=str(raw["id"]),
        split=split,
        kind=kind,
        request=str(raw["request"]).strip(),
        entities=tuple(_alternatives(e) for e in raw.get("entities", [])),
        links=links,
        components=tuple(_alternatives(c) for c in raw.get("components", [])),
        name=str(raw.get("name", "")),
        path=str(raw.get("path", "")),
        hidden_tests=str(raw.get("hidden_tests", "")),
        flaws=tuple(_alternatives(f) for f in raw.get("flaws", [])),
        clean=bool(raw.get("clean", False)),
    )


def load_cases(split: str, directory: Path = CASES_DIR) -> list[Case]:
    """The cases of one split (``tuning`` or ``holdout``), from ``<split>.yaml``."""
    raw = yaml.safe_load((directory / f"{split}.yaml").read_text())
    return [_case(entry, split) for entry in raw]


# --- asking ---------------------------------------------------------------------------------


def _message(text: str) -> Message:
    return Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()), parts=[Part(text=text)])


async def ask(url: str, text: str, user: str) -> Answer:
    """One streamed task through the a2a-sdk client, its artifacts rebuilt from the chunks."""
    started = time.perf_counter()
    events: list[StreamResponse] = []
    try:
        async with asyncio.timeout(ANSWER_TIMEOUT_S), httpx.AsyncClient(timeout=300) as http:
            config = ClientConfig(
                streaming=True,
                httpx_client=http,
                supported_protocol_bindings=[TransportProtocol.JSONRPC.value],
                use_client_preference=True,
            )
            client = await create_client(url, config)
            context = ClientCallContext(service_parameters={"X-User-Id": user})
            request = SendMessageRequest(message=_message(text))
            async for event in client.send_message(request, context=context):
                events.append(event)
    except (TimeoutError, httpx.HTTPError, OSError, A2AClientError) as error:
        answer = answer_from(events, time.perf_counter() - started)
        reason = f"{type(error).__name__} {error}".strip()
        return Answer(answer.artifacts, "client error", reason[:160], answer.seconds)
    return answer_from(events, time.perf_counter() - started)


def answer_from(events: Sequence[StreamResponse], seconds: float) -> Answer:
    """The artifacts rebuilt from their chunks, and the last status, of a task's events."""
    artifacts: dict[str, str] = {}
    state, words = "no status", ""
    for event in events:
        payload = event.WhichOneof("payload")
        if payload == "artifact_update":
            update = event.artifact_update
            chunk = "".join(p.text for p in update.artifact.parts if p.HasField("text"))
            name = update.artifact.name
            artifacts[name] = artifacts.get(name, "") + chunk if update.append else chunk
        elif payload in ("status_update", "task"):
            status = event.status_update.status if payload == "status_update" else event.task.status
            state = TaskState.Name(status.state).removeprefix("TASK_STATE_").lower()
            words = " ".join(p.text for p in status.message.parts if p.HasField("text"))
    return Answer(artifacts, state, words, seconds)


@dataclass(frozen=True)
class Outcome:
    case: Case
    result: CheckResult
    seconds: float


def save_answer(case: Case, answer: Answer, result: CheckResult, directory: Path) -> None:
    """The answer's artifacts under ``directory/<split>/<id>/``, with its status and verdict."""
    folder = directory / case.split / case.id
    shutil.rmtree(folder, ignore_errors=True)
    for name, text in answer.artifacts.items():
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts:
            continue  # an artifact name is the server's text: never written outside the folder
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    verdict = "passed" if result.passed else "\n".join(result.reasons)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_verdict.txt").write_text(
        f"{case.request}\n\n{answer.state}: {answer.status_text}\n{answer.seconds:.1f} s\n\n"
        f"{verdict}\n"
    )


async def run_cases(
    url: str,
    cases: Sequence[Case],
    on_outcome: Callable[[Outcome], None] | None = None,
    answers_dir: Path | None = None,
) -> list[Outcome]:
    """Every case, one after the other (the figures are per answer, not under load)."""
    outcomes = []
    for case in cases:
        user = f"quality-{case.id}-{uuid.uuid4().hex[:6]}"  # no case learns from another
        answer = await ask(url + AGENT_PATHS[case.kind], case.request, user)
        result = await check_answer(answer, case)
        if answers_dir is not None:
            save_answer(case, answer, result, answers_dir)
        outcome = Outcome(case, result, answer.seconds)
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return outcomes


# --- figures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindFigures:
    kind: Kind
    passed: Mapping[str, tuple[int, int]]  # split -> (passed, total)
    mean_s: float
    p95_s: float


@dataclass(frozen=True)
class QualityFigures:
    kinds: tuple[KindFigures, ...]
    failures: tuple[str, ...]  # one line each: split/case: reasons
    skeletons: int  # code answers that failed and said so
    wrong_code: int  # code answers that lack the name or fail the tests, and do not say so
    prose: int  # answers with chat-bot prose in an artifact
    unrouted_reviews: int  # reviews whose validation.json did not come back

    def rate(self, split: str) -> float:
        passed = sum(k.passed[split][0] for k in self.kinds)
        total = sum(k.passed[split][1] for k in self.kinds)
        return passed / total if total else 0.0


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))] if ordered else 0.0


def _kind_figures(kind: Kind, outcomes: Sequence[Outcome]) -> KindFigures:
    mine = [o for o in outcomes if o.case.kind == kind]
    passed = {
        split: (
            sum(1 for o in mine if o.case.split == split and o.result.passed),
            sum(1 for o in mine if o.case.split == split),
        )
        for split in SPLITS
    }
    seconds = [o.seconds for o in mine]
    return KindFigures(kind, passed, statistics.fmean(seconds) if seconds else 0.0, _p95(seconds))


def failure_line(outcome: Outcome) -> str:
    reasons = "; ".join(outcome.result.reasons)
    return f"{outcome.case.split}/{outcome.case.id}: {reasons}"[:220]


def quality_figures(outcomes: Sequence[Outcome]) -> QualityFigures:
    failed = [o for o in outcomes if not o.result.passed]
    return QualityFigures(
        kinds=tuple(_kind_figures(kind, outcomes) for kind in KINDS),
        failures=tuple(failure_line(o) for o in failed),
        skeletons=sum(1 for o in failed if o.result.category == "skeleton"),
        wrong_code=sum(1 for o in failed if o.result.category == "wrong"),
        prose=sum(1 for o in failed if any("chat-bot prose" in r for r in o.result.reasons)),
        unrouted_reviews=sum(
            1 for o in failed if any("no validation.json" in r for r in o.result.reasons)
        ),
    )


async def measure(url: str, console: Console) -> QualityFigures:
    """Send every case of both splits to the server at ``url`` and judge the answers."""
    cases = [case for split in SPLITS for case in load_cases(split)]

    def progress(outcome: Outcome) -> None:
        mark = "[green]pass[/]" if outcome.result.passed else "[red]fail[/]"
        console.print(f"  {mark} {outcome.seconds:6.1f} s  {outcome.case.split}/{outcome.case.id}")

    console.print(f"  (answers saved under {ANSWERS_DIR})")
    return quality_figures(await run_cases(url, cases, progress, ANSWERS_DIR))


def print_quality(figures: QualityFigures, console: Console) -> Verdicts:
    table = Table(title="Answer quality (passed/total, seconds per answer)")
    for column in ("kind", "tuning", "hold-out", "mean s", "p95 s"):
        table.add_column(column, justify="right")
    for row in figures.kinds:
        cells = [f"{p}/{t}" for p, t in (row.passed[split] for split in SPLITS)]
        table.add_row(row.kind, *cells, f"{row.mean_s:.1f}", f"{row.p95_s:.1f}")
    console.print(table)
    console.print(
        f"code failures: {figures.skeletons} honest skeleton(s), {figures.wrong_code} wrong "
        f"code (missing or failing, status silent); answers with chat-bot prose: "
        f"{figures.prose}; reviews without "
        f"validation.json: {figures.unrouted_reviews}"
    )
    for line in figures.failures:
        console.print(f"[red]failed[/]: {line}", overflow="fold")
    tuning, holdout = figures.rate("tuning"), figures.rate("holdout")
    return [
        (
            f"quality: hold-out answers pass >= {PASS_TARGET:.0%} ({holdout:.0%})",
            holdout >= PASS_TARGET,
        ),
        (
            f"quality: hold-out within {GENERALIZATION_GAP:.0%} of tuning "
            f"({holdout:.0%} vs {tuning:.0%})",
            tuning - holdout <= GENERALIZATION_GAP,
        ),
        ("quality: no artifact contains chat-bot prose", figures.prose == 0),
        ("quality: every review is routed to the validator", figures.unrouted_reviews == 0),
    ]
