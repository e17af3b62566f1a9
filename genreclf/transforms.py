"""Feature transforms: sklearn pieces that ``conf/transforms/*.yaml`` assemble.

A transform is an sklearn transformer (usually a ``Pipeline``) that the datamodule
fits on the training rows only, with a ``pandas.DataFrame`` whose columns are the
feature names, and then applies to every part (:func:`transform_rows`).

A fitted transform is saved as plain data, never pickled: :func:`transform_to_data`
gives JSON-able step descriptions and float arrays, :func:`transform_from_data`
rebuilds a numpy-only :class:`DataTransform` from them, and :func:`check_exportable`
refuses up front a transform that could not be saved. :func:`build_transform` builds a
transform from a logged config node with allowlisted targets only.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from genreclf.errors import ConfigError
from genreclf.params import Bool, Float, Int, Options, Pattern, Seed, params_model, validate
from genreclf.registry import RegistryError, as_plain

#: The 128 mel-band means of the seed174 feature set: power values, so log-scaled.
MEL_POWER_PATTERN = "^mel_spectrogram_"


def safe_log10(x: np.ndarray, eps: float = 1e-10) -> np.ndarray:
    """``log10(x + eps)``, with ``x`` clipped at 0 first so non-positive values give ``log10(eps)``.

    Parameters
    ----------
    x : array-like
        Non-negative (power-like) values.
    eps : float
        Floor added before the logarithm (librosa's ``power_to_db`` uses ``amin=1e-10``).

    Returns
    -------
    np.ndarray
    """
    return np.log10(np.maximum(np.asarray(x, dtype=np.float64), 0.0) + eps)


def log_columns(
    pattern: Pattern = MEL_POWER_PATTERN, eps: Float(gt=0, le=1) = 1e-10
) -> ColumnTransformer:
    """Log-scale the columns whose name matches ``pattern``, pass the others through.

    Output columns: first the unmatched columns, then the matched ones, each group in
    input order (so seed174's order, with the mel bands last, is kept). If no column
    matches, the step passes everything through unchanged.

    Parameters
    ----------
    pattern : str
        Regular expression searched in each column name (``re.search``).
    eps : float
        See :func:`safe_log10`.

    Returns
    -------
    sklearn.compose.ColumnTransformer
        To be fit on a ``pandas.DataFrame`` with the feature names as columns.
    """
    log = FunctionTransformer(safe_log10, kw_args={"eps": eps}, feature_names_out="one-to-one")
    return ColumnTransformer(
        [
            ("keep", "passthrough", make_column_selector(pattern=f"(?s)^(?!.*(?:{pattern}))")),
            ("log", log, make_column_selector(pattern=pattern)),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )


# --- applying a fitted transform --------------------------------------------------------


def feature_rows(x: np.ndarray, columns: Sequence[str]) -> pd.DataFrame:
    """Features ``(..., d)`` as a DataFrame of ``prod(...)`` rows and the ``d`` named columns.

    Parameters
    ----------
    x : np.ndarray
        Features, shape ``(..., d)``: ``(n, d)`` summary rows or ``(n, frames, d)`` segments.
    columns : sequence of str
        The ``d`` feature names.

    Returns
    -------
    pandas.DataFrame
        Shape ``(prod(...), d)``.
    """
    x = np.asarray(x)
    if x.ndim == 0 or x.shape[-1] != len(columns):
        raise ValueError(f"features of shape {x.shape} do not match {len(columns)} column names")
    return pd.DataFrame(x.reshape(-1, x.shape[-1]), columns=list(columns))


def transform_rows(transform: Any, x: np.ndarray, columns: Sequence[str]) -> np.ndarray:
    """Apply a fitted transform to features of shape ``(..., d)``, row by row.

    The one place a fitted transform meets features (training, inference, reports).

    Parameters
    ----------
    transform : sklearn transformer, DataTransform or None
        Fitted; ``None`` returns ``x`` unchanged.
    x : np.ndarray
        Features, shape ``(..., d)``.
    columns : sequence of str
        The ``d`` feature names (the DataFrame columns the transform was fit with).

    Returns
    -------
    np.ndarray
        float32, shape ``(..., d_out)``.
    """
    if transform is None:
        return x
    x = np.asarray(x)
    out = np.asarray(transform.transform(feature_rows(x, columns)), dtype=np.float32)
    return out.reshape(*x.shape[:-1], out.shape[-1])


# --- a fitted transform as plain data ---------------------------------------------------

#: What :func:`transform_to_data` can save, for messages.
SUPPORTED_STEPS = "StandardScaler, PCA, log_columns, identity"


class TransformExportError(ConfigError):
    """A transform that cannot be saved (or loaded) as plain data; one line naming the step."""


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

    def put(i: int, field: str, value: Any) -> str:
        key = f"s{i}_{field}"
        arrays[key] = np.array(value, dtype=np.float64)
        return key

    for i, step in enumerate(_leaves(fitted)):
        kind = _check_leaf(step)
        desc: dict[str, Any] = {"kind": kind}
        if kind == "log_columns":
            columns_in = [str(c) for c in _fitted(step, "feature_names_in_")]
            chosen = {name: list(cols) for name, _, cols in step.transformers_}
            log = [str(c) for c in chosen.get("log", [])]
            keep = [str(c) for c in chosen.get("keep", [])]
            logged = set(log)
            if log != [c for c in columns_in if c in logged] or keep != [
                c for c in columns_in if c not in logged
            ]:
                raise _refuse(step, " (its columns are not kept-then-logged in input order)")
            desc.update(columns_in=columns_in, log=log, eps=_log_eps(step))
        elif kind == "standard":
            desc["mean"] = put(i, "mean", _fitted(step, "mean_")) if step.with_mean else None
            desc["scale"] = put(i, "scale", _fitted(step, "scale_")) if step.with_std else None
            if not (step.with_mean or step.with_std):
                _fitted(step, "n_features_in_")
        elif kind == "pca":
            desc["mean"] = put(i, "mean", _fitted(step, "mean_"))
            desc["components"] = put(i, "components", _fitted(step, "components_"))
            desc["explained_variance"] = put(
                i, "explained_variance", _fitted(step, "explained_variance_")
            )
            desc["whiten"] = bool(step.whiten)
        if i == 0 and kind != "log_columns" and hasattr(step, "feature_names_in_"):
            desc["columns_in"] = [str(c) for c in step.feature_names_in_]
        steps.append(desc)
    return steps, arrays


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

    def array(where: str, key: Any, ndim: int) -> np.ndarray:
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

    ops: list[tuple[str, dict[str, Any]]] = []
    columns_in: list[str] | None = None
    n_in: int | None = None
    width: int | None = None  # current width, None while unknown
    used: set[str] = set()

    def chain(where: str, d: int) -> None:
        nonlocal n_in, width
        if width is None:  # only width-preserving steps before: this is the input width
            n_in = d
        elif width is not None and width != d:
            raise TransformExportError(
                f"transforms: {where}: expects {d} features, the step before gives {width}"
            )
        width = d

    for i, desc in enumerate(steps):
        if not isinstance(desc, Mapping):
            raise TransformExportError(f"transforms: step {i} must be a mapping")
        kind = desc.get("kind")
        if not isinstance(kind, str) or kind not in _STEP_KEYS:
            raise TransformExportError(
                f"transforms: step {i}: unknown kind {kind!r}; known: {', '.join(_STEP_KEYS)}"
            )
        where = f"step {i} ({kind})"
        required, optional = _STEP_KEYS[kind]
        keys = {k for k in desc if k != "kind"}
        if required - keys or keys - required - optional:
            wrong = sorted(map(str, required - keys)) + sorted(map(str, keys - required - optional))
            raise TransformExportError(f"transforms: {where}: missing or unknown key(s) {wrong}")
        if "columns_in" in desc:
            if i != 0:
                raise TransformExportError(f"transforms: {where}: only step 0 names columns")
            columns_in = _names(desc["columns_in"], where, "columns_in")
            chain(where, len(columns_in))
        op: dict[str, Any] = {}
        if kind == "log_columns":
            log = _names(desc["log"], where, "log")
            if not set(log) <= set(columns_in or ()):
                raise TransformExportError(f"transforms: {where}: log names unknown columns")
            eps = desc["eps"]
            if isinstance(eps, bool) or not isinstance(eps, int | float) or not np.isfinite(eps):
                raise TransformExportError(f"transforms: {where}: eps must be a finite number")
            logged = set(log)
            op["keep"] = np.array([j for j, c in enumerate(columns_in) if c not in logged], int)
            op["log"] = np.array([columns_in.index(c) for c in log], dtype=int)
            op["eps"] = float(eps)
        elif kind == "standard":
            for field in ("mean", "scale"):
                key = desc[field]
                op[field] = None if key is None else array(where, key, 1)
                if key is not None:
                    used.add(key)
                    chain(where, len(op[field]))
            if op["scale"] is not None and not (op["scale"] > 0).all():
                raise TransformExportError(f"transforms: {where}: scale must be > 0")
        elif kind == "pca":
            op["mean"] = array(where, desc["mean"], 1)
            op["components"] = array(where, desc["components"], 2)
            op["explained_variance"] = array(where, desc["explained_variance"], 1)
            used.update(desc[f] for f in ("mean", "components", "explained_variance"))
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
            chain(where, d)
            width = k
        ops.append((kind, op))
    clean_steps = [{k: copy.deepcopy(v) for k, v in desc.items()} for desc in steps]
    clean_arrays = {k: np.array(arrays[k], dtype=np.float64) for k in sorted(used)}
    return DataTransform(clean_steps, clean_arrays, ops, columns_in, n_in, width)


# --- building a transform from a logged config ------------------------------------------


class _ScalerParams(Options):
    with_mean: Bool = True
    with_std: Bool = True


class _IdentityParams(Options):
    pass


class _PCAParams(Options):
    n_components: Int(ge=1, le=100_000) | Float(gt=0, le=1) | None = None
    whiten: Bool = False
    random_state: Seed | None = None


#: The only ``_target_`` values :func:`build_transform` builds, each with its one
#: declaration (``make_pipeline`` takes its steps in ``_args_``).
TRANSFORM_TARGETS: dict[str, tuple[Callable[..., Any], type[BaseModel]]] = {
    "sklearn.preprocessing.StandardScaler": (StandardScaler, _ScalerParams),
    "sklearn.preprocessing.FunctionTransformer": (FunctionTransformer, _IdentityParams),
    "sklearn.decomposition.PCA": (PCA, _PCAParams),
    "genreclf.transforms.log_columns": (log_columns, params_model(log_columns)),
}
_PIPELINE = "sklearn.pipeline.make_pipeline"
_MAX_DEPTH = 8


def _build_node(node: Any, where: str, depth: int, build: bool) -> Any:
    if not isinstance(node, Mapping):
        raise RegistryError(
            f"{where}: must be a mapping with a _target_, got {type(node).__name__}"
        )
    target = node.get("_target_")
    allowed = ", ".join(sorted([_PIPELINE, *TRANSFORM_TARGETS]))
    if not isinstance(target, str) or (target != _PIPELINE and target not in TRANSFORM_TARGETS):
        shown = repr(target) if isinstance(target, str | None) else type(target).__name__
        raise RegistryError(f"{where}: _target_ {shown[:80]} is not allowed; allowed: {allowed}")
    if target == _PIPELINE:
        extra = sorted(str(k) for k in node if k not in ("_target_", "_args_"))
        if extra:
            raise RegistryError(f"{where}: {target}: unknown parameter(s) {', '.join(extra)}")
        args = as_plain(node.get("_args_", []))
        if not isinstance(args, list | tuple) or not args:
            raise RegistryError(f"{where}: {target}: _args_ must be a non-empty list of steps")
        if depth >= _MAX_DEPTH:
            raise RegistryError(f"{where}: pipelines nested too deep")
        steps = [
            _build_node(a, f"{where}._args_[{i}]", depth + 1, build) for i, a in enumerate(args)
        ]
        return make_pipeline(*steps) if build else None
    factory, declaration = TRANSFORM_TARGETS[target]
    values = {str(k): as_plain(v) for k, v in node.items() if k != "_target_"}
    try:
        checked = validate(declaration, values, prefix=f"{where}.")
    except ConfigError as err:
        raise RegistryError(str(err)) from None
    kwargs = {k: getattr(checked, k) for k in checked.model_fields_set}
    return factory(**kwargs) if build else None


def check_transform_config(config: Mapping[str, Any] | None) -> None:
    """Validate a ``transforms`` config node against the declarations, building nothing.

    Raises
    ------
    genreclf.registry.RegistryError
        One line naming the step's ``_target_`` or parameter at fault.
    """
    if config is not None:
        _build_node(config, "transforms", 0, build=False)


def build_transform(config: Mapping[str, Any] | None) -> Any:
    """Build an (unfitted) transform from a plain config node, allowlisted targets only.

    Parameters
    ----------
    config : Mapping or None
        A ``conf/transforms/*.yaml`` node, e.g. a logged run config's ``transforms``:
        ``{"_target_": "sklearn.pipeline.make_pipeline", "_args_": [{...}, ...]}``.
        Allowed: ``make_pipeline`` (steps in ``_args_``), ``StandardScaler``
        (``with_mean``, ``with_std``), ``FunctionTransformer`` (no parameters: the
        identity), ``PCA`` (``n_components``, ``whiten``, ``random_state``) and
        :func:`log_columns` (``pattern``, ``eps``).

    Returns
    -------
    sklearn transformer or None
        ``None`` for a ``None`` config.

    Raises
    ------
    genreclf.registry.RegistryError
        One line naming the ``_target_`` or parameter refused. No string is imported,
        nothing is passed to ``hydra.utils.instantiate``.
    """
    if config is None:
        return None
    return _build_node(config, "transforms", 0, build=True)
