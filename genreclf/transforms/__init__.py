"""Feature transforms: sklearn pieces that ``conf/transforms/*.yaml`` assemble.

A transform is an sklearn transformer (usually a ``Pipeline``) that the datamodule
fits on the training rows only, with a ``pandas.DataFrame`` whose columns are the
feature names, and then applies to every part (:func:`transform_rows`).

A fitted transform is saved as plain data, never pickled: :func:`transform_to_data`
gives JSON-able step descriptions and float arrays, :func:`transform_from_data`
rebuilds a numpy-only :class:`DataTransform` from them, and :func:`check_exportable`
refuses up front a transform that could not be saved. :func:`build_transform` builds a
transform from a logged config node with allowlisted targets only.

Modules: :mod:`.steps` (:func:`log_columns`), :mod:`.rows` (applying a fitted
transform), :mod:`.to_data` and :mod:`.from_data` (saving and loading as data),
:mod:`.config` (building from a config node).
"""

from genreclf.transforms.config import TRANSFORM_TARGETS, build_transform, check_transform_config
from genreclf.transforms.from_data import DataTransform, TransformExportError, transform_from_data
from genreclf.transforms.rows import feature_rows, transform_rows
from genreclf.transforms.steps import log_columns, safe_log10
from genreclf.transforms.to_data import SUPPORTED_STEPS, check_exportable, transform_to_data

__all__ = [
    "SUPPORTED_STEPS",
    "TRANSFORM_TARGETS",
    "DataTransform",
    "TransformExportError",
    "build_transform",
    "check_exportable",
    "check_transform_config",
    "feature_rows",
    "log_columns",
    "safe_log10",
    "transform_from_data",
    "transform_rows",
    "transform_to_data",
]
