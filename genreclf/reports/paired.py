"""A paired comparison of configurations on their pooled test predictions.

Each configuration run (tag ``genreclf.sweep_role=config``) logs ``predictions.parquet``:
one row per fold, seed and test track. Two configurations of one sweep share the split
and the seeds, so their rows pair up on ``(track, fold, seed)``. On the paired rows the
report gives, for the chosen configuration against each runner-up:

- the difference of their accuracies with a 95% paired bootstrap interval
  (``scipy.stats.bootstrap`` with ``paired=True``, with the resamples, seed and
  confidence of the configuration's own interval, :mod:`genreclf.protocol`);
- McNemar's exact test (``scipy.stats.binomtest`` on the rows that exactly one of the two
  gets right): the p-value of "they are equally accurate".

The bootstrap treats every row as independent, although a track recurs once per seed;
with several seeds the interval is somewhat too narrow (see README, "A configuration
across folds and seeds").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genreclf.errors import ConfigError
from genreclf.protocol import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE
from genreclf.tracking import names
from genreclf.tracking.store import Store

#: Rows and columns a ``predictions.parquet`` may declare before it is read.
MAX_ROWS, MAX_COLUMNS = 10_000_000, 4096
#: Keys that pair two configurations' predictions.
KEYS = ["track", "fold", "seed"]


def read_predictions(path: Path) -> pd.DataFrame:
    """A configuration's ``predictions.parquet`` as labels: ``track``, ``fold``, ``seed``,
    ``true`` and ``predicted`` (indices into the genres, which ``frame.attrs["genres"]``
    lists in column order) and ``correct`` (bool).

    Its size is read from the file's metadata first: more than :data:`MAX_ROWS` rows or
    :data:`MAX_COLUMNS` columns, or a missing key or ``true_genre`` column, is a
    :class:`~genreclf.errors.ConfigError` naming the file.
    """
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
        if meta.num_rows > MAX_ROWS or meta.num_columns > MAX_COLUMNS:
            raise ConfigError(
                f"{path}: {meta.num_rows} rows x {meta.num_columns} columns, above the "
                f"limit of {MAX_ROWS} x {MAX_COLUMNS}"
            )
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a predictions table ({exc})") from exc
    missing = [c for c in [*KEYS, "true_genre"] if c not in frame.columns]
    genres = [c for c in frame.columns if c not in [*KEYS, "true_genre"]]
    if missing or not genres:
        raise ConfigError(f"{path}: no {', '.join(missing) or 'genre'} column")
    unknown = sorted(set(frame["true_genre"].astype(str)) - set(genres))
    if unknown:
        raise ConfigError(f"{path}: true genre {unknown[0]!r} has no probability column")
    true = frame["true_genre"].astype(str).map({g: i for i, g in enumerate(genres)})
    predicted = frame[genres].to_numpy(dtype=float).argmax(axis=1)
    labels = frame[KEYS].assign(true=true.to_numpy(), predicted=predicted)
    labels["correct"] = labels["true"] == labels["predicted"]
    labels.attrs["genres"] = [str(g) for g in genres]
    return labels


def compare(chosen: pd.DataFrame, other: pd.DataFrame) -> dict[str, float]:
    """The chosen configuration against another on their paired predictions.

    Parameters
    ----------
    chosen, other : pandas.DataFrame
        :func:`read_predictions` frames.

    Returns
    -------
    dict
        ``paired`` (rows in both), ``acc_chosen``, ``acc_other``, ``difference``
        (chosen minus other), ``diff_ci_low``, ``diff_ci_high``, ``only_chosen`` and
        ``only_other`` (rows only one of the two gets right) and ``mcnemar_p``; NaN
        figures when fewer than two rows pair up.
    """
    from scipy.stats import binomtest, bootstrap

    both = chosen[[*KEYS, "correct"]].merge(
        other[[*KEYS, "correct"]], on=KEYS, suffixes=("_a", "_b")
    )
    a = both["correct_a"].to_numpy(dtype=float)
    b = both["correct_b"].to_numpy(dtype=float)
    only_a, only_b = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    result = {
        "paired": len(both),
        "acc_chosen": float(a.mean()) if len(a) else np.nan,
        "acc_other": float(b.mean()) if len(b) else np.nan,
        "only_chosen": only_a,
        "only_other": only_b,
    }
    result["difference"] = result["acc_chosen"] - result["acc_other"]
    low = high = p_value = np.nan
    if len(both) >= 2:
        if np.array_equal(a, b):  # no resample can differ: the interval is the point
            low = high = 0.0
        else:
            interval = bootstrap(
                (a, b),
                lambda x, y, axis=-1: x.mean(axis=axis) - y.mean(axis=axis),
                paired=True,
                confidence_level=CONFIDENCE,
                n_resamples=BOOTSTRAP_RESAMPLES,
                method="percentile",
                rng=np.random.default_rng(BOOTSTRAP_SEED),
            ).confidence_interval
            low, high = float(interval.low), float(interval.high)
        discordant = only_a + only_b
        p_value = binomtest(only_a, discordant).pvalue if discordant else 1.0
    return result | {"diff_ci_low": low, "diff_ci_high": high, "mcnemar_p": float(p_value)}


def paired_table(
    store: Store, ranked: pd.DataFrame, folder: Path, top_k: int = 5
) -> pd.DataFrame | None:
    """The chosen configuration (first row of ``ranked``) against the next ones.

    Parameters
    ----------
    store : Store
        Where the runs' ``predictions.parquet`` are read from.
    ranked : pandas.DataFrame
        Runs, best on validation first (``run_id``, ``run_name``, ``tags.*``); only
        configuration runs (tag ``genreclf.sweep_role=config``) with predictions count.
    folder : pathlib.Path
        Where the downloaded predictions are kept (``predictions_<run id>.parquet``).
    top_k : int
        Configurations compared, the chosen one included.

    Returns
    -------
    pandas.DataFrame or None
        One row per runner-up: ``run_id``, ``run_name``, then :func:`compare`'s figures.
        ``None`` when the first run is no configuration run, or fewer than two
        configurations have predictions.
    """
    role = ranked.get(f"tags.{names.ROLE_TAG}", pd.Series(None, index=ranked.index))
    configs = ranked[role == names.CONFIG_ROLE]  # only they log predictions: no search
    if configs.empty or configs["run_id"].iloc[0] != ranked["run_id"].iloc[0]:
        return None  # the chosen run is no configuration run
    found: list[tuple[pd.Series, pd.DataFrame]] = []
    for _, run in configs.iterrows():
        if len(found) == top_k:
            break
        dst = folder / f"predictions_{run['run_id']}.parquet"
        if store.fetch_artifact(run["run_id"], names.PREDICTIONS_ARTIFACT, dst) is not None:
            found.append((run, read_predictions(dst)))
    if len(found) < 2:
        return None
    (_, chosen), rows = found[0], []
    for run, other in found[1:]:
        rows.append({"run_id": run["run_id"], "run_name": run["run_name"]} | compare(chosen, other))
    return pd.DataFrame(rows)
