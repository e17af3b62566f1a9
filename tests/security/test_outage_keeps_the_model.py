"""Issue 29 case 6: the tracking server dies while a plain ``train`` runs; its model is kept.

The real thing: a PostgreSQL-backed ``mlflow server`` killed by its PID while a single
``python -m genreclf.train`` trains. The run goes on, its writes, figures and model
package are spooled in its output folder, and the command ends with status 0 and no
traceback. Once the server is back, ``python -m genreclf.sync`` finishes the run,
with its model.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from genreclf.tracking import names
from genreclf.tracking.models import fetch_model
from genreclf.tracking.spool import SPOOL_DIR
from genreclf.tracking.store import Store
from tests.e2e import TINY_DATA, command_env, run_command


def _running_run(uri: str, proc: subprocess.Popen, timeout: float = 240) -> str:
    client = MlflowClient(tracking_uri=uri)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        experiment = client.get_experiment_by_name("genreclf")
        runs = client.search_runs([experiment.experiment_id]) if experiment else []
        if runs and runs[0].info.status == "RUNNING" and "train_loss" in runs[0].data.metrics:
            return runs[0].info.run_id
        time.sleep(0.5)
    raise AssertionError("the run did not start training")


@pytest.mark.slow
def test_an_outage_during_train_spools_the_model_and_sync_finishes_the_run(
    tmp_path, pg_mlflow_server
):
    server, uri = pg_mlflow_server, pg_mlflow_server.uri
    overrides = [*TINY_DATA, "trainer.max_epochs=60", "callbacks.early_stopping.patience=60"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "genreclf.train", f"tracking.uri={uri}", *overrides],
        cwd=tmp_path,
        env=command_env(tmp_path / "cache"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_id = _running_run(uri, proc)
    server.kill()  # by its PID, while the model trains
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in out + err, (out + err)[-4000:]
    (spool,) = list(Path(tmp_path, "outputs").glob(f"*/*/{SPOOL_DIR}/*.jsonl"))

    server.start()  # the same port
    job_folder = str(spool.parent.parent)
    sync = run_command(
        "genreclf.sync", job_folder, "--tracking-uri", uri, cwd=tmp_path, cache=tmp_path / "cache"
    )
    assert sync.returncode == 0, sync.stderr[-3000:]
    run = MlflowClient(tracking_uri=uri).get_run(run_id)
    assert run.info.status == "FINISHED", sync.stdout + sync.stderr
    assert run.data.tags[names.MODEL_FORMAT_TAG]
    assert "test_acc" in run.data.metrics
    artifacts = {a.path for a in MlflowClient(tracking_uri=uri).list_artifacts(run_id)}
    assert {names.CONFUSION_ARTIFACT, names.REPORT_ARTIFACT} <= artifacts
    _, folder = fetch_model(Store(uri), f"runs:/{run_id}/model", tmp_path / "fetched")
    assert (folder / "genreclf.json").is_file()
