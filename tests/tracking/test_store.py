"""Store: one MLflow client over a real SQLite store, and nothing set globally."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.entities import Metric

from genreclf.tracking import names
from genreclf.tracking.store import Store


@pytest.fixture
def store(tmp_path):
    return Store(f"sqlite:///{tmp_path}/db/mlflow.db")


def test_experiments_runs_and_batched_logging(store, tmp_path):
    before = mlflow.get_tracking_uri()
    eid = store.experiment_id("exp")
    assert store.experiment_id("exp") == eid and store.experiment_id("nope", create=False) is None
    assert (tmp_path / "db" / "mlflow.db").is_file()
    run_id = store.create_run(eid, "r", {names.HASH_TAG: "abc"})
    params = {f"p{i}": i for i in range(150)}  # more than MLflow writes in one request
    params["long"] = "x" * 3000  # MLflow 3 stores up to 6000 characters: nothing is cut
    metrics = [Metric("loss", 1.0 / (s + 1), 0, s) for s in range(1200)]
    store.log_batch(run_id, params, metrics, {"t": "x"})
    store.end_run(run_id, names.FINISHED)
    other = store.create_run(eid, "other", {names.HASH_TAG: "def"})
    store.end_run(other, names.FAILED)

    found = store.find_runs(eid, tags={names.HASH_TAG: "abc"}, statuses=(names.FINISHED,))
    assert [r.info.run_id for r in found] == [run_id]
    assert store.find_runs(eid, tags={names.HASH_TAG: "abc"}, statuses=(names.FAILED,)) == []
    assert len(store.find_runs(eid, statuses=(names.FINISHED, names.FAILED))) == 2
    run = store.get_run(run_id)
    assert len(run.data.params) == 151 and run.data.tags["t"] == "x"
    assert run.data.params["long"] == "x" * 3000
    history = store.metric_history(run_id, ["loss"])
    assert len(history) == 1200 and history["loss"].iloc[-1] == pytest.approx(1 / 1200)
    frame = store.runs_frame(eid)
    assert set(frame["run_id"]) == {run_id, other}
    assert {"status", "start_time", "params.p0", "metrics.loss", "tags.t"} <= set(frame.columns)
    assert store.seconds > 0
    assert mlflow.get_tracking_uri() == before  # nothing global changed


def test_artifacts_and_registry(store, tmp_path):
    eid = store.experiment_id("exp")
    run_id = store.create_run(eid)
    store.log_text(run_id, "hello", "notes/a.txt")
    assert store.list_artifacts(run_id, "notes") == ["notes/a.txt"]
    dst = store.fetch_artifact(run_id, "notes/a.txt", tmp_path / "out" / "a.txt")
    assert dst.read_text() == "hello"
    assert store.fetch_artifact(run_id, "missing.txt", tmp_path / "m.txt") is None
    version = store.register("genres", f"runs:/{run_id}/notes", run_id, alias="champion")
    assert version == "1"
    assert store.model_version("genres", alias="champion").source == f"runs:/{run_id}/notes"
    assert store.register("genres", f"runs:/{run_id}/notes", run_id) == "2"


def test_unusable_stores_are_refused_in_one_line(tmp_path):
    import time

    from genreclf.tracking.store import StoreError, check_store

    (tmp_path / "afile").write_text("x")
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "mlflow.db").write_text("not a database")
    cases = {
        "garbage://x": "not a tracking URI",
        f"sqlite:///{tmp_path}/afile/mlflow.db": "is a file, not a folder",
        f"sqlite:///{tmp_path}/db/mlflow.db": "not an SQLite database",
        "http://127.0.0.1:9": "no MLflow server answers",
    }
    for uri, message in cases.items():
        start = time.monotonic()
        with pytest.raises(StoreError, match=message) as info:
            check_store(uri)
        assert "\n" not in str(info.value) and f"tracking.uri={uri}" in str(info.value)
        assert time.monotonic() - start < 15
    check_store(f"sqlite:///{tmp_path}/new/folder/mlflow.db")  # created when first used


def test_experiments_genreclf_creates_are_custom_model_development(store):
    """MLflow 3's UI opens them as classic machine learning, not in its GenAI view."""
    eid = store.experiment_id("kind")
    tags = store.call(lambda c: c.get_experiment(eid)).tags
    assert tags["mlflow.experimentKind"] == "custom_model_development"
