"""Bad options stop ``python -m genreclf.train`` before training, with one line naming them."""

import pytest

from tests.e2e import run_command

#: overrides, then what the one line must say: the option (or value) and what is allowed.
CASES = {
    "model=foo": (["model=foo"], "model=foo", "choose one of: cnn, dense, linear, rnn"),
    "optimizer.lr=-1": (["optimizer.lr=-1"], "optimizer.lr=-1", "must be a finite number > 0"),
    "trainer.max_epochs=0": (
        ["trainer.max_epochs=0"],
        "trainer.max_epochs=0",
        "must be an int in [1, ",
    ),
    "data.root": (
        ["data=gtzan", "data.root=/no/such/folder"],
        "data.root=/no/such/folder",
        "no such file or folder",
    ),
    "registry.name": (
        ["registry.name=bad/name"],
        "registry.name=bad/name",
        "must be null or a str matching",
    ),
    # A model is saved as data: a transform outside the allowlist is refused before any work.
    "transforms": (
        ["transforms._target_=sklearn.preprocessing.RobustScaler"],
        "RobustScaler",
        "is not allowed; allowed:",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_config_error_is_one_line(case, tmp_path):
    overrides, named, allowed = CASES[case]
    result = run_command("genreclf.train", *overrides, cwd=tmp_path, cache=tmp_path / "c")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and named in lines[0] and allowed in lines[0]
    assert not (tmp_path / "mlruns").exists()  # nothing was started


@pytest.mark.slow
def test_print_composed_config(tmp_path):
    result = run_command("genreclf.train", "--cfg", "job", cwd=tmp_path, cache=tmp_path / "c")
    assert result.returncode == 0, result.stderr
    assert "_target_: genreclf.models.heads.DenseHead" in result.stdout
    assert "uri: ${oc.env:MLFLOW_TRACKING_URI,sqlite:///mlruns/mlflow.db}" in result.stdout
