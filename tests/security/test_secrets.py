"""Issue 29, case 7: a password in ``tracking.uri`` never leaves the process.

The real thing: ``python -m genreclf.train`` against a real ``mlflow server`` reached as
``http://user:<password>@127.0.0.1:<port>``; then every file written (the job's folder,
Hydra's copies of the config, the server's database and artifacts) and both streams are
searched for the password. A run whose store goes away spools with the password masked
in a ``0600`` file; a store that does not answer is one line without it.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from genreclf.tracking import names
from genreclf.tracking.spool import SPOOL_DIR, Outbox, offline_header, spool_files
from genreclf.tracking.store import Store, StoreError, check_store
from genreclf.tracking.uri import mask_uri, same_store
from tests.pg_server import MlflowServer, free_port

SECRET = "s3cr3t-Pw_4711"


def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING")}
    return env | {"GENRECLF_CACHE": str(cache), "PYTHONHASHSEED": "0"}


def _files_holding(root: Path, secret: str) -> list[Path]:
    """Every regular file under ``root`` whose bytes hold ``secret``."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and secret.encode() in path.read_bytes():
            found.append(path)
    return found


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        (
            f"postgresql+psycopg2://postgres:{SECRET}@127.0.0.1:5432/db",
            "postgresql+psycopg2://postgres:***@127.0.0.1:5432/db",
        ),
        (f"http://user:{SECRET}@host:5000", "http://user:***@host:5000"),
        (f"https://user:p@ss{SECRET}@host/x", "https://user:***@host/x"),
        (f"mysql://u@h/db?password={SECRET}&x=1", "mysql://u@h/db?password=***&x=1"),
        (f"uri=http://u:{SECRET}@h:1: down", "uri=http://u:***@h:1: down"),
        ("sqlite:///mlruns/mlflow.db", "sqlite:///mlruns/mlflow.db"),
        ("http://host:5000", "http://host:5000"),
    ],
)  # fmt: skip
def test_mask_uri(uri, shown):
    assert mask_uri(uri) == shown
    assert SECRET not in mask_uri(uri)


def test_same_store_compares_sqlite_paths_and_masked_uris(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert same_store("sqlite:///mlruns/mlflow.db", f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    assert not same_store("sqlite:///a.db", "sqlite:///b.db")
    assert same_store("http://u:***@h:5000", f"http://u:{SECRET}@h:5000/")
    assert not same_store("http://h:5000", "http://h:5001")


def test_a_store_that_does_not_answer_is_named_without_its_password():
    uri = f"http://user:{SECRET}@127.0.0.1:{free_port()}"
    with pytest.raises(StoreError) as caught:
        check_store(uri)
    assert SECRET not in str(caught.value) and "user:***@127.0.0.1" in str(caught.value)


def test_a_spooled_run_keeps_the_password_out_of_its_0600_spool(tmp_path, monkeypatch, caplog):
    """The store goes away: the header names it masked; the file is the owner's alone."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    away = Store(f"http://user:{SECRET}@127.0.0.1:{free_port()}")
    header = offline_header(away.uri, "e", "r", {names.HASH_TAG: "abc"})
    outbox = Outbox(away, tmp_path / "job" / SPOOL_DIR, header)
    outbox.open_offline()
    with caplog.at_level(logging.DEBUG):
        outbox.batch({"tracking.uri": mask_uri(away.uri)}, [], {})
        assert not outbox.end("FINISHED")
    (spool,) = spool_files(tmp_path)
    assert stat.S_IMODE(spool.stat().st_mode) == 0o600
    assert _files_holding(tmp_path, SECRET) == []
    assert "user:***@127.0.0.1" in spool.read_text()
    assert SECRET not in caplog.text


def test_a_store_that_does_not_answer_is_one_line_without_the_password(tmp_path):
    """The real command: one ``error:`` line, exit 2, the password masked."""
    uri = f"http://user:{SECRET}@127.0.0.1:{free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "genreclf.train", f"tracking.uri={uri}"],
        cwd=tmp_path,
        env=_env(tmp_path / "cache"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.strip().count("\n") == 0 and done.stderr.startswith("error: ")
    assert "user:***@127.0.0.1" in done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert _files_holding(tmp_path, SECRET) == []


@pytest.mark.slow
def test_a_trained_run_writes_the_password_nowhere(tmp_path, shared_data):
    """Train against a real server through a URI holding a password; grep everything."""
    artifacts = tmp_path / "server" / "artifacts"
    artifacts.mkdir(parents=True)
    server = MlflowServer(f"sqlite:///{tmp_path}/server/mlflow.db", artifacts).start()
    uri = f"http://user:{SECRET}@127.0.0.1:{server.port}"
    job = tmp_path / "job"
    job.mkdir()
    try:
        done = subprocess.run(
            [
                sys.executable, "-m", "genreclf.train", "data=table",
                f"data.path={shared_data / 'seed_features.csv'}", "trainer.max_epochs=2",
                f"tracking.uri={uri}",
            ],
            cwd=job, env=_env(tmp_path / "cache"), capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        run = Store(server.uri).find_runs(Store(server.uri).experiment_id("genreclf"))[0]
    finally:
        server.kill()
    assert SECRET not in done.stdout and SECRET not in done.stderr
    assert f"--backend-store-uri http://user:***@127.0.0.1:{server.port}" in done.stdout
    assert run.data.params["tracking.uri"] == f"http://user:***@127.0.0.1:{server.port}"
    assert list(job.rglob(".hydra/config.yaml")), "Hydra's copy of the config was written"
    assert any(artifacts.rglob("config.yaml")), "the run's config.yaml was logged"
    assert _files_holding(tmp_path, SECRET) == []
