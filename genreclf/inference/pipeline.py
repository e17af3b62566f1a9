"""Audio to genre probabilities: windows, features, transform, head, one object.

:class:`GenreModel` is used the same way by ``predict``, ``report`` and the tests, like
an sklearn ``Pipeline``: a loaded model package (see :mod:`genreclf.inference.package`)
carries raw audio to a :class:`Prediction`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genreclf.audio import AudioError, load_audio
from genreclf.core.filenames import printable_name
from genreclf.inference.files import ModelLoadError
from genreclf.inference.spec import CLIP_SECONDS
from genreclf.transforms import transform_rows


@dataclass
class Prediction:
    """Genre probabilities of one file, and of each of its windows.

    Attributes
    ----------
    file : str
        The file as text (:func:`~genreclf.core.filenames.printable_name`).
    probabilities : dict of str to float
        Every genre's probability (they sum to 1), in the model's label order: the mean
        of the windows' probabilities.
    windows : int
        Number of windows (segments or clips) averaged.
    duration : float
        Seconds of audio.
    window_probabilities : np.ndarray, shape (windows, genres)
        Each window's probabilities as the model gave them (rows sum to 1), columns in
        the model's label order; empty if not known.
    window_spans : np.ndarray, shape (windows, 2)
        Start and end of each window, in seconds from the start of the file.
    """

    file: str
    probabilities: dict[str, float]
    windows: int
    duration: float
    window_probabilities: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    window_spans: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))

    @property
    def genre(self) -> str:
        """The most probable genre."""
        return max(self.probabilities, key=self.probabilities.__getitem__)

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` most probable genres with their probabilities, best first."""
        return sorted(self.probabilities.items(), key=lambda kv: -kv[1])[:k]

    def timeline(self) -> list[dict[str, Any]]:
        """One ``{"start", "end", "probabilities"}`` entry per window, in time order.

        ``start`` and ``end`` are seconds (rounded to ms); ``probabilities`` maps every
        genre to that window's probability.
        """
        genres = list(self.probabilities)
        return [
            {
                "start": round(float(start), 3),
                "end": round(float(end), 3),
                "probabilities": {g: float(p) for g, p in zip(genres, row, strict=True)},
            }
            for (start, end), row in zip(self.window_spans, self.window_probabilities, strict=True)
        ]

    def stretches(self) -> list[tuple[float, float, str]]:
        """Consecutive windows with the same top genre, merged: ``(start, end, genre)``."""
        genres = list(self.probabilities)
        out: list[tuple[float, float, str]] = []
        for (start, end), row in zip(self.window_spans, self.window_probabilities, strict=True):
            genre = genres[int(np.argmax(row))]
            if out and out[-1][2] == genre:
                out[-1] = (out[-1][0], float(end), genre)
            else:
                out.append((float(start), float(end), genre))
        return out


@dataclass
class GenreModel:
    """A loaded genre model: feature set, fitted transform, head and label names.

    Attributes
    ----------
    uri : str
        Where the model came from (for messages).
    head : torch.nn.Module
        In eval mode.
    feature_set : FeatureSet
        Rebuilt by name from the registry.
    transform : object or None
        The fitted transform (``.transform(rows)``), or ``None``.
    spec : dict
        The package's spec (see :func:`genreclf.inference.spec.model_spec`).
    n_jobs : int
        Threads computing the windows of one file (``-1``: one per core).
    max_windows : int or None
        Classify at most this many windows of a long track, evenly spread over it
        (faster, less thorough); ``None``: every window.
    """

    uri: str
    head: Any
    feature_set: Any
    transform: Any
    spec: dict
    n_jobs: int = -1
    max_windows: int | None = None

    @property
    def class_names(self) -> list[str]:
        return list(self.spec["class_names"])

    def _spread(self, n: int) -> np.ndarray:
        """Indices of the windows kept out of ``n`` (all, or ``max_windows`` evenly spread)."""
        if not self.max_windows or n <= self.max_windows:
            return np.arange(n)
        return np.unique(np.linspace(0, n - 1, int(self.max_windows)).round().astype(int))

    def windows(self, y: np.ndarray, sr: int) -> list[np.ndarray]:
        """Cut a signal into the pieces features are computed on.

        Frame-level sets cut their own segments, so the whole signal is one piece.
        Summary sets get ``round(duration / clip_seconds)`` (at least 1) equal
        consecutive clips, each about ``clip_seconds`` long (training clips' length);
        at most ``max_windows`` of them are kept.
        """
        return self._pieces(y, sr)[0]

    def _pieces(self, y: np.ndarray, sr: int) -> tuple[list[np.ndarray], np.ndarray]:
        """:meth:`windows`, and each summary clip's ``(start, end)`` in seconds.

        For a frame-level set the spans are unknown until its rows are computed
        (see :meth:`_segment_spans`); they are returned empty.
        """
        if self.spec["frame_level"]:
            return [y], np.zeros((0, 2))
        clip = float(self.spec.get("clip_seconds") or CLIP_SECONDS)
        pieces = np.array_split(y, max(1, int(round(len(y) / sr / clip))))
        ends = np.cumsum([len(p) for p in pieces]) / sr
        spans = np.stack([np.concatenate([[0.0], ends[:-1]]), ends], axis=1)
        kept = self._spread(len(pieces))
        return [pieces[i] for i in kept], spans[kept]

    def _segment_spans(self, n: int, duration: float) -> np.ndarray:
        """``(start, end)`` seconds of a frame-level set's ``n`` consecutive segments.

        Each lasts the set's ``segment_seconds`` (the last one cut at the end of the
        signal); without a declared length, ``duration / n``.
        """
        length = self.spec.get("segment_seconds") or duration / max(n, 1)
        starts = np.arange(n) * float(length)
        return np.stack([starts, np.minimum(starts + float(length), duration)], axis=1)

    def _compute(self, pieces: list[np.ndarray], sr: int) -> list[np.ndarray]:
        """Features of each piece; several pieces run in threads, one BLAS thread each."""
        from joblib import effective_n_jobs

        fs = self.feature_set
        threads = min(len(pieces), max(1, effective_n_jobs(self.n_jobs)))
        if threads <= 1:
            return [np.asarray(fs.compute(w, sr), dtype=np.float32) for w in pieces]
        from concurrent.futures import ThreadPoolExecutor

        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1), ThreadPoolExecutor(threads) as pool:
            values = pool.map(fs.compute, pieces, [sr] * len(pieces))
            return [np.asarray(v, dtype=np.float32) for v in values]

    def features(self, y: np.ndarray, sr: int) -> np.ndarray:
        """Transformed head inputs of one signal: ``(windows, *input_shape)``.

        Raises
        ------
        AudioError
            If the signal is too short for one segment, or its features are not finite.
        """
        return self.window_features(y, sr)[0]

    def window_features(self, y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`features`, and each window's ``(start, end)`` in seconds: ``(windows, 2)``.

        Raises
        ------
        AudioError
            If the signal is too short for one segment, or its features are not finite.
        """
        fs = self.feature_set
        pieces, spans = self._pieces(y, sr)
        parts = self._compute(pieces, sr)
        if fs.frame_level:
            x = np.concatenate(parts)
            kept = self._spread(len(x))
            x, spans = x[kept], self._segment_spans(len(x), len(y) / sr)[kept]
        else:
            x = np.stack(parts)
        if not np.all(np.isfinite(x)):
            raise AudioError(None, "non-finite features (NaN or inf)")
        if self.transform is not None:
            order = [list(fs.columns).index(c) for c in self.spec["columns"]]
            x = transform_rows(self.transform, x[..., order], self.spec["columns"])
        want = tuple(self.spec["input_shape"])
        if x.shape[1:] != want:
            raise AudioError(None, f"features of shape {x.shape[1:]}, the model expects {want}")
        return x, spans

    def window_probabilities(self, y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities of each window of one mono signal, and the windows' spans.

        Returns
        -------
        probabilities : np.ndarray, shape (windows, classes)
            The head's softmax per window (rows sum to 1), in float64.
        spans : np.ndarray, shape (windows, 2)
            Start and end of each window, in seconds.

        Raises
        ------
        ModelLoadError
            If the head's output is not finite (finite weights of 3e38 overflow): the
            model is at fault, whatever the audio.
        """
        import torch

        x, spans = self.window_features(y, sr)
        with torch.no_grad():
            logits = self.head(torch.from_numpy(x))
            probs = torch.softmax(logits, dim=1).double().numpy()
        probs = probs / probs.sum(axis=1, keepdims=True)
        if not (torch.isfinite(logits).all() and np.isfinite(probs).all()):
            raise ModelLoadError(
                f"model {printable_name(self.uri)}: its output is not finite (NaN or inf; its "
                "weights overflow), so it gives no probabilities: retrain it or use another"
            )
        return probs, spans

    def predict_signal(self, y: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
        """Mean class probabilities over the windows of one mono signal, and their count."""
        probs, _ = self.window_probabilities(y, sr)
        mean = probs.mean(axis=0)
        return mean / mean.sum(), len(probs)

    def predict_file(self, path: str | Path) -> Prediction:
        """Load an audio file at the training audio's rate and predict its genre.

        Raises
        ------
        AudioError
            Naming the file, if it is missing, empty, not audio, corrupt, silent or too short.
        """
        fs = self.feature_set
        y, sr = load_audio(path, sr=self.spec.get("sample_rate") or fs.sr, mono=fs.mono)
        try:
            window_probs, spans = self.window_probabilities(y, sr)
        except AudioError as exc:
            raise AudioError(path, exc.reason) from exc
        mean = window_probs.mean(axis=0)
        mean = mean / mean.sum()
        return Prediction(
            file=printable_name(path),
            probabilities={c: float(p) for c, p in zip(self.class_names, mean, strict=True)},
            windows=len(window_probs),
            duration=len(y) / sr,
            window_probabilities=window_probs,
            window_spans=spans,
        )
