"""Faults: parallel jobs that log one new data set at once, into one SQLite store.

A sweep's joblib workers log the same data set (same experiment, name and digest) as
they start; the first insert wins and MLflow's SQLite store refuses the others with a
unique-key error. Real processes, released together by a barrier, race for it; every
run must get its input.
"""

from __future__ import annotations

import multiprocessing as mp

import pytest

WORKERS = 6
ROUNDS = 4
#: As a sweep's store is opened (conf/tracking/sweep.yaml).
PRAGMAS = {"journal_mode": "WAL", "synchronous": "NORMAL"}


def _log_one(uri: str, run_id: str, name: str, barrier) -> str:
    import pandas as pd
    from mlflow.data import from_pandas
    from mlflow.entities import DatasetInput, InputTag

    from genreclf.tracking.store import Store

    store = Store(uri, PRAGMAS)
    frame = pd.DataFrame({"track": ["a", "b"], "label": ["x", "y"]})
    dataset = from_pandas(frame, name=name)._to_mlflow_entity()
    inputs = [DatasetInput(dataset, [InputTag("mlflow.data.context", "training")])]
    store.get_run(run_id)  # the client and its connection made before the race
    barrier.wait()
    try:
        store.log_inputs(run_id, inputs)
    except Exception as exc:  # the failure is the result
        return f"{type(exc).__name__}: {exc}"[:300]
    return "ok"


@pytest.mark.slow
def test_jobs_that_log_one_new_data_set_at_once_all_get_it(tmp_path):
    from mlflow import MlflowClient

    from genreclf.tracking.store import Store

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    store = Store(uri, PRAGMAS)
    experiment = store.experiment_id("race")
    context = mp.get_context("spawn")
    for round_ in range(ROUNDS):
        runs = [store.new_run(experiment, f"r{round_}-{i}", {}).info.run_id for i in range(WORKERS)]
        with context.Manager() as manager:
            barrier = manager.Barrier(WORKERS)
            with context.Pool(WORKERS) as pool:
                args = [(uri, run_id, f"data-{round_}", barrier) for run_id in runs]
                results = pool.starmap(_log_one, args)
        assert results == ["ok"] * WORKERS, results
        client = MlflowClient(tracking_uri=uri)
        for run_id in runs:
            assert [d.dataset.name for d in client.get_run(run_id).inputs.dataset_inputs] == [
                f"data-{round_}"
            ]
