"""Declarations read from source: a class's typed parameters without importing its module.

The up-front check of a command (:func:`genreclf.cli.check_groups_early`) must answer
before torch, Lightning, librosa or MLflow load, yet heads, datamodules and classifiers
live in modules that import them. :func:`source_params` reads a genreclf class's
``__init__`` signature (or a dataclass's fields, or a function's signature) from its
module's source with :mod:`ast`, and evaluates each annotation and default in a namespace
of that module's imports from modules already loaded or known torch-free
(:mod:`genreclf.core.params`, :mod:`typing`, ...) and its simple constant assignments
(``MAX_WIDTH = 16384``, ``Dropout = Float(ge=0, lt=1)``). Only genreclf's own source files
are read; nothing read from a store or a model folder ever comes here.

Anything it cannot follow (an inherited ``__init__`` from another module, an annotation
naming a torch type) gives ``None``, and the full check of the command, with the class
imported, judges those values. Rules between parameters (``param_rules``) are left to
that check too.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib
import inspect
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from genreclf.core.params import params_model

#: Modules whose names a declaration may use, imported here if not yet loaded.
TORCH_FREE = (
    "typing",
    "collections.abc",
    "pathlib",
    "annotated_types",
    "pydantic",
    "genreclf.core.params",
)
_PACKAGE = Path(__file__).resolve().parents[1]


class _Unreadable(Exception):
    """The declaration cannot be read from source; the full check judges it."""


def _source(module: str) -> ast.Module:
    """The parsed source of the genreclf module ``module`` (read, not imported)."""
    parts = module.split(".")
    if parts[0] != "genreclf":
        raise _Unreadable(module)
    base = _PACKAGE.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return ast.parse(path.read_text(encoding="utf-8"), str(path))
    raise _Unreadable(module)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _importable(name: str) -> bool:
    return name in sys.modules or any(name == m or name.startswith(m + ".") for m in TORCH_FREE)


def _calls_are_safe(expr: ast.AST, namespace: dict[str, Any]) -> bool:
    """Whether ``expr`` only calls names of :data:`TORCH_FREE` modules (no side effects)."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Call):
            func = namespace.get(node.func.id) if isinstance(node.func, ast.Name) else None
            if not str(getattr(func, "__module__", "")).startswith(TORCH_FREE):
                return False
        elif isinstance(node, ast.Name) and node.id not in namespace and not _builtin(node.id):
            return False
    return True


def _builtin(name: str) -> bool:
    return hasattr(builtins, name) and not name.startswith("_")


def _namespace(tree: ast.Module, module: str, is_package: bool) -> dict[str, Any]:
    """The names a declaration may use: safe imports and simple assignments, in order."""
    namespace: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            source = _absolute(node, module, is_package)
            if source != "__future__" and _importable(source):
                loaded = importlib.import_module(source)
                for alias in node.names:
                    if hasattr(loaded, alias.name):
                        namespace[alias.asname or alias.name] = getattr(loaded, alias.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            if _calls_are_safe(node.value, namespace):
                statement = ast.Module(
                    body=[ast.Assign(_targets(node), node.value)], type_ignores=[]
                )
                try:
                    exec(compile(ast.fix_missing_locations(statement), module, "exec"), namespace)
                except Exception:  # noqa: BLE001 - a name it cannot give: left out
                    continue
    return namespace


def _targets(node: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    return node.targets if isinstance(node, ast.Assign) else [node.target]


def _evaluate(expr: ast.AST | None, namespace: dict[str, Any]) -> Any:
    if expr is None:
        return inspect.Parameter.empty
    try:
        return ast.literal_eval(expr)
    except ValueError:
        pass
    if not _calls_are_safe(expr, namespace):
        raise _Unreadable(ast.unparse(expr))
    try:
        return eval(compile(ast.Expression(expr), "<declaration>", "eval"), namespace)  # noqa: S307
    except Exception as err:  # noqa: BLE001
        raise _Unreadable(ast.unparse(expr)) from err


def _arguments(
    func: ast.FunctionDef, method: bool
) -> list[tuple[str, ast.AST | None, ast.AST | None]]:
    """``(name, annotation, default)`` of each named parameter of ``func``."""
    args = func.args
    positional = [*args.posonlyargs, *args.args][1 if method else 0 :]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    named = [(a.arg, a.annotation, d) for a, d in zip(positional, defaults, strict=True)]
    return named + [
        (a.arg, a.annotation, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]


def _definition(module: str, name: str, depth: int = 0) -> tuple[ast.AST, dict[str, Any]]:
    """The class or function ``name`` of ``module`` (followed through re-exports)."""
    if depth > 4:
        raise _Unreadable(name)
    tree = _source(module)
    is_package = not _PACKAGE.joinpath(*module.split(".")[1:]).with_suffix(".py").is_file()
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef) and node.name == name:
            return node, _namespace(tree, module, is_package)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and any(
            (a.asname or a.name) == name for a in node.names
        ):
            alias = next(a for a in node.names if (a.asname or a.name) == name)
            return _definition(_absolute(node, module, is_package), alias.name, depth + 1)
    raise _Unreadable(name)


def _is_dataclass(node: ast.ClassDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if ast.unparse(target).rpartition(".")[2] == "dataclass":
            return True
    return False


def _fields(node: ast.ClassDef, module: str, depth: int) -> list:
    """A dataclass's fields: its dataclass bases' (of the same module), then its own."""
    fields: dict[str, tuple] = {}
    for base in node.bases:
        if isinstance(base, ast.Name) and depth < 4:
            try:
                parent, _ = _definition(module, base.id)
            except _Unreadable:
                continue  # not ours (ABC): declares no field
            if isinstance(parent, ast.ClassDef) and _is_dataclass(parent):
                fields |= {f[0]: f for f in _fields(parent, module, depth + 1)}
    for s in node.body:
        if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name):
            if "ClassVar" in ast.unparse(s.annotation):
                continue
            if isinstance(s.value, ast.Call):  # field(...): not followed
                raise _Unreadable(node.name)
            fields[s.target.id] = (s.target.id, s.annotation, s.value)
    return list(fields.values())


def _parameters(node: ast.AST, module: str, depth: int = 0) -> tuple[list, dict[str, Any]]:
    """``(name, annotation, default)`` nodes of what ``node`` takes, and their namespace."""
    if isinstance(node, ast.FunctionDef):
        return _arguments(node, method=False), {}
    if not isinstance(node, ast.ClassDef) or depth > 4:
        raise _Unreadable(getattr(node, "name", "?"))
    if _is_dataclass(node):
        return _fields(node, module, depth), {}
    for statement in node.body:
        if isinstance(statement, ast.FunctionDef) and statement.name == "__init__":
            return _arguments(statement, method=True), {}
    bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
    if len(bases) != 1:
        raise _Unreadable(node.name)
    base, namespace = _definition(module, bases[0])
    found, _ = _parameters(base, module, depth + 1)
    return found, namespace


def _stand_in(name: str, parameters: list[tuple[str, Any, Any]]) -> Any:
    """A function whose signature declares ``parameters``, for :func:`params_model`."""

    def declared(**kwargs: Any) -> None:
        """Stands for the class it is named after; never called."""

    kind = inspect.Parameter.KEYWORD_ONLY
    declared.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(n, kind, default=d, annotation=a) for n, a, d in parameters]
    )
    declared.__annotations__ = {n: a for n, a, _ in parameters}
    declared.__qualname__ = declared.__name__ = name
    return declared


@functools.cache
def source_params(target: str, supplied: tuple[str, ...] = ()) -> type[BaseModel] | None:
    """The declaration of the genreclf class ``target`` names, read from its source.

    Parameters
    ----------
    target : str
        A ``_target_`` such as ``genreclf.models.heads.DenseHead``.
    supplied : tuple of str
        Parameters genreclf gives the class itself (left out, as in
        :func:`~genreclf.core.params.params_model`).

    Returns
    -------
    type[pydantic.BaseModel] or None
        The model :func:`~genreclf.core.params.params_model` gives for the class, without its
        ``param_rules``; ``None`` if the source cannot be followed.
    """
    module, _, name = target.rpartition(".")
    try:
        node, namespace = _definition(module, name)
        found, inherited = _parameters(node, module)
        namespace = inherited or namespace
        parameters = [
            (arg, Any if ann is None else _evaluate(ann, namespace), _evaluate(default, namespace))
            for arg, ann, default in found
            if arg not in supplied
        ]
    except (_Unreadable, OSError, SyntaxError):
        return None
    return params_model(_stand_in(name, parameters))
