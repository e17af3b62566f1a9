"""A real single-node SLURM cluster on 127.0.0.1, with accounting, for tests.

:class:`SlurmCluster` starts Debian's ``munged`` (as the ``munge`` user), a MariaDB server
and ``slurmdbd`` (SLURM's accounting: submitit reads a job's state with ``sacct``, so a
job whose process died is seen to have ended), then ``slurmctld`` and ``slurmd``, with a
``slurm.conf`` and ``slurmdbd.conf`` written in a temporary folder: one node, this
machine (``NodeAddr=127.0.0.1``), its CPUs, one partition, free ports, and every state,
spool, database, log and PID file in that folder. Commands find the cluster through
``SLURM_CONF`` (:attr:`SlurmCluster.env`). :meth:`SlurmCluster.stop` ends each daemon by
its PID; :meth:`SlurmCluster.kill_node` kills the node (``slurmd`` and the processes of
its jobs) and :meth:`SlurmCluster.start_node` brings it back.

The packages are Debian's ``slurm-wlm``, ``slurmdbd``, ``munge`` and ``mariadb-server``;
:func:`missing` names what is not installed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.pg_server import free_port

#: The daemons, by their Debian paths.
MUNGED, SLURMCTLD, SLURMD = "/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd"
SLURMDBD, MARIADBD = "/usr/sbin/slurmdbd", "/usr/sbin/mariadbd"
MARIADB_INSTALL_DB = "/usr/bin/mariadb-install-db"
#: What installs them.
PACKAGES = "apt-get install slurm-wlm slurmdbd munge mariadb-server"
#: Where ``munged`` keeps its socket (the clients look there).
MUNGE_RUN = Path("/run/munge")
#: The test partition's name.
PARTITION = "genreclf"


def missing() -> str | None:
    """What is missing to start a cluster (``None``: nothing), with the install command."""
    for path in (MUNGED, SLURMCTLD, SLURMD, SLURMDBD, MARIADBD, MARIADB_INSTALL_DB):
        if not Path(path).is_file():
            return f"{path} not found ({PACKAGES})"
    if os.geteuid() != 0:
        return "a test SLURM cluster runs its daemons as root (SlurmUser=root)"
    return None


SLURM_CONF = """\
ClusterName=genreclf
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobRequeue=0
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmdTimeout={slurmd_timeout}
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={dbd_port}
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName={partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""

SLURMDBD_CONF = """\
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={dbd_port}
SlurmUser=root
PidFile={folder}/slurmdbd.pid
LogFile={folder}/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={db_port}
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
"""


class MariaDb:
    """A throwaway MariaDB server for ``slurmdbd``: its own data folder, 127.0.0.1, a free port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.socket = folder / "mariadb.sock"
        self.pid: int | None = None

    def start(self, timeout: float = 60) -> MariaDb:
        """Create the data folder, start ``mariadbd``, add the ``slurm`` user."""
        data = self.folder / "data"
        subprocess.run(
            [MARIADB_INSTALL_DB, "--user=root", f"--datadir={data}", "--skip-test-db"],
            check=True,
            capture_output=True,
        )
        proc = subprocess.Popen(
            [MARIADBD, "--no-defaults", "--user=root", f"--datadir={data}",
             f"--socket={self.socket}", f"--port={self.port}", "--bind-address=127.0.0.1",
             f"--log-error={self.folder / 'mariadb.log'}", "--skip-log-bin",
             "--innodb-buffer-pool-size=32M"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        self.pid = proc.pid
        grant = (
            "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';"
            "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
        )
        deadline = time.monotonic() + timeout
        while self.sql(grant).returncode != 0:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"mariadbd did not start: {self.folder / 'mariadb.log'}")
            time.sleep(0.3)
        return self

    def sql(self, statements: str) -> subprocess.CompletedProcess:
        """Run SQL as root through the server's socket."""
        return subprocess.run(
            ["mariadb", "--no-defaults", f"--socket={self.socket}", "-u", "root", "-e", statements],
            capture_output=True,
            text=True,
        )


class SlurmCluster:
    """A throwaway SLURM cluster of this one machine (see the module docstring)."""

    #: Seconds without an answer from ``slurmd`` before ``slurmctld`` sets the node DOWN.
    slurmd_timeout = 10

    def __init__(self, cpus: int | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="genreclf-slurm-"))
        self.host = socket.gethostname().split(".")[0]
        self.cpus = cpus or os.cpu_count() or 1
        self.conf = self.folder / "slurm.conf"
        self.munged_pid: int | None = None
        self.database = MariaDb(self.folder)

    @property
    def env(self) -> dict[str, str]:
        """The environment of a command that uses the cluster."""
        return os.environ | {"SLURM_CONF": str(self.conf)}

    def start(self, timeout: float = 60) -> SlurmCluster:
        """Start munged, MariaDB, slurmdbd, slurmctld and slurmd; wait until the node is idle."""
        for sub in ("state", "spool"):
            (self.folder / sub).mkdir()
        self._write_conf()
        self._start_munged()
        self.database.start()
        self._daemon(SLURMDBD)
        self._wait(lambda: self.run("sacctmgr", "-n", "list", "cluster").returncode == 0, timeout)
        self.run("sacctmgr", "-i", "add", "cluster", "genreclf")
        self._daemon(SLURMCTLD)
        self.start_node(timeout)
        return self

    def _write_conf(self) -> None:
        """``slurm.conf`` and ``slurmdbd.conf`` (mode 600, as slurmdbd demands)."""
        dbd_port = free_port()
        self.conf.write_text(
            SLURM_CONF.format(
                host=self.host,
                folder=self.folder,
                ctld_port=free_port(),
                d_port=free_port(),
                dbd_port=dbd_port,
                cpus=self.cpus,
                partition=PARTITION,
                slurmd_timeout=self.slurmd_timeout,
            )
        )
        dbd_conf = self.folder / "slurmdbd.conf"
        dbd_conf.write_text(
            SLURMDBD_CONF.format(folder=self.folder, dbd_port=dbd_port, db_port=self.database.port)
        )
        dbd_conf.chmod(0o600)

    def _daemon(self, path: str) -> None:
        """Start a SLURM daemon (it forks into the background, its PID in its PID file)."""
        subprocess.run([path], env=self.env, check=True, capture_output=True)

    def _wait(self, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the SLURM cluster did not start: {self.log_tail()}")
            time.sleep(0.5)

    def node_state(self) -> str:
        """The node's state as ``sinfo`` prints it (``idle``, ``mix``, ``alloc``, ``down*``...)."""
        return self.run("sinfo", "-h", "-o", "%t").stdout.strip()

    def start_node(self, timeout: float = 60) -> None:
        """Start ``slurmd``; wait until the node takes jobs."""
        self._daemon(SLURMD)
        self._wait(lambda: self.node_state() in ("idle", "mix", "alloc"), timeout)

    def kill_node(self) -> list[int]:
        """Kill the node by PID: its ``slurmd``, then every process of its jobs.

        Returns the PIDs killed. ``slurmctld`` sets the node DOWN after
        :attr:`slurmd_timeout` seconds and its running jobs end ``NODE_FAIL``.
        """
        pids = [pid for pid in [self.daemon_pid("slurmd")] if pid is not None]
        pids += _job_processes(self.conf)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pids

    def _start_munged(self) -> None:
        """Start ``munged`` as the ``munge`` user, unless one already answers."""
        if (MUNGE_RUN / "munge.socket.2").exists() and self._munge_answers():
            return
        MUNGE_RUN.mkdir(parents=True, exist_ok=True)
        shutil.chown(MUNGE_RUN, "munge", "munge")
        proc = subprocess.Popen(
            ["runuser", "-u", "munge", "--", MUNGED, "--foreground"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.munged_pid = proc.pid
        deadline = time.monotonic() + 20
        while not self._munge_answers():
            if time.monotonic() > deadline:
                raise RuntimeError("munged did not start")
            time.sleep(0.2)

    @staticmethod
    def _munge_answers() -> bool:
        if not shutil.which("munge"):
            return (MUNGE_RUN / "munge.socket.2").exists()
        return subprocess.run(["munge", "-n"], capture_output=True).returncode == 0

    def run(self, *command: str) -> subprocess.CompletedProcess:
        """Run a SLURM command (``sinfo``, ``scontrol``, ...) against the cluster."""
        return subprocess.run(command, env=self.env, capture_output=True, text=True)

    def daemon_pid(self, name: str) -> int | None:
        """The PID of ``slurmctld``, ``slurmd`` or ``slurmdbd``, from its PID file."""
        path = self.folder / f"{name}.pid"
        text = path.read_text().strip() if path.is_file() else ""
        return int(text) if text.isdigit() else None

    def log_tail(self, lines: int = 20) -> str:
        """The end of the daemons' logs."""
        parts = []
        for name in ("slurmdbd", "slurmctld", "slurmd"):
            path = self.folder / f"{name}.log"
            if path.is_file():
                parts += [f"== {name}", *path.read_text().splitlines()[-lines:]]
        return "\n".join(parts)

    def stop(self) -> None:
        """End the daemons (slurmd first, MariaDB and our munged last) by their PIDs; remove
        the folder."""
        names = ("slurmd", "slurmctld", "slurmdbd")
        pids = [self.daemon_pid(name) for name in names] + [self.database.pid, self.munged_pid]
        for pid in pids:
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                deadline = time.monotonic() + 20
                while _alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.2)
        shutil.rmtree(self.folder, ignore_errors=True)


def _job_processes(conf: Path) -> list[int]:
    """PIDs of the processes of the jobs of the cluster of ``conf`` on this machine: its
    ``slurmstepd`` and the jobs' processes (both hold ``SLURM_CONF=<conf>``)."""
    ours = f"\0SLURM_CONF={conf}\0".encode()
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name = stat.read_text().split("(", 1)[1].rsplit(")", 1)[0]
            environ = b"\0" + (stat.parent / "environ").read_bytes()
        except OSError:
            continue
        in_job = name == "slurmstepd" or b"\0SLURM_JOB_ID=" in environ
        if in_job and ours in environ:
            pids.append(int(stat.parent.name))
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        os.waitpid(pid, os.WNOHANG)  # reap our own child
    except ChildProcessError:
        pass
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
