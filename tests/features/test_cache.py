"""The content-addressed feature cache: hits, misses, invalidation, damaged entries."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from genreclf.data.tracks import Track
from genreclf.features.cache import FeatureCache, feature_key, file_digest
from genreclf.features.extraction import FeatureExtractor
from genreclf.features.sets import LogMelSegments, Summary
from tests.options import make

SR = 8000


def write_clip(path, seconds: float = 3.0, freq: float = 440.0, seed: int = 0):
    n = int(seconds * SR)
    rng = np.random.default_rng(seed)
    y = 0.2 * np.sin(2 * np.pi * freq * np.arange(n) / SR) + 0.01 * rng.standard_normal(n)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, SR)
    return Track(path=path, label=path.parent.name, track_id=f"{path.parent.name}/{path.name}")


@pytest.fixture
def clips(tmp_path):
    return [
        write_clip(tmp_path / "audio" / "a" / f"{i}.wav", freq=300 + 100 * i, seed=i)
        for i in range(3)
    ]


def small_summary() -> Summary:
    return make(Summary, sr=SR, n_mels=32, n_mfcc=13, n_bands=4)


def extractor(tmp_path) -> FeatureExtractor:
    return make(FeatureExtractor, str(tmp_path / "cache"), n_jobs=1, progress=False)


def test_store_roundtrip_and_layout(tmp_path):
    cache = FeatureCache(tmp_path)
    value = np.arange(12, dtype=np.float32).reshape(3, 4)
    key = "ab" + "0" * 62
    assert cache.get("demo", key) is None
    path = cache.put("demo", key, value)
    assert path == tmp_path / "demo" / "ab" / f"{key}.npy"
    np.testing.assert_array_equal(cache.get("demo", key), value)
    assert not list(path.parent.glob("*.tmp"))  # temporary files were moved into place


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip", "no_checksum"])
def test_damaged_entry_is_a_miss_and_removed(tmp_path, damage):
    cache = FeatureCache(tmp_path)
    key = "cd" + "1" * 62
    path = cache.put("demo", key, np.linspace(0, 1, 100, dtype=np.float32))
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00garbage" * 10)
    elif damage == "flip":  # same length, valid header, one data byte changed
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    else:
        cache.path("demo", key, ".sha256").unlink()
    assert cache.get("demo", key) is None
    assert not path.exists()


def test_key_depends_on_bytes_and_params_not_on_name(tmp_path, clips):
    moved = tmp_path / "elsewhere" / "renamed.wav"
    moved.parent.mkdir()
    moved.write_bytes(clips[0].path.read_bytes())
    fs = small_summary()
    assert file_digest(moved) == file_digest(clips[0].path)
    assert feature_key(file_digest(moved), fs) == feature_key(file_digest(clips[0].path), fs)
    assert feature_key(file_digest(clips[1].path), fs) != feature_key(file_digest(moved), fs)
    other = make(Summary, sr=SR, n_mels=32, n_mfcc=12)
    assert feature_key(file_digest(moved), other) != feature_key(file_digest(moved), fs)
    assert feature_key("0" * 64, make(LogMelSegments)) != feature_key("0" * 64, make(Summary))


def test_second_extract_is_all_hits(tmp_path, clips):
    ex, fs = extractor(tmp_path), small_summary()
    first = ex.extract(clips, fs)
    assert (ex.last_stats["computed"], ex.last_stats["cached"]) == (3, 0)
    second = ex.extract(clips, fs)
    assert (ex.last_stats["computed"], ex.last_stats["cached"]) == (3 - 3, 3)
    np.testing.assert_array_equal(first.X, second.X)
    assert len(list((tmp_path / "cache" / "summary").rglob("*.npy"))) == 3


def test_parameter_change_recomputes(tmp_path, clips):
    ex = extractor(tmp_path)
    ex.extract(clips, small_summary())
    ex.extract(clips, make(Summary, sr=SR, n_mels=32, n_mfcc=12, n_bands=4))
    assert ex.last_stats["computed"] == 3


def test_changed_bytes_recompute_only_that_file(tmp_path, clips):
    ex, fs = extractor(tmp_path), small_summary()
    before = ex.extract(clips, fs)
    write_clip(clips[1].path, freq=1234.0, seed=7)
    after = ex.extract(clips, fs)
    assert (ex.last_stats["computed"], ex.last_stats["cached"]) == (1, 2)
    assert not np.allclose(before.X[1], after.X[1])
    np.testing.assert_array_equal(before.X[[0, 2]], after.X[[0, 2]])


def test_renamed_and_moved_files_hit(tmp_path, clips):
    ex, fs = extractor(tmp_path), small_summary()
    before = ex.extract(clips, fs)
    moved = []
    for i, track in enumerate(clips):
        dest = tmp_path / "moved" / "b" / f"renamed{i}.wav"
        dest.parent.mkdir(parents=True, exist_ok=True)
        track.path.rename(dest)
        moved.append(Track(dest, "b", f"b/renamed{i}.wav"))
    after = ex.extract(moved, fs)
    assert (ex.last_stats["computed"], ex.last_stats["cached"]) == (0, 3)
    np.testing.assert_array_equal(before.X, after.X)
    assert list(after.track_ids) == [t.track_id for t in moved]


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_damaged_entry_recomputed_to_the_right_value(tmp_path, clips, damage):
    ex, fs = extractor(tmp_path), make(LogMelSegments, sr=SR, n_mels=16, segment_seconds=1.0)
    before = ex.extract(clips, fs)
    entry = sorted((tmp_path / "cache" / fs.name).rglob("*.npy"))[0]
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) // 3] if damage == "truncate" else b"junk" * 50)
    after = ex.extract(clips, fs)
    assert (ex.last_stats["computed"], ex.last_stats["cached"]) == (1, 2)
    np.testing.assert_array_equal(before.X, after.X)
    assert entry.exists() and np.load(entry).shape == (3, 16, 16)


def test_known_bad_file_remembered(tmp_path, clips):
    ex, fs = extractor(tmp_path), small_summary()
    bad = tmp_path / "audio" / "a" / "silent.wav"
    sf.write(bad, np.zeros(SR * 2), SR)
    tracks = [*clips, Track(bad, "a", "a/silent.wav")]
    first = ex.extract(tracks, fs)
    assert len(list((tmp_path / "cache").rglob("*.bad"))) == 1
    second = ex.extract(tracks, fs)
    assert ex.last_stats["computed"] == 0 and ex.last_stats["skipped"] == 1
    assert (
        list(second.skipped.reason)
        == list(first.skipped.reason)
        == ["silent (peak amplitude below 1e-6)"]
    )
    # the remembered verdict depends on min_duration too
    lenient = make(
        FeatureExtractor, str(tmp_path / "cache"), n_jobs=1, progress=False, min_duration=0
    )
    lenient.extract(tracks, fs)
    assert lenient.last_stats["skipped"] == 1 and lenient.last_stats["cached"] == 3


def test_entry_failing_the_readers_check_is_a_miss_and_removed(tmp_path):
    cache = FeatureCache(tmp_path)
    key = "ef" + "2" * 62
    path = cache.put("demo", key, np.ones((2, 3), dtype=np.float32))

    def wants_four_columns(value):
        if value.shape[-1] != 4:
            raise ValueError(f"shape {value.shape}")

    assert cache.get("demo", key, check=lambda value: None) is not None
    assert cache.get("demo", key, check=wants_four_columns) is None
    assert not path.exists() and not cache.path("demo", key, ".sha256").exists()


@pytest.mark.parametrize("bad", ["nan", "inf", "columns", "ndim"])
def test_valid_checksum_bad_value_recomputed(tmp_path, clips, bad, caplog):
    """An entry whose checksum holds but whose value is NaN or mis-shaped is recomputed."""
    ex, fs = extractor(tmp_path), make(LogMelSegments, sr=SR, n_mels=16, segment_seconds=1.0)
    before = ex.extract(clips, fs)
    entry = sorted((tmp_path / "cache" / fs.name).rglob("*.npy"))[0]
    value = np.load(entry)
    if bad == "nan":
        value[0, 0, 0] = np.nan
    elif bad == "inf":
        value[-1, -1, -1] = np.inf
    elif bad == "columns":
        value = value[..., :-1]
    else:
        value = value[0]
    ex.cache.put(fs.name, entry.stem, value)  # a checksum that matches
    with caplog.at_level("WARNING", logger="genreclf.features.cache"):
        after = ex.extract(clips, fs)
    assert (ex.last_stats["computed"], ex.last_stats["cached"]) == (1, 2)
    np.testing.assert_array_equal(before.X, after.X)
    assert np.load(entry).shape == (3, 16, 16) and np.isfinite(np.load(entry)).all()
    (line,) = [r.getMessage() for r in caplog.records if "damaged entry" in r.getMessage()]
    assert entry.name in line


def test_summary_entry_of_wrong_length_recomputed(tmp_path, clips):
    ex, fs = extractor(tmp_path), small_summary()
    before = ex.extract(clips, fs)
    entry = sorted((tmp_path / "cache" / fs.name).rglob("*.npy"))[0]
    ex.cache.put(fs.name, entry.stem, np.load(entry)[:5])
    after = ex.extract(clips, fs)
    assert ex.last_stats["computed"] == 1
    np.testing.assert_array_equal(before.X, after.X)


def entry_of(ex: FeatureExtractor, track: Track, fs) -> tuple[str, str]:
    """The feature set's folder name and the cache key of ``track``'s features."""
    return fs.name, feature_key(file_digest(track.path), fs)


def test_entry_locked_elsewhere_is_waited_for_not_computed_twice(tmp_path, clips):
    """A concurrent holder's entry is put off, waited for, then read: counted as cached."""
    import threading
    import time

    ex, fs = extractor(tmp_path), small_summary()
    name, key = entry_of(ex, clips[0], fs)
    other = make(FeatureExtractor, str(tmp_path / "other"), n_jobs=1, progress=False)
    value = other.extract(clips[:1], fs).X[0]
    held = threading.Event()

    def compute_elsewhere() -> None:  # another worker holds the entry, stores it, releases
        with ex.cache.lock(name, key):
            held.set()
            time.sleep(1.0)
            ex.cache.put(name, key, value)

    worker = threading.Thread(target=compute_elsewhere)
    worker.start()
    try:
        assert held.wait(10)
        table = ex.extract(clips, fs)
    finally:
        worker.join()
    assert (ex.last_stats["computed"], ex.last_stats["cached"]) == (2, 1)
    np.testing.assert_array_equal(table.X[0], value)


def test_lock_of_a_dead_holder_is_released(tmp_path, clips):
    """A process killed while holding an entry's lock leaves nothing locked."""
    import signal
    import subprocess
    import sys

    ex, fs = extractor(tmp_path), small_summary()
    name, key = entry_of(ex, clips[0], fs)
    path = ex.cache.lock(name, key).lock_file  # its folder made
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time, filelock\n"
         "lock = filelock.FileLock(sys.argv[1]); lock.acquire(); print('held', flush=True)\n"
         "time.sleep(600)",
         str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        from filelock import Timeout

        with pytest.raises(Timeout):
            ex.cache.lock(name, key).acquire(timeout=0.1)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    ex.extract(clips, fs)
    assert (ex.last_stats["computed"], ex.last_stats["cached"]) == (3, 0)
