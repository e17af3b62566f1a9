"""The resolved config of a logged run, as plain data: its ``config.yaml``, or its params.

Nothing read here is instantiated: what a report rebuilds from it goes through
genreclf's registries (see :mod:`genreclf.reports.pca`).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import yaml

from genreclf.errors import ConfigError
from genreclf.tracking import names
from genreclf.tracking.store import Store


def _value(text: str):
    """A param string back as the plain value it was logged from, where it parses."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return text


def config_from_params(params: dict[str, str]) -> dict[str, Any]:
    """Nest dotted params (``data.path``, ``model.hidden_size``) back into a config.

    Values are parsed as Python literals where they are one (``42``, ``None``,
    ``['a', 'b']``), else kept as text. Params cut short when logged (MLflow keeps
    250 characters at most) may not come back whole.
    """
    nested: dict = {}
    for key in sorted(params):
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[leaf] = _value(params[key])
    return nested


def run_config(store: Store, run_id: str, dst: Path) -> dict[str, Any]:
    """The resolved config of a run as plain data, also saved to ``dst``.

    Its ``config.yaml`` artifact when it logged one (``tracking.log_artifacts``), read
    as plain YAML; else rebuilt from its params with :func:`config_from_params`.

    Raises
    ------
    FileNotFoundError
        If the run logged neither.
    ValueError
        If its ``config.yaml`` is not a YAML mapping.
    """
    if store.fetch_artifact(run_id, names.CONFIG_ARTIFACT, dst) is not None:
        try:
            config = yaml.safe_load(dst.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"run {run_id}: {names.CONFIG_ARTIFACT} is not YAML") from exc
        if not isinstance(config, dict):
            raise ConfigError(f"run {run_id}: {names.CONFIG_ARTIFACT} is not a mapping")
        return config
    params = store.get_run(run_id).data.params
    if not params:
        raise ConfigError(f"run {run_id} logged neither config.yaml nor params")
    config = config_from_params(params)
    dst.write_text(yaml.safe_dump(config, sort_keys=False))
    return config
