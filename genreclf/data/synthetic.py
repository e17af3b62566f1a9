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
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import signal

from genreclf.data.tracks import Track, list_labelled_audio

logger = logging.getLogger(__name__)

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

#: Name of the JSON marker, written last, that records the config of a finished folder.
MARKER_NAME: str = "synthetic_gtzan.json"

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_Rng = np.random.Generator
_F = np.float32  # synthesis runs in single precision: twice as fast, and plenty for 16-bit output


# --------------------------------------------------------------------------- helpers


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def _time(n: int, sr: int) -> np.ndarray:
    return np.arange(n, dtype=_F) / _F(sr)


def _chord(root: int, degree: int, scale: tuple[int, ...], size: int = 3) -> list[int]:
    """MIDI notes of the chord on ``degree`` (0-based) of ``scale``, stacking thirds."""
    steps = [degree + 2 * i for i in range(size)]
    return [root + scale[s % 7] + 12 * (s // 7) for s in steps]


@functools.lru_cache(maxsize=512)
def _butter(order: int, cutoff: tuple[float, ...], btype: str, sr: int) -> np.ndarray:
    wn = cutoff[0] if len(cutoff) == 1 else list(cutoff)
    return signal.butter(order, wn, btype=btype, fs=sr, output="sos").astype(_F)


def _sos_filter(x: np.ndarray, sr: int, btype: str, cutoff, order: int = 2) -> np.ndarray:
    """Butterworth filter; cutoffs are rounded to 10 Hz so designs can be reused."""
    cutoff = tuple(float(round(min(c, 0.45 * sr), -1)) for c in np.atleast_1d(cutoff))
    return signal.sosfilt(_butter(order, cutoff, btype, sr), np.asarray(x, dtype=_F))


@functools.lru_cache(maxsize=128)
def _env(n: int, sr: int, attack: float, tau: float, sustain: float = 0.0) -> np.ndarray:
    """Attack ramp, exponential decay to ``sustain``, and a 10 ms release at the end."""
    t = _time(n, sr)
    env = sustain + (1.0 - sustain) * np.exp(-np.maximum(t - attack, 0.0) / tau)
    if attack > 0:
        env *= np.minimum(1.0, t / attack)
    r = min(n, int(0.01 * sr))
    if r > 1:
        env[-r:] *= np.linspace(1.0, 0.0, r, dtype=_F)
    env.setflags(write=False)
    return env


def _osc(
    kind: str,
    freqs,
    n: int,
    sr: int,
    rng: _Rng,
    vibrato: float = 0.0,
    detune: float = 0.0,
) -> np.ndarray:
    """Sum of naive oscillators (``saw``, ``square``, ``tri``, ``sine``) at ``freqs``."""
    t = _time(n, sr)
    rate = rng.uniform(4.5, 6.0)
    wobble = np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)) if vibrato else None
    out = np.zeros(n, _F)
    for f in np.atleast_1d(freqs):
        for d in (-detune, detune) if detune else (0.0,):
            ff = float(f) * (1.0 + d)
            phase = ff * t + rng.random()
            if wobble is not None:
                phase = phase - ff * vibrato / (2 * np.pi * rate) * wobble
            frac = phase - np.floor(phase)  # much faster than % for arrays
            if kind == "saw":
                out += 2.0 * frac - 1.0
            elif kind == "square":
                out += np.where(frac < 0.5, _F(1), _F(-1))
            elif kind == "tri":
                out += 4.0 * np.abs(frac - 0.5) - 1.0
            else:
                out += np.sin(2 * np.pi * phase)
    return out


def _partials(freq: float, n: int, sr: int, amps, taus) -> np.ndarray:
    """Additive tone: harmonic ``k+1`` with amplitude ``amps[k]`` and decay ``taus[k]``."""
    return _partials_cached(float(freq), int(n), int(sr), tuple(amps), tuple(taus))


@functools.lru_cache(maxsize=64)
def _partials_cached(freq: float, n: int, sr: int, amps: tuple, taus: tuple) -> np.ndarray:
    x = _F(2 * np.pi * freq) * _time(n, sr)
    t = _time(n, sr)
    two_cos = 2.0 * np.cos(x)
    prev, cur = np.zeros(n, _F), np.sin(x)
    out = np.zeros(n, _F)
    for k, (a, tau) in enumerate(zip(amps, taus, strict=True)):
        if (k + 1) * freq >= sr / 2:
            break
        out += a * cur * np.exp(-t / tau)
        prev, cur = cur, two_cos * cur - prev  # sin((k+2)x) from sin((k+1)x) and sin(kx)
    out.setflags(write=False)
    return out


def _pluck(freq: float, n: int, sr: int, rng: _Rng, t60: float, bright: float) -> np.ndarray:
    """Karplus-Strong plucked string, computed one period (delay line) at a time."""
    period = max(2, int(round(sr / freq)))
    loss = 0.001 ** (1.0 / (t60 * freq))
    burst = rng.uniform(-1.0, 1.0, period)
    if bright < 1.0:  # a duller pick: smooth the excitation
        burst = signal.lfilter([1.0 - bright], [1.0, -bright], burst)
    z = np.zeros(n + 1 + period, _F)
    z[1 : period + 1] = burst - burst.mean()
    for s in range(period + 1, n + 1, period):
        e = min(s + period, n + 1)
        z[s:e] = 0.5 * loss * (z[s - period : e - period] + z[s - period - 1 : e - period - 1])
    y = z[1 : n + 1]
    return y / (np.abs(y).max() + 1e-12)


def _noise(n: int, rng: _Rng) -> np.ndarray:
    return rng.standard_normal(n, dtype=_F)


# ------------------------------------------------------------------------------ drums


def _kick(sr: int, rng: _Rng, heavy: float = 0.0) -> np.ndarray:
    n = int(sr * (0.3 + 0.4 * heavy))
    t = _time(n, sr)
    f_end = rng.uniform(45, 60) - 12 * heavy
    f = f_end + rng.uniform(90, 160) * np.exp(-t / rng.uniform(0.02, 0.04))
    body = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / (0.12 + 0.25 * heavy))
    click = _sos_filter(_noise(n, rng), sr, "highpass", 2000) * np.exp(-t / 0.004)
    return body + rng.uniform(0.1, 0.4) * click


def _snare(sr: int, rng: _Rng, tau: float | None = None) -> np.ndarray:
    n = int(sr * 0.35)
    t = _time(n, sr)
    tau = tau if tau is not None else rng.uniform(0.08, 0.16)
    tone = np.sin(2 * np.pi * rng.uniform(170, 230) * t) * np.exp(-t / 0.05)
    rattle = _sos_filter(_noise(n, rng), sr, "bandpass", [1500, 8000]) * np.exp(-t / tau)
    return 0.6 * tone + rng.uniform(0.5, 1.0) * rattle


def _clap(sr: int, rng: _Rng) -> np.ndarray:
    n = int(sr * 0.25)
    t = _time(n, sr)
    env = np.exp(-t / 0.06)
    for k in range(1, 4):
        env += np.exp(-np.abs(t - k * 0.01) / 0.003)
    return _sos_filter(_noise(n, rng), sr, "bandpass", [900, 4000]) * env


def _rim(sr: int, rng: _Rng) -> np.ndarray:
    n = int(sr * 0.08)
    t = _time(n, sr)
    tone = np.sin(2 * np.pi * rng.uniform(400, 550) * t) + 0.5 * _noise(n, rng)
    return _sos_filter(tone, sr, "bandpass", [300, 3000]) * np.exp(-t / 0.015)


def _hat(sr: int, rng: _Rng, tau: float) -> np.ndarray:
    n = int(sr * min(1.0, 6 * tau))
    t = _time(n, sr)
    cutoff = min(rng.uniform(6000, 9000), 0.45 * sr)
    return _sos_filter(_noise(n, rng), sr, "highpass", cutoff) * np.exp(-t / tau)


def _cymbal(sr: int, rng: _Rng, tau: float, ping: float) -> np.ndarray:
    """Ride (``ping`` near 1: metallic partials) or crash (``ping`` near 0: mostly noise)."""
    n = int(sr * min(1.5, 4 * tau))
    t = _time(n, sr)
    base = rng.uniform(350, 500)
    partials = np.zeros(n, _F)
    for r in (1.0, 1.47, 1.73, 2.12, 2.61, 3.37):  # square waves at inharmonic ratios
        phase = base * r * t + rng.random()
        partials += np.where(phase - np.floor(phase) < 0.5, _F(1), _F(-1))
    mix = ping * partials / 6 + (1 - ping) * _noise(n, rng)
    cutoff = min(3000.0, 0.45 * sr)
    return _sos_filter(mix, sr, "highpass", cutoff, order=4) * np.exp(-t / tau)


# ---------------------------------------------------------------------------- scoring


class _Score:
    """Event buffers (one per track) laid out on a beat grid; beats are quarter notes.

    The clip starts ``offset`` seconds into bar 1; buffers begin ``PRE`` seconds
    earlier (so filters and reverb are settled at the clip start) and end shortly
    after the clip.
    """

    PRE, POST = 0.5, 0.25

    def __init__(self, rng: _Rng, n: int, sr: int, bpm: float, clock: _Score | None = None):
        offset = rng.uniform(0.0, 4.0)  # in beats
        if clock is not None:  # share another score's beat grid
            bpm, offset = clock.bpm, clock.offset / clock.spb
        self.rng, self.n, self.sr, self.bpm = rng, n, sr, bpm
        self.spb = 60.0 / bpm
        self.offset = offset * self.spb
        self.pre = int(self.PRE * sr)
        self.length = self.pre + n + int(self.POST * sr)
        self.n_bars = int(np.ceil((self.offset + n / sr + self.POST) / (4 * self.spb)))
        self.tracks: dict[str, np.ndarray] = {}
        self._cache: dict[tuple, np.ndarray] = {}

    def add(self, track: str, x: np.ndarray, beat: float, gain: float = 1.0, jitter=0.006):
        t = beat * self.spb + (self.rng.normal(0.0, jitter) if jitter else 0.0)
        start = int(round((t - self.offset) * self.sr)) + self.pre
        if start < 0:
            x, start = x[-start:], 0
        end = min(start + len(x), self.length)
        if end <= start:
            return
        if track not in self.tracks:
            self.tracks[track] = np.zeros(self.length, _F)
        self.tracks[track][start:end] += gain * x[: end - start]

    def osc(self, kind: str, freqs, n: int, vibrato: float = 0.0, detune: float = 0.0):
        """:func:`_osc`, rendered once per distinct note in this clip (a sampler)."""
        key = ("osc", kind, tuple(np.atleast_1d(freqs).tolist()), n, vibrato, detune)
        if key not in self._cache:
            self._cache[key] = _osc(kind, freqs, n, self.sr, self.rng, vibrato, detune)
        return self._cache[key]

    def pluck(self, freq: float, n: int, t60: float, bright: float) -> np.ndarray:
        """:func:`_pluck`, rendered once per distinct note in this clip."""
        key = ("pluck", freq, n, t60, bright)
        if key not in self._cache:
            self._cache[key] = _pluck(freq, n, self.sr, self.rng, t60, bright)
        return self._cache[key]

    def hits(self, track: str, sample: np.ndarray, beats, gain: float = 1.0, vel=0.15):
        for b in beats:
            self.add(track, sample, b, gain * (1.0 + self.rng.uniform(-vel, vel)))

    def grid(self, pattern, bars: int | None = None, swing: float = 0.5) -> list[float]:
        """Beat positions of ``pattern`` (in beats within a bar) repeated over all bars.

        Off-beat eighths (``x.5``) move to ``x + swing`` (0.5 is straight, 2/3 a triplet).
        """
        out = []
        for bar in range(bars if bars is not None else self.n_bars):
            for p in pattern:
                whole, frac = divmod(p, 1.0)
                if abs(frac - 0.5) < 1e-9:
                    p = whole + swing
                out.append(4.0 * bar + p)
        return out

    def notes(self, n_beats: float) -> int:
        return max(1, int(n_beats * self.spb * self.sr))

    def mix(self, levels: dict[str, float]) -> np.ndarray:
        """Sum of tracks at RMS = recipe level times a random mix level.

        Each track but the drums and the one of highest level is sometimes left out
        (a sparse arrangement).
        """
        out = np.zeros(self.length, _F)
        if not self.tracks:
            return out
        lead = max(self.tracks, key=lambda name: levels.get(name, 1.0))
        for name, buf in self.tracks.items():
            rms = float(np.sqrt(np.mean(buf**2)))
            keep = name in (lead, "drums") or self.rng.random() > 0.2
            if rms > 0 and keep:
                out += levels.get(name, 1.0) * self.rng.uniform(0.35, 1.7) * buf / rms
        return out


def _drive(x: np.ndarray, sr: int, drive: float, cab: float) -> np.ndarray:
    """Amp distortion: pre-emphasis, ``tanh`` clipping, cabinet low-pass."""
    x = x / (np.abs(x).max() + 1e-12)
    x = _sos_filter(x, sr, "highpass", 120)
    return _sos_filter(np.tanh(drive * x), sr, "lowpass", min(cab, 0.45 * sr), order=4)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) + 1e-12


def _progression(rng: _Rng, options) -> list[int]:
    return list(options[rng.integers(len(options))])


def _strum(score: _Score, track: str, notes, beat, n, t60, bright, down=True, gain=1.0):
    rng = score.rng
    spread = rng.uniform(0.006, 0.02) / score.spb
    order = notes if down else notes[::-1]
    for k, m in enumerate(order):
        x = score.pluck(_hz(m), n, t60, bright)
        score.add(track, x, beat + k * spread, gain * rng.uniform(0.7, 1.0), jitter=0.0)


# ---------------------------------------------------------------------------- recipes


def _blues(rng: _Rng, n: int, sr: int, clock=None) -> tuple[_Score, dict[str, float]]:
    s = _Score(rng, n, sr, rng.uniform(65, 120), clock)
    swing = rng.uniform(0.62, 0.7)
    key = 40 + int(rng.integers(0, 8))  # E2..B2
    twelve = [0, 0, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7]
    start = int(rng.integers(0, 12))
    kick, snare = _kick(sr, rng), _snare(sr, rng)
    hat = _hat(sr, rng, rng.uniform(0.03, 0.08))
    s.hits("drums", kick, s.grid([0, 2]))
    s.hits("drums", snare, s.grid([1, 3]), 0.8)
    s.hits("drums", hat, s.grid([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5], swing=swing), 0.35)
    overdriven = rng.random() < 0.5
    riff = [7, 7, 9, 9, 7, 7, 10, 9]  # boogie shuffle: fifth, sixth, flat seventh
    for bar in range(s.n_bars):
        root = key + twelve[(start + bar) % 12]
        for k in range(8):
            beat = 4 * bar + k // 2 + (swing if k % 2 else 0.0)
            notes = [root, root + riff[k]]
            length = s.notes(0.5)
            if overdriven:
                x = s.osc("saw", [_hz(m) for m in notes], length) * _env(
                    length, sr, 0.005, 0.25, 0.3
                )
                s.add("guitar", x, beat)
            else:
                _strum(s, "guitar", notes, beat, length, 0.8, 0.7)
        chord = [root + 12, root + 16, root + 19, root + 22]  # dominant seventh
        length = s.notes(rng.choice([2.0, 4.0]))
        comp = sum(_partials(_hz(m), length, sr, [1, 0.5, 0.25], [0.8, 0.4, 0.2]) for m in chord)
        s.add("keys", comp, 4 * bar + rng.choice([0.0, 1.0 + swing - 0.5]))
        for b, step in enumerate((0, 4, 7, 9)):
            length = s.notes(0.9)
            x = _partials(_hz(root - 12 + step), length, sr, [1, 0.4], [0.4, 0.2])
            s.add("bass", x, 4 * bar + b)
    if overdriven:
        s.tracks["guitar"] = _drive(s.tracks["guitar"], sr, rng.uniform(1.5, 8), 4500)
    return s, {"drums": 0.5, "guitar": 1.0, "keys": 0.35, "bass": 0.7}


def _classical(rng: _Rng, n: int, sr: int, clock=None) -> tuple[_Score, dict[str, float]]:
    s = _Score(rng, n, sr, rng.uniform(50, 100), clock)
    minor = rng.random() < 0.5
    scale = _MINOR if minor else _MAJOR
    key = 48 + int(rng.integers(0, 12))
    prog = _progression(rng, [(0, 3, 4, 0), (0, 5, 3, 4), (0, 1, 4, 0), (0, 3, 1, 4), (5, 3, 0, 4)])
    bar_beats = float(rng.choice([4.0, 8.0]))
    piano = rng.random() < 0.3
    cutoff = rng.uniform(1500, 3500)
    attack = rng.uniform(0.25, 0.6)
    for i in range(int(np.ceil(s.n_bars * 4 / bar_beats))):
        chord = _chord(key, prog[i % len(prog)], scale, 3)
        voicing = [chord[0] - 12] + chord + [chord[1] + 12]
        length = s.notes(bar_beats + 1.0)  # legato overlap into the next chord
        pad = s.osc("saw", [_hz(m) for m in voicing], length, vibrato=0.004)
        pad = pad * _env(length, sr, attack, 1.0, 0.85)
        s.add("strings", pad, i * bar_beats, jitter=0.0)
        pool = chord + [chord[0] + 12, chord[1] + 12]
        step = float(rng.choice([1.0, 2.0])) if not piano else 0.5
        for j in range(int(bar_beats / step)):
            m = int(rng.choice(pool)) + 12
            length = s.notes(step * 1.1)
            if piano:
                x = _partials(_hz(m), length, sr, [1, 0.4, 0.2, 0.1], [0.8, 0.5, 0.3, 0.2])
                s.add("melody", x, i * bar_beats + j * step)
            else:
                x = s.osc("saw", _hz(m), length, vibrato=0.008)
                s.add("melody", x * _env(length, sr, 0.12, 1.0, 0.8), i * bar_beats + j * step)
    s.tracks["strings"] = _sos_filter(s.tracks["strings"], sr, "lowpass", cutoff)
    s.tracks["melody"] = _sos_filter(s.tracks["melody"], sr, "lowpass", cutoff * 1.3)
    return s, {"strings": 1.0, "melody": 0.6}


def _country(rng: _Rng, n: int, sr: int, clock=None) -> tuple[_Score, dict[str, float]]:
    s = _Score(rng, n, sr, rng.uniform(85, 145), clock)
    key = 40 + int(rng.integers(0, 8))
    prog = _progression(rng, [(0, 3, 4, 0), (0, 0, 3, 4), (0, 4, 0, 3)])
    kick, snare = _kick(sr, rng), _snare(sr, rng, rng.uniform(0.05, 0.1))
    s.hits("drums", kick, s.grid([0, 2]), 0.6)
    s.hits("drums", snare, s.grid([1, 3]), 0.5)
    s.hits("drums", _hat(sr, rng, 0.03), s.grid([0.5, 1.5, 2.5, 3.5]), 0.2)
    lead = rng.random() < 0.6
    for bar in range(s.n_bars):
        chord = _chord(key, prog[bar % len(prog)], _MAJOR, 3)
        root = chord[0]
        for b, bass in ((0, root - 12), (2, root - 5)):  # boom: root, then the fifth below
            s.add("bass", s.pluck(_hz(bass), s.notes(1.5), 0.8, 0.5), 4 * bar + b)
        strings = [root, root + 7, chord[1] + 12, chord[2] + 12, root + 24]
        for b in (1, 3):  # chick
            _strum(s, "guitar", strings[1:], 4 * bar + b, s.notes(0.8), 0.4, 0.95)
        if lead:
            penta = [0, 2, 4, 7, 9, 12]
            for k in range(8):
                if rng.random() < 0.6:
                    m = key + 24 + penta[int(rng.integers(len(penta)))]
                    x = s.pluck(_hz(m), s.notes(0.6), 1.0, 0.98)
                    s.add("lead", x, 4 * bar + 0.5 * k)
    s.tracks["guitar"] = _sos_filter(s.tracks["guitar"], sr, "highpass", 150)
    if rng.random() < 0.25:  # country rock: the rhythm guitar through an amp
        s.tracks["guitar"] = _drive(s.tracks["guitar"], sr, rng.uniform(1.5, 5), 5000)
    return s, {"drums": 0.4, "bass": 0.8, "guitar": 0.9, "lead": 0.6}


def _disco(rng: _Rng, n: int, sr: int, clock=None) -> tuple[_Score, dict[str, float]]:
    s = _Score(rng, n, sr, rng.uniform(105, 132), clock)
    minor = rng.random() < 0.5
    scale = _MINOR if minor else _MAJOR
    key = 45 + int(rng.integers(0, 10))
    prog = _progression(rng, [(0, 3), (0, 5, 1, 4), (0, 0, 3, 4), (1, 4)])
    kick = _kick(sr, rng)
    s.hits("drums", kick, s.grid([0, 1, 2, 3]))  # four on the floor
    s.hits("drums", _hat(sr, rng, rng.uniform(0.12, 0.25)), s.grid([0.5, 1.5, 2.5, 3.5]), 0.6)
    s.hits("drums", _hat(sr, rng, 0.025), s.grid(np.arange(0, 4, 0.25)), 0.2)
    s.hits("drums", _clap(sr, rng) if rng.random() < 0.5 else _snare(sr, rng), s.grid([1, 3]))
    pad = rng.random() < 0.6
    for bar in range(s.n_bars):
        chord = _chord(key, prog[bar % len(prog)], scale, 4 if rng.random() < 0.5 else 3)
        root = chord[0] - 12
        for k in range(8):  # octave bass on eighths
            m = root if k % 2 == 0 else root + 12
            length = s.notes(0.45)
            x = s.osc("saw", _hz(m), length) * _env(length, sr, 0.003, 0.12, 0.2)
            s.add("bass", x, 4 * bar + 0.5 * k)
        voicing = [m + 12 for m in chord]
        if pad:
            length = s.notes(4.2)
            x = s.osc("saw", [_hz(m) for m in voicing], length, vibrato=0.004, detune=0.003)
            s.add("strings", x * _env(length, sr, 0.1, 1.0, 0.8), 4 * bar, jitter=0.0)
        for k in range(16):  # chicken-scratch guitar on sixteenths
            if rng.random() < 0.45:
                _strum(s, "guitar", voicing[:3], 4 * bar + 0.25 * k, s.notes(0.2), 0.15, 0.9)
    s.tracks["bass"] = _sos_filter(s.tracks["bass"], sr, "lowpass", rng.uniform(600, 1500))
    if "strings" in s.tracks:
        s.tracks["strings"] = _sos_filter(s.tracks["strings"], sr, "lowpass", 4000)
    return s, {"drums": 0.7, "bass": 0.8, "strings": 0.45, "guitar": 0.4}


def _hiphop(rng: _Rng, n: int, sr: int, clock=None) -> tuple[_Score, dict[str, float]]:
    s = _Score(rng, n, sr, rng.uniform(70, 100), clock)
    swing = rng.uniform(0.5, 0.6)
    key = 45 + int(rng.integers(0, 10))
    prog = _progression(rng, [(0, 5), (0, 3), (0, 0, 5, 4), (0, 2)])
    kick_pattern = [[0, 1.75, 2.5], [0, 0.75, 2.5], [0, 2, 2.75], [0, 1.5, 2.25, 3.5]]
    s.hits("drums", _kick(sr, rng, heavy=1.0), s.grid(kick_pattern[rng.integers(4)]), 1.2)
    s.hits("drums", _snare(sr, rng, rng.uniform(0.12, 0.2)), s.grid([1, 3]), 1.0)
    hats = [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]
    s.hits("drums", _hat(sr, rng, 0.03), s.grid(hats, swing=swing), 0.25)
    for bar in range(s.n_bars):
        chord = _chord(key, prog[bar % len(prog)], _MINOR, 4)
        length = s.notes(3.5)
        t = _time(length, sr)
        f0 = _hz(chord[0] - 24)
        glide = f0 * (1 + 0.3 * np.exp(-t / 0.03))  # 808: a sine that drops into pitch
        sub = np.sin(2 * np.pi * np.cumsum(glide) / sr) * _env(length, sr, 0.005, 1.2, 0.3)
        s.add("sub", sub, 4 * bar)
        length = s.notes(2.0)
        for half in (0, 2):
            keys = sum(_partials(_hz(m), length, sr, [1, 0.3, 0.1], [0.9, 0.4, 0.2]) for m in chord)
            s.add("keys", keys, 4 * bar + half + rng.choice([0.0, 0.5]))
    s.tracks["keys"] = _sos_filter(s.tracks["keys"], sr, "lowpass", rng.uniform(1200, 3000))
    crackle = np.zeros(s.length, _F)
    pos = rng.integers(0, s.length, int(s.length / sr * rng.uniform(5, 30)))
    crackle[pos] = rng.uniform(-1, 1, len(pos))
    s.tracks["vinyl"] = _sos_filter(crackle, sr, "highpass", 2000)
    return s, {"drums": 0.8, "sub": 1.0, "keys": 0.35, "vinyl": 0.05}


def _jazz(rng: _Rng, n: int, sr: int, clock=None) -> tuple[_Score, dict[str, float]]:
    s = _Score(rng, n, sr, rng.uniform(90, 210), clock)
    swing = rng.uniform(0.6, 0.7)
    key = 48 + int(rng.integers(0, 12))
    prog = _progression(rng, [(1, 4, 0, 5), (1, 4, 0, 0), (0, 5, 1, 4), (2, 5, 1, 4)])
    ride = _cymbal(sr, rng, rng.uniform(0.5, 0.9), rng.uniform(0.6, 0.9))
    s.hits("drums", ride, s.grid([0, 1, 1.5, 2, 3, 3.5], swing=swing), 0.4)  # ding, ding-a
    s.hits("drums", _hat(sr, rng, 0.02), s.grid([1, 3]), 0.3)  # hi-hat foot on 2 and 4
    s.hits("drums", _kick(sr, rng), s.grid([0, 1, 2, 3]), 0.12)  # feathered kick
    snare = _snare(sr, rng)
    horn = rng.random() < 0.5
    roots = [_chord(key, prog[b % len(prog)], _MAJOR, 4) for b in range(s.n_bars + 1)]
    for bar in range(s.n_bars):
        chord = roots[bar]
        nxt = roots[bar + 1][0]
        bass_line = [
            chord[0],
            int(rng.choice(chord[1:])),
            int(rng.choice(chord)),
            nxt + int(rng.choice([-1, 1])),
        ]
        for b, m in enumerate(bass_line):  # walking bass, ends on a chromatic approach
            length = s.notes(1.0)
            x = _partials(_hz(m - 24), length, sr, [1, 0.5, 0.15], [0.5, 0.25, 0.1])
            s.add("bass", x * _env(length, sr, 0.01, 10.0, 1.0), 4 * bar + b)
        voicing = [chord[0], chord[1], chord[3], chord[2] + 12]  # rootless-ish shell
        for p in rng.choice([0.0, 1.5, 2.0, 3.5, 2.5], size=int(rng.integers(1, 3)), replace=False):
            p = float(p)
            beat = np.floor(p) + (swing if p % 1 else 0.0)
            length = s.notes(1.0)
            comp = sum(
                _partials(_hz(m), length, sr, [1, 0.35, 0.1], [0.6, 0.3, 0.15]) for m in voicing
            )
            s.add("piano", comp, 4 * bar + beat)
        if rng.random() < 0.4:
            s.add("drums", snare, 4 * bar + 2 + swing, 0.15)
        if horn:
            for k in range(4):
                if rng.random() < 0.7:
                    m = int(rng.choice(chord)) + 12
                    length = s.notes(rng.choice([0.6, 1.0]))
                    x = s.osc("saw", _hz(m), length, vibrato=0.01)
                    s.add("horn", x * _env(length, sr, 0.04, 0.8, 0.6), 4 * bar + k)
    if "horn" in s.tracks:
        s.tracks["horn"] = _sos_filter(s.tracks["horn"], sr, "lowpass", rng.uniform(1500, 3000))
    return s, {"drums": 0.35, "bass": 0.9, "piano": 0.55, "horn": 0.45}


def _metal(rng: _Rng, n: int, sr: int, clock=None) -> tuple[_Score, dict[str, float]]:
    s = _Score(rng, n, sr, rng.uniform(120, 210), clock)
    key = 38 + int(rng.integers(0, 7))  # D2..G#2, tuned low
    riff_scale = [0, 1, 3, 5, 6, 7, 10]  # phrygian-ish
    sixteenths = s.bpm < 170
    kick_grid = np.arange(0, 4, 0.25 if sixteenths else 0.5)
    s.hits("drums", _kick(sr, rng), s.grid(kick_grid), 0.8)  # double kick
    blast = rng.random() < 0.3
    s.hits("drums", _snare(sr, rng), s.grid([0.5, 1.5, 2.5, 3.5] if blast else [1, 3]), 0.9)
    s.hits("drums", _cymbal(sr, rng, 1.0, 0.1), s.grid([0]), 0.7)
    s.hits("drums", _cymbal(sr, rng, 0.3, 0.3), s.grid([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]), 0.4)
    step = 0.25 if sixteenths else 0.5
    for bar in range(s.n_bars):
        for k in range(int(4 / step)):
            if rng.random() < 0.7:
                root, length, tau = key, s.notes(step * 0.9), 0.05  # palm-muted chug
            else:
                root = key + riff_scale[int(rng.integers(1, len(riff_scale)))]
                length, tau = s.notes(step * 2), 0.5
            notes = [_hz(root), _hz(root + 7), _hz(root + 12)]  # power chord
            x = s.osc("saw", notes, length, detune=0.003)
            s.add("guitar", x * _env(length, sr, 0.002, tau, 0.2), 4 * bar + k * step, jitter=0.003)
            xb = s.osc("saw", _hz(root - 12), length) * _env(length, sr, 0.002, tau, 0.3)
            s.add("bass", xb, 4 * bar + k * step, jitter=0.003)
    s.tracks["guitar"] = _drive(s.tracks["guitar"], sr, rng.uniform(5, 40), rng.uniform(4000, 7000))
    s.tracks["bass"] = _drive(s.tracks["bass"], sr, 3.0, 1500)
    return s, {"drums": 0.8, "guitar": 1.0, "bass": 0.6}


def _pop(rng: _Rng, n: int, sr: int, clock=None) -> tuple[_Score, dict[str, float]]:
    s = _Score(rng, n, sr, rng.uniform(90, 130), clock)
    key = 48 + int(rng.integers(0, 12))
    prog = _progression(rng, [(0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4), (0, 3, 4, 3)])
    four_floor = rng.random() < 0.3
    kick_beats = [0, 1, 2, 3] if four_floor else [0, 2, 2.5] if rng.random() < 0.5 else [0, 2]
    s.hits("drums", _kick(sr, rng), s.grid(kick_beats))
    s.hits("drums", _clap(sr, rng) if rng.random() < 0.6 else _snare(sr, rng), s.grid([1, 3]))
    s.hits("drums", _hat(sr, rng, 0.04), s.grid([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]), 0.35)
    stabs = rng.random() < 0.5
    lead = rng.random() < 0.7
    penta = [0, 2, 4, 7, 9, 12]
    for bar in range(s.n_bars):
        chord = _chord(key, prog[bar % len(prog)], _MAJOR, 3)
        voicing = chord + [chord[0] + 12]
        if stabs:
            for k in range(8):
                length = s.notes(0.4)
                x = s.osc("saw", [_hz(m) for m in voicing], length, detune=0.004)
                s.add("synth", x * _env(length, sr, 0.005, 0.2, 0.3), 4 * bar + 0.5 * k)
        else:
            length = s.notes(4.1)
            x = s.osc("saw", [_hz(m) for m in voicing], length, detune=0.005)
            s.add("synth", x * _env(length, sr, 0.02, 1.0, 0.7), 4 * bar, jitter=0.0)
        for k in range(8):
            length = s.notes(0.45)
            x = s.osc("square", _hz(chord[0] - 24), length)
            s.add("bass", x * _env(length, sr, 0.003, 0.2, 0.5), 4 * bar + 0.5 * k)
        if lead:
            for k in range(int(rng.integers(3, 7))):
                m = key + 12 + penta[int(rng.integers(len(penta)))]
                length = s.notes(0.5)
                x = s.osc("square", _hz(m), length, vibrato=0.005)
                s.add("lead", x * _env(length, sr, 0.01, 0.4, 0.5), 4 * bar + 0.5 * k)
    s.tracks["synth"] = _sos_filter(s.tracks["synth"], sr, "lowpass", rng.uniform(5000, 9000))
    if rng.random() < 0.3:  # pop rock: the chords on an overdriven guitar
        s.tracks["synth"] = _drive(s.tracks["synth"], sr, rng.uniform(2, 6), 5000)
    s.tracks["bass"] = _sos_filter(s.tracks["bass"], sr, "lowpass", 800)
    if "lead" in s.tracks:
        s.tracks["lead"] = _sos_filter(s.tracks["lead"], sr, "lowpass", 5000)
    return s, {"drums": 0.6, "synth": 0.6, "bass": 0.7, "lead": 0.4}


def _reggae(rng: _Rng, n: int, sr: int, clock=None) -> tuple[_Score, dict[str, float]]:
    s = _Score(rng, n, sr, rng.uniform(60, 95), clock)
    swing = rng.uniform(0.5, 0.6)
    minor = rng.random() < 0.5
    scale = _MINOR if minor else _MAJOR
    key = 45 + int(rng.integers(0, 10))
    prog = _progression(rng, [(0, 3), (0, 4), (0, 3, 4, 0), (0, 5)])
    kick, rim = _kick(sr, rng), _rim(sr, rng)
    steppers = rng.random() < 0.25
    s.hits("drums", kick, s.grid([0, 1, 2, 3] if steppers else [2]))  # one drop on beat 3
    s.hits("drums", rim, s.grid([2]), 0.8)
    s.hits("drums", _hat(sr, rng, 0.04), s.grid([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5], swing=swing), 0.3)
    organ = rng.random() < 0.4
    skank = [1, 3] if rng.random() < 0.5 else [0.5, 1.5, 2.5, 3.5]  # the off-beats
    chop = rng.uniform(0.15, 0.3)
    for bar in range(s.n_bars):
        chord = _chord(key, prog[bar % len(prog)], scale, 3)
        voicing = [m + 12 for m in chord]
        for b in s.grid(skank, bars=1, swing=swing):
            length = s.notes(chop)
            if organ:
                x = sum(
                    _partials(_hz(m), length, sr, [1, 0.8, 0.6, 0.4], [9, 9, 9, 9]) for m in voicing
                )
                x = x * _env(length, sr, 0.005, 10.0, 1.0)
            else:
                x = sum(s.pluck(_hz(m), length, 0.3, 0.95) for m in voicing)
                x = x * _env(length, sr, 0.0, 0.06, 0.0)
            s.add("skank", x, 4 * bar + b)
        root = chord[0] - 24
        line = [(0.0, root), (1.0, root + 7), (1.5, root + 12), (2.5, root + 3), (3.0, root)]
        for b, m in line:
            if rng.random() < 0.8:
                length = s.notes(0.9)
                x = s.osc("sine", _hz(m), length) * _env(length, sr, 0.01, 0.6, 0.5)
                s.add("bass", x, 4 * bar + b)
    s.tracks["skank"] = _sos_filter(s.tracks["skank"], sr, "highpass", 400)
    return s, {"drums": 0.5, "skank": 0.6, "bass": 1.2}


def _rock(rng: _Rng, n: int, sr: int, clock=None) -> tuple[_Score, dict[str, float]]:
    s = _Score(rng, n, sr, rng.uniform(95, 150), clock)
    key = 40 + int(rng.integers(0, 8))
    prog = _progression(rng, [(0, 3, 4, 3), (0, 6, 3, 0), (5, 3, 0, 4), (0, 4, 3, 0)])
    mixolydian = (0, 2, 4, 5, 7, 9, 10)
    extra = [2.5] if rng.random() < 0.5 else []
    s.hits("drums", _kick(sr, rng), s.grid([0, 2] + extra))
    s.hits("drums", _snare(sr, rng), s.grid([1, 3]))
    ride = rng.random() < 0.3
    hat = _cymbal(sr, rng, 0.4, 0.8) if ride else _hat(sr, rng, rng.uniform(0.04, 0.1))
    s.hits("drums", hat, s.grid([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]), 0.4)
    crash = _cymbal(sr, rng, 1.2, 0.1)
    s.hits("drums", crash, [b for b in s.grid([0]) if b % 8 == 0], 0.6)
    power = rng.random() < 0.5
    eighths = rng.random() < 0.6
    for bar in range(s.n_bars):
        chord = _chord(key, prog[bar % len(prog)], mixolydian, 3)
        root = chord[0]
        notes = [root, root + 7, root + 12] if power else chord + [root + 12]
        step = 0.5 if eighths else 2.0
        for k in range(int(4 / step)):
            length = s.notes(step * 0.95)
            x = s.osc("saw", [_hz(m) for m in notes], length, detune=0.002)
            s.add("guitar", x * _env(length, sr, 0.003, 0.6, 0.4), 4 * bar + k * step)
        for k in range(8):
            length = s.notes(0.45)
            x = s.osc("tri", _hz(root - 12), length) * _env(length, sr, 0.003, 0.3, 0.4)
            s.add("bass", x, 4 * bar + 0.5 * k)
    s.tracks["guitar"] = _drive(
        s.tracks["guitar"], sr, rng.uniform(1.5, 12), rng.uniform(3500, 6500)
    )
    return s, {"drums": 0.6, "guitar": 0.9, "bass": 0.7}


_RECIPES: dict[str, Callable[..., tuple[_Score, dict[str, float]]]] = {
    "blues": _blues,
    "classical": _classical,
    "country": _country,
    "disco": _disco,
    "hiphop": _hiphop,
    "jazz": _jazz,
    "metal": _metal,
    "pop": _pop,
    "reggae": _reggae,
    "rock": _rock,
}
#: Related styles. Some clips layer one of them, quieter, on the same beat grid
#: (a rock band with a disco drummer, blues with a jazz rhythm section...).
_NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "blues": ("jazz", "rock", "country"),
    "classical": (),  # no drums, ever
    "country": ("blues", "rock", "pop"),
    "disco": ("pop", "hiphop"),
    "hiphop": ("reggae", "pop", "disco"),
    "jazz": ("blues", "classical"),
    "metal": ("rock",),
    "pop": ("disco", "rock", "hiphop"),
    "reggae": ("hiphop", "pop"),
    "rock": ("metal", "blues", "pop", "country"),
}
CROSSOVER_PROBABILITY: float = 0.3
_ROOM = {"classical": (0.25, 0.55), "jazz": (0.1, 0.35)}  # reverb wet range; others below


def _power(spec: np.ndarray) -> float:
    flat = spec.view(_F) if spec.dtype == np.complex64 else np.abs(spec)
    return float(np.sum(flat * flat))


def _butter_gain(f: np.ndarray, fc: float, btype: str, order: int = 2) -> np.ndarray:
    """Magnitude response of a Butterworth low- or high-pass (applied with zero phase)."""
    ratio = f * _F(1.0 / fc) if btype == "lowpass" else _F(fc) / np.maximum(f, _F(1e-3))
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
    noise = np.random.default_rng([GENERATOR_VERSION, k]).standard_normal(n_ir, dtype=_F)
    ir = noise * np.exp(_F(-6.9 / n_ir) * np.arange(n_ir, dtype=_F))
    spec = fft.rfft(ir, size)
    spec.setflags(write=False)
    return spec


def _master(y: np.ndarray, rng: _Rng, sr: int, genre: str) -> np.ndarray:
    """Room reverb, random recording EQ (tilt, band limits) and a noise floor.

    All in one pass in the frequency domain: the reverb is a convolution with a
    decaying-noise impulse response, the EQ a zero-phase gain curve, and the noise
    a coloured random spectrum at a random signal-to-noise ratio.
    """
    from scipy import fft

    size = fft.next_fast_len(len(y) + int(_ROOM_RT60[-1] * sr), real=True)
    f = fft.rfftfreq(size, 1.0 / sr).astype(_F)
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
    noise = rng.standard_normal(len(f), dtype=_F) + 1j * rng.standard_normal(len(f), dtype=_F)
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
    score, levels = _RECIPES[genre](rng, n, sr)
    y = score.mix(levels)
    if _NEIGHBOURS[genre] and rng.random() < CROSSOVER_PROBABILITY:
        other = _NEIGHBOURS[genre][int(rng.integers(len(_NEIGHBOURS[genre])))]
        guest, guest_levels = _RECIPES[other](rng, n, sr, clock=score)
        z = guest.mix(guest_levels)
        y = y / _rms(y) + rng.uniform(0.2, 0.5) * z / _rms(z)
    y = _master(y, rng, sr, genre)
    y = y[score.pre : score.pre + n]
    y = y * (rng.uniform(0.3, 0.9) / (np.abs(y).max() + 1e-12))
    return np.clip(y, -1.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------------------- writing


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

    Files are 16-bit PCM WAV, written atomically. A JSON marker
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
    root = Path(root)
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
        root: str | Path,
        clips_per_genre: int = 20,
        duration: float = 6.0,
        sr: int = 22050,
        seed: int = 0,
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
