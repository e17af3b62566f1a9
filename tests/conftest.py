"""Shared fixtures: the real GTZAN material next to the repository, servers, and the
stores the slow tests share (trained once per session, see :func:`tests.e2e.run_once`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import TINY_DATA, SharedRun, run_once
from tests.pg_server import MlflowServer, PgCluster, pg_bin

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def require_shared(*parts: str) -> Path:
    """Path under ``../shared/data``; fail under ``CI=true`` if it is missing, else skip."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = f"shared data missing: {path}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``../shared/data`` folder (see its README)."""
    return require_shared()


#: MLflow's own default store, ``sqlite:///mlflow.db`` in the folder a process runs in.
#: genreclf never uses it (its stores live under ``mlruns/``), but MLflow falls back on it
#: when something resolves a URI without a tracking URI (for instance
#: ``MlflowClient.download_artifacts(run_id, "model")`` of an MLflow 3 logged model).
STRAY_DATABASE = Path(__file__).resolve().parents[1] / "mlflow.db"
_STRAY = pytest.StashKey[bool]()


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_STRAY] = STRAY_DATABASE.exists()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session if a test wrote MLflow's default database into the repository."""
    if STRAY_DATABASE.exists() and not session.config.stash.get(_STRAY, True):
        print(
            f"\nerror: a test wrote MLflow's default store {STRAY_DATABASE} (a URI resolved "
            "without a tracking URI); stores belong under mlruns/ or a test's tmp_path"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _no_hydra_job_left_over():
    """A test that sets Hydra's job config (as a running app would) leaves none behind."""
    yield
    from hydra.core.hydra_config import HydraConfig

    HydraConfig.instance().cfg = None


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
        server.cluster = cluster  # a test may create another database on it
        yield server
    finally:
        if server is not None:
            server.kill()
        cluster.stop()


@pytest.fixture
def mlflow_server(tmp_path) -> Iterator[str]:
    """A real ``mlflow server`` on 127.0.0.1 with a SQLite store in ``tmp_path``; its URL.

    Ended by its PID afterwards (:class:`tests.pg_server.MlflowServer`).
    """
    artifacts = tmp_path / "server" / "artifacts"
    artifacts.mkdir(parents=True)
    server = MlflowServer(f"sqlite:///{tmp_path}/server/mlflow.db", artifacts).start()
    try:
        yield server.uri
    finally:
        server.kill()


# ----------------------------------------------- trained once per session, shared (slow)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> SharedRun:
    """One real training run of the dense head on the tiny synthetic data, its model
    registered as ``models:/tiny@champion``; run once per session, read only (a test that
    writes works on :func:`tests.e2e.copy_store`'s copy)."""
    return run_once(
        tmp_path_factory,
        "tiny_model",
        "genreclf.train",
        *TINY_DATA,
        "model=dense",
        "trainer.max_epochs=4",
        "callbacks.early_stopping.patience=2",
        "registry.name=tiny",
        "registry.alias=champion",
    )


@pytest.fixture(scope="session")
def grid_smoke_sweep(tmp_path_factory) -> SharedRun:
    """``--multirun sweep=grid_smoke`` (6 jobs, 2 epochs) on the tiny synthetic data through
    the joblib launcher (2 workers); run once per session, read only."""
    return run_once(
        tmp_path_factory,
        "grid_smoke",
        "genreclf.train",
        "--multirun",
        "sweep=grid_smoke",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        *TINY_DATA,
        "trainer.max_epochs=2",
    )
