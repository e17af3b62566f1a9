"""The artifact and model-registry calls of a :class:`~genreclf.tracking.store.Store`.

:class:`ArtifactCalls` is one of :class:`~genreclf.tracking.store.Store`'s bases: its
methods go through the store's :meth:`~genreclf.tracking.store.Store.call` (writes) and
:meth:`~genreclf.tracking.store.Store.read` (reads, within a deadline on a server).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

#: Seconds a server store gets for one artifact download, retries included.
DOWNLOAD_DEADLINE_S = 900.0


class ArtifactCalls:
    """Artifacts (logged, listed, fetched, downloaded) and registered model versions."""

    #: The store's tracking URI (and registry URI); set by the store.
    uri: str

    def log_text(self, run_id: str, text: str, name: str) -> None:
        """Log ``text`` as the artifact file ``name``."""
        self.call(lambda c: c.log_text(run_id, text, name))

    def log_artifacts(self, run_id: str, folder: str | Path, path: str | None = None) -> None:
        """Log every file of ``folder`` as artifacts of the run (under ``path``)."""
        self.call(lambda c: c.log_artifacts(run_id, str(folder), path))

    def log_artifact(self, run_id: str, file: str | Path, path: str | None = None) -> None:
        """Log one file as an artifact of the run (under ``path``)."""
        self.call(lambda c: c.log_artifact(run_id, str(file), path))

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[str]:
        """Paths of the run's artifacts directly under ``path``."""
        return [a.path for a in self.read(lambda c: c.list_artifacts(run_id, path))]

    def fetch_artifact(self, run_id: str, name: str, dst: Path) -> Path | None:
        """Copy the artifact file ``name`` of a run to ``dst``; ``None`` if it has none."""
        parent = name.rsplit("/", 1)[0] if "/" in name else None
        if name not in self.list_artifacts(run_id, parent):
            return None
        with tempfile.TemporaryDirectory() as tmp:
            local = self.read(
                lambda c: c.download_artifacts(run_id, name, tmp), DOWNLOAD_DEADLINE_S
            )
            if not Path(local).is_file():
                return None
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local, dst)
        return dst

    def download(self, artifact_uri: str, dst: Path) -> Path:
        """Download the artifacts at ``artifact_uri`` (``runs:/``, a storage URI) into ``dst``."""
        import mlflow.artifacts

        local = self.read(
            lambda _c: mlflow.artifacts.download_artifacts(
                artifact_uri=artifact_uri,
                dst_path=str(dst),
                tracking_uri=self.uri,
                registry_uri=self.uri,
            ),
            DOWNLOAD_DEADLINE_S,
        )
        return Path(local)

    def list_uri(self, artifact_uri: str) -> list[str]:
        """Names of the artifacts directly under ``artifact_uri`` (a storage or ``runs:/`` URI)."""
        import mlflow.artifacts

        found = self.read(
            lambda _c: mlflow.artifacts.list_artifacts(
                artifact_uri=artifact_uri, tracking_uri=self.uri
            )
        )
        return [a.path.rsplit("/", 1)[-1] for a in found]

    # --------------------------------------------------------------------- registry
    def register(
        self,
        name: str,
        source: str,
        run_id: str,
        alias: str | None = None,
        model_id: str | None = None,
    ) -> str:
        """Register ``source`` (the run's model artifacts) as a new version of ``name``.

        ``model_id``: the MLflow 3 logged model it is (``source`` is then ``models:/<id>``).

        Returns
        -------
        str
            The new version number.
        """

        def create(client) -> None:
            try:
                client.create_registered_model(name)
            except Exception as exc:
                if "already exists" not in str(exc).lower():
                    raise

        self.call(create)
        version = self.call(
            lambda c: c.create_model_version(name, source, run_id=run_id, model_id=model_id)
        ).version
        if alias:
            self.call(lambda c: c.set_registered_model_alias(name, alias, str(version)))
        return str(version)

    def model_version(self, name: str, version: str | None = None, alias: str | None = None):
        """A registered model version, by number or by alias."""
        if alias is not None:
            return self.call(lambda c: c.get_model_version_by_alias(name, alias))
        return self.call(lambda c: c.get_model_version(name, str(version)))
