"""genreclf.core.params: one typed declaration gives the check, the one-line error and the docs."""

from __future__ import annotations

import math
from typing import Literal

import pytest

from genreclf.core.errors import ConfigError
from genreclf.core.params import (
    Float,
    Int,
    Name,
    Options,
    Seed,
    check_params,
    describe,
    params_model,
    rule,
)
from genreclf.tracking.options import RegistryName


class Head:
    """A stand-in class declared the way genreclf's heads are."""

    def __init__(
        self,
        *,
        input_shape: tuple[int, ...],
        hidden_size: Int(ge=1, le=16384) = 256,
        dropout: Float(ge=0, lt=1) = 0.2,
        pooling: Literal["mean", "max"] = "mean",
    ) -> None:
        self.hidden_size = hidden_size


def _fold_below_splits(params) -> None:
    if params.fold >= params.n_splits:
        raise ValueError(f"fold={params.fold}: must be in [0, {params.n_splits})")


class Folds:
    param_rules = (rule(_fold_below_splits),)

    def __init__(self, *, n_splits: Int(ge=2) = 5, fold: Int(ge=0) = 0, seed: Seed = 0) -> None:
        pass


def _error(obj, values, **kw) -> str:
    with pytest.raises(ConfigError) as info:
        check_params(obj, values, **kw)
    return str(info.value)


def test_the_signature_is_the_declaration():
    model = params_model(Head, ("input_shape",))
    assert set(model.model_fields) == {"hidden_size", "dropout", "pooling"}
    assert check_params(Head, {"hidden_size": 8}, supplied=("input_shape",)) == {"hidden_size": 8}


@pytest.mark.parametrize(
    ("values", "line"),
    [
        ({"hidden_size": 0}, "model.hidden_size=0: must be an int in [1, 16384]"),
        ({"hidden_size": 10**20}, "model.hidden_size=100000000000000000000: must be an int in"),
        ({"hidden_size": "8"}, "model.hidden_size=8: must be an int in [1, 16384]"),
        ({"dropout": math.inf}, "model.dropout=inf: must be a finite number in [0, 1)"),
        ({"dropout": math.nan}, "model.dropout=nan: must be a finite number"),
        ({"pooling": "sum"}, "model.pooling=sum: must be one of mean, max"),
        ({"hiden_size": 5}, "model.hiden_size=5: unknown key; known keys: hidden_size, dropout"),
    ],
)
def test_a_bad_value_is_one_line_naming_key_value_and_rule(values, line):
    message = _error(Head, values, prefix="model.", supplied=("input_shape",))
    assert "\n" not in message
    assert message.startswith(line), message


def test_a_rule_between_parameters_names_its_key():
    assert _error(Folds, {"fold": 7}, prefix="split.") == "split.fold=7: must be in [0, 5)"
    assert check_params(Folds, {"fold": 4}) == {"fold": 4}


def test_options_forbid_unknown_keys_and_infinity():
    class Budget(Options):
        lr: Float(gt=0) = 1e-3
        name: Name = "genreclf"

    with pytest.raises(ConfigError, match=r"^lr=inf: must be a finite number > 0$"):
        check_params(Budget, {"lr": math.inf})
    with pytest.raises(ConfigError, match="name=a/b: must not contain '/'"):
        check_params(Budget, {"name": "a/b"})
    with pytest.raises(ConfigError, match="unknown key"):
        check_params(Budget, {"epochs": 3})


def test_describe_reads_as_the_docs_show_it():
    assert describe(Int(ge=1, le=4)) == "an int in [1, 4]"
    assert describe(Float(gt=0)) == "a finite number > 0"
    assert describe(Literal["a", "b"]) == "one of a, b"
    assert describe(RegistryName | None).startswith("null or a str matching ^[A-Za-z0-9]")
