"""Built-in procedural toy GTZAN: SYNTHETIC audio for the 10 GTZAN genre names, not real music.

Each genre is rendered from its own recipe (tempo range, drum pattern, bass line,
harmony, instrument timbre) with numpy and :mod:`scipy.signal`. Every clip draws its
tempo, key, voicing, mix levels, room, EQ and noise from a random generator seeded
by ``(seed, genre, index)``, so a clip depends only on its arguments. Recipes share
instruments on purpose (rock, metal and blues share overdriven guitar; disco and pop
share four-on-the-floor 4/4; country and blues share plucked guitar), and some clips
(:data:`CROSSOVER_PROBABILITY`) layer a related style's arrangement, quieter, on the
same beat grid, so that the set is learnable but not trivially separable.

It exists so the whole pipeline runs without downloading anything; figures measured
on it say nothing about real music.

Modules, each importing only from those above it:

- :mod:`~genreclf.data.synthetic.sound`: oscillators, envelopes, filters, plucked
  strings, noise and the drum voices;
- :mod:`~genreclf.data.synthetic.score`: the beat-grid :class:`~.score.Score` and
  arrangement helpers (overdrive, strumming, chord progressions);
- :mod:`~genreclf.data.synthetic.recipes`: the ten genre recipes and their related styles;
- :mod:`~genreclf.data.synthetic.render`: mastering (room, EQ, noise) and :func:`render_clip`;
- :mod:`~genreclf.data.synthetic.dataset`: :func:`write_dataset` and :class:`SyntheticGTZAN`.
"""

from genreclf.data.synthetic.dataset import (
    MARKER_NAME,
    SyntheticGTZAN,
    config_hash,
    dataset_config,
    write_dataset,
)
from genreclf.data.synthetic.recipes import CROSSOVER_PROBABILITY
from genreclf.data.synthetic.render import GENERATOR_VERSION, GENRES, render_clip

__all__ = [
    "CROSSOVER_PROBABILITY",
    "GENERATOR_VERSION",
    "GENRES",
    "MARKER_NAME",
    "SyntheticGTZAN",
    "config_hash",
    "dataset_config",
    "render_clip",
    "write_dataset",
]
