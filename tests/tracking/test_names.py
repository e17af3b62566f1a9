"""The one list of keys that are no hyperparameters, used by the hash and the reports."""

from genreclf.tracking.names import NOT_HYPERPARAMS, is_hyperparam


def test_non_hyperparameters_match_keys_and_everything_below():
    assert not is_hyperparam("tracking")
    assert not is_hyperparam("tracking.uri")
    assert not is_hyperparam("callbacks.model_checkpoint.dirpath")
    assert not is_hyperparam("extraction.n_jobs")
    assert is_hyperparam("callbacks.early_stopping.patience")
    assert is_hyperparam("model.hidden_size")
    assert is_hyperparam("extraction.min_duration")  # changes which clips are kept
    assert "sweep" in NOT_HYPERPARAMS


def test_run_names_say_what_ran_and_differ_per_config():
    from genreclf.tracking.names import run_name

    choices = {"model": "linear", "features": "musicnn", "data": "gtzan", "optimizer": "adam"}
    overrides = [
        "data=gtzan",
        "data.root=/music/gtzan",  # paths are left out
        "model=linear",
        "optimizer.lr=1e-4",
        "model.hidden_size=64",
        "tracking.uri=sqlite:///x.db",  # no hyperparameter
        "optimizer=sgd",
    ]
    name = run_name(choices, overrides, "3f2a9c0011aa")
    assert name == "linear-musicnn-gtzan-lr1e-4-h64-sgd-3f2a9c"
    assert run_name({"model": "dense", "features": "seed174"}, [], "abcdef12") == (
        "dense-seed174-abcdef"
    )
    fused = "features.parts=[{name:musicnn},{name:musicnn,model:MSD_vgg}]"
    assert run_name({"model": "linear", "features": "fusion"}, [fused], "abcdef12") == (
        "linear-fusion-musicnn+musicnn.MSD_vgg-abcdef"
    )
    long = run_name(choices, [f"model.k{i}={i}" for i in range(40)], "123456789")
    assert len(long) <= 60 + 7 and long.endswith("-123456")
