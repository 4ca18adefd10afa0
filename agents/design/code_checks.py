"""Checking a candidate module, and saying exactly what the check verified.

With the user's examples, the module must pass them all (run in the sandbox). Without
them, only what the spec implies can be checked: it parses, passes ruff's error rules,
defines the asked name with its signature (``codegen.assemble`` saw to that), and, where
the types were said rather than guessed, a call on a simple input of those types does not
fail with a programming error and returns the said type (a predicate returns a bool).
Whatever passes, the verdict's ``verified`` says what was checked, and, without examples,
that the behaviour is unverified.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.design.code_spec import CodeSpec
from agents.design.codegen import ruff_errors
from agents.design.sandbox import run_sandboxed

__all__ = [
    "SAMPLES",
    "CodeCheck",
    "check_module",
    "checked_return",
    "example_script",
    "property_script",
    "sample_call",
]

# A simple value of each annotation, to call the function with when no example says how.
SAMPLES = {
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
# Raised on a sample input, these say the code is wrong; a ValueError may be the right
# answer to an input like "Hello World" (a parser refusing it), so it is let through.
_BUG_ERRORS = (
    "TypeError, AttributeError, NameError, IndexError, KeyError, ImportError, "
    "RecursionError, ZeroDivisionError, NotImplementedError, AssertionError"
)


@dataclass(frozen=True, slots=True)
class CodeCheck:
    problem: str  # '' when the module passed
    verified: str  # what passing means, said as 'it ...' ('passes the 2 examples you gave')


async def check_module(spec: CodeSpec, text: str) -> CodeCheck:
    """Ruff's error rules, then the examples, else the checks the spec implies."""
    verified = _what_is_verified(spec)
    errors = await ruff_errors(spec.path, text)
    if errors:
        return CodeCheck(f"ruff: {errors[0]}", verified)
    script = example_script(spec) if spec.examples else property_script(spec)
    if script is None:
        return CodeCheck("", verified)
    root = spec.path.split("/", 1)[0] if spec.path.startswith("src/") else ""
    result = await run_sandboxed({spec.path: text}, script, path=(root,))
    kind = "examples" if spec.examples else "checks"
    return CodeCheck("" if result.ok else f"{kind}: {result.reason[:200]}", verified)


def _what_is_verified(spec: CodeSpec) -> str:
    if spec.examples:
        count = len(spec.examples)
        return f"passes the {count} example{'s' if count > 1 else ''} you gave"
    if spec.kind == "class":
        shape = f"defines class {spec.name}"
        if spec.methods:
            shape += f" with {', '.join(spec.method_names)}"
    else:
        shape = f"has the signature {spec.signature}"
        call = sample_call(spec)
        if call is not None and checked_return(spec) is not None:
            shape += f", and {call} returns a {checked_return(spec)}"
        elif call is not None:
            shape += f", and {call} runs"
    return (
        f"parses, passes ruff and {shape}; no examples were given, so its behaviour is unverified"
    )


def sample_call(spec: CodeSpec) -> str | None:
    """``name(sample, ...)`` when every parameter's type was said and has a sample."""
    if spec.kind != "function" or not spec.types_known:
        return None
    samples = [SAMPLES.get(p.annotation) for p in spec.parameters]
    if any(s is None for s in samples):
        return None
    return f"{spec.name}({', '.join(s for s in samples if s is not None)})"


def checked_return(spec: CodeSpec) -> str | None:
    returns = (spec.returns or "").split("[")[0]
    if not spec.returns_known or returns not in _CHECKABLE_RETURNS:
        return None
    return returns


def property_script(spec: CodeSpec) -> str | None:
    """A script that calls the function on sample inputs and fails on a programming error
    or a return of the wrong type; None when the spec implies nothing to run."""
    call = sample_call(spec)
    if call is None:
        return None
    returns = checked_return(spec)
    lines = [
        f"from {spec.module} import {spec.name}",
        "try:",
        f"    got = {call}",
        f"except ({_BUG_ERRORS}) as error:",
        f"    raise SystemExit({call!r} + ' raised ' + type(error).__name__ + ': ' + str(error))",
        "except ValueError:",
        "    pass",
    ]
    if returns is not None:
        lines += [
            "else:",
            f"    if not isinstance(got, {returns}):",
            f"        raise SystemExit({call!r} + ' returned ' + repr(got)[:60]"
            f" + ', not a {returns}')",
        ]
    return "\n".join(lines) + "\n"


def example_script(spec: CodeSpec) -> str:
    """A script that imports the module and fails, saying how, on any example that fails."""
    lines = ["import math", f"from {spec.module} import {spec.name}", "failures = []"]
    for example in spec.examples:
        call = f"{spec.name}({example.arguments})"
        if example.comparison == "is":
            test = f"got is {example.expected}"
        elif _is_number(example.expected):
            test = (
                f"got == {example.expected} or (isinstance(got, float) and "
                f"math.isclose(got, {example.expected}))"
            )
        else:
            test = f"got == {example.expected}"
        lines += [
            "try:",
            f"    got = {call}",
            "except Exception as error:",
            f"    failures.append({call!r} + ' raised ' + type(error).__name__)",
            "else:",
            f"    if not ({test}):",
            f"        failures.append({call!r} + ' returned ' + repr(got)[:60]"
            f" + ', expected ' + {example.expected!r})",
        ]
    lines.append("if failures:\n    raise SystemExit('; '.join(failures))")
    return "\n".join(lines) + "\n"


def _is_number(source: str) -> bool:
    text = source.strip().removeprefix("-")
    return text.replace(".", "", 1).isdigit()
