"""Bad data get a clear answer: ``python -m genreclf.train`` refuses them in one line.

Each bad table ends the command with status 1 and one line ``error: <file>: <why>``,
before an MLflow run is opened; ``data.nonfinite=drop`` repairs NaN rows on purpose.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genreclf.cli import hydra_app, one_line_errors
from genreclf.core.errors import MissingPathError
from genreclf.data import DataError
from tests.conftest import require_shared
from tests.e2e import run_command


def small_seed_table(rows_per_genre: int = 8) -> pd.DataFrame:
    """The first rows of each genre of ``../shared/data/seed_features.csv``."""
    frame = pd.read_csv(require_shared("seed_features.csv"))
    return frame.groupby("label", sort=False).head(rows_per_genre).reset_index(drop=True)


def _with(column: str, rows: list[int], value) -> callable:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.astype({column: object}) if isinstance(value, str) else frame
        frame.loc[rows, column] = value
        return frame

    return change


#: case -> (the table's bytes from the small seed table, or a fixed content; words of the line)
CASES = {
    "nan": (_with("mfcc_3", [2, 9], np.nan), "2 of 80 rows have NaN or inf features"),
    "inf": (_with("tempo", [4], np.inf), "1 of 80 rows have NaN or inf features"),
    "nan_label": (_with("label", [0, 5], np.nan), "2 of 80 rows have no label"),
    "single_class": (lambda f: f[f.label == "blues"], "only one class in column 'label'"),
    "empty": (b"", "empty file"),
    "header_only": (lambda f: f.iloc[:0], "no rows, only a header"),
    "binary": (np.random.default_rng(0).bytes(4096), "binary file, not a CSV table"),
}


def write_case(case: str, path: Path) -> str:
    make, words = CASES[case]
    if isinstance(make, bytes):
        path.write_bytes(make)
    else:
        make(small_seed_table()).to_csv(path, index=False)
    return words


def train(tmp_path: Path, path: Path, *overrides: str):
    return run_command(
        "genreclf.train",
        "data=table",
        f"data.path={path}",
        "split=holdout",
        "trainer.max_epochs=1",
        "tracking.log_model=false",
        "tracking.log_artifacts=false",
        *overrides,
        cwd=tmp_path,
        cache=tmp_path / "c",
    )


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_bad_table_refused_in_one_line(case, tmp_path):
    path = tmp_path / f"{case}.csv"
    words = write_case(case, path)
    result = train(tmp_path, path)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"error: {path}: ") and words in errors[0], errors[0]
    assert not (tmp_path / "mlruns").exists()  # refused before a run was opened


@pytest.mark.slow
def test_nonfinite_drop_trains_and_says_so(tmp_path):
    path = tmp_path / "nan.csv"
    write_case("nan", path)
    result = train(tmp_path, path, "data.nonfinite=drop")
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert f"{path}: dropped 2 of 80 rows with NaN or inf features (data.nonfinite=drop)" in output
    assert "test accuracy: " in result.stdout


# --- the exit status an error carries (no subprocess) -----------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [(DataError("t.csv: empty file"), 1), (MissingPathError("data.path: no such file"), 2)],
)
def test_one_line_errors_exit_with_the_errors_status(error, status, capsys):
    def task(cfg):
        raise error

    with pytest.raises(SystemExit) as exit_info:
        one_line_errors(task)(None)
    assert exit_info.value.code == status
    assert capsys.readouterr().err == f"error: {error}\n"


def test_hydra_app_handles_every_genreclf_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # Hydra writes its outputs/ folder here
    monkeypatch.setattr(sys, "argv", ["train", "hydra.output_subdir=null"])

    def task(cfg):
        raise DataError("x.csv: empty file")

    with pytest.raises(SystemExit) as exit_info:
        hydra_app(task, "config")()
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == "error: x.csv: empty file"
