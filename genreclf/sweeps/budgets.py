"""Epoch budgets: one training answers every ``trainer.max_epochs`` value of a sweep.

A grid that sweeps ``trainer.max_epochs`` (the original's 50, 100 and 200) trains the
same model on the same data with the same seed for several epoch budgets. Training is
deterministic, so a fit with ``max_epochs=m`` is exactly the first ``m`` epochs of a
fit with a larger budget: early stopping decides each epoch from the epochs before it,
and the selected weights are the best of the epochs seen so far.

With ``sweep.share_epoch_budgets: true`` (as in ``sweep=grid``), a job whose
``max_epochs`` is one of the sweep's values trains once, to the largest value, keeps
the selection as it stood at each smaller value (:class:`BestWeights` milestones),
and logs one complete run per value: its own, and one for each sibling config that
has no FINISHED run yet. Each run holds its own params, config hash, curves up to its
own last epoch, and the validation and test scores of its own selected weights; the
runs of the other budgets carry the tag ``genreclf.trained_by`` (the id of the run that
trained), as any run logged without training of its own (:mod:`genreclf.sweeps.job`).
The sibling jobs then find their config FINISHED and skip, as on resume, adding their
job number to the run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from genreclf.protocol import members
from genreclf.sweeps.hashing import config_hash
from genreclf.sweeps.runs import SWEEP_ID_ENV, finished_run, sweep_tags
from genreclf.tracking import names
from genreclf.tracking.run import auto_run_name, config_params, store_for
from genreclf.tracking.selection import selection_metrics

log = logging.getLogger("genreclf.sweeps")

#: Statuses of a sibling's run that mean it needs no run from this job.
BUSY = (names.FINISHED, names.RUNNING)
#: Key of the swept epoch budget.
BUDGET_KEY = "trainer.max_epochs"


def epoch_budgets(cfg: DictConfig) -> list[int]:
    """The sweep's ``trainer.max_epochs`` values that this job answers with one fit.

    Empty (train as usual) unless ``sweep.share_epoch_budgets`` is true, this is a
    Hydra job whose sweeper params sweep ``trainer.max_epochs``, the job's own value
    is one of them, the job selects weights in memory (a
    :class:`~genreclf.sweeps.selection.BestWeights` callback, ``callbacks=sweep``), and
    no per-run artifacts or models are logged (``tracking.log_artifacts`` and
    ``tracking.log_model`` false), there is no ``refit``, and the job trains one fold and
    one seed (:func:`genreclf.protocol.members`).
    """
    sweep = cfg.get("sweep") or {}
    if not sweep.get("share_epoch_budgets") or len(members(cfg)) > 1:
        return []
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if not HydraConfig.initialized():
        return []
    value = (HydraConfig.get().sweeper.get("params") or {}).get(BUDGET_KEY)
    if value is None:
        return []
    override = OverridesParser.create().parse_override(f"{BUDGET_KEY}={value}")
    if not override.is_sweep_override():
        return []
    values = sorted({int(v) for v in override.sweep_string_iterator()})
    if int(cfg.trainer.max_epochs) not in values or len(values) < 2:
        return []
    selects_in_memory = any(
        str(c.get("_target_", "")).endswith("BestWeights") for c in cfg.callbacks.values()
    )
    logs_files = cfg.tracking.log_artifacts or cfg.tracking.log_model
    if not selects_in_memory or logs_files or cfg.get("refit"):
        log.warning(
            "sweep.share_epoch_budgets needs callbacks=sweep, tracking.log_artifacts="
            "tracking.log_model=false and no refit; each max_epochs value is trained on its own"
        )
        return []
    return values


def wait_for_shared_fit(
    cfg: DictConfig, budgets: list[int], poll_s: float = 0.5, max_wait_s: float = 1800.0
) -> None:
    """Wait while a job of this sweep fits a sibling budget of ``cfg`` (its run RUNNING).

    That fit logs this job's run too, so waiting for it (then finding the run FINISHED)
    costs less than fitting again. Runs of other sweeps are not waited for, and after
    ``max_wait_s`` (a worker killed mid-fit leaves its run RUNNING) the job goes on.
    """
    import os
    import time

    sweep_id = os.environ.get(SWEEP_ID_ENV)
    if not sweep_id:
        return
    own = int(cfg.trainer.max_epochs)
    siblings = {config_hash(budget_config(cfg, b)) for b in budgets if b != own}
    store = store_for(cfg.tracking)
    experiment = store.experiment_id(cfg.tracking.experiment)
    deadline = time.monotonic() + max_wait_s
    while time.monotonic() < deadline:
        running = store.find_runs(
            experiment,
            tags={names.SWEEP_ID_TAG: sweep_id},
            statuses=(names.RUNNING,),
            max_results=1000,
        )
        from genreclf.tracking.liveness import is_ghost

        running = [run for run in running if not is_ghost(run)]
        if not any(run.data.tags.get(names.HASH_TAG) in siblings for run in running):
            return
        time.sleep(poll_s)
    log.warning("waited %.0f s for a sibling's shared fit; fitting this job itself", max_wait_s)


def budget_config(cfg: DictConfig, budget: int) -> DictConfig:
    """A copy of ``cfg`` with ``trainer.max_epochs=budget``."""
    out = cfg.copy()
    with open_dict(out):
        out.trainer.max_epochs = budget
    return out


def _sibling_tags(tags: dict[str, str], budget: int, digest: str) -> dict[str, str]:
    out = {k: v for k, v in tags.items() if k != names.JOB_NUM_TAG}
    out[names.HASH_TAG] = digest
    if names.OVERRIDES_TAG in out:
        out[names.OVERRIDES_TAG] = re.sub(
            rf"(^| ){re.escape(BUDGET_KEY)}=\S+",
            rf"\g<1>{BUDGET_KEY}={budget}",
            out[names.OVERRIDES_TAG],
        )
    return out


def log_budget_runs(
    cfg: DictConfig,
    budgets: list[int],
    selection: Any,
    trainer: Any,
    module: Any,
    writer: Any,
    evaluate: Callable[[], dict[str, Any]],
    extra_tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """After a fit to ``max(budgets)``, log one run per budget; return the job's own result.

    Parameters
    ----------
    cfg : DictConfig
        The job's config (its own ``trainer.max_epochs`` is one of ``budgets``).
    budgets : list of int
        From :func:`epoch_budgets`.
    selection : BestWeights
        The fit's selection callback, with a snapshot at every budget the fit reached.
    trainer, module
        The fitted Lightning trainer and module.
    writer : RunWriter
        The job's run, holding every metric of the fit unwritten.
    evaluate : callable
        Scores the module's current weights on validation and test (logging through
        ``writer``) and returns ``val_acc``, ``val_loss``, ``test_acc``, ``test_f1`` and
        ``report``.
    extra_tags : dict, optional
        Tags of the job's run that the other budgets' runs carry too.

    Returns
    -------
    dict
        ``evaluate()``'s result for the job's own budget, and ``budget_runs``: the ids of
        the runs logged for the other budgets.
    """
    own = int(cfg.trainer.max_epochs)
    final = selection.snapshot_now(trainer)
    fit_metrics = writer.take_metrics()
    scored: dict[int, tuple[dict[str, Any], list]] = {}
    own_result: dict[str, Any] = {}
    own_metrics: list = []
    logged: list[str] = []
    for budget, sibling, digest in _budgets_to_log(cfg, budgets):
        snapshot = selection.snapshots.get(budget, final)
        if id(snapshot) not in scored:
            scored[id(snapshot)] = _scored_snapshot(snapshot, module, writer, evaluate)
        result, extra = scored[id(snapshot)]
        metrics = [m for m in fit_metrics if m.step <= snapshot.global_step] + extra
        if budget == own:
            own_result, own_metrics = result, metrics
            continue
        logged.append(_log_budget_run(cfg, sibling, digest, writer, metrics, extra_tags))
    writer.hold_metrics(own_metrics)
    module.load_state_dict(selection.snapshots.get(own, final).state)
    return own_result | {"budget_runs": logged}


def _budgets_to_log(cfg: DictConfig, budgets: list[int]) -> Iterator[tuple[int, DictConfig, str]]:
    """The budgets that need a run from this fit, each with its config and config hash.

    The job's own budget, and each other budget whose config has no FINISHED or RUNNING
    run (looked up as it comes, since sibling jobs start meanwhile).
    """
    own = int(cfg.trainer.max_epochs)
    for budget in budgets:
        sibling = budget_config(cfg, budget)
        digest = config_hash(sibling)
        if budget != own and finished_run(cfg.tracking, digest, BUSY) is not None:
            continue  # done before (resumed sweep), or its own job is running now
        yield budget, sibling, digest


def _scored_snapshot(
    snapshot: Any, module: Any, writer: Any, evaluate: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], list]:
    """Score a :class:`BestWeights` snapshot: ``evaluate()``'s result, and the metrics it
    logged (with the selection metrics) as MLflow ``Metric`` records at its step."""
    from mlflow.entities import Metric

    module.load_state_dict(snapshot.state)
    result = evaluate()
    writer.log_metrics(selection_metrics(result["val_acc"], result["val_loss"]))
    extra = [
        Metric(m.key, m.value, m.timestamp, snapshot.global_step) for m in writer.take_metrics()
    ]
    return result, extra


def _log_budget_run(
    cfg: DictConfig,
    sibling: DictConfig,
    digest: str,
    writer: Any,
    metrics: list,
    extra_tags: dict[str, str] | None,
) -> str:
    """Log the FINISHED run of ``sibling`` (another budget of ``cfg``, config hash
    ``digest``) from the job's fit; return its id."""
    budget = int(sibling.trainer.max_epochs)
    tags = dict(extra_tags or {}) | _sibling_tags(sweep_tags(sibling, digest), budget, digest)
    tags[names.TRAINED_BY_TAG] = writer.run_id
    params = config_params(OmegaConf.to_container(sibling, resolve=True))
    model = tags.get(names.MODEL_TAG)
    name = cfg.tracking.run_name or auto_run_name(digest, {BUDGET_KEY: budget}, model)
    run_id = writer.store.log_finished_run(writer.experiment_id, tags, params, metrics, name)
    log.info("max_epochs=%d: run %s, from the fit of run %s", budget, run_id, writer.run_id)
    return run_id


class SharedFit:
    """The sweep hook of training: one fit to the largest epoch budget answers them all.

    Built by :func:`shared_fit`; ``trainer_kwargs`` go to the Trainer, and
    :meth:`results` logs one run per budget after the fit.
    """

    def __init__(self, cfg: DictConfig, budgets: list[int], selection: Any, writer: Any):
        self.cfg, self.budgets, self.selection, self.writer = cfg, budgets, selection, writer
        self.trainer_kwargs = {"max_epochs": budgets[-1]}

    def results(
        self,
        trainer: Any,
        module: Any,
        evaluate: Callable[[], dict[str, Any]],
        tags: dict[str, str],
    ) -> dict[str, Any]:
        """The job's own result, after logging the other budgets' runs (log_budget_runs)."""
        return log_budget_runs(
            self.cfg, self.budgets, self.selection, trainer, module, self.writer, evaluate, tags
        )


def shared_fit(cfg: DictConfig, callbacks: list[Any], writer: Any) -> SharedFit | None:
    """The hook for a job whose sweep shares epoch budgets (:func:`epoch_budgets`), or None."""
    import math

    from genreclf.sweeps.selection import BestWeights

    budgets = epoch_budgets(cfg)
    if not budgets:
        return None
    selection = next(c for c in callbacks if isinstance(c, BestWeights))
    selection.milestones = tuple(budgets)
    writer.flush_every_s = math.inf  # the job's own run gets its epochs only
    return SharedFit(cfg, budgets, selection, writer)
