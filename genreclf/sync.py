"""``python -m genreclf.sync <folder>``: upload the runs kept while the tracking store was away.

A job whose tracking store stopped answering mid-run keeps training and leaves its run in
``<job folder>/.genreclf_spool/`` (see :mod:`genreclf.tracking.spool`). This command finds
every spool file under ``<folder>`` (a sweep folder, ``multirun/``, ``outputs/``) and
uploads each to the store it names (or to ``--tracking-uri``), so that the runs look as
if the store had never gone away. The next run of the same sweep does the same on its own.

Errors are one line (``error: ...``), with genreclf's exit statuses: 2 for a store that
does not answer or a folder that does not exist, 1 for a file that is not a spool.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from genreclf.console import quiet_console
from genreclf.errors import DataError, GenreclfError, MissingPathError
from genreclf.tracking.run import open_store
from genreclf.tracking.spool import first_words, unreachable, upload_folder
from genreclf.tracking.store import StoreError, check_store


def sync(folder: Path, uri: str | None = None) -> dict[str, list[Path]]:
    """Upload every spool file under ``folder``; return the spool files by outcome.

    Outcomes: ``uploaded``, ``duplicate`` (a run opened during the outage whose config
    FINISHED meanwhile: dropped), ``busy`` (its job still runs, or another process uploads
    it) and ``gone`` (uploaded meanwhile).

    Raises
    ------
    MissingPathError
        ``folder`` does not exist.
    StoreError
        A store does not answer (the spool files stay for the next try).
    DataError
        A file in a spool folder is not a spool file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingPathError(f"{folder}: no such folder")
    try:
        return upload_folder(folder, open_store, uri, check=check_store)
    except ValueError as exc:  # a file that is not a spool (GenreclfErrors are ValueErrors)
        if isinstance(exc, GenreclfError):
            raise
        raise DataError(first_words(exc)) from exc
    except Exception as exc:
        if not unreachable(exc):
            raise
        raise StoreError(
            f"the tracking store stopped answering ({first_words(exc)}); the runs not "
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
    }
    parts = [f"{len(paths)} {words.get(key, key)}" for key, paths in outcomes.items()]
    return f"{folder}: spooled runs: " + ", ".join(parts)


def main(argv: Sequence[str] | None = None) -> None:
    """The command line: ``python -m genreclf.sync <folder> [--tracking-uri URI]``."""
    parser = argparse.ArgumentParser(
        prog="python -m genreclf.sync",
        description="Upload the runs that jobs kept while the tracking store was away.",
    )
    parser.add_argument("folder", type=Path, help="a sweep or job folder (searched at any depth)")
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="upload to this store instead of the one each run was opened on",
    )
    args = parser.parse_args(argv)
    quiet_console()
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # one line
    try:
        outcomes = sync(args.folder, args.tracking_uri)
    except GenreclfError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_status)
    print(summary(args.folder, outcomes), flush=True)


if __name__ == "__main__":
    main()
