"""A fitted transform rebuilt from plain data (numpy only), every field checked."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from genreclf.core.errors import ConfigError
from genreclf.transforms.steps import safe_log10


class TransformExportError(ConfigError):
    """A transform that cannot be saved (or loaded) as plain data; one line naming the step."""


_STEP_KEYS: dict[str, tuple[set[str], set[str]]] = {
    # kind: (required keys, optional keys), besides "kind"
    "identity": (set(), {"columns_in"}),
    "standard": ({"mean", "scale"}, {"columns_in"}),
    "pca": ({"mean", "components", "explained_variance", "whiten"}, {"columns_in"}),
    "log_columns": ({"columns_in", "log", "eps"}, set()),
}


class DataTransform:
    """A fitted transform rebuilt from plain data (numpy only); see :func:`transform_from_data`.

    Attributes
    ----------
    columns_in : list of str or None
        Input feature names, when known.
    n_features_in, n_features_out : int or None
        Input and output widths, when known (an identity alone knows neither).
    """

    def __init__(
        self,
        steps: list[dict[str, Any]],
        arrays: dict[str, np.ndarray],
        ops: list[tuple[str, dict[str, Any]]],
        columns_in: list[str] | None,
        n_features_in: int | None,
        n_features_out: int | None,
    ) -> None:
        self._steps = steps
        self._arrays = arrays
        self._ops = ops
        self.columns_in = columns_in
        self.n_features_in = n_features_in
        self.n_features_out = n_features_out

    def __repr__(self) -> str:
        kinds = ", ".join(kind for kind, _ in self._ops)
        return f"DataTransform({kinds}; {self.n_features_in} -> {self.n_features_out})"

    def to_data(self) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
        """The plain data this transform was built from (copies)."""
        return copy.deepcopy(self._steps), {k: v.copy() for k, v in self._arrays.items()}

    def transform(self, rows: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Transform rows exactly as the fitted sklearn transform does.

        Parameters
        ----------
        rows : pandas.DataFrame or np.ndarray
            A DataFrame with the feature names as columns (selected by name), or a 2-D
            array ``(n, n_features_in)`` in ``columns_in`` order.

        Returns
        -------
        np.ndarray
            float64, shape ``(n, n_features_out)``.
        """
        if isinstance(rows, pd.DataFrame):
            if self.columns_in is not None:
                missing = [c for c in self.columns_in if c not in rows.columns]
                if missing:
                    raise ValueError(
                        f"transform: {len(missing)} feature column(s) missing, e.g. {missing[0]!r}"
                    )
                rows = rows[self.columns_in]
            x = rows.to_numpy(dtype=np.float64)
        else:
            x = np.asarray(rows, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"transform: expected 2-D rows, got shape {x.shape}")
        if self.n_features_in is not None and x.shape[1] != self.n_features_in:
            raise ValueError(f"transform: expected {self.n_features_in} features, got {x.shape[1]}")
        for kind, op in self._ops:
            if kind == "log_columns":
                x = np.hstack([x[:, op["keep"]], safe_log10(x[:, op["log"]], op["eps"])])
            elif kind == "standard":
                if op["mean"] is not None:
                    x = x - op["mean"]
                if op["scale"] is not None:
                    x = x / op["scale"]
            elif kind == "pca":
                components = op["components"]
                out = x @ components.T
                out -= op["mean"].reshape(1, -1) @ components.T
                if op["whiten"]:
                    scale = np.sqrt(op["explained_variance"])
                    scale[scale < np.finfo(scale.dtype).eps] = np.finfo(scale.dtype).eps
                    out /= scale
                x = out
        return x


def _names(value: Any, where: str, field: str) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(c, str) for c in value):
        raise TransformExportError(f"transforms: {where}: {field} must be a list of str")
    if len(set(value)) != len(value):
        raise TransformExportError(f"transforms: {where}: {field} has repeated names")
    return list(value)


def _array(arrays: Mapping[str, np.ndarray], where: str, key: Any, ndim: int) -> np.ndarray:
    """``arrays[key]`` checked to be a finite, non-empty ``ndim``-D float array (a float64 copy)."""
    if not isinstance(key, str) or key not in arrays:
        raise TransformExportError(f"transforms: {where}: array {key!r} missing")
    a = arrays[key]
    if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
        kind = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
        raise TransformExportError(f"transforms: {where}: array {key!r} is {kind}, not float")
    if a.ndim != ndim or 0 in a.shape:
        raise TransformExportError(
            f"transforms: {where}: array {key!r} has shape {a.shape}, expected {ndim}-D"
        )
    if not np.isfinite(a).all():
        raise TransformExportError(f"transforms: {where}: array {key!r} is not finite")
    return np.array(a, dtype=np.float64, order="C")


class _Reading:
    """What :func:`transform_from_data` has read so far: arrays used, names and widths."""

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.used: set[str] = set()
        self.columns_in: list[str] | None = None
        self.n_in: int | None = None
        self.width: int | None = None  # current width, None while unknown

    def array(self, where: str, key: Any, ndim: int) -> np.ndarray:
        """A checked array, remembered as used."""
        a = _array(self.arrays, where, key, ndim)
        self.used.add(key)
        return a

    def chain(self, where: str, d: int) -> None:
        """A step that takes ``d`` features: the input width, or checked against the last."""
        if self.width is None:  # only width-preserving steps before: this is the input width
            self.n_in = d
        elif self.width != d:
            raise TransformExportError(
                f"transforms: {where}: expects {d} features, the step before gives {self.width}"
            )
        self.width = d


def _step_kind(i: int, desc: Any) -> str:
    """The kind of step ``i``, its keys checked against :data:`_STEP_KEYS`."""
    if not isinstance(desc, Mapping):
        raise TransformExportError(f"transforms: step {i} must be a mapping")
    kind = desc.get("kind")
    if not isinstance(kind, str) or kind not in _STEP_KEYS:
        raise TransformExportError(
            f"transforms: step {i}: unknown kind {kind!r}; known: {', '.join(_STEP_KEYS)}"
        )
    required, optional = _STEP_KEYS[kind]
    keys = {k for k in desc if k != "kind"}
    if required - keys or keys - required - optional:
        wrong = sorted(map(str, required - keys)) + sorted(map(str, keys - required - optional))
        raise TransformExportError(
            f"transforms: step {i} ({kind}): missing or unknown key(s) {wrong}"
        )
    return kind


def _log_columns_op(desc: Mapping[str, Any], where: str, read: _Reading) -> dict[str, Any]:
    columns_in = read.columns_in or []
    log = _names(desc["log"], where, "log")
    if not set(log) <= set(columns_in):
        raise TransformExportError(f"transforms: {where}: log names unknown columns")
    eps = desc["eps"]
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not np.isfinite(eps):
        raise TransformExportError(f"transforms: {where}: eps must be a finite number")
    logged = set(log)
    return {
        "keep": np.array([j for j, c in enumerate(columns_in) if c not in logged], int),
        "log": np.array([columns_in.index(c) for c in log], dtype=int),
        "eps": float(eps),
    }


def _standard_op(desc: Mapping[str, Any], where: str, read: _Reading) -> dict[str, Any]:
    op: dict[str, Any] = {}
    for field in ("mean", "scale"):
        key = desc[field]
        op[field] = None if key is None else read.array(where, key, 1)
        if key is not None:
            read.chain(where, len(op[field]))
    if op["scale"] is not None and not (op["scale"] > 0).all():
        raise TransformExportError(f"transforms: {where}: scale must be > 0")
    return op


def _pca_op(desc: Mapping[str, Any], where: str, read: _Reading) -> dict[str, Any]:
    op = {
        "mean": read.array(where, desc["mean"], 1),
        "components": read.array(where, desc["components"], 2),
        "explained_variance": read.array(where, desc["explained_variance"], 1),
    }
    k, d = op["components"].shape
    if len(op["mean"]) != d or len(op["explained_variance"]) != k:
        raise TransformExportError(
            f"transforms: {where}: components {op['components'].shape}, mean "
            f"{op['mean'].shape} and explained_variance "
            f"{op['explained_variance'].shape} do not fit"
        )
    if (op["explained_variance"] < 0).any():
        raise TransformExportError(f"transforms: {where}: explained_variance < 0")
    if not isinstance(desc["whiten"], bool):
        raise TransformExportError(f"transforms: {where}: whiten must be a bool")
    op["whiten"] = desc["whiten"]
    read.chain(where, d)
    read.width = k
    return op


_OPS: dict[str, Callable[[Mapping[str, Any], str, _Reading], dict[str, Any]]] = {
    "identity": lambda desc, where, read: {},
    "standard": _standard_op,
    "pca": _pca_op,
    "log_columns": _log_columns_op,
}


def transform_from_data(
    steps: Sequence[Mapping[str, Any]], arrays: Mapping[str, np.ndarray]
) -> DataTransform:
    """Rebuild a fitted transform from :func:`transform_to_data`'s plain data, checking it all.

    Parameters
    ----------
    steps : sequence of Mapping
        Step descriptions (e.g. read from JSON).
    arrays : Mapping of str to np.ndarray
        Float arrays by key, already loaded (e.g. ``np.load(path, allow_pickle=False)``).

    Returns
    -------
    DataTransform

    Raises
    ------
    TransformExportError
        One line: unknown kind, missing or extra keys, an array missing, not float, of
        the wrong shape or not finite, column names not strings, widths that do not chain.
    """
    if isinstance(steps, str | bytes) or not isinstance(steps, Sequence) or not steps:
        raise TransformExportError("transforms: steps must be a non-empty list")
    if not isinstance(arrays, Mapping):
        raise TransformExportError("transforms: arrays must be a mapping of name to array")
    read = _Reading(arrays)
    ops: list[tuple[str, dict[str, Any]]] = []
    for i, desc in enumerate(steps):
        kind = _step_kind(i, desc)
        where = f"step {i} ({kind})"
        if "columns_in" in desc:
            if i != 0:
                raise TransformExportError(f"transforms: {where}: only step 0 names columns")
            read.columns_in = _names(desc["columns_in"], where, "columns_in")
            read.chain(where, len(read.columns_in))
        ops.append((kind, _OPS[kind](desc, where, read)))
    clean_steps = [{k: copy.deepcopy(v) for k, v in desc.items()} for desc in steps]
    clean_arrays = {k: np.array(arrays[k], dtype=np.float64) for k in sorted(read.used)}
    return DataTransform(clean_steps, clean_arrays, ops, read.columns_in, read.n_in, read.width)
