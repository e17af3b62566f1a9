"""Turn a data source into a FeatureTable: read a precomputed table, or extract from audio."""

from __future__ import annotations

from typing import Any

from genreclf.features.table import FeatureTable

#: This process's feature table, by its data/features/extraction config (sweep jobs
#: in one worker share it).
_TABLES: dict[str, FeatureTable] = {}


def build_feature_table(source: Any, feature_set: Any, extractor: Any) -> FeatureTable:
    """Features for every track of ``source``.

    A source with ``frame()`` (``data=table``) already holds features; any other
    source lists audio ``tracks()``, which ``extractor`` turns into ``feature_set``
    features through its cache.
    """
    if hasattr(source, "frame"):
        return FeatureTable.from_frame(source.frame())  # the source checked its labels
    from genreclf.data.sources import require_classes

    table = extractor.extract(source.tracks(), feature_set)
    require_classes(table.labels, str(getattr(source, "root", "data")), "the label folders")
    return table


def cached_feature_table(cfg: Any, source: Any, feature_set: Any) -> FeatureTable:
    """:func:`build_feature_table`, memoized in-process by ``data``, ``features``, ``extraction``.

    Sweep jobs that a launcher runs in one worker process share the table.
    """
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    key = OmegaConf.to_yaml(OmegaConf.masked_copy(cfg, ["data", "features", "extraction"]))
    if key not in _TABLES:
        _TABLES.clear()
        _TABLES[key] = build_feature_table(source, feature_set, instantiate(cfg.extraction))
    return _TABLES[key]
