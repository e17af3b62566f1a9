"""features=fusion: parts checked and completed, layout refused in one line, tables joined
by track, the spec and the package record the parts, the sweep and the report name them."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from sklearn.preprocessing import StandardScaler

from genreclf.core.errors import ConfigError
from genreclf.core.registry import RegistryError, conf_values
from genreclf.datamodule import GenreDataModule
from genreclf.features.fusion import Fusion, fuse_tables
from genreclf.features.sets import FEATURE_SETS, build_feature_set, feature_set_spec
from genreclf.features.table import FeatureTable
from genreclf.inference.spec import ModelSpec
from genreclf.split import HoldoutSplit
from genreclf.train import check_train_config
from tests.options import make
from tests.paths import CONF

TWO_MUSICNN = conf_values("features", "musicnn_fusion")["parts"]


def compose_train(*overrides: str):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def test_musicnn_fusion_names_two_networks_with_every_value():
    fusion = FEATURE_SETS.build("fusion", {"parts": TWO_MUSICNN})
    assert fusion.parts == [
        {"name": "musicnn", "sr": 16000, "model": m, "layer": "penultimate", "pooling": "mean"}
        for m in ("MSD_musicnn", "MSD_vgg")
    ]
    assert [type(m).__name__ for m in fusion.members] == ["Musicnn", "Musicnn"]
    assert len(fusion.columns) == 200 + 256 == len(set(fusion.columns))
    assert fusion.columns[0] == "p1.musicnn.penultimate_1"
    assert fusion.columns[-1] == "p2.musicnn.penultimate_256"
    assert fusion.sr == 16000 and not fusion.frame_level and fusion.output_ndim == 1
    assert fusion.describe() == "fusion: musicnn + musicnn(model=MSD_vgg)"


def test_a_part_takes_its_options_values_and_a_native_rate_part_leaves_the_rate_open():
    fusion = FEATURE_SETS.build("fusion", {"parts": [{"name": "musicnn"}, {"name": "summary"}]})
    assert fusion.parts[1] == {"name": "summary", **conf_values("features", "summary")}
    assert fusion.sr is None  # 16000 and 22050: the audio is loaded at its own rate
    assert FEATURE_SETS.build("fusion", {"parts": [{"name": "seed174"}]}).sr is None


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (
            [{"name": "musicnn"}, {"name": "musicnn", "model": "MSD_vgg", "pooling": "segments"}],
            "parts[1] (musicnn) gives one row per 3 s window, parts[0] (musicnn) one row per "
            "clip: fused parts must share the clip and window layout",
        ),
        (
            [{"name": "logmel_segments"}, {"name": "musicnn", "pooling": "segments"}],
            "parts[1] (musicnn) gives one row per 3 s window, parts[0] (logmel_segments) one "
            "frame sequence per 3 s window",
        ),
        ([{"name": "musicnn", "model": "MSD_vggg"}], "parts[0].model=MSD_vggg: must be one of"),
        ([{"name": "summary", "n_mfcc": 0}], "parts[0].n_mfcc=0: must be an int in [1, 4096]"),
        ([{"name": "fusion"}], "parts[0].name=fusion: a part cannot be a fusion"),
        ([{"model": "MSD_vgg"}], "parts[0].name=null: must be one of hf_encoder,"),
        ([{"name": "summary"}, {"name": "summary"}], "parts[1]: the same feature set as parts[0]"),
        ([], "parts=[]: must be a list of 1 to 8 feature sets"),
        (["musicnn"], "parts=[musicnn]: must be a list of 1 to 8 feature sets"),
    ],
)
def test_a_bad_part_is_one_line_naming_it(parts, message):
    with pytest.raises(RegistryError) as err:
        FEATURE_SETS.build("fusion", {"parts": parts})
    assert "\n" not in str(err.value) and message in str(err.value), str(err.value)


def test_frame_level_parts_of_one_layout_fuse():
    parts = [{"name": "logmel_segments"}, {"name": "mfcc_segments", "n_mels": 64}]
    fusion = FEATURE_SETS.build("fusion", {"parts": parts})
    assert fusion.frame_level and fusion.output_ndim == 3 and fusion.segment_seconds == 3.0
    assert len(fusion.columns) == 64 + 60


def test_the_check_of_a_run_logs_every_value_of_every_part():
    cfg = compose_train("features=fusion", "features.parts=[{name:musicnn,model:MSD_vgg}]")
    config = check_train_config(cfg, {"features": "fusion"})
    assert config.features.params["parts"] == [
        {
            "name": "musicnn",
            "sr": 16000,
            "model": "MSD_vgg",
            "layer": "penultimate",
            "pooling": "mean",
        }
    ]
    assert config.features.target == "genreclf.features.fusion.Fusion"


def test_a_mixed_layout_stops_the_check_in_one_line():
    segments = "{name:musicnn,model:MSD_vgg,pooling:segments}"
    cfg = compose_train("features=fusion", f"features.parts=[{{name:musicnn}},{segments}]")
    with pytest.raises(ConfigError) as err:
        check_train_config(cfg, {})
    assert str(err.value).startswith("features.parts[1] (musicnn) gives one row per 3 s window")


def test_the_spec_records_the_parts_and_rebuilds_the_fusion():
    fusion = FEATURE_SETS.build("fusion", {"parts": [{"name": "musicnn"}, {"name": "seed174"}]})
    spec = feature_set_spec(fusion)
    assert spec == {
        "name": "fusion",
        "params": {},
        "parts": [feature_set_spec(m) for m in fusion.members],
    }
    assert spec["parts"][1] == {"name": "seed174", "params": {"sr": None}}
    assert build_feature_set(json.loads(json.dumps(spec))) == fusion
    nested = {"name": "fusion", "params": {}, "parts": [spec]}
    with pytest.raises(RegistryError, match="a part cannot have parts"):
        build_feature_set(nested)
    with pytest.raises(RegistryError, match="'parts' must be a list, 'params' empty"):
        build_feature_set({**spec, "params": {"sr": 1}})
    bad_rate = {"name": "seed174", "params": {"sr": "x"}}
    with pytest.raises(RegistryError, match=r"parts\[1\].sr=x: must be null or an int"):
        build_feature_set({**spec, "parts": [spec["parts"][0], bad_rate]})


def _table(columns: list[str], ids: list[str], rows: list[int], value: float | None = None):
    """A table of ``rows[i]`` rows for track ``ids[i]`` (``value``: constant columns)."""
    rng = np.random.default_rng(len(columns))
    n = sum(rows)
    X = rng.normal(size=(n, len(columns))) if value is None else np.full((n, len(columns)), value)
    track_ids = np.repeat(ids, rows)
    return FeatureTable(
        X=X, labels=[t.split("/")[0] for t in track_ids], track_ids=track_ids, columns=columns
    )


def test_tables_join_by_track_and_a_track_a_part_skipped_is_skipped():
    fusion = FEATURE_SETS.build("fusion", {"parts": [{"name": "summary"}, {"name": "seed174"}]})
    first, second = fusion.members
    a = _table(first.columns, ["x/1", "x/2", "y/3"], [1, 1, 1])
    b = _table(second.columns, ["x/1", "y/3"], [1, 1])
    b.skipped = pd.DataFrame([("x/2", "x/2.wav", "silent")], columns=["track_id", "path", "reason"])
    fused = fuse_tables([a, b], fusion, paths={})
    assert list(fused.track_ids) == ["x/1", "y/3"] and list(fused.labels) == ["x", "y"]
    assert fused.columns == fusion.columns and fused.X.shape == (2, len(fusion.columns))
    np.testing.assert_array_equal(fused.X[:, : len(first.columns)], a.X[[0, 2]])
    np.testing.assert_array_equal(fused.X[:, len(first.columns) :], b.X)
    assert fused.skipped.to_dict("records") == [
        {"track_id": "x/2", "path": "x/2.wav", "reason": "p2.seed174: silent"}
    ]


def test_windows_join_by_track_and_parts_that_cut_a_track_differently_skip_it():
    parts = [{"name": "musicnn", "pooling": "segments"}]
    parts.append({"name": "musicnn", "model": "MSD_vgg", "pooling": "segments"})
    fusion = FEATURE_SETS.build("fusion", {"parts": parts})
    first, second = fusion.members
    a = _table(first.columns, ["x/1", "x/2", "y/3"], [3, 2, 1])
    b = _table(second.columns, ["x/1", "x/2", "y/3"], [3, 1, 1])
    fused = fuse_tables([a, b], fusion, paths={"x/2": "/music/x/2.wav"})
    assert list(fused.track_ids) == ["x/1"] * 3 + ["y/3"]
    np.testing.assert_array_equal(fused.X[:, :200], a.X[[0, 1, 2, 5]])
    np.testing.assert_array_equal(fused.X[:, 200:], b.X[[0, 1, 2, 4]])
    (row,) = fused.skipped.to_dict("records")
    assert row == {
        "track_id": "x/2",
        "path": "/music/x/2.wav",
        "reason": "parts disagree on rows: p1.musicnn.2, p2.musicnn.1",
    }


def test_the_transform_fits_on_training_rows_and_a_constant_part_does_no_harm():
    fusion = FEATURE_SETS.build("fusion", {"parts": [{"name": "summary"}, {"name": "seed174"}]})
    first, second = fusion.members
    ids = [f"{g}/{g}.{i:05d}.wav" for g in "abc" for i in range(20)]
    a = _table(first.columns, ids, [1] * len(ids))
    fused = fuse_tables(
        [a, _table(second.columns, ids, [1] * len(ids), value=7.0)], fusion, paths={}
    )
    split = make(HoldoutSplit, val_size=0.2, test_size=0.2, seed=1)
    dm = make(GenreDataModule, fused, split, transform=StandardScaler())
    dm.setup()
    train = dm.indices["train"]
    np.testing.assert_allclose(dm.transform.mean_, fused.X[train].mean(axis=0), rtol=1e-5)
    for part in ("train", "val", "test"):
        x = dm.datasets[part].tensors[0].numpy()
        assert np.isfinite(x).all()
        np.testing.assert_array_equal(x[:, len(first.columns) :], 0.0)  # constant: centred


def test_a_package_spec_holds_parts_and_a_part_that_runs_remote_code_is_seen():
    from genreclf.inference.package import ModelLoadError, _check_remote_code

    fusion = FEATURE_SETS.build("fusion", {"parts": TWO_MUSICNN})
    features = feature_set_spec(fusion)
    spec = ModelSpec.model_validate(
        {
            "format": 2,
            "source": "audio",
            "recipe": "fusion",
            "recipe_note": "extracted from audio",
            "features": features,
            "frame_level": False,
            "segment_seconds": None,
            "clip_seconds": 2.5,
            "sample_rate": 16000,
            "sample_rate_note": "the feature set's rate",
            "columns": fusion.columns,
            "class_names": ["a", "b"],
            "input_shape": [len(fusion.columns)],
            "head": {"name": "dense", "params": conf_values("model", "dense")},
            "weights": "weights.safetensors",
            "transform": None,
        }
    )
    assert spec.features.plain() == features
    assert build_feature_set(spec.features.plain()) == fusion
    risky = json.loads(spec.model_dump_json())
    risky["features"]["parts"][1]["params"]["trust_remote_code"] = True
    with pytest.raises(ModelLoadError, match="needs trust_remote_code=true"):
        _check_remote_code(CONF, ModelSpec.model_validate(risky), trust_remote_code=False)
    _check_remote_code(CONF, spec, trust_remote_code=False)  # no part runs remote code


def test_probe_fusion_sweeps_single_encoders_and_their_fusion_in_one_line():
    params = OmegaConf.load(CONF / "sweep" / "probe_fusion.yaml").hydra.sweeper.params
    choices = re.findall(r"\[[^\]]*\]", params["features.parts"])
    assert len(choices) == 3
    for choice in choices:
        cfg = compose_train("sweep=probe_fusion", f"features.parts={choice}")
        config = check_train_config(cfg, {})
        assert config.choices == {} and config.split.params.get("fold") is None  # every fold
        assert config.features.target == "genreclf.features.fusion.Fusion"


def test_the_report_names_a_fused_set_with_its_parts():
    from genreclf.reports.provenance import _features
    from genreclf.reports.tables import configuration_table
    from genreclf.tracking import names

    runs = pd.DataFrame(
        {
            "run_id": ["r1", "r2"],
            "run_name": ["one", "two"],
            "model": ["linear", "linear"],
            "features": ["fusion: musicnn + musicnn(model=MSD_vgg)", "musicnn"],
            f"tags.{names.FEATURES_TAG}": ["fusion: musicnn + musicnn(model=MSD_vgg)", "musicnn"],
            f"tags.{names.ROLE_TAG}": [names.CONFIG_ROLE] * 2,
            "params.features._target_": [Fusion.__module__ + ".Fusion", "genreclf.features.x.M"],
            "val_acc": [0.8, 0.7],
            "val_loss": [0.5, 0.6],
            "test_acc": [0.8, 0.7],
            "test_f1": [0.8, 0.7],
            "start_time": [1, 2],
        }
    )
    assert _features(runs) == "fusion: musicnn + musicnn(model=MSD_vgg), M"
    table = configuration_table(runs, [])
    assert list(table["features"]) == ["fusion: musicnn + musicnn(model=MSD_vgg)", "musicnn"]
