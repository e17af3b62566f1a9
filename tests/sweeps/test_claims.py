"""Two jobs racing for one config: exactly one goes on (genreclf.sweeps.runs.rival_claim).

A real SQLite store; the runs are this process's (alive). The race that start times
lose: the run with the earlier start time stored after its rival had looked.
"""

from __future__ import annotations

import time

import pytest
from mlflow import MlflowClient
from omegaconf import OmegaConf

from genreclf.sweeps.runs import rival_claim
from genreclf.tracking import names
from genreclf.tracking.liveness import owner_tags

DIGEST = "0123456789abcdef"


@pytest.fixture
def tracking(tmp_path):
    return OmegaConf.create({"uri": f"sqlite:///{tmp_path}/mlflow.db", "experiment": "claims"})


def _open(tracking, start_time: int) -> str:
    """A RUNNING run of the config, held by this process, that started at ``start_time``."""
    client = MlflowClient(tracking_uri=tracking.uri)
    experiment = client.get_experiment_by_name(tracking.experiment) or client.get_experiment(
        client.create_experiment(tracking.experiment)
    )
    tags = owner_tags() | {names.HASH_TAG: DIGEST}
    return client.create_run(experiment.experiment_id, start_time=start_time, tags=tags).info.run_id


def test_a_run_stored_after_its_rival_looked_gives_way_despite_its_earlier_start(tracking):
    later_start = _open(tracking, start_time=2_000)
    assert rival_claim(tracking, DIGEST, later_start) is None  # it looked: no rival yet
    earlier_start = _open(tracking, start_time=1_000)  # stored now, started before
    rival = rival_claim(tracking, DIGEST, earlier_start)
    assert rival is not None and rival.info.run_id == later_start


def test_a_rival_that_never_stamps_its_claim_is_waited_for_then_goes_on(tracking):
    """A live RUNNING run without a stamp (an older genreclf) holds the config."""
    unstamped = _open(tracking, start_time=2_000)
    mine = _open(tracking, start_time=1_000)
    start = time.monotonic()
    rival = rival_claim(tracking, DIGEST, mine, wait_s=0.5)
    assert time.monotonic() - start >= 0.5
    assert rival is not None and rival.info.run_id == unstamped


def test_a_finished_run_of_the_config_wins(tracking):
    done = _open(tracking, start_time=1_000)
    MlflowClient(tracking_uri=tracking.uri).set_terminated(done, names.FINISHED)
    assert rival_claim(tracking, DIGEST, _open(tracking, start_time=500)).info.run_id == done
