"""FeatureExtractor over folders of real (test-made) audio: bad files, formats, segments, CLI."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from genreclf.audio import load_audio
from genreclf.data.tracks import Track, list_labelled_audio
from genreclf.features.extraction import EXTRACTORS, FeatureExtractor, save_manifest
from genreclf.features.sets import FeatureSet, LogMelSegments, Seed174
from tests.options import make
from tests.paths import CONF

SR = 16000


def tone(seconds: float, sr: int = SR, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = 0.2 * np.sin(2 * np.pi * freq * t) + 0.01 * np.random.default_rng(
        int(freq)
    ).standard_normal(n)
    return y if channels == 1 else np.stack([y, 0.5 * y], axis=1)


def cheap_set() -> LogMelSegments:
    return make(LogMelSegments, sr=SR, n_mels=16, segment_seconds=1.0, n_fft=512, hop_length=256)


def make_mixed_folder(root: Path) -> dict[str, str]:
    """Two good clips and one of each kind of bad file; returns bad track_id -> reason words."""
    (root / "good").mkdir(parents=True)
    (root / "bad").mkdir()
    sf.write(root / "good" / "one.wav", tone(2.5, freq=300), SR)
    sf.write(root / "good" / "two.flac", tone(1.2, freq=500), SR)
    (root / "bad" / "corrupt.wav").write_bytes(np.random.default_rng(1).bytes(5000))
    header = (root / "good" / "one.wav").read_bytes()[:40]
    (root / "bad" / "truncated.wav").write_bytes(header)
    (root / "bad" / "empty.wav").write_bytes(b"")
    (root / "bad" / "notes.wav").write_text("not audio at all\n" * 30)
    sf.write(root / "bad" / "silent.wav", np.zeros(2 * SR), SR)
    sf.write(root / "bad" / "short.ogg", tone(0.2), SR)
    sf.write(root / "bad" / "under_a_segment.wav", tone(0.8), SR)
    return {
        "bad/corrupt.wav": "unreadable",
        "bad/truncated.wav": "unreadable",
        "bad/empty.wav": "empty",
        "bad/notes.wav": "unreadable",
        "bad/silent.wav": "silent",
        "bad/short.ogg": "too short (0.2 s",
        "bad/under_a_segment.wav": "too short for one 1 s segment",
    }


def test_bad_files_skipped_with_reasons(tmp_path, caplog):
    expected = make_mixed_folder(tmp_path / "audio")
    tracks = list_labelled_audio(tmp_path / "audio")
    tracks.append(Track(tmp_path / "audio" / "bad" / "gone.wav", "bad", "bad/gone.wav"))
    expected["bad/gone.wav"] = "file not found"
    ex = make(FeatureExtractor, str(tmp_path / "cache"), n_jobs=1, progress=False)
    with caplog.at_level(logging.INFO, logger="genreclf.features.extraction"):
        table = ex.extract(tracks, cheap_set())

    assert sorted(set(table.track_ids)) == ["good/one.wav", "good/two.flac"]
    assert table.X.shape == (3, 63, 16)  # 2 + 1 one-second segments
    reasons = dict(zip(table.skipped.track_id, table.skipped.reason, strict=True))
    assert set(reasons) == set(expected)
    for track_id, words in expected.items():
        assert words in reasons[track_id], (track_id, reasons[track_id])

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for track_id in expected:
        (line,) = [m for m in warnings if m.startswith(f"skipped {tmp_path / 'audio' / track_id}:")]
        assert "\n" not in line
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("features:")]
    assert summary[0].startswith(
        "features: logmel_segments: 2 tracks (0 cached, 2 computed), 8 skipped, 3 rows,"
    )

    manifest = save_manifest(table.skipped, tmp_path / "out" / "skipped.csv")
    frame = pd.read_csv(manifest)
    assert list(frame.columns) == ["track_id", "path", "reason"]
    assert sorted(frame.track_id) == sorted(expected)
    assert all(
        Path(p).name == t.split("/")[1] for t, p in zip(frame.track_id, frame.path, strict=True)
    )


@dataclass
class FailsOnLoudClips(FeatureSet):
    """A feature set with a bug that shows on some inputs only."""

    name: ClassVar[str] = "fails_on_loud"
    sr: int | None = SR

    @property
    def columns(self) -> list[str]:
        return ["peak", "rms"]

    def compute(self, y: np.ndarray, sr: int) -> np.ndarray:
        peak = float(np.max(np.abs(y)))
        if peak > 0.5:
            raise RuntimeError(f"peak {peak:.1f}\ntoo high")
        return np.array([peak, float(np.sqrt(np.mean(y**2)))])


def test_exception_in_compute_costs_that_file_only(tmp_path):
    (tmp_path / "a").mkdir()
    sf.write(tmp_path / "a" / "quiet.wav", tone(1.0), SR)
    sf.write(tmp_path / "a" / "loud.wav", 4 * tone(1.0), SR)
    ex = make(FeatureExtractor, str(tmp_path / "cache"), n_jobs=1, progress=False)
    table = ex.extract(list_labelled_audio(tmp_path), FailsOnLoudClips())
    assert list(table.track_ids) == ["a/quiet.wav"] and table.X.shape == (1, 2)
    (reason,) = table.skipped.reason
    assert reason.startswith("RuntimeError: peak ") and reason.endswith(" too high")
    # a compute error is not remembered as a bad file: it is retried next time
    ex.extract(list_labelled_audio(tmp_path), FailsOnLoudClips())
    assert ex.last_stats["cached"] == 1 and ex.last_stats["skipped"] == 1


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "flac"])
def test_compressed_stereo_44k_inputs_extract(tmp_path, fmt):
    folder = tmp_path / "audio" / "x"
    folder.mkdir(parents=True)
    sf.write(folder / f"clip.{fmt}", tone(2.2, 44100, channels=2), 44100)
    ex = make(FeatureExtractor, str(tmp_path / "cache"), n_jobs=1, progress=False)
    table = ex.extract(list_labelled_audio(tmp_path / "audio"), cheap_set())
    assert table.skipped.empty
    assert table.X.shape == (2, 63, 16) and list(table.track_ids) == [f"x/clip.{fmt}"] * 2
    # the 440 Hz tone dominates the same mel band in every segment
    assert len(set(table.X.mean(axis=1).argmax(axis=1))) == 1


def test_segments_carry_their_track(tmp_path):
    for label, name, seconds in [
        ("blues", "a.wav", 3.5),
        ("rock", "b.wav", 1.1),
        ("rock", "c.wav", 2.0),
    ]:
        (tmp_path / label).mkdir(exist_ok=True)
        sf.write(tmp_path / label / name, tone(seconds, freq=200 * seconds), SR)
    ex = make(FeatureExtractor, str(tmp_path / "cache"), n_jobs=1, progress=False)
    table = ex.extract(list_labelled_audio(tmp_path), cheap_set())
    assert table.X.shape == (6, 63, 16) and table.columns == [f"logmel_{i}" for i in range(1, 17)]
    assert list(table.track_ids) == ["blues/a.wav"] * 3 + ["rock/b.wav"] + ["rock/c.wav"] * 2
    assert list(table.labels) == ["blues"] * 3 + ["rock"] * 3
    y, sr = load_audio(tmp_path / "rock" / "b.wav")
    np.testing.assert_array_equal(table.X[3], cheap_set().compute(y, sr)[0])


def test_parallel_equals_serial_seed174(tmp_path):
    pytest.importorskip("genreclf.features.seed174")
    (tmp_path / "audio" / "g").mkdir(parents=True)
    for i in range(4):
        sf.write(tmp_path / "audio" / "g" / f"{i}.wav", tone(1.5, 22050, freq=300 + 90 * i), 22050)
    tracks = list_labelled_audio(tmp_path / "audio")
    serial = make(FeatureExtractor, str(tmp_path / "c1"), n_jobs=1, progress=False)
    parallel = make(FeatureExtractor, str(tmp_path / "c2"), n_jobs=2, progress=False)
    a = serial.extract(tracks, make(Seed174))
    b = parallel.extract(tracks, make(Seed174))
    assert parallel.last_stats["computed"] == 4 and a.X.shape == (4, 174)
    np.testing.assert_array_equal(a.X, b.X)
    assert list(a.track_ids) == list(b.track_ids)


def test_unknown_or_missing_backend_is_a_clear_error(tmp_path):
    (tmp_path / "a").mkdir()
    for i in range(2):
        sf.write(tmp_path / "a" / f"{i}.wav", tone(1.0, freq=300 + i), SR)
    tracks = list_labelled_audio(tmp_path)
    with pytest.raises(ValueError, match="backend=nope: must be one of loky"):
        EXTRACTORS.option("default", cache_dir=str(tmp_path / "c"), backend="nope")
    try:
        import ray  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match=r"needs the ray extra: pip install -e '\.\[ray\]'"):
            make(FeatureExtractor, str(tmp_path / "c"), n_jobs=2, backend="ray").extract(
                tracks, cheap_set()
            )


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return hydra_compose(config_name="extract", overrides=overrides)


def test_extract_command_writes_manifest_and_export(tmp_path, capsys):
    from genreclf.extract import extract

    make_mixed_folder(tmp_path / "audio")
    cfg = compose(
        [
            "data=folder",
            f"data.root={tmp_path / 'audio'}",
            "features=summary",
            "features.sr=16000",
            f"paths.cache_dir={tmp_path / 'cache'}",
            "extraction.n_jobs=1",
            "extraction.progress=false",
            f"export={tmp_path / 'out' / 'features.csv'}",
        ]
    )
    table = extract(cfg)
    frame = pd.read_csv(tmp_path / "out" / "features.csv")
    assert list(frame.columns) == [*table.columns, "label", "filename"]
    # a 0.8 s clip is too short for a segment, not for a summary
    assert list(frame.filename) == ["bad/under_a_segment.wav", "good/one.wav", "good/two.flac"]
    assert np.isfinite(frame[table.columns].to_numpy()).all()
    manifest = pd.read_csv(tmp_path / "cache" / "manifests" / "summary-skipped.csv")
    assert len(manifest) == 6
    assert (tmp_path / "cache" / "features" / "summary").is_dir()


def test_extract_command_refuses_table_data_and_frame_level_export(tmp_path):
    from genreclf.extract import ExtractError, extract

    csv = tmp_path / "t.csv"
    pd.DataFrame({"f": [1.0, 2.0], "label": ["a", "b"], "filename": ["a/1", "b/2"]}).to_csv(csv)
    cfg = compose(["data=table", f"data.path={csv}", f"paths.cache_dir={tmp_path}"])
    with pytest.raises(ExtractError, match="holds precomputed features; nothing to extract"):
        extract(cfg)
    (tmp_path / "audio" / "a").mkdir(parents=True)
    cfg = compose(
        [
            "data=folder",
            f"data.root={tmp_path / 'audio'}",
            "features=logmel_segments",
            f"paths.cache_dir={tmp_path}",
            f"export={tmp_path / 'x.csv'}",
        ]
    )
    with pytest.raises(ExtractError, match="frame-level"):
        extract(cfg)


def test_seed174_through_extractor_matches_published_rows(tmp_path, shared_data):
    """Real GTZAN clips through load_audio + Seed174 give the seed project's CSV rows."""
    pytest.importorskip("genreclf.features.seed174")
    from genreclf.data.sources import GTZANSource

    tracks = GTZANSource(shared_data / "gtzan_mini").tracks()[:2]
    ex = make(FeatureExtractor, str(tmp_path / "cache"), n_jobs=1, progress=False)
    table = ex.extract(tracks, make(Seed174))
    assert list(table.track_ids) == ["blues/blues.00000.wav", "classical/classical.00000.wav"]
    published = pd.read_csv(shared_data / "seed_features.csv").set_index("filename")
    ref = published.loc[list(table.track_ids), table.columns].to_numpy()
    np.testing.assert_allclose(table.X, ref, rtol=1e-5, atol=1e-5)


def test_numba_cache_dir_goes_per_user_unless_set(tmp_path, monkeypatch):
    from genreclf.features.numba_cache import use_numba_cache_dir

    monkeypatch.setenv("NUMBA_CACHE_DIR", "placeholder")  # so that teardown restores it
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    make(FeatureExtractor, str(tmp_path / "cache"), n_jobs=1, progress=False)
    folder = tmp_path / "xdg" / "genreclf" / "numba"
    assert Path(__import__("os").environ["NUMBA_CACHE_DIR"]) == folder and folder.is_dir()
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    make(FeatureExtractor, str(tmp_path / "cache"), n_jobs=1, progress=False)
    assert use_numba_cache_dir() == str(tmp_path / "mine")
    assert not (tmp_path / "mine").exists()  # the user's choice is left as it is


def test_crash_reasons_and_worker_death():
    from concurrent.futures.process import BrokenProcessPool

    from joblib.externals.loky.process_executor import TerminatedWorkerError

    from genreclf.features.pool import _crash_reason, worker_died

    assert _crash_reason(-9) == "crashed the extractor (signal 9)"
    assert _crash_reason(-11) == "crashed the extractor (signal 11)"
    assert _crash_reason(3) == "crashed the extractor (exit code 3)"
    assert worker_died(TerminatedWorkerError("x")) and worker_died(BrokenProcessPool("x"))
    assert not worker_died(RuntimeError("x")) and not worker_died(ValueError("x"))


def test_dead_worker_costs_only_the_file_it_was_computing(tmp_path, monkeypatch):
    """The recovery rounds, with threads and a simulated death (the real one: tests/faults)."""
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    from genreclf.features import pool, workers

    (tmp_path / "a").mkdir()
    for i in range(7):
        sf.write(tmp_path / "a" / f"{i}.wav", tone(0.6, freq=300 + 50 * i), SR)
    sf.write(tmp_path / "a" / "killer.wav", tone(0.6), SR)
    tracks = list_labelled_audio(tmp_path)
    real = workers.compute_chunk_marked
    calls: list[str] = []

    def dies_on_killer(items, marker, *args):
        out = []
        for item in items:
            if item[1].endswith("killer.wav"):
                Path(marker).open("a").write(f"{item[0]}\n")
                raise TerminatedWorkerError("A worker process ... {SIGKILL(-9)}")
            out += real([item], marker, *args)
            calls.append(Path(item[1]).name)
        return out

    alone: list[str] = []

    def compute_alone(self, items, feature_set, store):
        for item in items:
            alone.append(Path(item.path).name)
            if item.path.endswith("killer.wav"):
                yield [workers.Outcome(item.index, None, pool._crash_reason(-9), False)]
            else:
                yield workers.compute_misses([item], store, feature_set)

    monkeypatch.setattr(pool, "compute_chunk_marked", dies_on_killer)
    monkeypatch.setattr(pool.WorkerPool, "compute_alone", compute_alone)
    ex = make(
        FeatureExtractor, str(tmp_path / "cache"), n_jobs=2, backend="threading", progress=False
    )
    table = ex.extract(tracks, FailsOnLoudClips())
    assert sorted(table.track_ids) == [f"a/{i}.wav" for i in range(7)]
    assert list(table.skipped.reason) == ["crashed the extractor (signal 9)"]
    assert "killer.wav" in alone and len(alone) <= 2  # the killer, maybe one aborted file
    # each file ran at most twice (a result not yet back when the pool broke is lost)
    assert max((calls + alone).count(f"{i}.wav") for i in range(7)) <= 2
    # files computed before the pool broke were stored by their worker: not computed again
    assert ex.last_stats["computed"] + ex.last_stats["cached"] == 7
    assert ex.last_stats["skipped"] == 1
