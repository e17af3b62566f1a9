"""``hydra/launcher=ray`` for genreclf: see :func:`genreclf.sweeps.ray_launch.launch_on_ray`.

Defined only with the ``ray`` extra installed (``pip install -e '.[ray]'``), so that
Hydra's plugin scan, which imports this module for every command, stays silent without it.
The launcher's schema is Hydra's, with ``jobs_per_task`` added (:mod:`genreclf.sweeps.schemas`).
"""

from genreclf.core.extras import installed

if installed("ray"):
    from hydra_plugins.hydra_ray_launcher.ray_launcher import RayLauncher

    from genreclf.sweeps.ray_launch import launch_on_ray

    class QuietRayLauncher(RayLauncher):
        """Hydra's Ray launcher: jobs reported as they end, Ray's own output off."""

        #: It takes a ``genreclf.sweeps.feed.JobFeed``: a job whenever a slot is free.
        takes_feed = True

        def __init__(self, ray, jobs_per_task: int = 1) -> None:  # noqa: ANN001
            super().__init__(ray)
            self.jobs_per_task = jobs_per_task

        def launch(self, job_overrides, initial_job_idx):  # noqa: ANN001, ANN201
            return launch_on_ray(self, job_overrides, initial_job_idx)
