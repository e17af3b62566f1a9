"""Typed declarations of parameters, and the one line that says why a value is refused.

Every parameter of a class that a config group or a model package builds is declared
once, on its ``__init__`` signature, with a type from this module::

    def __init__(self, *, hidden_size: Int(ge=1, le=MAX_WIDTH) = 256,
                 dropout: Float(ge=0, lt=1) = 0.3) -> None: ...

:func:`params_model` derives a pydantic model from that signature (unknown keys
forbidden, floats finite, bools never ints); the up-front config check, the registry
that rebuilds objects from stored parameters and the docs all use it. Constructors do
not re-check ranges. Options that are no class's parameters (``seed``, ``tracking``,
a command's own options) are declared as :class:`Options` models.

A value that breaks a declaration gives one line::

    optimizer.lr=inf: must be a finite number > 0
    model.hidden_size=abc: must be an int in [1, 16384]
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import re
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import annotated_types as at
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    create_model,
)
from pydantic import model_validator as _model_validator

from genreclf.core.errors import ConfigError

#: Parameters that are never configured: a class's ``*args`` and ``**kwargs``.
_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)

#: How every declaration validates: strict scalars, finite floats, no unknown keys.
STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, arbitrary_types_allowed=True)


def Int(*, ge: int | None = None, gt: int | None = None, le: int | None = None) -> Any:  # noqa: N802
    """An int (never a bool, a float or a str) within the given bounds."""
    return Annotated[int, Strict(), Field(ge=ge, gt=gt, le=le)]


def Float(  # noqa: N802
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
) -> Any:
    """A finite number (an int is accepted, a bool is not) within the given bounds."""
    return Annotated[float, Strict(), Field(ge=ge, gt=gt, le=le, lt=lt, allow_inf_nan=False)]


#: ``true`` or ``false``, never ``1``.
Bool = Annotated[bool, Strict()]


def _non_empty(value: str) -> str:
    # Not Field(min_length=1): pydantic-core then refuses a str that is not UTF-8, such
    # as a file name Python gives surrogate-escaped (see genreclf.core.filenames).
    if not value:
        raise ValueError("must be a non-empty str")
    return value


#: A non-empty str (any str Python gives, a surrogate-escaped file name too).
Text = Annotated[str, Strict(), AfterValidator(_non_empty)]
#: Any str.
AnyText = Annotated[str, Strict()]
#: A random seed.
Seed = Int(ge=0, le=2**32 - 1)
#: A share strictly between 0 and 1.
Fraction = Float(gt=0, lt=1)


def _existing(kind: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        path = Path(value).expanduser()
        if not path.exists():
            raise ValueError(f"no such file or folder; must be an existing {kind}")
        if (kind == "folder") != path.is_dir():
            raise ValueError(
                f"is a {'file' if path.is_file() else 'folder'}; must be an existing {kind}"
            )
        return value

    return check


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as err:
        raise ValueError(f"must be a valid regular expression ({err})") from None
    return value


#: The path of an existing file, or of an existing folder.
ExistingFile = Annotated[
    str, Strict(), Field(description="an existing file"), AfterValidator(_existing("file"))
]
ExistingFolder = Annotated[
    str, Strict(), Field(description="an existing folder"), AfterValidator(_existing("folder"))
]


def _writable_folder(value: str) -> str:
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError("is a file; must be a writable folder")
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise ValueError(f"cannot be created: {existing} is a file; must be a writable folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"folder {existing} is not writable; must be a writable folder")
    return value


def WritableFile(*suffixes: str) -> Any:  # noqa: N802
    """The path of a file that can be written, whose name ends in one of ``suffixes``."""
    wanted = " or ".join(suffixes)

    def check(value: str) -> str:
        path = Path(value).expanduser()
        if path.is_dir():
            raise ValueError(f"is a folder; must be a {wanted} file path")
        if path.suffix.lower() not in suffixes:
            raise ValueError(f"the file name must end in {wanted}")
        parent = path.parent
        existing = next((p for p in (parent, *parent.parents) if p.exists()), Path("."))
        if not existing.is_dir():
            raise ValueError(f"cannot be created: {existing} is a file")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ValueError(f"cannot be created: folder {existing} is not writable")
        if path.exists() and not os.access(path, os.W_OK):
            raise ValueError("is not writable")
        return value

    return Annotated[
        str, Strict(), Field(description=f"a writable {wanted} file path"), AfterValidator(check)
    ]


def _jobs(value: int) -> int:
    if value == 0 or value < -1:
        raise ValueError("must be -1 (one per core) or an int >= 1")
    return value


#: A folder that exists or can be created, and is writable.
WritableFolder = Annotated[
    str,
    Strict(),
    Field(description="a writable folder"),
    AfterValidator(_non_empty),
    AfterValidator(_writable_folder),
]
#: A count of worker processes: ``-1`` for one per core, else ``>= 1``.
Jobs = Annotated[
    int,
    Strict(),
    Field(le=1024, description="-1 (one per core) or an int in [1, 1024]"),
    AfterValidator(_jobs),
]


def _folder_name(value: str) -> str:
    if "/" in value or "\\" in value or value.strip() in (".", ".."):
        raise ValueError("must not contain '/' or '\\' nor be '.' or '..' (it names a folder)")
    return value


#: A name that is also a safe folder name (an experiment, a sweep).
Name = Annotated[
    str,
    Strict(),
    Field(min_length=1, description="a non-empty name without '/', '\\' or '..'"),
    AfterValidator(_folder_name),
]
#: A regular expression.
Pattern = Annotated[
    str, Strict(), Field(description="a regular expression"), AfterValidator(_regex)
]


class Options(BaseModel):
    """Options that are no class's parameters (``tracking``, a command's own options)."""

    model_config = STRICT


def rule(check: Callable[[Any], None]) -> Any:
    """A rule between parameters: ``check(params)`` raises ``ValueError`` naming the key.

    Put the result in a class's ``param_rules`` tuple (or an :class:`Options` body). The
    message reads as it follows the group's prefix: ``fold=7: must be in [0, 5) ...``.
    """

    def after(params: Any) -> Any:
        check(params)
        return params

    return _model_validator(mode="after")(after)


def _hints(obj: Any) -> dict[str, Any]:
    """``obj``'s declared parameter types (a dataclass declares them as its fields)."""
    if dataclasses.is_dataclass(obj):
        return typing.get_type_hints(obj, include_extras=True)
    target = obj.__init__ if isinstance(obj, type) else obj
    return typing.get_type_hints(target, include_extras=True)


@functools.cache
def params_model(obj: Callable[..., Any], supplied: tuple[str, ...] = ()) -> type[BaseModel]:
    """The pydantic model of ``obj``'s declared parameters (its ``__init__`` signature).

    Parameters
    ----------
    obj : class or function
        A genreclf class (or factory) whose parameters are typed with this module.
    supplied : tuple of str
        Parameters its caller gives itself (``input_shape``): not configurable.

    Returns
    -------
    type[pydantic.BaseModel]
        Unknown keys forbidden; each class's ``param_rules`` checked after the fields.
    """
    if isinstance(obj, type) and issubclass(obj, BaseModel):
        return obj  # an Options model is its own declaration
    hints = _hints(obj)
    fields: dict[str, Any] = {}
    for name, p in inspect.signature(obj).parameters.items():
        if p.kind not in _NAMED or name in supplied:
            continue
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[name] = (hints.get(name, Any), default)
    rules = {f"rule_{i}": r for i, r in enumerate(getattr(obj, "param_rules", ()))}
    return create_model(
        f"{getattr(obj, '__qualname__', 'obj')}Params",
        __config__=STRICT,
        __validators__=rules,
        **fields,
    )


def show(value: Any) -> str:
    """A value as it would be written on the command line (cut to 60 characters)."""
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif value == "":
        text = "''"
    elif isinstance(value, list | tuple):
        text = "[" + ",".join(show(v) for v in value) + "]"
    elif isinstance(value, Mapping):
        text = "{...}"
    else:
        text = str(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _bound(meta: Any) -> tuple[str, Any] | None:
    for kind, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        value = getattr(meta, kind, None)
        if value is not None and isinstance(meta, at.BaseMetadata):
            return op, value
    return None


def _range(bounds: dict[str, Any]) -> str:
    low = [(op, v) for op, v in bounds.items() if op in (">=", ">")]
    high = [(op, v) for op, v in bounds.items() if op in ("<=", "<")]
    if low and high:
        (lop, lv), (hop, hv) = low[0], high[0]
        return f" in {'[' if lop == '>=' else '('}{lv}, {hv}{']' if hop == '<=' else ')'}"
    return "".join(f" {op} {v}" for op, v in bounds.items())


def describe(annotation: Any) -> str:
    """What a declared type allows, as it reads after ``must be``.

    ``an int in [1, 16384]``, ``a finite number > 0``, ``one of mean, segments``,
    ``null or a bool (true or false)``, ``a list of str``.
    """
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base, *meta = typing.get_args(annotation)
        bounds: dict[str, Any] = {}
        for m in meta:
            if getattr(m, "description", None):
                return m.description
            for item in getattr(m, "metadata", [m]):
                if getattr(item, "pattern", None):
                    return f"{describe(base)} matching {item.pattern}"
                found = _bound(item)
                if found:
                    bounds[found[0]] = found[1]
        return describe(base) + _range(bounds)
    if origin is typing.Literal:
        return "one of " + ", ".join(show(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, __import__("types").UnionType):
        args = typing.get_args(annotation)
        parts = [describe(a) for a in args if a is not type(None)]
        prefix = "null or " if type(None) in args else ""
        return prefix + " or ".join(dict.fromkeys(parts))
    if origin in (list, tuple) or annotation in (list, tuple):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return "a list" + (f" of {describe(args[0]).removeprefix('a ')}" if args else "")
    if origin in (dict, Mapping) or annotation in (dict, Mapping):
        return "a mapping"
    names = {bool: "a bool (true or false)", int: "an int", float: "a finite number", str: "a str"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _field_annotation(model: type[BaseModel], key: str) -> Any:
    """The declared annotation of field ``key``, with its bounds."""
    field = model.model_fields[key]
    if field.description:
        return Annotated[str, Field(description=field.description)]
    if field.metadata:
        return Annotated[(field.annotation, *field.metadata)]
    return field.annotation


def _message(
    error: Any, model: type[BaseModel], values: Mapping[str, Any], prefix: str, known: str
) -> str:
    loc = tuple(error["loc"])
    if not loc:  # a rule between parameters: its message names its key
        reason = error.get("ctx", {}).get("error", error["msg"])
        return f"{prefix}{reason}"
    field = str(loc[0])
    key = prefix + field
    value = show(values.get(field))
    if error["type"] == "extra_forbidden":
        return f"{key}={value}: unknown key; known keys: {known}"
    if error["type"] == "missing":
        return f"{key}=???: must be given: {describe(_field_annotation(model, field))}"
    if error["type"] in ("value_error", "assertion_error") and len(loc) == 1:
        return f"{key}={value}: {error.get('ctx', {}).get('error', error['msg'])}"
    return f"{key}={value}: must be {describe(_field_annotation(model, field))}"


def validate(model: type[BaseModel], values: Mapping[str, Any], *, prefix: str = "") -> BaseModel:
    """``model.model_validate(values)``; the first error as one :class:`ConfigError` line.

    Parameters
    ----------
    model : type[pydantic.BaseModel]
        A declaration (:func:`params_model` or an :class:`Options`).
    values : Mapping
        Plain values (a config node as a container).
    prefix : str
        Shown before each key: ``model.`` gives ``model.hidden_size=0: ...``.
    """
    try:
        return model.model_validate(dict(values))
    except ValidationError as err:
        known = ", ".join(model.model_fields) or "(none)"
        first = err.errors(include_url=False)[0]
        raise ConfigError(_message(first, model, values, prefix, known)) from None
    except RecursionError:
        raise ConfigError(f"{prefix.rstrip('.') or 'value'}: nested too deep") from None


def check_params(
    obj: Callable[..., Any],
    values: Mapping[str, Any],
    *,
    prefix: str = "",
    supplied: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The validated keyword arguments of ``obj`` given in ``values`` (only those given)."""
    model = params_model(obj, tuple(supplied))
    checked = validate(model, values, prefix=prefix)
    return {k: getattr(checked, k) for k in checked.model_fields_set}
