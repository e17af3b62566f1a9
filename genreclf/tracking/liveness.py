"""Whether a RUNNING run is still alive: heartbeats, and laying ghosts to rest.

A process that holds a run open tags it with its host and PID and refreshes the tag
``genreclf.heartbeat`` (seconds since the epoch) every :data:`HEARTBEAT_S` seconds
from a background thread (:class:`Heartbeat`). A RUNNING run is a ghost when its
process is gone: its host is this host and its PID is not alive, or its heartbeat is
older than :data:`STALE_S`. A RUNNING run with no heartbeat at all (logged by an
earlier genreclf) is a ghost once it started more than :data:`NO_HEARTBEAT_STALE_S`
ago. :func:`reap_ghosts` ends ghosts KILLED, so that their configs are trained again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from genreclf.tracking import names
from genreclf.tracking.store import Store

log = logging.getLogger(__name__)

#: Seconds between two heartbeats of a live run.
HEARTBEAT_S = 20.0
#: A heartbeat older than this means the run's process is gone.
STALE_S = 120.0
#: A RUNNING run without any heartbeat tag is a ghost after this long.
NO_HEARTBEAT_STALE_S = 6 * 3600.0


def host() -> str:
    """This machine's name, as runs record it."""
    return socket.gethostname()


def owner_tags() -> dict[str, str]:
    """Tags naming the process that holds a run: host, PID, first heartbeat."""
    return {
        names.HOST_TAG: host(),
        names.PID_TAG: str(os.getpid()),
        names.HEARTBEAT_TAG: f"{time.time():.0f}",
    }


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def owner_alive(owner: str) -> bool:
    """Whether the process ``<host>:<pid>`` may still run (one on another host may)."""
    where, _, pid = owner.rpartition(":")
    if not pid.isdigit():
        return False
    return where != host() or _pid_alive(int(pid))


def is_ghost(run: Any, now: float | None = None) -> bool:
    """Whether a RUNNING ``run`` has lost its process (see the module docstring)."""
    if run.info.status != names.RUNNING:
        return False
    now = time.time() if now is None else now
    tags = run.data.tags
    pid = tags.get(names.PID_TAG, "")
    if tags.get(names.HOST_TAG) == host() and pid.isdigit() and not _pid_alive(int(pid)):
        return True
    beat = tags.get(names.HEARTBEAT_TAG)
    if beat is not None:
        try:
            return now - float(beat) > STALE_S
        except ValueError:
            return True
    return now - run.info.start_time / 1000.0 > NO_HEARTBEAT_STALE_S


def reap_ghosts(store: Store, experiment_id: str, runs: list | None = None) -> list[str]:
    """End every ghost among the experiment's RUNNING runs KILLED; return their ids.

    Parameters
    ----------
    runs : list, optional
        The RUNNING runs to look at (default: all of the experiment's).
    """
    if runs is None:
        runs = store.find_runs(experiment_id, statuses=(names.RUNNING,))
    now = time.time()
    reaped = []
    for run in runs:
        if is_ghost(run, now):
            store.set_tag(run.info.run_id, names.REAPED_TAG, f"{now:.0f}")
            store.end_run(run.info.run_id, names.KILLED)
            reaped.append(run.info.run_id)
    if reaped:
        log.warning(
            "%d RUNNING run(s) had lost their process; ended KILLED: %s",
            len(reaped),
            ", ".join(reaped),
        )
    return reaped


class Heartbeat:
    """A daemon thread that refreshes a run's heartbeat tag until :meth:`stop`.

    A failed refresh (a busy store) is logged and retried at the next beat.
    """

    def __init__(self, store: Store, run_id: str, every_s: float = HEARTBEAT_S) -> None:
        self.store = store
        self.run_id = run_id
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="genreclf-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.store.set_tag(self.run_id, names.HEARTBEAT_TAG, f"{time.time():.0f}")
            except Exception as exc:  # the next beat tries again
                log.debug("heartbeat of run %s failed: %s", self.run_id, exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
