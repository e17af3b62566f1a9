"""Nothing a shared store holds runs code or exhausts memory: planted models and configs.

A real model is trained into a real SQLite store; then an attacker logs runs whose
model folders hold harmless payloads (a pickle that creates a marker file when it is
unpickled, a module that creates one when it is imported, ``_target_`` nodes that copy
a file to a marker), one planted place at a time. ``predict`` (by reference, and by
its default ``best:``) and ``report`` run on them as real subprocesses. None may run a
payload, and each bad model is answered with one line naming the file at fault.

Other planted models are hostile by size: specs whose head would hold billions of
values, deeply nested or huge-numbered JSON, npz headers that claim a terabyte, a
compressed npz that inflates to 2 GB, NaN weights. Each is refused in one line, with
exit status 2 and nothing written to the store, by a ``predict`` whose peak memory
(``getrusage(RUSAGE_CHILDREN)`` in a fresh wrapper process) stays under 600 MB.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import yaml
from mlflow import MlflowClient
from numpy.lib import format as npy

from genreclf.config.runconfig import ARTIFACT
from genreclf.tracking.models import fetch_model
from genreclf.tracking.store import Store
from tests.e2e import copy_store, run_command

pytestmark = pytest.mark.slow


#: The most memory a ``predict`` refusing a hostile model may reach (its peak RSS).
PEAK_LIMIT_MB = 600
#: Bytes of zeros the compressed npz bomb inflates to (about 2 MB compressed).
BOMB_BYTES = 2 * 1024**3


class _Payload:
    """Unpickling it calls ``open(marker, "w")``: creates the marker, harmlessly."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def store(tiny_model, tmp_path_factory):
    """A trained model (the session's, in this module's copy of its store), and an
    attacker's runs beside it in the same store."""
    cwd = copy_store(tiny_model, tmp_path_factory.mktemp("untrusted") / "run")
    cache = tiny_model.cache
    run_id = re.search(r"MLflow run: (\w+)", tiny_model.result.stdout).group(1)
    uri = f"sqlite:///{cwd}/mlruns/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    # the genuine model: an MLflow 3 logged model, reached as genreclf reaches it
    good = fetch_model(Store(uri), f"runs:/{run_id}/model", cwd / "good_copy")[1]
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

    def head_params(**params):
        return spec_edit(lambda s: s["head"]["params"].update(params))

    def spec_text(text: str):
        return lambda folder: (folder / "genreclf.json").write_text(text)

    def huge_input_shape(folder: Path) -> None:
        spec = json.loads((folder / "genreclf.json").read_text())
        spec["input_shape"] = [10**400]
        (folder / "genreclf.json").write_text(json.dumps(spec))

    hostile = {
        "head of 20000 x 3": plant("h20000", head_params(hidden_size=20000, num_layers=3)),
        "head over the parameter cap": plant("hcap", head_params(hidden_size=16384, num_layers=3)),
        "hidden_size 1000000": plant("h1e6", head_params(hidden_size=1_000_000)),
        "num_layers 100000": plant("l1e5", head_params(num_layers=100_000)),
        "100,000 nested [": plant(
            "nested", spec_text('{"format": ' + "[" * 100_000 + "]" * 100_000 + "}")
        ),
        "input_shape [10**400]": plant("shape", huge_input_shape),
        "npz header of shape (10**12,)": plant("npzshape", _rewrite_npz(_terabyte_header)),
        "npz bomb": plant("bomb", _rewrite_npz(_inflating_to(BOMB_BYTES))),
        "NaN weights": plant("nan", _nan_weights),
    }
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
    # ... and a run_config.json, the record a report rebuilds a run from, shaped as the
    # good run's but naming other classes
    logged = json.loads(Path(client.download_artifacts(run_id, ARTIFACT, str(cwd))).read_text())
    logged["data"] |= {"target": "shutil.copyfile", "params": config["data"] | {"_target_": 0}}
    logged["data"]["params"].pop("_target_")
    logged["extraction"]["target"] = "builtins.exec"
    client.log_text(run.info.run_id, json.dumps(logged), ARTIFACT)
    client.set_terminated(run.info.run_id)
    return {
        "cwd": cwd,
        "cache": cache,
        "uris": uris,
        "hostile": hostile,
        "markers": markers,
        "good": run_id,
    }


def _rewrite_npz(entry):
    """An edit replacing the first array of ``transform.npz`` with ``entry(zf, name, array)``."""

    def edit(folder: Path) -> None:
        path = folder / "transform.npz"
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        first = sorted(arrays)[0]
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            entry(zf, f"{first}.npy", arrays.pop(first))
            for key, array in arrays.items():
                buf = io.BytesIO()
                npy.write_array(buf, array, allow_pickle=False)
                zf.writestr(f"{key}.npy", buf.getvalue())

    return edit


def _header(array_like: dict) -> bytes:
    buf = io.BytesIO()
    npy.write_array_header_1_0(buf, array_like)
    return buf.getvalue()


def _terabyte_header(zf: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    """A float64 header claiming 10**12 values (8 TB), with a few bytes of data."""
    header = _header({"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    zf.writestr(name, header + bytes(64))


def _inflating_to(size: int):
    """An entry holding the genuine array, then ``size`` bytes of zeros (deflated ~1000:1).

    Written in 16 MB chunks, so the test itself never holds the inflated bytes.
    """

    def entry(zf: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
        buf = io.BytesIO()
        npy.write_array(buf, array, allow_pickle=False)
        chunk = bytes(16 * 1024**2)
        with zf.open(name, "w", force_zip64=True) as fp:
            fp.write(buf.getvalue())
            for _ in range(size // len(chunk)):
                fp.write(chunk)

    return entry


def _nan_weights(folder: Path) -> None:
    """The genuine weights file, every float NaN."""
    import torch
    from safetensors.torch import load_file, save_file

    path = folder / "weights.safetensors"
    state = load_file(str(path))
    save_file(
        {
            k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
            for k, v in state.items()
        },
        str(path),
    )


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
        "legacy layout": "no genreclf.json",
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


# --- Hostile by size: refused unread, in one line, in bounded memory -----------------------

#: Runs a command, then writes its peak RSS (KB, as Linux gives ru_maxrss) to argv[1].
#: A fresh process per case: RUSAGE_CHILDREN is the largest of all children waited for.
_MEASURED = (
    "import resource, subprocess, sys\n"
    "status = subprocess.run(sys.argv[2:]).returncode\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "open(sys.argv[1], 'w').write(str(peak))\n"
    "sys.exit(status)\n"
)

_HEAD = r"genreclf\.json: (head: |its dense head would hold [\d,]+ values, more than)"
HOSTILE = {  # case: what its one line must say (a regular expression)
    "head of 20000 x 3": _HEAD,
    "head over the parameter cap": r"genreclf\.json: its dense head would hold [\d,]+ values, "
    r"more than the 100,000,000 allowed; .* raise max_parameters",
    "hidden_size 1000000": _HEAD,
    "num_layers 100000": _HEAD,
    "100,000 nested [": r"genreclf\.json: nests more than 32 brackets deep",
    "input_shape [10**400]": r"genreclf\.json: input_shape: more than 100,000,000 values",
    "npz header of shape (10**12,)": r"transform\.npz: array .* has shape \(1000000000000,\), "
    "more than 100,000,000 values",
    "npz bomb": r"transform\.npz: entry .* inflates to 2,147,48\d,\d+ bytes, more than",
    "NaN weights": r"weights\.safetensors: tensor .* holds NaN",
}


def _store_state(cwd: Path) -> dict[str, tuple[int, int]]:
    """Every file of the store (database and artifacts) with its size and modification time."""
    root = cwd / "mlruns"
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _measured_predict(store, uri: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, float]:
    """``python -m genreclf.predict`` on ``uri``, and its peak memory in MB."""
    cwd, cache = store["cwd"], store["cache"]
    clip = next((cache / "synthetic").rglob("*.wav"))
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env |= {"GENRECLF_CACHE": str(cache), "PYTHONHASHSEED": "0"}
    peak = tmp_path / "peak_kb"
    command = [sys.executable, "-m", "genreclf.predict", f"model_uri={uri}", f"inputs=[{clip}]"]
    result = subprocess.run(
        [sys.executable, "-c", _MEASURED, str(peak), *command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return result, int(peak.read_text()) / 1024


def test_the_measure_sees_a_predicts_memory(store, tmp_path):
    """The wrapper reports the child's peak: predict's (torch, MLflow, audio), not its own."""
    result, peak_mb = _measured_predict(store, f"runs:/{store['good']}/model", tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert peak_mb > 250, peak_mb


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_models_are_refused_before_allocating(store, case, tmp_path):
    before = _store_state(store["cwd"])
    result, peak_mb = _measured_predict(store, store["hostile"][case], tmp_path)
    errors = _errors(result)
    assert result.returncode == 2, (case, result.stderr[-2000:])
    assert len(errors) == 1, (case, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, (case, result.stderr[-2000:])
    assert re.search(HOSTILE[case], errors[0]), (case, errors[0])
    assert len(errors[0]) < 400, errors[0]
    assert peak_mb < PEAK_LIMIT_MB, (case, peak_mb)
    assert _store_state(store["cwd"]) == before
