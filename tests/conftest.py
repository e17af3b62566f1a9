"""Shared fixtures: the real GTZAN material next to the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
