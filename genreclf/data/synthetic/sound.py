"""Sound sources: oscillators, envelopes, filters, plucked strings, noise and drum voices."""

from __future__ import annotations

import functools

import numpy as np
from scipy import signal

Rng = np.random.Generator
F = np.float32  # synthesis runs in single precision: twice as fast, and plenty for 16-bit output


def hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def sample_times(n: int, sr: int) -> np.ndarray:
    return np.arange(n, dtype=F) / F(sr)


@functools.lru_cache(maxsize=512)
def _butter(order: int, cutoff: tuple[float, ...], btype: str, sr: int) -> np.ndarray:
    wn = cutoff[0] if len(cutoff) == 1 else list(cutoff)
    return signal.butter(order, wn, btype=btype, fs=sr, output="sos").astype(F)


def sos_filter(x: np.ndarray, sr: int, btype: str, cutoff, order: int = 2) -> np.ndarray:
    """Butterworth filter; cutoffs are rounded to 10 Hz so designs can be reused."""
    cutoff = tuple(float(round(min(c, 0.45 * sr), -1)) for c in np.atleast_1d(cutoff))
    return signal.sosfilt(_butter(order, cutoff, btype, sr), np.asarray(x, dtype=F))


@functools.lru_cache(maxsize=128)
def env(n: int, sr: int, attack: float, tau: float, sustain: float = 0.0) -> np.ndarray:
    """Attack ramp, exponential decay to ``sustain``, and a 10 ms release at the end."""
    t = sample_times(n, sr)
    env = sustain + (1.0 - sustain) * np.exp(-np.maximum(t - attack, 0.0) / tau)
    if attack > 0:
        env *= np.minimum(1.0, t / attack)
    r = min(n, int(0.01 * sr))
    if r > 1:
        env[-r:] *= np.linspace(1.0, 0.0, r, dtype=F)
    env.setflags(write=False)
    return env


def osc(
    kind: str,
    freqs,
    n: int,
    sr: int,
    rng: Rng,
    vibrato: float = 0.0,
    detune: float = 0.0,
) -> np.ndarray:
    """Sum of naive oscillators (``saw``, ``square``, ``tri``, ``sine``) at ``freqs``."""
    t = sample_times(n, sr)
    rate = rng.uniform(4.5, 6.0)
    wobble = np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)) if vibrato else None
    out = np.zeros(n, F)
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
                out += np.where(frac < 0.5, F(1), F(-1))
            elif kind == "tri":
                out += 4.0 * np.abs(frac - 0.5) - 1.0
            else:
                out += np.sin(2 * np.pi * phase)
    return out


def partials(freq: float, n: int, sr: int, amps, taus) -> np.ndarray:
    """Additive tone: harmonic ``k+1`` with amplitude ``amps[k]`` and decay ``taus[k]``."""
    return _partials_cached(float(freq), int(n), int(sr), tuple(amps), tuple(taus))


@functools.lru_cache(maxsize=64)
def _partials_cached(freq: float, n: int, sr: int, amps: tuple, taus: tuple) -> np.ndarray:
    x = F(2 * np.pi * freq) * sample_times(n, sr)
    t = sample_times(n, sr)
    two_cos = 2.0 * np.cos(x)
    prev, cur = np.zeros(n, F), np.sin(x)
    out = np.zeros(n, F)
    for k, (a, tau) in enumerate(zip(amps, taus, strict=True)):
        if (k + 1) * freq >= sr / 2:
            break
        out += a * cur * np.exp(-t / tau)
        prev, cur = cur, two_cos * cur - prev  # sin((k+2)x) from sin((k+1)x) and sin(kx)
    out.setflags(write=False)
    return out


def pluck(freq: float, n: int, sr: int, rng: Rng, t60: float, bright: float) -> np.ndarray:
    """Karplus-Strong plucked string, computed one period (delay line) at a time."""
    period = max(2, int(round(sr / freq)))
    loss = 0.001 ** (1.0 / (t60 * freq))
    burst = rng.uniform(-1.0, 1.0, period)
    if bright < 1.0:  # a duller pick: smooth the excitation
        burst = signal.lfilter([1.0 - bright], [1.0, -bright], burst)
    z = np.zeros(n + 1 + period, F)
    z[1 : period + 1] = burst - burst.mean()
    for s in range(period + 1, n + 1, period):
        e = min(s + period, n + 1)
        z[s:e] = 0.5 * loss * (z[s - period : e - period] + z[s - period - 1 : e - period - 1])
    y = z[1 : n + 1]
    return y / (np.abs(y).max() + 1e-12)


def _noise(n: int, rng: Rng) -> np.ndarray:
    return rng.standard_normal(n, dtype=F)


# ------------------------------------------------------------------------------ drums


def kick_drum(sr: int, rng: Rng, heavy: float = 0.0) -> np.ndarray:
    n = int(sr * (0.3 + 0.4 * heavy))
    t = sample_times(n, sr)
    f_end = rng.uniform(45, 60) - 12 * heavy
    f = f_end + rng.uniform(90, 160) * np.exp(-t / rng.uniform(0.02, 0.04))
    body = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / (0.12 + 0.25 * heavy))
    click = sos_filter(_noise(n, rng), sr, "highpass", 2000) * np.exp(-t / 0.004)
    return body + rng.uniform(0.1, 0.4) * click


def snare_drum(sr: int, rng: Rng, tau: float | None = None) -> np.ndarray:
    n = int(sr * 0.35)
    t = sample_times(n, sr)
    tau = tau if tau is not None else rng.uniform(0.08, 0.16)
    tone = np.sin(2 * np.pi * rng.uniform(170, 230) * t) * np.exp(-t / 0.05)
    rattle = sos_filter(_noise(n, rng), sr, "bandpass", [1500, 8000]) * np.exp(-t / tau)
    return 0.6 * tone + rng.uniform(0.5, 1.0) * rattle


def clap(sr: int, rng: Rng) -> np.ndarray:
    n = int(sr * 0.25)
    t = sample_times(n, sr)
    env = np.exp(-t / 0.06)
    for k in range(1, 4):
        env += np.exp(-np.abs(t - k * 0.01) / 0.003)
    return sos_filter(_noise(n, rng), sr, "bandpass", [900, 4000]) * env


def rimshot(sr: int, rng: Rng) -> np.ndarray:
    n = int(sr * 0.08)
    t = sample_times(n, sr)
    tone = np.sin(2 * np.pi * rng.uniform(400, 550) * t) + 0.5 * _noise(n, rng)
    return sos_filter(tone, sr, "bandpass", [300, 3000]) * np.exp(-t / 0.015)


def hihat(sr: int, rng: Rng, tau: float) -> np.ndarray:
    n = int(sr * min(1.0, 6 * tau))
    t = sample_times(n, sr)
    cutoff = min(rng.uniform(6000, 9000), 0.45 * sr)
    return sos_filter(_noise(n, rng), sr, "highpass", cutoff) * np.exp(-t / tau)


def cymbal(sr: int, rng: Rng, tau: float, ping: float) -> np.ndarray:
    """Ride (``ping`` near 1: metallic partials) or crash (``ping`` near 0: mostly noise)."""
    n = int(sr * min(1.5, 4 * tau))
    t = sample_times(n, sr)
    base = rng.uniform(350, 500)
    partials = np.zeros(n, F)
    for r in (1.0, 1.47, 1.73, 2.12, 2.61, 3.37):  # square waves at inharmonic ratios
        phase = base * r * t + rng.random()
        partials += np.where(phase - np.floor(phase) < 0.5, F(1), F(-1))
    mix = ping * partials / 6 + (1 - ping) * _noise(n, rng)
    cutoff = min(3000.0, 0.45 * sr)
    return sos_filter(mix, sr, "highpass", cutoff, order=4) * np.exp(-t / tau)
