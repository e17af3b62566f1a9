"""MLflow stores: experiments, SQLite artifact locations, retries on a busy database."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)
T = TypeVar("T")


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` tracking URI, else ``None``."""
    if not uri.startswith("sqlite:"):
        return None
    return Path(make_url(uri).database or "")


def default_artifact_location(uri: str, experiment: str) -> str | None:
    """Artifacts of a SQLite store live beside the database: ``<db folder>/<experiment>``.

    For servers and other stores, ``None`` leaves the choice to the store.
    """
    db = sqlite_path(uri)
    if db is None:
        return None
    return (db.resolve().parent / experiment).as_uri()


def with_retry(fn: Callable[[], T], attempts: int = 20, delay: float = 0.2) -> T:
    """Call ``fn``, retrying while SQLite reports ``database is locked``."""
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:  # MLflow wraps SQLAlchemy errors in MlflowException
            if "database is locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(delay * (1 + attempt))
    raise AssertionError("unreachable")


def ensure_experiment(uri: str, name: str) -> str:
    """Return the id of experiment ``name`` in the store at ``uri``, creating it once.

    A SQLite store's folder is created if needed, and its artifacts are kept beside
    the database. Safe to call from several processes at once.
    """
    from mlflow import MlflowClient

    db = sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=uri)

    def get_or_create() -> str:
        found = client.get_experiment_by_name(name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                client.restore_experiment(found.experiment_id)
            return found.experiment_id
        try:
            return client.create_experiment(name, default_artifact_location(uri, name))
        except Exception:
            found = client.get_experiment_by_name(name)  # created meanwhile by another job
            if found is None:
                raise
            return found.experiment_id

    return with_retry(get_or_create)


def flatten_params(config: dict[str, Any]) -> dict[str, Any]:
    """Flatten a nested config into dotted MLflow params (``model.hidden_size``)."""
    return pd.json_normalize(config, sep=".").iloc[0].to_dict()
