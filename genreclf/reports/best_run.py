"""What a report shows of one run: its curves and the artifacts it logged."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

#: Per-epoch metrics of a training run.


def fetch_artifact(client, run_id: str, name: str, dst: Path) -> Path | None:
    """Copy the artifact ``name`` of a run to the file ``dst``; ``None`` if it has none."""
    if name not in {a.path for a in client.list_artifacts(run_id)}:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(run_id, name, tmp)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, dst)
    return dst
