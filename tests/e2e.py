"""Helpers for end-to-end tests: run the real commands as subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

# Tiny built-in data: 10 genres x 4 clips x 3 s.
TINY_DATA = ["data.clips_per_genre=4", "data.duration=3.0", "extraction.n_jobs=1"]


def command_env(cache: Path) -> dict[str, str]:
    """A command's environment: this one's, the feature cache at ``cache``, no
    ``MLFLOW_TRACKING_URI``."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return env | {"GENRECLF_CACHE": str(cache), "PYTHONHASHSEED": "0"}


def run_command(
    module: str, *overrides: str, cwd: Path, cache: Path, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run ``python -m <module> <overrides>`` in ``cwd`` with the feature cache at ``cache``."""
    return subprocess.run(
        [sys.executable, "-m", module, *overrides],
        cwd=cwd,
        env=command_env(cache),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_command(module: str, *overrides: str, cwd: Path, cache: Path) -> subprocess.Popen:
    """:func:`run_command`, started: its output piped, read with ``communicate()``."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *overrides],
        cwd=cwd,
        env=command_env(cache),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_in_new_folder(
    tmp_path_factory: Any, name: str, module: str, *overrides: str
) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """Run a command that must succeed in a new folder ``name``, with the session's cache.

    Returns the folder, the feature cache shared by the session's runs, and the result.
    """
    cwd = tmp_path_factory.mktemp(name)
    cache = tmp_path_factory.getbasetemp() / "cache"
    result = run_command(module, *overrides, cwd=cwd, cache=cache)
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, cache, result


@dataclass(frozen=True)
class SharedRun:
    """A command run once per test session: its folder, feature cache and console.

    Read it as it is; a test that writes to its store works on :func:`copy_store`'s copy.
    """

    cwd: Path
    cache: Path
    result: subprocess.CompletedProcess

    @property
    def uri(self) -> str:
        """The run's SQLite store."""
        return f"sqlite:///{self.cwd}/mlruns/mlflow.db"


def session_root(tmp_path_factory: Any) -> Path:
    """The session's temporary folder, shared by its xdist workers (each has its own below)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def run_once(tmp_path_factory: Any, name: str, module: str, *overrides: str) -> SharedRun:
    """Run a command that must succeed once per test session, however many xdist workers
    ask: the first to ask runs it in ``shared/<name>`` (the others wait on a file lock),
    and each reads its console back. Shared runs share one feature cache."""
    shared = session_root(tmp_path_factory) / "shared"
    shared.mkdir(exist_ok=True)
    cwd, record, cache = shared / name, shared / f"{name}.json", shared / "cache"
    with FileLock(shared / f"{name}.lock"):
        if not record.exists():
            shutil.rmtree(cwd, ignore_errors=True)  # left by an attempt that failed
            cwd.mkdir()
            result = run_command(module, *overrides, cwd=cwd, cache=cache)
            assert result.returncode == 0, result.stderr[-3000:]
            record.write_text(json.dumps([result.args, result.stdout, result.stderr]))
    args, stdout, stderr = json.loads(record.read_text())
    return SharedRun(cwd, cache, subprocess.CompletedProcess(args, 0, stdout, stderr))


def copy_store(run: SharedRun, dst: Path) -> Path:
    """A copy of a shared run's folder at ``dst`` (new), its store moved with it.

    MLflow's SQLite store records absolute paths (artifact locations, the run's folders
    as params): in the copy, every text value naming a file under the run's folder names
    the same file under ``dst``, so the copy reads and writes only itself.
    """
    shutil.copytree(run.cwd, dst, symlinks=True)
    old, new = f"{run.cwd}/", f"{dst}/"
    with sqlite3.connect(dst / "mlruns" / "mlflow.db") as db:
        tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        for (table,) in tables:
            for column in [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]:
                value = f'"{column}"'
                db.execute(
                    f'UPDATE "{table}" SET {value} = replace({value}, ?, ?) '
                    f"WHERE typeof({value}) = 'text' AND instr({value}, ?) > 0",
                    (old, new, old),
                )
    db.close()
    return dst


def excerpt_subset(tmp_path_factory: Any, per_genre: int) -> Path:
    """The first ``per_genre`` real GTZAN excerpts of each genre, copied into a new
    ``genres_original/<genre>/`` folder; returns that folder."""
    from tests.conftest import require_shared

    excerpts = require_shared("gtzan_excerpts", "genres_original")
    root = tmp_path_factory.mktemp("excerpts") / "genres_original"
    for genre in sorted(p for p in excerpts.iterdir() if p.is_dir()):
        (root / genre.name).mkdir(parents=True)
        for clip in sorted(genre.glob("*.wav"))[:per_genre]:
            shutil.copy(clip, root / genre.name / clip.name)
    return root


def job_runs(uri: str, experiment: str = "genreclf-grid_smoke") -> list:
    """The job runs of ``experiment`` in the store at ``uri`` (none before it exists)."""
    from genreclf.tracking import names
    from genreclf.tracking.store import Store

    store = Store(uri)  # it waits for a new store's creation
    found = store.experiment_id(experiment, create=False)
    return [] if found is None else store.find_runs(found, tags={names.ROLE_TAG: "job"})


def finished_job_runs(uri: str, experiment: str = "genreclf-grid_smoke", count: int = 6) -> list:
    """The job runs of ``experiment`` in the store at ``uri``, checked: ``count`` of them,
    every one FINISHED."""
    from genreclf.tracking import names

    runs = job_runs(uri, experiment)
    assert len(runs) == count and {r.info.status for r in runs} == {names.FINISHED}, [
        r.info.status for r in runs
    ]
    return runs


def assert_one_finished_run_per_config(runs: list, count: int = 6) -> None:
    """No run RUNNING, and exactly one FINISHED run for each of ``count`` configs."""
    from collections import Counter

    from genreclf.tracking import names

    assert not [r for r in runs if r.info.status == names.RUNNING], "a run was left RUNNING"
    finished = Counter(r.data.tags[names.HASH_TAG] for r in runs if r.info.status == names.FINISHED)
    assert len(finished) == count and set(finished.values()) == {1}, finished
