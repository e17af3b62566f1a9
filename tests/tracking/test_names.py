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
