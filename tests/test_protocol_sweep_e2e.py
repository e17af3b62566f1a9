"""End to end: ``--multirun sweep=probe`` (a cut-down grid) on real GTZAN excerpts.

``sweep=probe`` judges each job on every fold of ``split=kfold``: each job is one
configuration run with a child per fold. Its means equal its children's, its pooled
predictions and confusion matrix cover every track once, and the sweep's summary,
``best:`` and the report (with its paired comparison) name the same configuration.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from genreclf.tracking import names
from genreclf.tracking.models import best_model_uri
from genreclf.tracking.store import Store
from tests.e2e import excerpt_subset, run_command

EXPERIMENT = "probe-e2e"
PER_GENRE, FOLDS = 6, 3


@pytest.fixture(scope="module")
def probe_sweep(tmp_path_factory):
    """Two linear musicnn probes (two learning rates), 3 folds each, then a report."""
    root = excerpt_subset(tmp_path_factory, PER_GENRE)
    cwd = tmp_path_factory.mktemp("probe")
    cache = tmp_path_factory.getbasetemp() / "cache"
    sweep = run_command(
        "genreclf.train",
        "--multirun",
        "sweep=probe",
        "features=musicnn",
        "data=gtzan",
        f"data.root={root}",
        f"split.n_splits={FOLDS}",
        "model.num_layers=0",
        "model.hidden_size=256",
        "model.dropout=0.1",
        "optimizer.weight_decay=0.0",
        "optimizer.lr=0.001,0.01",
        "trainer.max_epochs=6",
        "tracking.log_model=true",  # so that `best:` can name a model
        f"tracking.experiment={EXPERIMENT}",
        cwd=cwd,
        cache=cache,
    )
    assert sweep.returncode == 0, sweep.stdout[-2000:] + sweep.stderr[-3000:]
    report = run_command(
        "genreclf.report",
        f"experiment={EXPERIMENT}",
        "formats=[html,md,tex]",
        "pca=false",
        cwd=cwd,
        cache=cache,
    )
    assert report.returncode == 0, report.stderr[-3000:]
    uri = f"sqlite:///{cwd}/mlruns/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    configs = [r for r in runs if r.data.tags.get(names.ROLE_TAG) == names.CONFIG_ROLE]
    members = [r for r in runs if r.data.tags.get(names.ROLE_TAG) == names.MEMBER_ROLE]
    page = (cwd / "reports" / EXPERIMENT / "report.md").read_text(encoding="utf-8")
    return {
        "cwd": cwd,
        "uri": uri,
        "client": client,
        "configs": configs,
        "members": members,
        "sweep": sweep,
        "page": page,
        "tracks": PER_GENRE * len(list(root.iterdir())),
    }


@pytest.mark.slow
def test_each_job_is_a_configuration_run_whose_means_are_its_childrens(probe_sweep):
    configs, members = probe_sweep["configs"], probe_sweep["members"]
    assert len(configs) == 2 and len(members) == 2 * FOLDS
    for config in configs:
        assert config.info.status == "FINISHED"
        mine = [m for m in members if m.data.tags[names.PARENT_RUN_TAG] == config.info.run_id]
        assert sorted(int(m.data.tags[names.FOLD_TAG]) for m in mine) == list(range(FOLDS))
        m = config.data.metrics
        val = [c.data.metrics[names.BEST_VAL_ACC] for c in mine]
        test = [c.data.metrics[names.TEST_ACC] for c in mine]
        assert m[names.VAL_ACC_MEAN] == pytest.approx(np.mean(val))
        assert m[names.TEST_ACC_MEAN] == pytest.approx(np.mean(test))
        assert m[names.TEST_ACC_STD] == pytest.approx(np.std(test, ddof=1))
        assert m[names.TEST_ACC_CI_LOW] <= m[names.TEST_ACC_CI_HIGH]
        # its data set: each fold's parts, the mean part sizes per fold (every track is
        # tested once over the folds)
        counts = [m[names.TRACK_COUNT_METRICS[part]] for part in ("train", "val", "test")]
        assert m[names.TRACK_COUNT_METRICS["test"]] == pytest.approx(probe_sweep["tracks"] / FOLDS)
        assert min(counts) > 0 and sum(counts) == pytest.approx(probe_sweep["tracks"])
        assert len(config.inputs.dataset_inputs) == 3 * FOLDS
        name = config.data.tags[names.DATASET_TAG].split("@")[0]  # the digest covers the parts
        assert name == mine[0].data.tags[names.DATASET_TAG].split("@")[0]


@pytest.mark.slow
def test_pooled_predictions_and_confusion_cover_every_track_once(probe_sweep):
    client, cwd, tracks = probe_sweep["client"], probe_sweep["cwd"], probe_sweep["tracks"]
    for config in probe_sweep["configs"]:
        run_id = config.info.run_id
        frame = pd.read_parquet(
            client.download_artifacts(run_id, names.PREDICTIONS_ARTIFACT, str(cwd))
        )
        assert len(frame) == tracks and frame["track"].is_unique
        assert sorted(frame["fold"].unique()) == list(range(FOLDS))
        text = open(client.download_artifacts(run_id, names.REPORT_ARTIFACT, str(cwd))).read()
        support = re.search(r"^\s*weighted avg\s+\S+\s+\S+\s+\S+\s+(\d+)", text, re.M)
        assert support and int(support.group(1)) == tracks  # the pooled confusion's sum


@pytest.mark.slow
def test_summary_best_and_report_name_the_same_configuration(probe_sweep):
    store = Store(probe_sweep["uri"])
    uri = best_model_uri(store, EXPERIMENT)
    chosen = uri.split("/")[1]
    assert chosen in {c.info.run_id for c in probe_sweep["configs"]}
    assert re.search(rf"best \S+ in run {chosen}", probe_sweep["sweep"].stdout)
    page = probe_sweep["page"]
    best = page.split("Best run (chosen on validation)", 1)[1]
    assert best.lstrip("# \n").startswith(f"Run {chosen[:8]} ")


@pytest.mark.slow
def test_report_compares_the_configurations_paired(probe_sweep):
    page, configs = probe_sweep["page"], probe_sweep["configs"]
    chosen = best_model_uri(Store(probe_sweep["uri"]), EXPERIMENT).split("/")[1]
    (other,) = [c.info.run_id for c in configs if c.info.run_id != chosen]
    section = page.split("Paired comparison of the top configurations", 1)[1]
    table = [line for line in section.splitlines() if line.startswith("|")]
    assert "mcnemar_p" in table[0] and len(table) == 3  # header, rule, the runner-up
    row = table[2]
    assert other[:8] in row and chosen[:8] not in row
    assert f"| {probe_sweep['tracks']} |" in row  # every track pairs up
    assert "test_acc (mean ± std \\[95% CI\\])" in page  # the configuration table (Markdown)
