"""A pytest file from a spec: one deterministic test per example the request gave.

No model writes these: the examples are the user's own, so the tests assert exactly what
they said. Without examples the file holds the tests the signature implies (the function
exists, takes its parameters, returns the type the user said) and says they are minimal.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.design.code_checks import checked_return, sample_call
from agents.design.code_spec import CodeSpec

__all__ = ["TestFile", "write_tests"]


@dataclass(frozen=True, slots=True)
class TestFile:
    __test__ = False  # not a pytest class, whatever its name says

    path: str
    text: str
    minimal: bool  # no examples to test: only what the signature implies
    covers: str = ""  # what the tests check, in words ('the 2 examples you gave')


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
        count = len(spec.examples)
        covers = f"the {count} example{'s' if count > 1 else ''} you gave"
        return TestFile(spec.test_path, _join(header, imports, tests), False, covers)
    minimal = _minimal(spec)
    if spec.kind == "class":
        covers = "that the class has its methods"
    else:
        covers = "the signature" + (" and the return type" if len(minimal) > 1 else "")
    return TestFile(spec.test_path, _join(header, _minimal_imports(spec), minimal), True, covers)


def _minimal_imports(spec: CodeSpec) -> list[str]:
    return ["import inspect", "", f"from {spec.module} import {spec.name}"]


def _minimal(spec: CodeSpec) -> list[str]:
    """Tests the spec implies: it is there, with its parameters, returning its type."""
    name = spec.name.lower()
    if spec.kind == "class":
        methods = ", ".join(repr(m) for m in spec.method_names)
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
    call, returns = sample_call(spec), checked_return(spec)
    if call is not None and returns is not None:  # only types the user said, never guesses
        tests.append(
            f"def test_{name}_returns_{returns}() -> None:\n"
            f"    assert isinstance({call}, {returns})\n"
        )
    return tests


def _join(header: list[str], imports: list[str], tests: list[str]) -> str:
    return "\n".join(header + imports) + "\n\n\n" + "\n\n".join(tests)
