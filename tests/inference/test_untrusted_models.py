"""Nothing a shared store holds runs code: planted payloads in models, metadata and configs.

A real model is trained into a real SQLite store; then an attacker logs runs whose
model folders hold harmless payloads (a pickle that creates a marker file when it is
unpickled, a module that creates one when it is imported, ``_target_`` nodes that copy
a file to a marker), one planted place at a time. ``predict`` (by reference, and by
its default ``best:``) and ``report`` run on them as real subprocesses. None may run a
payload, and each bad model is answered with one line naming the file at fault.
"""

from __future__ import annotations

import json
import pickle
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from tests.e2e import TINY_DATA, run_command, run_in_new_folder

pytestmark = pytest.mark.slow


class _Payload:
    """Unpickling it calls ``open(marker, "w")``: creates the marker, harmlessly."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A trained model, and an attacker's runs beside it in the same store."""
    cwd, cache, result = run_in_new_folder(
        tmp_path_factory, "untrusted", "genreclf.train", *TINY_DATA, "trainer.max_epochs=2"
    )
    run_id = re.search(r"MLflow run: (\w+)", result.stdout).group(1)
    uri = f"sqlite:///{cwd}/mlruns/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    good = Path(client.download_artifacts(run_id, "model", str(cwd / "good_copy")))
    markers = cwd / "markers"
    markers.mkdir()
    payload = pickle.dumps(_Payload(markers / "unpickled"))
    # Importing this module (as a pickle module named by a model) creates a marker.
    (cwd / "payloadmod.py").write_text(f"open({str(markers / 'imported')!r}, 'w').close()\n")
    copy_target = {"_target_": "shutil.copyfile", "src": str(good / "MLmodel")}
    experiment = client.get_experiment_by_name("genreclf").experiment_id

    def plant(name: str, edit, best_val_acc: float = 0.5) -> str:
        folder = cwd / "planted" / name
        shutil.copytree(good, folder)
        edit(folder)
        run = client.create_run(experiment, run_name=f"attacker-{name}")
        client.log_metric(run.info.run_id, "best_val_acc", best_val_acc)
        client.set_tag(run.info.run_id, "genreclf.model_format", "2")
        client.log_artifacts(run.info.run_id, str(folder), "model")
        client.set_terminated(run.info.run_id)
        return f"runs:/{run.info.run_id}/model"

    def spec_edit(change):
        def edit(folder: Path) -> None:
            spec = json.loads((folder / "genreclf.json").read_text())
            change(spec)
            (folder / "genreclf.json").write_text(json.dumps(spec))

        return edit

    def pickled(file: str):
        return lambda folder: (folder / file).write_bytes(payload)

    def legacy(folder: Path) -> None:
        """The layout of models logged by earlier genreclf versions, every file a payload."""
        spec = json.loads((folder / "genreclf.json").read_text())
        for path in folder.iterdir():
            path.unlink()
        (folder / "data").mkdir()
        (folder / "data" / "model.pth").write_bytes(payload)
        (folder / "data" / "pickle_module_info.txt").write_text("payloadmod\n")
        (folder / "extra_files").mkdir()
        (folder / "extra_files" / "transform.joblib").write_bytes(payload)
        old = {**spec, "version": 1, "transform": "transform.joblib"}
        old["features"] = copy_target | {"dst": str(markers / "metadata_target")}
        meta = {
            "flavors": {"pytorch": {"model_data": "data", "pickle_module_name": "payloadmod"}},
            "metadata": {"genreclf": old},
        }
        (folder / "MLmodel").write_text(yaml.safe_dump(meta))

    outside = cwd / "outside.npz"
    outside.write_bytes(payload)
    targets = copy_target | {"dst": str(markers / "spec_target")}
    uris = {
        "spec pickled": plant("spec", pickled("genreclf.json")),
        "weights pickled": plant("weights", pickled("weights.safetensors")),
        "transform pickled": plant("transform", pickled("transform.npz")),
        "MLmodel pickled": plant("mlmodel", pickled("MLmodel")),
        "legacy layout": plant("legacy", legacy),
        "transform outside (relative)": plant(
            "rel", spec_edit(lambda s: s["transform"].update(file="../../../../outside.npz"))
        ),
        "transform outside (absolute)": plant(
            "abs", spec_edit(lambda s: s["transform"].update(file=str(outside)))
        ),
        "_target_ in features": plant(
            "features_target", spec_edit(lambda s: s["features"].update(targets))
        ),
        "_target_ in head params": plant(
            "head_target", spec_edit(lambda s: s["head"]["params"].update(targets))
        ),
        # The attacker's best run: predict's default best:genreclf picks it.
        "best": plant("best", pickled("weights.safetensors"), best_val_acc=0.99),
    }
    # A symlink out of a local model folder.
    linked = cwd / "planted" / "linked"
    shutil.copytree(good, linked)
    (linked / "transform.npz").unlink()
    (linked / "transform.npz").symlink_to(outside)
    uris["symlink out (local folder)"] = str(linked)
    # A run whose logged config.yaml holds a _target_: the best one (report picks it; it
    # has no model, so best: passes it over for the one above).
    run = client.create_run(experiment, run_name="attacker-config")
    for key in ("best_val_acc", "test_acc", "test_f1"):
        client.log_metric(run.info.run_id, key, 1.0)
    client.log_param(run.info.run_id, "model._target_", "genreclf.models.heads.DenseHead")
    config = {
        "data": copy_target | {"dst": str(markers / "config_data")},
        "features": {"_target_": "genreclf.features.sets.Seed174"},
        "extraction": {"_target_": "builtins.exec", "source": "open('x', 'w')"},
        "transforms": {"_target_": "shutil.copyfile", "src": "a", "dst": "b"},
    }
    client.log_text(run.info.run_id, yaml.safe_dump(config), "config.yaml")
    client.set_terminated(run.info.run_id)
    return {"cwd": cwd, "cache": cache, "uris": uris, "markers": markers, "good": run_id}


def _errors(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def test_planted_models_are_refused_in_one_line_and_run_nothing(store):
    cwd, cache = store["cwd"], store["cache"]
    clip = next((cache / "synthetic").rglob("*.wav"))

    def predict(uri: str):
        return run_command(
            "genreclf.predict", f"model_uri={uri}", f"inputs=[{clip}]", cwd=cwd, cache=cache
        )

    expected = {  # what the one line must name
        "spec pickled": "genreclf.json",
        "weights pickled": "weights.safetensors",
        "transform pickled": "transform.npz",
        "legacy layout": "trust_pickle=true",
        "transform outside (relative)": "outside.npz",
        "transform outside (absolute)": "outside.npz",
        "_target_ in features": "genreclf.json",
        "_target_ in head params": "_target_",
        "best": "weights.safetensors",
        "symlink out (local folder)": "points outside",
    }
    uris = dict(store["uris"])
    uris["best"] = "best:genreclf"  # the default, resolved to the attacker's best run
    with ThreadPoolExecutor(2) as pool:
        results = dict(zip(uris, pool.map(predict, uris.values()), strict=True))
    # An MLmodel file is never parsed for a package: the rest of the model is genuine,
    # so it predicts, and the planted file is ignored.
    ignored = results.pop("MLmodel pickled")
    assert ignored.returncode == 0 and not _errors(ignored), ignored.stderr[-2000:]
    for case, result in results.items():
        errors = _errors(result)
        assert result.returncode == 2, (case, result.stderr[-2000:])
        assert len(errors) == 1 and "Traceback" not in result.stderr, (case, result.stderr[-2000:])
        assert expected[case] in errors[0], (case, errors[0])
    assert sorted(p.name for p in store["markers"].iterdir()) == []


def test_the_real_model_still_predicts_beside_the_planted_ones(store):
    cwd, cache = store["cwd"], store["cache"]
    clip = next((cache / "synthetic").rglob("*.wav"))
    result = run_command(
        "genreclf.predict",
        f"model_uri=runs:/{store['good']}/model",
        f"inputs=[{clip}]",
        cwd=cwd,
        cache=cache,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert str(clip) in result.stdout


def test_report_never_instantiates_a_logged_config(store):
    cwd, cache = store["cwd"], store["cache"]
    result = run_command(
        "genreclf.report", "experiment=genreclf", "log_to_mlflow=false", cwd=cwd, cache=cache
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Best run on validation" in result.stdout
    page = (cwd / "reports" / "genreclf" / "report.html").read_text()
    assert "No PCA map" in page and "shutil.copyfile" in page
    assert sorted(p.name for p in store["markers"].iterdir()) == []
