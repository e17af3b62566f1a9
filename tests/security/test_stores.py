"""Issue 29, cases 4 and 5: every store is checked before work, with a deadline on reads.

Real stores and servers only: a real PostgreSQL URI on a closed port, in-memory SQLite
URIs in every spelling, and tiny threaded HTTP servers on 127.0.0.1 that send their
headers and then stall, or drip their body, each stopped at the end of its test.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from genreclf.tracking import store as store_module
from genreclf.tracking.store import Store, StoreError, check_store, in_memory
from tests.e2e import run_command

IN_MEMORY = [
    "sqlite://",
    "sqlite:///:memory:",
    "sqlite:///:MEMORY:",
    "sqlite+pysqlite:///:memory:",
    "sqlite+pysqlite:///:Memory:",
    "sqlite:///file::memory:",
    "sqlite:///file::memory:?cache=shared",
    "sqlite:///file:runs?mode=memory&cache=shared&uri=true",
]
CLOSED_DATABASE = "postgresql+psycopg2://u:p@127.0.0.1:1/x"


@pytest.mark.parametrize("uri", IN_MEMORY)
def test_in_memory_stores_are_refused_in_any_spelling(uri):
    assert in_memory(uri)
    with pytest.raises(StoreError, match="in-memory store") as info:
        check_store(uri)
    assert "\n" not in str(info.value) and str(info.value).startswith(f"tracking.uri={uri}")


@pytest.mark.parametrize("uri", ["sqlite:///mlruns/mlflow.db", "sqlite:///memory.db"])
def test_a_file_store_is_no_in_memory_store(uri):
    assert not in_memory(uri)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (CLOSED_DATABASE, "does not accept a connection within 5 s"),
        ("mysql+pymysql://u:p@127.0.0.1:1/x", "driver pymysql is not installed"),
        ("sqlite+nodriver:///x.db", "not a database genreclf can open"),
    ],
)
def test_a_database_store_is_connected_to_once_within_a_deadline(uri, message):
    start = time.monotonic()
    with pytest.raises(StoreError, match=message) as info:
        check_store(uri)
    assert "\n" not in str(info.value)
    assert time.monotonic() - start < 10


# ------------------------------------------------------------ hostile HTTP servers


class _Hostile(BaseHTTPRequestHandler):
    """Answers as ``server.modes`` says for a path prefix: ``ok``, ``stall`` (headers,
    then nothing) or ``drip`` (a byte every 0.2 s); each stops when the test ends."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        mode = next((m for p, m in self.server.modes.items() if self.path.startswith(p)), "ok")
        body = json.dumps({"experiments": []}).encode() if "api" in self.path else b"OK"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) if mode == "ok" else 10_000))
        self.end_headers()
        self.wfile.flush()
        if mode == "ok":
            self.wfile.write(body)
            return
        while not self.server.stopping.wait(0.2):  # bounded by the test's end
            if mode == "drip":
                self.wfile.write(b" ")
                self.wfile.flush()

    def log_message(self, *args):
        pass


@contextmanager
def _hostile_server(modes: dict[str, str]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    server.modes, server.stopping = modes, threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


HOSTILE = {
    "health stalls after its headers": ({"/health": "stall"}, "no MLflow server answers"),
    "health drips its body": ({"/health": "drip"}, "no MLflow server answers"),
    "the API stalls after its headers": ({"/api": "stall"}, "not its tracking API"),
    "the API drips its body": ({"/api": "drip"}, "not its tracking API"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_server_must_answer_whole_within_the_deadline(case):
    modes, message = HOSTILE[case]
    with _hostile_server(modes) as uri:
        start = time.monotonic()
        with pytest.raises(StoreError, match=message) as info:
            check_store(uri)
        seconds = time.monotonic() - start
    assert "\n" not in str(info.value) and f"tracking.uri={uri}" in str(info.value)
    assert seconds < 2 * store_module.SERVER_TIMEOUT_S + 2, seconds


def test_a_whole_answer_passes_the_check():
    with _hostile_server({}) as uri:
        check_store(uri)


def test_every_store_read_has_a_deadline(monkeypatch, tmp_path):
    """A server that passes the check, then drips a run or an artifact list."""
    monkeypatch.setattr(store_module, "READ_DEADLINE_S", 2.0)
    modes = {"/api/2.0/mlflow/runs/get": "drip", "/api/2.0/mlflow/metrics": "stall"}
    with _hostile_server(modes | {"/api/2.0/mlflow/artifacts": "drip"}) as uri:
        check_store(uri)
        store = Store(uri)
        reads = {
            "run": lambda: store.get_run("0" * 32),
            "metric history": lambda: store.metric_history("0" * 32, ["val_acc"]),
            "artifacts": lambda: store.list_artifacts("0" * 32),
        }
        for what, read in reads.items():
            start = time.monotonic()
            with pytest.raises(StoreError, match="no whole answer within 2 s"):
                read()
            assert time.monotonic() - start < 5, what


# ------------------------------------------------------- the real commands, one line


def _one_line(result, status: int = 2) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == status, result.stderr[-3000:]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def _nothing_written(cwd: Path) -> None:
    assert sorted(p.name for p in cwd.iterdir()) == [], sorted(cwd.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("uri", ["sqlite:///:MEMORY:", "sqlite+pysqlite:///:memory:"])
def test_report_refuses_an_in_memory_store_in_one_line(tmp_path, uri):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    result = run_command(
        "genreclf.report", f"tracking.uri={uri}", "experiment=x", cwd=cwd, cache=tmp_path / "c"
    )
    assert "in-memory" in _one_line(result)
    _nothing_written(cwd)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("module", "extra"),
    [("genreclf.report", ["experiment=x"]), ("genreclf.predict", ["inputs=[x.wav]"])],
)
def test_an_unreachable_database_is_one_line_within_seconds(tmp_path, module, extra):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    start = time.monotonic()
    result = run_command(
        module, f"tracking.uri={CLOSED_DATABASE}", *extra, cwd=cwd, cache=tmp_path / "c",
        timeout=120,
    )  # fmt: skip
    seconds = time.monotonic() - start
    assert "does not accept a connection" in _one_line(result)
    assert seconds < 60, seconds  # the interpreter's imports included
    _nothing_written(cwd)


@pytest.mark.slow
def test_report_refuses_a_dripping_server_in_one_line(tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    with _hostile_server({"/api": "drip"}) as uri:
        result = run_command(
            "genreclf.report", f"tracking.uri={uri}", "experiment=x", cwd=cwd,
            cache=tmp_path / "c", timeout=120,
        )  # fmt: skip
    assert "not its tracking API" in _one_line(result)
    _nothing_written(cwd)


@pytest.mark.slow
def test_a_real_server_passes_the_check_and_answers_reads_within_their_deadline(
    mlflow_server, monkeypatch
):
    monkeypatch.setattr(store_module, "READ_DEADLINE_S", 20.0)
    start = time.monotonic()
    check_store(mlflow_server)
    assert time.monotonic() - start < 5
    store = Store(mlflow_server)
    eid = store.experiment_id("kind")
    experiment = store.call(lambda c: c.get_experiment(eid))
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    run_id = store.create_run(eid, "r")
    store.log_text(run_id, "hello", "a.txt")
    assert store.get_run(run_id).info.run_name == "r"
    assert store.list_artifacts(run_id) == ["a.txt"]
