"""Registries: classes rebuilt by name from checked plain parameters, never from a string."""

from __future__ import annotations

import dataclasses
import sys

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from genreclf.core.params import Bool, Float, Int, Text
from genreclf.core.registry import Registry, RegistryError, conf_values
from genreclf.data.sources import DATA_SOURCES
from genreclf.data.synthetic import SyntheticGTZAN
from genreclf.features.extraction import EXTRACTORS
from genreclf.features.sets import (
    FEATURE_SETS,
    MfccSegments,
    Seed174,
    Summary,
    build_feature_set,
    feature_set_spec,
)
from genreclf.models.heads import HEADS, DenseHead, LSTMHead, build_head
from tests.options import make
from tests.paths import CONF

WIDGETS: Registry[object] = Registry("widget", group="widget")


@WIDGETS.register("gear")
class Gear:
    """Its parameters are declared once, on the signature (genreclf.core.params)."""

    def __init__(
        self,
        teeth: Int(ge=1, le=100),
        ratio: Float(gt=0) = 1.0,
        oiled: Bool = False,
        label: Text = "g",
        size: Int(ge=1) | None = None,
        tags: list[Text] = [],  # noqa: B006 (never mutated)
        shape: tuple[Int(ge=1), ...] = (1,),
    ) -> None:
        self.kwargs = dict(
            teeth=teeth, ratio=ratio, oiled=oiled, label=label, size=size, tags=tags, shape=shape
        )


@WIDGETS.register("spring")
class Spring:
    def __init__(self, k: float = 1.0) -> None:
        self.k = k


def one_line_error(fn, *args, match: str, **kwargs) -> RegistryError:
    with pytest.raises(RegistryError, match=match) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)
    return info.value


# --- Registry itself --------------------------------------------------------------------


def test_register_get_names():
    assert WIDGETS.names() == ["gear", "spring"]
    assert WIDGETS.get("gear") is Gear and "spring" in WIDGETS
    WIDGETS.register("gear")(Gear)  # the same class again: a no-op
    one_line_error(WIDGETS.register("gear"), Spring, match="'gear': already registered")
    err = one_line_error(HEADS.get, "foo", match="not registered")
    assert str(err) == "head 'foo': not registered; known: cnn, dense, rnn"


def test_name_of_by_class_and_target_string():
    assert WIDGETS.name_of(Gear) == "gear"
    assert WIDGETS.name_of(f"{__name__}.Gear") == "gear"
    assert HEADS.name_of(DenseHead) == "dense"
    assert HEADS.name_of("genreclf.models.heads.LSTMHead") == "rnn"
    assert HEADS.name_of("genreclf.models.CNNHead") == "cnn"  # re-exported
    # never imported: a module that does not exist still maps by its last part
    assert HEADS.name_of("genreclf.no_such_module.DenseHead") == "dense"
    assert "genreclf.no_such_module" not in sys.modules
    err = one_line_error(HEADS.name_of, "os.system", match="not a registered head")
    assert str(err) == "_target_ 'os.system' is not a registered head; known: cnn, dense, rnn"
    for bad in ("genreclf.models.heads.Nope", "other.DenseHead", "genreclf.x-y.DenseHead", 3):
        one_line_error(HEADS.name_of, bad, match="not a registered head")
    one_line_error(HEADS.name_of, torch.nn.Linear, match="not a registered head")
    one_line_error(WIDGETS.name_of, "genreclf.anything.Gear", match="not a registered")


def test_lazy_entry_imports_on_get_only():
    assert DATA_SOURCES.name_of("genreclf.data.synthetic.SyntheticGTZAN") == "synthetic"
    assert DATA_SOURCES.name_of(SyntheticGTZAN) == "synthetic"
    assert DATA_SOURCES.get("synthetic") is SyntheticGTZAN
    lazy: Registry[object] = Registry("thing", group="thing")
    lazy.register_lazy("fraction", "fractions:Fraction")
    assert lazy.names() == ["fraction"] and lazy.name_of("fractions.Fraction") == "fraction"
    from fractions import Fraction

    assert lazy.build("fraction", {"numerator": 3}) == Fraction(3)
    assert lazy.name_of(Fraction) == "fraction"
    one_line_error(lazy.register_lazy, "x", "os.system", match="module:Class")


def test_build_checks_parameters():
    gear = WIDGETS.build(
        "gear",
        {"teeth": 3, "ratio": 2, "oiled": True, "size": None, "tags": ["a"], "shape": [2, 3]},
    )
    assert gear.kwargs["ratio"] == 2 and gear.kwargs["tags"] == ["a"]
    assert gear.kwargs["shape"] == (2, 3)  # a tuple, as declared
    built = WIDGETS.build("gear", OmegaConf.create({"teeth": 1, "tags": ["x"]}))
    assert built.kwargs["tags"] == ["x"]


@pytest.mark.parametrize(
    "params, match",
    [
        ({"teeth": "abc"}, r"widget 'gear': teeth=abc: must be an int in \[1, 100\]"),
        ({"teeth": True}, "teeth=true: must be an int"),  # a bool is not an int
        ({"teeth": 2.0}, "teeth=2.0: must be an int"),
        ({"teeth": 0}, r"teeth=0: must be an int in \[1, 100\]"),
        ({"teeth": 1, "oiled": 1}, "oiled=1: must be a bool"),
        ({"teeth": 1, "ratio": False}, "ratio=false: must be a finite number > 0"),
        ({"teeth": 1, "ratio": float("inf")}, "ratio=inf: must be a finite number > 0"),
        ({"teeth": 1, "ratio": float("nan")}, "ratio=nan: must be a finite number > 0"),
        ({"teeth": 1, "label": 3}, "label=3: must be a str"),
        ({"teeth": 1, "size": "4"}, "size=4: must be null or an int >= 1"),
        ({"teeth": 1, "tags": "ab"}, "tags=ab: must be a list of str"),
        ({"teeth": 1, "tags": [1]}, r"tags=\[1\]: must be a list of str"),
        ({"teeth": 1, "cogs": 2}, "cogs=2: unknown key; known keys: teeth, ratio"),
        ({}, r"teeth=\?\?\?: must be given"),
        ({"teeth": 1, "_target_": f"{__name__}.Spring"}, "names another class"),
        ({"teeth": 1, "_target_": "os.system"}, "names another class"),
        ({"teeth": 1, "_args_": ["x"]}, "_args_=.*unknown key"),
        ({"teeth": 1, "_partial_": "yes"}, "_partial_"),
    ],
)
def test_build_refuses(params, match):
    one_line_error(WIDGETS.build, "gear", params, match=match)


def test_build_target_partial_and_fixed():
    params = {"_target_": f"{__name__}.Gear", "_partial_": True}
    assert WIDGETS.build("gear", params, teeth=4).kwargs["teeth"] == 4
    one_line_error(WIDGETS.build, "gear", {"teeth": 1}, teeth=2, match="'teeth' is fixed")
    one_line_error(WIDGETS.build, "gear", ["teeth"], match="must be a mapping")
    one_line_error(WIDGETS.build, "nope", {}, match="widget 'nope': not registered")
    assert WIDGETS.check("gear", {"teeth": 1}) == {"teeth": 1}


def test_build_config():
    assert WIDGETS.build_config({"_target_": f"{__name__}.Spring", "k": 2}).k == 2
    for target in ("os.system", "builtins.eval", "genreclf.models.heads.DenseHead"):
        one_line_error(WIDGETS.build_config, {"_target_": target}, match="not a registered widget")
    one_line_error(WIDGETS.build_config, {"k": 2}, match="no _target_")
    one_line_error(WIDGETS.build_config, "os.system", match="must be a mapping")


def test_head_and_feature_set_helpers():
    head = build_head(
        "rnn",
        conf_values("model", "rnn") | {"hidden_size": 8, "num_layers": 1},
        input_shape=[174],
        num_classes=3,
    )
    assert isinstance(head, LSTMHead) and head(torch.randn(2, 174)).shape == (2, 3)
    one_line_error(
        build_head,
        "dense",
        conf_values("model", "dense") | {"hidden_size": "abc"},
        input_shape=(4,),
        num_classes=2,
        match=r"head 'dense': hidden_size=abc: must be an int",
    )
    one_line_error(
        build_head,
        "dense",
        conf_values("model", "dense") | {"num_classes": 3},
        input_shape=(4,),
        num_classes=2,
        match="fixed",
    )
    fs = make(MfccSegments, n_mfcc=13, deltas=False)
    spec = feature_set_spec(fs)
    assert spec == {"name": "mfcc_segments", "params": dataclasses.asdict(fs)}
    assert build_feature_set(spec) == fs
    assert build_feature_set({"name": "seed174", "params": {"sr": None}}) == make(Seed174)
    summary = conf_values("features", "summary")
    mfcc = conf_values("features", "mfcc_segments")
    for bad, match in [
        ("seed174", "must be a mapping"),
        ({"params": {}}, "'name' missing"),
        ({"name": "seed174", "params": [1]}, "'params' must be a mapping"),
        ({"name": "seed174", "extra": 1}, "unknown key"),
        ({"name": "nope"}, "feature set 'nope': not registered"),
        ({"name": "summary", "params": summary | {"n_mfcc": "20"}}, "n_mfcc=20: must be an int"),
        ({"name": "summary", "params": summary | {"deltas": True}}, "deltas=true: unknown key"),
        ({"name": "mfcc_segments", "params": mfcc | {"deltas": 1}}, "deltas=1: must be a bool"),
    ]:
        one_line_error(build_feature_set, bad, match=match)


# --- registries against conf/ -----------------------------------------------------------


@pytest.mark.parametrize(
    "registry, group",
    [
        (FEATURE_SETS, "features"),
        (HEADS, "model"),
        (DATA_SOURCES, "data"),
        (EXTRACTORS, "extraction"),
    ],
)
def test_names_are_the_conf_options(registry, group):
    """Each registered name is a conf option; any other option is a preset of one of them."""
    options = {p.stem for p in (CONF / group).glob("*.yaml")}
    assert set(registry.names()) <= options
    for preset in sorted(options - set(registry.names())):
        cfg = OmegaConf.to_container(
            compose_option(group, preset), resolve=False
        )  # e.g. model=linear: defaults [dense], num_layers 0
        assert registry.name_of(cfg["_target_"]) in registry.names(), preset


def compose_option(group: str, option: str):
    """The ``group`` node of the root config composed with ``group=option``."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("config", overrides=[f"{group}={option}"])[group]


@pytest.mark.parametrize("name", FEATURE_SETS.names())
def test_feature_conf_builds_as_instantiate(name):
    cfg = OmegaConf.load(CONF / "features" / f"{name}.yaml")
    built = FEATURE_SETS.build_config(OmegaConf.to_container(cfg))
    expected = instantiate(cfg)
    assert type(built) is type(expected) and built.name == name
    assert dataclasses.asdict(built) == dataclasses.asdict(expected)
    assert build_feature_set(feature_set_spec(expected)) == expected
    assert FEATURE_SETS.build_config(cfg) == expected  # a DictConfig works too


@pytest.mark.parametrize("name", HEADS.names())
@pytest.mark.parametrize("input_shape", [(174,), (130, 20)])
def test_model_conf_builds_as_instantiate(name, input_shape):
    cfg = OmegaConf.load(CONF / "model" / f"{name}.yaml")
    built = HEADS.build_config(OmegaConf.to_container(cfg), input_shape=input_shape, num_classes=10)
    expected = instantiate(cfg)(input_shape=input_shape, num_classes=10)
    assert type(built) is type(expected)
    shapes = {k: v.shape for k, v in built.state_dict().items()}
    assert shapes == {k: v.shape for k, v in expected.state_dict().items()}


@pytest.mark.parametrize("name", DATA_SOURCES.names())
def test_data_conf_builds_as_instantiate(name, tmp_path):
    cfg = OmegaConf.load(CONF / "data" / f"{name}.yaml")
    key = "path" if name == "table" else "root"
    table = tmp_path / "x.csv"
    table.write_text("label,x\na,1\n")
    cfg[key] = str(table if name == "table" else tmp_path)  # ??? or ${paths...}
    built = DATA_SOURCES.build_config(OmegaConf.to_container(cfg, resolve=True))
    expected = instantiate(cfg)
    assert type(built) is type(expected)
    assert vars(built) == vars(expected)


def test_extraction_conf_builds_as_instantiate(tmp_path):
    cfg = OmegaConf.load(CONF / "extraction" / "default.yaml")
    cfg.cache_dir = str(tmp_path)
    built = EXTRACTORS.build_config(OmegaConf.to_container(cfg))
    expected = instantiate(cfg)
    assert type(built) is type(expected)
    plain = {k: v for k, v in vars(expected).items() if k != "cache"}
    assert {k: v for k, v in vars(built).items() if k != "cache"} == plain
    assert built.cache.root == expected.cache.root
    one_line_error(
        EXTRACTORS.build, "default", {"cache_dir": "c", "n_jobs": "4"}, match="n_jobs=4: must be"
    )


def test_summary_params_are_checked_against_dataclass_fields():
    one_line_error(
        FEATURE_SETS.option, "summary", roll_percent="0.5", match="must be a finite number"
    )
    assert FEATURE_SETS.option("summary", roll_percent=0.5) == make(Summary, roll_percent=0.5)
    one_line_error(FEATURE_SETS.option, "summary", name="x", match="name=x: unknown key")
