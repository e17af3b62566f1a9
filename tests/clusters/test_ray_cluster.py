"""A Ray cluster of two raylets on this machine (tests/ray_cluster.py): a sweep, extraction.

The README's cluster command (`hydra/launcher=ray hydra.launcher.ray.init.address=auto`)
against a PostgreSQL-backed `mlflow server` on 127.0.0.1: every job a FINISHED run,
tagged with the Ray node it ran on, and the jobs on both nodes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from genreclf.tracking import names
from tests.e2e import (
    assert_one_finished_run_per_config,
    excerpt_subset,
    finished_job_runs,
    job_runs,
    run_command,
)
from tests.ray_cluster import RayCluster
from tests.sweeps.test_launchers import (
    _assert_one_console,
    assert_failed_jobs_console,
    assert_resumed_console,
    require_ray,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
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
    runs = finished_job_runs(pg_mlflow_server.uri)
    nodes = {r.data.tags.get(names.RAY_NODE_TAG) for r in runs}
    assert None not in nodes and len(nodes) == 2, nodes


def test_extraction_on_the_cluster_computes_each_clip_once(
    tmp_path_factory, tmp_path, ray_cluster, monkeypatch
):
    """`extraction.backend=ray` on the cluster (`RAY_ADDRESS`): every real clip once; the
    same command again reads them all from the cache."""
    for key, value in ray_cluster.env.items():
        monkeypatch.setenv(key, value)
    root = excerpt_subset(tmp_path_factory, 2)  # 20 real GTZAN excerpts
    command = (
        "genreclf.extract",
        "data=gtzan",
        f"data.root={root.parent}",
        "features=summary",
        "extraction.backend=ray",
        "extraction.n_jobs=2",
        "export=out.csv",
    )
    before = ray_cluster.worker_jobs()
    result = run_command(*command, cwd=tmp_path, cache=tmp_path / "cache")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert len(ray_cluster.worker_jobs() - before) == 1  # its tasks ran on the cluster
    assert len(pd.read_csv(tmp_path / "out.csv")) == 20
    cached = _cache_files(tmp_path / "cache" / "features")
    assert len(cached) == 20  # one feature file per clip
    again = run_command(*command, cwd=tmp_path, cache=tmp_path / "cache")
    assert again.returncode == 0, again.stderr[-3000:]
    assert _cache_files(tmp_path / "cache" / "features") == cached  # nothing computed again


def _cache_files(folder: Path) -> dict[Path, int]:
    """Each feature file of the cache (``.npy``), with its modification time (ns)."""
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*.npy")}


def test_a_raylet_killed_mid_sweep_costs_only_its_jobs_which_resume(
    tmp_path, shared_data, pg_mlflow_server
):
    """Its jobs end FAILED (Ray does not retry them: genreclf resumes), the sweep ends, and
    the same command trains them again on the node left."""
    require_ray()
    cluster = RayCluster(nodes=2, cpus=1).start()
    try:
        _kill_a_node_mid_sweep(cluster, tmp_path, shared_data, pg_mlflow_server.uri)
    finally:
        cluster.stop()


def _kill_a_node_mid_sweep(cluster: RayCluster, cwd: Path, shared: Path, uri: str) -> None:
    command = [
        sys.executable, "-m", "genreclf.train", "--multirun", "sweep=grid_smoke", "data=table",
        f"data.path={shared / 'seed_features.csv'}", "hydra/launcher=ray",
        "hydra.launcher.ray.init.address=auto", f"tracking.uri={uri}",
        "trainer.max_epochs=300", "callbacks.early_stopping.patience=300",
    ]  # fmt: skip
    env = cluster.env | {"GENRECLF_CACHE": str(cwd / "cache"), "PYTHONHASHSEED": "0"}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, text=True)
    head, other = cluster.raylet_pids()  # started in this order
    deadline = time.monotonic() + 240
    while not _running_on_two_nodes(uri):
        assert proc.poll() is None and time.monotonic() < deadline, "no two jobs started"
        time.sleep(0.5)
    os.kill(other, signal.SIGKILL)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    runs = job_runs(uri)
    assert names.RUNNING not in {r.info.status for r in runs}
    failed = [r for r in runs if r.info.status == names.FAILED]
    assert failed and len(failed) < 6, [r.info.status for r in runs]
    assert_failed_jobs_console(out, len(failed), r"its Ray worker failed \(.*")
    again = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert_resumed_console(again.stdout)
    assert_one_finished_run_per_config(job_runs(uri))
    assert head in cluster.raylet_pids()


def _running_on_two_nodes(uri: str) -> bool:
    running = [r for r in job_runs(uri) if r.info.status == names.RUNNING]
    return len({r.data.tags.get(names.RAY_NODE_TAG) for r in running}) == 2
