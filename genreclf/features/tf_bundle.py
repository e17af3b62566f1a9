"""Read a TensorFlow checkpoint (a "tensor bundle") with plain Python and numpy.

A bundle is ``<prefix>.index``, a LevelDB-style sorted table mapping each tensor name
to a ``BundleEntryProto`` (dtype, shape, shard, offset, size), and
``<prefix>.data-00000-of-00001``, the raw little-endian tensor bytes. Only what
musicnn's checkpoints use is read: one data shard, uncompressed table blocks,
numeric dtypes. Nothing is executed or unpickled: the index is parsed as bytes and
each tensor is a ``numpy.frombuffer`` view of its slice of the data file.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_NO_COMPRESSION = 0
#: TensorFlow ``DataType`` enum values and their numpy dtypes (little-endian).
_DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 4: "u1", 6: "i1", 9: "<i8", 10: "?", 19: "<f2"}


class BundleError(ValueError):
    """A file is not a readable TensorFlow tensor bundle (names the file)."""


@dataclass(frozen=True)
class BundleEntry:
    """Where one tensor lies in the data file.

    Attributes
    ----------
    dtype : str
        numpy dtype string.
    shape : tuple of int
    shard : int
        Data-file shard (0: ``.data-00000-of-00001``).
    offset, size : int
        Byte range in that shard.
    """

    dtype: str
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _proto_fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """``(field number, value)`` of a protobuf message (varints as int, the rest as bytes)."""
    i = 0
    while i < len(buf):
        tag, i = _varint(buf, i)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i : i + n], i + n
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, value


def _block(data: bytes, handle: bytes) -> bytes:
    offset, i = _varint(handle, 0)
    size, _ = _varint(handle, i)
    if offset + size + 5 > len(data):
        raise ValueError("a table block lies past the end of the file")
    if data[offset + size] != _NO_COMPRESSION:
        raise ValueError("compressed table blocks are not supported")
    return data[offset : offset + size]


def _block_entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """``(key, value)`` pairs of one table block (keys are prefix-compressed)."""
    (n_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * n_restarts
    i, key = 0, b""
    while i < end:
        shared, i = _varint(block, i)
        unshared, i = _varint(block, i)
        value_len, i = _varint(block, i)
        key = key[:shared] + block[i : i + unshared]
        i += unshared
        yield key, block[i : i + value_len]
        i += value_len


def _entry(value: bytes) -> BundleEntry:
    fields: dict[int, list] = {}
    for number, v in _proto_fields(value):
        fields.setdefault(number, []).append(v)
    dtype = fields.get(1, [0])[0]
    if dtype not in _DTYPES:
        raise ValueError(f"unsupported tensor dtype {dtype}")
    shape: list[int] = []
    for number, dim in _proto_fields(fields.get(2, [b""])[0]):
        if number == 2:  # TensorShapeProto.dim
            shape.append(int(dict(_proto_fields(dim)).get(1, 0)))
    if 7 in fields:
        raise ValueError("sliced tensors are not supported")
    return BundleEntry(
        dtype=_DTYPES[dtype],
        shape=tuple(shape),
        shard=int(fields.get(3, [0])[0]),
        offset=int(fields.get(4, [0])[0]),
        size=int(fields.get(5, [0])[0]),
    )


def read_index(prefix: str | Path) -> dict[str, BundleEntry]:
    """The tensors listed in ``<prefix>.index``.

    Parameters
    ----------
    prefix : str or Path
        Checkpoint prefix (musicnn's is its model folder plus ``/``: files ``.index``
        and ``.data-00000-of-00001`` inside it).

    Returns
    -------
    dict of str to BundleEntry
        By tensor name, in the table's (sorted) order; the header entry is left out.

    Raises
    ------
    BundleError
        Naming the index file, if it is missing or not a tensor-bundle table.
    """
    path = Path(f"{prefix}.index")
    try:
        data = path.read_bytes()
        if len(data) < _FOOTER_SIZE or struct.unpack("<Q", data[-8:])[0] != _TABLE_MAGIC:
            raise ValueError("no table footer (not a TensorFlow checkpoint index)")
        footer = data[-_FOOTER_SIZE:]
        _, i = _varint(footer, 0)  # metaindex handle: unused
        _, i = _varint(footer, i)
        index_block = _block(data, footer[i:])
        entries: dict[str, BundleEntry] = {}
        for _, handle in _block_entries(index_block):
            for key, value in _block_entries(_block(data, handle)):
                if key:  # the empty key holds the BundleHeaderProto
                    entries[key.decode()] = _entry(value)
        return entries
    except (OSError, ValueError, IndexError, struct.error, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: {exc}") from exc


def read_bundle(prefix: str | Path, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Read tensors of a single-shard checkpoint.

    Parameters
    ----------
    prefix : str or Path
        Checkpoint prefix (see :func:`read_index`).
    names : list of str, optional
        Tensors to read (default: all).

    Returns
    -------
    dict of str to numpy.ndarray
        Each tensor with its checkpoint shape (TensorFlow layout: conv kernels are
        ``(height, width, in, out)``, dense kernels ``(in, out)``), read-only.

    Raises
    ------
    BundleError
        Naming the file, if a tensor is missing, lies outside the data file or its
        byte size disagrees with its shape.
    """
    index = read_index(prefix)
    data_path = Path(f"{prefix}.data-00000-of-00001")
    try:
        data = data_path.read_bytes()
    except OSError as exc:
        raise BundleError(f"{data_path}: {exc}") from exc
    out: dict[str, np.ndarray] = {}
    for name in index if names is None else names:
        entry = index.get(name)
        if entry is None:
            raise BundleError(f"{prefix}.index: no tensor {name!r}")
        dtype = np.dtype(entry.dtype)
        count = int(np.prod(entry.shape, dtype=np.int64))
        if entry.shard != 0 or entry.size != count * dtype.itemsize:
            raise BundleError(f"{data_path}: tensor {name!r} has a bad shard or size")
        if entry.offset + entry.size > len(data):
            raise BundleError(f"{data_path}: tensor {name!r} lies past the end of the file")
        flat = np.frombuffer(data, dtype=dtype, count=count, offset=entry.offset)
        out[name] = flat.reshape(entry.shape)
    return out
