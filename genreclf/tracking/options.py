"""The ``tracking`` and ``registry`` options, declared once (see :mod:`genreclf.core.params`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, Strict

from genreclf.core.errors import printable
from genreclf.core.params import Bool, Float, Int, Name, Options, Text
from genreclf.tracking import names


def _lasting_uri(uri: str) -> str:
    """Refuse a store that cannot outlive the process."""
    if uri.strip().startswith("sqlite://") and ":memory:" in uri:
        raise ValueError("an in-memory store loses the run when the command ends; use a file")
    if not uri.strip():
        raise ValueError("must be a tracking URI such as sqlite:///mlruns/mlflow.db")
    return uri


#: A tracking URI whose runs outlive the command.
TrackingUri = Annotated[str, Strict(), AfterValidator(_lasting_uri)]


def _run_name(name: str) -> str:
    """Refuse a run name MLflow would not keep as it is, or a terminal would act on."""
    if len(name) > names.MAX_RUN_NAME:
        raise ValueError(
            f"at most {names.MAX_RUN_NAME} characters (MLflow's limit), not {len(name)}"
        )
    if printable(name) != name:
        raise ValueError("holds control characters (ESC, newline, NUL and the like)")
    return name


#: A run name: at most MLflow's 250 characters, no control characters.
RunName = Annotated[Text, AfterValidator(_run_name)]
#: A registered model name, and an alias (MLflow's own rules).
RegistryName = Annotated[str, Strict(), Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
RegistryAlias = Annotated[str, Strict(), Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")]


class TrackingOptions(Options):
    """``conf/tracking/``: where and how runs are recorded."""

    uri: TrackingUri
    experiment: Name
    run_name: RunName | None
    log_artifacts: Bool
    log_model: Bool
    flush_every_s: Float(ge=0, le=86400) | None
    sqlite_pragmas: dict[str, str | int] | None


class RegistryOptions(Options):
    """``registry.name`` and ``registry.alias``: register the trained model."""

    name: RegistryName | None
    alias: RegistryAlias | None


class SweepOptions(Options):
    """``conf/sweep/``: the sweep's name (its experiment and folder) and behaviour."""

    name: Name
    resume: Bool
    share_epoch_budgets: Bool
    pruner: Literal["none", "median", "asha", "hyperband"]
    pruners: dict[str, dict[str, int | float | str]]
    storage: Text | None
    study: Name
    trial: Int(ge=0) | None
