"""Issue 29 case 13: a multirun checks every job's values before the first job starts.

The real ``python -m genreclf.train --multirun`` as a subprocess: one line, exit 2, no
traceback, and no store, sweep folder or cache made.
"""

from __future__ import annotations

import pytest

from tests.e2e import run_command

TRAIN = "genreclf.train"

MULTIRUN_CASES = {
    "lr": (["optimizer.lr=0.001,inf"], "optimizer.lr=inf: must be a finite number > 0 (job 2"),
    "betas": (
        ["+optimizer.betas=[inf,0.9]"],
        "optimizer.betas=[inf,0.9]: must be a list of two finite numbers in [0, 1) (job 1",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", MULTIRUN_CASES)
def test_a_multirun_checks_every_job_first(case, tmp_path):
    """Issue 29 case 13: a bad value in any job stops the sweep before its first job."""
    overrides, text = MULTIRUN_CASES[case]
    store = tmp_path / "mlflow.db"
    result = run_command(
        TRAIN,
        "--multirun",
        *overrides,
        f"tracking.uri=sqlite:///{store}",
        f"hydra.sweep.dir={tmp_path}/sweep",
        cwd=tmp_path,
        cache=tmp_path / "c",
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert not store.exists()  # no store opened, so no parent run and no job run
    assert not (tmp_path / "sweep").exists() and not (tmp_path / "c").exists()
