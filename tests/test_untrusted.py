"""The shared checks of untrusted files: each refusal is a one-line :class:`Refused`."""

from __future__ import annotations

import os

import pytest

from genreclf.core.untrusted import (
    NotInside,
    NotRegular,
    Refused,
    TooLarge,
    capped_size,
    json_depth,
    json_object,
    parquet_footer_bytes,
    read_capped,
    resolve_inside,
    safetensors_header,
)


def test_a_file_over_its_cap_is_refused_unread(tmp_path):
    path = tmp_path / "big"
    path.write_bytes(b"x" * 11)
    assert read_capped(path, 11) == b"x" * 11
    with pytest.raises(TooLarge, match="larger than 10 bytes") as caught:
        read_capped(path, 10)
    assert (caught.value.size, caught.value.limit) == (11, 10)
    with pytest.raises(TooLarge):
        capped_size(path, 10)


def test_a_fifo_or_a_link_is_not_read(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(NotRegular):  # refused at once, not waiting for a writer
        read_capped(fifo, 10)
    (tmp_path / "real").write_bytes(b"{}")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(OSError):
        read_capped(tmp_path / "link", 10)


def test_a_link_out_of_its_folder_is_refused(tmp_path):
    folder, outside = tmp_path / "folder", tmp_path / "outside"
    folder.mkdir()
    outside.write_text("x")
    (folder / "inner").write_text("x")
    (folder / "ok").symlink_to(folder / "inner")
    (folder / "out").symlink_to(outside)
    (folder / "dangling_out").symlink_to(tmp_path / "nothing")
    (folder / "sub").mkdir()
    assert resolve_inside(folder / "ok", folder) == (folder / "inner").resolve()
    for name in ("out", "dangling_out"):
        with pytest.raises(NotInside):
            resolve_inside(folder / name, folder)
    with pytest.raises(Refused, match="cannot be resolved"):
        resolve_inside(folder / "missing", folder)
    with pytest.raises(NotRegular):
        resolve_inside(folder / "sub", folder)


def test_json_is_an_object_of_finite_numbers():
    assert json_object(b'{"a": [1, 2.5]}') == {"a": [1, 2.5]}
    assert json_depth(b'{"a": [[1]], "b": "[[[[["}') == 3
    for raw, why in [(b'{"a": NaN}', "not valid JSON"), (b"[1]", "not a JSON object")]:
        with pytest.raises(Refused, match=why):
            json_object(raw)
    with pytest.raises(Refused, match="not valid JSON"):
        json_object(b"[" * 100_000)


def test_other_files_are_not_safetensors_nor_parquet(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    with pytest.raises(Refused):
        safetensors_header(path)
    with pytest.raises(Refused, match="too short for Parquet"):
        parquet_footer_bytes(path)
    path.write_bytes(b"x" * 20)
    with pytest.raises(Refused, match="no Parquet footer"):
        parquet_footer_bytes(path)


def test_a_safetensors_header_is_read_without_its_tensors(tmp_path):
    np = pytest.importorskip("numpy")
    from safetensors.numpy import save_file

    path = tmp_path / "w.safetensors"
    save_file({"w": np.zeros((2, 3), dtype=np.float32)}, str(path))
    assert safetensors_header(path) == {"w": ("F32", (2, 3))}
