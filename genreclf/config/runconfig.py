"""One typed, frozen configuration of a run: checked once, passed on, logged whole.

Hydra composes ``conf/config.yaml``; :func:`genreclf.config.checks.check_config` checks
every value against its declaration and returns a :class:`RunConfig`, which is what
the rest of a run reads. Each config group is a :class:`Section`: the option chosen
(``model=linear``), the class it builds (its ``_target_``) and the checked parameters.

A run logs its ``RunConfig`` whole as one JSON artifact (:data:`ARTIFACT`), beside the
flat params; :func:`genreclf.config.checks.load_run_config` reads it back as data
(size-capped, re-checked against the same declarations), and ``python -m
genreclf.train from_run=<run>`` composes it again (:meth:`RunConfig.overrides`)::

    rc = check_train_config(cfg)                   # typed, frozen
    text = rc.to_json()                            # logged as run_config.json
    RunConfig.from_json(text) == rc                # rebuilt exactly
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import to_jsonable_python

from genreclf.core.errors import ConfigError
from genreclf.core.registry import CONFIG_DIR
from genreclf.tracking.names import is_hyperparam

#: The JSON artifact of a run's checked configuration.
ARTIFACT = "run_config.json"
#: The largest ``run_config.json`` read back (bytes), checked before reading.
MAX_BYTES = 1_000_000
#: genreclf's own groups of the training config, built through its registries.
GROUPS = (
    "data",
    "features",
    "extraction",
    "split",
    "transforms",
    "datamodule",
    "model",
    "classifier",
    "refit",
)
#: The groups of Lightning and torch.
THIRD_PARTY = ("optimizer", "trainer", "callbacks")

_FROZEN = ConfigDict(frozen=True, extra="forbid")


def _jsonable(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples as lists, keys as str)."""
    return json.loads(json.dumps(to_jsonable_python(value), allow_nan=False))


class Section(BaseModel):
    """One config group of a run: the option chosen, its class and its checked parameters.

    Attributes
    ----------
    choice : str or None
        The group's option in ``conf/`` (``linear``), if known.
    target : str or None
        The class it builds (``genreclf.models.heads.DenseHead``); ``None`` for a group
        that is not one class (``transforms`` holds a pipeline).
    partial : bool
        Built with the arguments genreclf supplies later (Hydra's ``_partial_``).
    params : dict
        The checked parameters, as plain JSON values.
    """

    model_config = _FROZEN
    choice: str | None = None
    target: str | None = None
    partial: bool = False
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("params", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        return _jsonable(value) if isinstance(value, Mapping) else value

    def node(self) -> dict[str, Any]:
        """The section as a Hydra config node (``_target_``, ``_partial_``, parameters)."""
        head = {"_target_": self.target} if self.target else {}
        return head | ({"_partial_": True} if self.partial else {}) | dict(self.params)

    @classmethod
    def of(cls, node: Mapping[str, Any], choice: str | None = None) -> Section:
        """A section from a plain config node (its ``_target_`` and ``_partial_`` split off)."""
        params = {k: v for k, v in node.items() if k not in ("_target_", "_partial_")}
        target = node.get("_target_")
        return cls(choice=choice, target=target, partial=bool(node.get("_partial_")), params=params)


class RunConfig(BaseModel):
    """A training run's whole configuration, checked (see :mod:`genreclf.config.checks`).

    The genreclf groups (:data:`GROUPS`) and the third-party ones (:data:`THIRD_PARTY`)
    are :class:`Section` values; ``callbacks`` maps each callback's name to its section
    (``None``: turned off). The other options are plain checked values of their own
    declarations (``tracking``: :class:`~genreclf.tracking.options.TrackingOptions`, ...).
    ``choices`` holds every group choice of the composition (``debug``, ``sweep``, ...).
    """

    model_config = _FROZEN
    seed: int
    repeats: int = 1
    from_run: str | None = None
    data: Section
    features: Section
    extraction: Section
    split: Section
    transforms: Section
    datamodule: Section
    model: Section
    classifier: Section
    refit: Section | None = None
    optimizer: Section
    trainer: Section
    callbacks: dict[str, Section | None] = Field(default_factory=dict)
    paths: dict[str, Any] = Field(default_factory=dict)
    tracking: dict[str, Any]
    registry: dict[str, Any] = Field(default_factory=dict)
    sweep: dict[str, Any] | None = None
    choices: dict[str, str | None] = Field(default_factory=dict)

    @field_validator("paths", "tracking", "registry", "sweep", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        return _jsonable(value) if isinstance(value, Mapping) else value

    # ------------------------------------------------------------------ JSON and Hydra
    def to_json(self) -> str:
        """The configuration as one JSON document (what a run logs as :data:`ARTIFACT`).

        Passwords in URIs (``tracking.uri``) are masked (``***``): they never leave the
        process (:func:`genreclf.tracking.uri.mask_uri`).
        """
        from genreclf.tracking.uri import mask_uri

        # json, not pydantic's writer: a surrogate-escaped file name (genreclf.core.filenames)
        # is kept as a \udcXX escape and comes back whole
        return mask_uri(json.dumps(self.model_dump(), indent=1, allow_nan=False))

    @classmethod
    def from_json(cls, text: str | bytes) -> RunConfig:
        """A configuration from :meth:`to_json`'s text; one line if it is not one.

        Only the shape is checked here; :func:`genreclf.config.checks.load_run_config`
        also checks every value against its declaration.
        """
        if len(text) > MAX_BYTES:
            raise ConfigError(f"{ARTIFACT}: {len(text)} bytes, more than {MAX_BYTES}")
        try:
            return cls.model_validate(json.loads(text))
        except RecursionError:
            raise ConfigError(f"{ARTIFACT}: not a run configuration (nested too deep)") from None
        except ValueError as err:
            first = str(err).splitlines()
            reason = first[1].strip() if len(first) > 1 else "not a run configuration"
            raise ConfigError(f"{ARTIFACT}: not a run configuration ({reason[:120]})") from None

    def to_container(self) -> dict[str, Any]:
        """The configuration as a plain nested config, shaped like Hydra's composition."""
        out: dict[str, Any] = {"seed": self.seed, "repeats": self.repeats}
        out |= {"from_run": self.from_run}
        for group in (*GROUPS, "optimizer", "trainer"):
            section = getattr(self, group)
            out[group] = None if section is None else section.node()
        out["callbacks"] = {k: (v.node() if v else None) for k, v in self.callbacks.items()}
        out |= {"paths": self.paths, "tracking": self.tracking, "registry": self.registry}
        if self.sweep is not None:
            out["sweep"] = self.sweep
        return out

    def overrides(self) -> list[str]:
        """Hydra overrides that compose this configuration again from ``conf/``.

        Each group's choice, then every value (``model.hidden_size=256``); the keys that
        say where a run writes (:func:`where_keys`) are left to the new composition.
        """
        out = [f"{g}={c}" for g, c in self.choices.items() if c and g in CHOSEN]
        for key, value in flat(self.to_container()):
            if key in CHOSEN and value is None:  # a group left out (refit): its choice says so
                continue
            if is_hyperparam(key, WHERE_KEYS):
                out.append(f"++{key}={_override_value(value)}")
        return out

    def dictconfig(self) -> Any:
        """The checked configuration as an OmegaConf ``DictConfig`` (for what reads a config
        whole: the config hash, ``config.yaml``, a sweep job's epoch budgets)."""
        from omegaconf import OmegaConf

        return OmegaConf.create(self.to_container())


#: Groups whose choice a rerun composes again (``debug``, ``sweep``, ``tracking`` and
#: ``paths`` are today's: the first two set values only, the others say where to write).
CHOSEN = (*GROUPS, *THIRD_PARTY)
#: Keys that say where a run writes, not what it computes: a rerun takes today's.
WHERE_KEYS = (
    "from_run",
    "tracking",
    "registry",
    "paths",
    "sweep",
    "trainer.default_root_dir",
    "callbacks.*.dirpath",
    "extraction.cache_dir",
)


def _override_value(value: Any) -> str:
    """``value`` as Hydra's override grammar reads it back (a str quoted as it is, so a
    surrogate-escaped file name stays one; lists and mappings item by item, as
    ``[{name:'musicnn'}]``: the grammar takes no quoted keys; other values as JSON)."""
    if isinstance(value, str) and not any(c in value for c in "'\\"):
        return f"'{value}'"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{_override_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_override_value(v) for v in value) + "]"
    return json.dumps(value)


def flat(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted key, value)`` of every leaf of a plain nested config (lists are leaves)."""
    if isinstance(node, Mapping) and node:
        for key, value in node.items():
            yield from flat(value, f"{prefix}{key}.")
    else:
        yield prefix.rstrip("."), node


def _targets_in(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        if isinstance(node.get("_target_"), str):
            yield node["_target_"]
        for value in node.values():
            yield from _targets_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from _targets_in(value)


@cache
def known_targets(group: str) -> frozenset[str]:
    """Every ``_target_`` that an option of ``conf/<group>/`` names (read as YAML data)."""
    import yaml

    found: set[str] = set()
    for path in sorted((CONFIG_DIR / group).glob("*.yaml")):
        found.update(_targets_in(yaml.safe_load(path.read_text()) or {}))
    return frozenset(found)


def check_targets(config: RunConfig) -> None:
    """Refuse a section whose class is not one that an option of ``conf/`` builds.

    A logged configuration is data: the classes it names must be genreclf's own choices.
    """
    sections = {g: getattr(config, g) for g in (*GROUPS, "optimizer", "trainer")}
    sections |= {f"callbacks.{k}": v for k, v in config.callbacks.items()}
    for name, section in sections.items():
        if section is None:
            continue
        group = name.split(".", 1)[0]
        targets = {section.target} if section.target else set()
        targets |= set(_targets_in(section.params))
        for target in sorted(targets - known_targets(group)):
            raise ConfigError(f"{name}._target_={target[:80]}: not an option of conf/{group}/")
