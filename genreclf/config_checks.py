"""Checks that stop a run before any work, with one line naming the option at fault."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig


class ConfigError(ValueError):
    """A config value is not allowed; the message is one line naming the option."""


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def check_train_config(cfg: DictConfig) -> None:
    """Validate the values a training run depends on.

    Raises
    ------
    ConfigError
        On the first invalid value, e.g. ``optimizer.lr=-1: must be > 0``.
    """
    lr = cfg.optimizer.get("lr")
    _require(lr is not None and lr > 0, f"optimizer.lr={lr}: must be > 0")
    epochs = cfg.trainer.get("max_epochs")
    _require(epochs is not None and epochs >= 1, f"trainer.max_epochs={epochs}: must be >= 1")
    for key in ("hidden_size", "num_layers"):
        value = cfg.model.get(key)
        _require(value is None or value >= 1, f"model.{key}={value}: must be >= 1")
    dropout = cfg.model.get("dropout")
    _require(dropout is None or 0 <= dropout < 1, f"model.dropout={dropout}: must be in [0, 1)")
    patience = cfg.callbacks.early_stopping.get("patience")
    _require(patience >= 0, f"callbacks.early_stopping.patience={patience}: must be >= 0")
    check_data_config(cfg.data)


def check_data_config(data: DictConfig) -> None:
    """The data root or table named in ``data`` must exist (generated data excepted)."""
    if data.get("_target_", "").endswith("SyntheticGTZAN"):
        return
    for key in ("root", "path"):
        value = data.get(key)
        if value is not None:
            _require(Path(value).exists(), f"data.{key}={value}: no such file or folder")
