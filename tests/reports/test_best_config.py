"""After ``--multirun sweep=grid_smoke`` and ``report``: the winner's whole configuration.

Real subprocesses into a real SQLite store: ``best_config.yaml`` is the chosen run's
logged ``RunConfig`` whole (its ``optimizer.lr`` and ``model.hidden_size`` too), and
the report page embeds the PCA map rebuilt from it.
"""

from __future__ import annotations

import base64

import pytest
import yaml
from mlflow import MlflowClient

from tests.e2e import copy_store, run_command


@pytest.fixture(scope="module")
def reported(grid_smoke_sweep, tmp_path_factory):
    """``report`` on this module's copy of the session's grid_smoke sweep."""
    cwd = copy_store(grid_smoke_sweep, tmp_path_factory.mktemp("grid_smoke") / "run")
    cache = grid_smoke_sweep.cache
    result = run_command("genreclf.report", "experiment=genreclf-grid_smoke", cwd=cwd, cache=cache)
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, cwd / "reports" / "genreclf-grid_smoke"


@pytest.mark.slow
def test_best_config_is_the_winners_whole_configuration(reported):
    cwd, out = reported
    text = (out / "best_config.yaml").read_text()
    config = yaml.safe_load(text)
    run_id = text.split("from_run=", 1)[1].split()[0]
    client = MlflowClient(tracking_uri=f"sqlite:///{cwd}/mlruns/mlflow.db")
    params = client.get_run(run_id).data.params
    assert str(config["optimizer"]["lr"]) == params["optimizer.lr"]
    assert str(config["model"]["hidden_size"]) == params["model.hidden_size"]
    assert config["model"]["_target_"].startswith("genreclf.models.heads.")
    assert config["data"]["clips_per_genre"] == 4


@pytest.mark.slow
def test_the_page_embeds_the_pca_map(reported):
    _, out = reported
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "No PCA map" not in page
    encoded = base64.b64encode((out / "pca.png").read_bytes()).decode("ascii")
    assert f"data:image/png;base64,{encoded}" in page
