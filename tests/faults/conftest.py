"""Fixtures of the fault tests: a real PostgreSQL-backed ``mlflow server``."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.pg_server import MlflowServer, PgCluster, pg_bin


@pytest.fixture
def pg_mlflow_server(tmp_path) -> Iterator[MlflowServer]:
    """An ``mlflow server`` on a fresh PostgreSQL database; both ended by PID afterwards.

    Skipped when PostgreSQL or psycopg2 is missing; under ``CI=true`` that fails instead.
    """
    bin_dir = pg_bin()
    missing = "PostgreSQL's initdb/pg_ctl" if bin_dir is None else None
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        missing = missing or "psycopg2 (pip install psycopg2-binary)"
    if missing:
        message = f"{missing} not found: no PostgreSQL-backed mlflow server"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    cluster = PgCluster(bin_dir).start()
    server = None
    try:
        artifacts = tmp_path / "server" / "artifacts"
        artifacts.mkdir(parents=True)
        server = MlflowServer(cluster.uri, artifacts).start()
        yield server
    finally:
        if server is not None:
            server.kill()
        cluster.stop()
