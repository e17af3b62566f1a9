"""A registered genre model served by a real ``mlflow models serve`` on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from genreclf.data.synthetic.render import GENRES as SYNTHETIC_GENRES
from tests.conftest import require_shared
from tests.e2e import TINY_DATA, run_in_new_folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(port: int, payload: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``mlflow models serve -m models:/genres@champion`` of a freshly trained model."""
    cwd, _, _ = run_in_new_folder(
        tmp_path_factory,
        "serve",
        "genreclf.train",
        *TINY_DATA,
        "trainer.max_epochs=2",
        "registry.name=genres",
        "registry.alias=champion",
    )
    port = _free_port()
    bin_dir = str(Path(sys.executable).parent)  # mlflow starts `uvicorn` from PATH
    env = os.environ | {
        "MLFLOW_TRACKING_URI": f"sqlite:///{cwd}/mlruns/mlflow.db",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    log = open(cwd / "serve.log", "w")
    server = subprocess.Popen(
        [f"{bin_dir}/mlflow", "models", "serve", "-m", "models:/genres@champion",
         "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
        cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not start:\n{(cwd / 'serve.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its uvicorn worker, by PID
        server.wait(timeout=30)
        log.close()


GENRES = set(SYNTHETIC_GENRES)  # the tiny training data's genres


def _check(row: dict) -> None:
    assert row["error"] == "" and row["genre"] in GENRES
    probs = {g: row[g] for g in GENRES}
    assert sum(probs.values()) == pytest.approx(1.0) and row["genre"] == max(probs, key=probs.get)


@pytest.mark.slow
def test_a_path_on_the_server_gets_genre_probabilities(served):
    clip = require_shared("gtzan_mini", "genres_original", "rock", "rock.00000.wav")
    (row,) = _post(served, {"dataframe_records": [{"path": str(clip)}]})["predictions"]
    assert row["file"] == str(clip)
    _check(row)


@pytest.mark.slow
def test_base64_audio_and_a_bad_input_in_one_request(served):
    clip = require_shared("gtzan_mini", "genres_original", "jazz", "jazz.00000.wav")
    data = base64.b64encode(clip.read_bytes()).decode()
    rows = _post(
        served,
        {"dataframe_records": [{"audio_base64": data}, {"path": "/no/such/song.wav"}]},
    )["predictions"]
    _check(rows[0])
    assert rows[1]["genre"] == "" and rows[1]["error"].startswith("/no/such/song.wav: ")
    assert "\n" not in rows[1]["error"]
