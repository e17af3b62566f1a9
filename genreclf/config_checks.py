"""Checks that stop a command before any work, with one line naming the option at fault.

Every rule is one row of :data:`RULES`: the option's dotted key, the kind of value it
takes (int, float, bool, str; a bool is never an int), what else is allowed (range,
choices, combinations with its neighbours), and which commands it applies to. A
rule applies where its key is in the composed config (``*`` matches any one key, e.g.
every callback), and, with ``when``, only for the group's ``_target_`` it names. The
first value that breaks a rule raises :class:`ConfigError` with one line::

    optimizer.lr=abc: must be a float > 0
    split.fold=99: must be in [0, 5) (split.n_splits=5)

Groups of genreclf's own classes (:data:`CLOSED_GROUPS`) also refuse keys their class
does not take (``+model.foo=1``), naming the keys it does. The constructors keep
their own checks as a second line of defence.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from genreclf.cli import CONFIG_DIR
from genreclf.features.musicnn import LAYERS as MUSICNN_LAYERS
from genreclf.features.musicnn import MODELS as MUSICNN_MODELS
from genreclf.features.musicnn import POOLINGS as MUSICNN_POOLINGS


class ConfigError(ValueError):
    """A config value is not allowed; the message is one line naming the option."""


# ------------------------------------------------------------------------------ kinds
@dataclass(frozen=True)
class Kind:
    """The type a value must have, and its name in messages."""

    name: str
    accepts: Callable[[Any], bool]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_ints(v: Any) -> bool:
    return isinstance(v, list | tuple) and bool(v) and all(_is_int(x) and x >= 0 for x in v)


def _is_strs(v: Any) -> bool:
    return isinstance(v, list | tuple) and all(isinstance(x, str) for x in v)


INT = Kind("an int", _is_int)
FLOAT = Kind("a float", _is_number)  # an int is a float too; a bool is neither
BOOL = Kind("a bool (true or false)", lambda v: isinstance(v, bool))
STR = Kind("a str", lambda v: isinstance(v, str))
STRS = Kind("a list of str", _is_strs)
MAPPING = Kind("a mapping", lambda v: isinstance(v, Mapping))
ANY = Kind("", lambda v: True)  # the check itself says what is allowed


# ------------------------------------------------------------------------------ rules
#: Which config each rule reads: ``train`` (conf/config.yaml), ``extract``,
#: ``predict``, ``report``.
TRAIN = ("train",)
AUDIO = ("train", "extract")  # groups both training and extraction compose
PREDICT = ("predict",)
REPORT = ("report",)

#: ``check(value, node)``: ``node`` is the config node that holds the key (for rules
#: on combinations). It returns True (allowed), False (``must be <allowed>``) or a
#: str (the whole reason, which says what is allowed).
Check = Callable[[Any, Any], "bool | str"]


@dataclass(frozen=True)
class Rule:
    """One option: its key, what it must be, and where it applies.

    Parameters
    ----------
    key : str
        Dotted key from the config root; ``*`` matches any one key.
    check : callable
        ``check(value, node) -> bool | str`` on a value of the right ``kind``.
    allowed : str
        What is allowed, as it reads after ``must be`` (``> 0``, ``in [0, 1)``);
        ``{name}`` fields are filled from ``node`` (``split.n_splits={n_splits}``).
    kind : Kind
        The value's type.
    apps : tuple of str
        The commands whose config holds the key.
    when : callable, optional
        ``when(target)``: the rule applies only if the key's group has a ``_target_``
        for which this is true.
    null : str, optional
        ``null`` is allowed too, and means this.
    example : str, optional
        A valid setting, shown when the value is not given (``???``) or is refused.
    """

    key: str
    check: Check
    allowed: str
    kind: Kind = ANY
    apps: tuple[str, ...] = TRAIN
    when: Callable[[str], bool] | None = None
    null: str | None = None
    example: str | None = None

    def described(self, node: Any = None) -> str:
        """``an int >= 1``, ``a float in [0, 1)``, ``a bool (true or false)``, ..."""
        allowed = self.allowed_in(node)
        if self.kind is ANY or not allowed:
            text = self.kind.name or allowed
        elif allowed[0] in "<>=!" or allowed.startswith(("in ", "such ")):
            text = f"{self.kind.name} {allowed}"
        else:
            text = f"{self.kind.name}, {allowed}"
        return f"null or {text}" if self.null else text

    def allowed_in(self, node: Any) -> str:
        """``allowed`` with its ``{name}`` fields filled from ``node`` (where they can be)."""
        if "{" not in self.allowed or node is None:
            return self.allowed
        try:
            return self.allowed.format_map(node)
        except Exception:  # a neighbour that is absent or cannot be resolved
            return self.allowed


def _ok(_v: Any, _node: Any) -> bool:
    return True


def _ge(low: float) -> Check:
    return lambda v, _: v >= low


def _gt(low: float) -> Check:
    return lambda v, _: v > low


def _in(low: float, high: float, closed: str = "[)") -> Check:
    def check(v: Any, _: Any) -> bool:
        above = v >= low if closed[0] == "[" else v > low
        below = v <= high if closed[1] == "]" else v < high
        return above and below

    return check


def _choice(*options: str) -> Check:
    return lambda v, _: v in options


def _nonempty(v: Any, _: Any) -> bool:
    return bool(v.strip()) if isinstance(v, str) else bool(v)


def _is(*classes: str) -> Callable[[str], bool]:
    """``when``: the group's ``_target_`` names one of these classes (or functions)."""
    return lambda target: target.rsplit(".", 1)[-1] in classes


def _musicnn_installed(v: str, _: Any) -> bool | str:
    from genreclf.features.musicnn_net import INSTALL, MusicnnMissing, checkpoint_prefix

    try:
        checkpoint_prefix(v)
    except MusicnnMissing:
        return f"the musicnn weights are not installed: {INSTALL}"
    return True


def _not_synthetic(target: str) -> bool:
    return not target.endswith("SyntheticGTZAN")


def _seed(v: int, _: Any) -> bool:
    return 0 <= v < 2**32


def _name(v: str, _: Any) -> bool | str:
    """An experiment name that is also a safe folder name."""
    if not v.strip():
        return "must be non-empty"
    if "/" in v or "\\" in v or v.strip() in (".", ".."):
        return "must not contain '/' or '\\' nor be '.' or '..' (it names a folder)"
    return True


def _regex(v: str, _: Any) -> bool | str:
    try:
        re.compile(v)
    except re.error as err:
        return f"must be a valid regular expression ({err})"
    return True


def _existing(want: str) -> Check:
    """An existing folder (``want="folder"``) or file (``"file"``)."""

    def check(v: str, _: Any) -> bool | str:
        path = Path(v).expanduser()
        if not path.exists():
            return f"no such file or folder; must be an existing {want}"
        if want == "folder" and not path.is_dir():
            return "is a file; must be an existing folder"
        if want == "file" and not path.is_file():
            return "is a folder; must be an existing file"
        return True

    return check


def _creatable(path: Path, *, folder: bool) -> str | None:
    """Why ``path`` cannot be written as a file (or created as a folder), or ``None``."""
    if path.exists():
        if folder and not path.is_dir():
            return "is a file, not a folder"
        if not folder and path.is_dir():
            return "is a folder, not a file"
        if not os.access(path, os.W_OK):
            return "is not writable"
        return None
    parent = path.parent
    existing = next((p for p in (parent, *parent.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        return f"cannot be created: {existing} is a file"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot be created: folder {existing} is not writable"
    return None


OUTPUT_SUFFIXES = (".csv", ".json")


def _writable_folder(v: Any, _: Any) -> bool | str:
    """A non-empty path to a folder that exists or can be created, and is writable."""
    if not _nonempty(v, _):
        return False
    why = _creatable(Path(str(v)).expanduser(), folder=True)
    return f"{why}; must be a writable folder" if why else True


def _output_file(v: str, _: Any) -> bool | str:
    path = Path(v).expanduser()
    if path.is_dir():
        return "is a folder; must be a .csv or .json file path"
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        return "the file name must end in .csv or .json"
    why = _creatable(path, folder=False)
    return f"{why}; must be a writable .csv or .json file path" if why else True


def _output_folder(v: str, _: Any) -> bool | str:
    why = _creatable(Path(v).expanduser(), folder=True)
    return f"{why}; must be a folder that can be created and written" if why else True


def _inputs(v: Any, _: Any) -> bool:
    if isinstance(v, str):
        return bool(v.strip())
    return _is_strs(v) and bool(v) and all(s.strip() for s in v)


def _holdout_sum(v: float, split: Any) -> bool:
    return split.get("val_size", 0) + v < 1


def _fold(v: int, split: Any) -> bool:
    return 0 <= v < split.n_splits


def _nesterov(v: bool, optimizer: Any) -> bool:
    return not v or ((optimizer.get("momentum") or 0) > 0 and not optimizer.get("dampening"))


PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true", "32")
BACKENDS = ("loky", "threading", "multiprocessing", "ray")
MONITORED = ("val_loss", "val_acc", "val_f1", "train_loss", "train_acc", "train_f1")
NAME_RULE = "a non-empty name without '/', '\\' or '..'"
SEED = "in [0, 2**32)"
FRACTION = "in (0, 1)"

#: Every option genreclf checks before any work, in the order checked.
RULES: tuple[Rule, ...] = (
    Rule("seed", _seed, SEED, INT),
    Rule("paths.cache_dir", _nonempty, "a non-empty path", STR, AUDIO),
    # data
    Rule("data.root", _nonempty, "a folder", STR, AUDIO, example="data.root=/data/GTZAN"),
    Rule("data.root", _existing("folder"), "an existing folder", STR, AUDIO, _not_synthetic),
    Rule(
        "data.path",
        _existing("file"),
        "an existing CSV or Parquet file",
        STR,
        AUDIO,
        example="data.path=features.csv",
    ),
    Rule("data.clips_per_genre", _ge(1), ">= 1", INT, AUDIO),
    Rule("data.duration", _gt(0), "> 0 (seconds)", FLOAT, AUDIO),
    Rule("data.sr", _gt(0), "> 0 (Hz)", INT, AUDIO),
    Rule("data.seed", _seed, SEED, INT, AUDIO),
    Rule("data.extensions", _nonempty, "a non-empty list such as [.wav,.mp3]", STRS, AUDIO),
    Rule("data.label_column", _nonempty, "a column name", STR, AUDIO),
    Rule("data.track_column", _nonempty, "a column name", STR, AUDIO, null="each row a track"),
    Rule("data.exclude", _ok, "", STRS, AUDIO),
    Rule("data.recipe", _nonempty, "a feature set name", STR, AUDIO, null="unknown"),
    Rule("data.segment_pattern", _regex, "a regex", STR, AUDIO, null="names as they are"),
    Rule("data.prefix_label", _ok, "", BOOL, AUDIO),
    Rule("data.nonfinite", _choice("error", "drop"), "error or drop", STR, AUDIO),
    # features
    Rule("features.sr", _gt(0), "> 0 (Hz)", INT, AUDIO, null="the file's own rate"),
    *(
        Rule(f"features.{key}", _ge(1), ">= 1", INT, AUDIO)
        for key in ("n_mels", "n_mfcc", "n_fft", "hop_length", "n_chroma", "n_bands")
    ),
    Rule("features.segment_seconds", _gt(0), "> 0 (seconds)", FLOAT, AUDIO),
    Rule("features.roll_percent", _in(0, 1, "()"), FRACTION, FLOAT, AUDIO),
    Rule("features.deltas", _ok, "", BOOL, AUDIO),
    *(
        Rule(
            f"features.{key}",
            _choice(*values),
            f"one of {', '.join(map(str, values))}",
            kind,
            AUDIO,
            _is("Musicnn"),
        )
        for key, values, kind in (
            ("sr", (16000,), INT),
            ("model", MUSICNN_MODELS, STR),
            ("layer", MUSICNN_LAYERS, STR),
            ("pooling", MUSICNN_POOLINGS, STR),
        )
    ),
    Rule("features.model", _musicnn_installed, "installed", STR, AUDIO, _is("Musicnn")),
    # extraction
    Rule("extraction.cache_dir", _writable_folder, "a writable folder", STR, AUDIO),
    Rule("extraction.n_jobs", lambda v, _: v == -1 or v >= 1, "-1 (all cores) or >= 1", INT, AUDIO),
    Rule("extraction.backend", _choice(*BACKENDS), f"one of {', '.join(BACKENDS)}", STR, AUDIO),
    Rule(
        "extraction.batch_size",
        lambda v, _: v == "auto" or (_is_int(v) and v >= 1),
        "'auto' or an int >= 1",
        ANY,
        AUDIO,
    ),
    Rule("extraction.progress", _ok, "", BOOL, AUDIO),
    Rule("extraction.min_duration", _ge(0), ">= 0 (seconds)", FLOAT, AUDIO),
    # split
    Rule("split.val_size", _in(0, 1, "()"), FRACTION, FLOAT),
    Rule("split.test_size", _in(0, 1, "()"), FRACTION, FLOAT),
    Rule(
        "split.test_size",
        _holdout_sum,
        "such that split.val_size + split.test_size < 1 (split.val_size={val_size})",
        FLOAT,
        when=_is("HoldoutSplit"),
    ),
    Rule("split.n_splits", _ge(2), ">= 2", INT),
    Rule(
        "split.fold",
        _fold,
        "in [0, {n_splits}) (split.n_splits={n_splits})",
        INT,
        when=_is("KFoldSplit"),
    ),
    Rule("split.seed", _seed, SEED, INT),
    Rule("split.random_state", _seed, SEED, INT),
    *(
        Rule(f"split.{part}", _existing("file"), "an existing list file", STR)
        for part in ("train", "valid", "test")
    ),
    # datamodule, model, classifier, optimizer
    Rule("datamodule.batch_size", _ge(1), ">= 1", INT),
    Rule("datamodule.seed", _seed, SEED, INT),
    Rule("model.hidden_size", _ge(1), ">= 1", INT),
    Rule("model.num_layers", _ge(0), ">= 0 (0: a linear probe)", INT, TRAIN, _is("DenseHead")),
    Rule("model.num_layers", _ge(1), ">= 1", INT, TRAIN, lambda t: not _is("DenseHead")(t)),
    Rule("model.dropout", _in(0, 1), "in [0, 1)", FLOAT),
    Rule("model.batch_norm", _ok, "", BOOL),
    *(
        Rule(f"model.{key}", _ge(1), ">= 1", INT)
        for key in ("kernel_size", "pooled_length", "patch_size", "step_size")
    ),
    Rule("classifier.label_smoothing", _in(0, 1), "in [0, 1)", FLOAT),
    Rule("classifier.mixup_alpha", _ge(0), ">= 0 (0: no mixup)", FLOAT),
    Rule("optimizer.lr", _gt(0), "> 0", FLOAT),
    Rule("optimizer.weight_decay", _ge(0), ">= 0", FLOAT),
    Rule("optimizer.momentum", _ge(0), ">= 0", FLOAT),
    Rule(
        "optimizer.nesterov",
        _nesterov,
        "false unless optimizer.momentum > 0 (optimizer.momentum={momentum})",
        BOOL,
    ),
    Rule("optimizer.fused", _ok, "", BOOL, null="torch's choice"),
    # trainer, callbacks
    Rule("trainer.max_epochs", _ge(1), ">= 1", INT),
    Rule("trainer.log_every_n_steps", _ge(1), ">= 1", INT),
    Rule("trainer.num_sanity_val_steps", _ge(-1), ">= -1 (-1: all)", INT),
    Rule("trainer.accelerator", _nonempty, "a Lightning accelerator (cpu, gpu, auto)", STR),
    Rule(
        "trainer.devices",
        lambda v, _: v == "auto" or (_is_int(v) and (v >= 1 or v == -1)) or _is_ints(v),
        "auto, -1 (all), a count >= 1 or a list of device indices",
        ANY,
    ),
    Rule(
        "trainer.precision",
        lambda v, _: str(v) in PRECISIONS,
        f"one of {', '.join(PRECISIONS)}",
        ANY,
    ),
    *(
        Rule(f"trainer.{key}", _ok, "", BOOL)
        for key in (
            "deterministic",
            "enable_progress_bar",
            "enable_model_summary",
            "enable_checkpointing",
        )
    ),
    Rule("callbacks.*.patience", _ge(0), ">= 0", INT),
    Rule("callbacks.*.monitor", _choice(*MONITORED), f"one of {', '.join(MONITORED)}", STR),
    Rule("callbacks.*.mode", _choice("min", "max"), "min or max", STR),
    Rule("callbacks.*.save_top_k", _ge(-1), ">= -1 (-1: all)", INT),
    # tracking, sweeps, refit
    Rule("tracking.uri", _nonempty, "a tracking URI", STR, ("train", "predict", "report")),
    Rule("tracking.experiment", _name, NAME_RULE, STR),
    Rule("tracking.log_artifacts", _ok, "", BOOL),
    Rule("tracking.log_model", _ok, "", BOOL),
    Rule("tracking.flush_every_s", _ge(0), ">= 0 (seconds)", FLOAT, null="0"),
    Rule("tracking.sqlite_pragmas", _ok, "", MAPPING, null="none"),
    Rule("sweep.name", _name, NAME_RULE, STR),
    Rule("sweep.resume", _ok, "", BOOL),
    Rule("sweep.share_epoch_budgets", _ok, "", BOOL),
    Rule("refit.seeds", _ge(1), ">= 1", INT),
    # predict (conf/predict.yaml)
    Rule(
        "inputs",
        _inputs,
        "one or more audio files or folders",
        ANY,
        PREDICT,
        example="inputs=[song.mp3,music/]",
    ),
    Rule("model_uri", _nonempty, "a model reference", STR, PREDICT),
    Rule("output", _output_file, "a writable .csv or .json file path", STR, PREDICT, null="none"),
    Rule("top_k", _ge(1), ">= 1", INT, ("predict", "report")),
    Rule("n_jobs", lambda v, _: v == -1 or v >= 1, "-1 (one per core) or >= 1", INT, PREDICT),
    Rule("max_windows", _ge(1), ">= 1", INT, PREDICT, null="every window"),
    Rule("trust_pickle", _ok, "", BOOL, PREDICT),
    Rule("trust_remote_code", _ok, "", BOOL, PREDICT),
    # report (conf/report.yaml)
    Rule("experiment", _name, NAME_RULE, STR, REPORT, example="experiment=demo"),
    Rule("output_dir", _output_folder, "a folder that can be created", STR, REPORT),
    Rule("sweep_id", _nonempty, "a sweep id", STR, REPORT, null="all runs"),
    Rule("ignore_params", _ok, "", STRS, REPORT),
    Rule("pca", _ok, "", BOOL, REPORT),
    Rule("log_to_mlflow", _ok, "", BOOL, REPORT),
)

#: Groups of genreclf's own classes: a key the class's ``__init__`` does not take is
#: refused. The values are the parameters genreclf gives itself (not configurable).
CLOSED_GROUPS: dict[str, tuple[str, ...]] = {
    "data": (),
    "features": (),
    "extraction": (),
    "split": (),
    "datamodule": ("table", "split", "transform"),
    "model": ("input_shape", "num_classes"),
    "classifier": ("head", "optimizer", "class_names"),
    "refit": ("cfg", "datamodule", "selected_epochs"),
}
#: The closed groups each command composes.
GROUPS_OF = {"train": tuple(CLOSED_GROUPS), "extract": ("data", "features", "extraction")}


# ---------------------------------------------------------------------------- checking
def show(value: Any) -> str:
    """A value as it would be written on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value == "":
        return "''"
    if isinstance(value, list | tuple):
        return "[" + ",".join(show(v) for v in value) + "]"
    return str(value)


_MISSING = object()


def _plain(value: Any) -> Any:
    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _matches(node: Any, parts: Sequence[str], prefix: str) -> Iterator[tuple[str, Any, Any]]:
    """``(full key, value, parent node)`` of every key under ``node`` matching ``parts``."""
    if not isinstance(node, DictConfig):
        return
    head, rest = parts[0], parts[1:]
    keys = [str(k) for k in node.keys()] if head == "*" else [head]
    for key in keys:
        if key not in node.keys():  # (`in node` is False for a value not given, ???)
            continue
        name = f"{prefix}{key}"
        if rest:
            yield from _matches(node[key], rest, f"{name}.")
        elif OmegaConf.is_missing(node, key):
            yield name, _MISSING, node
        else:
            yield name, _resolved(node, key, name), node


def _resolved(node: DictConfig, key: str, name: str) -> Any:
    """``node[key]`` as plain values; an interpolation that fails is a :class:`ConfigError`."""
    try:
        return _plain(node[key])
    except OmegaConfBaseException as err:
        raw = node._get_node(key)._value()  # the unresolved text, e.g. ${sweep.name}
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f"{name}={show(raw)}: cannot be resolved: {reason}") from None


def _target(node: DictConfig, group: str) -> str:
    sub = node.get(group) if group else node
    target = sub.get("_target_") if isinstance(sub, DictConfig) else None
    return target if isinstance(target, str) else ""


def _apply(rule: Rule, root: DictConfig, strip: str = "") -> None:
    """Raise :class:`ConfigError` if a value at ``rule.key`` under ``root`` breaks it."""
    parts = rule.key.removeprefix(strip).split(".")
    if rule.when is not None:
        group = parts[0] if len(parts) > 1 else ""
        if not rule.when(_target(root, group)):
            return
    example = f", e.g. {rule.example}" if rule.example else ""
    for name, value, node in _matches(root, parts, strip):
        if value is _MISSING:
            raise ConfigError(f"{name}=???: must be given: {rule.described(node)}{example}")
        if value is None and rule.null is not None:
            continue
        if not rule.kind.accepts(value):
            raise ConfigError(f"{name}={show(value)}: must be {rule.described(node)}{example}")
        verdict = rule.check(value, node)
        if verdict is True:
            continue
        if isinstance(verdict, str):
            raise ConfigError(f"{name}={show(value)}: {verdict}")
        null = f" (or null: {rule.null})" if rule.null else ""
        allowed = rule.allowed_in(node)
        raise ConfigError(f"{name}={show(value)}: must be {allowed}{null}{example}")


def _missing_keys(node: Any, prefix: str = "") -> Iterator[str]:
    """Dotted keys of mandatory values (``???``) not given, without resolving anything."""
    if not isinstance(node, DictConfig):
        return
    for key in node.keys():
        if OmegaConf.is_missing(node, key):
            yield f"{prefix}{key}"
        else:
            child = node._get_node(key)
            if isinstance(child, DictConfig) and not child._is_interpolation():
                yield from _missing_keys(child, f"{prefix}{key}.")


@functools.cache
def _option_keys(group: str, target: str) -> frozenset[str]:
    """Keys of the options ``conf/<group>/*.yaml`` whose ``_target_`` is ``target``."""
    import yaml

    keys: set[str] = set()
    for path in sorted((CONFIG_DIR / group).glob("*.yaml")):
        try:
            option = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(option, dict) and option.get("_target_") == target:
            keys.update(str(k) for k in option)
    return frozenset(keys)


@functools.cache
def _parameters(target: str) -> tuple[str, ...] | None:
    """Named ``__init__`` (or function) parameters of a genreclf ``_target_``.

    ``None`` where unknown: not genreclf's, not importable, or taking ``**kwargs``.
    """
    module, _, name = target.rpartition(".")
    if not module.startswith("genreclf."):
        return None
    try:
        signature = inspect.signature(getattr(importlib.import_module(module), name))
    except (ImportError, AttributeError, TypeError, ValueError):
        return None
    kinds = [p.kind for p in signature.parameters.values()]
    if inspect.Parameter.VAR_KEYWORD in kinds:
        return None
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(n for n, p in signature.parameters.items() if p.kind in named)


def check_group_keys(cfg: DictConfig, group: str, fixed: Sequence[str] = ()) -> None:
    """Refuse a key of ``cfg[group]`` that the class of its ``_target_`` does not take.

    Keys of the group's options in ``conf/`` are known without importing anything;
    another key is looked up in the class's signature.
    """
    node = cfg.get(group)
    target = _target(cfg, group)
    if not target:
        return
    yaml_keys = _option_keys(group, target)
    extra = [str(k) for k in node.keys() if not str(k).startswith("_") and k not in yaml_keys]
    if not extra:
        return
    params = _parameters(target)
    if params is None:
        return
    known = [p for p in params if p not in fixed]
    for key in extra:
        if key in known:
            continue
        name = f"{group}.{key}"
        value = "???" if OmegaConf.is_missing(node, key) else show(_resolved(node, key, name))
        cls = target.rsplit(".", 1)[-1]
        why = "set by genreclf, not configurable" if key in fixed else "unknown key"
        raise ConfigError(
            f"{name}={value}: {why}; known keys of {group} ({cls}): {', '.join(known)}"
        )


def check_config(cfg: DictConfig, app: str) -> None:
    """Check every rule of :data:`RULES` for command ``app`` on ``cfg``, then its groups' keys.

    Raises
    ------
    ConfigError
        On the first option at fault, e.g. ``optimizer.lr=-1: must be > 0``.
    """
    for rule in RULES:
        if app in rule.apps:
            _apply(rule, cfg)
    for key in _missing_keys(cfg):
        raise ConfigError(f"{key}=???: must be given, e.g. {key}=<value>")
    for group in GROUPS_OF.get(app, ()):
        check_group_keys(cfg, group, CLOSED_GROUPS[group])


def check_train_config(cfg: DictConfig) -> None:
    """Validate a training config (``conf/config.yaml``) before any work.

    Raises
    ------
    ConfigError
        On the first invalid value, e.g. ``optimizer.lr=-1: must be > 0``.
    """
    check_config(cfg, "train")


def check_data_config(data: DictConfig) -> None:
    """Check the ``data`` group alone: its values, and that its root or table exists."""
    for rule in RULES:
        if rule.key.startswith("data.") and "train" in rule.apps:
            _apply(rule, data, strip="data.")


def check_predict_config(cfg: DictConfig) -> None:
    """Validate ``python -m genreclf.predict`` options before any file is read."""
    check_config(cfg, "predict")


def check_report_config(cfg: DictConfig) -> None:
    """Validate ``python -m genreclf.report`` options before the store is opened."""
    check_config(cfg, "report")
