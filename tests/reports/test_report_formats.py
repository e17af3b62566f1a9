"""The report as HTML, Markdown and LaTeX, with its provenance, on runs of two data sets."""

from __future__ import annotations

import re
import shutil
import subprocess

import pandas as pd
import pytest
from mlflow import MlflowClient

from genreclf.reports.provenance import genreclf_version
from tests.e2e import run_command, run_in_new_folder

EXPERIMENT = "two_sets"
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]


def _train(cwd, cache, table, hidden: str) -> None:
    result = run_command(
        "genreclf.train",
        "data=table",
        f"data.path={table}",
        "model=dense",
        f"model.hidden_size={hidden}",
        "trainer.max_epochs=2",
        "tracking.log_model=false",
        f"tracking.experiment={EXPERIMENT}",
        cwd=cwd,
        cache=cache,
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory, shared_data):
    """Three real runs: two on seed_features.csv, one on a copy of it elsewhere (another
    data set by its path); then ``report formats=[html,md,tex]`` in a git working tree."""
    original = shared_data / "seed_features.csv"
    cwd, cache, _ = run_in_new_folder(
        tmp_path_factory,
        "two_sets",
        "genreclf.train",
        "data=table",
        f"data.path={original}",
        "model=dense",
        "model.hidden_size=8",
        "trainer.max_epochs=2",
        "tracking.log_model=false",
        f"tracking.experiment={EXPERIMENT}",
    )
    _train(cwd, cache, original, "16")
    copy = cwd / "other" / "seed_copy.csv"
    copy.parent.mkdir()
    shutil.copy(original, copy)
    _train(cwd, cache, copy, "8")
    subprocess.run(["git", "init", "-q"], cwd=cwd, check=True)
    subprocess.run([*GIT, "commit", "-q", "--allow-empty", "-m", "x"], cwd=cwd, check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()
    result = run_command(
        "genreclf.report",
        f"experiment={EXPERIMENT}",
        "formats=[html,md,tex]",
        "pca=false",
        cwd=cwd,
        cache=cache,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = cwd / "reports" / EXPERIMENT
    client = MlflowClient(tracking_uri=f"sqlite:///{cwd}/mlruns/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    return {
        "out": out,
        "result": result,
        "commit": commit,
        "original": str(original),
        "copy": str(copy),
        "client": client,
        "runs": {r.info.run_id: r for r in runs if "genreclf.report" not in r.data.tags},
        "md": (out / "report.md").read_text(encoding="utf-8"),
        "tex": (out / "report.tex").read_text(encoding="utf-8"),
        "html": (out / "report.html").read_text(encoding="utf-8"),
    }


def _md_tables(markdown: str) -> list[list[str]]:
    """The pipe tables of a Markdown page, each as its lines."""
    tables, current = [], []
    for line in markdown.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


@pytest.mark.slow
def test_all_three_formats_are_written_and_logged(two_sets):
    out, result = two_sets["out"], two_sets["result"]
    for page in ("report.html", "report.md", "report.tex"):
        assert (out / page).stat().st_size > 1000, page
        assert f"reports/{EXPERIMENT}/{page}" in result.stdout
    report_run = re.search(r"MLflow report run: (\w+)", result.stdout).group(1)
    logged = {a.path for a in two_sets["client"].list_artifacts(report_run)}
    assert {"report.html", "report.md", "report.tex", "top_runs.csv", "provenance.csv"} <= logged


@pytest.mark.slow
def test_markdown_has_provenance_header_and_configuration_table(two_sets):
    md, commit = two_sets["md"], two_sets["commit"]
    provenance = md.split("## Provenance", 1)[1].split("\n## ", 1)[0]
    assert f"| git commit | {commit} |" in provenance
    assert f"| genreclf version | {genreclf_version()} |" in provenance
    assert f"| experiment | {EXPERIMENT} |" in provenance
    assert re.search(r"\| date \| \d{4}-\d\d-\d\d \d\d:\d\d UTC \|", provenance)
    assert f"| data set | TableSource {two_sets['original']} |" in md
    assert "| synthetic data | no |" in md
    assert "| feature set | " in md and "| protocol | " in md
    for run_id, run in two_sets["runs"].items():
        split = run.data.params["split"]  # the split choice (no _target_ params)
        assert f"| protocol | {split} " in md
        assert run_id not in md  # whole ids only in the CSV files
        row = re.search(rf"^\| \d \| {run_id[:8]} \| .*$", md, re.M).group(0)
        assert f"| {run.data.metrics['best_val_acc']:.4f} |" in row
    top = pd.read_csv(two_sets["out"] / "top_runs.csv")
    assert set(top["run_id"]) == set(two_sets["runs"])  # the CSV keeps whole ids


@pytest.mark.slow
def test_runs_of_two_data_sets_are_ranked_in_separate_tables(two_sets):
    md, runs = two_sets["md"], two_sets["runs"]
    top = pd.read_csv(two_sets["out"] / "top_runs.csv")
    by_set = {key: set(group["run_id"]) for key, group in top.groupby("dataset")}
    assert by_set == {
        f"TableSource {two_sets['original']}": {
            i for i, r in runs.items() if r.data.params["data.path"] == two_sets["original"]
        },
        f"TableSource {two_sets['copy']}": {
            i for i, r in runs.items() if r.data.params["data.path"] == two_sets["copy"]
        },
    }
    assert sorted(top.groupby("dataset")["rank"].apply(list).tolist()) == [[1], [1, 2]]
    headings = re.findall(r"^## (Data set \d: Top \d runs by validation accuracy)$", md, re.M)
    assert headings == [
        "Data set 1: Top 2 runs by validation accuracy",
        "Data set 2: Top 1 runs by validation accuracy",
    ]
    sections = md.split("\n## ")
    for number, ids in ((1, by_set[f"TableSource {two_sets['original']}"]), (2, None)):
        section = next(s for s in sections if s.startswith(f"Data set {number}: Top"))
        table = _md_tables(section)[0]
        shown = {line.split(" | ")[1] for line in table[2:]}
        expected = ids or by_set[f"TableSource {two_sets['copy']}"]
        assert shown == {i[:8] for i in expected}
    html = two_sets["html"]
    assert html.count("Top 2 runs by validation accuracy") == 1
    assert len(re.findall(r"Best run on validation: \w+", two_sets["result"].stdout)) == 2


@pytest.mark.slow
def test_latex_holds_tabular_tables(two_sets):
    tex = two_sets["tex"]
    assert tex.startswith("\\documentclass") and tex.rstrip().endswith("\\end{document}")
    assert tex.count("\\begin{tabular}") == tex.count("\\end{tabular}") >= 5
    assert "\\toprule" in tex and "\\bottomrule" in tex
    assert f"git commit & {two_sets['commit']}" in tex
    assert "\\includegraphics" in tex
    for name in re.findall(r"\\includegraphics\[[^]]*\]\{([^}]+)\}", tex):
        assert (two_sets["out"] / name).is_file(), name
    if shutil.which("pdflatex"):
        done = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
            cwd=two_sets["out"],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout[-3000:]


def test_pages_render_one_table_in_each_format():
    """The same table block as HTML, a Markdown pipe table and a LaTeX tabular."""
    from genreclf.reports import blocks, html, latex, markdown
    from genreclf.reports.tables import narrow

    frame = pd.DataFrame(
        {
            "run_id": ["0123456789abcdef", "fedcba9876543210"],
            "status": ["FINISHED", "FINISHED"],
            "model.hidden_size": [8, 16],
            "val_acc": [0.5, float("nan")],
            "note": ["a_b ± 1%", "x|y"],
        }
    )
    sections = [("Top runs", [blocks.table(narrow(frame)), blocks.text("50% & more")])]
    md = markdown.page("t", sections)
    assert "| run_id | hidden_size | val_acc | note |" in md
    assert "| 01234567 | 8 | 0.5000 | a_b ± 1% |" in md and "| fedcba98 | 16 | - | x\\|y |" in md
    tex = latex.page("t", sections)
    assert "\\begin{tabular}{lrrl}" in tex and "\\toprule" in tex
    assert "01234567 & 8 & 0.5000 & a\\_b \\textpm{} 1\\% \\\\" in tex
    assert "50\\% \\& more" in tex
    page = html.page("t", sections)
    assert "<td>01234567</td>" in page and "0123456789abcdef" not in page
