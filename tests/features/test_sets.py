"""Feature sets built from conf/features/*.yaml: columns, shapes, values, parameters."""

from __future__ import annotations

import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from genreclf.audio import AudioError
from genreclf.features.sets import LogMelSegments, MfccSegments, Seed174, Summary
from tests.options import make
from tests.paths import CONF

FEATURES_CONF = CONF / "features"
SR = 22050


def clicks_and_tone(seconds: float, sr: int = SR, bpm: float = 120.0) -> np.ndarray:
    """A 220 Hz tone with a click every beat; deterministic noise floor."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = 0.1 * np.sin(2 * np.pi * 220 * t) + 0.001 * np.random.default_rng(0).standard_normal(n)
    step = int(round(60 / bpm * sr))
    for start in range(0, n - 200, step):
        y[start : start + 200] += np.hanning(200)
    return y.astype(np.float32)


@pytest.mark.parametrize(
    "name, cls",
    [
        ("seed174", Seed174),
        ("summary", Summary),
        ("logmel_segments", LogMelSegments),
        ("mfcc_segments", MfccSegments),
    ],
)
def test_yaml_instantiates_its_set(name, cls):
    fs = instantiate(OmegaConf.load(FEATURES_CONF / f"{name}.yaml"))
    assert type(fs) is cls and fs.name == name
    assert len(fs.columns) == len(set(fs.columns))
    assert fs.mono is True


def test_seed174_set_uses_native_rate_and_seed_columns():
    from genreclf.features.seed174 import SEED174_COLUMNS

    fs = instantiate(OmegaConf.load(FEATURES_CONF / "seed174.yaml"))
    assert fs.sr is None and fs.frame_level is False
    assert fs.columns == SEED174_COLUMNS and len(fs.columns) == 174


def test_summary_values_match_direct_librosa_calls():
    import librosa

    y = clicks_and_tone(6.0)
    fs = make(Summary)
    x = fs.compute(y, SR)
    assert x.shape == (len(fs.columns),) == (2 * (20 + 64 + 6 + 7 + 12) + 1,)
    assert np.all(np.isfinite(x))
    col = {c: i for i, c in enumerate(fs.columns)}
    for c in ("mfcc_mean_1", "mfcc_std_1", "logmel_mean_1", "centroid_mean", "chroma_std_12"):
        assert c in col
    np.testing.assert_allclose(
        x[col["centroid_mean"]], librosa.feature.spectral_centroid(y=y, sr=SR).mean(), rtol=1e-4
    )
    np.testing.assert_allclose(
        x[col["zcr_std"]], librosa.feature.zero_crossing_rate(y).std(), rtol=1e-4
    )
    mel = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=SR, n_mels=64))
    np.testing.assert_allclose(
        x[col["logmel_mean_1"] : col["logmel_mean_1"] + 64], mel.mean(axis=1), rtol=1e-4, atol=1e-3
    )
    assert x[col["tempo"]] == pytest.approx(120, rel=0.05)


def test_logmel_segments_shape_and_independence():
    y = clicks_and_tone(7.0)  # two full 3 s segments and a dropped 1 s tail
    fs = make(LogMelSegments)
    x = fs.compute(y, SR)
    assert x.shape == (2, 130, 64) and fs.columns[0] == "logmel_1"
    # a segment depends on its own samples only
    second = fs.compute(y[3 * SR : 6 * SR], SR)
    np.testing.assert_allclose(x[1], second[0], rtol=1e-5, atol=1e-4)


def test_mfcc_segments_with_and_without_deltas():
    y = clicks_and_tone(6.5)
    full = make(MfccSegments).compute(y, SR)
    bare = make(MfccSegments, deltas=False).compute(y, SR)
    assert full.shape == (2, 130, 60) and bare.shape == (2, 130, 20)
    np.testing.assert_array_equal(full[..., :20], bare)
    assert (
        make(MfccSegments).columns[20] == "delta_1" and make(MfccSegments).columns[40] == "delta2_1"
    )
    assert len(make(MfccSegments, deltas=False).columns) == 20


def test_clip_shorter_than_one_segment_is_an_audio_error():
    with pytest.raises(AudioError, match="too short for one 3 s segment"):
        make(LogMelSegments).compute(clicks_and_tone(2.0), SR)


def test_params_cover_every_parameter():
    assert make(LogMelSegments).params() != make(LogMelSegments, n_mels=32).params()
    assert make(Summary).params() != make(Summary, hop_length=256).params()
    assert make(MfccSegments).params()["deltas"] is True
    assert make(Seed174).params() == {"mono": True, "sr": None}


@pytest.mark.parametrize("name", ["logmel_segments", "mfcc_segments"])
def test_short_segments_fit_the_real_2_to_3_s_excerpts(name):
    """``features.segment_seconds``: 1 s segments cut the real excerpts, 3 s ones cannot."""
    from genreclf.audio import load_audio
    from genreclf.features.sets import FEATURE_SETS
    from tests.conftest import require_shared

    clip = require_shared("gtzan_excerpts", "genres_original", "blues", "blues.00001.wav")
    y, sr = load_audio(clip, sr=22050)
    assert 2.0 <= len(y) / sr <= 3.0
    short = FEATURE_SETS.option(name, segment_seconds=1.0)
    segs = short.compute(y, sr)
    assert segs.shape[0] == int(len(y) / sr) and segs.shape[1] == 1 + 22050 // 512
    assert segs.shape[2] == len(short.columns) and np.all(np.isfinite(segs))
    with pytest.raises(AudioError, match="too short for one 3 s segment"):
        FEATURE_SETS.option(name).compute(y, sr)
