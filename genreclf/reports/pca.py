"""A 2-D PCA map of the features a run was trained on, rebuilt from its logged config."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from genreclf.features.table import FeatureTable


def features_from_config(config: DictConfig) -> FeatureTable:
    """The feature table of a run, rebuilt from its resolved config.

    Instantiates the ``data``, ``features`` and ``extraction`` nodes as the run did;
    audio features come from the extraction cache where the run left them.

    Raises
    ------
    FileNotFoundError
        If the run's data is gone.
    """
    from hydra.utils import instantiate

    from genreclf.features.build import build_feature_table

    return build_feature_table(
        instantiate(config.data), instantiate(config.features), instantiate(config.extraction)
    )


def transform_from_config(config: DictConfig) -> Any:
    """The run's (unfitted) feature transform, or ``None`` if its config has none."""
    from hydra.utils import instantiate

    transforms = config.get("transforms")
    return None if transforms is None else instantiate(transforms)


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
        rows = pd.DataFrame(X.reshape(-1, X.shape[-1]), columns=table.columns)
        out = np.asarray(clone(transform).fit_transform(rows), dtype=np.float64)
        X = out.reshape(*X.shape[:-1], out.shape[-1])
    X = X.reshape(len(table), -1)
    keep = np.isfinite(X).all(axis=1)
    pipeline = make_pipeline(StandardScaler(), PCA(n_components=2, random_state=0))
    coords = pipeline.fit_transform(X[keep])
    return coords, table.labels[keep], pipeline[-1].explained_variance_ratio_
