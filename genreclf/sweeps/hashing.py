"""A hash of a job's resolved config, stable across launches, to find finished runs."""

from __future__ import annotations

import hashlib
import json

from omegaconf import DictConfig, ListConfig, OmegaConf

from genreclf.tracking.names import HASH_TAG, NOT_HYPERPARAMS, is_hyperparam

__all__ = ["HASH_TAG", "config_hash", "hashed_config"]


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


def hashed_config(cfg: DictConfig, excluded: tuple[str, ...] = NOT_HYPERPARAMS) -> dict:
    """The resolved config as a plain dict, without the ``excluded`` keys.

    Excluded values are never resolved, so ``${hydra:...}`` in them needs no Hydra job.
    """
    return _resolved(cfg, [], excluded)


def config_hash(cfg: DictConfig, excluded: tuple[str, ...] = NOT_HYPERPARAMS) -> str:
    """SHA-256 (first 16 hex digits) of the resolved config without ``excluded`` keys.

    Two jobs that would compute the same thing get the same hash, whatever their output
    folders, tracking store or launch time.
    """
    text = json.dumps(hashed_config(cfg, excluded), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
