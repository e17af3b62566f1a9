"""Group-choice checks of the command-line apps."""

from genreclf.cli import group_options, unknown_group_choice


def test_unknown_choice_names_group_and_options():
    message = unknown_group_choice(["model=foo"])
    assert message == "model=foo: no such option; choose one of: cnn, dense, linear, rnn"


def test_sweep_values_are_each_checked():
    assert unknown_group_choice(["model=dense,rnn"]) is None
    assert unknown_group_choice(["model=dense,lstm"]).startswith("model=lstm")


def test_underscore_files_are_parts_not_options():
    assert "_common" not in group_options("sweep")
    assert unknown_group_choice(["sweep=_common"]).startswith(
        "sweep=_common: no such option; choose one of: grid, grid_smoke, optuna"
    )


def test_quiet_console_drops_only_the_listed_warnings():
    import logging
    import warnings

    from genreclf.console import QUIET_LOGGERS, quiet_console

    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    shown: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda message, *args, **kwargs: shown.append(str(message))
            quiet_console()
            warnings.warn(
                "`isinstance(treespec, LeafSpec)` is deprecated, use ...",
                FutureWarning,
                stacklevel=2,
            )
            with warnings.catch_warnings():  # as MLflow shows its type-hint warning
                warnings.simplefilter("once", category=UserWarning)
                warnings.warn(
                    "\x1b[33mAdd type hints to the `predict` method ...", UserWarning, stacklevel=2
                )
            warnings.warn("a warning of genreclf's own", UserWarning, stacklevel=2)
        assert shown == ["a warning of genreclf's own"]
        assert logging.getLogger(QUIET_LOGGERS[0]).level == logging.WARNING
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def test_hydra_verbose_keeps_everything():
    import warnings

    from genreclf.cli import verbose_requested
    from genreclf.console import quiet_console

    assert verbose_requested(["hydra.verbose=true"]) and verbose_requested(["hydra.verbose=[a]"])
    assert not verbose_requested(["hydra.verbose=false", "model=dense"])
    assert not verbose_requested([])
    with warnings.catch_warnings():
        before = list(warnings.filters)
        quiet_console(True)
        assert warnings.filters == before
