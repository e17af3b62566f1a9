"""A plain run's console: the notice, progress, report and run id, and no third-party noise."""

from __future__ import annotations

import re

import pytest

from tests.e2e import TINY_DATA, run_in_new_folder

#: A Python warning line (``...: UserWarning: ...``, ``FutureWarning``, ...).
WARNING_LINE = re.compile(r"\w*Warning\b")


@pytest.mark.slow
def test_a_plain_run_prints_no_python_warnings(tiny_model):
    result = tiny_model.result  # a plain run of the synthetic data, shared by the session
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


def _lightning_warnings(emit, quiet: bool) -> list[str]:
    """The warnings ``emit()`` shows, with or without :func:`quiet_console` first."""
    import warnings

    from genreclf.core.console import quiet_console

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        if quiet:
            quiet_console()
        emit()
    return [str(w.message) for w in seen]


def test_lightnings_checkpoint_folder_warning_is_kept_off_the_console(tmp_path):
    from pytorch_lightning.callbacks import ModelCheckpoint

    (tmp_path / "epoch=0.ckpt").write_bytes(b"")  # an earlier fit's checkpoint
    checkpoint = ModelCheckpoint(dirpath=tmp_path)

    def emit() -> None:
        checkpoint._ModelCheckpoint__warn_if_dir_not_empty(str(tmp_path))

    loud = _lightning_warnings(emit, quiet=False)
    assert any("exists and is not empty" in m for m in loud), loud  # Lightning still warns
    assert _lightning_warnings(emit, quiet=True) == []


def test_lightnings_srun_hint_is_kept_off_the_console(tmp_path, monkeypatch):
    import os

    from lightning_fabric.plugins.environments import SLURMEnvironment

    srun = tmp_path / "srun"
    srun.write_text("#!/bin/sh\n")
    srun.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    for name in [n for n in os.environ if n.startswith("SLURM")]:
        monkeypatch.delenv(name)
    emit = SLURMEnvironment._validate_srun_used
    loud = _lightning_warnings(emit, quiet=False)
    assert any("`srun` command is available" in m for m in loud), loud
    assert _lightning_warnings(emit, quiet=True) == []
