"""The study of a pruned sweep: storage, pruners, search space, feed (real Optuna, no mocks)."""

from __future__ import annotations

import math
import threading

import optuna
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.trial import TrialState

from genreclf.core.errors import ConfigError
from genreclf.sweeps.feed import JobFeed, as_feed
from genreclf.sweeps.job import trial_outcome
from genreclf.sweeps.progress import JobValue, PrunedValue, SweepProgress
from genreclf.sweeps.study import (
    fail_running,
    fail_stale_trials,
    finish,
    make_pruner,
    open_storage,
    retry_failed,
    selection_value,
    storage_url,
)
from genreclf.sweeps.sweeper import fold_budget, grid_of, search_space
from genreclf.tracking.selection import Score, best_run


def _space(*overrides: str):
    return search_space(OverridesParser.create().parse_overrides(list(overrides)))


def test_the_study_sits_beside_a_sqlite_store_and_needs_a_url_beside_a_server():
    assert storage_url(None, "sqlite:///mlruns/mlflow.db") == "sqlite:///mlruns/optuna.db"
    assert storage_url(None, "sqlite:////abs/x/mlflow.db") == "sqlite:////abs/x/optuna.db"
    assert storage_url("postgresql://h/db", "http://127.0.0.1:5000") == "postgresql://h/db"
    with pytest.raises(ConfigError, match="sweep.storage"):
        storage_url(None, "http://127.0.0.1:5000")


def test_a_journal_file_storage_holds_a_study(tmp_path):
    url = f"journal://{tmp_path}/optuna.log"
    study = optuna.create_study(study_name="s", storage=open_storage(url))
    study.tell(study.ask(), 1.0)
    again = optuna.load_study(study_name="s", storage=open_storage(url))
    assert len(again.trials) == 1 and (tmp_path / "optuna.log").stat().st_size > 0


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("none", optuna.pruners.NopPruner),
        ("median", optuna.pruners.MedianPruner),
        ("asha", optuna.pruners.SuccessiveHalvingPruner),
        ("hyperband", optuna.pruners.HyperbandPruner),
    ],
)
def test_each_pruner_is_optunas_own(name, cls):
    assert isinstance(make_pruner(name, {}), cls)


def test_pruner_arguments_reach_optuna_and_a_bad_name_is_refused():
    pruner = make_pruner("asha", {"min_resource": 7, "reduction_factor": 2})
    assert pruner._min_resource == 7 and pruner._reduction_factor == 2
    with pytest.raises(ConfigError, match="sweep.pruner=bogus"):
        make_pruner("bogus", {})


def test_the_search_space_reads_lists_choices_ranges_and_intervals():
    fixed, space = _space(
        "model=rnn,cnn", "model.num_layers=range(1,6)", "lr=tag(log,interval(1e-4,1e-1))", "x=3"
    )
    assert fixed == ["x=3"]
    assert space["model"].choices == ("rnn", "cnn")
    layers = space["model.num_layers"]
    assert (layers.low, layers.high, layers.step) == (1, 5, 1)
    assert space["lr"].log and space["lr"].low == pytest.approx(1e-4)
    assert grid_of({k: space[k] for k in ("model", "model.num_layers")}) == {
        "model": ["rnn", "cnn"],
        "model.num_layers": [1, 2, 3, 4, 5],
    }
    with pytest.raises(ConfigError, match="hydra.sweeper.params.lr"):
        grid_of(space)


def test_the_command_line_replaces_a_params_key():
    fixed, space = _space("trainer.max_epochs=50,100,200", "model=rnn", "trainer.max_epochs=100")
    assert fixed == ["trainer.max_epochs=100", "model=rnn"] and space == {}


def test_with_a_pruner_the_swept_epoch_budget_becomes_its_largest_value():
    fixed, space = _space("trainer.max_epochs=50,100,200", "model=rnn,cnn")
    fixed, space, most = fold_budget(fixed, space)
    assert most == 200 and list(space) == ["model"]
    assert fixed == ["sweep.share_epoch_budgets=false", "trainer.max_epochs=200"]


def test_the_feed_hands_each_job_once_to_racing_slots():
    jobs = [[f"x={i}"] for i in range(200)]
    feed = as_feed(jobs, 5)
    taken: list[tuple[int, list[str]]] = []

    def slot() -> None:
        while (job := feed.take()) is not None:
            taken.append(job)

    threads = [threading.Thread(target=slot) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(i for i, _ in taken) == list(range(5, 205)) and feed.eager
    assert sorted(o[0] for _, o in taken) == sorted(j[0] for j in jobs)


def test_a_lazy_feed_makes_jobs_only_when_taken_and_ends_early():
    made = []
    feed = JobFeed(5, lambda: made.append(1) or ([f"n={len(made)}"] if len(made) < 3 else None))
    assert not made and not feed.eager
    assert feed.take_many(2) == [(0, ["n=1"]), (1, ["n=2"])]
    assert feed.take() is None and len(feed) == 2 and feed.take() is None


def test_the_told_value_ranks_trials_as_best_run_ranks_runs():
    scores = [Score(0.8, 0.9, 1.0, "a"), Score(0.8, 0.5, 2.0, "b"), Score(0.79, 0.1, 0.0, "c")]
    best = max(scores, key=lambda s: selection_value(s.val_acc, s.val_loss))
    assert best is best_run(scores) is scores[1]
    assert selection_value(0.8, math.nan) < selection_value(0.8, 5.0)


def test_a_jobs_value_says_how_its_trial_ended():
    assert trial_outcome(PrunedValue(4)) == ("PRUNED", None)
    assert trial_outcome(math.nan) == ("FAIL", None)
    state, value = trial_outcome(JobValue(Score(0.5, 1.0, 0.0, "r")))
    assert state == "COMPLETE" and value == pytest.approx(0.5 - 1e-9)


def test_a_resumed_study_fails_dead_trials_and_asks_failed_ones_again(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path}/optuna.db")
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    space = {"a": optuna.distributions.CategoricalDistribution(["1", "2", "3"])}
    dead, mine, done = (study.ask(space) for _ in range(3))
    dead.set_user_attr("genreclf.launcher", "somehost-that-is-here:1")
    mine.set_user_attr("genreclf.launcher", "me:1")
    finish(study, done.number, "COMPLETE", 0.5)
    finish(study, done.number, "FAIL")  # ended already: left as it is
    assert fail_stale_trials(study, lambda owner: owner == "me:1") == 1
    assert fail_running(study, "me:1") == 1
    states = [t.state for t in study.get_trials()]
    assert states == [TrialState.FAIL, TrialState.FAIL, TrialState.COMPLETE]
    failed = {dead.params["a"], mine.params["a"]} - {done.params["a"]}
    assert retry_failed(study) == len(failed)
    assert retry_failed(study) == 0  # waiting already
    again = {study.ask(space).params["a"] for _ in failed}
    assert again == failed


def test_progress_counts_pruned_jobs_apart_from_failed_ones(capsys):
    progress = SweepProgress("grid", 3, ["x"])
    progress.finished(0, PrunedValue(5), ["x=1"])
    progress.finished(1, math.nan, ["x=2"])
    line = progress.finished(2, JobValue(Score(0.7, 0.3, 0.0, "r")), ["x=3"])
    assert line.startswith("sweep grid: 3/3 done (1 pruned, 1 failed)")
    assert "best val_acc 0.700 [3] x=3" in line
