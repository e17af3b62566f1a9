"""Audio loading: formats, rates, channels, and one-line errors for files without usable audio."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import soundfile as sf

from genreclf.audio import AudioError, load_audio


def tone(seconds: float, sr: int, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    """A sine, ``(n,)`` or ``(n, channels)`` with a different level per channel."""
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * freq * t)
    return y if channels == 1 else np.stack([y * (1 - 0.3 * c) for c in range(channels)], axis=1)


def peak_hz(y: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(y))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spectrum)])


def test_wav_native_rate_is_bit_identical_to_librosa(tmp_path):
    import librosa

    path = tmp_path / "stereo.wav"
    sf.write(path, tone(1.0, 44100, channels=2), 44100, subtype="PCM_16")
    y, sr = load_audio(path)
    ref, ref_sr = librosa.load(path, sr=None)
    assert sr == ref_sr == 44100
    assert y.dtype == np.float32 and y.ndim == 1
    np.testing.assert_array_equal(y, ref)


def test_real_gtzan_clip_matches_librosa(shared_data):
    import librosa

    path = shared_data / "gtzan_mini" / "genres_original" / "blues" / "blues.00000.wav"
    y, sr = load_audio(path)
    ref, ref_sr = librosa.load(path, sr=None)
    assert sr == ref_sr == 22050
    np.testing.assert_array_equal(y, ref)


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "flac"])
def test_compressed_stereo_44k_resampled_to_mono(tmp_path, fmt):
    path = tmp_path / f"clip.{fmt}"
    sf.write(path, tone(1.0, 44100, channels=2), 44100)
    y, sr = load_audio(path, sr=22050)
    assert sr == 22050 and y.ndim == 1 and y.dtype == np.float32
    assert abs(len(y) - 22050) < 0.05 * 22050  # mp3 adds a little padding
    assert peak_hz(y, sr) == pytest.approx(440, abs=2)


def test_stereo_kept_when_asked(tmp_path):
    path = tmp_path / "stereo.flac"
    sf.write(path, tone(1.0, 16000, channels=2), 16000)
    y, sr = load_audio(path, mono=False)
    assert sr == 16000 and y.shape == (2, 16000)
    assert np.max(np.abs(y[1])) < np.max(np.abs(y[0]))  # channels are kept apart


def _write_bad(kind: str, folder):
    path = folder / f"{kind}.wav"
    if kind == "missing":
        return path
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "text":
        path.write_text("this is not audio\n" * 20)
    elif kind == "truncated":
        good = folder / "good.wav"
        sf.write(good, tone(1.0, 8000), 8000)
        path.write_bytes(good.read_bytes()[:30])
    elif kind == "silent":
        sf.write(path, np.zeros(8000), 8000)
    elif kind == "short":
        sf.write(path, tone(0.2, 8000), 8000)
    return path


@pytest.mark.parametrize(
    "kind, words",
    [
        ("missing", "not found"),
        ("empty", "empty"),
        ("random", "unreadable"),
        ("text", "unreadable"),
        ("truncated", "unreadable"),
        ("silent", "silent"),
        ("short", "too short"),
    ],
)
def test_bad_files_raise_one_line_audio_error(tmp_path, kind, words):
    path = _write_bad(kind, tmp_path)
    with pytest.raises(AudioError) as info:
        load_audio(path, min_duration=0.5)
    err = info.value
    assert err.path == str(path)
    assert str(err) == f"{path}: {err.reason}"
    assert "\n" not in str(err)
    if words:
        assert words in err.reason


def test_audio_error_pickles():
    err = pickle.loads(pickle.dumps(AudioError("/x/a.wav", "silent")))
    assert (err.path, err.reason, str(err)) == ("/x/a.wav", "silent", "/x/a.wav: silent")
    assert str(AudioError(None, "too short\nfor one")) == "too short for one"
