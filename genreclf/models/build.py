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
    """The run's model as built: ``linear`` for a dense head with no hidden layer, else its
    ``model=`` config choice (``dense``, ``cnn``, ...).

    Outside a Hydra app (a composed config): the registered name of its head's class.
    Torch-free (see :mod:`genreclf.models.effective`).
    """
    from hydra.core.hydra_config import HydraConfig

    from genreclf.models.effective import HEAD_TARGETS, built_name

    model = OmegaConf.select(cfg, "model")
    params = OmegaConf.to_container(model, resolve=True) if isinstance(model, DictConfig) else {}
    target = params.get("_target_")
    choice = HydraConfig.get().runtime.choices.get("model") if HydraConfig.initialized() else None
    if not choice:
        choice = next((n for n, t in HEAD_TARGETS.items() if t == target), None)
    return built_name(choice, target, params) or str(target or "unknown").rsplit(".", 1)[-1]
