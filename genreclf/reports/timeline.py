"""A song's genre probabilities over time: one stacked-area figure per predicted file."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from genreclf.reports.figures import plain_text  # noqa: E402


def _steps(spans: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each window held flat over its span: x ``(2 n,)``, y ``(genres, 2 n)``."""
    x = spans.reshape(-1)
    y = np.repeat(probs, 2, axis=0).T
    return x, y


def timeline_figure(prediction: Any) -> Figure:
    """Stacked genre probabilities of each window against time.

    Parameters
    ----------
    prediction : Prediction
        With ``window_spans`` ``(windows, 2)`` seconds and ``window_probabilities``
        ``(windows, genres)`` in the order of ``probabilities``' keys
        (:class:`genreclf.inference.Prediction`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    genres = list(prediction.probabilities)
    x, y = _steps(np.asarray(prediction.window_spans), np.asarray(prediction.window_probabilities))
    colors = plt.get_cmap("tab20" if len(genres) > 10 else "tab10").colors
    fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
    ax.stackplot(
        x, y, labels=[plain_text(g) for g in genres], colors=colors[: len(genres)], alpha=0.9
    )
    ax.set_xlim(0, max(float(prediction.duration), float(x.max(initial=0.0))) or 1.0)
    ax.set_ylim(0, 1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("genre probability")
    windows = len(prediction.window_spans)
    ax.set_title(
        plain_text(
            f"{Path(prediction.file).name}: {prediction.genre} overall "
            f"({windows} window{'s' if windows != 1 else ''})"
        )
    )
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


def figure_names(files: Iterable[str]) -> list[str]:
    """A distinct, file-system-safe PNG name per file, from its stem (``a.png``, ``a-2.png``)."""
    names: list[str] = []
    seen: set[str] = set()
    for file in files:
        stem = re.sub(r"[^\w.-]+", "_", Path(file).stem).strip("._") or "song"
        name, n = f"{stem}.png", 1
        while name.lower() in seen:
            n += 1
            name = f"{stem}-{n}.png"
        seen.add(name.lower())
        names.append(name)
    return names


def save_timelines(predictions: list, folder: str | Path) -> list[Path]:
    """Write :func:`timeline_figure` of each prediction to ``folder`` (created).

    Returns
    -------
    list of Path
        The PNG files, in the order of ``predictions``.
    """
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for prediction, name in zip(
        predictions, figure_names(p.file for p in predictions), strict=True
    ):
        fig = timeline_figure(prediction)
        try:
            fig.savefig(folder / name, dpi=100)
        finally:
            plt.close(fig)
        paths.append(folder / name)
    return paths
