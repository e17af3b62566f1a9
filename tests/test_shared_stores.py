"""The slow tests' shared stores: a copy (tests.e2e.copy_store) reads and writes only itself."""

from __future__ import annotations

import sqlite3
import subprocess

from mlflow import MlflowClient

from tests.e2e import SharedRun, copy_store


def _texts(db) -> list[str]:
    """Every text value of every table of the SQLite database ``db``."""
    with sqlite3.connect(db) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        values = [v for t in tables for row in con.execute(f'SELECT * FROM "{t}"') for v in row]
    con.close()
    return [v for v in values if isinstance(v, str)]


def test_a_copied_store_reads_and_writes_only_itself(tmp_path):
    src = tmp_path / "shared" / "run"
    client = MlflowClient(f"sqlite:///{src}/mlruns/mlflow.db")
    experiment = client.create_experiment("genreclf", (src / "mlruns" / "genreclf").as_uri())
    run_id = client.create_run(experiment).info.run_id
    client.log_param(run_id, "trainer.default_root_dir", str(src / "outputs"))
    client.log_param(run_id, "hidden_size", "256")
    client.log_text(run_id, "original", "note.txt")
    client.set_terminated(run_id)
    shared = SharedRun(src, tmp_path / "cache", subprocess.CompletedProcess([], 0))

    dst = copy_store(shared, tmp_path / "copy")

    assert not [v for v in _texts(dst / "mlruns" / "mlflow.db") if f"{src}/" in v]
    copy = MlflowClient(f"sqlite:///{dst}/mlruns/mlflow.db")
    run = copy.get_run(run_id)
    assert run.info.artifact_uri == f"{(dst / 'mlruns' / 'genreclf').as_uri()}/{run_id}/artifacts"
    assert run.data.params == {
        "trainer.default_root_dir": str(dst / "outputs"),  # the run's folders: the copy's
        "hidden_size": "256",
    }
    (dst / "mlruns" / "genreclf" / run_id / "artifacts" / "note.txt").write_text("copied")
    assert copy.download_artifacts(run_id, "note.txt", str(tmp_path)) == str(tmp_path / "note.txt")
    assert (tmp_path / "note.txt").read_text() == "copied"  # read from the copy
    new = copy.create_run(experiment).info.run_id
    copy.log_text(new, "new", "new.txt")
    assert (dst / "mlruns" / "genreclf" / new / "artifacts" / "new.txt").is_file()
    assert not (src / "mlruns" / "genreclf" / new).exists()  # the original is left alone
    assert [r.info.run_id for r in client.search_runs([experiment])] == [run_id]
