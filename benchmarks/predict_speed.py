"""Speed of ``predict`` on a 3-minute track: warm process, then cold start.

    python benchmarks/predict_speed.py [--model-uri URI --tracking-uri URI] [--repeat 3]

The track is real music: the first six GTZAN clips of ``../shared/data/gtzan_mini``
(blues ... jazz) joined into 180 s, written as a 22050 Hz mono WAV (GTZAN's format)
and as a 44.1 kHz stereo FLAC (a typical ripped song, resampled to the 22050 Hz of
the training audio before the features).

Without ``--model-uri``, a model is logged into a temporary SQLite store the way
``train`` logs it: seed174 features (inferred from ``seed_features.csv``), the
``log_standard`` transform and the default dense head, untrained (the speed does not
depend on the weights).

1. Warm: ``load_genre_model`` once, one untimed prediction (numba and librosa warm-up),
   then ``--repeat`` timed ``predict_file`` calls; wall and CPU time are printed.
2. Cold: ``python -m genreclf.predict`` as a fresh subprocess on the WAV, wall time
   (interpreter start, imports, model download and load, prediction, output).

The load average is printed too: on a busy shared machine, wall times are inflated.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz")


def three_minute_track(out: Path) -> dict[str, Path]:
    """Six 30-s GTZAN clips joined: a 22050 Hz mono WAV and a 44.1 kHz stereo FLAC."""
    import librosa

    parts = []
    for genre in GENRES:
        y, sr = sf.read(SHARED / "gtzan_mini" / "genres_original" / genre / f"{genre}.00000.wav")
        parts.append(y[: 30 * sr])
    y = np.concatenate(parts).astype(np.float32)
    wav = out / "track_3min_22k_mono.wav"
    sf.write(wav, y, sr, subtype="PCM_16")
    hi = librosa.resample(y, orig_sr=sr, target_sr=44100)
    flac = out / "track_3min_44k_stereo.flac"
    sf.write(flac, np.stack([hi, 0.9 * hi], axis=1), 44100)
    return {"22050 Hz mono WAV": wav, "44.1 kHz stereo FLAC": flac}


def log_table_model(folder: Path) -> tuple[str, str]:
    """Log an untrained default dense head on seed_features.csv; return (model, tracking) URIs."""
    from hydra import compose, initialize_config_dir

    from genreclf import build
    from genreclf.config.checks import check_train_config
    from genreclf.features.build import build_feature_table
    from genreclf.serving.publish import log_genre_model
    from genreclf.tracking.store import Store

    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "config",
            ["data=table", f"data.path={SHARED / 'seed_features.csv'}", "transforms=log_standard"],
        )
    config = check_train_config(cfg)
    source = build.data_source(config)
    table = build_feature_table(source, None, None)
    datamodule = build.datamodule(config, table)
    head = build.head(config, datamodule.input_shape, datamodule.num_classes)
    uri = f"sqlite:///{folder}/mlruns/mlflow.db"
    store = Store(uri)
    run_id = store.create_run(store.experiment_id("benchmark"))
    model_uri = log_genre_model(
        store,
        run_id,
        head=head,
        head_params=config.model.params,
        datamodule=datamodule,
        feature_set=build.feature_set(config),
        source=source,
    )
    return model_uri, uri


def warm(model_uri: str, tracking_uri: str, tracks: dict[str, Path], repeat: int) -> None:
    from genreclf.predict import load_genre_model

    start = time.perf_counter()
    model = load_genre_model(model_uri, tracking_uri)
    print(f"load_genre_model: {time.perf_counter() - start:.2f} s")
    for name, path in tracks.items():
        first = time.perf_counter()
        prediction = model.predict_file(path)
        first = time.perf_counter() - first
        walls, cpus = [], []
        for _ in range(repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            model.predict_file(path)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        print(
            f"warm, 3-min {name}: median {statistics.median(walls):.2f} s wall "
            f"(min {min(walls):.2f}, first call {first:.2f}), "
            f"{statistics.median(cpus):.2f} s CPU; {prediction.windows} windows, "
            f"top genre {prediction.genre}"
        )


def cold(model_uri: str, tracking_uri: str, track: Path, repeat: int) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    command = [
        sys.executable,
        "-m",
        "genreclf.predict",
        f"model_uri={model_uri}",
        f"tracking.uri={tracking_uri}",
        f"inputs=[{track}]",
    ]
    walls = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        if result.returncode != 0:
            sys.exit(f"predict failed:\n{result.stderr[-2000:]}")
    shown = ", ".join(f"{w:.2f}" for w in walls)
    print(f"cold start, python -m genreclf.predict on the 3-min WAV: {shown} s wall")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", help="model to use (default: log one, see above)")
    parser.add_argument("--tracking-uri", help="store of --model-uri")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each kind")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tracks = three_minute_track(folder)
        model_uri, tracking_uri = args.model_uri, args.tracking_uri
        if model_uri is None:
            model_uri, tracking_uri = log_table_model(folder)
        print(f"model: {model_uri}")
        warm(model_uri, tracking_uri, tracks, args.repeat)
        cold(model_uri, tracking_uri, tracks["22050 Hz mono WAV"], max(1, args.repeat - 1))
    print(f"load average after: {os.getloadavg()[0]:.2f} (target: warm <= 1.5 s on 2 idle cores)")


if __name__ == "__main__":
    main()
