"""A real Ray cluster of two nodes on 127.0.0.1, for tests.

:class:`RayCluster` runs ``ray start --head`` and then ``ray start --address=<head>`` for
each further node: two raylets on this one machine, each with its own CPUs and ports,
under a temporary folder (``--temp-dir``). Commands join it with
``hydra.launcher.ray.init.address=auto`` and ``RAY_ADDRESS`` (:attr:`RayCluster.env`).
:meth:`RayCluster.stop` ends every process of the cluster by its PID (those whose command
line names the cluster's folder), and :meth:`RayCluster.raylet_pids` finds each node's
raylet, for a test that kills one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.pg_server import free_port


def ray_command() -> str:
    """The ``ray`` command of this virtual environment."""
    return str(Path(sys.executable).parent / "ray")


class RayCluster:
    """``nodes`` raylets of ``cpus`` CPUs each on this machine (see the module docstring)."""

    def __init__(self, nodes: int = 2, cpus: int = 1) -> None:
        self.nodes, self.cpus = nodes, cpus
        self.folder = Path(tempfile.mkdtemp(prefix="rc-", dir="/tmp"))  # short: socket paths
        self.port = free_port()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment of a command that joins the cluster (no token authentication)."""
        return os.environ | {"RAY_ADDRESS": self.address, "RAY_AUTH_MODE": "disabled"}

    def _node_ports(self) -> list[str]:
        """Ports of one node's agents, free, so that two nodes on one host do not clash."""
        return [
            f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}",
            f"--metrics-export-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}",
            f"--node-manager-port={free_port()}",
            f"--object-manager-port={free_port()}",
        ]

    def start(self) -> RayCluster:
        """Start the head, then the other nodes; wait until all are alive."""
        common = [
            f"--num-cpus={self.cpus}",
            "--node-ip-address=127.0.0.1",
            "--disable-usage-stats",
            f"--temp-dir={self.folder}",
        ]
        head = [ray_command(), "start", "--head", f"--port={self.port}"]
        self._run([*head, "--include-dashboard=false", *common, *self._node_ports()])
        for _ in range(self.nodes - 1):
            node = [ray_command(), "start", f"--address={self.address}"]
            self._run([*node, *common, *self._node_ports()])
        self._wait_for_nodes()
        return self

    def _run(self, command: list[str]) -> None:
        result = subprocess.run(command, env=self.env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:3])} failed: {result.stderr[-2000:]}")

    def _wait_for_nodes(self, timeout: float = 60) -> None:
        probe = (
            "import ray; ray.init(address='auto', logging_level='ERROR'); "
            "print(sum(n['Alive'] for n in ray.nodes()))"
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = subprocess.run(
                [sys.executable, "-c", probe], env=self.env, capture_output=True, text=True
            )
            if result.stdout.strip() == str(self.nodes):
                return
            time.sleep(1)
        raise RuntimeError(f"the Ray cluster has not {self.nodes} live nodes")

    def pids(self) -> list[int]:
        """PIDs of every process of this cluster (its folder is on their command lines)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(self.folder) in line and int(entry.name) != os.getpid():
                found.append(int(entry.name))
        return found

    def raylet_pids(self) -> list[int]:
        """PIDs of the nodes' raylets."""
        return [pid for pid in self.pids() if _name(pid) == "raylet"]

    def worker_jobs(self) -> set[str]:
        """The Ray job ids whose tasks ran in the cluster's workers (from their log names,
        ``worker-<worker id>-<job id>-<pid>.out``): one per driver that used the cluster."""
        logs = self.folder.glob("session_*/logs/worker-*-*-*.out")
        return {path.name.split("-")[2] for path in logs}

    def stop(self) -> None:
        """End every process of the cluster by its PID (SIGTERM, then SIGKILL)."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 15
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.3)
            if not self.pids():
                break


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""
