"""Predict over time: per-window probabilities (JSON, CSV), the console's stretches, a PNG."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from genreclf.data.synthetic import GENRES
from genreclf.inference import Prediction
from tests.conftest import require_shared
from tests.e2e import TINY_DATA, run_command, run_in_new_folder

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def clip():
    """A real 30 s GTZAN excerpt."""
    return require_shared("gtzan_mini", "genres_original", "blues", "blues.00000.wav")


@pytest.fixture(scope="module")
def segment_model(tmp_path_factory):
    """A tiny frame-level model (3 s MFCC segments) trained on the synthetic clips."""
    cwd, cache, result = run_in_new_folder(
        tmp_path_factory,
        "timeline_run",
        "genreclf.train",
        *TINY_DATA,
        "features=mfcc_segments",
        "trainer.max_epochs=2",
    )
    run_id = re.search(r"MLflow run: (\w+)", result.stdout).group(1)
    return cwd, cache, f"runs:/{run_id}/model"


def _predict(segment_model, *overrides):
    cwd, cache, uri = segment_model
    result = run_command("genreclf.predict", f"model_uri={uri}", *overrides, cwd=cwd, cache=cache)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _expected_windows(segment_model, clip) -> tuple[int, float]:
    """Whole segments of the model's window length in the clip, and that length."""
    from genreclf.predict import load_genre_model

    cwd, _, uri = segment_model
    model = load_genre_model(uri, f"sqlite:///{cwd}/mlruns/mlflow.db")
    seconds = float(model.spec["segment_seconds"])
    info = sf.info(clip)
    assert info.samplerate == model.feature_set.sr  # read as is, so the count below is exact
    return info.frames // int(round(seconds * info.samplerate)), seconds


@pytest.mark.slow
def test_timeline_json_plot_and_console(segment_model, clip, tmp_path):
    n, seconds = _expected_windows(segment_model, clip)
    assert n == 10  # 30.01 s in 3 s segments
    figures = tmp_path / "figs"
    result = _predict(
        segment_model,
        "timeline=true",
        f"plot={figures}",
        f"output={tmp_path / 'out.json'}",
        f"inputs=[{clip}]",
    )
    (entry,) = json.loads((tmp_path / "out.json").read_text())
    timeline = entry["timeline"]
    assert entry["windows"] == len(timeline) == n
    probs = np.array([[w["probabilities"][g] for g in sorted(GENRES)] for w in timeline])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert [(w["start"], w["end"]) for w in timeline] == [
        pytest.approx((i * seconds, (i + 1) * seconds)) for i in range(n)
    ]
    # The song's answer is still the mean of its windows.
    song = np.array([entry["probabilities"][g] for g in sorted(GENRES)])
    np.testing.assert_allclose(probs.mean(axis=0), song, atol=1e-6)
    # The windows differ: they are the model's own per-window answers, not the mean repeated.
    assert np.ptp(probs, axis=0).max() > 1e-4
    # The console names each stretch of one top genre, in order, covering the clip.
    tops = [sorted(GENRES)[i] for i in probs.argmax(axis=1)]
    merged = [g for i, g in enumerate(tops) if i == 0 or tops[i - 1] != g]
    (line,) = [s for s in result.stdout.splitlines() if s.strip().startswith(f"{clip}:")]
    stretches = re.findall(r"([\d.]+)\u2013([\d.]+) s (\w+)", line)
    assert [g for _, _, g in stretches] == merged
    assert float(stretches[0][0]) == 0 and float(stretches[-1][1]) == pytest.approx(n * seconds)
    # One valid PNG for the song.
    (png,) = figures.iterdir()
    assert png.name == "blues.00000.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    from PIL import Image

    with Image.open(png) as image:
        image.verify()
    with Image.open(png) as image:
        assert image.width > 400 and image.height > 200


@pytest.mark.slow
def test_timeline_csv_has_one_row_per_window(segment_model, clip, tmp_path):
    n, seconds = _expected_windows(segment_model, clip)
    _predict(segment_model, "timeline=true", f"output={tmp_path / 'out.csv'}", f"inputs=[{clip}]")
    table = pd.read_csv(tmp_path / "out.csv")
    assert len(table) == n
    assert list(table.columns[:4]) == ["file", "start", "end", "genre"]
    assert (table["file"] == str(clip)).all()
    np.testing.assert_allclose(table["start"], np.arange(n) * seconds)
    p = table[[f"p_{g}" for g in sorted(GENRES)]].to_numpy()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    assert (table["genre"] == [sorted(GENRES)[i] for i in p.argmax(axis=1)]).all()
    # Without timeline: one row for the song.
    _predict(segment_model, f"output={tmp_path / 'song.csv'}", f"inputs=[{clip}]")
    song = pd.read_csv(tmp_path / "song.csv")
    assert len(song) == 1 and "start" not in song.columns


def test_stretches_merge_consecutive_windows_of_one_top_genre():
    window_probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    spans = np.array([[0, 3], [3, 6], [6, 9], [9, 10.5]], dtype=float)
    prediction = Prediction(
        file="song.wav",
        probabilities={"rock": 0.65, "blues": 0.35},
        windows=4,
        duration=10.5,
        window_probabilities=window_probs,
        window_spans=spans,
    )
    assert prediction.stretches() == [(0, 6, "rock"), (6, 9, "blues"), (9, 10.5, "rock")]
    assert prediction.timeline()[3] == {
        "start": 9.0,
        "end": 10.5,
        "probabilities": {"rock": 0.6, "blues": 0.4},
    }
    from genreclf.predict import stretches_line

    assert (
        stretches_line(prediction)
        == "song.wav: 0\u20136 s rock, 6\u20139 s blues, 9\u201310.5 s rock"
    )
