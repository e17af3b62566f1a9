"""Reading a model folder's files: only from inside it, at bounded sizes, with one-line errors.

The checks are :mod:`genreclf.core.untrusted`'s; here they are worded for a model package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genreclf.core.errors import ConfigError
from genreclf.core.untrusted import (
    NotInside,
    NotRegular,
    Refused,
    TooLarge,
    read_capped,
    resolve_inside,
)


class ModelLoadError(ConfigError):
    """A folder that is no usable genreclf model; the message is one line naming the file."""


def inside(folder: Path, name: Any, what: str) -> Path:
    """The file ``name`` of the package, refused unless it lies inside ``folder``.

    Raises
    ------
    ModelLoadError
        For an absolute path, ``..``, a link out of the folder, or a missing file.
    """
    if (
        not isinstance(name, str)
        or not name
        or Path(name).is_absolute()
        or ".." in Path(name).parts
    ):
        raise ModelLoadError(
            f"{folder}: {what} {name!r} is not a file name inside the model folder"
        )
    try:
        return resolve_inside(folder / name, folder)
    except NotInside:
        raise ModelLoadError(f"{folder / name}: {what} points outside the model folder") from None
    except Refused:
        raise ModelLoadError(f"{folder / name}: {what} is missing") from None


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """The bytes of ``path``, refused unread if it holds more than ``limit`` bytes.

    Raises
    ------
    ModelLoadError
        If the file is larger than ``limit`` or cannot be read.
    """
    try:
        return read_capped(path, limit)
    except TooLarge as exc:
        raise ModelLoadError(f"{path}: {exc}, too large for {what}") from None
    except NotRegular:
        raise ModelLoadError(f"{path}: {what} is not a regular file") from None
    except OSError as exc:
        raise ModelLoadError(f"{path}: {what} cannot be read ({exc.strerror})") from exc
