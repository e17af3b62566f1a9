"""Group-choice checks of the command-line apps."""

from genreclf.cli import group_options, unknown_group_choice


def test_unknown_choice_names_group_and_options():
    message = unknown_group_choice(["model=foo"])
    assert message == "model=foo: no such option; choose one of: cnn, dense, rnn"


def test_sweep_values_are_each_checked():
    assert unknown_group_choice(["model=dense,rnn"]) is None
    assert unknown_group_choice(["model=dense,lstm"]).startswith("model=lstm")


def test_underscore_files_are_parts_not_options():
    assert "_common" not in group_options("sweep")
    assert unknown_group_choice(["sweep=_common"]).startswith(
        "sweep=_common: no such option; choose one of: grid, grid_smoke, optuna"
    )
