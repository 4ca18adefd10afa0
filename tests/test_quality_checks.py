"""The quality bench's checkers, on known-good and known-bad answers, so that the bench can
neither silently pass everything nor fail what a user would accept.

The case files are checked too: both splits load, cover the four kinds, and every code
case's hidden tests pass on a reference solution (a hidden test no code can pass measures
nothing). ``bench/quality_cases/holdout.yaml`` is the held-out list: never tuned on.
"""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from a2a.types import (
    Artifact,
    Part,
    StreamResponse,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
)

from bench.quality import (
    SPLITS,
    Outcome,
    answer_from,
    load_cases,
    quality_figures,
    save_answer,
)
from bench.quality_checks import (
    KINDS,
    Answer,
    Case,
    CheckResult,
    Link,
    check_answer,
    check_architecture,
    check_code,
    check_prose,
    check_review,
    check_schema,
)

# --- the case files -------------------------------------------------------------------------


def test_the_case_files_hold_enough_cases_of_every_kind() -> None:
    tuning, holdout = load_cases("tuning"), load_cases("holdout")
    assert len(tuning) + len(holdout) >= 40
    assert len(holdout) >= 12  # the held-out list, never tuned on
    for cases in (tuning, holdout):
        counts = Counter(case.kind for case in cases)
        assert all(counts[kind] >= 3 for kind in KINDS), counts
    ids = [case.id for case in tuning + holdout]
    assert len(ids) == len(set(ids))


def test_every_case_says_what_its_user_checks() -> None:
    for split in SPLITS:
        for case in load_cases(split):
            if case.kind == "schema":
                assert case.entities, case.id
            elif case.kind == "architecture":
                assert case.components, case.id
            elif case.kind == "code":
                assert case.name and case.name in case.request and case.hidden_tests, case.id
            else:
                assert case.flaws or case.clean, case.id
                assert not (case.flaws and case.clean), case.id


# Reference solutions: each code case's hidden tests must be passable.
REFERENCES = {
    "slugify": (
        "import re\ndef slugify(t):\n    return re.sub(r'[^a-z0-9]+', '-', t.lower()).strip('-')"
    ),
    "parse_duration": (
        "import re\ndef parse_duration(t):\n    u = {'h': 3600, 'm': 60, 's': 1}\n"
        "    return sum(int(n) * u[k] for n, k in re.findall(r'(\\d+)([hms])', t))"
    ),
    "LRUCache": (
        "from collections import OrderedDict\nclass LRUCache:\n"
        "    def __init__(self, capacity):\n        self.c, self.d = capacity, OrderedDict()\n"
        "    def get(self, k):\n        if k not in self.d:\n            return None\n"
        "        self.d.move_to_end(k)\n        return self.d[k]\n"
        "    def put(self, k, v):\n        self.d[k] = v\n        self.d.move_to_end(k)\n"
        "        if len(self.d) > self.c:\n            self.d.popitem(last=False)"
    ),
    "fizzbuzz": (
        "def fizzbuzz(n):\n    return ['FizzBuzz' if i % 15 == 0 else 'Fizz' if i % 3 == 0 "
        "else 'Buzz' if i % 5 == 0 else str(i) for i in range(1, n + 1)]"
    ),
    "merge_intervals": (
        "def merge_intervals(xs):\n    out = []\n    for s, e in sorted(xs):\n"
        "        if out and s <= out[-1][1]:\n            out[-1][1] = max(out[-1][1], e)\n"
        "        else:\n            out.append([s, e])\n    return out"
    ),
    "word_count": (
        "import re\nfrom collections import Counter\ndef word_count(t):\n"
        "    return dict(Counter(re.findall(r'[a-z0-9]+', t.lower())))"
    ),
    "chunked": "def chunked(xs, n):\n    return [xs[i:i + n] for i in range(0, len(xs), n)]",
    "format_money": "def format_money(c):\n    return f'${c // 100:,}.{c % 100:02d}'",
    "is_palindrome": (
        "def is_palindrome(s):\n    t = [c.lower() for c in s if c.isalnum()]\n"
        "    return t == t[::-1]"
    ),
    "roman_to_int": (
        "def roman_to_int(s):\n    v = dict(I=1, V=5, X=10, L=50, C=100, D=500, M=1000)\n"
        "    n = [v[c] for c in s]\n"
        "    return sum(-a if a < b else a for a, b in zip(n, n[1:] + [0]))"
    ),
    "Stack": (
        "class Stack:\n    def __init__(self):\n        self.xs = []\n"
        "    def push(self, x):\n        self.xs.append(x)\n"
        "    def pop(self):\n        return self.xs.pop()\n"
        "    def peek(self):\n        return self.xs[-1]\n"
        "    def is_empty(self):\n        return not self.xs"
    ),
    "flatten": (
        "def flatten(xs):\n    for x in xs:\n        if isinstance(x, list):\n"
        "            yield from flatten(x)\n        else:\n            yield x"
    ),
    "celsius_to_fahrenheit": "def celsius_to_fahrenheit(c):\n    return c * 9 / 5 + 32.0",
}


@pytest.mark.parametrize(
    "case",
    [c for split in SPLITS for c in load_cases(split) if c.kind == "code"],
    ids=lambda c: c.id,
)
def test_every_hidden_test_passes_on_a_reference_solution(case: Case) -> None:
    path = case.path or "solution.py"
    result = check_code({path: REFERENCES[case.name] + "\n"}, case)
    assert result.passed, result.reasons


# --- every kind: chat-bot prose -------------------------------------------------------------


def test_chat_bot_prose_fails_and_plain_files_pass() -> None:
    assert check_prose({"architecture.md": "# Design\n\nThe gateway routes requests."}).passed
    result = check_prose({"schema.sql": "Sure! Here is the schema you asked for:\nCREATE ..."})
    assert not result.passed
    assert any("Sure!" in r for r in result.reasons)
    assert not check_prose({"a.py": "# As an AI language model I cannot write code"}).passed
    assert not check_prose({"x.md": "I am happy to help with that."}).passed


def test_prose_that_only_contains_a_telltale_passes() -> None:
    text = "Where is the data kept? The API cannot retry; the flow here is simple. Measure!"
    assert check_prose({"architecture.md": text}).passed, check_prose({"a.md": text}).reasons


# --- schema ---------------------------------------------------------------------------------

LIBRARY = Case(
    id="t-library",
    split="test",
    kind="schema",
    request="library",
    entities=(("members",), ("books",), ("loans",)),
    links=(Link(("loans",), (("members",), ("books",))),),
)
GOOD_SCHEMA = """
CREATE TABLE member (id BIGINT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE books (id BIGINT PRIMARY KEY, title TEXT NOT NULL, price NUMERIC(10, 2));
CREATE TABLE loans (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES member (id),
    book_id BIGINT NOT NULL REFERENCES books (id),
    fine_amount NUMERIC(8, 2) NOT NULL DEFAULT 0,
    borrowed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX loans_member_id_idx ON loans (member_id);
CREATE INDEX loans_book_id_borrowed_idx ON loans (book_id, borrowed_at);
"""


async def test_a_sound_schema_passes_with_singular_or_plural_names() -> None:
    result = await check_schema(GOOD_SCHEMA, LIBRARY)
    assert result.passed, result.reasons


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ([("price NUMERIC(10, 2)", "price DOUBLE PRECISION")], "money column books.price"),
        ([("fine_amount NUMERIC(8, 2)", "fine_amount REAL")], "money column loans.fine_amount"),
        ([("CREATE INDEX loans_member_id_idx ON loans (member_id);", "")], "loans(member_id)"),
        ([("IDENTITY PRIMARY KEY", "IDENTITY")], "loans has no primary key"),
        ([("TIMESTAMPTZ", "TIMESTAMP")], "without time zone"),
        ([("REFERENCES books (id)", "")], "loans has no foreign key to books"),
        (
            [("TABLE member (", "TABLE people ("), ("REFERENCES member", "REFERENCES people")],
            "no table for members",
        ),
        ([("NOT NULL, price", "NOT NULL price")], "does not run on PostgreSQL"),
    ],
)
async def test_a_flawed_schema_fails_with_its_reason(
    changes: list[tuple[str, str]], reason: str
) -> None:
    sql = GOOD_SCHEMA
    for old, new in changes:
        assert old in sql
        sql = sql.replace(old, new)
    result = await check_schema(sql, LIBRARY)
    assert not result.passed
    assert any(reason in r for r in result.reasons), result.reasons


async def test_an_index_with_the_fk_second_does_not_cover_it() -> None:
    sql = GOOD_SCHEMA.replace("(book_id, borrowed_at)", "(borrowed_at, book_id)")
    result = await check_schema(sql, LIBRARY)
    assert any("loans(book_id) has no index" in r for r in result.reasons), result.reasons


async def test_a_schema_with_no_table_fails() -> None:
    assert not (await check_schema("SELECT 1;", LIBRARY)).passed


# --- architecture ---------------------------------------------------------------------------

DELIVERY = Case(
    id="t-delivery",
    split="test",
    kind="architecture",
    request="delivery",
    components=(("order",), ("payment",), ("location", "tracking")),
)
NODES = [
    {"id": "gw", "label": "API Gateway"},
    {"id": "orders", "label": "Order Service"},
    {"id": "pay", "label": "Payment Service"},
    {"id": "loc", "type": "text", "text": "**Courier Tracking**\nWhere couriers are"},
]
EDGES = [
    {"id": "e1", "source": "gw", "target": "orders"},
    {"id": "e2", "fromNode": "orders", "toNode": "pay"},
    {"id": "e3", "source": "gw", "target": "loc"},
]
MARKDOWN = (
    "# Delivery\n\nThe API Gateway sends orders to the Order Service, which charges through "
    "the Payment Service; the Courier   Tracking service knows where couriers are."
)


def _canvas(nodes: list[dict[str, str]], edges: list[dict[str, str]]) -> str:
    return json.dumps({"nodes": nodes, "edges": edges})


def test_a_sound_canvas_that_agrees_with_its_markdown_passes() -> None:
    result = check_architecture(_canvas(NODES, EDGES), MARKDOWN, DELIVERY)
    assert result.passed, result.reasons


@pytest.mark.parametrize(
    ("nodes", "edges", "markdown", "reason"),
    [
        (NODES, [*EDGES, {"id": "e4", "source": "gw", "target": "db"}], MARKDOWN, "joins no node"),
        ([*NODES, {"id": "gw", "label": "Gateway"}], EDGES, MARKDOWN, "used twice"),
        (NODES[:2] + NODES[3:], EDGES[:1], MARKDOWN, "no component for payment"),
        (NODES, EDGES, MARKDOWN.replace("Payment Service", "payments"), "not in architecture.md"),
        ([], [], MARKDOWN, "no node"),
    ],
)
def test_a_flawed_canvas_fails_with_its_reason(
    nodes: list[dict[str, str]], edges: list[dict[str, str]], markdown: str, reason: str
) -> None:
    result = check_architecture(_canvas(nodes, edges), markdown, DELIVERY)
    assert not result.passed
    assert any(reason in r for r in result.reasons), result.reasons


def test_a_canvas_that_is_not_json_fails() -> None:
    result = check_architecture('{"nodes": [', MARKDOWN, DELIVERY)
    assert result.reasons[0].startswith("architecture.canvas.json does not parse")


# --- code -----------------------------------------------------------------------------------

SLUGIFY = Case(
    id="t-slugify",
    split="test",
    kind="code",
    request="slugify",
    name="slugify",
    hidden_tests='assert slugify("Hello, World!") == "hello-world"\n',
)
GOOD_CODE = textwrap.dedent(
    '''\
    """Slugs."""
    import re


    def slugify(text: str) -> str:
        return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    '''
)


def test_code_that_does_the_task_passes_from_a_package_path() -> None:
    files = {"src/text/slugs.py": GOOD_CODE, "src/text/__init__.py": ""}
    result = check_code(files, SLUGIFY)
    assert result.passed, result.reasons


@pytest.mark.parametrize(
    ("source", "reason", "category"),
    [
        (GOOD_CODE.replace("str) -> str:", "str) -> str"), "does not parse", ""),
        (GOOD_CODE.replace("re.sub", "regex.sub"), "ruff: ", ""),
        (GOOD_CODE.replace("def slugify", "def make_slug"), "slugify is not defined", "wrong"),
        (
            "def make_slug(text: str) -> str:\n    raise NotImplementedError\n",
            "slugify is not defined",
            "skeleton",
        ),
        (GOOD_CODE.replace('"-", text', '"_", text'), "hidden tests fail: AssertionError", "wrong"),
        (
            "def slugify(text: str) -> str:\n    raise NotImplementedError\n",
            "NotImplementedError",
            "skeleton",
        ),
    ],
)
def test_code_that_fails_is_told_apart(source: str, reason: str, category: str) -> None:
    result = check_code({"slugs.py": source}, SLUGIFY)
    assert not result.passed
    assert any(reason in r for r in result.reasons), result.reasons
    assert result.category == category


def test_failing_code_whose_status_admits_it_is_an_honest_skeleton() -> None:
    source = "def slugify(text: str) -> str:\n    return text\n"
    admitted = check_code({"s.py": source}, SLUGIFY, "Could not write slugify; a stub is left.")
    assert admitted.category == "skeleton"
    assert check_code({"s.py": source}, SLUGIFY, "Code ready: s.py.").category == "wrong"


def test_code_without_python_or_at_the_wrong_path_fails() -> None:
    assert not check_code({"notes.md": "slugify"}, SLUGIFY).passed
    at_path = Case(**{**SLUGIFY.__dict__, "path": "utils/slugs.py"})
    result = check_code({"slugs.py": GOOD_CODE}, at_path)
    assert any("no file at utils/slugs.py" in r for r in result.reasons)


def test_hanging_code_is_stopped() -> None:
    result = check_code({"s.py": "def slugify(t):\n    while True:\n        pass\n"}, SLUGIFY)
    assert result.category == "wrong" and "ran past" in result.reasons[0]


# --- review ---------------------------------------------------------------------------------

INJECTION = Case(
    id="t-sqli",
    split="test",
    kind="review",
    request="review",
    flaws=(("injection",), ("secret", "password")),
)
CLEAN = Case(id="t-clean", split="test", kind="review", request="review", clean=True)


def _report(*issues: tuple[str, str, str], passed: bool = False) -> str:
    found = [{"severity": s, "rule": r, "message": m} for s, r, m in issues]
    return json.dumps({"passed": passed, "valid": passed, "issues": found})


def test_a_review_reporting_every_planted_flaw_passes() -> None:
    report = _report(
        ("error", "security/sql-injection", "SQL built with an f-string"),
        ("error", "secrets/hardcoded", "A hard-coded password"),
    )
    assert check_review(report, INJECTION).passed


def test_a_review_missing_a_planted_flaw_fails() -> None:
    report = _report(("error", "security/sql-injection", "SQL built with an f-string"))
    result = check_review(report, INJECTION)
    assert result.reasons == ("planted flaw not reported: secret/password",)


def test_clean_input_must_pass_its_review() -> None:
    assert check_review(_report(("info", "style", "fine"), passed=True), CLEAN).passed
    failed = check_review(_report(("error", "python/syntax", "invalid syntax")), CLEAN)
    assert not failed.passed and "python/syntax" in failed.reasons[0]
    assert not check_review("not json", CLEAN).passed


async def test_an_answer_without_its_artifact_fails() -> None:
    answer = Answer({"architecture.md": "# x"}, "completed", "Done.")
    result = await check_answer(answer, INJECTION)
    assert not result.passed and "no validation.json" in result.reasons[0]
    prose = Answer({"validation.json": _report(passed=True), "x.md": "Happy to help!"}, "done")
    assert "chat-bot prose" in (await check_answer(prose, CLEAN)).reasons[0]


def test_figures_count_per_kind_and_split() -> None:
    outcomes = [
        Outcome(SLUGIFY, CheckResult(), 2.0),
        Outcome(SLUGIFY, CheckResult(("hidden tests fail: x",), "skeleton"), 4.0),
        Outcome(CLEAN, CheckResult(("no validation.json came back",)), 1.0),
    ]
    figures = quality_figures(outcomes)
    code = next(k for k in figures.kinds if k.kind == "code")
    assert code.mean_s == 3.0
    assert figures.skeletons == 1 and figures.wrong_code == 0 and figures.unrouted_reviews == 1
    assert len(figures.failures) == 2


def _chunk(name: str, text: str, *, append: bool) -> StreamResponse:
    artifact = Artifact(artifact_id=f"id-{name}", name=name, parts=[Part(text=text)])
    return StreamResponse(artifact_update=TaskArtifactUpdateEvent(artifact=artifact, append=append))


def test_an_answer_is_rebuilt_from_its_chunks_and_last_status() -> None:
    status = TaskStatus(state=TaskState.TASK_STATE_COMPLETED)
    status.message.parts.append(Part(text="Schema ready."))
    events = [
        _chunk("schema.sql", "CREATE TABLE a", append=False),
        _chunk("schema.sql", " (id INT);", append=True),
        _chunk("schema.md", "notes", append=False),
        StreamResponse(status_update=TaskStatusUpdateEvent(status=status)),
    ]
    answer = answer_from(events, 1.5)
    assert answer.artifacts == {"schema.sql": "CREATE TABLE a (id INT);", "schema.md": "notes"}
    assert (answer.state, answer.status_text, answer.seconds) == ("completed", "Schema ready.", 1.5)


def test_saved_answers_stay_inside_their_folder(tmp_path: Path) -> None:
    answer = Answer({"src/a.py": "x = 1\n", "../../escape.txt": "no"}, "completed", "Done.")
    save_answer(SLUGIFY, answer, CheckResult(("slugify is not defined",)), tmp_path / "answers")
    folder = tmp_path / "answers" / "test" / "t-slugify"
    assert (folder / "src" / "a.py").read_text() == "x = 1\n"
    assert "slugify is not defined" in (folder / "_verdict.txt").read_text()
    assert not list(tmp_path.rglob("escape.txt"))
