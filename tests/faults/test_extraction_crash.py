"""Faults: a worker that dies mid-extraction costs only the file that killed it.

The feature set below kills its own process (SIGKILL, as the OOM killer would) on one
crafted clip. It lives at the top of an importable module, so loky workers and the fresh
retry processes can unpickle it.
"""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import soundfile as sf

from genreclf.data.sources import FolderSource
from genreclf.features.extraction import FeatureExtractor
from genreclf.features.sets import FeatureSet
from tests.options import make

pytestmark = pytest.mark.slow

SR = 16000
KILLER_PEAK = 0.9  # only the killer clip is this loud


@dataclass
class KillsOnLoudClip(FeatureSet):
    """Peak, RMS and spectral centroid (numpy only, so fresh processes start fast), but
    computing a clip this loud kills the process computing it."""

    name: ClassVar[str] = "kills_on_loud"
    sr: int | None = SR

    @property
    def columns(self) -> list[str]:
        return ["peak", "rms", "centroid"]

    def compute(self, y: np.ndarray, sr: int) -> np.ndarray:
        peak = float(np.max(np.abs(y)))
        if peak > KILLER_PEAK - 0.05:
            os.kill(os.getpid(), signal.SIGKILL)
        power = np.abs(np.fft.rfft(y)) ** 2
        centroid = float(np.sum(np.fft.rfftfreq(len(y), 1 / sr) * power) / np.sum(power))
        return np.array([peak, float(np.sqrt(np.mean(y**2))), centroid])


def clip(freq: float, peak: float = 0.3) -> np.ndarray:
    t = np.arange(SR) / SR
    return peak * np.sin(2 * np.pi * freq * t)


def test_a_worker_killed_by_one_file_costs_that_file_only(tmp_path, caplog):
    for i, freq in enumerate([220, 330, 440, 550, 660]):
        label = ["blues", "rock"][i % 2]
        (tmp_path / "audio" / label).mkdir(parents=True, exist_ok=True)
        sf.write(tmp_path / "audio" / label / f"{freq}.wav", clip(freq), SR)
    sf.write(tmp_path / "audio" / "rock" / "killer.wav", clip(770, KILLER_PEAK), SR)
    tracks = make(FolderSource, tmp_path / "audio").tracks()
    good = sorted(t.track_id for t in tracks if t.track_id != "rock/killer.wav")

    ex = make(FeatureExtractor, str(tmp_path / "cache"), n_jobs=2, backend="loky", progress=False)
    with caplog.at_level(logging.WARNING, logger="genreclf.features"):
        table = ex.extract(tracks, KillsOnLoudClip())

    assert sorted(table.track_ids) == good
    assert np.all(np.isfinite(table.X)) and table.X.shape == (5, 3)
    assert list(table.skipped.track_id) == ["rock/killer.wav"]
    assert table.skipped.reason[0] == "crashed the extractor (signal 9)"
    # a file whose chunk was lost with the pool was stored by its worker: read, not recomputed
    assert ex.last_stats["computed"] + ex.last_stats["cached"] == 5
    assert ex.last_stats["skipped"] == 1
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("features: a worker died (TerminatedWorkerError") for m in messages)

    # The other files' features were cached; the killer is not remembered as bad.
    again = ex.extract([t for t in tracks if t.track_id != "rock/killer.wav"], KillsOnLoudClip())
    assert ex.last_stats["cached"] == 5 and ex.last_stats["computed"] == 0
    np.testing.assert_array_equal(again.X, table.X)
