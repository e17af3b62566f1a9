"""Issue 29, case 2: ``python -m genreclf.sync`` uploads only its own.

A victim run sits in a real SQLite store; a hostile spool file is planted in a job
folder; the real command runs as a subprocess. Each case must end in one ``error:`` line
naming the spool file (or a one-line summary), the right exit status, no traceback, and a
store whose rows (and the victim run as MLflow reads it) are byte-for-byte unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow import MlflowClient

from genreclf.tracking import names
from genreclf.tracking.spool import SPOOL_DIR, SpoolFile, run_header, token_tags
from genreclf.tracking.spool_records import MAX_SPOOL_BYTES

TOKEN = "0123456789abcdef0123456789abcdef"


def _env(uri: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING")}
    return env | ({"MLFLOW_TRACKING_URI": uri} if uri else {})


def sync(folder: Path, *args: str, cwd: Path, uri: str | None = None):
    """The real command, as a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "genreclf.sync", str(folder), *args],
        cwd=cwd,
        env=_env(uri),
        capture_output=True,
        text=True,
        timeout=300,
    )


def store_state(db: Path, uri: str, run_id: str) -> tuple:
    """Every row of every table, and the victim run as MLflow gives it."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = {t: sorted(map(repr, con.execute(f'SELECT * FROM "{t}"'))) for t in tables}
    run = MlflowClient(uri).get_run(run_id)
    seen = (run.info.to_proto().SerializeToString(), run.data.to_proto().SerializeToString())
    return rows, seen


@pytest.fixture
def victim(tmp_path):
    """A SQLite store with a FINISHED run holding params, metrics and tags."""
    db = tmp_path / "store" / "mlflow.db"
    db.parent.mkdir()
    uri = f"sqlite:///{db}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("victims", (tmp_path / "store" / "art").as_uri())
    run = client.create_run(experiment, run_name="victim", tags=token_tags("f" * 32))
    client.log_param(run.info.run_id, "lr", "0.01")
    client.log_metric(run.info.run_id, names.BEST_VAL_ACC, 0.61)
    client.set_terminated(run.info.run_id, "FINISHED")
    return db, uri, run.info.run_id


def _header(uri: str, run_id: str | None, **change) -> dict:
    header = {"op": "run"} | run_header(uri, "victims", run_id, "x", {}, 1_000, TOKEN)
    return header | change


def _write(folder: Path, lines: list, name: str = "a.jsonl") -> Path:
    spool = folder / "job" / SPOOL_DIR / name
    spool.parent.mkdir(parents=True, exist_ok=True)
    spool.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return spool


BATCH = {"op": "batch", "params": {}, "tags": {names.RUN_NAME_TAG: "pwned"},
         "metrics": [[names.BEST_VAL_ACC, 1e9, 1, 0]]}  # fmt: skip
END = {"op": "end", "status": "FAILED", "end_time": 2_000}


def _foreign_token(tmp, uri, run_id):
    return [_header(uri, run_id), BATCH, END]


def _created_points_at_victim(tmp, uri, run_id):
    return [_header(uri, None), BATCH, {"op": "created", "run_id": run_id}, END]


def _no_token(tmp, uri, run_id):
    header = _header(uri, run_id)
    del header["token"]
    return [header, BATCH, END]


def _traversal_name(tmp, uri, run_id):
    return [_header(uri, None), {"op": "text", "name": "../../../evil.txt", "text": "x"}, END]


def _traversal_file(tmp, uri, run_id):
    return [_header(uri, None), {"op": "file", "path": "model/../../evil", "data": ""}, END]


def _file_not_base64(tmp, uri, run_id):
    return [_header(uri, None), {"op": "file", "path": "x.png", "data": "not base64!"}, END]


def _model_flavor_too_deep(tmp, uri, run_id):
    flavor = {"files": {"spec": {"deeper": "x"}}}
    return [_header(uri, None), {"op": "model", "flavor": flavor, "class_names": []}, END]


def _bad_status(tmp, uri, run_id):
    return [_header(uri, None), BATCH, END | {"status": "PWNED"}]


def _deep_json(tmp, uri, run_id):
    return [_header(uri, None), '{"op": "batch", "params": ' + "[" * 5000 + "]" * 5000 + "}", END]


def _extra_field(tmp, uri, run_id):
    return [_header(uri, None), BATCH | {"exec": "rm -rf /"}, END]


def _traversal_experiment(tmp, uri, run_id):
    return [_header(uri, None, experiment=".."), BATCH, END]


def _long_run_name(tmp, uri, run_id):
    return [_header(uri, None, run_name="n" * 10_000), BATCH, END]


def _second_header(tmp, uri, run_id):
    return [_header(uri, None), _header(uri, run_id), BATCH, END]


#: Hostile spools: (lines, words the one error line must hold).
CASES: dict[str, tuple[Callable, str]] = {
    "token of another run": (_foreign_token, "was not created by this spool"),
    "created record of another run": (_created_points_at_victim, "was not created by this spool"),
    "no token": (_no_token, "run.token: Field required"),
    "traversal text name": (_traversal_name, "text.name"),
    "traversal file path": (_traversal_file, "file.path"),
    "file that is not base64": (_file_not_base64, "file.data"),
    "model flavor nested too deep": (_model_flavor_too_deep, "model.flavor"),
    "bad status": (_bad_status, "end.status"),
    "deep JSON": (_deep_json, "recursion limit"),
    "extra field": (_extra_field, "Extra inputs are not permitted"),
    "traversal experiment": (_traversal_experiment, "run.experiment"),
    "10,000-character run name": (_long_run_name, "run.run_name"),
    "two headers": (_second_header, "one run header first"),
}


def _assert_one_line_refusal(done, spool: Path, words: str, status: int = 1) -> None:
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: {spool}") and words in line, line


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_spool_is_one_line_and_changes_nothing(tmp_path, victim, case):
    db, uri, run_id = victim
    make, words = CASES[case]
    spool = _write(tmp_path / "sweep", make(tmp_path, uri, run_id))
    before = store_state(db, uri, run_id)
    done = sync(tmp_path / "sweep", "--tracking-uri", uri, cwd=tmp_path)
    _assert_one_line_refusal(done, spool, words)
    assert store_state(db, uri, run_id) == before
    assert spool.exists()  # left for a person to look at


@pytest.mark.slow
def test_a_good_spool_beside_a_bad_one_is_not_uploaded_either(tmp_path, victim):
    """The whole folder is checked before the first write."""
    db, uri, run_id = victim
    good = _write(tmp_path / "sweep", [_header(uri, None), BATCH, END], "a.jsonl")
    bad = _write(tmp_path / "sweep", _bad_status(tmp_path, uri, run_id), "b.jsonl")
    os.utime(bad, (1, 1))  # listed first would not matter: both are read before any write
    before = store_state(db, uri, run_id)
    done = sync(tmp_path / "sweep", "--tracking-uri", uri, cwd=tmp_path)
    _assert_one_line_refusal(done, bad, "end.status")
    assert store_state(db, uri, run_id) == before and good.exists()


@pytest.mark.slow
def test_the_header_never_chooses_the_store(tmp_path, victim):
    """A header naming a new SQLite file: without --tracking-uri the default store is the
    target, the spool is left, and the named database is never created."""
    db, uri, run_id = victim
    elsewhere = tmp_path / "new" / "deep" / "mlflow.db"
    spool = _write(tmp_path / "sweep", [_header(f"sqlite:///{elsewhere}", None), BATCH, END])
    before = store_state(db, uri, run_id)
    done = sync(tmp_path / "sweep", cwd=tmp_path, uri=uri)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.strip() == (
        f"{tmp_path / 'sweep'}: spooled runs: 1 left (written for another store: give its "
        "--tracking-uri)"
    )
    assert not (tmp_path / "new").exists() and spool.exists()
    assert store_state(db, uri, run_id) == before


@pytest.mark.slow
def test_links_are_refused(tmp_path, victim):
    """A linked lock (it would truncate or create its target) and a linked spool file."""
    db, uri, run_id = victim
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    spool = _write(tmp_path / "sweep", [_header(uri, None), BATCH, END])
    Path(f"{spool}.lock").symlink_to(target)
    before = store_state(db, uri, run_id)
    done = sync(tmp_path / "sweep", "--tracking-uri", uri, cwd=tmp_path)
    _assert_one_line_refusal(done, Path(f"{spool}.lock"), "a symbolic link")
    assert target.read_text() == "keep me" and store_state(db, uri, run_id) == before

    Path(f"{spool}.lock").unlink()
    real = tmp_path / "elsewhere.jsonl"
    spool.rename(real)
    spool.symlink_to(real)
    done = sync(tmp_path / "sweep", "--tracking-uri", uri, cwd=tmp_path)
    _assert_one_line_refusal(done, spool, "a symbolic link")
    assert store_state(db, uri, run_id) == before


@pytest.mark.slow
def test_a_spool_over_the_cap_is_not_read(tmp_path, victim):
    """A 65 MB file (sparse: no disk) is refused from its size, before it is read."""
    db, uri, run_id = victim
    spool = _write(tmp_path / "sweep", [_header(uri, None)])
    os.truncate(spool, MAX_SPOOL_BYTES + 2**20)
    before = store_state(db, uri, run_id)
    done = sync(tmp_path / "sweep", "--tracking-uri", uri, cwd=tmp_path)
    _assert_one_line_refusal(done, spool, "65.0 MB, over the cap of 64 MB")
    assert store_state(db, uri, run_id) == before


@pytest.mark.slow
def test_its_own_spool_is_uploaded(tmp_path, victim):
    """The run a job created with its token takes the spool's writes; a spool opened
    offline becomes a new run carrying the token's digest."""
    db, uri, _ = victim
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("victims").experiment_id
    own = client.create_run(experiment, run_name="own", tags=token_tags(TOKEN)).info.run_id
    folder = tmp_path / "sweep" / "job" / SPOOL_DIR
    spool = SpoolFile.new(folder, run_header(uri, "victims", own, "own", {}, 1_000, TOKEN))
    for record in (BATCH, END | {"status": "FINISHED"}):
        spool.append(record)
    assert stat.S_IMODE(spool.path.stat().st_mode) == 0o600
    offline = SpoolFile.new(folder, run_header(uri, "victims", None, "off", {}, 1_000))
    offline.append(END | {"status": "FINISHED"})
    token = json.loads(offline.path.read_text().splitlines()[0])["token"]
    done = sync(tmp_path / "sweep", cwd=tmp_path, uri=uri)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.strip() == f"{tmp_path / 'sweep'}: spooled runs: 2 uploaded"
    run = client.get_run(own)
    assert run.info.status == "FINISHED" and run.data.metrics[names.BEST_VAL_ACC] == 1e9
    (created,) = client.search_runs([experiment], "attributes.run_name = 'off'")
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert created.data.tags[names.SPOOL_TOKEN_TAG] == digest
    assert not spool.path.exists() and not offline.path.exists()
