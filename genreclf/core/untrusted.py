"""Checks of files read from untrusted places, made before anything they declare is allocated.

genreclf reads four kinds of files that anyone may have written: a model package
(:mod:`genreclf.inference.package`), a Hugging Face encoder folder
(:mod:`genreclf.features.hf_folder`), a ``predictions.parquet`` fetched from a store
(:mod:`genreclf.reports.paired`) and a spool file (:mod:`genreclf.tracking.spool`, its
records declared in :mod:`genreclf.tracking.spool_records`). Their readers share these
checks:

- :func:`resolve_inside`: a file that resolves inside its folder (no link out of it) and
  is a regular file;
- :func:`read_capped` and :func:`capped_size`: a regular file of at most so many bytes,
  opened without following a link, refused unread beyond the cap;
- :func:`json_depth` bounds how deeply a JSON text nests before a parser descends into
  it; :func:`json_object` parses one with :mod:`json` (no ``NaN`` nor ``Infinity``);
- :func:`safetensors_header`: the tensors' names, dtypes and shapes, from a safetensors
  file's header alone (safetensors' own parser; no tensor is read);
- :func:`parquet_footer_bytes`, :func:`parquet_read_bytes` and :func:`arrow_kind`: a
  Parquet file's footer size, before pyarrow reads it, and the bytes its columns take
  once read, from its metadata.

Nothing here unpickles, imports or runs what a file holds; the readers build classes
only by name from genreclf's registries. A check raises :class:`Refused`: one line
saying what is wrong, without the file's name, which each reader adds in its own words
and error class. Neither torch nor MLflow is imported here (tracking may not import
torch, inference may not import MLflow); safetensors and pyarrow only when used.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from genreclf.core.errors import one_line

#: Flags that open a file read-only, without following a final link, and without
#: blocking on a FIFO.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPENING = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSING = np.frombuffer(b"]}", dtype=np.uint8)


class Refused(ValueError):
    """An untrusted file is refused; the message is one line, without the file's name."""


class NotInside(Refused):
    """A file that resolves outside its folder; :attr:`target` is where it leads."""

    def __init__(self, target: Path) -> None:
        super().__init__(f"outside the folder (to {target})")
        self.target = target


class NotRegular(Refused):
    """Not a regular file (a folder, a device, a FIFO, a link)."""

    def __init__(self) -> None:
        super().__init__("not a regular file")


class TooLarge(Refused):
    """A file above its cap: :attr:`size` bytes (or at least that many), :attr:`limit` allowed."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"larger than {limit:,} bytes")
        self.size, self.limit = size, limit


# --------------------------------------------------------------------------- files
def resolve_inside(path: Path, root: Path) -> Path:
    """``path`` with every link resolved, refused unless it is a regular file inside ``root``.

    Raises
    ------
    NotInside
        It resolves outside ``root`` (a link out of it, ``..``).
    Refused
        It cannot be resolved (missing, a dangling link, a loop).
    NotRegular
        It resolves to something other than a regular file.
    """
    root = root.resolve()
    try:
        leads_to = path.resolve()  # where even a dangling link leads
        if not leads_to.is_relative_to(root):
            raise NotInside(leads_to)
        target = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # missing, a dangling link or a loop
        raise Refused(f"cannot be resolved ({one_line(exc)})") from None
    if not target.is_file():
        raise NotRegular()
    return target


def read_capped(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (a final link is not followed).

    Raises
    ------
    NotRegular
        ``path`` is a folder, a device or a FIFO.
    TooLarge
        It holds more than ``limit`` bytes (nothing of it is read).
    OSError
        It cannot be opened or read (``ELOOP`` for a link).
    """
    fd = os.open(path, _READ_FLAGS)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise NotRegular()
        if info.st_size > limit:
            raise TooLarge(info.st_size, limit)
        data = handle.read(limit + 1)
    if len(data) > limit:  # it grew since fstat
        raise TooLarge(len(data), limit)
    return data


def capped_size(path: Path, limit: int) -> int:
    """The size of ``path`` in bytes, refused above ``limit`` (for a file a library reads).

    Raises
    ------
    TooLarge
    OSError
        It cannot be read.
    """
    size = path.stat().st_size
    if size > limit:
        raise TooLarge(size, limit)
    return size


# ---------------------------------------------------------------------------- JSON
def json_depth(raw: bytes) -> int:
    """How deeply the brackets of a JSON text nest (brackets inside strings left out).

    Cheap and recursion-free, so that a hostile text is measured before any parser
    descends into it.
    """
    codes = np.frombuffer(_JSON_STRING.sub(b"", raw), dtype=np.uint8)
    steps = np.isin(codes, _OPENING).astype(np.int64) - np.isin(codes, _CLOSING)
    return int(np.cumsum(steps).max(initial=0))


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def json_object(raw: bytes) -> dict[str, Any]:
    """``raw`` parsed by :mod:`json` as an object; ``NaN`` and ``Infinity`` refused.

    Raises
    ------
    Refused
        ``not valid JSON (why)`` or ``not a JSON object``.
    """
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise Refused(f"not valid JSON ({one_line(exc)})") from None
    if not isinstance(value, dict):
        raise Refused("not a JSON object")
    return value


# --------------------------------------------------------------------- safetensors
class TensorHeader(NamedTuple):
    """A tensor as a safetensors header declares it: its dtype (``F32``) and shape."""

    dtype: str
    shape: tuple[int, ...]


def safetensors_header(path: Path) -> dict[str, TensorHeader]:
    """Each tensor of a safetensors file, from its header alone (no tensor is read).

    Raises
    ------
    Refused
        The file is not safetensors (empty, truncated, another format); the message is
        safetensors' own reason.
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as file:
            slices = {name: file.get_slice(name) for name in file.keys()}
            return {
                name: TensorHeader(s.get_dtype(), tuple(s.get_shape()))
                for name, s in slices.items()
            }
    except (OSError, SafetensorError, ValueError) as exc:
        raise Refused(one_line(exc)) from None


# ------------------------------------------------------------------------- Parquet
def parquet_footer_bytes(path: Path) -> int:
    """The length of a Parquet file's footer, from its last 8 bytes (before pyarrow reads it).

    Raises
    ------
    Refused
        ``too short for Parquet`` or ``no Parquet footer``.
    """
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        if handle.tell() < 12:
            raise Refused("too short for Parquet")
        handle.seek(-8, 2)
        tail = handle.read(8)
    if tail[4:] != b"PAR1":
        raise Refused("no Parquet footer")
    return int.from_bytes(tail[:4], "little")


def arrow_kind(field: Any) -> str:
    """``text``, ``integer``, ``float`` or ``other``: an Arrow field's kind of values."""
    import pyarrow.types as pat

    if pat.is_string(field.type) or pat.is_large_string(field.type):
        return "text"
    if pat.is_integer(field.type):
        return "integer"
    return "float" if pat.is_floating(field.type) else "other"


def parquet_read_bytes(meta: Any, schema: Any) -> int:
    """Bytes a Parquet file's columns take once read, from its metadata and Arrow schema.

    Fixed-width columns count by their width, others by the uncompressed size of their
    pages (which a dictionary or RLE encoding cannot shrink).
    """
    fixed = [f for f in schema if arrow_kind(f) in ("integer", "float")]
    widths = {f.name: f.type.bit_width // 8 for f in fixed}
    total = sum(widths.values()) * meta.num_rows
    for group in range(meta.num_row_groups):
        row_group = meta.row_group(group)
        for column in range(row_group.num_columns):
            chunk = row_group.column(column)
            if chunk.path_in_schema not in widths:
                total += max(chunk.total_uncompressed_size, 0) + 8 * row_group.num_rows
    return total
