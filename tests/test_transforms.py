"""Feature transforms from ``conf/transforms``, fit on training rows of the real seed table."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, RobustScaler, StandardScaler

from genreclf.core.registry import RegistryError
from genreclf.features.seed174 import SEED174_COLUMNS
from genreclf.transforms import (
    DataTransform,
    TransformExportError,
    build_transform,
    check_exportable,
    safe_log10,
    transform_from_data,
    transform_rows,
    transform_to_data,
)
from tests.options import log_step
from tests.paths import CONF

TRANSFORMS_CONF = CONF / "transforms"


def make(name: str, overrides: dict[str, object] | None = None):
    """Instantiate ``conf/transforms/<name>.yaml`` with dotted-key ``overrides``."""
    cfg = OmegaConf.load(TRANSFORMS_CONF / f"{name}.yaml")
    for key, value in (overrides or {}).items():
        OmegaConf.update(cfg, key, value)
    return instantiate(cfg)


@pytest.fixture(scope="module")
def features(shared_data: Path) -> pd.DataFrame:
    """The 174 seed features of the real table, as float64."""
    frame = pd.read_csv(shared_data / "seed_features.csv")
    return frame.drop(columns=["label", "filename"]).astype(np.float64)


@pytest.fixture(scope="module")
def train_rows() -> np.ndarray:
    return np.random.default_rng(0).permutation(999)[:700]


def test_standard_is_fit_on_training_rows(features, train_rows) -> None:
    train = features.iloc[train_rows]
    scaler = make("standard").fit(train)
    np.testing.assert_allclose(scaler.mean_, train.mean().to_numpy())
    assert not np.allclose(scaler.mean_, features.mean().to_numpy())
    out = np.asarray(scaler.transform(features))
    assert out.shape == (999, 174)
    np.testing.assert_allclose(out[train_rows].mean(axis=0), 0, atol=1e-8)


def test_none_is_identity(features) -> None:
    out = make("none").fit(features).transform(features)
    np.testing.assert_array_equal(np.asarray(out), features.to_numpy())


def test_log_standard_logs_mel_bands_only(features, train_rows) -> None:
    train = features.iloc[train_rows]
    pipe = make("log_standard").fit(train)
    logged = pipe[0].get_feature_names_out()
    assert list(logged) == list(features.columns)  # seed174 keeps its column order
    mel = features.columns.str.startswith("mel_spectrogram_")
    assert mel.sum() == 128
    expected = features.copy()
    expected.loc[:, mel] = np.log10(features.loc[:, mel] + 1e-10)
    mean = expected.iloc[train_rows].mean().to_numpy()
    std = expected.iloc[train_rows].std(ddof=0).to_numpy()
    out = np.asarray(pipe.transform(features))
    np.testing.assert_allclose(out, (expected.to_numpy() - mean) / std, rtol=1e-6, atol=1e-9)


def test_log_columns_without_match_is_a_no_op(features) -> None:
    step = log_step(pattern="^no_such_column").fit(features)
    np.testing.assert_array_equal(np.asarray(step.transform(features)), features.to_numpy())
    pipe = make("log_standard", {"_args_.0.pattern": "^nope"}).fit(features)
    plain = make("standard").fit(features)
    np.testing.assert_allclose(pipe.transform(features), plain.transform(features))


def test_log_columns_order_and_clipping() -> None:
    frame = pd.DataFrame({"p1": [0.0, -1.0, 100.0], "x": [-5.0, 0.0, 5.0], "p2": [1.0, 10.0, 1e-3]})
    step = log_step(pattern="^p", eps=1e-6).fit(frame)
    assert list(step.get_feature_names_out()) == ["x", "p1", "p2"]  # unmatched first
    out = step.transform(frame)
    np.testing.assert_allclose(out[:, 0], [-5.0, 0.0, 5.0])  # passed through, negatives kept
    np.testing.assert_allclose(out[:, 1], np.log10([1e-6, 1e-6, 100.0 + 1e-6]))  # clipped at eps
    np.testing.assert_allclose(out[:, 2], np.log10(np.array([1.0, 10.0, 1e-3]) + 1e-6))
    assert safe_log10(np.array([-3.0]), eps=1e-10)[0] == pytest.approx(-10.0)


def test_log_standard_pca(features, train_rows) -> None:
    train = features.iloc[train_rows]
    pipe = make("log_standard_pca").fit(train)
    pca = pipe[-1]
    assert pca.n_samples_ == 700  # fit on the training rows only
    assert pca.explained_variance_ratio_.sum() >= 0.99
    out = np.asarray(pipe.transform(features))
    assert out.shape == (999, pca.n_components_) and pca.n_components_ < 174
    fixed = make("log_standard_pca", {"_args_.2.n_components": 10}).fit(train)
    assert np.asarray(fixed.transform(features)).shape == (999, 10)


# --- transforms as plain data, and built from a logged config ---------------------------

TRANSFORM_NAMES = sorted(p.stem for p in TRANSFORMS_CONF.glob("*.yaml"))


def seed_like(n: int, seed: int, frames: int | None = None) -> np.ndarray:
    """Random positive features with seed174's 174 columns; some mel values <= 0."""
    rng = np.random.default_rng(seed)
    shape = (n, 174) if frames is None else (n, frames, 174)
    x = rng.lognormal(sigma=2.0, size=shape)
    flat = x.reshape(-1, 174)
    flat[::7, 50] = 0.0
    flat[1::5, 60:63] = -rng.random((len(flat[1::5]), 3))
    return x


@pytest.fixture(scope="module")
def seed_rows() -> pd.DataFrame:
    return pd.DataFrame(seed_like(300, 0), columns=list(SEED174_COLUMNS))


def round_trip(fitted):
    """Export, through JSON and an .npz read without pickle, and rebuild."""
    steps, arrays = transform_to_data(fitted)
    steps = json.loads(json.dumps(steps))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as npz:
        loaded = {k: npz[k] for k in npz.files}
    return transform_from_data(steps, loaded)


FITTED_VARIANTS = [(name, {}) for name in TRANSFORM_NAMES] + [
    ("log_standard_pca", {"_args_.2.whiten": True}),
    ("log_standard_pca", {"_args_.2.n_components": 7}),
    ("log_standard", {"_args_.0.pattern": "^nope"}),
    ("log_standard", {"_args_.0.pattern": ".", "_args_.0.eps": 1e-3}),
    ("standard", {"+with_mean": False}),
    ("standard", {"+with_std": False}),
]


@pytest.mark.parametrize("name, overrides", FITTED_VARIANTS)
def test_transform_data_round_trip_equals_sklearn(name, overrides, seed_rows) -> None:
    cfg = OmegaConf.load(TRANSFORMS_CONF / f"{name}.yaml")
    for key, value in overrides.items():
        OmegaConf.update(cfg, key.lstrip("+"), value, force_add=True)
    fitted = instantiate(cfg).fit(seed_rows)
    check_exportable(instantiate(cfg))
    data = round_trip(fitted)
    assert isinstance(data, DataTransform) and data.columns_in == list(SEED174_COLUMNS)
    cols = list(SEED174_COLUMNS)
    new = pd.DataFrame(seed_like(50, 1), columns=cols)
    expected = np.asarray(fitted.transform(new), dtype=np.float64)
    out = data.transform(new)
    assert out.dtype == np.float64 and out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=0)
    np.testing.assert_allclose(data.transform(new.to_numpy()), expected, rtol=1e-10, atol=0)
    shuffled = new[cols[::-1]].assign(extra=1.0)  # selected by name
    np.testing.assert_allclose(data.transform(shuffled), expected, rtol=1e-10, atol=0)
    for x in (seed_like(40, 2), seed_like(6, 3, frames=9)):
        a, b = transform_rows(fitted, x, cols), transform_rows(data, x, cols)
        assert a.dtype == b.dtype == np.float32
        assert a.shape == b.shape == (*x.shape[:-1], expected.shape[1])
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=0)
    assert transform_to_data(data)[0] == transform_to_data(fitted)[0]  # re-exportable


def test_transform_rows_none_and_shape_check() -> None:
    x = np.ones((2, 3, 4), dtype=np.float32)
    assert transform_rows(None, x, list("abcd")) is x
    with pytest.raises(ValueError, match="do not match 3 column names"):
        transform_rows(FunctionTransformer().fit(np.ones((2, 4))), x, list("abc"))


def test_transform_data_is_plain(seed_rows) -> None:
    steps, arrays = transform_to_data(make("log_standard_pca").fit(seed_rows))
    assert [s["kind"] for s in steps] == ["log_columns", "standard", "pca"]
    assert steps[0]["log"] == [c for c in SEED174_COLUMNS if c.startswith("mel_spectrogram_")]
    assert steps[1] == {"kind": "standard", "mean": "s1_mean", "scale": "s1_scale"}
    assert all(a.dtype == np.float64 for a in arrays.values())
    json.dumps(steps)


UNSUPPORTED = [
    RobustScaler(),
    FunctionTransformer(np.log1p),
    make_pipeline(StandardScaler(), MinMaxScaler()),
    ColumnTransformer([("keep", "passthrough", [0])]),
    make_pipeline(StandardScaler(), log_step()),
]


@pytest.mark.parametrize("transform", UNSUPPORTED, ids=lambda t: type(t).__name__)
def test_unsupported_transforms_are_refused(transform) -> None:
    with pytest.raises(TransformExportError, match="supported: StandardScaler") as info:
        check_exportable(transform)
    assert "\n" not in str(info.value) and "cannot be saved in a model as data" in str(info.value)


def test_refusals_name_the_step(seed_rows) -> None:
    with pytest.raises(TransformExportError, match="^transforms: RobustScaler cannot be saved"):
        transform_to_data(RobustScaler().fit(seed_rows))

    class MyScaler(StandardScaler):
        pass

    with pytest.raises(TransformExportError, match="MyScaler"):
        check_exportable(make_pipeline(log_step(), MyScaler()))
    with pytest.raises(TransformExportError, match="not fitted"):
        transform_to_data(StandardScaler())
    check_exportable(None)


def _data(seed_rows):
    steps, arrays = transform_to_data(
        make("log_standard_pca", {"_args_.2.whiten": True}).fit(seed_rows)
    )
    return json.loads(json.dumps(steps)), arrays


def _corrupt_steps(change):
    def apply(steps, arrays):
        change(steps)
        return steps, arrays

    return apply


def _corrupt_array(key, value):
    def apply(steps, arrays):
        arrays = dict(arrays)
        arrays[key] = value(arrays[key]) if callable(value) else value
        return steps, arrays

    return apply


CORRUPTIONS = {
    "unknown kind": _corrupt_steps(lambda s: s[1].update(kind="pickle")),
    "missing key": _corrupt_steps(lambda s: s[1].pop("scale")),
    "extra key": _corrupt_steps(lambda s: s[2].update(func="os.system")),
    "columns not str": _corrupt_steps(lambda s: s[0]["columns_in"].__setitem__(0, 3)),
    "repeated column": _corrupt_steps(lambda s: s[0]["columns_in"].__setitem__(1, "tempo")),
    "log not a column": _corrupt_steps(lambda s: s[0]["log"].append("nope")),
    "eps a string": _corrupt_steps(lambda s: s[0].update(eps="1e-10")),
    "eps not finite": _corrupt_steps(lambda s: s[0].update(eps=float("inf"))),
    "whiten not bool": _corrupt_steps(lambda s: s[2].update(whiten=1)),
    "columns late": _corrupt_steps(lambda s: s[1].update(columns_in=["a"])),
    "steps empty": _corrupt_steps(lambda s: s.clear()),
    "step not a mapping": _corrupt_steps(lambda s: s.__setitem__(1, "standard")),
    "array key missing": _corrupt_steps(lambda s: s[1].update(mean="nope")),
    "array int": _corrupt_array("s1_mean", lambda a: a.astype(np.int64)),
    "array object": _corrupt_array("s1_mean", lambda a: a.astype(object)),
    "array a list": _corrupt_array("s1_mean", lambda a: a.tolist()),
    "array 2-D": _corrupt_array("s1_scale", lambda a: a[None]),
    "array nan": _corrupt_array("s2_components", lambda a: np.where(a == a.flat[0], np.nan, a)),
    "array inf": _corrupt_array("s1_scale", lambda a: np.full_like(a, np.inf)),
    "scale zero": _corrupt_array("s1_scale", lambda a: np.zeros_like(a)),
    "wrong width": _corrupt_array("s1_mean", lambda a: a[:-1]),
    "pca width": _corrupt_array("s2_mean", lambda a: a[:-1]),
    "pca variance shape": _corrupt_array("s2_explained_variance", lambda a: a[:-1]),
    "negative variance": _corrupt_array("s2_explained_variance", lambda a: -a),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_corrupted_data_is_refused(corruption, seed_rows) -> None:
    steps, arrays = CORRUPTIONS[corruption](*_data(seed_rows))
    with pytest.raises(TransformExportError) as info:
        transform_from_data(steps, arrays)
    assert "\n" not in str(info.value) and str(info.value).startswith("transforms: ")


def test_transform_from_data_copies_its_input(seed_rows) -> None:
    steps, arrays = _data(seed_rows)
    data = transform_from_data(steps, arrays)
    before = data.transform(seed_rows)
    arrays["s1_mean"][:] = 1e6
    steps[2]["whiten"] = False
    np.testing.assert_array_equal(data.transform(seed_rows), before)
    with pytest.raises(ValueError, match="missing"):
        data.transform(seed_rows.drop(columns=["tempo"]))
    with pytest.raises(ValueError, match="expected 174 features"):
        data.transform(np.ones((2, 3)))


@pytest.mark.parametrize("name", TRANSFORM_NAMES)
def test_build_transform_equals_instantiate(name, seed_rows) -> None:
    cfg = OmegaConf.load(TRANSFORMS_CONF / f"{name}.yaml")
    built = build_transform(OmegaConf.to_container(cfg))
    expected = instantiate(cfg)
    assert type(built) is type(expected)
    same = re.compile(r" at 0x[0-9a-f]+")  # selector objects differ only by address
    assert same.sub("", repr(built)) == same.sub("", repr(expected))
    built.fit(seed_rows)
    expected.fit(seed_rows)
    new = pd.DataFrame(seed_like(20, 5), columns=list(SEED174_COLUMNS))
    np.testing.assert_array_equal(
        np.asarray(built.transform(new)), np.asarray(expected.transform(new))
    )
    assert type(build_transform(cfg)) is type(expected)  # a DictConfig works too
    assert build_transform(None) is None


@pytest.mark.parametrize(
    "config, match",
    [
        ({"_target_": "os.system", "command": "true"}, "_target_ 'os.system' is not allowed"),
        (
            {
                "_target_": "sklearn.pipeline.make_pipeline",
                "_args_": [
                    {"_target_": "sklearn.preprocessing.StandardScaler"},
                    {"_target_": "builtins.eval"},
                ],
            },
            r"transforms\._args_\[1\]: _target_ 'builtins.eval' is not allowed",
        ),
        (
            {
                "_target_": "sklearn.pipeline.make_pipeline",
                "_args_": [
                    {
                        "_target_": "sklearn.pipeline.make_pipeline",
                        "_args_": [{"_target_": "os.system"}],
                    }
                ],
            },
            "'os.system' is not allowed",
        ),
        (
            {"_target_": "sklearn.preprocessing.RobustScaler"},
            "'sklearn.preprocessing.RobustScaler' is not allowed",
        ),
        (
            {"_target_": "sklearn.preprocessing.StandardScaler", "copy": False},
            "copy=false: unknown",
        ),
        (
            {"_target_": "sklearn.preprocessing.StandardScaler", "with_mean": "yes"},
            "with_mean=yes: must be",
        ),
        (
            {"_target_": "sklearn.preprocessing.StandardScaler", "with_std": 1},
            "with_std=1: must be",
        ),
        (
            {"_target_": "sklearn.preprocessing.FunctionTransformer", "func": "numpy.log"},
            "func=numpy.log: unknown key",
        ),
        (
            {"_target_": "sklearn.decomposition.PCA", "n_components": "mle"},
            "n_components=mle: must be null or an int",
        ),
        (
            {"_target_": "sklearn.decomposition.PCA", "whiten": False, "_partial_": True},
            "_partial_=true: unknown key",
        ),
        (
            {"_target_": "genreclf.transforms.log_columns", "pattern": "^mel_", "eps": [1]},
            r"eps=\[1\]: must be a finite number",
        ),
        (
            {"_target_": "genreclf.transforms.log_columns", "pattern": {"_target_": "os.getcwd"}},
            "pattern={...}: must be a regular expression",
        ),
        ({"_target_": "sklearn.pipeline.make_pipeline", "_args_": []}, "non-empty list"),
        (
            {"_target_": "sklearn.pipeline.make_pipeline", "_args_": ["os.system"]},
            "must be a mapping",
        ),
        ({"_target_": "sklearn.pipeline.make_pipeline", "memory": "/tmp"}, "unknown parameter"),
        ({"with_mean": True}, "_target_ None is not allowed"),
        ("sklearn.preprocessing.StandardScaler", "must be a mapping"),
    ],
)
def test_build_transform_refuses(config, match) -> None:
    with pytest.raises(RegistryError, match=match) as info:
        build_transform(config)
    assert "\n" not in str(info.value)
