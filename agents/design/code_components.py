"""A catalogue component's module (``src/<module>/service.py``): the model's, if it holds
up, else a service class whose methods are named from the component's responsibility.

"Sign-up, login, password hashing and token issuing." gives ``sign_up``, ``login``,
``hash_password`` and ``issue_token``: each phrase's action word (a gerund read back as a
verb) after the thing it acts on.
"""

from __future__ import annotations

import ast
import re

from agents.design.codegen import ruff_errors
from inference.language import parse, snake
from memory.catalogue import Component

__all__ = ["accept_module", "component_skeleton", "method_names"]

_MAX_PROSE_WORDS = 12


def method_names(responsibility: str) -> tuple[str, ...]:
    """Method names for the phrases of a responsibility, in order, without repeats."""
    phrases = [p for p in re.split(r",|\band\b|\.|;", responsibility) if p.strip()]
    names = [_method_name(p) for p in phrases]
    return tuple(dict.fromkeys(n for n in names if n.isidentifier())) or ("handle",)


def _method_name(phrase: str) -> str:
    words = [t for t in parse(phrase.strip()) if t.is_alpha and t.pos_ not in {"DET", "ADP"}]
    if not words:
        return ""
    action = next((t for t in words if t.lower_.endswith("ing") and len(t) > 5), None)
    if action is not None:  # 'password hashing' -> hash_password
        rest = [t.lower_ for t in words if t is not action]
        return snake("_".join([_verb(action.lower_), *rest]))
    if len(phrase.split()) == 1 and words[-1].tag_ not in {"NNS", "NNPS"}:
        return snake(phrase)  # 'login', 'checkout', 'sign-up'
    return snake("handle_" + "_".join(t.lower_ for t in words))


def _verb(gerund: str) -> str:
    """'hashing' -> 'hash', 'issuing' -> 'issue', 'shipping' -> 'ship' (by the tagger)."""
    lemma = parse(f"They are {gerund} it")[2].lemma_.lower()
    return lemma if lemma and lemma != gerund else gerund.removesuffix("ing")


def component_skeleton(component: Component, path: str, reason: str) -> str:
    """A parsing module: the service class, one NotImplementedError method per duty."""
    class_name = "".join(w.capitalize() for w in snake(component.name).split("_"))
    methods = "".join(
        f"\n    def {name}(self, *args: object, **kwargs: object) -> object:\n"
        f'        """{name.replace("_", " ").capitalize()}."""\n'
        f'        raise NotImplementedError("{class_name}.{name} is not written yet")\n'
        for name in method_names(component.responsibility)
    )
    return (
        f'"""{component.name}: {component.responsibility} (skeleton: not implemented yet)"""\n'
        f"\n# SKELETON: the model's module for {path} did not pass ({reason[:200]}).\n\n\n"
        f'class {class_name}:\n    """{component.responsibility}"""\n{methods}'
    )


async def accept_module(path: str, text: str) -> str:
    """'' when a whole module can be sent: it parses, passes ruff's error rules, defines
    something and holds no prose; else why not."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as error:
        return f"it does not parse ({error})"
    defined = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    if not defined:
        return "it defines no function or class"
    for node in ast.walk(tree):
        value = node.value if isinstance(node, ast.Constant) else None
        is_docstring = node is _docstring(tree)
        if isinstance(value, str) and not is_docstring and len(value.split()) > _MAX_PROSE_WORDS:
            return "it contains prose"
    errors = await ruff_errors(path, text)
    return f"ruff: {errors[0]}" if errors else ""


def _docstring(tree: ast.Module) -> ast.AST | None:
    first = tree.body[0] if tree.body else None
    return first.value if isinstance(first, ast.Expr) else None
