"""The records of a spool file, checked before anything is uploaded.

A spool file is read data (see :mod:`genreclf.tracking.spool`): each line is validated
against one of the models below (``extra="forbid"``, bounded strings, MLflow's limits on
keys and values, terminal statuses from MLflow's ``RunStatus`` names, artifact names
without folders), and the whole file is capped in size before it is read
(:data:`MAX_SPOOL_BYTES`). JSON nesting is bounded by pydantic's parser (at most 200
levels; the records themselves are at most 4 deep).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from genreclf.core.params import Name
from genreclf.tracking import names

#: Largest spool file read (bytes); ``python -m genreclf.sync --max-spool-mb`` raises it.
MAX_SPOOL_BYTES = 64 * 2**20
#: Statuses a spooled run can end with (MLflow ``RunStatus`` names of an ended run).
END_STATUSES = (names.FINISHED, names.FAILED, names.KILLED)

Key = Annotated[str, Field(min_length=1, max_length=250)]
ParamValue = Annotated[str, Field(max_length=6000)]
TagValue = Annotated[str, Field(max_length=8000)]
Short = Annotated[str, Field(max_length=1000)]
RunId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Token = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
Millis = Annotated[int, Field(ge=0, le=2**53)]
Step = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
#: An artifact file name: no folder, no leading dot.
ArtifactName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$")]
Tags = Annotated[dict[Key, TagValue], Field(max_length=1000)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RunRecord(_Record):
    """The header: the store and experiment the run was written for, and its token."""

    op: Literal["run"]
    uri: Short
    experiment: Annotated[Name, Field(max_length=250)]
    run_id: RunId | None
    run_name: Annotated[str, Field(max_length=250)] | None
    tags: Tags
    start_time: Millis
    host: Annotated[str, Field(max_length=255)]
    pid: Annotated[int, Field(ge=0, le=2**32)]
    token: Token


class BatchRecord(_Record):
    """Params, tags and metrics rows ``[key, value, time ms, step]``."""

    op: Literal["batch"]
    params: Annotated[dict[Key, ParamValue], Field(max_length=10000)]
    tags: Tags
    metrics: list[tuple[Key, float, Millis, Step]]


class TextRecord(_Record):
    """A text artifact (a traceback)."""

    op: Literal["text"]
    name: ArtifactName
    text: Annotated[str, Field(max_length=4 * 2**20)]


#: An artifact path: a file name, or one folder and a file name (``model/weights.npz``).
ArtifactPath = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}(/[A-Za-z0-9_][A-Za-z0-9._-]{0,99})?$")
]
#: A spooled file's content, base64 (a model package's weights; at most the spool's size).
Base64 = Annotated[str, Field(max_length=MAX_SPOOL_BYTES, pattern=r"^[A-Za-z0-9+/]*={0,2}$")]
FlavorScalar = str | int | float | bool | None
#: A value of the model's ``MLmodel`` flavor: a scalar, or a mapping of scalars.
FlavorValue = FlavorScalar | Annotated[dict[Key, FlavorScalar], Field(max_length=100)]


class FileRecord(_Record):
    """An artifact file (a figure, a model package's file), its bytes as base64."""

    op: Literal["file"]
    path: ArtifactPath
    data: Base64


class ModelRecord(_Record):
    """The spooled ``model/`` files are the run's model: log them as its logged model."""

    op: Literal["model"]
    flavor: Annotated[dict[Key, FlavorValue], Field(max_length=100)]
    class_names: Annotated[list[Short], Field(max_length=10000)]


class DatasetFields(_Record):
    """An MLflow ``Dataset`` as plain data (``Dataset.to_dictionary()``)."""

    name: Short
    digest: Annotated[str, Field(max_length=36)]
    source_type: Short
    source: Annotated[str, Field(max_length=65535)]
    schema_: Annotated[str, Field(max_length=2**20)] | None = Field(None, alias="schema")
    profile: Annotated[str, Field(max_length=2**20)] | None = None


class DatasetRecordItem(_Record):
    dataset: DatasetFields
    tags: Tags


class InputsRecord(_Record):
    """The run's input data sets."""

    op: Literal["inputs"]
    datasets: Annotated[list[DatasetRecordItem], Field(max_length=100)]


class EndRecord(_Record):
    """The run's end: its status and time."""

    op: Literal["end"]
    status: Literal[END_STATUSES]  # type: ignore[valid-type]
    end_time: Millis


class CreatedRecord(_Record):
    """An upload created the run (of a spool opened offline), then was cut short."""

    op: Literal["created"]
    run_id: RunId


Record = Annotated[
    RunRecord
    | BatchRecord
    | TextRecord
    | FileRecord
    | ModelRecord
    | InputsRecord
    | EndRecord
    | CreatedRecord,
    Field(discriminator="op"),
]
_RECORD = TypeAdapter(Record)


def parse_record(line: str | bytes) -> BaseModel:
    """One JSON line as its record model.

    Raises
    ------
    ValueError
        One line: what is wrong and where (pydantic's first error).
    """
    try:
        return _RECORD.validate_json(line)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in error.get("loc", ()))
        raise ValueError(f"{where + ': ' if where else ''}{error['msg']}") from None


def token_digest(token: str) -> str:
    """The run tag value of a spool token (its SHA-256, so the store never holds it)."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, tag: str | None) -> bool:
    """Whether a run's :data:`~genreclf.tracking.names.SPOOL_TOKEN_TAG` is ``token``'s."""
    return tag is not None and hmac.compare_digest(token_digest(token), str(tag))
