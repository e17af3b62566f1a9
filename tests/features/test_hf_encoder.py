"""features=hf_encoder on a tiny random HuBERT saved to disk: shapes, values, cache key, errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from genreclf.cli import CONFIG_DIR
from genreclf.core.registry import RegistryError
from genreclf.features.cache import feature_key
from genreclf.features.extraction import compute_chunk
from genreclf.features.hf_encoder import HFEncoder
from genreclf.features.hf_folder import HFEncoderError
from genreclf.features.sets import FEATURE_SETS, build_feature_set, feature_set_spec
from tests.features.tiny_hf import TINY_HIDDEN, TINY_STATES, save_tiny_hf_model
from tests.options import make

pytest.importorskip("transformers")

SR = 16000
D, L = TINY_HIDDEN, TINY_STATES


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Folder of the tiny model (read-only for the tests: several share it)."""
    return str(save_tiny_hf_model(tmp_path_factory.mktemp("tiny_hf") / "model"))


def signal(seconds: float, seed: int = 0) -> np.ndarray:
    """A 220 Hz tone plus noise, deterministic."""
    t = np.arange(int(seconds * SR)) / SR
    noise = 0.05 * np.random.default_rng(seed).standard_normal(len(t))
    return (0.3 * np.sin(2 * np.pi * 220 * t) + noise).astype(np.float32)


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


# --------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("layer", ["last", "0", "-1", "2", "all"])
@pytest.mark.parametrize("pooling", ["mean", "mean_std", "segments"])
def test_shapes_for_each_layer_and_pooling(tiny, layer, pooling):
    fs = make(HFEncoder, model=tiny, layer=layer, pooling=pooling, window_seconds=1.0)
    x = fs.compute(signal(2.5), SR)  # windows of 1 s, 1 s; the 0.5 s tail dropped
    width = 2 * D if pooling == "mean_std" else D
    shape = {"mean": (width,), "mean_std": (width,), "segments": (2, width)}[pooling]
    if layer == "all":
        shape = (*shape[:-1], L, width)
    assert x.shape == shape and x.dtype == np.float32
    assert x.ndim == fs.output_ndim and x.shape[-1] == len(fs.columns) == width
    assert fs.frame_level is (pooling == "segments")
    assert np.all(np.isfinite(x))


def test_columns_name_the_hidden_units(tiny):
    assert make(HFEncoder, model=tiny).columns == [f"hf_{i}" for i in range(1, D + 1)]
    cols = make(HFEncoder, model=tiny, pooling="mean_std").columns
    assert cols[:2] == ["hf_mean_1", "hf_mean_2"] and cols[D : D + 2] == ["hf_std_1", "hf_std_2"]
    assert len(set(cols)) == 2 * D
    assert make(HFEncoder).columns == []  # no model yet: no columns (nothing matches a table)


def test_windows_keep_a_long_enough_or_only_tail():
    fs = make(HFEncoder, window_seconds=2.0)
    assert [len(w) for w in fs.windows(signal(5.5), SR)] == [2 * SR, 2 * SR, int(1.5 * SR)]
    assert [len(w) for w in fs.windows(signal(4.5), SR)] == [2 * SR, 2 * SR]
    assert [len(w) for w in fs.windows(signal(0.6), SR)] == [int(0.6 * SR)]


def test_layers_and_poolings_agree(tiny):
    y = signal(3.0)
    kw = {"model": tiny, "window_seconds": 1.0}
    every = make(HFEncoder, layer="all", **kw).compute(y, SR)
    for i in range(L):
        np.testing.assert_allclose(make(HFEncoder, layer=str(i), **kw).compute(y, SR), every[i])
    np.testing.assert_allclose(make(HFEncoder, layer="last", **kw).compute(y, SR), every[-1])
    np.testing.assert_allclose(make(HFEncoder, layer="-3", **kw).compute(y, SR), every[0])
    # Equal windows: the mean over all frames is the mean of the windows' means.
    rows = make(HFEncoder, layer="all", pooling="segments", **kw).compute(y, SR)
    assert rows.shape == (3, L, D)
    np.testing.assert_allclose(rows.mean(axis=0), every, rtol=1e-5, atol=1e-6)
    both = make(HFEncoder, layer="all", pooling="mean_std", **kw).compute(y, SR)
    np.testing.assert_allclose(both[:, :D], every, rtol=1e-5, atol=1e-6)
    assert np.all(both[:, D:] > 0)


def test_output_is_deterministic(tiny):
    y = signal(2.0, seed=3)
    a = make(HFEncoder, model=tiny, layer="all").compute(y, SR)
    b = make(HFEncoder, model=tiny, layer="all").compute(y.copy(), SR)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, make(HFEncoder, model=tiny, layer="all").compute(signal(2.0, 4), SR))


def test_without_preprocessor_each_window_is_standardised(tiny, tmp_path):
    folder = save_tiny_hf_model(tmp_path / "bare")  # same seed: same weights
    (folder / "preprocessor_config.json").unlink()
    y = 0.01 * signal(2.0) + 0.2  # off-centre and quiet: normalising matters
    with_extractor = make(HFEncoder, model=tiny, layer="all").compute(y, SR)
    bare = make(HFEncoder, model=str(folder), layer="all").compute(y, SR)
    np.testing.assert_allclose(bare, with_extractor, rtol=1e-4, atol=1e-5)


def test_compute_chunk_accepts_its_output(tiny, tmp_path):
    import soundfile as sf

    path = tmp_path / "clip.wav"
    sf.write(path, signal(2.2), SR)
    for pooling in ("mean", "segments"):
        fs = make(HFEncoder, model=tiny, layer="all", pooling=pooling, window_seconds=1.0)
        ((_, value, reason, _),) = compute_chunk([(0, str(path))], fs, len(fs.columns))
        assert reason is None and value.ndim == fs.output_ndim


# ------------------------------------------------------------------------ cache key
def test_cache_key_follows_the_weights(tmp_path):
    folder = save_tiny_hf_model(tmp_path / "model", seed=0)
    fs = make(HFEncoder, model=str(folder))
    before, key = fs.params()["weights"], feature_key("0" * 64, fs)
    assert fs.params()["weights"] == before and feature_key("0" * 64, fs) == key
    y = signal(1.5)
    x0 = fs.compute(y, SR)
    save_tiny_hf_model(folder, seed=1)  # other weights, same folder
    assert fs.params()["weights"] != before and feature_key("0" * 64, fs) != key
    assert not np.allclose(fs.compute(y, SR), x0)  # the new weights are read, not the old
    assert make(HFEncoder, model=str(folder), layer="0").params()["layer"] == "0"


def test_params_are_the_fields_and_the_weights(tiny):
    fs = make(HFEncoder, model=tiny, layer=2)
    params = fs.params()
    assert params["layer"] == "2" and params["model"] == tiny and params["mono"] is True
    assert len(params["weights"]) == 64


# ---------------------------------------------------------------------------- errors
def test_missing_folder_is_one_line_naming_it(tmp_path):
    missing = str(tmp_path / "no_model")
    for call in (
        lambda fs: fs.params(),
        lambda fs: fs.columns,
        lambda fs: fs.compute(signal(1), SR),
    ):
        with pytest.raises(HFEncoderError) as exc:
            call(make(HFEncoder, model=missing))
        assert missing in one_line(exc) and "no such folder" in str(exc.value)


def test_folder_without_a_model_is_one_line(tmp_path):
    with pytest.raises(HFEncoderError) as exc:
        _ = make(HFEncoder, model=str(tmp_path)).columns
    assert f"features.model={tmp_path}: not a readable Hugging Face model folder" in one_line(exc)


def test_pickled_weights_are_never_unpickled(tmp_path):
    """A folder whose weights are only pytorch_model.bin (a pickle) is refused, not loaded."""
    import shutil

    import torch
    from safetensors.torch import load_file

    folder = save_tiny_hf_model(tmp_path / "safe")
    pickled = tmp_path / "pickled"
    shutil.copytree(folder, pickled)
    for weights in pickled.glob("*.safetensors"):  # the same weights, as the old pickle format
        torch.save(load_file(weights), pickled / "pytorch_model.bin")
        weights.unlink()
    assert (pickled / "pytorch_model.bin").exists()
    with pytest.raises(HFEncoderError) as exc:
        make(HFEncoder, model=str(tmp_path / "pickled")).compute(signal(1.5), 16000)
    assert "not a readable Hugging Face model folder" in one_line(exc)


def test_hub_id_not_cached_offline_says_how_to_get_it():
    with pytest.raises(HFEncoderError) as exc:
        make(HFEncoder, model="nobody-here/no-such-model-x").params()
    text = one_line(exc)
    assert "features.model=nobody-here/no-such-model-x: not found offline" in text
    assert "features.local_files_only=false" in text
    assert "huggingface-cli download nobody-here/no-such-model-x" in text


def test_unset_model_says_what_to_set():
    for call in (lambda fs: fs.params(), lambda fs: fs.compute(signal(1), SR)):
        with pytest.raises(RegistryError) as exc:
            call(make(HFEncoder))
        assert "set features.model=<folder or hub id>" in one_line(exc)


@pytest.mark.parametrize("layer", ["3", "-4", 7])
def test_out_of_range_layer_is_refused(tiny, layer):
    fs = make(HFEncoder, model=tiny, layer=layer)
    for call in (lambda: fs.columns, lambda: fs.compute(signal(1), SR)):
        with pytest.raises(RegistryError) as exc:
            call()
        assert f"features.layer={layer}: out of range" in one_line(exc)
        assert "3 hidden states: 0..2" in str(exc.value)


def test_other_rate_than_the_models_is_refused(tmp_path):
    folder = save_tiny_hf_model(tmp_path / "mert_like", sampling_rate=24000)
    with pytest.raises(RegistryError) as exc:
        _ = make(HFEncoder, model=str(folder)).columns
    assert "reads audio at 24000 Hz: set features.sr=24000" in one_line(exc)
    assert make(HFEncoder, model=str(folder), sr=24000).compute(signal(1.0), 24000).shape == (D,)


def test_missing_transformers_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails
    with pytest.raises(HFEncoderError) as exc:
        _ = make(HFEncoder, model="someone/not-loaded-before").columns
    assert one_line(exc) == (
        "features=hf_encoder needs the transformers package: pip install -e '.[hf]'"
    )


@pytest.mark.parametrize(
    "params, match",
    [
        ({"layer": "first"}, "layer=first: must be an int in"),
        ({"layer": 1.5}, "layer=1.5: must be an int in"),
        ({"pooling": "max"}, "pooling=max: must be one of mean, mean_std, segments"),
        ({"window_seconds": 0}, "window_seconds=0: must be a finite number in"),
        ({"window_seconds": "long"}, "window_seconds=long: must be a finite number"),
        ({"trust_remote_code": "yes"}, "trust_remote_code=yes: must be a bool"),
        ({"sr": "16k"}, "sr=16k: must be null or an int"),
        ({"heads": 2}, "heads=2: unknown key"),
    ],
)
def test_bad_parameters_are_one_line(params, match):
    with pytest.raises(RegistryError, match=match) as exc:
        FEATURE_SETS.option("hf_encoder", **params)
    one_line(exc)


# ---------------------------------------------------------------- building, configs
def test_builds_from_plain_params_and_round_trips(tiny):
    fs = FEATURE_SETS.option("hf_encoder", model=tiny, layer=-1, pooling="segments")
    assert isinstance(fs, HFEncoder) and fs.layer == "-1" and fs.frame_level
    assert fs.output_ndim == 2 and fs.segment_seconds == 10.0
    assert build_feature_set(feature_set_spec(fs)) == fs
    assert FEATURE_SETS.name_of("genreclf.features.hf_encoder.HFEncoder") == "hf_encoder"


def test_yaml_builds_as_instantiate():
    cfg = OmegaConf.load(CONFIG_DIR / "features" / "hf_encoder.yaml")
    assert cfg._target_ == "genreclf.features.hf_encoder.HFEncoder"
    built = FEATURE_SETS.build_config(OmegaConf.to_container(cfg))
    assert built == instantiate(cfg) == make(HFEncoder)
    assert (built.sr, built.layer, built.pooling, built.window_seconds) == (
        16000,
        "last",
        "mean",
        10.0,
    )
    assert built.trust_remote_code is False and built.local_files_only is True


@pytest.mark.parametrize(
    ("override", "layer", "ndim"), [("3", "3", 1), ("all", "all", 2), ("-2", "-2", 1)]
)
def test_layer_from_a_hydra_override(tiny, override, layer, ndim):
    overrides = ["features=hf_encoder", f"features.model={tiny}", f"features.layer={override}"]
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    fs = instantiate(cfg.features)
    assert fs == FEATURE_SETS.build_config(OmegaConf.to_container(cfg.features, resolve=True))
    assert fs.layer == layer and fs.output_ndim == ndim
