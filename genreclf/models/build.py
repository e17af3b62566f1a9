"""Build a run's LightningModule and callbacks from its config; name its model."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf


def build_classifier(cfg: DictConfig, datamodule: Any) -> Any:
    """A fresh ``classifier`` module around a fresh ``model`` head, sized for ``datamodule``.

    ``datamodule`` must be set up (its ``input_shape``, ``num_classes`` and
    ``class_names`` are read). Weights are drawn from torch's current random state.
    """
    from hydra.utils import instantiate

    head = instantiate(cfg.model)(
        input_shape=datamodule.input_shape, num_classes=datamodule.num_classes
    )
    return instantiate(cfg.classifier)(
        head=head, optimizer=instantiate(cfg.optimizer), class_names=datamodule.class_names
    )


def build_callbacks(cfg: DictConfig) -> list[Any]:
    """The run's Lightning callbacks (``callbacks`` group); one set to ``null`` is off."""
    from hydra.utils import instantiate

    return [instantiate(c) for c in cfg.callbacks.values() if c is not None]


def model_choice(cfg: DictConfig) -> str:
    """The run's ``model=`` config choice (``dense``, ``linear``, ...).

    Outside a Hydra app (a composed config): the registered name of its head's class.
    """
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        choice = HydraConfig.get().runtime.choices.get("model")
        if choice:
            return str(choice)
    from genreclf.models.heads import model_name

    return model_name(None, OmegaConf.select(cfg, "model._target_"))
