"""A plain run's console: the notice, progress, report and run id, and no third-party noise."""

from __future__ import annotations

import re

import pytest

from tests.e2e import TINY_DATA, run_in_new_folder

#: A Python warning line (``...: UserWarning: ...``, ``FutureWarning``, ...).
WARNING_LINE = re.compile(r"\w*Warning\b")


@pytest.mark.slow
def test_a_plain_run_prints_no_python_warnings(tmp_path_factory):
    _, _, result = run_in_new_folder(
        tmp_path_factory, "quiet", "genreclf.train", *TINY_DATA, "trainer.max_epochs=3"
    )
    noisy = [line for line in result.stderr.splitlines() if WARNING_LINE.search(line)]
    assert noisy == [], result.stderr[-3000:]
    console = result.stdout + result.stderr
    assert "litlogger" not in console and "Downloading artifacts" not in console
    assert "GPU available" not in console
    assert "NOT real music" in console
    assert "Classification report" in result.stdout and "MLflow run: " in result.stdout


@pytest.mark.slow
def test_hydra_verbose_brings_debug_logs_back(tmp_path_factory):
    _, _, result = run_in_new_folder(
        tmp_path_factory,
        "verbose",
        "genreclf.train",
        *TINY_DATA,
        "trainer.max_epochs=1",
        "tracking.log_model=false",
        "hydra.verbose=true",
    )
    console = result.stdout + result.stderr
    assert "[DEBUG]" in console
    assert "GPU available" in console  # Lightning's info lines are not lowered
