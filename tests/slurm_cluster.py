"""A real single-node SLURM cluster on 127.0.0.1, for tests.

:class:`SlurmCluster` starts Debian's ``munged`` (as the ``munge`` user), ``slurmctld``
and ``slurmd`` with a ``slurm.conf`` written in a temporary folder: one node, this
machine (``NodeAddr=127.0.0.1``), its CPUs, one partition, free ports, and every state,
spool, log and PID file in that folder. Commands find the cluster through ``SLURM_CONF``
(:attr:`SlurmCluster.env`). :meth:`SlurmCluster.stop` ends each daemon by its PID.

The packages are Debian's ``slurm-wlm`` and ``munge``; :func:`missing` names what is not
installed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.pg_server import free_port

#: The daemons, by their Debian paths.
MUNGED, SLURMCTLD, SLURMD = "/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd"
#: Where ``munged`` keeps its socket (the clients look there).
MUNGE_RUN = Path("/run/munge")
#: The test partition's name.
PARTITION = "genreclf"


def missing() -> str | None:
    """What is missing to start a cluster (``None``: nothing), with the install command."""
    for path in (MUNGED, SLURMCTLD, SLURMD):
        if not Path(path).is_file():
            return f"{path} not found (apt-get install slurm-wlm munge)"
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
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName={partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


class SlurmCluster:
    """A throwaway SLURM cluster of this one machine (see the module docstring)."""

    def __init__(self, cpus: int | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="genreclf-slurm-"))
        self.host = socket.gethostname().split(".")[0]
        self.cpus = cpus or os.cpu_count() or 1
        self.conf = self.folder / "slurm.conf"
        self.munged_pid: int | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment of a command that uses the cluster."""
        return os.environ | {"SLURM_CONF": str(self.conf)}

    def start(self, timeout: float = 60) -> SlurmCluster:
        """Start munged, slurmctld and slurmd; wait until the node is idle."""
        for sub in ("state", "spool"):
            (self.folder / sub).mkdir()
        self.conf.write_text(
            SLURM_CONF.format(
                host=self.host,
                folder=self.folder,
                ctld_port=free_port(),
                d_port=free_port(),
                cpus=self.cpus,
                partition=PARTITION,
            )
        )
        self._start_munged()
        for daemon in (SLURMCTLD, SLURMD):
            subprocess.run([daemon], env=self.env, check=True, capture_output=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.run("sinfo", "-h", "-o", "%t").stdout.strip()
            if state == "idle":
                return self
            time.sleep(0.5)
        raise RuntimeError(f"the SLURM node is not idle: {self.log_tail()}")

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
        """The PID of ``slurmctld`` or ``slurmd``, from its PID file."""
        path = self.folder / f"{name}.pid"
        text = path.read_text().strip() if path.is_file() else ""
        return int(text) if text.isdigit() else None

    def log_tail(self, lines: int = 20) -> str:
        """The end of both daemons' logs."""
        parts = []
        for name in ("slurmctld", "slurmd"):
            path = self.folder / f"{name}.log"
            if path.is_file():
                parts += [f"== {name}", *path.read_text().splitlines()[-lines:]]
        return "\n".join(parts)

    def stop(self) -> None:
        """End slurmd, slurmctld and our munged by their PIDs; remove the folder."""
        pids = [self.daemon_pid("slurmd"), self.daemon_pid("slurmctld"), self.munged_pid]
        for pid in pids:
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 20
        for pid in pids:
            while pid is not None and _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
        shutil.rmtree(self.folder, ignore_errors=True)


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
