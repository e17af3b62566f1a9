"""Data sources on real GTZAN material and on small trees and tables made here."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from hydra.utils import instantiate
from omegaconf import OmegaConf
from omegaconf.errors import MissingMandatoryValue

from genreclf.data import DataError
from genreclf.data.sources import FolderSource, GTZANSource, TableSource, require_classes
from genreclf.data.synthetic import GENRES
from genreclf.features.table import FeatureTable
from tests.options import make
from tests.paths import CONF

DATA_CONF = CONF / "data"


def build(name: str, **overrides) -> object:
    """Instantiate ``conf/data/<name>.yaml`` with ``overrides``."""
    cfg = OmegaConf.merge(OmegaConf.load(DATA_CONF / f"{name}.yaml"), overrides)
    return instantiate(cfg)


def write_audio(path: Path, fmt: str | None = None) -> None:
    """A tiny real audio file (0.01 s of noise at 8 kHz)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(0).uniform(-0.1, 0.1, 80)
    sf.write(path, noise, 8000, format=fmt)


# --- GTZAN ------------------------------------------------------------------------------


def test_gtzan_real_mini(shared_data: Path) -> None:
    source = build("gtzan", root=str(shared_data / "gtzan_mini"))
    tracks = source.tracks()
    assert [t.label for t in tracks] == list(GENRES)
    assert [t.track_id for t in tracks] == [f"{g}/{g}.00000.wav" for g in GENRES]
    assert all(t.path.is_file() for t in tracks)
    # root may also be the folder holding the genre folders
    direct = GTZANSource(shared_data / "gtzan_mini" / "genres_original").tracks()
    assert direct == tracks


def test_gtzan_au_layout(tmp_path: Path) -> None:
    for genre in ("blues", "rock"):
        for i in range(2):
            write_audio(tmp_path / "genres" / genre / f"{genre}.0000{i}.au", fmt="AU")
    (tmp_path / "genres" / "rock" / "notes.txt").write_text("not audio")
    tracks = GTZANSource(tmp_path).tracks()
    assert [t.track_id for t in tracks] == [
        "blues/blues.00000.au",
        "blues/blues.00001.au",
        "rock/rock.00000.au",
        "rock/rock.00001.au",
    ]
    assert sf.info(tracks[0].path).format == "AU"


def test_gtzan_missing_root(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    source = build("gtzan", root=str(missing))  # built fine: the error comes when used,
    with pytest.raises(FileNotFoundError) as err:  # so Hydra does not wrap it
        source.tracks()
    message = str(err.value)
    assert "data.root" in message and str(missing) in message and "\n" not in message


def test_gtzan_root_is_mandatory() -> None:
    with pytest.raises(MissingMandatoryValue):
        build("gtzan")


# --- folder -----------------------------------------------------------------------------


def test_folder_mixed_extensions(tmp_path: Path) -> None:
    write_audio(tmp_path / "calm" / "a.wav")
    write_audio(tmp_path / "calm" / "b.FLAC", fmt="FLAC")
    write_audio(tmp_path / "loud" / "c.au", fmt="AU")
    (tmp_path / "loud" / "cover.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "loud" / "README").write_text("x")
    (tmp_path / "stray.wav").write_bytes(b"")  # not under a label folder
    source = build("folder", root=str(tmp_path))
    assert [(t.label, t.track_id) for t in source.tracks()] == [
        ("calm", "calm/a.wav"),
        ("calm", "calm/b.FLAC"),
        ("loud", "loud/c.au"),
    ]
    only_wav = make(FolderSource, tmp_path, extensions=["WAV"])
    assert [t.track_id for t in only_wav.tracks()] == ["calm/a.wav"]


def test_folder_missing_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"^data\.root: .*nowhere$"):
        make(FolderSource, tmp_path / "nowhere").tracks()


# --- table ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_frame(shared_data: Path) -> pd.DataFrame:
    source = build("table", path=str(shared_data / "seed_features.csv"), recipe="seed174")
    assert source.feature_recipe == "seed174"
    return source.frame()


def test_table_real_seed_features(seed_frame: pd.DataFrame) -> None:
    assert seed_frame.shape == (999, 176)
    assert list(seed_frame.columns[-2:]) == ["label", "filename"]
    assert seed_frame.columns[0] == "tempo" and seed_frame.columns[-3] == "mel_spectrogram_128"
    counts = seed_frame["label"].value_counts()
    assert sorted(counts.index) == list(GENRES)
    assert counts["jazz"] == 99 and (counts.drop("jazz") == 100).all()
    assert seed_frame["filename"].is_unique
    assert "jazz/jazz.00054.wav" not in set(seed_frame["filename"])
    assert seed_frame["filename"].iloc[0] == "blues/blues.00000.wav"
    table = FeatureTable.from_frame(seed_frame)
    assert table.X.shape == (999, 174) and len(table.columns) == 174


def test_table_parquet_round_trip(seed_frame: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "features.parquet"
    seed_frame.to_parquet(path)
    back = make(TableSource, path).frame()
    pd.testing.assert_frame_equal(back, seed_frame)


def test_table_kaggle_segments(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    names = [f"{g}.0000{i}.{s}.wav" for g in ("blues", "pop") for i in range(2) for s in range(3)]
    raw = pd.DataFrame(
        {
            "filename": names,
            "length": 66149,
            "chroma_stft_mean": rng.random(len(names)),
            "tempo": rng.random(len(names)) * 200,
            "label": [n.split(".")[0] for n in names],
        }
    )
    path = tmp_path / "features_3_sec.csv"
    raw.to_csv(path, index=False)
    frame = build("table", path=str(path), exclude=["length"]).frame()
    assert list(frame.columns) == ["chroma_stft_mean", "tempo", "label", "filename"]
    assert frame["filename"].tolist() == [
        f"{g}/{g}.0000{i}.wav" for g in ("blues", "pop") for i in range(2) for _ in range(3)
    ]
    np.testing.assert_array_equal(frame["tempo"], raw["tempo"])
    # without segment handling, every segment is its own track
    plain = make(TableSource, path, exclude=["length"], segment_pattern=None, prefix_label=False)
    assert plain.frame()["filename"].tolist() == names


def test_table_without_track_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": [1.0, 2.0, 3.0], "genre": ["x", "y", "x"]}).to_csv(path, index=False)
    frame = make(TableSource, path, label_column="genre", track_column=None).frame()
    assert list(frame.columns) == ["a", "label", "filename"]
    assert frame["filename"].tolist() == ["row0", "row1", "row2"]
    assert frame["label"].tolist() == ["x", "y", "x"]


def test_table_bad_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    pd.DataFrame(
        {"a": [1.0, 2.0], "note": "hi", "label": ["x", "y"], "filename": ["f", "g"]}
    ).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"t\.csv: non-feature column\(s\) note .*data\.exclude"):
        make(TableSource, path).frame()
    assert list(make(TableSource, path, exclude=["note"]).frame().columns) == [
        "a",
        "label",
        "filename",
    ]
    with pytest.raises(
        DataError, match=r"t\.csv: column\(s\) not in the table: data\.exclude=length"
    ):
        make(TableSource, path, exclude=["length"]).frame()


def test_table_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "none.csv"
    source = build("table", path=str(missing))
    with pytest.raises(FileNotFoundError) as err:
        source.frame()
    assert str(err.value) == f"data.path: no such file: {missing}"


def test_table_bad_suffix(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"^data\.path: expected a \.csv or \.parquet table"):
        make(TableSource, path).frame()


# --- bad tables: refused with one line naming the file, or repaired on purpose -----------


def small_table(n_per_class: int = 4, classes=("blues", "rock")) -> pd.DataFrame:
    """A tiny 30-s style table: two features, label, filename (one row per track)."""
    rng = np.random.default_rng(0)
    labels = [c for c in classes for _ in range(n_per_class)]
    return pd.DataFrame(
        {
            "a": rng.random(len(labels)),
            "b": rng.random(len(labels)),
            "label": labels,
            "filename": [f"{lab}.{i:05d}.wav" for i, lab in enumerate(labels)],
        }
    )


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False) if path.suffix == ".csv" else frame.to_parquet(path)
    return path


def refusal(source: TableSource) -> str:
    """The one-line DataError message of ``source.frame()``; it starts with the file."""
    with pytest.raises(DataError) as err:
        source.frame()
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{source.path}: "), message
    return message


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_table_nonfinite_features_refused(tmp_path: Path, value: float) -> None:
    frame = small_table()
    frame.loc[[1, 5], "b"] = value
    frame.loc[5, "a"] = value
    message = refusal(make(TableSource, write(frame, tmp_path / "t.csv")))
    assert "2 of 8 rows have NaN or inf features" in message
    assert "2 column(s) (a, b)" in message
    assert "lines 3, 7" in message  # the header is line 1
    assert "data.nonfinite=drop" in message


def test_table_nonfinite_rows_of_parquet_counted_from_one(tmp_path: Path) -> None:
    frame = small_table()
    frame.loc[0, "a"] = np.nan
    assert "at row 1;" in refusal(make(TableSource, write(frame, tmp_path / "t.parquet")))


def test_table_nonfinite_drop_drops_and_warns(tmp_path: Path, caplog) -> None:
    frame = small_table()
    frame.loc[[1, 5], "b"] = np.nan
    frame.loc[2, "a"] = np.inf
    source = build("table", path=str(write(frame, tmp_path / "t.csv")), nonfinite="drop")
    with caplog.at_level(logging.WARNING, logger="genreclf.data.sources"):
        out = source.frame()
    assert len(out) == 5 and np.isfinite(out[["a", "b"]].to_numpy()).all()
    kept = frame.drop(index=[1, 2, 5]).reset_index(drop=True)
    np.testing.assert_array_equal(out["a"], kept["a"])
    assert out["filename"].tolist() == (kept.label + "/" + kept.filename).tolist()
    (line,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "dropped 3 of 8 rows with NaN or inf features" in line and "t.csv" in line


def test_table_nonfinite_option(tmp_path: Path) -> None:
    path = write(small_table(), tmp_path / "t.csv")
    assert build("table", path=str(path)).nonfinite == "error"  # conf/data/table.yaml
    with pytest.raises(DataError, match=r"^data\.nonfinite=skip: must be one of error, drop$"):
        make(TableSource, path, nonfinite="skip").frame()


@pytest.mark.parametrize("blank", [np.nan, "", "  "])
def test_table_missing_labels_refused(tmp_path: Path, blank) -> None:
    frame = small_table().astype({"label": object})
    frame.loc[[0, 3, 6], "label"] = blank
    message = refusal(make(TableSource, write(frame, tmp_path / "t.csv")))
    assert "3 of 8 rows have no label in column 'label' (lines 2, 5, 8)" in message


def test_table_missing_track_names_refused(tmp_path: Path) -> None:
    frame = small_table()
    frame.loc[4, "filename"] = np.nan
    message = refusal(make(TableSource, write(frame, tmp_path / "t.csv")))
    assert "1 of 8 rows have no track name in column 'filename' (line 6)" in message
    assert "data.track_column=null" in message
    assert (
        len(make(TableSource, tmp_path / "t.csv", track_column=None, exclude=["filename"]).frame())
        == 8
    )


def test_table_single_class_refused(tmp_path: Path) -> None:
    path = write(small_table(classes=("blues",)), tmp_path / "t.csv")
    message = refusal(make(TableSource, path))
    assert "only one class in column 'label' ('blues' on all 4 rows)" in message
    # also when dropping rows leaves one class
    frame = small_table()
    frame.loc[frame.label == "rock", "a"] = np.nan
    write(frame, tmp_path / "t.csv")
    assert "only one class" in refusal(make(TableSource, tmp_path / "t.csv", nonfinite="drop"))


def test_require_classes() -> None:
    require_classes(["a", "b", "a"], "x")
    with pytest.raises(DataError, match=r"^x: only one class in label \('a' on all 2 rows\)"):
        require_classes(["a", "a"], "x")
    with pytest.raises(DataError, match=r"^x: no labelled rows$"):
        require_classes([], "x")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty file"),
        (b"\n\n", "empty table"),
        (b"a,b,label,filename\n", "no rows, only a header (4 columns)"),
        (np.random.default_rng(0).bytes(4000), "binary file, not a CSV table"),
        (b"a,label\n\xff\xfe1.0,\xe9t\xe9\n", "not a readable CSV table (UnicodeDecodeError"),
        (b"a,label\n1,x\n2,y,z,w\n", "not a readable CSV table (ParserError"),
        (b"just some notes\nnot a table\n", "column(s) not in the table: data.label_column"),
    ],
    ids=["empty", "blank", "header", "binary", "undecodable", "ragged", "text"],
)
def test_table_unreadable_file_refused(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    assert words in refusal(make(TableSource, path))


def test_table_unreadable_parquet_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    path.write_bytes(b"junk" * 100)
    assert "not a readable Parquet table (ArrowInvalid" in refusal(make(TableSource, path))


def test_table_no_feature_columns_refused(tmp_path: Path) -> None:
    path = write(small_table()[["label", "filename"]], tmp_path / "t.csv")
    assert refusal(make(TableSource, path)).endswith(": no feature columns")


def test_table_shared_names_warned(tmp_path: Path, caplog) -> None:
    frame = small_table()
    frame["filename"] = "same.wav"
    frame.loc[0, "filename"] = "other.wav"
    path = write(frame, tmp_path / "t.csv")
    with caplog.at_level(logging.WARNING, logger="genreclf.data.sources"):
        out = make(TableSource, path).frame()
    assert out["filename"].nunique() == 3  # kept together, as asked
    (line,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "7 rows share 2 name(s) in column 'filename'" in line
    assert "data.track_column=null" in line and "t.csv" in line


def test_table_segments_and_unique_names_not_warned(tmp_path: Path, caplog) -> None:
    names = [f"{g}.0000{i}.{s}.wav" for g in ("blues", "pop") for i in range(2) for s in range(3)]
    segments = pd.DataFrame(
        {"a": np.arange(len(names), dtype=float), "label": [n.split(".")[0] for n in names]}
    ).assign(filename=names)
    with caplog.at_level(logging.WARNING, logger="genreclf.data.sources"):
        assert (
            make(TableSource, write(segments, tmp_path / "s.csv")).frame()["filename"].nunique()
            == 4
        )
        make(TableSource, write(small_table(), tmp_path / "t.csv")).frame()
        make(TableSource, tmp_path / "t.csv", track_column=None, exclude=["filename"]).frame()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
