"""The chosen run's configuration in a report: its logged ``RunConfig``, whole.

Read with :func:`genreclf.config.checks.load_run_config` (data only, size-capped,
re-checked); nothing read here is instantiated: what a report rebuilds from it goes
through genreclf's registries (see :mod:`genreclf.reports.pca`).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml

from genreclf.config.checks import load_run_config
from genreclf.config.runconfig import RunConfig
from genreclf.tracking.store import Store


def config_yaml(config: RunConfig, run_id: str) -> str:
    """``config`` as the YAML of a composed config, headed by the command that reruns it.

    What the header quotes from the store is JSON-escaped, so it stays one comment line.
    """
    run = json.dumps(run_id)[1:-1]
    choices = json.dumps({g: c for g, c in sorted(config.choices.items()) if c})
    head = (
        f"# The whole configuration of run {run} (its logged run_config.json).\n"
        f"# Rerun it: python -m genreclf.train from_run={run} [overrides]\n"
        f"# Group choices: {choices}\n"
    )
    return head + yaml.safe_dump(config.to_container(), sort_keys=False, allow_unicode=True)


def run_config(store: Store, run_id: str, dst: Path) -> RunConfig:
    """The logged configuration of a run, also saved whole as YAML to ``dst``.

    Raises
    ------
    ConfigError
        One line: the run logged none, or it is not a valid configuration.
    """
    with tempfile.TemporaryDirectory() as tmp:
        config = load_run_config(store, run_id, tmp)
    dst.write_text(config_yaml(config, run_id))
    return config
