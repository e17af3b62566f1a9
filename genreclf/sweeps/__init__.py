"""Sweeps: Hydra multiruns (``conf/sweep/``) whose every job is one MLflow run.

- :mod:`genreclf.sweeps.callbacks`: the Hydra callback that creates the experiment and a
  parent run before the jobs start, and summarizes the sweep at the end;
- :mod:`genreclf.sweeps.job`: one job: skip it if its config already FINISHED, else train
  it inside its own tagged run, and let the sweep carry on if it fails;
- :mod:`genreclf.sweeps.hashing`: the config hash that matches finished runs;
- :mod:`genreclf.sweeps.selection`: in-memory best-weights selection for sweep jobs.

Nothing heavy is imported here: ``genreclf.train`` imports this module cheaply.
"""

from genreclf.sweeps.hashing import HASH_TAG, config_hash
from genreclf.sweeps.job import is_multirun, sweep_job

__all__ = ["HASH_TAG", "config_hash", "is_multirun", "sweep_job"]
