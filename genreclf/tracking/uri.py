"""Tracking URIs as genreclf shows them: passwords masked, stores compared.

A password written into ``tracking.uri`` (``postgresql+psycopg2://user:secret@host/db``,
``http://user:secret@host:5000``) never leaves the process: every place genreclf writes
a URI (run params, logged configs, console lines, warnings, spool headers) writes
:func:`mask_uri` of it. Pass credentials in ``MLFLOW_TRACKING_USERNAME`` and
``MLFLOW_TRACKING_PASSWORD`` instead.

This module imports only the standard library (no MLflow, no torch).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: What a password is replaced with.
MASK = "***"
#: The store ``python -m genreclf.sync`` uploads to without ``--tracking-uri``: the
#: default of ``conf/tracking/default.yaml``.
DEFAULT_URI = "sqlite:///mlruns/mlflow.db"

#: ``scheme://user:password@`` anywhere in a text (a password may hold ``@``, not ``/``).
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]*):(?P<secret>[^\s/]*)@")
#: Query values that carry secrets (``?password=...``, ``&token=...``).
_QUERY = re.compile(
    r"(?P<head>[?&;](?:password|passwd|pwd|secret|token|access_token|api_key|apikey)=)"
    r"(?P<secret>[^&;#\s]*)",
    re.IGNORECASE,
)


def mask_uri(text: object) -> str:
    """``text`` with the password of every URI in it replaced by ``***``.

    Works on a URI or on a message holding URIs; text without one comes back as it is.

    Examples
    --------
    >>> mask_uri("postgresql+psycopg2://postgres:secret@127.0.0.1:5432/db")
    'postgresql+psycopg2://postgres:***@127.0.0.1:5432/db'
    >>> mask_uri("http://host:5000/?token=abc&x=1")
    'http://host:5000/?token=***&x=1'
    """
    out = _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@" if m["secret"] else m[0], str(text))
    return _QUERY.sub(lambda m: f"{m['head']}{MASK}" if m["secret"] else m[0], out)


def has_secret(uri: str) -> bool:
    """Whether ``uri`` holds a password that :func:`mask_uri` would hide."""
    return mask_uri(uri) != uri


def default_uri() -> str:
    """The default store: ``MLFLOW_TRACKING_URI``, else :data:`DEFAULT_URI`."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI


def _sqlite_file(uri: str) -> str | None:
    """The absolute database path of a ``sqlite:///`` URI, else ``None``."""
    match = re.match(r"sqlite(?:\+\w+)?:///([^?]*)", uri)
    if match is None or not match[1]:
        return None
    return os.path.abspath(Path(match[1]).expanduser())


def same_store(a: str, b: str) -> bool:
    """Whether two tracking URIs (either masked) name the same store.

    SQLite paths are compared as absolute paths (relative to the working folder).
    """
    files = _sqlite_file(a), _sqlite_file(b)
    if files[0] is not None or files[1] is not None:
        return files[0] == files[1]
    return mask_uri(a).rstrip("/") == mask_uri(b).rstrip("/")
