"""Security smells in Python, found on the ``ast`` alone.

These do not depend on ruff, so the validator still catches the worst patterns when the
ruff binary is missing. Calls are matched by their imported name (``from os import system``
counts as ``os.system``). Messages name functions, never the code's text, so no literal
(a password, a token) travels into an event.
"""

from __future__ import annotations

import ast
import re

from agents.checks.issues import Issue, Severity

_SQL_START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE)\b", re.I)
_EXECUTE = {"execute", "executemany", "executescript"}
_SHELL_ALWAYS = {
    "os.system",
    "os.popen",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
    "asyncio.create_subprocess_shell",
}
_SUBPROCESS = {
    "subprocess.run",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
    "subprocess.Popen",
}
_WEAK_HASHES = {"md4", "md5", "sha1"}
_PICKLE = {
    f"{module}.{name}"
    for module in ("pickle", "cPickle", "_pickle", "dill")
    for name in ("loads", "load", "Unpickler")
}
_YAML_LOAD = {"yaml.load", "yaml.load_all"}
_YAML_UNSAFE = {"yaml.unsafe_load", "yaml.unsafe_load_all"}
_SAFE_LOADERS = ("SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader")


def security_smells(name: str, tree: ast.Module) -> list[Issue]:
    smells = _Smells(name, _imports(tree))
    smells.visit(tree)
    return smells.issues


def _imports(tree: ast.Module) -> dict[str, str]:
    """Local name -> imported name: ``sp`` -> ``subprocess``, ``md5`` -> ``hashlib.md5``."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _qualified(node: ast.expr, imports: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return imports.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        base = _qualified(node.value, imports)
        return f"{base}.{node.attr}" if base else None
    return None


def _sql_head(node: ast.expr) -> str | None:
    """The literal text a string expression starts with, if it starts with one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        return _sql_head(node.values[0])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return _sql_head(node.left)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    ):
        return _sql_head(node.func.value)
    return None


def _all_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.BinOp):
        return _all_literal(node.left) and _all_literal(node.right)
    return isinstance(node, ast.Constant)


def _how_built(node: ast.expr) -> str | None:
    """How a SQL string is assembled from values, or None if it is not (a parameterized query)."""
    if not _SQL_START.match(_sql_head(node) or ""):
        return None
    if isinstance(node, ast.JoinedStr):
        has_values = any(isinstance(v, ast.FormattedValue) for v in node.values)
        return "an f-string" if has_values else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return "%-formatting"
    if isinstance(node, ast.BinOp):
        return None if _all_literal(node) else "string concatenation"
    if isinstance(node, ast.Call):
        return "str.format()"
    return None


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and bool(node.value)


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _argument(call: ast.Call, index: int, name: str) -> ast.expr | None:
    if len(call.args) > index:
        return call.args[index]
    return _keyword(call, name)


def _is_literal_command(node: ast.expr | None) -> bool:
    if isinstance(node, ast.List | ast.Tuple):
        return all(_is_literal_command(e) for e in node.elts)
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


class _Smells(ast.NodeVisitor):
    def __init__(self, file: str, imports: dict[str, str]) -> None:
        self.file = file
        self.imports = imports
        self.issues: list[Issue] = []
        # Per function scope: names bound to string-built SQL, and the expression that built it.
        self.scopes: list[dict[str, ast.expr]] = [{}]
        self.reported: set[int] = set()

    def _add(self, node: ast.AST, severity: Severity, rule: str, message: str) -> None:
        if id(node) in self.reported:
            return
        self.reported.add(id(node))
        line, column = getattr(node, "lineno", None), getattr(node, "col_offset", None)
        self.issues.append(
            Issue(
                self.file,
                line,
                None if column is None else column + 1,
                severity,
                rule,
                message,
                end_line=getattr(node, "end_lineno", None),
            )
        )

    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self.scopes.append({})
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = _scoped
    visit_AsyncFunctionDef = _scoped
    visit_Lambda = _scoped

    def _bind(self, target: ast.expr, value: ast.expr | None) -> None:
        if not isinstance(target, ast.Name):
            return
        if value is not None and _how_built(value):
            self.scopes[-1][target.id] = value
        else:
            self.scopes[-1].pop(target.id, None)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        for target in node.targets:
            self._bind(target, node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.generic_visit(node)
        self._bind(node.target, node.value)

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _EXECUTE and node.args:
            self._check_sql(node, func.attr)
        if (
            isinstance(func, ast.Name)
            and func.id in ("eval", "exec")
            and func.id not in self.imports
        ):
            self._add(
                node,
                "error",
                "security/eval",
                f"{func.id}() runs arbitrary code; parse the data instead "
                "(json.loads, ast.literal_eval)",
            )
        qualified = _qualified(func, self.imports)
        if qualified:
            self._check_qualified(node, qualified)

    def _check_sql(self, call: ast.Call, method: str) -> None:
        query = call.args[0]
        if isinstance(query, ast.Name):
            built = self.scopes[-1].get(query.id)
            if built is None:
                return
            query = built
        how = _how_built(query)
        if how:
            self._add(
                query,
                "error",
                "security/sql-injection",
                f"SQL built with {how} is passed to {method}(); pass the values as query "
                "parameters instead",
            )

    def _check_qualified(self, call: ast.Call, qualified: str) -> None:
        if qualified in _SHELL_ALWAYS or (
            qualified in _SUBPROCESS and _is_true(_keyword(call, "shell"))
        ):
            self._check_shell(call, qualified)
        elif qualified in ("hashlib.md5", "hashlib.sha1") or qualified == "hashlib.new":
            self._check_hash(call, qualified)
        elif qualified in _PICKLE:
            self._add(
                call,
                "warning",
                "security/pickle",
                f"{qualified}() can run arbitrary code from its input; only unpickle data "
                "this program wrote, or use JSON",
            )
        elif qualified in _YAML_UNSAFE or (qualified in _YAML_LOAD and not self._safe_yaml(call)):
            self._add(
                call,
                "error",
                "security/yaml-load",
                f"{qualified}() without SafeLoader can build arbitrary objects; use yaml.safe_load",
            )

    def _check_shell(self, call: ast.Call, qualified: str) -> None:
        command = _argument(call, 0, "args") or _keyword(call, "cmd")
        if _is_literal_command(command):
            severity: Severity = "warning"
            message = f"{qualified}() runs a fixed command through a shell; pass an argument list"
        else:
            severity = "error"
            message = (
                f"{qualified}() runs a command built at run time through a shell (shell "
                "injection); pass an argument list without shell=True"
            )
        self._add(call, severity, "security/shell-injection", message)

    def _check_hash(self, call: ast.Call, qualified: str) -> None:
        if qualified == "hashlib.new":
            algorithm = _argument(call, 0, "name")
            if not (isinstance(algorithm, ast.Constant) and isinstance(algorithm.value, str)):
                return
            name = algorithm.value.lower()
            if name not in _WEAK_HASHES:
                return
        else:
            name = qualified.rsplit(".", 1)[1]
        used_for_security = _keyword(call, "usedforsecurity")
        if isinstance(used_for_security, ast.Constant) and used_for_security.value is False:
            return  # the code says it is a checksum, not a security use
        self._add(
            call,
            "error",
            "security/weak-hash",
            f"{name} is broken for security use; use hashlib.sha256 (or a password hash "
            "such as argon2/bcrypt), or pass usedforsecurity=False for a checksum",
        )

    def _safe_yaml(self, call: ast.Call) -> bool:
        loader = _argument(call, 1, "Loader")
        if loader is None:
            return False
        qualified = _qualified(loader, self.imports) or ""
        return qualified.rsplit(".", 1)[-1] in _SAFE_LOADERS
