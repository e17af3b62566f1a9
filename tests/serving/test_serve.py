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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from genreclf.data.synthetic.render import GENRES as SYNTHETIC_GENRES
from genreclf.serving.inputs import CANNOT_CLASSIFY, PATHS_OFF, ROOT_ENV
from tests.conftest import require_shared
from tests.e2e import copy_store

GENRES = set(SYNTHETIC_GENRES)  # the tiny training data's genres


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(port: int, records: list[dict]) -> list[dict]:
    """The answer's rows, after checking its body is strict JSON (no ``NaN``)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=json.dumps({"dataframe_records": records}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        text = response.read().decode()
    assert "NaN" not in text and "Infinity" not in text

    def refuse(constant: str) -> None:
        raise AssertionError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)["predictions"]


@pytest.fixture(scope="module")
def trained(tiny_model, tmp_path_factory) -> Path:
    """The folder of this module's copy of the session's store, whose freshly trained
    model is ``models:/tiny@champion``."""
    return copy_store(tiny_model, tmp_path_factory.mktemp("serve") / "run")


@contextmanager
def _serve(cwd: Path, root: Path | None) -> Iterator[int]:
    """``mlflow models serve -m models:/tiny@champion``, with ``root`` as GENRECLF_SERVE_ROOT."""
    port = _free_port()
    bin_dir = str(Path(sys.executable).parent)  # mlflow starts `uvicorn` from PATH
    env = {k: v for k, v in os.environ.items() if k != ROOT_ENV} | {
        "MLFLOW_TRACKING_URI": f"sqlite:///{cwd}/mlruns/mlflow.db",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if root is not None:
        env[ROOT_ENV] = str(root)
    log_file = cwd / f"serve-{port}.log"
    log = open(log_file, "w")
    server = subprocess.Popen(
        [f"{bin_dir}/mlflow", "models", "serve", "-m", "models:/tiny@champion",
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
                    pytest.fail(f"server did not start:\n{log_file.read_text()[-3000:]}")
                time.sleep(0.5)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its uvicorn worker, by PID
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def served(trained) -> Iterator[int]:
    """A server started without GENRECLF_SERVE_ROOT: bytes only."""
    with _serve(trained, None) as port:
        yield port


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """An allowed root holding a real clip, a text file, and a link to /etc/shadow."""
    folder = tmp_path_factory.mktemp("serve-root")
    clip = require_shared("gtzan_mini", "genres_original", "rock", "rock.00000.wav")
    (folder / "rock.wav").write_bytes(clip.read_bytes())
    (folder / "notes.wav").write_text("not audio at all\n")
    (folder / "shadow.wav").symlink_to("/etc/shadow")
    return folder


@pytest.fixture(scope="module")
def served_with_root(trained, root) -> Iterator[int]:
    """A server started with GENRECLF_SERVE_ROOT set to ``root``."""
    with _serve(trained, root) as port:
        yield port


def _check(row: dict) -> None:
    assert row["error"] == "" and row["genre"] in GENRES
    probs = {g: row[g] for g in GENRES}
    assert sum(probs.values()) == pytest.approx(1.0) and row["genre"] == max(probs, key=probs.get)


def _refused(row: dict, message: str) -> None:
    assert row["error"] == message and row["genre"] is None
    assert all(row[g] is None for g in GENRES)


@pytest.mark.slow
def test_base64_audio_and_a_bad_input_in_one_request(served):
    clip = require_shared("gtzan_mini", "genres_original", "jazz", "jazz.00000.wav")
    data = base64.b64encode(clip.read_bytes()).decode()
    junk = base64.b64encode(b"not audio at all").decode()
    rows = _post(served, [{"audio_base64": data}, {"audio_base64": junk}, {"audio_base64": "%%"}])
    _check(rows[0])
    _refused(rows[1], CANNOT_CLASSIFY)
    _refused(rows[2], CANNOT_CLASSIFY)


@pytest.mark.slow
def test_a_path_is_refused_without_an_allowed_root(served):
    clip = require_shared("gtzan_mini", "genres_original", "rock", "rock.00000.wav")
    rows = _post(served, [{"path": str(clip)}, {"path": "/etc/shadow"}, {"path": "/no/such.wav"}])
    assert [r["file"] for r in rows] == [str(clip), "/etc/shadow", "/no/such.wav"]
    for row in rows:
        _refused(row, PATHS_OFF)


@pytest.mark.slow
def test_a_path_inside_the_root_is_classified(served_with_root, root):
    rows = _post(served_with_root, [{"path": str(root / "rock.wav")}, {"path": "rock.wav"}])
    for row in rows:
        _check(row)


@pytest.mark.slow
def test_every_path_that_cannot_be_read_gets_the_same_answer(served_with_root, root, trained):
    paths = [
        "/etc/shadow",  # outside the root (and unreadable)
        "/etc/hostname",  # outside the root (and readable)
        str(root / "missing.wav"),  # inside, missing
        str(root / "notes.wav"),  # inside, not audio
        str(root / "shadow.wav"),  # inside, a link to outside
        "../../../etc/shadow",  # relative, climbing out
        str(root),  # the root itself, a folder
    ]
    rows = _post(served_with_root, [{"path": p} for p in paths])
    assert [r["file"] for r in rows] == paths
    for row in rows:
        _refused(row, CANNOT_CLASSIFY)
    server_log = (trained / f"serve-{served_with_root}.log").read_text()
    assert f"cannot classify {root / 'missing.wav'}: " in server_log  # the reason, for the operator
