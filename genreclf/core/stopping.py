"""Stop signals: SIGTERM and SIGUSR1 (a scheduler's preemption) stop a command like Ctrl-C.

By default SIGTERM ends a process at once, so nothing ends its MLflow runs: they stay
RUNNING. :func:`install` makes SIGTERM and SIGUSR1 (what SLURM's ``--signal`` sends)
raise :class:`Stopped`, a ``KeyboardInterrupt``: training stops the way Ctrl-C stops it
(Lightning ends the fit), every open run ends KILLED with the signal as its reason, and
the command prints one line. This module imports nothing from genreclf.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

#: The signals that stop a command as Ctrl-C does.
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGUSR1)

#: The stop signals this process has received, first first (``SIGINT`` for Ctrl-C).
received: list[str] = []


class Stopped(KeyboardInterrupt):
    """The process received a stop signal; its name is the message."""


def _stop(signum: int, _frame: object) -> None:
    name = signal.Signals(signum).name
    received.append(name)
    raise Stopped(name)


def install() -> None:
    """Make the stop signals and Ctrl-C raise :class:`Stopped` (main thread only).

    Ctrl-C raises a ``KeyboardInterrupt`` as before; its signal is recorded too, so that a
    command that Lightning ends with ``exit(1)`` still says why it stopped.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (*STOP_SIGNALS, signal.SIGINT):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _stop)


def ignore() -> None:
    """Ignore the stop signals from now on: what they stop has ended (a task that requeues
    itself, which SLURM then ends with SIGTERM)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def reason(exc: BaseException | None = None) -> str:
    """Why the process is stopping: the first stop signal, else ``SIGINT`` (Ctrl-C)."""
    if received:
        return received[0]
    return str(exc) if isinstance(exc, Stopped) and str(exc) else "SIGINT"


def stop_line(*, then: str | None = None) -> str:
    """The one line a stopped command prints; ``then`` says what comes next (a task that
    a scheduler requeued), instead of asking for the same command again."""
    then = then or "run the same command again to resume"
    return f"error: stopped by {reason()}: open runs ended KILLED; {then}"


def spawn_shielded(start: Callable[[], object]) -> None:
    """Call ``start`` with the stop signals blocked; a process it spawns keeps them blocked.

    A helper that outlives its jobs (joblib's resource tracker) must survive a stop signal
    sent to the whole process group: killed, it is restarted empty and prints a traceback
    for each resource it no longer knows. It still ends when its parent does.
    """
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
