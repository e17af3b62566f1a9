"""``hydra/launcher=submitit_local|submitit_slurm`` for genreclf.

See :class:`genreclf.sweeps.submitit_launch.ReportingSubmitit`. The launchers' schemas are
Hydra's, with ``jobs_per_task`` added (:mod:`genreclf.sweeps.schemas`).
"""

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher, SlurmLauncher

from genreclf.sweeps.submitit_launch import ReportingSubmitit


class ReportingLocalLauncher(ReportingSubmitit, LocalLauncher):
    """Hydra's ``submitit_local`` launcher: jobs reported as they end."""


class ReportingSlurmLauncher(ReportingSubmitit, SlurmLauncher):
    """Hydra's ``submitit_slurm`` launcher: jobs reported as they end."""
