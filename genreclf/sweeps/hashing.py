"""A hash of a job's resolved config, stable across launches, to find finished runs."""

from __future__ import annotations

import hashlib
import json

from omegaconf import DictConfig, ListConfig, OmegaConf

#: Run tag holding :func:`config_hash`.
HASH_TAG = "genreclf.config_hash"

#: Dotted keys left out of the hash: where things are written or tracked, how fast
#: features are extracted, and the sweep's own bookkeeping. None of them changes what
#: a run computes. A trailing ``*`` matches every key of a mapping.
EXCLUDED_KEYS: tuple[str, ...] = (
    "hydra",
    "sweep",
    "tracking",
    "registry",
    "paths",
    "trainer.default_root_dir",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
    "callbacks.*.dirpath",
    "callbacks.*.filename",
    "extraction.cache_dir",
    "extraction.n_jobs",
    "extraction.backend",
    "extraction.batch_size",
    "extraction.progress",
)


def _excluded(path: list[str], excluded: tuple[str, ...]) -> bool:
    for key in excluded:
        parts = key.split(".")
        if len(parts) == len(path) and all(p in ("*", q) for p, q in zip(parts, path, strict=True)):
            return True
    return False


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


def hashed_config(cfg: DictConfig, excluded: tuple[str, ...] = EXCLUDED_KEYS) -> dict:
    """The resolved config as a plain dict, without the ``excluded`` keys.

    Excluded values are never resolved, so ``${hydra:...}`` in them needs no Hydra job.
    """
    return _resolved(cfg, [], excluded)


def config_hash(cfg: DictConfig, excluded: tuple[str, ...] = EXCLUDED_KEYS) -> str:
    """SHA-256 (first 16 hex digits) of the resolved config without ``excluded`` keys.

    Two jobs that would compute the same thing get the same hash, whatever their output
    folders, tracking store or launch time.
    """
    text = json.dumps(hashed_config(cfg, excluded), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
