"""A real PostgreSQL cluster and a real ``mlflow server`` on it, for tests.

:class:`PgCluster` runs ``initdb`` and ``pg_ctl`` (PostgreSQL 15, Debian's
``/usr/lib/postgresql/15/bin``, or any on ``PATH``) in a temporary folder owned by the
``postgres`` user (PostgreSQL refuses to run as root), on 127.0.0.1 and a free port.
:class:`MlflowServer` starts ``mlflow server --backend-store-uri postgresql://...`` as a
subprocess in its own process group; :meth:`MlflowServer.kill` ends it by its PID (the
outage tests) and :meth:`MlflowServer.start` brings it back on the same port.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

#: Where Debian installs PostgreSQL's server binaries (outside ``PATH``).
PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
PG_USER = "postgres"


def pg_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or ``None`` if PostgreSQL is absent."""
    for folder in PG_BIN_DIRS:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_pg_user(command: list[str]) -> list[str]:
    """``command`` run as the ``postgres`` user when this process is root."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", PG_USER, "--", *command]


class PgCluster:
    """A throwaway PostgreSQL cluster: ``initdb``, ``pg_ctl start``, one database.

    Parameters
    ----------
    bin_dir : Path
        Folder of ``initdb`` and ``pg_ctl``.
    database : str
        Name of the database created for MLflow.
    """

    def __init__(self, bin_dir: Path, database: str = "mlflow") -> None:
        self.bin_dir = bin_dir
        self.database = database
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="genreclf-pg-"))
        self.data = self.folder / "data"
        if os.geteuid() == 0:
            shutil.chown(self.folder, PG_USER, PG_USER)
        self.started = False

    @property
    def uri(self) -> str:
        """SQLAlchemy URI of the database (psycopg2; trust authentication on 127.0.0.1)."""
        return f"postgresql+psycopg2://{PG_USER}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            _as_pg_user([str(self.bin_dir / args[0]), *args[1:]]),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stderr[-2000:]}")

    def start(self) -> PgCluster:
        """Create the cluster, start it and create the database."""
        self._run("initdb", "-D", str(self.data), "-U", PG_USER, "--auth=trust", "-E", "UTF8")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-o", options,
            "-w", "-t", "60", "start",
        )  # fmt: skip
        self.started = True
        self.create_database(self.database)
        return self

    def create_database(self, name: str) -> str:
        """Create database ``name`` on the server; its SQLAlchemy URI."""
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=PG_USER, dbname="postgres"
        )
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return self.uri.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop``, which signals its PID) and remove the folder."""
        try:
            if self.started:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
                self.started = False
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


class MlflowServer:
    """``mlflow server`` on a backend store, at ``http://127.0.0.1:<port>``.

    Parameters
    ----------
    backend_uri : str
        ``--backend-store-uri``.
    artifacts : Path
        ``--artifacts-destination`` (artifacts are served through the server).
    """

    def __init__(self, backend_uri: str, artifacts: Path) -> None:
        self.backend_uri = backend_uri
        self.artifacts = artifacts
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = artifacts.parent / "mlflow-server.log"

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> MlflowServer:
        """Start the server (again, on the same port) and wait for its ``/health``."""
        command = [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", self.backend_uri,
            "--artifacts-destination", str(self.artifacts),
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {self.log.read_text()[-3000:]}")
            if self.healthy():
                return self
            time.sleep(0.5)
        self.kill()
        raise RuntimeError(f"mlflow server did not answer: {self.log.read_text()[-3000:]}")

    def healthy(self) -> bool:
        """Whether the server answers ``/health`` now."""
        try:
            with urllib.request.urlopen(self.uri + "/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def kill(self) -> None:
        """End the server at once: SIGKILL to its PID's process group (its workers too)."""
        if self.proc is None:
            return
        try:  # even if the leader has exited, its workers may live on in its group
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
