"""Keep third-party noise off the console (warnings and chatty loggers), by exact name.

Imports nothing from genreclf: the commands call :func:`quiet_console` at start-up,
and so do a sweep's worker processes.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable

#: Third-party warnings that say nothing to a genreclf user: (message regex, category).
QUIET_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    # torch's deprecation of LeafSpec, raised by pytorch_lightning/utilities/_pytree.py
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning),
    # MLflow on a pyfunc model's predict() without type hints (genreclf gives a signature)
    (r"Add type hints to the `predict` method", UserWarning),
    # Hydra: conf/hydra/launcher/{joblib,ray,submitit_*}.yaml (genreclf's launchers) share
    # the names of the plugins' schemas, on purpose: `hydra/launcher=ray` keeps its meaning
    (
        r"\s*'hydra/launcher/(joblib|ray|submitit_local|submitit_slurm)' is validated against "
        r"ConfigStore schema",
        UserWarning,
    ),
    # Lightning's ModelCheckpoint in a folder that an earlier fit (a fold, a seed, a rerun)
    # wrote to: each fit selects among its own checkpoints (Lightning versions clashing names)
    (r"Checkpoint directory .* exists and is not empty", UserWarning),
    # Lightning's SLURM hint (a PossibleUserWarning) on a machine with srun: genreclf runs
    # on SLURM through hydra/launcher=submitit_slurm, never by prepending srun
    (r"The `srun` command is available on your system but is not used", UserWarning),
)

#: Loggers whose INFO lines are noise on the console: Lightning's GPU/TPU lines and
#: its litlogger tip, MLflow's and alembic's database set-up.
QUIET_LOGGERS = (
    "pytorch_lightning.utilities.rank_zero",
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "mlflow.store.db.utils",
    "alembic",
)


def quiet_console(verbose: object = False) -> None:
    """Keep third-party noise off the console, unless ``hydra.verbose`` asks for debug logs.

    Ignores exactly the warnings of :data:`QUIET_WARNINGS`, lowers :data:`QUIET_LOGGERS`
    to WARNING, and turns off MLflow's artifact download progress bar for this process.
    Called at the start of every task, in the process that runs it (a sweep's worker
    processes too). With ``hydra.verbose`` set (``true`` or logger names) nothing is
    hidden.
    """
    if verbose:
        return
    for message, category in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    if not getattr(warnings.showwarning, "_genreclf_quiet", False):
        warnings.showwarning = _without_quiet_warnings(warnings.showwarning)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def _without_quiet_warnings(show: Callable) -> Callable:
    """``warnings.showwarning`` that drops :data:`QUIET_WARNINGS`.

    For code that re-enables warnings with its own filter (MLflow shows its ``predict``
    type-hint warning under ``simplefilter("once")``).
    """
    import re

    quiet = [(re.compile(m, re.IGNORECASE), c) for m, c in QUIET_WARNINGS]

    def showwarning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        text = str(message).lstrip("\x1b[0123456789m")  # MLflow colours its warnings
        if any(issubclass(category, c) and p.match(text) for p, c in quiet):
            return
        show(message, category, filename, lineno, file, line)

    showwarning._genreclf_quiet = True  # type: ignore[attr-defined]
    return showwarning
