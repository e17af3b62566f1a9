"""End to end: ``train features=musicnn_fusion`` on real excerpts as a 3-fold configuration,
a second fusion of the same parts extracts nothing, the fused model's package predicts a
real song and checks its parts at load, and a mixed layout is one line, exit 2."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import require_shared
from tests.e2e import excerpt_subset, run_command

pytestmark = pytest.mark.slow

PER_GENRE = 6
FAST = ["model=linear", "trainer.max_epochs=5", "extraction.n_jobs=1", "extraction.progress=false"]


@pytest.fixture(scope="module")
def fused(tmp_path_factory):
    """A linear probe on two musicnn networks, 3 folds, trained by the real command."""
    root = excerpt_subset(tmp_path_factory, PER_GENRE)
    cwd = tmp_path_factory.mktemp("fusion_run")
    cache = tmp_path_factory.mktemp("fusion_cache")
    data = ["data=gtzan", f"data.root={root.parent}"]
    result = run_command(
        "genreclf.train",
        *data,
        "features=musicnn_fusion",
        "split=kfold",
        "split.n_splits=3",
        *FAST,
        cwd=cwd,
        cache=cache,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, cache, data, result


def _runs(cwd):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{cwd}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("genreclf").experiment_id
    return client.search_runs([experiment], order_by=["attributes.start_time ASC"])


def test_a_fusion_of_two_musicnn_networks_trains_as_a_three_fold_configuration(fused):
    from genreclf.tracking import names

    cwd, _, _, result = fused
    assert "3 fold(s) x 1 seed(s)" in result.stdout
    runs = _runs(cwd)
    (config,) = [r for r in runs if r.data.tags.get(names.ROLE_TAG) == names.CONFIG_ROLE]
    members = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == config.info.run_id]
    assert len(members) == 3
    assert config.data.tags[names.FEATURES_TAG] == "fusion: musicnn + musicnn(model=MSD_vgg)"
    assert config.data.params["features"] == "musicnn_fusion"
    assert "'model': 'MSD_vgg'" in config.data.params["features.parts"]
    logged = " ".join((result.stdout + result.stderr).split())
    assert (
        f"features: musicnn: {PER_GENRE * 10} tracks (0 cached, {PER_GENRE * 10} computed)"
        in logged
    )
    assert "part entries cached" in logged


def _cache_entries(cache):
    return sorted(p.relative_to(cache) for p in cache.rglob("*.npy"))


def test_a_second_fusion_sharing_the_parts_extracts_nothing(fused, tmp_path):
    cwd, cache, data, _ = fused
    before = _cache_entries(cache)
    assert len(before) == 2 * PER_GENRE * 10  # each part's own entries
    parts = "features.parts=[{name:musicnn,model:MSD_vgg},{name:musicnn}]"
    result = run_command(
        "genreclf.train", *data, "features=fusion", parts, *FAST, cwd=tmp_path, cache=cache
    )
    assert result.returncode == 0, result.stderr[-3000:]
    logged = " ".join((result.stdout + result.stderr).split())
    n = PER_GENRE * 10
    assert logged.count(f"features: musicnn: {n} tracks ({n} cached, 0 computed)") == 2
    assert f"({2 * n} part entries cached, 0 computed)" in logged
    assert _cache_entries(cache) == before


def test_the_fused_models_package_predicts_a_real_song(fused):
    cwd, cache, _, _ = fused
    song = require_shared("gtzan_mini", "genres_original", "metal", "metal.00000.wav")
    out = cwd / "genres.json"
    result = run_command(
        "genreclf.predict", f"inputs={song}", f"output={out}", cwd=cwd, cache=cache
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "features: fusion: musicnn + musicnn(model=MSD_vgg)" in result.stdout + result.stderr
    (row,) = json.loads(out.read_text())
    assert row["windows"] >= 10  # a 30 s song in clips as long as the 2-3 s excerpts
    probs = row["probabilities"]
    assert len(probs) == 10 and row["genre"] == max(probs, key=probs.get)
    assert sum(probs.values()) == pytest.approx(1.0)


def test_the_package_records_its_parts_and_checks_them_at_load(fused, tmp_path):
    from genreclf.inference import ModelLoadError, load_model

    cwd, _, _, _ = fused
    (found,) = list((cwd / "mlruns").rglob("genreclf.json"))
    spec = json.loads(found.read_text())
    assert [p["params"]["model"] for p in spec["features"]["parts"]] == ["MSD_musicnn", "MSD_vgg"]
    assert spec["columns"][0] == "p1.musicnn.penultimate_1" and len(spec["columns"]) == 456
    assert load_model(found.parent).feature_set.describe().startswith("fusion: musicnn + ")
    for edit, message in [
        (("layer", "taggram"), "now computes other columns"),
        (("pooling", "segments"), "must share the clip and window layout"),
        (("model", "MSD_vggg"), "parts[1].model=MSD_vggg: must be one of"),
    ]:
        folder = tmp_path / edit[0]
        shutil.copytree(found.parent, folder)
        changed = json.loads(found.read_text())
        changed["features"]["parts"][1]["params"][edit[0]] = edit[1]
        (folder / "genreclf.json").write_text(json.dumps(changed))
        with pytest.raises(ModelLoadError, match=message.replace("[", r"\[").replace("]", r"\]")):
            load_model(folder)


def test_a_mixed_layout_is_one_line_and_exit_2(tmp_path):
    segments = "{name:musicnn,model:MSD_vgg,pooling:segments}"
    result = run_command(
        "genreclf.train",
        "features=fusion",
        f"features.parts=[{{name:musicnn}},{segments}]",
        cwd=tmp_path,
        cache=tmp_path / "cache",
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: features.parts[1] (musicnn) gives one row per 3 s window, parts[0] (musicnn) "
        "one row per clip: fused parts must share the clip and window layout"
    ]
    assert not (tmp_path / "cache").exists() and not (tmp_path / "mlruns").exists()


def test_the_fused_model_serves_base64_audio_as_mlflow_models_serve_loads_it(fused):
    """The logged package through MLflow's pyfunc loader, which `mlflow models serve` runs
    (tests/serving/test_serve.py serves a model over HTTP): a real song, and junk."""
    import base64

    import mlflow.pyfunc
    import pandas as pd

    cwd, _, _, _ = fused
    (found,) = list((cwd / "mlruns").rglob("genreclf.json"))
    assert (found.parent / "MLmodel").is_file()
    model = mlflow.pyfunc.load_model(str(found.parent))
    song = require_shared("gtzan_mini", "genres_original", "metal", "metal.00000.wav")
    records = [
        {"audio_base64": base64.b64encode(song.read_bytes()).decode()},
        {"audio_base64": base64.b64encode(b"not audio").decode()},
    ]
    good, junk = model.predict(pd.DataFrame(records)).to_dict("records")
    genres = [c for c in good if c not in ("file", "genre", "error")]
    assert len(genres) == 10 and good["error"] == "" and good["genre"] in genres
    assert sum(good[g] for g in genres) == pytest.approx(1.0)
    assert junk["genre"] is None and junk["error"]
