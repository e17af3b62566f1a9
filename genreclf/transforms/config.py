"""Building a transform from a logged config node, with allowlisted targets only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from genreclf.core.errors import ConfigError
from genreclf.core.params import Bool, Float, Int, Options, Seed, params_model, validate
from genreclf.core.registry import RegistryError, as_plain
from genreclf.transforms.steps import log_columns


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
    genreclf.core.registry.RegistryError
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
    genreclf.core.registry.RegistryError
        One line naming the ``_target_`` or parameter refused. No string is imported,
        nothing is passed to ``hydra.utils.instantiate``.
    """
    if config is None:
        return None
    return _build_node(config, "transforms", 0, build=True)
