"""``python -m genreclf.train from_run=<run id or best:<experiment>> [overrides]``.

A rerun composes the logged run's :class:`~genreclf.config.runconfig.RunConfig` again from
``conf/``: its group choices and every value (:meth:`RunConfig.overrides`), then this
command line's overrides on top. Where the rerun writes (tracking, paths, output
folders) is today's; its experiment is the logged run's, unless the command line names
one. The same data and seed give the same metrics.
"""

from __future__ import annotations

import tempfile
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

from genreclf.config.checks import load_run_config
from genreclf.config.runconfig import CHOSEN
from genreclf.core.errors import ConfigError
from genreclf.tracking import names
from genreclf.tracking.run import store_for
from genreclf.tracking.selection import best_run
from genreclf.tracking.store import Store, check_store


def resolve_run(store: Store, source: str) -> tuple[str, str]:
    """The run id that ``source`` names, and its experiment's name.

    ``best:<experiment>`` is the best finished run of the experiment that sweeps and
    reports rank (:func:`~genreclf.tracking.selection.best_run`): a plain run, a sweep
    job or a configuration run, never a configuration's member.
    """
    if source.startswith("best:"):
        experiment = source.removeprefix("best:") or "genreclf"
        eid = store.experiment_id(experiment, create=False)
        if eid is None:
            raise ConfigError(f"from_run={source}: no experiment '{experiment}' in {store.uri}")
        runs = [
            run
            for run in store.find_runs(eid, statuses=(names.FINISHED,))
            if run.data.tags.get(names.ROLE_TAG, names.JOB_ROLE) in names.RANKED_ROLES
        ]
        best = best_run(runs)
        if best is None:
            raise ConfigError(f"from_run={source}: no finished run ranked in '{experiment}'")
        return best.info.run_id, experiment
    try:
        run = store.get_run(source)
    except Exception:  # MLflow's not-found and bad-id errors alike
        raise ConfigError(f"from_run={source}: no such run in {store.uri}") from None
    return run.info.run_id, store.client.get_experiment(run.info.experiment_id).name


def _set_keys(overrides: list[str]) -> tuple[set[str], set[str]]:
    """The groups (``model``) and the dotted keys (``model.hidden_size``) ``overrides`` set."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    keys = {o.key_or_group for o in parsed}
    return {k for k in keys if "." not in k}, {k for k in keys if "." in k}


def _kept(override: str, groups: set[str], keys: set[str]) -> bool:
    """Whether a logged override stays under the command line's ``groups`` and ``keys``."""
    key = override.split("=", 1)[0].lstrip("+~")
    return key not in keys and key not in groups and key.split(".", 1)[0] not in groups


def rerun_config(cfg: DictConfig) -> tuple[DictConfig, dict[str, Any]]:
    """The composed config of the run ``cfg.from_run`` names, with this command's overrides.

    Returns
    -------
    cfg : DictConfig
        The new composition (to be checked like any other).
    choices : dict
        Its group choices: the logged run's, with this command line's on top.
    """
    from hydra import compose
    from hydra.core.hydra_config import HydraConfig

    source = str(cfg.from_run)
    check_store(str(cfg.tracking.uri))
    store = store_for(cfg.tracking)
    run_id, experiment = resolve_run(store, source)
    with tempfile.TemporaryDirectory() as tmp:
        logged = load_run_config(store, run_id, tmp)
    hydra = HydraConfig.get()
    user = [o for o in hydra.overrides.task if not o.lstrip("+").startswith("from_run=")]
    groups, keys = _set_keys(user)
    mine = [o for o in logged.overrides() if _kept(o, groups, keys)]
    if "tracking.experiment" not in keys:
        mine.append(f"tracking.experiment={experiment}")
    composed = compose(hydra.job.config_name, overrides=[*mine, *user, f"from_run={run_id}"])
    today = {str(g): c for g, c in hydra.runtime.choices.items() if not str(g).startswith("hydra")}
    logged_choices = {g: c for g, c in logged.choices.items() if g in CHOSEN and g not in groups}
    return composed, today | logged_choices
