"""Issue 29, case 3: hostile ``predictions.parquet`` files cost their own section, not the report.

Each file is refused from its Parquet metadata before any of it is read; in a real
report (a real SQLite store, the real command as a subprocess) a refused file leaves
its run out of the paired comparison, with a one-line note, and the report is written.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric

from genreclf.core.errors import ConfigError
from genreclf.reports import paired
from genreclf.reports.paired import check_predictions_file, read_predictions
from genreclf.tracking import names
from tests.e2e import run_command

GENRES = ["blues", "jazz"]


def _good(path: Path, rows: int = 30, right: float = 1.0) -> Path:
    """A genuine table: ``rows`` predictions, the first ``right`` share of them right."""
    n_right = int(rows * right)
    probs = np.tile([0.9, 0.1], (rows, 1))
    probs[n_right:] = [0.1, 0.9]
    frame = pd.DataFrame(
        {
            "track": [f"t{i}" for i in range(rows)],
            "fold": np.arange(rows) % 3,
            "seed": 42,
            "true_genre": "blues",
        }
    )
    pd.concat([frame, pd.DataFrame(probs, columns=GENRES)], axis=1).to_parquet(path, index=False)
    return path


def _many_rows(path: Path, rows: int = 9_999_999) -> Path:
    """A small file (a few hundred KB) that declares ``rows`` rows."""
    n = 10_000
    chunk = pa.table(
        {
            "track": pa.array(["t"] * n),
            "fold": pa.array(np.zeros(n, dtype=np.int64)),
            "seed": pa.array(np.full(n, 42, dtype=np.int64)),
            "true_genre": pa.array(["blues"] * n),
            "blues": pa.array(np.ones(n)),
            "jazz": pa.array(np.zeros(n)),
        }
    )
    table = pa.concat_tables([chunk] * (rows // n + 1)).slice(0, rows)
    pq.write_table(table, path, row_group_size=rows)
    return path


def _many_columns(path: Path, columns: int = 4092) -> Path:
    frame = pd.DataFrame(
        {"track": ["a"], "fold": [0], "seed": [42], "true_genre": ["g0"]}
        | {f"g{i}": [0.5] for i in range(columns - 4)}
    )
    frame.to_parquet(path, index=False)
    return path


def _text_probabilities(path: Path) -> Path:
    frame = pd.read_parquet(_good(path)).astype({"blues": str, "jazz": str})
    frame.to_parquet(path, index=False)
    return path


def _long_text(path: Path, size: int) -> Path:
    frame = pd.read_parquet(_good(path, rows=1))
    frame["track"] = "x" * size
    frame.to_parquet(path, index=False)
    return path


def test_a_small_file_declaring_ten_million_rows_is_refused_before_reading(tmp_path):
    path = _many_rows(tmp_path / "p.parquet")
    assert path.stat().st_size < 2_000_000
    start = time.monotonic()
    with pytest.raises(ConfigError, match="9999999 rows x 6 columns, above the limit"):
        read_predictions(path)
    assert time.monotonic() - start < 2


def test_thousands_of_columns_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="4092 columns, above the limit"):
        check_predictions_file(_many_columns(tmp_path / "p.parquet"))


def test_probability_columns_must_hold_numbers(tmp_path):
    with pytest.raises(ConfigError, match="column .blues. holds (large_)?string, not float"):
        read_predictions(_text_probabilities(tmp_path / "p.parquet"))


def test_keys_must_have_their_types(tmp_path):
    path = tmp_path / "p.parquet"
    pd.read_parquet(_good(path)).astype({"fold": float}).to_parquet(path, index=False)
    with pytest.raises(ConfigError, match="column 'fold' holds double, not integer"):
        read_predictions(path)


def test_text_is_counted_in_bytes_before_it_is_read(tmp_path, monkeypatch):
    """The 1.5 GB string of the issue, scaled down with the limit (the same check)."""
    monkeypatch.setattr(paired, "MAX_BYTES", 1 << 20)
    path = _long_text(tmp_path / "p.parquet", 2 << 20)
    assert path.stat().st_size < 200_000  # it compresses: the file's size says nothing
    with pytest.raises(ConfigError, match=r"bytes once read, above the limit of 1048576"):
        read_predictions(path)
    read_predictions(_long_text(tmp_path / "q.parquet", 1 << 10))


@pytest.mark.parametrize("content", [b"", b"PAR1", b"PAR1" + b"\0" * 20 + b"\xff\xff\xff\x7fPAR1"])
def test_a_broken_file_is_refused_in_one_line(tmp_path, content):
    path = tmp_path / "p.parquet"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="p.parquet") as info:
        read_predictions(path)
    assert "\n" not in str(info.value)


def test_the_paired_interval_needs_no_row_sized_arrays():
    """Counts resampled, not rows: a million pairs cost what ten do, and agree with theory."""
    low, high = paired.paired_interval(300_000, 200_000, 1_000_000)
    se = np.sqrt((0.3 + 0.2 - 0.1**2) / 1_000_000)  # of a paired difference of proportions
    assert low == pytest.approx(0.1 - 1.96 * se, abs=3e-4)
    assert high == pytest.approx(0.1 + 1.96 * se, abs=3e-4)
    assert paired.paired_interval(0, 0, 10) == (0.0, 0.0)
    assert paired.paired_interval(25, 10, 100) == paired.paired_interval(25, 10, 100)


# ------------------------------------------------------------ the real report command

HOSTILE = {
    "ten million rows": _many_rows,
    "4092 columns": _many_columns,
    "text probabilities": _text_probabilities,
}


def _store(folder: Path, files: dict[str, Path]) -> str:
    """Configuration runs, best on validation first, each with its predictions file."""
    uri = f"sqlite:///{folder}/mlruns/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("hostile", (folder / "art").as_uri())
    for rank, (name, path) in enumerate(files.items()):
        run = client.create_run(experiment, run_name=name, tags={names.ROLE_TAG: names.CONFIG_ROLE})
        scores = {names.BEST_VAL_ACC: 0.9 - rank / 10, names.TEST_ACC: 0.5}
        client.log_batch(run.info.run_id, [Metric(k, v, 0, 0) for k, v in scores.items()])
        client.log_artifact(run.info.run_id, str(path))
        client.set_terminated(run.info.run_id, names.FINISHED)
    return uri


def _files(tmp_path: Path, order: list[str]) -> dict[str, Path]:
    files = {}
    for name in order:
        folder = tmp_path / "files" / name.replace(" ", "_")
        folder.mkdir(parents=True)
        path = folder / names.PREDICTIONS_ARTIFACT
        make = HOSTILE.get(name)
        files[name] = make(path) if make else _good(path, right=0.9 if name == "a" else 0.6)
    return files


def _report(tmp_path: Path, uri: str):
    result = run_command(
        "genreclf.report", f"tracking.uri={uri}", "experiment=hostile", "pca=false",
        "log_to_mlflow=false", f"output_dir={tmp_path / 'report'}",
        cwd=tmp_path, cache=tmp_path / "cache", timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    return result


@pytest.mark.slow
@pytest.mark.parametrize("hostile", list(HOSTILE))
def test_a_hostile_runner_up_costs_only_its_own_row(tmp_path, hostile):
    uri = _store(tmp_path, _files(tmp_path, ["a", hostile, "b"]))
    result = _report(tmp_path, uri)
    notes = [line for line in result.stdout.splitlines() if "is refused" in line]
    assert len(notes) == 1 and notes[0].startswith("note: Paired comparison without run")
    table = pd.read_csv(tmp_path / "report" / "paired.csv")
    assert table["run_name"].tolist() == ["b"] and table["paired"].tolist() == [30]
    assert (
        "Paired comparison of the top configurations"
        in (tmp_path / "report" / "report.md").read_text()
    )


@pytest.mark.slow
def test_a_hostile_chosen_run_costs_the_paired_section_not_the_report(tmp_path):
    uri = _store(tmp_path, _files(tmp_path, ["ten million rows", "a", "b"]))
    result = _report(tmp_path, uri)
    assert "9999999 rows" in result.stdout
    assert all(len(line) < 1000 for line in result.stdout.splitlines())
    page = (tmp_path / "report" / "report.md").read_text()
    section = page.split("## Paired comparison of the top configurations", 1)[1].split("\n## ")[0]
    assert "is refused" in section and "9999999 rows" in section  # its note, not its table
    assert "No pooled confusion matrix" in page
    assert not (tmp_path / "report" / "paired.csv").exists()
