"""The one build path: a run's objects from the sections of its checked ``RunConfig``.

genreclf's own classes are built by name through their registries (``DATA_SOURCES``,
``FEATURE_SETS``, ``EXTRACTORS``, ``SPLITS``, ``HEADS``) and the transform allowlist of
:mod:`genreclf.transforms`, with parameters checked against their declarations; a
model package is loaded through the same registries (:mod:`genreclf.inference`). Only
the third-party groups (``optimizer``, ``trainer``, ``callbacks``: torch's and
Lightning's classes, among those that ``conf/`` names) go through Hydra's
``instantiate``, in this module alone.
"""

from __future__ import annotations

from typing import Any

from genreclf.config.runconfig import RunConfig, Section


def _instantiate(section: Section, **kwargs: Any) -> Any:
    """A third-party group's object (torch, Lightning), by the class its section names."""
    from hydra.utils import instantiate

    return instantiate(section.node(), **kwargs)


def data_source(config: RunConfig) -> Any:
    """The run's data source (``data`` group)."""
    from genreclf.data.sources import DATA_SOURCES

    return DATA_SOURCES.build_config(config.data.node())


def feature_set(config: RunConfig) -> Any:
    """The run's feature set (``features`` group)."""
    from genreclf.features.sets import FEATURE_SETS

    return FEATURE_SETS.build_config(config.features.node())


def extractor(config: RunConfig) -> Any:
    """The run's feature extractor (``extraction`` group)."""
    from genreclf.features.extraction import EXTRACTORS

    return EXTRACTORS.build_config(config.extraction.node())


def split(config: RunConfig) -> Any:
    """The run's evaluation protocol (``split`` group)."""
    from genreclf.split import SPLITS

    return SPLITS.build_config(config.split.node())


def transform(config: RunConfig) -> Any:
    """The run's unfitted feature transform (``transforms`` group), or ``None``."""
    from genreclf.transforms import build_transform

    return None if config.transforms is None else build_transform(config.transforms.node())


def datamodule(config: RunConfig, table: Any) -> Any:
    """The run's datamodule over ``table``, with its split and transform, set up."""
    from genreclf.datamodule import GenreDataModule

    built = GenreDataModule(
        table=table, split=split(config), transform=transform(config), **config.datamodule.params
    )
    built.setup()
    return built


def head(config: RunConfig, input_shape: tuple[int, ...], num_classes: int) -> Any:
    """A fresh ``model`` head for inputs of ``input_shape`` (weights from torch's state)."""
    from genreclf.models.heads import HEADS

    return HEADS.build_config(config.model.node(), input_shape=input_shape, num_classes=num_classes)


def classifier(config: RunConfig, data: Any) -> Any:
    """A fresh ``classifier`` module around a fresh head, sized for the set-up ``data``."""
    from genreclf.models.classifier import GenreClassifier

    return GenreClassifier(
        head=head(config, data.input_shape, data.num_classes),
        optimizer=_instantiate(config.optimizer),
        class_names=data.class_names,
        **config.classifier.params,
    )


def callbacks(config: RunConfig) -> list[Any]:
    """The run's Lightning callbacks (``callbacks`` group); one set to ``null`` is off."""
    return [_instantiate(c) for c in config.callbacks.values() if c is not None]


def trainer(config: RunConfig, **kwargs: Any) -> Any:
    """The run's Lightning ``Trainer`` (``trainer`` group), with ``kwargs`` on top."""
    return _instantiate(config.trainer, **kwargs)
