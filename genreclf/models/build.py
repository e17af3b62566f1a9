"""Name a run's model as built (its objects are built by :mod:`genreclf.build`)."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf


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
