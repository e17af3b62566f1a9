"""Hydra's own copies of a job's config, with passwords in URIs masked.

Hydra writes ``<job folder>/.hydra/config.yaml``, ``hydra.yaml`` and ``overrides.yaml``
(and ``<sweep folder>/multirun.yaml``) before the job starts, holding ``tracking.uri`` as
given. :class:`MaskSecrets` (a Hydra callback, ``hydra.callbacks`` in ``conf/config.yaml``)
rewrites them with :func:`~genreclf.tracking.uri.mask_uri` as each job starts; the job
itself keeps the URI it was given.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from genreclf.tracking.uri import mask_uri

#: The files Hydra writes in a job's output subfolder.
HYDRA_FILES = ("config.yaml", "hydra.yaml", "overrides.yaml")


def mask_file(path: Path) -> bool:
    """Rewrite the text file ``path`` with passwords masked; whether it changed.

    A link, a missing file or one over 16 MB is left alone.
    """
    if path.is_symlink() or not path.is_file() or path.stat().st_size > 16 * 2**20:
        return False
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    masked = mask_uri(text)
    if masked == text:
        return False
    tmp = path.with_name(f".{path.name}.masking")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
        handle.write(masked)
    os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)
    return True


def job_files(config: Any) -> list[Path]:
    """Hydra's config files of the job whose config is ``config`` (and of its sweep)."""
    hydra = config.hydra
    files = []
    if hydra.output_subdir is not None:
        folder = Path(hydra.runtime.output_dir) / str(hydra.output_subdir)
        files += [folder / name for name in HYDRA_FILES]
    if str(hydra.mode) == "RunMode.MULTIRUN":
        files.append(Path(str(hydra.sweep.dir)) / "multirun.yaml")
    return files


class MaskSecrets(Callback):
    """Mask passwords in Hydra's saved config files as each job starts."""

    def on_job_start(self, config: Any, **kwargs: Any) -> None:
        for path in job_files(config):
            mask_file(path)
