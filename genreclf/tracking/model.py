"""The logged genre model: a PyTorch MLflow model that carries everything audio needs.

A training run logs its head with :func:`log_genre_model` as the MLflow PyTorch model
``runs:/<run_id>/model`` (with a tensor signature), and puts beside it what turns audio
into that head's input:

- in the model's ``metadata`` (key ``genreclf``, readable in the ``MLmodel`` file): the
  feature set's Hydra config (``_target_`` and parameters, so ``hydra.utils.instantiate``
  rebuilds it), the feature columns, the label names, the input shape, whether features
  are frame-level segments and their length, the sample rate audio is loaded at, and
  where the features came from (audio, or a table with a named or inferred recipe);
- as an extra file ``transform.joblib``: the sklearn transform fitted on the training rows.

:func:`load_genre_model` needs nothing but the model reference: ``runs:/<id>/model``,
``models:/<name>/<version>``, ``models:/<name>@<alias>``, a local model folder, or
``best:<experiment>`` (the finished run with the highest ``best_val_acc``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from genreclf.audio import AudioError, load_audio
from genreclf.tracking.store import sqlite_path, with_retry

log = logging.getLogger(__name__)

#: Key of the genreclf spec in the MLflow model's ``metadata``.
SPEC_KEY = "genreclf"
#: Version of the spec layout; bump on incompatible changes.
SPEC_VERSION = 1
#: Extra file of the model holding the fitted sklearn transform.
TRANSFORM_FILE = "transform.joblib"
#: Metric that ``best:<experiment>`` maximizes.
BEST_METRIC = "best_val_acc"
#: Window length for summary feature sets on long tracks (GTZAN clips are 30 s).
CLIP_SECONDS = 30.0
#: Rate assumed for native-rate features of a table of unknown origin (GTZAN's).
DEFAULT_SAMPLE_RATE = 22050


class ModelLoadError(ValueError):
    """A model reference that cannot be resolved or loaded; the message is one line."""


# ----------------------------------------------------------------------------- packaging


def _features_dir() -> Path:
    from genreclf.cli import CONFIG_DIR

    return CONFIG_DIR / "features"


def _known_recipes() -> dict[str, dict]:
    """Feature set configs genreclf can compute, by recipe name (``conf/features/*.yaml``)."""
    out = {}
    for path in sorted(_features_dir().glob("*.yaml")):
        out[path.stem] = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    return out


def recipe_for_table(recipe: str | None, columns: list[str]) -> dict[str, Any]:
    """Which audio feature set reproduces a feature table's columns.

    Parameters
    ----------
    recipe : str or None
        The table's declared recipe (``data.recipe``), e.g. ``seed174``; ``None`` if unknown.
    columns : list of str
        The table's feature columns.

    Returns
    -------
    dict
        ``recipe`` (declared or inferred name, or ``None``), ``features`` (the feature
        set config, or ``None`` when genreclf cannot compute the columns) and ``note``
        (one line saying how it was decided).
    """
    from hydra.utils import instantiate

    known = _known_recipes()

    def matches(name: str) -> bool:
        fs = instantiate(known[name])
        return not fs.frame_level and sorted(fs.columns) == sorted(columns)

    if recipe is not None:
        if recipe not in known:
            return {
                "recipe": recipe,
                "features": None,
                "note": f"recipe '{recipe}' is not one genreclf can compute "
                f"(known: {', '.join(known)})",
            }
        if not matches(recipe):
            return {
                "recipe": recipe,
                "features": None,
                "note": f"the table's {len(columns)} columns are not those of genreclf's "
                f"'{recipe}' feature set",
            }
        return {"recipe": recipe, "features": known[recipe], "note": "declared (data.recipe)"}
    for name in known:
        if matches(name):
            return {"recipe": name, "features": known[name], "note": "inferred from the columns"}
    return {
        "recipe": None,
        "features": None,
        "note": "unknown recipe (data.recipe not set, and the columns match no genreclf "
        "feature set)",
    }


def training_sample_rate(source: Any, feature_set: Any = None) -> tuple[int, str]:
    """The rate audio is loaded at for prediction, so features match the training ones.

    A feature set with a fixed ``sr`` resamples every file to it. One working at the
    native rate (``sr=None``, e.g. seed174) saw the training files' rate, so a song
    at another rate (a 44.1 kHz mp3 against 22050 Hz GTZAN) is resampled to that.

    Returns
    -------
    rate : int
    note : str
        How it was decided.
    """
    if feature_set is not None and getattr(feature_set, "sr", None):
        return int(feature_set.sr), "the feature set's rate"
    if getattr(source, "sr", None):  # generated data (data=synthetic)
        return int(source.sr), "the rate of the generated training audio"
    if hasattr(source, "tracks"):
        import soundfile as sf

        tracks = source.tracks()
        rates = []
        for track in tracks[:: max(1, len(tracks) // 50)]:
            try:
                rates.append(int(sf.info(str(track.path)).samplerate))
            except Exception:  # unreadable files were skipped by extraction too
                continue
        if rates:
            return max(set(rates), key=rates.count), "most common rate of the training files"
    return DEFAULT_SAMPLE_RATE, "assumed: GTZAN's rate (the training audio's rate is unknown)"


def model_spec(
    feature_config: DictConfig | dict,
    source: Any,
    columns: list[str],
    class_names: list[str],
    input_shape: tuple[int, ...],
) -> dict[str, Any]:
    """The JSON-able spec that turns audio into the head's input.

    Parameters
    ----------
    feature_config : DictConfig or dict
        The run's ``features`` config (used for audio sources).
    source : object
        The run's data source; one with ``frame()`` is a feature table, whose
        ``feature_recipe`` names (or leaves unknown) the audio features it holds.
    columns : list of str
        Feature columns, in the order the transform was fitted on.
    class_names : list of str
        Labels in the head's output order.
    input_shape : tuple of int
        Shape of one transformed example.

    Returns
    -------
    dict
    """
    from hydra.utils import instantiate

    if isinstance(feature_config, DictConfig):
        feature_config = OmegaConf.to_container(feature_config, resolve=True)
    if hasattr(source, "frame"):
        found = recipe_for_table(getattr(source, "feature_recipe", None), list(columns))
        origin, features = "table", found["features"]
        recipe, note = found["recipe"], found["note"]
    else:
        origin, features, note = "audio", dict(feature_config), "extracted from audio"
        recipe = instantiate(features).name
    frame_level, segment, fs = False, None, None
    if features is not None:
        fs = instantiate(features)
        frame_level = bool(fs.frame_level)
        segment = getattr(fs, "segment_seconds", None) if frame_level else None
    rate, rate_note = training_sample_rate(source, fs)
    return {
        "version": SPEC_VERSION,
        "source": origin,
        "recipe": recipe,
        "recipe_note": note,
        "features": features,
        "frame_level": frame_level,
        "segment_seconds": segment,
        "clip_seconds": None if frame_level else CLIP_SECONDS,
        "sample_rate": rate,
        "sample_rate_note": rate_note,
        "columns": [str(c) for c in columns],
        "class_names": [str(c) for c in class_names],
        "input_shape": [int(n) for n in input_shape],
        "transform": None,
    }


def log_genre_model(
    run_id: str,
    head,
    datamodule,
    feature_config: DictConfig | dict,
    source: Any,
    registry_name: str | None = None,
    registry_alias: str | None = None,
) -> str:
    """Log ``head`` as the run's MLflow PyTorch model ``model``, carrying its features.

    Parameters
    ----------
    run_id : str
        The training run (the current tracking URI's store).
    head : torch.nn.Module
        The trained head (maps transformed features to logits).
    datamodule : GenreDataModule
        After ``setup()``: fitted ``transform``, ``class_names``, ``input_shape``,
        ``table.columns`` and test tensors (the signature's example).
    feature_config : DictConfig or dict
        The run's ``features`` config.
    source : object
        The run's data source.
    registry_name : str, optional
        Also register the model under this name in the model registry.
    registry_alias : str, optional
        Point this alias of ``registry_name`` at the new version.

    Returns
    -------
    str
        ``runs:/<run_id>/model``, or ``models:/<name>/<version>`` if registered.
    """
    import joblib
    import mlflow
    import torch
    from mlflow.models import infer_signature

    spec = model_spec(
        feature_config,
        source,
        list(datamodule.table.columns),
        datamodule.class_names,
        datamodule.input_shape,
    )
    example = datamodule.datasets["test"].tensors[0][:5]
    head.eval()
    with torch.no_grad():
        output = head(example).numpy()
    signature = infer_signature(example.numpy(), output)
    with tempfile.TemporaryDirectory() as tmp:
        extra = []
        if datamodule.transform is not None:
            path = Path(tmp) / TRANSFORM_FILE
            joblib.dump(datamodule.transform, path)
            extra.append(str(path))
            spec["transform"] = TRANSFORM_FILE
        with mlflow.start_run(run_id=run_id):
            info = mlflow.pytorch.log_model(
                head,
                name="model",
                signature=signature,
                input_example=example.numpy(),
                metadata={SPEC_KEY: spec},
                extra_files=extra or None,
                # "pickle" loads in milliseconds; "pt2" (torch.export) costs seconds at
                # every cold start of predict. Loading needs genreclf's code either way.
                serialization_format="pickle",
                pip_requirements=_requirements(),
            )
    uri = f"runs:/{run_id}/model"
    if spec["features"] is None:
        log.warning(
            "the logged model cannot classify audio: %s; predict needs the table's recipe",
            spec["recipe_note"],
        )
    if registry_name:
        version = register_model(info.model_uri, registry_name, registry_alias)
        uri = f"models:/{registry_name}/{version}"
    return uri


#: Packages whose code the logged model runs (besides genreclf itself, which is not on PyPI).
RUNTIME_PACKAGES = (
    "torch",
    "scikit-learn",
    "librosa",
    "soundfile",
    "numpy",
    "pandas",
    "hydra-core",
)


def _requirements() -> list[str]:
    """Pinned runtime requirements, given explicitly: MLflow's inference costs ~15 s a run."""
    from importlib.metadata import version

    return [f"{name}=={version(name).split('+')[0]}" for name in RUNTIME_PACKAGES]


def register_model(model_uri: str, name: str, alias: str | None = None) -> str:
    """Register ``model_uri`` as a new version of ``name`` (and point ``alias`` at it).

    Returns
    -------
    str
        The new version number.
    """
    import mlflow
    from mlflow import MlflowClient

    version = with_retry(lambda: mlflow.register_model(model_uri, name)).version
    if alias:
        with_retry(lambda: MlflowClient().set_registered_model_alias(name, alias, version))
    log.info("registered %s as models:/%s/%s", model_uri, name, version)
    return str(version)


# ------------------------------------------------------------------------------- loading


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def best_model_uri(experiment: str, tracking_uri: str | None = None) -> str:
    """``runs:/<id>/model`` of the finished run of ``experiment`` with the best ``best_val_acc``.

    Runs without a logged model are passed over; ties go to the latest run.

    Raises
    ------
    ModelLoadError
        If the experiment does not exist or none of its finished runs has a model.
    """
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    where = tracking_uri or mlflow.get_tracking_uri()
    found = with_retry(lambda: client.get_experiment_by_name(experiment))
    if found is None:
        raise ModelLoadError(f"best:{experiment}: no experiment '{experiment}' in {where}")
    eid = found.experiment_id
    runs = with_retry(
        lambda: client.search_runs(
            [eid],
            filter_string=f"attributes.status = 'FINISHED' and metrics.{BEST_METRIC} >= 0",
            order_by=[f"metrics.{BEST_METRIC} DESC", "attributes.start_time DESC"],
            max_results=200,
        )
    )
    with_model: set[str] = set()
    token = None
    while True:
        page = with_retry(
            lambda t=token: client.search_logged_models(
                experiment_ids=[eid], filter_string="name = 'model'", page_token=t
            )
        )
        with_model |= {m.source_run_id for m in page}
        token = page.token
        if not token:
            break
    for run in runs:
        if run.info.run_id in with_model:
            return f"runs:/{run.info.run_id}/model"
    raise ModelLoadError(
        f"best:{experiment}: no finished run with a '{BEST_METRIC}' metric and a logged model "
        f"in {where}"
    )


def resolve_model_uri(model_uri: str, tracking_uri: str | None = None) -> str:
    """Turn ``best:<experiment>`` into a ``runs:/`` URI; other references pass unchanged."""
    if model_uri.startswith("best:"):
        return best_model_uri(model_uri[len("best:") :] or "genreclf", tracking_uri)
    return model_uri


@dataclass
class Prediction:
    """Genre probabilities of one file.

    Attributes
    ----------
    file : str
    probabilities : dict of str to float
        Every genre's probability (they sum to 1), in the model's label order.
    windows : int
        Number of windows (segments or clips) averaged.
    duration : float
        Seconds of audio.
    """

    file: str
    probabilities: dict[str, float]
    windows: int
    duration: float

    @property
    def genre(self) -> str:
        """The most probable genre."""
        return max(self.probabilities, key=self.probabilities.__getitem__)

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` most probable genres with their probabilities, best first."""
        return sorted(self.probabilities.items(), key=lambda kv: -kv[1])[:k]


@dataclass
class GenreModel:
    """A loaded genre model: feature set, fitted transform, head and label names.

    Attributes
    ----------
    uri : str
        The resolved model reference.
    head : torch.nn.Module
    feature_set : FeatureSet
        Rebuilt from the logged config.
    transform : sklearn transformer or None
    spec : dict
        The logged spec (see :func:`model_spec`).
    n_jobs : int
        Threads computing the windows of one file (``-1``: one per core).
    max_windows : int or None
        Classify at most this many windows of a long track, evenly spread over it
        (faster, less thorough); ``None``: every window.
    """

    uri: str
    head: Any
    feature_set: Any
    transform: Any
    spec: dict
    n_jobs: int = -1
    max_windows: int | None = None

    @property
    def class_names(self) -> list[str]:
        return list(self.spec["class_names"])

    def _spread(self, n: int) -> np.ndarray:
        """Indices of the windows kept out of ``n`` (all, or ``max_windows`` evenly spread)."""
        if not self.max_windows or n <= self.max_windows:
            return np.arange(n)
        return np.unique(np.linspace(0, n - 1, int(self.max_windows)).round().astype(int))

    def windows(self, y: np.ndarray, sr: int) -> list[np.ndarray]:
        """Cut a signal into the pieces features are computed on.

        Frame-level sets cut their own segments, so the whole signal is one piece.
        Summary sets get ``round(duration / clip_seconds)`` (at least 1) equal
        consecutive clips, each about ``clip_seconds`` long (training clips' length);
        at most ``max_windows`` of them are kept.
        """
        if self.spec["frame_level"]:
            return [y]
        clip = float(self.spec.get("clip_seconds") or CLIP_SECONDS)
        pieces = np.array_split(y, max(1, int(round(len(y) / sr / clip))))
        return [pieces[i] for i in self._spread(len(pieces))]

    def _compute(self, pieces: list[np.ndarray], sr: int) -> list[np.ndarray]:
        """Features of each piece; several pieces run in threads, one BLAS thread each."""
        from joblib import effective_n_jobs

        fs = self.feature_set
        threads = min(len(pieces), max(1, effective_n_jobs(self.n_jobs)))
        if threads <= 1:
            return [np.asarray(fs.compute(w, sr), dtype=np.float32) for w in pieces]
        from concurrent.futures import ThreadPoolExecutor

        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1), ThreadPoolExecutor(threads) as pool:
            values = pool.map(fs.compute, pieces, [sr] * len(pieces))
            return [np.asarray(v, dtype=np.float32) for v in values]

    def features(self, y: np.ndarray, sr: int) -> np.ndarray:
        """Transformed head inputs of one signal: ``(windows, *input_shape)``.

        Raises
        ------
        AudioError
            If the signal is too short for one segment, or its features are not finite.
        """
        import pandas as pd

        fs = self.feature_set
        parts = self._compute(self.windows(y, sr), sr)
        if fs.frame_level:
            x = np.concatenate(parts)
            x = x[self._spread(len(x))]
        else:
            x = np.stack(parts)
        if not np.all(np.isfinite(x)):
            raise AudioError(None, "non-finite features (NaN or inf)")
        if self.transform is not None:
            rows = pd.DataFrame(x.reshape(-1, x.shape[-1]), columns=list(fs.columns))
            out = np.asarray(self.transform.transform(rows[self.spec["columns"]]), np.float32)
            x = out.reshape(*x.shape[:-1], out.shape[-1])
        want = tuple(self.spec["input_shape"])
        if x.shape[1:] != want:
            raise AudioError(None, f"features of shape {x.shape[1:]}, the model expects {want}")
        return x

    def predict_signal(self, y: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
        """Mean class probabilities over the windows of one mono signal, and their count."""
        import torch

        x = self.features(y, sr)
        with torch.no_grad():
            probs = torch.softmax(self.head(torch.from_numpy(x)), dim=1).double().numpy()
        mean = probs.mean(axis=0)
        return mean / mean.sum(), len(x)

    def predict_file(self, path: str | Path) -> Prediction:
        """Load an audio file at the training audio's rate and predict its genre.

        Raises
        ------
        AudioError
            Naming the file, if it is missing, empty, not audio, corrupt, silent or too short.
        """
        fs = self.feature_set
        y, sr = load_audio(path, sr=self.spec.get("sample_rate") or fs.sr, mono=fs.mono)
        try:
            probs, n = self.predict_signal(y, sr)
        except AudioError as exc:
            raise AudioError(path, exc.reason) from exc
        return Prediction(
            file=str(path),
            probabilities={c: float(p) for c, p in zip(self.class_names, probs, strict=True)},
            windows=n,
            duration=len(y) / sr,
        )


def _load_torch(local: Path):
    """The PyTorch model of a downloaded MLflow model folder.

    A pickled model (how :func:`log_genre_model` saves it) is read with ``torch.load``
    directly: ``mlflow.pytorch`` imports Lightning and torchmetrics (seconds at every
    cold start). Other formats (e.g. ``pt2``) go through ``mlflow.pytorch.load_model``.
    """
    import torch
    from mlflow.models import Model

    data = local / Model.load(str(local)).flavors["pytorch"].get("model_data", "data")
    info = data / "pickle_module_info.txt"
    pickled = data / "model.pth"
    if pickled.is_file() and info.is_file():
        name = info.read_text().strip()
        if name in ("mlflow.pytorch.pickle_module", "cloudpickle"):
            import pickle as pickle_module  # cloudpickle's output is standard pickle
        else:
            import importlib

            pickle_module = importlib.import_module(name)
        return torch.load(
            pickled, map_location="cpu", pickle_module=pickle_module, weights_only=False
        )
    import mlflow.pytorch

    return mlflow.pytorch.load_model(str(local), map_location="cpu")


def read_spec(local_path: str | Path, uri: str) -> dict:
    """The genreclf spec of a downloaded model folder.

    Raises
    ------
    ModelLoadError
        If the model has none, or a newer layout, or cannot classify audio.
    """
    from mlflow.models import Model

    spec = (Model.load(str(local_path)).metadata or {}).get(SPEC_KEY)
    if spec is None:
        raise ModelLoadError(
            f"{uri}: not a self-contained genreclf model (no '{SPEC_KEY}' metadata; "
            "retrain it with this version of genreclf)"
        )
    if int(spec.get("version", 0)) > SPEC_VERSION:
        raise ModelLoadError(f"{uri}: model spec version {spec['version']} is newer than this code")
    if spec.get("features") is None:
        cols = spec.get("columns", [])
        shown = ", ".join(cols[:5]) + (", ..." if len(cols) > 5 else "")
        raise ModelLoadError(
            f"{uri}: trained on a feature table whose audio recipe genreclf cannot compute: "
            f"{spec.get('recipe_note')}; it needs {len(cols)} features ({shown}); retrain on "
            "audio, or on a table with data.recipe=<conf/features name>"
        )
    return spec


def load_genre_model(
    model_uri: str,
    tracking_uri: str | None = None,
    n_jobs: int = -1,
    max_windows: int | None = None,
) -> GenreModel:
    """Load a self-contained genre model from MLflow.

    Parameters
    ----------
    model_uri : str
        ``runs:/<id>/model``, ``models:/<name>/<version>``, ``models:/<name>@<alias>``,
        a local model folder, or ``best:<experiment>``.
    tracking_uri : str, optional
        Store to resolve the reference in; default: MLflow's current tracking URI.
    n_jobs, max_windows
        See :class:`GenreModel`.

    Returns
    -------
    GenreModel

    Raises
    ------
    ModelLoadError
        In one line, if the reference does not resolve or is no usable genreclf model.
    """
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import joblib
    import mlflow
    from hydra.utils import instantiate

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    store = tracking_uri or mlflow.get_tracking_uri()
    db = sqlite_path(store)
    if model_uri.split(":")[0] in ("runs", "models", "best") and db and not db.is_file():
        raise ModelLoadError(
            f"{model_uri}: no MLflow database at {db} (tracking.uri={store}); run from the "
            "folder you trained in, or give tracking.uri"
        )
    uri = resolve_model_uri(model_uri, tracking_uri)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp)
        except Exception as exc:  # MLflow raises several types for a bad reference
            raise ModelLoadError(f"{uri}: cannot fetch the model ({_first_line(exc)})") from exc
        if not (Path(local) / "MLmodel").is_file():
            raise ModelLoadError(f"{uri}: not an MLflow model (no MLmodel file)")
        spec = read_spec(local, uri)
        try:
            head = _load_torch(Path(local))
        except Exception as exc:
            raise ModelLoadError(
                f"{uri}: not a loadable PyTorch model ({_first_line(exc)})"
            ) from exc
        transform = None
        if spec.get("transform"):
            transform = joblib.load(Path(local) / "extra_files" / spec["transform"])
    try:
        head.eval()
    except NotImplementedError:  # a torch.export graph ("pt2" format): exported in eval mode
        pass
    feature_set = instantiate(spec["features"])
    if sorted(feature_set.columns) != sorted(spec["columns"]):
        raise ModelLoadError(
            f"{uri}: the feature set {type(feature_set).__name__} now computes other columns "
            "than the model was trained on"
        )
    return GenreModel(
        uri, head, feature_set, transform, spec, n_jobs=n_jobs, max_windows=max_windows
    )
