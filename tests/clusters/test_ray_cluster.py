"""`sweep=grid_smoke` on a Ray cluster of two raylets on this machine (tests/ray_cluster.py).

The README's cluster command (`hydra/launcher=ray hydra.launcher.ray.init.address=auto`)
against a PostgreSQL-backed `mlflow server` on 127.0.0.1: every job a FINISHED run,
tagged with the Ray node it ran on, and the jobs on both nodes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genreclf.tracking import names
from genreclf.tracking.store import Store
from tests.e2e import run_command
from tests.ray_cluster import RayCluster
from tests.sweeps.test_launchers import _assert_one_console, require_ray

pytestmark = pytest.mark.slow


@pytest.fixture
def ray_cluster() -> Iterator[RayCluster]:
    """Two raylets of one CPU each; every process of the cluster ended by PID afterwards."""
    require_ray()
    cluster = RayCluster(nodes=2, cpus=1).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def test_grid_smoke_on_two_ray_nodes_lands_on_both(
    tmp_path, shared_data, ray_cluster, pg_mlflow_server, monkeypatch
):
    for key, value in ray_cluster.env.items():
        monkeypatch.setenv(key, value)
    result = run_command(
        "genreclf.train",
        "--multirun",
        "sweep=grid_smoke",
        "data=table",
        f"data.path={shared_data / 'seed_features.csv'}",
        "hydra/launcher=ray",
        "hydra.launcher.ray.init.address=auto",
        f"tracking.uri={pg_mlflow_server.uri}",
        "trainer.max_epochs=2",
        cwd=tmp_path,
        cache=tmp_path / "cache",
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    _assert_one_console(result)
    store = Store(pg_mlflow_server.uri)
    experiment = store.experiment_id("genreclf-grid_smoke", create=False)
    runs = store.find_runs(experiment, tags={names.ROLE_TAG: "job"})
    assert len(runs) == 6 and {r.info.status for r in runs} == {names.FINISHED}
    nodes = {r.data.tags.get(names.RAY_NODE_TAG) for r in runs}
    assert None not in nodes and len(nodes) == 2, nodes
