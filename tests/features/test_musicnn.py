"""features=musicnn: the port against the original's documented tags, shapes, options."""

from __future__ import annotations

import numpy as np
import pytest

from genreclf.audio import load_audio
from genreclf.core.registry import RegistryError
from genreclf.features import musicnn_net
from genreclf.features.musicnn import Musicnn
from genreclf.features.sets import FEATURE_SETS, build_feature_set, feature_set_spec
from tests.conftest import require_shared
from tests.options import make

# musicnn's README (jordipons/musicnn), printed by its TensorFlow implementation; see
# ../shared/data/musicnn_reference/README.md.
REFERENCE = {
    "joram-moments_of_clarity-08-solipsism-59-88.mp3": [
        "techno", "electronic", "synth", "fast", "beat",
        "drums", "no vocals", "no vocal", "dance", "ambient",
    ],
    "TRWJAZW128F42760DD_test.mp3": ["guitar", "piano", "fast"],
}  # fmt: skip


def _top_tags(fs: Musicnn, path, n: int) -> list[str]:
    y, sr = load_audio(path, sr=fs.sr)
    probs = fs.compute(y, sr)
    names = musicnn_net.labels(fs.model)
    return [names[i] for i in np.argsort(-probs, kind="stable")[:n]]


@pytest.mark.parametrize("clip", sorted(REFERENCE))
def test_port_gives_the_originals_tags_in_order(clip):
    path = require_shared("musicnn_reference", clip)
    fs = make(Musicnn, model="MTT_musicnn", layer="taggram", pooling="mean")
    assert _top_tags(fs, path, len(REFERENCE[clip])) == REFERENCE[clip]


def test_msd_model_tags_gtzan_metal_as_metal():
    path = require_shared("gtzan_mini", "genres_original", "metal", "metal.00000.wav")
    tags = _top_tags(make(Musicnn, model="MSD_musicnn", layer="taggram"), path, 5)
    assert {"hard rock", "heavy metal"} <= set(tags), tags


@pytest.fixture(scope="module")
def clip():
    """A real 30 s GTZAN clip at 16 kHz."""
    path = require_shared("gtzan_mini", "genres_original", "jazz", "jazz.00000.wav")
    return load_audio(path, sr=16000)


@pytest.mark.parametrize(
    ("model", "layer", "pooling", "shape"),
    [
        ("MSD_musicnn", "penultimate", "mean", (200,)),
        ("MSD_musicnn", "pool", "mean_std", (2 * 1506,)),
        ("MTT_musicnn", "taggram", "segments", (10, 50)),
        ("MSD_vgg", "penultimate", "mean", (256,)),
        ("MTT_vgg", "taggram", "segments", (10, 50)),
    ],
)
def test_output_shapes_and_columns(clip, model, layer, pooling, shape):
    fs = make(Musicnn, model=model, layer=layer, pooling=pooling)
    value = fs.compute(*clip)
    assert value.shape == shape and value.dtype == np.float32
    assert value.ndim == fs.output_ndim and value.shape[-1] == len(fs.columns)
    assert fs.frame_level == (pooling == "segments")
    assert np.all(np.isfinite(value))


def test_windows_are_3_s_and_pooling_agrees(clip):
    rows = make(Musicnn, pooling="segments").compute(*clip)
    assert len(rows) == int(len(clip[0]) / 16000 // 3)  # 187 frames: 2.99 s, 10 per 30 s
    np.testing.assert_allclose(
        make(Musicnn, pooling="mean").compute(*clip), rows.mean(0), rtol=1e-5
    )
    both = make(Musicnn, pooling="mean_std").compute(*clip)
    np.testing.assert_allclose(both[200:], rows.std(0), rtol=1e-4, atol=1e-6)


def test_short_clips_are_read_whole_by_musicnn_and_padded_for_vgg(clip):
    y, sr = clip
    short = y[: int(1.5 * sr)]
    assert make(Musicnn, pooling="segments").compute(short, sr).shape == (1, 200)
    spec = musicnn_net.log_mel(short, sr=sr)
    assert musicnn_net.patches(spec, whole_if_short=True).shape == (1, len(spec), 96)
    padded = musicnn_net.patches(spec, whole_if_short=False)  # VGG: silence up to 187 frames
    assert padded.shape == (1, 187, 96) and not padded[0, len(spec) :].any()
    np.testing.assert_array_equal(padded[0, : len(spec)], spec)
    got = make(Musicnn, model="MSD_vgg", pooling="segments").compute(short, sr)
    assert got.shape == (1, 256) and np.all(np.isfinite(got))


def test_cache_key_names_the_weights_and_port():
    a, b = make(Musicnn, model="MSD_musicnn").params(), make(Musicnn, model="MTT_musicnn").params()
    assert a["weights"] != b["weights"] and a["port"] == b["port"]


def test_rebuilt_from_plain_data_by_name():
    fs = make(Musicnn, model="MTT_vgg", layer="taggram", pooling="segments")
    assert build_feature_set(feature_set_spec(fs)) == fs
    assert FEATURE_SETS.name_of(Musicnn) == "musicnn"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"model": "MSD_big"}, "model=MSD_big: must be one of MSD_musicnn"),
        ({"layer": "cnn3"}, "layer=cnn3: must be one of penultimate, pool, taggram"),
        ({"pooling": "max"}, "pooling=max: must be one of mean, mean_std, segments"),
        ({"sr": 22050}, "sr=22050: must be one of 16000"),
        ({"model": "MSD_vgg", "layer": "pool"}, "layer=pool: musicnn models only"),
    ],
)
def test_bad_options_are_one_line(params, message):
    with pytest.raises(RegistryError, match=message):
        FEATURE_SETS.option("musicnn", **params)


def test_missing_wheel_names_the_install_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "musicnn" else real(n, *a)
    )
    with pytest.raises(musicnn_net.MusicnnMissing, match=r"pip install --no-deps musicnn==0\.1\.0"):
        musicnn_net.checkpoint_prefix("MSD_musicnn")
