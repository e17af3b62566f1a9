"""Command-line plumbing shared by the Hydra apps: one-line errors for bad options and data."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
from hydra.core.override_parser.overrides_parser import OverridesParser

from genreclf.core import stopping
from genreclf.core.console import QUIET_LOGGERS, QUIET_WARNINGS, quiet_console  # noqa: F401
from genreclf.core.errors import GenreclfError, one_line
from genreclf.core.registry import CONFIG_DIR

#: Longest ``error:`` line a command prints (control characters shown as escapes).
ERROR_LIMIT = 2000


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


def _yaml(path: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _defaults(path: Path) -> list:
    entries = _yaml(path).get("defaults") or []
    return entries if isinstance(entries, list) else []


def _chosen_options(parsed: list, config_dir: Path, config_name: str = "config") -> dict[str, str]:
    """``group -> option`` this command line composes (explicit, preset, or default)."""
    chosen: dict[str, str] = {}
    for entry in _defaults(config_dir / f"{config_name}.yaml"):
        if isinstance(entry, dict) and len(entry) == 1:
            ((group, option),) = entry.items()
            if isinstance(option, str):
                chosen[str(group)] = option
    explicit = {
        o.key_or_group: o.get_value_element_as_str()
        for o in parsed
        if not o.is_sweep_override() and not o.is_delete() and "." not in o.key_or_group
    }
    for group, option in explicit.items():  # presets first: their `override /g: option`
        for entry in _defaults(config_dir / group / f"{option}.yaml"):
            if isinstance(entry, dict) and len(entry) == 1:
                ((key, value),) = entry.items()
                if str(key).startswith("override /") and isinstance(value, str):
                    chosen[str(key).removeprefix("override /")] = value
    return chosen | explicit


def _option_keys(config_dir: Path, group: str, option: str) -> tuple[set[str], str]:
    """The keys an option file sets (with the options it extends) and its ``_target_``."""
    keys: set[str] = set()
    target = ""
    for _ in range(8):  # linear -> dense: an option may extend another of its group
        data = _yaml(config_dir / group / f"{option}.yaml")
        keys |= {str(k) for k in data if k != "defaults"}
        target = target or str(data.get("_target_", ""))
        parents = [
            d for d in _defaults(config_dir / group / f"{option}.yaml") if isinstance(d, str)
        ]
        parents = [d for d in parents if d != "_self_"]
        if not parents:
            break
        option = parents[0]
    return keys, target


def _declared_keys(group: str, target: str) -> list[str] | None:
    """The keys the class ``target`` takes (``None``: not known here), without torch.

    Third-party classes from :data:`genreclf.core.third_party.KNOWN_KEYS`; genreclf's from
    their source (:func:`genreclf.config.declared.source_params`), else from the class itself.
    """
    from genreclf.config.checks import SUPPLIED, declared_keys
    from genreclf.config.declared import source_params
    from genreclf.core.third_party import known_keys

    third = known_keys(target)
    if third is not None or not target.startswith("genreclf."):
        return None if third is None else list(third)
    model = source_params(target, tuple(SUPPLIED.get(group, ())))
    return list(model.model_fields) if model is not None else declared_keys(target)


def _callback_key(entries: dict, key: str, added: bool) -> tuple[str, list[str]] | None:
    """``(node, known keys)`` if ``callbacks.<key>`` names no key of its entry."""
    from genreclf.core.third_party import HYDRA_KEYS, class_name, known_keys

    entry, _, sub = key.partition(".")
    if entry not in entries:
        return None if added else ("callbacks", sorted(entries))
    node = entries[entry] if isinstance(entries[entry], dict) else {}
    known = known_keys(node.get("_target_"))
    if not sub or "." in sub or known is None or sub in known or sub in HYDRA_KEYS:
        return None
    return class_name(node.get("_target_")), list(known)


def _group_key(config_dir: Path, group: str, option: str, key: str, added: bool) -> str | None:
    """Why ``group.key`` is refused (``None``: it is not), for the option chosen."""
    if group == "callbacks":
        found = _callback_key(_yaml(config_dir / group / f"{option}.yaml"), key, added)
        return (
            None
            if found is None
            else f"unknown key; known keys of {found[0]}: " + (", ".join(found[1]))
        )
    known, target = _option_keys(config_dir, group, option)
    if "." in key or key in known or not target:
        return None
    declared = _declared_keys(group, target)
    if declared is None:
        return None
    if key in declared:
        return None if added else f"not in conf/{group}/{option}.yaml; add it with +{group}.{key}"
    names = ", ".join(k for k in declared if not k.startswith("_"))
    return f"unknown key; known keys of {group} ({option}): {names}"


def unknown_group_key(
    overrides: list[str], config_dir: Path = CONFIG_DIR, config_name: str = "config"
) -> str | None:
    """The first ``[+]group.key=value`` that the chosen option's class does not take.

    Hydra would answer with several lines ("not in struct"), or not at all for ``+``;
    this names the known keys: torch's and Lightning's from :mod:`genreclf.core.third_party`,
    genreclf's from their declarations.
    """
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:
        return None  # Hydra reports syntax errors itself
    chosen = _chosen_options(parsed, config_dir, config_name)
    for override in parsed:
        group, _, key = override.key_or_group.partition(".")
        if override.is_delete() or not key or group not in chosen or group.startswith("hydra"):
            continue
        added = override.is_add() or override.is_force_add()
        reason = _group_key(config_dir, group, chosen[group], key, added)
        if reason:
            value = (
                override.get_value_element_as_str() if not override.is_sweep_override() else "..."
            )
            return f"{group}.{key}={value}: {reason}"
    return None


def _global_keys(config_dir: Path, config_name: str) -> set[str]:
    """Keys a command line may set without a dot: groups, the primary config's keys and
    those of options placed at the top (``# @package _global_``)."""
    keys = {p.name for p in config_dir.iterdir() if p.is_dir()}
    keys |= {str(k) for k in _yaml(config_dir / f"{config_name}.yaml") if k != "defaults"}
    for path in config_dir.glob("*/*.yaml"):
        if path.read_text(encoding="utf-8").lstrip().startswith("# @package _global_"):
            keys |= {str(k) for k in _yaml(path) if k != "defaults"}
    return keys


def unknown_group_name(
    overrides: list[str], config_name: str = "config", config_dir: Path = CONFIG_DIR
) -> str | None:
    """The first ``name=value`` whose name is no group of ``conf/`` and no top-level key.

    ``modle=linear`` gives ``modle=linear: no such config group (did you mean model?);
    groups: callbacks, ...``; Hydra would answer with several lines.
    """
    import difflib

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:
        return None  # Hydra reports syntax errors itself
    keys = _global_keys(config_dir, config_name)
    for override in parsed:
        name = override.key_or_group
        if override.is_add() or override.is_force_add() or override.is_delete():
            continue
        if "." in name or "/" in name or name.startswith("hydra") or name in keys:
            continue
        groups = sorted(p.name for p in config_dir.iterdir() if p.is_dir() and p.name != "hydra")
        close = difflib.get_close_matches(name, sorted(keys - {"hydra"}), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        value = override.get_value_element_as_str() if not override.is_sweep_override() else "..."
        return f"{name}={value}: no such config group{hint}; groups: {', '.join(groups)}"
    return None


def check_groups_early(cfg: Any) -> None:
    """genreclf's groups in ``cfg`` against their declarations, before torch loads.

    The declarations are read from source (:func:`genreclf.config.declared.source_params`), so
    ``model.dropout=1.5`` answers before torch, Lightning, librosa or MLflow are imported;
    the command's own check (with each class imported) still runs after, and judges what
    this one cannot read (rules between parameters, a class it cannot follow).

    Raises
    ------
    ConfigError
        One line, e.g. ``model.dropout=1.5: must be a finite number in [0, 1)``.
    """
    from omegaconf import DictConfig, OmegaConf

    from genreclf.config.checks import SUPPLIED
    from genreclf.config.declared import source_params
    from genreclf.core.params import validate
    from genreclf.core.third_party import HYDRA_KEYS

    if not isinstance(cfg, DictConfig):
        return
    for group, supplied in SUPPLIED.items():
        node = cfg.get(group)
        target = node.get("_target_") if isinstance(node, DictConfig) else None
        model = source_params(target, tuple(supplied)) if isinstance(target, str) else None
        if model is None:
            continue
        try:
            values = OmegaConf.to_container(node, resolve=True, throw_on_missing=True)
        except Exception:  # noqa: BLE001 - the command's own check names it
            continue
        values = {str(k): v for k, v in values.items() if k not in HYDRA_KEYS}
        if not any(k in supplied for k in values):
            validate(model, values, prefix=f"{group}.")


def exit_on_bad_choice(argv: list[str] | None = None, config_name: str = "config") -> None:
    """Exit with status 2 and one line if a command-line group choice does not exist.

    Also for a choice whose optional extra is not installed (``hydra/launcher=ray``
    without ``.[ray]``): the line names the install command; for a misspelt group name
    (:func:`unknown_group_name`) and a key no option declares (:func:`unknown_group_key`).
    """
    from genreclf.core.extras import missing_extra

    args = [a for a in (sys.argv[1:] if argv is None else argv) if "=" in a and a[0] != "-"]
    message = (
        unknown_group_choice(args)
        or unknown_group_name(args, config_name)
        or missing_extra(args)
        or unknown_group_key(args, config_name=config_name)
    )
    if message:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def one_line_errors(task: Callable, precheck: Callable[[Any], None] | None = None) -> Callable:
    """Wrap a Hydra task so that a :class:`~genreclf.core.errors.GenreclfError` prints one line.

    The command then exits with the error's ``exit_status`` (2 for options, 1 for data).
    ``precheck(cfg)`` runs first, inside the same guard (see :func:`check_groups_early`).
    """

    @functools.wraps(task)
    def wrapped(cfg):
        quiet_console(_hydra_verbose())
        stopping.install()  # also in a launcher's worker, where each job runs
        try:
            if precheck is not None:
                precheck(cfg)
            return task(cfg)
        except GenreclfError as exc:  # one line, whatever read text the message quotes
            print(f"error: {one_line(str(exc), limit=ERROR_LIMIT)}", file=sys.stderr)
            sys.exit(exc.exit_status)

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


def hydra_app(task: Callable, config_name: str) -> Callable[[], None]:
    """The ``main()`` of a genreclf command: ``task`` as a Hydra app on ``conf/<config_name>``.

    Bad group choices and genreclf's errors end the command with one line (see
    :func:`exit_on_bad_choice` and :func:`one_line_errors`).
    """
    hydra_main = hydra.main(
        config_path=str(CONFIG_DIR), config_name=config_name, version_base="1.3"
    )(one_line_errors(task, check_groups_early))

    def main() -> None:
        from genreclf.sweeps.schemas import register_launcher_schemas

        exit_on_bad_choice(config_name=config_name)
        quiet_console(verbose_requested())
        register_launcher_schemas()  # after the cheap check: it runs Hydra's plugin scan
        stopping.install()
        try:
            hydra_main()
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM / SIGUSR1 (see genreclf.core.stopping)
            print(stopping.stop_line(), file=sys.stderr, flush=True)
            sys.exit(130 if stopping.reason() == "SIGINT" else 143)
        except SystemExit:
            if not stopping.received:
                raise
            print(stopping.stop_line(), file=sys.stderr, flush=True)  # Lightning's exit(1)
            sys.exit(143)

    return main


def print_result(config: Any, run_id: str, outcome: Any, model_uri: str | None = None) -> None:
    """Print a run's classification report, scores and MLflow run.

    ``config`` is the run's :class:`~genreclf.config.runconfig.RunConfig`, ``outcome`` its
    :class:`~genreclf.protocol.Outcome`. A configuration run (several folds or seeds)
    prints the report of its pooled test predictions, mean ± std over its runs and the
    bootstrap interval.
    """
    scores = outcome.scores
    if outcome.members > 1:
        runs = f"{outcome.members} runs: {outcome.folds} fold(s) x {outcome.seeds} seed(s)"
        print(f"\nClassification report (pooled test predictions of {runs}):\n{outcome.report}")
        print(
            f"validation accuracy: {scores['val_acc_mean']:.3f} ± {scores['val_acc_std']:.3f}"
            f"   test accuracy: {scores['test_acc_mean']:.3f} ± {scores['test_acc_std']:.3f}"
            f"   macro-F1: {scores['test_f1_mean']:.3f}   (mean ± std over {runs})"
        )
        print(
            f"pooled test accuracy, 95% bootstrap interval: "
            f"[{scores['test_acc_ci_low']:.3f}, {scores['test_acc_ci_high']:.3f}]"
        )
    else:
        print(f"\nClassification report (test split, {len(outcome.y_true)} tracks):")
        print(outcome.report)
        print(f"test accuracy: {scores['test_acc']:.3f}   macro-F1: {scores['test_f1']:.3f}")
    if "refit_test_acc" in scores:
        print(
            f"refit on train + validation ({scores['refit_seeds']:.0f} seeds, "
            f"{scores['refit_epochs']:.0f} epochs): test accuracy {scores['refit_test_acc']:.3f}"
            f"   macro-F1: {scores['refit_test_f1']:.3f}"
        )
    if model_uri:
        print(f"Model: {model_uri}")
    kind = "configuration run" if outcome.members > 1 else "run"
    tracking = config.tracking
    print(f"MLflow {kind}: {run_id}  (experiment '{one_line(tracking['experiment'])}')")
    from genreclf.tracking.uri import mask_uri  # no password on the console

    print(f"Browse runs: mlflow ui --backend-store-uri {mask_uri(tracking['uri'])}")
