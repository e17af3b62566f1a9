"""Objects with their values from ``conf/``: each default lives once, in the YAML.

genreclf's classes that a config group builds declare types and bounds, not values
(README, "Each default lives once"). A test that needs one builds it with the values of
the ``conf/`` option naming that class, and states only what it changes::

    make(Summary, n_mfcc=13)      # conf/features/summary.yaml, n_mfcc changed

A registered class can be built by name too: ``FEATURE_SETS.option("summary", n_mfcc=13)``.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, TypeVar

from hydra.utils import get_object
from omegaconf import OmegaConf

from genreclf.core.registry import CONFIG_DIR, conf_values

T = TypeVar("T")


@functools.cache
def _options_by_class() -> dict[Any, tuple[str, str]]:
    """Each genreclf class a ``conf/`` option builds, with that option's group and name."""
    found: dict[Any, tuple[str, str]] = {}
    for path in sorted(CONFIG_DIR.glob("*/*.yaml")):
        target = OmegaConf.load(path).get("_target_")
        if isinstance(target, str) and target.startswith("genreclf."):
            found.setdefault(get_object(target), (path.parent.name, path.stem))
    return found


def _linked(cls: type) -> dict[str, Any]:
    """The option's ``${key}`` values, read from conf/config.yaml (``seed: ${seed}``)."""
    group, option = _options_by_class()[cls]
    raw = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / group / f"{option}.yaml"))
    top = OmegaConf.load(CONFIG_DIR / "config.yaml")
    linked = {
        key: OmegaConf.select(top, value[2:-1])
        for key, value in raw.items()
        if isinstance(value, str) and value.startswith("${")
    }
    return {key: value for key, value in linked.items() if value is not None}


def make(cls: type[T], /, *args: Any, **changed: Any) -> T:
    """``cls(*args, **values)``: its ``conf/`` values, with ``changed`` on top."""
    values = conf_values(*_options_by_class()[cls]) | _linked(cls)
    given = inspect.signature(cls).bind_partial(*args).arguments
    return cls(*args, **({k: v for k, v in values.items() if k not in given} | changed))


def transform_option(name: str) -> Any:
    """The unfitted transform ``conf/transforms/<name>.yaml`` builds."""
    from genreclf.transforms import build_transform

    node = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "transforms" / f"{name}.yaml"))
    return build_transform(node)


def log_step(**changed: Any) -> Any:
    """The ``log_columns`` step of ``conf/transforms/log_standard.yaml``, ``changed`` on top."""
    from genreclf.transforms import log_columns

    node = OmegaConf.load(CONFIG_DIR / "transforms" / "log_standard.yaml")["_args_"][0]
    values = {k: v for k, v in OmegaConf.to_container(node).items() if not k.startswith("_")}
    return log_columns(**(values | changed))
