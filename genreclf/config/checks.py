"""The up-front check: a composed config against the declarations, before any work.

Nothing here knows an option's rules. Each genreclf group (``data``, ``model``, ...)
is validated against the declaration of the class its ``_target_`` names
(:func:`genreclf.core.params.params_model`), without building anything; ``transforms``
against the allowlisted steps of :mod:`genreclf.transforms`; every other section
against the :class:`~genreclf.core.params.Options` model its command names (``tracking``,
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

from genreclf.config.runconfig import ARTIFACT, GROUPS, MAX_BYTES, RunConfig, Section, check_targets
from genreclf.core.errors import ConfigError
from genreclf.core.params import (
    Int,
    Options,
    Seed,
    Text,
    check_params,
    params_model,
    show,
    validate,
)

__all__ = ["ConfigError", "check_config", "check_train_config", "load_run_config"]

#: genreclf's own groups, and the parameters genreclf gives their class itself.
SUPPLIED: dict[str, tuple[str, ...]] = {
    "data": (),
    "features": (),
    "extraction": (),
    "split": (),
    "datamodule": ("table", "split", "transform"),
    "model": ("input_shape", "num_classes"),
    "classifier": ("head", "optimizer", "class_names"),
    "refit": ("config", "datamodule", "selected_epochs"),
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


def _check_section(cfg: DictConfig, name: str, model: type[BaseModel]) -> Any:
    """The checked values of section ``name`` (``a.*``: of each entry, by its key)."""
    if name.endswith(".*"):
        parent = OmegaConf.select(cfg, name[:-2])
        keys = parent.keys() if isinstance(parent, DictConfig) else ()
        return {
            str(k): _check_section(cfg, f"{name[:-2]}.{k}", model)
            for k in keys
            if isinstance(parent[k], DictConfig)
        }
    node = OmegaConf.select(cfg, name) if name else cfg
    if not isinstance(node, DictConfig):
        return None
    checked = validate(model, _declared(node, model, name), prefix=f"{name}." if name else "")
    return checked.model_dump(exclude_unset=True)


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
    cls = _target_class(target, "config")
    supplied = {name for names in SUPPLIED.values() for name in names}
    if cls is None:
        return []
    return [k for k in params_model(cls, tuple(sorted(supplied))).model_fields]


def _check_group(cfg: DictConfig, group: str) -> dict[str, Any] | None:
    """The checked parameters of genreclf group ``group`` (``None`` if it is not ours)."""
    node = cfg.get(group)
    if not isinstance(node, DictConfig):
        return None
    cls = _target_class(node.get("_target_"), group)
    if cls is None:
        return None
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
    return check_params(cls, values, prefix=f"{group}.", supplied=supplied)


def check_config(
    cfg: DictConfig, sections: Sections, groups: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Check ``cfg`` against its declarations, building nothing; return the checked values.

    Parameters
    ----------
    cfg : DictConfig
        A composed config.
    sections : Mapping
        ``section -> Options model`` (``""``: the top level's own options).
    groups : tuple of str
        genreclf's groups in ``cfg`` (keys of :data:`SUPPLIED`, or ``transforms``).

    Returns
    -------
    dict
        ``section or group -> checked values`` (``""``: the top level's); a genreclf group
        maps to the checked parameters of its class (``None`` if ``cfg`` has none).

    Raises
    ------
    ConfigError
        On the first value at fault, e.g. ``optimizer.lr=-1: must be a finite number > 0``.
    """
    for key in _missing_keys(cfg):
        raise ConfigError(f"{key}=???: must be given, e.g. {key}=<value>")
    checked = {name: _check_section(cfg, name, model) for name, model in sections.items()}
    for group in groups:
        if group == "transforms":
            from genreclf.transforms import check_transform_config

            checked[group] = _plain(cfg.get("transforms"), "transforms")
            check_transform_config(checked[group])
        else:
            checked[group] = _check_group(cfg, group)
    return checked


class TrainOptions(Options):
    """``conf/config.yaml``'s own options."""

    seed: Seed
    #: Seeds per fold (``seed``, ``seed + 1``, ...); see :mod:`genreclf.protocol`.
    repeats: Int(ge=1, le=1000)
    #: Rerun a logged run: its id, or ``best:<experiment>`` (see :func:`load_run_config`).
    from_run: Text | None


def _train_sections() -> dict[str, type[BaseModel]]:
    """Where each section of the training config is declared."""
    from genreclf.core.third_party import CallbackOptions, OptimizerOptions, TrainerOptions
    from genreclf.features.cache import PathsOptions
    from genreclf.tracking.options import RegistryOptions, SweepOptions, TrackingOptions

    return {
        "": TrainOptions,
        "paths": PathsOptions,
        "tracking": TrackingOptions,
        "registry": RegistryOptions,
        "sweep": SweepOptions,
        "trainer": TrainerOptions,
        "optimizer": OptimizerOptions,
        "callbacks.*": CallbackOptions,
    }


def _choices() -> dict[str, str | None]:
    """The group choices of the running Hydra app (none outside one)."""
    if not HydraConfig.initialized():
        return {}
    choices = HydraConfig.get().runtime.choices
    return {str(k): v for k, v in choices.items() if not str(k).startswith("hydra")}


def _section(node: Any, checked: Any, choice: str | None) -> Section | None:
    """A group's :class:`Section`: its plain node with the checked values in place."""
    if not isinstance(node, Mapping):
        return None
    return Section.of({**node, **(checked or {})}, choice)


def check_train_config(cfg: DictConfig, choices: Mapping[str, Any] | None = None) -> RunConfig:
    """Every training option against its declaration, before any work; the typed result.

    ``choices``: the composition's group choices (default: the running Hydra app's).

    Raises
    ------
    ConfigError
        One line naming the first value at fault.
    """
    checked = check_config(cfg, _train_sections(), GROUPS)
    choices = dict(_choices() if choices is None else choices)
    plain = {str(k): _value(cfg, str(k), str(k)) for k in cfg.keys() if str(k) != "hydra"}
    sections = {
        g: _section(plain.get(g), checked.get(g), choices.get(g))
        for g in (*GROUPS, "optimizer", "trainer")
    }
    callbacks = {
        name: _section(node, (checked.get("callbacks.*") or {}).get(name), None)
        for name, node in (plain.get("callbacks") or {}).items()
    }
    top = checked[""]
    return RunConfig(
        **{k: top.get(k, plain.get(k)) for k in ("seed", "repeats", "from_run")},
        **sections,
        callbacks=callbacks,
        **{k: plain.get(k) or {} for k in ("paths", "tracking", "registry")},
        sweep=plain.get("sweep"),
        choices=choices,
    )


def recheck(config: RunConfig) -> RunConfig:
    """``config`` checked again against today's declarations (a logged one is data).

    Its classes must be ones that ``conf/`` builds
    (:func:`~genreclf.config.runconfig.check_targets`),
    checked before any of them is imported.
    """
    check_targets(config)
    cfg = OmegaConf.create(config.to_container())
    return check_train_config(cfg, config.choices)


def load_run_config(store: Any, run_id: str, folder: Any) -> RunConfig:
    """The :class:`RunConfig` that run ``run_id`` logged, read as data and re-checked.

    Parameters
    ----------
    store : genreclf.tracking.store.Store
        The run's store.
    run_id : str
        A run that logged :data:`~genreclf.config.runconfig.ARTIFACT`.
    folder : path
        Where the artifact is downloaded.

    Raises
    ------
    ConfigError
        One line: the run logged none (it predates typed configs), it is too large, or
        a value breaks its declaration.
    """
    from pathlib import Path

    path = store.fetch_artifact(run_id, ARTIFACT, Path(folder) / ARTIFACT)
    if path is None:
        raise ConfigError(f"run {run_id}: logged no {ARTIFACT}; rerun it from its command line")
    size = Path(path).stat().st_size
    if size > MAX_BYTES:
        raise ConfigError(f"run {run_id}: {ARTIFACT} is {size} bytes, more than {MAX_BYTES}")
    return recheck(RunConfig.from_json(Path(path).read_bytes()))
