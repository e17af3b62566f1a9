"""File names that are not UTF-8: read, tracked, exported and predicted, as text that names them.

POSIX gives such names as bytes; Python as surrogate-escaped ``str`` (PEP 383). genreclf
opens the file by that name and writes it out as :func:`genreclf.core.filenames.printable_name`
(``bad\\xff\\xfe.wav``). The slow tests run the real commands on real GTZAN excerpts
copied under such names.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genreclf.audio import AudioError, load_audio
from genreclf.core.filenames import is_printable, printable_name
from genreclf.data.tracks import list_labelled_audio
from tests.conftest import require_shared
from tests.e2e import run_command

#: A file name whose bytes are not UTF-8, as Python gives it, and as genreclf writes it.
BAD_NAME = os.fsdecode(b"bad\xff\xfe name.wav")
BAD_SHOWN = "bad\\xff\\xfe name.wav"
#: A label folder in Latin-1 ("jaézz"), and as genreclf writes it.
BAD_LABEL = os.fsdecode(b"ja\xe9zz")
LABEL_SHOWN = "ja\\xe9zz"
#: The bytes of a ``.wav`` that holds no audio (neither libsndfile nor audioread reads it).
JUNK = bytes(range(256)) * 8


def _excerpts(genre: str) -> list[Path]:
    root = require_shared("gtzan_excerpts", "genres_original", genre)
    return sorted(root.glob("*.wav"))


# ------------------------------------------------------------------------- the text form


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("blues.00000.wav", "blues.00000.wav"),
        ("jazé zz/ü.wav", "jazé zz/ü.wav"),  # UTF-8 names stay as they are
        ("a\\xff.wav", "a\\xff.wav"),
        (BAD_NAME, BAD_SHOWN),
        (os.fsdecode(b"/tmp/\xe9t\xe9/" + "é".encode() + b"\x80.au"), "/tmp/\\xe9t\\xe9/é\\x80.au"),
        (Path(os.fsdecode(b"dir\xff/x.wav")), "dir\\xff/x.wav"),
        ("lone \ud800 surrogate", "lone \\ud800 surrogate"),  # stands for no byte: no crash
    ],
)
def test_printable_name_is_utf8_text_naming_the_bytes(name, shown):
    text = printable_name(name)
    assert text == shown
    text.encode("utf-8")  # writable anywhere: CSV, Parquet, JSON, logs, MLflow
    assert is_printable(text)
    assert is_printable(name) == (text == os.fspath(name))


def test_printable_name_gives_the_bytes_back():
    raw = b"x/\xff\xfe caf" + "é".encode() + b"\x80.wav"
    text = printable_name(os.fsdecode(raw))
    back = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m[1], 16)]), text.encode())
    assert back == raw


# ----------------------------------------------------------------- reading and listing


def test_audio_under_a_name_that_is_not_utf8_reads_like_the_original(tmp_path):
    original = _excerpts("jazz")[0]
    copy = tmp_path / BAD_NAME
    shutil.copy(original, copy)
    for sr in (None, 16000):
        y, rate = load_audio(copy, sr=sr)
        ref, ref_rate = load_audio(original, sr=sr)
        assert rate == ref_rate
        np.testing.assert_array_equal(y, ref)


def test_a_bad_file_under_such_a_name_is_named_in_one_printable_line(tmp_path):
    path = tmp_path / BAD_NAME
    path.write_bytes(JUNK)
    with pytest.raises(AudioError) as info:
        load_audio(path)
    message = str(info.value)
    assert message.startswith(f"{printable_name(tmp_path)}/{BAD_SHOWN}: unreadable audio")
    assert "\n" not in message and "surrogates" not in message
    message.encode("utf-8")


def test_tracks_keep_the_real_path_and_name_it_as_text(tmp_path):
    (tmp_path / BAD_LABEL).mkdir()
    (tmp_path / "blues").mkdir()
    shutil.copy(_excerpts("jazz")[0], tmp_path / BAD_LABEL / BAD_NAME)
    shutil.copy(_excerpts("blues")[0], tmp_path / "blues" / "blues.00001.wav")
    tracks = list_labelled_audio(tmp_path)
    assert [(t.label, t.track_id) for t in tracks] == [
        ("blues", "blues/blues.00001.wav"),
        (LABEL_SHOWN, f"{LABEL_SHOWN}/{BAD_SHOWN}"),
    ]
    assert tracks[1].path == tmp_path / BAD_LABEL / BAD_NAME
    assert tracks[1].path.is_file()


# ------------------------------------------------------------------- the real commands

GENRES = ("blues", "classical", "jazz")
PER_GENRE = 8


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Real excerpts of 3 genres under a root, a label and a file per genre not in UTF-8.

    ``<root \\xff>/{blues,classical,ja\\xe9zz}/``: 8 excerpts each, the first one of each
    genre named ``bad\\xff\\xfe name.wav``; plus a corrupt WAV under such a name in blues.
    """
    root = tmp_path_factory.mktemp("names") / os.fsdecode(b"audio\xff")
    for genre in GENRES:
        folder = root / (BAD_LABEL if genre == "jazz" else genre)
        folder.mkdir(parents=True)
        for i, src in enumerate(_excerpts(genre)[:PER_GENRE]):
            shutil.copy(src, folder / (BAD_NAME if i == 0 else src.name))
    (root / "blues" / os.fsdecode(b"corrupt\xfe.wav")).write_bytes(JUNK)
    return root


def _run(tmp_path_factory, module, *overrides):
    cwd = tmp_path_factory.mktemp(module.rsplit(".", 1)[-1])
    cache = tmp_path_factory.getbasetemp() / "names-cache"
    result = run_command(module, *overrides, cwd=cwd, cache=cache)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "Logging error" not in result.stderr, result.stderr[-3000:]
    return cwd, cache, result


@pytest.mark.slow
def test_extract_exports_every_name_and_skips_the_bad_file_in_one_line(tmp_path_factory, tree):
    cwd, cache, result = _run(
        tmp_path_factory,
        "genreclf.extract",
        "data=folder",
        f"data.root='{tree}'",  # Hydra reads a name with such bytes only quoted
        "features=summary",
        "extraction.n_jobs=2",
        "export=out.csv",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    frame = pd.read_csv(cwd / "out.csv", encoding="utf-8")  # strict: the file is UTF-8 text
    ids = set(frame["filename"])
    assert len(frame) == len(ids) == PER_GENRE * len(GENRES)
    assert {f"blues/{BAD_SHOWN}", f"classical/{BAD_SHOWN}", f"{LABEL_SHOWN}/{BAD_SHOWN}"} <= ids
    assert set(frame["label"]) == {"blues", "classical", LABEL_SHOWN}
    assert np.isfinite(frame.drop(columns=["label", "filename"]).to_numpy()).all()

    root = printable_name(tree)
    skipped = pd.read_csv(cache / "manifests" / "summary-skipped.csv", encoding="utf-8")
    assert skipped[["track_id", "path"]].values.tolist() == [
        ["blues/corrupt\\xfe.wav", f"{root}/blues/corrupt\\xfe.wav"]
    ]
    assert skipped["reason"].iloc[0].startswith("unreadable audio")
    log = (result.stdout + result.stderr).splitlines()  # Hydra logs to stdout
    warned = [line for line in log if "corrupt" in line]
    assert len(warned) == 1 and f"skipped {root}/blues/corrupt\\xfe.wav: unreadable" in warned[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tree):
    """A model trained on the tree: its folder, cache and run id."""
    cwd, cache, result = _run(
        tmp_path_factory,
        "genreclf.train",
        "data=folder",
        f"data.root='{tree}'",
        "features=summary",
        "extraction.n_jobs=1",
        "trainer.max_epochs=2",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run_id = re.search(r"MLflow run: (\w+)", result.stdout).group(1)
    return cwd, cache, run_id


@pytest.mark.slow
def test_train_tracks_the_root_and_labels_as_text(trained, tree):
    cwd, _, run_id = trained
    with sqlite3.connect(cwd / "mlruns" / "mlflow.db") as db:
        params = dict(db.execute("SELECT key, value FROM params WHERE run_uuid=?", (run_id,)))
    assert params["data.root"] == printable_name(tree)


def _predict(trained, *overrides):
    cwd, cache, run_id = trained
    result = run_command(
        "genreclf.predict", f"model_uri=runs:/{run_id}/model", *overrides, cwd=cwd, cache=cache
    )
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return cwd, result


@pytest.mark.slow
@pytest.mark.parametrize("output", ["out.json", "out.csv"])
def test_predict_answers_a_file_and_a_folder_under_such_names(trained, tree, output):
    file = tree / BAD_LABEL / BAD_NAME
    folder = tree / "classical"
    cwd, result = _predict(trained, f"inputs=['{file}','{folder}']", f"output={output}")
    assert result.returncode == 0, result.stderr[-3000:]
    root = printable_name(tree)
    shown_file = f"{root}/{LABEL_SHOWN}/{BAD_SHOWN}"
    path = cwd / output
    if output.endswith(".json"):
        records = {e["file"]: e["genre"] for e in json.loads(path.read_text(encoding="utf-8"))}
    else:
        frame = pd.read_csv(path, encoding="utf-8")
        records = dict(zip(frame["file"], frame["genre"], strict=True))
    assert len(records) == 1 + PER_GENRE
    assert shown_file in records and f"{root}/classical/{BAD_SHOWN}" in records
    assert set(records.values()) <= {"blues", "classical", LABEL_SHOWN}
    assert shown_file in result.stdout  # the screen table


@pytest.mark.slow
def test_predict_names_a_bad_file_under_such_a_name_in_one_line(trained, tree):
    good = tree / "blues" / BAD_NAME
    bad = tree / "blues" / os.fsdecode(b"corrupt\xfe.wav")
    _, result = _predict(trained, f"inputs=['{bad}','{good}']")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"error: {printable_name(bad)}: unreadable audio")
    assert f"{printable_name(good)} " in result.stdout
