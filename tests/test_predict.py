"""Predict: a tiny trained model names the genre of files, folders, re-encoded and long audio."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from genreclf.core.registry import conf_values
from genreclf.data.synthetic import GENRES, render_clip
from tests.e2e import copy_store, run_command
from tests.options import make, transform_option

SR = 22050


def _clip(genre: str, index: int, duration: float = 3.0) -> np.ndarray:
    return render_clip(genre, index, duration=duration, sr=SR, seed=1)


def _write(path, y, sr, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, sr, **kwargs)
    return path


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    """Good and bad inputs: a generator WAV, its 44.1 kHz stereo re-encodings, a 3-min file."""
    import librosa

    root = tmp_path_factory.mktemp("audio")
    y = _clip("jazz", 7)
    stereo = librosa.resample(y, orig_sr=SR, target_sr=44100)
    stereo = np.stack([stereo, 0.7 * stereo], axis=1)
    files = {
        "wav": _write(root / "clip.wav", y, SR, subtype="PCM_16"),
        "ogg": _write(root / "clip.ogg", stereo, 44100, format="OGG"),
        "long": _write(root / "long.flac", _clip("rock", 0, 180.0), SR),
        "folder_a": _write(root / "folder" / "a.wav", _clip("pop", 1), SR),
        "folder_b": _write(root / "folder" / "sub" / "b.au", _clip("metal", 1), SR),
    }
    if "MP3" in sf.available_formats():
        files["mp3"] = _write(root / "clip.mp3", stereo, 44100, format="MP3")
    (root / "folder" / "notes.txt").write_text("not audio, and ignored inside folders\n")
    bad = root / "bad"
    bad.mkdir()
    (bad / "notes.txt").write_text("these are not the samples you are looking for\n")
    (bad / "empty.flac").write_bytes(b"")
    good = (root / "clip.wav").read_bytes()
    (bad / "corrupt.wav").write_bytes(good[:44] + bytes(range(256)) * 8)  # header, then junk
    (root / "no_audio_here").mkdir()
    files |= {
        "notes": bad / "notes.txt",
        "empty": bad / "empty.flac",
        "corrupt": bad / "corrupt.wav",
        "missing": root / "missing.mp3",
        "empty_folder": root / "no_audio_here",
    }
    return root, files


@pytest.fixture(scope="module")
def trained(tiny_model, tmp_path_factory):
    """The session's tiny model on synthetic data, registered as ``tiny`` with alias
    ``champion``, in this module's copy of its store."""
    cwd = copy_store(tiny_model, tmp_path_factory.mktemp("predict") / "run")
    run_id = re.search(r"MLflow run: (\w+)", tiny_model.result.stdout).group(1)
    assert "Model: models:/tiny/1" in tiny_model.result.stdout
    return cwd, tiny_model.cache, run_id


def _predict(trained, *overrides):
    cwd, cache, _ = trained
    return run_command("genreclf.predict", *overrides, cwd=cwd, cache=cache)


def _check_probabilities(probs: dict):
    assert set(probs) == set(GENRES)
    assert all(0.0 <= p <= 1.0 for p in probs.values())
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)


@pytest.fixture(scope="module")
def good_run(trained, audio):
    """``predict`` on every good input, by run URI, with JSON output."""
    cwd, _, run_id = trained
    root, files = audio
    names = ["wav", "ogg", "mp3", "long"]
    inputs = [str(files[n]) for n in names if n in files] + [str(root / "folder")]
    result = _predict(
        trained,
        f"model_uri=runs:/{run_id}/model",
        f"inputs=[{','.join(inputs)}]",
        "output=out.json",
    )
    return result, json.loads((cwd / "out.json").read_text()) if result.returncode == 0 else None


@pytest.mark.slow
def test_predicts_every_good_input(good_run, audio):
    result, entries = good_run
    _, files = audio
    assert result.returncode == 0, result.stderr[-3000:]
    by_file = {e["file"]: e for e in entries}
    expected = [
        files[n] for n in ("wav", "ogg", "mp3", "long", "folder_a", "folder_b") if n in files
    ]
    assert sorted(by_file) == sorted(str(f) for f in expected)  # notes.txt in the folder ignored
    for entry in entries:
        assert entry["genre"] in GENRES
        _check_probabilities(entry["probabilities"])
        assert entry["genre"] == max(entry["probabilities"], key=entry["probabilities"].get)
    # seed174 is a summary set: a 3-minute track is cut into clips as long as the training
    # clips (TINY_DATA: 3 s), sixty of them, averaged.
    assert by_file[str(files["long"])]["windows"] == 60
    assert by_file[str(files["long"])]["duration"] == pytest.approx(180.0)
    assert by_file[str(files["wav"])]["windows"] == 1
    # The screen table: each file with its top 3 genres.
    lines = [line for line in result.stdout.splitlines() if str(files["wav"]) in line]
    assert len(lines) == 1 and len(re.findall(r"\b[a-z]+ [01]\.\d\d\b", lines[0])) == 3


@pytest.mark.slow
def test_bad_inputs_are_named_and_others_answered(trained, audio):
    cwd, _, _ = trained
    _, files = audio
    bad = ["missing", "notes", "empty", "corrupt", "empty_folder"]
    inputs = [str(files["wav"])] + [str(files[n]) for n in bad]
    result = _predict(
        trained, "model_uri=models:/tiny@champion", f"inputs=[{','.join(inputs)}]", "output=o.csv"
    )
    assert result.returncode == 1, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    for name in bad:
        assert sum(str(files[name]) in line for line in errors) == 1, (name, errors)
    assert any("empty file" in line for line in errors)
    assert any("no such file" in line for line in errors)
    table = pd.read_csv(cwd / "o.csv")
    assert table["file"].tolist() == [str(files["wav"])]
    assert table.loc[0, "genre"] in GENRES
    assert {"genre_2", "probability_2", "genre_3", "probability_3"} <= set(table.columns)
    probs = table.filter(like="p_").iloc[0]
    assert sum(probs) == pytest.approx(1.0, abs=1e-5)
    assert table.loc[0, "probability"] == pytest.approx(probs.max())


@pytest.mark.slow
def test_registered_version_loads_in_process_and_agrees(trained, audio, good_run):
    from genreclf.predict import load_genre_model

    cwd, _, _ = trained
    _, files = audio
    _, entries = good_run
    model = load_genre_model("models:/tiny/1", f"sqlite:///{cwd}/mlruns/mlflow.db")
    assert model.class_names == sorted(GENRES)
    assert model.spec["source"] == "audio" and model.spec["recipe"] == "seed174"
    assert model.spec["sample_rate"] == SR  # seed174 is native-rate: files are resampled to 22050
    prediction = model.predict_file(files["wav"])
    expected = next(e for e in entries if e["file"] == str(files["wav"]))["probabilities"]
    for genre, p in expected.items():
        assert prediction.probabilities[genre] == pytest.approx(p, abs=1e-6)
    # A summary set's windows are clips of a long track as long as the training clips
    # (the package records 3 s), each with its own answer.
    assert model.spec["clip_seconds"] == 3.0
    long = model.predict_file(files["long"])
    np.testing.assert_allclose(long.window_spans, [[3 * i, 3 * (i + 1)] for i in range(60)])
    assert long.window_probabilities.shape == (60, len(GENRES))
    np.testing.assert_allclose(long.window_probabilities.sum(axis=1), 1.0, atol=1e-9)
    mean = long.window_probabilities.mean(axis=0)
    np.testing.assert_allclose(mean, list(long.probabilities.values()), atol=1e-9)


@pytest.mark.slow
def test_best_run_of_experiment(trained):
    from genreclf.tracking.models import ModelRefError, best_model_uri, fetch_model
    from genreclf.tracking.store import Store

    cwd, _, run_id = trained
    store = Store(f"sqlite:///{cwd}/mlruns/mlflow.db")
    assert best_model_uri(store, "genreclf") == f"runs:/{run_id}/model"
    with pytest.raises(ModelRefError, match="no experiment 'nope'"):
        best_model_uri(store, "nope")
    # The logged model is an MLflow model of flavors genreclf and python_function.
    # (an MLflow 3 logged model, reached as runs:/<id>/model)
    _, folder = fetch_model(store, f"runs:/{run_id}/model", cwd / "fetched_best")
    files = {p.name for p in folder.iterdir()}
    # the package's data files, and the models-from-code entry point `mlflow models serve` runs
    data = {"genreclf.json", "weights.safetensors", "transform.npz"}
    assert files == {"MLmodel", "genreclf_pyfunc.py", *data}


# ------------------------------------------- models trained on a feature table (in-process)


def _table_model(tmp_path, csv, recipe=None):
    """Log an (untrained) head on a feature table's datamodule, the way train does."""

    from genreclf.data.sources import TableSource
    from genreclf.datamodule import GenreDataModule
    from genreclf.features.build import build_feature_table
    from genreclf.models.heads import DenseHead
    from genreclf.serving.publish import log_genre_model
    from genreclf.split import HoldoutSplit
    from genreclf.tracking.store import Store

    source = make(TableSource, csv, recipe=recipe)
    table = build_feature_table(source, None, None)
    datamodule = make(
        GenreDataModule,
        table,
        make(HoldoutSplit),
        transform=transform_option("log_standard"),
    )
    datamodule.setup()
    params = conf_values("model", "dense") | {"hidden_size": 8, "num_layers": 1}
    head = make(DenseHead, datamodule.input_shape, datamodule.num_classes, **params)
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    store = Store(uri)
    run_id = store.create_run(store.experiment_id("tables"))
    model_uri = log_genre_model(
        store,
        run_id,
        head=head,
        head_params=params,
        datamodule=datamodule,
        feature_set=None,
        source=source,
    )
    return model_uri, uri, datamodule


def test_table_model_infers_seed174_and_reproduces_its_features(shared_data, tmp_path):
    from genreclf.audio import load_audio
    from genreclf.predict import load_genre_model

    csv = shared_data / "seed_features.csv"
    model_uri, uri, datamodule = _table_model(tmp_path, csv)
    model = load_genre_model(model_uri, uri)
    assert model.spec["source"] == "table" and model.spec["recipe"] == "seed174"
    assert "inferred" in model.spec["recipe_note"]
    assert model.spec["sample_rate"] == 22050 and "assumed" in model.spec["sample_rate_note"]
    clip = shared_data / "gtzan_mini" / "genres_original" / "blues" / "blues.00000.wav"
    # Audio -> features -> transform gives the transformed table row of the same clip.
    y, sr = load_audio(clip, sr=model.feature_set.sr)
    row = pd.read_csv(csv).query("filename == 'blues/blues.00000.wav'")[datamodule.table.columns]
    expected = datamodule.transform.transform(row)[0]
    np.testing.assert_allclose(model.features(y, sr)[0], expected, atol=1e-3)
    prediction = model.predict_file(clip)
    _check_probabilities(prediction.probabilities)


def test_table_model_without_known_recipe_says_what_it_needs(shared_data, tmp_path):
    from genreclf.inference import ModelLoadError
    from genreclf.inference.spec import recipe_for_table
    from genreclf.predict import load_genre_model

    frame = pd.read_csv(shared_data / "seed_features.csv").groupby("label").head(5)
    features = [c for c in frame.columns if c not in ("label", "filename")]
    renamed = frame.rename(columns={c: f"feat_{i}" for i, c in enumerate(features)})
    csv = tmp_path / "anonymous.csv"
    renamed.to_csv(csv, index=False)
    model_uri, uri, _ = _table_model(tmp_path, csv)
    with pytest.raises(ModelLoadError, match=r"cannot compute.*174 features \(feat_0, "):
        load_genre_model(model_uri, uri)
    assert recipe_for_table("kaggle30", features)["features"] is None
    assert "not one genreclf can compute" in recipe_for_table("kaggle30", features)["note"]
    assert recipe_for_table("seed174", features)["note"].startswith("declared")
    assert recipe_for_table("summary", features)["features"] is None


def test_native_rate_features_remember_the_training_files_rate(tmp_path):
    from genreclf.data.sources import FolderSource
    from genreclf.features.sets import LogMelSegments, Seed174
    from genreclf.inference.spec import training_sample_rate

    for i, rate in enumerate((44100, 44100, 48000)):
        _write(tmp_path / "rock" / f"{i}.wav", np.zeros(rate // 10, np.float32), rate)
    source = make(FolderSource, tmp_path)
    assert training_sample_rate(source, make(Seed174)) == (
        44100,
        "most common rate of the training files",
    )
    assert (
        training_sample_rate(source, make(LogMelSegments))[0] == 22050
    )  # the set resamples itself
