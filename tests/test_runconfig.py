"""The typed configuration: config -> RunConfig -> logged JSON -> rebuilt RunConfig, equal.

Every option of every training group, the presets and sweeps, and seeded random
combinations of options go through the round trip that a logged run takes.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from genreclf.cli import group_options
from genreclf.config.checks import check_train_config, load_run_config, recheck
from genreclf.config.runconfig import ARTIFACT, MAX_BYTES, RunConfig
from genreclf.core.errors import ConfigError
from tests.conftest import require_shared
from tests.test_bad_options import _filled, compose_config

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"
GROUPS = sorted(
    p.name
    for p in CONF.iterdir()
    if p.is_dir() and p.name not in {"sweep", "preset", "hydra", "debug"}
)
OPTIONS = [(g, o) for g in GROUPS for o in group_options(g)]
#: Options that read the shared data set where the project keeps it.
NEEDS_SHARED = {("split", "files"): "gtzan_splits"}


def _compose(overrides: list[str], tmp_path: Path):
    return _filled(compose_config("config", overrides), tmp_path)


def round_trip(overrides: list[str], tmp_path: Path) -> tuple[RunConfig, RunConfig]:
    """The checked config of ``overrides``, and the one rebuilt from its logged JSON."""
    chosen = dict(o.split("=", 1) for o in overrides if "." not in o.split("=", 1)[0])
    checked = check_train_config(_compose(overrides, tmp_path), choices=chosen)
    return checked, recheck(RunConfig.from_json(checked.to_json()))


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_round_trips(group, option, tmp_path, monkeypatch):
    if (group, option) in NEEDS_SHARED:
        require_shared(NEEDS_SHARED[group, option])
    monkeypatch.chdir(ROOT)
    extra = ["sweep=grid_smoke"] if (group, option) == ("tracking", "sweep") else []
    checked, rebuilt = round_trip([f"{group}={option}", *extra], tmp_path)
    assert rebuilt == checked
    assert json.loads(rebuilt.to_json()) == json.loads(checked.to_json())


@pytest.mark.parametrize(
    "overrides",
    [["debug=fast"], ["debug=overfit"], ["sweep=grid"], ["sweep=optuna", "repeats=3"]],
    ids=str,
)
def test_debug_and_sweep_settings_round_trip(overrides, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    checked, rebuilt = round_trip(overrides, tmp_path)
    assert rebuilt == checked


def _random_choice(rng: random.Random) -> list[str]:
    out = []
    for group in GROUPS:
        options = [o for o in group_options(group) if (group, o) not in NEEDS_SHARED]
        if group != "tracking" and rng.random() < 0.7:
            out.append(f"{group}={rng.choice(options)}")
    values = ["model.hidden_size=17", "optimizer.lr=0.25", "seed=7", "repeats=2"]
    return out + rng.sample(values, k=rng.randint(0, len(values)))


@pytest.mark.parametrize("seed", range(12))
def test_random_combinations_round_trip(seed, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    checked, rebuilt = round_trip(_random_choice(random.Random(seed)), tmp_path)
    assert rebuilt == checked


def test_checked_values_are_the_ones_kept(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    checked, _ = round_trip(["model=linear", "optimizer.lr=1", "model.hidden_size=64"], tmp_path)
    lr = checked.optimizer.params["lr"]
    assert lr == 1.0 and isinstance(lr, float)
    assert checked.model.params["num_layers"] == 0
    assert checked.model.target == "genreclf.models.heads.DenseHead"
    with pytest.raises(ValueError):
        checked.seed = 3  # frozen


def test_a_logged_value_out_of_bounds_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    checked, _ = round_trip([], tmp_path)
    bad = json.loads(checked.to_json())
    bad["model"]["params"]["dropout"] = 1.5
    with pytest.raises(ConfigError, match=r"model.dropout=1.5"):
        recheck(RunConfig.from_json(json.dumps(bad)))


@pytest.mark.parametrize(
    ("group", "target"),
    [("data", "os.system"), ("optimizer", "subprocess.Popen"), ("trainer", "builtins.eval")],
)
def test_a_logged_target_outside_conf_is_refused(group, target, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    checked, _ = round_trip([], tmp_path)
    bad = json.loads(checked.to_json())
    bad[group]["target"] = target
    with pytest.raises(ConfigError, match=rf"{group}._target_={target}: not an option of conf/"):
        recheck(RunConfig.from_json(json.dumps(bad)))


@pytest.mark.parametrize(
    "text", [b"", b"[]", b'{"seed": "x"}', b"{" * 5000, b" " * (MAX_BYTES + 1)], ids=str
)
def test_a_logged_file_that_is_no_config_is_one_line(text):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_json(text)
    assert "\n" not in str(err.value) and ARTIFACT in str(err.value)


def test_load_run_config_from_a_real_store(tmp_path, monkeypatch):
    from genreclf.tracking.store import Store

    monkeypatch.chdir(ROOT)
    checked, _ = round_trip(["model=cnn", "optimizer=sgd"], tmp_path)
    store = Store(f"sqlite:///{tmp_path}/mlflow.db")
    run = store.new_run(store.experiment_id("rt"), "r", {})
    store.log_text(run.info.run_id, checked.to_json(), ARTIFACT)
    assert load_run_config(store, run.info.run_id, tmp_path / "dl") == checked
    other = store.new_run(store.experiment_id("rt"), "none", {})
    with pytest.raises(ConfigError, match="logged no run_config.json"):
        load_run_config(store, other.info.run_id, tmp_path / "dl2")


def test_a_file_name_that_is_not_utf8_round_trips(tmp_path, monkeypatch):
    """A surrogate-escaped folder name (genreclf.core.filenames) comes back whole."""
    import os

    folder = os.fsdecode(os.fsencode(str(tmp_path)) + b"/audio\xff")
    os.mkdir(folder)
    monkeypatch.chdir(ROOT)
    checked, rebuilt = round_trip(["data=folder", f"data.root='{folder}'"], tmp_path)
    assert rebuilt == checked and rebuilt.data.params["root"] == folder


def test_overrides_compose_the_configuration_again(tmp_path, monkeypatch):
    """What from_run composes: the logged choices and values give the same RunConfig."""
    import os

    folder = os.fsdecode(os.fsencode(str(tmp_path)) + b"/audio\xff")
    os.mkdir(folder)
    monkeypatch.chdir(ROOT)
    overrides = ["data=folder", f"data.root='{folder}'", "model=cnn", "optimizer.lr=0.25"]
    checked, _ = round_trip(overrides, tmp_path)
    again, _ = round_trip(checked.overrides(), tmp_path)
    assert again.model_dump(exclude={"choices"}) == checked.model_dump(exclude={"choices"})


def test_a_fusions_parts_compose_again(tmp_path, monkeypatch):
    """features.parts, a list of mappings (a seed174 part's sr null), is written back in
    Hydra's grammar (no quoted keys) and composes the same parts."""
    monkeypatch.chdir(ROOT)
    parts = "features.parts=[{name:musicnn,model:MSD_vgg},{name:seed174}]"
    checked, _ = round_trip(["features=fusion", parts], tmp_path)
    again, _ = round_trip(checked.overrides(), tmp_path)
    assert again.features == checked.features
    assert checked.features.params["parts"][1] == {"name": "seed174", "sr": None}
