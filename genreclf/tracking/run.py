"""The MLflow run of one training job: created, tagged, and always ended with a status."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from omegaconf import DictConfig

from genreclf.tracking.store import ensure_experiment, with_retry

log = logging.getLogger(__name__)


@contextmanager
def tracked_run(tracking: DictConfig, tags: dict[str, str] | None = None) -> Iterator:
    """Open an MLflow run for a training job and yield its Lightning ``MLFlowLogger``.

    The run ends FINISHED when the block completes, KILLED on Ctrl-C (or exit), and FAILED
    on any other exception, with the traceback logged as ``traceback.txt``. No
    run is left RUNNING.

    Parameters
    ----------
    tracking : DictConfig
        The ``tracking`` config group: ``uri``, ``experiment``, ``run_name``.
    tags : dict, optional
        Extra run tags.
    """
    from pytorch_lightning.loggers import MLFlowLogger

    experiment_id = ensure_experiment(tracking.uri, tracking.experiment)
    logger = MLFlowLogger(
        experiment_name=tracking.experiment,
        run_name=tracking.run_name,
        tracking_uri=tracking.uri,
        tags=dict(tags or {}),
    )
    logger._experiment_id = experiment_id  # found or created once, with retries
    client = logger.experiment
    run_id = with_retry(lambda: logger.run_id)
    try:
        yield logger
    except (KeyboardInterrupt, SystemExit):  # Lightning turns Ctrl-C into SystemExit
        with_retry(lambda: client.set_terminated(run_id, "KILLED"))
        raise
    except BaseException:
        with_retry(lambda: client.log_text(run_id, traceback.format_exc(), "traceback.txt"))
        with_retry(lambda: client.set_terminated(run_id, "FAILED"))
        raise
    with_retry(lambda: client.set_terminated(run_id, "FINISHED"))
