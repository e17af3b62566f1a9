"""Command-line plumbing shared by the Hydra apps: one-line errors for bad options and data."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path

import hydra
from hydra.core.override_parser.overrides_parser import OverridesParser

from genreclf.console import QUIET_LOGGERS, QUIET_WARNINGS, quiet_console  # noqa: F401
from genreclf.data.errors import DataError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "conf"


def group_options(group: str, config_dir: Path = CONFIG_DIR) -> list[str] | None:
    """Options of a config group (``conf/<group>/*.yaml``), or ``None`` if it is no group.

    Files named ``_*.yaml`` are parts that options include (e.g. ``conf/sweep/_common.yaml``),
    not options.
    """
    folder = config_dir / group
    if not folder.is_dir():
        return None
    return sorted(p.stem for p in folder.glob("*.yaml") if not p.name.startswith("_"))


def unknown_group_choice(overrides: list[str], config_dir: Path = CONFIG_DIR) -> str | None:
    """The first ``group=option`` override naming an option that does not exist, as a message."""
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:
        return None  # Hydra reports syntax errors itself
    for override in parsed:
        if override.is_delete() or override.key_or_group.startswith("hydra"):
            continue
        options = group_options(override.key_or_group, config_dir)
        if options is None:
            continue
        values = (
            override.sweep_string_iterator()
            if override.is_sweep_override()
            else [override.get_value_element_as_str()]
        )
        for value in values:
            if value not in options:
                return (
                    f"{override.key_or_group}={value}: no such option; "
                    f"choose one of: {', '.join(options)}"
                )
    return None


def exit_on_bad_choice(argv: list[str] | None = None) -> None:
    """Exit with status 2 and one line if a command-line group choice does not exist.

    Also for a choice whose optional extra is not installed (``hydra/launcher=ray``
    without ``.[ray]``): the line names the install command.
    """
    from genreclf.extras import missing_extra

    args = [a for a in (sys.argv[1:] if argv is None else argv) if "=" in a and a[0] != "-"]
    message = unknown_group_choice(args) or missing_extra(args)
    if message:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def one_line_errors(task: Callable, errors: tuple[type[BaseException], ...]) -> Callable:
    """Wrap a Hydra task so that expected user errors print one line and exit.

    The exit status is the error's ``exit_status`` attribute where it has one (e.g.
    :class:`~genreclf.data.errors.DataError`: 1), else 2.
    """

    @functools.wraps(task)
    def wrapped(cfg):
        quiet_console(_hydra_verbose())
        try:
            return task(cfg)
        except errors as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(getattr(exc, "exit_status", 2))

    return wrapped


def verbose_requested(argv: list[str] | None = None) -> bool:
    """Whether the command line sets ``hydra.verbose`` (to ``true`` or logger names)."""
    for arg in sys.argv[1:] if argv is None else argv:
        key, _, value = arg.partition("=")
        if key.lstrip("+") == "hydra.verbose":
            return value.strip().lower() not in ("", "false", "null", "[]")
    return False


def _hydra_verbose() -> object:
    """This run's ``hydra.verbose`` (``False`` outside a Hydra app)."""
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().verbose if HydraConfig.initialized() else False


def hydra_app(
    task: Callable, config_name: str, errors: tuple[type[BaseException], ...]
) -> Callable[[], None]:
    """The ``main()`` of a genreclf command: ``task`` as a Hydra app on ``conf/<config_name>``.

    Bad group choices and the expected ``errors`` end the command with one line and
    status 2; bad data (:class:`~genreclf.data.errors.DataError`, always handled) with
    one line and status 1 (see :func:`exit_on_bad_choice` and :func:`one_line_errors`).
    """
    hydra_main = hydra.main(
        config_path=str(CONFIG_DIR), config_name=config_name, version_base="1.3"
    )(one_line_errors(task, (DataError, *errors)))

    def main() -> None:
        exit_on_bad_choice()
        quiet_console(verbose_requested())
        hydra_main()

    return main
