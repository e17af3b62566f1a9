"""Accuracy on real GTZAN audio and on a real pretrained-feature table (issues 14, 20).

Runs genreclf's own pipeline (:mod:`protocol`: ``genreclf.train.train`` on composed
configs). Every candidate setting of a row is one *configuration*
(:mod:`genreclf.protocol`), trained in one ``train`` call and logged as one
configuration run with its members as child runs:

- ``seed174``, ``logmel`` (1 s or 0.5 s log-mel segments, CNN head), ``musicnn`` (MSD musicnn
  penultimate layer; linear probe and dense head): the 499 real 2-3 s GTZAN excerpts of
  ``../shared/data/gtzan_excerpts``, stratified 5-fold cross-validation (``split=kfold``,
  every fold; each fold's validation part is carved out of its training folds);
- ``fusion`` (issue 28): ``musicnn`` MSD_vgg alone, and fusions of encoders
  (``features=musicnn_fusion``: MSD_musicnn + MSD_vgg; all four musicnn networks) with
  linear and dense probes, on the excerpts as above. Each fusion row's pick is then paired
  with the best single-encoder pick (chosen on validation among the single-encoder rows
  run: ``musicnn`` and MSD_vgg) on their shared test predictions: the accuracy difference
  with its 95% paired bootstrap interval and McNemar's p (``genreclf.reports.paired``);
- ``convnet``: ``../shared/data/gtzan_convnet_features.csv`` (160-d convnet features of
  all 1000 GTZAN clips, Choi et al. 2017), 5-fold CV as above, and the fault-filtered
  split (``split=files``, ``repeats=3``: three seeds on the one split, so that the
  figure is a mean with an interval too);
- ``hf_encoder``: runs end to end on a tiny random Hugging Face model (no target), when
  ``features=hf_encoder`` and ``tests/features/tiny_hf.py`` are there.

The row's pick is the configuration that :func:`genreclf.tracking.selection.best_run`
ranks first in the benchmark's MLflow store: the highest mean validation accuracy
(``val_acc_mean``; ties: lower validation loss, then the earlier run). Test accuracy
never chooses. Each row prints every candidate's ``val_acc_mean``, the pick's
``test_acc_mean`` ± ``test_acc_std`` (over folds or seeds) and its 95% bootstrap
interval of the pooled test predictions (``test_acc_ci_low``, ``test_acc_ci_high``),
the reference figure, whether the target is met, and the row's elapsed seconds.
``refit=train_val`` refits one model and is refused for a configuration, so it is not
part of these rows. Features are cached on disk (``$GENRECLF_CACHE``, default
``~/.cache/genreclf``), so each clip is embedded once across candidates and runs::

    python benchmarks/real_audio.py                    # every row
    python benchmarks/real_audio.py --quick            # 2 folds (2 seeds), one candidate a row
    python benchmarks/real_audio.py --rows musicnn,convnet
    python benchmarks/real_audio.py --rows musicnn,fusion  # fusions, paired with the best single
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import protocol  # noqa: E402  (benchmarks/protocol.py, beside this script)

EXCERPTS = protocol.SHARED / "gtzan_excerpts"
CONVNET = protocol.SHARED / "gtzan_convnet_features.csv"
CACHE = Path(os.environ.get("GENRECLF_CACHE", Path.home() / ".cache" / "genreclf"))

#: Every run: the feature cache, two extraction workers, in-memory best-weights
#: selection on validation loss (no checkpoint files), AdamW.
COMMON = [
    f"paths.cache_dir={CACHE}",
    "extraction.n_jobs=2",
    "extraction.progress=false",
    "optimizer=adamw",
    "callbacks=sweep",
    "trainer.enable_checkpointing=false",
]
AUDIO = [*COMMON, "data=gtzan", f"data.root={EXCERPTS}"]
#: The seed_dense preset (data=table, dense 256x2) on the convnet table, standardized.
TABLE = [
    *COMMON,
    "+preset=seed_dense",
    f"data.path={CONVNET}",
    "data.recipe=null",
    "transforms=standard",
]


def grid(**axes: dict[str, str | list[str]]) -> dict[str, list[str]]:
    """Candidates: the product of named axes of overrides, named ``<label>-<label>...``.

    ``grid(lr={"lr1e-3": "optimizer.lr=0.001", ...}, ...)``; a label may stand for a
    list of overrides.
    """
    out: dict[str, list[str]] = {"": []}
    for axis in axes.values():
        out = {
            f"{name}-{label}".strip("-"): [*overrides, *([more] if isinstance(more, str) else more)]
            for name, overrides in out.items()
            for label, more in axis.items()
        }
    return out


LR = {"lr1e-3": "optimizer.lr=0.001", "lr3e-3": "optimizer.lr=0.003"}
WD = {"wd1e-4": "optimizer.weight_decay=0.0001", "wd1e-2": "optimizer.weight_decay=0.01"}
HIDDEN = {"h256": "model.hidden_size=256", "h512": "model.hidden_size=512"}


@dataclass
class Row:
    """One line of the table: a protocol over candidate settings on top of ``base``."""

    label: str
    base: list[str]
    candidates: dict[str, list[str]]
    reference: str
    target: float | None = None
    protocol: str = "kfold"  # kfold (every fold of k-fold CV) or files (fault-filtered split)
    svm_reference: bool = False  # add an RBF SVM on the same splits (the convnet table)
    encoder: str | None = None  # "single" or "fusion": fusion rows are paired with the best single


#: Embedding probes and dense heads: up to 300 epochs, early stopping patience 20.
PROBE = ["transforms=standard", "trainer.max_epochs=300", "callbacks.early_stopping.patience=20"]
MUSICNN = [
    *AUDIO,
    *PROBE,
    "features=musicnn",
    "features.model=MSD_musicnn",
    "features.layer=penultimate",
]
#: Fusions (genreclf/features/fusion.py): conf/features/musicnn_fusion.yaml (MSD_musicnn and
#: MSD_vgg penultimate layers), and all four networks of the musicnn wheel.
FUSION = [*AUDIO, *PROBE, "features=musicnn_fusion"]
ALL_FOUR = "features.parts=[{name:musicnn},{name:musicnn,model:MTT_musicnn},{name:musicnn,model:MSD_vgg},{name:musicnn,model:MTT_vgg}]"  # noqa: E501
LINEAR_GRID = grid(lr=LR, wd=WD, dropout={"d0": "model.dropout=0.0", "d0.5": "model.dropout=0.5"})
DENSE_GRID = grid(
    hidden=HIDDEN,
    dropout={"d0.5": "model.dropout=0.5", "d0.7": "model.dropout=0.7"},
    mixup={"mix0": "classifier.mixup_alpha=0.0", "mix0.4": "classifier.mixup_alpha=0.4"},
)
#: The preset's dense head (first), a wider one-layer head, a wider regularized one, and
#: BatchNorm + mixup + label smoothing (as in benchmarks/accuracy.py).
CONVNET_CANDIDATES: dict[str, list[str]] = {
    "dense256x2-d0.5-lr3e-4-wd0.01": [],
    "dense512x1-d0.5-lr1e-3-wd0.01": [
        "model.hidden_size=512",
        "model.num_layers=1",
        "optimizer.lr=0.001",
    ],
    "dense512x2-d0.5-lr3e-4-wd0.05": ["model.hidden_size=512", "optimizer.weight_decay=0.05"],
    "dense256x2-bn-mixup0.4-ls0.1": [
        "model.batch_norm=true",
        "classifier.mixup_alpha=0.4",
        "classifier.label_smoothing=0.1",
        "callbacks.early_stopping.patience=30",
    ],
}

ROWS: dict[str, list[Row]] = {
    "seed174": [
        Row(
            "excerpts, seed174, dense",
            [*AUDIO, *PROBE, "features=seed174", "model=dense", "model.num_layers=1"],
            grid(
                transform={"std": "transforms=standard", "logstd": "transforms=log_standard"},
                hidden=HIDDEN,
                dropout={"d0.3": "model.dropout=0.3", "d0.5": "model.dropout=0.5"},
            ),
            "MFCC logistic regression 0.60",
        )
    ],
    "logmel": [
        Row(
            "excerpts, logmel_segments 1 s / 0.5 s, cnn",
            [
                *AUDIO,
                "features=logmel_segments",
                "model=cnn",
                "model.hidden_size=64",
                "model.dropout=0.3",
                "transforms=standard",
                "trainer.max_epochs=100",
                "callbacks.early_stopping.patience=10",
            ],
            grid(
                segment={
                    "seg1.0": "features.segment_seconds=1.0",
                    "seg0.5": "features.segment_seconds=0.5",
                },
                patch={
                    "patch6": "model.patch_size=6",
                    "patch3": "model.patch_size=3",
                    "patch2-l3": ["model.patch_size=2", "model.num_layers=3"],
                },
            ),
            "MFCC logistic regression 0.60",
            target=0.60,
        )
    ],
    "musicnn": [
        Row(
            "excerpts, musicnn MSD penultimate, linear",
            [*MUSICNN, "model=linear"],
            LINEAR_GRID,
            "logistic regression 0.78",
            target=0.82,
            encoder="single",
        ),
        Row(
            "excerpts, musicnn MSD penultimate, dense",
            [*MUSICNN, "model=dense", "model.num_layers=1"],
            DENSE_GRID,
            "logistic regression 0.78",
            target=0.82,
            encoder="single",
        ),
    ],
    "fusion": [
        Row(
            "excerpts, musicnn MSD_vgg penultimate, linear",
            [*MUSICNN, "features.model=MSD_vgg", "model=linear"],
            LINEAR_GRID,
            "musicnn MSD linear probe 0.782",
            encoder="single",
        ),
        Row(
            "excerpts, fusion MSD_musicnn + MSD_vgg (features=musicnn_fusion), linear",
            [*FUSION, "model=linear"],
            LINEAR_GRID,
            "logistic regression on the same fusion 0.80",
            target=0.81,
            encoder="fusion",
        ),
        Row(
            "excerpts, fusion MSD_musicnn + MSD_vgg (features=musicnn_fusion), dense",
            [*FUSION, "model=dense", "model.num_layers=1"],
            DENSE_GRID,
            "logistic regression on the same fusion 0.80",
            target=0.81,
            encoder="fusion",
        ),
        Row(
            "excerpts, fusion of the four musicnn networks, linear",
            [*FUSION, ALL_FOUR, "model=linear"],
            LINEAR_GRID,
            "logistic regression on the same fusion 0.81",
            target=0.81,
            encoder="fusion",
        ),
    ],
    "convnet": [
        Row(
            "convnet table, dense, 5-fold CV",
            TABLE,
            CONVNET_CANDIDATES,
            "RBF SVM 0.909 (10-fold); default dense head 0.904",
            target=0.91,
            svm_reference=True,
        ),
        Row(
            "convnet table, dense, fault-filtered split",
            TABLE,
            CONVNET_CANDIDATES,
            "RBF SVM 0.838; dense head 0.786 alone, 0.834 refit",
            target=0.84,
            protocol="files",
            svm_reference=True,
        ),
    ],
}


#: Seeds of the fault-filtered row's configurations (one split: the seeds are its members).
FILES_REPEATS = 3


@dataclass(frozen=True)
class Plan:
    """How much a run of the benchmark trains: candidates a row, folds, seeds on one split."""

    n_candidates: int | None  # None: all
    n_splits: int
    repeats: int

    def split(self, row: Row) -> list[str]:
        """The overrides of ``row``'s split: every fold of k-fold CV, or seeds on the lists."""
        if row.protocol == "files":
            return [*protocol.FILES, f"repeats={self.repeats}"]
        return [*protocol.KFOLD, f"split.n_splits={self.n_splits}"]

    def members(self, row: Row) -> str:
        """``5 folds`` or ``3 seeds``: the members of each of ``row``'s configurations."""
        return f"{self.repeats} seeds" if row.protocol == "files" else f"{self.n_splits} folds"


FULL = Plan(None, 5, FILES_REPEATS)
QUICK = Plan(1, 2, 2)


def svm_on_convnet(n_splits: int | None) -> float:
    """RBF SVM (C=10, standardized) on the convnet table, trained on train + validation.

    ``n_splits``: the folds of ``split=kfold`` (mean test accuracy); ``None``: the
    fault-filtered lists.
    """
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    frame = pd.read_csv(CONVNET)
    labels = np.asarray(frame["label"], dtype=str)
    tracks = np.asarray(
        [f"{g}/{f}" for g, f in zip(labels, frame["filename"], strict=True)], dtype=str
    )
    x = frame.drop(columns=["label", "filename"]).to_numpy()
    if n_splits is None:
        lists = {p: protocol.FAULT_LISTS / f"{p}_filtered.txt" for p in protocol.PARTS}
        named = {p: set(path.read_text().split()) for p, path in lists.items()}
        fit = np.flatnonzero([t in named["train"] or t in named["valid"] for t in tracks])
        test = np.flatnonzero([t in named["test"] for t in tracks])
        splits = [(fit, test)]
    else:
        splits = protocol.outer_folds(labels, tracks, list(range(n_splits)), n_splits)
    scores = []
    for fit_rows, test_rows in splits:
        model = make_pipeline(StandardScaler(), SVC(C=10)).fit(x[fit_rows], labels[fit_rows])
        scores.append(float((model.predict(x[test_rows]) == labels[test_rows]).mean()))
    return float(np.mean(scores))


def evaluate(row: Row, workdir: Path, plan: Plan, say: Callable) -> tuple[str, dict]:
    """Train each of ``row``'s candidates as one configuration; return the pick and its result."""
    names = list(row.candidates)[: plan.n_candidates]
    say(f"{row.label}: {len(names)} candidates, each {plan.members(row)}")
    best, result, results = protocol.choose(
        row.candidates, [*row.base, *plan.split(row)], workdir, names
    )
    for name, out in results.items():
        say(
            f"    {name}: validation {out['val_acc_mean']:.3f} ± {out['val_acc_std']:.3f}, "
            f"test {out['test_acc_mean']:.3f}{'   <- chosen' if name == best else ''}"
        )
    return best, result


def summary(row: Row, best: str, result: dict, plan: Plan) -> str:
    """The row's line: the pick's mean test accuracy and interval, reference, verdict."""
    figure = float(result["test_acc_mean"])
    reference = row.reference
    if row.svm_reference:
        n_splits = None if row.protocol == "files" else plan.n_splits
        reference += f"; RBF SVM on these splits {svm_on_convnet(n_splits):.3f}"
    verdict = "no target"
    if row.target is not None:  # accuracies are float32 counts: 0.82 is 0.8199999
        verdict = f"target {row.target:.2f}: {'met' if figure >= row.target - 1e-6 else 'missed'}"
    return (
        f"{row.label}: test_acc_mean {figure:.3f} ± {result['test_acc_std']:.3f} "
        f"(95% CI [{result['test_acc_ci_low']:.3f}, {result['test_acc_ci_high']:.3f}]; "
        f"{plan.members(row)}; chosen on val_acc_mean {result['val_acc_mean']:.3f}: {best})"
        f" | reference {reference} | {verdict}"
    )


def hf_encoder_row(workdir: Path) -> str:
    """Train a linear probe over all layers of a tiny random HF model on a few excerpts."""
    helper = protocol.ROOT / "tests" / "features" / "tiny_hf.py"
    module = protocol.ROOT / "genreclf" / "features" / "hf_encoder.py"
    conf = protocol.ROOT / "conf" / "features" / "hf_encoder.yaml"
    if not (helper.exists() and conf.exists() and "class" in module.read_text()):
        return "skipped: features=hf_encoder not available"
    spec = importlib.util.spec_from_file_location("tiny_hf", helper)
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    folder = tiny.save_tiny_hf_model(workdir / "tiny_hf")
    few = workdir / "few_excerpts"
    for genre_dir in sorted((EXCERPTS / "genres_original").iterdir()):
        (few / genre_dir.name).mkdir(parents=True)
        for clip in sorted(genre_dir.glob("*.wav"))[:6]:
            (few / genre_dir.name / clip.name).symlink_to(clip)
    overrides = [
        *COMMON, "data=gtzan", f"data.root={few}", "features=hf_encoder",
        f"features.model={folder}", "features.layer=all", "model=linear",
        "model.layer_weights=true", "transforms=none", "trainer.max_epochs=5",
        "split=holdout",
    ]  # fmt: skip
    try:
        result = protocol.run(overrides, workdir)
    except Exception as exc:  # report the row, run the others
        return f"FAILED: {type(exc).__name__}: {exc}"
    return f"test accuracy {result['test_acc']:.3f} (tiny random model, one run, no target)"


def paired_lines(picks: list[tuple[Row, dict]], workdir: Path) -> list[str]:
    """Each fusion row's pick against the best single-encoder pick, on their shared test
    predictions (``genreclf.reports.paired``: same track, fold and seed).

    The best single encoder is the single-encoder rows' pick that ``best_run`` ranks first
    (validation only), among the rows run.
    """
    from genreclf.reports.paired import compare, read_predictions
    from genreclf.tracking import names
    from genreclf.tracking.selection import best_run
    from genreclf.tracking.store import Store

    singles = {result["run_id"]: row for row, result in picks if row.encoder == "single"}
    fused = [(row, result) for row, result in picks if row.encoder == "fusion"]
    if not singles or not fused:
        return []
    store = Store(protocol.tracking_uri(workdir))

    def predictions(run_id: str) -> pd.DataFrame:
        dst = workdir / f"predictions_{run_id}.parquet"
        store.fetch_artifact(run_id, names.PREDICTIONS_ARTIFACT, dst)
        return read_predictions(dst)

    best = best_run(store.get_run(run_id) for run_id in singles).info.run_id
    single = predictions(best)
    lines = []
    for row, result in fused:
        c = compare(predictions(result["run_id"]), single)
        lines.append(
            f"paired: {row.label} against the best single encoder ({singles[best].label}): "
            f"difference {c['difference']:+.3f} [95% {c['diff_ci_low']:+.3f}, "
            f"{c['diff_ci_high']:+.3f}], McNemar p {c['mcnemar_p']:.3f} ({c['paired']} paired "
            f"test predictions; only the fusion right {c['only_chosen']}, only the single "
            f"encoder right {c['only_other']})"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="one candidate a row, 2 folds (2 seeds): a smoke run"
    )
    parser.add_argument(
        "--rows",
        default=",".join([*ROWS, "hf_encoder"]),
        help=f"comma-separated rows, of {', '.join([*ROWS, 'hf_encoder'])}",
    )
    args = parser.parse_args()
    protocol.quiet_logging()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # paired_lines
    # One thread: these heads are small, and two threads on two busy cores ran a dense
    # fit on the convnet table 4x slower (53 s against 13 s).
    torch.set_num_threads(1)
    chosen = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = sorted(set(chosen) - {*ROWS, "hf_encoder"})
    if unknown:
        parser.error(f"unknown rows: {', '.join(unknown)}")
    plan = QUICK if args.quick else FULL
    start = time.perf_counter()
    lines: list[str] = []
    picks: list[tuple[Row, dict]] = []

    def say(text: str) -> None:
        print(text, flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for key in chosen:
            for row in ROWS.get(key, [None]):  # None: the hf_encoder row
                t0 = time.perf_counter()
                if row is None:
                    line = f"hf_encoder, tiny test model, linear: {hf_encoder_row(workdir)}"
                else:
                    best, result = evaluate(row, workdir, plan, say)
                    picks.append((row, result))
                    line = summary(row, best, result, plan)
                lines.append(f"{line}   [{time.perf_counter() - t0:.0f} s]")
                say(lines[-1])
        for line in paired_lines(picks, workdir):
            lines.append(line)
            say(line)
    say("\nsummary:")
    for line in lines:
        say(f"  {line}")
    say(f"elapsed: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
