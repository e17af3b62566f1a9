"""Bad options stop ``python -m genreclf.train`` before training, with one line naming them."""

import pytest

from tests.e2e import run_command

CASES = {
    "model=foo": ["model=foo", "choose one of: cnn, dense, rnn"],
    "optimizer.lr=-1": ["optimizer.lr=-1", "must be > 0"],
    "trainer.max_epochs=0": ["trainer.max_epochs=0", "must be >= 1"],
    "data.root": ["data.root=/no/such/folder", "no such file or folder"],
}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_config_error_is_one_line(case, tmp_path):
    override, allowed = CASES[case]
    extra = ["data=gtzan"] if case == "data.root" else []
    result = run_command("genreclf.train", *extra, override, cwd=tmp_path, cache=tmp_path / "c")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and override in lines[0] and allowed in lines[0]
    assert not (tmp_path / "mlruns").exists()  # nothing was started


@pytest.mark.slow
def test_print_composed_config(tmp_path):
    result = run_command("genreclf.train", "--cfg", "job", cwd=tmp_path, cache=tmp_path / "c")
    assert result.returncode == 0, result.stderr
    assert "_target_: genreclf.models.heads.DenseHead" in result.stdout
    assert "uri: ${oc.env:MLFLOW_TRACKING_URI,sqlite:///mlruns/mlflow.db}" in result.stdout
