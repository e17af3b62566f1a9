"""A paired comparison of configurations on their pooled test predictions.

Each configuration run (tag ``genreclf.sweep_role=config``) logs ``predictions.parquet``:
one row per fold, seed and test track. Two configurations of one sweep share the split
and the seeds, so their rows pair up on ``(track, fold, seed)``. On the paired rows the
report gives, for the chosen configuration against each runner-up:

- the difference of their accuracies with a 95% paired percentile bootstrap interval
  (:func:`paired_interval`, with the resamples, seed and confidence of the configuration's
  own interval, :mod:`genreclf.protocol`);
- McNemar's exact test (``scipy.stats.binomtest`` on the rows that exactly one of the two
  gets right): the p-value of "they are equally accurate".

The bootstrap treats every row as independent, although a track recurs once per seed;
with several seeds the interval is somewhat too narrow (see README, "A configuration
across folds and seeds").

A ``predictions.parquet`` is read from a store, so it is checked from its metadata before
any of it is read (:func:`check_predictions_file`, with the Parquet checks of
:mod:`genreclf.core.untrusted`): its footer, rows, columns, column types and the bytes it
would take in memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genreclf.core.errors import ConfigError, GenreclfError
from genreclf.core.untrusted import Refused, arrow_kind, parquet_footer_bytes, parquet_read_bytes
from genreclf.protocol import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE
from genreclf.tracking import names
from genreclf.tracking.store import Store

#: Rows and columns a ``predictions.parquet`` may declare before it is read
#: (a million rows: a hundred thousand tracks, ten seeds).
MAX_ROWS, MAX_COLUMNS = 1_000_000, 1024
#: Bytes its columns may take once read, and bytes of its footer (the metadata).
MAX_BYTES, MAX_FOOTER_BYTES = 512 * 2**20, 16 * 2**20
#: Keys that pair two configurations' predictions.
KEYS = ["track", "fold", "seed"]


def check_predictions_file(path: Path) -> list[str]:
    """Check a ``predictions.parquet`` from its metadata alone; return its genres.

    Refused, naming the file: a footer over :data:`MAX_FOOTER_BYTES`, more than
    :data:`MAX_ROWS` rows or :data:`MAX_COLUMNS` columns, columns that would take more
    than :data:`MAX_BYTES` once read, a missing key or ``true_genre`` column, keys that are
    not integers (``fold``, ``seed``) or text (``track``, ``true_genre``), and probability
    columns that are not floating-point numbers.

    Raises
    ------
    ConfigError
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        footer = parquet_footer_bytes(path)
    except Refused as exc:
        raise ConfigError(f"{path}: not a predictions table ({exc})") from None
    if footer > MAX_FOOTER_BYTES:
        raise ConfigError(f"{path}: a {footer}-byte footer, above the limit of {MAX_FOOTER_BYTES}")
    try:
        parquet = pq.ParquetFile(path)
        meta, schema = parquet.metadata, parquet.schema_arrow
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise ConfigError(f"{path}: not a predictions table ({exc})") from exc
    if meta.num_rows > MAX_ROWS or meta.num_columns > MAX_COLUMNS:
        raise ConfigError(
            f"{path}: {meta.num_rows} rows x {meta.num_columns} columns, above the "
            f"limit of {MAX_ROWS} x {MAX_COLUMNS}"
        )
    size = parquet_read_bytes(meta, schema)
    if size > MAX_BYTES:
        raise ConfigError(f"{path}: {size} bytes once read, above the limit of {MAX_BYTES}")
    kinds = {field.name: arrow_kind(field) for field in schema}
    missing = [c for c in [*KEYS, "true_genre"] if c not in kinds]
    genres = [c for c in kinds if c not in [*KEYS, "true_genre"]]
    if missing or not genres:
        raise ConfigError(f"{path}: no {', '.join(missing) or 'genre'} column")
    expected = {"track": "text", "fold": "integer", "seed": "integer", "true_genre": "text"}
    expected |= dict.fromkeys(genres, "float")
    wrong = [c for c, kind in expected.items() if kinds[c] != kind]
    if wrong:
        column = wrong[0]
        raise ConfigError(
            f"{path}: column {column!r} holds {schema.field(column).type}, not {expected[column]}"
        )
    return genres


def read_predictions(path: Path) -> pd.DataFrame:
    """A configuration's ``predictions.parquet`` as labels: ``track``, ``fold``, ``seed``,
    ``true`` and ``predicted`` (indices into the genres, which ``frame.attrs["genres"]``
    lists in column order) and ``correct`` (bool).

    The file is checked first (:func:`check_predictions_file`); a true genre without a
    probability column is refused too.

    Raises
    ------
    ConfigError
        Naming the file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    genres = check_predictions_file(path)
    try:
        table = pq.read_table(path, columns=[*KEYS, "true_genre", *genres])
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise ConfigError(f"{path}: not a predictions table ({exc})") from exc
    true_genre = table.column("true_genre").to_pandas().astype(str)
    unknown = sorted(set(true_genre) - set(genres))
    if unknown:
        raise ConfigError(f"{path}: true genre {unknown[0]!r} has no probability column")
    probs = np.column_stack([table.column(g).to_numpy(zero_copy_only=False) for g in genres])
    labels = table.select(KEYS).to_pandas()
    labels["true"] = true_genre.map({g: i for i, g in enumerate(genres)}).to_numpy()
    labels["predicted"] = np.nan_to_num(probs, nan=-np.inf).argmax(axis=1)
    labels["correct"] = labels["true"] == labels["predicted"]
    labels.attrs["genres"] = [str(g) for g in genres]
    return labels


def paired_interval(only_a: int, only_b: int, paired: int) -> tuple[float, float]:
    """Percentile bootstrap interval of the paired accuracy difference, in O(1) memory.

    The difference of two accuracies on resampled pairs depends only on how many of the
    resampled pairs only ``a`` gets right and how many only ``b`` does. Drawing those counts
    from a multinomial (one draw per resample) is resampling the ``paired`` rows with
    replacement, without an array of ``resamples x rows`` indices.

    Parameters
    ----------
    only_a, only_b : int
        Pairs that only the first, or only the second, configuration gets right.
    paired : int
        Pairs in all (at least 1).

    Returns
    -------
    (low, high) : tuple of float
        At :data:`genreclf.protocol.CONFIDENCE`, from
        :data:`~genreclf.protocol.BOOTSTRAP_RESAMPLES` resamples drawn with
        :data:`~genreclf.protocol.BOOTSTRAP_SEED`.
    """
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    shares = [only_a / paired, only_b / paired, max(0.0, 1.0 - (only_a + only_b) / paired)]
    counts = rng.multinomial(paired, shares, size=BOOTSTRAP_RESAMPLES)
    differences = (counts[:, 0] - counts[:, 1]) / paired
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(differences, [tail, 100 - tail])
    return float(low), float(high)


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
        (chosen minus other), ``diff_ci_low``, ``diff_ci_high`` (:func:`paired_interval`),
        ``only_chosen`` and ``only_other`` (rows only one of the two gets right) and
        ``mcnemar_p``; NaN figures when fewer than two rows pair up.
    """
    from scipy.stats import binomtest

    both = chosen[[*KEYS, "correct"]].merge(
        other[[*KEYS, "correct"]], on=KEYS, suffixes=("_a", "_b")
    )
    a = both["correct_a"].to_numpy(dtype=bool)
    b = both["correct_b"].to_numpy(dtype=bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
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
        low, high = paired_interval(only_a, only_b, len(both))
        discordant = only_a + only_b
        p_value = binomtest(only_a, discordant).pvalue if discordant else 1.0
    return result | {"diff_ci_low": low, "diff_ci_high": high, "mcnemar_p": float(p_value)}


def paired_table(
    store: Store,
    ranked: pd.DataFrame,
    folder: Path,
    top_k: int = 5,
    notes: list[str] | None = None,
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
    notes : list of str, optional
        Gets one line for each run whose predictions are refused
        (:func:`check_predictions_file`); that run is left out, and the others compared.

    Returns
    -------
    pandas.DataFrame or None
        One row per runner-up: ``run_id``, ``run_name``, ``features`` (where runs are tagged
        with their feature set), then :func:`compare`'s figures.
        ``None`` when the first run is no configuration run, its predictions are missing
        or refused, or no other configuration has predictions.
    """
    role = ranked.get(f"tags.{names.ROLE_TAG}", pd.Series(None, index=ranked.index))
    configs = ranked[role == names.CONFIG_ROLE]  # only they log predictions: no search
    if configs.empty or configs["run_id"].iloc[0] != ranked["run_id"].iloc[0]:
        return None  # the chosen run is no configuration run
    found: list[tuple[pd.Series, pd.DataFrame]] = []
    for index, (_, run) in enumerate(configs.iterrows()):
        if len(found) == top_k:
            break
        labels = _run_predictions(store, run["run_id"], folder, notes)
        if labels is None and index == 0:
            return None  # nothing to compare the chosen configuration's against
        if labels is not None:
            found.append((run, labels))
    if len(found) < 2:
        return None
    (_, chosen), rows = found[0], []
    for run, other in found[1:]:
        named = {"run_id": run["run_id"], "run_name": run["run_name"]}
        if isinstance(run.get("features"), str):  # tagged with its feature set
            named["features"] = run["features"]
        rows.append(named | compare(chosen, other))
    return pd.DataFrame(rows)


def _run_predictions(
    store: Store, run_id: str, folder: Path, notes: list[str] | None
) -> pd.DataFrame | None:
    """A run's :func:`read_predictions`; ``None`` (and a note) if they are refused."""
    dst = folder / f"predictions_{run_id}.parquet"
    try:
        if store.fetch_artifact(run_id, names.PREDICTIONS_ARTIFACT, dst) is None:
            return None
        return read_predictions(dst)
    except GenreclfError as exc:
        if notes is not None:
            notes.append(
                f"Paired comparison without run {run_id[:8]}: its "
                f"{names.PREDICTIONS_ARTIFACT} is refused ({exc})"
            )
        return None
