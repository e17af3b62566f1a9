"""The rule for ``path`` inputs of a served model, and the server's root option."""

from __future__ import annotations

from pathlib import Path

import pytest

from genreclf.core.errors import ConfigError
from genreclf.serving.inputs import (
    CANNOT_CLASSIFY,
    PATHS_OFF,
    ROOT_ENV,
    InputRefused,
    allowed_path,
    serve_root,
)


@pytest.fixture
def root(tmp_path) -> Path:
    folder = tmp_path / "root"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "song.wav").write_bytes(b"x")
    (folder / "inside.wav").symlink_to(folder / "sub" / "song.wav")
    (folder / "outside.wav").symlink_to(tmp_path / "secret.wav")
    (folder / "out").symlink_to(tmp_path)
    (folder / "loop").symlink_to(folder / "loop")
    (tmp_path / "secret.wav").write_bytes(b"s")
    return folder.resolve()


def _refused(path: str, root: Path | None) -> str:
    with pytest.raises(InputRefused) as info:
        allowed_path(path, root)
    return str(info.value)


def test_no_root_allows_no_path(root):
    assert _refused(str(root / "sub" / "song.wav"), None) == PATHS_OFF


@pytest.mark.parametrize("path", ["sub/song.wav", "inside.wav", "sub/../sub/song.wav"])
def test_a_path_inside_the_root_resolves_to_its_file(root, path):
    assert allowed_path(path, root) == root / "sub" / "song.wav"
    assert allowed_path(str(root / path), root) == root / "sub" / "song.wav"


def test_a_missing_file_inside_the_root_is_left_to_the_reader(root):
    assert allowed_path("sub/missing.wav", root) == root / "sub" / "missing.wav"


@pytest.mark.parametrize(
    "path",
    ["/etc/shadow", "../secret.wav", "sub/../../secret.wav", "outside.wav", "out/secret.wav",
     "out/root/../secret.wav", "loop", "a\0b"],
)  # fmt: skip
def test_a_path_resolving_outside_the_root_is_refused_like_any_other(root, path):
    assert _refused(path, root) == CANNOT_CLASSIFY


def test_a_sibling_with_the_root_as_prefix_is_outside(root):
    sibling = root.parent / (root.name + "2")
    sibling.mkdir()
    (sibling / "song.wav").write_bytes(b"x")
    assert _refused(str(sibling / "song.wav"), root) == CANNOT_CLASSIFY


def test_serve_root_reads_the_environment(root, tmp_path):
    assert serve_root({}) is None
    assert serve_root({ROOT_ENV: ""}) is None
    assert serve_root({ROOT_ENV: str(root)}) == root
    link = tmp_path / "link"
    link.symlink_to(root)
    assert serve_root({ROOT_ENV: str(link)}) == root  # resolved, so links inside compare


@pytest.mark.parametrize(
    ("value", "why"),
    [("/no/such/folder", "no such file or folder"), ("sub/song.wav", "is a file")],
)
def test_serve_root_must_be_an_existing_folder(root, monkeypatch, value, why):
    monkeypatch.chdir(root)
    with pytest.raises(ConfigError, match=f"^{ROOT_ENV}={value}: {why}"):
        serve_root({ROOT_ENV: value})
