"""The built-in synthetic toy GTZAN: determinism, layout, audio sanity, genre character."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hydra.utils import instantiate
from omegaconf import OmegaConf

from genreclf.data.synthetic import (
    GENRES,
    MARKER_NAME,
    SyntheticGTZAN,
    config_hash,
    render_clip,
    write_dataset,
)
from tests.options import make
from tests.paths import CONF

SR = 22050
SMALL = {"clips_per_genre": 2, "duration": 2.0, "sr": SR, "seed": 0}
SYNTHETIC_CONF = CONF / "data" / "synthetic.yaml"


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("synth") / "a", **SMALL)


def _files(audio_root: Path) -> dict[str, bytes]:
    return {p.relative_to(audio_root).as_posix(): p.read_bytes() for p in audio_root.rglob("*.wav")}


def _power_spectrogram(y: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop] * np.hanning(n_fft)
    return np.abs(np.fft.rfft(frames, axis=1)) ** 2


def _band_features(y: np.ndarray, n_bands: int = 32) -> np.ndarray:
    """Mean and std over frames of log energies in log-spaced bands (no librosa)."""
    power = _power_spectrogram(y, hop=512)
    band = np.digitize(np.fft.rfftfreq(1024, 1 / SR), np.geomspace(30, SR / 2, n_bands + 1)) - 1
    log_e = np.log(np.stack([power[:, band == b].sum(1) for b in range(n_bands)], 1) + 1e-10)
    return np.concatenate([log_e.mean(0), log_e.std(0)])


def test_layout_names_and_format(small_set):
    assert small_set.name == "genres_original"
    assert sorted(p.name for p in small_set.iterdir()) == list(GENRES)
    for genre in GENRES:
        names = sorted(p.name for p in (small_set / genre).iterdir())
        assert names == [f"{genre}.00000.wav", f"{genre}.00001.wav"]
    info = sf.info(small_set / "blues" / "blues.00000.wav")
    assert (info.samplerate, info.channels, info.frames) == (SR, 1, int(2.0 * SR))
    assert info.subtype == "PCM_16"
    marker = json.loads((small_set.parent / MARKER_NAME).read_text())
    assert marker["clips_per_genre"] == 2 and marker["seed"] == 0


def test_same_config_gives_same_bytes_and_other_seed_differs(small_set, tmp_path):
    again = _files(write_dataset(tmp_path / "b", **SMALL))
    first = _files(small_set)
    assert len(first) == 20
    assert again == first
    other = _files(write_dataset(tmp_path / "c", **{**SMALL, "seed": 1}))
    assert other.keys() == first.keys()
    assert all(other[k] != first[k] for k in first)


def test_clips_are_audible_and_within_range(small_set):
    for path in sorted(small_set.rglob("*.wav")):
        y, sr = sf.read(path, dtype="float32")
        assert sr == SR and y.ndim == 1
        peak, rms = np.abs(y).max(), np.sqrt(np.mean(y**2))
        assert 0.25 < peak <= 1.0, path.name
        assert rms > 0.005, path.name  # not silent (clips are peak-normalized, some sparse)
        assert peak < 0.999, f"{path.name} is clipped"


def test_render_clip_contract():
    y = render_clip("jazz", 3, duration=1.5, sr=16000, seed=7)
    assert y.dtype == np.float32 and y.shape == (24000,)
    np.testing.assert_array_equal(y, render_clip("jazz", 3, duration=1.5, sr=16000, seed=7))
    assert not np.array_equal(y, render_clip("jazz", 4, duration=1.5, sr=16000, seed=7))
    with pytest.raises(ValueError, match="unknown genre"):
        render_clip("polka", 0, duration=1.0, sr=SR, seed=0)


def test_rewrite_is_skipped_then_config_change_replaces_files(tmp_path):
    cfg = {**SMALL, "duration": 0.5}
    audio_root = write_dataset(tmp_path, **cfg)
    stamps = {p: p.stat().st_mtime_ns for p in audio_root.rglob("*.wav")}
    write_dataset(tmp_path, **cfg)
    assert {p: p.stat().st_mtime_ns for p in audio_root.rglob("*.wav")} == stamps

    write_dataset(tmp_path, **{**cfg, "clips_per_genre": 1})
    assert sorted(p.name for p in audio_root.rglob("*.wav")) == sorted(
        f"{g}.00000.wav" for g in GENRES
    )
    assert json.loads((tmp_path / MARKER_NAME).read_text())["clips_per_genre"] == 1
    assert not list(tmp_path.rglob("*.tmp"))

    (audio_root / "rock" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not written by this generator"):
        write_dataset(tmp_path, **cfg)


def test_source_from_config_lists_tracks_per_config_folder(tmp_path, caplog):
    cfg = OmegaConf.create(
        {"paths": {"cache_dir": str(tmp_path)}, "data": OmegaConf.load(SYNTHETIC_CONF)}
    )
    cfg.data.clips_per_genre, cfg.data.duration = 1, 0.5
    source = instantiate(cfg.data)
    assert isinstance(source, SyntheticGTZAN) and source.synthetic is True
    with caplog.at_level(logging.INFO, logger="genreclf.data.synthetic"):
        tracks = source.tracks()
    assert "SYNTHETIC" in caplog.text
    assert [t.track_id for t in tracks] == [f"{g}/{g}.00000.wav" for g in GENRES]
    assert [t.label for t in tracks] == list(GENRES)
    expected = config_hash(clips_per_genre=1, duration=0.5, sr=SR, seed=0)
    assert source.data_root == tmp_path / "synthetic" / expected
    assert tracks[0].path.parent.parent.parent == source.data_root
    other = make(SyntheticGTZAN, tmp_path / "synthetic", clips_per_genre=1, duration=0.5, seed=1)
    assert other.data_root != source.data_root


def test_metal_is_brighter_than_classical():
    """Distorted guitar and cymbals put far more energy above 4 kHz than string pads."""

    def high_share(genre: str) -> float:
        shares = []
        for i in range(4):
            power = _power_spectrogram(render_clip(genre, i, duration=2.0, sr=SR, seed=0))
            shares.append(power[:, np.fft.rfftfreq(1024, 1 / SR) > 4000].sum() / power.sum())
        return float(np.mean(shares))

    assert high_share("metal") > 3 * high_share("classical")


def test_disco_has_a_strong_beat_and_classical_has_none():
    """Autocorrelation of the onset envelope peaks at the disco beat (110-132 BPM)."""

    def beat_strength(genre: str) -> float:
        peaks = []
        for i in range(4):
            log_s = np.log1p(
                100
                * np.sqrt(_power_spectrogram(render_clip(genre, i, duration=3.0, sr=SR, seed=0)))
            )
            onset = np.maximum(np.diff(log_s, axis=0), 0).sum(1)
            onset = onset - onset.mean()
            ac = np.correlate(onset, onset, "full")[len(onset) - 1 :]
            lag_s = np.arange(len(ac)) * 256 / SR
            peaks.append((ac / ac[0])[(lag_s >= 60 / 135) & (lag_s <= 60 / 105)].max())
        return float(np.mean(peaks))

    disco, classical = beat_strength("disco"), beat_strength("classical")
    assert disco > 0.3
    assert disco > classical + 0.15


def test_genres_are_learnable_from_simple_spectral_features():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = [], []
    for label, genre in enumerate(GENRES):
        for i in range(6):
            X.append(_band_features(render_clip(genre, i, duration=3.0, sr=SR, seed=0)))
            y.append(label)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    accuracy = cross_val_score(model, np.array(X), np.array(y), cv=cv).mean()
    assert accuracy > 0.4  # chance is 0.1
