"""The project's structure, checked statically: import layers, sizes, import side effects.

Nothing here imports the packages: every module is parsed with ``ast`` from the files under
the repository root, so a layering break is found even where importing would hide it (a
function-level import, one under ``TYPE_CHECKING``). Each check has its own tests on made-up
sources below, so that a check which can no longer fail is noticed.
"""

from __future__ import annotations

import ast
import io
import textwrap
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agents", "orchestrator", "inference", "memory", "youmeyou", "bench")
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 500
EXEMPTION = "# size:"
# What each package must not import, anywhere in its tree: the lower layers never reach up.
FORBIDDEN = {
    "inference": {"agents", "orchestrator", "memory", "youmeyou"},
    "memory": {"agents", "orchestrator", "youmeyou"},
    "agents": {"orchestrator", "youmeyou"},
    "orchestrator": {"youmeyou"},
}
# The orchestrator sees the agents only through their face (and the package's constants).
AGENTS_FACES = {"agents", "agents.kit"}
# Settings are read by everything, so they import nothing of the project (no cycles).
SETTINGS = "youmeyou.settings"
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


# --- reading the tree ---------------------------------------------------------------------


def _sources() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "__pycache__" not in path.parts
    )


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


# --- imports --------------------------------------------------------------------------------


def _is_submodule(name: str, root: Path) -> bool:
    base = root.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or base.is_dir()


def _from_base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module of ``from ... import``: relative ones resolved against ``module``."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imported_names(
    tree: ast.Module, module: str, *, is_package: bool = False, root: Path = ROOT
) -> list[tuple[int, str]]:
    """(line, absolute name) of every import, at any depth; ``from a import b`` names ``a.b``
    where ``b`` is a module of ``a``, since that reaches into ``a`` past its face."""
    names: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(node, module, is_package)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                names.append((node.lineno, full if _is_submodule(full, root) else base))
    return names


def breaks_layering(importer: str, imported: str) -> bool:
    layer, target = importer.split(".")[0], imported.split(".")[0]
    if target in FORBIDDEN.get(layer, set()):
        return True
    if importer == SETTINGS and target in PACKAGES:
        return True
    return layer == "orchestrator" and target == "agents" and imported not in AGENTS_FACES


def _layering_violations(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    module = _module_name(path, root)
    names = imported_names(_parse(path), module, is_package=path.name == "__init__.py", root=root)
    return [(line, name) for line, name in names if breaks_layering(module, name)]


# --- sizes ----------------------------------------------------------------------------------


def _exemption_lines(source: str) -> set[int]:
    """Lines with a reasoned ``# size: why`` comment (tokens, so strings do not count)."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {
        token.start[0]
        for token in tokens
        if token.type == tokenize.COMMENT
        and token.string.startswith(EXEMPTION)
        and token.string[len(EXEMPTION) :].strip()
    }


def _spans(tree: ast.Module) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef, int]]:
    """Each function with its first line, decorators included (an exemption may sit there)."""
    for node in ast.walk(tree):
        if isinstance(node, _FUNCTIONS):
            yield node, min([node.lineno, *(d.lineno for d in node.decorator_list)])


def long_functions(source: str) -> list[tuple[int, str, int]]:
    """(line, name, length) of each function over the limit without an exemption; the
    length runs from ``def`` to the last line, decorators excluded."""
    tree, exempt = ast.parse(source), _exemption_lines(source)
    found = []
    for node, first in _spans(tree):
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        span = range(first, (node.end_lineno or node.lineno) + 1)
        if length > MAX_FUNCTION_LINES and not exempt.intersection(span):
            found.append((node.lineno, node.name, length))
    return found


def module_too_long(source: str) -> int | None:
    """The module's length when over the limit with no exemption of its own: a function's
    exemption (inside that function) does not cover the module."""
    length = len(source.splitlines())
    if length <= MAX_MODULE_LINES:
        return None
    inside = {
        line
        for node, first in _spans(ast.parse(source))
        for line in range(first, (node.end_lineno or node.lineno) + 1)
    }
    return None if _exemption_lines(source) - inside else length


# --- environment writes at import -----------------------------------------------------------


def _import_time_nodes(tree: ast.Module) -> Iterator[ast.AST]:
    """Every node run when the module is imported: not function bodies, but their
    decorators and defaults; class bodies and module-level ``if``/``try`` are included."""
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, _FUNCTIONS):
            pending += [*node.decorator_list, *node.args.defaults]
            pending += [d for d in node.args.kw_defaults if d is not None]
        elif isinstance(node, ast.Lambda):
            pending += [*node.args.defaults, *(d for d in node.args.kw_defaults if d)]
        else:
            pending += list(ast.iter_child_nodes(node))


def _os_aliases(tree: ast.Module) -> tuple[set[str], set[str], set[str]]:
    """Names bound to ``os``, ``os.environ`` and ``os.putenv`` by the module's imports."""
    os_names: set[str] = set()
    environ: set[str] = set()
    putenv: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "os":
                    os_names.add(alias.asname or "os")
                elif alias.name.startswith("os.") and not alias.asname:
                    os_names.add("os")  # ``import os.path`` binds ``os`` too
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and not node.level:
            for alias in node.names:
                if alias.name == "environ":
                    environ.add(alias.asname or alias.name)
                elif alias.name == "putenv":
                    putenv.add(alias.asname or alias.name)
    return os_names, environ, putenv


def environment_writes(tree: ast.Module) -> list[int]:
    """Lines that set ``os.environ`` (item, ``setdefault``, ``update``) or call ``os.putenv``
    when the module is imported."""
    os_names, environ_names, putenv_names = _os_aliases(tree)

    def is_os(node: ast.AST, attr: str, aliases: set[str]) -> bool:
        if isinstance(node, ast.Name):
            return node.id in aliases
        return (
            isinstance(node, ast.Attribute)
            and node.attr == attr
            and isinstance(node.value, ast.Name)
            and node.value.id in os_names
        )

    lines = []
    for node in _import_time_nodes(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            hit = is_os(node.value, "environ", environ_names)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            hit = node.func.attr in {"setdefault", "update"} and is_os(
                node.func.value, "environ", environ_names
            )
            hit = hit or is_os(node.func, "putenv", putenv_names)
        elif isinstance(node, ast.Call):
            hit = is_os(node.func, "putenv", putenv_names)
        else:
            hit = False
        if hit:
            lines.append(getattr(node, "lineno", 0))
    return sorted(lines)


# --- the project ----------------------------------------------------------------------------


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_is_read(package: str) -> None:
    # Guards the checks below against passing on an empty or mislocated tree.
    assert (ROOT / package / "__init__.py").is_file()
    assert [p for p in _sources() if p.relative_to(ROOT).parts[0] == package]


def test_imports_respect_the_layers() -> None:
    violations = [
        f"{_where(path, line)} imports {name}"
        for path in _sources()
        if _module_name(path) != SETTINGS
        for line, name in _layering_violations(path)
    ]
    assert not violations, "imports across layers:\n" + "\n".join(violations)


def test_settings_import_nothing_of_the_project() -> None:
    path = ROOT / "youmeyou" / "settings.py"
    violations = [
        f"{_where(path, line)} imports {name}" for line, name in _layering_violations(path)
    ]
    assert not violations, "settings must stand alone:\n" + "\n".join(violations)


def test_functions_are_short() -> None:
    offenders = [
        f"{_where(path, line)} {name}: {length} lines"
        for path in _sources()
        for line, name, length in long_functions(path.read_text())
    ]
    assert not offenders, (
        f"functions over {MAX_FUNCTION_LINES} lines (split them, or say why in a "
        f"'{EXEMPTION}' comment):\n" + "\n".join(offenders)
    )


def test_modules_are_short() -> None:
    offenders = [
        f"{_where(path, 1)}: {length} lines"
        for path in _sources()
        if (length := module_too_long(path.read_text())) is not None
    ]
    assert not offenders, (
        f"modules over {MAX_MODULE_LINES} lines (split them, or say why in a "
        f"'{EXEMPTION}' comment):\n" + "\n".join(offenders)
    )


def test_no_environment_writes_at_import() -> None:
    offenders = [
        f"{_where(path, line)} sets the environment at import"
        for path in _sources()
        for line in environment_writes(_parse(path))
    ]
    assert not offenders, "\n".join(offenders)


# --- the checks themselves, on made-up sources ----------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A miniature layout, so that ``from a import b`` can tell modules from names."""
    for module in (
        "agents/__init__.py",
        "agents/specialist.py",
        "agents/kit/__init__.py",
        "agents/kit/routes.py",
        "youmeyou/__init__.py",
        "youmeyou/api.py",
    ):
        (tmp_path / module).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / module).touch()
    return tmp_path


@pytest.mark.parametrize(
    ("module", "source", "flagged"),
    [
        ("inference.x", "import memory.sessions", ["memory.sessions"]),
        ("inference.x", "from agents.cards import load_cards", ["agents.cards"]),
        ("memory.x", "from inference.embeddings import Embedder", []),
        (
            "memory.x",
            "def f():\n    from orchestrator.routing import Router",
            ["orchestrator.routing"],
        ),
        (
            "memory.x",
            "if TYPE_CHECKING:\n    from youmeyou.settings import S",
            ["youmeyou.settings"],
        ),
        ("agents.code", "from orchestrator import routing", ["orchestrator"]),
        ("agents.kit.routes", "from agents.kit.scheduler import run", []),
        ("agents.kit.routes", "from ..specialist import Specialist", []),
        ("orchestrator.x", "from agents.kit import Specialist", []),
        ("orchestrator.x", "import agents.kit", []),
        ("orchestrator.x", "from agents import SPECIALIST_IDS", []),
        ("orchestrator.x", "from agents import kit", []),
        ("orchestrator.x", "from agents.kit import routes", ["agents.kit.routes"]),
        ("orchestrator.x", "from agents.kit.routes import app", ["agents.kit.routes"]),
        ("orchestrator.x", "import agents.specialist", ["agents.specialist"]),
        ("orchestrator.x", "from agents import specialist", ["agents.specialist"]),
        ("orchestrator.x", "from youmeyou.settings import Settings", ["youmeyou.settings"]),
        ("youmeyou.api", "import orchestrator.routing\nimport bench.wire", []),
        ("youmeyou.settings", "import os\nfrom pydantic import BaseModel", []),
        ("youmeyou.settings", "from . import api", ["youmeyou.api"]),
        ("youmeyou.settings", "def f():\n    import inference.models", ["inference.models"]),
        ("youmeyou.settings", "from bench.wire import x", ["bench.wire"]),
    ],
)
def test_layering_check(tree: Path, module: str, source: str, flagged: list[str]) -> None:
    path = tree.joinpath(*module.split(".")).with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    assert [name for _, name in _layering_violations(path, tree)] == flagged


def _function(lines: int, *, comment: str = "", decorators: int = 0) -> str:
    body = [f"    x{i} = {i}" for i in range(lines - 1 - bool(comment))]
    return "\n".join(
        ["@decorator"] * decorators + ["def f():"] + ([f"    {comment}"] if comment else []) + body
    )


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        (_function(60), []),
        (_function(61), [(1, "f", 61)]),
        (_function(61, comment="# size: one table of cases, clearer whole"), []),
        (_function(61, comment="# size:"), [(1, "f", 61)]),  # an exemption gives a reason
        (_function(61, comment="# sizes differ"), [(1, "f", 61)]),
        (_function(60, decorators=3), []),
        (_function(61, decorators=1), [(2, "f", 61)]),
        ("class C:\n" + textwrap.indent(_function(61), "    "), [(2, "f", 61)]),
        ("async " + _function(61), [(1, "f", 61)]),
        (_function(61) + '\n    s = "# size: in a string, not a comment"', [(1, "f", 62)]),
    ],
)
def test_function_size_check(source: str, flagged: list[tuple[int, str, int]]) -> None:
    assert long_functions(source) == flagged


@pytest.mark.parametrize(
    ("source", "length"),
    [
        ("x = 1\n" * 500, None),
        ("x = 1\n" * 501, 501),
        ("# size: generated tables, one per line\n" + "x = 1\n" * 500, None),
        ("def f():\n    # size: about f only\n    pass\n" + "x = 1\n" * 498, 501),
    ],
)
def test_module_size_check(source: str, length: int | None) -> None:
    assert module_too_long(source) == length


@pytest.mark.parametrize(
    ("source", "lines"),
    [
        ("import os\nos.environ['A'] = '1'", [2]),
        ("import os\nos.environ.setdefault('A', '1')", [2]),
        ("import os\nos.environ.update(A='1')", [2]),
        ("import os\nos.putenv('A', '1')", [2]),
        ("import os as system\nsystem.environ['A'] = '1'", [2]),
        ("from os import environ as env\nenv['A'] = '1'", [2]),
        ("from os import putenv\nputenv('A', '1')", [2]),
        ("import os\nif True:\n    os.environ['A'] = '1'", [3]),
        ("import os\nclass C:\n    X = os.environ.setdefault('A', '1')", [3]),
        ("import os\ndef f(x=os.environ.setdefault('A', '1')):\n    pass", [2]),
        ("import os\ndef f():\n    os.environ['A'] = '1'", []),
        ("import os\nclass C:\n    def f(self):\n        os.putenv('A', '1')", []),
        ("import os\nENV = {**os.environ, 'A': '1'}\nA = os.environ.get('A')", []),
        ("settings = {}\nsettings['A'] = '1'\nsettings.setdefault('B', '2')", []),
    ],
)
def test_environment_write_check(source: str, lines: list[int]) -> None:
    assert environment_writes(ast.parse(source)) == lines
