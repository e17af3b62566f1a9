"""The schemas of genreclf's launchers: Hydra's, with ``jobs_per_task`` added.

``hydra/launcher=submitit_local|submitit_slurm|ray`` take ``hydra.launcher.jobs_per_task``
(jobs run one after another in each task, :mod:`genreclf.sweeps.submitit_launch`,
:mod:`genreclf.sweeps.ray_launch`). Hydra merges ``conf/hydra/launcher/<name>.yaml`` onto
the structured config stored under the same name; its plugin scan runs every plugin's
module again, so the commands store these after it (:func:`register_launcher_schemas`).
"""

from __future__ import annotations

from dataclasses import dataclass, make_dataclass

from genreclf.core.extras import installed

_PLUGIN = "hydra_plugins.genreclf_launcher"


def _with_jobs_per_task(base: type, target: str) -> type:
    """``base`` (a Hydra launcher schema) with genreclf's ``_target_`` and ``jobs_per_task``."""
    fields = [("_target_", str, target), ("jobs_per_task", int, 1)]
    return dataclass(make_dataclass(f"Genreclf{base.__name__}", fields, bases=(base,)))


def register_launcher_schemas() -> None:
    """Store the schemas, after Hydra's plugin scan (which would store Hydra's again)."""
    from hydra.core.config_store import ConfigStore
    from hydra.core.plugins import Plugins

    Plugins.instance()  # the scan, once per process
    store = ConfigStore.instance()
    from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf, SlurmQueueConf

    submitit = f"{_PLUGIN}.submitit_launcher"
    schemas = {
        "submitit_local": _with_jobs_per_task(LocalQueueConf, f"{submitit}.ReportingLocalLauncher"),
        "submitit_slurm": _with_jobs_per_task(SlurmQueueConf, f"{submitit}.ReportingSlurmLauncher"),
    }
    if installed("ray"):
        from hydra_plugins.hydra_ray_launcher._config import RayLauncherConf

        ray = f"{_PLUGIN}.ray_launcher.QuietRayLauncher"
        schemas["ray"] = _with_jobs_per_task(RayLauncherConf, ray)
    for name, node in schemas.items():
        store.store(group="hydra/launcher", name=name, node=node, provider="genreclf")
