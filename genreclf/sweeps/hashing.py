"""A hash of a job's effective config, stable across launches, to find finished runs.

Effective: parameters that cannot change the model are left out first (a dense head with
no hidden layer ignores its width, dropout and batch norm; the rule is
:mod:`genreclf.models.effective`), so two configs that train the same model share a
hash. :func:`exact_hash` keeps them, to tell a config's own run from an equivalent's.
"""

from __future__ import annotations

import hashlib
import json

from omegaconf import DictConfig, ListConfig, OmegaConf

from genreclf.models.effective import effective_params
from genreclf.tracking.names import HASH_TAG, NOT_HYPERPARAMS, is_hyperparam

__all__ = ["HASH_TAG", "config_hash", "exact_hash", "hashed_config"]


def _excluded(path: list[str], excluded: tuple[str, ...]) -> bool:
    return not is_hyperparam(".".join(path), excluded)


def _resolved(node: DictConfig, path: list[str], excluded: tuple[str, ...]) -> dict:
    out = {}
    for key in node:
        here = [*path, str(key)]
        if _excluded(here, excluded):
            continue
        value = node._get_node(key)
        if isinstance(value, DictConfig):
            out[str(key)] = _resolved(value, here, excluded)
        elif isinstance(value, ListConfig):
            out[str(key)] = OmegaConf.to_container(value, resolve=True)
        else:
            resolved = node[key]  # resolved within the whole config
            if isinstance(resolved, DictConfig | ListConfig):
                resolved = OmegaConf.to_container(resolved, resolve=True)
            out[str(key)] = resolved
    return out


def hashed_config(
    cfg: DictConfig, excluded: tuple[str, ...] = NOT_HYPERPARAMS, effective: bool = True
) -> dict:
    """The resolved config as a plain dict, without the ``excluded`` keys.

    Excluded values are never resolved, so ``${hydra:...}`` in them needs no Hydra job.
    With ``effective``, the ``model`` params that cannot change the model are left out too
    (:func:`genreclf.models.effective.effective_params`). A top-level ``null`` (an optional
    group left out, ``refit: null``) counts as absent, as Hydra composes it.
    """
    out = {k: v for k, v in _resolved(cfg, [], excluded).items() if v is not None}
    model = out.get("model")
    if effective and isinstance(model, dict):
        out["model"] = effective_params(model.get("_target_"), model)
    return out


def config_hash(
    cfg: DictConfig, excluded: tuple[str, ...] = NOT_HYPERPARAMS, effective: bool = True
) -> str:
    """SHA-256 (first 16 hex digits) of the effective config without ``excluded`` keys.

    Two jobs that would compute the same thing get the same hash, whatever their output
    folders, tracking store or launch time, and whatever the values of parameters their
    model ignores (``effective=False``: those count too).
    """
    text = json.dumps(hashed_config(cfg, excluded, effective), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def exact_hash(cfg: DictConfig) -> str:
    """:func:`config_hash` with every parameter, ignored or not: one config's own hash."""
    return config_hash(cfg, effective=False)
