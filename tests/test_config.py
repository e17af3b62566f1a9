"""Every option of every config group composes, resolves and instantiates."""

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import OmegaConf, open_dict

from genreclf.cli import CONFIG_DIR, group_options
from tests.paths import CONF

# Groups whose options are objects built by instantiate; others are plain settings.
BUILT = {"data", "features", "extraction", "split", "transforms", "model", "optimizer"}
GROUPS = sorted(
    p.name
    for p in CONFIG_DIR.iterdir()
    if p.is_dir() and p.name not in {"sweep", "hydra", "preset", "debug"}  # (global packages)
)
CASES = [(group, option) for group in GROUPS for option in group_options(group)]


def compose_with(overrides: list[str]):
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):  # a Hydra app's task sees no `hydra` node
        del cfg["hydra"]
    return cfg


def test_every_group_has_options():
    assert {"data", "features", "model", "optimizer", "split", "transforms"} <= set(GROUPS)
    assert set(group_options("model")) == {"dense", "linear", "cnn", "rnn"}
    assert set(group_options("optimizer")) == {"adam", "adamw", "sgd"}


@pytest.mark.parametrize(("group", "option"), CASES, ids=[f"{g}={o}" for g, o in CASES])
def test_option_composes_and_resolves(group, option, tmp_path):
    # tracking=sweep names its experiment after sweep.name: compose it with a sweep.
    extra = ["sweep=grid_smoke"] if (group, option) == ("tracking", "sweep") else []
    cfg = compose_with([f"{group}={option}", *extra])
    with open_dict(cfg):  # fill mandatory values (e.g. data.root=???) with a real path
        for key in ("root", "path"):
            if key in cfg.data.keys() and OmegaConf.is_missing(cfg.data, key):
                cfg.data[key] = str(tmp_path)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert resolved[group] is not None
    if group in BUILT:
        built = instantiate(cfg[group])
        assert built is not None


def test_default_run_name_is_made_from_the_config():
    cfg = compose_with(["model=rnn", "model.hidden_size=256", "model.num_layers=2"])
    assert cfg.tracking.run_name is None  # named by genreclf.tracking.names.run_name


def test_tracking_uri_env_and_option(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert compose_with([]).tracking.uri == "sqlite:///mlruns/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert compose_with([]).tracking.uri == "http://127.0.0.1:5000"
    assert compose_with(["tracking.uri=sqlite:///x.db"]).tracking.uri == "sqlite:///x.db"


def test_config_dir_is_the_repository_conf():
    assert CONFIG_DIR == CONF


@pytest.mark.parametrize("option", group_options("optimizer"))
def test_optimizer_option_steps_like_the_per_tensor_loop(option):
    """Each optimizer option builds on CPU; its steps match torch's per-tensor loop."""
    import torch

    make = instantiate(compose_with([f"optimizer={option}"]).optimizer)
    assert make.keywords.get("fused") is True  # one kernel per step (conf/optimizer)
    torch.manual_seed(0)
    models = [torch.nn.Linear(4, 3) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    optimizers = [make(models[0].parameters()), make(models[1].parameters(), fused=False)]
    x, start = torch.randn(8, 4), models[0].weight.detach().clone()
    for _ in range(3):
        for model, optimizer in zip(models, optimizers, strict=True):
            optimizer.zero_grad()
            model(x).square().mean().backward()
            optimizer.step()
    for fused, loop in zip(models[0].parameters(), models[1].parameters(), strict=True):
        torch.testing.assert_close(fused, loop)
    assert not torch.equal(models[0].weight, start)  # the steps moved the weights


@pytest.mark.slow
def test_trainer_uses_an_accelerator_when_present():
    """Lightning's convention: accelerator and devices `auto`; sweep jobs take one device."""
    import subprocess
    import sys

    shown = subprocess.run(
        [sys.executable, "-m", "genreclf.train", "--cfg", "job"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    trainer = OmegaConf.create(shown).trainer
    assert trainer.accelerator == "auto" and trainer.devices == "auto"
    assert trainer.precision == "32-true"
    assert compose_with(["sweep=grid_smoke"]).trainer.devices == 1
