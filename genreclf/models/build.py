"""Build the LightningModule of a run from its config and datamodule."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig


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
