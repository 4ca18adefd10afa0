"""HELD-OUT requests for the code agent's reading of a request (``read_spec``).

Written before the reading was changed and never looked at while tuning it (the tuning
list is ``tests/test_code_spec.py``): short asks, jargon, typos, classes named before the
word "class", signatures written without types, paths, tests-only asks. Each case says only
what a user would check: the kind, the name they gave (or the obvious one), the parameters
their signature named, where the file goes, the methods of a class, how many examples and
whether only tests were asked for. A field left ``None`` is not checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from agents.design.code_spec import read_spec


@dataclass(frozen=True, slots=True)
class Expected:
    request: str
    name: str
    kind: str = "function"
    params: tuple[str, ...] | None = None
    path: str | None = None
    methods: tuple[str, ...] | None = None
    examples: int | None = None
    tests_only: bool | None = None
    test_path: str | None = None
    returns: str | None = None


# HELD OUT: never tuned on.
HELD_OUT = [
    Expected(
        "Write a Python function chunk_text(text, width) that wraps text into lines of at "
        "most width characters.",
        "chunk_text",
        params=("text", "width"),
        path="src/chunk_text.py",
    ),
    Expected(
        "Implement a Queue class with enqueue(item), dequeue() and is_empty().",
        "Queue",
        kind="class",
        methods=("enqueue", "dequeue", "is_empty"),
        path="src/queue.py",
    ),
    Expected(
        "I need a class called RateLimiter with allow(key) and reset()",
        "RateLimiter",
        kind="class",
        methods=("allow", "reset"),
    ),
    Expected(
        "a `Matrix` class with add and multiply", "Matrix", "class", methods=("add", "multiply")
    ),
    Expected(
        "Make a min heap class with push and pop", "MinHeap", "class", methods=("push", "pop")
    ),
    Expected("revrse a strng pls", "reverse_string", params=("text",)),
    Expected("chek if a nubmer is prime", "is_prime", returns="bool"),
    Expected(
        "Create lib/geo.py with haversine(lat1, lon1, lat2, lon2) returning the distance in km",
        "haversine",
        params=("lat1", "lon1", "lat2", "lon2"),
        path="lib/geo.py",
    ),
    Expected(
        "write `dedupe_keep_order(items)`: remove duplicates from a list keeping the first "
        "occurrence, dedupe_keep_order([1, 2, 1, 3]) == [1, 2, 3]",
        "dedupe_keep_order",
        params=("items",),
        examples=1,
    ),
    Expected(
        "pytest tests for roman_to_int: roman_to_int('XIV') == 14, roman_to_int('IX') == 9",
        "roman_to_int",
        examples=2,
        tests_only=True,
        test_path="tests/test_roman_to_int.py",
    ),
    Expected(
        "Python function that returns the nth Fibonacci number, fib(10) == 55",
        "fib",
        params=("n",),
        examples=1,
        returns="int",
    ),
    Expected(
        "def is_anagram(a: str, b: str) -> bool in src/words/anagram.py",
        "is_anagram",
        params=("a", "b"),
        path="src/words/anagram.py",
        returns="bool",
    ),
    Expected(
        "Build a simple event emitter class with on(event, handler) and emit(event)",
        "EventEmitter",
        "class",
        methods=("on", "emit"),
    ),
    Expected(
        "Code a snake_case converter: camel_to_snake('HelloWorld') -> 'hello_world'",
        "camel_to_snake",
        params=("text",),
        examples=1,
    ),
    Expected("fn to validate a UUID string", "is_valid_uuid", returns="bool"),
    Expected(
        "write the Inventory class: add_item(name, qty), remove_item(name), total()",
        "Inventory",
        "class",
        methods=("add_item", "remove_item", "total"),
    ),
    Expected(
        "Please write a helper `normalize_whitespace` that collapses runs of whitespace into "
        "one space",
        "normalize_whitespace",
        path="src/normalize_whitespace.py",
    ),
    Expected(
        "Write tests for word_frequencies(text) in tests/test_freq.py",
        "word_frequencies",
        params=("text",),
        tests_only=True,
        test_path="tests/test_freq.py",
    ),
    Expected(
        "Implement binary search: binary_search(items, target) returns the index or -1",
        "binary_search",
        params=("items", "target"),
    ),
    Expected("Write a function that converts kilometres to miles", "kilometres_to_miles"),
]

# Words that say "write code", not what the code does: never a docstring's first word.
META = {"write", "create", "make", "implement", "need", "build", "code", "please", "i"}


@pytest.mark.parametrize("case", HELD_OUT, ids=[c.name for c in HELD_OUT])
def test_held_out_request_is_read_as_asked(case: Expected) -> None:
    spec = read_spec(case.request)
    assert (spec.kind, spec.name) == (case.kind, case.name)
    if case.params is not None:
        assert tuple(p.name for p in spec.parameters) == case.params
    if case.path is not None:
        assert spec.path == case.path
    if case.methods is not None:
        assert spec.method_names == case.methods
    if case.examples is not None:
        assert len(spec.examples) == case.examples
    if case.tests_only is not None:
        assert spec.tests_only == case.tests_only
    if case.test_path is not None:
        assert spec.test_path == case.test_path
    if case.returns is not None:
        assert spec.returns == case.returns
    first = spec.summary.split()[0].lower().strip(",.")
    assert first not in META, spec.summary
    assert len(spec.summary.split()) >= 3, spec.summary
