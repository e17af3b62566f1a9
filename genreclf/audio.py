"""Audio loading: decode any supported file to a float32 signal, or say in one line why not.

Decoding goes through :func:`librosa.load`, which reads with soundfile (libsndfile:
WAV, AU, FLAC, OGG and, from libsndfile 1.1, MP3) and falls back to audioread for
what libsndfile cannot read. Resampling uses librosa's default (soxr, high quality).
With ``sr=None`` the result is bit-identical to ``librosa.load(path, sr=None)``.

A file name that is not UTF-8 (surrogate-escaped by Python, see :mod:`genreclf.core.filenames`)
is opened by its bytes, which soundfile accepts where it refuses such a ``str``; messages
name it by :func:`~genreclf.core.filenames.printable_name`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from genreclf.core.errors import one_line, printable
from genreclf.core.filenames import is_printable

#: Peak amplitude below which a signal counts as silent.
SILENCE_THRESHOLD: float = 1e-6


class AudioError(Exception):
    """A file that yields no usable audio.

    Parameters
    ----------
    path : str, Path or None
        The file, or ``None`` for a signal without a file (the message is then the reason).
    reason : str
        Why, in one line (newlines are collapsed).

    Attributes
    ----------
    path : str or None
        The file as given (possibly surrogate-escaped); the message shows its
        :func:`~genreclf.core.filenames.printable_name`, control characters as escapes
        (:func:`~genreclf.core.errors.printable`).
    reason : str
    """

    def __init__(self, path: str | Path | None, reason: str) -> None:
        self.path = None if path is None else str(path)
        self.reason = printable(" ".join(str(reason).split()))
        shown = None if self.path is None else printable(self.path)
        message = self.reason if shown is None else f"{shown}: {self.reason}"
        super().__init__(message)

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.path, self.reason))


def _decode_failure(exc: BaseException) -> str:
    """Why decoding failed, preferring libsndfile's own words over the fallback's."""
    import soundfile

    chain, seen = exc, set()
    while chain is not None and id(chain) not in seen:
        seen.add(id(chain))
        if isinstance(chain, soundfile.LibsndfileError):
            detail = " ".join(str(chain.error_string).split()).rstrip(".")
            if getattr(chain, "code", None) == 7:  # "File does not exist or is not a
                detail = "no decodable audio stream"  # regular file", said of garbage bytes
            fallback = "" if chain is exc else f"; audioread: {one_line(exc, named=True)}"
            return f"unreadable audio (libsndfile: {detail}{fallback})"
        chain = chain.__cause__ or chain.__context__
    return f"unreadable audio ({one_line(exc, named=True)})"


def _decode(path: Path, sr: int | None, mono: bool) -> tuple[np.ndarray, float]:
    """``librosa.load`` of ``path``, by its bytes where its name is not UTF-8.

    soundfile encodes a ``str`` name strictly, so a surrogate-escaped one fails before
    the file is opened; its bytes open it. librosa falls back to audioread for a ``str``
    only, so that fallback is done here for such a name.
    """
    import librosa

    if is_printable(path):
        return librosa.load(path, sr=sr, mono=mono)
    import soundfile

    try:
        return librosa.load(os.fsencode(path), sr=sr, mono=mono)
    except soundfile.SoundFileRuntimeError:
        import audioread

        with audioread.audio_open(str(path)) as reader:
            return librosa.load(reader, sr=sr, mono=mono)


def load_audio(
    path: str | Path,
    sr: int | None = None,
    mono: bool = True,
    min_duration: float = 0.5,
) -> tuple[np.ndarray, int]:
    """Load an audio file as float32, resampled and mixed down as asked.

    Parameters
    ----------
    path : str or Path
        A WAV, AU, MP3, OGG or FLAC file (anything libsndfile or audioread decodes),
        at any sampling rate and channel count.
    sr : int or None
        Target sampling rate; ``None`` keeps the file's native rate.
    mono : bool
        Mix down to one channel. If False, multi-channel audio is ``(channels, n)``.
    min_duration : float
        Shortest accepted duration in seconds.

    Returns
    -------
    y : np.ndarray
        ``(n,)`` if mono (or a mono file), else ``(channels, n)``; float32.
    sr : int
        Sampling rate of ``y``.

    Raises
    ------
    AudioError
        If the file is missing, empty, unreadable (corrupt or not audio), holds no
        samples, is silent (peak below :data:`SILENCE_THRESHOLD`), holds non-finite
        samples, or is shorter than ``min_duration``.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(path, "file not found")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # librosa warns when it falls back to audioread; the fallback is intended.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", FutureWarning)
            y, sr_out = _decode(path, sr, mono)
    except Exception as exc:  # soundfile, audioread and resampling errors all differ
        raise AudioError(path, _decode_failure(exc)) from exc

    n = y.shape[-1] if y.ndim else 0
    if y.size == 0 or n == 0:
        raise AudioError(path, "no audio samples")
    if not np.all(np.isfinite(y)):
        raise AudioError(path, "non-finite samples (NaN or inf)")
    if float(np.max(np.abs(y))) < SILENCE_THRESHOLD:
        raise AudioError(path, "silent (peak amplitude below 1e-6)")
    duration = n / sr_out
    if duration < min_duration:
        raise AudioError(path, f"too short ({duration:.3g} s < {min_duration:g} s)")
    return y, int(sr_out)
