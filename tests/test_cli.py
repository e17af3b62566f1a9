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

    from genreclf.core.console import QUIET_LOGGERS, quiet_console

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
    from genreclf.core.console import quiet_console

    assert verbose_requested(["hydra.verbose=true"]) and verbose_requested(["hydra.verbose=[a]"])
    assert not verbose_requested(["hydra.verbose=false", "model=dense"])
    assert not verbose_requested([])
    with warnings.catch_warnings():
        before = list(warnings.filters)
        quiet_console(True)
        assert warnings.filters == before


def test_third_party_keys_are_checked_with_or_without_plus():
    from genreclf.cli import unknown_group_key

    adam = "optimizer.lrr=0.1: unknown key; known keys of optimizer (adam): lr, betas, eps,"
    assert unknown_group_key(["optimizer.lrr=0.1"]).startswith(adam)
    assert unknown_group_key(["+optimizer.lrr=0.1"]).startswith(adam)
    sgd = unknown_group_key(["optimizer=sgd", "+optimizer.betas=[0.9,0.9]"])
    assert sgd.startswith("optimizer.betas=[0.9,0.9]: unknown key; known keys of optimizer (sgd)")
    assert unknown_group_key(["+optimizer.betas=[0.5,0.9]", "+trainer.gradient_clip_val=1"]) is None
    assert unknown_group_key(["trainer.max_epoch=3"]).startswith(
        "trainer.max_epoch=3: unknown key; known keys of trainer (default): accelerator,"
    )
    assert unknown_group_key(["callbacks.early_stopping.patiense=3"]).startswith(
        "callbacks.early_stopping.patiense=3: unknown key; known keys of EarlyStopping: monitor,"
    )
    assert unknown_group_key(["callbacks.early_stopping.patience=3,4"]) is None


def test_genreclf_keys_come_from_source_without_torch():
    import subprocess
    import sys

    code = (
        "import sys; from genreclf.cli import unknown_group_key as k; "
        "print(k(['+model.foo=1'])); print(k(['model=cnn', 'model.kernel_size=3'])); "
        "print(sorted(m for m in ('torch', 'pytorch_lightning') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    foo, cnn, loaded = out.stdout.splitlines()
    assert foo.startswith("model.foo=1: unknown key; known keys of model (dense): hidden_size,")
    assert cnn == "None" and loaded == "[]"


def test_a_misspelt_group_name_names_the_groups():
    from genreclf.cli import unknown_group_name

    message = unknown_group_name(["modle=linear"])
    assert message.startswith("modle=linear: no such config group (did you mean model?); groups:")
    assert "classifier, data, datamodule" in message
    fine = ["seed=3", "repeats=2", "debug=fast", "+preset=seed_dense", "hydra/launcher=joblib"]
    assert unknown_group_name(fine) is None
    assert unknown_group_name(["sweep_id=x"], "report") is None
    assert unknown_group_name(["modle=x"], "report").startswith("modle=x: no such config group")
    assert unknown_group_name(["inputs=[a.wav]", "top_k=2"], "predict") is None


def test_source_declarations_match_the_classes():
    """Every genreclf class of conf/ read from source declares what importing it gives."""
    import importlib

    import yaml

    from genreclf.config.checks import SUPPLIED
    from genreclf.config.declared import source_params
    from genreclf.core.params import _field_annotation, describe, params_model
    from tests.paths import CONF

    read = 0
    for path in sorted(CONF.glob("*/*.yaml")):
        node = yaml.safe_load(path.read_text()) or {}
        target = node.get("_target_") if isinstance(node, dict) else None
        group = path.parent.name
        if not str(target).startswith("genreclf.") or group not in SUPPLIED:
            continue
        model = source_params(target, SUPPLIED[group])
        if model is None:
            continue  # left to the full check
        module, _, name = target.rpartition(".")
        real = params_model(getattr(importlib.import_module(module), name), SUPPLIED[group])
        assert list(model.model_fields) == list(real.model_fields), target
        for key, field in real.model_fields.items():
            assert model.model_fields[key].default == field.default, (target, key)
            shown = describe(_field_annotation(model, key))
            assert shown == describe(_field_annotation(real, key)), (target, key)
        read += 1
    assert read >= 15
