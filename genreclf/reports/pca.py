"""A 2-D PCA map of the features a run was trained on, rebuilt from its logged config.

The run's data source, feature set, extraction and transform are rebuilt by name from
genreclf's registries, with checked parameters; nothing in the logged config is
instantiated or imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from genreclf.features.table import FeatureTable
from genreclf.transforms import feature_rows, transform_rows


def features_from_config(config: Mapping[str, Any]) -> FeatureTable:
    """The feature table of a run, rebuilt from its resolved config (plain data).

    The ``data``, ``features`` and ``extraction`` nodes are rebuilt through
    ``DATA_SOURCES``, ``FEATURE_SETS`` and ``EXTRACTORS``; audio features come from the
    extraction cache where the run left them.

    Raises
    ------
    RegistryError
        If a node names no registered class, or a parameter is not allowed.
    FileNotFoundError
        If the run's data is gone.
    """
    from genreclf.data.sources import DATA_SOURCES
    from genreclf.features.build import build_feature_table
    from genreclf.features.extraction import EXTRACTORS
    from genreclf.features.sets import FEATURE_SETS

    return build_feature_table(
        DATA_SOURCES.build_config(config["data"]),
        FEATURE_SETS.build_config(config["features"]),
        EXTRACTORS.build_config(config["extraction"]),
    )


def transform_from_config(config: Mapping[str, Any]) -> Any:
    """The run's (unfitted) feature transform, or ``None`` if its config has none."""
    from genreclf.transforms import build_transform

    return build_transform(config.get("transforms"))


def pca_map(
    table: FeatureTable, transform: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project the features onto their first two principal components.

    The features go through ``transform`` (the run's own, fitted here on all rows, as
    the model saw them), are standardized, then projected. Frame-level features are
    flattened per row; rows with non-finite values are left out.

    Returns
    -------
    coords : np.ndarray
        ``(n, 2)`` coordinates.
    labels : np.ndarray
        ``(n,)`` genre of each kept row.
    explained : np.ndarray
        Explained variance ratio of the two components.
    """
    from sklearn.base import clone
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = table.X
    if transform is not None:
        fitted = clone(transform).fit(feature_rows(X, table.columns))
        X = transform_rows(fitted, X, table.columns)
    X = X.reshape(len(table), -1).astype(np.float64)
    keep = np.isfinite(X).all(axis=1)
    pipeline = make_pipeline(StandardScaler(), PCA(n_components=2, random_state=0))
    coords = pipeline.fit_transform(X[keep])
    return coords, table.labels[keep], pipeline[-1].explained_variance_ratio_
