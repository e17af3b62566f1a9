"""File names as the operating system gives them, and the one text form genreclf writes.

A POSIX file name is bytes. Python gives a name that is not UTF-8 as a ``str`` holding
lone surrogates (PEP 383: byte ``0xff`` becomes ``"\\udcff"``, see :func:`os.fsdecode`).
Such a ``str`` opens the file, but it cannot be encoded as UTF-8: printing it to stdout,
a log file, a CSV or Parquet table (pyarrow), JSON text or an MLflow param fails.

genreclf keeps the name the operating system gave to open the file, and writes
:func:`printable_name` wherever a name leaves the process (track ids, skip reasons,
manifests, exports, predictions, messages): the name's bytes decoded as UTF-8, each
byte that is not UTF-8 written as the four characters ``\\xNN``
(``os.fsencode(name).decode("utf-8", "backslashreplace")``). A UTF-8 name is written as
it is. The form is readable and names the same bytes: replacing each ``\\xNN`` by byte ``NN``
gives the name back, unless a UTF-8 name itself holds the text ``\\xNN``.

Imports nothing from genreclf.
"""

from __future__ import annotations

import os


def is_printable(name: str | os.PathLike[str]) -> bool:
    """Whether ``name`` encodes as UTF-8 as it is (it holds no surrogate-escaped byte)."""
    try:
        os.fspath(name).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable_name(name: str | os.PathLike[str]) -> str:
    """``name`` as UTF-8 text: each byte that is not UTF-8 written as ``\\xNN``.

    Parameters
    ----------
    name : str or os.PathLike
        A file name or path as the operating system gave it (possibly surrogate-escaped),
        or any text holding one.

    Returns
    -------
    str
        ``name`` itself if it is UTF-8; else
        ``os.fsencode(name).decode("utf-8", "backslashreplace")``.

    Examples
    --------
    >>> printable_name(os.fsdecode(b"jazz/bad\\xff\\xfe.wav"))
    'jazz/bad\\\\xff\\\\xfe.wav'
    """
    text = os.fspath(name)
    if is_printable(text):
        return text
    try:
        raw = os.fsencode(text)
    except UnicodeEncodeError:  # a surrogate that stands for no byte: no file name holds one
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")
