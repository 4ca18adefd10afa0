"""A pytest file from a spec: one deterministic test per example the request gave.

No model writes these: the examples are the user's own, so the tests assert exactly what
they said. Without examples the file holds the tests the signature implies (the function
exists, takes its parameters, returns its annotated type) and says they are minimal.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.design.code_spec import CodeSpec

__all__ = ["TestFile", "write_tests"]

# A value of each simple annotation, to call the function with when no example says how.
_SAMPLES = {
    "str": '"Hello World"',
    "int": "3",
    "float": "2.5",
    "bool": "True",
    "list": "[3, 1, 2]",
    "list[int]": "[3, 1, 2]",
    "list[float]": "[1.5, 2.5]",
    "list[str]": '["b", "a"]',
    "dict[str, object]": '{"a": 1}',
}
_CHECKABLE_RETURNS = frozenset({"str", "int", "float", "bool", "list", "dict", "tuple", "set"})


@dataclass(frozen=True, slots=True)
class TestFile:
    __test__ = False  # not a pytest class, whatever its name says

    path: str
    text: str
    minimal: bool  # no examples to test: only what the signature implies


def write_tests(spec: CodeSpec) -> TestFile:
    """The pytest module for ``spec``, importing it from ``spec.module``."""
    header = [
        f'"""Tests for {spec.name} ({spec.path}).',
        "",
        f"Run with the module on the path: PYTHONPATH=src pytest {spec.test_path}",
        '"""',
        "",
    ]
    if spec.examples:
        needs_approx = any("pytest.approx" in e.assertion(spec.name) for e in spec.examples)
        imports = (["import pytest", ""] if needs_approx else []) + [
            f"from {spec.module} import {spec.name}"
        ]
        tests = [
            f"def test_{spec.name.lower()}_example_{i}() -> None:\n    {e.assertion(spec.name)}\n"
            for i, e in enumerate(spec.examples, start=1)
        ]
        return TestFile(spec.test_path, _join(header, imports, tests), minimal=False)
    return TestFile(spec.test_path, _join(header, _minimal_imports(spec), _minimal(spec)), True)


def _minimal_imports(spec: CodeSpec) -> list[str]:
    return ["import inspect", "", f"from {spec.module} import {spec.name}"]


def _minimal(spec: CodeSpec) -> list[str]:
    """Tests the spec implies: it is there, with its parameters, returning its type."""
    name = spec.name.lower()
    if spec.kind == "class":
        methods = ", ".join(repr(m) for m in spec.methods)
        return [
            f"def test_{name}_has_its_methods() -> None:\n"
            f"    assert inspect.isclass({spec.name})\n"
            f"    for method in ({methods}{',' if len(spec.methods) == 1 else ''}):\n"
            f"        assert callable(getattr({spec.name}, method))\n"
        ]
    wanted = [p.name for p in spec.parameters]
    tests = [
        f"def test_{name}_takes_its_parameters() -> None:\n"
        f"    assert list(inspect.signature({spec.name}).parameters) == {wanted!r}\n"
    ]
    samples = [_SAMPLES.get(p.annotation) for p in spec.parameters]
    returns = (spec.returns or "").split("[")[0]
    if returns in _CHECKABLE_RETURNS and all(s is not None for s in samples):
        arguments = ", ".join(s for s in samples if s is not None)
        tests.append(
            f"def test_{name}_returns_{returns}() -> None:\n"
            f"    assert isinstance({spec.name}({arguments}), {returns})\n"
        )
    return tests


def _join(header: list[str], imports: list[str], tests: list[str]) -> str:
    return "\n".join(header + imports) + "\n\n\n" + "\n\n".join(tests)
