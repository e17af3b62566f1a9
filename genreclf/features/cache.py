"""Content-addressed feature cache on disk.

An entry's key is the SHA-256 of the audio file's bytes (so renaming or moving a file
still hits), the feature set's class and :meth:`~genreclf.features.sets.FeatureSet.params`,
the versions of the libraries that decode and transform audio, and
:data:`FEATURES_VERSION`. Entries live at ``<root>/<set name>/<key[:2]>/<key>.npy``
with a ``<key>.sha256`` sidecar holding the checksum of the ``.npy`` bytes; an entry
that fails to load, to match its checksum or the reader's check of its value (e.g.
shape and finiteness, see :meth:`FeatureCache.get`) is reported as a miss (and
removed), so it is recomputed. Files are written to a temporary name in the same
folder and moved into place with :func:`os.replace`, so readers never see half-written
entries.

Files known to be bad (unreadable, silent, too short...) can be remembered too, as
``<key>.bad`` text files holding the reason.

Concurrent writers (e.g. the jobs of a multirun sharing the cache) coordinate through
per-entry locks, ``<key>.lock`` files next to the entry (:meth:`FeatureCache.lock`): an
OS lock (``flock``) that the system releases when its holder dies, so a killed worker
never leaves an entry locked. The lock files stay (they are empty): removing one while
another process waits on it would let two processes hold "the" lock.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
from collections.abc import Callable
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from filelock import FileLock

from genreclf.core.params import Options, Text

logger = logging.getLogger(__name__)


class PathsOptions(Options):
    """``conf/paths/``: where genreclf keeps its caches (clips, features)."""

    cache_dir: Text


#: Bump when genreclf's feature code changes its outputs; invalidates every entry.
FEATURES_VERSION: str = "1"


def file_digest(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes, read as a stream.

    Raises
    ------
    OSError
        If the file cannot be read (e.g. FileNotFoundError).
    """
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "absent"


@cache
def library_versions() -> dict[str, str]:
    """Versions of the libraries whose changes may change features."""
    import soundfile

    return {
        "librosa": _version("librosa"),
        "soxr": _version("soxr"),
        "libsndfile": soundfile.__libsndfile_version__,
    }


def feature_key(audio_digest: str, feature_set, extra: dict | None = None) -> str:
    """Cache key of one file's features.

    Parameters
    ----------
    audio_digest : str
        :func:`file_digest` of the audio file.
    feature_set : FeatureSet
        The feature set (its class and ``params()`` enter the key).
    extra : dict, optional
        Anything else that changes the result.

    Returns
    -------
    str
        64 hex characters.
    """
    cls = type(feature_set)
    payload = {
        "audio": audio_digest,
        "set": f"{cls.__module__}.{cls.__qualname__}",
        "params": feature_set.params(),
        "libs": dict(library_versions()),
        "features_version": FEATURES_VERSION,
        "extra": extra or {},
    }
    blob = json.dumps(payload, sort_keys=True, default=repr).encode()
    return hashlib.sha256(blob).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FeatureCache:
    """Feature arrays (and known-bad files) stored under ``root``, by key.

    Parameters
    ----------
    root : str or Path
        Cache folder; created on first write.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, set_name: str, key: str, suffix: str = ".npy") -> Path:
        """Where the entry ``key`` of feature set ``set_name`` lives."""
        return self.root / set_name / key[:2] / f"{key}{suffix}"

    def lock(self, set_name: str, key: str) -> FileLock:
        """The lock of entry ``key`` (not yet acquired); its folder is created.

        Hold it while checking, computing and storing the entry, so that processes
        needing the same entry compute it once. Locks of different entries are
        independent; the OS releases a lock whose holder dies.
        """
        path = self.path(set_name, key, ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(path)

    def get(
        self,
        set_name: str,
        key: str,
        check: Callable[[np.ndarray], object] | None = None,
    ) -> np.ndarray | None:
        """The stored array, or None if absent or damaged (a damaged entry is removed).

        Parameters
        ----------
        set_name, key : str
            The entry.
        check : callable, optional
            Called with the loaded array; a ``ValueError`` it raises (e.g. wrong shape,
            NaN values) marks the entry damaged, like a checksum mismatch.
        """
        npy, sums = self.path(set_name, key), self.path(set_name, key, ".sha256")
        try:
            data = npy.read_bytes()
        except FileNotFoundError:
            return None
        try:
            expected = sums.read_text().strip()
            if hashlib.sha256(data).hexdigest() != expected:
                raise ValueError("checksum mismatch")
            value = np.load(io.BytesIO(data), allow_pickle=False)
            if check is not None:
                check(value)
            return value
        except (OSError, ValueError, EOFError) as exc:
            logger.warning("feature cache: damaged entry %s (%s); recomputing", npy, exc)
            npy.unlink(missing_ok=True)
            sums.unlink(missing_ok=True)
            return None

    def put(self, set_name: str, key: str, value: np.ndarray) -> Path:
        """Store ``value`` under ``key`` atomically; returns the ``.npy`` path."""
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(value), allow_pickle=False)
        data = buf.getvalue()
        npy = self.path(set_name, key)
        # The checksum goes first: an entry whose .npy is missing is a plain miss.
        _atomic_write(
            self.path(set_name, key, ".sha256"), hashlib.sha256(data).hexdigest().encode()
        )
        _atomic_write(npy, data)
        return npy

    def get_bad(self, set_name: str, key: str) -> str | None:
        """The recorded reason why the file of ``key`` yields no features, or None."""
        try:
            reason = self.path(set_name, key, ".bad").read_text().strip()
        except OSError:
            return None
        return reason or None

    def put_bad(self, set_name: str, key: str, reason: str) -> None:
        """Remember that the file of ``key`` yields no features, and why (one line)."""
        _atomic_write(self.path(set_name, key, ".bad"), " ".join(reason.split()).encode())
