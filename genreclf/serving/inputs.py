"""What a served model accepts from a client, and the one answer it gives to what it refuses.

A client sends audio bytes (``audio_base64``). A ``path`` on the server is read only when
the server was started with an allowed root folder in :data:`ROOT_ENV`, and only if it
resolves (symlinks followed) inside that root. A path that is outside the root, missing,
unreadable or not audio, and bytes that are not audio, all get :data:`CANNOT_CLASSIFY`,
so an answer tells a client nothing about the server's files.
"""

from __future__ import annotations

import os
from pathlib import Path

from genreclf.core.errors import GenreclfError
from genreclf.core.params import ExistingFolder, Options, validate

#: Environment variable naming the folder whose files ``path`` inputs may name.
ROOT_ENV = "GENRECLF_SERVE_ROOT"
#: The one answer to an input that cannot be classified, whatever the reason.
CANNOT_CLASSIFY = "cannot classify this input"
#: The answer to a ``path`` input when the server allows none.
PATHS_OFF = f"'path' inputs are off on this server (no {ROOT_ENV}); send 'audio_base64'"


class InputRefused(GenreclfError):
    """An input the server will not read; its message is what the client is told."""


class ServeOptions(Options):
    """The server's options, read from its environment when the model is loaded."""

    GENRECLF_SERVE_ROOT: ExistingFolder | None = None


def serve_root(environ: dict[str, str] | None = None) -> Path | None:
    """The resolved folder of :data:`ROOT_ENV`, or ``None`` when unset or empty.

    Raises
    ------
    ConfigError
        One line, if it names no existing folder.
    """
    value = (os.environ if environ is None else environ).get(ROOT_ENV) or None
    options = validate(ServeOptions, {ROOT_ENV: value})
    root = getattr(options, ROOT_ENV)
    return None if root is None else Path(root).expanduser().resolve(strict=True)


def allowed_path(path: str, root: Path | None) -> Path:
    """``path`` resolved (relative to ``root``, symlinks followed), if inside ``root``.

    Parameters
    ----------
    path : str
        As the client sent it.
    root : Path or None
        The resolved allowed folder (:func:`serve_root`); ``None`` allows no path.

    Raises
    ------
    InputRefused
        :data:`PATHS_OFF` without a root; :data:`CANNOT_CLASSIFY` for a path that cannot
        be resolved or resolves outside the root.
    """
    if root is None:
        raise InputRefused(PATHS_OFF)
    try:
        resolved = (root / path).resolve()
    except (OSError, ValueError, RuntimeError):  # NUL byte, symlink loop, too long
        raise InputRefused(CANNOT_CLASSIFY) from None
    if not resolved.is_relative_to(root):
        raise InputRefused(CANNOT_CLASSIFY)
    return resolved
