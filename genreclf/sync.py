"""``python -m genreclf.sync <folder>``: upload the runs kept while the tracking store was away.

A job whose tracking store stopped answering mid-run keeps training and leaves its run in
``<job folder>/.genreclf_spool/`` (see :mod:`genreclf.tracking.spool`). This command finds
every spool file under ``<folder>`` (a sweep folder, ``multirun/``, ``outputs/``) and
uploads it, so that the runs look as if the store had never gone away. The next run of
the same sweep does the same on its own.

The store is the one on the command line: ``--tracking-uri`` (every spool goes there),
else the default store (``MLFLOW_TRACKING_URI``, else ``sqlite:///mlruns/mlflow.db``),
which takes the spools written for it; a spool's header never chooses the store. A spool
writes only into the run it created (its token, see :mod:`genreclf.tracking.spool`).
Every spool file is checked before the first write.

Errors are one line (``error: ...``), with genreclf's exit statuses: 2 for a store that
does not answer or a folder that does not exist, 1 for a file that is not a spool genreclf
wrote (too large, a bad record, a link, a run that is not its own); then nothing is
uploaded.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from genreclf.core.console import quiet_console
from genreclf.core.errors import DataError, GenreclfError, MissingPathError
from genreclf.tracking.run import open_store
from genreclf.tracking.spool import first_words, unreachable, upload_folder
from genreclf.tracking.spool_records import MAX_SPOOL_BYTES
from genreclf.tracking.store import StoreError, check_store
from genreclf.tracking.uri import default_uri, mask_uri


def sync(
    folder: Path, uri: str | None = None, max_bytes: int = MAX_SPOOL_BYTES
) -> dict[str, list[Path]]:
    """Upload the spool files under ``folder`` to one store; return them by outcome.

    Outcomes: ``uploaded``, ``duplicate`` (a run opened during the outage whose config
    FINISHED meanwhile: dropped), ``busy`` (its job still runs, or another process uploads
    it), ``gone`` (uploaded meanwhile) and ``elsewhere`` (written for another store than
    the default one; only without ``uri``).

    Raises
    ------
    MissingPathError
        ``folder`` does not exist.
    StoreError
        A store does not answer (the spool files stay for the next try).
    DataError
        A file in a spool folder is not a spool file genreclf wrote (nothing uploaded).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingPathError(f"{folder}: no such folder")
    try:
        return upload_folder(
            folder, open_store, uri, check=check_store, only=default_uri(), max_bytes=max_bytes
        )
    except ValueError as exc:  # a file that is not a spool (GenreclfErrors are ValueErrors)
        if isinstance(exc, GenreclfError):
            raise
        raise DataError(first_words(exc)) from exc
    except Exception as exc:
        if not unreachable(exc):
            raise
        raise StoreError(
            f"the tracking store stopped answering ({mask_uri(first_words(exc))}); the runs not "
            "uploaded yet stay spooled: run this command again"
        ) from exc


def summary(folder: Path, outcomes: dict[str, list[Path]]) -> str:
    """One line: what was uploaded, dropped and left."""
    if not outcomes:
        return f"{folder}: no spooled runs to upload"
    words = {
        "uploaded": "uploaded",
        "duplicate": "dropped (their configs FINISHED meanwhile)",
        "busy": "left (their jobs still run)",
        "gone": "uploaded by another process",
        "elsewhere": "left (written for another store: give its --tracking-uri)",
    }
    parts = [f"{len(paths)} {words.get(key, key)}" for key, paths in outcomes.items()]
    return f"{folder}: spooled runs: " + ", ".join(parts)


def main(argv: Sequence[str] | None = None) -> None:
    """The command line: ``python -m genreclf.sync <folder> [--tracking-uri URI]``."""
    args = _parser().parse_args(argv)
    quiet_console()
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # one line
    try:
        outcomes = sync(args.folder, args.tracking_uri, int(args.max_spool_mb * 2**20))
    except GenreclfError as exc:
        print(f"error: {mask_uri(exc)}", file=sys.stderr)
        sys.exit(exc.exit_status)
    print(summary(args.folder, outcomes), flush=True)


def _positive(text: str) -> float:
    value = float(text)
    if not 0 < value < 2**20:
        raise argparse.ArgumentTypeError(f"{text}: not a size in MB in (0, 1048576)")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m genreclf.sync",
        description="Upload the runs that jobs kept while the tracking store was away.",
    )
    parser.add_argument("folder", type=Path, help="a sweep or job folder (searched at any depth)")
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="upload every spool to this store (default: the default store, "
        "MLFLOW_TRACKING_URI or sqlite:///mlruns/mlflow.db, which takes the spools written "
        "for it)",
    )
    parser.add_argument(
        "--max-spool-mb",
        type=_positive,
        default=MAX_SPOOL_BYTES / 2**20,
        help="largest spool file read, in MB (default %(default)g)",
    )
    return parser


if __name__ == "__main__":
    main()
