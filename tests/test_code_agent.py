"""The code agent end to end: what it sends parses, passes ruff, does what the request's
examples say, or is a marked skeleton that the status owns up to.

Most tests drive ``CodeExecutor.work`` with a scripted gateway (each answer a model could
give: good code, prose, a wrong body); the last ones go through the served agent and the
real local model.
"""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from support import COMPLETED, LiveServer, artifacts, final_state, statuses, stream

from agents.checks.ruff import find_ruff_bin
from agents.code import TEMPERATURES, CodeExecutor
from agents.design.code_spec import read_spec
from agents.design.code_tests import write_tests
from agents.design.codegen import assemble
from agents.design.sandbox import run_sandboxed
from agents.kit import WorkOrder
from agents.kit.work_order import File, Finding, Repair, StepRef
from agents.specialist import Work
from inference.generation import GenerationRequest, StreamChunk, Usage


class ScriptedGateway:
    """Answers each generation with the next scripted text; records the requests."""

    def __init__(self, answers: Sequence[str]) -> None:
        self.answers = list(answers)
        self.requests: list[GenerationRequest] = []

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        self.requests.append(request)
        text = self.answers.pop(0) if self.answers else ""
        for start in range(0, len(text), 7):
            yield StreamChunk(text[start : start + 7])
        yield StreamChunk("", usage=Usage("scripted", 1, 1))


class RecordingUpdater:
    """Just enough of a TaskUpdater: keeps the status lines and the artifacts' text."""

    task_id = "task-1"
    context_id = "context-1"

    def __init__(self) -> None:
        self.statuses: list[str] = []
        self.artifacts: dict[str, str] = {}

    def new_agent_message(self, parts: list[Any]) -> list[Any]:
        return parts

    async def update_status(self, state: object, message: Any = None, **_: object) -> None:
        self.statuses.append(" ".join(p.text for p in message))

    async def add_artifact(self, parts: list[Any], *, name: str, append: bool, **_: Any) -> None:
        text = "".join(p.text for p in parts)
        self.artifacts[name] = self.artifacts.get(name, "") + text if append else text


async def run_agent(order: WorkOrder, answers: Sequence[str]) -> tuple[str, RecordingUpdater]:
    updater = RecordingUpdater()
    gateway = ScriptedGateway(answers)
    work = Work(updater, "code", order, gateway=gateway, user_id="u")  # type: ignore[arg-type]
    closing = await CodeExecutor(gateway).work(work)
    return closing, updater


def ruff_clean(name: str, text: str) -> bool:
    done = subprocess.run(
        [find_ruff_bin(), "check", "--isolated", "--select", "E9,F", "--stdin-filename", name, "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0


def assert_sound(name: str, text: str) -> ast.Module:
    tree = ast.parse(text)
    assert ruff_clean(name, text), text
    for phrase in ("I'm ready", "assist", "Sure", "Here is"):
        assert phrase not in text
    return tree


SLUGIFY = (
    'Write slugify(text: str) -> str in src/slugify.py; slugify("Hello World") == "hello-world"'
)
GOOD_SLUGIFY = (
    "Here is the function:\n```python\nimport re\n\ndef slugify(text: str) -> str:\n"
    '    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")\n```\n'
    "This converts the text to a slug. I hope it helps!"
)
PROSE = "I'm ready to assist your project! Let me know what you need."
WRONG_SLUGIFY = "def slugify(text: str) -> str:\n    return text.upper()\n"


async def test_a_passing_body_is_kept_and_passes_the_examples() -> None:
    closing, updater = await run_agent(WorkOrder(SLUGIFY), [GOOD_SLUGIFY])
    text = updater.artifacts["src/slugify.py"]
    tree = assert_sound("src/slugify.py", text)
    assert [n.name for n in tree.body if isinstance(n, ast.FunctionDef)] == ["slugify"]
    assert "hope it helps" not in text and "```" not in text
    result = await run_sandboxed(
        {"src/slugify.py": text},
        "from slugify import slugify\nassert slugify('Hello World') == 'hello-world'\n"
        "assert slugify('  A  B ') == 'a-b'\n",
        path=("src",),
    )
    assert result.ok, result.stderr
    assert (
        closing == "src/slugify.py defines slugify and is ready; it passes the 1 example you gave."
    )
    assert "Trying sample 1/3..." in updater.statuses


async def test_prose_and_wrong_bodies_give_a_marked_skeleton_and_say_so() -> None:
    answers = [PROSE, WRONG_SLUGIFY, "def other(x):\n    return x\n"]
    closing, updater = await run_agent(WorkOrder(SLUGIFY), answers)
    text = updater.artifacts["src/slugify.py"]
    tree = assert_sound("src/slugify.py", text)
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    assert function.name == "slugify" and [a.arg for a in function.args.args] == ["text"]
    assert "SKELETON" in text and "raise NotImplementedError" in text
    assert "returned 'HELLO WORLD'" in text, "the skeleton says why the attempts failed"
    assert closing == (
        "I could not write a body that passes the examples; src/slugify.py is a skeleton."
    )
    assert closing in updater.statuses
    assert [s for s in updater.statuses if s.startswith("Trying sample")] == [
        f"Trying sample {i}/{len(TEMPERATURES)}..." for i in range(1, len(TEMPERATURES) + 1)
    ]


async def test_samples_rise_in_temperature_and_the_prompt_holds_the_signature() -> None:
    gateway_answers = [PROSE, PROSE, GOOD_SLUGIFY]
    updater = RecordingUpdater()
    gateway = ScriptedGateway(gateway_answers)
    work = Work(updater, "code", WorkOrder(SLUGIFY), gateway=gateway, user_id="u")  # type: ignore[arg-type]
    closing = await CodeExecutor(gateway).work(work)
    assert [r.temperature for r in gateway.requests] == list(TEMPERATURES)
    assert "def slugify(text: str) -> str:" in gateway.requests[0].messages[-1].content
    assert "Sample 3 passed: it passes the 1 example you gave." in updater.statuses
    assert "skeleton" not in closing


async def test_a_body_only_answer_is_put_under_the_signature() -> None:
    order = WorkOrder("Write a function to compute the factorial of a number, factorial(5) == 120")
    body = "    result = 1\n    for i in range(2, n + 1):\n        result *= i\n    return result\n"
    _, updater = await run_agent(order, [body])
    text = updater.artifacts["src/factorial.py"]
    assert_sound("src/factorial.py", text)
    assert "def factorial(n: int) -> int:" in text and "SKELETON" not in text


async def test_a_tests_request_yields_a_pytest_file_that_tells_right_from_wrong(
    tmp_path: Path,
) -> None:
    closing, updater = await run_agent(
        WorkOrder('Write pytest tests for slugify: slugify("Hello World") == "hello-world"'), []
    )
    assert list(updater.artifacts) == ["tests/test_slugify.py"]
    text = updater.artifacts["tests/test_slugify.py"]
    assert_sound("tests/test_slugify.py", text)
    assert "from slugify import slugify" in text
    assert "1 example" in closing
    right = "import re\n\ndef slugify(text):\n    return re.sub(r'[^a-z0-9]+', '-', text.lower())\n"
    assert run_pytest(tmp_path / "right", text, right) == 0
    assert run_pytest(tmp_path / "wrong", text, "def slugify(text):\n    return text\n") == 1


async def test_tests_without_examples_are_minimal_and_say_so(tmp_path: Path) -> None:
    closing, updater = await run_agent(
        WorkOrder("Write tests for a function that reverses a string"), []
    )
    text = updater.artifacts["tests/test_reverse_string.py"]
    assert_sound("tests/test_reverse_string.py", text)
    assert "minimal" in closing
    right = "def reverse_string(text: str) -> str:\n    return text[::-1]\n"
    assert run_pytest(tmp_path / "right", text, right, module="reverse_string") == 0
    wrong = "def reverse_string(text):\n    return len(text)\n"
    assert run_pytest(tmp_path / "wrong", text, wrong, module="reverse_string") == 1


def run_pytest(root: Path, tests: str, module_text: str, *, module: str = "slugify") -> int:
    (root / "src").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "src" / f"{module}.py").write_text(module_text)
    (root / "tests" / "test_it.py").write_text(tests)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_it.py"],
        cwd=root,
        env={"PYTHONPATH": str(root / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode


def test_generated_test_files_parse_for_every_spec() -> None:
    for request in (SLUGIFY, "class LRUCache with get and put", "convert celsius to fahrenheit"):
        tests = write_tests(read_spec(request))
        assert_sound(tests.path, tests.text)


async def test_a_component_step_keeps_its_path_and_falls_back_to_a_service_class() -> None:
    order = WorkOrder(
        "Build an ecommerce platform", step=StepRef("step-2", "implementation", "auth")
    )
    closing, updater = await run_agent(order, [PROSE])
    text = updater.artifacts["src/auth/service.py"]
    tree = assert_sound("src/auth/service.py", text)
    service = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    methods = [n.name for n in service.body if isinstance(n, ast.FunctionDef)]
    assert service.name == "AuthService"
    assert {"login", "hash_password", "issue_token"} <= set(methods)
    assert "skeleton" in closing
    good = "def login(email: str, password: str) -> bool:\n    return bool(email and password)\n"
    closing, updater = await run_agent(order, [good])
    assert "def login" in updater.artifacts["src/auth/service.py"]
    assert closing == "Code ready: src/auth/service.py."


HASHER = (
    "import hashlib\n\n\ndef h(p: str) -> str:\n    return hashlib.{}(p.encode()).hexdigest()\n"
)


async def test_a_repair_that_does_not_parse_is_not_sent() -> None:
    original = HASHER.format("md5")
    repair = Repair(File("src/pay.py", original), (Finding(5, "security/weak-hash", "md5"),))
    closing, updater = await run_agent(WorkOrder("fix it", repair=repair), ["def h(p:\n  sure!"])
    assert updater.artifacts["src/pay.py"] == original
    assert "could not repair" in closing
    assert any("repair of src/pay.py failed" in s for s in updater.statuses)
    fixed = HASHER.format("sha256")
    closing, updater = await run_agent(WorkOrder("fix it", repair=repair), [fixed])
    assert "sha256" in updater.artifacts["src/pay.py"] and closing == "Repaired src/pay.py."


def test_the_sandbox_stops_runaway_code() -> None:
    result = asyncio.run(run_sandboxed({}, "while True:\n    pass\n", timeout_s=1))
    assert result.timed_out


# End to end: the served code agent and the real local model (short generations).
E2E_REQUESTS = [
    'Write slugify(text: str) -> str; slugify("Hello World") == "hello-world"',
    "Write a Python function that validates an email address",
]


@pytest.mark.parametrize("request_text", E2E_REQUESTS)
async def test_the_served_agent_sends_checked_code(server: LiveServer, request_text: str) -> None:
    events = await stream(f"{server.url}/agents/code", request_text)
    assert final_state(events) == COMPLETED
    spec = read_spec(request_text)
    built = artifacts(events)
    text = built[spec.path]["text"]
    tree = assert_sound(spec.path, text)
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    assert function.name == spec.name
    closing = statuses(events)[-1][1]
    if "SKELETON" in text:
        assert "skeleton" in closing and "raise NotImplementedError" in text
    elif spec.examples:
        script = f"from {spec.module} import {spec.name}\n" + "\n".join(
            e.assertion(spec.name) for e in spec.examples
        )
        result = await run_sandboxed({spec.path: text}, script, path=("src",))
        assert result.ok, json.dumps([text, result.stderr])


EMAIL = "Write a Python function that validates an email address"


async def test_without_examples_the_closing_says_the_behaviour_is_unverified() -> None:
    # Inverted on purpose: nothing short of examples could tell, so the closing must not
    # claim more than the shape and a bool on a sample input.
    inverted = "def is_valid_email(address: str) -> bool:\n    return '@' not in address\n"
    closing, updater = await run_agent(WorkOrder(EMAIL), [inverted])
    assert "def is_valid_email" in updater.artifacts["src/is_valid_email.py"]
    assert closing == (
        "src/is_valid_email.py defines is_valid_email and is ready; it parses, passes ruff "
        "and has the signature def is_valid_email(address: str) -> bool, and "
        'is_valid_email("Hello World") returns a bool; no examples were given, so its '
        "behaviour is unverified."
    )


async def test_a_predicate_that_returns_no_bool_or_crashes_is_refused() -> None:
    answers = [
        "def is_valid_email(address: str) -> bool:\n    return address\n",
        "def is_valid_email(address: str) -> bool:\n    return address.nope()\n",
        "def is_valid_email(address: str) -> bool:\n    return '@' in address\n",
    ]
    closing, updater = await run_agent(WorkOrder(EMAIL), answers)
    failures = [s for s in updater.statuses if s.startswith("Sample") and "did not" in s]
    assert "returned 'Hello World', not a bool" in failures[0]
    assert "raised AttributeError" in failures[1]
    assert "'@' in address" in updater.artifacts["src/is_valid_email.py"]
    assert "behaviour is unverified" in closing


async def test_a_named_class_keeps_its_name_methods_and_signatures() -> None:
    request = "a `TokenBucket` class with acquire(n) and refill()"
    wrong = "def acquire(n):\n    return True\n"
    good = (
        "class TokenBucket:\n    def __init__(self) -> None:\n        self.tokens = 10\n\n"
        "    def acquire(self, n):\n        if n <= self.tokens:\n            self.tokens -= n\n"
        "            return True\n        return False\n\n"
        "    def refill(self):\n        self.tokens = 10\n"
    )
    closing, updater = await run_agent(WorkOrder(request), [wrong, good])
    text = updater.artifacts["src/token_bucket.py"]
    tree = assert_sound("src/token_bucket.py", text)
    assert [n.name for n in tree.body if isinstance(n, ast.ClassDef)] == ["TokenBucket"]
    assert closing.startswith("src/token_bucket.py defines TokenBucket and is ready; it parses")
    assert "with acquire, refill" in closing and "unverified" in closing


def test_a_body_written_under_other_parameter_names_is_kept_under_the_users() -> None:
    spec = read_spec('Write slugify(text: str) -> str; slugify("Hello World") == "hello-world"')
    kept = assemble('def slugify(s):\n    return s.lower().replace(" ", "-")\n', spec)
    assert kept.text is not None and "def slugify(text: str) -> str:" in kept.text
    assert "text.lower()" in kept.text and "s.lower()" not in kept.text
    # A different arity is a different function: not renamed, refused.
    refused = assemble("def slugify(text, sep):\n    return sep.join(text.split())\n", spec)
    assert refused.text is None and "takes (text, sep)" in refused.problem
