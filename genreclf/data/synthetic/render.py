"""Room, recording colour and noise (mastering), and :func:`render_clip`."""

from __future__ import annotations

import functools
import math

import numpy as np

from genreclf.data.synthetic.recipes import CROSSOVER_PROBABILITY, NEIGHBOURS, RECIPES
from genreclf.data.synthetic.score import rms
from genreclf.data.synthetic.sound import F, Rng

GENRES: tuple[str, ...] = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)

#: Bump when the rendering changes, so cached folders of older output are not reused.
GENERATOR_VERSION: int = 2

_ROOM = {"classical": (0.25, 0.55), "jazz": (0.1, 0.35)}  # reverb wet range; others below


def _power(spec: np.ndarray) -> float:
    flat = spec.view(F) if spec.dtype == np.complex64 else np.abs(spec)
    return float(np.sum(flat * flat))


def _butter_gain(f: np.ndarray, fc: float, btype: str, order: int = 2) -> np.ndarray:
    """Magnitude response of a Butterworth low- or high-pass (applied with zero phase)."""
    ratio = f * F(1.0 / fc) if btype == "lowpass" else F(fc) / np.maximum(f, F(1e-3))
    power = ratio * ratio
    for _ in range(order - 1):
        power = power * ratio * ratio
    return 1.0 / np.sqrt(1.0 + power)


_ROOM_RT60 = (0.3, 0.45, 0.6, 0.8, 1.0, 1.2, 1.5)  # reverb times of the rooms, seconds


@functools.lru_cache(maxsize=32)
def _room(k: int, size: int, sr: int) -> np.ndarray:
    """Spectrum (``rfft`` of length ``size``) of room ``k``'s impulse response."""
    from scipy import fft

    n_ir = int(sr * _ROOM_RT60[k])
    noise = np.random.default_rng([GENERATOR_VERSION, k]).standard_normal(n_ir, dtype=F)
    ir = noise * np.exp(F(-6.9 / n_ir) * np.arange(n_ir, dtype=F))
    spec = fft.rfft(ir, size)
    spec.setflags(write=False)
    return spec


def _master(y: np.ndarray, rng: Rng, sr: int, genre: str) -> np.ndarray:
    """Room reverb, random recording EQ (tilt, band limits) and a noise floor.

    All in one pass in the frequency domain: the reverb is a convolution with a
    decaying-noise impulse response, the EQ a zero-phase gain curve, and the noise
    a coloured random spectrum at a random signal-to-noise ratio.
    """
    from scipy import fft

    size = fft.next_fast_len(len(y) + int(_ROOM_RT60[-1] * sr), real=True)
    f = fft.rfftfreq(size, 1.0 / sr).astype(F)
    spec = fft.rfft(y, size)
    room = _room(int(rng.integers(len(_ROOM_RT60))), size, sr)
    room = room * _butter_gain(f, rng.uniform(3000, 8000), "lowpass")
    wet = spec * room
    lo, hi = _ROOM.get(genre, (0.03, 0.3))
    power = _power(spec)
    gain = rng.uniform(lo, hi) * math.sqrt(power / (_power(wet) + 1e-12))
    spec = spec + gain * wet
    # Recording colour: low and high shelves of random gain, band limits.
    eq = (
        1.0
        + rng.uniform(-0.5, 1.0) * _butter_gain(f, rng.uniform(150, 500), "lowpass")
        + rng.uniform(-0.5, 0.8) * _butter_gain(f, rng.uniform(2000, 6000), "highpass")
    ) * _butter_gain(f, rng.uniform(20, 60), "highpass")
    if rng.random() < 0.35:
        eq = eq * _butter_gain(f, rng.uniform(4000, 10000), "lowpass")
    spec = spec * eq
    colour = rng.random()
    noise = rng.standard_normal(len(f), dtype=F) + 1j * rng.standard_normal(len(f), dtype=F)
    if colour < 0.3:  # hum-ish rumble
        noise = noise * _butter_gain(f, 400, "lowpass")
    elif colour < 0.6:  # tape hiss
        noise = noise * _butter_gain(f, 3000, "highpass")
    snr = 10 ** (rng.uniform(20, 45) / 10)
    power = _power(spec)
    noise = noise * math.sqrt(power / snr / (_power(noise) + 1e-12))
    return fft.irfft(spec + noise, size)[: len(y)]


def render_clip(genre: str, index: int, *, duration: float, sr: int, seed: int) -> np.ndarray:
    """Render one synthetic clip of ``genre``.

    Parameters
    ----------
    genre : str
        One of :data:`GENRES`.
    index : int >= 0
        Clip number within the genre.
    duration : float > 0
        Length in seconds; the clip has ``round(duration * sr)`` samples.
    sr : int > 0
        Sampling rate in Hz.
    seed : int >= 0
        Dataset seed. The clip depends only on ``(genre, index, duration, sr, seed)``.

    Returns
    -------
    np.ndarray [shape=(round(duration * sr),), dtype=float32]
        Mono audio with peak amplitude in [0.3, 0.9].

    Raises
    ------
    ValueError
        On an unknown genre or invalid numbers.
    """
    if genre not in GENRES:
        raise ValueError(f"unknown genre {genre!r}; expected one of {', '.join(GENRES)}")
    if index < 0 or seed < 0 or duration <= 0 or sr <= 0:
        raise ValueError("need index >= 0, seed >= 0, duration > 0 and sr > 0")
    n = int(round(duration * sr))
    rng = np.random.default_rng([int(seed), GENRES.index(genre), int(index)])
    score, levels = RECIPES[genre](rng, n, sr)
    y = score.mix(levels)
    if NEIGHBOURS[genre] and rng.random() < CROSSOVER_PROBABILITY:
        other = NEIGHBOURS[genre][int(rng.integers(len(NEIGHBOURS[genre])))]
        guest, guest_levels = RECIPES[other](rng, n, sr, clock=score)
        z = guest.mix(guest_levels)
        y = y / rms(y) + rng.uniform(0.2, 0.5) * z / rms(z)
    y = _master(y, rng, sr, genre)
    y = y[score.pre : score.pre + n]
    y = y * (rng.uniform(0.3, 0.9) / (np.abs(y).max() + 1e-12))
    return np.clip(y, -1.0, 1.0).astype(np.float32)
