"""The ten genre recipes, their lookup table and the related styles of each."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from genreclf.data.synthetic.score import Score, drive, progression, strum
from genreclf.data.synthetic.sound import (
    F,
    Rng,
    clap,
    cymbal,
    env,
    hihat,
    hz,
    kick_drum,
    partials,
    rimshot,
    sample_times,
    snare_drum,
    sos_filter,
)

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)


def _chord(root: int, degree: int, scale: tuple[int, ...], size: int = 3) -> list[int]:
    """MIDI notes of the chord on ``degree`` (0-based) of ``scale``, stacking thirds."""
    steps = [degree + 2 * i for i in range(size)]
    return [root + scale[s % 7] + 12 * (s // 7) for s in steps]


def _blues(rng: Rng, n: int, sr: int, clock=None) -> tuple[Score, dict[str, float]]:
    s = Score(rng, n, sr, rng.uniform(65, 120), clock)
    swing = rng.uniform(0.62, 0.7)
    key = 40 + int(rng.integers(0, 8))  # E2..B2
    twelve = [0, 0, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7]
    start = int(rng.integers(0, 12))
    kick, snare = kick_drum(sr, rng), snare_drum(sr, rng)
    hat = hihat(sr, rng, rng.uniform(0.03, 0.08))
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
                x = s.osc("saw", [hz(m) for m in notes], length) * env(length, sr, 0.005, 0.25, 0.3)
                s.add("guitar", x, beat)
            else:
                strum(s, "guitar", notes, beat, length, 0.8, 0.7)
        chord = [root + 12, root + 16, root + 19, root + 22]  # dominant seventh
        length = s.notes(rng.choice([2.0, 4.0]))
        comp = sum(partials(hz(m), length, sr, [1, 0.5, 0.25], [0.8, 0.4, 0.2]) for m in chord)
        s.add("keys", comp, 4 * bar + rng.choice([0.0, 1.0 + swing - 0.5]))
        for b, step in enumerate((0, 4, 7, 9)):
            length = s.notes(0.9)
            x = partials(hz(root - 12 + step), length, sr, [1, 0.4], [0.4, 0.2])
            s.add("bass", x, 4 * bar + b)
    if overdriven:
        s.tracks["guitar"] = drive(s.tracks["guitar"], sr, rng.uniform(1.5, 8), 4500)
    return s, {"drums": 0.5, "guitar": 1.0, "keys": 0.35, "bass": 0.7}


def _classical(rng: Rng, n: int, sr: int, clock=None) -> tuple[Score, dict[str, float]]:
    s = Score(rng, n, sr, rng.uniform(50, 100), clock)
    minor = rng.random() < 0.5
    scale = _MINOR if minor else _MAJOR
    key = 48 + int(rng.integers(0, 12))
    prog = progression(rng, [(0, 3, 4, 0), (0, 5, 3, 4), (0, 1, 4, 0), (0, 3, 1, 4), (5, 3, 0, 4)])
    bar_beats = float(rng.choice([4.0, 8.0]))
    piano = rng.random() < 0.3
    cutoff = rng.uniform(1500, 3500)
    attack = rng.uniform(0.25, 0.6)
    for i in range(int(np.ceil(s.n_bars * 4 / bar_beats))):
        chord = _chord(key, prog[i % len(prog)], scale, 3)
        voicing = [chord[0] - 12] + chord + [chord[1] + 12]
        length = s.notes(bar_beats + 1.0)  # legato overlap into the next chord
        pad = s.osc("saw", [hz(m) for m in voicing], length, vibrato=0.004)
        pad = pad * env(length, sr, attack, 1.0, 0.85)
        s.add("strings", pad, i * bar_beats, jitter=0.0)
        pool = chord + [chord[0] + 12, chord[1] + 12]
        step = float(rng.choice([1.0, 2.0])) if not piano else 0.5
        for j in range(int(bar_beats / step)):
            m = int(rng.choice(pool)) + 12
            length = s.notes(step * 1.1)
            if piano:
                x = partials(hz(m), length, sr, [1, 0.4, 0.2, 0.1], [0.8, 0.5, 0.3, 0.2])
                s.add("melody", x, i * bar_beats + j * step)
            else:
                x = s.osc("saw", hz(m), length, vibrato=0.008)
                s.add("melody", x * env(length, sr, 0.12, 1.0, 0.8), i * bar_beats + j * step)
    s.tracks["strings"] = sos_filter(s.tracks["strings"], sr, "lowpass", cutoff)
    s.tracks["melody"] = sos_filter(s.tracks["melody"], sr, "lowpass", cutoff * 1.3)
    return s, {"strings": 1.0, "melody": 0.6}


def _country(rng: Rng, n: int, sr: int, clock=None) -> tuple[Score, dict[str, float]]:
    s = Score(rng, n, sr, rng.uniform(85, 145), clock)
    key = 40 + int(rng.integers(0, 8))
    prog = progression(rng, [(0, 3, 4, 0), (0, 0, 3, 4), (0, 4, 0, 3)])
    kick, snare = kick_drum(sr, rng), snare_drum(sr, rng, rng.uniform(0.05, 0.1))
    s.hits("drums", kick, s.grid([0, 2]), 0.6)
    s.hits("drums", snare, s.grid([1, 3]), 0.5)
    s.hits("drums", hihat(sr, rng, 0.03), s.grid([0.5, 1.5, 2.5, 3.5]), 0.2)
    lead = rng.random() < 0.6
    for bar in range(s.n_bars):
        chord = _chord(key, prog[bar % len(prog)], _MAJOR, 3)
        root = chord[0]
        for b, bass in ((0, root - 12), (2, root - 5)):  # boom: root, then the fifth below
            s.add("bass", s.pluck(hz(bass), s.notes(1.5), 0.8, 0.5), 4 * bar + b)
        strings = [root, root + 7, chord[1] + 12, chord[2] + 12, root + 24]
        for b in (1, 3):  # chick
            strum(s, "guitar", strings[1:], 4 * bar + b, s.notes(0.8), 0.4, 0.95)
        if lead:
            penta = [0, 2, 4, 7, 9, 12]
            for k in range(8):
                if rng.random() < 0.6:
                    m = key + 24 + penta[int(rng.integers(len(penta)))]
                    x = s.pluck(hz(m), s.notes(0.6), 1.0, 0.98)
                    s.add("lead", x, 4 * bar + 0.5 * k)
    s.tracks["guitar"] = sos_filter(s.tracks["guitar"], sr, "highpass", 150)
    if rng.random() < 0.25:  # country rock: the rhythm guitar through an amp
        s.tracks["guitar"] = drive(s.tracks["guitar"], sr, rng.uniform(1.5, 5), 5000)
    return s, {"drums": 0.4, "bass": 0.8, "guitar": 0.9, "lead": 0.6}


def _disco(rng: Rng, n: int, sr: int, clock=None) -> tuple[Score, dict[str, float]]:
    s = Score(rng, n, sr, rng.uniform(105, 132), clock)
    minor = rng.random() < 0.5
    scale = _MINOR if minor else _MAJOR
    key = 45 + int(rng.integers(0, 10))
    prog = progression(rng, [(0, 3), (0, 5, 1, 4), (0, 0, 3, 4), (1, 4)])
    kick = kick_drum(sr, rng)
    s.hits("drums", kick, s.grid([0, 1, 2, 3]))  # four on the floor
    s.hits("drums", hihat(sr, rng, rng.uniform(0.12, 0.25)), s.grid([0.5, 1.5, 2.5, 3.5]), 0.6)
    s.hits("drums", hihat(sr, rng, 0.025), s.grid(np.arange(0, 4, 0.25)), 0.2)
    s.hits("drums", clap(sr, rng) if rng.random() < 0.5 else snare_drum(sr, rng), s.grid([1, 3]))
    pad = rng.random() < 0.6
    for bar in range(s.n_bars):
        chord = _chord(key, prog[bar % len(prog)], scale, 4 if rng.random() < 0.5 else 3)
        root = chord[0] - 12
        for k in range(8):  # octave bass on eighths
            m = root if k % 2 == 0 else root + 12
            length = s.notes(0.45)
            x = s.osc("saw", hz(m), length) * env(length, sr, 0.003, 0.12, 0.2)
            s.add("bass", x, 4 * bar + 0.5 * k)
        voicing = [m + 12 for m in chord]
        if pad:
            length = s.notes(4.2)
            x = s.osc("saw", [hz(m) for m in voicing], length, vibrato=0.004, detune=0.003)
            s.add("strings", x * env(length, sr, 0.1, 1.0, 0.8), 4 * bar, jitter=0.0)
        for k in range(16):  # chicken-scratch guitar on sixteenths
            if rng.random() < 0.45:
                strum(s, "guitar", voicing[:3], 4 * bar + 0.25 * k, s.notes(0.2), 0.15, 0.9)
    s.tracks["bass"] = sos_filter(s.tracks["bass"], sr, "lowpass", rng.uniform(600, 1500))
    if "strings" in s.tracks:
        s.tracks["strings"] = sos_filter(s.tracks["strings"], sr, "lowpass", 4000)
    return s, {"drums": 0.7, "bass": 0.8, "strings": 0.45, "guitar": 0.4}


def _hiphop(rng: Rng, n: int, sr: int, clock=None) -> tuple[Score, dict[str, float]]:
    s = Score(rng, n, sr, rng.uniform(70, 100), clock)
    swing = rng.uniform(0.5, 0.6)
    key = 45 + int(rng.integers(0, 10))
    prog = progression(rng, [(0, 5), (0, 3), (0, 0, 5, 4), (0, 2)])
    kick_pattern = [[0, 1.75, 2.5], [0, 0.75, 2.5], [0, 2, 2.75], [0, 1.5, 2.25, 3.5]]
    s.hits("drums", kick_drum(sr, rng, heavy=1.0), s.grid(kick_pattern[rng.integers(4)]), 1.2)
    s.hits("drums", snare_drum(sr, rng, rng.uniform(0.12, 0.2)), s.grid([1, 3]), 1.0)
    hats = [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]
    s.hits("drums", hihat(sr, rng, 0.03), s.grid(hats, swing=swing), 0.25)
    for bar in range(s.n_bars):
        chord = _chord(key, prog[bar % len(prog)], _MINOR, 4)
        length = s.notes(3.5)
        t = sample_times(length, sr)
        f0 = hz(chord[0] - 24)
        glide = f0 * (1 + 0.3 * np.exp(-t / 0.03))  # 808: a sine that drops into pitch
        sub = np.sin(2 * np.pi * np.cumsum(glide) / sr) * env(length, sr, 0.005, 1.2, 0.3)
        s.add("sub", sub, 4 * bar)
        length = s.notes(2.0)
        for half in (0, 2):
            keys = sum(partials(hz(m), length, sr, [1, 0.3, 0.1], [0.9, 0.4, 0.2]) for m in chord)
            s.add("keys", keys, 4 * bar + half + rng.choice([0.0, 0.5]))
    s.tracks["keys"] = sos_filter(s.tracks["keys"], sr, "lowpass", rng.uniform(1200, 3000))
    crackle = np.zeros(s.length, F)
    pos = rng.integers(0, s.length, int(s.length / sr * rng.uniform(5, 30)))
    crackle[pos] = rng.uniform(-1, 1, len(pos))
    s.tracks["vinyl"] = sos_filter(crackle, sr, "highpass", 2000)
    return s, {"drums": 0.8, "sub": 1.0, "keys": 0.35, "vinyl": 0.05}


def _jazz(rng: Rng, n: int, sr: int, clock=None) -> tuple[Score, dict[str, float]]:
    s = Score(rng, n, sr, rng.uniform(90, 210), clock)
    swing = rng.uniform(0.6, 0.7)
    key = 48 + int(rng.integers(0, 12))
    prog = progression(rng, [(1, 4, 0, 5), (1, 4, 0, 0), (0, 5, 1, 4), (2, 5, 1, 4)])
    ride = cymbal(sr, rng, rng.uniform(0.5, 0.9), rng.uniform(0.6, 0.9))
    s.hits("drums", ride, s.grid([0, 1, 1.5, 2, 3, 3.5], swing=swing), 0.4)  # ding, ding-a
    s.hits("drums", hihat(sr, rng, 0.02), s.grid([1, 3]), 0.3)  # hi-hat foot on 2 and 4
    s.hits("drums", kick_drum(sr, rng), s.grid([0, 1, 2, 3]), 0.12)  # feathered kick
    snare = snare_drum(sr, rng)
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
            x = partials(hz(m - 24), length, sr, [1, 0.5, 0.15], [0.5, 0.25, 0.1])
            s.add("bass", x * env(length, sr, 0.01, 10.0, 1.0), 4 * bar + b)
        voicing = [chord[0], chord[1], chord[3], chord[2] + 12]  # rootless-ish shell
        for p in rng.choice([0.0, 1.5, 2.0, 3.5, 2.5], size=int(rng.integers(1, 3)), replace=False):
            p = float(p)
            beat = np.floor(p) + (swing if p % 1 else 0.0)
            length = s.notes(1.0)
            comp = sum(
                partials(hz(m), length, sr, [1, 0.35, 0.1], [0.6, 0.3, 0.15]) for m in voicing
            )
            s.add("piano", comp, 4 * bar + beat)
        if rng.random() < 0.4:
            s.add("drums", snare, 4 * bar + 2 + swing, 0.15)
        if horn:
            for k in range(4):
                if rng.random() < 0.7:
                    m = int(rng.choice(chord)) + 12
                    length = s.notes(rng.choice([0.6, 1.0]))
                    x = s.osc("saw", hz(m), length, vibrato=0.01)
                    s.add("horn", x * env(length, sr, 0.04, 0.8, 0.6), 4 * bar + k)
    if "horn" in s.tracks:
        s.tracks["horn"] = sos_filter(s.tracks["horn"], sr, "lowpass", rng.uniform(1500, 3000))
    return s, {"drums": 0.35, "bass": 0.9, "piano": 0.55, "horn": 0.45}


def _metal(rng: Rng, n: int, sr: int, clock=None) -> tuple[Score, dict[str, float]]:
    s = Score(rng, n, sr, rng.uniform(120, 210), clock)
    key = 38 + int(rng.integers(0, 7))  # D2..G#2, tuned low
    riff_scale = [0, 1, 3, 5, 6, 7, 10]  # phrygian-ish
    sixteenths = s.bpm < 170
    kick_grid = np.arange(0, 4, 0.25 if sixteenths else 0.5)
    s.hits("drums", kick_drum(sr, rng), s.grid(kick_grid), 0.8)  # double kick
    blast = rng.random() < 0.3
    s.hits("drums", snare_drum(sr, rng), s.grid([0.5, 1.5, 2.5, 3.5] if blast else [1, 3]), 0.9)
    s.hits("drums", cymbal(sr, rng, 1.0, 0.1), s.grid([0]), 0.7)
    s.hits("drums", cymbal(sr, rng, 0.3, 0.3), s.grid([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]), 0.4)
    step = 0.25 if sixteenths else 0.5
    for bar in range(s.n_bars):
        for k in range(int(4 / step)):
            if rng.random() < 0.7:
                root, length, tau = key, s.notes(step * 0.9), 0.05  # palm-muted chug
            else:
                root = key + riff_scale[int(rng.integers(1, len(riff_scale)))]
                length, tau = s.notes(step * 2), 0.5
            notes = [hz(root), hz(root + 7), hz(root + 12)]  # power chord
            x = s.osc("saw", notes, length, detune=0.003)
            s.add("guitar", x * env(length, sr, 0.002, tau, 0.2), 4 * bar + k * step, jitter=0.003)
            xb = s.osc("saw", hz(root - 12), length) * env(length, sr, 0.002, tau, 0.3)
            s.add("bass", xb, 4 * bar + k * step, jitter=0.003)
    s.tracks["guitar"] = drive(s.tracks["guitar"], sr, rng.uniform(5, 40), rng.uniform(4000, 7000))
    s.tracks["bass"] = drive(s.tracks["bass"], sr, 3.0, 1500)
    return s, {"drums": 0.8, "guitar": 1.0, "bass": 0.6}


def _pop(rng: Rng, n: int, sr: int, clock=None) -> tuple[Score, dict[str, float]]:
    s = Score(rng, n, sr, rng.uniform(90, 130), clock)
    key = 48 + int(rng.integers(0, 12))
    prog = progression(rng, [(0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4), (0, 3, 4, 3)])
    four_floor = rng.random() < 0.3
    kick_beats = [0, 1, 2, 3] if four_floor else [0, 2, 2.5] if rng.random() < 0.5 else [0, 2]
    s.hits("drums", kick_drum(sr, rng), s.grid(kick_beats))
    s.hits("drums", clap(sr, rng) if rng.random() < 0.6 else snare_drum(sr, rng), s.grid([1, 3]))
    s.hits("drums", hihat(sr, rng, 0.04), s.grid([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]), 0.35)
    stabs = rng.random() < 0.5
    lead = rng.random() < 0.7
    penta = [0, 2, 4, 7, 9, 12]
    for bar in range(s.n_bars):
        chord = _chord(key, prog[bar % len(prog)], _MAJOR, 3)
        voicing = chord + [chord[0] + 12]
        if stabs:
            for k in range(8):
                length = s.notes(0.4)
                x = s.osc("saw", [hz(m) for m in voicing], length, detune=0.004)
                s.add("synth", x * env(length, sr, 0.005, 0.2, 0.3), 4 * bar + 0.5 * k)
        else:
            length = s.notes(4.1)
            x = s.osc("saw", [hz(m) for m in voicing], length, detune=0.005)
            s.add("synth", x * env(length, sr, 0.02, 1.0, 0.7), 4 * bar, jitter=0.0)
        for k in range(8):
            length = s.notes(0.45)
            x = s.osc("square", hz(chord[0] - 24), length)
            s.add("bass", x * env(length, sr, 0.003, 0.2, 0.5), 4 * bar + 0.5 * k)
        if lead:
            for k in range(int(rng.integers(3, 7))):
                m = key + 12 + penta[int(rng.integers(len(penta)))]
                length = s.notes(0.5)
                x = s.osc("square", hz(m), length, vibrato=0.005)
                s.add("lead", x * env(length, sr, 0.01, 0.4, 0.5), 4 * bar + 0.5 * k)
    s.tracks["synth"] = sos_filter(s.tracks["synth"], sr, "lowpass", rng.uniform(5000, 9000))
    if rng.random() < 0.3:  # pop rock: the chords on an overdriven guitar
        s.tracks["synth"] = drive(s.tracks["synth"], sr, rng.uniform(2, 6), 5000)
    s.tracks["bass"] = sos_filter(s.tracks["bass"], sr, "lowpass", 800)
    if "lead" in s.tracks:
        s.tracks["lead"] = sos_filter(s.tracks["lead"], sr, "lowpass", 5000)
    return s, {"drums": 0.6, "synth": 0.6, "bass": 0.7, "lead": 0.4}


def _reggae(rng: Rng, n: int, sr: int, clock=None) -> tuple[Score, dict[str, float]]:
    s = Score(rng, n, sr, rng.uniform(60, 95), clock)
    swing = rng.uniform(0.5, 0.6)
    minor = rng.random() < 0.5
    scale = _MINOR if minor else _MAJOR
    key = 45 + int(rng.integers(0, 10))
    prog = progression(rng, [(0, 3), (0, 4), (0, 3, 4, 0), (0, 5)])
    kick, rim = kick_drum(sr, rng), rimshot(sr, rng)
    steppers = rng.random() < 0.25
    s.hits("drums", kick, s.grid([0, 1, 2, 3] if steppers else [2]))  # one drop on beat 3
    s.hits("drums", rim, s.grid([2]), 0.8)
    s.hits(
        "drums", hihat(sr, rng, 0.04), s.grid([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5], swing=swing), 0.3
    )
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
                    partials(hz(m), length, sr, [1, 0.8, 0.6, 0.4], [9, 9, 9, 9]) for m in voicing
                )
                x = x * env(length, sr, 0.005, 10.0, 1.0)
            else:
                x = sum(s.pluck(hz(m), length, 0.3, 0.95) for m in voicing)
                x = x * env(length, sr, 0.0, 0.06, 0.0)
            s.add("skank", x, 4 * bar + b)
        root = chord[0] - 24
        line = [(0.0, root), (1.0, root + 7), (1.5, root + 12), (2.5, root + 3), (3.0, root)]
        for b, m in line:
            if rng.random() < 0.8:
                length = s.notes(0.9)
                x = s.osc("sine", hz(m), length) * env(length, sr, 0.01, 0.6, 0.5)
                s.add("bass", x, 4 * bar + b)
    s.tracks["skank"] = sos_filter(s.tracks["skank"], sr, "highpass", 400)
    return s, {"drums": 0.5, "skank": 0.6, "bass": 1.2}


def _rock(rng: Rng, n: int, sr: int, clock=None) -> tuple[Score, dict[str, float]]:
    s = Score(rng, n, sr, rng.uniform(95, 150), clock)
    key = 40 + int(rng.integers(0, 8))
    prog = progression(rng, [(0, 3, 4, 3), (0, 6, 3, 0), (5, 3, 0, 4), (0, 4, 3, 0)])
    mixolydian = (0, 2, 4, 5, 7, 9, 10)
    extra = [2.5] if rng.random() < 0.5 else []
    s.hits("drums", kick_drum(sr, rng), s.grid([0, 2] + extra))
    s.hits("drums", snare_drum(sr, rng), s.grid([1, 3]))
    ride = rng.random() < 0.3
    hat = cymbal(sr, rng, 0.4, 0.8) if ride else hihat(sr, rng, rng.uniform(0.04, 0.1))
    s.hits("drums", hat, s.grid([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]), 0.4)
    crash = cymbal(sr, rng, 1.2, 0.1)
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
            x = s.osc("saw", [hz(m) for m in notes], length, detune=0.002)
            s.add("guitar", x * env(length, sr, 0.003, 0.6, 0.4), 4 * bar + k * step)
        for k in range(8):
            length = s.notes(0.45)
            x = s.osc("tri", hz(root - 12), length) * env(length, sr, 0.003, 0.3, 0.4)
            s.add("bass", x, 4 * bar + 0.5 * k)
    s.tracks["guitar"] = drive(
        s.tracks["guitar"], sr, rng.uniform(1.5, 12), rng.uniform(3500, 6500)
    )
    return s, {"drums": 0.6, "guitar": 0.9, "bass": 0.7}


RECIPES: dict[str, Callable[..., tuple[Score, dict[str, float]]]] = {
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
NEIGHBOURS: dict[str, tuple[str, ...]] = {
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
