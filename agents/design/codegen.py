"""From a model's raw answer to a module we can stand behind, or an honest skeleton.

The model's text is never sent as is: the asked function (or class) is cut out of it with
Python's parser, given the spec's signature and docstring, joined to the imports it uses,
and checked (ruff's error rules, the request's examples run in a sandbox). What does not
pass is replaced by a skeleton that says so.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass

from agents.checks.ruff import aruff_issues
from agents.design.code_spec import CodeSpec, Method

__all__ = [
    "Candidate",
    "assemble",
    "is_complete",
    "ruff_errors",
    "skeleton",
    "stub_source",
]

_FENCE = re.compile(r"^\s*```.*$", re.MULTILINE)
_MAX_PROSE_WORDS = 12  # a string constant longer than this is a chat reply, not code
_STUB_BODIES = ("pass", "...", "raise NotImplementedError")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A module built from one model answer, or why none could be built."""

    text: str | None
    problem: str = ""


def stub_source(spec: CodeSpec) -> str:
    """The signature and docstring the model is asked to complete (for a class, up to its
    constructor's header)."""
    lines = [f"{spec.signature}:", f'    """{spec.summary}']
    if spec.examples:
        lines += ["", "    Examples:"]
        lines += [
            f"        {e.assertion(spec.name).removeprefix('assert ')}" for e in spec.examples
        ]
    if spec.methods:
        listed = ", ".join(f"{m.name}({m.parameters})" for m in spec.methods)
        lines += ["", f"    Methods: {listed}."]
    lines.append('    """')
    if spec.kind == "class":
        lines += ["", f"    def __init__({_parameters(spec.init_parameters)}) -> None:"]
    return "\n".join(lines) + "\n"


def _parameters(written: str, *, given: bool = True) -> str:
    """``self`` and the user's parameters, each annotated ``object`` when they gave no
    type; ``*args``/``**kwargs`` when the user wrote none for a method they only named."""
    if not given:
        return "self, *args: object, **kwargs: object"
    if not written.strip():
        return "self"
    tree = ast.parse(f"def f({written}): pass").body[0]
    assert isinstance(tree, ast.FunctionDef)
    for argument in tree.args.args:
        argument.annotation = argument.annotation or ast.Name("object")
    return "self, " + ast.unparse(tree.args)


def is_complete(text: str, spec: CodeSpec) -> bool:
    """Whether the answer so far holds the whole definition (a later line is back at
    column 0, or a fence closes): the rest of a stream would only be chatter."""
    lines = _FENCE.sub("\x00", text).splitlines()
    start = next((i for i, line in enumerate(lines) if _opens(line, spec)), None)
    if start is None:
        return False
    body = lines[start + 1 :]
    seen_body = False
    for line in body[:-1]:  # the last line may still be growing
        if line.startswith((" ", "\t")) and line.strip():
            seen_body = True
        elif seen_body and line.strip() and not line.startswith(("@", "def ", "class ")):
            return True  # back at column 0 (or a fence, now NUL): the definition is over
    return False


def assemble(raw: str, spec: CodeSpec) -> Candidate:
    """The module the answer ``raw`` gives for ``spec``, or why it gives none."""
    text = _FENCE.sub("", raw)
    tree = _longest_parsing(_from_definition(text, spec))
    if tree is None:
        return Candidate(None, "the answer does not parse as Python")
    node = next((n for n in tree.body if _defines(n, spec)), None)
    if node is None:
        return Candidate(None, f"the answer does not define {spec.name}")
    problem = _shape_problem(_with_spec_parameters(node, spec), spec)
    if problem:
        return Candidate(None, problem)
    imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    return Candidate(_module(spec, _with_spec_header(node, spec), imports))


def skeleton(spec: CodeSpec, reasons: list[str]) -> str:
    """The signature, the docstring and ``raise NotImplementedError``, marked as such."""
    why = "; ".join(reasons) if reasons else "no model answer was tried"
    note = f"    # SKELETON: the model's attempts did not pass ({why[:300]}).\n"
    raise_line = f'    raise NotImplementedError("{spec.name} is not written yet")\n'
    if spec.kind == "class":
        methods = spec.methods or (Method("run"),)
        if spec.init_parameters:
            methods = (Method("__init__", spec.init_parameters, given=True), *methods)
        body = "".join(
            f"\n    def {m.name}({_parameters(m.parameters, given=m.given)}) -> "
            f"{'None' if m.name == '__init__' else 'object'}:\n"
            f'        """{m.name.strip("_").replace("_", " ").capitalize()}."""\n'
            f"    {note}    {raise_line}"
            for m in methods
        )
        definition = f'{spec.signature}:\n    """{spec.summary}"""\n{body}'
    else:
        definition = stub_source(spec) + note + raise_line
    header = f'"""{spec.summary} (skeleton: not implemented yet)"""\n\n\n'
    return header + definition


async def ruff_errors(name: str, text: str) -> list[str]:
    """Ruff's error rules (syntax E9, pyflakes F) on ``text``, as readable findings."""
    issues = await aruff_issues(name, text)
    return [
        f"line {i.line}: {i.rule} {i.message}" for i in issues if i.rule.startswith(("E9", "F"))
    ]


def _opens(line: str, spec: CodeSpec) -> bool:
    keyword = "class" if spec.kind == "class" else "def"
    return re.match(rf"\s*(async\s+)?{keyword}\s+{re.escape(spec.name)}\b", line) is not None


def _from_definition(text: str, spec: CodeSpec) -> str:
    """The imports the answer wrote, then its text from the asked definition on; an answer
    that is only a body is put under the spec's signature."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _opens(line, spec)), None)
    imports = [line for line in lines if re.match(r"(import|from)\s+\w", line)]
    if start is None:
        body = [line for line in lines if not re.match(r"(import|from)\s+\w", line)]
        indented = "\n".join(
            "    " + line.strip() if not line.startswith(" ") else line for line in body
        )
        return "\n".join(imports) + "\n" + stub_source(spec) + indented
    definition = lines[start:]
    indent = len(definition[0]) - len(definition[0].lstrip())
    definition = [line[indent:] if line[:indent].isspace() else line for line in definition]
    return "\n".join([*imports, *definition])


def _longest_parsing(text: str) -> ast.Module | None:
    """The parse of the longest prefix of whole lines that parses (trailing prose cut)."""
    lines = text.splitlines()
    for end in range(len(lines), 0, -1):
        try:
            return ast.parse("\n".join(lines[:end]))
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
    return None


def _defines(node: ast.stmt, spec: CodeSpec) -> bool:
    if spec.kind == "class":
        return isinstance(node, ast.ClassDef) and node.name == spec.name
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == spec.name


def _with_spec_parameters(node: ast.stmt, spec: CodeSpec) -> ast.stmt:
    """The function with its parameters renamed to the spec's, where only the names differ.

    A small model often writes the right body under its own names (``s`` for ``text``); the
    user asked for theirs, so the body is renamed rather than thrown away.
    """
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return node
    names = [a.arg for a in node.args.args]
    wanted = [p.name for p in spec.parameters]
    used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    clashes = (set(wanted) - set(names)) & used
    if len(names) != len(wanted) or names == wanted or clashes:
        return node
    renames = dict(zip(names, wanted, strict=True))
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and child.id in renames:
            child.id = renames[child.id]
    for argument, name in zip(node.args.args, wanted, strict=True):
        argument.arg = name
    return node


def _shape_problem(node: ast.stmt, spec: CodeSpec) -> str:
    """Why the definition is not what was asked ('' when it is)."""
    if isinstance(node, ast.ClassDef):
        return _class_problem(node, spec) or _prose(node)
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    names = tuple(a.arg for a in node.args.args)
    wanted = tuple(p.name for p in spec.parameters)
    if names != wanted:
        return f"it takes ({', '.join(names)}), not ({', '.join(wanted)})"
    body = _without_docstring(node.body)
    if not body or all(ast.unparse(s).startswith(_STUB_BODIES) for s in body):
        return "it has no body"
    return _prose(node)


def _class_problem(node: ast.ClassDef, spec: CodeSpec) -> str:
    """The methods the user named, with the parameters they wrote, and a body each."""
    defined = {n.name: n for n in node.body if isinstance(n, ast.FunctionDef)}
    wanted = list(spec.methods)
    if spec.init_parameters:
        wanted.append(Method("__init__", spec.init_parameters, given=True))
    missing = [m.name for m in wanted if m.name not in defined]
    if missing:
        return f"the class lacks {', '.join(missing)}"
    for method in wanted:
        function = defined[method.name]
        names = [a.arg for a in function.args.args[1:]]
        if method.given and names != _names(method.parameters):
            return f"{method.name} takes ({', '.join(names)}), not ({method.parameters})"
        body = _without_docstring(function.body)
        if not body or all(ast.unparse(s).startswith(_STUB_BODIES) for s in body):
            return f"{method.name} has no body"
    return ""


def _names(parameters: str) -> list[str]:
    tree = ast.parse(f"def f({parameters}): pass").body[0]
    assert isinstance(tree, ast.FunctionDef)
    return [a.arg for a in tree.args.args]


def _prose(node: ast.AST) -> str:
    for child in ast.walk(node):
        text = child.value if isinstance(child, ast.Constant) else None
        if isinstance(text, str) and len(text.split()) > _MAX_PROSE_WORDS:
            return "it contains prose"
    return ""


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    first = body[0] if body else None
    is_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    return body[1:] if is_doc else body


def _with_spec_header(node: ast.stmt, spec: CodeSpec) -> ast.stmt:
    """The answer's body under the spec's own signature and docstring."""
    docstring = ast.Expr(ast.Constant(spec.summary))
    if isinstance(node, ast.ClassDef):
        node.body = [docstring, *_without_docstring(node.body)]
        return node
    header = ast.parse(f"{spec.signature}: pass").body[0]
    assert isinstance(header, ast.FunctionDef) and isinstance(node, ast.FunctionDef)
    header.body = [docstring, *_without_docstring(node.body)]
    header.decorator_list = node.decorator_list
    return header


def _module(spec: CodeSpec, node: ast.stmt, imports: Sequence[ast.stmt]) -> str:
    used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    kept = [i for i in imports if any(_bound(a) in used for a in _aliases(i))]
    head = "\n".join(ast.unparse(i) for i in kept)
    return (
        f'"""{spec.summary}"""\n\n' + (head + "\n\n\n" if head else "\n") + ast.unparse(node) + "\n"
    )


def _aliases(node: ast.stmt) -> list[ast.alias]:
    return list(node.names) if isinstance(node, ast.Import | ast.ImportFrom) else []


def _bound(alias: ast.alias) -> str:
    return alias.asname or alias.name.split(".")[0]
