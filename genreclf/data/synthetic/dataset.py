"""Writing the synthetic set to disk, and the :class:`SyntheticGTZAN` data source."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from genreclf.core.params import Float, Int, Seed, Text
from genreclf.data.synthetic.render import GENERATOR_VERSION, GENRES, render_clip
from genreclf.data.tracks import Track, list_labelled_audio

logger = logging.getLogger(__package__)  # "genreclf.data.synthetic", as before the split

#: Name of the JSON marker, written last, that records the config of a finished folder.
MARKER_NAME: str = "synthetic_gtzan.json"


def dataset_config(*, clips_per_genre: int, duration: float, sr: int, seed: int) -> dict:
    """The settings that determine a synthetic dataset's bytes (stored in its marker)."""
    return {
        "generator": "genreclf.data.synthetic",
        "generator_version": GENERATOR_VERSION,
        "genres": list(GENRES),
        "clips_per_genre": int(clips_per_genre),
        "duration": float(duration),
        "sr": int(sr),
        "seed": int(seed),
    }


def config_hash(*, clips_per_genre: int, duration: float, sr: int, seed: int) -> str:
    """Short hex digest of :func:`dataset_config`, used as a folder name."""
    cfg = dataset_config(clips_per_genre=clips_per_genre, duration=duration, sr=sr, seed=seed)
    return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:12]


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_wav(path: Path, y: np.ndarray, sr: int) -> None:
    import soundfile as sf

    pcm = np.round(np.clip(y, -1.0, 1.0) * 32767.0).astype(np.int16)
    _atomic_write(path, lambda tmp: sf.write(tmp, pcm, sr, subtype="PCM_16", format="WAV"))


def _listing(audio_root: Path) -> set[str]:
    if not audio_root.is_dir():
        return set()
    return {
        f"{d.name}/{f.name}" for d in audio_root.iterdir() if d.is_dir() for f in d.iterdir()
    } | {f.name for f in audio_root.iterdir() if not f.is_dir()}


def _read_marker(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_dataset(root, *, clips_per_genre: int, duration: float, sr: int, seed: int) -> Path:
    """Write the synthetic set as ``<root>/genres_original/<genre>/<genre>.000NN.wav``.

    Files are 16-bit PCM WAV, written atomically, by one process at a time (a file lock
    ``<root>/.lock``: processes that start together on a new cache wait for the first
    one's clips instead of racing to write them). A JSON marker
    (:data:`MARKER_NAME`) holding :func:`dataset_config` is written into ``root``
    last; when it matches and the folder holds exactly the expected files, nothing
    is rendered. Otherwise the files are (re)written and stale clips of this
    generator (e.g. from a larger ``clips_per_genre``) are removed.

    Parameters
    ----------
    root : str or Path
        Output folder (created if needed). Prefer one folder per config, as
        :class:`SyntheticGTZAN` does.
    clips_per_genre : int > 0
    duration : float > 0
        Seconds per clip.
    sr : int > 0
        Sampling rate in Hz.
    seed : int >= 0

    Returns
    -------
    Path
        ``<root>/genres_original``.

    Raises
    ------
    ValueError
        If ``<root>/genres_original`` holds files this generator did not write.
    """
    if clips_per_genre < 1 or clips_per_genre > 99999:
        raise ValueError(f"clips_per_genre must be in [1, 99999], got {clips_per_genre}")
    from filelock import FileLock

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / ".lock")):
        return _write_dataset(root, clips_per_genre, duration, sr, seed)


def _write_dataset(root: Path, clips_per_genre: int, duration: float, sr: int, seed: int) -> Path:
    audio_root = root / "genres_original"
    marker = root / MARKER_NAME
    cfg = dataset_config(clips_per_genre=clips_per_genre, duration=duration, sr=sr, seed=seed)
    expected = {f"{g}/{g}.{i:05d}.wav" for g in GENRES for i in range(clips_per_genre)}
    if _read_marker(marker) == cfg and _listing(audio_root) == expected:
        return audio_root

    ours = re.compile(rf"^({'|'.join(GENRES)})/\.?\1\.\d{{5}}\.wav(\..*\.tmp)?$")
    stale = _listing(audio_root) - expected
    foreign = sorted(p for p in stale if not ours.match(p))
    if foreign:
        raise ValueError(f"{audio_root} holds files not written by this generator: {foreign[:5]}")
    marker.unlink(missing_ok=True)
    for p in stale:
        (audio_root / p).unlink(missing_ok=True)
    for genre in GENRES:
        (audio_root / genre).mkdir(parents=True, exist_ok=True)
        for i in range(clips_per_genre):
            y = render_clip(genre, i, duration=duration, sr=sr, seed=seed)
            _write_wav(audio_root / genre / f"{genre}.{i:05d}.wav", y, sr)
    text = json.dumps(cfg, indent=2, sort_keys=True) + "\n"
    _atomic_write(marker, lambda tmp: tmp.write_text(text))
    return audio_root


class SyntheticGTZAN:
    """Data source: a procedural toy GTZAN (SYNTHETIC audio, not real music).

    The clips live in ``<root>/<config_hash>/genres_original/``, one folder per
    config, so changing a setting never mixes files. They are rendered on the first
    call to :meth:`tracks` and reused afterwards.

    Parameters
    ----------
    root : str or Path
        Cache folder.
    clips_per_genre : int > 0
    duration : float > 0
        Seconds per clip.
    sr : int > 0
        Sampling rate in Hz.
    seed : int >= 0
    """

    synthetic: bool = True

    def __init__(
        self,
        root: Text,
        clips_per_genre: Int(ge=1, le=10_000),
        duration: Float(gt=0, le=600),
        sr: Int(ge=1000, le=192_000),
        seed: Seed,
    ):
        self.root = Path(root).expanduser()
        self.clips_per_genre = int(clips_per_genre)
        self.duration = float(duration)
        self.sr = int(sr)
        self.seed = int(seed)

    def _settings(self) -> dict:
        return {
            "clips_per_genre": self.clips_per_genre,
            "duration": self.duration,
            "sr": self.sr,
            "seed": self.seed,
        }

    @property
    def data_root(self) -> Path:
        """This config's folder, ``<root>/<config_hash>``."""
        return self.root / config_hash(**self._settings())

    def tracks(self) -> list[Track]:
        """Render the clips if needed and list them.

        Returns
        -------
        list of Track
            ``len(GENRES) * clips_per_genre`` tracks, sorted by label then name.
        """
        logger.warning(
            "Using SYNTHETIC data (procedural toy GTZAN, not real GTZAN music): "
            "%d genres x %d clips of %.1f s at %d Hz, seed %d, in %s",
            len(GENRES),
            self.clips_per_genre,
            self.duration,
            self.sr,
            self.seed,
            self.data_root,
        )
        audio_root = write_dataset(self.data_root, **self._settings())
        return list_labelled_audio(audio_root)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._settings().items())
        return f"SyntheticGTZAN(root={str(self.root)!r}, {args})"
