"""The resolved config of a logged run: its ``config.yaml`` artifact, or rebuilt from params."""

from __future__ import annotations

import ast
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from genreclf.reports.best_run import fetch_artifact


def _value(text: str):
    """A param string back as the Python value it was logged from, where it parses."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def config_from_params(params: dict[str, str]) -> DictConfig:
    """Nest dotted params (``data.path``, ``model.hidden_size``) back into a config.

    Values are parsed as Python literals where they are one (``42``, ``None``,
    ``['a', 'b']``), else kept as text. Params cut short when logged (MLflow keeps
    250 characters at most in some loggers) may not come back whole.
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
    return OmegaConf.create(nested)


def run_config(client, run_id: str, dst: Path) -> DictConfig:
    """The resolved config of a run, saved to ``dst``.

    Its ``config.yaml`` artifact when it logged one (``tracking.log_artifacts``), else
    rebuilt from its params with :func:`config_from_params`.
    """
    if fetch_artifact(client, run_id, "config.yaml", dst) is None:
        params = client.get_run(run_id).data.params
        if not params:
            raise FileNotFoundError(f"run {run_id} logged neither config.yaml nor params")
        dst.write_text(OmegaConf.to_yaml(config_from_params(params)))
    return OmegaConf.load(dst)
