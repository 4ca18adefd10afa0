"""What a code request asks for, read into a typed spec before any model is asked.

The name and signature come from what the user wrote (``slugify(text: str) -> str``, "a
function `parse_duration`", "class LRUCache with get and put") or, failing that, from the
task's verb and object (``agents.design.code_naming``); the file from a path the user gave
or from the name; the examples from the input/output pairs they quoted
(``agents.design.code_examples``); whether they asked for tests.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Literal

from agents.design.code_examples import (
    Example,
    find_examples,
    find_signatures,
    literal_type,
    without_code,
)
from agents.design.code_naming import Parameter, derive_signature, identifier, task_verb
from agents.design.language import parse, snake

__all__ = ["CodeSpec", "Example", "Parameter", "read_spec"]

Kind = Literal["function", "class"]

_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.py)\b")
_BACKTICKED = re.compile(r"`(?:def\s+|class\s+)?([A-Za-z_]\w*)`")
_CALLED = re.compile(r"\b(?:called|named|def)\s+`?([A-Za-z_]\w*)")
_CLASS = re.compile(r"\bclass\s+`?([A-Z]\w*)`?(?:\s+with\s+(.*))?", re.IGNORECASE)
_CODE_WORDS = "function|func|helper|method|utility|util|routine"
_MODIFIER = re.compile(rf"\b(?:a|an|the|my)\s+([a-z_][a-z0-9_]*)\s+(?:{_CODE_WORDS})\b")
_QUALIFIERS = frozenset(
    [
        "python",
        "py",
        "simple",
        "small",
        "quick",
        "pure",
        "recursive",
        "async",
        "helper",
        "utility",
        "little",
        "new",
        "basic",
        "short",
        "generic",
        "reusable",
        "efficient",
        "fast",
        "good",
        "nice",
        "typed",
        "tiny",
        "single",
    ]
)
_TESTS = re.compile(
    r"\b(pytest|unittest|unit[- ]tests?|tests|test (?:file|suite|cases?|for|module))\b"
    r"|\b(?:a|the|some|with) test\b",
    re.IGNORECASE,
)
_IMPLEMENTATION = re.compile(rf"\b({_CODE_WORDS}|class|implement|def|module)\b", re.IGNORECASE)
_PARAMETER_NAMES = {"str": "text", "int": "n", "float": "x", "bool": "flag"}


@dataclass(frozen=True, slots=True)
class CodeSpec:
    """One function or class to write, where it goes, and what it must do."""

    kind: Kind
    name: str
    parameters: tuple[Parameter, ...]
    returns: str | None
    summary: str
    path: str
    test_path: str
    examples: tuple[Example, ...] = ()
    methods: tuple[str, ...] = ()
    wants_tests: bool = False
    tests_only: bool = False
    named_by_user: bool = False

    @property
    def signature(self) -> str:
        """``def name(params) -> returns`` (or ``class Name``), without the colon."""
        if self.kind == "class":
            return f"class {self.name}"
        params = ", ".join(f"{p.name}: {p.annotation}" for p in self.parameters)
        returns = f" -> {self.returns}" if self.returns else ""
        return f"def {self.name}({params}){returns}"

    @property
    def module(self) -> str:
        """The import path of ``path`` (a ``src/`` layout imports without the ``src``)."""
        return self.path.removeprefix("src/").removesuffix(".py").replace("/", ".")


def read_spec(request: str) -> CodeSpec:
    """The spec of what ``request`` asks the code agent to write."""
    examples = tuple(find_examples(request))
    kind, name, methods = _kind_and_name(request, examples)
    named = name is not None
    derived = derive_signature(without_code(request))
    name = name or derived.name
    parameters, returns = _signature(request, name, derived.parameters, derived.returns)
    parameters = tuple(
        p if p.name != name else Parameter("value", p.annotation) for p in parameters
    )
    if kind == "function" and examples and not _quoted(request, name):
        parameters, returns = _fit_examples(parameters, returns, examples)
    module_path, test_path = _paths(request, name)
    wants_tests = bool(_TESTS.search(request)) or test_path is not None
    return CodeSpec(
        kind=kind,
        name=name,
        parameters=parameters if kind == "function" else (),
        returns=returns if kind == "function" else None,
        summary=_summary(request) if kind == "function" else _sentence(request),
        path=module_path or f"src/{snake(name)}.py",
        test_path=test_path or f"tests/test_{_stem(module_path) or snake(name)}.py",
        examples=tuple(e for e in examples if e.called_as in {None, name} or not named),
        methods=methods,
        wants_tests=wants_tests,
        tests_only=wants_tests and _tests_first(request, module_path),
        named_by_user=named,
    )


def _kind_and_name(
    request: str, examples: tuple[Example, ...]
) -> tuple[Kind, str | None, tuple[str, ...]]:
    found = _CLASS.search(request)
    if found is not None and found.group(1)[0].isupper():
        return "class", found.group(1), _methods(found.group(2) or "")
    return "function", _given_name(request, examples), ()


def _given_name(request: str, examples: tuple[Example, ...]) -> str | None:
    """A function name the user wrote: quoted, 'called X', a signature, an example's call."""
    for pattern in (_BACKTICKED, _CALLED):
        match = pattern.search(request)
        if match is not None:
            return match.group(1)
    signatures = find_signatures(request)
    if signatures:
        return signatures[0].name
    calls = [e.called_as for e in examples if e.called_as and len(e.called_as) > 1]
    if calls:
        return calls[0]
    modifier = _MODIFIER.search(request)
    if modifier is not None and modifier.group(1) not in _QUALIFIERS:
        return identifier(modifier.group(1))
    return None


def _methods(text: str) -> tuple[str, ...]:
    """'get and put methods' -> ('get', 'put'); 'get(key) and put(key, value)' too."""
    words = re.findall(r"[A-Za-z_]\w*", re.split(r"[.;]", text)[0])
    skip = {"and", "or", "methods", "method", "a", "an", "the", "operations", "that", "which"}
    return tuple(dict.fromkeys(w for w in words if w.lower() not in skip))[:8]


def _quoted(request: str, name: str) -> bool:
    return any(s.name == name for s in find_signatures(request))


def _signature(
    request: str, name: str, parameters: tuple[Parameter, ...], returns: str
) -> tuple[tuple[Parameter, ...], str | None]:
    """The user's own signature for ``name`` when they wrote one; else the derived one."""
    quoted = next((s for s in find_signatures(request) if s.name == name), None)
    if quoted is None:
        return parameters, returns
    tree = ast.parse(f"def {name}({quoted.parameters}): pass").body[0]
    assert isinstance(tree, ast.FunctionDef)
    written = tuple(
        Parameter(a.arg, ast.unparse(a.annotation) if a.annotation else "object")
        for a in tree.args.args
    )
    return written, quoted.returns


def _fit_examples(
    parameters: tuple[Parameter, ...], returns: str | None, examples: tuple[Example, ...]
) -> tuple[tuple[Parameter, ...], str | None]:
    """Types (and the number of parameters) as the examples show them."""
    first = examples[0]
    arguments = _argument_sources(first.arguments)
    types = [literal_type(a) for a in arguments]
    if len(arguments) != len(parameters):
        names = [_PARAMETER_NAMES.get((t or "").split("[")[0], "value") for t in types]
        names = [n if names.count(n) == 1 else f"{n}_{i + 1}" for i, n in enumerate(names)]
        parameters = tuple(Parameter(n, t or "object") for n, t in zip(names, types, strict=True))
    else:
        # A parameter the words did not name ('value') is named by its example's type.
        parameters = tuple(
            Parameter(
                _PARAMETER_NAMES.get((t or "").split("[")[0], p.name)
                if p.name == "value"
                else p.name,
                t or p.annotation,
            )
            for p, t in zip(parameters, types, strict=True)
        )
    expected = literal_type(first.expected)
    return parameters, expected or returns


def _argument_sources(arguments: str) -> list[str]:
    call = ast.parse(f"f({arguments})", mode="eval").body
    assert isinstance(call, ast.Call)
    return [ast.unparse(a) for a in call.args]


def _paths(request: str, name: str) -> tuple[str | None, str | None]:
    """The module and test paths the user wrote, if any."""
    module_path = test_path = None
    for path in _PATH.findall(request):
        base = path.rsplit("/", 1)[-1]
        if path.startswith("tests/") or base.startswith("test_"):
            test_path = test_path or path
        else:
            module_path = module_path or path
    return module_path, test_path


def _tests_first(request: str, module_path: str | None) -> bool:
    """Only tests: the tests are named before anything to implement (and no module path)."""
    if module_path is not None:
        return False
    tests = _TESTS.search(request)
    code = _IMPLEMENTATION.search(request)
    return code is None or (tests is not None and tests.start() < code.start())


def _stem(path: str | None) -> str | None:
    return path.rsplit("/", 1)[-1].removesuffix(".py") if path else None


def _summary(request: str) -> str:
    """One sentence for the docstring: what the function does, in the user's words."""
    verb = task_verb(parse(without_code(request)))
    if verb is None:
        return _sentence(request.split("(")[0])
    end = max(t.idx + len(t.text) for t in verb.subtree)
    return _sentence(request[verb.idx : end])


def _sentence(text: str) -> str:
    """``text`` as one docstring sentence: up to its examples, capitalised, one line."""
    text = re.split(r"\s*(?:[;:]|\be\.g\.|\bfor example\b|,\s*(?=[A-Za-z_]\w*\())", text)[0]
    text = " ".join(text.split()).strip(" ,.").replace("\\", "/").replace('"""', "'")[:160]
    text = text or "Do what the request asks"
    return text[0].upper() + text[1:] + "."
