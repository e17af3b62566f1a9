"""Models logged by genreclf before the model package: pickled, so refused by default.

Such a model is an MLflow PyTorch model whose head is a pickle (``data/model.pth``) and
whose transform is a joblib pickle (``extra_files/transform.joblib``), with the spec in
the ``MLmodel`` metadata. Unpickling runs whatever code the file holds, so loading one
takes the explicit opt-in ``trust_pickle`` (``predict.trust_pickle=true``), which warns.
Even then, the feature set is rebuilt by name from the registry (never from the
``_target_`` in the metadata), files are read from inside the folder only, and the
pickles are read with the standard ``pickle`` module (never one named by the model).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from genreclf.features.sets import FEATURE_SETS
from genreclf.inference.files import ModelLoadError, inside
from genreclf.inference.pipeline import GenreModel
from genreclf.registry import RegistryError

log = logging.getLogger(__name__)

#: Key of the spec in the MLmodel metadata of an earlier genreclf model.
LEGACY_SPEC_KEY = "genreclf"


def read_legacy_spec(folder: Path) -> dict[str, Any]:
    """The spec in the ``MLmodel`` metadata of an earlier genreclf model (read as plain YAML)."""
    import yaml

    path = inside(folder, "MLmodel", "the MLmodel file")
    try:
        meta = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path}: not an MLmodel file ({str(exc).splitlines()[0]})") from exc
    spec = (
        ((meta or {}).get("metadata") or {}).get(LEGACY_SPEC_KEY)
        if isinstance(meta, dict)
        else None
    )
    if not isinstance(spec, dict):
        raise ModelLoadError(f"{path}: not a genreclf model (no genreclf spec)")
    return {"flavors": meta.get("flavors") or {}, **spec}


def load_legacy(
    folder: Path,
    *,
    uri: str,
    trust_pickle: bool,
    n_jobs: int = -1,
    max_windows: int | None = None,
) -> GenreModel:
    """Load an earlier genreclf model; refused unless ``trust_pickle``.

    Raises
    ------
    ModelLoadError
        Without ``trust_pickle``, or if the folder is not such a model.
    """
    spec = read_legacy_spec(folder)
    if not trust_pickle:
        raise ModelLoadError(
            f"{uri}: logged by an earlier genreclf version, with pickled weights and transform, "
            "which would run code from the model; retrain it, or load it anyway with "
            "trust_pickle=true (python -m genreclf.predict ... trust_pickle=true) if you trust "
            "whoever logged it"
        )
    warnings.warn(
        f"{uri}: loading pickled files (trust_pickle=true): this runs code from the model",
        stacklevel=2,
    )
    log.warning("%s: trust_pickle=true: unpickling the model's files", uri)
    import pickle

    import torch

    features = spec.get("features")
    if not isinstance(features, dict):
        raise ModelLoadError(f"{uri}: the model names no feature set genreclf can compute")
    try:
        feature_set = FEATURE_SETS.build_config(features)
    except (RegistryError, ValueError, TypeError) as exc:
        raise ModelLoadError(f"{folder / 'MLmodel'}: features: {exc}") from exc
    data = (spec["flavors"].get("pytorch") or {}).get("model_data", "data")
    weights = inside(folder, f"{data}/model.pth", "the pickled head")
    head = torch.load(weights, map_location="cpu", pickle_module=pickle, weights_only=False)
    head.eval()
    transform = None
    if spec.get("transform"):
        import joblib

        transform = joblib.load(inside(folder, f"extra_files/{spec['transform']}", "the transform"))
    if sorted(feature_set.columns) != sorted(spec.get("columns") or []):
        raise ModelLoadError(f"{uri}: the feature set now computes other columns than the model's")
    return GenreModel(
        uri, head, feature_set, transform, spec, n_jobs=n_jobs, max_windows=max_windows
    )
