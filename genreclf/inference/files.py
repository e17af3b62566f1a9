"""Reading a model folder's files: only from inside it, at bounded sizes, with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genreclf.errors import ConfigError


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
    root = folder.resolve()
    path = (folder / name).resolve()
    if not path.is_relative_to(root):
        raise ModelLoadError(f"{folder / name}: {what} points outside the model folder")
    if not path.is_file():
        raise ModelLoadError(f"{folder / name}: {what} is missing")
    return path


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """The bytes of ``path``, refused unread if it holds more than ``limit`` bytes.

    Raises
    ------
    ModelLoadError
        If the file is larger than ``limit`` or cannot be read.
    """
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise ModelLoadError(f"{path}: {what} cannot be read ({exc.strerror})") from exc
    if len(data) > limit:
        raise ModelLoadError(f"{path}: larger than {limit:,} bytes, too large for {what}")
    return data
