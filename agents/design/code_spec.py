"""What a code request asks for, read into a typed spec before any model is asked.

The name and signature come from what the user wrote (``slugify(text: str) -> str``,
``chunked(items, size)``, "a function `parse_duration`", "an LRU cache class with get and
put") or, failing that, from the task's verb and object (``agents.design.code_naming``,
after a light spelling correction); the file from a path the user gave or from the name;
the examples from the input/output pairs they quoted (``agents.design.code_examples``);
whether they asked for tests. The spec also says how sure its types are, so that checks
derived from them never reject a right answer for a guessed type.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Literal

from agents.design.code_classes import ClassRequest, Method, find_class, human_name
from agents.design.code_examples import (
    Example,
    find_examples,
    find_signatures,
    literal_type,
    without_code,
)
from agents.design.code_naming import (
    DerivedSignature,
    Parameter,
    derive_signature,
    identifier,
    task_verb,
)
from agents.design.code_spelling import correct_spelling
from inference.language import parse, snake

__all__ = ["CodeSpec", "Example", "Method", "Parameter", "read_spec"]

Kind = Literal["function", "class"]

_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.py)\b")
_BACKTICKED = re.compile(r"`(?:def\s+|class\s+)?([A-Za-z_]\w*)`")
_CALLED = re.compile(r"\b(?:called|named|def)\s+`?([A-Za-z_]\w*)")
_SNAKE = re.compile(r"(?<![\w./])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?![\w(/])")
# "Write slugify.", "implement dedupe for lists": a lone word right after the order.
_ORDERED_WORD = re.compile(
    r"^\s*(?:please\s+)?(?:write|implement|create|code|build|make|add)\s+(?:me\s+)?"
    r"`?([a-z_][a-z0-9_]*)`?\s*(?:[.,;:!?]|$|\b(?:in|for|that|which|with)\b)",
    re.IGNORECASE,
)
_NOT_A_NAME = frozenset(["a", "an", "the", "some", "me", "it", "this", "one", "tests", "test"])
_CODE_WORDS = "function|func|fn|helper|method|utility|util|routine"
_MODIFIER = re.compile(rf"\b(?:a|an|the|my)\s+([a-z_][a-z0-9_]*)\s+(?:{_CODE_WORDS})\b")
# "a function (NAME) that / which / to <what it does>": where the user's description starts.
_RELATIVE = re.compile(rf"\b(?:{_CODE_WORDS})\b[^.;:]*?\b(?:that|which|to)\s+(?=[a-z])")
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
# What a parameter's name says of its type when the user gave none (a guess: never used
# to call the function in a check).
_NAME_TYPES = {
    "str": frozenset(["text", "s", "string", "word", "sentence", "name", "key", "email", "url"]),
    "int": frozenset(["n", "k", "i", "size", "width", "count", "limit", "index", "cents"]),
    "float": frozenset(["x", "y", "amount", "price", "celsius", "fahrenheit"]),
}
_STATED_RETURN = re.compile(
    r"\breturn(?:s|ing)?\s+(?:an?\s+|the\s+)?(list|dict|dictionary|set|tuple|string|str"
    r"|integer|int|boolean|bool|float)\b|\((?:as\s+)?an?\s+(int|float|str|bool|list|dict)\)",
    re.IGNORECASE,
)
_RETURN_TYPES = {"dictionary": "dict", "string": "str", "integer": "int", "boolean": "bool"}
# Nouns that say a text is meant: a parameter named so is a str by what the user said
# (any other noun is a str only because nothing else was said, so it is not called).
_TEXT_NAMES = frozenset(
    {"text", "word", "sentence", "line", "paragraph", "phrase", "address", "email"}
    | {"password", "url", "name", "username", "title", "html", "slug", "string", "query"}
)
_PREDICATE_PREFIXES = ("is_", "has_", "can_", "should_", "contains_")
_DECODING_PREFIXES = ("parse", "load", "read", "decode", "to_", "from_", "convert")


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
    methods: tuple[Method, ...] = ()
    wants_tests: bool = False
    tests_only: bool = False
    named_by_user: bool = False
    init_parameters: str = ""  # a class's constructor parameters after ``self``
    types_known: bool = False  # the parameters' types were said, not guessed from names
    returns_known: bool = False  # so was the return type

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

    @property
    def method_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.methods)


@dataclass(frozen=True, slots=True)
class _Signature:
    parameters: tuple[Parameter, ...]
    returns: str | None
    types_known: bool
    returns_known: bool


def read_spec(request: str) -> CodeSpec:
    """The spec of what ``request`` asks the code agent to write."""
    examples = tuple(e for e in find_examples(request) if _literal_arguments(e))
    wanted = find_class(request)
    if wanted is not None:
        return _class_spec(request, wanted)
    corrected = correct_spelling(request, without_code(request))
    given = _given_name(request, find_examples(request))
    derived = derive_signature(without_code(corrected))
    name = given or derived.name
    signature = _signature(request, name, examples) or _derived(name, derived, examples)
    module_path, test_path = _paths(request)
    wants_tests = bool(_TESTS.search(request)) or test_path is not None
    return CodeSpec(
        kind="function",
        name=name,
        parameters=signature.parameters,
        returns=signature.returns,
        summary=_summary(corrected, name),
        path=module_path or f"src/{snake(name)}.py",
        test_path=test_path or f"tests/test_{_stem(module_path) or snake(name)}.py",
        examples=tuple(e for e in examples if e.called_as in {None, name} or given is None),
        wants_tests=wants_tests,
        tests_only=wants_tests and _tests_first(request, module_path),
        named_by_user=given is not None,
        types_known=signature.types_known,
        returns_known=signature.returns_known,
    )


def _class_spec(request: str, wanted: ClassRequest) -> CodeSpec:
    module_path, test_path = _paths(request)
    wants_tests = bool(_TESTS.search(request)) or test_path is not None
    stem = snake(human_name(wanted.name))
    return CodeSpec(
        kind="class",
        name=wanted.name,
        parameters=(),
        returns=None,
        summary=_class_summary(wanted),
        path=module_path or f"src/{stem}.py",
        test_path=test_path or f"tests/test_{_stem(module_path) or stem}.py",
        methods=wanted.methods,
        wants_tests=wants_tests,
        tests_only=wants_tests and _tests_first(request, module_path),
        named_by_user=True,
        init_parameters=wanted.init_parameters,
    )


def _class_summary(wanted: ClassRequest) -> str:
    """'A stack with push and pop.': the class in words, then what the user said of it."""
    words = human_name(wanted.name)
    article = "An" if re.match(r"[aeiouAEIOU]|[FHLMNRSX][A-Z]", words) else "A"
    rest = re.sub(r"^\s*(?:in\s+python\b)?\s*", "", wanted.rest, flags=re.IGNORECASE)
    rest = re.sub(r"^:\s*", "with ", rest)
    return _sentence(f"{article} {words} {rest}".strip(), calls_end_it=False)


def _given_name(request: str, examples: list[Example]) -> str | None:
    """A function name the user wrote: quoted, 'called X', a signature, an example's call,
    an identifier in the prose (``snake_case``), 'a slugify function'."""
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
    written = _SNAKE.search(without_code(request))
    if written is not None:
        return written.group(1)
    ordered = _ORDERED_WORD.match(request)
    if ordered is not None and ordered.group(1).lower() not in _NOT_A_NAME | _QUALIFIERS:
        return identifier(ordered.group(1))
    modifier = _MODIFIER.search(request)
    if modifier is not None and modifier.group(1) not in _QUALIFIERS:
        return identifier(modifier.group(1))
    return None


def _literal_arguments(example: Example) -> bool:
    """An example calls with values, not names: ``f(x) == 3`` tests nothing."""
    call = ast.parse(f"f({example.arguments})", mode="eval").body
    assert isinstance(call, ast.Call)
    arguments = [*call.args, *(k.value for k in call.keywords)]
    return not any(isinstance(n, ast.Name) for a in arguments for n in ast.walk(a))


def _signature(request: str, name: str, examples: tuple[Example, ...]) -> _Signature | None:
    """The user's own signature for ``name`` when they wrote one: their names, their types
    where given, else the examples' types, else a guess from the name (marked as one)."""
    quoted = next((s for s in find_signatures(request) if s.name == name), None)
    if quoted is None:
        return None
    tree = ast.parse(f"def {name}({quoted.parameters}): pass").body[0]
    assert isinstance(tree, ast.FunctionDef)
    shown = _example_types(examples, len(tree.args.args))
    parameters, known = [], True
    for index, argument in enumerate(tree.args.args):
        annotation = ast.unparse(argument.annotation) if argument.annotation else None
        annotation = annotation or (shown[index] if shown else None)
        known = known and annotation is not None
        parameters.append(Parameter(argument.arg, annotation or _type_of_name(argument.arg)))
    returns = quoted.returns or (literal_type(examples[0].expected) if examples else None)
    returns = returns or _stated_return(request[quoted.start :])
    if returns is None and name.startswith(_PREDICATE_PREFIXES):
        returns = "bool"
    return _Signature(tuple(parameters), returns, known, returns is not None)


def _derived(name: str, derived: DerivedSignature, examples: tuple[Example, ...]) -> _Signature:
    """The signature the words imply, typed by the examples when there are some."""
    parameters = tuple(
        p if p.name != name else Parameter("value", p.annotation) for p in derived.parameters
    )
    returns: str | None = derived.returns
    if examples:
        parameters, returns = _fit_examples(parameters, returns, examples)
        return _Signature(parameters, returns, True, literal_type(examples[0].expected) is not None)
    guessed = not parameters or any(
        p.name == "value" or (p.annotation == "str" and p.name not in _TEXT_NAMES)
        for p in parameters
    )
    text_to_text = returns == "str" and all(p.annotation == "str" for p in parameters)
    sure = (
        name.startswith(_PREDICATE_PREFIXES)
        or (name.startswith("count") and returns == "int")
        or (text_to_text and not name.startswith(_DECODING_PREFIXES))
    )
    return _Signature(parameters, returns, not guessed, sure and not guessed)


def _example_types(examples: tuple[Example, ...], count: int) -> list[str | None] | None:
    """The types of the first example's arguments, when it has ``count`` of them."""
    if not examples:
        return None
    arguments = _argument_sources(examples[0].arguments)
    return [literal_type(a) for a in arguments] if len(arguments) == count else None


def _type_of_name(name: str) -> str:
    for annotation, names in _NAME_TYPES.items():
        if name.lower() in names:
            return annotation
    return "list" if re.fullmatch(r"[a-z]+s", name) and name not in {"is", "has"} else "object"


def _stated_return(text: str) -> str | None:
    """'returns a dict mapping...' -> dict, '(an int)' -> int."""
    match = _STATED_RETURN.search(text)
    if match is None:
        return None
    word = (match.group(1) or match.group(2)).lower()
    return _RETURN_TYPES.get(word, word)


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


def _paths(request: str) -> tuple[str | None, str | None]:
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


def _summary(request: str, name: str) -> str:
    """One sentence for the docstring: what the function does, in the user's words (from
    the task's verb to the end of its sentence), else what its name says."""
    prose = without_code(request)
    relative = _RELATIVE.search(prose)
    verb = task_verb(parse(prose))
    start = relative.end() if relative is not None else verb.idx if verb is not None else None
    if start is None:
        return _name_summary(name)
    sentence = _sentence(request[start:])
    return sentence if len(sentence.split()) >= 2 else _name_summary(name)


def _name_summary(name: str) -> str:
    """'is_anagram' -> 'Check whether the input is an anagram.', 'camel_to_snake' ->
    'Convert camel to snake.', 'factorial' -> 'Return the factorial.'"""
    words = snake(name).split("_")
    if name.startswith(_PREDICATE_PREFIXES) and len(words) > 1:
        return _sentence(f"Check whether the input {words[0]} {' '.join(words[1:])}")
    if "to" in words[1:-1]:
        return _sentence("Convert " + " ".join(words))
    first = parse(f"Please {' '.join(words)} it.")[1]
    if first.pos_ == "VERB":
        return _sentence(" ".join(words) + (" the input" if len(words) == 1 else ""))
    return _sentence("Return the " + " ".join(words))


def _sentence(text: str, *, calls_end_it: bool = True) -> str:
    """``text`` as one docstring sentence: up to its examples (a call after a comma is one,
    unless ``calls_end_it`` is false: a class's methods), capitalised, one line."""
    ends = r"[;:]\s|\be\.g\.|\bfor example\b|\.\s|\.$"
    if calls_end_it:
        ends += r"|,\s*(?=[A-Za-z_]\w*\()"
    text = re.split(rf"\s*(?:{ends})", text)[0]
    text = " ".join(text.split()).strip(" ,.").replace("\\", "/").replace('"""', "'")
    if len(text) > 200:
        text = text[:200].rsplit(" ", 1)[0].rstrip(",;")
    text = text or "Do what the request asks"
    return text[0].upper() + text[1:] + "."
