"""Feature transforms from ``conf/transforms``, fit on training rows of the real seed table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from genreclf.transforms import log_columns, safe_log10

CONF = Path(__file__).resolve().parents[1] / "conf" / "transforms"


def make(name: str, overrides: dict[str, object] | None = None):
    """Instantiate ``conf/transforms/<name>.yaml`` with dotted-key ``overrides``."""
    cfg = OmegaConf.load(CONF / f"{name}.yaml")
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
    step = log_columns(pattern="^no_such_column").fit(features)
    np.testing.assert_array_equal(np.asarray(step.transform(features)), features.to_numpy())
    pipe = make("log_standard", {"_args_.0.pattern": "^nope"}).fit(features)
    plain = make("standard").fit(features)
    np.testing.assert_allclose(pipe.transform(features), plain.transform(features))


def test_log_columns_order_and_clipping() -> None:
    frame = pd.DataFrame({"p1": [0.0, -1.0, 100.0], "x": [-5.0, 0.0, 5.0], "p2": [1.0, 10.0, 1e-3]})
    step = log_columns(pattern="^p", eps=1e-6).fit(frame)
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
