"""The model package: saved and loaded as data, checked file by file, like the old format."""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pytest
import torch
from numpy.lib import format as npy

from genreclf.core.registry import conf_values
from genreclf.inference import ModelLoadError, load_model, save_model
from genreclf.inference.spec import model_spec
from tests.options import make, transform_option


@pytest.fixture(scope="module")
def fitted(shared_data):
    """A datamodule on the real seed174 table (log_standard transform) and a seeded head."""

    from genreclf.data.sources import TableSource
    from genreclf.datamodule import GenreDataModule
    from genreclf.features.build import build_feature_table
    from genreclf.models.heads import DenseHead
    from genreclf.split import HoldoutSplit

    source = make(TableSource, shared_data / "seed_features.csv", recipe="seed174")
    table = build_feature_table(source, None, None)
    datamodule = make(
        GenreDataModule,
        table,
        make(HoldoutSplit),
        transform=transform_option("log_standard"),
    )
    datamodule.setup()
    torch.manual_seed(0)
    params = conf_values("model", "dense") | {
        "hidden_size": 16,
        "num_layers": 2,
        "dropout": 0.1,
        "batch_norm": True,
    }
    head = make(DenseHead, datamodule.input_shape, datamodule.num_classes, **params).eval()
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


def test_loaded_package_predicts_like_the_trained_head(fitted, tmp_path):
    """Weights loaded into the meta-built head give the trained head's logits."""
    model = load_model(_save(fitted, tmp_path / "new"))
    assert model.head.training is False
    assert not any(p.is_meta or p.requires_grad for p in model.head.parameters())
    prediction = model.predict_file(fitted["clip"])
    assert prediction.windows == 1
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
    y = np.random.default_rng(0).standard_normal(22050 * 3).astype(np.float32) * 0.1
    x = torch.from_numpy(model.features(y, 22050))
    with torch.no_grad():
        torch.testing.assert_close(model.head(x), fitted["head"](x))


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("cnn", {"hidden_size": 8, "num_layers": 2}),
        ("rnn", {"hidden_size": 8, "num_layers": 2}),
        ("dense", {"hidden_size": 8, "num_layers": 0}),
    ],
)
def test_every_head_loads_from_the_meta_device(fitted, tmp_path, name, params):
    from genreclf.models.heads import build_head

    torch.manual_seed(1)
    shape, classes = fitted["datamodule"].input_shape, fitted["datamodule"].num_classes
    params = conf_values("model", name) | params
    head = build_head(name, params, input_shape=shape, num_classes=classes).eval()
    folder = save_model(
        tmp_path / name,
        head=head,
        head_name=name,
        head_params=params,
        transform=fitted["datamodule"].transform,
        spec=fitted["spec"],
    )
    model = load_model(folder)
    x = torch.randn(3, *shape)
    with torch.no_grad():
        torch.testing.assert_close(model.head(x), head(x))


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
    assert "clip_seconds=nan: Input should be a finite number" in broken(
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


def _copy(folder, target, edit):
    import shutil

    shutil.copytree(folder, target)
    edit(target)
    return target


def _with_npz_entry(first_entry):
    """An edit writing ``first_entry(zf, name)`` in place of the npz's first array."""
    import zipfile

    def edit(target):
        path = target / "transform.npz"
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        first = sorted(arrays)[0]
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            first_entry(zf, f"{first}.npy", arrays.pop(first))
            for key, array in arrays.items():
                buf = io.BytesIO()
                npy.write_array(buf, array)
                zf.writestr(f"{key}.npy", buf.getvalue())

    return edit


def _header(descr, shape):
    buf = io.BytesIO()
    npy.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _spec_edit(change):
    def edit(target):
        spec = json.loads((target / "genreclf.json").read_text())
        change(spec)
        (target / "genreclf.json").write_text(json.dumps(spec))

    return edit


def _weights_edit(change):
    from safetensors.torch import load_file, save_file

    def edit(target):
        path = target / "weights.safetensors"
        save_file(change(load_file(str(path))), str(path))

    return edit


def _padded(zf, name, array):
    """The genuine array, then 1 MB of zeros its header does not account for."""
    buf = io.BytesIO()
    npy.write_array(buf, array)
    zf.writestr(name, buf.getvalue() + bytes(2**20))


def _nan_first(state):
    first = sorted(k for k, v in state.items() if v.is_floating_point())[0]
    state[first] = torch.full_like(state[first], float("nan"))
    return state


HOSTILE_FOLDERS = {  # name: (edit, what the one line must hold)
    "head over the cap": (
        _spec_edit(lambda s: s["head"]["params"].update(hidden_size=16384, num_layers=3)),
        "raise max_parameters",
    ),
    "deep nesting": (
        lambda t: (t / "genreclf.json").write_text("[" * 40 + "]" * 40),
        "nests more than 32 brackets deep",
    ),
    "nesting in a string is text": (
        _spec_edit(lambda s: s.update(recipe_note="[" * 100, surprise=1)),
        "surprise: Extra inputs are not permitted",
    ),
    "huge number": (
        lambda t: (t / "genreclf.json").write_text(
            (t / "genreclf.json")
            .read_text()
            .replace('"sample_rate": 22050', '"sample_rate": 1' + "0" * 400)
        ),
        "sample_rate=1000000000000000000000000000000000000...: "
        "Input should be less than or equal to 1000000",
    ),
    "infinite number": (
        lambda t: (t / "genreclf.json").write_text(
            (t / "genreclf.json")
            .read_text()
            .replace('"clip_seconds": 30.0', '"clip_seconds": 1e999')
        ),
        "clip_seconds=inf: Input should be a finite number",
    ),
    "NaN head parameter": (
        _spec_edit(lambda s: s["head"]["params"].update(dropout=float("nan"))),
        "head.params.dropout: nan is not a finite number",
    ),
    "npz of object dtype": (
        _with_npz_entry(lambda zf, name, a: zf.writestr(name, _header("|O", (3,)) + bytes(24))),
        "is object, not float",
    ),
    "npz header of 10**12 values": (
        _with_npz_entry(lambda zf, name, a: zf.writestr(name, _header("<f8", (10**12,)))),
        "has shape (1000000000000,), more than 100,000,000 values",
    ),
    "npz entry larger than its array": (_with_npz_entry(_padded), "declares"),
    "npz entry with a NaN": (
        _with_npz_entry(lambda zf, name, a: zf.writestr(name, _npy(np.full_like(a, np.nan)))),
        "is not finite",
    ),
    "NaN weights": (_weights_edit(_nan_first), "holds NaN or infinite values"),
    "weights of another shape": (
        _weights_edit(
            lambda s: {k: v[..., :1].contiguous() if v.ndim == 2 else v for k, v in s.items()}
        ),
        "the head's is",
    ),
    "weights of another dtype": (
        _weights_edit(
            lambda s: {k: v.double() if v.is_floating_point() else v for k, v in s.items()}
        ),
        "torch.float64, the head's is torch.float32",
    ),
}


def _npy(array):
    buf = io.BytesIO()
    npy.write_array(buf, array)
    return buf.getvalue()


@pytest.mark.parametrize("case", list(HOSTILE_FOLDERS))
def test_hostile_folders_are_refused_in_one_line(fitted, tmp_path, case):
    edit, expected = HOSTILE_FOLDERS[case]
    target = _copy(_save(fitted, tmp_path / "model"), tmp_path / "hostile", edit)
    with pytest.raises(ModelLoadError) as info:
        load_model(target)
    message = str(info.value)
    assert "\n" not in message and len(message) < 400, message
    assert expected in message, message


def test_the_parameter_cap_can_be_raised(fitted, tmp_path):
    from genreclf.inference import MAX_PARAMETERS
    from genreclf.models.heads import count_parameters

    folder = _save(fitted, tmp_path / "model")
    size = count_parameters(
        "dense",
        fitted["params"],
        input_shape=fitted["datamodule"].input_shape,
        num_classes=fitted["datamodule"].num_classes,
    )
    assert size == sum(t.numel() for t in fitted["head"].state_dict().values())
    assert size < MAX_PARAMETERS
    with pytest.raises(ModelLoadError, match=rf"would hold {size:,} values, more than the "):
        load_model(folder, max_parameters=size - 1)
    assert load_model(folder, max_parameters=size).head is not None


def test_the_package_records_the_training_clip_length(shared_data):
    """Models trained on 2-3 s excerpts cut songs into 2-3 s clips, not GTZAN's 30 s."""
    from genreclf.data.sources import GTZANSource, TableSource
    from genreclf.data.synthetic import SyntheticGTZAN
    from genreclf.inference.spec import training_clip_seconds

    excerpts, how = training_clip_seconds(GTZANSource(shared_data / "gtzan_excerpts"))
    assert 2.0 <= excerpts <= 3.1 and "median length" in how
    assert training_clip_seconds(make(SyntheticGTZAN, root="unused", duration=6.0))[0] == 6.0
    table = make(TableSource, shared_data / "seed_features.csv", recipe="seed174")
    assert training_clip_seconds(table)[0] == 30.0
