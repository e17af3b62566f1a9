"""Every bad option stops its command before any work, with one line naming it.

``CASES`` is the table: ``id -> (command, overrides, text the one line must contain)``.
The slow test runs each case as the real command; the fast tests call the check
functions of :mod:`genreclf.config.checks` on composed configs, and check that every
default, option, preset and sweep value passes them.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

from genreclf.cli import group_options
from genreclf.core.errors import ConfigError
from genreclf.extract import check_extract_config
from genreclf.predict import check_predict_config
from genreclf.report import check_report_config
from genreclf.train import check_train_config
from tests.conftest import require_shared
from tests.e2e import run_command
from tests.paths import CONF, ROOT

TRAIN, PREDICT, REPORT = "genreclf.train", "genreclf.predict", "genreclf.report"
A_SONG = "inputs=[{tmp}/song.wav]"

#: id -> (command, overrides, text the one stderr line must contain). ``{tmp}`` is the
#: case's folder, which holds a file ``afile`` and a read-only folder ``ro``.
CASES: dict[str, tuple[str, list[str], str]] = {
    # types: Hydra passes `abc` as a str, `1.5` as a float, `true` as a bool
    "lr-str": (TRAIN, ["optimizer.lr=abc"], "optimizer.lr=abc: must be a finite number > 0"),
    "seed-str": (TRAIN, ["seed=x"], "seed=x: must be an int in [0, 4294967295]"),
    "epochs-float": (TRAIN, ["trainer.max_epochs=1.5"], "trainer.max_epochs=1.5: must be an int"),
    "epochs-bool": (TRAIN, ["trainer.max_epochs=true"], "trainer.max_epochs=true: must be an int"),
    "hidden-str": (
        TRAIN,
        ["model.hidden_size=abc"],
        "model.hidden_size=abc: must be an int in [1, 16384]",
    ),
    "log-model-int": (TRAIN, ["tracking.log_model=1"], "tracking.log_model=1: must be a bool"),
    # ranges
    "seed-negative": (TRAIN, ["seed=-1"], "seed=-1: must be an int in [0, 4294967295]"),
    "lr-negative": (TRAIN, ["optimizer.lr=-1"], "optimizer.lr=-1: must be a finite number > 0"),
    "epochs-zero": (
        TRAIN,
        ["trainer.max_epochs=0"],
        "trainer.max_epochs=0: must be an int in [1, 1000000]",
    ),
    # split: fractions in (0, 1) summing to < 1; fold in [0, n_splits); n_splits >= 2
    "holdout-sum": (
        TRAIN,
        ["split.val_size=0.6", "split.test_size=0.6"],
        "split.test_size=0.6: must be such that val_size + test_size < 1",
    ),
    "holdout-fraction": (
        TRAIN,
        ["split.val_size=1.5"],
        "split.val_size=1.5: must be a finite number in (0, 1)",
    ),
    "seed-test-size": (
        TRAIN,
        ["split=seed", "split.test_size=0"],
        "split.test_size=0: must be a finite number in (0, 1)",
    ),
    "kfold-fold": (
        TRAIN,
        ["split=kfold", "split.fold=99"],
        "split.fold=99: must be in [0, 5) (n_splits=5)",
    ),
    "kfold-n-splits": (
        TRAIN,
        ["split=kfold", "split.n_splits=1"],
        "split.n_splits=1: must be an int in [2, 1000]",
    ),
    "files-list": (
        TRAIN,
        ["split=files", "split.train={tmp}/no_such_list.txt"],
        "no_such_list.txt: no such file or folder; must be an existing file",
    ),
    # model, classifier, datamodule, callbacks
    "cnn-kernel": (
        TRAIN,
        ["model=cnn", "model.kernel_size=0"],
        "model.kernel_size=0: must be an int in [1, 4096]",
    ),
    "rnn-step": (
        TRAIN,
        ["model=rnn", "model.step_size=0"],
        "model.step_size=0: must be an int in [1, 4096]",
    ),
    "cnn-patch": (
        TRAIN,
        ["model=cnn", "model.patch_size=0"],
        "model.patch_size=0: must be an int in [1, 4096]",
    ),
    "hidden-zero": (
        TRAIN,
        ["model.hidden_size=0"],
        "model.hidden_size=0: must be an int in [1, 16384]",
    ),
    "layers-zero": (
        TRAIN,
        ["model=rnn", "model.num_layers=0"],
        "model.num_layers=0: must be an int in [1, 64]",
    ),
    "devices-zero": (
        TRAIN,
        ["trainer.devices=0"],
        "trainer.devices=0: must be auto, -1 (all), a count >= 1",
    ),
    "precision": (TRAIN, ["trainer.precision=bf17"], "trainer.precision=bf17: must be one of"),
    "dense-layers": (
        TRAIN,
        ["model.num_layers=-1"],
        "model.num_layers=-1: must be an int in [0, 64]",
    ),
    "dropout-one": (
        TRAIN,
        ["model.dropout=1"],
        "model.dropout=1: must be a finite number in [0, 1)",
    ),
    "mixup": (
        TRAIN,
        ["classifier.mixup_alpha=-1"],
        "classifier.mixup_alpha=-1: must be a finite number in [0, 1000]",
    ),
    "smoothing": (
        TRAIN,
        ["classifier.label_smoothing=1.0"],
        "classifier.label_smoothing=1.0: must be a finite number in [0, 1)",
    ),
    "unknown-key": (
        TRAIN,
        ["+model.foo=1"],
        "model.foo=1: unknown key; known keys",  # cli's line names the option: "of model (dense)"
    ),
    "batch-size": (
        TRAIN,
        ["datamodule.batch_size=0"],
        "datamodule.batch_size=0: must be an int in [1, 1048576]",
    ),
    "patience": (
        TRAIN,
        ["callbacks.early_stopping.patience=-1"],
        "callbacks.early_stopping.patience=-1: must be an int in [0, 100000]",
    ),
    "nesterov": (
        TRAIN,
        ["optimizer=sgd", "optimizer.momentum=0"],
        "optimizer.nesterov=true: needs momentum > 0 and no dampening",
    ),
    # extraction and data
    "n-jobs": (
        TRAIN,
        ["extraction.n_jobs=0"],
        "extraction.n_jobs=0: must be -1 (one per core) or an int >= 1",
    ),
    "backend": (
        TRAIN,
        ["extraction.backend=bogus"],
        "extraction.backend=bogus: must be one of loky, threading, multiprocessing, ray",
    ),
    "min-duration": (
        TRAIN,
        ["extraction.min_duration=-1"],
        "extraction.min_duration=-1: must be a finite number in [0, 600]",
    ),
    "clips": (
        TRAIN,
        ["data.clips_per_genre=0"],
        "data.clips_per_genre=0: must be an int in [1, 10000]",
    ),
    "duration": (
        TRAIN,
        ["data.duration=0"],
        "data.duration=0: must be a finite number in (0, 600]",
    ),
    "sr": (TRAIN, ["data.sr=0"], "data.sr=0: must be an int in [1000, 192000]"),
    "data-root-missing": (TRAIN, ["data=gtzan"], "data.root=???: must be given"),
    # tracking
    "experiment-empty": (TRAIN, ["tracking.experiment=''"], "tracking.experiment='': must be"),
    "experiment-path": (
        TRAIN,
        ["tracking.experiment=../../x"],
        "tracking.experiment=../../x: must not contain '/'",
    ),
    "flush": (
        TRAIN,
        ["++tracking.flush_every_s=-1"],
        "tracking.flush_every_s=-1: must be null or a finite number in [0, 86400]",
    ),
    # checked elsewhere (cli, tracking), kept working
    "cache-file": (
        TRAIN,
        ["extraction.cache_dir={tmp}/afile/features"],
        "is a file; must be a writable folder",
    ),
    "cache-read-only": (
        TRAIN,
        ["extraction.cache_dir={tmp}/ro/features"],
        "is not writable; must be a writable folder",
    ),
    "store-in-a-file": (
        TRAIN,
        ["tracking.uri=sqlite:///{tmp}/afile/mlflow.db"],
        "is a file, not a folder",
    ),
    "store-corrupt": (TRAIN, ["tracking.uri=sqlite:///{tmp}/corrupt.db"], "not an SQLite database"),
    "store-read-only": (TRAIN, ["tracking.uri=sqlite:///{tmp}/ro/mlflow.db"], "is not writable"),
    "registry-name": (
        TRAIN,
        ["registry.name=bad/name"],
        "registry.name=bad/name: must be null or a str matching",
    ),
    "tracking-uri": (TRAIN, ["tracking.uri=garbage://x"], "tracking.uri=garbage://x: not a"),
    # A server that does not answer: one line, well under 15 s (the test times it).
    "tracking-server": (
        TRAIN,
        ["tracking.uri=http://127.0.0.1:9"],
        "tracking.uri=http://127.0.0.1:9: no MLflow server answers",
    ),
    "model-choice": (TRAIN, ["model=foo"], "model=foo: no such option; choose one of: cnn"),
    "data-root": (
        TRAIN,
        ["data=gtzan", "data.root=/no/such/folder"],
        "data.root=/no/such/folder: no such file or folder",
    ),
    # predict: every option before any file is read or classified
    "predict-n-jobs": (
        PREDICT,
        [A_SONG, "n_jobs=0"],
        "n_jobs=0: must be -1 (one per core) or an int >= 1",
    ),
    "predict-top-k": (PREDICT, [A_SONG, "top_k=0"], "top_k=0: must be an int in [1, 1000]"),
    "predict-top-k-str": (PREDICT, [A_SONG, "top_k=abc"], "top_k=abc: must be an int in [1, 1000]"),
    "predict-max-windows": (
        PREDICT,
        [A_SONG, "max_windows=0"],
        "max_windows=0: must be null or an int in [1, 100000]",
    ),
    "predict-inputs": (PREDICT, [], "inputs=???: must be given"),
    "predict-inputs-empty": (PREDICT, ["inputs=[]"], "inputs=[]: must be a str or a list of str"),
    "predict-output-folder": (PREDICT, [A_SONG, "output={tmp}"], "is a folder; must be a .csv"),
    "predict-output-suffix": (
        PREDICT,
        [A_SONG, "output={tmp}/out.txt"],
        "out.txt: the file name must end in .csv or .json",
    ),
    "predict-output-uncreatable": (
        PREDICT,
        [A_SONG, "output={tmp}/afile/out.csv"],
        "cannot be created: ",
    ),
    "predict-output-read-only": (PREDICT, [A_SONG, "output={tmp}/ro/out.csv"], "is not writable"),
    "predict-timeline": (PREDICT, [A_SONG, "timeline=maybe"], "timeline=maybe: must be"),
    "predict-plot-file": (PREDICT, [A_SONG, "plot={tmp}/afile"], "is a file; must be a writable"),
    # report
    "report-experiment": (REPORT, [], "experiment=???: must be given"),
    "report-experiment-empty": (
        REPORT,
        ["experiment=''"],
        "experiment='': must be a non-empty name",
    ),
    "report-experiment-path": (REPORT, ["experiment=a/b"], "experiment=a/b: must not contain '/'"),
    "report-top-k": (
        REPORT,
        ["experiment=demo", "top_k=0"],
        "top_k=0: must be an int in [1, 1000]",
    ),
    "report-output-file": (
        REPORT,
        ["experiment=demo", "output_dir={tmp}/afile"],
        "is a file; must be a writable folder",
    ),
    "report-output-uncreatable": (
        REPORT,
        ["experiment=demo", "output_dir={tmp}/afile/sub"],
        "cannot be created: ",
    ),
    # issue 19: values that used to slip through
    "lr-inf": (TRAIN, ["optimizer.lr=inf"], "optimizer.lr=inf: must be a finite number > 0"),
    "lr-overflow": (TRAIN, ["optimizer.lr=1e309"], "optimizer.lr=inf: must be a finite number > 0"),
    "mixup-inf": (
        TRAIN,
        ["classifier.mixup_alpha=inf"],
        "classifier.mixup_alpha=inf: must be a finite number in [0, 1000]",
    ),
    "hidden-huge": (
        TRAIN,
        ["model.hidden_size=99999999999999999999"],
        "model.hidden_size=99999999999999999999: must be an int in [1, 16384]",
    ),
    "key-without-plus": (
        TRAIN,
        ["model.hiden_size=5"],
        "model.hiden_size=5: unknown key; known keys of model (dense): hidden_size, num_layers",
    ),
    # third-party groups forbid unknown keys, with or without +; misspelt group names
    "optimizer-key": (
        TRAIN,
        ["optimizer.lrr=0.1"],
        "optimizer.lrr=0.1: unknown key; known keys of optimizer (adam): lr, betas, eps",
    ),
    "optimizer-key-plus": (
        TRAIN,
        ["+optimizer.lrr=0.1"],
        "optimizer.lrr=0.1: unknown key; known keys of optimizer (adam): lr, betas, eps",
    ),
    "trainer-key": (
        TRAIN,
        ["trainer.max_epoch=3"],
        "trainer.max_epoch=3: unknown key; known keys of trainer",
    ),
    "callback-key": (
        TRAIN,
        ["callbacks.early_stopping.patiense=3"],
        "callbacks.early_stopping.patiense=3: unknown key; known keys of EarlyStopping: monitor",
    ),
    "group-name": (
        TRAIN,
        ["modle=linear"],
        "modle=linear: no such config group (did you mean model?); groups: callbacks, classifier",
    ),
    "betas-plus": (
        TRAIN,
        ["+optimizer.betas=[inf,0.9]"],
        "optimizer.betas=[inf,0.9]: must be a list of two finite numbers in [0, 1)",
    ),
    "dropout-early": (TRAIN, ["model.dropout=1.5"], "model.dropout=1.5: must be a finite number"),
    "store-in-memory": (
        TRAIN,
        ["tracking.uri=sqlite:///:memory:"],
        "tracking.uri=sqlite:///:memory:: an in-memory store loses the run",
    ),
    "kfold-fold-range": (
        TRAIN,
        ["split=kfold", "split.fold=7"],
        "split.fold=7: must be in [0, 5) (n_splits=5)",
    ),
    "musicnn-vgg-pool": (
        TRAIN,
        ["features=musicnn", "features.model=MSD_vgg", "features.layer=pool"],
        "features.layer=pool: musicnn models only, not MSD_vgg",
    ),
}

#: Cases answered by other checks than config_checks' (cli, tracking, packaging).
ELSEWHERE = {
    "registry-name",
    "tracking-uri",
    "tracking-server",
    "store-in-a-file",
    "store-corrupt",
    "store-read-only",
    "model-choice",
    "key-without-plus",
    "optimizer-key",  # these four: Hydra cannot compose them (tests/test_cli.py)
    "trainer-key",
    "callback-key",
    "group-name",
}
#: Cases a superuser does not see (root may write into a read-only folder).
NOT_AS_ROOT = {"predict-output-read-only", "cache-read-only", "store-read-only"}
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
CONFIG_OF = {TRAIN: "config", PREDICT: "predict", REPORT: "report"}
CHECK_OF = {TRAIN: check_train_config, PREDICT: check_predict_config, REPORT: check_report_config}


def prepare(folder: Path) -> None:
    """The case folder: a file ``afile``, a read-only folder ``ro``, a corrupt database."""
    (folder / "afile").write_text("not a folder\n")
    (folder / "corrupt.db").write_bytes(b"this is not an SQLite database, it was truncated")
    (folder / "ro").mkdir()
    (folder / "ro").chmod(0o555)


def overrides_in(case: str, folder: Path) -> list[str]:
    return [o.format(tmp=folder) for o in CASES[case][1]]


def run_case(case: str, folder: Path):
    return run_command(CASES[case][0], *overrides_in(case, folder), cwd=folder, cache=folder / "c")


def _slow_param(case: str):
    marks = (
        [pytest.mark.skipif(IS_ROOT, reason="root writes anywhere")] if case in NOT_AS_ROOT else []
    )
    return pytest.param(case, marks=marks, id=case)


@pytest.fixture(scope="module")
def command_results(request, tmp_path_factory):
    """The selected cases, run as the real commands, two at a time: ``case -> (folder, future)``."""
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_bad_option_fails_in_one_line"
        and hasattr(item, "callspec")
    ]
    pool = ThreadPoolExecutor(max_workers=2)
    results = {}
    for case in selected:
        if case in NOT_AS_ROOT and IS_ROOT:
            continue
        folder = tmp_path_factory.mktemp(case)
        prepare(folder)
        results[case] = (folder, pool.submit(run_case, case, folder))
    yield results
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.slow
@pytest.mark.parametrize("case", [_slow_param(c) for c in CASES])
def test_bad_option_fails_in_one_line(case, command_results):
    folder, future = command_results[case]
    result = future.result()
    text = CASES[case][2].format(tmp=folder)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and text in lines[0], lines[0]
    assert not (folder / "mlruns").exists()  # no store created
    assert not (folder / "c").exists()  # no data made, no features extracted
    assert not (folder / "reports").exists()


# ------------------------------------------------------------------------- fast tests
def compose_config(name: str, overrides: list[str]):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(name, overrides=overrides)


@pytest.mark.parametrize("case", [c for c in CASES if c not in ELSEWHERE])
def test_check_names_the_option(case, tmp_path, monkeypatch):
    module, _, text = CASES[case]
    prepare(tmp_path)
    monkeypatch.chdir(tmp_path)
    if case in NOT_AS_ROOT:  # what a normal user sees, also when the tests run as root
        monkeypatch.setattr("genreclf.core.params.os.access", lambda *a, **k: False)
    cfg = compose_config(CONFIG_OF[module], overrides_in(case, tmp_path))
    with pytest.raises(ConfigError) as err:
        CHECK_OF[module](cfg)
    message = str(err.value)
    assert "\n" not in message
    assert text.format(tmp=tmp_path) in message
    option = re.split(r"[=:]", message, maxsplit=1)[0]
    assert re.fullmatch(r"[a-z_]+(\.[a-z_]+)*", option), message


def test_types_are_strict():
    """A bool is not an int, a str is not a number."""
    for overrides, text in [
        (["seed=true"], "seed=true: must be an int"),
        (["optimizer.lr=true"], "optimizer.lr=true: must be a finite number"),
        (["model.batch_norm=1"], "model.batch_norm=1: must be a bool"),
        (["datamodule.batch_size=8.0"], "datamodule.batch_size=8.0: must be an int"),
        (["optimizer.lr=null"], "optimizer.lr=null: must be a finite number > 0"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(text)):
            check_train_config(compose_config("config", overrides))


def test_unknown_and_fixed_keys_of_a_group():
    with pytest.raises(ConfigError, match=r"model.step_size=3: unknown key; .*hidden_size"):
        check_train_config(compose_config("config", ["+model.step_size=3"]))
    with pytest.raises(ConfigError, match=r"model.num_classes=3: set by genreclf"):
        check_train_config(compose_config("config", ["+model.num_classes=3"]))
    with pytest.raises(ConfigError, match=r"split.foo=1: unknown key; .*val_size, test_size"):
        check_train_config(compose_config("config", ["+split.foo=1"]))
    # groups of other libraries' classes are open
    check_train_config(compose_config("config", ["+trainer.gradient_clip_val=0.5"]))


def test_output_may_be_written():
    check_predict_config(compose_config("predict", ["inputs=[a.wav]"]))


# ------------------------------------------------------------ valid configs all pass
GROUPS = sorted(
    p.name for p in CONF.iterdir() if p.is_dir() and p.name not in {"sweep", "preset", "hydra"}
)
OPTIONS = [(g, o) for g in GROUPS for o in group_options(g)]


def _filled(cfg, tmp_path: Path):
    """``cfg`` with mandatory data values (``data.root=???``) filled in."""
    table = tmp_path / "table.csv"
    table.write_text("label,x\n")
    with open_dict(cfg):
        for key, value in (("root", str(tmp_path)), ("path", str(table))):
            if key in cfg.data.keys() and OmegaConf.is_missing(cfg.data, key):
                cfg.data[key] = value
    return cfg


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_passes(group, option, tmp_path, monkeypatch):
    if (group, option) == ("split", "files"):
        require_shared("gtzan_splits")
    monkeypatch.chdir(ROOT)  # relative paths in conf/ assume the project root
    extra = ["sweep=grid_smoke"] if (group, option) == ("tracking", "sweep") else []
    check_train_config(_filled(compose_config("config", [f"{group}={option}", *extra]), tmp_path))


PRESETS = [
    ["+preset=seed_dense"],
    ["+preset=seed_dense", "split=kfold"],
    ["+preset=seed_dense", "split=files"],
    ["+preset=seed_dense", "refit=train_val"],
    ["+preset=seed_lstm"],
    ["+preset=seed_rnn_cv"],
    ["sweep=grid"],
    ["sweep=grid_smoke"],
    ["sweep=optuna"],
]


@pytest.mark.parametrize("overrides", PRESETS, ids=[" ".join(p) for p in PRESETS])
def test_presets_and_sweeps_pass(overrides, monkeypatch):
    if any(o.startswith("+preset") for o in overrides):
        require_shared("seed_features.csv")
    if "split=files" in overrides:
        require_shared("gtzan_splits")
    monkeypatch.chdir(ROOT)
    check_train_config(compose_config("config", overrides))


def _sweep_values(spec: str) -> list[str]:
    spec = re.sub(r"^choice\((.*)\)$", r"\1", str(spec).strip())
    ranged = re.fullmatch(r"range\((\d+),\s*(\d+)\)", spec)
    if ranged:
        return [str(i) for i in range(int(ranged[1]), int(ranged[2]))]
    return [v.strip() for v in spec.split(",")]


def _sweep_params(name: str) -> dict:
    return dict(OmegaConf.load(CONF / "sweep" / f"{name}.yaml").hydra.sweeper.params)


#: Each value a sweep tries, once: ``(sweep, key, value)``.
SWEEP_VALUES = sorted(
    {
        (key, value): (name, key, value)
        for name in ("optuna", "grid_smoke", "grid")
        for key, spec in _sweep_params(name).items()
        for value in _sweep_values(spec)
    }.values()
)


@pytest.mark.parametrize(
    ("sweep", "key", "value"), SWEEP_VALUES, ids=[f"{s}:{k}={v}" for s, k, v in SWEEP_VALUES]
)
def test_every_sweep_value_passes(sweep, key, value):
    check_train_config(compose_config("config", [f"sweep={sweep}", f"{key}={value}"]))


def test_other_commands_defaults_pass(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    check_predict_config(compose_config("predict", ["inputs=[a.wav,music/]"]))
    check_predict_config(compose_config("predict", ["inputs=a.wav", "output=out/genres.json"]))
    check_report_config(compose_config("report", ["experiment=demo"]))
    check_extract_config(compose_config("extract", []))


def test_config_checks_holds_no_option_rules():
    """The up-front check knows no option: every rule lives in a declaration."""
    from genreclf.config import checks as config_checks

    source = Path(config_checks.__file__).read_text()
    for option in ("hidden_size", "lr", "max_epochs", "val_size", "n_jobs", "label_smoothing"):
        assert f'"{option}"' not in source and f"'{option}'" not in source, option


@pytest.mark.slow
def test_a_bad_value_answers_before_torch_loads(tmp_path):
    """``model.dropout=1.5``: one line, before torch, Lightning, librosa or MLflow load."""
    import subprocess
    import sys
    import time

    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", TRAIN, "model.dropout=1.5"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    seconds = time.perf_counter() - start
    print(f"model.dropout=1.5 answered in {seconds:.2f} s (with -X importtime)")
    lines = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    assert result.returncode == 2 and lines == [
        "error: model.dropout=1.5: must be a finite number in [0, 1)"
    ], result.stderr[-3000:]
    loaded = {line.rpartition("|")[2].strip() for line in result.stderr.splitlines()}
    assert not loaded & {"torch", "pytorch_lightning", "librosa", "mlflow", "sklearn"}
