"""Feature fusion (``features=fusion``): the features of several sets side by side.

A fusion lists its ``parts``, each a feature set of ``conf/features/`` by its option name
with any values that differ from that option's (``{name: musicnn, model: MSD_vgg}``).
Each part is declared and checked as that set is (the one line names the part:
``features.parts[1].model=MSD_vggg: must be one of ...``), and its values are completed
from ``conf/features/<name>.yaml``, so a run logs every value of every part.

Each part is extracted through the feature cache as itself
(:meth:`genreclf.features.extraction.FeatureExtractor.extract`): its entries are those
of the set run alone, computed once and reused by every fusion that names it. The fused
table joins the parts' tables by track; its columns are the parts' columns prefixed
``p<i>.<name>.`` (``p1.musicnn.penultimate_1``), so a transform step can pick a part.

Parts must share the clip and window layout (one row per clip, or one row per window
of the same length): a per-clip part with a per-window part is refused up front.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from genreclf.audio import AudioError
from genreclf.core.errors import ConfigError
from genreclf.core.params import check_params, rule, show
from genreclf.core.registry import conf_values
from genreclf.features.sets import FEATURE_SETS, FeatureSet
from genreclf.features.table import FeatureTable

#: The most parts a fusion takes.
MAX_PARTS = 8
#: A part: ``{"name": <feature set>, <its values that differ from conf/features/<name>.yaml>}``.
Parts = Annotated[
    list[dict[str, Any]],
    Field(
        min_length=1,
        max_length=MAX_PARTS,
        description=f"a list of 1 to {MAX_PARTS} feature sets, each {{name: <option>, ...}}",
    ),
]


def part_node(node: Any, *, where: str) -> dict[str, Any]:
    """A part completed and checked: ``{"name": ..., <every value of its feature set>}``.

    Parameters
    ----------
    node : Mapping
        ``{"name": <option of conf/features/>, ...values}``.
    where : str
        The part's key in messages (``parts[1]``).

    Raises
    ------
    ConfigError
        One line naming the part's value at fault.
    """
    if not isinstance(node, Mapping):
        raise ConfigError(f"{where}={show(node)}: must be a mapping with a name")
    name = node.get("name")
    known = [n for n in FEATURE_SETS.names() if n != Fusion.name]
    if name == Fusion.name:
        raise ConfigError(f"{where}.name=fusion: a part cannot be a fusion")
    if not isinstance(name, str) or name not in known:
        raise ConfigError(f"{where}.name={show(name)}: must be one of {', '.join(known)}")
    given = {str(k): v for k, v in node.items() if k != "name"}
    cls = FEATURE_SETS.get(name)
    checked = check_params(cls, conf_values("features", name) | given, prefix=f"{where}.")
    return {"name": name, **dataclasses.asdict(cls(**checked))}


def build_part(node: Mapping[str, Any]) -> FeatureSet:
    """The feature set of a completed part (:func:`part_node`)."""
    return FEATURE_SETS.get(node["name"])(**{k: v for k, v in node.items() if k != "name"})


def layout(fs: FeatureSet) -> str:
    """How ``fs`` lays out its rows: per clip, or per window of which length and shape."""
    if not fs.frame_level:
        return "one row per clip"
    seconds = getattr(fs, "segment_seconds", None)
    window = f"{seconds:g} s window" if seconds else "window"
    if fs.output_ndim == 2:
        return f"one row per {window}"
    hop = getattr(fs, "hop_length", None)
    return f"one frame sequence per {window} (sr {fs.sr}, hop {hop}, {fs.output_ndim}-d)"


def _checked_parts(params: Any) -> None:
    """Complete and check each part; refuse repeated parts and mixed layouts."""
    nodes = [part_node(node, where=f"parts[{i}]") for i, node in enumerate(params.parts)]
    first = layout(build_part(nodes[0]))
    for i, node in enumerate(nodes[1:], start=1):
        if node in nodes[:i]:
            raise ValueError(f"parts[{i}]: the same feature set as parts[{nodes.index(node)}]")
        here = layout(build_part(node))
        if here != first:
            raise ValueError(
                f"parts[{i}] ({node['name']}) gives {here}, parts[0] ({nodes[0]['name']}) "
                f"{first}: fused parts must share the clip and window layout"
            )
    params.parts = nodes  # logged and built complete


def part_label(node: Mapping[str, Any]) -> str:
    """``musicnn(model=MSD_vgg)``: a part's name and its values that differ from its option's."""
    name = str(node["name"])
    default = conf_values("features", name)
    changed = [f"{k}={show(v)}" for k, v in node.items() if k != "name" and default.get(k) != v]
    return f"{name}({', '.join(changed)})" if changed else name


@FEATURE_SETS.register("fusion")
@dataclass(kw_only=True)
class Fusion(FeatureSet):
    """Several feature sets' features side by side, one row per clip or per window.

    Parameters
    ----------
    parts : list of mapping
        1 to :data:`MAX_PARTS` parts, each ``{"name": <feature set>, ...values}``; the
        values not given are those of ``conf/features/<name>.yaml``.

    Attributes
    ----------
    members : list of FeatureSet
        The parts' feature sets, in order.
    """

    name: ClassVar[str] = "fusion"
    param_rules: ClassVar[tuple[Any, ...]] = (rule(_checked_parts),)
    parts: Parts

    def __post_init__(self) -> None:
        self.parts = [part_node(node, where=f"parts[{i}]") for i, node in enumerate(self.parts)]
        self.members = [build_part(node) for node in self.parts]

    @property
    def sr(self) -> int | None:
        """The parts' rate if they share one, else ``None`` (the audio's own rate)."""
        rates = {m.sr for m in self.members}
        return rates.pop() if len(rates) == 1 else None

    @property
    def frame_level(self) -> bool:  # type: ignore[override]
        return self.members[0].frame_level

    @property
    def output_ndim(self) -> int:
        return self.members[0].output_ndim

    @property
    def segment_seconds(self) -> float | None:
        """The parts' window length (frame-level parts), else ``None``."""
        return getattr(self.members[0], "segment_seconds", None) if self.frame_level else None

    def prefixes(self) -> list[str]:
        """Each part's column prefix: ``p1.musicnn.``."""
        return [f"p{i}.{m.name}." for i, m in enumerate(self.members, start=1)]

    @property
    def columns(self) -> list[str]:
        pairs = zip(self.prefixes(), self.members, strict=True)
        return [prefix + c for prefix, m in pairs for c in m.columns]

    def describe(self) -> str:
        """``fusion: musicnn + musicnn(model=MSD_vgg)``: the set named with its parts."""
        return "fusion: " + " + ".join(part_label(node) for node in self.parts)

    def compute(self, y: np.ndarray, sr: int) -> np.ndarray:
        """Each part's features of ``y`` (resampled to the part's rate), side by side."""
        import librosa

        outputs = []
        for part in self.members:
            rate = part.sr or sr
            signal = y if rate == sr else librosa.resample(y, orig_sr=sr, target_sr=rate)
            outputs.append(np.asarray(part.compute(signal, rate), dtype=np.float32))
        rows = {len(o) for o in outputs} if self.frame_level else {1}
        if len(rows) > 1:
            raise AudioError(None, f"the parts cut it into different windows ({sorted(rows)})")
        return np.concatenate(outputs, axis=-1)


def _spans(table: FeatureTable) -> dict[str, tuple[int, int]]:
    """Each track's ``(first row, rows)`` in ``table`` (a track's rows are consecutive)."""
    ids, first, counts = np.unique(table.track_ids, return_index=True, return_counts=True)
    return {str(t): (int(f), int(n)) for t, f, n in zip(ids, first, counts, strict=True)}


def _skipped(tables: Sequence[FeatureTable], fusion: Fusion, extra: list) -> pd.DataFrame:
    """The parts' skipped files (each reason named by its part), and ``extra`` rows."""
    frames = [
        t.skipped.assign(reason=prefix.rstrip(".") + ": " + t.skipped["reason"].astype(str))
        for t, prefix in zip(tables, fusion.prefixes(), strict=True)
        if len(t.skipped)
    ]
    frames.append(pd.DataFrame(extra, columns=["track_id", "path", "reason"]))
    every = pd.concat(frames, ignore_index=True)
    joined = every.groupby("track_id", sort=False).agg({"path": "first", "reason": "; ".join})
    return joined.reset_index()


def _kept_rows(
    tables: Sequence[FeatureTable], fusion: Fusion, paths: Mapping[str, str]
) -> tuple[list[list[int]], list[tuple[str, str, str]]]:
    """Each table's rows of the tracks every part gave the same number of rows, and the
    ``(track_id, path, reason)`` of the tracks the parts cut differently."""
    spans = [_spans(t) for t in tables]
    rows: list[list[int]] = [[] for _ in tables]
    disagree = []
    for track in map(str, pd.unique(tables[0].track_ids)):
        found = [s.get(track) for s in spans]
        if any(f is None for f in found):
            continue  # skipped by a part: its reason is in that part's list
        counts = [n for _, n in found]
        if len(set(counts)) > 1:
            shown = ", ".join(f"{p}{n}" for p, n in zip(fusion.prefixes(), counts, strict=True))
            disagree.append((track, paths.get(track, track), f"parts disagree on rows: {shown}"))
            continue
        for kept, (first, n) in zip(rows, found, strict=True):
            kept.extend(range(first, first + n))
    return rows, disagree


def fuse_tables(
    tables: Sequence[FeatureTable], fusion: Fusion, *, paths: Mapping[str, str]
) -> FeatureTable:
    """The parts' tables joined by track, columns side by side.

    A track that a part skipped is skipped (with that part's reason); one that the parts
    cut into different numbers of windows is skipped with that reason.

    Parameters
    ----------
    tables : sequence of FeatureTable
        One per part of ``fusion``, in its order, tracks in the same order.
    fusion : Fusion
    paths : mapping
        Each track id's file, for the skipped-files list.

    Returns
    -------
    FeatureTable
    """
    rows, disagree = _kept_rows(tables, fusion, paths)
    return FeatureTable(
        X=np.concatenate([t.X[r] for t, r in zip(tables, rows, strict=True)], axis=-1),
        labels=tables[0].labels[rows[0]],
        track_ids=tables[0].track_ids[rows[0]],
        columns=fusion.columns,
        skipped=_skipped(tables, fusion, disagree),
    )
