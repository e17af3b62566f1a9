"""A fitted sklearn transform saved as plain data, and the check that refuses it up front."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from genreclf.transforms.from_data import DataTransform, TransformExportError
from genreclf.transforms.steps import safe_log10

#: What :func:`transform_to_data` can save, for messages.
SUPPORTED_STEPS = "StandardScaler, PCA, log_columns, identity"


def _refuse(step: Any, why: str = "") -> TransformExportError:
    name = type(step).__name__ if not isinstance(step, str) else repr(step)
    return TransformExportError(
        f"transforms: {name} cannot be saved in a model as data{why}; supported: {SUPPORTED_STEPS}"
    )


def _log_eps(ct: ColumnTransformer) -> float:
    """The ``eps`` of a ColumnTransformer made by :func:`log_columns` (else refused)."""
    specs = list(ct.transformers)
    ok = (
        len(specs) == 2
        and [s[0] for s in specs] == ["keep", "log"]
        and isinstance(specs[0][1], str)
        and specs[0][1] == "passthrough"
        and type(specs[1][1]) is FunctionTransformer
        and isinstance(ct.remainder, str)
        and ct.remainder == "drop"
        and ct.transformer_weights is None
    )
    if ok:
        log = specs[1][1]
        kw = dict(log.kw_args or {})
        ok = log.func is safe_log10 and log.inverse_func is None and set(kw) <= {"eps"}
    if not ok:
        raise _refuse(ct, " (only one made by log_columns)")
    eps = kw.get("eps", 1e-10)
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not np.isfinite(eps):
        raise _refuse(ct, f" (log_columns eps={eps!r} is not a finite number)")
    return float(eps)


def _leaves(transform: Any) -> list[Any]:
    """The steps of ``transform``, pipelines flattened; ``None``/"passthrough" as identity."""
    if type(transform) is Pipeline:
        return [leaf for _, step in transform.steps for leaf in _leaves(step)]
    if transform is None or (isinstance(transform, str) and transform == "passthrough"):
        return [FunctionTransformer()]
    return [transform]


def _check_leaf(step: Any) -> str:
    """The kind of a supported step (``standard``, ``pca``, ``log_columns``, ``identity``)."""
    if type(step) is StandardScaler:
        return "standard"
    if type(step) is PCA:
        return "pca"
    if type(step) is FunctionTransformer:
        if step.func is None and step.inverse_func is None:
            return "identity"
        raise _refuse(step, " (only the identity, func=None)")
    if type(step) is ColumnTransformer:
        _log_eps(step)
        return "log_columns"
    raise _refuse(step)


def check_exportable(transform: Any) -> None:
    """Refuse, before fitting, a transform that :func:`transform_to_data` could not save.

    Parameters
    ----------
    transform : sklearn transformer or None
        Fitted or not.

    Raises
    ------
    TransformExportError
        Naming the first unsupported step.
    """
    if transform is None:
        return
    kinds = [_check_leaf(step) for step in _leaves(transform)]
    if "log_columns" in kinds[1:]:
        raise _refuse("log_columns", " after another step (it selects columns by name)")


def _fitted(step: Any, attr: str) -> Any:
    value = getattr(step, attr, None)
    if value is None:
        raise TransformExportError(f"transforms: {type(step).__name__} is not fitted")
    return value


def _put(arrays: dict[str, np.ndarray], i: int, field: str, value: Any) -> str:
    """Store ``value`` as a float64 array under ``s<i>_<field>``; the key."""
    key = f"s{i}_{field}"
    arrays[key] = np.array(value, dtype=np.float64)
    return key


def _log_columns_data(step: ColumnTransformer) -> dict[str, Any]:
    columns_in = [str(c) for c in _fitted(step, "feature_names_in_")]
    chosen = {name: list(cols) for name, _, cols in step.transformers_}
    log = [str(c) for c in chosen.get("log", [])]
    keep = [str(c) for c in chosen.get("keep", [])]
    logged = set(log)
    if log != [c for c in columns_in if c in logged] or keep != [
        c for c in columns_in if c not in logged
    ]:
        raise _refuse(step, " (its columns are not kept-then-logged in input order)")
    return {"columns_in": columns_in, "log": log, "eps": _log_eps(step)}


def _standard_data(step: StandardScaler, i: int, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    desc = {
        "mean": _put(arrays, i, "mean", _fitted(step, "mean_")) if step.with_mean else None,
        "scale": _put(arrays, i, "scale", _fitted(step, "scale_")) if step.with_std else None,
    }
    if not (step.with_mean or step.with_std):
        _fitted(step, "n_features_in_")
    return desc


def _pca_data(step: PCA, i: int, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    return {
        "mean": _put(arrays, i, "mean", _fitted(step, "mean_")),
        "components": _put(arrays, i, "components", _fitted(step, "components_")),
        "explained_variance": _put(
            arrays, i, "explained_variance", _fitted(step, "explained_variance_")
        ),
        "whiten": bool(step.whiten),
    }


def transform_to_data(fitted: Any) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """A fitted transform as plain data: JSON-able step descriptions and float arrays.

    Parameters
    ----------
    fitted : sklearn transformer or DataTransform
        A fitted StandardScaler, PCA, identity FunctionTransformer, :func:`log_columns`
        step, or a Pipeline of those.

    Returns
    -------
    steps : list of dict
        One per step, e.g. ``{"kind": "log_columns", "columns_in": [...], "log": [...],
        "eps": 1e-10}``, ``{"kind": "standard", "mean": "s1_mean", "scale": "s1_scale"}``,
        ``{"kind": "pca", "mean": ..., "components": ..., "explained_variance": ...,
        "whiten": False}``, ``{"kind": "identity"}``. The first step holds ``columns_in``,
        the input feature names, when the transform was fit on a DataFrame.
    arrays : dict of str to np.ndarray
        float64 arrays by the keys the steps name (save with ``np.savez``).

    Raises
    ------
    TransformExportError
        For an unsupported or unfitted step.
    """
    if isinstance(fitted, DataTransform):
        return fitted.to_data()
    check_exportable(fitted)
    steps: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    for i, step in enumerate(_leaves(fitted)):
        kind = _check_leaf(step)
        desc: dict[str, Any] = {"kind": kind}
        if kind == "log_columns":
            desc.update(_log_columns_data(step))
        elif kind == "standard":
            desc.update(_standard_data(step, i, arrays))
        elif kind == "pca":
            desc.update(_pca_data(step, i, arrays))
        if i == 0 and kind != "log_columns" and hasattr(step, "feature_names_in_"):
            desc["columns_in"] = [str(c) for c in step.feature_names_in_]
        steps.append(desc)
    return steps, arrays
