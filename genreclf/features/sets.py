"""Feature sets: what to compute from a clip, each built from ``conf/features/<name>.yaml``.

A feature set is a small dataclass: its fields are its parameters (everything that
changes the output, hence the cache key), :meth:`FeatureSet.compute` turns a mono
signal into features. Summary sets give one vector ``(d,)`` per clip; frame-level
sets give fixed-length segments ``(n_segments, frames, d)``.
"""

from __future__ import annotations

import dataclasses
import typing
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from genreclf.audio import AudioError
from genreclf.core.params import Bool, Float, Fraction, Int
from genreclf.core.registry import Registry, RegistryError

#: Feature sets by name (the ``conf/features/`` option names, equal to each class's ``name``).
FEATURE_SETS: Registry[FeatureSet] = Registry("feature set", group="features")


@dataclass(kw_only=True)
class FeatureSet(ABC):
    """Base of all feature sets.

    Attributes
    ----------
    name : str
        Short name (the cache sub-folder and manifest name), e.g. ``summary``.
    frame_level : bool
        True if :meth:`compute` returns one row per segment (``(n_segments, *row)``,
        averaged per track at evaluation), False for one row per clip.
    output_ndim : int
        ``ndim`` of :meth:`compute`'s output: 1 for ``(d,)``, 3 for
        ``(n_segments, frames, d)``; encoders may differ (``(layers, d)``, ``(windows, d)``).
    sr : int or None
        Sampling rate the audio is loaded at; ``None`` keeps the file's native rate.
        Each set declares it as a field (a fusion of sets derives it from its parts).
    mono : bool
        Audio is mixed down to mono before :meth:`compute`.
    """

    name: ClassVar[str] = "base"
    frame_level: ClassVar[bool] = False
    mono: ClassVar[bool] = True

    @property
    @abstractmethod
    def columns(self) -> list[str]:
        """Names of the ``d`` features on the last axis of :meth:`compute`'s output."""

    @abstractmethod
    def compute(self, y: np.ndarray, sr: int) -> np.ndarray:
        """Features of one mono signal ``y`` sampled at ``sr``."""

    @property
    def output_ndim(self) -> int:
        """``ndim`` of :meth:`compute`'s output (the last axis holds :attr:`columns`)."""
        return 3 if self.frame_level else 1

    def describe(self) -> str:
        """The set as reports and ``predict`` name it (a fusion names its parts too)."""
        return self.name

    def params(self) -> dict[str, Any]:
        """Everything that changes the output (used in the cache key)."""
        return {"mono": self.mono, **dataclasses.asdict(self)}

    def _segments(self, y: np.ndarray, sr: int, segment_seconds: float) -> np.ndarray:
        """Non-overlapping ``(n_segments, samples)`` segments; the trailing partial one dropped."""
        length = int(round(segment_seconds * sr))
        n_seg = len(y) // length
        if n_seg == 0:
            raise AudioError(
                None,
                f"too short for one {segment_seconds:g} s segment ({len(y) / sr:.3g} s)",
            )
        return np.ascontiguousarray(y[: n_seg * length].reshape(n_seg, length))


#: How an encoder's per-window embeddings become rows: one per clip (``mean``,
#: ``mean_std``) or one per window (``segments``, averaged per track at evaluation).
EncoderPooling = Literal["mean", "mean_std", "segments"]
ENCODER_POOLINGS: tuple[str, ...] = typing.get_args(EncoderPooling)

#: The declared knobs the feature sets share.
Rate = Int(ge=1000, le=192_000)
Bins = Int(ge=1, le=4096)
FrameLength = Int(ge=16, le=2**16)
Seconds = Float(gt=0, le=600)


class PooledEncoder(FeatureSet):
    """Base of the pretrained encoders: a ``pooling`` field (:data:`ENCODER_POOLINGS`)
    decides whether they are frame-level (``segments``: one row per window)."""

    pooling: EncoderPooling

    @property
    def frame_level(self) -> bool:  # type: ignore[override]
        return self.pooling == "segments"


@FEATURE_SETS.register("seed174")
@dataclass(kw_only=True)
class Seed174(FeatureSet):
    """The original project's 174 summary features (see :mod:`genreclf.features.seed174`).

    Parameters
    ----------
    sr : int or None
        Loading rate; ``None`` (the recipe) keeps the native rate.
    """

    name: ClassVar[str] = "seed174"
    sr: Rate | None

    @property
    def columns(self) -> list[str]:
        from genreclf.features.seed174 import SEED174_COLUMNS

        return list(SEED174_COLUMNS)

    def compute(self, y: np.ndarray, sr: int) -> np.ndarray:
        from genreclf.features.seed174 import seed174

        return np.asarray(seed174(y, sr), dtype=np.float32)


_SUMMARY_BLOCKS_SCALAR = ("centroid", "bandwidth", "rolloff", "flatness", "zcr", "rms")


@FEATURE_SETS.register("summary")
@dataclass(kw_only=True)
class Summary(FeatureSet):
    """A richer summary set: mean and std over frames of common spectral descriptors.

    MFCCs and log-mel bands (``power_to_db``), spectral centroid, bandwidth,
    roll-off, flatness and contrast, zero-crossing rate, RMS and chroma, plus tempo.
    One STFT is computed and reused by every descriptor.

    Parameters
    ----------
    sr : int or None
        Loading rate.
    n_mfcc : int
        Number of MFCCs (computed from the log-mel bands below).
    n_mels : int
        Number of mel bands.
    n_fft, hop_length : int
        STFT frame and hop lengths, in samples.
    n_chroma : int
        Number of chroma bins.
    n_bands : int
        Number of spectral-contrast octave bands (``n_bands + 1`` values).
    roll_percent : float
        Roll-off energy fraction.
    """

    name: ClassVar[str] = "summary"
    sr: Rate | None
    n_mfcc: Bins
    n_mels: Bins
    n_fft: FrameLength
    hop_length: FrameLength
    n_chroma: Bins
    n_bands: Bins
    roll_percent: Fraction

    def _blocks(self) -> list[tuple[str, int]]:
        return [
            ("mfcc", self.n_mfcc),
            ("logmel", self.n_mels),
            *((b, 1) for b in _SUMMARY_BLOCKS_SCALAR),
            ("contrast", self.n_bands + 1),
            ("chroma", self.n_chroma),
        ]

    @property
    def columns(self) -> list[str]:
        cols: list[str] = []
        for block, size in self._blocks():
            for stat in ("mean", "std"):
                if size == 1:
                    cols.append(f"{block}_{stat}")
                else:
                    cols += [f"{block}_{stat}_{i}" for i in range(1, size + 1)]
        return [*cols, "tempo"]

    def compute(self, y: np.ndarray, sr: int) -> np.ndarray:
        import librosa

        stft = dict(n_fft=self.n_fft, hop_length=self.hop_length)
        mag = np.abs(librosa.stft(y, **stft))
        power = mag**2
        logmel = librosa.power_to_db(
            librosa.feature.melspectrogram(S=power, sr=sr, n_mels=self.n_mels)
        )
        feats = {
            "mfcc": librosa.feature.mfcc(S=logmel, n_mfcc=self.n_mfcc),
            "logmel": logmel,
            "centroid": librosa.feature.spectral_centroid(S=mag, sr=sr, **stft),
            "bandwidth": librosa.feature.spectral_bandwidth(S=mag, sr=sr, **stft),
            "rolloff": librosa.feature.spectral_rolloff(
                S=mag, sr=sr, roll_percent=self.roll_percent, **stft
            ),
            "flatness": librosa.feature.spectral_flatness(S=mag, **stft),
            "zcr": librosa.feature.zero_crossing_rate(
                y, frame_length=self.n_fft, hop_length=self.hop_length
            ),
            "rms": librosa.feature.rms(S=mag, frame_length=self.n_fft, hop_length=self.hop_length),
            "contrast": librosa.feature.spectral_contrast(
                S=mag, sr=sr, n_bands=self.n_bands, **stft
            ),
            "chroma": librosa.feature.chroma_stft(S=power, sr=sr, n_chroma=self.n_chroma, **stft),
        }
        onset = librosa.onset.onset_strength(S=logmel, sr=sr, hop_length=self.hop_length)
        tempo = librosa.feature.tempo(onset_envelope=onset, sr=sr, hop_length=self.hop_length)
        parts = []
        for block, _ in self._blocks():
            f = feats[block]
            parts += [f.mean(axis=-1), f.std(axis=-1)]
        parts.append(np.atleast_1d(tempo)[:1])
        return np.concatenate(parts).astype(np.float32)


@FEATURE_SETS.register("logmel_segments")
@dataclass(kw_only=True)
class LogMelSegments(FeatureSet):
    """Log-mel spectrograms of fixed-length, non-overlapping segments.

    Each segment is transformed on its own (centred frames, padded at its edges), so
    a segment's features depend only on its samples. The trailing partial segment is
    dropped; a clip shorter than one segment is skipped.

    Parameters
    ----------
    sr : int or None
        Loading rate.
    n_mels : int
        Number of mel bands.
    segment_seconds : float
        Segment length in seconds.
    hop_length, n_fft : int
        STFT hop and frame lengths, in samples.

    Returns
    -------
    ``(n_segments, frames, n_mels)`` from :meth:`compute`, columns ``logmel_1..n``.
    """

    name: ClassVar[str] = "logmel_segments"
    frame_level: ClassVar[bool] = True
    sr: Rate | None
    n_mels: Bins
    segment_seconds: Seconds
    hop_length: FrameLength
    n_fft: FrameLength

    @property
    def columns(self) -> list[str]:
        return [f"logmel_{i}" for i in range(1, self.n_mels + 1)]

    def compute(self, y: np.ndarray, sr: int) -> np.ndarray:
        import librosa

        segs = self._segments(y, sr, self.segment_seconds)
        mel = librosa.feature.melspectrogram(
            y=segs, sr=sr, n_fft=self.n_fft, hop_length=self.hop_length, n_mels=self.n_mels
        )
        return np.swapaxes(librosa.power_to_db(mel), 1, 2).astype(np.float32)


@FEATURE_SETS.register("mfcc_segments")
@dataclass(kw_only=True)
class MfccSegments(FeatureSet):
    """MFCC sequences (optionally with deltas and delta-deltas) of fixed-length segments.

    Segmented as :class:`LogMelSegments`.

    Parameters
    ----------
    sr : int or None
        Loading rate.
    n_mfcc : int
        Number of MFCCs.
    deltas : bool
        Append first and second time derivatives (``librosa.feature.delta``).
    segment_seconds : float
        Segment length in seconds.
    n_mels : int
        Mel bands the MFCCs are computed from.
    hop_length, n_fft : int
        STFT hop and frame lengths, in samples.

    Returns
    -------
    ``(n_segments, frames, 3 * n_mfcc)`` (``n_mfcc`` without deltas) from
    :meth:`compute`, columns ``mfcc_1.., delta_1.., delta2_1..``.
    """

    name: ClassVar[str] = "mfcc_segments"
    frame_level: ClassVar[bool] = True
    sr: Rate | None
    n_mfcc: Bins
    deltas: Bool
    segment_seconds: Seconds
    n_mels: Bins
    hop_length: FrameLength
    n_fft: FrameLength

    @property
    def columns(self) -> list[str]:
        prefixes = ("mfcc", "delta", "delta2") if self.deltas else ("mfcc",)
        return [f"{p}_{i}" for p in prefixes for i in range(1, self.n_mfcc + 1)]

    def compute(self, y: np.ndarray, sr: int) -> np.ndarray:
        import librosa

        segs = self._segments(y, sr, self.segment_seconds)
        mfcc = librosa.feature.mfcc(
            y=segs,
            sr=sr,
            n_mfcc=self.n_mfcc,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            n_mels=self.n_mels,
        )
        blocks = [mfcc]
        if self.deltas:
            blocks += [librosa.feature.delta(mfcc, order=o, axis=-1) for o in (1, 2)]
        return np.swapaxes(np.concatenate(blocks, axis=1), 1, 2).astype(np.float32)


def feature_set_spec(fs: FeatureSet) -> dict[str, Any]:
    """A feature set as plain data: ``{"name": <registry name>, "params": <its fields>}``.

    A fusion (:mod:`genreclf.features.fusion`) is ``{"name": "fusion", "params": {},
    "parts": [<each part's spec>]}``.

    Parameters
    ----------
    fs : FeatureSet
        A registered feature set.

    Returns
    -------
    dict
        JSON-able; :func:`build_feature_set` rebuilds an equal feature set from it.
    """
    name = FEATURE_SETS.name_of(type(fs))
    members = getattr(fs, "members", None)
    if members is not None:
        return {"name": name, "params": {}, "parts": [feature_set_spec(m) for m in members]}
    return {"name": name, "params": dataclasses.asdict(fs)}


def _spec_params(spec: Any) -> tuple[str, Mapping[str, Any]]:
    """The name and parameters of a spec, its shape checked."""
    if not isinstance(spec, Mapping):
        raise RegistryError(f"feature set spec must be a mapping, got {type(spec).__name__}")
    extra = sorted(str(k) for k in spec if k not in ("name", "params", "parts"))
    if extra:
        raise RegistryError(f"feature set spec: unknown key(s): {', '.join(extra)}")
    if not isinstance(spec.get("name"), str):
        raise RegistryError("feature set spec: 'name' missing or not a str")
    params = spec.get("params", {})
    if not isinstance(params, Mapping):
        raise RegistryError(f"feature set {spec['name']!r}: 'params' must be a mapping")
    return spec["name"], params


def build_feature_set(spec: Mapping[str, Any]) -> FeatureSet:
    """Rebuild a feature set from :func:`feature_set_spec`'s plain data, with checked parameters.

    Parameters
    ----------
    spec : Mapping
        ``{"name": str, "params": Mapping}``, ``params`` complete (no defaults are filled
        in); a fusion's ``{"name": "fusion", "params": {}, "parts": [spec, ...]}``, each
        part checked as its feature set (a part may not be a fusion).

    Returns
    -------
    FeatureSet

    Raises
    ------
    RegistryError
        If ``spec`` is not such a mapping, the name is not registered or a parameter
        is unknown or of the wrong type.
    """
    name, params = _spec_params(spec)
    if "parts" not in spec:
        return FEATURE_SETS.build(name, params)
    parts = spec["parts"]
    if params or not isinstance(parts, list):
        raise RegistryError(f"feature set {name!r}: 'parts' must be a list, 'params' empty")
    nodes = []
    for part in parts:
        part_name, part_params = _spec_params(part)
        if "parts" in part:
            raise RegistryError(f"feature set {name!r}: a part cannot have parts")
        nodes.append({"name": part_name, **part_params})
    return FEATURE_SETS.build(name, {"parts": nodes})


# Pretrained encoders and fusion: imported on first use only (they build on this module).
FEATURE_SETS.register_lazy("musicnn", "genreclf.features.musicnn:Musicnn")
FEATURE_SETS.register_lazy("hf_encoder", "genreclf.features.hf_encoder:HFEncoder")
FEATURE_SETS.register_lazy("fusion", "genreclf.features.fusion:Fusion")
