"""The beat-grid score that recipes write into, and arrangement helpers."""

from __future__ import annotations

import numpy as np

from genreclf.data.synthetic.sound import F, Rng, hz, osc, pluck, sos_filter


class Score:
    """Event buffers (one per track) laid out on a beat grid; beats are quarter notes.

    The clip starts ``offset`` seconds into bar 1; buffers begin ``PRE`` seconds
    earlier (so filters and reverb are settled at the clip start) and end shortly
    after the clip.
    """

    PRE, POST = 0.5, 0.25

    def __init__(self, rng: Rng, n: int, sr: int, bpm: float, clock: Score | None = None):
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
            self.tracks[track] = np.zeros(self.length, F)
        self.tracks[track][start:end] += gain * x[: end - start]

    def osc(self, kind: str, freqs, n: int, vibrato: float = 0.0, detune: float = 0.0):
        """:func:`osc`, rendered once per distinct note in this clip (a sampler)."""
        key = ("osc", kind, tuple(np.atleast_1d(freqs).tolist()), n, vibrato, detune)
        if key not in self._cache:
            self._cache[key] = osc(kind, freqs, n, self.sr, self.rng, vibrato, detune)
        return self._cache[key]

    def pluck(self, freq: float, n: int, t60: float, bright: float) -> np.ndarray:
        """:func:`pluck`, rendered once per distinct note in this clip."""
        key = ("pluck", freq, n, t60, bright)
        if key not in self._cache:
            self._cache[key] = pluck(freq, n, self.sr, self.rng, t60, bright)
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
        out = np.zeros(self.length, F)
        if not self.tracks:
            return out
        lead = max(self.tracks, key=lambda name: levels.get(name, 1.0))
        for name, buf in self.tracks.items():
            rms = float(np.sqrt(np.mean(buf**2)))
            keep = name in (lead, "drums") or self.rng.random() > 0.2
            if rms > 0 and keep:
                out += levels.get(name, 1.0) * self.rng.uniform(0.35, 1.7) * buf / rms
        return out


def drive(x: np.ndarray, sr: int, drive: float, cab: float) -> np.ndarray:
    """Amp distortion: pre-emphasis, ``tanh`` clipping, cabinet low-pass."""
    x = x / (np.abs(x).max() + 1e-12)
    x = sos_filter(x, sr, "highpass", 120)
    return sos_filter(np.tanh(drive * x), sr, "lowpass", min(cab, 0.45 * sr), order=4)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) + 1e-12


def progression(rng: Rng, options) -> list[int]:
    return list(options[rng.integers(len(options))])


def strum(score: Score, track: str, notes, beat, n, t60, bright, down=True, gain=1.0):
    rng = score.rng
    spread = rng.uniform(0.006, 0.02) / score.spb
    order = notes if down else notes[::-1]
    for k, m in enumerate(order):
        x = score.pluck(hz(m), n, t60, bright)
        score.add(track, x, beat + k * spread, gain * rng.uniform(0.7, 1.0), jitter=0.0)
