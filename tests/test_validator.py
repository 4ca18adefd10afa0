"""The validator's parsers, on real inputs."""

from __future__ import annotations

from agents.components import schema_sql
from agents.kit import File, WorkOrder
from agents.validator import check, files_in
from memory.catalogue import services_for


def test_python_syntax_error_has_line_and_column() -> None:
    report = check("a.py", "def ok():\n    return 1\n\ndef broken(:\n    pass\n")
    assert not report.valid
    assert report.errors[0].line == 4


def test_valid_python_lists_definitions() -> None:
    report = check("a.py", "class A:\n    def f(self) -> int:\n        return 1\n")
    assert report.valid
    assert report.found == {"functions": ["f"], "classes": ["A"]}


def test_sql_errors_and_tables() -> None:
    assert check("s.sql", "CREATE TABLE t (id INT PRIMARY KEY").valid is False
    assert check("s.sql", "SELEC * FRM users").valid is False
    good = check("s.sql", "CREATE TABLE a (id INT); CREATE TABLE b (a_id INT REFERENCES a(id));")
    assert good.valid and good.found["tables"] == ["a", "b"]


def test_json_error_location() -> None:
    report = check("x.json", '{\n  "a": 1,\n}')
    assert not report.valid and report.errors[0].line == 3


def test_generated_schema_parses() -> None:
    sql = schema_sql(services_for("ecommerce with users, products, cart, orders and payments"))
    report = check("schema.sql", sql)
    assert report.valid, report.errors
    assert {"users", "products", "carts", "orders", "payments"} <= set(report.found["tables"])


def test_files_come_from_data_parts_fences_or_inline_text() -> None:
    assert files_in(WorkOrder("check", files=(File("a.py", "x = 1"),))) == [("a.py", "x = 1")]
    fenced = files_in(WorkOrder("look:\n```sql\nSELECT 1\n```\n```python\nx=1\n```"))
    assert [name for name, _ in fenced] == ["snippet-1.sql", "snippet-2.py"]
    assert files_in(WorkOrder('Check this JSON: {"a": 1}')) == [("snippet.json", '{"a": 1}')]
    assert files_in(WorkOrder("just words")) == [("input", "just words")]


def test_the_users_own_code_is_checked_beside_a_teams_files() -> None:
    team = (File("src/slug.py", "def slug(s: str) -> str:\n    return s\n"),)
    own = "Review this code: def total(xs):\n    return sum(xs"
    found = files_in(WorkOrder(own, files=team))
    assert ("snippet.py", "def total(xs):\n    return sum(xs") in found
    assert ("src/slug.py", team[0].text) in found
    # Prose beside a team's files is not code: a plan's request adds nothing to check.
    prose = "Build a shop with [auth] and a cart, then check it; update the docs from the plan"
    assert files_in(WorkOrder(prose, files=team)) == [("src/slug.py", team[0].text)]
