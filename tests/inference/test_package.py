"""The model package: saved and loaded as data, checked file by file, like the old format."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from genreclf.inference import ModelLoadError, load_model, save_model
from genreclf.inference.spec import model_spec


@pytest.fixture(scope="module")
def fitted(shared_data):
    """A datamodule on the real seed174 table (log_standard transform) and a seeded head."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from genreclf.data.sources import TableSource
    from genreclf.datamodule import GenreDataModule
    from genreclf.features.build import build_feature_table
    from genreclf.models.heads import DenseHead
    from genreclf.split import HoldoutSplit
    from genreclf.transforms import log_columns

    source = TableSource(shared_data / "seed_features.csv", recipe="seed174")
    table = build_feature_table(source, None, None)
    datamodule = GenreDataModule(
        table, HoldoutSplit(), make_pipeline(log_columns(), StandardScaler())
    )
    datamodule.setup()
    torch.manual_seed(0)
    params = {"hidden_size": 16, "num_layers": 2, "dropout": 0.1, "batch_norm": True}
    head = DenseHead(datamodule.input_shape, datamodule.num_classes, **params).eval()
    with torch.no_grad():  # BatchNorm statistics that are not the defaults
        head(datamodule.datasets["train"].tensors[0])
    head.train(False)
    spec = model_spec(
        feature_set=None,
        source=source,
        columns=list(table.columns),
        class_names=datamodule.class_names,
        input_shape=datamodule.input_shape,
    )
    clip = shared_data / "gtzan_mini" / "genres_original" / "blues" / "blues.00000.wav"
    return {"datamodule": datamodule, "head": head, "params": params, "spec": spec, "clip": clip}


def _save(fitted, folder):
    return save_model(
        folder,
        head=fitted["head"],
        head_name="dense",
        head_params=fitted["params"],
        transform=fitted["datamodule"].transform,
        spec=fitted["spec"],
    )


def _legacy(fitted, folder):
    """The folder earlier genreclf versions logged: a pickled MLflow PyTorch model."""
    import joblib
    import mlflow.pytorch

    old = {k: v for k, v in fitted["spec"].items() if k != "format"}
    old |= {"version": 1, "features": {"_target_": "genreclf.features.sets.Seed174", "sr": None}}
    old["transform"] = "transform.joblib"
    transform = folder.parent / "transform.joblib"
    joblib.dump(fitted["datamodule"].transform, transform)
    mlflow.pytorch.save_model(
        fitted["head"],
        str(folder),
        metadata={"genreclf": old},
        extra_files=[str(transform)],
        serialization_format="pickle",
        pip_requirements=[],
    )
    return folder


def test_package_holds_data_files_only(fitted, tmp_path):
    folder = _save(fitted, tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == [
        "genreclf.json",
        "transform.npz",
        "weights.safetensors",
    ]
    spec = json.loads((folder / "genreclf.json").read_text())
    assert spec["head"] == {"name": "dense", "params": fitted["params"]}
    assert spec["features"] == {"name": "seed174", "params": {"sr": None}}
    assert "_target_" not in json.dumps(spec)
    with np.load(folder / "transform.npz", allow_pickle=False) as arrays:
        assert all(arrays[k].dtype.kind == "f" for k in arrays.files)


def test_new_package_predicts_like_the_old_format_on_the_same_weights(fitted, tmp_path):
    new = load_model(_save(fitted, tmp_path / "new"))
    with pytest.raises(ModelLoadError, match="earlier genreclf version.*trust_pickle=true"):
        load_model(_legacy(fitted, tmp_path / "old"))
    with pytest.warns(UserWarning, match="trust_pickle"):
        old = load_model(tmp_path / "old", trust_pickle=True)
    a, b = new.predict_file(fitted["clip"]), old.predict_file(fitted["clip"])
    assert a.genre == b.genre and a.windows == b.windows == 1
    for genre, p in a.probabilities.items():
        assert p == pytest.approx(b.probabilities[genre], abs=1e-6)
    y = np.random.default_rng(0).standard_normal(22050 * 3).astype(np.float32) * 0.1
    np.testing.assert_allclose(new.features(y, 22050), old.features(y, 22050), atol=1e-5)


def test_every_file_is_checked(fitted, tmp_path):
    folder = _save(fitted, tmp_path / "model")

    def broken(name, edit):
        target = tmp_path / name
        import shutil

        shutil.copytree(folder, target)
        edit(target)
        with pytest.raises(ModelLoadError) as info, warnings.catch_warnings():
            warnings.simplefilter("error")
            load_model(target)
        assert "\n" not in str(info.value)
        return str(info.value)

    def spec_change(change):
        def edit(target):
            spec = json.loads((target / "genreclf.json").read_text())
            change(spec)
            (target / "genreclf.json").write_text(json.dumps(spec))

        return edit

    assert "not a genreclf model" in broken("empty", lambda t: (t / "genreclf.json").unlink())
    assert "model format 1" in broken("format", spec_change(lambda s: s.update(format=1)))
    assert "class_names" in broken("classes", spec_change(lambda s: s.update(class_names=[])))
    assert "not registered" in broken(
        "head", spec_change(lambda s: s["head"].update(name="os.system"))
    )
    assert "hidden_size" in broken(
        "width", spec_change(lambda s: s["head"]["params"].update(hidden_size="16"))
    )
    assert "weights.safetensors" in broken(
        "weights", lambda t: (t / "weights.safetensors").write_bytes(b"\x80\x04junk")
    )
    other = fitted["params"] | {"hidden_size": 8}
    assert "weights.safetensors" in broken(
        "shape", spec_change(lambda s: s["head"].update(params=other))
    )
    assert "transform.npz" in broken("npz", lambda t: (t / "transform.npz").write_bytes(b"PK"))
    assert "inside the model folder" in broken(
        "escape", spec_change(lambda s: s["transform"].update(file="../model/transform.npz"))
    )
    assert "missing" in broken("gone", lambda t: (t / "transform.npz").unlink())
    assert "NaN" in broken(
        "nan",
        lambda t: (t / "genreclf.json").write_text(
            (t / "genreclf.json").read_text().replace('"clip_seconds": 30.0', '"clip_seconds": NaN')
        ),
    )


def test_an_encoder_that_runs_remote_code_needs_the_opt_in(fitted, tmp_path):
    """features.trust_remote_code=true in a package: refused unless predict opts in."""
    folder = _save(fitted, tmp_path / "model")
    spec = json.loads((folder / "genreclf.json").read_text())
    spec["features"] = {
        "name": "hf_encoder",
        "params": {"model": str(tmp_path / "mert"), "trust_remote_code": True},
    }
    (folder / "genreclf.json").write_text(json.dumps(spec))
    with pytest.raises(ModelLoadError, match="needs trust_remote_code=true, which runs"):
        load_model(folder)
    with pytest.raises(ModelLoadError) as opted_in:  # past the gate: the encoder folder is absent
        load_model(folder, trust_remote_code=True)
    assert "trust_remote_code" not in str(opted_in.value).split(":")[-1]
