"""Model folders in the store: logged, registered, found by best:, fetched, refused."""

from __future__ import annotations

import pytest

from genreclf.tracking import names
from genreclf.tracking.models import (
    ModelRefError,
    best_model_uri,
    check_registry_name,
    fetch_model,
    log_model,
)
from genreclf.tracking.store import Store


@pytest.fixture
def store(tmp_path):
    return Store(f"sqlite:///{tmp_path}/mlruns/mlflow.db")


def _folder(tmp_path, name="pkg"):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "genreclf.json").write_text("{}")
    return folder


def _run(store, eid, acc, tag=True):
    run_id = store.create_run(eid)
    store.log_batch(
        run_id, {}, [__import__("mlflow").entities.Metric(names.BEST_VAL_ACC, acc, 0, 0)]
    )
    store.end_run(run_id, names.FINISHED)
    return run_id


def test_log_register_fetch_and_best(store, tmp_path):
    eid = store.experiment_id("genreclf")
    low, high = _run(store, eid, 0.5), _run(store, eid, 0.9)
    bare = _run(store, eid, 1.0)  # the best score, but no model: passed over
    uri = log_model(store, low, _folder(tmp_path, "a"), {"format": 2}, "genres", "champion")
    assert uri == "models:/genres/1"
    assert log_model(store, high, _folder(tmp_path, "b"), {"format": 2}) == f"runs:/{high}/model"
    assert best_model_uri(store, "genreclf") == f"runs:/{high}/model"
    assert bare not in best_model_uri(store, "genreclf")
    resolved, folder = fetch_model(store, "best:genreclf", tmp_path / "d1")
    assert resolved == f"runs:/{high}/model"
    assert sorted(p.name for p in folder.iterdir()) == ["MLmodel", "genreclf.json"]
    for ref in ("models:/genres/1", "models:/genres@champion"):
        _, folder = fetch_model(store, ref, tmp_path / ref.replace("/", "_").replace(":", ""))
        assert (folder / "genreclf.json").is_file()
    assert store.get_run(high).data.tags[names.MODEL_FORMAT_TAG] == "2"


def test_bad_references_are_refused_in_one_line_before_any_download(store, tmp_path):
    eid = store.experiment_id("genreclf")
    run_id = _run(store, eid, 0.5)
    store.log_text(run_id, "not a model", "model/readme.txt")
    dst = tmp_path / "dst"
    cases = {
        f"runs:/{run_id}/model": "not an MLflow model",
        "models:/nope/1": "no such registered model",
        "models:/nope": "models:/<name>/<version>",
        "best:nothing": "no experiment 'nothing'",
        "best:genreclf": "no finished run",
        str(tmp_path / "missing"): "no such model folder",
    }
    for ref, message in cases.items():
        with pytest.raises(ModelRefError, match=message) as info:
            fetch_model(store, ref, dst)
        assert "\n" not in str(info.value)
    assert not dst.exists()  # nothing was downloaded
    missing = Store(f"sqlite:///{tmp_path}/elsewhere/mlflow.db")
    with pytest.raises(ModelRefError, match="no MLflow database"):
        fetch_model(missing, "best:genreclf", dst)


def test_registry_names_are_checked_up_front():
    check_registry_name("genres.v2", "champion")
    with pytest.raises(ModelRefError, match="registry.name=bad/name"):
        check_registry_name("bad/name")
    with pytest.raises(ModelRefError, match="registry.alias"):
        check_registry_name("ok", "bad alias")
