"""The model spec: what turns audio into a head's input, as plain JSON-able data.

A training run writes it into its model package (see :mod:`genreclf.inference.package`):
which feature set (by registry name, with its parameters), the feature columns, the
label names, the input shape, the window lengths and the rate audio is loaded at, and
where the features came from (audio, or a feature table with a named or inferred
recipe).

Read back, the package's ``genreclf.json`` is a :class:`ModelSpec`: a pydantic model
with unknown keys forbidden, finite numbers only and bounded shapes, whose head
parameters are checked against the head's declaration (``HEADS.check``). Before it is
parsed, :func:`genreclf.core.untrusted.json_depth` bounds how deeply its brackets nest.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from genreclf.core.registry import RegistryError, short_repr
from genreclf.features.fusion import MAX_PARTS
from genreclf.features.sets import FEATURE_SETS, FeatureSet, build_feature_set, feature_set_spec
from genreclf.models.heads import HEADS

#: Version of the model package layout; bump on incompatible changes.
MODEL_FORMAT = 2
#: Window length for summary feature sets on long tracks (GTZAN clips are 30 s).
CLIP_SECONDS = 30.0
#: Rate assumed for native-rate features of a table of unknown origin (GTZAN's).
DEFAULT_SAMPLE_RATE = 22050
#: The deepest bracket nesting a spec may hold (a genreclf spec nests 4 deep).
MAX_SPEC_DEPTH = 32
#: The largest number of values in one example (``input_shape``'s product).
MAX_INPUT_VALUES = 10**8


def recipe_for_table(recipe: str | None, columns: list[str]) -> dict[str, Any]:
    """Which registered audio feature set reproduces a feature table's columns.

    Parameters
    ----------
    recipe : str or None
        The table's declared recipe (``data.recipe``), e.g. ``seed174``; ``None`` if unknown.
    columns : list of str
        The table's feature columns.

    Returns
    -------
    dict
        ``recipe`` (declared or inferred name, or ``None``), ``features`` (the feature
        set, as ``{"name", "params"}``, or ``None`` when genreclf cannot compute the
        columns) and ``note`` (one line saying how it was decided).
    """
    known = FEATURE_SETS.names()

    def fitting(name: str) -> FeatureSet | None:
        try:
            fs = FEATURE_SETS.option(name)
        except RegistryError:  # an option that needs more than it gives (a fusion's encoder)
            return None
        return fs if not fs.frame_level and sorted(fs.columns) == sorted(columns) else None

    if recipe is not None:
        if recipe not in known:
            return {
                "recipe": recipe,
                "features": None,
                "note": f"recipe '{recipe}' is not one genreclf can compute "
                f"(known: {', '.join(known)})",
            }
        fs = fitting(recipe)
        if fs is None:
            return {
                "recipe": recipe,
                "features": None,
                "note": f"the table's {len(columns)} columns are not those of genreclf's "
                f"'{recipe}' feature set",
            }
        return {
            "recipe": recipe,
            "features": feature_set_spec(fs),
            "note": "declared (data.recipe)",
        }
    for name in known:
        fs = fitting(name)
        if fs is not None:
            return {
                "recipe": name,
                "features": feature_set_spec(fs),
                "note": "inferred from the columns",
            }
    return {
        "recipe": None,
        "features": None,
        "note": "unknown recipe (data.recipe not set, and the columns match no genreclf "
        "feature set)",
    }


def _sampled_headers(source: Any, most: int = 50) -> list[Any]:
    """``soundfile.info`` of up to ``most`` of an audio source's files, evenly spread
    (none for a feature table; unreadable files, skipped by extraction too, left out)."""
    if not hasattr(source, "tracks"):
        return []
    import soundfile as sf

    tracks = source.tracks()
    headers = []
    for track in tracks[:: max(1, len(tracks) // most)]:
        try:
            headers.append(sf.info(str(track.path)))
        except Exception:
            continue
    return headers


def training_sample_rate(source: Any, feature_set: Any = None) -> tuple[int, str]:
    """The rate audio is loaded at for prediction, so features match the training ones.

    A feature set with a fixed ``sr`` resamples every file to it. One working at the
    native rate (``sr=None``, e.g. seed174) saw the training files' rate, so a song
    at another rate (a 44.1 kHz mp3 against 22050 Hz GTZAN) is resampled to that.

    Returns
    -------
    rate : int
    note : str
        How it was decided.
    """
    if feature_set is not None and getattr(feature_set, "sr", None):
        return int(feature_set.sr), "the feature set's rate"
    if getattr(source, "sr", None):  # generated data (data=synthetic)
        return int(source.sr), "the rate of the generated training audio"
    rates = [int(info.samplerate) for info in _sampled_headers(source)]
    if rates:
        return max(set(rates), key=rates.count), "most common rate of the training files"
    return DEFAULT_SAMPLE_RATE, "assumed: GTZAN's rate (the training audio's rate is unknown)"


def training_clip_seconds(source: Any) -> tuple[float, str]:
    """How long the training clips were: ``predict`` cuts a song into clips of that length.

    Generated data give their ``duration``; an audio source the median length of up to
    50 of its files (read from their headers); a feature table, which keeps no audio,
    GTZAN's 30 s.

    Returns
    -------
    seconds : float
    note : str
        How it was decided.
    """
    if getattr(source, "duration", None):  # generated data (data=synthetic)
        return float(source.duration), "the length of the generated training audio"
    lengths = [float(info.duration) for info in _sampled_headers(source)]
    if lengths:
        return float(np.median(lengths)), f"the median length of {len(lengths)} training files"
    return CLIP_SECONDS, "unknown (a feature table): GTZAN's clip length"


def model_spec(
    *,
    feature_set: FeatureSet,
    source: Any,
    columns: list[str],
    class_names: list[str],
    input_shape: tuple[int, ...],
) -> dict[str, Any]:
    """The JSON-able spec that turns audio into the head's input.

    Parameters
    ----------
    feature_set : FeatureSet
        The run's feature set (used for audio sources).
    source : object
        The run's data source; one with ``frame()`` is a feature table, whose
        ``feature_recipe`` names (or leaves unknown) the audio features it holds.
    columns : list of str
        Feature columns, in the order the transform was fitted on.
    class_names : list of str
        Labels in the head's output order.
    input_shape : tuple of int
        Shape of one transformed example.

    Returns
    -------
    dict
    """
    if hasattr(source, "frame"):
        found = recipe_for_table(getattr(source, "feature_recipe", None), list(columns))
        origin, features = "table", found["features"]
        recipe, note = found["recipe"], found["note"]
    else:
        origin, note = "audio", "extracted from audio"
        features = feature_set_spec(feature_set)
        recipe = features["name"]
    frame_level, segment, fs = False, None, None
    if features is not None:
        fs = build_feature_set(features)
        frame_level = bool(fs.frame_level)
        segment = getattr(fs, "segment_seconds", None) if frame_level else None
    rate, rate_note = training_sample_rate(source, fs)
    clip, clip_note = training_clip_seconds(source)
    return {
        "format": MODEL_FORMAT,
        "source": origin,
        "recipe": recipe,
        "recipe_note": note,
        "features": features,
        "frame_level": frame_level,
        "segment_seconds": segment,
        "clip_seconds": None if frame_level else round(clip, 3),
        "clip_seconds_note": None if frame_level else clip_note,
        "sample_rate": rate,
        "sample_rate_note": rate_note,
        "columns": [str(c) for c in columns],
        "class_names": [str(c) for c in class_names],
        "input_shape": [int(n) for n in input_shape],
    }


# --- Reading a spec back: the declaration of genreclf.json -------------------------------


def _plain(value: Any) -> Any:
    """A stored parameter: null, true/false, a number, a string, or a flat list of those."""
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, None | bool | int | float | str):
            raise ValueError("must be null, true/false, a number, a string, or a list of those")
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{item} is not a finite number")
    return value


#: A parameter value as JSON holds it (see :func:`_plain`).
Plain = Annotated[Any, AfterValidator(_plain)]
Name = Annotated[str, Field(min_length=1)]
Seconds = Annotated[float, Field(ge=0.01, le=600)]


class _Strict(BaseModel):
    """Unknown keys refused, finite numbers only, no coercion (``"16"`` is no int)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class PartSpec(_Strict):
    """A fused part: a feature set by registry name; checked when the fusion is built."""

    name: Name
    params: dict[str, Plain] = {}


class FeaturesSpec(PartSpec):
    """The feature set, by registry name; its parameters are checked when it is built.

    A fusion (``name: fusion``) records its ``parts`` instead of parameters.
    """

    parts: list[PartSpec] | None = Field(default=None, min_length=1, max_length=MAX_PARTS)

    def plain(self) -> dict[str, Any]:
        """As :func:`~genreclf.features.sets.feature_set_spec` gives it (``parts`` if fused)."""
        dumped = self.model_dump()
        return dumped if self.parts is not None else {k: dumped[k] for k in ("name", "params")}

    def every_set(self) -> list[PartSpec]:
        """This set, and each of its parts."""
        return [self, *(self.parts or [])]


class HeadSpec(_Strict):
    """The head, by registry name, with parameters its declaration accepts."""

    name: Name
    params: dict[str, Plain]

    @model_validator(mode="after")
    def _declared(self) -> HeadSpec:
        HEADS.check(self.name, self.params, fixed=("input_shape", "num_classes"))
        return self


class TransformSpec(_Strict):
    """The fitted transform: its arrays' file and its steps (checked when rebuilt)."""

    file: Name
    steps: list[dict[str, Plain]] = Field(min_length=1, max_length=64)


class ModelSpec(_Strict):
    """A package's ``genreclf.json``: :func:`model_spec` plus the head, weights and transform.

    Read with ``ModelSpec.model_validate_json``; :func:`spec_error` words a refusal.
    """

    format: int
    source: Literal["audio", "table"]
    recipe: str | None
    recipe_note: str
    features: FeaturesSpec | None
    frame_level: bool
    segment_seconds: Seconds | None
    clip_seconds: Seconds | None
    clip_seconds_note: str | None = None
    sample_rate: Annotated[int, Field(ge=1, le=1_000_000)]
    sample_rate_note: str
    columns: list[Name] = Field(min_length=1)
    class_names: list[Name] = Field(min_length=1)
    input_shape: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, max_length=2)
    head: HeadSpec
    weights: Name
    transform: TransformSpec | None

    @field_validator("format")
    @classmethod
    def _readable(cls, value: int) -> int:
        if value != MODEL_FORMAT:
            raise ValueError(f"model format {value}; this genreclf reads format {MODEL_FORMAT}")
        return value

    @field_validator("input_shape")
    @classmethod
    def _bounded(cls, value: list[int]) -> list[int]:
        if math.prod(value) > MAX_INPUT_VALUES:
            raise ValueError(f"more than {MAX_INPUT_VALUES:,} values per example")
        return value


def spec_error(exc: ValidationError) -> str:
    """A :class:`ModelSpec` refusal in one line: the first field at fault, and why."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    if where and first["type"] not in ("missing", "extra_forbidden", "value_error"):
        value = first.get("input")
        if value is None or isinstance(value, bool | int | float | str):
            where += f"={short_repr(value, limit=40)}"
    why = first["msg"].removeprefix("Value error, ")
    line = f"{where}: {why}" if where else why
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return " ".join((line + more).split())
