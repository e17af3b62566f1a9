"""Figures of a sweep: accuracy against a hyperparameter, and the PCA map of the features."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from genreclf.reports.figures import plain_text  # noqa: E402
from genreclf.reports.runs import param_values  # noqa: E402

#: Accuracy columns drawn by :func:`impact_figure`, with their axis titles.
IMPACT_SCORES: dict[str, str] = {"val_acc": "validation accuracy", "test_acc": "test accuracy"}


def _categories(values: pd.Series) -> list:
    """Distinct values, in numeric order for numbers, else in text order."""
    return sorted(values.dropna().unique(), key=lambda v: (isinstance(v, str), v))


#: The legend entry of the pruned runs in :func:`impact_figure`.
PRUNED_LABEL = "pruned (last val_acc)"
#: How :func:`impact_figure` draws a pruned run: a hollow grey circle, apart from the
#: filled points of the runs that completed.
PRUNED_STYLE: dict = {
    "s": 26,
    "marker": "o",
    "facecolors": "none",
    "edgecolors": "0.3",
    "linewidths": 1.1,
    "zorder": 4,
}


def _impact_data(
    runs: pd.DataFrame, column: str, pruned: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The completed and the pruned runs with the ``value`` of ``column`` (parsed as
    numbers where all values of both are), rows without one left out."""
    both = runs.assign(_pruned=False)
    if pruned is not None and len(pruned):
        both = pd.concat([both, pruned.assign(_pruned=True)], ignore_index=True)
    if "last_val_acc" not in both.columns:
        both["last_val_acc"] = np.nan
    both = both.assign(value=param_values(both[column])).dropna(subset=["value"])
    return both[~both["_pruned"]], both[both["_pruned"]]


def _box(ax: Axes, scores: np.ndarray, position: float, width: float, colour: tuple) -> None:
    """One box of ``scores`` at ``position``, outliers left to the points drawn on it."""
    ax.boxplot(
        scores,
        positions=[position],
        widths=0.8 * width,
        showfliers=False,
        patch_artist=True,
        boxprops={"facecolor": (*colour, 0.25), "edgecolor": colour},
        medianprops={"color": colour},
        whiskerprops={"color": colour},
        capprops={"color": colour},
    )


def impact_figure(
    runs: pd.DataFrame, param: str, title: str = "", pruned: pd.DataFrame | None = None
) -> Figure:
    """Accuracy against one param, one box (with its runs as points) per value and model type.

    Parameters
    ----------
    runs : pandas.DataFrame
        Runs with ``model``, ``val_acc``, ``test_acc`` and ``params.<param>`` columns;
        ``param="model"`` draws accuracy per model type.
    param : str
        Param name without the ``params.`` prefix, or ``model``.
    title : str, optional
        Figure title; by default the param name.
    pruned : pandas.DataFrame, optional
        Runs a sweep's pruner stopped (``model``, ``last_val_acc``, ``params.<param>``):
        drawn on the validation axis at their last validation accuracy, hollow and grey
        (:data:`PRUNED_STYLE`), in no box.
    """
    column = "model" if param == "model" else f"params.{param}"
    data, stopped = _impact_data(runs, column, pruned)
    values = _categories(pd.concat([data["value"], stopped["value"]]))
    models = sorted(set(data["model"]) | set(stopped["model"]))
    width = 0.8 / max(1, len(models))
    colours = plt.get_cmap("tab10").colors
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(
        1, len(IMPACT_SCORES), figsize=(max(8, 1.2 * len(values) * len(IMPACT_SCORES)), 4)
    )
    fig.set_layout_engine("constrained")
    for ax, (score, label) in zip(axes, IMPACT_SCORES.items(), strict=True):
        for j, model in enumerate(models):
            offset = (j - (len(models) - 1) / 2) * width
            colour = colours[j % len(colours)]
            for i, value in enumerate(values):
                scores = data.loc[(data["model"] == model) & (data["value"] == value), score]
                scores = scores.dropna().to_numpy()
                if len(scores):
                    _box(ax, scores, i + offset, width, colour)
                    jitter = rng.uniform(-0.25, 0.25, len(scores)) * width
                    ax.scatter(i + offset + jitter, scores, s=14, color=colour, zorder=3)
                if score == "val_acc":
                    last = stopped.loc[(stopped["model"] == model) & (stopped["value"] == value)]
                    last = last["last_val_acc"].dropna().to_numpy()
                    jitter = rng.uniform(-0.25, 0.25, len(last)) * width
                    ax.scatter(i + offset + jitter, last, **PRUNED_STYLE)
            ax.scatter([], [], color=colour, label=plain_text(model))
        ax.set_xticks(range(len(values)), [plain_text(v) for v in values], rotation=30)
        ax.set_xlim(-0.6, len(values) - 0.4)
        ax.set_xlabel(plain_text(param))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, axis="y")
    _legend(fig, axes, stopped["last_val_acc"].notna().any())
    fig.suptitle(plain_text(title or f"Accuracy against {param}"))
    return fig


def _legend(fig: Figure, axes: np.ndarray, pruned: bool) -> None:
    """A legend of the model types in each axes; with ``pruned`` runs drawn, one legend
    beside the axes instead (the pruned points lie low, where a legend inside would go),
    its last entry :data:`PRUNED_LABEL`."""
    if not pruned:
        for ax in axes:
            ax.legend(title="model", fontsize="small")
        return
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(axes[0].scatter([], [], **PRUNED_STYLE))
    fig.legend(
        handles, [*labels, PRUNED_LABEL], title="model", fontsize="small", loc="outside right upper"
    )


def pca_figure(
    coords: np.ndarray, labels: np.ndarray, explained: np.ndarray, title: str = ""
) -> Figure:
    """Scatter of 2-D PCA coordinates coloured by genre, with each genre's centre marked.

    Parameters
    ----------
    coords : np.ndarray
        ``(n, 2)`` PCA coordinates.
    labels : np.ndarray
        ``(n,)`` genre of each row.
    explained : np.ndarray
        Explained variance ratio of the two components.
    title : str, optional
    """
    fig, ax = plt.subplots(figsize=(8, 7), layout="constrained")
    colours = plt.get_cmap("tab10" if len(set(labels)) <= 10 else "tab20").colors
    for k, genre in enumerate(sorted(set(labels))):
        points = coords[labels == genre]
        colour = colours[k % len(colours)]
        ax.scatter(
            points[:, 0], points[:, 1], s=10, alpha=0.45, color=colour, label=plain_text(genre)
        )
        centre = points.mean(axis=0)
        ax.scatter(*centre, s=180, marker="X", color=colour, edgecolor="black", zorder=3)
        ax.annotate(
            plain_text(genre), centre, xytext=(6, 6), textcoords="offset points", weight="bold"
        )
    low, high = np.quantile(coords, [0.005, 0.995], axis=0)
    margin = 0.08 * (high - low)
    ax.set_xlim(low[0] - margin[0], high[0] + margin[0])
    ax.set_ylim(low[1] - margin[1], high[1] + margin[1])
    ax.set_xlabel(f"PC1 ({explained[0]:.1%} of variance)")
    ax.set_ylabel(f"PC2 ({explained[1]:.1%} of variance)")
    ax.legend(fontsize="small", markerscale=2, ncols=2)
    ax.grid(alpha=0.3)
    ax.set_title(
        plain_text(
            title or "PCA map of the features (X: genre centre; axes at 0.5-99.5% quantiles)"
        )
    )
    return fig
