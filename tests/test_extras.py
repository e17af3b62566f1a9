"""Optional extras: a choice that needs one that is missing gets one line naming the install."""

from __future__ import annotations

import pytest

from genreclf.core import extras


def test_dev_install_has_every_extra():
    """`.[dev]` includes them all, so the suite covers them."""
    assert all(extras.installed(name) for name in extras.EXTRAS)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["hydra/launcher=ray"], "hydra/launcher=ray needs the ray extra: pip install -e '.[ray]'"),
        (["extraction.backend=ray"], "extraction.backend=ray needs the ray extra"),
        (["features=hf_encoder"], "features=hf_encoder needs the hf extra: pip install -e '.[hf]'"),
        (["model=dense", "+extraction.backend=loky,ray"], "extraction.backend=ray needs"),
    ],
)
def test_a_missing_extra_is_named_with_its_install_command(monkeypatch, args, line):
    monkeypatch.setattr(extras, "EXTRAS", {"ray": ("no_such_module_x",), "hf": ("no_such_y.z",)})
    message = extras.missing_extra(args)
    assert message is not None and message.startswith(line) and "\n" not in message


def test_installed_extras_and_other_choices_pass():
    assert extras.missing_extra(["hydra/launcher=joblib", "features=musicnn", "seed=3"]) is None
    assert extras.missing_extra(["hydra/launcher=ray", "features=hf_encoder"]) is None


def test_the_commands_refuse_a_missing_extra_up_front(monkeypatch, capsys):
    from genreclf.cli import exit_on_bad_choice

    monkeypatch.setattr(extras, "EXTRAS", {"ray": ("no_such_module_x",), "hf": ("transformers",)})
    with pytest.raises(SystemExit) as stop:
        exit_on_bad_choice(["--multirun", "sweep=grid_smoke", "hydra/launcher=ray"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: hydra/launcher=ray needs the ray extra: pip install -e '.[ray]'"
