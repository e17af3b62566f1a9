"""Registries: genreclf's own classes, rebuilt by name with checked plain parameters.

Nothing read from an MLflow store, a model folder or a logged config is executed,
unpickled or instantiated by its ``_target_``: a stored object is a registry name (or
a ``_target_`` string, mapped back to a name without importing it) and plain
parameters, validated against the registered class's one declaration
(:mod:`genreclf.core.params`) before the class is called.
"""

from __future__ import annotations

import copy
import functools
import importlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from genreclf.core.errors import ConfigError
from genreclf.core.params import check_params

T = TypeVar("T")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: The Hydra configs. Each default of a class that a config group builds lives there,
#: once: the class declares its parameters' types and bounds, not their values.
CONFIG_DIR = Path(__file__).resolve().parents[2] / "conf"


class RegistryError(ConfigError):
    """One line naming the kind, the name and the parameter at fault."""


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)`` on one line, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_plain(value: Any) -> Any:
    """``value`` with any non-string sequence (e.g. an OmegaConf ``ListConfig``) as a list."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes | tuple | list):
        return list(value)
    return value


@functools.cache
def _option_values(group: str, option: str) -> dict[str, Any]:
    from omegaconf import OmegaConf

    node = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / group / f"{option}.yaml"))
    return {
        key: value
        for key, value in node.items()
        if not key.startswith("_")
        and key != "defaults"
        and value != "???"
        and not (isinstance(value, str) and value.startswith("${"))
    }


def conf_values(group: str, option: str) -> dict[str, Any]:
    """The values ``conf/<group>/<option>.yaml`` gives its class.

    Hydra's keys, mandatory values (``???``) and interpolations (``${seed}``) are left
    out: the caller gives those.
    """
    return copy.deepcopy(_option_values(group, option))


class Registry(Generic[T]):
    """Classes of one kind, by name; builds them from checked plain parameters.

    Parameters
    ----------
    kind : str
        What is registered, for messages: ``feature set``, ``head``, ``data source``,
        ``extraction``.
    group : str
        The config group whose options build these classes (``conf/<group>/``).

    Examples
    --------
    >>> HEADS = Registry("head", group="model")
    >>> @HEADS.register("dense")
    ... class DenseHead: ...
    """

    def __init__(self, kind: str, *, group: str) -> None:
        self.kind, self.group = kind, group
        self._classes: dict[str, type[T]] = {}
        self._lazy: dict[str, tuple[str, str]] = {}

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.names())})"

    def __contains__(self, name: object) -> bool:
        return name in self._classes or name in self._lazy

    def _known(self) -> str:
        return ", ".join(self.names()) or "(none)"

    def _check_new(self, name: str, module: str, qualname: str) -> None:
        if not isinstance(name, str) or not name:
            raise RegistryError(f"{self.kind} {name!r}: a name must be a non-empty str")
        if name in self and self.target_of(name) != f"{module}.{qualname}":
            raise RegistryError(
                f"{self.kind} {name!r}: already registered as {self.target_of(name)}"
            )

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator: register the class under ``name``.

        Raises
        ------
        RegistryError
            If ``name`` is taken by another class.
        """

        def decorate(cls: type[T]) -> type[T]:
            if not isinstance(cls, type):
                raise RegistryError(f"{self.kind} {name!r}: only classes can be registered")
            self._check_new(name, cls.__module__, cls.__qualname__)
            self._lazy.pop(name, None)
            self._classes[name] = cls
            return cls

        return decorate

    def register_lazy(self, name: str, target: str) -> None:
        """Register ``target`` (``"package.module:ClassName"``, genreclf's own code) by name.

        The module is imported by :meth:`get` only, so that registering stays cheap.
        :meth:`name_of` maps the class back to ``name`` without importing it.
        """
        module, sep, qualname = target.partition(":")
        if not sep or not all(_IDENTIFIER.fullmatch(p) for p in [*module.split("."), qualname]):
            raise RegistryError(f"{self.kind} {name!r}: lazy target must be 'module:Class'")
        self._check_new(name, module, qualname)
        if name not in self._classes:
            self._lazy[name] = (module, qualname)

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted({*self._classes, *self._lazy})

    def target_of(self, name: str) -> str:
        """The ``module.QualName`` of the class registered as ``name`` (without importing it)."""
        if name in self._classes:
            cls = self._classes[name]
            return f"{cls.__module__}.{cls.__qualname__}"
        if name in self._lazy:
            return ".".join(self._lazy[name])
        raise RegistryError(
            f"{self.kind} {short_repr(name)}: not registered; known: {self._known()}"
        )

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``.

        Raises
        ------
        RegistryError
            ``head 'foo': not registered; known: cnn, dense, rnn``.
        """
        if isinstance(name, str) and name in self._lazy:
            module, qualname = self._lazy[name]
            cls = getattr(importlib.import_module(module), qualname)
            if not isinstance(cls, type):
                raise RegistryError(f"{self.kind} {name!r}: {module}.{qualname} is not a class")
            self._lazy.pop(name, None)  # (a module that registers itself already did)
            self._classes[name] = cls
        if not isinstance(name, str) or name not in self._classes:
            raise RegistryError(
                f"{self.kind} {short_repr(name)}: not registered; known: {self._known()}"
            )
        return self._classes[name]

    def _targets(self) -> dict[str, tuple[str, str]]:
        """``name -> (module, qualname)`` for every entry, loaded or lazy."""
        out = {n: (c.__module__, c.__qualname__) for n, c in self._classes.items()}
        return {**self._lazy, **out}

    def name_of(self, what: type | str) -> str:
        """The registered name of a class, or of a dotted ``_target_`` string.

        A string matches the exact ``module.QualName`` of a registered class, or any
        ``genreclf.<...>.<ClassName>`` whose last part is the name of a registered class
        of genreclf (classes are re-exported from package ``__init__`` modules). The
        string is never imported.

        Raises
        ------
        RegistryError
            ``_target_ 'os.system' is not a registered head; known: ...``.
        """
        targets = self._targets()
        if isinstance(what, type):
            for name, cls in self._classes.items():
                if cls is what:
                    return name
            exact = [n for n, t in self._lazy.items() if t == (what.__module__, what.__qualname__)]
            if exact:
                return exact[0]
            raise RegistryError(
                f"class {what.__module__}.{what.__qualname__} is not a registered {self.kind}; "
                f"known: {self._known()}"
            )
        if isinstance(what, str):
            exact = [n for n, (m, q) in targets.items() if f"{m}.{q}" == what]
            if exact:
                return exact[0]
            parts = what.split(".")
            if (
                len(parts) >= 3
                and parts[0] == "genreclf"
                and all(_IDENTIFIER.fullmatch(p) for p in parts)
            ):
                tail = [
                    n
                    for n, (m, q) in targets.items()
                    if q == parts[-1] and m.split(".")[0] == "genreclf"
                ]
                if len(tail) == 1:
                    return tail[0]
        raise RegistryError(
            f"_target_ {short_repr(what)} is not a registered {self.kind}; known: {self._known()}"
        )

    def check(
        self, name: str, params: Mapping[str, Any], /, *, fixed: Iterable[str] = ()
    ) -> dict[str, Any]:
        """The checked keyword arguments of ``name`` (see :meth:`build`), without building.

        Parameters
        ----------
        name : str
            Registered name.
        params : Mapping
            Stored parameters, checked against the class's declaration
            (:func:`genreclf.core.params.params_model`).
        fixed : iterable of str
            Parameters the caller gives itself (they may not come from ``params``).

        Returns
        -------
        dict
            The given parameters, validated, less ``_target_`` and ``_partial_``.
        """
        cls = self.get(name)
        where = f"{self.kind} {name!r}: "
        if not isinstance(params, Mapping):
            raise RegistryError(f"{where}parameters must be a mapping, got {short_repr(params)}")
        plain: dict[str, Any] = {}
        for key, raw in params.items():
            value = as_plain(raw)
            if key == "_target_":
                try:
                    same = isinstance(value, str) and self.name_of(value) == name
                except RegistryError:
                    same = False
                if not same:
                    raise RegistryError(
                        f"{where}_target_ {short_repr(value)} names another class than "
                        f"{self.target_of(name)}"
                    )
            elif key == "_partial_":
                if not isinstance(value, bool):
                    raise RegistryError(f"{where}_partial_={short_repr(value)} must be bool")
            elif key in set(fixed):
                raise RegistryError(f"{where}parameter {key!r} is fixed, not configurable")
            else:
                plain[str(key)] = value
        try:
            return check_params(cls, plain, prefix=where, supplied=tuple(fixed))
        except ConfigError as err:
            raise RegistryError(str(err)) from None

    def build(self, name: str, params: Mapping[str, Any], /, **fixed: Any) -> T:
        """Build the class registered as ``name`` from checked plain ``params``.

        Every key of ``params`` must be an ``__init__`` parameter (the ``fixed`` ones
        excluded), every value a plain value that fits its annotation. ``_target_`` is
        accepted only if it names this same class; ``_partial_`` is dropped; any other
        key starting with ``_`` is refused.

        Parameters
        ----------
        name : str
            Registered name.
        params : Mapping
            Stored parameters.
        **fixed
            Arguments the caller supplies (e.g. ``input_shape``, ``num_classes``).

        Returns
        -------
        ``cls(**params, **fixed)``

        Raises
        ------
        RegistryError
            One line, e.g. ``head 'dense': parameter 'hidden_size'='abc' must be int``.
        """
        kwargs = self.check(name, params, fixed=fixed)
        return self.get(name)(**kwargs, **fixed)

    def option(self, name: str, /, **changes: Any) -> T:
        """What ``conf/<group>/<name>.yaml`` builds, with ``changes`` on top (checked)."""
        return self.build(name, conf_values(self.group, name) | changes)

    def build_config(self, node: Mapping[str, Any], /, **fixed: Any) -> T:
        """Build from a config node with a ``_target_`` (e.g. from a logged ``config.yaml``).

        The ``_target_`` is mapped to a name with :meth:`name_of`, then :meth:`build`.
        """
        if not isinstance(node, Mapping):
            raise RegistryError(f"{self.kind} config must be a mapping, got {short_repr(node)}")
        if "_target_" not in node:
            raise RegistryError(f"{self.kind} config has no _target_")
        return self.build(self.name_of(node["_target_"]), node, **fixed)
