"""Name the genre of audio files: ``python -m genreclf.predict inputs=[...] [model_uri=...]``.

Composes ``conf/predict.yaml``. The model package (see :mod:`genreclf.inference.package`)
carries its feature set, fitted transform and label names, so only its reference is
needed: :mod:`genreclf.tracking.models` fetches it, :mod:`genreclf.inference` loads it.
Each file gets the top genres on screen and, with ``output=<file>.csv`` or ``.json``,
every genre's probability in that file. ``timeline=true`` adds each window's
probabilities (JSON ``timeline``, one CSV row per window) and names on screen the
stretches where the top genre changes; ``plot=<folder>`` draws one PNG per file of its
genre probabilities over time. A file that cannot be classified gets one line
on stderr naming it and why; the others are still answered, and the exit status is 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

from omegaconf import DictConfig, ListConfig
from pydantic import Field

from genreclf.cli import hydra_app
from genreclf.config.checks import check_config
from genreclf.core.errors import one_line, printable
from genreclf.core.filenames import printable_name
from genreclf.core.params import Bool, Int, Jobs, Options, Text, WritableFile, WritableFolder
from genreclf.data.tracks import AUDIO_EXTENSIONS
from genreclf.tracking.options import TrackingOptions


class PredictOptions(Options):
    """``conf/predict.yaml``: predict's own options."""

    model_uri: Text
    inputs: Text | Annotated[list[Text], Field(min_length=1)]
    output: WritableFile(".csv", ".json") | None
    top_k: Int(ge=1, le=1000)
    n_jobs: Jobs
    max_windows: Int(ge=1, le=100_000) | None
    max_parameters: Int(ge=1)
    trust_remote_code: Bool
    timeline: Bool
    plot: WritableFolder | None


def check_predict_config(cfg: DictConfig) -> None:
    """Every predict option against its declaration, before any file is read."""
    check_config(cfg, {"": PredictOptions, "tracking": TrackingOptions})


def expand_inputs(
    inputs: Iterable[str | Path], extensions: Iterable[str] = AUDIO_EXTENSIONS
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to classify: given files as they are, folders searched recursively for audio.

    Parameters
    ----------
    inputs : iterable of str or Path
        Files and folders.
    extensions : iterable of str
        Suffixes (with the dot, any case) of the audio files looked for in folders.

    Returns
    -------
    files : list of Path
        In the given order, each folder's files sorted, without repeats.
    failures : list of (str, str)
        ``(path, reason)`` for missing paths and folders without audio, the path as
        text (:func:`~genreclf.core.filenames.printable_name`).
    """
    exts = {e.lower() for e in extensions}
    files: dict[Path, None] = {}
    failures: list[tuple[str, str]] = []
    for item in inputs:
        path = Path(str(item)).expanduser()
        if path.is_dir():
            found = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in exts)
            if not found:
                reason = f"folder holds no audio ({', '.join(sorted(exts))})"
                failures.append((printable_name(str(item)), reason))
            files.update(dict.fromkeys(found))
        elif path.exists():
            files[path] = None
        else:
            failures.append((printable_name(str(item)), "no such file or folder"))
    return list(files), failures


def screen_table(predictions: list, top_k: int = 3) -> str:
    """The top ``top_k`` genres of each file, as a plain-text table."""
    import pandas as pd

    rows = []
    for p in predictions:
        row = {"file": printable(p.file)}
        for rank, (genre, prob) in enumerate(p.top(top_k), start=1):
            row[f"#{rank}"] = f"{printable(genre)} {prob:.2f}"
        rows.append(row)
    frame = pd.DataFrame(rows).fillna("")
    widths = {c: max(len(c), *frame[c].str.len()) for c in frame.columns}
    frame = frame.apply(lambda col: col.str.ljust(widths[col.name]))
    return frame.to_string(index=False, justify="left")


def _csv_row(file: str, probabilities: dict[str, float], top_k: int) -> dict[str, Any]:
    """``file``, the top ``top_k`` genres with their probabilities, then ``p_<genre>``."""
    row: dict[str, Any] = {"file": file}
    ranked = sorted(probabilities.items(), key=lambda kv: -kv[1])[:top_k]
    for rank, (genre, prob) in enumerate(ranked, start=1):
        suffix = "" if rank == 1 else f"_{rank}"
        row[f"genre{suffix}"] = genre
        row[f"probability{suffix}"] = prob
    return row | {f"p_{genre}": prob for genre, prob in probabilities.items()}


def _json_entry(prediction: Any, timeline: bool) -> dict[str, Any]:
    entry = {
        "file": prediction.file,
        "genre": prediction.genre,
        "probabilities": dict(prediction.top(len(prediction.probabilities))),
        "windows": prediction.windows,
        "duration": round(prediction.duration, 3),
    }
    if timeline:
        entry["timeline"] = prediction.timeline()
    return entry


def write_output(
    predictions: list, path: str | Path, top_k: int = 3, timeline: bool = False
) -> Path:
    """Write predictions as JSON or CSV, chosen by the suffix of ``path``.

    JSON: a list of ``{"file", "genre", "probabilities", "windows", "duration"}``
    entries, ``probabilities`` mapping every genre to its probability, most probable
    first; with ``timeline``, also ``"timeline"``: ``{"start", "end", "probabilities"}``
    per window (seconds). CSV: ``file``, ``genre``, ``probability``, ``genre_2``,
    ``probability_2``, ... up to ``top_k``, then ``p_<genre>`` for every genre; with
    ``timeline``, one row per window, with its ``start`` and ``end`` after ``file``.

    Returns
    -------
    Path
    """
    import pandas as pd

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        entries = [_json_entry(p, timeline) for p in predictions]
        path.write_text(json.dumps(entries, indent=2) + "\n")
        return path
    if timeline:
        rows = [
            {"file": p.file, "start": w["start"], "end": w["end"]}
            | _csv_row(p.file, w["probabilities"], top_k)
            for p in predictions
            for w in p.timeline()
        ]
    else:
        rows = [_csv_row(p.file, p.probabilities, top_k) for p in predictions]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _seconds(value: float) -> str:
    """Seconds to one decimal, without a trailing ``.0``."""
    return f"{value:.1f}".removesuffix(".0")


def stretches_line(prediction: Any) -> str:
    """``file: 0–30 s rock, 30–57 s blues``: where the top genre of the windows changes."""
    parts = [
        f"{_seconds(start)}\u2013{_seconds(end)} s {printable(genre)}"
        for start, end, genre in prediction.stretches()
    ]
    return f"{printable(prediction.file)}: {', '.join(parts)}"


def _inputs(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, ListConfig | list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def load_genre_model(model_uri: str, tracking_uri: str, **options: Any) -> Any:
    """Fetch a model from the store (:mod:`genreclf.tracking.models`) and load it as data.

    Parameters
    ----------
    model_uri : str
        ``runs:/<id>/model``, ``models:/<name>/<version>``, ``models:/<name>@<alias>``,
        ``best:<experiment>`` or a local model folder.
    tracking_uri : str
        The store to resolve it in.
    **options
        ``n_jobs``, ``max_windows``, ``max_parameters``, ``trust_remote_code`` of
        :func:`genreclf.inference.load_model`.

    Returns
    -------
    GenreModel
    """
    import tempfile

    from genreclf.inference import load_model
    from genreclf.tracking.models import fetch_model
    from genreclf.tracking.run import open_store

    with tempfile.TemporaryDirectory() as tmp:
        uri, folder = fetch_model(open_store(tracking_uri), model_uri, Path(tmp))
        return load_model(folder, uri=uri, **options)


def model_line(model: Any, tracking_uri: str) -> str:
    """One line naming the model used: its run, data set, features and validation score.

    ``Model: linear-musicnn-3f2a9c (runs:/<id>/model), data gtzan:genres_original@1a2b3c4d,
    features: musicnn, best_val_acc 0.712, 10 genres``; a model trained on the built-in
    synthetic data says so; a local folder is named by its path.
    """
    from genreclf.tracking.models import model_origin
    from genreclf.tracking.run import open_store

    genres = f"{len(model.class_names)} genres"
    features = f"features: {one_line(model.feature_set.describe())}"
    origin = model_origin(open_store(tracking_uri), str(model.uri))
    if origin is None:
        return f"Model: {printable(str(model.uri))}, {features}, {genres}"
    data = one_line(origin["dataset"] or "data set not logged")
    if origin["synthetic"]:
        data += " (SYNTHETIC toy data, not music)"
    score = origin["val_acc"]
    scored = "no best_val_acc" if score is None else f"best_val_acc {score:.3f}"
    name = one_line(origin["run_name"] or origin["run_id"])
    uri = printable(str(model.uri))
    return f"Model: {name} ({uri}), data {data}, {features}, {scored}, {genres}"


def _predict_files(model: Any, files: list, failures: list[tuple[str, str]]) -> list:
    """The model's prediction of each file; a file that fails is added to ``failures``
    (name, reason) with an ``error:`` line on stderr, and the others go on."""
    from genreclf.audio import AudioError
    from genreclf.inference import ModelLoadError

    predictions = []
    for path in files:
        try:
            predictions.append(model.predict_file(path))
        except AudioError as exc:
            failures.append((printable_name(path), exc.reason))
            print(f"error: {exc}", file=sys.stderr)
        except ModelLoadError:  # the model is at fault (non-finite output): one line, exit 2
            raise
        except Exception as exc:  # one file's failure must not stop the others
            reason = one_line(exc, named=True)
            failures.append((printable_name(path), reason))
            print(f"error: {printable(path)}: {reason}", file=sys.stderr)
    return predictions


def predict(cfg: DictConfig) -> int:
    """Classify ``cfg.inputs`` with ``cfg.model_uri``; print, write ``cfg.output``.

    Returns
    -------
    int
        0 if every input was answered, 1 if any failed.

    Raises
    ------
    ConfigError
        On bad options (checked first, before any file is read; see
        :func:`genreclf.config.checks.check_predict_config`).
    ModelRefError, ModelLoadError
        If the model cannot be resolved, fetched or loaded.
    """
    check_predict_config(cfg)
    inputs = _inputs(cfg.inputs)
    output = cfg.get("output")
    top_k = int(cfg.top_k)
    max_windows = cfg.get("max_windows")
    model = load_genre_model(  # first: a model that cannot be had is the one error shown
        str(cfg.model_uri),
        str(cfg.tracking.uri),
        n_jobs=int(cfg.n_jobs),
        max_windows=max_windows,
        max_parameters=int(cfg.max_parameters),
        trust_remote_code=bool(cfg.get("trust_remote_code", False)),
    )
    files, failures = expand_inputs(inputs)
    for name, reason in failures:
        print(f"error: {printable(name)}: {reason}", file=sys.stderr)
    print(model_line(model, str(cfg.tracking.uri)), file=sys.stderr)
    predictions = _predict_files(model, files, failures)
    timeline, plot = bool(cfg.get("timeline", False)), cfg.get("plot")
    if predictions:
        print(screen_table(predictions, top_k))
    if predictions and (timeline or plot):
        print("Top genre over time:")
        for prediction in predictions:
            print(f"  {stretches_line(prediction)}")
    if output:
        written = write_output(predictions, output, top_k, timeline=timeline)
        print(f"Wrote {len(predictions)} predictions to {written}", file=sys.stderr)
    if plot and predictions:
        from genreclf.reports.timeline import save_timelines

        figures = save_timelines(predictions, plot)
        print(f"Wrote {len(figures)} timeline figures to {Path(plot)}", file=sys.stderr)
    if failures:
        print(f"{len(failures)} input(s) failed, {len(predictions)} answered", file=sys.stderr)
    return 1 if failures else 0


def _task(cfg: DictConfig) -> None:
    """Hydra task: predict, and exit with its status."""
    status = predict(cfg)
    if status:
        sys.exit(status)


main = hydra_app(_task, "predict")
"""Entry point of ``python -m genreclf.predict``."""


if __name__ == "__main__":
    main()
