"""Tracks: labelled audio files, and listing them from a ``<root>/<label>/<file>`` tree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from genreclf.core.errors import MissingPathError
from genreclf.core.filenames import printable_name

AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".au", ".mp3", ".ogg", ".flac")


@dataclass(frozen=True)
class Track:
    """One labelled audio file.

    Attributes
    ----------
    path : Path
        Location of the audio file, as the operating system gave it (a name that is
        not UTF-8 is surrogate-escaped, see :mod:`genreclf.core.filenames`).
    label : str
        Class label (the genre), as text: a folder name that is not UTF-8 is its
        :func:`~genreclf.core.filenames.printable_name`.
    track_id : str
        Stable identifier ``<label>/<file name>``, as in the original feature
        table's ``filename`` column, as text (the file name's
        :func:`~genreclf.core.filenames.printable_name`). Rows and segments of one track
        share it.
    """

    path: Path
    label: str
    track_id: str


def list_labelled_audio(
    root: str | Path, extensions: tuple[str, ...] | list[str] = AUDIO_EXTENSIONS
) -> list[Track]:
    """List audio files in a ``<root>/<label>/<file>`` tree, sorted by label then name.

    Every name the operating system gives is listed, UTF-8 or not; labels and track
    ids are text (see :class:`Track`).

    Parameters
    ----------
    root : str or Path
        Folder whose sub-folders are the labels.
    extensions : sequence of str
        File suffixes (lower case, with the dot) counted as audio.

    Returns
    -------
    list of Track

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist or holds no labelled audio.
    """
    root = Path(root)
    if not root.is_dir():
        raise MissingPathError(f"data root does not exist: {printable_name(root)}")
    exts = {e.lower() for e in extensions}
    tracks = [
        _track(d.name, f)
        for d in sorted(p for p in root.iterdir() if p.is_dir())
        for f in sorted(d.iterdir())
        if f.is_file() and f.suffix.lower() in exts
    ]
    if not tracks:
        raise MissingPathError(
            f"no audio files ({', '.join(sorted(exts))}) under {printable_name(root)}/<label>/"
        )
    return tracks


def _track(folder: str, path: Path) -> Track:
    """The track of the file ``path`` in the label folder named ``folder``."""
    label = printable_name(folder)
    return Track(path=path, label=label, track_id=f"{label}/{printable_name(path.name)}")
