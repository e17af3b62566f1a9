"""Where a report's figures come from: data set, features, protocol, code and date.

Read from the runs' params (``data.*``, ``features.*``, ``split.*``) and tags; the code's
version and commit from the installed package and the working directory's git.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

import pandas as pd

from genreclf.tracking import names

#: Params naming where a data set lives, in order of preference.
LOCATION_PARAMS: tuple[str, ...] = ("data.path", "data.root")
#: Metrics holding the number of tracks of each part, where a run logs them.
TRACK_COUNT_METRICS: dict[str, str] = {
    "train": "n_tracks_train",
    "val": "n_tracks_val",
    "test": "n_tracks_test",
}
#: Params of a feature set shown besides its class.
FEATURE_DETAILS: tuple[str, ...] = ("model", "layer", "pooling")
UNKNOWN_DATA = "unknown data set"


def _param(runs: pd.DataFrame, name: str) -> pd.Series:
    """The param ``name`` of every run (``None`` where not logged)."""
    empty = pd.Series(None, index=runs.index, dtype=object)
    return runs.get(f"params.{name}", empty).astype(object).where(lambda s: s.notna(), None)


def _short_class(target: object) -> str | None:
    """``genreclf.data.sources.TableSource`` -> ``TableSource``."""
    return target.rsplit(".", 1)[-1] if isinstance(target, str) and target else None


def _source_target(choice: object) -> object:
    """The class a ``data=`` choice names (runs log the choice, not its ``_target_``)."""
    from genreclf.core.registry import RegistryError
    from genreclf.data.sources import DATA_SOURCES

    if not isinstance(choice, str):
        return choice
    try:
        return DATA_SOURCES.target_of(choice)
    except RegistryError:
        return choice


def is_synthetic(runs: pd.DataFrame) -> pd.Series:
    """Whether each run trained on the built-in synthetic data (tag ``genreclf.synthetic_data``)."""
    tag = runs.get(f"tags.{names.SYNTHETIC_TAG}", pd.Series(None, index=runs.index, dtype=object))
    return tag.astype(str).str.lower() == "true"


def dataset_keys(runs: pd.DataFrame) -> pd.Series:
    """One key per run naming its data set: the source's class and its path or root.

    Runs that logged no ``data.*`` params get :data:`UNKNOWN_DATA`.
    """
    where = _param(runs, LOCATION_PARAMS[0])
    for name in LOCATION_PARAMS[1:]:
        where = where.fillna(_param(runs, name))
    keys = []
    kinds = _param(runs, "data._target_").fillna(_param(runs, "data").map(_source_target))
    for target, place in zip(kinds, where, strict=True):
        parts = [p for p in (_short_class(target), place) if p]
        keys.append(" ".join(parts) if parts else UNKNOWN_DATA)
    return pd.Series(keys, index=runs.index, dtype=object)


def dataset_order(runs: pd.DataFrame) -> list[str]:
    """The data sets of ``runs`` (column ``dataset``): real data first, then most runs."""
    synthetic = is_synthetic(runs).groupby(runs["dataset"]).all()
    counts = runs["dataset"].value_counts()
    return sorted(counts.index, key=lambda key: (bool(synthetic[key]), -counts[key], key))


def _values(series: pd.Series) -> str:
    """The distinct values of ``series``, joined; ``-`` if none."""
    seen = [str(v) for v in pd.unique(series.dropna())]
    return ", ".join(seen) if seen else "-"


def _features(runs: pd.DataFrame) -> str:
    """Feature set classes with their model, layer and pooling (where set)."""
    sets = []
    for _, row in runs.iterrows():
        tagged = row.get(f"tags.{names.FEATURES_TAG}")
        if isinstance(tagged, str) and tagged.startswith("fusion"):
            sets.append(tagged)  # the parts, not the class
            continue
        target = row.get("params.features._target_")
        name = _short_class(target if pd.notna(target) else row.get("params.features")) or "-"
        details = [
            f"{key}={row.get(f'params.features.{key}')}"
            for key in FEATURE_DETAILS
            if pd.notna(row.get(f"params.features.{key}"))
        ]
        sets.append(" ".join([name, *details]))
    return ", ".join(dict.fromkeys(sets)) or "-"


def _protocol(runs: pd.DataFrame) -> str:
    """The split's class and its params (values seen across the runs, comma-joined)."""
    split = _values(_param(runs, "split._target_").fillna(_param(runs, "split")).map(_short_class))
    keys = sorted(
        c.removeprefix("params.split.")
        for c in runs.columns
        if c.startswith("params.split.") and c != "params.split._target_"
    )
    details = [f"{key}={_values(_param(runs, f'split.{key}'))}" for key in keys]
    return " ".join([split, *(d for d in details if not d.endswith("=-"))])


def _track_counts(runs: pd.DataFrame) -> str:
    """Tracks per part, where the runs logged them; else ``not logged``."""
    parts = []
    for part, metric in TRACK_COUNT_METRICS.items():
        counts = runs.get(f"metrics.{metric}")
        if counts is not None and counts.notna().any():
            parts.append(f"{part} {_values(counts.dropna().astype(int))}")
    return ", ".join(parts) if parts else "not logged"


def dataset_fields(key: str, runs: pd.DataFrame) -> list[tuple[str, str]]:
    """Provenance of one data set's runs: data set, synthetic or not, tracks, features,
    protocol."""
    synthetic = is_synthetic(runs)
    if synthetic.all():
        flag = "yes: built-in procedurally generated toy audio, not real music"
    elif synthetic.any():
        flag = f"{int(synthetic.sum())} of {len(runs)} runs"
    else:
        flag = "no"
    layers = _values(_param(runs, "features.layer"))
    return [
        ("data set", key),
        ("synthetic data", flag),
        ("tracks per part", _track_counts(runs)),
        ("feature set", _features(runs)),
        ("encoder layer", layers),
        ("protocol", _protocol(runs)),
        ("runs", str(len(runs))),
    ]


def genreclf_version() -> str:
    """The installed genreclf version, or ``unknown``."""
    try:
        return version("genreclf")
    except PackageNotFoundError:
        return "unknown"


def git_commit() -> str:
    """``git rev-parse HEAD`` of the working directory, or ``unknown``."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else "unknown"


def code_fields(experiment: str, sweep_id: str | None) -> list[tuple[str, str]]:
    """Provenance of the report itself: experiment, sweep, genreclf version, commit, date."""
    return [
        ("experiment", experiment),
        ("sweep", sweep_id or "all runs"),
        ("genreclf version", genreclf_version()),
        ("git commit", git_commit()),
        ("date", f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"),
    ]


def fields_frame(fields: list[tuple[str, str]]) -> pd.DataFrame:
    """Fields as a two-column table."""
    return pd.DataFrame(fields, columns=["item", "value"])
