"""numba's on-disk cache in a per-user folder (librosa's and seed174's ``cache=True`` kernels)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def default_numba_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/genreclf/numba``, by default ``~/.cache/genreclf/numba``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "genreclf" / "numba"


def use_numba_cache_dir(path: str | Path | None = None) -> str | None:
    """Point numba's on-disk cache at a per-user folder, unless ``NUMBA_CACHE_DIR`` is set.

    By default numba caches compiled ``cache=True`` functions next to their source,
    i.e. in librosa's package folder, shared by every user and run; parallel
    first-time compilation has left a damaged cache there that segfaulted every
    worker (in ``librosa.core.pitch._parabolic_interpolation``). With
    ``NUMBA_CACHE_DIR`` set (here to ``path`` or :func:`default_numba_cache_dir`),
    numba uses that folder instead, for librosa's kernels and for those of
    :mod:`genreclf.features.seed174` alike. A value the user set, even empty, is kept.

    Called by :class:`FeatureExtractor` when it is made and before workers start:
    workers inherit the variable. numba fixes a function's cache folder when the
    function is defined, so in this process it applies to modules imported afterwards
    (librosa and seed174 are imported lazily). If the folder cannot be created,
    nothing is set.

    Returns
    -------
    str or None
        The ``NUMBA_CACHE_DIR`` in effect, or None if unset.
    """
    if "NUMBA_CACHE_DIR" in os.environ:
        return os.environ["NUMBA_CACHE_DIR"]
    folder = Path(path) if path is not None else default_numba_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        logger.debug("numba cache folder %s unusable (%s); numba's default kept", folder, exc)
        return None
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    if "numba" in sys.modules:  # numba read its settings at import: re-read them
        try:
            sys.modules["numba"].core.config.reload_config()
        except AttributeError:
            pass
    return str(folder)
