"""Tracks: labelled audio files, and listing them from a ``<root>/<label>/<file>`` tree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".au", ".mp3", ".ogg", ".flac")


@dataclass(frozen=True)
class Track:
    """One labelled audio file.

    Attributes
    ----------
    path : Path
        Location of the audio file.
    label : str
        Class label (the genre).
    track_id : str
        Stable identifier ``<label>/<file name>``, as in the original feature
        table's ``filename`` column. Rows and segments of one track share it.
    """

    path: Path
    label: str
    track_id: str


def list_labelled_audio(
    root: str | Path, extensions: tuple[str, ...] | list[str] = AUDIO_EXTENSIONS
) -> list[Track]:
    """List audio files in a ``<root>/<label>/<file>`` tree, sorted by label then name.

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
        raise FileNotFoundError(f"data root does not exist: {root}")
    exts = {e.lower() for e in extensions}
    tracks = [
        Track(path=f, label=d.name, track_id=f"{d.name}/{f.name}")
        for d in sorted(p for p in root.iterdir() if p.is_dir())
        for f in sorted(d.iterdir())
        if f.is_file() and f.suffix.lower() in exts
    ]
    if not tracks:
        raise FileNotFoundError(f"no audio files ({', '.join(sorted(exts))}) under {root}/<label>/")
    return tracks
