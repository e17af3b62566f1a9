"""genreclf's Hydra sweeper: a grid or an Optuna search, pruned if asked (``sweep.pruner``).

``hydra/sweeper=genreclf`` (every ``conf/sweep/*.yaml``) takes ``hydra.sweeper.params``
and the command line's sweeps, as Hydra's basic sweeper does.

- ``sampler: grid`` without a pruner is Hydra's basic sweeper, unchanged: every
  combination, in Hydra's order, as one batch.
- Otherwise the sweep is an Optuna study (:mod:`genreclf.sweeps.study`): the grid's
  combinations as the search space of Optuna's ``GridSampler``, or ``sampler: tpe`` over
  ``choice``, ``range`` and ``interval`` sweeps for ``n_trials`` trials. The launcher
  takes one job at a time as its slots free up (:class:`~genreclf.sweeps.feed.JobFeed`),
  and each job is asked from the study only then; no slot waits for a batch. With a
  pruner, a swept ``trainer.max_epochs`` is the pruner's budget: every job gets its
  largest value (see :func:`fold_budget`).
- Rerunning the command continues the study: trials that completed or were pruned are not
  asked again, trials left RUNNING by a process that is gone are failed, and failed
  trials are asked again (:func:`~genreclf.sweeps.study.retry_failed`).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf

from genreclf.core.errors import ConfigError
from genreclf.sweeps.budgets import BUDGET_KEY
from genreclf.sweeps.feed import JobFeed
from genreclf.sweeps.study import LAUNCHER_ATTR, SAMPLERS

log = logging.getLogger("genreclf.sweeps")

#: The study's best trial, written in the sweep folder (and logged on the parent run).
RESULTS_FILE = "optimization_results.yaml"


def search_space(overrides: Sequence[Any]) -> tuple[list[str], dict[str, Any]]:
    """The fixed overrides and the swept ones as Optuna distributions, by key.

    A list or ``choice`` is categorical (over the values as written), ``range`` is
    integer (if its bounds are), ``interval`` is a float range (``tag(log, ...)``: log).
    A key given twice (in ``hydra.sweeper.params`` and on the command line) takes its
    last value, as in Hydra's basic sweeper.
    """
    from hydra.core.override_parser.types import IntervalSweep, RangeSweep
    from optuna import distributions as dist

    fixed, space = [], {}
    last = {override.get_key_element(): override for override in overrides}
    for override in last.values():
        key = override.get_key_element()
        if not override.is_sweep_override():
            fixed.append(f"{key}={override.get_value_element_as_str()}")
            continue
        value = override.value()
        if isinstance(value, IntervalSweep):
            log_scale = "log" in value.tags
            if isinstance(value.start, int) and isinstance(value.end, int):
                space[key] = dist.IntDistribution(value.start, value.end, log=log_scale)
            else:
                space[key] = dist.FloatDistribution(value.start, value.end, log=log_scale)
        elif isinstance(value, RangeSweep) and all(
            isinstance(v, int) for v in (value.start, value.stop, value.step)
        ):
            end = list(override.sweep_iterator())[-1]
            space[key] = dist.IntDistribution(
                min(value.start, end), max(value.start, end), step=abs(value.step)
            )
        else:
            space[key] = dist.CategoricalDistribution(list(override.sweep_string_iterator()))
    return fixed, space


def fold_budget(
    fixed: list[str], space: dict[str, Any]
) -> tuple[list[str], dict[str, Any], int | None]:
    """With a pruner: a swept ``trainer.max_epochs`` becomes its largest value, for all jobs.

    The pruner stops losing jobs by epochs: the epoch budget is its resource, no longer a
    hyperparameter. Shared epoch budgets (:mod:`genreclf.sweeps.budgets`) are off.
    Returns the new fixed overrides and space, and that largest value (``None``: not swept).
    """
    budget = space.pop(BUDGET_KEY, None)
    extra, most = ["sweep.share_epoch_budgets=false"], None
    if budget is not None:
        values = getattr(budget, "choices", None) or [budget.high]
        most = max(int(v) for v in values)
        extra.append(f"{BUDGET_KEY}={most}")
    kept = [f for f in fixed if not f.startswith("sweep.share_epoch_budgets=")]
    return kept + extra, space, most


def grid_of(space: dict[str, Any]) -> dict[str, list[Any]]:
    """The grid of a search space of categorical and stepped integer distributions."""
    grid = {}
    for key, distribution in space.items():
        if hasattr(distribution, "choices"):
            grid[key] = list(distribution.choices)
        elif getattr(distribution, "step", None) and not getattr(distribution, "log", False):
            grid[key] = list(range(distribution.low, distribution.high + 1, distribution.step))
        else:
            raise ConfigError(f"hydra.sweeper.params.{key}: a grid needs a list, choice or range")
    return grid


def _value_text(value: Any) -> str:
    """A sampled value as an override value (strings were written as overrides already)."""
    return value if isinstance(value, str) else repr(value)


class StudySweeper(Sweeper):
    """Hydra's basic sweeper, or an Optuna study fed to the launcher (module docstring).

    The basic sweeper is held, not derived from: Hydra's plugin scan loads its module
    again, and a class derived from the copy loaded before would no longer be one.
    """

    def __init__(
        self,
        max_batch_size: int | None,
        params: dict[str, str] | None = None,
        sampler: str = "grid",
        n_trials: int | None = None,
        seed: int | None = None,
    ) -> None:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

        if sampler not in SAMPLERS:
            raise ConfigError(
                f"hydra.sweeper.sampler={sampler}: choose one of {', '.join(SAMPLERS)}"
            )
        self.basic = BasicSweeper(max_batch_size, params)
        self.sampler, self.n_trials, self.seed = sampler, n_trials, seed
        self.config: Any = None

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        self.basic.setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.config, self.hydra_context = config, hydra_context

    @property
    def launcher(self) -> Any:
        return self.basic.launcher

    def pruner(self) -> str:
        """The sweep's ``sweep.pruner`` (``none`` outside a genreclf sweep)."""
        return str(OmegaConf.select(self.config, "sweep.pruner", default="none"))

    def sweep(self, arguments: list[str]) -> Any:
        if self.sampler == "grid" and self.pruner() == "none":
            return self.basic.sweep(arguments)
        from hydra.core.override_parser.overrides_parser import OverridesParser

        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        given = self.basic._parse_config() + arguments
        fixed, space = search_space(parser.parse_overrides(given))
        if self.pruner() != "none":
            fixed, space, most = fold_budget(fixed, space)
            if most is not None:
                print(
                    f"sweep: {BUDGET_KEY} is the pruner's budget: up to {most} epochs", flush=True
                )
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        return run_study(self, fixed, space, sweep_dir)

    def planned(self, config: Any) -> list[list[str]] | None:
        """Each job's overrides, if known before the sweep (a grid), else ``None``."""
        if self.sampler != "grid":
            return None
        import itertools

        from hydra.core.override_parser.overrides_parser import OverridesParser

        self.config = config
        arguments = self.basic._parse_config() + list(config.hydra.overrides.task)
        parsed = OverridesParser.create().parse_overrides(arguments)
        if self.pruner() == "none":  # Hydra's basic sweeper's jobs
            batches = self.basic.split_arguments(parsed, None)
            return [list(job) for batch in batches for job in batch]
        fixed, space, _ = fold_budget(*search_space(parsed))
        grid = grid_of(space)
        return [
            fixed + [f"{k}={_value_text(v)}" for k, v in zip(grid, values, strict=True)]
            for values in itertools.product(*grid.values())
        ]


def run_study(
    sweeper: StudySweeper, fixed: list[str], space: dict[str, Any], sweep_dir: Path
) -> list[Any]:
    """Launch the study's remaining trials, one job per free slot; fail what is left over."""
    from genreclf.sweeps.progress import current_progress
    from genreclf.sweeps.study import fail_running
    from genreclf.tracking.liveness import host

    config = sweeper.config
    study, plain, target = _studies(sweeper, space)
    left = max(target - _finished(plain, space), 0)
    owner = f"{host()}:{os.getpid()}"

    def next_job() -> list[str] | None:
        trial = study.ask(space)
        trial.set_user_attr(LAUNCHER_ATTR, owner)
        chosen = [f"{k}={_value_text(v)}" for k, v in trial.params.items()]
        return fixed + chosen + [f"sweep.trial={trial.number}"]

    current_progress().total = left
    print(f"sweep: study '{config.sweep.study}', {left} of {target} trials to run", flush=True)
    try:
        results = launch_feed(sweeper.launcher, JobFeed(left, next_job))
    finally:
        fail_running(plain, owner)
    _write_results(plain, sweep_dir)
    return [results]


def launch_feed(launcher: Any, feed: JobFeed) -> list[Any]:
    """Launch ``feed``'s jobs: genreclf's launchers take it whole (a job per free slot);
    any other launcher (Hydra's basic one, in this process) gets one job at a time."""
    if getattr(launcher, "takes_feed", False):
        return list(launcher.launch(feed, initial_job_idx=0))
    results = []
    while (job := feed.take()) is not None:
        results += launcher.launch([job[1]], initial_job_idx=job[0])
    return results


def _studies(sweeper: StudySweeper, space: dict[str, Any]) -> tuple[Any, Any, int]:
    """The study with the sampler (to ask), without it (to tell), and the trials wanted."""
    import optuna

    from genreclf.sweeps.study import fail_stale_trials, open_study, retry_failed
    from genreclf.tracking.liveness import owner_alive

    config = sweeper.config
    if sweeper.sampler == "grid":
        grid = grid_of(space)
        sampler = optuna.samplers.GridSampler(grid, seed=sweeper.seed)
        target = math.prod(len(values) for values in grid.values())
    else:
        sampler = getattr(optuna.samplers, SAMPLERS[sweeper.sampler])(seed=sweeper.seed)
        target = int(sweeper.n_trials or 0)
    uri = str(config.tracking.uri)
    study, plain = open_study(config.sweep, uri, sampler), open_study(config.sweep, uri)
    stale, again = fail_stale_trials(plain, owner_alive), retry_failed(plain)
    if stale or again:
        print(
            f"sweep: {stale} trial(s) of a stopped sweep failed; {again} to run again", flush=True
        )
    return study, plain, target


def _finished(study: Any, space: dict[str, Any]) -> int:
    """How many distinct configurations of ``space`` completed or were pruned."""
    from optuna.trial import TrialState

    from genreclf.sweeps.study import params_key

    states = (TrialState.COMPLETE, TrialState.PRUNED)
    done = {
        params_key(t.params)
        for t in study.get_trials(deepcopy=False, states=states)
        if set(t.params) == set(space)
    }
    return len(done)


def check_study_sweep(config: Any) -> None:
    """Refuse, before any job, a study sweep that cannot run: no storage for its study (a
    tracking server without ``sweep.storage``), or pruned jobs of several folds or seeds."""
    from genreclf.protocol import members
    from genreclf.sweeps.study import storage_url

    pruner = str(OmegaConf.select(config, "sweep.pruner", default="none"))
    sampler = OmegaConf.select(config, "hydra.sweeper.sampler", default=None)
    if pruner == "none" and sampler in (None, "grid"):
        return
    storage_url(OmegaConf.select(config, "sweep.storage"), str(config.tracking.uri))
    if pruner != "none" and len(members(config)) > 1:
        raise ConfigError(
            "sweep.pruner: a pruned job trains one fold and one seed; set split.fold "
            "(with split=kfold) and repeats=1, or sweep.pruner=none"
        )


def _write_results(study: Any, sweep_dir: Path) -> None:
    """Write the study's best trial (params and value) as ``optimization_results.yaml``."""
    try:
        best = study.best_trial
    except ValueError:  # no trial completed
        return
    results = {"name": study.study_name, "best_params": best.params, "best_value": best.value}
    (sweep_dir / RESULTS_FILE).write_text(OmegaConf.to_yaml(OmegaConf.create(results)))
