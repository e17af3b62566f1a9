"""Reading a model folder's files: only from inside it, with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class ModelLoadError(ValueError):
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
