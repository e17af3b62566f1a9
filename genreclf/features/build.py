"""Turn a data source into a FeatureTable: read a precomputed table, or extract from audio."""

from __future__ import annotations

from collections.abc import Callable
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


def cached_feature_table(
    key: str, source: Any, feature_set: Any, extractor: Callable[[], Any]
) -> FeatureTable:
    """:func:`build_feature_table`, memoized in-process by ``key`` (the run's ``data``,
    ``features`` and ``extraction`` settings); ``extractor()`` builds the extractor on a miss.

    Sweep jobs that a launcher runs in one worker process share the table.
    """
    if key not in _TABLES:
        _TABLES.clear()
        _TABLES[key] = build_feature_table(source, feature_set, extractor())
    return _TABLES[key]
