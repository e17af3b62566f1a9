"""The model spec: what turns audio into a head's input, as plain JSON-able data.

A training run writes it into its model package (see :mod:`genreclf.inference.package`):
which feature set (by registry name, with its parameters), the feature columns, the
label names, the input shape, the window lengths and the rate audio is loaded at, and
where the features came from (audio, or a feature table with a named or inferred
recipe).
"""

from __future__ import annotations

from typing import Any

from genreclf.features.sets import FEATURE_SETS, FeatureSet, feature_set_spec

#: Version of the model package layout; bump on incompatible changes.
MODEL_FORMAT = 2
#: Window length for summary feature sets on long tracks (GTZAN clips are 30 s).
CLIP_SECONDS = 30.0
#: Rate assumed for native-rate features of a table of unknown origin (GTZAN's).
DEFAULT_SAMPLE_RATE = 22050


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
        fs = FEATURE_SETS.build(name, {})
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
    if hasattr(source, "tracks"):
        import soundfile as sf

        tracks = source.tracks()
        rates = []
        for track in tracks[:: max(1, len(tracks) // 50)]:
            try:
                rates.append(int(sf.info(str(track.path)).samplerate))
            except Exception:  # unreadable files were skipped by extraction too
                continue
        if rates:
            return max(set(rates), key=rates.count), "most common rate of the training files"
    return DEFAULT_SAMPLE_RATE, "assumed: GTZAN's rate (the training audio's rate is unknown)"


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
        fs = FEATURE_SETS.build(features["name"], features["params"])
        frame_level = bool(fs.frame_level)
        segment = getattr(fs, "segment_seconds", None) if frame_level else None
    rate, rate_note = training_sample_rate(source, fs)
    return {
        "format": MODEL_FORMAT,
        "source": origin,
        "recipe": recipe,
        "recipe_note": note,
        "features": features,
        "frame_level": frame_level,
        "segment_seconds": segment,
        "clip_seconds": None if frame_level else CLIP_SECONDS,
        "sample_rate": rate,
        "sample_rate_note": rate_note,
        "columns": [str(c) for c in columns],
        "class_names": [str(c) for c in class_names],
        "input_shape": [int(n) for n in input_shape],
    }
