"""The up-front check: a composed config against the declarations, before any work.

Nothing here knows an option's rules. Each genreclf group (``data``, ``model``, ...)
is validated against the declaration of the class its ``_target_`` names
(:func:`genreclf.params.params_model`), without building anything; ``transforms``
against the allowlisted steps of :mod:`genreclf.transforms`; every other section
against the :class:`~genreclf.params.Options` model its command names (``tracking``,
``trainer``, a command's own options). The first value at fault raises
:class:`ConfigError` with one line::

    optimizer.lr=inf: must be a finite number > 0
    model.hiden_size=5: unknown key; known keys: hidden_size, num_layers, ...
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from pydantic import BaseModel

from genreclf.errors import ConfigError
from genreclf.params import check_params, params_model, show, validate

__all__ = ["ConfigError", "check_config"]

#: genreclf's own groups, and the parameters genreclf gives their class itself.
SUPPLIED: dict[str, tuple[str, ...]] = {
    "data": (),
    "features": (),
    "extraction": (),
    "split": (),
    "datamodule": ("table", "split", "transform"),
    "model": ("input_shape", "num_classes"),
    "classifier": ("head", "optimizer", "class_names"),
    "refit": ("cfg", "datamodule", "selected_epochs"),
}

#: Where a section's options are declared: ``""`` is the top level, ``a.*`` each entry of
#: ``a`` (every callback).
Sections = Mapping[str, type[BaseModel]]


#: A value that only a running Hydra app can resolve (``${hydra:...}``), outside one.
_UNRESOLVED = object()


def _plain(node: Any, name: str) -> Any:
    """``node`` as plain values; an interpolation that fails is a :class:`ConfigError`."""
    if not isinstance(node, DictConfig | ListConfig):
        return node
    try:
        return OmegaConf.to_container(node, resolve=True)
    except OmegaConfBaseException:
        pass
    if isinstance(node, ListConfig):
        return [_plain(node[i], f"{name}[{i}]") for i in range(len(node))]
    values = {str(k): _value(node, str(k), f"{name}.{k}") for k in node.keys()}
    return {k: v for k, v in values.items() if v is not _UNRESOLVED}


def _value(node: DictConfig, key: str, name: str) -> Any:
    try:
        return _plain(node[key], name)
    except OmegaConfBaseException as err:
        raw = node._get_node(key)._value()  # the unresolved text, e.g. ${sweep.name}
        if "${hydra:" in str(raw) and not HydraConfig.initialized():
            return _UNRESOLVED  # a composed config outside a Hydra app (tests, tools)
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f"{name}={show(raw)}: cannot be resolved: {reason}") from None


def _missing_keys(node: Any, prefix: str = "") -> Iterator[str]:
    """Dotted keys of mandatory values (``???``) not given, without resolving anything."""
    if not isinstance(node, DictConfig):
        return
    for key in node.keys():
        if OmegaConf.is_missing(node, key):
            yield f"{prefix}{key}"
        else:
            child = node._get_node(key)
            if isinstance(child, DictConfig) and not child._is_interpolation():
                yield from _missing_keys(child, f"{prefix}{key}.")


def _declared(node: DictConfig, model: type[BaseModel], name: str) -> dict[str, Any]:
    """The keys of ``node`` ``model`` declares (all of them if it forbids others)."""
    keys = [str(k) for k in node.keys()]
    if model.model_config.get("extra") != "forbid" or not name:
        keys = [k for k in keys if k in model.model_fields]
    prefix = f"{name}." if name else ""
    values = {k: _value(node, k, f"{prefix}{k}") for k in keys}
    return {k: v for k, v in values.items() if v is not _UNRESOLVED}


def _check_section(cfg: DictConfig, name: str, model: type[BaseModel]) -> None:
    if name.endswith(".*"):
        parent = OmegaConf.select(cfg, name[:-2])
        for key in parent.keys() if isinstance(parent, DictConfig) else ():
            if isinstance(parent[key], DictConfig):
                _check_section(cfg, f"{name[:-2]}.{key}", model)
        return
    node = OmegaConf.select(cfg, name) if name else cfg
    if isinstance(node, DictConfig):
        validate(model, _declared(node, model, name), prefix=f"{name}." if name else "")


def _target_class(target: Any, group: str) -> Any:
    """The genreclf class (or factory) a group's ``_target_`` names; ``None`` if not ours."""
    if not isinstance(target, str) or not target.startswith("genreclf."):
        return None
    module, _, attr = target.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        raise ConfigError(f"{group}._target_={target}: no such genreclf class") from None


def declared_keys(target: str) -> list[str]:
    """The configurable parameters the genreclf class ``target`` declares (in order)."""
    group = next((g for g in SUPPLIED if target.startswith("genreclf.")), "")
    cls = _target_class(target, group)
    supplied = {name for names in SUPPLIED.values() for name in names}
    if cls is None:
        return []
    return [k for k in params_model(cls, tuple(sorted(supplied))).model_fields]


def _check_group(cfg: DictConfig, group: str) -> None:
    node = cfg.get(group)
    if not isinstance(node, DictConfig):
        return
    cls = _target_class(node.get("_target_"), group)
    if cls is None:
        return
    values = {
        str(k): _value(node, str(k), f"{group}.{k}")
        for k in node.keys()
        if str(k) not in ("_target_", "_partial_")
    }
    values = {k: v for k, v in values.items() if v is not _UNRESOLVED}
    supplied = SUPPLIED[group]
    for key in values:
        if key in supplied:
            raise ConfigError(
                f"{group}.{key}={show(values[key])}: set by genreclf, not configurable"
            )
    check_params(cls, values, prefix=f"{group}.", supplied=supplied)


def check_config(cfg: DictConfig, sections: Sections, groups: tuple[str, ...] = ()) -> None:
    """Check ``cfg`` against its declarations, building nothing.

    Parameters
    ----------
    cfg : DictConfig
        A composed config.
    sections : Mapping
        ``section -> Options model`` (``""``: the top level's own options).
    groups : tuple of str
        genreclf's groups in ``cfg`` (keys of :data:`SUPPLIED`, or ``transforms``).

    Raises
    ------
    ConfigError
        On the first value at fault, e.g. ``optimizer.lr=-1: must be a finite number > 0``.
    """
    for key in _missing_keys(cfg):
        raise ConfigError(f"{key}=???: must be given, e.g. {key}=<value>")
    for name, model in sections.items():
        _check_section(cfg, name, model)
    for group in groups:
        if group == "transforms":
            from genreclf.transforms import check_transform_config

            check_transform_config(_plain(cfg.get("transforms"), "transforms"))
        else:
            _check_group(cfg, group)
