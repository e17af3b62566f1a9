"""Data sources: where the audio (or a precomputed feature table) comes from.

Each source in ``conf/data/`` is built with ``hydra.utils.instantiate`` and offers
either ``tracks()`` (a list of :class:`~genreclf.data.tracks.Track`) or
``frame()`` (a precomputed feature table as a :class:`pandas.DataFrame`). Data that
cannot be used as they are raise :class:`~genreclf.data.errors.DataError`.
"""

from genreclf.data.errors import DataError
from genreclf.data.tracks import AUDIO_EXTENSIONS, Track, list_labelled_audio

__all__ = ["AUDIO_EXTENSIONS", "DataError", "Track", "list_labelled_audio"]
