"""Reviews of the user's own material reach the validator, and a failed check is said.

The routing lists: ``TUNING`` is what ``orchestrator.reviews`` was written against;
``HELD_OUT`` was written before it was run on them and never tuned on (other words: slang,
typos, questions, other file kinds).
"""

from __future__ import annotations

import json

import pytest
from support import LiveServer, artifacts, final_state, statuses, stream

from agents.checks import validate
from agents.kit import Verdict, material_in
from bench.routing import card_registry
from inference.embeddings import Embedder
from orchestrator.agent_model import load_examples
from orchestrator.reviews import asks_for_review
from orchestrator.routing import Router
from youmeyou.cli import EXIT_VALIDATION_FAILED, _exit_code

BROKEN_YAML = "services:\n  web:\n    image: nginx\n   ports: [80]\n"
TUNING: dict[str, bool] = {
    f"Check this YAML:\n{BROKEN_YAML}": True,
    'is this json valid? {"a": 1,}': True,
    "Review this code:\n```python\ndef f(x):\n  return eval(x)\n```": True,
    "check this SQL: SELECT * FROM users WHERE id = '%s'": True,
    "any bugs here?\n```\ndef f(:\n pass\n```": True,
    "chek this yaml pls: a: [1,2": True,
    "does this k8s manifest look right?\n```yaml\napiVersion: v1\nkind: Pod\n```": True,
    "fix this function:\n```python\ndef f(:\n pass\n```": False,
    "write a python function slugify(text) in src/slug.py": False,
    "a SQL schema for a library with loans and fines": False,
    "optimize this query: SELECT * FROM orders WHERE status = 'x'": False,
    "review my architecture for a chat app": False,
    "add an index to this: CREATE TABLE t (id int)": False,
    # SQL typed in lower case is the user's material all the same.
    "validate this sql: select id, total from users where id = 116": True,
    "optimize this query: select * from orders where status = 'x'": False,
}
# Held out: never tuned on.
HELD_OUT: dict[str, bool] = {
    "can u sanity-check my compose file?\n```yaml\nversion: '3'\nservices:\n  db: {}\n```": True,
    "anything wrong w/ this?\n```sql\nCREATE TABLE t (price float);\n```": True,
    "pls audit: import os\nTOKEN = 'ghp_abcdefabcdefabcdefabcdefabcdefabcdef'": True,
    "Is this safe?\n```python\nimport subprocess\nsubprocess.call(cmd, shell=True)\n```": True,
    'verify my config: {"port": 80, "debug": true,}': True,
    "reveiw this pls\n```python\ndef add(a, b) return a + b\n```": True,
    "Would you look for problems in this query? SELECT name FROM users WHERE email = '%s'": True,
    'convert this JSON to YAML: {"a": 1}': False,
    "refactor this:\n```python\ndef f(x):\n    return x\n```": False,
    "tables for a vet clinic: pets, owners, visits": False,
    "how do I validate an email address in python?": False,
    "implement a rate limiter, something like: class Limiter: ...": False,
}


@pytest.mark.parametrize(("request_text", "review"), [*TUNING.items(), *HELD_OUT.items()])
def test_a_review_of_the_users_material_is_told_from_a_request_to_make(
    request_text: str, review: bool
) -> None:
    assert asks_for_review(request_text) is review


@pytest.mark.parametrize(
    ("text", "sql"),
    [
        ("validate this sql: select id, total from users where id = 116", True),
        ("is this ok?\nupdate users set name = 'a' where id = 2", True),
        ("check: create table t (id int primary key)", True),
        ("Select the best option from the list for me", False),
        ("update the schema with a likes table", False),
        ("create tables for a library with books and loans", False),
    ],
)
def test_sql_in_lower_case_is_material_and_english_is_not(text: str, sql: bool) -> None:
    pieces = material_in(text).pieces
    assert (pieces[0][0] == "snippet.sql" if pieces else False) is sql


@pytest.fixture(scope="module")
def router() -> Router:
    return Router(card_registry(), Embedder(), examples=load_examples())


@pytest.mark.parametrize(
    "request_text", [t for t, review in [*TUNING.items(), *HELD_OUT.items()] if review]
)
def test_reviews_route_to_the_validator_alone(router: Router, request_text: str) -> None:
    decision = router.route(request_text)
    assert decision.team == ["validator"]
    assert decision.best.agent == "validator"


def test_a_named_agent_still_wins_over_a_review(router: Router) -> None:
    decision = router.route(f"Check this YAML:\n{BROKEN_YAML}", candidates=["code"])
    assert decision.team == ["code"]


def test_a_verdict_says_what_failed() -> None:
    report = validate([("compose.yaml", BROKEN_YAML)])
    verdict = Verdict.read(json.dumps(report.to_dict()))
    assert verdict is not None and not verdict.passed
    assert verdict.errors and verdict.errors[0].startswith("compose.yaml:")
    assert "did not pass" in verdict.sentence() and verdict.errors[0] in verdict.sentence()
    assert verdict.to_metadata() == {
        "passed": False,
        "score": report.score,
        "errors": len(verdict.errors),
    }
    assert Verdict.read("not json") is None and Verdict.read('{"other": 1}') is None


def test_ask_exits_non_zero_unless_done_and_clean() -> None:
    assert _exit_code("completed", {}) == 0
    assert _exit_code("completed", {"passed": True, "score": 100}) == 0
    assert _exit_code("completed", {"passed": False, "score": 40}) == EXIT_VALIDATION_FAILED
    assert _exit_code("failed", {}) == 1
    assert _exit_code("input_required", {}) == 1


async def test_a_review_through_the_orchestrator_checks_the_users_yaml_and_says_it_failed(
    server: LiveServer,
) -> None:
    events = await stream(server.url, f"Check this YAML:\n{BROKEN_YAML}")
    said = statuses(events)
    routing = next(meta["routing"] for _, _, meta in said if "routing" in meta)
    assert routing["team"] == ["validator"]
    report = json.loads(artifacts(events)["validation.json"]["text"])
    assert [f["name"] for f in report["files"]] == ["snippet.yaml"]
    assert not report["passed"] and report["issues"][0]["file"] == "snippet.yaml"
    state, closing, meta = said[-1]
    assert state == final_state(events)
    assert "Validation did not pass" in closing and "snippet.yaml" in closing
    assert meta["validation"]["passed"] is False
    assert meta["validation"]["score"] == report["score"]


async def test_a_clean_review_says_it_passed(server: LiveServer) -> None:
    events = await stream(server.url, 'Is this JSON valid? {"order": 42, "items": [1, 2]}')
    _, closing, meta = statuses(events)[-1]
    assert "Validation passed" in closing
    assert meta["validation"] == {"passed": True, "score": 100, "errors": 0}
