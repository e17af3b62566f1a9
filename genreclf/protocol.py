"""A configuration judged across folds and seeds: the unit that genreclf compares.

A training config names one *configuration*. ``split=kfold`` without ``split.fold``
evaluates every fold, and ``repeats=N`` trains each fold (or the one split of
``holdout``, ``seed`` and ``files``) with the seeds ``seed``, ``seed + 1``, ...,
``seed + N - 1`` (model initialization and batch order; the split stays the same). Each
fold and seed is a *member*, trained and scored on its own by the ``fit`` that
:func:`run_configuration` is given.

With one member the run is the configuration, as always. With more, the training run
becomes a *configuration run* (tag ``genreclf.sweep_role=config``) with one child run per
member (tags ``genreclf.fold``, ``genreclf.seed``, role ``member``, nested under it with
``mlflow.parentRunId``), trained one after the other. The configuration run holds

- ``val_acc_mean``, ``val_acc_std``, ``test_acc_mean``, ``test_acc_std`` (sample standard
  deviation over the members) and ``test_f1_mean``;
- its selection metrics (:func:`~genreclf.tracking.selection.selection_metrics`): the
  mean validation accuracy and loss, so that ``best:``, reports and sweeps rank
  configurations by ``val_acc_mean`` through the one
  :func:`~genreclf.tracking.selection.best_run`; ``test_acc`` and ``test_f1`` are the means;
- ``test_acc_ci_low`` and ``test_acc_ci_high``: a 95% percentile bootstrap interval
  (``scipy.stats.bootstrap``, fixed seed) of the accuracy of the pooled test predictions
  (every member's test tracks, so a track once per seed);
- ``predictions.parquet``: those pooled predictions, one row per member and test track
  (``track``, ``fold``, ``seed``, ``true_genre``, one probability column per genre), and
  their per-genre precision, recall and F1 (``classification_report.txt``), logged even
  when ``tracking.log_artifacts=false`` (sweeps); the report draws the pooled confusion
  matrix from the predictions.

Results pass from member to summary as values (:class:`MemberResult`), as in
hear-eval-kit's ``task_predictions``.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from genreclf.config.runconfig import ARTIFACT, RunConfig
from genreclf.core.errors import ConfigError
from genreclf.tracking import names
from genreclf.tracking.selection import Score, best_run, selection_metrics

log = logging.getLogger("genreclf.protocol")

#: Confidence level, resampling seed and number of resamples of the bootstrap intervals
#: (the configuration's, and the report's paired comparison: genreclf.reports.paired).
CONFIDENCE = 0.95
BOOTSTRAP_SEED = 0
BOOTSTRAP_RESAMPLES = 9999

#: ``fit(config, writer) -> dict``: train and score one member (see :func:`run_configuration`).
Fit = Callable[[RunConfig, Any], dict[str, Any]]


@dataclass(frozen=True)
class Member:
    """One training of a configuration: its test ``fold`` and its ``seed``."""

    fold: int
    seed: int


@dataclass(frozen=True)
class MemberResult:
    """What one member's training gave: its scores and its test predictions.

    Attributes
    ----------
    fold, seed : int
    run_id : str
        The member's child run.
    start_time : float
        Its start, milliseconds since the epoch (ranks ties, as for any run).
    val_acc, val_loss : float
        Validation accuracy and loss of its selected weights.
    test_acc, test_f1 : float
        Test accuracy and macro-F1 of those weights.
    tracks : numpy.ndarray
        Test track ids.
    y_true : numpy.ndarray
        Their encoded genres.
    probs : numpy.ndarray
        Their genre probabilities, one row per track.
    """

    fold: int
    seed: int
    run_id: str
    start_time: float
    val_acc: float
    val_loss: float
    test_acc: float
    test_f1: float
    tracks: np.ndarray
    y_true: np.ndarray
    probs: np.ndarray

    @property
    def score(self) -> Score:
        """How this member ranks among its siblings (by ``val_acc``, as any run)."""
        return Score(self.val_acc, self.val_loss, self.start_time, self.run_id)


@dataclass(frozen=True)
class Outcome:
    """What training a configuration gave, whatever its number of members.

    Attributes
    ----------
    scores : dict
        ``val_acc``, ``val_loss``, ``test_acc``, ``test_f1`` (a configuration's means),
        with several members its summary (:func:`summarize`: ``*_mean``, ``*_std``,
        ``test_acc_ci_*``), and ``refit_*`` figures (:mod:`genreclf.refit`).
    report : str
        Per-genre precision, recall and F1 (of the pooled test predictions).
    y_true, y_pred : numpy.ndarray
        The (pooled) test tracks' encoded genres and predictions.
    module, datamodule
        The fitted model and its data: the run's, or its best member's (the one packaged).
    parts : dict
        Each test fold's parts (``train``, ``val``, ``test`` to table rows).
    members, folds, seeds : int
        How many trainings, folds and seeds (``1, 1, 1`` for a plain run).
    budget_runs : tuple of str
        Runs a sweep job logged for its other epoch budgets (:mod:`genreclf.sweeps.budgets`).
    """

    scores: dict[str, float]
    report: str
    y_true: np.ndarray
    y_pred: np.ndarray
    module: Any
    datamodule: Any
    parts: dict[int, dict[str, Any]]
    members: int = 1
    folds: int = 1
    seeds: int = 1
    budget_runs: tuple[str, ...] = ()

    @classmethod
    def of_run(cls, out: Mapping[str, Any], fold: int) -> Outcome:
        """The outcome of a plain run: ``fit``'s output on the run itself."""
        keys = ("val_acc", "val_loss", "test_acc", "test_f1")
        scores = {k: float(out[k]) for k in keys}
        scores |= {k: float(v) for k, v in out.items() if k.startswith(names.REFIT_PREFIX)}
        return cls(
            scores=scores,
            report=out["report"],
            y_true=np.asarray(out["y_true"]),
            y_pred=np.asarray(out["y_pred"]),
            module=out["module"],
            datamodule=out["datamodule"],
            parts={fold: out["datamodule"].indices},
            budget_runs=tuple(out.get("budget_runs", ())),
        )


#: ``log_parts(writer, parts)``: log a configuration run's data set, each fold's parts.
LogParts = Callable[[Any, Mapping[int, Mapping[str, Any]]], Any]


def members(config: RunConfig | Mapping[str, Any]) -> list[Member]:
    """The folds and seeds that ``config`` trains, fold by fold.

    ``config``: a checked :class:`RunConfig`, or a composed config (a sweep job's, before
    its check: see :func:`genreclf.sweeps.budgets.epoch_budgets`).
    """
    from omegaconf import OmegaConf

    from genreclf.split import SPLITS, evaluated_folds

    if isinstance(config, RunConfig):
        split, seed, repeats = config.split.node(), config.seed, config.repeats
    else:
        split = OmegaConf.to_container(config["split"], resolve=True)
        seed, repeats = int(config["seed"]), int(config["repeats"])
    folds = evaluated_folds(SPLITS.build_config(split))
    return [Member(fold, seed + r) for fold in folds for r in range(repeats)]


def checked_members(config: RunConfig) -> list[Member]:
    """:func:`members`, refused where the config asks for one model only.

    Raises
    ------
    ConfigError
        With several members and ``refit``, which refits one selected model.
    """
    out = members(config)
    if len(out) > 1 and config.refit is not None:
        raise ConfigError(
            f"refit: refits one model, but this config trains {len(out)} (folds x repeats); "
            "give split.fold=<i> and repeats=1, or leave refit out"
        )
    return out


def member_config(config: RunConfig, member: Member, parent_name: str = "") -> RunConfig:
    """``config`` for ``member`` only: its ``seed``, its ``split.fold``, its run's name."""
    split = config.split
    if "fold" in split.params:
        split = split.model_copy(update={"params": split.params | {"fold": member.fold}})
    datamodule = config.datamodule  # its batch order follows the seed (conf: ${seed})
    if datamodule.params.get("seed") == config.seed:
        datamodule = datamodule.model_copy(
            update={"params": datamodule.params | {"seed": member.seed}}
        )
    tracking = config.tracking
    if parent_name:
        tracking = tracking | {"run_name": f"{parent_name} fold{member.fold} seed{member.seed}"}
    update = {"seed": member.seed, "split": split, "datamodule": datamodule, "tracking": tracking}
    return config.model_copy(update=update)


def run_configuration(
    config: RunConfig,
    fit: Fit,
    writer: Any,
    tags: Mapping[str, str] | None = None,
    log_parts: LogParts | None = None,
) -> Outcome:
    """Train every member of ``config`` with ``fit``; summarize them on ``writer``'s run.

    Parameters
    ----------
    config : RunConfig
        The checked training configuration.
    fit : callable
        ``fit(member_config, member_writer)`` trains one member, logs it to
        ``member_writer`` and returns ``val_acc``, ``val_loss``, ``test_acc``,
        ``test_f1``, ``y_true``, ``y_pred``, ``probs``, ``tracks``, ``report``, ``module``
        and ``datamodule`` (see :func:`genreclf.models.evaluate.evaluate_selected`).
    writer : RunWriter
        The open training run.
    tags : mapping, optional
        Tags of the training run that the child runs carry too.
    log_parts : callable, optional
        Logs a configuration run's data set from its folds' parts
        (:func:`genreclf.tracking.datasets.log_folds`).

    Returns
    -------
    Outcome
        With one member, ``fit``'s result on ``writer`` itself. With more, the summary,
        the pooled predictions and report, and the best member's (:func:`best_run`)
        model and data.
    """
    plan = checked_members(config)
    if len(plan) == 1:
        return Outcome.of_run(fit(config, writer), plan[0].fold)
    results: list[MemberResult] = []
    parts: dict[int, dict[str, Any]] = {}
    best: tuple[Score, dict[str, Any]] | None = None  # only the best member's model is kept
    parent_name = writer.store.get_run(writer.run_id).info.run_name or writer.run_id
    for member in plan:
        result, out = _train_member(member_config(config, member, parent_name), fit, tags)
        results.append(result)
        parts.setdefault(member.fold, out["datamodule"].indices)  # seeds share the split
        score = result.score
        if best is None or best_run([best[0], score]) is score:
            best = (score, out)
        log.info(
            "fold %d seed %d: val_acc %.3f  test_acc %.3f  (run %s)",
            *(member.fold, member.seed, result.val_acc, result.test_acc, result.run_id),
        )
    if log_parts is not None:
        log_parts(writer, parts)
    return _summarize_on(writer, results, best[1], parts)


def _train_member(
    config: RunConfig, fit: Fit, tags: Mapping[str, str] | None
) -> tuple[MemberResult, dict[str, Any]]:
    """Train one member in its child run; its result as a value, and ``fit``'s output."""
    from genreclf.tracking.run import tracked_run

    member = Member(int(config.split.params.get("fold") or 0), config.seed)
    child_tags = dict(tags or {}) | {
        names.ROLE_TAG: names.MEMBER_ROLE,
        names.FOLD_TAG: str(member.fold),
        names.SEED_TAG: str(member.seed),
    }
    with tracked_run(config.tracking, child_tags, child=True) as child:
        child.log_config(config.to_container())
        child.log_text(config.to_json(), ARTIFACT)
        out = fit(config, child)
    result = MemberResult(
        fold=member.fold,
        seed=member.seed,
        run_id=child.run_id,
        start_time=child.start_time,
        val_acc=float(out["val_acc"]),
        val_loss=float(out["val_loss"]),
        test_acc=float(out["test_acc"]),
        test_f1=float(out["test_f1"]),
        tracks=np.asarray(out["tracks"]).astype(str),
        y_true=np.asarray(out["y_true"]),
        probs=np.asarray(out["probs"], dtype=np.float64),
    )
    return result, out


def _summarize_on(
    writer: Any,
    results: Sequence[MemberResult],
    best: Mapping[str, Any],
    parts: dict[int, dict[str, Any]],
) -> Outcome:
    """Log the summary and the pooled predictions on the configuration run; its outcome."""
    from genreclf.models.evaluate import genre_report
    from genreclf.tracking.artifacts import log_run_files

    class_names = list(best["datamodule"].class_names)
    summary = summarize(results)
    val_loss = float(np.mean([r.val_loss for r in results]))
    headline = {
        "val_acc": summary[names.VAL_ACC_MEAN],
        "val_loss": val_loss,
        "test_acc": summary[names.TEST_ACC_MEAN],
        "test_f1": summary[names.TEST_F1_MEAN],
    }
    writer.log_metrics(
        summary
        | selection_metrics(headline["val_acc"], val_loss)
        | {names.TEST_ACC: headline["test_acc"], names.TEST_F1: headline["test_f1"]}
    )
    buffer = io.BytesIO()
    pooled_predictions(results, class_names).to_parquet(buffer, index=False)
    y_true = np.concatenate([r.y_true for r in results])
    y_pred = np.concatenate([r.probs.argmax(axis=1) for r in results])
    report = genre_report(y_true, y_pred, class_names)
    # always, even in sweeps (tracking.log_artifacts=false): the configuration's results
    files = {names.PREDICTIONS_ARTIFACT: buffer.getvalue(), names.REPORT_ARTIFACT: report}
    log_run_files(writer.store, writer.run_id, files)
    return Outcome(
        scores=summary | headline,
        report=report,
        y_true=y_true,
        y_pred=y_pred,
        module=best["module"],
        datamodule=best["datamodule"],
        parts=parts,
        members=len(results),
        folds=len({r.fold for r in results}),
        seeds=len({r.seed for r in results}),
    )


def _std(values: np.ndarray) -> float:
    """Sample standard deviation (0 for a single value)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def summarize(results: Sequence[MemberResult]) -> dict[str, float]:
    """The configuration's metrics over its members (names in :mod:`genreclf.tracking.names`).

    Means and sample standard deviations of validation and test accuracy, the mean
    macro-F1, and the bootstrap interval (:func:`bootstrap_interval`) of the accuracy of
    the pooled test predictions.
    """
    val = np.array([r.val_acc for r in results], dtype=float)
    test = np.array([r.test_acc for r in results], dtype=float)
    f1 = np.array([r.test_f1 for r in results], dtype=float)
    correct = np.concatenate([r.probs.argmax(axis=1) == r.y_true for r in results])
    low, high = bootstrap_interval(correct)
    return {
        names.VAL_ACC_MEAN: float(val.mean()),
        names.VAL_ACC_STD: _std(val),
        names.TEST_ACC_MEAN: float(test.mean()),
        names.TEST_ACC_STD: _std(test),
        names.TEST_F1_MEAN: float(f1.mean()),
        names.TEST_ACC_CI_LOW: low,
        names.TEST_ACC_CI_HIGH: high,
    }


def bootstrap_interval(
    correct: np.ndarray, confidence: float = CONFIDENCE, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float]:
    """Percentile bootstrap interval of the accuracy of ``correct`` (one bool per prediction).

    ``scipy.stats.bootstrap`` with 9999 resamples drawn with ``seed``. Fewer than two
    predictions give ``(nan, nan)``.
    """
    from scipy.stats import bootstrap

    correct = np.asarray(correct, dtype=float)
    if correct.size < 2:
        return math.nan, math.nan
    interval = bootstrap(
        (correct,),
        np.mean,
        confidence_level=confidence,
        n_resamples=BOOTSTRAP_RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(seed),
    ).confidence_interval
    return float(interval.low), float(interval.high)


def pooled_predictions(results: Sequence[MemberResult], class_names: list[str]) -> Any:
    """Every member's test predictions in one frame, one row per member and test track.

    Columns ``track``, ``fold``, ``seed``, ``true_genre``, then one probability column
    per genre (named by it), in ``class_names`` order.
    """
    import pandas as pd

    genres = np.asarray(class_names)
    frames = []
    for r in results:
        frame = pd.DataFrame(
            {
                "track": r.tracks,
                "fold": np.full(len(r.tracks), r.fold, dtype=np.int64),
                "seed": np.full(len(r.tracks), r.seed, dtype=np.int64),
                "true_genre": genres[r.y_true],
            }
        )
        frames.append(pd.concat([frame, pd.DataFrame(r.probs, columns=class_names)], axis=1))
    return pd.concat(frames, ignore_index=True)
