"""Faults: a tracking server that does not answer fails fast, in one line."""

from __future__ import annotations

import socket
import time

import pytest

from tests.e2e import run_command

pytestmark = pytest.mark.slow


def _silent_port() -> tuple[socket.socket, int]:
    """A port that accepts connections and never answers (a hung server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    return server, server.getsockname()[1]


@pytest.mark.parametrize("kind", ["refused", "hung"])
@pytest.mark.parametrize("module", ["genreclf.train", "genreclf.predict"])
def test_an_unanswering_server_fails_in_one_line_under_15_s(tmp_path, kind, module):
    server, port = _silent_port() if kind == "hung" else (None, 9)
    uri = f"http://127.0.0.1:{port}"
    extra = ["inputs=[x.wav]"] if module == "genreclf.predict" else []
    try:
        start = time.monotonic()
        result = run_command(
            module, f"tracking.uri={uri}", *extra, cwd=tmp_path, cache=tmp_path / "c"
        )
        seconds = time.monotonic() - start
    finally:
        if server is not None:
            server.close()
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"tracking.uri={uri}: no MLflow server answers" in lines[0]
    assert seconds < 15, seconds
    assert not (tmp_path / "c").exists()
