"""The files a training run logs besides metrics and the model: config, report, figures."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from genreclf.tracking.store import Store


def log_run_files(store: Store, run_id: str, files: Mapping[str, str | bytes]) -> None:
    """Log ``files`` (artifact name to text or bytes, e.g. rendered PNG figures) to a run.

    Tracking does not draw: figures are made by the caller (see :mod:`genreclf.reports`)
    and handed over as bytes.
    """
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, content in files.items():
            path = folder / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        store.log_artifacts(run_id, folder)
