"""The layers of genreclf (pyproject.toml's import-linter contracts) hold, and are checked."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import importlinter.cli
import pytest
from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

from tests.paths import ROOT


def _lint(root: Path, monkeypatch) -> bool:
    # lint-imports configures logging for a command line (disabling every other logger);
    # in the test process it must not.
    monkeypatch.setattr(importlinter.cli, "_configure_logging", lambda verbose: None)
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    status = lint_imports(config_filename=str(root / "pyproject.toml"), no_logo=True, no_cache=True)
    return status == EXIT_STATUS_SUCCESS


def test_the_contracts_hold(monkeypatch):
    assert _lint(ROOT, monkeypatch)


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("genreclf/features/table.py", "import genreclf.datamodule"),  # upward
        ("genreclf/tracking/names.py", "import torch"),  # tracking speaks MLflow only
        ("genreclf/inference/spec.py", "import mlflow"),  # inference loads local folders
        ("genreclf/inference/spec.py", "import genreclf.tracking"),  # siblings independent
        ("genreclf/sweeps/runs.py", "import genreclf.sweeps.job"),  # a cycle
    ],
)
def test_a_broken_layer_is_caught(tmp_path, monkeypatch, module, line):
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "genreclf", copy / "genreclf")
    shutil.copy(ROOT / "pyproject.toml", copy)
    path = copy / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    for name in list(sys.modules):
        if name == "genreclf" or name.startswith("genreclf."):
            monkeypatch.delitem(sys.modules, name)
    assert not _lint(copy, monkeypatch)
