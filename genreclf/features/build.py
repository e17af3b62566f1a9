"""Turn a data source into a FeatureTable: read a precomputed table, or extract from audio."""

from __future__ import annotations

from typing import Any

from genreclf.features.table import FeatureTable


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
