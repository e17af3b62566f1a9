"""Broken Hugging Face encoder folders are configuration errors, refused before any clip.

Each row of :data:`BREAKS` breaks a copy of the tiny HuBERT folder one way. In process,
:meth:`HFEncoder.check` (and ``columns``, ``params()``, which run it) must raise one
line naming ``features.model``; through the real ``extract`` and ``train`` commands,
the row must end with that one line on stderr, exit status 2, no traceback and nothing
written (no export, no extracted features, no MLflow store).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from genreclf.core.errors import ConfigError
from tests.conftest import require_shared
from tests.e2e import run_command
from tests.features.tiny_hf import save_tiny_hf_model
from tests.options import make

pytest.importorskip("transformers")

WEIGHTS = "model.safetensors"
#: A tensor of the tiny HuBERT's transformer layers, and one of its second layer's prefix.
SOME_TENSOR = "encoder.layers.0.attention.k_proj.weight"
SECOND_LAYER = "encoder.layers.1."
#: A file of the system, outside any model folder.
SYSTEM_FILE = next((p for p in ("/etc/hostname", "/etc/passwd") if Path(p).is_file()), None)


def _rewrite_weights(folder: Path, change: Callable[[dict], dict]) -> None:
    """Save ``change(tensors)`` as the folder's weights."""
    from safetensors.torch import load_file, save_file

    path = folder / WEIGHTS
    save_file(change(load_file(path)), path, metadata={"format": "pt"})


def _edit_config(folder: Path, **values) -> None:
    path = folder / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **values}))


def no_weights_file(folder: Path) -> None:
    (folder / WEIGHTS).unlink()


def misshaped_tensor(folder: Path) -> None:
    import torch

    _rewrite_weights(folder, lambda t: {**t, SOME_TENSOR: torch.zeros(32, 31)})


def empty_weights_file(folder: Path) -> None:
    (folder / WEIGHTS).write_bytes(b"")


def weights_linked_to_a_system_file(folder: Path) -> None:
    if SYSTEM_FILE is None:
        pytest.skip("no /etc/hostname or /etc/passwd here")
    (folder / WEIGHTS).unlink()
    (folder / WEIGHTS).symlink_to(SYSTEM_FILE)


def weights_linked_to_valid_weights_outside(folder: Path) -> None:
    """Good weights, but outside the folder: where a file lies is checked, not only what."""
    outside = folder.parent / f"{folder.name}-outside.safetensors"
    (folder / WEIGHTS).rename(outside)
    (folder / WEIGHTS).symlink_to(outside)


def huge_hidden_size(folder: Path) -> None:
    _edit_config(folder, hidden_size=2**20)


def too_many_parameters(folder: Path) -> None:
    """Each size under its cap, the model they make far above the parameter cap."""
    _edit_config(
        folder, hidden_size=8192, intermediate_size=32768, num_hidden_layers=64, conv_dim=[32, 8192]
    )


def config_not_json(folder: Path) -> None:
    (folder / "config.json").write_text('{"model_type": "hubert",')


def second_layer_missing(folder: Path) -> None:
    _rewrite_weights(
        folder, lambda t: {k: v for k, v in t.items() if not k.startswith(SECOND_LAYER)}
    )


def unexpected_tensor(folder: Path) -> None:
    import torch

    _rewrite_weights(folder, lambda t: {**t, "encoder.extra.weight": torch.ones(4)})


def nan_weights(folder: Path) -> None:
    _rewrite_weights(folder, lambda t: {**t, SOME_TENSOR: t[SOME_TENSOR] * float("nan")})


#: name -> (how the folder is broken, what the one line says after ``features.model=<folder>: ``)
BREAKS: dict[str, tuple[Callable[[Path], None], str]] = {
    "no_weights_file": (
        no_weights_file,
        "not a readable Hugging Face model folder (config.json and weights saved with "
        "save_pretrained): no *.safetensors weights file",
    ),
    "misshaped_tensor": (
        misshaped_tensor,
        f"model.safetensors: {SOME_TENSOR} has shape [32, 31], the model's config needs [32, 32]",
    ),
    "empty_weights_file": (empty_weights_file, "model.safetensors: not a safetensors file"),
    "weights_linked_to_a_system_file": (
        weights_linked_to_a_system_file,
        "model.safetensors links outside the model folder",
    ),
    "weights_linked_to_valid_weights_outside": (
        weights_linked_to_valid_weights_outside,
        "model.safetensors links outside the model folder",
    ),
    "huge_hidden_size": (
        huge_hidden_size,
        "config.json hidden_size=1048576: must be an integer in [1, 16384]",
    ),
    "too_many_parameters": (
        too_many_parameters,
        "config.json describes 5.22e+10 parameters, above the cap 1e+09",
    ),
    "config_not_json": (config_not_json, "config.json is not valid JSON"),
    "second_layer_missing": (
        second_layer_missing,
        "16 tensors missing from the weights (transformers would make them random): "
        f"{SECOND_LAYER}",
    ),
    "unexpected_tensor": (
        unexpected_tensor,
        "1 tensor in the weights that the model does not have: encoder.extra.weight",
    ),
    "nan_weights": (nan_weights, f"weights: {SOME_TENSOR} holds NaN or infinite values"),
}
#: The rows also run through ``train`` (the others through ``extract`` only).
TRAIN_CASES = ("second_layer_missing", "weights_linked_to_a_system_file", "huge_hidden_size")


@pytest.fixture(scope="module")
def intact(tmp_path_factory) -> Path:
    """The tiny HuBERT folder, never changed (each row breaks a copy)."""
    return save_tiny_hf_model(tmp_path_factory.mktemp("tiny_hf") / "model")


def broken_copy(intact: Path, case: str, where: Path) -> Path:
    """A copy of ``intact`` in ``where``, broken as row ``case`` says."""
    folder = where / case
    shutil.copytree(intact, folder)
    BREAKS[case][0](folder)
    return folder


def expected_line(case: str, folder: Path) -> str:
    return f"features.model={folder}: {BREAKS[case][1]}"


# ------------------------------------------------------------------------ in process
def test_the_intact_folder_passes(intact):
    from genreclf.features.hf_encoder import HFEncoder

    fs = make(HFEncoder, model=str(intact))
    fs.check()
    assert len(fs.columns) == 32


@pytest.mark.parametrize("case", list(BREAKS))
def test_broken_folder_is_a_config_error_at_first_use(case, intact, tmp_path):
    from genreclf.features.hf_encoder import HFEncoder
    from genreclf.features.hf_folder import HFEncoderError

    folder = broken_copy(intact, case, tmp_path)
    for first_use in (
        lambda fs: fs.check(),
        lambda fs: fs.columns,  # what extraction asks first, before any clip
        lambda fs: fs.params(),  # the cache key
    ):
        with pytest.raises(HFEncoderError) as exc:
            first_use(make(HFEncoder, model=str(folder)))
        assert isinstance(exc.value, ConfigError) and exc.value.exit_status == 2
        text = str(exc.value)
        assert "\n" not in text and len(text) < 400, text
        assert text.startswith(expected_line(case, folder)), text


@pytest.mark.parametrize("name", ["config.json", "preprocessor_config.json"])
def test_too_large_a_config_file_is_not_read(name, intact, tmp_path):
    from genreclf.features.hf_encoder import HFEncoder
    from genreclf.features.hf_folder import MAX_CONFIG_BYTES, HFEncoderError

    folder = tmp_path / "model"
    shutil.copytree(intact, folder)
    config = json.loads((folder / name).read_text())
    config["padding"] = " " * MAX_CONFIG_BYTES
    (folder / name).write_text(json.dumps(config))
    with pytest.raises(HFEncoderError, match=f"{name} is larger than {MAX_CONFIG_BYTES}"):
        make(HFEncoder, model=str(folder)).check()


def test_a_link_inside_the_folder_is_fine(intact, tmp_path):
    from genreclf.features.hf_encoder import HFEncoder

    folder = tmp_path / "model"
    shutil.copytree(intact, folder)
    (folder / "weights").mkdir()
    (folder / WEIGHTS).rename(folder / "weights" / WEIGHTS)
    (folder / WEIGHTS).symlink_to(Path("weights") / WEIGHTS)
    assert len(make(HFEncoder, model=str(folder)).columns) == 32


# ----------------------------------------------------------------- a hub cache snapshot
def hub_cache(intact: Path, root: Path, repo: str = "someone/tiny") -> Path:
    """A Hugging Face cache holding ``repo`` laid out as the hub client does.

    Snapshot files are links into the repository's ``blobs`` folder.
    """
    repo_dir = root / f"models--{repo.replace('/', '--')}"
    commit = "0" * 40
    snapshot = repo_dir / "snapshots" / commit
    (repo_dir / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(commit)
    for i, path in enumerate(sorted(intact.iterdir())):
        blob = repo_dir / "blobs" / f"blob{i}"
        shutil.copyfile(path, blob)
        (snapshot / path.name).symlink_to(Path("..") / ".." / "blobs" / blob.name)
    return snapshot


@pytest.fixture
def hub_home(tmp_path, monkeypatch):
    """An empty Hugging Face cache for this test (the hub client and transformers read it)."""
    import huggingface_hub.constants

    cache = tmp_path / "hf_cache"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def test_a_cached_hub_snapshot_links_into_its_blobs(intact, hub_home):
    from genreclf.features.hf_encoder import HFEncoder
    from genreclf.features.hf_folder import check_files
    from genreclf.features.hf_loading import cached_snapshot

    snapshot = hub_cache(intact, hub_home)
    assert cached_snapshot("someone/tiny") == snapshot
    check_files(snapshot, "someone/tiny", root=snapshot.parent.parent)
    fs = make(HFEncoder, model="someone/tiny")
    assert fs.weights() == f"hub:{snapshot.name}"
    fs.check()  # the whole check, the loading by transformers included
    assert len(fs.columns) == 32
    with pytest.raises(ConfigError, match="config.json links outside the model folder"):
        check_files(snapshot, "someone/tiny")  # the snapshot alone holds no blobs


def test_a_cached_hub_snapshot_linking_out_is_refused(intact, hub_home, tmp_path):
    from genreclf.features.hf_folder import HFEncoderError
    from genreclf.features.hf_loading import check_encoder

    snapshot = hub_cache(intact, hub_home)
    (snapshot / WEIGHTS).unlink()
    (snapshot / WEIGHTS).symlink_to(intact / WEIGHTS)  # good weights, outside the cache entry
    with pytest.raises(HFEncoderError) as exc:
        check_encoder("someone/tiny", False, True, "hub:test")
    assert str(exc.value).startswith(
        "features.model=someone/tiny: model.safetensors links outside the model folder"
    )


# ---------------------------------------------------------------- the real commands
def command_overrides(command: str, folder: Path, cwd: Path) -> list[str]:
    """Overrides that run ``command`` on ten real GTZAN clips with the encoder at ``folder``."""
    audio = require_shared("gtzan_mini", "genres_original")
    common = [
        "data=folder",
        f"data.root={audio}",
        "features=hf_encoder",
        f"features.model={folder}",
        "features.window_seconds=5.0",
        "extraction.n_jobs=1",
        "extraction.progress=false",
    ]
    if command == "genreclf.extract":
        return [*common, f"export={cwd / 'x.csv'}"]
    return [*common, "model=linear", "trainer.max_epochs=1", "trainer.enable_progress_bar=false"]


COMMAND_CASES = [("genreclf.extract", case) for case in BREAKS] + [
    ("genreclf.train", case) for case in TRAIN_CASES
]


@pytest.fixture(scope="module")
def command_results(request, intact, tmp_path_factory):
    """Each selected (command, row) run in its own folder, two at a time."""
    selected = [
        item.callspec.params["command_case"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_broken_folder_stops_the_command"
    ]
    pool = ThreadPoolExecutor(max_workers=2)
    results = {}
    for command, case in selected:
        cwd = tmp_path_factory.mktemp(f"{command.split('.')[-1]}_{case}")
        folder = broken_copy(intact, case, cwd)
        run = pool.submit(
            run_command,
            command,
            *command_overrides(command, folder, cwd),
            cwd=cwd,
            cache=cwd / "cache",
        )
        results[command, case] = (cwd, folder, run)
    yield results
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    "command_case", COMMAND_CASES, ids=[f"{c.split('.')[-1]}-{k}" for c, k in COMMAND_CASES]
)
def test_broken_folder_stops_the_command(command_case, command_results):
    command, case = command_case
    cwd, folder, run = command_results[command_case]
    result = run.result()
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {expected_line(case, folder)}"), lines[0]
    assert not (cwd / "x.csv").exists()  # no export
    assert not (cwd / "cache" / "features").exists()  # no clip's features computed
    assert not (cwd / "cache" / "manifests").exists()  # no clip skipped
    assert not (cwd / "mlruns").exists()  # no MLflow store, so no run


@pytest.mark.slow
def test_the_intact_folder_extracts_every_clip(intact, tmp_path):
    """The control: the same command on the intact folder writes one row per clip."""
    import pandas as pd

    result = run_command(
        "genreclf.extract",
        *command_overrides("genreclf.extract", intact, tmp_path),
        cwd=tmp_path,
        cache=tmp_path / "cache",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    frame = pd.read_csv(tmp_path / "x.csv")
    assert len(frame) == 10 and frame.shape[1] == 32 + 2
